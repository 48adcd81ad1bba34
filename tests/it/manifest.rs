//! tools.json is exactly tools/list; every tool states its hints, title and output schema, and
//! validates against the MCP specification's own schema.

use serde_json::Value;

use crate::support::{Mcp, text};

const TOOLS_JSON: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tools.json");
const README: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/README.md");

fn update() -> bool {
    std::env::var("UPDATE_SNAPSHOTS").is_ok_and(|v| v == "1")
}

/// Regenerate a generated file when asked, else fail when it is stale.
fn ensure_file(path: &str, want: &str) {
    let have = std::fs::read_to_string(path).unwrap_or_default();
    if have != want {
        if update() {
            std::fs::write(path, want).unwrap();
        } else {
            panic!("{path} is stale: run `UPDATE_SNAPSHOTS=1 scripts/test` (or cargo test) and review the diff");
        }
    }
}

#[test]
fn tools_json_is_fresh() {
    let want = serde_json::to_string_pretty(&data_engineer_mcp::cli::tools_json()).unwrap() + "\n";
    ensure_file(TOOLS_JSON, &want);
}

#[test]
fn readme_tool_table_is_fresh() {
    let readme = std::fs::read_to_string(README).unwrap();
    let (start, end) = ("<!-- tools:start -->\n", "<!-- tools:end -->");
    let (Some(a), Some(b)) = (readme.find(start), readme.find(end)) else {
        panic!("README.md lacks the {start:?} / {end:?} markers")
    };
    let mut table = String::from("| tool | what it does | read-only | destructive |\n|---|---|---|---|\n");
    for tool in data_engineer_mcp::server::Server::tool_definitions() {
        let a = tool.annotations.clone().unwrap_or_default();
        let first_sentence =
            tool.description.as_deref().unwrap_or("").split(". ").next().unwrap_or("").trim_end_matches('.');
        table.push_str(&format!(
            "| `{}` | {}. | {} | {} |\n",
            tool.name,
            first_sentence,
            if a.read_only_hint == Some(true) { "yes" } else { "no" },
            if a.destructive_hint == Some(true) { "yes" } else { "no" },
        ));
    }
    let want = format!("{}{start}{table}{}", &readme[..a], &readme[b..]);
    ensure_file(README, &want);
}

#[test]
fn every_tool_is_fully_declared_and_valid_per_the_mcp_schema() {
    let tools = data_engineer_mcp::cli::tools_json();
    let schema_path = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/mcp-schema/2025-11-25/schema.json");
    let spec: Value =
        serde_json::from_str(&std::fs::read_to_string(schema_path).expect("shared/mcp-schema is beside the repo"))
            .unwrap();
    // The spec's schema keeps its types under $defs (or definitions in older revisions).
    let defs_key = if spec.get("$defs").is_some() { "$defs" } else { "definitions" };
    let tool_schema = serde_json::json!({
        "$schema": spec["$schema"].clone(),
        "$ref": format!("#/{defs_key}/Tool"),
        defs_key: spec[defs_key].clone(),
    });
    let validator = jsonschema::validator_for(&tool_schema).unwrap();
    for tool in tools["tools"].as_array().unwrap() {
        let name = tool["name"].as_str().unwrap();
        let errors: Vec<String> = validator.iter_errors(tool).map(|e| e.to_string()).collect();
        assert!(errors.is_empty(), "{name} violates the MCP Tool schema: {errors:?}");
        assert!(name.chars().all(|c| c.is_ascii_lowercase() || c == '-'), "{name} is not kebab-case");
        let a = &tool["annotations"];
        for hint in ["readOnlyHint", "destructiveHint", "idempotentHint", "openWorldHint"] {
            assert!(a[hint].is_boolean(), "{name} does not state {hint}");
        }
        assert!(a["title"].is_string(), "{name} has no title");
        assert_eq!(tool["outputSchema"]["type"], "object", "{name} has no object outputSchema");
        assert!(tool["description"].as_str().is_some_and(|d| d.len() > 40), "{name} needs a real description");
    }
}

#[tokio::test]
async fn tools_list_over_stdio_is_tools_json() {
    let mcp = Mcp::spawn(&["--database-url", "sqlite::memory:"], &[]).await;
    let listed = mcp.client.list_all_tools().await.unwrap();
    let listed = data_engineer_mcp::cli::sort_keys(serde_json::json!({ "tools": listed }));
    let file: Value = serde_json::from_str(&std::fs::read_to_string(TOOLS_JSON).unwrap()).unwrap();
    assert_eq!(listed, file);
    mcp.close().await;
}

#[tokio::test]
async fn prompts_are_served_filled_and_completed() {
    use rmcp::model::*;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("data-engineer.toml"),
        "[databases.main]\nurl = \"sqlite://m.db?mode=rwc\"\nmode = \"read-write\"\n[databases.metrics]\nurl = \"sqlite://x.db?mode=rwc\"\n",
    )
    .unwrap();
    let mcp = Mcp::spawn_in(&[], &[], Some(dir.path())).await;
    mcp.ok("run-sql", serde_json::json!({"sql": "create table orders (id integer primary key)"})).await;
    let prompts = mcp.client.list_all_prompts().await.unwrap();
    let names: Vec<&str> = prompts.iter().map(|p| p.name.as_str()).collect();
    for want in [
        "data-engineer",
        "create-schema",
        "model-domain",
        "create-rls-policies",
        "design-indexes",
        "create-migration-plan",
        "research",
        "execute-checklist",
        "guide",
    ] {
        assert!(names.contains(&want), "prompt {want} missing from {names:?}");
    }
    let got = mcp
        .client
        .get_prompt(GetPromptRequestParams::new("create-schema").with_arguments(rmcp::object!({"domain": "invoicing"})))
        .await
        .unwrap();
    let body = serde_json::to_string(&got).unwrap();
    assert!(body.contains("invoicing") && body.contains("(not given)"));
    let missing = mcp.client.get_prompt(GetPromptRequestParams::new("create-schema")).await;
    assert!(missing.is_err(), "a missing required argument must be an error");

    let complete = |arg: &str, value: &str| {
        CompleteRequestParams::new(Reference::for_prompt("create-rls-policies"), ArgumentInfo::new(arg, value))
    };
    let dbs = mcp.client.complete(complete("database", "me")).await.unwrap();
    assert_eq!(dbs.completion.values, vec!["metrics"]);
    let tables = mcp.client.complete(complete("table", "ord")).await.unwrap();
    assert_eq!(tables.completion.values, vec!["orders"]);
    let r = mcp.call("describe", serde_json::json!({"name": "nope"})).await;
    assert!(text(&r).contains("no table"));
    mcp.close().await;
}
