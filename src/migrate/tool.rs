//! The migration lifecycle: create-migration-plan, dry-run, apply-migration, snapshot and
//! rollback. A change is applied only with the `plan_id` of a successful dry-run of the same SQL
//! on the same schema state; the ids this server verified are kept in memory, and the schema
//! fingerprint is recomputed at apply time.

use std::{
    collections::{BTreeMap, HashMap},
    io::Write,
    path::{Path, PathBuf},
    sync::{LazyLock, Mutex},
};

use rmcp::{
    Json, RoleServer,
    handler::server::{tool::InputResponses, wrapper::Parameters},
    service::RequestContext,
    tool, tool_router,
};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::{
    config::{Engine, Mode},
    engine::Database,
    error::ToolError,
    files::FileAccess,
    migrate::db::{Applied, Change, LedgerChange, LedgerRow, SnapshotRecord, StatementError},
    migrate::{
        folder::{self, Migration},
        plan::{self, Finding, Step},
        snapshot::{self, Schema, SchemaDiff},
    },
    server::Server,
};

/// Plan ids a dry-run verified in this server process, with what they were verified for.
static VERIFIED: LazyLock<Mutex<HashMap<String, Verified>>> = LazyLock::new(Default::default);

#[derive(Clone)]
struct Verified {
    reversible: Option<bool>,
}

fn remember(plan_id: &str, verified: Verified) {
    if let Ok(mut map) = VERIFIED.lock() {
        map.insert(plan_id.to_string(), verified);
    }
}

fn verified(plan_id: &str) -> Option<Verified> {
    VERIFIED.lock().ok().and_then(|m| m.get(plan_id).cloned())
}

fn forget(plan_id: &str) {
    if let Ok(mut map) = VERIFIED.lock() {
        map.remove(plan_id);
    }
}

/// Where the change comes from; exactly one of `sql`, `file`, `folder`.
#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
pub struct ChangeSource {
    /// The change as SQL (one or more statements separated by semicolons).
    #[serde(default)]
    pub sql: Option<String>,
    /// A migration file (`<version>_<name>.up.sql` or `<version>_<name>.sql`); its `.down.sql`
    /// sibling is the down script.
    #[serde(default)]
    pub file: Option<String>,
    /// A migrations folder in sqlx-cli's format: the next pending version is the change.
    #[serde(default)]
    pub folder: Option<String>,
    /// The down script; default: the migration's `.down.sql`, else the generated one.
    #[serde(default)]
    pub down: Option<String>,
}

/// A resolved change.
struct Resolved {
    up: String,
    down: Option<String>,
    down_origin: &'static str,
    /// From a folder (or a versioned file): recorded in `_sqlx_migrations`.
    version: Option<Migration>,
    origin: String,
    ledger: LedgerStatus,
}

/// The ledger against the folder.
#[derive(Debug, Default, Clone, Serialize, schemars::JsonSchema)]
pub struct LedgerStatus {
    /// Versions recorded as applied.
    pub applied: Vec<i64>,
    /// Folder versions not applied yet, in order.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub pending: Vec<i64>,
    /// A version that failed half-way (success = false), with how to recover.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dirty: Option<String>,
    /// Applied versions whose file changed since (checksum differs).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub checksum_mismatches: Vec<i64>,
}

fn ledger_status(ledger: &[LedgerRow], folder: &[Migration]) -> LedgerStatus {
    let applied: Vec<i64> = ledger.iter().filter(|r| r.success).map(|r| r.version).collect();
    LedgerStatus {
        pending: folder.iter().filter(|m| !ledger.iter().any(|r| r.version == m.version)).map(|m| m.version).collect(),
        dirty: ledger.iter().find(|r| !r.success).map(|r| {
            format!(
                "version {} ({}) is dirty: it failed half-way on an engine that commits DDL as it goes. Compare the \
                 schema with the snapshot taken before it (snapshot with diff), undo or finish its statements by hand \
                 (rollback with its down script), then remove its row: DELETE FROM _sqlx_migrations WHERE version = {}",
                r.version, r.description, r.version
            )
        }),
        checksum_mismatches: ledger
            .iter()
            .filter(|r| folder.iter().any(|m| m.version == r.version && hex::encode(&m.checksum) != r.checksum))
            .map(|r| r.version)
            .collect(),
        applied,
    }
}

/// `<version>_<name>(.up).sql` → the migration it is, read like its folder reads it.
fn versioned_file(files: &FileAccess, path: &Path) -> Result<Option<Migration>, ToolError> {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let Some((version, _)) = name.split_once('_') else { return Ok(None) };
    let Ok(version) = version.parse::<i64>() else { return Ok(None) };
    if name.ends_with(".down.sql") {
        return Err(ToolError::invalid("file", "this is a down script; pass the up script (rollback runs downs)"));
    }
    let dir = path.parent().unwrap_or(Path::new("."));
    Ok(folder::read(files, "file", dir)?.into_iter().find(|m| m.version == version))
}

impl Server {
    /// The file and folder a change names must lie in the directories this server may use.
    fn check_source(&self, source: &ChangeSource) -> Result<(), ToolError> {
        if let Some(file) = &source.file {
            self.file("file", file)?;
        }
        if let Some(folder) = &source.folder {
            self.file("folder", folder)?;
        }
        Ok(())
    }
}

async fn resolve(db: &Database, files: &FileAccess, source: &ChangeSource) -> Result<Resolved, ToolError> {
    let given = [source.sql.is_some(), source.file.is_some(), source.folder.is_some()].iter().filter(|b| **b).count();
    if given != 1 {
        return Err(ToolError::invalid(
            "sql",
            "give exactly one of sql (the change as SQL), file (a migration file) or folder (a migrations folder)",
        ));
    }
    let rows = crate::migrate::db::migration_ledger(db).await?;
    let (up, version, origin, ledger) = if let Some(sql) = &source.sql {
        (sql.clone(), None, "sql".to_string(), ledger_status(&rows, &[]))
    } else if let Some(file) = &source.file {
        let path = PathBuf::from(file);
        match versioned_file(files, &path)? {
            Some(m) => {
                let status = ledger_status(&rows, std::slice::from_ref(&m));
                (m.up.clone(), Some(m), format!("file {file}"), status)
            }
            None => {
                let up = files.read_to_string("file", &path)?;
                (up, None, format!("file {file}"), ledger_status(&rows, &[]))
            }
        }
    } else {
        let dir = source.folder.clone().unwrap_or_default();
        let migrations = folder::read(files, "folder", Path::new(&dir))?;
        let status = ledger_status(&rows, &migrations);
        if let Some(dirty) = &status.dirty {
            return Err(ToolError::refused(format!("the ledger has a dirty version: {dirty}"), "recover it first"));
        }
        if !status.checksum_mismatches.is_empty() {
            // sqlx's Migrator refuses these too (VersionMismatch): what ran is not what the file says.
            return Err(ToolError::refused(
                format!(
                    "applied versions {:?} changed since they were applied (their checksum differs from the ledger's)",
                    status.checksum_mismatches
                ),
                "restore those files as they were applied (git history) and put further changes in a new migration",
            ));
        }
        let Some(next) = migrations.into_iter().find(|m| status.pending.contains(&m.version)) else {
            return Err(ToolError::invalid(
                "folder",
                format!("{dir} has no pending migration: every version is applied"),
            ));
        };
        let origin = format!("folder {dir}, version {} ({})", next.version, next.description);
        (next.up.clone(), Some(next), origin, status)
    };
    if let Some(m) = &version
        && ledger_status_has(&rows, m.version)
    {
        return Err(ToolError::refused(
            format!("version {} is already recorded in _sqlx_migrations", m.version),
            "add a new migration with a newer version instead of editing an applied one",
        ));
    }
    let (down, down_origin) = match (&source.down, version.as_ref().and_then(|m| m.down.clone())) {
        (Some(d), _) => (Some(d.clone()), "given"),
        (None, Some(d)) => (Some(d), "down file"),
        (None, None) => (None, "generated"),
    };
    if crate::sql::split::split(&up, db.config.engine).is_empty() {
        return Err(ToolError::invalid("sql", "the change holds no statement"));
    }
    Ok(Resolved { up, down, down_origin, version, origin, ledger })
}

fn ledger_status_has(ledger: &[LedgerRow], version: i64) -> bool {
    ledger.iter().any(|r| r.version == version)
}

fn sql_database(db: &Database, tool: &str) -> Result<(), ToolError> {
    if db.capabilities().sql {
        return Ok(());
    }
    Err(ToolError::Unsupported {
        what: tool.into(),
        engine: db.config.engine,
        hint: "migrations, schema snapshots and rollbacks apply to SQL databases (PostgreSQL, MySQL/MariaDB, SQLite); \
               MongoDB has no fixed schema: change collections' validators and indexes with your application's tooling"
            .into(),
    })
}

fn writable(db: &Database, tool: &str) -> Result<(), ToolError> {
    if db.config.mode == Mode::ReadWrite {
        return Ok(());
    }
    Err(ToolError::refused(
        format!("database {} is read-only; {tool} changes the schema", db.config.name),
        "configure the database with mode = \"read-write\" (a staging copy is a good place for a dry-run); \
         create-migration-plan and snapshot work on read-only databases",
    ))
}

/// sha256 of the parts, 32 hex digits.
fn hash(parts: &[&str]) -> String {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p.as_bytes());
        h.update([0u8]);
    }
    hex::encode(&h.finalize()[..16])
}

/// The plan id: the exact up and down SQL, the database's identity and its schema fingerprint.
fn plan_id(db: &Database, kind: &str, up: &str, down: Option<&str>, fingerprint: &str) -> String {
    let identity = format!("{}|{}|{}", db.config.name, db.config.engine, db.config.url.display_redacted());
    hash(&[kind, &identity, up, down.unwrap_or(""), fingerprint])
}

/// What in `script` PostgreSQL refuses to run inside a transaction block, one entry per kind.
fn outside_transaction(script: &str, engine: Engine) -> Vec<&'static str> {
    let mut kinds: Vec<&'static str> =
        statements_of(script, engine).iter().filter_map(|s| plan::outside_transaction(engine, s)).collect();
    kinds.dedup();
    kinds
}

/// The change runs statement by statement: its header says so, or a statement cannot run in a
/// transaction at all.
fn no_transaction(script: &str, engine: Engine) -> bool {
    folder::is_no_transaction(script) || !outside_transaction(script, engine).is_empty()
}

/// What the plan and the dry-run say of a change that runs outside a transaction because of
/// what it holds.
fn outside_transaction_note(script: &str, engine: Engine) -> Option<String> {
    let kinds = outside_transaction(script, engine);
    if kinds.is_empty() || folder::is_no_transaction(script) {
        return None;
    }
    Some(format!(
        "PostgreSQL runs {} only outside a transaction, so apply-migration runs this change statement by statement, \
         each with lock_timeout 5s: it is not atomic. If a statement fails, the inverses of those before it are run and \
         an INVALID index a failed CONCURRENTLY build left is dropped. Keep such a statement in a migration of its own",
        kinds.join(", ")
    ))
}

fn statements_of(script: &str, engine: Engine) -> Vec<String> {
    crate::sql::split::split(script, engine).into_iter().map(|s| s.sql).collect()
}

/// The sizes (bytes) of the tables a script touches, from the engine's statistics.
async fn table_sizes(db: &Database, script: &str) -> Result<BTreeMap<String, u64>, ToolError> {
    let tables = plan::tables(db.config.engine, script);
    if tables.is_empty() {
        return Ok(BTreeMap::new());
    }
    let stats = crate::plan::db::table_stats(db, &tables).await?;
    Ok(stats
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|t| {
            let name = t["table"].as_str()?.to_ascii_lowercase();
            let bytes = t["total_bytes"]
                .as_u64()
                .or_else(|| t["total_bytes"].as_str().and_then(|s| s.parse().ok()))
                .or_else(|| t["live_rows"].as_u64().map(|r| r * 100))?;
            Some((name, bytes))
        })
        .collect())
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct PlanParams {
    /// Configured database name (default: the first one).
    #[serde(default)]
    pub database: Option<String>,
    #[serde(flatten)]
    pub source: ChangeSource,
    /// With `sql` and `folder`: write the change into the folder as a new migration
    /// (`<version>_<name>.up.sql` + `.down.sql`, the down given or generated).
    #[serde(default)]
    pub write: bool,
    /// Name of the written migration (default: migration).
    #[serde(default)]
    pub name: Option<String>,
    /// With `write`: replace migration files that exist under the same names (default: refuse).
    #[serde(default)]
    pub overwrite: bool,
}

#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct PlanOutput {
    pub database: String,
    pub engine: Engine,
    /// What the change is: sql, a file, or the next pending version of a folder.
    pub source: String,
    /// Hash of the exact SQL (up and down), the database's identity and its schema fingerprint.
    pub plan_id: String,
    pub schema_fingerprint: String,
    /// Runs outside a transaction (`-- no-transaction`).
    pub no_transaction: bool,
    pub steps: Vec<Step>,
    /// Lint findings with stable rule ids.
    pub findings: Vec<Finding>,
    /// The down script: given, from the down file, or generated.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub down: Option<String>,
    pub down_origin: String,
    /// What the change cannot undo.
    pub irreversible: Vec<String>,
    pub estimate_basis: String,
    pub ledger: LedgerStatus,
    /// Files written (write).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub written: Vec<String>,
    pub notes: Vec<String>,
    pub next: String,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct DryRunParams {
    /// Configured database name (default: the first one).
    #[serde(default)]
    pub database: Option<String>,
    #[serde(flatten)]
    pub source: ChangeSource,
    /// Statement timeout in milliseconds for each statement (default and ceiling: the database's).
    #[serde(default, deserialize_with = "crate::args::lenient::opt_u64")]
    pub timeout_ms: Option<u64>,
}

#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct DryRunOutput {
    pub database: String,
    pub engine: Engine,
    pub source: String,
    /// The up script ran to the end.
    pub success: bool,
    /// The plan id verified (usable with apply-migration only when success is true).
    pub plan_id: String,
    pub verified: bool,
    /// The statement that failed, with its line and the engine's error.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failed: Option<FailedStatement>,
    /// What the migration would change.
    pub schema_diff: SchemaDiff,
    /// Up then down returned the schema to its fingerprint (None: no down script to check).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reversible: Option<bool>,
    pub down_origin: String,
    /// What up then down left different from the original.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reversibility_diff: Option<SchemaDiff>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub down_failed: Option<FailedStatement>,
    pub notes: Vec<String>,
    pub next: String,
}

#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct FailedStatement {
    /// up or down.
    pub script: String,
    /// 1-based statement index.
    pub index: usize,
    pub line: usize,
    /// Byte offset of the statement in its script.
    pub position: usize,
    pub sql: String,
    pub error: String,
}

fn failed_statement(script_name: &str, script: &str, engine: Engine, e: &StatementError) -> FailedStatement {
    let statements = crate::sql::split::split(script, engine);
    let s = statements.get(e.index - 1);
    FailedStatement {
        script: script_name.into(),
        index: e.index,
        line: s.map_or(0, |s| s.line),
        position: s.map_or(0, |s| s.offset),
        sql: s.map(|s| s.sql.clone()).unwrap_or_default(),
        error: e.error.clone(),
    }
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct ApplyParams {
    /// Configured database name (default: the first one).
    #[serde(default)]
    pub database: Option<String>,
    /// The plan_id a successful dry-run of this same change returned.
    pub plan_id: String,
    #[serde(flatten)]
    pub source: ChangeSource,
    /// Apply without asking the user through the client (only for clients that cannot ask; show
    /// the plan to the user and ask first).
    #[serde(default)]
    pub confirm: bool,
}

#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct ApplyOutput {
    pub database: String,
    pub engine: Engine,
    pub source: String,
    pub applied: bool,
    /// The snapshot taken just before.
    pub snapshot_before: SnapshotRecord,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failed: Option<FailedStatement>,
    /// After a failure on an engine without transactional DDL: inverses that were run.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub compensated: Vec<String>,
    /// Statements of the change still in effect (0 when nothing remains).
    pub statements_in_effect: usize,
    /// Without one transaction (MySQL/MariaDB, `-- no-transaction`): the statements that had run
    /// before the failure, in order.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ran_before_failure: Vec<String>,
    /// The schema equals the snapshot taken before (after a failure).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unchanged: Option<bool>,
    pub schema_diff: SchemaDiff,
    pub schema_fingerprint: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ledger_version: Option<i64>,
    pub verification: Verification,
    pub elapsed_ms: f64,
    pub notes: Vec<String>,
}

/// Checks after applying.
#[derive(Debug, Default, Serialize, schemars::JsonSchema)]
pub struct Verification {
    /// Indexes left INVALID (an interrupted CONCURRENTLY build).
    pub invalid_indexes: Vec<String>,
    /// Constraints still NOT VALID: run VALIDATE CONSTRAINT.
    pub unvalidated_constraints: Vec<String>,
    /// The ledger row's checksum equals the file's (None: not recorded).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ledger_checksum_ok: Option<bool>,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct SnapshotParams {
    /// Configured database name (default: the first one).
    #[serde(default)]
    pub database: Option<String>,
    /// Label of a new snapshot (default: manual).
    #[serde(default)]
    pub label: Option<String>,
    /// Also write the snapshot's JSON description to this file (a new one: see overwrite).
    #[serde(default)]
    pub file: Option<String>,
    /// Replace `file` when it exists (default: refuse).
    #[serde(default)]
    pub overwrite: bool,
    /// List stored snapshots instead of taking one.
    #[serde(default)]
    pub list: bool,
    /// Compare two snapshots: ids or labels; "current" is the schema now.
    #[serde(default)]
    pub diff: Option<Vec<String>>,
    /// Include every object's definition in the answer (default: counts by kind).
    #[serde(default)]
    pub include_objects: bool,
}

#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct SnapshotOutput {
    pub database: String,
    pub engine: Engine,
    /// taken, list or diff.
    pub action: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub snapshot: Option<SnapshotRecord>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fingerprint: Option<String>,
    /// Objects by kind.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub counts: BTreeMap<String, usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub schema: Option<Schema>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub snapshots: Vec<SnapshotRecord>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub diff: Option<SchemaDiff>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub written: Option<String>,
    pub notes: Vec<String>,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct RollbackParams {
    /// Configured database name (default: the first one).
    #[serde(default)]
    pub database: Option<String>,
    /// Return the schema to this stored snapshot (id or label): the DDL is computed.
    #[serde(default)]
    pub to_snapshot: Option<String>,
    /// Or run this down script.
    #[serde(default)]
    pub down: Option<String>,
    /// Or undo this applied version with its `.down.sql` from `folder` (removes its ledger row).
    #[serde(default)]
    pub version: Option<i64>,
    #[serde(default)]
    pub folder: Option<String>,
    /// The plan_id the first (showing) call returned; without it nothing runs.
    #[serde(default)]
    pub plan_id: Option<String>,
    /// Run without asking the user through the client (only for clients that cannot ask; show the
    /// DDL to the user and ask first).
    #[serde(default)]
    pub confirm: bool,
    /// true to accept that dropped tables and columns lose their data for good.
    #[serde(default)]
    pub accept_data_loss: bool,
}

#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct RollbackOutput {
    pub database: String,
    pub engine: Engine,
    pub source: String,
    /// The rollback DDL, in order.
    pub ddl: Vec<String>,
    /// Tables and columns it drops: their data does not come back.
    pub drops_data: Vec<String>,
    /// Differences it cannot undo automatically.
    pub manual: Vec<String>,
    /// The trial (rolled back / scratch) run succeeded.
    pub dry_run_success: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failed: Option<FailedStatement>,
    /// After the trial, the schema equals the snapshot (to_snapshot only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reaches_snapshot: Option<bool>,
    pub schema_diff: SchemaDiff,
    pub plan_id: String,
    /// The rollback ran for real.
    pub executed: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub snapshot_before: Option<SnapshotRecord>,
    pub notes: Vec<String>,
    pub next: String,
}

fn counts(schema: &Schema) -> BTreeMap<String, usize> {
    let mut out = BTreeMap::new();
    for o in &schema.objects {
        *out.entry(o.kind.clone()).or_insert(0) += 1;
    }
    out
}

/// The down script to use: the given or filed one, else the generated one.
fn down_script(resolved: &Resolved, analysis: &plan::Analysis) -> Option<String> {
    resolved.down.clone().or_else(|| analysis.down.clone())
}

#[tool_router(router = migrate_router, vis = "pub(crate)")]
impl Server {
    #[tool(
        name = "create-migration-plan",
        description = "Plan a schema change before running it. Input: SQL, a migration file, or a migrations folder \
            in sqlx-cli's format (the next pending version; the _sqlx_migrations ledger is read, dirty versions \
            reported). Output: ordered steps with the lock each takes (PostgreSQL lock level, MySQL algorithm), \
            whether it rewrites or scans the table, an estimated duration from the table's real size and a safer \
            way (CREATE INDEX CONCURRENTLY, NOT VALID then VALIDATE, expand/contract, lock_timeout); lint findings \
            (squawk's rules on PostgreSQL, ours on MySQL/MariaDB and SQLite); a generated down script and what cannot \
            be reversed; and a plan_id for dry-run. With write: true and a folder it writes the migration files. Changes nothing in \
            the database.",
        annotations(
            title = "Plan a migration",
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    async fn create_migration_plan(
        &self,
        Parameters(p): Parameters<PlanParams>,
    ) -> Result<Json<PlanOutput>, ToolError> {
        let db = self.database(p.database.as_deref())?;
        sql_database(db, "create-migration-plan")?;
        self.check_source(&p.source)?;
        let engine = db.config.engine;
        // With write, the folder is where the SQL goes, not what to plan.
        let write_into = match (p.write, &p.source.sql, &p.source.folder) {
            (false, _, _) => None,
            (true, Some(_), Some(dir)) => Some(dir.clone()),
            (true, _, _) => {
                return Err(ToolError::invalid(
                    "write",
                    "write needs the change as sql and the folder to write it into",
                ));
            }
        };
        let source = ChangeSource {
            sql: p.source.sql.clone(),
            file: p.source.file.clone(),
            folder: if write_into.is_some() { None } else { p.source.folder.clone() },
            down: p.source.down.clone(),
        };
        let resolved = resolve(db, self.files(), &source).await?;
        plan::check_statements(engine, &crate::sql::split::split(&resolved.up, engine))?;
        let schema = crate::migrate::db::schema(db).await?;
        let fingerprint = schema.fingerprint();
        let sizes = table_sizes(db, &resolved.up).await?;
        let analysis = plan::analyze(engine, &resolved.up, &schema, &sizes);
        let down = down_script(&resolved, &analysis);
        let no_transaction = no_transaction(&resolved.up, engine);
        let mut notes: Vec<String> = outside_transaction_note(&resolved.up, engine).into_iter().collect();
        if !db.capabilities().transactional_ddl {
            notes.push(format!(
                "{engine} commits each DDL statement: a failure half-way leaves the earlier statements applied \
                 (apply-migration then runs their inverses); keep one DDL statement per migration where you can"
            ));
        }
        if resolved.version.is_none() {
            notes.push("SQL given directly is not recorded in _sqlx_migrations; pass write: true with a folder to make it a versioned migration".into());
        }
        let mut written = Vec::new();
        if let Some(dir) = &write_into {
            let existing = folder::read_for_writing(self.files(), Path::new(dir))?;
            let version = folder::next_version(&existing);
            let name = p.name.clone().unwrap_or_else(|| "migration".into());
            written = folder::write(
                self.files(),
                Path::new(dir),
                version,
                &name,
                &resolved.up,
                down.as_deref(),
                p.overwrite,
            )?
            .into_iter()
            .map(|p| p.display().to_string())
            .collect();
            if down.is_none() {
                notes.push("no down script: written as a plain (irreversible) migration".into());
            }
        }
        let plan_id = plan_id(db, "migration", &resolved.up, down.as_deref(), &fingerprint);
        Ok(Json(PlanOutput {
            database: db.config.name.clone(),
            engine,
            source: resolved.origin.clone(),
            plan_id,
            schema_fingerprint: fingerprint,
            no_transaction,
            steps: analysis.steps,
            findings: analysis.findings,
            down_origin: if resolved.down.is_some() { resolved.down_origin.into() } else { "generated".into() },
            down,
            irreversible: analysis.irreversible,
            estimate_basis: plan::ESTIMATE_BASIS.into(),
            ledger: resolved.ledger,
            written,
            notes,
            next: "run dry-run with the same change; it returns the plan_id apply-migration needs".into(),
        }))
    }

    #[tool(
        name = "dry-run",
        description = "Try a migration without keeping anything. PostgreSQL and SQLite: up (then down) inside a \
            transaction that is always rolled back, under lock_timeout and statement_timeout. MySQL/MariaDB commit \
            DDL immediately, so there it runs in a scratch database cloned from the target's schema and dropped \
            afterwards, never in the real schema. Reports success or the failing statement (index, line, engine \
            error), the schema diff the migration would make, and the reversibility check (up, down, compare the \
            schema fingerprint). A successful dry-run verifies the plan_id apply-migration requires.",
        annotations(
            title = "Dry-run a migration",
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    async fn dry_run(&self, Parameters(p): Parameters<DryRunParams>) -> Result<Json<DryRunOutput>, ToolError> {
        let db = self.database(p.database.as_deref())?;
        sql_database(db, "dry-run")?;
        // Even rolled back, the trial runs DDL: a read-only database stays read-only.
        writable(db, "dry-run")?;
        self.check_source(&p.source)?;
        let engine = db.config.engine;
        let resolved = resolve(db, self.files(), &p.source).await?;
        plan::check_statements(engine, &crate::sql::split::split(&resolved.up, engine))?;
        let schema = crate::migrate::db::schema(db).await?;
        let fingerprint = schema.fingerprint();
        let analysis = plan::analyze(engine, &resolved.up, &schema, &BTreeMap::new());
        let down = down_script(&resolved, &analysis);
        if let Some(d) = &down {
            plan::check_statements(engine, &crate::sql::split::split(d, engine))?;
        }
        let plan_id = plan_id(db, "migration", &resolved.up, down.as_deref(), &fingerprint);
        let up_statements = statements_of(&resolved.up, engine);
        let down_statements = down.as_deref().map(|d| statements_of(d, engine));
        let trial = crate::migrate::db::trial(
            db,
            &up_statements,
            down_statements.as_deref(),
            db.config.timeout_ms(p.timeout_ms),
        )
        .await?;
        let success = trial.up_failed.is_none();
        let schema_diff = trial.after_up.as_ref().map(|a| snapshot::diff(&trial.before, a)).unwrap_or_default();
        let reversibility_diff = trial.after_down.as_ref().map(|a| snapshot::diff(&trial.before, a));
        let reversible = match (&down_statements, &trial.down_failed, &reversibility_diff) {
            (None, _, _) => None,
            (Some(_), Some(_), _) => Some(false),
            (Some(_), None, Some(d)) => Some(d.is_empty()),
            (Some(_), None, None) => None,
        };
        let mut notes = trial.notes;
        notes.extend(outside_transaction_note(&resolved.up, engine));
        if down.is_none() {
            notes.push(format!(
                "no down script (none given and none could be generated: {}); the reversibility check was skipped",
                analysis.irreversible.join("; ")
            ));
        }
        if success {
            remember(&plan_id, Verified { reversible });
        }
        let next = match (success, reversible) {
            (false, _) => "fix the failing statement and plan again".to_string(),
            (true, Some(false)) => "the down script does not return the schema to where it was: fix it (see \
                reversibility_diff) and dry-run again, or apply knowing the change cannot be undone by it"
                .to_string(),
            (true, _) => {
                "show the plan and this result to the user; then apply-migration with this plan_id and confirm: true"
                    .to_string()
            }
        };
        Ok(Json(DryRunOutput {
            database: db.config.name.clone(),
            engine,
            source: resolved.origin.clone(),
            success,
            verified: success,
            failed: trial.up_failed.as_ref().map(|e| failed_statement("up", &resolved.up, engine, e)),
            down_failed: trial
                .down_failed
                .as_ref()
                .map(|e| failed_statement("down", down.as_deref().unwrap_or_default(), engine, e)),
            plan_id,
            schema_diff,
            reversible,
            down_origin: if resolved.down.is_some() { resolved.down_origin.into() } else { "generated".into() },
            reversibility_diff: reversibility_diff.filter(|d| !d.is_empty()),
            notes,
            next,
        }))
    }

    #[tool(
        name = "apply-migration",
        description = "Apply a migration that a dry-run verified: needs a read-write database, the plan_id of a \
            successful dry-run of the same SQL on the same schema state (refused, with the reason, if the SQL or the \
            schema changed since) and confirm: true. Takes a snapshot first. PostgreSQL and SQLite: one transaction \
            (except `-- no-transaction` migrations), so a failure leaves nothing behind. MySQL/MariaDB: statement by \
            statement; on failure the inverses of what ran are run and the result says exactly what remains. \
            Records the _sqlx_migrations ledger (folder or versioned file), then verifies: invalid indexes, \
            unvalidated constraints, the ledger checksum.",
        annotations(
            title = "Apply a verified migration",
            read_only_hint = false,
            destructive_hint = true,
            idempotent_hint = false,
            open_world_hint = false
        )
    )]
    async fn apply_migration(
        &self,
        Parameters(p): Parameters<ApplyParams>,
        context: RequestContext<RoleServer>,
        responses: InputResponses,
    ) -> Result<Json<ApplyOutput>, ToolError> {
        let db = self.database(p.database.as_deref())?;
        sql_database(db, "apply-migration")?;
        writable(db, "apply-migration")?;
        self.check_source(&p.source)?;
        let resolved = resolve(db, self.files(), &p.source).await?;
        let change = verified_change(db, resolved, &p.plan_id).await?;
        crate::confirm::confirmed(&context, responses, p.confirm, &change.action(db)).await?;
        let snapshot_before =
            crate::migrate::db::store_snapshot(db, &format!("before plan {}", &change.id[..12]), &change.schema)
                .await?;
        let applied = apply_verified(db, &change).await?;
        forget(&change.id);
        let after = crate::migrate::db::schema(db).await?;
        let (verification, notes) = verify_applied(db, &change, &applied, &after, &snapshot_before).await?;
        Ok(Json(applied_output(db, change, applied, after, snapshot_before, verification, notes)))
    }

    #[tool(
        name = "snapshot",
        description = "Describe the schema completely and deterministically from the catalogs (tables, columns, \
            constraints, indexes, views, functions, triggers, policies, grants, sequence positions) with a \
            fingerprint, and store it in the database (PostgreSQL: schema data_engineer; MySQL/SQLite: table \
            data_engineer_snapshots) and optionally a file. list shows stored snapshots; diff: [a, b] compares two \
            (ids or labels, \"current\" for the schema now).",
        annotations(
            title = "Snapshot the schema",
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = false,
            open_world_hint = false
        )
    )]
    async fn snapshot(&self, Parameters(p): Parameters<SnapshotParams>) -> Result<Json<SnapshotOutput>, ToolError> {
        let db = self.database(p.database.as_deref())?;
        sql_database(db, "snapshot")?;
        if let Some(file) = &p.file {
            self.file("file", file)?;
            // Refused before the snapshot is taken and stored, not after.
            self.files().creatable("file", Path::new(file), p.overwrite)?;
        }
        let mut out = SnapshotOutput {
            database: db.config.name.clone(),
            engine: db.config.engine,
            action: "taken".into(),
            snapshot: None,
            fingerprint: None,
            counts: BTreeMap::new(),
            schema: None,
            snapshots: vec![],
            diff: None,
            written: None,
            notes: vec![],
        };
        if p.list {
            out.action = "list".into();
            out.snapshots = crate::migrate::db::snapshots(db).await?;
            if out.snapshots.is_empty() {
                out.notes.push("no snapshot stored yet".into());
            }
            return Ok(Json(out));
        }
        if let Some(pair) = &p.diff {
            let [a, b] = pair.as_slice() else {
                return Err(ToolError::invalid(
                    "diff",
                    "give two snapshots: [older, newer] (ids, labels or \"current\")",
                ));
            };
            let load = async |which: &str| -> Result<Schema, ToolError> {
                if which == "current" {
                    return crate::migrate::db::schema(db).await;
                }
                crate::migrate::db::snapshot(db, which).await?.map(|(_, s)| s).ok_or_else(|| {
                    ToolError::invalid("diff", format!("no snapshot {which:?}; snapshot with list: true shows them"))
                })
            };
            let (a, b) = (load(a).await?, load(b).await?);
            out.action = "diff".into();
            out.diff = Some(snapshot::diff(&a, &b));
            return Ok(Json(out));
        }
        let schema = crate::migrate::db::schema(db).await?;
        let label = p.label.clone().unwrap_or_else(|| "manual".into());
        out.fingerprint = Some(schema.fingerprint());
        out.counts = counts(&schema);
        if db.config.mode == Mode::ReadWrite {
            out.snapshot = Some(crate::migrate::db::store_snapshot(db, &label, &schema).await?);
        } else {
            out.notes.push("read-only database: the snapshot was not stored in it (pass file to keep it)".into());
        }
        if let Some(file) = &p.file {
            let text = serde_json::to_string_pretty(&schema).unwrap_or_default();
            self.files()
                .create("file", Path::new(file), p.overwrite)?
                .write_all(text.as_bytes())
                .map_err(|e| ToolError::invalid("file", format!("cannot write {file}: {e}")))?;
            out.written = Some(file.clone());
        }
        if p.include_objects {
            out.schema = Some(schema);
        }
        Ok(Json(out))
    }

    #[tool(
        name = "rollback",
        description = "Undo a change: run a down script, undo an applied folder version with its .down.sql (and \
            remove its ledger row), or compute the DDL that returns the schema to a stored snapshot. The first call \
            shows the DDL, what it drops and a dry-run of it, and returns a plan_id; a second call with that plan_id \
            and confirm: true runs it (a snapshot is taken first). Data in dropped tables and columns does not come \
            back: a rollback that drops any is refused unless accept_data_loss is true.",
        annotations(
            title = "Roll back a schema change",
            read_only_hint = false,
            destructive_hint = true,
            idempotent_hint = false,
            open_world_hint = false
        )
    )]
    async fn rollback(
        &self,
        Parameters(p): Parameters<RollbackParams>,
        context: RequestContext<RoleServer>,
        responses: InputResponses,
    ) -> Result<Json<RollbackOutput>, ToolError> {
        let db = self.database(p.database.as_deref())?;
        sql_database(db, "rollback")?;
        // Even the showing call dry-runs the DDL.
        writable(db, "rollback")?;
        let current = crate::migrate::db::schema(db).await?;
        let undo = self.undo_of(db, &p, &current).await?;
        let id = plan_id(db, "rollback", &undo.script, None, &current.fingerprint());
        let Some(given_id) = p.plan_id.as_deref().map(str::trim) else {
            return show_rollback(db, undo, id).await.map(Json);
        };
        refuse_unverified_rollback(&id, given_id, &undo, p.accept_data_loss)?;
        crate::confirm::confirmed(&context, responses, p.confirm, &undo.action(db)).await?;
        run_rollback(db, undo, id, &current).await.map(Json)
    }

    /// What a rollback call undoes: the DDL back to a snapshot, a down script, or a folder
    /// version's `.down.sql`, checked and judged for data loss.
    async fn undo_of(&self, db: &Database, p: &RollbackParams, current: &Schema) -> Result<Undo, ToolError> {
        let engine = db.config.engine;
        let given = [p.to_snapshot.is_some(), p.down.is_some(), p.version.is_some()].iter().filter(|b| **b).count();
        if given != 1 {
            return Err(ToolError::invalid(
                "to_snapshot",
                "give exactly one of to_snapshot (a stored snapshot), down (a down script) or version (with folder)",
            ));
        }
        let mut undo = Undo::default();
        if let Some(which) = &p.to_snapshot {
            let (record, schema) = crate::migrate::db::snapshot(db, which).await?.ok_or_else(|| {
                ToolError::invalid("to_snapshot", format!("no snapshot {which:?}; snapshot with list: true shows them"))
            })?;
            let reversal = crate::migrate::db::reversal(db, current, &schema);
            undo.drops_data = reversal.drops_data;
            undo.manual = reversal.manual;
            undo.target = Some(schema);
            undo.ddl = reversal.statements;
            undo.source = format!("snapshot {} ({}, {})", record.id, record.label, record.taken_at);
        } else if let Some(down) = &p.down {
            undo.no_transaction = no_transaction(down, engine);
            undo.ddl = statements_of(down, engine);
            undo.source = "down script".into();
        } else {
            let version = p.version.unwrap_or_default();
            let dir = p.folder.clone().ok_or_else(|| {
                ToolError::invalid("folder", "give the migrations folder holding the version's .down.sql")
            })?;
            self.file("folder", &dir)?;
            let m = folder::read(self.files(), "folder", Path::new(&dir))?
                .into_iter()
                .find(|m| m.version == version)
                .ok_or_else(|| ToolError::invalid("version", format!("{dir} has no version {version}")))?;
            if !crate::migrate::db::migration_ledger(db).await?.iter().any(|r| r.version == version) {
                return Err(ToolError::invalid("version", format!("version {version} is not recorded as applied")));
            }
            let down = m.down.clone().ok_or_else(|| {
                ToolError::refused(
                    format!("version {version} has no .down.sql"),
                    "write its down script, or roll back to the snapshot taken before it (to_snapshot)",
                )
            })?;
            undo.ledger_version = Some(version);
            undo.no_transaction = no_transaction(&down, engine);
            undo.ddl = statements_of(&down, engine);
            undo.source = format!("folder {dir}, version {version} down");
        }
        if undo.ddl.is_empty() && undo.manual.is_empty() {
            return Err(ToolError::invalid("to_snapshot", "nothing to roll back: the schema already matches"));
        }
        undo.script = undo.ddl.iter().map(|s| format!("{s};")).collect::<Vec<_>>().join("\n");
        plan::check_statements(engine, &crate::sql::split::split(&undo.script, engine))?;
        // Down scripts that drop tables or columns lose data even when given by hand.
        if p.to_snapshot.is_none() {
            let analysis = plan::analyze(engine, &undo.script, current, &BTreeMap::new());
            for s in &analysis.steps {
                if s.action.contains("drop table") || s.action.contains("drop column") {
                    undo.drops_data.push(format!("step {}: {}", s.index, s.sql));
                }
            }
        }
        Ok(undo)
    }
}

/// A change a dry-run verified, re-planned against the schema as it is now.
struct VerifiedChange {
    resolved: Resolved,
    schema: Schema,
    fingerprint: String,
    analysis: plan::Analysis,
    id: String,
    verified: Verified,
    no_transaction: bool,
}

impl VerifiedChange {
    /// What the user is asked to confirm.
    fn action(&self, db: &Database) -> String {
        format!(
            "apply {} ({} statements{}) to database {}",
            self.resolved.origin,
            self.analysis.steps.len(),
            if self.analysis.irreversible.is_empty() { "" } else { ", some irreversible" },
            db.config.name
        )
    }

    fn transactional(&self, db: &Database) -> bool {
        db.capabilities().transactional_ddl && !self.no_transaction
    }
}

/// Re-plan the change on the schema now and accept it only under the plan id a dry-run of this
/// same change, on this same schema, verified in this session.
async fn verified_change(db: &Database, resolved: Resolved, given_id: &str) -> Result<VerifiedChange, ToolError> {
    let engine = db.config.engine;
    plan::check_statements(engine, &crate::sql::split::split(&resolved.up, engine))?;
    let schema = crate::migrate::db::schema(db).await?;
    let fingerprint = schema.fingerprint();
    let analysis = plan::analyze(engine, &resolved.up, &schema, &BTreeMap::new());
    let down = down_script(&resolved, &analysis);
    let id = plan_id(db, "migration", &resolved.up, down.as_deref(), &fingerprint);
    if id != given_id.trim() {
        return Err(ToolError::refused(
            "the plan_id does not match this change on this database now: the SQL, the down script or the \
             schema changed since the dry-run (or the plan is for another database)",
            format!(
                "run dry-run again on the change as it is now (schema fingerprint {fingerprint}) and use the plan_id it returns"
            ),
        ));
    }
    let Some(verified) = verified(&id) else {
        return Err(ToolError::refused(
            "this plan_id was not verified by a successful dry-run in this server session",
            "run dry-run with the same change first; apply-migration takes only what a dry-run proved",
        ));
    };
    let no_transaction = no_transaction(&resolved.up, engine);
    Ok(VerifiedChange { resolved, schema, fingerprint, analysis, id, verified, no_transaction })
}

/// Run the change (with its inverses for engines without transactional DDL) and record it in
/// the ledger when it came from a versioned file or folder.
async fn apply_verified(db: &Database, change: &VerifiedChange) -> Result<Applied, ToolError> {
    let up_statements = statements_of(&change.resolved.up, db.config.engine);
    let inverses: Vec<Option<String>> = change.analysis.steps.iter().map(|s| s.down.clone()).collect();
    let ledger = match &change.resolved.version {
        Some(m) => LedgerChange::Record { version: m.version, description: &m.description, checksum: &m.checksum },
        None => LedgerChange::None,
    };
    crate::migrate::db::apply_change(
        db,
        &Change { statements: &up_statements, inverses: &inverses, transactional: change.transactional(db), ledger },
    )
    .await
}

/// What the schema shows after the change: INVALID indexes, NOT VALID constraints, the ledger's
/// checksum; and the notes a user needs about them.
async fn verify_applied(
    db: &Database,
    change: &VerifiedChange,
    applied: &Applied,
    after: &Schema,
    snapshot_before: &SnapshotRecord,
) -> Result<(Verification, Vec<String>), ToolError> {
    let mut notes = Vec::new();
    if change.verified.reversible == Some(false) {
        notes.push("the dry-run found that the down script does not fully reverse this change".into());
    }
    let mut verification = Verification::default();
    for o in &after.objects {
        if o.kind == "index" && o.definition.ends_with("(INVALID)") {
            verification.invalid_indexes.push(o.name.clone());
        }
        if matches!(o.kind.as_str(), "constraint" | "foreign key") && o.definition.contains("NOT VALID") {
            verification.unvalidated_constraints.push(o.name.clone());
        }
    }
    if !verification.unvalidated_constraints.is_empty() {
        notes.push("constraints added NOT VALID still need ALTER TABLE ... VALIDATE CONSTRAINT (a later migration; it does not block writes)".into());
    }
    if !verification.invalid_indexes.is_empty() {
        notes.push(
            "an INVALID index is left by an interrupted CONCURRENTLY build: DROP INDEX CONCURRENTLY it and build again"
                .into(),
        );
    }
    if let (true, Some(m)) = (applied.failed.is_none(), &change.resolved.version) {
        let row = crate::migrate::db::migration_ledger(db).await?.into_iter().find(|r| r.version == m.version);
        verification.ledger_checksum_ok =
            Some(row.is_some_and(|r| r.success && r.checksum == hex::encode(&m.checksum)));
    }
    if !applied.dropped_invalid.is_empty() {
        notes.push(format!(
            "the failed CONCURRENTLY build left {} INVALID; it was dropped again, so nothing of it remains",
            applied.dropped_invalid.join(", ")
        ));
    }
    if let Some(reason) = &applied.compensation_failed {
        notes.push(format!(
            "the database is between states: {reason}. Compare with the snapshot taken before (snapshot with diff: \
             [{}, \"current\"]) and finish by hand",
            snapshot_before.id
        ));
    }
    Ok((verification, notes))
}

fn applied_output(
    db: &Database,
    change: VerifiedChange,
    applied: Applied,
    after: Schema,
    snapshot_before: SnapshotRecord,
    verification: Verification,
    notes: Vec<String>,
) -> ApplyOutput {
    let engine = db.config.engine;
    let success = applied.failed.is_none();
    let up_statements = statements_of(&change.resolved.up, engine);
    let ran_before_failure = match &applied.failed {
        Some(f) if !change.transactional(db) => up_statements[..f.index - 1].to_vec(),
        _ => vec![],
    };
    ApplyOutput {
        database: db.config.name.clone(),
        engine,
        source: change.resolved.origin.clone(),
        applied: success,
        snapshot_before,
        failed: applied.failed.as_ref().map(|e| failed_statement("up", &change.resolved.up, engine, e)),
        compensated: applied.compensated,
        statements_in_effect: applied.kept,
        ran_before_failure,
        unchanged: (!success).then(|| after.fingerprint() == change.fingerprint),
        schema_diff: snapshot::diff(&change.schema, &after),
        schema_fingerprint: after.fingerprint(),
        ledger_version: change.resolved.version.as_ref().filter(|_| success).map(|m| m.version),
        verification,
        elapsed_ms: applied.elapsed_ms,
        notes,
    }
}

/// What a rollback runs, and what is known about it before it runs.
#[derive(Default)]
struct Undo {
    ddl: Vec<String>,
    /// The DDL as one script, for the checks and the plan id.
    script: String,
    source: String,
    /// The snapshot's schema, when rolling back to one.
    target: Option<Schema>,
    drops_data: Vec<String>,
    manual: Vec<String>,
    ledger_version: Option<i64>,
    no_transaction: bool,
}

impl Undo {
    fn data_loss_note(&self) -> Vec<String> {
        if self.drops_data.is_empty() {
            return vec![];
        }
        vec!["dropped tables and columns lose their data for good: a rollback restores structure, never rows; restore rows from a backup".into()]
    }

    /// What the user is asked to confirm.
    fn action(&self, db: &Database) -> String {
        format!(
            "roll back database {} to {} ({} statements{})",
            db.config.name,
            self.source,
            self.ddl.len(),
            if self.drops_data.is_empty() {
                String::new()
            } else {
                format!("; drops {}, whose data does not come back", self.drops_data.join(", "))
            }
        )
    }
}

/// The showing call: dry-run the DDL, say whether it reaches the snapshot, and remember the
/// plan id when it can run as is.
async fn show_rollback(db: &Database, undo: Undo, id: String) -> Result<RollbackOutput, ToolError> {
    let engine = db.config.engine;
    let mut notes = undo.data_loss_note();
    let trial = crate::migrate::db::trial(db, &undo.ddl, None, db.config.statement_timeout_ms).await?;
    let success = trial.up_failed.is_none();
    let reaches = match (&undo.target, &trial.after_up) {
        (Some(t), Some(after)) => Some(after.fingerprint() == t.fingerprint()),
        _ => None,
    };
    if let (Some(false), Some(t), Some(after)) = (reaches, &undo.target, &trial.after_up) {
        let left = snapshot::diff(after, t);
        let names: Vec<String> = left
            .added
            .iter()
            .chain(&left.removed)
            .chain(&left.changed)
            .map(|c| format!("{} {}", c.kind, c.name))
            .collect();
        notes.push(format!(
            "after this DDL the schema would still differ from the snapshot in: {} (the migration's own down \
             script may be the better way back)",
            names.join(", ")
        ));
    }
    if success && undo.manual.is_empty() {
        remember(&id, Verified { reversible: None });
    }
    notes.extend(trial.notes);
    let next = if !success || !undo.manual.is_empty() {
        "this rollback cannot run as is: see failed / manual".to_string()
    } else {
        format!(
            "show the DDL to the user; then call rollback again with the same arguments, plan_id and confirm: true{}",
            if undo.drops_data.is_empty() { "" } else { " and accept_data_loss: true" }
        )
    };
    Ok(RollbackOutput {
        database: db.config.name.clone(),
        engine,
        source: undo.source,
        failed: trial.up_failed.as_ref().map(|e| failed_statement("rollback", &undo.script, engine, e)),
        schema_diff: trial.after_up.as_ref().map(|a| snapshot::diff(&trial.before, a)).unwrap_or_default(),
        ddl: undo.ddl,
        drops_data: undo.drops_data,
        manual: undo.manual,
        dry_run_success: success,
        reaches_snapshot: reaches,
        plan_id: id,
        executed: false,
        snapshot_before: None,
        notes,
        next,
    })
}

/// Only a rollback this session dry-ran on this schema runs, and data loss only when accepted.
fn refuse_unverified_rollback(id: &str, given_id: &str, undo: &Undo, accept_data_loss: bool) -> Result<(), ToolError> {
    if given_id != id || verified(id).is_none() {
        return Err(ToolError::refused(
            "the plan_id does not match a rollback verified in this session on the schema as it is now",
            "call rollback without plan_id to see and dry-run the rollback again, then use the plan_id it returns",
        ));
    }
    if !undo.drops_data.is_empty() && !accept_data_loss {
        return Err(ToolError::refused(
            format!("this rollback drops {} and their data does not come back", undo.drops_data.join(", ")),
            "back up the data first if it matters, then call again with accept_data_loss: true",
        ));
    }
    Ok(())
}

/// The confirmed call: snapshot first, then run the DDL (and forget the ledger row of an undone
/// version) as one change.
async fn run_rollback(db: &Database, undo: Undo, id: String, current: &Schema) -> Result<RollbackOutput, ToolError> {
    let engine = db.config.engine;
    let mut notes = undo.data_loss_note();
    let snapshot_before =
        crate::migrate::db::store_snapshot(db, &format!("before rollback {}", &id[..12]), current).await?;
    let inverses: Vec<Option<String>> = vec![None; undo.ddl.len()];
    let applied = crate::migrate::db::apply_change(
        db,
        &Change {
            statements: &undo.ddl,
            inverses: &inverses,
            transactional: db.capabilities().transactional_ddl && !undo.no_transaction,
            ledger: match undo.ledger_version {
                Some(version) => LedgerChange::Forget { version },
                None => LedgerChange::None,
            },
        },
    )
    .await?;
    forget(&id);
    let after = crate::migrate::db::schema(db).await?;
    if let Some(reason) = &applied.compensation_failed {
        notes.push(reason.clone());
    }
    let success = applied.failed.is_none();
    Ok(RollbackOutput {
        database: db.config.name.clone(),
        engine,
        failed: applied.failed.as_ref().map(|e| failed_statement("rollback", &undo.script, engine, e)),
        schema_diff: snapshot::diff(current, &after),
        reaches_snapshot: undo.target.as_ref().map(|t| t.fingerprint() == after.fingerprint()),
        source: undo.source,
        ddl: undo.ddl,
        drops_data: undo.drops_data,
        manual: undo.manual,
        dry_run_success: true,
        plan_id: id,
        executed: success,
        snapshot_before: Some(snapshot_before),
        notes,
        next: if success { "done".into() } else { "the rollback failed; see failed".into() },
    })
}
