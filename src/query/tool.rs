//! run-sql and run-mongo: one statement (or one find / pipeline) per call, inside a transaction
//! that is read-only on read-only databases, under a statement timeout and row cap.

use std::time::Instant;

use mongodb::bson::{Bson, Document};
use rmcp::{
    Json, RoleServer,
    handler::server::{tool::InputResponses, wrapper::Parameters},
    service::RequestContext,
    tool, tool_router,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::mongo::DocumentCall;
use crate::{
    config::{Engine, Mode},
    engine::{
        Column,
        session::{Access, UserStatement},
    },
    error::ToolError,
    output::Truncation,
    server::Server,
    sql::{self, StatementKind},
};

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct RunSqlParams {
    /// Configured database name (default: the first one).
    #[serde(default)]
    pub database: Option<String>,
    /// Exactly one SQL statement in the engine's dialect.
    pub sql: String,
    /// Return at most this many rows (default and ceiling: the database's max_rows).
    #[serde(default, deserialize_with = "crate::args::lenient::opt_u64")]
    pub max_rows: Option<u64>,
    /// Statement timeout in milliseconds (default and ceiling: the database's statement_timeout_ms).
    #[serde(default, deserialize_with = "crate::args::lenient::opt_u64")]
    pub timeout_ms: Option<u64>,
    /// For DROP, TRUNCATE, ALTER ... DROP, or DELETE / UPDATE without WHERE, from clients that
    /// cannot ask the user: true once the user agreed.
    #[serde(default)]
    pub confirm: bool,
}

#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct RunSqlOutput {
    pub database: String,
    pub engine: Engine,
    pub mode: Mode,
    /// query, inspect, dml or ddl.
    pub statement: StatementKind,
    /// True when a change (DML, DDL, or EXPLAIN ANALYZE of one) was committed: read-write
    /// databases only.
    pub committed: bool,
    /// Rows changed by INSERT / UPDATE / DELETE.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rows_affected: Option<u64>,
    pub elapsed_ms: f64,
    pub columns: Vec<Column>,
    /// One array per row, in column order. Timestamps are ISO 8601, numerics and 64-bit integers past
    /// 2^53 are strings (no digit lost), bytes are base64, JSON is JSON.
    pub rows: Vec<Vec<Value>>,
    pub truncation: Truncation,
    /// Things worth knowing about how the statement ran.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct RunMongoParams {
    /// Configured database name (default: the first one).
    #[serde(default)]
    pub database: Option<String>,
    /// Collection to read.
    pub collection: String,
    /// Query filter (MongoDB Extended JSON: {"_id": {"$oid": "..."}}, {"at": {"$gte": {"$date": "..."}}}).
    #[serde(default)]
    pub filter: Option<serde_json::Map<String, Value>>,
    /// Fields to include or exclude (find only).
    #[serde(default)]
    pub projection: Option<serde_json::Map<String, Value>>,
    /// Sort order, e.g. {"created_at": -1} (find only).
    #[serde(default)]
    pub sort: Option<serde_json::Map<String, Value>>,
    /// An aggregation pipeline; when given, runs aggregate instead of find ($out/$merge only on read-write databases).
    #[serde(default)]
    pub pipeline: Option<Vec<serde_json::Map<String, Value>>>,
    /// Return at most this many documents (default and ceiling: the database's max_rows).
    #[serde(default, deserialize_with = "crate::args::lenient::opt_u64")]
    pub max_rows: Option<u64>,
    /// Server-side time limit in milliseconds (default and ceiling: the database's statement_timeout_ms).
    #[serde(default, deserialize_with = "crate::args::lenient::opt_u64")]
    pub timeout_ms: Option<u64>,
}

#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct RunMongoOutput {
    pub database: String,
    pub engine: Engine,
    pub collection: String,
    /// find or aggregate.
    pub operation: String,
    pub elapsed_ms: f64,
    /// Documents in relaxed Extended JSON ($oid, $date, $numberDecimal keep their types).
    pub documents: Vec<Value>,
    pub truncation: Truncation,
}

pub(crate) fn bson_document(argument: &str, map: serde_json::Map<String, Value>) -> Result<Document, ToolError> {
    match Bson::try_from(Value::Object(map)) {
        Ok(Bson::Document(d)) => Ok(d),
        Ok(_) => Err(ToolError::invalid(argument, "must be a JSON object")),
        Err(e) => Err(ToolError::invalid(argument, format!("not valid Extended JSON: {e}"))),
    }
}

fn round_ms(started: Instant) -> f64 {
    (started.elapsed().as_secs_f64() * 1000.0 * 100.0).round() / 100.0
}

#[tool_router(router = sql_router, vis = "pub(crate)")]
impl Server {
    #[tool(
        name = "run-sql",
        description = "Run exactly one SQL statement on PostgreSQL, MySQL/MariaDB or SQLite and return typed rows. \
            On a read-only database it runs inside a read-only transaction the database enforces; on a read-write \
            database the statement commits only if it succeeds. Statements that manage transactions or session \
            settings are refused. Results are capped (max_rows, output size) and say when they were truncated. \
            For MongoDB use run-mongo.",
        annotations(
            title = "Run one SQL statement",
            read_only_hint = false,
            destructive_hint = true,
            idempotent_hint = false,
            open_world_hint = false
        )
    )]
    async fn run_sql(
        &self,
        Parameters(p): Parameters<RunSqlParams>,
        context: RequestContext<RoleServer>,
        responses: InputResponses,
    ) -> Result<Json<RunSqlOutput>, ToolError> {
        let db = self.database(p.database.as_deref())?;
        let cfg = &db.config;
        if !db.capabilities().sql {
            return Err(db.needs_sql("SQL"));
        }
        let cap = cfg.row_cap(p.max_rows);
        let timeout_ms = cfg.timeout_ms(p.timeout_ms);
        // One row past the cap tells whether the result was cut.
        let checked = sql::check(&p.sql, cfg.engine, cfg.mode, cap + 1)?;
        if let Some(destructive) = &checked.destructive {
            crate::confirm::confirmed(
                &context,
                responses,
                p.confirm,
                &format!("run {} on {}", destructive.action, cfg.name),
            )
            .await?;
        }
        let started = Instant::now();
        let (mut session, filtered) = db.statement_session(&checked.relations, timeout_ms).await?;
        // TRUNCATE reports no rows: count what it will remove, in the same transaction.
        let mut removed = None;
        if let Some(destructive) = checked.destructive.as_ref().filter(|d| !d.truncated.is_empty()) {
            let mut total = 0;
            for table in &destructive.truncated {
                let n = session.scalar(format!("SELECT count(*) FROM {table}"), &[]).await?;
                total += n.as_u64().or_else(|| n.as_str().and_then(|s| s.parse().ok())).unwrap_or(0);
            }
            removed = Some(total);
        }
        let read = session
            .statement(&UserStatement {
                sql: p.sql.trim().trim_end_matches(';'),
                checked: &checked,
                cap,
                max_bytes: self.output().max_bytes(),
            })
            .await?;
        let committed = if session.access() == Access::Writer {
            session.commit().await?;
            checked.kind.writes()
        } else {
            session.close();
            false
        };
        let mut notes = Vec::new();
        if checked.kind == StatementKind::Ddl && !db.capabilities().transactional_ddl {
            notes.push(format!("{} commits DDL implicitly: this change cannot be rolled back", cfg.engine));
        }
        if !filtered.is_empty() {
            notes.push(format!(
                "row level security filters {}: the rows shown are those its policies give the least-privilege reader \
                 this server reads as on a read-only database; test-as-user shows what a given user sees",
                filtered.join(", ")
            ));
        }
        let rows = read.rows;
        let truncation = Truncation::cut(rows.rows.len(), rows.more, read.cut_at_bytes, cap);
        Ok(Json(RunSqlOutput {
            database: cfg.name.clone(),
            engine: cfg.engine,
            mode: cfg.mode,
            statement: checked.kind,
            committed,
            rows_affected: removed.or(rows.rows_affected),
            elapsed_ms: round_ms(started),
            truncation,
            columns: rows.columns,
            rows: rows.rows,
            notes,
        }))
    }

    #[tool(
        name = "run-mongo",
        description = "Read a MongoDB collection with a find (filter, projection, sort) or an aggregation pipeline, \
            under a server-side time limit and a document cap. On read-only databases $out, $merge and server-side \
            JavaScript ($where, $function, $accumulator) are refused.",
        annotations(
            title = "Query a MongoDB collection",
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = false,
            open_world_hint = false
        )
    )]
    async fn run_mongo(&self, Parameters(p): Parameters<RunMongoParams>) -> Result<Json<RunMongoOutput>, ToolError> {
        let db = self.database(p.database.as_deref())?;
        let cfg = &db.config;
        if !db.capabilities().documents {
            return Err(db.needs_documents("document queries"));
        }
        if p.collection.trim().is_empty() {
            return Err(ToolError::invalid("collection", "give the collection name (list-objects shows them)"));
        }
        let cap = cfg.row_cap(p.max_rows);
        let timeout_ms = cfg.timeout_ms(p.timeout_ms);
        let pipeline = p
            .pipeline
            .map(|stages| stages.into_iter().map(|s| bson_document("pipeline", s)).collect::<Result<Vec<_>, _>>())
            .transpose()?;
        let operation = if pipeline.is_some() { "aggregate" } else { "find" };
        let call = DocumentCall {
            collection: p.collection.clone(),
            filter: p.filter.map(|f| bson_document("filter", f)).transpose()?.unwrap_or_default(),
            projection: p.projection.map(|f| bson_document("projection", f)).transpose()?,
            sort: p.sort.map(|f| bson_document("sort", f)).transpose()?,
            pipeline,
            cap,
            max_bytes: self.output().max_bytes(),
            timeout_ms,
        };
        let started = Instant::now();
        let set = crate::query::mongo::run_documents(db, call).await?;
        Ok(Json(RunMongoOutput {
            database: cfg.name.clone(),
            engine: cfg.engine,
            collection: p.collection,
            operation: operation.into(),
            elapsed_ms: round_ms(started),
            truncation: Truncation::cut(set.documents.len(), set.more, set.cut_at_bytes, cap),
            documents: set.documents,
        }))
    }
}
