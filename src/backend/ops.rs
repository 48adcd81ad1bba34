//! Data operations: dbt-style data-quality checks, the post-deploy smoke test and idempotent
//! seeds. Statements that name user tables are built here with each engine's identifier quoting
//! (never a user identifier pasted unquoted); fixed catalog queries live in the engines' `.sql` files.

mod quality;
mod seed;
mod smoke;

pub use quality::{QualityCheck, QualityKind, QualityResult};
pub use seed::{SeedFile, SeedOutcome, SeedReport};
pub use smoke::{SmokeCheck, SmokeOptions, SmokeStatus};

use serde_json::Value;
use sqlx::{Executor, pool::PoolConnection};

use super::{Pool, mysql, postgres, sqlite};
use crate::error::ToolError;

/// What generated statements must get right per SQL engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Dialect {
    Postgres,
    Mysql,
    Sqlite,
}

impl Dialect {
    /// A quoted identifier: the quote character inside it is doubled, so nothing escapes it.
    fn ident(self, name: &str) -> String {
        match self {
            Dialect::Mysql => super::backtick(name),
            _ => super::double_quote(name),
        }
    }

    fn table(self, table: &Table) -> String {
        match &table.schema {
            Some(schema) => format!("{}.{}", self.ident(schema), self.ident(&table.name)),
            None => self.ident(&table.name),
        }
    }

    /// The n-th (1-based) bind placeholder.
    fn placeholder(self, n: usize) -> String {
        match self {
            Dialect::Postgres => format!("${n}"),
            _ => "?".into(),
        }
    }

    fn as_text(self, expr: &str) -> String {
        match self {
            Dialect::Mysql => format!("CAST({expr} AS CHAR)"),
            _ => format!("CAST({expr} AS TEXT)"),
        }
    }

    /// Seconds between `expr` (a timestamp, or on SQLite ISO text or Unix seconds) and now.
    fn age_seconds(self, expr: &str) -> String {
        match self {
            Dialect::Postgres => format!("EXTRACT(EPOCH FROM (now() - CAST({expr} AS timestamptz)))::float8"),
            Dialect::Mysql => format!("TIMESTAMPDIFF(SECOND, {expr}, NOW())"),
            Dialect::Sqlite => format!(
                "CASE WHEN typeof({expr}) IN ('integer', 'real') THEN unixepoch('now') - {expr} \
                 ELSE (julianday('now') - julianday({expr})) * 86400.0 END"
            ),
        }
    }
}

/// A table that exists, with its real column names.
#[derive(Debug, Clone)]
struct Table {
    schema: Option<String>,
    name: String,
    columns: Vec<String>,
    primary_key: Vec<String>,
}

impl Table {
    fn shown(&self) -> String {
        match &self.schema {
            Some(s) => format!("{s}.{}", self.name),
            None => self.name.clone(),
        }
    }

    /// The column's real name: an exact match, else the only case-insensitive one.
    fn column(&self, argument: &str, wanted: &str) -> Result<String, ToolError> {
        if let Some(c) = self.columns.iter().find(|c| *c == wanted) {
            return Ok(c.clone());
        }
        let folded: Vec<_> = self.columns.iter().filter(|c| c.eq_ignore_ascii_case(wanted)).collect();
        match folded.as_slice() {
            [one] => Ok((*one).clone()),
            _ => Err(ToolError::invalid(
                argument,
                format!("{} has no column {wanted:?}; its columns: {}", self.shown(), self.columns.join(", ")),
            )),
        }
    }
}

impl super::Database {
    /// Resolve a table argument (`schema.table` where the engine has schemas) against the catalog.
    async fn resolve_table(&self, argument: &str, spec: &str) -> Result<Table, ToolError> {
        let spec = spec.trim();
        if spec.is_empty() {
            return Err(ToolError::invalid(argument, "a table name is required"));
        }
        let (schema, name) = match spec.split_once('.') {
            Some((s, n)) if self.capabilities().schemas => (Some(s), n),
            _ => (None, spec),
        };
        let described = self.describe(schema, name, 1).await?.ok_or_else(|| {
            ToolError::invalid(argument, format!("no table or view named {spec:?}; list-objects shows what exists"))
        })?;
        let names = |key: &str| -> Vec<String> {
            described[key]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|c| c.get("name").and_then(Value::as_str).or_else(|| c.as_str()))
                .map(str::to_string)
                .collect()
        };
        Ok(Table {
            schema: if self.capabilities().schemas { described["schema"].as_str().map(str::to_string) } else { None },
            name: described["name"].as_str().unwrap_or(name).to_string(),
            columns: names("columns"),
            primary_key: names("primary_key"),
        })
    }

    fn dialect(&self) -> Option<Dialect> {
        match self.config.engine {
            crate::config::Engine::Postgres => Some(Dialect::Postgres),
            crate::config::Engine::Mysql => Some(Dialect::Mysql),
            crate::config::Engine::Sqlite => Some(Dialect::Sqlite),
            crate::config::Engine::Mongodb => None,
        }
    }
}

/// One pooled connection held for a whole tool call, inside one transaction. Dropped before
/// `finish` (the call was cancelled or failed to unwind), the connection is closed rather than
/// returned to the pool, so the server rolls the transaction back.
struct Conn {
    inner: Inner,
    finished: bool,
    query_only: bool,
}

enum Inner {
    Postgres(PoolConnection<sqlx::Postgres>),
    Mysql(PoolConnection<sqlx::MySql>),
    Sqlite(PoolConnection<sqlx::Sqlite>),
}

/// A query with JSON values bound in order: null, bool, integer, float or text (arrays and
/// objects as JSON text).
macro_rules! bound {
    ($sql:expr, $binds:expr) => {{
        let mut q = sqlx::query(sqlx::AssertSqlSafe($sql)).persistent(false);
        for v in $binds {
            q = match v {
                Value::Null => q.bind(None::<String>),
                Value::Bool(b) => q.bind(*b),
                Value::Number(n) => match n.as_i64() {
                    Some(i) => q.bind(i),
                    None => q.bind(n.as_f64()),
                },
                Value::String(s) => q.bind(s.clone()),
                other => q.bind(other.to_string()),
            };
        }
        q
    }};
}

impl Conn {
    /// Open a transaction; `read_only` makes the database itself refuse writes.
    async fn begin(pool: &Pool, read_only: bool) -> Result<Conn, sqlx::Error> {
        let mut query_only = false;
        let inner = match pool {
            Pool::Postgres(p) => {
                let mut c = p.acquire().await?;
                c.execute(if read_only { "BEGIN READ ONLY" } else { "BEGIN" }).await?;
                Inner::Postgres(c)
            }
            Pool::Mysql(p) => {
                let mut c = p.acquire().await?;
                c.execute(if read_only { "START TRANSACTION READ ONLY" } else { "START TRANSACTION" }).await?;
                Inner::Mysql(c)
            }
            Pool::Sqlite(p) => {
                let mut c = p.acquire().await?;
                if read_only {
                    c.execute("PRAGMA query_only = ON").await?;
                    query_only = true;
                }
                c.execute(if read_only { "BEGIN" } else { "BEGIN IMMEDIATE" }).await?;
                Inner::Sqlite(c)
            }
            Pool::Mongo(_) => return Err(sqlx::Error::Protocol("not a SQL database".into())),
        };
        Ok(Conn { inner, finished: false, query_only })
    }

    /// Rows as JSON objects keyed by column name.
    async fn rows(&mut self, sql: String, binds: &[Value]) -> Result<Vec<Value>, sqlx::Error> {
        match &mut self.inner {
            Inner::Postgres(c) => super::objects(&bound!(sql, binds).fetch_all(&mut **c).await?, postgres::cell),
            Inner::Mysql(c) => super::objects(&bound!(sql, binds).fetch_all(&mut **c).await?, mysql::cell),
            Inner::Sqlite(c) => super::objects(&bound!(sql, binds).fetch_all(&mut **c).await?, sqlite::cell),
        }
    }

    /// The first column of the first row.
    async fn scalar(&mut self, sql: String, binds: &[Value]) -> Result<Value, sqlx::Error> {
        let rows = self.rows(sql, binds).await?;
        Ok(rows.first().and_then(Value::as_object).and_then(|o| o.values().next().cloned()).unwrap_or(Value::Null))
    }

    /// Run one statement with binds; rows affected.
    async fn execute(&mut self, sql: String, binds: &[Value]) -> Result<u64, sqlx::Error> {
        Ok(match &mut self.inner {
            Inner::Postgres(c) => bound!(sql, binds).execute(&mut **c).await?.rows_affected(),
            Inner::Mysql(c) => bound!(sql, binds).execute(&mut **c).await?.rows_affected(),
            Inner::Sqlite(c) => bound!(sql, binds).execute(&mut **c).await?.rows_affected(),
        })
    }

    /// Run a script of several statements (a seed file) inside the open transaction.
    async fn script(&mut self, sql: &str) -> Result<u64, sqlx::Error> {
        let sql = sqlx::AssertSqlSafe(sql.to_string());
        Ok(match &mut self.inner {
            Inner::Postgres(c) => sqlx::raw_sql(sql).execute(&mut **c).await?.rows_affected(),
            Inner::Mysql(c) => sqlx::raw_sql(sql).execute(&mut **c).await?.rows_affected(),
            Inner::Sqlite(c) => sqlx::raw_sql(sql).execute(&mut **c).await?.rows_affected(),
        })
    }

    /// Commit or roll back. A connection whose transaction state is unknown afterwards is closed.
    async fn finish(mut self, commit: bool) -> Result<(), sqlx::Error> {
        let end = if commit { "COMMIT" } else { "ROLLBACK" };
        let result = match &mut self.inner {
            Inner::Postgres(c) => c.execute(end).await.map(drop),
            Inner::Mysql(c) => c.execute(end).await.map(drop),
            Inner::Sqlite(c) => {
                let ended = c.execute(end).await.map(drop);
                if self.query_only { c.execute("PRAGMA query_only = OFF").await.map(drop).and(ended) } else { ended }
            }
        };
        self.finished = result.is_ok();
        result
    }
}

impl Drop for Conn {
    fn drop(&mut self) {
        if !self.finished {
            match &mut self.inner {
                Inner::Postgres(c) => c.close_on_drop(),
                Inner::Mysql(c) => c.close_on_drop(),
                Inner::Sqlite(c) => c.close_on_drop(),
            }
        }
    }
}

/// A JSON number, or a numeric string (DECIMAL, big integers), as f64.
fn number(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        Value::Bool(b) => Some(f64::from(u8::from(*b))),
        _ => None,
    }
}

/// A BSON number as f64 (counts and durations come back as int32, int64 or double).
fn bson_number(b: &mongodb::bson::Bson) -> Option<f64> {
    use mongodb::bson::Bson;
    match b {
        Bson::Int32(n) => Some(f64::from(*n)),
        Bson::Int64(n) => Some(*n as f64),
        Bson::Double(n) => Some(*n),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_cannot_escape_their_quotes() {
        assert_eq!(Dialect::Postgres.ident(r#"a"; drop table t; --"#), r#""a""; drop table t; --""#);
        assert_eq!(Dialect::Mysql.ident("a`b"), "`a``b`");
        assert_eq!(Dialect::Sqlite.ident("plain"), "\"plain\"");
    }

    #[test]
    fn numbers_read_from_decimal_text() {
        assert_eq!(number(&serde_json::json!("12.5")), Some(12.5));
        assert_eq!(number(&serde_json::json!(3)), Some(3.0));
        assert_eq!(number(&Value::Null), None);
    }
}
