//! load-csv's engine side: what the target table looks like, and staging then merging the rows
//! the reader sends, in one transaction, cancellable on the server.
//!
//! PostgreSQL: a temporary table filled with `COPY FROM STDIN`, merged with `INSERT … SELECT`
//! (`ON CONFLICT` for upserts). MySQL/MariaDB: a temporary table filled with multi-row inserts.
//! SQLite: prepared multi-row inserts into a `temp` table. MongoDB: a scratch collection,
//! merged in one multi-document transaction ([`mongo`]).

use std::sync::{
    Arc,
    atomic::{AtomicBool, Ordering},
};

mod constraints;
mod mongo;
mod reader;
mod tool;
mod values;

pub use constraints::MergeRejects;
use constraints::{Names, Scope, Verdict};

use mongodb::bson::Bson;
use sqlx::{AssertSqlSafe, Connection as _, Executor as _, Row as _};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::engine::{
    Database, backtick, double_quote,
    session::{Access, Conn},
};
use crate::{
    config::{Engine, Mode},
    error::ToolError,
};

/// What a column accepts, as far as load-csv checks before the database sees a value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ValueKind {
    Integer {
        min: i128,
        max: i128,
    },
    Decimal,
    Boolean,
    Date,
    /// `zone`: the column keeps the offset (timestamptz); otherwise offsets are converted to UTC.
    Timestamp {
        zone: bool,
    },
    Time,
    Uuid,
    Json,
    Text {
        max_chars: Option<u32>,
    },
    /// Anything else: the database judges it at staging.
    Other,
}

/// A type guessed from sample values, narrowest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Guess {
    Boolean,
    Integer,
    Bigint,
    Decimal,
    Date,
    Timestamp,
    Timestamptz,
    Uuid,
    Text,
}

#[derive(Debug, Clone)]
pub struct TargetColumn {
    pub name: String,
    /// The declared type, as the database prints it.
    pub type_name: String,
    pub kind: ValueKind,
    pub nullable: bool,
    /// The database fills it when the file has no value (default, identity, generated, rowid).
    pub has_default: bool,
}

/// The table (or collection) a load goes into.
#[derive(Debug, Clone)]
pub struct TargetTable {
    /// The name as the database prints it.
    pub name: String,
    /// Quoted for SQL.
    quoted: String,
    pub columns: Vec<TargetColumn>,
    pub primary_key: Vec<String>,
    /// A collection: any field goes, values are typed by what they look like.
    pub schemaless: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, serde::Serialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum MergeMode {
    /// Every row is new: a key that exists fails the load.
    Insert,
    /// Rows whose key exists replace the stored values; the rest are inserted.
    Upsert,
    /// Rows whose key exists are left out; the rest are inserted.
    SkipDuplicates,
}

/// What the reader sends: rows in batches, then `End` once the whole file was read and judged
/// loadable. A channel that closes without `End` means: merge nothing.
pub enum Feed {
    Rows(Vec<StagedRow>),
    /// Rows already written as CSV for a database that takes CSV in bulk ([`Database::takes_csv`]).
    Csv {
        bytes: Vec<u8>,
        rows: u64,
    },
    End,
}

/// Bad rows kept for the report; the count covers all of them.
pub const MAX_REPORTED_REJECTS: usize = 100;
/// Bad rows listed when the load is refused (on_error: abort).
pub const ABORT_REJECTS: usize = 10;

/// One bad row: where, which column, what value, and why.
#[derive(Debug, Clone, serde::Serialize, schemars::JsonSchema)]
pub struct Reject {
    pub line: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub column: Option<String>,
    /// The value as read (shown as [redacted] in columns named like secrets).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    pub reason: String,
}

/// The rejects file could not be written.
pub fn rejects_file_error(e: impl std::fmt::Display) -> ToolError {
    ToolError::invalid("rejects_file", format!("cannot write it: {e}"))
}

/// One good row: its line in the file and one value per staged column (`None` is NULL).
pub struct StagedRow {
    pub line: u64,
    pub values: Vec<Option<String>>,
}

/// What a load came to.
#[derive(Debug)]
pub enum Loaded {
    /// The reader refused the file (bad rows, on_error abort): nothing was merged.
    FileRefused,
    /// Rows the target's constraints refuse (on_error abort): nothing was merged.
    RowsRefused(MergeRejects),
    Merged(Merged),
}

/// How the merge went.
#[derive(Debug, Default)]
pub struct Merged {
    pub staged: u64,
    pub inserted: u64,
    pub updated: u64,
    /// Upsert rows whose key existed with the very same values: not rewritten.
    pub unchanged: u64,
    pub skipped: u64,
    /// The merge ran without a transaction (a MongoDB standalone, with `non_atomic`).
    pub without_transaction: bool,
    /// Rows the target's constraints refused, left out (on_error skip).
    pub rejects: MergeRejects,
}

impl Merged {
    /// The outcome of a merge of `staged` rows, `existing` of whose keys the target already had
    /// and `updated` of those rewritten (upsert; the rest held the same values).
    fn counted(mode: MergeMode, staged: u64, existing: u64, updated: u64) -> Merged {
        let inserted = staged.saturating_sub(existing);
        match mode {
            MergeMode::Upsert => {
                let updated = updated.min(existing);
                Merged { staged, inserted, updated, unchanged: existing - updated, ..Merged::default() }
            }
            _ => Merged { staged, inserted, skipped: existing, ..Merged::default() },
        }
    }
}

/// A load to run: the target, the staged columns (indexes into `target.columns`), the merge.
pub struct LoadPlan {
    pub target: TargetTable,
    pub columns: Vec<usize>,
    pub mode: MergeMode,
    /// Key columns for upsert / skip-duplicates (default: the primary key).
    pub key: Vec<String>,
    pub timeout_ms: u64,
    /// MongoDB standalone servers: merge without a transaction (the caller accepted it).
    pub non_atomic: bool,
    /// on_error skip: rows the target's constraints refuse are reported and left out.
    pub skip_bad_rows: bool,
    /// Where every bad row is written (the reader's first, then the merge's): the file the tool
    /// created through `FileAccess::create`, shared, so nothing opens the path again.
    pub rejects_file: Option<Arc<std::fs::File>>,
    /// Set once the whole file is staged and the merge runs (progress says so).
    pub merging: Arc<AtomicBool>,
}

impl LoadPlan {
    fn names(&self) -> Vec<&str> {
        self.columns.iter().map(|&i| self.target.columns[i].name.as_str()).collect()
    }
}

const STAGE: &str = "__load_stage";

/// The database loads CSV text in bulk (PostgreSQL's COPY): the reader sends `Feed::Csv`.
pub fn takes_csv(db: &Database) -> bool {
    db.config.engine == Engine::Postgres
}

/// The target's columns and key; `None` when no such table exists (a collection always exists).
pub async fn load_target(db: &Database, table: &str) -> Result<Option<TargetTable>, ToolError> {
    if db.engine() != Engine::Mongodb {
        return db
            .catalog(async |conn| match conn {
                Conn::Postgres(c) => pg_target(c, table).await,
                Conn::Mysql(c) => {
                    sql_target::<sqlx::MySql>(
                        &mut **c,
                        include_str!("mysql/load_target.sql"),
                        table,
                        table,
                        backtick,
                        mysql_kind,
                    )
                    .await
                }
                Conn::Sqlite(c) => {
                    sql_target::<sqlx::Sqlite>(
                        &mut **c,
                        include_str!("sqlite/load_target.sql"),
                        table,
                        table,
                        double_quote,
                        sqlite_kind,
                    )
                    .await
                }
                Conn::Empty => unreachable!("an open session"),
            })
            .await;
    }
    // A collection always exists, with no declared columns.
    Ok(Some(TargetTable {
        name: table.to_string(),
        quoted: table.to_string(),
        columns: vec![],
        primary_key: vec!["_id".into()],
        schemaless: true,
    }))
}

/// Stage what `feed` sends and merge it into the target in one transaction. The feed may end
/// without `End` (the reader refused the file): then nothing is merged. On `cancel`, the
/// statement running on the server is cancelled and everything rolled back.
pub async fn load(
    db: &Database,
    plan: &LoadPlan,
    feed: mpsc::Receiver<Feed>,
    cancel: CancellationToken,
) -> Result<Loaded, ToolError> {
    if db.config.mode != Mode::ReadWrite {
        return Err(ToolError::refused(
            format!("database {} is read-only", db.config.name),
            "load-csv writes: configure the database with mode read-write",
        ));
    }
    let t = plan.timeout_ms;
    if let Ok(m) = db.mongo().await {
        return mongo::load(m, plan, feed, cancel).await;
    }
    // The load runs its own transactions on the session's connection, which it then
    // discards: staging tables and session memory are not for the next call.
    let mut session = db.session(Access::Manual, t).await?;
    let result = match session.conn() {
        Conn::Postgres(c) => pg_load(c, db, plan, feed, cancel).await,
        Conn::Mysql(c) => mysql_load(c, db, plan, feed, cancel).await,
        Conn::Sqlite(c) => sqlite_load(c, plan, feed, cancel).await,
        Conn::Empty => unreachable!("an open session"),
    };
    session.discard();
    match result {
        Err(LoadError::Cancelled) => Err(ToolError::Cancelled),
        Err(LoadError::Sql(e)) => Err(merge_error(db, e, plan, t)),
        Ok(merged) => Ok(merged),
    }
}

/// A failed load, said in terms of what to do about it.
fn merge_error(db: &Database, e: sqlx::Error, plan: &LoadPlan, timeout_ms: u64) -> ToolError {
    let code = e.as_database_error().and_then(|d| d.code()).map(|c| c.into_owned());
    let message = e.as_database_error().map(|d| d.message().to_string()).unwrap_or_else(|| e.to_string());
    let detail = match &e {
        sqlx::Error::Database(d) => d
            .try_downcast_ref::<sqlx::postgres::PgDatabaseError>()
            .and_then(|pg| pg.detail())
            .map(|d| format!(" ({d})"))
            .unwrap_or_default(),
        _ => String::new(),
    };
    let lower = message.to_lowercase();
    // PostgreSQL SQLSTATEs, MySQL/MariaDB's shared 23000 told apart by message, SQLite's
    // extended result codes.
    let unique = matches!(code.as_deref(), Some("23505" | "1555" | "2067"))
        || (code.as_deref() == Some("23000") && lower.contains("duplicate"));
    let foreign_key = matches!(code.as_deref(), Some("23503" | "787")) || lower.contains("foreign key constraint");
    let hint = if unique && plan.mode == MergeMode::Insert {
        "a row's key already exists (in the table or earlier in the file): use mode upsert to update existing rows \
         or skip-duplicates to keep them; nothing was loaded"
    } else if unique {
        "a row conflicts on a unique key other than the merge key: pass `key` naming that unique key, or fix the \
         file; nothing was loaded"
    } else if foreign_key {
        "a foreign key has no matching row: load the referenced table first; nothing was loaded"
    } else {
        match code.as_deref() {
            Some("21000") => {
                "the file holds the same key more than once and upsert cannot apply two rows to one key in one \
                 statement: remove the duplicates (or use skip-duplicates, first row wins); nothing was loaded"
            }
            Some("42P10") => {
                "the key columns have no unique index or primary key to merge on: create one, or pass `key` \
                 naming a unique key; nothing was loaded"
            }
            _ => "nothing was loaded (the transaction was rolled back); check the values with preview: true",
        }
    };
    match db.db_error(e, timeout_ms) {
        ToolError::Database { code, message, .. } => {
            ToolError::Database { code, message: format!("{message}{detail}"), hint: Some(hint.into()) }
        }
        other => other,
    }
}

enum LoadError {
    Cancelled,
    Sql(sqlx::Error),
}

impl From<sqlx::Error> for LoadError {
    fn from(e: sqlx::Error) -> Self {
        LoadError::Sql(e)
    }
}

fn integer(bits: u32, unsigned: bool) -> ValueKind {
    if unsigned {
        ValueKind::Integer { min: 0, max: (1i128 << bits) - 1 }
    } else {
        ValueKind::Integer { min: -(1i128 << (bits - 1)), max: (1i128 << (bits - 1)) - 1 }
    }
}

fn pg_kind(base: &str, max_chars: Option<i64>) -> ValueKind {
    match base {
        "int2" => integer(16, false),
        "int4" => integer(32, false),
        "int8" => integer(64, false),
        "numeric" | "float4" | "float8" => ValueKind::Decimal,
        "bool" => ValueKind::Boolean,
        "date" => ValueKind::Date,
        "timestamp" => ValueKind::Timestamp { zone: false },
        "timestamptz" => ValueKind::Timestamp { zone: true },
        "time" => ValueKind::Time,
        "uuid" => ValueKind::Uuid,
        "json" | "jsonb" => ValueKind::Json,
        "text" | "varchar" | "bpchar" | "citext" | "name" => {
            ValueKind::Text { max_chars: max_chars.map(|n| n.clamp(0, u32::MAX as i64) as u32) }
        }
        _ => ValueKind::Other,
    }
}

fn mysql_kind(base: &str, type_name: &str, max_chars: Option<i64>) -> ValueKind {
    let unsigned = type_name.to_lowercase().contains("unsigned");
    match base.to_lowercase().as_str() {
        "tinyint" => integer(8, unsigned),
        "smallint" => integer(16, unsigned),
        "mediumint" => integer(24, unsigned),
        "int" | "integer" => integer(32, unsigned),
        "bigint" => integer(64, unsigned),
        "decimal" | "float" | "double" | "real" => ValueKind::Decimal,
        "date" => ValueKind::Date,
        "datetime" | "timestamp" => ValueKind::Timestamp { zone: false },
        "time" => ValueKind::Time,
        "json" => ValueKind::Json,
        "char" | "varchar" | "tinytext" | "text" | "mediumtext" | "longtext" => {
            ValueKind::Text { max_chars: max_chars.map(|n| n.clamp(0, u32::MAX as i64) as u32) }
        }
        _ => ValueKind::Other,
    }
}

/// SQLite types by the declared name's affinity rules, plus the names people use for dates.
fn sqlite_kind(base: &str, _type_name: &str, _max_chars: Option<i64>) -> ValueKind {
    let t = base.to_uppercase();
    if t.contains("INT") {
        integer(64, false)
    } else if t.contains("BOOL") {
        ValueKind::Boolean
    } else if t.contains("TIMESTAMP") || t.contains("DATETIME") {
        ValueKind::Timestamp { zone: false }
    } else if t == "DATE" {
        ValueKind::Date
    } else if t.contains("CHAR") || t.contains("CLOB") || t.contains("TEXT") {
        ValueKind::Text { max_chars: None }
    } else if ["REAL", "FLOA", "DOUB", "NUMERIC", "DECIMAL"].iter().any(|k| t.contains(k)) {
        ValueKind::Decimal
    } else {
        ValueKind::Other
    }
}

async fn pg_target(pool: &mut sqlx::PgConnection, table: &str) -> Result<Option<TargetTable>, sqlx::Error> {
    // The name as SQL would read it (folded to lower case unless quoted), then as spelled.
    let found: Option<(i64, String)> = sqlx::query_as(
        "select oid::int8, oid::regclass::text from pg_class
          where oid = coalesce(to_regclass($1), to_regclass(quote_ident($1)))",
    )
    .bind(table)
    .fetch_optional(&mut *pool)
    .await?;
    let Some((oid, name)) = found else { return Ok(None) };
    let rows = sqlx::query(include_str!("postgres/load_target.sql"))
        .bind(sqlx::postgres::types::Oid(oid as u32))
        .fetch_all(&mut *pool)
        .await?;
    let mut columns = Vec::new();
    let mut key: Vec<(i32, String)> = Vec::new();
    for r in &rows {
        let name: String = r.try_get("name")?;
        let max_chars: Option<i32> = r.try_get("max_chars")?;
        if let Some(position) = r.try_get::<Option<i32>, _>("pk_position")? {
            key.push((position, name.clone()));
        }
        columns.push(TargetColumn {
            kind: pg_kind(&r.try_get::<String, _>("base_type")?, max_chars.map(i64::from)),
            type_name: r.try_get("type_name")?,
            nullable: r.try_get("nullable")?,
            has_default: r.try_get("has_default")?,
            name,
        });
    }
    key.sort();
    Ok(Some(TargetTable {
        quoted: name.clone(),
        name,
        columns,
        primary_key: key.into_iter().map(|(_, n)| n).collect(),
        schemaless: false,
    }))
}

/// A text cell from MySQL's information_schema, which may come flagged binary.
fn text_cell<R: sqlx::Row>(row: &R, column: &str) -> Result<String, sqlx::Error>
where
    for<'r> String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> Vec<u8>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> &'r str: sqlx::ColumnIndex<R>,
{
    match row.try_get::<Option<String>, _>(column) {
        Ok(s) => Ok(s.unwrap_or_default()),
        Err(_) => Ok(String::from_utf8_lossy(&row.try_get::<Option<Vec<u8>>, _>(column)?.unwrap_or_default()).into()),
    }
}

/// An integer cell whose width differs between engines and versions.
fn int_cell<R: sqlx::Row>(row: &R, column: &str) -> Result<Option<i64>, sqlx::Error>
where
    for<'r> i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> i32: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> u64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> &'r str: sqlx::ColumnIndex<R>,
{
    if let Ok(v) = row.try_get::<Option<i64>, _>(column) {
        return Ok(v);
    }
    if let Ok(v) = row.try_get::<Option<u64>, _>(column) {
        return Ok(v.map(|v| v as i64));
    }
    Ok(row.try_get::<Option<i32>, _>(column)?.map(i64::from))
}

type KindOf = fn(&str, &str, Option<i64>) -> ValueKind;

async fn sql_target<DB>(
    conn: &mut DB::Connection,
    sql: &'static str,
    table: &str,
    display: &str,
    quote: fn(&str) -> String,
    kind_of: KindOf,
) -> Result<Option<TargetTable>, sqlx::Error>
where
    DB: sqlx::Database,
    for<'c> &'c mut DB::Connection: sqlx::Executor<'c, Database = DB>,
    for<'q> DB::Arguments: sqlx::IntoArguments<DB>,
    for<'r> String: sqlx::Decode<'r, DB> + sqlx::Type<DB> + sqlx::Encode<'r, DB>,
    for<'r> &'r str: sqlx::Encode<'r, DB> + sqlx::Type<DB> + sqlx::ColumnIndex<DB::Row>,
    for<'r> Vec<u8>: sqlx::Decode<'r, DB> + sqlx::Type<DB>,
    for<'r> i64: sqlx::Decode<'r, DB> + sqlx::Type<DB>,
    for<'r> i32: sqlx::Decode<'r, DB> + sqlx::Type<DB>,
    for<'r> u64: sqlx::Decode<'r, DB> + sqlx::Type<DB>,
{
    let rows = sqlx::query(sql).bind(table).fetch_all(&mut *conn).await?;
    if rows.is_empty() {
        return Ok(None);
    }
    let mut columns = Vec::new();
    let mut key: Vec<(i64, String)> = Vec::new();
    for r in &rows {
        let name = text_cell(r, "name")?;
        let type_name = text_cell(r, "type_name")?;
        if let Some(position) = int_cell(r, "pk_position")? {
            key.push((position, name.clone()));
        }
        columns.push(TargetColumn {
            kind: kind_of(&text_cell(r, "base_type")?, &type_name, int_cell(r, "max_chars")?),
            type_name,
            nullable: int_cell(r, "nullable")?.unwrap_or(1) != 0,
            has_default: int_cell(r, "has_default")?.unwrap_or(0) != 0,
            name,
        });
    }
    key.sort();
    Ok(Some(TargetTable {
        name: display.to_string(),
        quoted: quote(table),
        columns,
        primary_key: key.into_iter().map(|(_, n)| n).collect(),
        schemaless: false,
    }))
}

/// One CSV field as PostgreSQL's COPY reads it: NULL is an unquoted empty field. A value is
/// quoted only when it must be: empty (else it would read as NULL), holding a delimiter, quote
/// or line break, or starting with a backslash (`\.` alone on a line ends COPY data).
pub fn csv_field(out: &mut Vec<u8>, value: Option<&str>) {
    let Some(v) = value else { return };
    let plain = !v.is_empty() && !v.starts_with('\\') && !v.bytes().any(|b| matches!(b, b',' | b'"' | b'\n' | b'\r'));
    if plain {
        out.extend_from_slice(v.as_bytes());
        return;
    }
    out.push(b'"');
    for (i, part) in v.split('"').enumerate() {
        if i > 0 {
            out.extend_from_slice(b"\"\"");
        }
        out.extend_from_slice(part.as_bytes());
    }
    out.push(b'"');
}

/// The merge statement's tail for PostgreSQL and SQLite (`ON CONFLICT`). The target is aliased
/// `t`; an upsert rewrites only rows whose values differ, so reloading an unchanged export writes
/// nothing (no new row versions, no update triggers). `distinct` is the null-safe "differs"
/// operator (`IS DISTINCT FROM`, SQLite's `IS NOT`).
fn on_conflict(plan: &LoadPlan, quote: fn(&str) -> String, excluded: &str, distinct: &str) -> String {
    let key: Vec<String> = plan.key.iter().map(|k| quote(k)).collect();
    let changing: Vec<&TargetColumn> =
        plan.columns.iter().map(|&i| &plan.target.columns[i]).filter(|c| !plan.key.contains(&c.name)).collect();
    let updates: Vec<String> = changing.iter().map(|c| format!("{q} = {excluded}.{q}", q = quote(&c.name))).collect();
    // Types without an equality operator (json, xml, geometric, ...) are compared as text:
    // at worst an unchanged row is rewritten, never a changed one skipped.
    let compared = |side: &str| -> String {
        let items: Vec<String> = changing
            .iter()
            .map(|c| {
                let q = quote(&c.name);
                let comparable = match c.kind {
                    ValueKind::Other => false,
                    ValueKind::Json => c.type_name == "jsonb",
                    _ => true,
                };
                if distinct == "IS NOT" {
                    // Byte for byte: a NOCASE column's change of case is still a change.
                    format!("{side}.{q} COLLATE BINARY")
                } else if comparable {
                    format!("{side}.{q}")
                } else {
                    format!("{side}.{q}::text")
                }
            })
            .collect();
        format!("({})", items.join(", "))
    };
    match plan.mode {
        MergeMode::Insert => String::new(),
        MergeMode::Upsert if !updates.is_empty() => format!(
            " ON CONFLICT ({}) DO UPDATE SET {} WHERE {} {distinct} {}",
            key.join(", "),
            updates.join(", "),
            compared("t"),
            compared(excluded)
        ),
        _ => format!(" ON CONFLICT ({}) DO NOTHING", key.join(", ")),
    }
}

/// Run `work` unless `cancel` fires first; then `on_cancel` stops what runs on the server.
async fn cancellable<T, F, C>(cancel: &CancellationToken, work: F, on_cancel: C) -> Result<T, LoadError>
where
    F: std::future::Future<Output = Result<T, LoadError>>,
    C: std::future::Future<Output = ()>,
{
    tokio::select! {
        r = work => r,
        _ = cancel.cancelled() => {
            on_cancel.await;
            Err(LoadError::Cancelled)
        }
    }
}

async fn pg_load(
    conn: &mut sqlx::PgConnection,
    db: &Database,
    plan: &LoadPlan,
    feed: mpsc::Receiver<Feed>,
    cancel: CancellationToken,
) -> Result<Loaded, LoadError> {
    let pid: i32 = sqlx::query_scalar("select pg_backend_pid()").fetch_one(&mut *conn).await?;
    // Room for the staging table in the session's own memory (allocated only as it fills):
    // with the 8 MB default a large file is written out to temporary files and read back.
    // It can only be set before the session first touches a temporary table; if this one
    // already did, the load runs with what it has.
    let _ = conn.execute(AssertSqlSafe(format!("SET temp_buffers = '{}MB'", PG_TEMP_BUFFERS_MB))).await;
    let work = pg_stage_and_merge(conn, plan, feed);
    cancellable(&cancel, work, async {
        // Ends the session: its transaction rolls back and its statement stops on the server.
        db.end_connection(i64::from(pid)).await;
    })
    .await
}

/// The staging table's share of the loading session's memory, at most.
const PG_TEMP_BUFFERS_MB: u32 = 256;

async fn pg_stage_and_merge(
    conn: &mut sqlx::PgConnection,
    plan: &LoadPlan,
    mut feed: mpsc::Receiver<Feed>,
) -> Result<Loaded, LoadError> {
    let names: Vec<String> = plan.names().into_iter().map(double_quote).collect();
    let columns = names.join(", ");
    let timeout = format!("SET LOCAL statement_timeout = {}", plan.timeout_ms);
    // Staging has a transaction of its own and the target is locked only for the merge: a long
    // file streaming in never holds a lock that DDL would queue behind (and other sessions behind
    // that). The staging table is created and filled in one transaction so that COPY can write
    // its rows frozen (the merge then reads them without visibility checks). It lives until the
    // session ends, and the session ends after the load.
    // `__line` names a row the target's constraints refuse, should the merge fail.
    conn.execute(AssertSqlSafe(format!(
        "CREATE TEMP TABLE {STAGE} AS SELECT {columns}, 0::int8 AS __line FROM {} WITH NO DATA",
        plan.target.quoted
    )))
    .await?;
    conn.execute("BEGIN").await?;
    conn.execute(AssertSqlSafe(timeout.clone())).await?;
    conn.execute(AssertSqlSafe(format!("TRUNCATE {STAGE}"))).await?;
    let mut copy =
        conn.copy_in_raw(&format!("COPY {STAGE} ({columns}, __line) FROM STDIN WITH (FORMAT csv, FREEZE)")).await?;
    let mut staged = 0u64;
    let mut buffer = Vec::with_capacity(1 << 20);
    let mut complete = false;
    while let Some(item) = feed.recv().await {
        match item {
            Feed::Rows(rows) => {
                buffer.clear();
                for row in &rows {
                    for v in &row.values {
                        csv_field(&mut buffer, v.as_deref());
                        buffer.push(b',');
                    }
                    buffer.extend_from_slice(itoa::Buffer::new().format(row.line).as_bytes());
                    buffer.push(b'\n');
                }
                staged += rows.len() as u64;
                copy.send(buffer.as_slice()).await?;
            }
            Feed::Csv { bytes, rows } => {
                staged += rows;
                copy.send(bytes.as_slice()).await?;
            }
            Feed::End => {
                complete = true;
                break;
            }
        }
    }
    if !complete {
        copy.abort("load-csv: the file was refused").await.ok();
        conn.execute("ROLLBACK").await?;
        return Ok(Loaded::FileRefused);
    }
    copy.finish().await?;
    conn.execute("COMMIT").await?;

    plan.merging.store(true, Ordering::Relaxed);
    conn.execute("BEGIN").await?;
    conn.execute(AssertSqlSafe(timeout)).await?;
    // Compiling this one-pass statement costs more than JIT could save on it.
    conn.execute("SET LOCAL jit = off").await?;
    // Rows inserted and updated in this transaction, from the session's own statistics (the
    // partitions of a partitioned table included): no RETURNING list to collect and count.
    let written = || {
        sqlx::query_as::<_, (i64, i64)>(
            "select coalesce(sum(pg_stat_get_xact_tuples_inserted(relid)), 0)::int8,
                    coalesce(sum(pg_stat_get_xact_tuples_updated(relid)), 0)::int8
               from (select $1::regclass as relid union select relid from pg_partition_tree($1::regclass)) r",
        )
        .bind(&plan.target.quoted)
    };
    let merge = format!(
        "INSERT INTO {} AS t ({columns}) SELECT {columns} FROM {STAGE}{}",
        plan.target.quoted,
        on_conflict(plan, double_quote, "EXCLUDED", "IS DISTINCT FROM")
    );
    let mut rejects = MergeRejects::new(plan.rejects_file.as_ref());
    conn.execute("SAVEPOINT load_merge").await?;
    let (mut inserted_before, mut updated_before) = written().fetch_one(&mut *conn).await?;
    if let Err(e) = conn.execute(AssertSqlSafe(merge.clone())).await {
        if !constraints::is_violation(&e) {
            return Err(e.into());
        }
        // Which rows, by line: the statement's error names one at best.
        conn.execute("ROLLBACK TO SAVEPOINT load_merge").await?;
        let names = Names {
            quote: double_quote,
            stage: STAGE.into(),
            target: plan.target.quoted.clone(),
            text: pg_text,
            tolerant: false,
        };
        let verdict = match constraints::postgres(conn, &plan.target.quoted).await {
            Ok(rules) => {
                constraints::screen::<sqlx::Postgres>(conn, &names, &rules, plan, Scope::All, &mut rejects).await
            }
            Err(x) => Err(x),
        };
        match verdict {
            // Nothing found (or the search failed): the merge's own error says what it can.
            Ok(Verdict::Clean) | Err(_) => return Err(e.into()),
            Ok(Verdict::Refused) => {
                conn.execute("ROLLBACK").await?;
                return Ok(Loaded::RowsRefused(rejects));
            }
            Ok(Verdict::Removed(n)) => {
                staged -= n;
                (inserted_before, updated_before) = written().fetch_one(&mut *conn).await?;
                conn.execute(AssertSqlSafe(merge)).await?;
            }
        }
    }
    let (inserted_after, updated_after) = written().fetch_one(&mut *conn).await?;
    conn.execute("COMMIT").await?;
    let inserted = (inserted_after - inserted_before).max(0) as u64;
    let updated = (updated_after - updated_before).max(0) as u64;
    // Every staged row not inserted had its key in the target.
    let merged = Merged::counted(plan.mode, staged, staged.saturating_sub(inserted), updated);
    Ok(Loaded::Merged(Merged { rejects, ..merged }))
}

fn pg_text(expr: &str) -> String {
    format!("CAST({expr} AS text)")
}

fn mysql_text(expr: &str) -> String {
    format!("CAST({expr} AS CHAR)")
}

fn sqlite_text(expr: &str) -> String {
    format!("CAST({expr} AS TEXT)")
}

/// Rows per multi-row INSERT into the staging table: under the engine's bind-parameter limit.
fn rows_per_insert(columns: usize, max_params: usize) -> usize {
    (max_params / (columns + 1)).clamp(1, 1000)
}

/// Stage batches with multi-row inserts; `false` when the feed ended without `End`.
async fn stage_rows<DB>(
    conn: &mut DB::Connection,
    insert_head: &str,
    columns: usize,
    max_params: usize,
    feed: &mut mpsc::Receiver<Feed>,
    staged: &mut u64,
) -> Result<bool, sqlx::Error>
where
    DB: sqlx::Database,
    for<'c> &'c mut DB::Connection: sqlx::Executor<'c, Database = DB>,
    for<'q> DB::Arguments: sqlx::IntoArguments<DB>,
    for<'r> Option<String>: sqlx::Encode<'r, DB> + sqlx::Type<DB>,
    for<'r> i64: sqlx::Encode<'r, DB> + sqlx::Type<DB>,
{
    let per_statement = rows_per_insert(columns, max_params);
    let tuple = format!("({})", vec!["?"; columns + 1].join(", "));
    while let Some(item) = feed.recv().await {
        let rows = match item {
            Feed::Rows(rows) => rows,
            Feed::End => return Ok(true),
            Feed::Csv { .. } => {
                return Err(sqlx::Error::Protocol("load-csv sent CSV to an engine that takes rows".into()));
            }
        };
        for chunk in rows.chunks(per_statement) {
            let sql = format!("{insert_head} VALUES {}", vec![tuple.as_str(); chunk.len()].join(", "));
            let mut query = sqlx::query(AssertSqlSafe(sql));
            for row in chunk {
                for v in &row.values {
                    query = query.bind(v.clone());
                }
                query = query.bind(row.line as i64);
            }
            query.execute(&mut *conn).await?;
            *staged += chunk.len() as u64;
        }
    }
    Ok(false)
}

/// Join condition between the staging table `s` and the target `t` on the key.
fn key_join(plan: &LoadPlan, quote: fn(&str) -> String) -> String {
    plan.key.iter().map(|k| format!("s.{q} = t.{q}", q = quote(k))).collect::<Vec<_>>().join(" AND ")
}

async fn mysql_load(
    conn: &mut sqlx::MySqlConnection,
    db: &Database,
    plan: &LoadPlan,
    feed: mpsc::Receiver<Feed>,
    cancel: CancellationToken,
) -> Result<Loaded, LoadError> {
    let id: u64 = sqlx::query_scalar("SELECT CONNECTION_ID()").fetch_one(&mut *conn).await?;
    let work = mysql_stage_and_merge(conn, plan, feed);
    cancellable(&cancel, work, async {
        // Ends the session: MariaDB rolls its transaction back and stops its statement.
        db.end_connection(id as i64).await;
    })
    .await
}

async fn mysql_stage_and_merge(
    conn: &mut sqlx::MySqlConnection,
    plan: &LoadPlan,
    mut feed: mpsc::Receiver<Feed>,
) -> Result<Loaded, LoadError> {
    let names: Vec<String> = plan.names().into_iter().map(backtick).collect();
    let columns = names.join(", ");
    // The session set the statement timeout and lock waits.
    conn.execute("START TRANSACTION").await?;
    // A temporary table neither commits the transaction nor outlives the session.
    conn.execute(AssertSqlSafe(format!(
        "CREATE TEMPORARY TABLE {STAGE} AS SELECT {columns}, CAST(0 AS SIGNED) AS __line FROM {} LIMIT 0",
        plan.target.quoted
    )))
    .await?;
    let head = format!("INSERT INTO {STAGE} ({columns}, __line)");
    let mut staged = 0;
    if !stage_rows::<sqlx::MySql>(conn, &head, names.len(), 65_000, &mut feed, &mut staged).await? {
        conn.execute("ROLLBACK").await?;
        return Ok(Loaded::FileRefused);
    }
    plan.merging.store(true, Ordering::Relaxed);
    let n = Names {
        quote: backtick,
        stage: STAGE.into(),
        target: plan.target.quoted.clone(),
        text: mysql_text,
        tolerant: true,
    };
    let mut rejects = MergeRejects::new(plan.rejects_file.as_ref());
    let mut rules = None;
    if plan.mode != MergeMode::Insert {
        // ON DUPLICATE KEY fires on any unique key, and a later row of the file overwrites an
        // earlier one: such rows are found before the merge, which would not fail on them.
        let found = rules.insert(constraints::mysql(conn, &plan.target.name).await?);
        let silent = Scope::Silent { any_unique_key: true };
        match constraints::screen::<sqlx::MySql>(conn, &n, found, plan, silent, &mut rejects).await? {
            Verdict::Clean => {}
            Verdict::Removed(removed) => staged -= removed,
            Verdict::Refused => {
                conn.execute("ROLLBACK").await?;
                return Ok(Loaded::RowsRefused(rejects));
            }
        }
    }
    // An upsert leaves alone rows that hold these very values (compared byte for byte, not by
    // collation): they are neither rewritten nor seen by update triggers.
    let mut unchanged = 0;
    if plan.mode == MergeMode::Upsert {
        let same: Vec<String> = plan
            .names()
            .into_iter()
            .filter(|c| !plan.key.iter().any(|k| k == c))
            .map(|c| format!("CAST(t.{q} AS BINARY) <=> CAST(s.{q} AS BINARY)", q = backtick(c)))
            .collect();
        let same = if same.is_empty() { String::new() } else { format!(" AND {}", same.join(" AND ")) };
        unchanged = conn
            .execute(AssertSqlSafe(format!(
                "DELETE s FROM {STAGE} s JOIN {} t ON {}{same}",
                plan.target.quoted,
                key_join(plan, backtick)
            )))
            .await?
            .rows_affected();
        staged -= unchanged;
    }
    let tail = match plan.mode {
        MergeMode::Insert => String::new(),
        MergeMode::Upsert => {
            let mut updates: Vec<String> = plan
                .names()
                .into_iter()
                .filter(|c| !plan.key.iter().any(|k| k == c))
                .map(|c| format!("{q} = VALUES({q})", q = backtick(c)))
                .collect();
            if updates.is_empty() {
                updates.push(format!("{t}.{q} = {t}.{q}", t = plan.target.quoted, q = backtick(&plan.key[0])));
            }
            format!(" ON DUPLICATE KEY UPDATE {}", updates.join(", "))
        }
        // A no-op update keeps the stored row without INSERT IGNORE, which would also hide
        // every other error as a warning.
        MergeMode::SkipDuplicates => {
            format!(" ON DUPLICATE KEY UPDATE {t}.{q} = {t}.{q}", t = plan.target.quoted, q = backtick(&plan.key[0]))
        }
    };
    let merge =
        format!("INSERT INTO {} ({columns}) SELECT {columns} FROM {STAGE} ORDER BY __line{tail}", plan.target.quoted);
    let existing_sql =
        format!("SELECT COUNT(*) FROM {STAGE} s JOIN {} t ON {}", plan.target.quoted, key_join(plan, backtick));
    let mut existing = 0;
    if plan.mode != MergeMode::Insert {
        existing =
            sqlx::query_scalar::<_, i64>(AssertSqlSafe(existing_sql.clone())).fetch_one(&mut *conn).await? as u64;
    }
    // A failed statement is undone by InnoDB on its own; the transaction goes on.
    let affected = match conn.execute(AssertSqlSafe(merge.clone())).await {
        Ok(done) => done.rows_affected(),
        Err(e) if constraints::is_violation(&e) => {
            let rules = match rules {
                Some(rules) => rules,
                None => constraints::mysql(conn, &plan.target.name).await?,
            };
            match constraints::screen::<sqlx::MySql>(conn, &n, &rules, plan, Scope::All, &mut rejects).await? {
                Verdict::Clean => return Err(e.into()),
                Verdict::Removed(removed) => staged -= removed,
                Verdict::Refused => {
                    conn.execute("ROLLBACK").await?;
                    return Ok(Loaded::RowsRefused(rejects));
                }
            }
            if plan.mode != MergeMode::Insert {
                existing =
                    sqlx::query_scalar::<_, i64>(AssertSqlSafe(existing_sql)).fetch_one(&mut *conn).await? as u64;
            }
            conn.execute(AssertSqlSafe(merge)).await?.rows_affected()
        }
        Err(e) => return Err(e.into()),
    };
    conn.execute("COMMIT").await?;
    // Affected rows (sqlx connects with CLIENT_FOUND_ROWS): 1 per insert, 2 per update, 1 per
    // skip-duplicates row kept as it was: one per staged row, plus one per update.
    let updated = affected.saturating_sub(staged);
    let merged = Merged::counted(plan.mode, staged + unchanged, existing + unchanged, updated);
    Ok(Loaded::Merged(Merged { rejects, ..merged }))
}

async fn sqlite_load(
    conn: &mut sqlx::SqliteConnection,
    plan: &LoadPlan,
    feed: mpsc::Receiver<Feed>,
    cancel: CancellationToken,
) -> Result<Loaded, LoadError> {
    // The session's progress handler interrupts the running statement at the deadline or on
    // cancel (SQLITE_INTERRUPT); the connection is discarded after the load.
    cancellable(&cancel, sqlite_stage_and_merge(conn, plan, feed), async {}).await
}

async fn sqlite_stage_and_merge(
    conn: &mut sqlx::SqliteConnection,
    plan: &LoadPlan,
    mut feed: mpsc::Receiver<Feed>,
) -> Result<Loaded, LoadError> {
    let names: Vec<String> = plan.names().into_iter().map(double_quote).collect();
    let columns = names.join(", ");
    let mut tx = conn.begin_with("BEGIN IMMEDIATE").await?;
    tx.execute(AssertSqlSafe(format!(
        "CREATE TEMP TABLE {STAGE} AS SELECT {columns}, 0 AS __line FROM main.{} LIMIT 0",
        plan.target.quoted
    )))
    .await?;
    let head = format!("INSERT INTO temp.{STAGE} ({columns}, __line)");
    let mut staged = 0;
    if !stage_rows::<sqlx::Sqlite>(&mut tx, &head, names.len(), 32_000, &mut feed, &mut staged).await? {
        tx.rollback().await?;
        return Ok(Loaded::FileRefused);
    }
    plan.merging.store(true, Ordering::Relaxed);
    let target = format!("main.{}", plan.target.quoted);
    let n = Names {
        quote: double_quote,
        stage: format!("temp.{STAGE}"),
        target: target.clone(),
        text: sqlite_text,
        tolerant: true,
    };
    let mut rejects = MergeRejects::new(plan.rejects_file.as_ref());
    let mut rules = None;
    if plan.mode == MergeMode::Upsert {
        // A key repeated in the file would let its last row win without an error.
        let found = rules.insert(constraints::sqlite(&mut tx, &plan.target.name).await?);
        let silent = Scope::Silent { any_unique_key: false };
        match constraints::screen::<sqlx::Sqlite>(&mut tx, &n, found, plan, silent, &mut rejects).await? {
            Verdict::Clean => {}
            Verdict::Removed(removed) => staged -= removed,
            Verdict::Refused => {
                tx.rollback().await?;
                return Ok(Loaded::RowsRefused(rejects));
            }
        }
    }
    let existing_sql =
        format!("SELECT COUNT(*) FROM temp.{STAGE} s JOIN {target} t ON {}", key_join(plan, double_quote));
    let mut existing = 0;
    if plan.mode != MergeMode::Insert {
        existing = sqlx::query_scalar::<_, i64>(AssertSqlSafe(existing_sql.clone())).fetch_one(&mut *tx).await? as u64;
    }
    // `WHERE true` tells SQLite's parser the ON CONFLICT belongs to the INSERT.
    let merge = format!(
        "INSERT INTO {target} AS t ({columns}) SELECT {columns} FROM temp.{STAGE} WHERE true ORDER BY __line{}",
        on_conflict(plan, double_quote, "excluded", "IS NOT")
    );
    // A failed statement is undone on its own (SQLite's statement journal); the transaction goes on.
    let written = match tx.execute(AssertSqlSafe(merge.clone())).await {
        Ok(done) => done.rows_affected(),
        Err(e) if constraints::is_violation(&e) => {
            let rules = match rules {
                Some(rules) => rules,
                None => constraints::sqlite(&mut tx, &plan.target.name).await?,
            };
            match constraints::screen::<sqlx::Sqlite>(&mut tx, &n, &rules, plan, Scope::All, &mut rejects).await? {
                Verdict::Clean => return Err(e.into()),
                Verdict::Removed(removed) => staged -= removed,
                Verdict::Refused => {
                    tx.rollback().await?;
                    return Ok(Loaded::RowsRefused(rejects));
                }
            }
            if plan.mode != MergeMode::Insert {
                existing = sqlx::query_scalar::<_, i64>(AssertSqlSafe(existing_sql)).fetch_one(&mut *tx).await? as u64;
            }
            tx.execute(AssertSqlSafe(merge)).await?.rows_affected()
        }
        Err(e) => return Err(e.into()),
    };
    tx.execute(AssertSqlSafe(format!("DROP TABLE temp.{STAGE}"))).await?;
    tx.commit().await?;
    // Changes count inserted and rewritten rows; an unchanged row is neither.
    let updated = written.saturating_sub(staged - existing);
    let merged = Merged::counted(plan.mode, staged, existing, updated);
    Ok(Loaded::Merged(Merged { rejects, ..merged }))
}

/// A CSV value as BSON: integers, decimals, booleans, dates and timestamps by what they look like,
/// the rest text.
pub fn bson_value(value: Option<&str>) -> Bson {
    let Some(v) = value else { return Bson::Null };
    if let Ok(i) = v.parse::<i64>() {
        return i32::try_from(i).map(Bson::Int32).unwrap_or(Bson::Int64(i));
    }
    if v.contains(['.', 'e', 'E'])
        && let Ok(f) = v.parse::<f64>()
        && f.is_finite()
    {
        return Bson::Double(f);
    }
    match v {
        "true" => Bson::Boolean(true),
        "false" => Bson::Boolean(false),
        // What preview guesses a date or timestamp is stored as one, so it sorts and compares
        // as a date.
        _ => values::bson_date(v).map_or_else(|| Bson::String(v.to_string()), Bson::DateTime),
    }
}

/// A CREATE TABLE for columns guessed from a file: (name, type, longest value, never empty).
/// `None` for collections, which need none.
pub fn create_table_for(db: &Database, table: &str, columns: &[(String, Guess, usize, bool)]) -> Option<String> {
    let engine = db.config.engine;
    let quote: fn(&str) -> String = match engine {
        Engine::Mysql => backtick,
        Engine::Mongodb => return None,
        _ => double_quote,
    };
    let lines: Vec<String> = columns
        .iter()
        .map(|(name, guess, max_chars, full)| {
            let ty = column_type(engine, *guess, *max_chars);
            let key = name == "id" && matches!(guess, Guess::Integer | Guess::Bigint | Guess::Uuid) && *full;
            let constraint = if key {
                " PRIMARY KEY"
            } else if *full {
                " NOT NULL"
            } else {
                ""
            };
            format!("  {} {ty}{constraint}", quote(name))
        })
        .collect();
    let name = if engine == Engine::Postgres { table.to_string() } else { quote(table) };
    Some(format!("CREATE TABLE {name} (\n{}\n);", lines.join(",\n")))
}

/// The engine's column type for a guessed type.
fn column_type(engine: Engine, guess: Guess, max_chars: usize) -> String {
    let text_width = (max_chars.max(1) * 2).next_power_of_two().max(16);
    match (engine, guess) {
        (Engine::Postgres, Guess::Boolean) => "boolean".into(),
        (Engine::Postgres, Guess::Integer) => "integer".into(),
        (Engine::Postgres, Guess::Bigint) => "bigint".into(),
        (Engine::Postgres, Guess::Decimal) => "numeric".into(),
        (Engine::Postgres, Guess::Date) => "date".into(),
        (Engine::Postgres, Guess::Timestamp) => "timestamp".into(),
        (Engine::Postgres, Guess::Timestamptz) => "timestamptz".into(),
        (Engine::Postgres, Guess::Uuid) => "uuid".into(),
        (Engine::Postgres, Guess::Text) => "text".into(),
        (Engine::Mysql, Guess::Boolean) => "BOOLEAN".into(),
        (Engine::Mysql, Guess::Integer) => "INT".into(),
        (Engine::Mysql, Guess::Bigint) => "BIGINT".into(),
        (Engine::Mysql, Guess::Decimal) => "DECIMAL(38, 10)".into(),
        (Engine::Mysql, Guess::Date) => "DATE".into(),
        (Engine::Mysql, Guess::Timestamp | Guess::Timestamptz) => "DATETIME(6)".into(),
        (Engine::Mysql, Guess::Uuid) => "CHAR(36)".into(),
        (Engine::Mysql, Guess::Text) if text_width <= 1024 => format!("VARCHAR({text_width})"),
        (Engine::Mysql, Guess::Text) => "TEXT".into(),
        (_, Guess::Boolean) => "BOOLEAN".into(),
        (_, Guess::Integer | Guess::Bigint) => "INTEGER".into(),
        (_, Guess::Decimal) => "REAL".into(),
        (_, Guess::Date) => "DATE".into(),
        (_, Guess::Timestamp | Guess::Timestamptz) => "TIMESTAMP".into(),
        (_, Guess::Uuid | Guess::Text) => "TEXT".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn column(name: &str, type_name: &str, kind: ValueKind) -> TargetColumn {
        TargetColumn { name: name.into(), type_name: type_name.into(), kind, nullable: true, has_default: false }
    }

    fn plan(mode: MergeMode) -> LoadPlan {
        LoadPlan {
            target: TargetTable {
                name: "t".into(),
                quoted: "\"t\"".into(),
                columns: vec![
                    column("id", "integer", ValueKind::Integer { min: 0, max: 9 }),
                    column("doc", "json", ValueKind::Json),
                    column("tags", "jsonb", ValueKind::Json),
                    column("spot", "point", ValueKind::Other),
                ],
                primary_key: vec!["id".into()],
                schemaless: false,
            },
            columns: vec![0, 1, 2, 3],
            mode,
            key: vec!["id".into()],
            timeout_ms: 1,
            non_atomic: false,
            skip_bad_rows: false,
            rejects_file: None,
            merging: Arc::default(),
        }
    }

    #[test]
    fn upserts_rewrite_only_rows_that_differ_comparing_as_text_what_has_no_equality() {
        assert_eq!(
            on_conflict(&plan(MergeMode::Upsert), double_quote, "EXCLUDED", "IS DISTINCT FROM"),
            " ON CONFLICT (\"id\") DO UPDATE SET \"doc\" = EXCLUDED.\"doc\", \"tags\" = EXCLUDED.\"tags\", \
             \"spot\" = EXCLUDED.\"spot\" WHERE (t.\"doc\"::text, t.\"tags\", t.\"spot\"::text) IS DISTINCT FROM \
             (EXCLUDED.\"doc\"::text, EXCLUDED.\"tags\", EXCLUDED.\"spot\"::text)"
        );
        // SQLite compares any two values, byte for byte whatever the column's collation.
        assert!(on_conflict(&plan(MergeMode::Upsert), double_quote, "excluded", "IS NOT").ends_with(
            "WHERE (t.\"doc\" COLLATE BINARY, t.\"tags\" COLLATE BINARY, t.\"spot\" COLLATE BINARY) IS NOT \
             (excluded.\"doc\" COLLATE BINARY, excluded.\"tags\" COLLATE BINARY, excluded.\"spot\" COLLATE BINARY)"
        ));
        assert_eq!(
            on_conflict(&plan(MergeMode::SkipDuplicates), double_quote, "EXCLUDED", "IS DISTINCT FROM"),
            " ON CONFLICT (\"id\") DO NOTHING"
        );
        assert_eq!(on_conflict(&plan(MergeMode::Insert), double_quote, "EXCLUDED", "IS DISTINCT FROM"), "");
    }

    fn field(v: Option<&str>) -> String {
        let mut out = Vec::new();
        csv_field(&mut out, v);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn copy_fields_are_quoted_only_when_they_must_be() {
        assert_eq!(field(None), "");
        assert_eq!(field(Some("")), "\"\"");
        assert_eq!(field(Some("plain text")), "plain text");
        assert_eq!(field(Some("a,b")), "\"a,b\"");
        assert_eq!(field(Some("say \"hi\"")), "\"say \"\"hi\"\"\"");
        assert_eq!(field(Some("two\nlines")), "\"two\nlines\"");
        assert_eq!(field(Some("\\.")), "\"\\.\"");
    }
}
