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
