//! explain-analyze: the plan of one statement (or MongoDB find / pipeline) in one model across
//! engines, with findings that carry their evidence and a concrete fix. Whatever runs to be
//! measured runs inside a transaction that is always rolled back.

use rmcp::{Json, handler::server::wrapper::Parameters, tool, tool_router};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::sql::bson_document;
use crate::{
    backend::{DocumentExplainCall, ExplainCall},
    config::{Engine, Mode},
    error::ToolError,
    plan::{self, Finding, PlanNode},
    safety::{self, StatementKind},
    server::Server,
};

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct ExplainParams {
    /// Configured database name (default: the first one).
    #[serde(default)]
    pub database: Option<String>,
    /// One SQL statement: a query, or INSERT / UPDATE / DELETE (analyzed writes are rolled back).
    #[serde(default)]
    pub sql: Option<String>,
    /// MongoDB: the collection to explain a find or pipeline on.
    #[serde(default)]
    pub collection: Option<String>,
    /// MongoDB: the find filter (Extended JSON).
    #[serde(default)]
    pub filter: Option<serde_json::Map<String, Value>>,
    /// MongoDB: the find sort.
    #[serde(default)]
    pub sort: Option<serde_json::Map<String, Value>>,
    /// MongoDB: an aggregation pipeline to explain instead of a find.
    #[serde(default)]
    pub pipeline: Option<Vec<serde_json::Map<String, Value>>>,
    /// Run the statement to measure real rows and times (default true). false: the estimated plan only.
    #[serde(default)]
    pub analyze: Option<bool>,
    /// Include the engine's raw plan (large) in the result.
    #[serde(default)]
    pub raw: Option<bool>,
    /// Statement timeout in milliseconds (default and ceiling: the database's statement_timeout_ms).
    #[serde(default, deserialize_with = "super::lenient::opt_u64")]
    pub timeout_ms: Option<u64>,
}

#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct ExplainOutput {
    pub database: String,
    pub engine: Engine,
    /// True when the statement ran and the plan holds real rows and times.
    pub analyzed: bool,
    /// Whatever ran was rolled back: explaining never changes data.
    pub rolled_back: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub planning_ms: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub execution_ms: Option<f64>,
    /// What to fix, most severe first, each with its evidence.
    pub findings: Vec<Finding>,
    /// The plan as a short indented tree.
    pub plan_text: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    /// The plan in the common model (node kind, relation, index, estimated vs actual rows, loops,
    /// time, rows or documents examined, cache hits and disk reads).
    pub plan: PlanNode,
    /// The engine's own plan, when asked for with `raw: true`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub raw_plan: Option<Value>,
}

fn round_ms(ms: f64) -> f64 {
    (ms * 1000.0).round() / 1000.0
}

#[tool_router(router = performance_router, vis = "pub(crate)")]
impl Server {
    #[tool(
        name = "explain-analyze",
        description = "Show how the database runs one statement and what to fix. Returns one plan tree across \
            engines (PostgreSQL EXPLAIN ANALYZE with buffers, MariaDB ANALYZE FORMAT=JSON, SQLite's query plan with a \
            timed run, MongoDB explain executionStats) and findings with evidence and a concrete fix: selective full \
            scans, functions or wildcards that defeat indexes, row misestimates, sorts spilling to disk, nested loops \
            over many rows, cold reads. The statement runs inside a transaction that is always rolled back; \
            analyze: false only plans it.",
        annotations(title = "Explain a query's plan", read_only_hint = true, destructive_hint = false, idempotent_hint = true, open_world_hint = false)
    )]
    async fn explain_analyze(&self, Parameters(p): Parameters<ExplainParams>) -> Result<Json<ExplainOutput>, ToolError> {
        let db = self.database(p.database.as_deref())?;
        let cfg = &db.config;
        let analyze = p.analyze.unwrap_or(true);
        let timeout_ms = p.timeout_ms.map_or(cfg.statement_timeout_ms, |t| t.clamp(1, cfg.statement_timeout_ms));
        let explained = match (&p.sql, &p.collection) {
            (Some(sql), _) if db.capabilities().sql => {
                let sql = sql.trim().trim_end_matches(';');
                // Parsed as on a read-write database to learn its kind; the read-only rules apply
                // below only when it would run.
                let checked = safety::check(sql, cfg.engine, Mode::ReadWrite, 1)?;
                if !matches!(checked.kind, StatementKind::Query | StatementKind::Dml) {
                    return Err(ToolError::invalid("sql", "explain-analyze takes a query or an INSERT / UPDATE / DELETE"));
                }
                if analyze && cfg.mode == Mode::ReadOnly {
                    if checked.kind == StatementKind::Dml {
                        return Err(ToolError::refused(
                            "on a read-only database only reads are analyzed",
                            "pass analyze: false for the estimated plan, or use a read-write database (the write is rolled back)",
                        ));
                    }
                    safety::check(sql, cfg.engine, Mode::ReadOnly, 1)?;
                }
                db.explain(&ExplainCall { sql, kind: checked.kind, mode: cfg.mode, analyze, timeout_ms }).await?
            }
            (_, Some(collection)) if db.capabilities().documents => {
                let pipeline = p
                    .pipeline
                    .map(|stages| stages.into_iter().map(|s| bson_document("pipeline", s)).collect::<Result<Vec<_>, _>>())
                    .transpose()?;
                db.explain_documents(DocumentExplainCall {
                    collection: collection.clone(),
                    filter: p.filter.map(|f| bson_document("filter", f)).transpose()?.unwrap_or_default(),
                    sort: p.sort.map(|s| bson_document("sort", s)).transpose()?,
                    pipeline,
                    analyze,
                    timeout_ms,
                })
                .await?
            }
            _ if db.capabilities().documents => {
                return Err(ToolError::invalid("collection", "give the collection (and a filter or pipeline) to explain"));
            }
            _ => return Err(ToolError::invalid("sql", "give the SQL statement to explain")),
        };
        let cx = plan::Context { engine: cfg.engine, analyzed: analyze };
        Ok(Json(ExplainOutput {
            database: cfg.name.clone(),
            engine: cfg.engine,
            analyzed: analyze,
            rolled_back: true,
            planning_ms: explained.planning_ms.map(round_ms),
            execution_ms: explained.execution_ms.map(round_ms),
            findings: plan::findings(&explained.plan, &cx),
            plan_text: plan::text_tree(&explained.plan),
            notes: explained.notes,
            plan: explained.plan,
            raw_plan: p.raw.unwrap_or(false).then_some(explained.raw),
        }))
    }
}
