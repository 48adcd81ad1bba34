//! policy-apply and test-as-user: close a table with row level security policies, then prove
//! who can see and change which rows.

use rmcp::{
    Json, RoleServer,
    handler::server::{tool::InputResponses, wrapper::Parameters},
    service::RequestContext,
    tool, tool_router,
};
use serde::{Deserialize, Serialize};

use crate::{
    config::Mode,
    error::ToolError,
    plan::Severity,
    rls::{
        Contradiction, DEFAULT_SETTING, Expectation, MatrixRow, PolicyPlan, PolicyRequest, PolicyStatus, RoleAccess,
        Strategy, UserTest, valid_setting,
    },
    server::Server,
};

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct PolicyApplyParams {
    /// Configured database name (default: the first one).
    #[serde(default)]
    pub database: Option<String>,
    /// The table to protect, optionally schema-qualified (public.notes).
    pub table: String,
    /// kiss (default): each user sees and changes only their own rows. granular: per-role access from `roles`.
    #[serde(default)]
    pub strategy: Strategy,
    /// The column that holds the owner's id. Default: user_id, owner_id, created_by, author_id, profile_id or
    /// tenant_id, else a foreign key to a users table.
    #[serde(default)]
    pub owner_column: Option<String>,
    /// granular: per-role access, e.g. [{"role": "admin", "access": "all"}, {"role": "member", "access":
    /// "read-tenant-write-own"}, {"role": "anon", "access": "none"}]. Access: all, read-all, read-all-write-own,
    /// own, read-own, read-tenant-write-own, none.
    #[serde(default)]
    pub roles: Vec<RoleAccess>,
    /// granular, read-tenant-write-own: the tenant column (default: tenant_id, org_id, organization_id, ...).
    #[serde(default)]
    pub tenant_column: Option<String>,
    /// The session setting that carries the user's id when there is no Supabase auth.uid() (default
    /// app.current_user_id).
    #[serde(default)]
    pub identity_setting: Option<String>,
    /// The session setting that carries the tenant's id (default app.current_tenant_id).
    #[serde(default)]
    pub tenant_setting: Option<String>,
    /// granular: create missing roles (NOLOGIN). Default false: a missing role is an error.
    #[serde(default)]
    pub create_roles: bool,
    /// Replace existing policies of the same names that differ. Default false: they are reported and nothing changes.
    #[serde(default)]
    pub replace: bool,
    /// Return the exact SQL without applying it.
    #[serde(default)]
    pub preview: bool,
    /// Apply without asking the user through the client (only for clients that cannot ask; ask the user first).
    #[serde(default)]
    pub confirm: bool,
}

#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct PolicyApplyOutput {
    pub database: String,
    /// preview, applied, or unchanged (already in place: nothing to do).
    pub outcome: String,
    #[serde(flatten)]
    pub plan: PolicyPlan,
    /// What to do next.
    pub next: String,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct TestAsUserParams {
    /// Configured database name (default: the first one).
    #[serde(default)]
    pub database: Option<String>,
    /// The user to emulate: the value the identity setting (or the JWT's sub claim on Supabase) carries.
    pub user_id: String,
    /// Tables to test (default: every table with row level security on).
    #[serde(default)]
    pub tables: Vec<String>,
    /// The role to run as (default: Supabase's authenticated, else a role created for the test with plain
    /// SELECT/INSERT/UPDATE/DELETE grants, so that only the policies decide). Must not be a superuser or BYPASSRLS.
    #[serde(default)]
    pub role: Option<String>,
    /// The owner column, when it is not detected (user_id, owner_id, created_by, ... or a foreign key to users).
    #[serde(default)]
    pub owner_column: Option<String>,
    /// The session setting that carries the user's id (default app.current_user_id).
    #[serde(default)]
    pub identity_setting: Option<String>,
    /// More settings the application sets for this user, e.g. {"app.current_tenant_id": "7"}.
    #[serde(default)]
    pub settings: std::collections::BTreeMap<String, String>,
    /// Expected outcomes overriding the default (own rows allowed, others' denied), last match wins:
    /// [{"table": "notes", "operation": "select", "rows": "others", "expect": "allowed"}]. `*` matches all.
    #[serde(default)]
    pub expectations: Vec<Expectation>,
}

#[derive(Debug, Default, Serialize, schemars::JsonSchema)]
pub struct ContradictionCounts {
    pub critical: usize,
    pub warning: usize,
}

#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct TestAsUserOutput {
    pub database: String,
    pub user_id: String,
    pub role: String,
    pub identity: String,
    /// Always true: every probe ran inside a transaction that was rolled back.
    pub rolled_back: bool,
    /// True when no cell contradicts the expectation.
    pub passed: bool,
    pub counts: ContradictionCounts,
    pub contradictions: Vec<Contradiction>,
    pub matrix: Vec<MatrixRow>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

fn setting(argument: &str, value: Option<String>, default: &str) -> Result<String, ToolError> {
    let value = value.unwrap_or_else(|| default.to_string());
    if valid_setting(&value) {
        Ok(value)
    } else {
        Err(ToolError::invalid(
            argument,
            format!("{value:?} is not a custom setting name; use prefix.name, e.g. {default}"),
        ))
    }
}

#[tool_router(router = rls_router, vis = "pub(crate)")]
impl Server {
    #[tool(
        name = "policy-apply",
        description = "Close a PostgreSQL table with row level security. kiss: ENABLE and FORCE row level security and \
            one policy per command comparing the owner column (detected, or owner_column) with the user's identity \
            (Supabase auth.uid(), else the app.current_user_id setting), evaluated once per statement. granular: \
            per-role policies and grants from a small spec. preview: true returns the exact SQL; applying runs in one \
            transaction after the user confirms, is idempotent (a second run changes nothing and says so) and never \
            replaces a same-named policy unless replace: true. Other engines: explains their equivalent.",
        annotations(
            title = "Apply row level security policies",
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    async fn policy_apply(
        &self,
        Parameters(p): Parameters<PolicyApplyParams>,
        context: RequestContext<RoleServer>,
        responses: InputResponses,
    ) -> Result<Json<PolicyApplyOutput>, ToolError> {
        let db = self.database(p.database.as_deref())?;
        let req = PolicyRequest {
            table: p.table.trim().to_string(),
            strategy: p.strategy,
            owner_column: p.owner_column,
            tenant_column: p.tenant_column,
            identity_setting: setting("identity_setting", p.identity_setting, DEFAULT_SETTING)?,
            tenant_setting: setting("tenant_setting", p.tenant_setting, "app.current_tenant_id")?,
            roles: p.roles,
            create_roles: p.create_roles,
            replace: p.replace,
        };
        let plan = crate::rls::db::plan_policies(db, &req).await?;
        let output = |outcome: &str, plan: PolicyPlan, next: String| {
            Ok(Json(PolicyApplyOutput { database: db.config.name.clone(), outcome: outcome.into(), plan, next }))
        };
        let differs: Vec<_> =
            plan.policies.iter().filter(|p| p.status == PolicyStatus::Differs).map(|p| p.name.clone()).collect();
        if p.preview {
            let next = if plan.statements.is_empty() {
                "nothing to apply: the table is already protected as planned".to_string()
            } else if db.config.mode == Mode::ReadOnly {
                "this database is read-only here: apply the statements through a read-write database entry or a migration"
                    .into()
            } else {
                "call policy-apply again without preview to apply these statements in one transaction".into()
            };
            return output("preview", plan, next);
        }
        if db.config.mode == Mode::ReadOnly {
            return Err(ToolError::refused(
                format!("database {} is read-only", db.config.name),
                "use preview: true to see the SQL, or configure this database with mode = \"read-write\"",
            ));
        }
        if !differs.is_empty() {
            return Err(ToolError::refused(
                format!("policies with these names already exist with other definitions: {}", differs.join(", ")),
                "call with preview: true to compare them, then pass replace: true to replace them (or drop them yourself)",
            ));
        }
        if plan.statements.is_empty() {
            return output(
                "unchanged",
                plan,
                "nothing changed: the policies are already in place; run test-as-user to prove them".into(),
            );
        }
        let action = format!(
            "apply {} statement(s) to {} on database {}:\n{}",
            plan.statements.len(),
            plan.table,
            db.config.name,
            plan.statements.join(";\n")
        );
        crate::confirm::confirmed(&context, responses, p.confirm, &action).await?;
        let applied = crate::rls::db::apply_policies(db, &req, &plan.statements).await?;
        output(
            "applied",
            applied,
            "committed; run test-as-user with a real user id to prove own rows are reachable and others' are not"
                .into(),
        )
    }

    #[tool(
        name = "test-as-user",
        description = "Prove row level security on PostgreSQL: emulate one user inside a transaction that is always \
            rolled back (a non-superuser role, since owners and superusers bypass policies; the identity set through \
            the app.current_user_id setting or Supabase's request.jwt.claims), then try SELECT, INSERT, UPDATE and \
            DELETE on the user's own rows and on everyone else's, for every table with row level security (or the \
            given tables). Returns the matrix with row counts and flags each cell that contradicts the expectation \
            (a user reaching others' rows is critical). Nothing is ever kept.",
        annotations(
            title = "Test row level security as a user",
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    async fn test_as_user(
        &self,
        Parameters(p): Parameters<TestAsUserParams>,
    ) -> Result<Json<TestAsUserOutput>, ToolError> {
        let db = self.database(p.database.as_deref())?;
        if p.user_id.trim().is_empty() {
            return Err(ToolError::invalid("user_id", "give the id of the user to emulate"));
        }
        let test = UserTest {
            user_id: p.user_id.trim().to_string(),
            tables: p.tables,
            role: p.role,
            owner_column: p.owner_column,
            identity_setting: setting("identity_setting", p.identity_setting, DEFAULT_SETTING)?,
            settings: p
                .settings
                .into_iter()
                .map(|(name, value)| Ok((setting("settings", Some(name), "app.current_tenant_id")?, value)))
                .collect::<Result<_, ToolError>>()?,
            expectations: p.expectations,
            timeout_ms: db.config.statement_timeout_ms,
        };
        let report = crate::rls::db::test_as_user(db, &test).await?;
        let mut counts = ContradictionCounts::default();
        for c in &report.contradictions {
            match c.severity {
                Severity::Critical => counts.critical += 1,
                _ => counts.warning += 1,
            }
        }
        Ok(Json(TestAsUserOutput {
            database: db.config.name.clone(),
            user_id: report.user_id,
            role: report.role,
            identity: report.identity,
            rolled_back: true,
            passed: report.contradictions.is_empty(),
            counts,
            contradictions: report.contradictions,
            matrix: report.matrix,
            notes: report.notes,
        }))
    }
}
