//! The MCP face of the server: capabilities, instructions, prompts, completions, and the tool
//! call path, which always ends in [`Output::finish`].

use std::sync::Arc;

use rmcp::{
    ErrorData as McpError, RoleServer, ServerHandler,
    handler::server::{router::tool::ToolRouter, tool::ToolCallContext},
    model::*,
    service::RequestContext,
};

use crate::{
    config::{Config, Engine},
    engine::Database,
    error::ToolError,
    output::Output,
    prompts,
    redact::Redactor,
};

struct Inner {
    databases: Vec<Database>,
    output: Output,
    files: crate::files::FileAccess,
    config_source: String,
    /// Why the configuration could not be loaded, when it could not: the server still starts so
    /// env-check can explain the problem.
    config_problem: Option<String>,
}

#[derive(Clone)]
pub struct Server {
    inner: Arc<Inner>,
    tool_router: Arc<ToolRouter<Server>>,
}

impl Server {
    /// Build the server. Nothing here touches a database.
    pub fn new(config: Config) -> Self {
        let redactor = Redactor::new(&config.secrets);
        Self::build(
            config.databases.into_iter().map(Database::new).collect(),
            Output::new(redactor, config.output),
            crate::files::FileAccess::new(config.file_roots),
            config.tools.as_deref().map(|names| crate::toolsets::select(names).unwrap_or_default()),
            config.source,
            None,
        )
    }

    /// A server whose configuration failed to load; every tool reports the problem.
    pub fn unconfigured(problem: String, redactor: Redactor) -> Self {
        Self::build(
            vec![],
            Output::new(redactor, Default::default()),
            crate::files::FileAccess::new(crate::config::file_roots(&[])),
            None,
            "invalid configuration".into(),
            Some(problem),
        )
    }

    fn build(
        databases: Vec<Database>,
        output: Output,
        files: crate::files::FileAccess,
        tools: Option<Vec<&'static str>>,
        config_source: String,
        config_problem: Option<String>,
    ) -> Self {
        Self {
            inner: Arc::new(Inner { databases, output, files, config_source, config_problem }),
            tool_router: Arc::new(crate::server::router(tools.as_deref())),
        }
    }

    /// Every tool definition, sorted by name: what tools/list returns.
    pub fn tool_definitions() -> Vec<Tool> {
        crate::server::router(None).list_all()
    }

    pub fn output(&self) -> &Output {
        &self.inner.output
    }

    pub(crate) fn databases(&self) -> &[Database] {
        &self.inner.databases
    }

    /// A path a tool was given, resolved and checked against the directories it may use.
    pub(crate) fn file(&self, argument: &str, path: &str) -> Result<std::path::PathBuf, ToolError> {
        self.inner.files.check(argument, path)
    }

    /// What a tool opens, lists or writes goes through this, never straight to `std::fs`.
    pub(crate) fn files(&self) -> &crate::files::FileAccess {
        &self.inner.files
    }

    pub(crate) fn file_roots(&self) -> &[std::path::PathBuf] {
        self.inner.files.roots()
    }

    pub(crate) fn config_source(&self) -> &str {
        &self.inner.config_source
    }

    pub(crate) fn config_problem(&self) -> Option<&str> {
        self.inner.config_problem.as_deref()
    }

    /// The named database, or the first one.
    pub(crate) fn database(&self, name: Option<&str>) -> Result<&Database, ToolError> {
        let dbs = &self.inner.databases;
        if dbs.is_empty() {
            return Err(ToolError::Config {
                database: name.unwrap_or("(none)").into(),
                message: self.config_problem().unwrap_or("no database is configured").into(),
            });
        }
        match name.map(str::trim).filter(|n| !n.is_empty()) {
            None => Ok(&dbs[0]),
            Some(n) => dbs.iter().find(|d| d.config.name == n).ok_or_else(|| ToolError::UnknownDatabase {
                name: n.into(),
                available: dbs.iter().map(|d| d.config.name.as_str()).collect::<Vec<_>>().join(", "),
            }),
        }
    }

    async fn completions(&self, req: &CompleteRequestParams) -> Vec<String> {
        let typed = req.argument.value.as_str();
        let database = req.context.as_ref().and_then(|c| c.arguments.as_ref()).and_then(|a| a.get("database")).cloned();
        let candidates: Vec<String> = match req.argument.name.as_str() {
            "database" => self.inner.databases.iter().map(|d| d.config.name.clone()).collect(),
            "engine" => [Engine::Postgres, Engine::Mysql, Engine::Sqlite, Engine::Mongodb]
                .iter()
                .map(|e| e.to_string())
                .collect(),
            "checklist" => vec!["predeploy".into(), "rollback".into(), "design".into()],
            "strategy" => vec!["kiss".into(), "granular".into()],
            "table" => match self.database(database.as_deref()) {
                Ok(db) => db.object_names(typed).await.unwrap_or_default(),
                Err(_) => vec![],
            },
            _ => vec![],
        };
        let lower = typed.to_lowercase();
        candidates.into_iter().filter(|c| c.to_lowercase().starts_with(&lower)).take(100).collect()
    }
}

impl ServerHandler for Server {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().enable_prompts().enable_completions().build())
            .with_server_info(
                Implementation::new("data-engineer-mcp", env!("CARGO_PKG_VERSION")).with_title("Data Engineer"),
            )
            .with_instructions(prompts::INSTRUCTIONS)
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, McpError> {
        Ok(ListToolsResult::with_all_items(self.tool_router.list_all()))
    }

    fn get_tool(&self, name: &str) -> Option<Tool> {
        self.tool_router.get(name).cloned()
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, McpError> {
        let name = request.name.clone();
        let started = std::time::Instant::now();
        let cancel = context.ct.clone();
        let response = crate::engine::with_cancellation(
            cancel,
            self.tool_router.call(ToolCallContext::new(self, request, context)),
        )
        .await;
        let finished = self.inner.output.finish(response);
        tracing::debug!(tool = %name, elapsed_us = started.elapsed().as_micros() as u64, "tool call");
        finished
    }

    async fn list_prompts(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListPromptsResult, McpError> {
        Ok(ListPromptsResult::with_all_items(prompts::list()))
    }

    async fn get_prompt(
        &self,
        request: GetPromptRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<GetPromptResponse, McpError> {
        let args = request.arguments.unwrap_or_default();
        match prompts::get(&request.name, &args) {
            Ok(result) => Ok(result.into()),
            Err(e) => Err(McpError::invalid_params(e.to_string(), None)),
        }
    }

    async fn complete(
        &self,
        request: CompleteRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<CompleteResult, McpError> {
        let values = self.completions(&request).await;
        let info = CompletionInfo::new(values).map_err(|e| McpError::internal_error(e.to_string(), None))?;
        Ok(CompleteResult::new(info))
    }
}

/// Every tool, or only those `enabled` names (None: all). Output schemas keep their structure
/// but not their prose: clients validate with them, models read the input side.
pub fn router(enabled: Option<&[&str]>) -> ToolRouter<Server> {
    let mut router = all();
    if let Some(enabled) = enabled {
        let names: Vec<String> = router.map.keys().map(|k| k.to_string()).collect();
        for name in names.iter().filter(|n| !enabled.contains(&n.as_str())) {
            router.remove_route(name);
        }
    }
    for route in router.map.values_mut() {
        if let Some(schema) = route.attr.output_schema.as_mut() {
            strip_prose(std::sync::Arc::make_mut(schema));
        }
    }
    router
}

/// Remove `description` and `title` from every schema node (not from property names).
fn strip_prose(node: &mut serde_json::Map<String, serde_json::Value>) {
    use serde_json::Value;
    node.remove("description");
    node.remove("title");
    let mut child = |v: &mut Value| {
        if let Value::Object(o) = v {
            strip_prose(o);
        }
    };
    for key in ["properties", "$defs", "definitions", "patternProperties"] {
        if let Some(Value::Object(map)) = node.get_mut(key) {
            map.values_mut().for_each(&mut child);
        }
    }
    for key in ["items", "additionalProperties", "not"] {
        if let Some(v) = node.get_mut(key) {
            child(v);
        }
    }
    for key in ["anyOf", "oneOf", "allOf", "prefixItems"] {
        if let Some(Value::Array(list)) = node.get_mut(key) {
            list.iter_mut().for_each(&mut child);
        }
    }
}

fn all() -> ToolRouter<Server> {
    Server::env_router()
        + Server::introspect_router()
        + Server::sql_router()
        + Server::performance_router()
        + Server::design_router()
        + Server::analyze_router()
        + Server::security_router()
        + Server::rls_router()
        + Server::order_router()
        + Server::bootstrap_router()
        + Server::ops_router()
        + Server::migrate_router()
        + Server::load_router()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::toolsets::TOOLSETS;

    #[test]
    fn every_tool_is_in_exactly_one_toolset_and_every_entry_is_a_tool() {
        let tools: Vec<String> = all().list_all().into_iter().map(|t| t.name.to_string()).collect();
        let listed: Vec<&str> = TOOLSETS.iter().flat_map(|(_, t)| t.iter().copied()).collect();
        for tool in &tools {
            assert_eq!(listed.iter().filter(|t| **t == tool).count(), 1, "{tool}");
        }
        for entry in &listed {
            assert!(tools.iter().any(|t| t == entry), "{entry} is not a tool");
        }
    }

    #[test]
    fn output_schemas_lose_prose_but_not_properties_named_like_it() {
        let mut schema = serde_json::json!({
            "description": "x", "title": "T",
            "properties": {"description": {"type": "string", "description": "a field named description"}},
            "$defs": {"A": {"description": "y", "anyOf": [{"description": "z", "type": "null"}]}}
        });
        strip_prose(schema.as_object_mut().unwrap());
        assert_eq!(
            schema,
            serde_json::json!({"properties": {"description": {"type": "string"}}, "$defs": {"A": {"anyOf": [{"type": "null"}]}}})
        );
    }
}
