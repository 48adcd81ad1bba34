//! bootstrap: scaffold a database project folder (migrations with a reversible baseline, seeds,
//! snapshots, RLS expectations, a config file and a README) for one engine. Files only: no
//! database is touched, and no existing file is overwritten.

use rmcp::{Json, handler::server::wrapper::Parameters, tool, tool_router};
use serde::{Deserialize, Serialize};

use crate::{
    bootstrap::{self, ProjectEngine, Scaffold},
    config::Engine,
    error::ToolError,
    server::Server,
};

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct BootstrapParams {
    /// The project folder (created when missing; relative paths start at the server's working
    /// directory). Nothing is written outside it.
    pub dir: String,
    /// postgres, mysql, sqlite or mongodb (default: the engine of the first configured database).
    #[serde(default)]
    pub engine: Option<ProjectEngine>,
    /// The project's name, used as the database's name in data-engineer.toml (default: the folder's name).
    #[serde(default)]
    pub name: Option<String>,
}

#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct BootstrapOutput {
    pub engine: Engine,
    #[serde(flatten)]
    pub scaffold: Scaffold,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

#[tool_router(router = bootstrap_router, vis = "pub(crate)")]
impl Server {
    #[tool(
        name = "bootstrap",
        description = "Scaffold a database project folder for one engine. PostgreSQL, MySQL/MariaDB and SQLite: \
            migrations/ in sqlx's reversible format with a baseline migration (id, created_at, updated_at kept \
            current, comments on every table and column) and its down script, seeds/ with an idempotent example, \
            snapshots/, a data-engineer.toml reading the URL from ${DATABASE_URL}, and a README; PostgreSQL adds \
            tests/rls/ with an example of row level security expectations. MongoDB gets schemas/ (a $jsonSchema \
            validator and an index spec per collection) instead of SQL migrations. Idempotent: an existing file is \
            never overwritten, and each file is reported as created or left alone. Writes only inside `dir`.",
        annotations(
            title = "Scaffold a database project",
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    async fn bootstrap(&self, Parameters(p): Parameters<BootstrapParams>) -> Result<Json<BootstrapOutput>, ToolError> {
        let engine = match p.engine {
            Some(e) => Engine::from(e),
            None => self.database(None)?.config.engine,
        };
        // Checked against the allowed directories; scaffold then judges the path as given (it refuses
        // `..` and symlinks out of it).
        self.file("dir", &p.dir)?;
        let dir = std::path::PathBuf::from(p.dir.trim());
        // `.` names the working directory: take the name from its absolute form.
        let name = p.name.unwrap_or_else(|| bootstrap::default_name(&std::path::absolute(&dir).unwrap_or(dir.clone())));
        let version = chrono::Utc::now().format("%Y%m%d%H%M%S").to_string();
        let scaffold = tokio::task::spawn_blocking(move || bootstrap::scaffold(&dir, engine, &name, &version))
            .await
            .map_err(|e| ToolError::invalid("dir", format!("scaffolding failed: {e}")))??;
        let mut notes = Vec::new();
        if !engine.capabilities().sql {
            notes.push(
                "no migrations/ folder: sqlx migrations are SQL; the collection's validator and indexes live in \
                 schemas/ and are applied with collMod and createIndexes"
                    .to_string(),
            );
        }
        if scaffold.created == 0 {
            notes.push("every file existed already; nothing was written".to_string());
        }
        Ok(Json(BootstrapOutput { engine, scaffold, notes }))
    }
}
