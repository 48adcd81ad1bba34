//! MySQL's and MariaDB's side of the plan tools: ANALYZE FORMAT=JSON read into the common
//! model, performance_schema digests, table statistics, and what an analyzed write would leave.

use serde_json::{Value, json};
use sqlx::AssertSqlSafe;

/// MariaDB's `ANALYZE FORMAT=JSON` runs the statement and reports real rows and times; MySQL
/// gets `EXPLAIN FORMAT=JSON`. Either way inside a transaction that is always rolled back.
/// ANALYZE FORMAT=JSON in the session (a reader's, or a trial that is always rolled back);
/// MySQL, which has no JSON form of it, gets the estimated plan.
pub(crate) async fn explain(
    session: &mut crate::engine::session::Session<'_>,
    call: &super::ExplainCall<'_>,
) -> Result<super::Explained, crate::error::ToolError> {
    let mut notes = Vec::new();
    let result = session
        .guard(async |conn, _| {
            let crate::engine::session::Conn::Mysql(c) = conn else { unreachable!() };
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

pub(crate) async fn table_stats(pool: &mut sqlx::MySqlConnection, tables: &[String]) -> Result<Value, sqlx::Error> {
    let rows =
        sqlx::query(include_str!("../plan/mysql/table_stats.sql")).bind(tables.join(",")).fetch_all(&mut *pool).await?;
    Ok(Value::Array(crate::engine::objects(&rows, crate::engine::mysql::cell)?))
}

/// Top statement digests from performance_schema, or how to enable it; and current activity.
pub(crate) async fn hotpaths(
    pool: &mut sqlx::MySqlConnection,
    order: &str,
    limit: i64,
) -> Result<super::Hotpaths, sqlx::Error> {
    let activity = Value::Array(crate::engine::objects(
        &sqlx::query(include_str!("../plan/mysql/activity.sql")).fetch_all(&mut *pool).await?,
        crate::engine::mysql::cell,
    )?);
    let enabled: i64 = sqlx::query_scalar("SELECT @@performance_schema + 0").fetch_one(&mut *pool).await?;
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
    let rows =
        sqlx::query(include_str!("../plan/mysql/hotpaths.sql")).bind(order).bind(limit).fetch_all(&mut *pool).await?;
    let counts_prepared: Option<String> = sqlx::query_scalar(
        "SELECT ENABLED FROM performance_schema.setup_consumers WHERE NAME = 'events_statements_current'",
    )
    .fetch_optional(&mut *pool)
    .await?;
    let how_to_enable = (counts_prepared.as_deref() != Some("YES")).then(|| {
        "statements run as prepared statements (the binary protocol most drivers use) are counted only with the \
         events_statements_current consumer: set performance-schema-consumer-events-statements-current = ON in the \
         server's config, or at runtime UPDATE performance_schema.setup_consumers SET ENABLED = 'YES' WHERE NAME = \
         'events_statements_current' (a small per-statement cost)"
            .to_string()
    });
    Ok(super::Hotpaths {
        how_to_enable,
        statements: Value::Array(crate::engine::objects(&rows, crate::engine::mysql::cell)?),
        activity,
    })
}

/// What an analyzed write would leave behind after its rollback (see `lasting_effects.sql`).
pub(crate) async fn lasting_effects(
    session: &mut crate::engine::session::Session<'_>,
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
            let crate::engine::session::Conn::Mysql(c) = conn else { unreachable!() };
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
