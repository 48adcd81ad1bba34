//! PostgreSQL: read-only transactions, a server-side cursor for row caps, catalog queries.

use std::{str::FromStr, time::Duration};

use serde_json::{Value, json};
use sqlx::{
    Executor, PgPool, Row, TypeInfo, ValueRef,
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
