//! env-check: is the configuration sound, can every database be reached, and what can the
//! connected role do. Never prints a secret: URLs are shown with their password masked.

use rmcp::{Json, handler::server::wrapper::Parameters, tool, tool_router};
use serde::{Deserialize, Serialize};

use crate::{
    config::{Engine, Mode},
    engine::{Check, CheckStatus},
    error::ToolError,
    server::Server,
};

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct EnvCheckParams {
    /// Check only this configured database (default: all of them).
    #[serde(default)]
    pub database: Option<String>,
}

#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct EnvCheckOutput {
    /// The server's own version.
    pub server_version: String,
    /// Where the configuration came from.
    pub config_source: String,
    /// Directories the file-taking tools may read and write (--allow-dir, [files] roots).
    pub file_roots: Vec<String>,
    /// ok when every check passed, warn when some need attention, fail when a database is unusable.
    pub status: CheckStatus,
    pub databases: Vec<DatabaseReport>,
}

#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct DatabaseReport {
    pub name: String,
    pub engine: Engine,
    pub mode: Mode,
    /// The connection URL with its password masked.
    pub url: String,
    pub reachable: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// Time to connect (or reuse a pooled connection) and answer the checks.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latency_ms: Option<f64>,
    pub statement_timeout_ms: u64,
    pub max_rows: usize,
    /// What refuses the model's reads: the database itself (a least-privilege login or role,
    /// a read-only file), or the parser alone.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub assurance: Option<String>,
    pub checks: Vec<Check>,
}

#[tool_router(router = env_router, vis = "pub(crate)")]
impl Server {
    #[tool(
        name = "env-check",
        description = "Check the configuration and every configured database: connectivity, server version, TLS, \
            useful extensions (pg_stat_statements, hypopg, pgvector), and what the connected role may do \
            (superuser, BYPASSRLS, CREATE). Each problem comes with a concrete fix. Run it first in a new session.",
        annotations(
            title = "Check environment",
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    async fn env_check(&self, Parameters(p): Parameters<EnvCheckParams>) -> Result<Json<EnvCheckOutput>, ToolError> {
        let targets: Vec<_> = match &p.database {
            Some(name) => vec![self.database(Some(name))?],
            None => self.databases().iter().collect(),
        };
        let mut databases = Vec::new();
        for db in targets {
            let cfg = &db.config;
            let (latency_ms, health) = db.health().await;
            let mut checks = health.checks;
            if cfg.mode == Mode::ReadOnly && cfg.engine.capabilities().sql {
                checks.push(Check::ok("mode", "read-only: every statement runs in a read-only transaction"));
            }
            let assurance = match latency_ms {
                Some(_) => match db.assurance().await {
                    Ok((line, fix)) => {
                        checks.push(match fix {
                            Some(fix) if line.starts_with("parser") => Check::warn("assurance", line.clone(), fix),
                            Some(fix) => Check { fix: Some(fix), ..Check::ok("assurance", line.clone()) },
                            None => Check::ok("assurance", line.clone()),
                        });
                        Some(line)
                    }
                    Err(e) => {
                        checks.push(Check::warn("assurance", e.to_string(), e.hint().unwrap_or_default()));
                        None
                    }
                },
                None => None,
            };
            databases.push(DatabaseReport {
                name: cfg.name.clone(),
                engine: cfg.engine,
                mode: cfg.mode,
                url: cfg.url.display_redacted(),
                reachable: latency_ms.is_some(),
                version: health.version,
                latency_ms: latency_ms.map(|ms| (ms * 100.0).round() / 100.0),
                statement_timeout_ms: cfg.statement_timeout_ms,
                max_rows: cfg.max_rows,
                assurance,
                checks,
            });
        }
        if databases.is_empty() {
            return Err(ToolError::Config {
                database: "(none)".into(),
                message: self.config_problem().unwrap_or("no database is configured").to_string(),
            });
        }
        let worst = databases
            .iter()
            .flat_map(|d| d.checks.iter().map(|c| c.status))
            .max_by_key(|s| match s {
                CheckStatus::Ok => 0,
                CheckStatus::Warn => 1,
                CheckStatus::Fail => 2,
            })
            .unwrap_or(CheckStatus::Ok);
        Ok(Json(EnvCheckOutput {
            server_version: env!("CARGO_PKG_VERSION").into(),
            config_source: self.config_source().to_string(),
            file_roots: self.file_roots().iter().map(|r| r.display().to_string()).collect(),
            status: worst,
            databases,
        }))
    }
}
