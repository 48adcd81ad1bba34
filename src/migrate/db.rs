//! The migration lifecycle's engine side: the schema read from the catalogs, the sqlx ledger,
//! stored snapshots, trial runs that never keep anything (a rolled-back transaction on
//! PostgreSQL and SQLite, a scratch database on MySQL/MariaDB) and applying a change.

use std::time::Instant;

use serde_json::Value;
use sqlx::{AssertSqlSafe, Connection, Executor, Row};

use crate::engine::{
    Database,
    session::{Access, Conn},
};
use crate::{
    config::Engine,
    error::ToolError,
    migrate::snapshot::{self, RebuiltTable, Reversal, Schema, SchemaObject},
};

/// One row of `_sqlx_migrations`.
#[derive(Debug, Clone, serde::Serialize, schemars::JsonSchema)]
pub struct LedgerRow {
    pub version: i64,
    pub description: String,
    pub installed_on: String,
    pub success: bool,
    /// SHA-384 of the up script, hex.
    pub checksum: String,
    /// Nanoseconds (-1 until measured).
    pub execution_time: i64,
}

/// A stored snapshot's header.
#[derive(Debug, Clone, serde::Serialize, schemars::JsonSchema)]
pub struct SnapshotRecord {
    pub id: i64,
    pub label: String,
    pub taken_at: String,
    pub fingerprint: String,
}

/// A statement that failed.
#[derive(Debug, Clone, serde::Serialize, schemars::JsonSchema)]
pub struct StatementError {
    /// 1-based index of the statement in its script.
    pub index: usize,
    pub error: String,
}

/// What a trial run saw. Nothing it did remains.
#[derive(Debug, Default)]
pub struct Trial {
    pub before: Schema,
    pub up_failed: Option<StatementError>,
    pub after_up: Option<Schema>,
    pub down_failed: Option<StatementError>,
    pub after_down: Option<Schema>,
    pub notes: Vec<String>,
}

/// What to record in the ledger with a change.
pub enum LedgerChange<'a> {
    None,
    Record { version: i64, description: &'a str, checksum: &'a [u8] },
    Forget { version: i64 },
}

/// A change to apply.
pub struct Change<'a> {
    pub statements: &'a [String],
    /// Per statement, its inverse: run in reverse for the statements that had run when a later
    /// one fails, where DDL is not transactional.
    pub inverses: &'a [Option<String>],
    /// Run inside one transaction (PostgreSQL and SQLite, unless `-- no-transaction`).
    pub transactional: bool,
    pub ledger: LedgerChange<'a>,
}

/// How a change went.
#[derive(Debug, Default)]
pub struct Applied {
    /// Statements that ran and stayed (0 after a rolled-back failure).
    pub kept: usize,
    pub failed: Option<StatementError>,
    /// Inverse statements run after a failure (non-transactional engines).
    pub compensated: Vec<String>,
    /// The compensation itself failed: the database is between states.
    pub compensation_failed: Option<String>,
    /// INVALID indexes a failed CONCURRENTLY build left, dropped again.
    pub dropped_invalid: Vec<String>,
    pub elapsed_ms: f64,
}

fn objects_from(v: Value) -> Vec<SchemaObject> {
    let text = |o: &Value, k: &str| o.get(k).and_then(Value::as_str).map(str::to_string);
    v.as_array()
        .into_iter()
        .flatten()
        .map(|o| SchemaObject {
            kind: text(o, "kind").unwrap_or_default(),
            name: text(o, "name").unwrap_or_default(),
            parent: text(o, "parent"),
            definition: text(o, "definition").unwrap_or_default(),
            create: text(o, "create"),
            drop: text(o, "drop"),
            alter: text(o, "alter"),
            with_table: o["with_table"] == Value::Bool(true) || o["with_table"] == serde_json::json!(1),
            rank: o["rank"].as_i64().unwrap_or(99),
        })
        .collect()
}

fn is_missing_table(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Database(d) => {
            matches!(d.code().as_deref(), Some("42P01" | "42S02" | "3F000")) || d.message().contains("no such table")
        }
        _ => false,
    }
}

async fn pg_schema(conn: &mut sqlx::PgConnection) -> Result<Schema, sqlx::Error> {
    let text: Option<String> = sqlx::query_scalar(include_str!("postgres/schema.sql")).fetch_one(&mut *conn).await?;
    let v = crate::engine::parse_json(text)?.unwrap_or(Value::Null);
    let positions = v["positions"].as_object().into_iter().flatten().map(|(k, p)| (k.clone(), p.as_i64())).collect();
    Ok(Schema { objects: objects_from(v["objects"].clone()), positions }.normalized())
}

async fn mysql_schema(conn: &mut sqlx::MySqlConnection) -> Result<Schema, sqlx::Error> {
    // JSON_ARRAYAGG is cut at group_concat_max_len.
    conn.execute("SET SESSION group_concat_max_len = 67108864").await?;
    // Not a cached prepared statement: MariaDB fixes DATABASE() when it prepares, and the dry-run
    // reads the schema again after switching to its scratch database.
    let version: String = sqlx::query_scalar("SELECT VERSION()").fetch_one(&mut *conn).await?;
    let sql = if version.contains("MariaDB") {
        include_str!("mysql/schema.sql").replace("/*mariadb: ", "").replace("TABLE_NAME*/", "TABLE_NAME")
    } else {
        include_str!("mysql/schema.sql").to_string()
    };
    let text: Option<String> = sqlx::query_scalar(AssertSqlSafe(sql)).persistent(false).fetch_one(&mut *conn).await?;
    let mut objects = objects_from(crate::engine::parse_json(text)?.unwrap_or(Value::Null));
    for o in objects.iter_mut().filter(|o| o.kind == "table") {
        let row = sqlx::query(AssertSqlSafe(format!("SHOW CREATE TABLE {}", crate::engine::backtick(&o.name))))
            .persistent(false)
            .fetch_one(&mut *conn)
            .await?;
        let create: String = row.try_get(1)?;
        o.create = Some(strip_auto_increment(&create));
    }
    let rows = sqlx::query(
        "SELECT TABLE_NAME, CAST(AUTO_INCREMENT AS SIGNED) FROM information_schema.TABLES \
         WHERE TABLE_SCHEMA = DATABASE() AND AUTO_INCREMENT IS NOT NULL \
           AND TABLE_NAME NOT IN ('_sqlx_migrations', 'data_engineer_snapshots', 'data_engineer_seeds') ORDER BY TABLE_NAME",
    )
    .persistent(false)
    .fetch_all(&mut *conn)
    .await?;
    let positions = rows
        .iter()
        .map(|r| Ok((r.try_get::<String, _>(0)?, r.try_get::<Option<i64>, _>(1)?)))
        .collect::<Result<_, sqlx::Error>>()?;
    Ok(Schema { objects, positions }.normalized())
}

/// SHOW CREATE TABLE carries the next AUTO_INCREMENT value, a position rather than schema.
fn strip_auto_increment(create: &str) -> String {
    regex::Regex::new(r" AUTO_INCREMENT=\d+").map(|re| re.replace(create, "").into_owned()).unwrap_or(create.into())
}

async fn sqlite_schema(conn: &mut sqlx::SqliteConnection) -> Result<Schema, sqlx::Error> {
    let text: Option<String> = sqlx::query_scalar(include_str!("sqlite/schema.sql")).fetch_one(&mut *conn).await?;
    let objects = objects_from(crate::engine::parse_json(text)?.unwrap_or(Value::Null));
    let positions = match sqlx::query_as::<_, (String, i64)>("SELECT name, seq FROM sqlite_sequence ORDER BY name")
        .fetch_all(&mut *conn)
        .await
    {
        Ok(rows) => {
            rows.into_iter().filter(|(n, _)| n != "data_engineer_snapshots").map(|(n, s)| (n, Some(s))).collect()
        }
        Err(e) if is_missing_table(&e) => Default::default(),
        Err(e) => return Err(e),
    };
    Ok(Schema { objects, positions }.normalized())
}

/// Run statements one by one; the first failure stops and is returned with its 1-based index.
macro_rules! run_all {
    ($db:expr, $conn:expr, $statements:expr) => {{
        let mut failed = None;
        for (i, sql) in $statements.iter().enumerate() {
            if let Err(e) = sqlx::raw_sql(AssertSqlSafe(sql.clone())).execute(&mut *$conn).await {
                failed =
                    Some(StatementError { index: i + 1, error: crate::engine::sql_error(&$db.config, e).to_string() });
                break;
            }
        }
        failed
    }};
}

/// SQLite's table rebuild (sqlite.org/lang_altertable.html), done so the table's CREATE text
/// comes back exactly: the table is renamed away, created again from the target's own text, the
/// common columns copied, the old one dropped (its indexes and triggers with it; the reversal
/// recreates the target's). Refused (None) when another table references this one: dropping it
/// would fire their ON DELETE actions.
fn sqlite_rebuild(current: &Schema, target: &Schema, wanted: &SchemaObject) -> Option<RebuiltTable> {
    let create = wanted.create.as_deref()?;
    let table = &wanted.name;
    let quoted = crate::engine::double_quote;
    let reference =
        regex::Regex::new(&format!(r#"(?i)references\s+["`\[]?{}["`\]]?[\s(]"#, regex::escape(table))).ok()?;
    let referenced = current
        .objects
        .iter()
        .chain(&target.objects)
        .any(|o| o.kind == "table" && &o.name != table && reference.is_match(&o.definition));
    if referenced {
        return None;
    }
    let columns = |s: &Schema| -> Vec<String> {
        s.objects
            .iter()
            .filter(|o| o.kind == "column" && o.parent.as_deref() == Some(table.as_str()))
            .filter_map(|o| o.name.strip_prefix(&format!("{table}.")).map(str::to_string))
            .collect()
    };
    let (have, want) = (columns(current), columns(target));
    let common: Vec<String> = want.iter().filter(|c| have.contains(c)).map(|c| quoted(c)).collect();
    let old = quoted(&format!("{table}__de_old"));
    Some(RebuiltTable {
        statements: vec![
            format!("ALTER TABLE {} RENAME TO {old}", quoted(table)),
            create.to_string(),
            format!("INSERT INTO {} ({1}) SELECT {1} FROM {old}", quoted(table), common.join(", ")),
            format!("DROP TABLE {old}"),
        ],
        drops_data: have.iter().filter(|c| !want.contains(c)).map(|c| format!("column {table}.{c}")).collect(),
    })
}

/// The DDL from `current` back to `target`; SQLite rebuilds the tables it cannot alter.
pub fn reversal(db: &Database, current: &Schema, target: &Schema) -> Reversal {
    match db.config.engine {
        Engine::Sqlite => {
            snapshot::reversal_with(current, target, &|_, wanted| sqlite_rebuild(current, target, wanted))
        }
        _ => snapshot::reversal(current, target),
    }
}

fn migrate_error(db: &Database, e: sqlx::Error) -> ToolError {
    db.db_error(e, db.config.statement_timeout_ms)
}

/// The schema as the catalogs describe it now.
pub async fn schema(db: &Database) -> Result<Schema, ToolError> {
    let mut session = db.session(Access::Catalog, db.config.statement_timeout_ms).await?;
    let schema = session
        .guard(async |conn, _| match conn {
            Conn::Postgres(c) => pg_schema(c).await,
            Conn::Mysql(c) => mysql_schema(c).await,
            Conn::Sqlite(c) => sqlite_schema(c).await,
            Conn::Empty => unreachable!("an open session"),
        })
        .await;
    session.close();
    schema
}

/// The sqlx ledger; empty when the table does not exist yet.
pub async fn migration_ledger(db: &Database) -> Result<Vec<LedgerRow>, ToolError> {
    type RowTuple = (i64, String, String, bool, Vec<u8>, i64);
    if !db.capabilities().sql {
        return Err(db.needs_sql("migrations"));
    }
    let rows: Result<Vec<RowTuple>, sqlx::Error> = db
        .with_session(Access::Catalog, async |conn| match conn {
            Conn::Postgres(c) => sqlx::query_as(include_str!("postgres/ledger_list.sql")).fetch_all(&mut **c).await,
            Conn::Mysql(c) => sqlx::query_as(include_str!("mysql/ledger_list.sql")).fetch_all(&mut **c).await,
            Conn::Sqlite(c) => sqlx::query_as(include_str!("sqlite/ledger_list.sql")).fetch_all(&mut **c).await,
            Conn::Empty => unreachable!("an open session"),
        })
        .await?;
    let rows = match rows {
        Ok(rows) => rows,
        Err(e) if is_missing_table(&e) => vec![],
        Err(e) => return Err(migrate_error(db, e)),
    };
    Ok(rows
        .into_iter()
        .map(|(version, description, installed_on, success, checksum, execution_time)| LedgerRow {
            version,
            description,
            installed_on,
            success,
            checksum: hex::encode(checksum),
            execution_time,
        })
        .collect())
}

/// Store a snapshot in the database (`data_engineer.snapshots` or `data_engineer_snapshots`).
pub async fn store_snapshot(db: &Database, label: &str, schema: &Schema) -> Result<SnapshotRecord, ToolError> {
    let fingerprint = schema.fingerprint();
    let body = serde_json::to_string(schema).unwrap_or_default();
    if !db.capabilities().sql {
        return Err(db.needs_sql("schema snapshots"));
    }
    let id: Result<i64, sqlx::Error> = db
        .with_session(Access::Writer, async |conn| match conn {
            Conn::Postgres(c) => {
                sqlx::raw_sql(include_str!("postgres/snapshots_create.sql")).execute(&mut **c).await?;
                sqlx::query_scalar(include_str!("postgres/snapshots_insert.sql"))
                    .bind(label)
                    .bind(&fingerprint)
                    .bind(&body)
                    .fetch_one(&mut **c)
                    .await
            }
            Conn::Mysql(c) => {
                sqlx::raw_sql(include_str!("mysql/snapshots_create.sql")).execute(&mut **c).await?;
                let done = sqlx::query(include_str!("mysql/snapshots_insert.sql"))
                    .bind(label)
                    .bind(&fingerprint)
                    .bind(&body)
                    .execute(&mut **c)
                    .await?;
                Ok(done.last_insert_id() as i64)
            }
            Conn::Sqlite(c) => {
                sqlx::raw_sql(include_str!("sqlite/snapshots_create.sql")).execute(&mut **c).await?;
                sqlx::query_scalar(include_str!("sqlite/snapshots_insert.sql"))
                    .bind(label)
                    .bind(&fingerprint)
                    .bind(&body)
                    .fetch_one(&mut **c)
                    .await
            }
            Conn::Empty => unreachable!("an open session"),
        })
        .await?;
    let id = id.map_err(|e| migrate_error(db, e))?;
    let stored = snapshots(db).await?.into_iter().find(|s| s.id == id);
    stored.ok_or_else(|| ToolError::Database {
        code: None,
        message: format!("snapshot {id} was stored but cannot be read back"),
        hint: None,
    })
}

/// Stored snapshots, oldest first; empty when none was ever stored.
pub async fn snapshots(db: &Database) -> Result<Vec<SnapshotRecord>, ToolError> {
    if !db.capabilities().sql {
        return Err(db.needs_sql("schema snapshots"));
    }
    let rows: Result<Vec<(i64, String, String, String)>, sqlx::Error> = db
        .with_session(Access::Catalog, async |conn| match conn {
            Conn::Postgres(c) => sqlx::query_as(include_str!("postgres/snapshots_list.sql")).fetch_all(&mut **c).await,
            Conn::Mysql(c) => sqlx::query_as(include_str!("mysql/snapshots_list.sql")).fetch_all(&mut **c).await,
            Conn::Sqlite(c) => sqlx::query_as(include_str!("sqlite/snapshots_list.sql")).fetch_all(&mut **c).await,
            Conn::Empty => unreachable!("an open session"),
        })
        .await?;
    match rows {
        Ok(rows) => Ok(rows
            .into_iter()
            .map(|(id, label, taken_at, fingerprint)| SnapshotRecord { id, label, taken_at, fingerprint })
            .collect()),
        Err(e) if is_missing_table(&e) => Ok(vec![]),
        Err(e) => Err(migrate_error(db, e)),
    }
}

/// One stored snapshot by id or label (the newest with that label).
pub async fn snapshot(db: &Database, id_or_label: &str) -> Result<Option<(SnapshotRecord, Schema)>, ToolError> {
    type RowTuple = (i64, String, String, String, String);
    if !db.capabilities().sql {
        return Err(db.needs_sql("schema snapshots"));
    }
    let row: Result<Option<RowTuple>, sqlx::Error> = db
        .with_session(Access::Catalog, async |conn| match conn {
            Conn::Postgres(c) => {
                sqlx::query_as(include_str!("postgres/snapshots_get.sql"))
                    .bind(id_or_label)
                    .fetch_optional(&mut **c)
                    .await
            }
            Conn::Mysql(c) => {
                sqlx::query_as(include_str!("mysql/snapshots_get.sql"))
                    .bind(id_or_label)
                    .bind(id_or_label)
                    .fetch_optional(&mut **c)
                    .await
            }
            Conn::Sqlite(c) => {
                sqlx::query_as(include_str!("sqlite/snapshots_get.sql"))
                    .bind(id_or_label)
                    .fetch_optional(&mut **c)
                    .await
            }
            Conn::Empty => unreachable!("an open session"),
        })
        .await?;
    let row = match row {
        Ok(row) => row,
        Err(e) if is_missing_table(&e) => None,
        Err(e) => return Err(migrate_error(db, e)),
    };
    Ok(row.map(|(id, label, taken_at, fingerprint, body)| {
        let schema: Schema = serde_json::from_str(&body).unwrap_or_default();
        (SnapshotRecord { id, label, taken_at, fingerprint }, schema)
    }))
}

/// Run `up` then `down` where nothing can stay: PostgreSQL and SQLite in a transaction that
/// is always rolled back (under lock and statement timeouts), MySQL/MariaDB in a scratch
/// database cloned from this one's schema and dropped afterwards.
pub async fn trial(db: &Database, up: &[String], down: Option<&[String]>, timeout_ms: u64) -> Result<Trial, ToolError> {
    if !db.capabilities().sql {
        return Err(db.needs_sql("migrations"));
    }
    // The trial runs its own transaction (rolled back) on the session's connection; a
    // cancelled trial closes the connection, which rolls it back on the server.
    let mut session = db.session(Access::Manual, timeout_ms).await?;
    let result = session
        .race(async |conn| match conn {
            Conn::Postgres(c) => pg_trial(db, c, up, down, timeout_ms).await.map_err(|e| migrate_error(db, e)),
            Conn::Sqlite(c) => sqlite_trial(db, c, up, down).await.map_err(|e| migrate_error(db, e)),
            Conn::Mysql(c) => mysql_trial(db, c, up, down).await,
            Conn::Empty => unreachable!("an open session"),
        })
        .await;
    if db.config.engine == crate::config::Engine::Mysql {
        // It switched databases: never back to the pool.
        session.discard();
    } else {
        session.close();
    }
    result?
}

async fn pg_trial(
    db: &Database,
    conn: &mut sqlx::PgConnection,
    up: &[String],
    down: Option<&[String]>,
    timeout_ms: u64,
) -> Result<Trial, sqlx::Error> {
    let mut trial = Trial::default();
    // CONCURRENTLY cannot run in a transaction; without it the schema effect is the same.
    let concurrently = regex::Regex::new(r"(?i)\s+CONCURRENTLY\b").expect("static regex");
    let unconcurrent =
        |s: &[String]| -> Vec<String> { s.iter().map(|sql| concurrently.replace_all(sql, "").into_owned()).collect() };
    let (plain_up, down) = (unconcurrent(up), down.map(unconcurrent));
    let changed = plain_up != up;
    // What cannot run in a transaction even without CONCURRENTLY (VACUUM, CREATE DATABASE, ...)
    // changes no schema: the trial leaves it out, apply runs it.
    let inside = |s: &Vec<String>| -> (Vec<String>, Vec<&'static str>) {
        let mut kept = Vec::new();
        let mut left_out = Vec::new();
        for sql in s {
            match crate::migrate::plan::outside_transaction(crate::config::Engine::Postgres, sql) {
                Some(kind) => left_out.push(kind),
                None => kept.push(sql.clone()),
            }
        }
        (kept, left_out)
    };
    let (up, left_out) = inside(&plain_up);
    let down = down.map(|d| inside(&d).0);
    if changed {
        trial
            .notes
            .push("CONCURRENTLY was left out inside the trial transaction; the schema effect is the same".into());
    }
    if !left_out.is_empty() {
        trial.notes.push(format!(
            "{} cannot run inside the trial transaction and was left out of it; apply-migration runs it",
            left_out.join(", ")
        ));
    }
    // A sqlx transaction, so even a dropped call never hands the pool a connection mid-trial.
    let mut tx = conn.begin().await?;
    let result = async {
        // The session set the statement timeout; locks are waited for less long.
        tx.execute(AssertSqlSafe(format!("SET LOCAL lock_timeout = '{}ms'", timeout_ms.min(5000)))).await?;
        trial.before = pg_schema(&mut tx).await?;
        trial.up_failed = run_all!(db, tx, up);
        if trial.up_failed.is_some() {
            return Ok::<(), sqlx::Error>(());
        }
        trial.after_up = Some(pg_schema(&mut tx).await?);
        if let Some(down) = &down {
            trial.down_failed = run_all!(db, tx, down);
            if trial.down_failed.is_none() {
                trial.after_down = Some(pg_schema(&mut tx).await?);
            }
        }
        Ok(())
    }
    .await;
    // Always rolled back, awaited; a connection that cannot roll back errs, and the session
    // then closes it.
    tx.rollback().await?;
    result.map(|_| trial)
}

async fn sqlite_trial(
    db: &Database,
    conn: &mut sqlx::SqliteConnection,
    up: &[String],
    down: Option<&[String]>,
) -> Result<Trial, sqlx::Error> {
    let mut trial = Trial::default();
    // The session's progress handler stops the work past the deadline (the pool's
    // busy_timeout bounds the wait for the write lock).
    let mut tx = conn.begin_with("BEGIN IMMEDIATE").await?;
    let result = async {
        trial.before = sqlite_schema(&mut tx).await?;
        trial.up_failed = run_all!(db, tx, up);
        if trial.up_failed.is_some() {
            return Ok::<(), sqlx::Error>(());
        }
        trial.after_up = Some(sqlite_schema(&mut tx).await?);
        if let Some(down) = down {
            trial.down_failed = run_all!(db, tx, down);
            if trial.down_failed.is_none() {
                trial.after_down = Some(sqlite_schema(&mut tx).await?);
            }
        }
        Ok(())
    }
    .await;
    tx.rollback().await?;
    result.map(|_| trial)
}

async fn mysql_trial(
    db: &Database,
    conn: &mut sqlx::MySqlConnection,
    up: &[String],
    down: Option<&[String]>,
) -> Result<Trial, ToolError> {
    let source: String =
        sqlx::query_scalar("SELECT DATABASE()").fetch_one(&mut *conn).await.map_err(|e| migrate_error(db, e))?;
    let qualified = format!("{}.", source.to_ascii_lowercase());
    let quoted = format!("`{}`.", source.to_ascii_lowercase());
    if let Some(i) = up
        .iter()
        .chain(down.into_iter().flatten())
        .position(|s| s.to_ascii_lowercase().contains(&qualified) || s.to_ascii_lowercase().contains(&quoted))
    {
        return Err(ToolError::refused(
            format!("statement {} names the database {source} explicitly", i + 1),
            "write table names unqualified: the dry-run runs the migration in a scratch copy of the schema, and a \
             qualified name would reach the real database",
        ));
    }
    let source_schema = mysql_schema(conn).await.map_err(|e| migrate_error(db, e))?;
    let scratch = format!("de_dryrun_{}_{}", std::process::id(), chrono::Utc::now().timestamp_micros());
    conn.execute(AssertSqlSafe(format!("CREATE DATABASE `{scratch}`"))).await.map_err(|e| {
        let e = migrate_error(db, e);
        ToolError::refused(
            format!("cannot create the scratch database for the dry-run: {e}"),
            "MySQL/MariaDB commit DDL immediately, so the dry-run needs CREATE and DROP on a scratch database \
             (de_dryrun_*): grant them to this account",
        )
    })?;
    let result = mysql_trial_in(db, conn, &scratch, &source_schema, up, down).await;
    let dropped = conn.execute(AssertSqlSafe(format!("DROP DATABASE IF EXISTS `{scratch}`"))).await;
    let mut trial = result.map_err(|e| migrate_error(db, e))?;
    if let Err(e) = dropped {
        trial.notes.push(format!("could not drop the scratch database {scratch}: {e}; drop it by hand"));
    }
    trial.notes.push(format!(
        "ran in a scratch database cloned from {source}'s schema (tables, views, triggers; no rows, routines or \
         grants), then dropped: MySQL/MariaDB commit DDL immediately, so nothing ran on {source}"
    ));
    Ok(trial)
}

async fn mysql_trial_in(
    db: &Database,
    conn: &mut sqlx::MySqlConnection,
    scratch: &str,
    source: &Schema,
    up: &[String],
    down: Option<&[String]>,
) -> Result<Trial, sqlx::Error> {
    conn.execute(AssertSqlSafe(format!("USE `{scratch}`"))).await?;
    conn.execute("SET SESSION foreign_key_checks = 0").await?;
    let tables: Vec<&str> =
        source.objects.iter().filter(|o| o.kind == "table").filter_map(|o| o.create.as_deref()).collect();
    for create in tables {
        sqlx::raw_sql(AssertSqlSafe(create.to_string())).execute(&mut *conn).await?;
    }
    conn.execute("SET SESSION foreign_key_checks = 1").await?;
    // Views may read views: retry until a pass creates nothing new.
    let mut pending: Vec<&str> = source
        .objects
        .iter()
        .filter(|o| o.kind == "view" || o.kind == "trigger")
        .filter_map(|o| o.create.as_deref())
        .collect();
    while !pending.is_empty() {
        let before = pending.len();
        let mut left = Vec::new();
        for sql in pending {
            if sqlx::raw_sql(AssertSqlSafe(sql.to_string())).execute(&mut *conn).await.is_err() {
                left.push(sql);
            }
        }
        if left.len() == before {
            break;
        }
        pending = left;
    }
    let mut trial = Trial { before: mysql_schema(conn).await?, ..Default::default() };
    trial.up_failed = run_all!(db, conn, up);
    if trial.up_failed.is_none() {
        trial.after_up = Some(mysql_schema(conn).await?);
        if let Some(down) = down {
            trial.down_failed = run_all!(db, conn, down);
            if trial.down_failed.is_none() {
                trial.after_down = Some(mysql_schema(conn).await?);
            }
        }
    }
    Ok(trial)
}

/// Apply a change for real and record it in the ledger.
pub async fn apply_change(db: &Database, change: &Change<'_>) -> Result<Applied, ToolError> {
    let started = Instant::now();
    if !db.capabilities().sql {
        return Err(db.needs_sql("migrations"));
    }
    // Not raced against cancellation: MySQL's statement-by-statement apply must finish its
    // compensation, and the transactional ones end in a moment anyway.
    let mut session = db.session(Access::Manual, db.config.statement_timeout_ms).await?;
    let applied = match session.conn() {
        Conn::Postgres(c) => pg_apply(db, c, change).await,
        Conn::Sqlite(c) => sqlite_apply(db, c, change).await,
        Conn::Mysql(c) => mysql_apply(db, c, change).await,
        Conn::Empty => unreachable!("an open session"),
    };
    let mut applied = match applied {
        Ok(a) => {
            session.rollback().await?;
            a
        }
        Err(e) => {
            session.discard();
            return Err(migrate_error(db, e));
        }
    };
    applied.elapsed_ms = (started.elapsed().as_secs_f64() * 100_000.0).round() / 100.0;
    Ok(applied)
}

async fn pg_apply(db: &Database, conn: &mut sqlx::PgConnection, change: &Change<'_>) -> Result<Applied, sqlx::Error> {
    sqlx::raw_sql(include_str!("postgres/ledger_create.sql")).execute(&mut *conn).await?;
    let started = Instant::now();
    let mut applied = Applied::default();
    if change.transactional {
        let mut tx = conn.begin().await?;
        applied.failed = run_all!(db, tx, change.statements);
        if applied.failed.is_some() {
            tx.rollback().await?;
            return Ok(applied);
        }
        pg_record(&mut tx, &change.ledger).await?;
        tx.commit().await?;
    } else {
        // Statement by statement, each waiting for its locks at most this long (a CONCURRENTLY
        // build waits for the transactions before it; a plain one must not queue writers behind it).
        sqlx::raw_sql("SET lock_timeout = '5s'").execute(&mut *conn).await?;
        applied.failed = run_all!(db, conn, change.statements);
        if let Some(failed) = &applied.failed {
            let failed_sql = &change.statements[failed.index - 1];
            applied.dropped_invalid = drop_invalid_index(conn, failed_sql).await;
            compensate_pg(db, conn, change, failed.index, &mut applied).await;
            return Ok(applied);
        }
        pg_record(conn, &change.ledger).await?;
    }
    applied.kept = change.statements.len();
    if let LedgerChange::Record { version, .. } = change.ledger {
        sqlx::query(include_str!("postgres/ledger_finish.sql"))
            .bind(started.elapsed().as_nanos() as i64)
            .bind(version)
            .execute(&mut *conn)
            .await?;
    }
    Ok(applied)
}

/// A CREATE INDEX CONCURRENTLY that fails leaves its index behind, INVALID (still updated by
/// every write, used by no read). Drop it again when the failed statement built one.
async fn drop_invalid_index(conn: &mut sqlx::PgConnection, failed_sql: &str) -> Vec<String> {
    let Some(sqlparser::ast::Statement::CreateIndex(index)) =
        crate::migrate::plan::parse(crate::config::Engine::Postgres, failed_sql)
    else {
        return vec![];
    };
    let Some(name) = index.name.as_ref().filter(|_| index.concurrently) else { return vec![] };
    let invalid: Vec<String> = sqlx::query_scalar(include_str!("postgres/invalid_index.sql"))
        .bind(crate::migrate::plan::base_name(name))
        .fetch_all(&mut *conn)
        .await
        .unwrap_or_default();
    let mut dropped = Vec::new();
    for qualified in invalid {
        let drop = format!("DROP INDEX CONCURRENTLY IF EXISTS {qualified}");
        if sqlx::raw_sql(AssertSqlSafe(drop)).execute(&mut *conn).await.is_ok() {
            dropped.push(qualified);
        }
    }
    dropped
}

async fn compensate_pg(
    db: &Database,
    conn: &mut sqlx::PgConnection,
    change: &Change<'_>,
    failed: usize,
    applied: &mut Applied,
) {
    let inverses: Vec<String> = change.inverses[..failed - 1].iter().rev().flatten().cloned().collect();
    applied.kept = failed - 1;
    for sql in inverses {
        if let Err(e) = sqlx::raw_sql(AssertSqlSafe(sql.clone())).execute(&mut *conn).await {
            applied.compensation_failed = Some(format!("{sql}: {}", crate::engine::sql_error(&db.config, e)));
            return;
        }
        applied.compensated.push(sql);
    }
    applied.kept = 0;
}

async fn sqlite_apply(
    db: &Database,
    conn: &mut sqlx::SqliteConnection,
    change: &Change<'_>,
) -> Result<Applied, sqlx::Error> {
    sqlx::raw_sql(include_str!("sqlite/ledger_create.sql")).execute(&mut *conn).await?;
    let started = Instant::now();
    let mut applied = Applied::default();
    let mut tx = conn.begin_with("BEGIN IMMEDIATE").await?;
    applied.failed = run_all!(db, tx, change.statements);
    if applied.failed.is_some() {
        tx.rollback().await?;
        return Ok(applied);
    }
    let ledger = match change.ledger {
        LedgerChange::Record { version, description, checksum } => {
            sqlx::query(include_str!("sqlite/ledger_insert.sql"))
                .bind(version)
                .bind(description)
                .bind(checksum)
                .execute(&mut *tx)
                .await
                .map(|_| ())
        }
        LedgerChange::Forget { version } => {
            sqlx::query(include_str!("sqlite/ledger_delete.sql")).bind(version).execute(&mut *tx).await.map(|_| ())
        }
        LedgerChange::None => Ok(()),
    };
    if let Err(e) = ledger {
        tx.rollback().await?;
        return Err(e);
    }
    tx.commit().await?;
    applied.kept = change.statements.len();
    if let LedgerChange::Record { version, .. } = change.ledger {
        sqlx::query(include_str!("sqlite/ledger_finish.sql"))
            .bind(started.elapsed().as_nanos() as i64)
            .bind(version)
            .execute(&mut *conn)
            .await?;
    }
    Ok(applied)
}

/// MySQL/MariaDB commit each DDL statement: statement by statement, the ledger row first
/// (not yet successful, as sqlx does), and on failure the inverses of what had run.
async fn mysql_apply(
    db: &Database,
    conn: &mut sqlx::MySqlConnection,
    change: &Change<'_>,
) -> Result<Applied, sqlx::Error> {
    sqlx::raw_sql(include_str!("mysql/ledger_create.sql")).execute(&mut *conn).await?;
    let started = Instant::now();
    let mut applied = Applied::default();
    if let LedgerChange::Record { version, description, checksum } = change.ledger {
        sqlx::query(include_str!("mysql/ledger_insert.sql"))
            .bind(version)
            .bind(description)
            .bind(checksum)
            .execute(&mut *conn)
            .await?;
    }
    applied.failed = run_all!(db, conn, change.statements);
    if let Some(failed) = &applied.failed {
        let failed = failed.index;
        let inverses: Vec<String> = change.inverses[..failed - 1].iter().rev().flatten().cloned().collect();
        applied.kept = failed - 1;
        let missing = change.inverses[..failed - 1].iter().any(Option::is_none);
        for sql in inverses {
            if let Err(e) = sqlx::raw_sql(AssertSqlSafe(sql.clone())).execute(&mut *conn).await {
                applied.compensation_failed = Some(format!("{sql}: {}", crate::engine::sql_error(&db.config, e)));
                break;
            }
            applied.compensated.push(sql);
        }
        if applied.compensation_failed.is_none() && !missing {
            applied.kept = 0;
            // Fully undone: the version is not applied, so its dirty row goes.
            if let LedgerChange::Record { version, .. } = change.ledger {
                sqlx::query(include_str!("mysql/ledger_delete.sql")).bind(version).execute(&mut *conn).await?;
            }
        } else if applied.compensation_failed.is_none() {
            applied.compensation_failed =
                Some("some statements that ran have no inverse; they were left in place".into());
        }
        return Ok(applied);
    }
    applied.kept = change.statements.len();
    match change.ledger {
        LedgerChange::Record { version, .. } => {
            sqlx::query(include_str!("mysql/ledger_finish.sql"))
                .bind(started.elapsed().as_nanos() as i64)
                .bind(version)
                .execute(&mut *conn)
                .await?;
        }
        LedgerChange::Forget { version } => {
            sqlx::query(include_str!("mysql/ledger_delete.sql")).bind(version).execute(&mut *conn).await?;
        }
        LedgerChange::None => {}
    }
    Ok(applied)
}

/// Write a change's ledger row on PostgreSQL (inside its transaction when it has one).
async fn pg_record(conn: &mut sqlx::PgConnection, ledger: &LedgerChange<'_>) -> Result<(), sqlx::Error> {
    match *ledger {
        LedgerChange::Record { version, description, checksum } => {
            sqlx::query(include_str!("postgres/ledger_insert.sql"))
                .bind(version)
                .bind(description)
                .bind(checksum)
                .execute(&mut *conn)
                .await?;
        }
        LedgerChange::Forget { version } => {
            sqlx::query(include_str!("postgres/ledger_delete.sql")).bind(version).execute(&mut *conn).await?;
        }
        LedgerChange::None => {}
    }
    Ok(())
}
