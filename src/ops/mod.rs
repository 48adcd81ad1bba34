//! Data operations: dbt-style data-quality checks, the post-deploy smoke test and idempotent
//! seeds. Statements that name user tables are built here with each engine's identifier quoting
//! (never a user identifier pasted unquoted); fixed catalog queries live in the engines' `.sql` files.

mod checks_file;
mod quality;
mod seed;
mod smoke;
mod tool;

pub use quality::{QualityCheck, QualityKind, QualityResult};
pub use seed::{SeedFile, SeedOutcome, SeedReport};
pub use smoke::{SmokeCheck, SmokeOptions, SmokeStatus};

use serde_json::Value;

use crate::{engine::Database, error::ToolError};

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
            Dialect::Mysql => crate::engine::backtick(name),
            _ => crate::engine::double_quote(name),
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

/// Resolve a table argument (`schema.table` where the engine has schemas) against the catalog.
async fn resolve_table(db: &Database, argument: &str, spec: &str) -> Result<Table, ToolError> {
    let spec = spec.trim();
    if spec.is_empty() {
        return Err(ToolError::invalid(argument, "a table name is required"));
    }
    let (schema, name) = match spec.split_once('.') {
        Some((s, n)) if db.capabilities().schemas => (Some(s), n),
        _ => (None, spec),
    };
    let described = db.describe(schema, name, 1).await?.ok_or_else(|| {
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
        schema: if db.capabilities().schemas { described["schema"].as_str().map(str::to_string) } else { None },
        name: described["name"].as_str().unwrap_or(name).to_string(),
        columns: names("columns"),
        primary_key: names("primary_key"),
    })
}

fn dialect(db: &Database) -> Option<Dialect> {
    match db.config.engine {
        crate::config::Engine::Postgres => Some(Dialect::Postgres),
        crate::config::Engine::Mysql => Some(Dialect::Mysql),
        crate::config::Engine::Sqlite => Some(Dialect::Sqlite),
        crate::config::Engine::Mongodb => None,
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
