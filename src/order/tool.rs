//! verify-order: reads a DDL script or migrations folder and reports statements that need an
//! object created later or nowhere, with an order that works. Parsing only: no database is touched.

use rmcp::{Json, handler::server::wrapper::Parameters, tool, tool_router};
use serde::{Deserialize, Serialize};

use crate::{
    config::Engine,
    error::ToolError,
    order::lookup::CatalogName,
    order::{self, Dialect, Report, SourceFile},
    server::Server,
};

/// How long the look-up of objects defined nowhere may wait for the database.
const CATALOG_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

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
    /// Configured database whose engine picks the dialect (default: the first one). Asked only whether
    /// it has the objects the files use but never create, when it speaks the same dialect.
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
            statement number, line) or nowhere (looked up in the configured database when it has the same engine), \
            and proposes an order that \
            keeps the author's wherever it works. Mutual foreign keys get the standard fix: the tables first, the keys \
            added with ALTER TABLE after. Statements the parser cannot read are reported and keep their place. \
            Nothing is run: the files are parsed, and the database's catalog is only read.",
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
            (Some(path), None) => order::load(self.files(), &self.file("path", path)?)?,
            (None, Some(sql)) => vec![SourceFile { name: "sql".into(), text: sql }],
            _ => return Err(ToolError::invalid("path", "pass exactly one of `path` (a file or folder) and `sql`")),
        };
        let emit_sql = p.emit_sql;
        let mut report = tokio::task::spawn_blocking(move || order::analyze(&files, engine, emit_sql))
            .await
            .map_err(|e| ToolError::invalid("path", format!("the analysis failed: {e}")))?;
        let missing = report.missing();
        // Objects the files never create may exist already: ask the configured database of the same
        // engine, briefly; the analysis stands without it.
        if !missing.is_empty()
            && let Ok(db) = self.database(p.database.as_deref())
            && db.config.engine == engine
        {
            let names: Vec<CatalogName> = missing
                .iter()
                .map(|(_, kind, schema, name)| CatalogName { kind, schema: schema.as_deref(), name })
                .collect();
            let database = db.config.name.clone();
            report.catalog =
                Some(match tokio::time::timeout(CATALOG_TIMEOUT, super::lookup::objects_exist(db, &names)).await {
                    Ok(Ok(found)) => {
                        for ((problem, ..), present) in missing.iter().zip(found) {
                            if let Some(present) = present {
                                report.found_in_database(*problem, present, &database);
                            }
                        }
                        format!("objects defined nowhere were looked up in database {database}")
                    }
                    Ok(Err(e)) => format!("could not look objects up in database {database}: {e}"),
                    Err(_) => format!("database {database} did not answer within {} s", CATALOG_TIMEOUT.as_secs()),
                });
        }
        Ok(Json(VerifyOrderOutput { engine, report }))
    }
}
