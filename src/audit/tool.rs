//! security-audit: catalog rules (one file each under `src/audit/`) that find open tables, leaky
//! policies, risky functions and grants, with the SQL that fixes each.

use rmcp::{Json, handler::server::wrapper::Parameters, tool, tool_router};
use serde::{Deserialize, Serialize};

use crate::{
    audit::{AuditFinding, Scope},
    config::Engine,
    error::ToolError,
    plan::Severity,
    server::Server,
};

/// Findings past this many are counted, not listed, to keep the output small on big schemas.
const MAX_FINDINGS: usize = 200;

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct SecurityAuditParams {
    /// Configured database name (default: the first one).
    #[serde(default)]
    pub database: Option<String>,
    /// rls (row level security and the roles that bypass it), schema (keys, indexes, functions,
    /// grants, extensions) or full (default).
    #[serde(default)]
    pub scope: Scope,
}

#[derive(Debug, Default, Serialize, schemars::JsonSchema)]
pub struct SeverityCounts {
    pub critical: usize,
    pub warning: usize,
    pub info: usize,
}

#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct SecurityAuditOutput {
    pub database: String,
    pub engine: Engine,
    pub scope: Scope,
    /// Rules that ran.
    pub rules_run: usize,
    pub counts: SeverityCounts,
    /// Most severe first; at most 200 (the counts include the rest).
    pub findings: Vec<AuditFinding>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub omitted: Option<usize>,
}

#[tool_router(router = security_router, vis = "pub(crate)")]
impl Server {
    #[tool(
        name = "security-audit",
        description = "Audit a database's security from its catalog. PostgreSQL: tables with per-user data and no row \
            level security, policies that are not enforced or let every row through (USING (true)), overlapping \
            permissive policies, identity functions evaluated per row, views that bypass policies, roles that bypass \
            them, SECURITY DEFINER functions without a fixed search_path or open to PUBLIC, CREATE on schema public, \
            tables without a primary key, unindexed foreign keys, duplicate and unused indexes, secrets stored in plain \
            text. MySQL/MariaDB: an app account open to any host or holding global privileges, tables without a \
            primary key, redundant indexes, accounts with an empty password. MongoDB: access control off, the app \
            user or other users holding any-database or cluster roles, collections without a validator, redundant and \
            unused indexes. Each finding has a \
            stable code, severity, the object, why it matters and the SQL (or shell command) that fixes it. Read-only.",
        annotations(
            title = "Audit database security",
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    async fn security_audit(
        &self,
        Parameters(p): Parameters<SecurityAuditParams>,
    ) -> Result<Json<SecurityAuditOutput>, ToolError> {
        let db = self.database(p.database.as_deref())?;
        let cfg = &db.config;
        if !db.capabilities().audit_rules {
            return Err(ToolError::Unsupported {
                what: "security-audit".into(),
                engine: cfg.engine,
                hint: "its rules cover PostgreSQL, MySQL/MariaDB and MongoDB; a SQLite file has no users, roles or \
                       policies to audit: env-check reports what there is to check"
                    .into(),
            });
        }
        let wanted = |s: Scope| p.scope == Scope::Full || s == p.scope;
        let rules: Vec<_> = crate::audit::db::audit_rules(db).iter().filter(|r| wanted(r.scope)).collect();
        let mut findings = crate::audit::db::audit(db, &rules).await?.unwrap_or_default();
        let mut rules_run = rules.len();
        if let Some((ran, found)) = crate::audit::db::audit_documents(db, wanted).await? {
            rules_run += ran;
            findings.extend(found);
        }
        if wanted(Scope::Schema)
            && let Some(found) = crate::audit::db::plaintext_secrets(db).await?
        {
            rules_run += 1;
            findings.extend(found);
        }
        if wanted(Scope::Schema)
            && let Some(v) = crate::plan::db::index_problems(db).await?
        {
            rules_run += 3;
            for problem in crate::plan::indexes::problems_from(&v, cfg.engine) {
                let (code, severity, why) = match problem.kind.as_str() {
                    "fk-without-index" => (
                        "fk-without-index",
                        Severity::Warning,
                        "joins on the key, and deletes or key updates on the referenced table, scan the whole referencing table",
                    ),
                    "duplicate" => (
                        "duplicate-index",
                        Severity::Info,
                        "every write maintains an index another one already provides",
                    ),
                    _ => (
                        "unused-index",
                        Severity::Info,
                        "every write maintains an index no query has used since statistics were reset",
                    ),
                };
                findings.push(AuditFinding {
                    code: code.into(),
                    severity,
                    object: match &problem.index {
                        Some(index) => format!("{}.{index}", problem.table),
                        None => problem.table.clone(),
                    },
                    detail: problem.detail,
                    why: why.into(),
                    fix: problem.statement,
                });
            }
        }
        findings.sort_by(|a, b| {
            b.severity.cmp(&a.severity).then_with(|| a.code.cmp(&b.code)).then_with(|| a.object.cmp(&b.object))
        });
        let mut counts = SeverityCounts::default();
        for f in &findings {
            match f.severity {
                Severity::Critical => counts.critical += 1,
                Severity::Warning => counts.warning += 1,
                Severity::Info => counts.info += 1,
            }
        }
        let omitted = findings.len().checked_sub(MAX_FINDINGS).filter(|n| *n > 0);
        findings.truncate(MAX_FINDINGS);
        Ok(Json(SecurityAuditOutput {
            database: cfg.name.clone(),
            engine: cfg.engine,
            scope: p.scope,
            rules_run,
            counts,
            findings,
            omitted,
        }))
    }
}
