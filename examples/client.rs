//! A minimal MCP client for data-engineer-mcp: spawns the server over stdio, lists its tools,
//! runs env-check and one `select 1`, and shuts the server down.
//!
//!     cargo build && cargo run --example client                       # embedded SQLite in ./
//!     cargo run --example client -- --database-url postgres://...     # args go to the server
//!
//! `DATA_ENGINEER_MCP_BIN` overrides which server binary is spawned.

use std::path::PathBuf;

use anyhow::{Context, Result};
use rmcp::{
    ServiceExt,
    model::{CallToolRequestParams, CallToolResult},
    object,
    transport::TokioChildProcess,
};

/// The server binary: the env var, else the one built next to this example (so it works from
/// any working directory), else the conventional debug path.
fn server_binary() -> PathBuf {
    if let Some(path) = std::env::var_os("DATA_ENGINEER_MCP_BIN") {
        return path.into();
    }
    let sibling = std::env::current_exe()
        .ok()
        .and_then(|exe| Some(exe.parent()?.parent()?.join("data-engineer-mcp")))
        .filter(|p| p.is_file());
    sibling.unwrap_or_else(|| PathBuf::from("target/debug/data-engineer-mcp"))
}

fn print_result(title: &str, result: &CallToolResult) {
    let status = if result.is_error == Some(true) { " (tool error)" } else { "" };
    println!("== {title}{status}");
    for content in &result.content {
        if let Some(text) = content.as_text() {
            println!("{}", text.text);
        }
    }
}

#[tokio::main]
async fn main() -> Result<()> {
    let bin = server_binary();
    let mut command = tokio::process::Command::new(&bin);
    // Everything after `--` goes to the server: --database-url, --mode, --config, ...
    command.args(std::env::args_os().skip(1));
    // stderr stays inherited so server warnings show up; stdout is the protocol.
    let transport = TokioChildProcess::new(command)
        .with_context(|| format!("cannot start {} (build it first: cargo build)", bin.display()))?;
    let client = ().serve(transport).await.context("MCP initialize failed")?;

    if let Some(info) = client.peer_info() {
        let (name, version) = info.server_info.as_ref().map_or(("?", "?"), |i| (i.name.as_str(), i.version.as_str()));
        println!("connected to {name} {version} (protocol {})", info.protocol_version);
    }
    let tools = client.list_all_tools().await?;
    println!("tools: {}", tools.iter().map(|t| t.name.as_ref()).collect::<Vec<_>>().join(", "));

    let env = client.call_tool(CallToolRequestParams::new("env-check")).await?;
    print_result("env-check", &env);

    // A MongoDB server has no SQL; its engine is in env-check's structured output.
    let engine =
        env.structured_content.as_ref().and_then(|s| s.pointer("/databases/0/engine")).and_then(|e| e.as_str());
    if engine == Some("mongodb") {
        println!("== run-sql skipped: the first database is MongoDB (try run-mongo)");
    } else {
        let args = object!({ "sql": "select 1 as answer" });
        let answer = client.call_tool(CallToolRequestParams::new("run-sql").with_arguments(args)).await?;
        print_result("run-sql: select 1 as answer", &answer);
    }

    // Closes the server's stdin and reaps the child, so no process outlives the example.
    client.cancel().await?;
    Ok(())
}
