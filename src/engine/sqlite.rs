//! SQLite: read-only databases open their file read-only (the library refuses writes, and no
//! statement can switch that off); timeouts are a progress handler with a deadline.

use std::{str::FromStr, time::Duration};

use serde_json::{Value, json};
use sqlx::{
    AssertSqlSafe, Column as _, Row, SqlitePool, TypeInfo, ValueRef,
    sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteRow},
};

use super::{Check, Health, ObjectPage, ObjectQuery, b64};
use crate::config::{DatabaseConfig, Mode};

pub(crate) mod session;

pub(crate) fn pool(cfg: &DatabaseConfig) -> Result<SqlitePool, String> {
    let mut options = SqliteConnectOptions::from_str(cfg.url.expose())
        .map_err(|e| e.to_string())?
        .busy_timeout(Duration::from_secs(5))
        .foreign_keys(true);
    options = match cfg.mode {
        Mode::ReadOnly => options.read_only(true),
        Mode::ReadWrite => options.journal_mode(SqliteJournalMode::Wal),
    };
    Ok(SqlitePoolOptions::new()
        .after_connect(|conn, _| {
            Box::pin(async move {
                // No connection may attach another database file: SQLite refuses ATTACH itself,
                // whatever the SQL check lets through.
                let mut handle = conn.lock_handle().await?;
                // SAFETY: the handle is locked for the duration of the call, and sqlite3_limit
                // only changes a limit of this one connection.
                unsafe {
                    libsqlite3_sys::sqlite3_limit(
                        handle.as_raw_handle().as_ptr(),
                        libsqlite3_sys::SQLITE_LIMIT_ATTACHED,
                        0,
                    );
                }
                Ok(())
            })
        })
        .max_connections(4)
        .acquire_timeout(Duration::from_secs(5))
        .idle_timeout(Duration::from_secs(300))
        .connect_lazy_with(super::quiet_slow_statements(options)))
}

/// The declared type when the column has one, else the first row's storage class.
fn storage_class(row: &SqliteRow, i: usize) -> String {
    let declared = row.columns()[i].type_info().name().to_string();
    if declared != "NULL" {
        return declared;
    }
    row.try_get_raw(i).map(|v| v.type_info().name().to_string()).unwrap_or_else(|_| "NULL".into())
}

/// SQLite is dynamically typed: decode by the value's storage class, not the declared type.
pub(crate) fn cell(row: &SqliteRow, i: usize) -> Result<Value, sqlx::Error> {
    let raw = row.try_get_raw(i)?;
    if raw.is_null() {
        return Ok(Value::Null);
    }
    let ty = raw.type_info().name().to_string();
    Ok(match ty.as_str() {
        "INTEGER" | "BOOLEAN" | "INT8" => json!(row.try_get_unchecked::<i64, _>(i)?),
        "REAL" => json!(row.try_get_unchecked::<f64, _>(i)?),
        "BLOB" => b64(&row.try_get_unchecked::<Vec<u8>, _>(i)?),
        _ => match row.try_get_unchecked::<String, _>(i) {
            Ok(s) => json!(s),
            Err(_) => json!(row.try_get_unchecked::<f64, _>(i)?),
        },
    })
}

pub(crate) async fn list_objects(pool: &SqlitePool, q: &ObjectQuery) -> Result<ObjectPage, sqlx::Error> {
    let text: Option<String> = sqlx::query_scalar(include_str!("sqlite/list_objects.sql"))
        .bind(q.pattern.as_deref())
        .bind(q.limit)
        .bind(q.offset)
        .fetch_one(pool)
        .await?;
    Ok(super::page(super::parse_json(text)?.unwrap_or(Value::Null)))
}

pub(crate) async fn describe(pool: &SqlitePool, name: &str) -> Result<Option<Value>, sqlx::Error> {
    let text: Option<String> =
        sqlx::query_scalar(include_str!("sqlite/describe.sql")).bind(name).fetch_optional(pool).await?;
    let Some(mut detail) = super::parse_json(text)? else { return Ok(None) };
    if detail["kind"] == "table" {
        // max(rowid) walks one b-tree edge: a cheap estimate where count(*) would scan.
        let quoted = super::double_quote(name);
        let estimate: Option<i64> = sqlx::query_scalar(AssertSqlSafe(format!("SELECT max(rowid) FROM {quoted}")))
            .fetch_one(pool)
            .await
            .unwrap_or(None);
        detail["row_estimate"] = json!(estimate.unwrap_or(0));
    }
    Ok(Some(detail))
}

pub(crate) async fn health(pool: &SqlitePool, cfg: &DatabaseConfig) -> Result<Health, sqlx::Error> {
    let text: Option<String> = sqlx::query_scalar(include_str!("sqlite/health.sql")).fetch_one(pool).await?;
    let v = super::parse_json(text)?.unwrap_or(Value::Null);
    let file = v["file"].as_str().unwrap_or("");
    let mut checks = vec![Check::ok(
        "connectivity",
        format!("opened {}", if file.is_empty() { "an in-memory database" } else { file }),
    )];
    checks.push(Check::ok(
        "mode",
        match cfg.mode {
            Mode::ReadOnly => "file opened read-only: SQLite itself refuses every write",
            Mode::ReadWrite => "file opened read-write",
        },
    ));
    checks.push(if v["foreign_keys"] == json!(1) {
        Check::ok("foreign_keys", "enforced on this connection")
    } else {
        Check::warn("foreign_keys", "not enforced", "PRAGMA foreign_keys = ON on every connection")
    });
    let journal = v["journal_mode"].as_str().unwrap_or("?");
    checks.push(if journal == "wal" || cfg.mode == Mode::ReadOnly {
        Check::ok("journal_mode", journal)
    } else {
        Check::warn("journal_mode", journal, "PRAGMA journal_mode = WAL lets readers run while one writer commits")
    });
    let bytes = v["page_count"].as_i64().unwrap_or(0) * v["page_size"].as_i64().unwrap_or(0);
    checks.push(Check::ok("size", format!("{bytes} bytes")));
    Ok(Health { version: v["version"].as_str().map(|s| format!("SQLite {s}")), checks })
}
