//! The plan tools' entry points on a database: which session a statement is explained in, and
//! the statistics each engine keeps.

use serde_json::Value;

use super::{DocumentExplainCall, ExplainCall, Explained, Hotpaths, Hypothetical, IndexShape, redundant};

use crate::{
    config::Engine,
    engine::{
        Database,
        session::{Access, Conn},
    },
    error::ToolError,
};

/// Explain one checked statement; with `analyze`, run it: a read as the reader in a
/// read-only transaction, a write in a trial that is always rolled back (and refused first
/// when a rollback could not undo all of it).
pub async fn explain(db: &Database, call: &ExplainCall<'_>) -> Result<Explained, ToolError> {
    if !db.capabilities().sql {
        return Err(db.needs_sql("explain-analyze of SQL"));
    }
    let trial = call.analyze && call.checked.kind.writes();
    if trial {
        crate::plan::db::refuse_lasting_effects(db, call.checked, call.timeout_ms).await?;
    }
    // A plan alone runs nothing: a write is planned with the login's own rights (the planner
    // checks them) inside a read-only transaction.
    let access = match (trial, call.checked.kind.writes()) {
        (true, _) => Access::Trial,
        (false, true) => Access::Catalog,
        (false, false) => Access::Reader,
    };
    let mut session = db.session(access, call.timeout_ms).await?;
    let explained = match db.config.engine {
        Engine::Postgres => super::postgres::explain(&mut session, call).await,
        Engine::Mysql => super::mysql::explain(&mut session, call).await,
        _ => super::sqlite::explain(&mut session, call).await,
    };
    if trial {
        // Awaited: the rollback is the point.
        let rolled_back = session.rollback().await;
        explained.and_then(|e| rolled_back.map(|()| e))
    } else {
        session.close();
        explained
    }
}

/// Refuse to run a write that leaves a trace a rollback cannot undo: sequences, AUTO_INCREMENT
/// counters, non-transactional tables, triggers and user functions this server cannot vouch
/// for, foreign tables.
async fn refuse_lasting_effects(
    db: &Database,
    checked: &crate::sql::Checked,
    timeout_ms: u64,
) -> Result<(), ToolError> {
    let mut reasons: Vec<String> = checked
        .functions
        .iter()
        .filter(|f| matches!(f.as_str(), "nextval" | "setval" | "lastval"))
        .map(|f| format!("{f}() changes a sequence, and a rollback does not undo that"))
        .collect();
    if reasons.is_empty() && db.config.engine != Engine::Sqlite {
        let mut session = db.session(Access::Catalog, timeout_ms).await?;
        let found = match db.config.engine {
            Engine::Postgres => super::postgres::lasting_effects(&mut session, checked).await,
            _ => super::mysql::lasting_effects(&mut session, checked).await,
        };
        session.close();
        reasons = found?;
    }
    match reasons.as_slice() {
        [] => Ok(()),
        _ => Err(ToolError::refused(
            format!("analyzing this statement would leave a trace a rollback cannot undo: {}", reasons.join("; ")),
            "pass analyze: false for the estimated plan (nothing runs), or analyze the statement on a copy of the \
             table (CREATE TABLE ... AS, or a scratch database)",
        )),
    }
}

/// Explain a find or pipeline with MongoDB's explain command.
pub async fn explain_documents(db: &Database, call: DocumentExplainCall) -> Result<Explained, ToolError> {
    super::mongo::explain(db.mongo().await?, call, db.config.mode).await
}

/// Cost each candidate (CREATE INDEX statements) as a hypothetical index; `None` when the
/// engine or database cannot.
pub async fn hypothetical_indexes(
    db: &Database,
    sql: &str,
    writes: bool,
    candidates: &[String],
) -> Result<Option<Hypothetical>, ToolError> {
    if !db.capabilities().hypothetical_indexes {
        return Ok(None);
    }
    // Only planned, never run: a write is planned with the login's own rights.
    let access = if writes { Access::Catalog } else { Access::Reader };
    let mut session = db.session(access, db.config.statement_timeout_ms).await?;
    let tried = super::postgres::hypothetical(&mut session, sql, candidates).await;
    session.close();
    tried
}
/// Foreign keys no index starts with, where the engine can tell (explain's fk-join rule needs
/// only these, not the whole index review).
pub async fn unindexed_foreign_keys(db: &Database) -> Result<Vec<crate::plan::ForeignKey>, ToolError> {
    if db.engine() != Engine::Postgres {
        return Ok(vec![]);
    }
    let v = db.catalog(async |conn| super::postgres::unindexed_foreign_keys(conn.pg()).await).await?;
    Ok(v.as_array()
        .into_iter()
        .flatten()
        .map(|f| crate::plan::ForeignKey {
            table: f["table"].as_str().unwrap_or_default().to_string(),
            columns: f["columns"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect(),
            references: f["references"].as_str().unwrap_or_default().to_string(),
        })
        .collect())
}

/// Unused and duplicate indexes and unindexed foreign keys, where the engine can tell:
/// `{"unused": [...], "duplicates": [...], "fk_without_index": [...]}`.
pub async fn index_problems(db: &Database) -> Result<Option<Value>, ToolError> {
    if db.engine() == Engine::Mongodb {
        return Ok(Some(super::mongo::index_problems(db.mongo().await?).await));
    }
    let listed = |rows: Vec<Value>| {
        let indexes = rows
            .iter()
            .map(|r| IndexShape {
                table: r["table"].as_str().unwrap_or_default().to_string(),
                name: r["index"].as_str().unwrap_or_default().to_string(),
                unique: r["is_unique"] == serde_json::json!(1) || r["is_unique"] == serde_json::json!(true),
                columns: r["columns"].as_str().unwrap_or_default().split(',').map(str::to_string).collect(),
            })
            .collect::<Vec<_>>();
        serde_json::json!({ "unused": [], "duplicates": redundant(&indexes), "fk_without_index": [] })
    };
    let found = db
        .catalog(async |conn| match conn {
            Conn::Postgres(c) => super::postgres::index_problems(c).await.map(Ok),
            Conn::Mysql(c) => {
                let rows = sqlx::query(include_str!("mysql/indexes.sql")).fetch_all(&mut **c).await?;
                let indexes = crate::engine::objects(&rows, crate::engine::mysql::cell)?;
                // Usage counts need performance_schema: off or not readable means none to report.
                let unused = match sqlx::query(include_str!("mysql/unused_indexes.sql")).fetch_all(&mut **c).await {
                    Ok(rows) => crate::engine::objects(&rows, crate::engine::mysql::cell).unwrap_or_default(),
                    Err(_) => vec![],
                };
                Ok(Err((indexes, unused)))
            }
            Conn::Sqlite(c) => {
                let rows = sqlx::query(include_str!("sqlite/indexes.sql")).fetch_all(&mut **c).await?;
                Ok(Err((crate::engine::objects(&rows, crate::engine::sqlite::cell)?, vec![])))
            }
            Conn::Empty => unreachable!("an open session"),
        })
        .await?;
    Ok(Some(match found {
        Ok(problems) => problems,
        Err((indexes, unused)) => {
            let mut problems = listed(indexes);
            problems["unused"] = Value::Array(unused);
            problems
        }
    }))
}

/// The planner's statistics of these columns and the table's row estimate, where the engine
/// keeps them (PostgreSQL's pg_stats).
pub async fn column_stats(
    db: &Database,
    table: &str,
    columns: &[String],
) -> Result<Option<(Vec<crate::plan::indexes::ColumnStats>, f64)>, ToolError> {
    if db.engine() != Engine::Postgres {
        return Ok(None);
    }
    db.catalog(async |conn| super::postgres::column_stats(conn.pg(), table, columns).await).await.map(Some)
}

/// Size, rows, dead rows, last analyze / vacuum and scan counts of these tables.
pub async fn table_stats(db: &Database, tables: &[String]) -> Result<Value, ToolError> {
    match db.engine() {
        Engine::Mongodb => Ok(super::mongo::table_stats(db.mongo().await?, tables).await),
        Engine::Sqlite => {
            let mut out = Vec::new();
            for table in tables {
                if let Some(d) = db.describe(None, table, 1).await? {
                    out.push(serde_json::json!({ "table": table, "live_rows": d["row_estimate"] }));
                }
            }
            Ok(Value::Array(out))
        }
        _ => {
            db.catalog(async |conn| match conn {
                Conn::Postgres(c) => super::postgres::table_stats(c, tables).await,
                Conn::Mysql(c) => super::mysql::table_stats(c, tables).await,
                _ => unreachable!("a PostgreSQL or MySQL session"),
            })
            .await
        }
    }
}

/// The busiest statements (by `order`) and the sessions running now.
pub async fn hotpaths(db: &Database, order: &str, limit: i64) -> Result<Hotpaths, ToolError> {
    match db.engine() {
        Engine::Mongodb => Ok(super::mongo::hotpaths(db.mongo().await?, limit).await),
        Engine::Sqlite => Ok(Hotpaths {
            how_to_enable: Some(
                "SQLite keeps no statement statistics and serves one process: time the queries your application runs with \
                 explain-analyze instead"
                    .into(),
            ),
            statements: Value::Array(vec![]),
            activity: Value::Array(vec![]),
        }),
        _ => {
            db.catalog(async |conn| match conn {
                Conn::Postgres(c) => super::postgres::hotpaths(c, order, limit).await,
                Conn::Mysql(c) => super::mysql::hotpaths(c, order, limit).await,
                _ => unreachable!("a PostgreSQL or MySQL session"),
            })
            .await
        }
    }
}
