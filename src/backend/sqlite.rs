//! SQLite: read-only databases open their file read-only (the library refuses writes, and no
//! statement can switch that off); timeouts are a progress handler with a deadline.

use std::{
    str::FromStr,
    time::{Duration, Instant},
};

use serde_json::{Value, json};
use sqlx::{
    AssertSqlSafe, Column as _, Row, SqlitePool, TypeInfo, ValueRef,
    sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteRow},
};

use super::{Check, Health, ObjectPage, ObjectQuery, RowSet, SqlCall, b64};
use crate::{
    config::{DatabaseConfig, Mode},
    safety::StatementKind,
};

pub(super) fn pool(cfg: &DatabaseConfig) -> Result<SqlitePool, String> {
    let mut options = SqliteConnectOptions::from_str(cfg.url.expose())
        .map_err(|e| e.to_string())?
        .busy_timeout(Duration::from_secs(5))
        .foreign_keys(true);
    options = match cfg.mode {
        Mode::ReadOnly => options.read_only(true),
        Mode::ReadWrite => options.journal_mode(SqliteJournalMode::Wal),
    };
    Ok(SqlitePoolOptions::new()
        .max_connections(4)
        .acquire_timeout(Duration::from_secs(5))
        .idle_timeout(Duration::from_secs(300))
        .connect_lazy_with(options))
}

pub(super) async fn run(pool: &SqlitePool, call: &SqlCall<'_>) -> Result<RowSet, sqlx::Error> {
    let mut conn = pool.acquire().await?;
    let deadline = Instant::now() + Duration::from_millis(call.timeout_ms);
    // Returning false interrupts the statement (SQLITE_INTERRUPT).
    conn.lock_handle().await?.set_progress_handler(1_000, move || Instant::now() < deadline);
    let result = run_in_transaction(&mut conn, call).await;
    conn.lock_handle().await?.remove_progress_handler();
    result
}

async fn run_in_transaction(conn: &mut sqlx::SqliteConnection, call: &SqlCall<'_>) -> Result<RowSet, sqlx::Error> {
    let mut tx = sqlx::Connection::begin(conn).await?;
    let sql = call.checked.capped_sql.clone().unwrap_or_else(|| call.sql.to_string());
    // SQLite runs in-process: stopping at the cap costs nothing.
    let (rows, affected) = read_rows!(&mut *tx, sql, call.cap, true);
    let mut out = super::row_set(&rows, call.cap, cell, storage_class)?;
    if matches!(call.checked.kind, StatementKind::Dml | StatementKind::Ddl) {
        out.rows_affected = Some(affected);
    }
    if call.mode == Mode::ReadWrite {
        tx.commit().await?;
    } else {
        tx.rollback().await?;
    }
    Ok(out)
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
fn cell(row: &SqliteRow, i: usize) -> Result<Value, sqlx::Error> {
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

fn parse_json(text: Option<String>) -> Result<Option<Value>, sqlx::Error> {
    text.map(|t| serde_json::from_str(&t).map_err(|e| sqlx::Error::Decode(Box::new(e)))).transpose()
}

pub(super) async fn list_objects(pool: &SqlitePool, q: &ObjectQuery) -> Result<ObjectPage, sqlx::Error> {
    let text: Option<String> = sqlx::query_scalar(include_str!("sqlite/list_objects.sql"))
        .bind(q.pattern.as_deref())
        .bind(q.limit)
        .bind(q.offset)
        .fetch_one(pool)
        .await?;
    Ok(super::page(parse_json(text)?.unwrap_or(Value::Null)))
}

pub(super) async fn describe(pool: &SqlitePool, name: &str) -> Result<Option<Value>, sqlx::Error> {
    let text: Option<String> =
        sqlx::query_scalar(include_str!("sqlite/describe.sql")).bind(name).fetch_optional(pool).await?;
    let Some(mut detail) = parse_json(text)? else { return Ok(None) };
    if detail["kind"] == "table" {
        // max(rowid) walks one b-tree edge: a cheap estimate where count(*) would scan.
        let quoted = format!("\"{}\"", name.replace('"', "\"\""));
        let estimate: Option<i64> = sqlx::query_scalar(AssertSqlSafe(format!("SELECT max(rowid) FROM {quoted}")))
            .fetch_one(pool)
            .await
            .unwrap_or(None);
        detail["row_estimate"] = json!(estimate.unwrap_or(0));
    }
    Ok(Some(detail))
}

pub(super) async fn health(pool: &SqlitePool, cfg: &DatabaseConfig) -> Result<Health, sqlx::Error> {
    let text: Option<String> = sqlx::query_scalar(include_str!("sqlite/health.sql")).fetch_one(pool).await?;
    let v = parse_json(text)?.unwrap_or(Value::Null);
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
