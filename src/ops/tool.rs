//! Data operations: data-quality (dbt-style checks, read-only), smoke-test (a post-deploy
//! checklist) and seed (idempotent seed data, one transaction per run).

use rmcp::{Json, handler::server::wrapper::Parameters, tool, tool_router};
use serde::{Deserialize, Serialize};

use crate::{
    config::{Engine, Mode},
    error::ToolError,
    ops::{QualityCheck, QualityResult, SeedFile, SeedOutcome, SmokeCheck, SmokeOptions, SmokeStatus},
    server::Server,
};

const DEFAULT_SAMPLES: u64 = 5;
const MAX_SAMPLES: u64 = 50;
const MAX_CHECKS: usize = 200;

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct DataQualityParams {
    /// Configured database name (default: the first one).
    #[serde(default)]
    pub database: Option<String>,
    /// The checks to run. Example: [{"check": "not_null", "table": "users", "column": "email"},
    /// {"check": "relationships", "table": "orders", "column": "user_id", "to_table": "users", "to_column": "id"}].
    #[serde(default)]
    pub checks: Option<Vec<QualityCheck>>,
    /// A checks file, run after `checks`: TOML (`[[checks]]` tables) or YAML (`checks:`, a list), each
    /// check with the same fields; or a dbt properties file (`schema.yml` with `models:` / `sources:`),
    /// whose column and model tests are translated (not_null, unique, accepted_values, relationships,
    /// dbt_utils accepted_range, expression_is_true and recency, source freshness) and the rest listed
    /// as skipped.
    #[serde(default)]
    pub file: Option<String>,
    /// Failing rows shown per check (default 5, at most 50).
    #[serde(default, deserialize_with = "crate::args::lenient::opt_u64")]
    pub samples: Option<u64>,
}

#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct DataQualityOutput {
    pub database: String,
    pub engine: Engine,
    /// Every check passed.
    pub passed: bool,
    pub checks_passed: usize,
    pub checks_failed: usize,
    pub results: Vec<QualityResult>,
    /// Tests of a dbt file that have no equivalent here, with the reason; they did not run.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub skipped: Vec<super::checks_file::SkippedTest>,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct SmokeTestParams {
    /// Configured database name (default: the first one).
    #[serde(default)]
    pub database: Option<String>,
    /// The migration version the deploy shipped: the `_sqlx_migrations` ledger's latest successful
    /// version must equal it. Without it, the ledger is only checked for failed (dirty) migrations.
    #[serde(default, deserialize_with = "opt_i64")]
    pub version: Option<i64>,
    /// A statement running longer than this fails the check (default 300).
    #[serde(default)]
    pub long_query_seconds: Option<f64>,
    /// A session idle inside an open transaction longer than this fails the check (default 60).
    #[serde(default)]
    pub idle_in_transaction_seconds: Option<f64>,
    /// Tables that must have row level security enabled (PostgreSQL), e.g. ["public.notes"].
    #[serde(default)]
    pub rls_tables: Vec<String>,
    /// A stored snapshot (id or label) whose row level security must still hold: every table it
    /// recorded with RLS enabled (or forced) must still have it (PostgreSQL). Default: the newest
    /// stored snapshot, such as the one apply-migration takes before it applies.
    #[serde(default)]
    pub snapshot: Option<String>,
    /// Collections that must have a validator (MongoDB).
    #[serde(default)]
    pub validated_collections: Vec<String>,
    /// Replication lag past this fails the check on a replica (default 30).
    #[serde(default)]
    pub max_replication_lag_seconds: Option<f64>,
}

#[derive(Debug, Default, Serialize, schemars::JsonSchema)]
pub struct SmokeCounts {
    pub pass: usize,
    pub warn: usize,
    pub fail: usize,
    pub skip: usize,
}

#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct SmokeTestOutput {
    pub database: String,
    pub engine: Engine,
    /// No check failed.
    pub passed: bool,
    pub counts: SmokeCounts,
    pub checks: Vec<SmokeCheck>,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct SeedParams {
    /// Configured database name (default: the first one).
    #[serde(default)]
    pub database: Option<String>,
    /// A seed file or a folder of them (applied in file-name order): `.sql` scripts, or `.csv` (header row
    /// of column names; an empty field is NULL) and `.json` (an array of objects) files named after their
    /// table (a numeric prefix such as `10_` only orders them). MongoDB: `.json` or `.csv` files named after their collection (CSV fields typed by their look).
    pub path: String,
    /// Re-apply files whose content changed since they were applied: CSV and JSON rows are upserted on the
    /// primary key (documents replaced by _id), SQL files rerun whole. Default false: changes are only reported.
    #[serde(default)]
    pub reapply_changed: bool,
}

#[derive(Debug, Default, Serialize, schemars::JsonSchema)]
pub struct SeedCounts {
    pub applied: usize,
    pub reapplied: usize,
    pub unchanged: usize,
    pub changed: usize,
    pub ignored: usize,
}

#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct SeedOutput {
    pub database: String,
    pub engine: Engine,
    /// Something was written and committed; false when the run had nothing to do.
    pub committed: bool,
    pub counts: SeedCounts,
    pub files: Vec<SeedFile>,
}

/// An optional integer sent as a number or a numeric string (versions like 20240101120000).
fn opt_i64<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum N {
        Num(i64),
        Text(String),
    }
    match Option::<N>::deserialize(d)? {
        None => Ok(None),
        Some(N::Num(n)) => Ok(Some(n)),
        Some(N::Text(s)) => s.trim().parse().map(Some).map_err(serde::de::Error::custom),
    }
}

/// The security audit's verdict on tables holding per-user rows (a `user_id`, `tenant_id`, ...
/// column) without row level security. A warning: the application may scope rows itself.
async fn tenant_tables_rls(db: &crate::engine::Database) -> SmokeCheck {
    const CODE: &str = "rls-disabled-tenant-table";
    let check = |status, detail: String, fix: Option<String>| SmokeCheck {
        name: "tenant-tables-rls".into(),
        status,
        detail,
        fix,
        activity: vec![],
    };
    let rules: Vec<_> = crate::audit::db::audit_rules(db).iter().filter(|r| r.code == CODE).collect();
    if rules.is_empty() {
        return check(SmokeStatus::Skip, format!("no {CODE} audit rule for this engine"), None);
    }
    match crate::audit::db::audit(db, &rules).await {
        Ok(Some(found)) if found.is_empty() => {
            check(SmokeStatus::Pass, "every table with a per-user column has row level security".into(), None)
        }
        Ok(Some(found)) => check(
            SmokeStatus::Warn,
            format!(
                "security-audit ({CODE}): {} table(s) with per-user rows and row level security off: {}",
                found.len(),
                found.iter().map(|f| f.object.as_str()).collect::<Vec<_>>().join(", ")
            ),
            Some(found.iter().map(|f| f.fix.as_str()).collect::<Vec<_>>().join(" ")),
        ),
        Ok(None) => check(SmokeStatus::Skip, "the audit has no rules for this engine".into(), None),
        Err(e) => check(SmokeStatus::Warn, format!("could not run the audit rule: {e}"), e.hint()),
    }
}

fn seconds(argument: &str, value: Option<f64>, default: f64) -> Result<f64, ToolError> {
    match value {
        None => Ok(default),
        Some(v) if v.is_finite() && v >= 0.0 => Ok(v),
        Some(_) => Err(ToolError::invalid(argument, "a number of seconds, 0 or more")),
    }
}

#[tool_router(router = ops_router, vis = "pub(crate)")]
impl Server {
    #[tool(
        name = "data-quality",
        description = "Run dbt-style data-quality checks and report, per check, passed or failed, the failing row count, \
            the pass rate and a few sample failures (secret-named fields masked). Checks: not_null, unique, \
            accepted_values, relationships (every value exists in to_table.to_column), range (min/max), row_count \
            (min/max rows), freshness (newest timestamp at most max_age_seconds old), custom_sql (a query returning \
            the failing rows; SQL engines) and custom_pipeline (an aggregation returning the failing documents; \
            MongoDB). Give them as `checks` or a `file`: TOML or YAML in the same shape, or a dbt properties file \
            (schema.yml) whose tests are translated, the rest listed as skipped. Tables and columns are checked against the \
            catalog and quoted; everything runs in one read-only transaction, even on a read-write database.",
        annotations(
            title = "Run data-quality checks",
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    async fn data_quality(
        &self,
        Parameters(p): Parameters<DataQualityParams>,
    ) -> Result<Json<DataQualityOutput>, ToolError> {
        let db = self.database(p.database.as_deref())?;
        let mut checks = p.checks.unwrap_or_default();
        let mut skipped = Vec::new();
        if let Some(file) = p.file.as_deref() {
            super::checks_file::format(file).map_err(|e| ToolError::invalid("file", e))?;
            let path = self.file("file", file)?;
            let text = self.files().read_to_string("file", &path)?;
            let parsed = super::checks_file::parse(file, &text).map_err(|e| ToolError::invalid("file", e))?;
            checks.extend(parsed.checks);
            skipped = parsed.skipped;
        }
        if checks.is_empty() {
            let why = if skipped.is_empty() {
                String::new()
            } else {
                let tests: Vec<String> = skipped.iter().map(|s| format!("{} ({})", s.test, s.reason)).collect();
                format!("; none of the file's tests has an equivalent here: {}", tests.join(", "))
            };
            return Err(ToolError::invalid(
                "checks",
                format!(
                    "give at least one check, e.g. {{\"check\": \"not_null\", \"table\": \"users\", \"column\": \"email\"}}, or a checks `file`{why}"
                ),
            ));
        }
        if checks.len() > MAX_CHECKS {
            return Err(ToolError::invalid("checks", format!("at most {MAX_CHECKS} checks per call")));
        }
        let samples = p.samples.unwrap_or(DEFAULT_SAMPLES).min(MAX_SAMPLES) as usize;
        let results = crate::ops::quality::data_quality(db, &checks, samples).await?;
        let checks_passed = results.iter().filter(|r| r.passed).count();
        Ok(Json(DataQualityOutput {
            database: db.config.name.clone(),
            engine: db.config.engine,
            passed: checks_passed == results.len(),
            checks_passed,
            checks_failed: results.len() - checks_passed,
            results,
            skipped,
        }))
    }

    #[tool(
        name = "smoke-test",
        description = "Post-deploy checklist, each item pass, fail, warn or skip (with the reason) and a fix. All engines: \
            connectivity; the _sqlx_migrations ledger's latest successful migration equals `version` and none is \
            dirty. PostgreSQL: no invalid indexes, no unvalidated (NOT VALID) constraints, row level security enabled \
            on tables with policies, on `rls_tables` and on every table the newest (or the named) stored `snapshot` \
            recorded with it, forced where it was forced (and a warning for tables with per-user columns but no row \
            level security, as security-audit reports them), sequences below 80% of their range, no statement running \
            past long_query_seconds or session idle in a transaction past idle_in_transaction_seconds, replication lag \
            on a replica. MySQL/MariaDB: AUTO_INCREMENT columns below 80% of their type, long statements and idle \
            open transactions, replica lag. SQLite: PRAGMA integrity_check and foreign_key_check. MongoDB: ping, \
            validators on `validated_collections`, long operations, replica lag. Read-only.",
        annotations(
            title = "Smoke-test a database after a deploy",
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    async fn smoke_test(&self, Parameters(p): Parameters<SmokeTestParams>) -> Result<Json<SmokeTestOutput>, ToolError> {
        let db = self.database(p.database.as_deref())?;
        let opts = SmokeOptions {
            version: p.version,
            long_query_seconds: seconds("long_query_seconds", p.long_query_seconds, 300.0)?,
            idle_in_transaction_seconds: seconds("idle_in_transaction_seconds", p.idle_in_transaction_seconds, 60.0)?,
            rls_tables: p.rls_tables,
            validated_collections: p.validated_collections,
            max_replication_lag_seconds: seconds("max_replication_lag_seconds", p.max_replication_lag_seconds, 30.0)?,
            snapshot: p.snapshot,
        };
        let mut checks = crate::ops::smoke::smoke_test(db, &opts).await?;
        let connected = checks.first().is_some_and(|c| c.status == SmokeStatus::Pass);
        if connected && db.capabilities().row_level_security {
            checks.push(tenant_tables_rls(db).await);
        }
        let mut counts = SmokeCounts::default();
        for c in &checks {
            match c.status {
                SmokeStatus::Pass => counts.pass += 1,
                SmokeStatus::Warn => counts.warn += 1,
                SmokeStatus::Fail => counts.fail += 1,
                SmokeStatus::Skip => counts.skip += 1,
            }
        }
        Ok(Json(SmokeTestOutput {
            database: db.config.name.clone(),
            engine: db.config.engine,
            passed: counts.fail == 0,
            counts,
            checks,
        }))
    }

    #[tool(
        name = "seed",
        description = "Apply seed data idempotently from a file or folder (file-name order): .sql scripts, or .csv / \
            .json files named after their table (MongoDB: .json or .csv files named after their collection). The ledger \
            table data_engineer_seeds records each file's SHA-256, so a re-run is a no-op; a changed file is \
            reported and re-applied only with reapply_changed (rows upserted on the primary key). The whole run is \
            one transaction: a failing file leaves nothing applied. On MySQL/MariaDB seed SQL may not hold DDL \
            (it commits on the spot). Read-write databases only.",
        annotations(
            title = "Apply seed data",
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    async fn seed(&self, Parameters(p): Parameters<SeedParams>) -> Result<Json<SeedOutput>, ToolError> {
        let db = self.database(p.database.as_deref())?;
        if db.config.mode != Mode::ReadWrite {
            return Err(ToolError::refused(
                format!("database {} is read-only and seed writes", db.config.name),
                "configure the database with mode = \"read-write\" (or --mode read-write) to apply seeds",
            ));
        }
        if p.path.trim().is_empty() {
            return Err(ToolError::invalid("path", "a seed file or folder is required"));
        }
        let path = self.file("path", &p.path)?;
        let report = crate::ops::seed::seed(db, self.files(), &path, p.reapply_changed).await?;
        let mut counts = SeedCounts::default();
        for f in &report.files {
            match f.outcome {
                SeedOutcome::Applied => counts.applied += 1,
                SeedOutcome::Reapplied => counts.reapplied += 1,
                SeedOutcome::Unchanged => counts.unchanged += 1,
                SeedOutcome::Changed => counts.changed += 1,
                SeedOutcome::Ignored => counts.ignored += 1,
            }
        }
        Ok(Json(SeedOutput {
            database: db.config.name.clone(),
            engine: db.config.engine,
            committed: report.committed,
            counts,
            files: report.files,
        }))
    }
}
