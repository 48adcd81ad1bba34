//! PostgreSQL's side of the plan tools: EXPLAIN in JSON read into the common model, HypoPG
//! costing, pg_stat_statements, table and column statistics, index problems, and what an
//! analyzed write would leave behind.

use serde_json::Value;
use sqlx::AssertSqlSafe;

/// EXPLAIN in the session (a reader's, or a trial that is always rolled back): an analyzed
/// DELETE deletes nothing.
pub(crate) async fn explain(
    session: &mut crate::engine::session::Session<'_>,
    call: &super::ExplainCall<'_>,
) -> Result<super::Explained, crate::error::ToolError> {
    let options = if call.analyze { "ANALYZE, BUFFERS, SETTINGS, FORMAT JSON" } else { "SETTINGS, FORMAT JSON" };
    let sql = format!("EXPLAIN ({options}) {}", call.sql);
    let raw: Value = session
        .guard(async |conn, _| {
            let crate::engine::session::Conn::Postgres(c) = conn else { unreachable!() };
            sqlx::query_scalar(AssertSqlSafe(sql)).persistent(false).fetch_one(&mut **c).await
        })
        .await?;
    let top = raw.get(0).cloned().unwrap_or(Value::Null);
    let mut notes = Vec::new();
    if let Some(settings) = top.get("Settings").and_then(Value::as_object).filter(|s| !s.is_empty()) {
        notes.push(format!(
            "non-default planner settings: {}",
            settings.iter().map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or("?"))).collect::<Vec<_>>().join(", ")
        ));
    }
    Ok(super::Explained {
        plan: plan_node(&top["Plan"]),
        planning_ms: top["Planning Time"].as_f64(),
        execution_ms: top["Execution Time"].as_f64(),
        raw,
        notes,
    })
}

/// PostgreSQL's JSON plan node in the common model.
fn plan_node(v: &Value) -> crate::plan::PlanNode {
    use crate::plan::{Access, PlanNode};
    let s = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_string);
    let f = |k: &str| v.get(k).and_then(Value::as_f64);
    let node_type = s("Node Type").unwrap_or_default();
    let kind = match (s("Join Type"), node_type.as_str()) {
        (Some(j), "Nested Loop" | "Hash Join" | "Merge Join") if j != "Inner" => format!("{node_type} ({j})"),
        _ => node_type.clone(),
    };
    let access = match node_type.as_str() {
        "Seq Scan" | "Parallel Seq Scan" => Some(Access::FullScan),
        "Index Scan" | "Bitmap Heap Scan" | "Bitmap Index Scan" => Some(Access::Index),
        "Index Only Scan" => Some(Access::IndexOnly),
        _ => None,
    };
    let loops = f("Actual Loops");
    let actual = f("Actual Rows");
    let examined = match (access, actual) {
        (Some(_), Some(rows)) => Some((rows + f("Rows Removed by Filter").unwrap_or(0.0)) * loops.unwrap_or(1.0)),
        _ => None,
    };
    let spilled = if s("Sort Space Type").as_deref() == Some("Disk") {
        Some(format!(
            "sort on disk: {} kB ({})",
            f("Sort Space Used").unwrap_or(0.0),
            s("Sort Method").unwrap_or_default()
        ))
    } else {
        f("Hash Batches").filter(|b| *b > 1.0).map(|b| format!("hash in {b} batches (did not fit in work_mem)"))
    };
    PlanNode {
        kind,
        access,
        relation: s("Relation Name"),
        index: s("Index Name"),
        condition: ["Filter", "Index Cond", "Hash Cond", "Merge Cond", "Join Filter", "Recheck Cond"]
            .iter()
            .find_map(|k| s(k)),
        estimated_rows: f("Plan Rows"),
        actual_rows: actual,
        loops,
        time_ms: f("Actual Total Time").map(|t| (t * loops.unwrap_or(1.0) * 1000.0).round() / 1000.0),
        examined,
        cache_hits: v.get("Shared Hit Blocks").and_then(Value::as_i64),
        disk_reads: v.get("Shared Read Blocks").and_then(Value::as_i64),
        // Since 18; a total over the loops already, unlike Actual Rows.
        index_searches: f("Index Searches"),
        spilled,
        children: v
            .get("Plans")
            .and_then(Value::as_array)
            .map(|c| c.iter().map(plan_node).collect())
            .unwrap_or_default(),
    }
}

/// Try each candidate as a HypoPG hypothetical index: the planner's cost before and after, the
/// index's estimated size, and whether the plan used it. `None` when HypoPG is not installed.
/// The hypothetical indexes live in this session only and are reset before it ends.
pub(crate) async fn hypothetical(
    session: &mut crate::engine::session::Session<'_>,
    sql: &str,
    candidates: &[String],
) -> Result<Option<super::Hypothetical>, crate::error::ToolError> {
    let installed = session.scalar("SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'hypopg')", &[]).await?;
    if installed != Value::Bool(true) {
        return Ok(None);
    }
    let explain = format!("EXPLAIN (FORMAT JSON) {sql}");
    let result = async {
        let cost_of = |plan: &Value| plan["QUERY PLAN"][0]["Plan"]["Total Cost"].as_f64().unwrap_or(f64::NAN);
        let plan = session.rows(explain.clone(), &[]).await?;
        let before = plan.first().map(cost_of).unwrap_or(f64::NAN);
        let mut tried = Vec::new();
        for statement in candidates {
            let created = session
                .rows(
                    "SELECT indexrelid::bigint AS oid, indexname FROM hypopg_create_index($1)",
                    &[Value::String(statement.clone())],
                )
                .await?;
            let oid = created.first().map(|r| r["oid"].clone()).unwrap_or(Value::Null);
            let name = created.first().and_then(|r| r["indexname"].as_str()).unwrap_or_default().to_string();
            let plan = session.rows(explain.clone(), &[]).await?;
            let bytes =
                session.scalar("SELECT hypopg_relation_size($1::bigint::oid)", std::slice::from_ref(&oid)).await?;
            session.execute("SELECT hypopg_drop_index($1::bigint::oid)", std::slice::from_ref(&oid)).await?;
            tried.push(super::HypotheticalIndex {
                cost_after: plan.first().map(cost_of).unwrap_or(f64::NAN),
                bytes: bytes.as_i64().unwrap_or(0),
                used: !name.is_empty() && Value::Array(plan).to_string().contains(&name),
            });
        }
        Ok::<_, crate::error::ToolError>(Some(super::Hypothetical { cost_before: before, tried }))
    }
    .await;
    let _ = session.execute("SELECT hypopg_reset()", &[]).await;
    result
}

pub(crate) async fn index_problems(pool: &mut sqlx::PgConnection) -> Result<Value, sqlx::Error> {
    let text: Option<String> =
        sqlx::query_scalar(include_str!("../plan/postgres/index_problems.sql")).fetch_one(&mut *pool).await?;
    let mut problems = crate::engine::parse_json(text)?.unwrap_or(Value::Null);
    problems["fk_without_index"] = unindexed_foreign_keys(&mut *pool).await?;
    Ok(problems)
}

/// Foreign keys no index starts with, as a JSON array of {schema, table, constraint, columns, references}.
pub(crate) async fn unindexed_foreign_keys(pool: &mut sqlx::PgConnection) -> Result<Value, sqlx::Error> {
    let text: Option<String> =
        sqlx::query_scalar(include_str!("../plan/postgres/unindexed_foreign_keys.sql")).fetch_one(&mut *pool).await?;
    Ok(crate::engine::parse_json(text)?.unwrap_or(Value::Array(vec![])))
}

pub(crate) async fn table_stats(pool: &mut sqlx::PgConnection, tables: &[String]) -> Result<Value, sqlx::Error> {
    let text: Option<String> =
        sqlx::query_scalar(include_str!("../plan/postgres/table_stats.sql")).bind(tables).fetch_one(&mut *pool).await?;
    Ok(crate::engine::parse_json(text)?.unwrap_or(Value::Null))
}

/// Top statements from pg_stat_statements, or how to enable it; and current activity.
pub(crate) async fn hotpaths(
    pool: &mut sqlx::PgConnection,
    order: &str,
    limit: i64,
) -> Result<super::Hotpaths, sqlx::Error> {
    let activity: Option<String> =
        sqlx::query_scalar(include_str!("../plan/postgres/activity.sql")).fetch_one(&mut *pool).await?;
    let activity = crate::engine::parse_json(activity)?.unwrap_or(Value::Null);
    let (available, installed): (bool, bool) = sqlx::query_as(
        "SELECT EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'pg_stat_statements'), \
                EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_stat_statements')",
    )
    .fetch_one(&mut *pool)
    .await?;
    let preload: String =
        sqlx::query_scalar("SELECT current_setting('shared_preload_libraries')").fetch_one(&mut *pool).await?;
    let how_to = match (preload.contains("pg_stat_statements"), installed) {
        (true, true) => None,
        // A server built without contrib (some containers, embedded builds) cannot CREATE it at all.
        _ if !available && !installed => Some(
            "pg_stat_statements is not available on this server: install PostgreSQL's contrib modules \
             (Debian: postgresql-<version>-contrib, or the package of the same name for your distribution), \
             add pg_stat_statements to shared_preload_libraries, restart the server, then CREATE EXTENSION pg_stat_statements; \
             until then `activity` shows what runs now"
                .to_string(),
        ),
        (true, false) => Some("CREATE EXTENSION pg_stat_statements; (the library is already preloaded; it costs a few percent of throughput)".to_string()),
        (false, _) => Some(
            "add pg_stat_statements to shared_preload_libraries in postgresql.conf, restart the server, then CREATE EXTENSION pg_stat_statements; \
             (it records every statement's normalized text and timings, at a few percent of throughput)"
                .to_string(),
        ),
    };
    let statements = if how_to.is_none() {
        let text: Option<String> = sqlx::query_scalar(include_str!("../plan/postgres/hotpaths.sql"))
            .bind(order)
            .bind(limit)
            .fetch_one(&mut *pool)
            .await?;
        crate::engine::parse_json(text)?.unwrap_or(Value::Null)
    } else {
        Value::Array(vec![])
    };
    Ok(super::Hotpaths { how_to_enable: how_to, statements, activity })
}

pub(crate) async fn column_stats(
    pool: &mut sqlx::PgConnection,
    table: &str,
    columns: &[String],
) -> Result<(Vec<crate::plan::indexes::ColumnStats>, f64), sqlx::Error> {
    // column, n_distinct, most common values, their frequencies, the table's row estimate
    type StatsRow = (String, f64, Vec<String>, Vec<f32>, f64);
    let rows: Vec<StatsRow> = sqlx::query_as(include_str!("../plan/postgres/column_stats.sql"))
        .bind(table)
        .bind(columns)
        .fetch_all(&mut *pool)
        .await?;
    let table_rows = rows.first().map(|r| r.4).unwrap_or(0.0);
    let stats = rows
        .into_iter()
        .map(|(column, n_distinct, values, freqs, _)| crate::plan::indexes::ColumnStats {
            column,
            n_distinct,
            common: values.into_iter().zip(freqs.into_iter().map(f64::from)).collect(),
        })
        .collect();
    Ok((stats, table_rows))
}

/// What an analyzed write would leave behind after its rollback (see `lasting_effects.sql`).
pub(crate) async fn lasting_effects(
    session: &mut crate::engine::session::Session<'_>,
    checked: &crate::sql::Checked,
) -> Result<Vec<String>, crate::error::ToolError> {
    let regclass = |t: &str| t.split('.').map(crate::engine::double_quote).collect::<Vec<_>>().join(".");
    let tables: Vec<String> = checked.targets.iter().map(|t| regclass(&t.table)).collect();
    let inserts: Vec<bool> = checked.targets.iter().map(|t| t.inserts).collect();
    let columns: Vec<Option<String>> =
        checked.targets.iter().map(|t| t.columns.as_ref().map(|c| c.join("\n"))).collect();
    session
        .guard(async |conn, _| {
            let crate::engine::session::Conn::Postgres(c) = conn else { unreachable!() };
            sqlx::query_scalar(include_str!("../plan/postgres/lasting_effects.sql"))
                .bind(&tables)
                .bind(&inserts)
                .bind(&columns)
                .bind(&checked.functions)
                .fetch_all(&mut **c)
                .await
        })
        .await
}
