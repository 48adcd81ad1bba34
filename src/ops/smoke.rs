//! The post-deploy smoke test: a pass/fail checklist read from the catalog, each check with
//! its fix. Every read runs in its own read-only transaction, so one refused catalog view (a
//! missing privilege) costs only its own check.

use mongodb::bson::{Bson, Document, doc};
use serde::Serialize;
use serde_json::Value;

use super::{Dialect, number};
use crate::engine::session::Access;
use crate::{
    engine::{Database, mongo::Mongo},
    error::ToolError,
};

/// A sequence or AUTO_INCREMENT past this share of its range fails.
const SEQUENCE_LIMIT: f64 = 0.8;
/// Objects listed per check; the rest are counted.
const LISTED: usize = 10;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum SmokeStatus {
    Pass,
    Warn,
    Fail,
    /// Not applicable here, or not permitted; `detail` says why.
    Skip,
}

#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct SmokeCheck {
    pub name: String,
    pub status: SmokeStatus,
    pub detail: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
    /// The sessions or operations behind a failed check (database content: query text as the
    /// server reports it).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub activity: Vec<Value>,
}

impl SmokeCheck {
    fn pass(name: &str, detail: impl Into<String>) -> Self {
        SmokeCheck { name: name.into(), status: SmokeStatus::Pass, detail: detail.into(), fix: None, activity: vec![] }
    }
    fn skip(name: &str, detail: impl Into<String>) -> Self {
        SmokeCheck { name: name.into(), status: SmokeStatus::Skip, detail: detail.into(), fix: None, activity: vec![] }
    }
    fn fail(name: &str, detail: impl Into<String>, fix: impl Into<String>) -> Self {
        SmokeCheck {
            name: name.into(),
            status: SmokeStatus::Fail,
            detail: detail.into(),
            fix: Some(fix.into()),
            activity: vec![],
        }
    }
    fn warn(name: &str, detail: impl Into<String>, fix: impl Into<String>) -> Self {
        SmokeCheck {
            name: name.into(),
            status: SmokeStatus::Warn,
            detail: detail.into(),
            fix: Some(fix.into()),
            activity: vec![],
        }
    }
    /// A check that could not run (a refused catalog view, say) is a warning, not a pass.
    fn unread(name: &str, e: &ToolError) -> Self {
        Self::warn(
            name,
            format!("could not check: {e}"),
            "run the smoke test as a role that can read the catalog views it needs",
        )
    }
}

/// What the smoke test expects.
#[derive(Debug, Clone)]
pub struct SmokeOptions {
    /// The migration version that should be the ledger's latest successful one.
    pub version: Option<i64>,
    pub long_query_seconds: f64,
    pub idle_in_transaction_seconds: f64,
    /// Tables that must have row level security enabled.
    pub rls_tables: Vec<String>,
    /// Collections that must have a validator (MongoDB).
    pub validated_collections: Vec<String>,
    pub max_replication_lag_seconds: f64,
    /// A stored snapshot (id or label) whose row level security must still hold; default the newest.
    pub snapshot: Option<String>,
}

/// A table that must have row level security, and who says so.
struct RlsRequirement {
    table: String,
    /// FORCE ROW LEVEL SECURITY too (the table owner is filtered as well).
    forced: bool,
    /// The snapshot that recorded it; None for rls_tables.
    snapshot: Option<i64>,
}

/// What one table lacks of the row level security it must have.
struct RlsLack {
    enable: bool,
    force: bool,
    why: Vec<String>,
}

impl RlsLack {
    fn fix(&self, table: &str) -> String {
        match (self.enable, self.force) {
            (true, true) => format!("ALTER TABLE {table} ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;"),
            (true, false) => format!("ALTER TABLE {table} ENABLE ROW LEVEL SECURITY;"),
            _ => format!("ALTER TABLE {table} FORCE ROW LEVEL SECURITY;"),
        }
    }
}

/// At most [`LISTED`] items, and how many more.
fn listed(items: &[String]) -> String {
    let mut s = items.iter().take(LISTED).cloned().collect::<Vec<_>>().join(", ");
    if items.len() > LISTED {
        s.push_str(&format!(" and {} more", items.len() - LISTED));
    }
    s
}

fn text(v: &Value, key: &str) -> String {
    match &v[key] {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// Run the smoke checklist. A database that cannot be reached is a failed check, not an error.
pub async fn smoke_test(db: &Database, opts: &SmokeOptions) -> Result<Vec<SmokeCheck>, ToolError> {
    if let Ok(m) = db.mongo().await {
        return Ok(mongo_smoke(m, opts, db.config.statement_timeout_ms).await);
    }
    let d = crate::ops::dialect(db).ok_or_else(|| db.needs_sql("smoke-test"))?;
    let mut checks = Vec::new();
    match read(db, "SELECT 1 AS one".into(), vec![]).await {
        Ok(_) => checks.push(SmokeCheck::pass("connectivity", "connected and ran SELECT 1")),
        Err(e) => {
            checks.push(SmokeCheck::fail("connectivity", e.to_string(), e.hint().unwrap_or_default()));
            return Ok(checks);
        }
    }
    checks.push(ledger(db, d, opts.version).await.unwrap_or_else(|e| SmokeCheck::unread("migrations", &e)));
    match d {
        Dialect::Postgres => postgres_checks(db, opts, &mut checks).await,
        Dialect::Mysql => mysql_checks(db, opts, &mut checks).await,
        Dialect::Sqlite => sqlite_checks(db, opts, &mut checks).await,
    }
    Ok(checks)
}

/// Rows of one catalog query in its own read-only transaction.
async fn read(db: &Database, sql: String, binds: Vec<Value>) -> Result<Vec<Value>, ToolError> {
    let mut session = db.session(Access::Catalog, db.config.statement_timeout_ms).await?;
    let rows = session.rows(sql, &binds).await;
    session.close();
    rows
}

/// sqlx's `_sqlx_migrations`: the latest successful version, and no failed (dirty) one.
async fn ledger(db: &Database, d: Dialect, version: Option<i64>) -> Result<SmokeCheck, ToolError> {
    let present_sql = match d {
        Dialect::Postgres => include_str!("../migrate/postgres/ledger_present.sql"),
        Dialect::Mysql => include_str!("../migrate/mysql/ledger_present.sql"),
        Dialect::Sqlite => include_str!("../migrate/sqlite/ledger_present.sql"),
    };
    let present = read(db, present_sql.into(), vec![]).await?;
    if !present.first().is_some_and(|r| number(&r["present"]).unwrap_or(0.0) > 0.0) {
        return Ok(match version {
            Some(v) => SmokeCheck::fail(
                "migrations",
                format!("no _sqlx_migrations ledger, expected version {v}"),
                "run the migrations (sqlx migrate run, or the migration tools) against this database",
            ),
            None => SmokeCheck::skip("migrations", "no _sqlx_migrations ledger and no version asked for"),
        });
    }
    let dirty =
        read(db, "SELECT version, description FROM _sqlx_migrations WHERE NOT success ORDER BY version".into(), vec![])
            .await?;
    if !dirty.is_empty() {
        let names: Vec<String> =
            dirty.iter().map(|r| format!("{} {}", text(r, "version"), text(r, "description"))).collect();
        return Ok(SmokeCheck::fail(
            "migrations",
            format!("dirty migration(s), recorded as failed: {}", listed(&names)),
            "fix the failed migration by hand (its changes may be half applied), delete its ledger row, then rerun it",
        ));
    }
    let latest = read(db, "SELECT MAX(version) AS latest FROM _sqlx_migrations WHERE success".into(), vec![]).await?;
    let latest = latest.first().and_then(|r| number(&r["latest"])).map(|n| n as i64);
    Ok(match (version, latest) {
        (Some(want), Some(have)) if want == have => {
            SmokeCheck::pass("migrations", format!("latest migration is {have}, as expected"))
        }
        (Some(want), Some(have)) if have < want => SmokeCheck::fail(
            "migrations",
            format!("latest migration is {have}, expected {want}: the deploy's migrations did not all run"),
            "run the pending migrations, then the smoke test again",
        ),
        (Some(want), Some(have)) => SmokeCheck::fail(
            "migrations",
            format!("latest migration is {have}, newer than the expected {want}: this database is ahead of the deploy"),
            "check that the right version was deployed (or pass the version the database should be at)",
        ),
        (Some(want), None) => SmokeCheck::fail(
            "migrations",
            format!("the ledger records no successful migration, expected {want}"),
            "run the migrations against this database",
        ),
        (None, Some(have)) => SmokeCheck::pass("migrations", format!("latest migration is {have}; none dirty")),
        (None, None) => SmokeCheck::pass("migrations", "the ledger is empty; none dirty"),
    })
}

async fn postgres_checks(db: &Database, opts: &SmokeOptions, checks: &mut Vec<SmokeCheck>) {
    let invalid = read(db, include_str!("postgres/smoke_invalid_indexes.sql").into(), vec![]).await;
    checks.push(match invalid {
        Ok(rows) if rows.is_empty() => SmokeCheck::pass("invalid-indexes", "every index is valid"),
        Ok(rows) => {
            let names: Vec<String> =
                rows.iter().map(|r| format!("{} on {}", text(r, "index"), text(r, "table"))).collect();
            let fixes: Vec<String> =
                rows.iter().map(|r| format!("REINDEX INDEX CONCURRENTLY {};", text(r, "index"))).collect();
            SmokeCheck::fail(
                "invalid-indexes",
                format!(
                    "{} invalid index(es), never used by queries but still maintained: {}",
                    rows.len(),
                    listed(&names)
                ),
                fixes.join(" "),
            )
        }
        Err(e) => SmokeCheck::unread("invalid-indexes", &e),
    });
    let unvalidated = read(db, include_str!("postgres/smoke_unvalidated_constraints.sql").into(), vec![]).await;
    checks.push(match unvalidated {
        Ok(rows) if rows.is_empty() => SmokeCheck::pass("unvalidated-constraints", "every constraint is validated"),
        Ok(rows) => {
            let names: Vec<String> = rows
                .iter()
                .map(|r| format!("{} {} on {}", text(r, "kind"), text(r, "constraint"), text(r, "table")))
                .collect();
            let fixes: Vec<String> = rows
                .iter()
                .map(|r| format!("ALTER TABLE {} VALIDATE CONSTRAINT {};", text(r, "table"), text(r, "constraint")))
                .collect();
            SmokeCheck::fail(
                "unvalidated-constraints",
                format!("{} constraint(s) added NOT VALID and never validated: {}", rows.len(), listed(&names)),
                fixes.join(" "),
            )
        }
        Err(e) => SmokeCheck::unread("unvalidated-constraints", &e),
    });
    checks.push(postgres_rls(db, opts).await);
    let sequences = read(db, include_str!("postgres/smoke_sequences.sql").into(), vec![SEQUENCE_LIMIT.into()]).await;
    checks.push(match sequences {
        Ok(rows) if rows.is_empty() => {
            SmokeCheck::pass("sequences", format!("every sequence is below {:.0}% of its range", SEQUENCE_LIMIT * 100.0))
        }
        Ok(rows) => {
            let names: Vec<String> = rows
                .iter()
                .map(|r| format!("{} at {:.1}%", text(r, "sequence"), number(&r["used"]).unwrap_or(0.0) * 100.0))
                .collect();
            SmokeCheck::fail(
                "sequences",
                format!("{} sequence(s) past {:.0}% of their range: {}", rows.len(), SEQUENCE_LIMIT * 100.0, listed(&names)),
                "widen the sequence and its column to bigint (ALTER SEQUENCE s AS bigint; ALTER TABLE t ALTER COLUMN id TYPE bigint) before it runs out",
            )
        }
        Err(e) => SmokeCheck::unread("sequences", &e),
    });
    let sessions = read(
        db,
        include_str!("postgres/smoke_sessions.sql").into(),
        vec![opts.long_query_seconds.into(), opts.idle_in_transaction_seconds.into()],
    )
    .await;
    match sessions {
        Ok(rows) => {
            let (active, idle): (Vec<Value>, Vec<Value>) = rows.into_iter().partition(|r| r["state"] == "active");
            checks.push(long_queries(active, opts.long_query_seconds, "SELECT pg_cancel_backend(<id>);"));
            checks.push(idle_transactions(
                idle,
                opts.idle_in_transaction_seconds,
                "SELECT pg_terminate_backend(<id>);",
            ));
        }
        Err(e) => {
            checks.push(SmokeCheck::unread("long-running-queries", &e));
            checks.push(SmokeCheck::unread("idle-in-transaction", &e));
        }
    }
    let sql = include_str!("postgres/smoke_replication.sql");
    let mut replication = read(db, sql.into(), vec![]).await;
    // A standby that is receiving new WAL at this moment reads as behind by the age of the last
    // transaction it replayed, however quiet its primary was before: read again a moment later,
    // and a standby that caught up by then is not behind.
    let lag =
        |r: &Result<Vec<Value>, ToolError>| r.as_ref().ok().and_then(|rows| number(&rows.first()?["lag_seconds"]));
    if lag(&replication).is_some_and(|s| s > opts.max_replication_lag_seconds) {
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        replication = read(db, sql.into(), vec![]).await;
    }
    checks.push(match replication {
        Ok(rows) => match rows.first() {
            Some(r) if r["replica"] == Value::Bool(true) => {
                replica_lag(number(&r["lag_seconds"]), opts.max_replication_lag_seconds)
            }
            _ => SmokeCheck::skip("replication-lag", "a primary (not in recovery): no replication lag to measure"),
        },
        Err(e) => SmokeCheck::unread("replication-lag", &e),
    });
}

async fn postgres_rls(db: &Database, opts: &SmokeOptions) -> SmokeCheck {
    const NAME: &str = "row-level-security";
    let orphaned = match read(db, include_str!("postgres/smoke_policies_without_rls.sql").into(), vec![]).await {
        Ok(rows) => rows,
        Err(e) => return SmokeCheck::unread(NAME, &e),
    };
    // Per table, in order found: what it lacks and who says it must have it.
    let mut lacking: Vec<(String, RlsLack)> = orphaned
        .iter()
        .map(|r| {
            let why = format!("it has {} policy(ies)", text(r, "policies"));
            (text(r, "table"), RlsLack { enable: true, force: false, why: vec![why] })
        })
        .collect();
    let mut problems = Vec::new();
    let mut required: Vec<RlsRequirement> =
        opts.rls_tables.iter().map(|t| RlsRequirement { table: t.clone(), forced: false, snapshot: None }).collect();
    let mut compared = String::new();
    match rls_snapshot(db, opts.snapshot.as_deref()).await {
        Ok(Some((source, tables))) => {
            compared = format!("; compared with {source}: {} table(s) had RLS", tables.len());
            required.extend(tables);
        }
        Ok(None) => {}
        Err(problem) => problems.push(problem),
    }
    let mut dropped = Vec::new();
    for want in &required {
        let rows = read(db, include_str!("postgres/smoke_rls_enabled.sql").into(), vec![want.table.clone().into()]);
        let row = match rows.await {
            Ok(rows) => rows.into_iter().next(),
            // An invalid name: to_regclass raises on bad syntax.
            Err(e) => {
                problems.push(format!("{}: {e}", want.table));
                continue;
            }
        };
        let Some(row) = row else {
            // A table dropped since the snapshot is the schema's business, not a lost policy.
            if want.snapshot.is_none() {
                problems.push(format!("{} (required to have RLS) does not exist", want.table));
            } else {
                dropped.push(want.table.clone());
            }
            continue;
        };
        let enable = row["enabled"] != Value::Bool(true);
        let force = want.forced && row["forced"] != Value::Bool(true);
        if !enable && !force {
            continue;
        }
        let name = text(&row, "table");
        let why = match want.snapshot {
            None => "rls_tables requires it".to_string(),
            Some(id) => format!("snapshot {id} recorded it {}", if want.forced { "forced" } else { "enabled" }),
        };
        match lacking.iter_mut().find(|(t, _)| *t == name) {
            Some((_, lack)) => {
                lack.enable |= enable;
                lack.force |= force;
                lack.why.push(why);
            }
            None => lacking.push((name, RlsLack { enable, force, why: vec![why] })),
        }
    }
    if !dropped.is_empty() {
        compared.push_str(&format!(" (dropped since: {})", listed(&dropped)));
    }
    for (table, lack) in &lacking {
        let state = if lack.enable { "disabled" } else { "not forced" };
        problems.push(format!("{table} has RLS {state}, yet {}", lack.why.join(" and ")));
    }
    if problems.is_empty() {
        let also = if opts.rls_tables.is_empty() {
            String::new()
        } else {
            format!("; {} required table(s) have it", opts.rls_tables.len())
        };
        return SmokeCheck::pass(NAME, format!("every table with policies enforces them{also}{compared}"));
    }
    let fixes: Vec<String> = lacking.iter().map(|(table, lack)| lack.fix(table)).collect();
    let fix = if fixes.is_empty() {
        "create the missing table, or correct rls_tables or snapshot".into()
    } else {
        format!(
            "{} (if RLS was turned off on purpose, take a new snapshot: later smoke tests compare with the newest)",
            fixes.join(" ")
        )
    };
    SmokeCheck::fail(NAME, format!("{}{compared}", problems.join("; ")), fix)
}

/// The tables a stored snapshot recorded with row level security: the named one, else the
/// newest (apply-migration stores one before every apply). `Err` is a problem to report.
async fn rls_snapshot(db: &Database, which: Option<&str>) -> Result<Option<(String, Vec<RlsRequirement>)>, String> {
    let which = match which {
        Some(w) => w.to_string(),
        None => match crate::migrate::db::snapshots(db).await {
            Ok(all) => match all.last() {
                Some(newest) => newest.id.to_string(),
                None => return Ok(None),
            },
            Err(e) => return Err(format!("could not read the stored snapshots: {e}")),
        },
    };
    let (record, schema) = match crate::migrate::db::snapshot(db, &which).await {
        Ok(Some(found)) => found,
        Ok(None) => return Err(format!("no snapshot {which:?} (snapshot with list: true shows them)")),
        Err(e) => return Err(format!("could not read snapshot {which:?}: {e}")),
    };
    let source = format!("snapshot {} ({}, {})", record.id, record.label, record.taken_at);
    let tables = schema
        .objects
        .iter()
        .filter(|o| o.kind == "row level security")
        .map(|o| RlsRequirement {
            table: o.name.clone(),
            forced: o.definition.contains("forced"),
            snapshot: Some(record.id),
        })
        .collect();
    Ok(Some((source, tables)))
}

async fn mysql_checks(db: &Database, opts: &SmokeOptions, checks: &mut Vec<SmokeCheck>) {
    checks.push(SmokeCheck::skip(
        "invalid-indexes",
        "MySQL/MariaDB build indexes atomically: there are no invalid ones to find",
    ));
    checks.push(SmokeCheck::skip(
        "unvalidated-constraints",
        "MySQL/MariaDB have no NOT VALID constraints (rows loaded with foreign_key_checks=0 are not tracked)",
    ));
    checks.push(rls_unsupported(&opts.rls_tables));
    let auto = read(db, include_str!("mysql/smoke_auto_increment.sql").into(), vec![SEQUENCE_LIMIT.into()]).await;
    checks.push(match auto {
        Ok(rows) if rows.is_empty() => SmokeCheck::pass(
            "auto-increment",
            format!("every AUTO_INCREMENT column is below {:.0}% of its type's range", SEQUENCE_LIMIT * 100.0),
        ),
        Ok(rows) => {
            let names: Vec<String> = rows
                .iter()
                .map(|r| {
                    format!(
                        "{}.{} ({}) at {:.1}%",
                        text(r, "table"),
                        text(r, "column"),
                        text(r, "type"),
                        number(&r["used"]).unwrap_or(0.0) * 100.0
                    )
                })
                .collect();
            let fixes: Vec<String> = rows
                .iter()
                .map(|r| {
                    format!(
                        "ALTER TABLE {} MODIFY {} BIGINT UNSIGNED NOT NULL AUTO_INCREMENT;",
                        crate::engine::backtick(&text(r, "table")),
                        crate::engine::backtick(&text(r, "column"))
                    )
                })
                .collect();
            SmokeCheck::fail(
                "auto-increment",
                format!(
                    "{} AUTO_INCREMENT column(s) past {:.0}% of their range: {}",
                    rows.len(),
                    SEQUENCE_LIMIT * 100.0,
                    listed(&names)
                ),
                fixes.join(" "),
            )
        }
        Err(e) => SmokeCheck::unread("auto-increment", &e),
    });
    checks.push(
        match read(db, include_str!("mysql/smoke_long_queries.sql").into(), vec![opts.long_query_seconds.into()]).await
        {
            Ok(rows) => long_queries(rows, opts.long_query_seconds, "KILL QUERY <id>;"),
            Err(e) => SmokeCheck::unread("long-running-queries", &e),
        },
    );
    checks.push(
        match read(
            db,
            include_str!("mysql/smoke_idle_transactions.sql").into(),
            vec![opts.idle_in_transaction_seconds.into()],
        )
        .await
        {
            Ok(rows) => idle_transactions(rows, opts.idle_in_transaction_seconds, "KILL <id>;"),
            Err(e) => SmokeCheck::unread("idle-in-transaction", &e),
        },
    );
    // MariaDB 10.5+ and MySQL 8.0.22+ say REPLICA; older servers only SLAVE.
    let status = match read(db, "SHOW REPLICA STATUS".into(), vec![]).await {
        Ok(rows) => Ok(rows),
        Err(_) => read(db, "SHOW SLAVE STATUS".into(), vec![]).await,
    };
    checks.push(match status {
        Ok(rows) => match rows.first() {
            None => SmokeCheck::skip("replication-lag", "not a replica (no replication configured)"),
            Some(r) => {
                let lag = number(&r["Seconds_Behind_Master"]).or_else(|| number(&r["Seconds_Behind_Source"]));
                replica_lag(lag, opts.max_replication_lag_seconds)
            }
        },
        Err(e) => SmokeCheck::skip(
            "replication-lag",
            format!(
                "replica status is not readable ({e}); grant REPLICATION CLIENT (SLAVE MONITOR on MariaDB) to check it"
            ),
        ),
    });
}

async fn sqlite_checks(db: &Database, opts: &SmokeOptions, checks: &mut Vec<SmokeCheck>) {
    checks.push(match read(db, "PRAGMA integrity_check(20)".into(), vec![]).await {
        Ok(rows) => {
            let problems: Vec<String> =
                rows.iter().filter_map(|r| r.as_object()?.values().next()?.as_str().map(str::to_string)).collect();
            if problems.len() == 1 && problems[0] == "ok" {
                SmokeCheck::pass("integrity", "PRAGMA integrity_check: ok")
            } else {
                SmokeCheck::fail(
                    "integrity",
                    format!("PRAGMA integrity_check: {}", listed(&problems)),
                    "restore from a backup; or, when only indexes are affected, REINDEX; or recover with the sqlite3 shell's .recover into a new file",
                )
            }
        }
        Err(e) => SmokeCheck::fail(
            "integrity",
            format!("PRAGMA integrity_check failed: {e}"),
            "the file may be corrupt: restore from a backup or recover with the sqlite3 shell's .recover",
        ),
    });
    checks.push(match read(db, "PRAGMA foreign_key_check".into(), vec![]).await {
        Ok(rows) if rows.is_empty() => SmokeCheck::pass("foreign-keys", "PRAGMA foreign_key_check: no orphan rows"),
        Ok(rows) => {
            let names: Vec<String> = rows
                .iter()
                .map(|r| format!("{} rowid {} -> {}", text(r, "table"), text(r, "rowid"), text(r, "parent")))
                .collect();
            SmokeCheck::fail(
                "foreign-keys",
                format!("{} row(s) reference a missing parent: {}", rows.len(), listed(&names)),
                "delete or fix the orphan rows (or insert the missing parents), and keep PRAGMA foreign_keys = ON in every connection",
            )
        }
        Err(e) => SmokeCheck::unread("foreign-keys", &e),
    });
    checks.push(rls_unsupported(&opts.rls_tables));
    checks.push(SmokeCheck::skip(
        "long-running-queries",
        "SQLite runs inside the application's process: no server sessions to list",
    ));
    checks.push(SmokeCheck::skip("replication-lag", "SQLite has no replication"));
}

fn rls_unsupported(required: &[String]) -> SmokeCheck {
    if required.is_empty() {
        SmokeCheck::skip("row-level-security", "this engine has no row level security")
    } else {
        SmokeCheck::fail(
            "row-level-security",
            format!("rls_tables lists {} but this engine has no row level security", listed(required)),
            "enforce per-user access in the application or in views, and drop rls_tables for this database",
        )
    }
}

fn long_queries(rows: Vec<Value>, limit: f64, cancel: &str) -> SmokeCheck {
    if rows.is_empty() {
        SmokeCheck::pass("long-running-queries", format!("no statement has run longer than {limit} s"))
    } else {
        let mut c = SmokeCheck::fail(
            "long-running-queries",
            format!("{} statement(s) running longer than {limit} s (in activity)", rows.len()),
            format!("find out what runs them; cancel with {cancel} and check the plan with explain-analyze"),
        );
        c.activity = rows;
        c
    }
}

fn idle_transactions(rows: Vec<Value>, limit: f64, terminate: &str) -> SmokeCheck {
    if rows.is_empty() {
        SmokeCheck::pass("idle-in-transaction", format!("no session idle in a transaction longer than {limit} s"))
    } else {
        let mut c = SmokeCheck::fail(
            "idle-in-transaction",
            format!(
                "{} session(s) idle inside an open transaction longer than {limit} s, holding locks and blocking vacuum (in activity)",
                rows.len()
            ),
            format!("fix the application path that leaves the transaction open; end the session with {terminate}"),
        );
        c.activity = rows;
        c
    }
}

/// The operations of a `currentOp` reply on database `db` running at least `limit` seconds. The
/// command's filter is applied again here: not every MongoDB-compatible server applies it.
fn long_operations(reply: &Document, db: &str, limit: f64) -> Vec<Value> {
    let prefix = format!("{db}.");
    let Ok(inprog) = reply.get_array("inprog") else { return vec![] };
    inprog
        .iter()
        .filter_map(Bson::as_document)
        .filter(|op| {
            op.get_bool("active").unwrap_or(false)
                && op.get("secs_running").and_then(super::bson_number).unwrap_or(0.0) >= limit
                && op.get_str("ns").is_ok_and(|ns| ns.starts_with(&prefix))
        })
        .map(|op| {
            let field = |k: &str| op.get(k).cloned().map_or(Value::Null, Bson::into_relaxed_extjson);
            serde_json::json!({ "opid": field("opid"), "seconds": field("secs_running"), "ns": field("ns"), "op": field("op") })
        })
        .collect()
}

fn replica_lag(lag: Option<f64>, limit: f64) -> SmokeCheck {
    match lag {
        Some(s) if s <= limit => {
            SmokeCheck::pass("replication-lag", format!("replica is {s:.1} s behind (limit {limit} s)"))
        }
        Some(s) => SmokeCheck::fail(
            "replication-lag",
            format!("replica is {s:.1} s behind its primary (limit {limit} s)"),
            "check the replica's I/O and apply threads, long queries on the replica, and network to the primary",
        ),
        None => SmokeCheck::fail(
            "replication-lag",
            "a replica with no replay timestamp: replication is stopped or has not started",
            "check the replication status and the primary's connection settings",
        ),
    }
}

async fn mongo_smoke(m: &Mongo, opts: &SmokeOptions, timeout_ms: u64) -> Vec<SmokeCheck> {
    let admin = m.client.database("admin");
    let mut checks = Vec::new();
    if let Err(e) = admin.run_command(doc! { "ping": 1 }).await {
        let e = m.error(e, timeout_ms);
        checks.push(SmokeCheck::fail("connectivity", e.to_string(), e.hint().unwrap_or_default()));
        return checks;
    }
    checks.push(SmokeCheck::pass("connectivity", "ping answered"));
    checks
        .push(SmokeCheck::skip("migrations", "MongoDB has no _sqlx_migrations ledger; validators are checked instead"));
    checks.push(match mongo_validators(m, &opts.validated_collections).await {
        Ok(c) => c,
        Err(e) => SmokeCheck::unread("validators", &m.error(e, timeout_ms)),
    });
    let command = doc! {
        "currentOp": 1,
        "active": true,
        "secs_running": { "$gte": opts.long_query_seconds },
        "ns": { "$regex": format!("^{}\\.", regex::escape(m.db.name())) },
    };
    checks.push(match admin.run_command(command).await {
        Ok(reply) => {
            let ops = long_operations(&reply, m.db.name(), opts.long_query_seconds);
            if ops.is_empty() {
                SmokeCheck::pass(
                    "long-running-operations",
                    format!("no operation has run longer than {} s", opts.long_query_seconds),
                )
            } else {
                let mut c = SmokeCheck::fail(
                    "long-running-operations",
                    format!(
                        "{} operation(s) running longer than {} s (in activity)",
                        ops.len(),
                        opts.long_query_seconds
                    ),
                    "check them with explain-analyze; stop one with db.killOp(<opid>)",
                );
                c.activity = ops;
                c
            }
        }
        Err(e) => SmokeCheck::skip("long-running-operations", format!("currentOp is not available here ({e})")),
    });
    checks.push(match admin.run_command(doc! { "hello": 1 }).await {
        Ok(hello) if hello.get_bool("secondary").unwrap_or(false) => {
            match admin.run_command(doc! { "replSetGetStatus": 1 }).await {
                Ok(status) => replica_lag(mongo_lag(&status), opts.max_replication_lag_seconds),
                Err(e) => SmokeCheck::skip("replication-lag", format!("replSetGetStatus is not permitted ({e})")),
            }
        }
        Ok(_) => SmokeCheck::skip("replication-lag", "not a replica set secondary: no replication lag to measure"),
        Err(e) => SmokeCheck::unread("replication-lag", &m.error(e, timeout_ms)),
    });
    checks
}

/// Collections without a validator; listed ones must have one.
async fn mongo_validators(m: &Mongo, required: &[String]) -> Result<SmokeCheck, mongodb::error::Error> {
    use futures::TryStreamExt;
    let specs: Vec<_> = m.db.list_collections().await?.try_collect().await?;
    let validated: Vec<&str> = specs
        .iter()
        .filter(|s| s.options.validator.as_ref().is_some_and(|v| !v.is_empty()))
        .map(|s| s.name.as_str())
        .collect();
    let mut problems = Vec::new();
    for name in required {
        if !specs.iter().any(|s| &s.name == name) {
            problems.push(format!("{name} (required to have a validator) does not exist"));
        } else if !validated.contains(&name.as_str()) {
            problems.push(format!("{name} has no validator"));
        }
    }
    Ok(if problems.is_empty() {
        SmokeCheck::pass("validators", format!("{} of {} collection(s) have a validator", validated.len(), specs.len()))
    } else {
        SmokeCheck::fail(
            "validators",
            problems.join("; "),
            "add a $jsonSchema validator: db.runCommand({collMod: \"<collection>\", validator: {$jsonSchema: {...}}})",
        )
    })
}

/// Seconds this secondary's last applied operation trails the primary's.
fn mongo_lag(status: &Document) -> Option<f64> {
    let members = status.get_array("members").ok()?;
    let optime = |want: &dyn Fn(&Document) -> bool| {
        members
            .iter()
            .filter_map(Bson::as_document)
            .find(|m| want(m))
            .and_then(|m| m.get_datetime("optimeDate").ok())
            .map(|d| d.timestamp_millis())
    };
    let primary = optime(&|m| m.get_str("stateStr") == Ok("PRIMARY"))?;
    let me = optime(&|m| m.get_bool("self").unwrap_or(false))?;
    Some((primary - me).max(0) as f64 / 1000.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replica_lag_passes_within_the_limit_and_fails_past_it_or_without_replay() {
        assert_eq!(replica_lag(Some(2.0), 30.0).status, SmokeStatus::Pass);
        assert_eq!(replica_lag(Some(31.0), 30.0).status, SmokeStatus::Fail);
        assert_eq!(replica_lag(None, 30.0).status, SmokeStatus::Fail);
    }

    #[test]
    fn long_operations_are_active_ones_of_this_database_past_the_limit() {
        // The shape mongod's currentOp answers with (SecantusDB reports every op at 0 s).
        let reply = doc! { "inprog": [
            { "opid": 11, "active": true, "secs_running": 400_i64, "ns": "app.orders", "op": "query" },
            { "opid": 12, "active": true, "secs_running": 5_i32, "ns": "app.orders", "op": "query" },
            { "opid": 13, "active": false, "secs_running": 900_i64, "ns": "app.orders", "op": "none" },
            { "opid": 14, "active": true, "secs_running": 900_i64, "ns": "application.x", "op": "update" },
            { "type": "idleCursor", "ns": "app.orders" },
        ], "ok": 1.0 };
        let ops = long_operations(&reply, "app", 300.0);
        assert_eq!(ops, vec![serde_json::json!({"opid": 11, "seconds": 400, "ns": "app.orders", "op": "query"})]);
        assert!(long_operations(&doc! { "ok": 1.0 }, "app", 300.0).is_empty());
    }

    #[test]
    fn mongo_lag_is_the_primary_optime_minus_this_member() {
        let status = doc! { "members": [
            { "stateStr": "PRIMARY", "optimeDate": mongodb::bson::DateTime::from_millis(10_000) },
            { "stateStr": "SECONDARY", "self": true, "optimeDate": mongodb::bson::DateTime::from_millis(4_000) },
        ] };
        assert_eq!(mongo_lag(&status), Some(6.0));
        assert_eq!(mongo_lag(&doc! {}), None);
    }

    #[test]
    fn long_lists_are_cut_and_counted() {
        let items: Vec<String> = (0..12).map(|i| i.to_string()).collect();
        assert_eq!(listed(&items), "0, 1, 2, 3, 4, 5, 6, 7, 8, 9 and 2 more");
    }
}
