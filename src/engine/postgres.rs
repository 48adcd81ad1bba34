//! PostgreSQL: read-only transactions, a server-side cursor for row caps, catalog queries.

use std::{str::FromStr, time::Duration};

use serde_json::{Value, json};
use sqlx::{
    AssertSqlSafe, Executor, PgPool, Row, TypeInfo, ValueRef,
    postgres::{PgConnectOptions, PgPoolOptions, PgRow},
    types::{
        Decimal, Uuid,
        chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, Utc},
    },
};

use super::{Check, Health, ObjectPage, ObjectQuery, b64};
use crate::config::{DatabaseConfig, Mode};

pub(crate) mod session;

pub(crate) fn pool(cfg: &DatabaseConfig) -> Result<PgPool, String> {
    let mut settings = vec![
        ("statement_timeout", format!("{}", cfg.statement_timeout_ms)),
        ("lock_timeout", "5000".to_string()),
        ("idle_in_transaction_session_timeout", "60000".to_string()),
    ];
    if cfg.mode == Mode::ReadOnly {
        // A second layer under the per-call READ ONLY transaction.
        settings.push(("default_transaction_read_only", "on".to_string()));
    }
    let options = PgConnectOptions::from_str(cfg.url.expose())
        .map_err(|e| e.to_string())?
        .application_name("data-engineer-mcp")
        .options(settings);
    let options = super::quiet_slow_statements(options);
    Ok(PgPoolOptions::new()
        .after_connect(|conn, _| {
            Box::pin(async move {
                // PostgreSQL 14+ notices a client that went away while a statement runs (a
                // cancelled tool call closes its connection) and stops the statement.
                if conn.server_version_num().is_some_and(|v| v >= 140000) {
                    conn.execute("SET client_connection_check_interval = 1000").await?;
                }
                Ok(())
            })
        })
        .max_connections(4)
        // Connections are pinged when released; a dead one is replaced in begin().
        .test_before_acquire(false)
        .acquire_timeout(Duration::from_secs(5))
        .idle_timeout(Duration::from_secs(300))
        .connect_lazy_with(options))
}

/// Decode one value by its declared type; PostgreSQL decoding is strict about widths.
pub(crate) fn cell(row: &PgRow, i: usize) -> Result<Value, sqlx::Error> {
    let raw = row.try_get_raw(i)?;
    if raw.is_null() {
        return Ok(Value::Null);
    }
    let ty = raw.type_info().name().to_string();
    Ok(match ty.as_str() {
        "BOOL" => json!(row.try_get::<bool, _>(i)?),
        "INT2" => json!(row.try_get::<i16, _>(i)?),
        "INT4" => json!(row.try_get::<i32, _>(i)?),
        // Past 2^53 a JSON number loses digits in most clients: keep big ones as strings.
        "INT8" => {
            let v = row.try_get::<i64, _>(i)?;
            if v.unsigned_abs() < (1 << 53) { json!(v) } else { json!(v.to_string()) }
        }
        "OID" => json!(row.try_get::<sqlx::postgres::types::Oid, _>(i)?.0),
        "FLOAT4" => json!(row.try_get::<f32, _>(i)?),
        "FLOAT8" => json!(row.try_get::<f64, _>(i)?),
        // Numerics stay strings so no digit is lost.
        "NUMERIC" => match row.try_get::<Decimal, _>(i) {
            Ok(d) => json!(d.to_string()),
            Err(_) => text_of(row, i, &ty),
        },
        "TEXT" | "VARCHAR" | "BPCHAR" | "CHAR" | "NAME" | "\"CHAR\"" | "UNKNOWN" | "CITEXT" => {
            json!(row.try_get::<String, _>(i)?)
        }
        "UUID" => json!(row.try_get::<Uuid, _>(i)?.to_string()),
        "JSON" | "JSONB" => row.try_get::<Value, _>(i)?,
        "TIMESTAMPTZ" => {
            json!(row.try_get::<DateTime<Utc>, _>(i)?.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true))
        }
        "TIMESTAMP" => json!(row.try_get::<NaiveDateTime, _>(i)?.format("%Y-%m-%dT%H:%M:%S%.f").to_string()),
        "DATE" => json!(row.try_get::<NaiveDate, _>(i)?.to_string()),
        "TIME" => json!(row.try_get::<NaiveTime, _>(i)?.to_string()),
        "BYTEA" => b64(&row.try_get::<Vec<u8>, _>(i)?),
        "BOOL[]" => json!(row.try_get::<Vec<Option<bool>>, _>(i)?),
        "INT2[]" => json!(row.try_get::<Vec<Option<i16>>, _>(i)?),
        "INT4[]" => json!(row.try_get::<Vec<Option<i32>>, _>(i)?),
        "INT8[]" => json!(row.try_get::<Vec<Option<i64>>, _>(i)?),
        "FLOAT4[]" => json!(row.try_get::<Vec<Option<f32>>, _>(i)?),
        "FLOAT8[]" => json!(row.try_get::<Vec<Option<f64>>, _>(i)?),
        "TEXT[]" | "VARCHAR[]" | "NAME[]" | "BPCHAR[]" => json!(row.try_get::<Vec<Option<String>>, _>(i)?),
        "UUID[]" => json!(row.try_get::<Vec<Option<Uuid>>, _>(i)?),
        "JSON[]" | "JSONB[]" => json!(row.try_get::<Vec<Value>, _>(i)?),
        _ => text_of(row, i, &ty),
    })
}

/// Enums, domains over text and citext share text's binary form; other types are named, not guessed.
fn text_of(row: &PgRow, i: usize, ty: &str) -> Value {
    match row.try_get_unchecked::<String, _>(i) {
        Ok(s) if !s.contains('\0') && !s.is_empty() && s.chars().all(|c| !c.is_control() || c == '\n' || c == '\t') => {
            json!(s)
        }
        _ => json!(format!("<{ty} value: cast it to text in the query to see it>")),
    }
}

pub(crate) async fn list_objects(pool: &PgPool, q: &ObjectQuery) -> Result<ObjectPage, sqlx::Error> {
    let text: Option<String> = sqlx::query_scalar(include_str!("postgres/list_objects.sql"))
        .bind(q.schema.as_deref())
        .bind(q.pattern.as_deref())
        .bind(q.limit)
        .bind(q.offset)
        .fetch_one(pool)
        .await?;
    Ok(super::page(super::parse_json(text)?.unwrap_or(Value::Null)))
}

pub(crate) async fn describe(pool: &PgPool, schema: Option<&str>, name: &str) -> Result<Option<Value>, sqlx::Error> {
    let text: Option<Option<String>> =
        sqlx::query_scalar(include_str!("postgres/describe.sql")).bind(schema).bind(name).fetch_optional(pool).await?;
    super::parse_json(text.flatten())
}

pub(crate) async fn health(pool: &PgPool, cfg: &DatabaseConfig) -> Result<Health, sqlx::Error> {
    let text: Option<String> = sqlx::query_scalar(include_str!("postgres/health.sql")).fetch_one(pool).await?;
    let v = super::parse_json(text)?.unwrap_or(Value::Null);
    let flag = |k: &str| v.get(k).and_then(Value::as_bool).unwrap_or(false);
    let mut checks = vec![Check::ok("connectivity", format!("connected as {}", v["user"].as_str().unwrap_or("?")))];
    checks.push(if flag("ssl") {
        Check::ok("tls", "connection is encrypted")
    } else if super::is_local(cfg) {
        Check::ok("tls", "not encrypted (local connection)")
    } else {
        Check::warn("tls", "connection is not encrypted", "add sslmode=require (or verify-full) to the URL")
    });
    if flag("superuser") || flag("bypassrls") {
        checks.push(Check::warn(
            "privileges",
            format!(
                "role {} is {}: it bypasses row level security and can change anything",
                v["user"].as_str().unwrap_or("?"),
                if flag("superuser") { "a superuser" } else { "BYPASSRLS" }
            ),
            "connect as a dedicated role with only the grants the work needs; RLS tests need a non-superuser role",
        ));
    } else {
        checks.push(Check::ok("privileges", "not a superuser, no BYPASSRLS"));
    }
    if cfg.mode == Mode::ReadWrite && !flag("can_create_in_public") && !flag("can_create_in_database") {
        checks.push(Check::warn(
            "create",
            "the role cannot create objects in this database or in schema public",
            "GRANT CREATE ON SCHEMA <schema> TO <role> if migrations should run through this server",
        ));
    }
    if flag("in_recovery") {
        checks.push(Check::ok("replica", "this server is a read replica (in recovery): writes are impossible"));
    }
    let preload = v["shared_preload_libraries"].as_str().unwrap_or("");
    for ext in v["extensions"].as_array().into_iter().flatten() {
        let name = ext["name"].as_str().unwrap_or("?");
        let installed = ext["installed"].as_str();
        let check = format!("extension {name}");
        checks.push(match (name, installed) {
            ("pg_stat_statements", Some(_)) if !preload.contains("pg_stat_statements") => Check::warn(
                &check,
                "installed but not in shared_preload_libraries, so it collects nothing",
                "add pg_stat_statements to shared_preload_libraries and restart the server",
            ),
            ("pg_stat_statements" | "hypopg", None) => Check::warn(
                &check,
                format!("available ({}) but not installed", ext["available"].as_str().unwrap_or("?")),
                format!(
                    "CREATE EXTENSION {name};{}",
                    if name == "pg_stat_statements" && !preload.contains(name) {
                        " it also needs shared_preload_libraries = 'pg_stat_statements' and a restart"
                    } else {
                        ""
                    }
                ),
            ),
            (_, Some(ver)) => Check::ok(&check, format!("installed ({ver})")),
            (_, None) => {
                Check::ok(&check, format!("available ({}), not installed", ext["available"].as_str().unwrap_or("?")))
            }
        });
    }
    for missing in ["pg_stat_statements", "hypopg"] {
        if !v["extensions"].as_array().into_iter().flatten().any(|e| e["name"] == missing) {
            checks.push(Check::warn(
                &format!("extension {missing}"),
                "not available on this server",
                format!(
                    "install the package that provides it (on Debian: postgresql-<version>-{})",
                    if missing == "hypopg" { "hypopg" } else { "contrib" }
                ),
            ));
        }
    }
    Ok(Health { version: v["version"].as_str().map(str::to_string), checks })
}

/// EXPLAIN in the session (a reader's, or a trial that is always rolled back): an analyzed
/// DELETE deletes nothing.
pub(crate) async fn explain(
    session: &mut super::session::Session<'_>,
    call: &super::ExplainCall<'_>,
) -> Result<super::Explained, crate::error::ToolError> {
    let options = if call.analyze { "ANALYZE, BUFFERS, SETTINGS, FORMAT JSON" } else { "SETTINGS, FORMAT JSON" };
    let sql = format!("EXPLAIN ({options}) {}", call.sql);
    let raw: Value = session
        .guard(async |conn, _| {
            let super::session::Conn::Postgres(c) = conn else { unreachable!() };
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
    session: &mut super::session::Session<'_>,
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

pub(crate) async fn index_problems(pool: &PgPool) -> Result<Value, sqlx::Error> {
    let text: Option<String> =
        sqlx::query_scalar(include_str!("../plan/postgres/index_problems.sql")).fetch_one(pool).await?;
    let mut problems = super::parse_json(text)?.unwrap_or(Value::Null);
    problems["fk_without_index"] = unindexed_foreign_keys(pool).await?;
    Ok(problems)
}

/// Foreign keys no index starts with, as a JSON array of {schema, table, constraint, columns, references}.
pub(crate) async fn unindexed_foreign_keys(pool: &PgPool) -> Result<Value, sqlx::Error> {
    let text: Option<String> =
        sqlx::query_scalar(include_str!("../plan/postgres/unindexed_foreign_keys.sql")).fetch_one(pool).await?;
    Ok(super::parse_json(text)?.unwrap_or(Value::Array(vec![])))
}

pub(crate) async fn table_stats(pool: &PgPool, tables: &[String]) -> Result<Value, sqlx::Error> {
    let text: Option<String> =
        sqlx::query_scalar(include_str!("../plan/postgres/table_stats.sql")).bind(tables).fetch_one(pool).await?;
    Ok(super::parse_json(text)?.unwrap_or(Value::Null))
}

/// Top statements from pg_stat_statements, or how to enable it; and current activity.
pub(crate) async fn hotpaths(pool: &PgPool, order: &str, limit: i64) -> Result<super::Hotpaths, sqlx::Error> {
    let activity: Option<String> =
        sqlx::query_scalar(include_str!("../plan/postgres/activity.sql")).fetch_one(pool).await?;
    let activity = super::parse_json(activity)?.unwrap_or(Value::Null);
    let installed: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_stat_statements')")
            .fetch_one(pool)
            .await?;
    let preload: String =
        sqlx::query_scalar("SELECT current_setting('shared_preload_libraries')").fetch_one(pool).await?;
    let how_to = match (preload.contains("pg_stat_statements"), installed) {
        (true, true) => None,
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
            .fetch_one(pool)
            .await?;
        super::parse_json(text)?.unwrap_or(Value::Null)
    } else {
        Value::Array(vec![])
    };
    Ok(super::Hotpaths { how_to_enable: how_to, statements, activity })
}

pub(crate) async fn column_stats(
    pool: &PgPool,
    table: &str,
    columns: &[String],
) -> Result<(Vec<crate::plan::indexes::ColumnStats>, f64), sqlx::Error> {
    // column, n_distinct, most common values, their frequencies, the table's row estimate
    type StatsRow = (String, f64, Vec<String>, Vec<f32>, f64);
    let rows: Vec<StatsRow> = sqlx::query_as(include_str!("../plan/postgres/column_stats.sql"))
        .bind(table)
        .bind(columns)
        .fetch_all(pool)
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

/// Run audit rules in the session (a catalog reader's); each returns `(object, detail, fix)` rows.
pub(crate) async fn audit(
    session: &mut super::session::Session<'_>,
    rules: &[&crate::audit::Rule],
) -> Result<Vec<crate::audit::AuditFinding>, crate::error::ToolError> {
    let mut out = Vec::new();
    for rule in rules {
        let rows: Vec<(String, Option<String>, Option<String>)> = session
            .guard(async |conn, _| {
                let super::session::Conn::Postgres(c) = conn else { unreachable!() };
                sqlx::query_as(rule.sql).fetch_all(&mut **c).await
            })
            .await?;
        out.extend(rows.into_iter().map(|(object, detail, fix)| crate::audit::AuditFinding {
            code: rule.code.clone(),
            severity: rule.severity,
            object,
            detail: detail.unwrap_or_default(),
            why: rule.why.clone(),
            fix: fix.unwrap_or_default(),
        }));
    }
    Ok(out)
}

/// Sample the values of text columns named like secrets and report those not hashed.
pub(crate) async fn plaintext_secrets(
    session: &mut super::session::Session<'_>,
) -> Result<Vec<crate::audit::AuditFinding>, crate::error::ToolError> {
    use crate::audit::plaintext_secrets as rule;
    let columns = session.rows(include_str!("../audit/plaintext_secrets.sql"), &[]).await?;
    let mut out = Vec::new();
    for c in columns {
        let field = |k: &str| c[k].as_str().unwrap_or_default().to_string();
        let (schema, table, column) = (field("schema"), field("table"), field("column"));
        if !crate::redact::is_secret_name(&column) {
            continue;
        }
        let ident = super::double_quote;
        let sql = format!(
            "SELECT {col}::text AS v FROM {}.{} WHERE {col} IS NOT NULL AND {col} <> '' LIMIT {}",
            ident(&schema),
            ident(&table),
            rule::SAMPLE,
            col = ident(&column)
        );
        let values: Vec<String> =
            session.rows(sql, &[]).await?.iter().filter_map(|r| r["v"].as_str().map(str::to_string)).collect();
        if let Some(detail) = rule::judge(&values) {
            out.push(crate::audit::AuditFinding {
                code: rule::CODE.into(),
                severity: rule::SEVERITY,
                object: format!("{schema}.{table}.{column}"),
                detail,
                why: rule::WHY.into(),
                fix: format!(
                    "store a hash instead (e.g. crypt(value, gen_salt('bf')) from pgcrypto for passwords), or encrypt it \
                     outside the database; then UPDATE {schema}.{table} to replace the plain values and rotate them"
                ),
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
    let regclass = |t: &str| t.split('.').map(super::double_quote).collect::<Vec<_>>().join(".");
    let tables: Vec<String> = checked.targets.iter().map(|t| regclass(&t.table)).collect();
    let inserts: Vec<bool> = checked.targets.iter().map(|t| t.inserts).collect();
    let columns: Vec<Option<String>> =
        checked.targets.iter().map(|t| t.columns.as_ref().map(|c| c.join("\n"))).collect();
    session
        .guard(async |conn, _| {
            let super::session::Conn::Postgres(c) = conn else { unreachable!() };
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
