//! list-objects and describe: a small map of the database first, then one object in depth.
//! Pages and filters keep the output small on databases with hundreds of tables.

use rmcp::{Json, handler::server::wrapper::Parameters, tool, tool_router};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::{
    config::Engine,
    engine::{ObjectQuery, like_escape},
    error::ToolError,
    server::Server,
};

const DEFAULT_PAGE: u64 = 100;
const MAX_PAGE: u64 = 500;

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct ListObjectsParams {
    /// Configured database name (default: the first one).
    #[serde(default)]
    pub database: Option<String>,
    /// Only this schema (PostgreSQL) or database (MySQL).
    #[serde(default)]
    pub schema: Option<String>,
    /// Name filter, case-insensitive: a substring, or a pattern with `*` wildcards (`order*`).
    #[serde(default)]
    pub filter: Option<String>,
    /// Page size (default 100, at most 500).
    #[serde(default, deserialize_with = "crate::args::lenient::opt_u64")]
    pub limit: Option<u64>,
    /// The `next_cursor` of the previous page.
    #[serde(default)]
    pub cursor: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ObjectSummary {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schema: Option<String>,
    pub name: String,
    /// table, view, materialized view, collection, ...
    pub kind: String,
    /// The planner's row estimate (documents for collections); absent when unknown.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub row_estimate: Option<i64>,
    /// PostgreSQL: row level security is enabled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rls_enabled: Option<bool>,
    /// PostgreSQL: row level security applies to the table owner too.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rls_forced: Option<bool>,
    /// PostgreSQL: number of policies on the table.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policies: Option<i64>,
    /// MySQL: the storage engine.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage_engine: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
}

#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct ListObjectsOutput {
    pub database: String,
    pub engine: Engine,
    /// Objects matching the filter, across all pages.
    pub total: i64,
    pub objects: Vec<ObjectSummary>,
    /// Pass as `cursor` to get the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct DescribeParams {
    /// Configured database name (default: the first one).
    #[serde(default)]
    pub database: Option<String>,
    /// Table, view or collection name; `schema.name` is accepted.
    pub name: String,
    /// Schema (PostgreSQL) or database (MySQL) holding it; default: the search path / current database.
    #[serde(default)]
    pub schema: Option<String>,
    /// MongoDB: documents to sample when inferring the schema (default 100, at most 1000).
    #[serde(default, deserialize_with = "crate::args::lenient::opt_u64")]
    pub sample: Option<u64>,
}

#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct DescribeOutput {
    pub database: String,
    pub engine: Engine,
    /// Columns (types, nullability, defaults, comments), primary and foreign keys, indexes, and on
    /// PostgreSQL row level security with its policies; for MongoDB indexes, the validator and a
    /// schema inferred from a sample.
    pub object: Map<String, Value>,
}

/// `*` wildcards become `%`; plain text matches as a substring.
fn like_pattern(filter: &str) -> String {
    if filter.contains('*') {
        filter.split('*').map(like_escape).collect::<Vec<_>>().join("%")
    } else {
        format!("%{}%", like_escape(filter))
    }
}

#[tool_router(router = introspect_router, vis = "pub(crate)")]
impl Server {
    #[tool(
        name = "list-objects",
        description = "List tables, views and collections with their kind, row estimate and comment (PostgreSQL also \
            shows row level security and policy counts). Filter by name (`order*`) and schema; results are paged \
            (next_cursor). Start here, then describe the objects that matter.",
        annotations(
            title = "List tables and collections",
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    async fn list_objects(
        &self,
        Parameters(p): Parameters<ListObjectsParams>,
    ) -> Result<Json<ListObjectsOutput>, ToolError> {
        let db = self.database(p.database.as_deref())?;
        let limit = p.limit.unwrap_or(DEFAULT_PAGE).clamp(1, MAX_PAGE) as i64;
        let offset = match p.cursor.as_deref() {
            None | Some("") => 0,
            Some(c) => c
                .parse::<i64>()
                .ok()
                .filter(|o| *o >= 0)
                .ok_or_else(|| ToolError::invalid("cursor", "not a cursor from a previous list-objects page"))?,
        };
        let page = db
            .list_objects(&ObjectQuery {
                schema: p.schema.clone(),
                pattern: p.filter.as_deref().filter(|f| !f.is_empty()).map(like_pattern),
                limit,
                offset,
            })
            .await?;
        let objects: Vec<ObjectSummary> =
            page.objects.into_iter().filter_map(|o| serde_json::from_value(o).ok()).collect();
        let next = offset + objects.len() as i64;
        Ok(Json(ListObjectsOutput {
            database: db.config.name.clone(),
            engine: db.config.engine,
            total: page.total,
            next_cursor: (next < page.total && !objects.is_empty()).then(|| next.to_string()),
            objects,
        }))
    }

    #[tool(
        name = "describe",
        description = "Describe one table, view or collection: columns with types, nullability, defaults and \
            comments; primary and foreign keys; indexes; on PostgreSQL row level security (enabled, forced, \
            policies); on MongoDB indexes, validator and a schema inferred from sampled documents.",
        annotations(
            title = "Describe a table or collection",
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    async fn describe(&self, Parameters(p): Parameters<DescribeParams>) -> Result<Json<DescribeOutput>, ToolError> {
        let db = self.database(p.database.as_deref())?;
        let (schema, name) = match (p.schema.as_deref(), p.name.split_once('.')) {
            (None, Some((s, n))) if db.capabilities().sql => (Some(s), n),
            (s, _) => (s, p.name.as_str()),
        };
        if name.trim().is_empty() {
            return Err(ToolError::invalid("name", "give the table, view or collection name"));
        }
        let sample = p.sample.unwrap_or(100).clamp(1, 1000) as i64;
        match db.describe(schema, name, sample).await? {
            Some(Value::Object(object)) => {
                Ok(Json(DescribeOutput { database: db.config.name.clone(), engine: db.config.engine, object }))
            }
            _ => Err(ToolError::invalid(
                "name",
                format!(
                    "no table, view or collection named {:?}{}",
                    name,
                    schema.map(|s| format!(" in {s}")).unwrap_or_default()
                ),
            )),
        }
    }
}
