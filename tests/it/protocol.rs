//! The protocol and process surface: both MCP eras, unknown methods, startup that never waits
//! for a database, the embedded SQLite default, and the one-shot CLI.

use std::{
    io::{BufRead, BufReader, Write},
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use rmcp::{ClientLifecycleMode, ClientServiceExt, model::*, transport::TokioChildProcess};
use serde_json::{Value, json};

use crate::support::{BIN, Client, Mcp, text};

#[tokio::test]
async fn legacy_initialize_negotiates_2025_11_25_and_carries_the_persona() {
    let mcp = Mcp::spawn(&["--database-url", "sqlite::memory:"], &[]).await;
    let info = mcp.client.peer_info().unwrap();
    assert_eq!(info.protocol_version, ProtocolVersion::V_2025_11_25);
    let instructions = info.instructions.clone().unwrap_or_default();
    assert!(instructions.contains("senior data engineer") && instructions.contains("<data ID>"));
    mcp.close().await;
}

#[tokio::test]
async fn discover_clients_on_2026_07_28_work_without_a_handshake() {
    let dir = tempfile::tempdir().unwrap();
    let cmd = tokio::process::Command::new(BIN);
    let mut cmd = cmd;
    cmd.current_dir(dir.path()).env_remove("DATABASE_URL");
    let transport = TokioChildProcess::new(cmd).unwrap();
    let client = Client::default()
        .serve_with_lifecycle(
            transport,
            ClientLifecycleMode::Discover { preferred_versions: vec![ProtocolVersion::V_2026_07_28] },
        )
        .await
        .unwrap();
    assert_eq!(client.peer_info().unwrap().protocol_version, ProtocolVersion::V_2026_07_28);
    assert!(client.list_all_tools().await.unwrap().iter().any(|t| t.name == "run-sql"));
    let r = client
        .call_tool(
            CallToolRequestParams::new("run-sql").with_arguments(rmcp::object!({"sql": "select 40 + 2 as answer"})),
        )
        .await
        .unwrap();
    assert_eq!(r.structured_content.unwrap()["rows"], json!([[42]]));
    client.cancel().await.unwrap();
}

/// Reads JSON-RPC lines from a raw child process until one with the given id arrives.
fn read_reply(lines: &mut impl Iterator<Item = std::io::Result<String>>, id: i64) -> Value {
    for line in lines {
        let v: Value = serde_json::from_str(&line.unwrap()).expect("stdout carries only JSON-RPC");
        if v["id"] == id {
            return v;
        }
    }
    panic!("no reply with id {id}");
}

#[test]
fn unknown_methods_get_an_error_at_once_and_startup_never_waits_for_a_database() {
    // An unreachable database: initialize and tools/list must not care.
    let mut child = Command::new(BIN)
        .args(["--database-url", "postgres://nobody:pw-never-used-1234@127.0.0.1:1/none"])
        .env_remove("DATABASE_URL")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let started = Instant::now();
    let send = |stdin: &mut std::process::ChildStdin, v: Value| writeln!(stdin, "{v}").unwrap();
    send(
        &mut stdin,
        json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "raw", "version": "0"}}}),
    );
    let init = read_reply(&mut lines, 1);
    assert_eq!(init["result"]["protocolVersion"], "2025-11-25");
    send(&mut stdin, json!({"jsonrpc": "2.0", "method": "notifications/initialized"}));
    send(&mut stdin, json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list"}));
    assert!(read_reply(&mut lines, 2)["result"]["tools"].as_array().unwrap().len() >= 5);
    assert!(started.elapsed() < Duration::from_secs(2), "startup waited {:?}", started.elapsed());

    let asked = Instant::now();
    send(&mut stdin, json!({"jsonrpc": "2.0", "id": 3, "method": "no/such-method", "params": {}}));
    let reply = read_reply(&mut lines, 3);
    assert_eq!(reply["error"]["code"], -32601, "{reply}");
    assert!(asked.elapsed() < Duration::from_secs(1));

    send(
        &mut stdin,
        json!({"jsonrpc": "2.0", "id": 4, "method": "tools/call", "params": {"name": "run-sql", "arguments": {"sql": "select 1"}}}),
    );
    let call = read_reply(&mut lines, 4);
    assert_eq!(call["result"]["isError"], true);
    let message = call["result"]["content"][0]["text"].as_str().unwrap();
    assert!(message.starts_with("error (connect)"), "{message}");
    assert!(!message.contains("pw-never-used-1234"));
    drop(stdin);
    let _ = child.wait();
}

#[tokio::test]
async fn with_nothing_configured_the_embedded_sqlite_file_is_used_read_write() {
    let dir = tempfile::tempdir().unwrap();
    let mcp = Mcp::spawn_in(&[], &[], Some(dir.path())).await;
    let env = mcp.ok("env-check", json!({})).await;
    assert_eq!(env["databases"][0]["engine"], "sqlite");
    assert_eq!(env["databases"][0]["mode"], "read-write");
    mcp.ok("run-sql", json!({"sql": "create table notes (id integer primary key, body text not null)"})).await;
    mcp.ok("run-sql", json!({"sql": "insert into notes (body) values ('hello')"})).await;
    mcp.close().await;
    assert!(dir.path().join("data-engineer.db").exists());
}

#[tokio::test]
async fn the_default_config_file_beats_a_database_url_in_the_environment() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("data-engineer.toml"),
        "[databases.filed]\nurl = \"sqlite://f.db?mode=rwc\"\nmode = \"read-write\"\n",
    )
    .unwrap();
    let mcp = Mcp::spawn_in(&[], &[("DATABASE_URL", "postgres://ignored@127.0.0.1:1/none")], Some(dir.path())).await;
    let env = mcp.ok("env-check", json!({})).await;
    assert_eq!(env["databases"][0]["name"], "filed");
    mcp.close().await;
}

#[tokio::test]
async fn a_broken_config_still_starts_and_every_tool_explains_it() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("data-engineer.toml"), "[databases.main]\nurl = \"${DE_TEST_UNSET_VAR}\"\n")
        .unwrap();
    let mcp = Mcp::spawn_in(&[], &[], Some(dir.path())).await;
    let e = mcp.err("env-check", json!({})).await;
    assert!(e.contains("DE_TEST_UNSET_VAR is not set"), "{e}");
    let e = mcp.err("run-sql", json!({"sql": "select 1"})).await;
    assert!(e.contains("DE_TEST_UNSET_VAR"), "{e}");
    mcp.close().await;
}

#[test]
fn cli_tools_call_version_and_help() {
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        Command::new(BIN).args(args).current_dir(dir.path()).env_remove("DATABASE_URL").output().unwrap()
    };
    let tools: Value = serde_json::from_slice(&run(&["tools"]).stdout).unwrap();
    assert_eq!(tools, data_engineer_mcp::cli::tools_json());
    let out = run(&["call", "run-sql", "--args", r#"{"sql": "select 'a|b' as x, 2 as y"}"#]);
    assert!(out.status.success());
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(stdout.contains("| x | y |") && stdout.contains("| a\\|b | 2 |"), "{stdout}");
    let out = run(&["call", "run-sql", "--args", r#"{"sql": "select 1; select 2"}"#, "--json"]);
    assert_eq!(out.status.code(), Some(1));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["isError"], true);
    let out = run(&["call", "run-sql", "--args", "not json"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&run(&["--version"]).stdout).starts_with("data-engineer-mcp "));
    let help = String::from_utf8_lossy(&run(&["--help"]).stdout).into_owned();
    for word in ["serve", "tools", "call", "--database-url", "--mode", "--config"] {
        assert!(help.contains(word), "--help lacks {word}");
    }
}

#[tokio::test]
async fn bad_arguments_are_tool_errors_with_a_next_step() {
    let mcp = Mcp::spawn(&["--database-url", "sqlite::memory:"], &[]).await;
    let e = mcp.err("run-sql", json!({"statement": "select 1"})).await;
    assert!(e.contains("missing field `sql`") && e.contains("next:"), "{e}");
    let e = mcp.err("run-sql", json!({"sql": "select 1", "database": "nope"})).await;
    assert!(e.contains("unknown database \"nope\"") && e.contains("next:"), "{e}");
    let e = mcp.err("list-objects", json!({"cursor": "abc"})).await;
    assert!(e.contains("cursor"), "{e}");
    let r = mcp.call("run-mongo", json!({"collection": "x"})).await;
    assert!(text(&r).contains("use run-sql"));
    mcp.close().await;
}

/// A client's notifications/cancelled stops the statement on the server: PostgreSQL's backend
/// is gone within seconds (not after the 15 s statement timeout), SQLite's engine is
/// interrupted, and the server keeps serving.
#[tokio::test]
async fn cancelling_a_call_stops_its_statement_on_the_server() {
    use rmcp::service::PeerRequestOptions;
    use sqlx::Connection as _;

    let db = crate::support::TestDb::new(crate::support::Kind::Postgres).await;
    let mcp = db.serve("read-only").await;
    let database = db.url.rsplit('/').next().unwrap().to_string();
    let sleepers = async |c: &mut sqlx::PgConnection| -> i64 {
        sqlx::query_scalar(
            "select count(*) from pg_stat_activity where datname = $1 and query like '%pg_sleep(30)%' and pid <> pg_backend_pid()",
        )
        .bind(&database)
        .fetch_one(c)
        .await
        .unwrap()
    };
    let mut watch = sqlx::PgConnection::connect(&db.url).await.unwrap();
    let call = |sql: &str| {
        ClientRequest::CallToolRequest(Request::new(
            CallToolRequestParams::new("run-sql").with_arguments(rmcp::object!({"sql": sql})),
        ))
    };
    let handle = mcp
        .client
        .send_cancellable_request(call("select pg_sleep(30)"), PeerRequestOptions::no_options())
        .await
        .unwrap();
    let started = std::time::Instant::now();
    while sleepers(&mut watch).await == 0 {
        assert!(started.elapsed().as_secs() < 10, "the statement never started");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    handle.cancel(Some("user abort".into())).await.unwrap();
    let cancelled = std::time::Instant::now();
    while sleepers(&mut watch).await > 0 {
        assert!(cancelled.elapsed().as_secs() < 5, "the statement still runs on the server after a cancel");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let v = mcp.ok("run-sql", serde_json::json!({"sql": "select 1 as one"})).await;
    assert_eq!(v["rows"][0][0], 1, "the server keeps serving: {v}");
    mcp.close().await;

    let db = crate::support::TestDb::new(crate::support::Kind::Sqlite).await;
    db.exec("create table t (x int)").await;
    let mcp = db.serve("read-only").await;
    let endless = "with recursive n(i) as (select 1 union all select i + 1 from n) select count(*) from n";
    let handle = mcp.client.send_cancellable_request(call(endless), PeerRequestOptions::no_options()).await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    handle.cancel(None).await.unwrap();
    let next = std::time::Instant::now();
    let v = mcp.ok("run-sql", serde_json::json!({"sql": "select 1 as one"})).await;
    assert_eq!(v["rows"][0][0], 1);
    assert!(next.elapsed().as_secs() < 5, "the interrupted statement freed the connection: {:?}", next.elapsed());
    mcp.close().await;
}

/// File-taking tools use only the allowed directories: the working directory, --allow-dir and
/// the config's [files] roots; env-check lists them.
#[tokio::test]
async fn file_tools_refuse_paths_outside_the_allowed_directories() {
    let db = crate::support::TestDb::new(crate::support::Kind::Sqlite).await;
    let work = tempfile::tempdir_in(env!("CARGO_MANIFEST_DIR")).unwrap();
    std::fs::write(work.path().join("1_a.sql"), "create table a (id int primary key);").unwrap();
    // Spawned from a working directory inside the crate, without the test harness's --allow-dir.
    let cmd = tokio::process::Command::new(BIN);
    let mut cmd = cmd;
    cmd.current_dir(work.path()).args(["--database-url", &db.url, "--mode", "read-write"]).env_remove("DATABASE_URL");
    let client = rmcp::ServiceExt::serve(Client::default(), TokioChildProcess::new(cmd).unwrap()).await.unwrap();
    let call = async |tool: &str, args: Value| {
        client
            .call_tool(CallToolRequestParams::new(tool.to_string()).with_arguments(args.as_object().unwrap().clone()))
            .await
            .unwrap()
    };
    let env = call("env-check", json!({})).await;
    let roots = env.structured_content.unwrap()["file_roots"].clone();
    assert_eq!(roots, json!([work.path().canonicalize().unwrap().display().to_string()]));
    let ok = call("verify-order", json!({"path": "1_a.sql", "engine": "postgres"})).await;
    assert_ne!(ok.is_error, Some(true), "{}", text(&ok));
    for (tool, args) in [
        ("verify-order", json!({"path": "/etc/passwd"})),
        ("seed", json!({"path": "../../../../etc"})),
        ("data-quality", json!({"file": "/etc/checks.toml"})),
        ("bootstrap", json!({"dir": "/tmp/elsewhere-never-created"})),
        ("create-migration-plan", json!({"file": "/etc/hosts.sql"})),
        ("dry-run", json!({"folder": "/etc"})),
        ("snapshot", json!({"file": "/tmp/elsewhere-snapshot.json"})),
    ] {
        let r = call(tool, args.clone()).await;
        let t = text(&r);
        assert!(r.is_error == Some(true) && t.contains("outside the directories"), "{tool} {args}: {t}");
        assert!(t.contains("--allow-dir"), "says how to allow it: {t}");
    }
    assert!(!std::path::Path::new("/tmp/elsewhere-never-created").exists());
    assert!(!std::path::Path::new("/tmp/elsewhere-snapshot.json").exists());
    let list = call("snapshot", json!({"list": true})).await;
    let listed = list.structured_content.unwrap();
    assert!(listed.get("snapshots").is_none(), "a refused snapshot stores nothing: {listed}");
    client.cancel().await.unwrap();
}

/// Toolsets keep tools/list small for clients that need only some tools; env-check stays.
#[tokio::test]
async fn toolsets_select_what_tools_list_offers() {
    let names = async |mcp: &Mcp| -> Vec<String> {
        mcp.client.list_all_tools().await.unwrap().into_iter().map(|t| t.name.to_string()).collect()
    };
    let mcp = Mcp::spawn(&["--database-url", "sqlite::memory:", "--tools", "security,run-sql"], &[]).await;
    assert_eq!(names(&mcp).await, ["env-check", "policy-apply", "run-sql", "security-audit", "test-as-user"]);
    let r = mcp
        .client
        .call_tool(CallToolRequestParams::new("seed").with_arguments(json!({"path": "x"}).as_object().unwrap().clone()))
        .await;
    assert!(r.is_err() || r.unwrap().is_error == Some(true), "a tool not offered cannot be called");
    mcp.close().await;

    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("data-engineer.toml"),
        "[tools]\nenable = [\"migrations\"]\n\n[databases.main]\nurl = \"sqlite::memory:\"\n",
    )
    .unwrap();
    let mcp = Mcp::spawn_in(&[], &[], Some(dir.path())).await;
    let listed = names(&mcp).await;
    assert_eq!(listed.len(), 7, "env-check and the six migration tools: {listed:?}");
    assert!(listed.contains(&"verify-order".to_string()));
    mcp.close().await;

    let out = Command::new(BIN).args(["--tools", "nope", "tools"]).output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("toolsets: all, core"), "{out:?}");
}

/// A raw server process spoken to line by line, its stdout read on a thread so that every read
/// can time out: a server that swallows a bad line must fail the test, not hang it.
struct Raw {
    child: std::process::Child,
    stdin: std::process::ChildStdin,
    lines: std::sync::mpsc::Receiver<String>,
}

impl Raw {
    fn spawn() -> Raw {
        let mut child = Command::new(BIN)
            .args(["--database-url", "sqlite::memory:"])
            .env_remove("DATABASE_URL")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdin = child.stdin.take().unwrap();
        let stdout = child.stdout.take().unwrap();
        #[cfg(target_os = "linux")]
        let protocol_pipe = {
            use std::os::fd::AsRawFd;
            std::fs::read_link(format!("/proc/self/fd/{}", stdout.as_raw_fd())).unwrap()
        };
        let (tx, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut raw = Raw { child, stdin, lines };
        raw.send(&json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
            "protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "raw", "version": "0"}}}));
        assert_eq!(raw.next_line()["id"], 0);
        raw.send(&json!({"jsonrpc": "2.0", "method": "notifications/initialized"}));
        // While serving, the process's fd 1 no longer leads to the protocol pipe: nothing but the
        // transport's own handle can write there.
        #[cfg(target_os = "linux")]
        {
            let fd1 = std::fs::read_link(format!("/proc/{}/fd/1", raw.child.id())).unwrap();
            assert_ne!(fd1, protocol_pipe, "fd 1 is still the protocol channel");
        }
        raw
    }

    fn send(&mut self, v: &Value) {
        self.write(format!("{v}\n").as_bytes());
    }

    fn write(&mut self, bytes: &[u8]) {
        self.stdin.write_all(bytes).unwrap();
        self.stdin.flush().unwrap();
    }

    /// The next line on stdout, which must be JSON-RPC and come within 10 seconds.
    fn next_line(&mut self) -> Value {
        let line = self
            .lines
            .recv_timeout(Duration::from_secs(10))
            .expect("no reply within 10 s: the server swallowed the message and the client would wait forever");
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("stdout carries only JSON-RPC ({e}): {line:.200}"))
    }

    /// Sends `bytes` as one line and returns the reply, then proves the server still serves.
    fn bad(&mut self, bytes: &[u8], ping_id: i64) -> Value {
        self.write(bytes);
        self.write(b"\n");
        let reply = self.next_line();
        self.send(&json!({"jsonrpc": "2.0", "id": ping_id, "method": "ping"}));
        let pong = self.next_line();
        assert_eq!(pong, json!({"jsonrpc": "2.0", "id": ping_id, "result": {}}), "keeps serving after {reply}");
        reply
    }
}

impl Drop for Raw {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn assert_error(reply: &Value, code: i64, id: Value) {
    assert_eq!(reply["jsonrpc"], "2.0", "{reply}");
    assert_eq!(reply["error"]["code"], code, "{reply}");
    assert_eq!(reply["id"], id, "{reply}");
    assert!(reply["error"]["message"].as_str().is_some_and(|m| !m.is_empty()), "{reply}");
    assert!(reply.get("result").is_none(), "{reply}");
}

/// JSON-RPC 2.0: a line that is not JSON (or not UTF-8, or nested too deep) gets a parse error
/// with a null id; valid JSON that is no request gets invalid-request, with its id when it has
/// one; and the server keeps serving after each.
#[test]
fn malformed_lines_get_json_rpc_errors_and_the_server_keeps_serving() {
    let mut raw = Raw::spawn();
    for (i, line) in [
        b"this is not json".to_vec(),
        b"{\"jsonrpc\": \"2.0\", \"id\": 1, \"method\": \"ping\"".to_vec(),
        b"{\"jsonrpc\": \"2.0\", \"id\": 1, \"method\": \"p\xffing\"}".to_vec(),
        b"\xc3\x28\xa0\xa1".to_vec(),
        // 100k nested arrays: a recursive parser would overflow its stack.
        [vec![b'['; 100_000], vec![b']'; 100_000]].concat(),
        format!(
            r#"{{"jsonrpc": "2.0", "id": 5, "method": "tools/list", "params": {{"x": {}{}}}}}"#,
            "[".repeat(100_000),
            "]".repeat(100_000)
        )
        .into_bytes(),
    ]
    .into_iter()
    .enumerate()
    {
        let reply = raw.bad(&line, 100 + i as i64);
        assert_error(&reply, -32700, Value::Null);
    }
    for (i, (line, id)) in [
        (json!({"jsonrpc": "2.0", "id": 7, "method": 42}), json!(7)),
        (json!({"jsonrpc": "2.0", "id": "seven", "method": "tools/call", "params": "nope"}), json!("seven")),
        (json!({"jsonrpc": "1.0", "id": 8, "method": "ping"}), json!(8)),
        (json!({"id": 9}), json!(9)),
        (json!({"hello": "world"}), Value::Null),
        (json!([]), Value::Null),
        (json!("a string"), Value::Null),
        (json!(42), Value::Null),
        (json!({"jsonrpc": "2.0", "id": {"an": "object"}, "method": "ping"}), Value::Null),
    ]
    .into_iter()
    .enumerate()
    {
        let reply = raw.bad(line.to_string().as_bytes(), 200 + i as i64);
        assert_error(&reply, -32600, id);
    }
    // A good request after all that is served as usual.
    raw.send(&json!({"jsonrpc": "2.0", "id": 300, "method": "tools/list"}));
    assert!(raw.next_line()["result"]["tools"].as_array().is_some_and(|t| t.len() > 5));
}

/// A line longer than the bound is refused with a parse error and never buffered whole; the
/// server keeps serving. Blank lines and a CRLF ending are not errors.
#[test]
fn an_oversized_line_is_refused_and_blank_lines_are_ignored() {
    let mut raw = Raw::spawn();
    let mut huge = Vec::with_capacity(65 << 20);
    huge.extend_from_slice(br#"{"jsonrpc": "2.0", "id": 1, "method": "ping", "params": {"x": ""#);
    huge.resize(65 << 20, b'a');
    huge.extend_from_slice(br#""}}"#);
    let reply = raw.bad(&huge, 2);
    assert_error(&reply, -32700, Value::Null);
    assert!(reply["error"]["message"].as_str().unwrap().contains("MiB"), "{reply}");
    raw.write(b"\n\r\n   \n");
    raw.write(b"{\"jsonrpc\": \"2.0\", \"id\": 3, \"method\": \"ping\"}\r\n");
    assert_eq!(raw.next_line(), json!({"jsonrpc": "2.0", "id": 3, "result": {}}));
}
