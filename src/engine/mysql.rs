//! MySQL and MariaDB: read-only transactions, session timeouts set once per connection, and
//! information_schema queries.

use std::{str::FromStr, time::Duration};

use serde_json::{Map, Value, json};
use sqlx::{
    AssertSqlSafe, Executor, MySqlPool, Row, TypeInfo, ValueRef,
    mysql::{MySqlConnectOptions, MySqlPoolOptions, MySqlRow},
    types::{
        Decimal,
        chrono::{DateTime, NaiveDate, NaiveDateTime, Utc},
    },
};

use super::{Check, Health, ObjectPage, ObjectQuery, b64, objects};
use crate::config::{DatabaseConfig, Mode};

pub(crate) mod session;

pub(crate) fn pool(cfg: &DatabaseConfig) -> Result<MySqlPool, String> {
    let url = cfg.url.expose().replacen("mariadb://", "mysql://", 1);
    let options = super::quiet_slow_statements(MySqlConnectOptions::from_str(&url).map_err(|e| e.to_string())?);
    let timeout_ms = cfg.statement_timeout_ms;
    let read_only = cfg.mode == Mode::ReadOnly;
    Ok(MySqlPoolOptions::new()
        .max_connections(4)
        .acquire_timeout(Duration::from_secs(5))
        .idle_timeout(Duration::from_secs(300))
        .after_connect(move |conn, _| {
            Box::pin(async move {
                set_session_timeout(conn, timeout_ms).await?;
                if read_only {
                    conn.execute("SET SESSION TRANSACTION READ ONLY").await?;
                }
                Ok(())
            })
        })
        .connect_lazy_with(options))
}

/// MariaDB names it max_statement_time (seconds), MySQL max_execution_time (ms): try the first,
/// fall back to the second.
async fn set_session_timeout(conn: &mut sqlx::MySqlConnection, ms: u64) -> Result<(), sqlx::Error> {
    let mariadb = format!("SET SESSION max_statement_time = {}", ms as f64 / 1000.0);
    if conn.execute(AssertSqlSafe(mariadb)).await.is_err() {
        conn.execute(AssertSqlSafe(format!("SET SESSION max_execution_time = {ms}"))).await?;
    }
    Ok(())
}

pub(crate) fn cell(row: &MySqlRow, i: usize) -> Result<Value, sqlx::Error> {
    let raw = row.try_get_raw(i)?;
    if raw.is_null() {
        return Ok(Value::Null);
    }
    let ty = raw.type_info().name().to_string();
    Ok(match ty.as_str() {
        "BOOLEAN" => json!(row.try_get::<bool, _>(i)?),
        "TINYINT" => json!(row.try_get::<i8, _>(i)?),
        "SMALLINT" => json!(row.try_get::<i16, _>(i)?),
        "INT" | "MEDIUMINT" => json!(row.try_get::<i32, _>(i)?),
        "BIGINT" => {
            let v = row.try_get::<i64, _>(i)?;
            if v.unsigned_abs() < (1 << 53) { json!(v) } else { json!(v.to_string()) }
        }
        "TINYINT UNSIGNED" => json!(row.try_get::<u8, _>(i)?),
        "SMALLINT UNSIGNED" => json!(row.try_get::<u16, _>(i)?),
        "INT UNSIGNED" | "MEDIUMINT UNSIGNED" => json!(row.try_get::<u32, _>(i)?),
        "BIGINT UNSIGNED" => {
            let v = row.try_get::<u64, _>(i)?;
            if v < (1 << 53) { json!(v) } else { json!(v.to_string()) }
        }
        "FLOAT" => json!(row.try_get::<f32, _>(i)?),
        "DOUBLE" => json!(row.try_get::<f64, _>(i)?),
        "DECIMAL" => json!(row.try_get::<Decimal, _>(i)?.to_string()),
        "YEAR" => json!(row.try_get::<u16, _>(i)?),
        "BIT" => json!(row.try_get::<u64, _>(i)?),
        "DATE" => json!(row.try_get::<NaiveDate, _>(i)?.to_string()),
        "DATETIME" => json!(row.try_get::<NaiveDateTime, _>(i)?.format("%Y-%m-%dT%H:%M:%S%.f").to_string()),
        // TIMESTAMP is stored in UTC and only decodes as DateTime<Utc>.
        "TIMESTAMP" => json!(row.try_get::<DateTime<Utc>, _>(i)?.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)),
        "TIME" => json!(row.try_get::<sqlx::mysql::types::MySqlTime, _>(i)?.to_string()),
        "JSON" => row.try_get::<Value, _>(i)?,
        // The type name says BLOB whenever the BINARY flag is set, which includes text with a
        // _bin collation (MariaDB's JSON is LONGTEXT utf8mb4_bin): try text first.
        _ => match row.try_get::<String, _>(i) {
            Ok(s) => json!(s),
            Err(_) => match row.try_get::<Vec<u8>, _>(i) {
                Ok(bytes) => b64(&bytes),
                Err(_) => json!(format!("<{ty} value: cast it in the query to see it>")),
            },
        },
    })
}

pub(crate) async fn list_objects(pool: &MySqlPool, q: &ObjectQuery) -> Result<ObjectPage, sqlx::Error> {
    let total: i64 = sqlx::query_scalar(include_str!("mysql/count_objects.sql"))
        .bind(q.schema.as_deref())
        .bind(q.pattern.as_deref())
        .bind(q.pattern.as_deref())
        .fetch_one(pool)
        .await?;
    let rows = sqlx::query(include_str!("mysql/list_objects.sql"))
        .bind(q.schema.as_deref())
        .bind(q.pattern.as_deref())
        .bind(q.pattern.as_deref())
        .bind(q.limit)
        .bind(q.offset)
        .fetch_all(pool)
        .await?;
    Ok(ObjectPage { objects: objects(&rows, cell)?, total })
}

pub(crate) async fn describe(pool: &MySqlPool, schema: Option<&str>, name: &str) -> Result<Option<Value>, sqlx::Error> {
    let fetch = |sql: &'static str| sqlx::query(sql).bind(schema).bind(name).fetch_all(pool);
    let table = objects(&fetch(include_str!("mysql/describe_table.sql")).await?, cell)?;
    let Some(Value::Object(mut detail)) = table.into_iter().next() else { return Ok(None) };
    detail.insert(
        "columns".into(),
        Value::Array(objects(&fetch(include_str!("mysql/describe_columns.sql")).await?, cell)?),
    );

    let mut indexes: Vec<Map<String, Value>> = Vec::new();
    for row in objects(&fetch(include_str!("mysql/describe_indexes.sql")).await?, cell)? {
        let column = match row["prefix"].as_u64() {
            Some(n) => json!(format!("{}({n})", row["column_name"].as_str().unwrap_or("?"))),
            None => row["column_name"].clone(),
        };
        match indexes.last_mut().filter(|ix| ix["name"] == row["name"]) {
            Some(ix) => ix["columns"].as_array_mut().into_iter().for_each(|c| c.push(column.clone())),
            None => indexes.push(Map::from_iter([
                ("name".to_string(), row["name"].clone()),
                ("columns".to_string(), json!([column])),
                ("unique".to_string(), json!(row["unique"] == json!(1) || row["unique"] == json!(true))),
                ("primary".to_string(), json!(row["name"] == "PRIMARY")),
            ])),
        }
    }
    let primary_key = indexes.iter().find(|ix| ix["primary"] == json!(true)).map(|ix| ix["columns"].clone());
    detail.insert("primary_key".into(), primary_key.unwrap_or(Value::Null));
    detail.insert("indexes".into(), Value::Array(indexes.into_iter().map(Value::Object).collect()));

    let mut foreign_keys: Vec<Map<String, Value>> = Vec::new();
    for row in objects(&fetch(include_str!("mysql/describe_foreign_keys.sql")).await?, cell)? {
        match foreign_keys.last_mut().filter(|fk| fk["name"] == row["name"]) {
            Some(fk) => {
                fk["columns"].as_array_mut().into_iter().for_each(|c| c.push(row["column_name"].clone()));
                fk["referenced_columns"]
                    .as_array_mut()
                    .into_iter()
                    .for_each(|c| c.push(row["referenced_column"].clone()));
            }
            None => foreign_keys.push(Map::from_iter([
                ("name".to_string(), row["name"].clone()),
                ("columns".to_string(), json!([row["column_name"]])),
                ("references".to_string(), row["referenced_table"].clone()),
                ("referenced_columns".to_string(), json!([row["referenced_column"]])),
                ("on_delete".to_string(), row["on_delete"].clone()),
                ("on_update".to_string(), row["on_update"].clone()),
            ])),
        }
    }
    detail.insert("foreign_keys".into(), Value::Array(foreign_keys.into_iter().map(Value::Object).collect()));
    Ok(Some(Value::Object(detail)))
}

pub(crate) async fn health(pool: &MySqlPool, cfg: &DatabaseConfig) -> Result<Health, sqlx::Error> {
    let info = objects(&sqlx::query(include_str!("mysql/health.sql")).fetch_all(pool).await?, cell)?;
    let info = info.into_iter().next().unwrap_or(Value::Null);
    let user = info["user"].as_str().unwrap_or("?").to_string();
    let mut checks = vec![Check::ok("connectivity", format!("connected as {user}"))];
    let cipher: Option<(String, String)> =
        sqlx::query_as("SHOW SESSION STATUS LIKE 'Ssl_cipher'").fetch_optional(pool).await?;
    checks.push(match cipher {
        Some((_, c)) if !c.is_empty() => Check::ok("tls", format!("encrypted ({c})")),
        _ if super::is_local(cfg) => Check::ok("tls", "not encrypted (local connection)"),
        _ => Check::warn("tls", "connection is not encrypted", "add ssl-mode=REQUIRED (or VERIFY_IDENTITY) to the URL"),
    });
    let grants: Vec<String> = sqlx::query_scalar("SHOW GRANTS").fetch_all(pool).await?;
    let broad = grants.iter().any(|g| g.contains("ALL PRIVILEGES ON *.*") || g.contains(" SUPER"));
    let grant_option = grants.iter().any(|g| g.contains("WITH GRANT OPTION"));
    checks.push(if broad || grant_option {
        Check::warn(
            "privileges",
            format!(
                "{user} has {}",
                match (broad, grant_option) {
                    (true, true) => "global ALL privileges with GRANT OPTION",
                    (true, false) => "global ALL privileges",
                    _ => "GRANT OPTION",
                }
            ),
            "connect as an account granted only what the work needs (SELECT for read-only use)",
        )
    } else {
        Check::ok("privileges", format!("{} grant(s), none global", grants.len()))
    });
    checks.push(if info["performance_schema"] == json!(1) {
        Check::ok("performance_schema", "enabled: statement digests are available")
    } else {
        Check::warn(
            "performance_schema",
            "disabled: hot-path analysis cannot see statement digests",
            "set performance_schema = ON in the server config and restart (costs a few percent of throughput)",
        )
    });
    if info["server_read_only"] == json!(1) {
        checks.push(Check::ok("replica", "the server is read_only (a replica or locked primary)"));
    }
    let version = match (info["version"].as_str(), info["version_comment"].as_str()) {
        (Some(v), Some(c)) => Some(format!("{v} ({c})")),
        (v, _) => v.map(str::to_string),
    };
    Ok(Health { version, checks })
}

/// MariaDB's `ANALYZE FORMAT=JSON` runs the statement and reports real rows and times; MySQL
/// gets `EXPLAIN FORMAT=JSON`. Either way inside a transaction that is always rolled back.
/// ANALYZE FORMAT=JSON in the session (a reader's, or a trial that is always rolled back);
/// MySQL, which has no JSON form of it, gets the estimated plan.
pub(crate) async fn explain(
    session: &mut super::session::Session<'_>,
    call: &super::ExplainCall<'_>,
) -> Result<super::Explained, crate::error::ToolError> {
    let mut notes = Vec::new();
    let result = session
        .guard(async |conn, _| {
            let super::session::Conn::Mysql(c) = conn else { unreachable!() };
            if call.analyze {
                let analyzed: Result<String, _> =
                    sqlx::query_scalar(AssertSqlSafe(format!("ANALYZE FORMAT=JSON {}", call.sql)))
                        .persistent(false)
                        .fetch_one(&mut **c)
                        .await;
                match analyzed {
                    Ok(text) => return Ok((text, true)),
                    // MySQL has no ANALYZE FORMAT=JSON (its EXPLAIN ANALYZE prints text): plan only.
                    Err(sqlx::Error::Database(d)) if d.code().as_deref() == Some("42000") => {
                        notes.push(
                            "this server has no ANALYZE FORMAT=JSON (MySQL): the plan holds estimates only".to_string(),
                        );
                    }
                    Err(e) => return Err(e),
                }
            }
            let text: String = sqlx::query_scalar(AssertSqlSafe(format!("EXPLAIN FORMAT=JSON {}", call.sql)))
                .persistent(false)
                .fetch_one(&mut **c)
                .await?;
            Ok((text, false))
        })
        .await;
    let (text, analyzed) = result?;
    let raw: Value = serde_json::from_str(&text).map_err(|e| crate::error::ToolError::Database {
        code: None,
        message: e.to_string(),
        hint: None,
    })?;
    let block = &raw["query_block"];
    Ok(super::Explained {
        plan: block_node(block),
        planning_ms: None,
        execution_ms: if analyzed { block["r_total_time_ms"].as_f64() } else { None },
        raw,
        notes,
    })
}

/// MySQL / MariaDB JSON plans nest tables under query blocks, nested loops, sorts and
/// temporary tables; each becomes a node of the common model.
fn block_node(v: &Value) -> crate::plan::PlanNode {
    use crate::plan::PlanNode;
    let mut node = PlanNode { kind: "query_block".into(), ..Default::default() };
    node.time_ms = v["r_total_time_ms"].as_f64();
    node.children = children(v);
    node
}

fn children(v: &Value) -> Vec<crate::plan::PlanNode> {
    use crate::plan::PlanNode;
    let mut out = Vec::new();
    let Some(map) = v.as_object() else { return out };
    for (key, inner) in map {
        match key.as_str() {
            "table" => out.push(table_node(inner)),
            "nested_loop" => {
                let tables: Vec<PlanNode> = inner.as_array().into_iter().flatten().flat_map(children).collect();
                out.push(PlanNode { kind: "nested_loop".into(), children: tables, ..Default::default() });
            }
            "filesort" | "temporary_table" | "read_sorted_file" | "duplicates_removal" | "ordering_operation"
            | "grouping_operation" => {
                let mut node = PlanNode { kind: key.clone(), children: children(inner), ..Default::default() };
                if inner.get("r_used_priority_queue") == Some(&Value::Bool(false)) && key == "filesort" {
                    node.spilled = inner.get("r_sort_mode").and_then(Value::as_str).map(|m| format!("filesort ({m})"));
                }
                out.push(node);
            }
            "query_block" | "union_result" | "subqueries" | "materialized" | "query_specifications" => {
                out.extend(match inner {
                    Value::Array(items) => items.iter().flat_map(children).collect::<Vec<_>>(),
                    other => children(other),
                });
            }
            _ => {}
        }
    }
    out
}

fn table_node(t: &Value) -> crate::plan::PlanNode {
    use crate::plan::{Access, PlanNode};
    let access_type = t["access_type"].as_str().unwrap_or("?").to_string();
    let covering = t["using_index"] == json!(true);
    let access = match access_type.as_str() {
        "ALL" | "index" => Some(Access::FullScan),
        _ if covering => Some(Access::IndexOnly),
        "?" => None,
        _ => Some(Access::Index),
    };
    let loops = t["r_loops"].as_f64();
    // r_rows is what the access read per loop; r_filtered the share the condition kept.
    let read = t["r_rows"].as_f64();
    let kept = read.map(|r| r * t["r_filtered"].as_f64().unwrap_or(100.0) / 100.0);
    let estimated = t["rows"].as_f64().map(|r| r * t["filtered"].as_f64().unwrap_or(100.0) / 100.0);
    PlanNode {
        kind: format!("{access_type} access"),
        access,
        relation: t["table_name"].as_str().map(str::to_string),
        index: t["key"].as_str().map(str::to_string),
        condition: t["attached_condition"].as_str().map(str::to_string),
        estimated_rows: estimated,
        actual_rows: kept,
        loops,
        time_ms: t["r_total_time_ms"].as_f64(),
        examined: read.map(|r| r * loops.unwrap_or(1.0)),
        ..Default::default()
    }
}

pub(crate) async fn table_stats(pool: &MySqlPool, tables: &[String]) -> Result<Value, sqlx::Error> {
    let rows =
        sqlx::query(include_str!("../plan/mysql/table_stats.sql")).bind(tables.join(",")).fetch_all(pool).await?;
    Ok(Value::Array(objects(&rows, cell)?))
}

/// Top statement digests from performance_schema, or how to enable it; and current activity.
pub(crate) async fn hotpaths(pool: &MySqlPool, order: &str, limit: i64) -> Result<super::Hotpaths, sqlx::Error> {
    let activity =
        Value::Array(objects(&sqlx::query(include_str!("../plan/mysql/activity.sql")).fetch_all(pool).await?, cell)?);
    let enabled: i64 = sqlx::query_scalar("SELECT @@performance_schema + 0").fetch_one(pool).await?;
    if enabled == 0 {
        return Ok(super::Hotpaths {
            how_to_enable: Some(
                "set performance_schema = ON in the server's config ([mysqld] section) and restart; statement digests are then \
                 collected by default (it costs a few percent of throughput and some memory)"
                    .into(),
            ),
            statements: Value::Array(vec![]),
            activity,
        });
    }
    let rows = sqlx::query(include_str!("../plan/mysql/hotpaths.sql")).bind(order).bind(limit).fetch_all(pool).await?;
    let counts_prepared: Option<String> = sqlx::query_scalar(
        "SELECT ENABLED FROM performance_schema.setup_consumers WHERE NAME = 'events_statements_current'",
    )
    .fetch_optional(pool)
    .await?;
    let how_to_enable = (counts_prepared.as_deref() != Some("YES")).then(|| {
        "statements run as prepared statements (the binary protocol most drivers use) are counted only with the \
         events_statements_current consumer: set performance-schema-consumer-events-statements-current = ON in the \
         server's config, or at runtime UPDATE performance_schema.setup_consumers SET ENABLED = 'YES' WHERE NAME = \
         'events_statements_current' (a small per-statement cost)"
            .to_string()
    });
    Ok(super::Hotpaths { how_to_enable, statements: Value::Array(objects(&rows, cell)?), activity })
}

/// Run audit rules in one read-only transaction; each returns `(object, detail, fix)` rows.
pub(crate) async fn audit(
    session: &mut super::session::Session<'_>,
    rules: &[&crate::audit::Rule],
) -> Result<Vec<crate::audit::AuditFinding>, crate::error::ToolError> {
    let mut out = Vec::new();
    for rule in rules {
        let fetched = session
            .guard(async |conn, _| {
                let super::session::Conn::Mysql(c) = conn else { unreachable!() };
                Ok(sqlx::query(rule.sql).fetch_all(&mut **c).await)
            })
            .await?;
        let rows = match fetched {
            Ok(rows) => rows,
            // A rule over mysql.* tables the account may not read: say what was not checked.
            Err(sqlx::Error::Database(d))
                if d.try_downcast_ref::<sqlx::mysql::MySqlDatabaseError>()
                    .is_some_and(|e| matches!(e.number(), 1044 | 1142 | 1143 | 1227)) =>
            {
                out.push(crate::audit::AuditFinding {
                    code: rule.code.clone(),
                    severity: crate::plan::Severity::Info,
                    object: "(not visible)".into(),
                    detail: format!("not checked: {}", d.message()),
                    why: rule.why.clone(),
                    fix: "run security-audit once as an administrator account to check this rule".into(),
                });
                continue;
            }
            Err(e) => return Err(session.db.db_error(e, session.timeout_ms)),
        };
        for row in objects(&rows, cell).map_err(|e| session.db.db_error(e, session.timeout_ms))? {
            let text = |k: &str| row[k].as_str().unwrap_or_default().to_string();
            out.push(crate::audit::AuditFinding {
                code: rule.code.clone(),
                severity: rule.severity,
                object: text("object"),
                detail: text("detail"),
                why: rule.why.clone(),
                fix: text("fix"),
            });
        }
    }
    Ok(out)
}

/// What an analyzed write would leave behind after its rollback (see `lasting_effects.sql`).
pub(crate) async fn lasting_effects(
    session: &mut super::session::Session<'_>,
    checked: &crate::sql::Checked,
) -> Result<Vec<String>, crate::error::ToolError> {
    let last = |t: &str| t.rsplit('.').next().unwrap_or(t).to_string();
    let tables =
        serde_json::to_string(&checked.targets.iter().map(|t| last(&t.table)).collect::<Vec<_>>()).unwrap_or_default();
    let inserted = serde_json::to_string(
        &checked.targets.iter().filter(|t| t.inserts).map(|t| last(&t.table)).collect::<Vec<_>>(),
    )
    .unwrap_or_default();
    let functions = serde_json::to_string(&checked.functions).unwrap_or_default();
    session
        .guard(async |conn, _| {
            let super::session::Conn::Mysql(c) = conn else { unreachable!() };
            sqlx::query_scalar(include_str!("../plan/mysql/lasting_effects.sql"))
                .bind(&tables)
                .bind(&inserted)
                .bind(&tables)
                .bind(&functions)
                .fetch_all(&mut **c)
                .await
        })
        .await
}
