//! explain-analyze: the plan of one statement (or MongoDB find / pipeline) in one model across
//! engines, with findings that carry their evidence and a concrete fix. Whatever runs to be
//! measured runs inside a transaction that is always rolled back.

use rmcp::{Json, handler::server::wrapper::Parameters, tool, tool_router};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::query::tool::bson_document;
use crate::{
    config::{Engine, Mode},
    engine::Database,
    error::ToolError,
    plan::{self, Finding, PlanNode},
    plan::{DocumentExplainCall, ExplainCall},
    server::Server,
    sql::{self, StatementKind},
};

/// What to look at: one SQL statement, or a MongoDB find (collection, filter, sort) or pipeline.
#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
pub struct Target {
    /// Configured database name (default: the first one).
    #[serde(default)]
    pub database: Option<String>,
    /// One SQL statement: a query, or INSERT / UPDATE / DELETE (analyzed writes are rolled back).
    #[serde(default)]
    pub sql: Option<String>,
    /// MongoDB: the collection of the find or pipeline.
    #[serde(default)]
    pub collection: Option<String>,
    /// MongoDB: the find filter (Extended JSON).
    #[serde(default)]
    pub filter: Option<serde_json::Map<String, Value>>,
    /// MongoDB: the find sort.
    #[serde(default)]
    pub sort: Option<serde_json::Map<String, Value>>,
    /// MongoDB: an aggregation pipeline instead of a find.
    #[serde(default)]
    pub pipeline: Option<Vec<serde_json::Map<String, Value>>>,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct ExplainParams {
    #[serde(flatten)]
    pub target: Target,
    /// Run the statement to measure real rows and times (default true). false: the estimated plan only.
    #[serde(default)]
    pub analyze: Option<bool>,
    /// Include the engine's raw plan (large) in the result.
    #[serde(default)]
    pub raw: Option<bool>,
    /// Statement timeout in milliseconds (default and ceiling: the database's statement_timeout_ms).
    #[serde(default, deserialize_with = "crate::args::lenient::opt_u64")]
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
        annotations(
            title = "Explain a query's plan",
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    async fn explain_analyze(
        &self,
        Parameters(p): Parameters<ExplainParams>,
    ) -> Result<Json<ExplainOutput>, ToolError> {
        let db = self.database(p.target.database.as_deref())?;
        let cfg = &db.config;
        let analyze = p.analyze.unwrap_or(true);
        let timeout_ms = cfg.timeout_ms(p.timeout_ms);
        let explained = match (&p.target.sql, &p.target.collection) {
            (Some(sql), _) if db.capabilities().sql => {
                let sql = sql.trim().trim_end_matches(';');
                // Parsed as on a read-write database to learn its kind; the read-only rules apply
                // below only when it would run.
                let checked = sql::check(sql, cfg.engine, Mode::ReadWrite, 1)?;
                if !matches!(checked.kind, StatementKind::Query | StatementKind::Dml) {
                    return Err(ToolError::invalid(
                        "sql",
                        "explain-analyze takes a query or an INSERT / UPDATE / DELETE",
                    ));
                }
                if analyze && cfg.mode == Mode::ReadOnly && checked.kind == StatementKind::Dml {
                    return Err(ToolError::refused(
                        "on a read-only database only reads are analyzed",
                        "pass analyze: false for the estimated plan, or use a read-write database (the write is rolled back)",
                    ));
                }
                if analyze && checked.kind == StatementKind::Query {
                    // An analyzed read runs as the reader, under the read-only rules, whatever the
                    // database's mode.
                    sql::check(sql, cfg.engine, Mode::ReadOnly, 1)?;
                }
                crate::plan::db::explain(db, &ExplainCall { sql, checked: &checked, analyze, timeout_ms }).await?
            }
            (_, Some(collection)) if db.capabilities().documents => {
                let pipeline = p
                    .target
                    .pipeline
                    .map(|stages| {
                        stages.into_iter().map(|s| bson_document("pipeline", s)).collect::<Result<Vec<_>, _>>()
                    })
                    .transpose()?;
                crate::plan::db::explain_documents(
                    db,
                    DocumentExplainCall {
                        collection: collection.clone(),
                        filter: p.target.filter.map(|f| bson_document("filter", f)).transpose()?.unwrap_or_default(),
                        sort: p.target.sort.map(|s| bson_document("sort", s)).transpose()?,
                        pipeline,
                        analyze,
                        timeout_ms,
                    },
                )
                .await?
            }
            _ if db.capabilities().documents => {
                return Err(ToolError::invalid(
                    "collection",
                    "give the collection (and a filter or pipeline) to explain",
                ));
            }
            _ => return Err(ToolError::invalid("sql", "give the SQL statement to explain")),
        };
        let unindexed_foreign_keys = crate::plan::db::unindexed_foreign_keys(db).await?;
        let cx = plan::Context { engine: cfg.engine, analyzed: analyze, unindexed_foreign_keys };
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

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct DesignIndexesParams {
    #[serde(flatten)]
    pub target: Target,
    /// `hotpaths`: design for the workload instead, from the busiest statements (pg_stat_statements,
    /// performance_schema); candidates are ranked by the time of the statements they serve.
    #[serde(default)]
    pub from: Option<String>,
}

#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct IndexRecommendation {
    pub table: String,
    pub columns: Vec<String>,
    /// The statement to run through a migration (never run by this tool).
    pub statement: String,
    /// Why these columns.
    pub reason: String,
    /// Planner cost of the statement with this index (HypoPG).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cost_after: Option<f64>,
    /// Cost saved, in percent of the cost without it (HypoPG).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub improvement_pct: Option<f64>,
    /// Estimated size of the index in bytes (HypoPG).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub estimated_bytes: Option<i64>,
    /// Workload mode: total time of the busy statements this index would serve.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub workload_ms: Option<f64>,
}

#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct DesignIndexesOutput {
    pub database: String,
    pub engine: Engine,
    /// Each candidate was tried as a hypothetical index and costed by the planner (PostgreSQL with HypoPG).
    pub hypothetical_costing: bool,
    /// Planner cost of the statement as it is now (HypoPG).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cost_before: Option<f64>,
    /// Indexes to create, the most useful first.
    pub recommendations: Vec<IndexRecommendation>,
    /// Candidates an existing index already serves, or that the planner would not use.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub not_recommended: Vec<String>,
    /// Existing indexes that cost writes for nothing, and foreign keys no index serves.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub existing_index_problems: Vec<plan::indexes::IndexProblem>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

/// Leading column names of each index on a described object (MySQL prefixes like `name(10)` lose
/// their length; MongoDB keys keep their order).
fn index_columns(object: &serde_json::Map<String, Value>) -> Vec<Vec<String>> {
    object
        .get("indexes")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|ix| match (ix.get("columns"), ix.get("key")) {
            (Some(Value::Array(cols)), _) => {
                cols.iter().filter_map(Value::as_str).map(|c| c.split('(').next().unwrap_or(c).to_string()).collect()
            }
            (_, Some(Value::Object(key))) => key.keys().cloned().collect(),
            _ => vec![],
        })
        .collect()
}

#[tool_router(router = design_router, vis = "pub(crate)")]
impl Server {
    #[tool(
        name = "design-indexes",
        description = "Propose indexes for one statement (or MongoDB find): candidates from its equality and range \
            predicates, joins and ORDER BY, minus what existing indexes already serve. On PostgreSQL with HypoPG each \
            candidate is tried as a hypothetical index and ranked by the planner's cost before and after, with its \
            estimated size. Also reports unused and duplicate indexes and foreign keys without an index. Never \
            creates an index: apply the statements through a migration.",
        annotations(
            title = "Design indexes",
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    async fn design_indexes(
        &self,
        Parameters(p): Parameters<DesignIndexesParams>,
    ) -> Result<Json<DesignIndexesOutput>, ToolError> {
        let db = self.database(p.target.database.as_deref())?;
        let mut design = Design::default();
        let workload = workload_candidates(db, p.from.as_deref(), &mut design.notes).await?;
        let (candidates, statement) = statement_candidates(db, &p.target, &workload, p.from.is_some())?;
        let fresh = drop_served(db, candidates, &mut design.not_recommended).await?;
        let fresh = refine_with_statistics(db, fresh).await?;
        design.recommendations = recommend(db.config.engine, &fresh, &workload);
        cost_hypothetically(db, statement.as_ref(), &fresh, &mut design).await?;
        let existing_index_problems = match crate::plan::db::index_problems(db).await? {
            Some(v) => plan::indexes::problems_from(&v, db.config.engine),
            None => vec![],
        };
        Ok(Json(DesignIndexesOutput {
            database: db.config.name.clone(),
            engine: db.config.engine,
            hypothetical_costing: design.hypothetical_costing,
            cost_before: design.cost_before,
            recommendations: design.recommendations,
            not_recommended: design.not_recommended,
            existing_index_problems,
            notes: design.notes,
        }))
    }
}

/// What design-indexes builds up, step by step.
#[derive(Default)]
struct Design {
    recommendations: Vec<IndexRecommendation>,
    not_recommended: Vec<String>,
    hypothetical_costing: bool,
    cost_before: Option<f64>,
    notes: Vec<String>,
}

/// Workload mode: every busy statement contributes candidates, weighted by its time.
async fn workload_candidates(
    db: &Database,
    from: Option<&str>,
    notes: &mut Vec<String>,
) -> Result<Vec<(plan::indexes::Candidate, f64)>, ToolError> {
    let mut workload: Vec<(plan::indexes::Candidate, f64)> = Vec::new();
    match from {
        None => return Ok(workload),
        Some("hotpaths") => {}
        Some(_) => return Err(ToolError::invalid("from", "the only source is \"hotpaths\"")),
    }
    if !db.capabilities().sql {
        return Err(db.needs_sql("design-indexes from hotpaths"));
    }
    let h = crate::plan::db::hotpaths(db, "total_time", 20).await?;
    if let Some(how) = h.how_to_enable {
        return Err(ToolError::refused("statement statistics are not enabled, so there is no workload to read", how));
    }
    for s in h.statements.as_array().into_iter().flatten() {
        let (Some(text), ms) = (s["query"].as_str(), s["total_ms"].as_f64().unwrap_or(0.0)) else { continue };
        for c in plan::indexes::sql_candidates(text, db.config.engine) {
            match workload.iter_mut().find(|(w, _)| w.table == c.table && w.columns == c.columns) {
                Some((_, total)) => *total += ms,
                None => workload.push((c, ms)),
            }
        }
    }
    workload.sort_by(|a, b| b.1.total_cmp(&a.1));
    notes.push("workload mode: statements carry parameters, so candidates are ranked by the time of the statements they serve, not costed".into());
    Ok(workload)
}

/// The candidates to judge: the workload's, or those read off the one statement (or find); with
/// the statement itself (and whether it writes) when the planner can cost it.
fn statement_candidates(
    db: &Database,
    target: &Target,
    workload: &[(plan::indexes::Candidate, f64)],
    from_workload: bool,
) -> Result<(Vec<plan::indexes::Candidate>, Option<Costable>), ToolError> {
    if target.pipeline.is_some() {
        return Err(ToolError::invalid(
            "pipeline",
            "design-indexes reads a find's filter and sort: pass the pipeline's first $match as `filter` (and its $sort as `sort`)",
        ));
    }
    let engine = db.config.engine;
    Ok(match (&target.sql, &target.collection) {
        _ if !workload.is_empty() || from_workload => (workload.iter().map(|(c, _)| c.clone()).collect(), None),
        (Some(sql), _) if db.capabilities().sql => {
            let sql = sql.trim().trim_end_matches(';');
            let checked = sql::check(sql, engine, Mode::ReadWrite, 1)?;
            if !matches!(checked.kind, StatementKind::Query | StatementKind::Dml) {
                return Err(ToolError::invalid("sql", "design-indexes takes a query or an UPDATE / DELETE"));
            }
            (plan::indexes::sql_candidates(sql, engine), Some((sql.to_string(), checked.kind.writes())))
        }
        (_, Some(collection)) if db.capabilities().documents => {
            let filter = Value::Object(target.filter.clone().unwrap_or_default());
            let sort = target.sort.clone().map(Value::Object);
            (plan::indexes::document_candidates(collection, &filter, sort.as_ref()), None)
        }
        _ if db.capabilities().documents => {
            return Err(ToolError::invalid("collection", "give the collection and the find's filter (and sort)"));
        }
        _ => return Err(ToolError::invalid("sql", "give the statement to design indexes for")),
    })
}

/// A statement the planner can cost candidates for, and whether it writes.
type Costable = (String, bool);

/// Candidates an existing index already serves are set aside, with the reason.
async fn drop_served(
    db: &Database,
    candidates: Vec<plan::indexes::Candidate>,
    not_recommended: &mut Vec<String>,
) -> Result<Vec<plan::indexes::Candidate>, ToolError> {
    let mut fresh = Vec::new();
    for candidate in candidates {
        let existing = match db.describe(None, &candidate.table, 1).await? {
            Some(Value::Object(object)) => index_columns(&object),
            _ => vec![],
        };
        if plan::indexes::covered(&candidate, &existing) {
            not_recommended.push(format!(
                "{} ({}): an existing index already starts with these columns",
                candidate.table,
                candidate.columns.join(", ")
            ));
        } else {
            fresh.push(candidate);
        }
    }
    Ok(fresh)
}

/// Statistics order the columns by selectivity and turn rare values into partial indexes.
async fn refine_with_statistics(
    db: &Database,
    mut fresh: Vec<plan::indexes::Candidate>,
) -> Result<Vec<plan::indexes::Candidate>, ToolError> {
    for candidate in fresh.iter_mut().filter(|c| !c.literals.is_empty()) {
        let columns: Vec<String> = candidate.literals.iter().map(|(c, _)| c.clone()).collect();
        if let Some((stats, rows)) = crate::plan::db::column_stats(db, &candidate.table, &columns).await? {
            plan::indexes::refine(candidate, &stats, rows);
        }
    }
    Ok(fresh)
}

/// One recommendation per candidate, with the engine's CREATE INDEX.
fn recommend(
    engine: Engine,
    fresh: &[plan::indexes::Candidate],
    workload: &[(plan::indexes::Candidate, f64)],
) -> Vec<IndexRecommendation> {
    fresh
        .iter()
        .map(|c| IndexRecommendation {
            table: c.table.clone(),
            columns: c.columns.clone(),
            statement: plan::indexes::create_partial_index(engine, &c.table, &c.columns, c.partial.as_deref()),
            reason: c.reason.clone(),
            cost_after: None,
            improvement_pct: None,
            estimated_bytes: None,
            workload_ms: workload
                .iter()
                .find(|(w, _)| w.table == c.table && w.columns == c.columns)
                .map(|(_, ms)| (ms * 1000.0).round() / 1000.0),
        })
        .collect()
}

/// With HypoPG, each candidate is tried as a hypothetical index and kept only if the planner
/// would use it for a gain of 1% or more, best first; without, say how candidates were judged.
async fn cost_hypothetically(
    db: &Database,
    statement: Option<&Costable>,
    fresh: &[plan::indexes::Candidate],
    design: &mut Design,
) -> Result<(), ToolError> {
    if !db.capabilities().hypothetical_indexes {
        design.notes.push(format!(
            "{} cannot try hypothetical indexes: candidates come from the statement's predicates, joins and ordering",
            db.config.engine
        ));
        return Ok(());
    }
    let Some((sql, writes)) = statement else { return Ok(()) };
    if fresh.is_empty() {
        return Ok(());
    }
    let statements: Vec<String> = fresh
        .iter()
        .map(|c| {
            let filter = c.partial.as_ref().map(|p| format!(" WHERE {p}")).unwrap_or_default();
            format!("CREATE INDEX ON {} ({}){filter}", c.table, c.columns.join(", "))
        })
        .collect();
    let Some(h) = crate::plan::db::hypothetical_indexes(db, sql, *writes, &statements).await? else {
        design.notes.push(
            "HypoPG is not installed in this database, so candidates are ranked by heuristics: CREATE EXTENSION hypopg \
             (Debian package postgresql-<version>-hypopg) to have the planner cost each one"
                .into(),
        );
        return Ok(());
    };
    design.hypothetical_costing = true;
    design.cost_before = Some(h.cost_before);
    let mut recommendations = std::mem::take(&mut design.recommendations);
    for (r, tried) in recommendations.iter_mut().zip(&h.tried) {
        r.cost_after = Some(tried.cost_after);
        r.estimated_bytes = Some(tried.bytes);
        r.improvement_pct =
            Some(((h.cost_before - tried.cost_after) * 1000.0 / h.cost_before.max(f64::MIN_POSITIVE)).round() / 10.0);
        if !tried.used {
            r.improvement_pct = Some(0.0);
        }
    }
    let (keep, drop): (Vec<_>, Vec<_>) =
        recommendations.into_iter().partition(|r| r.improvement_pct.is_some_and(|p| p >= 1.0));
    design
        .not_recommended
        .extend(drop.into_iter().map(|r| {
            format!("{} ({}): the planner would not use it or gains under 1%", r.table, r.columns.join(", "))
        }));
    design.recommendations = keep;
    design
        .recommendations
        .sort_by(|a, b| b.improvement_pct.partial_cmp(&a.improvement_pct).unwrap_or(std::cmp::Ordering::Equal));
    Ok(())
}

#[derive(Debug, Clone, Copy, Default, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum PerformanceMode {
    /// One statement: its plan, findings ranked by impact, and its tables' statistics.
    #[default]
    Query,
    /// The workload: the busiest statements, and what runs or waits right now.
    Hotpaths,
}

#[derive(Debug, Clone, Copy, Default, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum HotpathOrder {
    #[default]
    TotalTime,
    MeanTime,
    Calls,
    Rows,
    Io,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct AnalyzePerformanceParams {
    /// query (default) or hotpaths.
    #[serde(default)]
    pub mode: PerformanceMode,
    /// query mode: the statement (or MongoDB find / pipeline) to analyze; hotpaths mode: only `database`.
    #[serde(flatten)]
    pub target: Target,
    /// hotpaths mode: rank statements by total_time (default), mean_time, calls, rows or io.
    #[serde(default)]
    pub order_by: HotpathOrder,
    /// hotpaths mode: how many statements (default 10, at most 50).
    #[serde(default, deserialize_with = "crate::args::lenient::opt_u64")]
    pub limit: Option<u64>,
}

#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct AnalyzePerformanceOutput {
    pub database: String,
    pub engine: Engine,
    pub mode: PerformanceMode,
    /// query mode: findings, most severe and most expensive first.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub findings: Option<Vec<Finding>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub execution_ms: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub plan_text: Option<String>,
    /// query mode: size, live and dead rows, last analyze and vacuum, scan counts of the tables in the plan.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub table_stats: Option<Value>,
    /// hotpaths mode: set when statement statistics are off, saying exactly how to enable them and what it costs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub how_to_enable: Option<String>,
    /// hotpaths mode: the busiest statements (normalized text, calls, total and mean time, rows, I/O).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub statements: Option<Value>,
    /// hotpaths mode: sessions running or waiting now, longest first, with the sessions blocking them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub activity: Option<Value>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

#[tool_router(router = analyze_router, vis = "pub(crate)")]
impl Server {
    #[tool(
        name = "analyze-performance",
        description = "Find what is slow. mode=query: explain-analyze of one statement (rolled back) with findings ranked \
            by impact and its tables' statistics (size, dead rows, last analyze and vacuum, scans). mode=hotpaths: the \
            busiest statements by total time, mean time, calls, rows or I/O (pg_stat_statements, performance_schema, \
            the MongoDB profiler; when off, exactly how to enable it), plus sessions running or blocked now.",
        annotations(
            title = "Analyze performance",
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    async fn analyze_performance(
        &self,
        Parameters(p): Parameters<AnalyzePerformanceParams>,
    ) -> Result<Json<AnalyzePerformanceOutput>, ToolError> {
        let db = self.database(p.target.database.as_deref())?;
        let cfg = &db.config;
        let mut out = AnalyzePerformanceOutput {
            database: cfg.name.clone(),
            engine: cfg.engine,
            mode: p.mode,
            findings: None,
            execution_ms: None,
            plan_text: None,
            table_stats: None,
            how_to_enable: None,
            statements: None,
            activity: None,
            notes: vec![],
        };
        match p.mode {
            PerformanceMode::Hotpaths => {
                let order = serde_json::to_value(p.order_by)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_default();
                let h = crate::plan::db::hotpaths(db, &order, p.limit.unwrap_or(10).clamp(1, 50) as i64).await?;
                out.how_to_enable = h.how_to_enable;
                out.statements = Some(h.statements);
                out.activity = Some(h.activity);
            }
            PerformanceMode::Query => {
                let Json(explained) = self
                    .explain_analyze(Parameters(ExplainParams {
                        target: p.target,
                        analyze: None,
                        raw: None,
                        timeout_ms: None,
                    }))
                    .await?;
                let mut tables: Vec<String> = Vec::new();
                explained.plan.walk(String::new(), &mut |node, _| {
                    if let Some(r) = &node.relation
                        && !tables.contains(r)
                    {
                        tables.push(r.clone());
                    }
                });
                out.table_stats = Some(crate::plan::db::table_stats(db, &tables).await?);
                out.findings = Some(explained.findings);
                out.execution_ms = explained.execution_ms;
                out.plan_text = Some(explained.plan_text);
                out.notes = explained.notes;
            }
        }
        Ok(Json(out))
    }
}
