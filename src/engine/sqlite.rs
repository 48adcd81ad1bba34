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

/// SQLite's query plan, plus (with analyze) a timed run inside a transaction that is always
/// rolled back. SQLite reports no row counts per step, so the run's row count and the scanned
/// table's size stand in for them.
/// The query plan, and with `analyze` a timed run, in the session (a reader's, or a trial that
/// is always rolled back).
pub(crate) async fn explain(
    session: &mut super::session::Session<'_>,
    call: &super::ExplainCall<'_>,
) -> Result<super::Explained, crate::error::ToolError> {
    use crate::plan::{Access, PlanNode};
    let result = session
        .guard(async |conn, _| {
            let super::session::Conn::Sqlite(c) = conn else { unreachable!() };
            // Reading the schema table first makes the plan see the current schema: a connection
            // that has not read since another one created an index would plan without it.
            let _: i64 = sqlx::query_scalar("SELECT count(*) FROM sqlite_schema").fetch_one(&mut **c).await?;
            // Columns: id, parent, notused, detail.
            let steps: Vec<(i64, i64, i64, String)> =
                sqlx::query_as(AssertSqlSafe(format!("EXPLAIN QUERY PLAN {}", call.sql)))
                    .persistent(false)
                    .fetch_all(&mut **c)
                    .await?;
            let steps: Vec<(i64, i64, String)> =
                steps.into_iter().map(|(id, parent, _, detail)| (id, parent, detail)).collect();
            let mut measured = None;
            if call.analyze {
                use futures::TryStreamExt as _;
                let started = Instant::now();
                // Count the rows without keeping them: the result can be any size.
                let mut rows = 0_usize;
                let mut affected = 0;
                {
                    #[allow(deprecated)] // one statement, checked by the parser
                    let mut stream =
                        sqlx::query(AssertSqlSafe(call.sql.to_string())).persistent(false).fetch_many(&mut **c);
                    while let Some(item) = stream.try_next().await? {
                        match item {
                            sqlx::Either::Left(done) => affected += done.rows_affected(),
                            sqlx::Either::Right(_) => rows += 1,
                        }
                    }
                }
                measured = Some((started.elapsed().as_secs_f64() * 1000.0, rows as f64, affected));
            }
            Ok((steps, measured))
        })
        .await;
    let (steps, measured) = result?;

    // Rebuild the tree from (id, parent) pairs.
    fn build(steps: &[(i64, i64, String)], parent: i64) -> Vec<PlanNode> {
        steps
            .iter()
            .filter(|(_, p, _)| *p == parent)
            .map(|(id, _, detail)| {
                let words: Vec<&str> = detail.split_whitespace().collect();
                let verb = words.first().copied().unwrap_or("");
                let relation = matches!(verb, "SCAN" | "SEARCH").then(|| words.get(1).map(|w| w.to_string())).flatten();
                let covering = detail.contains("COVERING INDEX");
                let access = match verb {
                    "SCAN" if covering => Some(Access::IndexOnly),
                    "SCAN" => Some(Access::FullScan),
                    "SEARCH" if covering => Some(Access::IndexOnly),
                    "SEARCH" => Some(Access::Index),
                    _ => None,
                };
                let index =
                    detail.split(" INDEX ").nth(1).and_then(|r| r.split_whitespace().next()).map(str::to_string);
                // "SCAN orders USING INDEX x" reads as kind SCAN, relation orders, index x.
                let kind = if relation.is_some() { verb.to_string() } else { detail.clone() };
                PlanNode { kind, access, relation, index, children: build(steps, *id), ..Default::default() }
            })
            .collect()
    }
    let mut root = PlanNode { kind: "QUERY PLAN".into(), children: build(&steps, 0), ..Default::default() };
    let raw = json!(
        steps
            .iter()
            .map(|(id, parent, detail)| json!({"id": id, "parent": parent, "detail": detail}))
            .collect::<Vec<_>>()
    );
    let mut notes =
        vec!["SQLite reports no per-step row counts or times; the run's totals are on the root".to_string()];
    if let Some((ms, rows, _)) = measured {
        root.time_ms = Some((ms * 1000.0).round() / 1000.0);
        root.actual_rows = Some(rows);
        // A lone full scan: its table's size and the statement's filter stand in for the
        // step's own numbers, so plan rules can judge it.
        let scans: Vec<usize> =
            (0..root.children.len()).filter(|i| root.children[*i].access == Some(Access::FullScan)).collect();
        if let ([only], Some(filter)) = (scans.as_slice(), where_clause(call.sql)) {
            let relation = root.children[*only].relation.clone().unwrap_or_default();
            let quoted = super::double_quote(&relation);
            let size =
                session.scalar(format!("SELECT max(rowid) FROM {quoted}"), &[]).await.ok().and_then(|v| v.as_i64());
            let scan = &mut root.children[*only];
            scan.condition = Some(filter);
            scan.actual_rows = Some(rows);
            scan.examined = size.map(|n| n as f64);
        }
    } else {
        notes.push("not analyzed: the statement was only planned".into());
    }
    Ok(super::Explained { plan: root, raw, planning_ms: None, execution_ms: measured.map(|m| m.0), notes })
}

/// The WHERE clause of a single-table statement, as SQL text.
fn where_clause(sql: &str) -> Option<String> {
    use sqlparser::ast::{SetExpr, Statement};
    let statements = crate::sql::parse(sql, crate::config::Engine::Sqlite).ok()?;
    match statements.first()? {
        Statement::Query(q) => match q.body.as_ref() {
            SetExpr::Select(s) if s.from.len() == 1 && s.from[0].joins.is_empty() => {
                s.selection.as_ref().map(|e| e.to_string())
            }
            _ => None,
        },
        Statement::Delete(d) => d.selection.as_ref().map(|e| e.to_string()),
        Statement::Update(u) => u.selection.as_ref().map(|e| e.to_string()),
        _ => None,
    }
}
