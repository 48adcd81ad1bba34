//! verify-order: reads a DDL script or migrations folder and reports statements that need an
//! object created later or nowhere, with an order that works. Parsing only: no database is touched.

use rmcp::{Json, handler::server::wrapper::Parameters, tool, tool_router};
use serde::{Deserialize, Serialize};

use crate::{
    config::Engine,
    error::ToolError,
    order::{self, Dialect, Report, SourceFile},
    server::Server,
};

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct VerifyOrderParams {
    /// A .sql file, or a folder of them (relative paths start at the server's working directory).
    /// A folder is read in sqlx migration order (`<version>_<name>.up.sql` or `<version>_<name>.sql`
    /// by version, `.down.sql` skipped), or by file name when the files have no version prefix.
    #[serde(default)]
    pub path: Option<String>,
    /// The script itself, instead of `path`.
    #[serde(default)]
    pub sql: Option<String>,
    /// SQL dialect: postgres, mysql or sqlite (default: the engine of `database`).
    #[serde(default)]
    pub engine: Option<Dialect>,
    /// Configured database whose engine picks the dialect (default: the first one). Not connected to.
    #[serde(default)]
    pub database: Option<String>,
    /// Also return the whole script in the proposed order.
    #[serde(default)]
    pub emit_sql: bool,
}

#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct VerifyOrderOutput {
    pub engine: Engine,
    #[serde(flatten)]
    pub report: Report,
}

#[tool_router(router = order_router, vis = "pub(crate)")]
impl Server {
    #[tool(
        name = "verify-order",
        description = "Check that a DDL script or a migrations folder creates every object before a statement needs it. \
            Builds the dependency graph over extensions, schemas, types, domains, tables, foreign keys, sequences \
            (nextval defaults), indexes, views, functions (signatures; bodies of LANGUAGE sql), triggers, policies, \
            grants and comments; reports each statement that needs something created later (both locations: file, \
            statement number, line) or nowhere (it may already exist in the database), and proposes an order that \
            keeps the author's wherever it works. Mutual foreign keys get the standard fix: the tables first, the keys \
            added with ALTER TABLE after. Statements the parser cannot read are reported and keep their place. \
            Parsing only: nothing is run.",
        annotations(
            title = "Verify DDL order",
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    async fn verify_order(
        &self,
        Parameters(p): Parameters<VerifyOrderParams>,
    ) -> Result<Json<VerifyOrderOutput>, ToolError> {
        let engine = match p.engine {
            Some(d) => Engine::from(d),
            None => self.database(p.database.as_deref())?.config.engine,
        };
        if !engine.capabilities().sql {
            return Err(ToolError::Unsupported {
                what: "verify-order".into(),
                engine,
                hint: "it reads SQL scripts; pass engine: postgres, mysql or sqlite to check one".into(),
            });
        }
        let files = match (p.path.as_deref(), p.sql) {
            (Some(path), None) => order::load(std::path::Path::new(path))?,
            (None, Some(sql)) => vec![SourceFile { name: "sql".into(), text: sql }],
            _ => return Err(ToolError::invalid("path", "pass exactly one of `path` (a file or folder) and `sql`")),
        };
        let report = tokio::task::spawn_blocking(move || order::analyze(&files, engine, p.emit_sql))
            .await
            .map_err(|e| ToolError::invalid("path", format!("the analysis failed: {e}")))?;
        Ok(Json(VerifyOrderOutput { engine, report }))
    }
}
