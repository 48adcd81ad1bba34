//! Tool families, one file and one router each; `all()` adds them together. Handlers return
//! typed results or a [`ToolError`](crate::error::ToolError); they never build MCP results.

mod bootstrap;
mod confirm;
mod env;
mod introspect;
mod load;
mod migrate;
mod ops;
mod order;
mod performance;
mod rls;
mod security;
mod sql;

use rmcp::handler::server::router::tool::ToolRouter;

pub(crate) use confirm::confirmed;
pub use confirm::{Confirm, INPUT_KEY as CONFIRM_INPUT_KEY};

use crate::server::Server;

/// Tools in groups a user can enable one by one (`--tools`, `[tools] enable`), so a client that
/// needs only some pays only for their definitions in its context. env-check is always on.
pub const TOOLSETS: &[(&str, &[&str])] = &[
    ("core", &["env-check", "list-objects", "describe", "run-sql", "run-mongo"]),
    ("performance", &["explain-analyze", "analyze-performance", "design-indexes"]),
    ("security", &["security-audit", "policy-apply", "test-as-user"]),
    ("migrations", &["create-migration-plan", "verify-order", "dry-run", "apply-migration", "snapshot", "rollback"]),
    ("data", &["load-csv", "seed", "smoke-test", "data-quality", "bootstrap"]),
];

/// The tool names a list of toolset and tool names selects, or the first name that is neither.
pub fn select(names: &[String]) -> Result<Vec<&'static str>, String> {
    let mut selected = vec!["env-check"];
    for name in names.iter().map(|n| n.trim()).filter(|n| !n.is_empty()) {
        if name == "all" {
            selected.extend(TOOLSETS.iter().flat_map(|(_, tools)| tools.iter().copied()));
        } else if let Some((_, tools)) = TOOLSETS.iter().find(|(set, _)| *set == name) {
            selected.extend(tools.iter().copied());
        } else if let Some(tool) = TOOLSETS.iter().flat_map(|(_, tools)| tools.iter()).find(|t| **t == name) {
            selected.push(tool);
        } else {
            let sets: Vec<_> = TOOLSETS.iter().map(|(set, _)| *set).collect();
            return Err(format!("unknown tool or toolset {name:?}; toolsets: all, {}", sets.join(", ")));
        }
    }
    selected.sort_unstable();
    selected.dedup();
    Ok(selected)
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

/// Deserialize an optional argument that clients may send as a number or a numeric string.
pub(crate) mod lenient {
    use serde::{Deserialize, Deserializer};

    pub fn opt_u64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum N {
            Num(u64),
            Text(String),
        }
        match Option::<N>::deserialize(d)? {
            None => Ok(None),
            Some(N::Num(n)) => Ok(Some(n)),
            Some(N::Text(s)) => s.trim().parse().map(Some).map_err(serde::de::Error::custom),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn selection_by_set_or_name_always_keeps_env_check() {
        let s = select(&["security".into(), "run-sql".into()]).unwrap();
        assert_eq!(s, vec!["env-check", "policy-apply", "run-sql", "security-audit", "test-as-user"]);
        assert!(select(&["nope".into()]).unwrap_err().contains("toolsets: all, core"));
        assert_eq!(select(&["all".into()]).unwrap().len(), TOOLSETS.iter().map(|(_, t)| t.len()).sum::<usize>());
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
