//! The engine layer: the closed set of engines, a lazily built pool per database (private to this
//! module), a call's session, decoding and catalog basics. Capabilities talk to a [`Database`]
//! and ask its [`Capabilities`]; their own per-engine code dispatches in their `db.rs`.

#[macro_use]
mod rows {
    /// A query with JSON values bound in order: null, bool, integer, float or text (arrays and
    /// objects as JSON text). Never cached as a prepared statement.
    macro_rules! bound {
        ($sql:expr, $binds:expr) => {{
            let mut q = sqlx::query(sqlx::AssertSqlSafe($sql)).persistent(false);
            for v in $binds {
                q = match v {
                    serde_json::Value::Null => q.bind(None::<String>),
                    serde_json::Value::Bool(b) => q.bind(*b),
                    serde_json::Value::Number(n) => match n.as_i64() {
                        Some(i) => q.bind(i),
                        None => q.bind(n.as_f64()),
                    },
                    serde_json::Value::String(s) => q.bind(s.clone()),
                    other => q.bind(other.to_string()),
                };
            }
            q
        }};
    }

    /// Run one statement on an executor and decode its rows as they arrive, stopping at `cap`
    /// rows (one more is read to tell whether the result was cut) or once the decoded values
    /// pass `max_bytes`. Evaluates to `(RowSet, rows affected, stopped early)`; a read that
    /// stopped early left rows unread on the connection. The parser has checked it is one
    /// statement, so fetch_many's multi-statement caveat does not apply.
    macro_rules! stream_rows {
        ($executor:expr, $query:expr, $cap:expr, $max_bytes:expr, $cell:expr, $type_name:expr) => {{
            use futures::TryStreamExt as _;
            let mut out = $crate::engine::RowSet::default();
            let mut bytes = 0usize;
            let mut affected: u64 = 0;
            let mut stopped = false;
            {
                #[allow(deprecated)]
                let mut stream = $query.fetch_many($executor);
                while let Some(item) = stream.try_next().await? {
                    match item {
                        sqlx::Either::Left(done) => affected += done.rows_affected(),
                        sqlx::Either::Right(row) => {
                            if out.columns.is_empty() {
                                out.columns = $crate::engine::columns_of(&row, $type_name);
                            }
                            if out.rows.len() == $cap {
                                out.more = true;
                                stopped = true;
                                break;
                            }
                            let mut cells =
                                (0..sqlx::Row::len(&row)).map(|i| $cell(&row, i)).collect::<Result<Vec<_>, _>>()?;
                            // A value larger than the whole answer may be is cut here, so no copy
                            // of it travels on to the output layer.
                            cells.iter_mut().for_each(|c| $crate::engine::cut_value(c, $max_bytes / 4));
                            bytes += cells.iter().map($crate::engine::approx_json_len).sum::<usize>();
                            out.rows.push(cells);
                            if bytes > $max_bytes {
                                stopped = true;
                                break;
                            }
                        }
                    }
                }
            }
            (out, affected, stopped)
        }};
    }
}

mod connection;
pub(crate) mod mongo;
pub(crate) mod mysql;
pub(crate) mod postgres;
pub mod session;
pub(crate) mod sqlite;

pub use mongo::DocumentSet;

use std::time::Instant;

use serde::Serialize;
use serde_json::Value;
use tokio::sync::OnceCell;

use crate::{
    config::{DatabaseConfig, Engine, Mode},
    error::ToolError,
};

tokio::task_local! {
    /// The running tool call's cancellation (the client's notifications/cancelled).
    static CANCEL: tokio_util::sync::CancellationToken;
}

/// Run a tool call with its cancellation token in reach of the engine code, which stops the
/// statement (and closes its connection, so the server stops it too) when the client cancels.
pub async fn with_cancellation<F: std::future::Future>(
    token: tokio_util::sync::CancellationToken,
    call: F,
) -> F::Output {
    CANCEL.scope(token, call).await
}

/// The current call's cancellation token, when it runs under [`with_cancellation`].
pub(crate) fn cancel_token() -> Option<tokio_util::sync::CancellationToken> {
    CANCEL.try_with(Clone::clone).ok()
}

pub(crate) fn is_cancelled() -> bool {
    cancel_token().is_some_and(|t| t.is_cancelled())
}

/// A double-quoted identifier (PostgreSQL, SQLite): the quote inside is doubled, so nothing
/// escapes it.
pub(crate) fn double_quote(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// A backtick-quoted identifier (MySQL/MariaDB), the backtick inside doubled.
pub(crate) fn backtick(name: &str) -> String {
    format!("`{}`", name.replace('`', "``"))
}

/// What an engine can do. Tools decide with these flags, never with the engine's name.
#[derive(Debug, Clone, Copy, Serialize, schemars::JsonSchema)]
pub struct Capabilities {
    /// Speaks SQL (run-sql applies).
    pub sql: bool,
    /// Stores documents queried with filters and pipelines (run-mongo applies).
    pub documents: bool,
    /// Has schemas inside a database.
    pub schemas: bool,
    /// Has row level security policies.
    pub row_level_security: bool,
    /// Indexes can be tried without building them (PostgreSQL with HypoPG).
    pub hypothetical_indexes: bool,
    /// Has catalog audit rules (security-audit).
    pub audit_rules: bool,
    /// DDL takes part in transactions (a failed change leaves nothing behind).
    pub transactional_ddl: bool,
}

impl Engine {
    pub fn capabilities(self) -> Capabilities {
        match self {
            Engine::Postgres => Capabilities {
                sql: true,
                documents: false,
                schemas: true,
                row_level_security: true,
                hypothetical_indexes: true,
                audit_rules: true,
                transactional_ddl: true,
            },
            Engine::Mysql => Capabilities {
                sql: true,
                documents: false,
                schemas: false,
                row_level_security: false,
                hypothetical_indexes: false,
                audit_rules: true,
                transactional_ddl: false,
            },
            Engine::Sqlite => Capabilities {
                sql: true,
                documents: false,
                schemas: false,
                row_level_security: false,
                hypothetical_indexes: false,
                audit_rules: false,
                transactional_ddl: true,
            },
            Engine::Mongodb => Capabilities {
                sql: false,
                documents: true,
                schemas: false,
                row_level_security: false,
                hypothetical_indexes: false,
                audit_rules: true,
                transactional_ddl: false,
            },
        }
    }
}

/// One result column.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Column {
    pub name: String,
    /// The engine's type name (e.g. `INT8`, `TIMESTAMPTZ`, `VARCHAR`; for SQLite the value's storage class).
    #[serde(rename = "type")]
    pub type_name: String,
}

/// Rows read from a statement, at most `cap` of them.
#[derive(Debug, Default)]
pub struct RowSet {
    pub columns: Vec<Column>,
    pub rows: Vec<Vec<Value>>,
    /// The statement produced more rows than the cap.
    pub more: bool,
    /// Rows changed by a write.
    pub rows_affected: Option<u64>,
}

/// Filter and page for listing objects.
pub struct ObjectQuery {
    pub schema: Option<String>,
    /// SQL LIKE pattern, case-insensitive.
    pub pattern: Option<String>,
    pub limit: i64,
    pub offset: i64,
}

/// A page of objects as JSON rows plus the total matching the filter.
pub struct ObjectPage {
    pub objects: Vec<Value>,
    pub total: i64,
}

/// One check of env-check.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Check {
    pub check: String,
    pub status: CheckStatus,
    pub detail: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum CheckStatus {
    Ok,
    Warn,
    Fail,
}

impl Check {
    pub fn ok(check: &str, detail: impl Into<String>) -> Self {
        Check { check: check.into(), status: CheckStatus::Ok, detail: detail.into(), fix: None }
    }
    pub fn warn(check: &str, detail: impl Into<String>, fix: impl Into<String>) -> Self {
        Check { check: check.into(), status: CheckStatus::Warn, detail: detail.into(), fix: Some(fix.into()) }
    }
    pub fn fail(check: &str, detail: impl Into<String>, fix: impl Into<String>) -> Self {
        Check { check: check.into(), status: CheckStatus::Fail, detail: detail.into(), fix: Some(fix.into()) }
    }
}

/// What the engine says about itself for env-check.
#[derive(Debug, Default)]
pub struct Health {
    pub version: Option<String>,
    pub checks: Vec<Check>,
}

enum Pool {
    Postgres(sqlx::PgPool),
    Mysql(sqlx::MySqlPool),
    Sqlite(sqlx::SqlitePool),
    Mongo(mongo::Mongo),
}

/// A configured database. The pool is built on first use: startup never touches a server.
pub struct Database {
    pub config: DatabaseConfig,
    pool: OnceCell<Pool>,
    /// The least-privilege login's pool (`reader_url`), built on first read.
    reader_pool: OnceCell<Pool>,
    /// Whom the model's reads run as, decided on first read.
    read_as: OnceCell<session::ReadAs>,
    /// MySQL/MariaDB: what the server is, for the settings every session begins with.
    mysql_flavor: OnceCell<mysql::session::Flavor>,
}

impl Database {
    pub fn new(config: DatabaseConfig) -> Self {
        Self {
            config,
            pool: OnceCell::new(),
            reader_pool: OnceCell::new(),
            read_as: OnceCell::new(),
            mysql_flavor: OnceCell::new(),
        }
    }

    /// The pool of the least-privilege login, when one is configured.
    async fn reader_pool(&self) -> Result<Option<&Pool>, ToolError> {
        let Some(url) = &self.config.reader_url else { return Ok(None) };
        let pool = self
            .reader_pool
            .get_or_try_init(|| async {
                let mut cfg = self.config.clone();
                cfg.url = url.clone();
                cfg.mode = Mode::ReadOnly;
                let config_error = |message: String| ToolError::Config { database: cfg.name.clone(), message };
                Ok::<_, ToolError>(match cfg.engine {
                    Engine::Postgres => Pool::Postgres(postgres::pool(&cfg).map_err(config_error)?),
                    Engine::Mysql => Pool::Mysql(mysql::pool(&cfg).map_err(config_error)?),
                    _ => return Err(config_error("reader_url applies to PostgreSQL and MySQL/MariaDB".into())),
                })
            })
            .await?;
        Ok(Some(pool))
    }

    /// The MongoDB handle (a document database's only way in; SQL engines go through
    /// sessions).
    pub(crate) async fn mongo(&self) -> Result<&mongo::Mongo, ToolError> {
        match self.pool().await? {
            Pool::Mongo(m) => Ok(m),
            _ => Err(self.needs_documents("document queries")),
        }
    }

    /// End another connection of this database's login, by its backend pid (PostgreSQL) or
    /// connection id (MySQL/MariaDB): its transaction rolls back and its statement stops. The
    /// one way a flow that runs its own transactions (a load) stops on cancel. Best effort.
    pub(crate) async fn end_connection(&self, id: i64) {
        use sqlx::Executor as _;
        match self.pool().await {
            Ok(Pool::Postgres(p)) => {
                let _ = sqlx::query("SELECT pg_terminate_backend($1)").bind(id as i32).execute(p).await;
            }
            Ok(Pool::Mysql(p)) => {
                let _ = p.execute(sqlx::AssertSqlSafe(format!("KILL {id}"))).await;
            }
            _ => {}
        }
    }

    pub fn engine(&self) -> Engine {
        self.config.engine
    }

    pub fn capabilities(&self) -> Capabilities {
        self.config.engine.capabilities()
    }

    async fn pool(&self) -> Result<&Pool, ToolError> {
        self.pool
            .get_or_try_init(|| async {
                let cfg = &self.config;
                let config_error = |message: String| ToolError::Config { database: cfg.name.clone(), message };
                Ok(match cfg.engine {
                    Engine::Postgres => Pool::Postgres(postgres::pool(cfg).map_err(config_error)?),
                    Engine::Mysql => Pool::Mysql(mysql::pool(cfg).map_err(config_error)?),
                    Engine::Sqlite => Pool::Sqlite(sqlite::pool(cfg).map_err(config_error)?),
                    Engine::Mongodb => Pool::Mongo(mongo::Mongo::connect(cfg).await.map_err(config_error)?),
                })
            })
            .await
    }

    /// Turn a driver error into a tool error the model can act on; a timeout names the limit
    /// the call ran under.
    pub(crate) fn db_error(&self, e: sqlx::Error, timeout_ms: u64) -> ToolError {
        if is_cancelled() {
            return ToolError::Cancelled;
        }
        match sql_error(&self.config, e) {
            ToolError::Timeout { .. } => ToolError::Timeout { timeout_ms },
            other => other,
        }
    }

    pub async fn list_objects(&self, q: &ObjectQuery) -> Result<ObjectPage, ToolError> {
        let result = match self.pool().await? {
            Pool::Postgres(p) => postgres::list_objects(p, q).await,
            Pool::Mysql(p) => mysql::list_objects(p, q).await,
            Pool::Sqlite(p) => sqlite::list_objects(p, q).await,
            Pool::Mongo(m) => return m.list_objects(q).await,
        };
        result.map_err(|e| self.db_error(e, self.config.statement_timeout_ms))
    }

    /// Describe one table, view or collection; `None` when it does not exist.
    pub async fn describe(&self, schema: Option<&str>, name: &str, sample: i64) -> Result<Option<Value>, ToolError> {
        let result = match self.pool().await? {
            Pool::Postgres(p) => postgres::describe(p, schema, name).await,
            Pool::Mysql(p) => mysql::describe(p, schema, name).await,
            Pool::Sqlite(p) => sqlite::describe(p, name).await,
            Pool::Mongo(m) => return m.describe(name, sample).await,
        };
        result.map_err(|e| self.db_error(e, self.config.statement_timeout_ms))
    }

    /// Names of tables or collections, for argument completion.
    pub async fn object_names(&self, prefix: &str) -> Result<Vec<String>, ToolError> {
        let page = self
            .list_objects(&ObjectQuery {
                schema: None,
                pattern: Some(format!("{}%", like_escape(prefix))),
                limit: 100,
                offset: 0,
            })
            .await?;
        Ok(page.objects.iter().filter_map(|o| o.get("name").and_then(Value::as_str).map(str::to_string)).collect())
    }

    /// Connect, measure, and ask the engine about itself.
    pub async fn health(&self) -> (Option<f64>, Health) {
        let started = Instant::now();
        let pool = match self.pool().await {
            Ok(p) => p,
            Err(e) => {
                return (
                    None,
                    Health { version: None, checks: vec![Check::fail("config", e.to_string(), "fix the URL")] },
                );
            }
        };
        let health = match pool {
            Pool::Postgres(p) => postgres::health(p, &self.config).await,
            Pool::Mysql(p) => mysql::health(p, &self.config).await,
            Pool::Sqlite(p) => sqlite::health(p, &self.config).await,
            Pool::Mongo(m) => m.health(&self.config).await,
        };
        match health {
            // An engine may report a failed connection as a check rather than an error.
            Ok(h) if h.checks.iter().any(|c| c.check == "connectivity" && c.status == CheckStatus::Fail) => (None, h),
            Ok(h) => (Some(started.elapsed().as_secs_f64() * 1000.0), h),
            Err(e) => {
                let e = self.db_error(e, self.config.statement_timeout_ms);
                let fix = e.hint().unwrap_or_default();
                (None, Health { version: None, checks: vec![Check::fail("connectivity", e.to_string(), fix)] })
            }
        }
    }

    /// The error for SQL asked of a document database.
    pub(crate) fn needs_sql(&self, what: &str) -> ToolError {
        ToolError::Unsupported {
            what: what.into(),
            engine: self.config.engine,
            hint: "this is a document database: use run-mongo (or explain-analyze with a collection) with a filter or an aggregation pipeline".into(),
        }
    }

    /// The error for a document query asked of a SQL database.
    pub(crate) fn needs_documents(&self, what: &str) -> ToolError {
        ToolError::Unsupported {
            what: what.into(),
            engine: self.config.engine,
            hint: "this is a SQL database: use run-sql (or explain-analyze with `sql`)".into(),
        }
    }
}

/// A result's columns, named and typed from one of its rows.
pub(crate) fn columns_of<R: sqlx::Row>(row: &R, type_name: fn(&R, usize) -> String) -> Vec<Column> {
    use sqlx::Column as _;
    row.columns()
        .iter()
        .enumerate()
        .map(|(i, c)| Column { name: c.name().to_string(), type_name: type_name(row, i) })
        .collect()
}

/// Cut a text value longer than `max` bytes (at a character boundary), marking the cut.
pub(crate) fn cut_value(v: &mut Value, max: usize) {
    if let Value::String(s) = v
        && s.len() > max
    {
        let mut end = max;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
        s.shrink_to_fit();
        s.push_str("…[cut]");
    }
}

/// About how many bytes a value takes as JSON, without writing it out.
pub(crate) fn approx_json_len(v: &Value) -> usize {
    match v {
        Value::Null | Value::Bool(_) => 5,
        Value::Number(_) => 12,
        Value::String(s) => s.len() + 2,
        Value::Array(a) => 2 + a.iter().map(approx_json_len).sum::<usize>() + a.len(),
        Value::Object(o) => 2 + o.iter().map(|(k, v)| k.len() + 4 + approx_json_len(v)).sum::<usize>(),
    }
}

/// The declared type name of a result column.
pub(crate) fn declared_type<R: sqlx::Row>(row: &R, i: usize) -> String {
    use sqlx::{Column as _, TypeInfo as _};
    row.columns()[i].type_info().name().to_string()
}

/// A connection-level failure before anything ran: safe to retry on a fresh connection.
pub(crate) fn is_connection_error(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Io(_) | sqlx::Error::Protocol(_) | sqlx::Error::Tls(_) => true,
        // PostgreSQL's goodbye on a terminated session (57P01-57P03) and connection exceptions (08).
        sqlx::Error::Database(d) => d.code().is_some_and(|c| c.starts_with("57P0") || c.starts_with("08")),
        _ => false,
    }
}

/// Escape `%`, `_` and `\` for a LIKE pattern.
pub fn like_escape(s: &str) -> String {
    s.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_")
}

pub(crate) fn sql_error(cfg: &DatabaseConfig, e: sqlx::Error) -> ToolError {
    match e {
        sqlx::Error::Database(d) => {
            let code = d.code().map(|c| c.into_owned());
            let timed_out = matches!(code.as_deref(), Some("57014" | "1969" | "3024" | "70100"))
                || (cfg.engine == Engine::Sqlite && code.as_deref() == Some("9"));
            if timed_out {
                return ToolError::Timeout { timeout_ms: cfg.statement_timeout_ms };
            }
            let read_only = matches!(code.as_deref(), Some("25006" | "1792" | "8"));
            let hint = if read_only {
                Some(format!(
                    "database {} is {}; writes are refused by the database itself",
                    cfg.name,
                    cfg.mode.as_str()
                ))
            } else {
                None
            };
            ToolError::Database { code, message: d.message().to_string(), hint }
        }
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Protocol(_)
        | sqlx::Error::Configuration(_) => {
            ToolError::Connect { database: cfg.name.clone(), engine: cfg.engine, message: e.to_string() }
        }
        other => ToolError::Database { code: None, message: other.to_string(), hint: None },
    }
}

/// A catalog query's JSON text (NULL when nothing matched) as a value.
pub(crate) fn parse_json(text: Option<String>) -> Result<Option<Value>, sqlx::Error> {
    text.map(|t| serde_json::from_str(&t).map_err(|e| sqlx::Error::Decode(Box::new(e)))).transpose()
}

pub(crate) fn b64(bytes: &[u8]) -> Value {
    use base64::Engine as _;
    Value::String(base64::engine::general_purpose::STANDARD.encode(bytes))
}

/// `{"total": n, "objects": [...]}` from a catalog query.
pub(crate) fn page(v: Value) -> ObjectPage {
    ObjectPage {
        total: v.get("total").and_then(Value::as_i64).unwrap_or(0),
        objects: v.get("objects").and_then(Value::as_array).cloned().unwrap_or_default(),
    }
}

/// A loopback or socket connection, where TLS adds nothing.
pub(crate) fn is_local(cfg: &DatabaseConfig) -> bool {
    let url = cfg.url.expose();
    let host = url
        .split_once("://")
        .map(|(_, rest)| rest.split(['/', '?']).next().unwrap_or(""))
        .map(|auth| auth.rsplit_once('@').map_or(auth, |(_, h)| h))
        .unwrap_or("");
    host.is_empty() || host.starts_with("127.") || host.starts_with("localhost") || host.starts_with("[::1]")
}

/// Rows as JSON objects keyed by column name, decoded with the engine's cell decoder.
pub(crate) fn objects<R: sqlx::Row>(
    rows: &[R],
    cell: fn(&R, usize) -> Result<Value, sqlx::Error>,
) -> Result<Vec<Value>, sqlx::Error> {
    use sqlx::Column as _;
    rows.iter()
        .map(|row| {
            let mut object = serde_json::Map::new();
            for (i, column) in row.columns().iter().enumerate() {
                object.insert(column.name().to_string(), cell(row, i)?);
            }
            Ok(Value::Object(object))
        })
        .collect()
}

/// Loads, EXPLAIN ANALYZE and migrations run long on purpose: sqlx's "slow statement" warning
/// (any statement over a second) would only be noise on stderr, so it is logged at debug.
pub(crate) fn quiet_slow_statements<O: sqlx::ConnectOptions>(options: O) -> O {
    options.log_slow_statements(log::LevelFilter::Debug, std::time::Duration::from_secs(1))
}
