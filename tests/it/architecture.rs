//! ARCHITECTURE.md's invariants that the type system cannot hold, checked on the source text.
//! Each rule names the invariant it guards; a failure lists every file:line that breaks it.
//! Test modules (after `#[cfg(test)]`) and comments are not judged: tests may build fixtures.

use std::path::{Path, PathBuf};

const CAPABILITIES: &[&str] =
    &["query", "introspect", "plan", "audit", "rls", "migrate", "order", "load", "ops", "bootstrap"];

struct Source {
    path: String,
    /// Lines before the file's test module, with `//` comments removed.
    lines: Vec<String>,
}

fn sources() -> Vec<Source> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    walk(&root.join("src"), &mut files);
    files.sort();
    files
        .into_iter()
        .map(|file| {
            let text = std::fs::read_to_string(&file).unwrap();
            let code = text.split("#[cfg(test)]").next().unwrap_or_default();
            Source {
                path: file.strip_prefix(root).unwrap().display().to_string(),
                lines: code.lines().map(|l| l.split("//").next().unwrap_or_default().to_string()).collect(),
            }
        })
        .filter(|s| !s.path.ends_with("/tests.rs"))
        .collect()
}

/// Every line of the files `judged` selects that contains one of `needles`.
fn offenders(judged: impl Fn(&str) -> bool, needles: &[&str]) -> Vec<String> {
    let mut out = Vec::new();
    for source in sources().iter().filter(|s| judged(&s.path)) {
        for (n, line) in source.lines.iter().enumerate() {
            if let Some(needle) = needles.iter().find(|needle| line.contains(*needle)) {
                out.push(format!("{}:{}: {needle}", source.path, n + 1));
            }
        }
    }
    out
}

fn assert_none(invariant: &str, found: Vec<String>) {
    assert!(found.is_empty(), "Invariant broken: {invariant}\n{}", found.join("\n"));
}

fn is_capability(path: &str) -> bool {
    CAPABILITIES.iter().any(|c| path.starts_with(&format!("src/{c}/")))
}

/// The top-level modules a file names through `crate::`, grouped imports (`crate::{a, b::c}`)
/// included, each with its line.
fn crate_modules(source: &Source) -> Vec<(usize, String)> {
    let text = source.lines.join("\n");
    let mut out = Vec::new();
    let mut rest = text.as_str();
    while let Some(at) = rest.find("crate::") {
        let line = text[..text.len() - rest.len() + at].matches('\n').count() + 1;
        rest = &rest[at + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            // Top-level names of the group: after `{` or a `,` at depth 0.
            let (mut depth, mut start) = (0, true);
            for (i, c) in group.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => break,
                    '}' => depth -= 1,
                    ',' if depth == 0 => start = true,
                    c if start && (c.is_alphanumeric() || c == '_') => {
                        let name: String =
                            group[i..].chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
                        out.push((line, name));
                        start = false;
                    }
                    _ => {}
                }
            }
        } else {
            out.push((line, rest.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect()));
        }
    }
    out
}

#[test]
fn the_engine_layer_and_the_foundation_never_reach_up_into_a_capability() {
    let mut found = Vec::new();
    for source in sources() {
        let upper = ["src/server.rs", "src/cli.rs", "src/lib.rs", "src/main.rs"];
        if is_capability(&source.path) || upper.contains(&source.path.as_str()) {
            continue;
        }
        for (line, module) in crate_modules(&source) {
            if CAPABILITIES.contains(&module.as_str()) {
                found.push(format!("{}:{line}: crate::{module}", source.path));
            }
        }
    }
    assert_none("engine/, sql/ and the shared modules import no capability", found);
}

#[test]
fn no_tool_handler_matches_on_the_engine() {
    assert_none(
        "tool handlers ask capabilities; per-engine code sits in the capability's db.rs and engine files",
        offenders(
            |p| p.ends_with("/tool.rs"),
            &["Engine::Postgres", "Engine::Mysql", "Engine::Sqlite", "Engine::Mongodb"],
        ),
    );
}

#[test]
fn only_the_engine_layer_sees_a_driver_pool() {
    assert_none(
        "capabilities reach a database through sessions, never a pool",
        offenders(
            |p| !p.starts_with("src/engine/"),
            &["PgPool", "MySqlPool", "SqlitePool", "sqlx::Pool", "PoolOptions", "PoolConnection", "mongodb::Client"],
        ),
    );
}

#[test]
fn only_the_output_layer_builds_an_mcp_result() {
    assert_none(
        "no tool builds an MCP result",
        offenders(
            |p| !["src/output.rs", "src/cli.rs", "src/server.rs"].contains(&p),
            &["CallToolResult", "Content::text", "Content::json"],
        ),
    );
}

#[test]
fn nothing_but_the_transport_and_the_one_shot_cli_writes_to_stdout() {
    assert_none(
        "while serving, stdout is the protocol channel",
        offenders(|p| !["src/cli.rs", "src/transport.rs"].contains(&p), &["print!(", "println!(", "stdout()"]),
    );
}

#[test]
fn every_file_a_tool_touches_goes_through_file_access() {
    // config.rs reads the operator's own configuration file, named on the command line.
    assert_none(
        "files are opened, listed and written through FileAccess",
        offenders(
            |p| !["src/files.rs", "src/config.rs", "src/prompts.rs"].contains(&p),
            &["File::open", "File::create", "OpenOptions", "fs::read", "fs::write", "read_dir", "fs::copy"],
        ),
    );
}

#[test]
fn sql_is_parsed_only_through_the_sql_module() {
    assert_none(
        "one bounded parse entry (sql::parse, parse_with, parse_expr) and one dialect()",
        offenders(
            |p| !p.starts_with("src/sql/"),
            &["Parser::new", "Parser::parse_sql", "PostgreSqlDialect {", "MySqlDialect {", "SQLiteDialect {"],
        ),
    );
}
