//! load-csv on every engine: clean files, bad rows in both error modes, duplicate keys in each
//! mode, wrong encoding, missing and extra columns, quoted newlines, preview, progress, cancel
//! mid-load and a kill during the merge. Every check reads the target back from the database.

use std::{
    path::{Path, PathBuf},
    sync::{Arc, Mutex},
    time::Duration,
};

use mongodb::bson::{Document, doc};
use rmcp::{
    ClientHandler, ServiceExt,
    model::*,
    service::{NotificationContext, PeerRequestOptions, RoleClient},
    transport::{ConfigureCommandExt, TokioChildProcess},
};
use serde_json::{Value, json};
use sqlx::{Connection, Executor};

use crate::support::{BIN, Kind, Mcp, TestDb};

const TABLE_SQL: &str =
    "create table people (id int primary key, name varchar(10) not null, age int, joined date, note text)";

/// A fresh database with the `people` table (an empty collection on MongoDB).
async fn people(kind: Kind) -> TestDb {
    let db = TestDb::new(kind).await;
    if kind == Kind::Mongo {
        let client = mongodb::Client::with_uri_str(&db.url).await.unwrap();
        let d = client.default_database().unwrap();
        d.create_collection("people").await.unwrap();
    } else {
        db.exec(TABLE_SQL).await;
    }
    db
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> String {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path.display().to_string()
}

use crate::load_files::rows;

/// The file's key column: `_id` on MongoDB.
fn id(kind: Kind) -> &'static str {
    if kind == Kind::Mongo { "_id" } else { "id" }
}

fn load_args(file: &str, extra: Value) -> Value {
    let mut args = json!({"table": "people", "file": file});
    args.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
    args
}

async fn clean_file_with_quoted_newlines(kind: Kind) {
    let db = people(kind).await;
    let dir = tempfile::tempdir().unwrap();
    // Header in another case; a note with a comma, a quote and a newline; an empty age is NULL.
    let csv = format!(
        "{}\n1,ann,34,2024-01-02,\"line one\nline two, \"\"quoted\"\"\"\n2,bob,,2024-02-03,plain\n3,cy,51,,\n",
        // Field names are kept as written in a collection.
        if kind == Kind::Mongo { "_id,name,age,joined,note" } else { "ID,NAME,Age,Joined,Note" }
    );
    let file = write(dir.path(), "people.csv", csv.as_bytes());
    let mcp = db.serve("read-write").await;
    let v = mcp.ok("load-csv", load_args(&file, json!({}))).await;
    assert_eq!(
        (v["rows_read"].clone(), v["inserted"].clone(), v["committed"].clone()),
        (json!(3), json!(3), json!(true)),
        "{v}"
    );
    let got = rows(&db).await;
    assert_eq!(got.len(), 3, "{got:?}");
    assert_eq!(got[0].3.as_deref(), Some("line one\nline two, \"quoted\""));
    assert_eq!(got[1].2, None, "an empty integer field is NULL");
    // COPY's rule: an unquoted empty field is NULL, in a text column too.
    assert_eq!(got[2].3.as_deref(), None, "an unquoted empty text field is NULL by default");
    // Relative paths resolve against the server's working directory.
    let relative = Mcp::spawn_in(&["--database-url", &db.url, "--mode", "read-write"], &[], Some(dir.path())).await;
    let e = relative.err("load-csv", load_args("nope.csv", json!({}))).await;
    assert!(e.contains("no such file") && e.contains(&dir.path().join("nope.csv").display().to_string()), "{e}");
    relative.close().await;
    mcp.close().await;
}

/// Other CSV shapes: a UTF-8 byte order mark, `;` between fields, `'` quotes with a backslash
/// escape; a file without a header mapped by position; `skip_rows` before the header.
async fn csv_dialects_are_read(kind: Kind) {
    let db = people(kind).await;
    let dir = tempfile::tempdir().unwrap();
    let key = id(kind);
    let mut csv = b"\xEF\xBB\xBF".to_vec();
    csv.extend_from_slice(format!("{key};name;age\n1;'O\\'Brien';30\n2;'semi;colon';40\n").as_bytes());
    let file = write(dir.path(), "bom.csv", &csv);
    let mcp = db.serve("read-write").await;
    let args = load_args(&file, json!({"delimiter": ";", "quote": "'", "escape": "\\"}));
    let v = mcp.ok("load-csv", args).await;
    assert_eq!(v["inserted"], json!(2), "{v}");
    let headless = write(dir.path(), "headless.csv", b"export of 2024-05-01\n3,carol,50\n");
    let mapping = json!({"1": key, "2": "name", "3": "age"});
    let v =
        mcp.ok("load-csv", load_args(&headless, json!({"header": false, "skip_rows": 1, "mapping": mapping}))).await;
    assert_eq!(v["inserted"], json!(1), "{v}");
    let got: Vec<(i64, String, Option<i64>)> = rows(&db).await.into_iter().map(|(i, n, a, _)| (i, n, a)).collect();
    assert_eq!(
        got,
        vec![(1, "O'Brien".into(), Some(30)), (2, "semi;colon".into(), Some(40)), (3, "carol".into(), Some(50))]
    );
    let bad = mcp.err("load-csv", load_args(&file, json!({"quote": "''"}))).await;
    assert!(bad.contains("quote") && bad.contains("one ASCII character"), "{bad}");
    mcp.close().await;
}

async fn bad_rows_in_both_error_modes(kind: Kind) {
    let db = people(kind).await;
    let dir = tempfile::tempdir().unwrap();
    let key = id(kind);
    // Lines 3, 5 and 7 break the table's types; line 8 is short of fields. Line 4's empty name is
    // NULL (COPY's rule: an unquoted empty field), which the NOT NULL column refuses.
    let file = write(
        dir.path(),
        "bad.csv",
        format!(
            "{key},name,age,joined\n1,ann,34,2024-01-02\n2,bob,abc,2024-01-02\n3,,20,2024-01-02\n4,dee,20,2024-13-40\n5,eve,20,\n6,fay,1,2\n7,gus\n"
        )
        .as_bytes(),
    );
    let mcp = db.serve("read-write").await;
    let e = mcp.err("load-csv", load_args(&file, json!({}))).await;
    assert!(e.contains("nothing was loaded"), "{e}");
    assert!(e.contains("line 8") && e.contains("has 2 fields"), "{e}");
    if kind != Kind::Mongo {
        assert!(e.contains("line 3, column age, value \"abc\": not an integer"), "{e}");
        assert!(e.contains("line 5") && e.contains("not a date"), "{e}");
    }
    assert!(rows(&db).await.is_empty(), "abort merges nothing");

    let rejects = dir.path().join("rejects.csv");
    let v = mcp
        .ok("load-csv", load_args(&file, json!({"on_error": "skip", "rejects_file": rejects.display().to_string()})))
        .await;
    let bad = if kind == Kind::Mongo { 1 } else { 5 };
    assert_eq!(v["rejected"], json!(bad), "{v}");
    assert_eq!(v["inserted"], json!(7 - bad), "{v}");
    assert_eq!(v["rejects"].as_array().unwrap().len(), bad, "{v}");
    assert_eq!(rows(&db).await.len(), 7 - bad);
    let written = std::fs::read_to_string(&rejects).unwrap();
    assert_eq!(written.lines().count(), 1 + bad, "{written}");
    let first = if kind == Kind::Mongo { "8,,," } else { "3,age,abc,not an integer" };
    assert!(written.starts_with(&format!("line,column,value,reason\n{first}")), "{written}");
    mcp.close().await;
}

async fn duplicate_keys_in_each_mode(kind: Kind) {
    let db = people(kind).await;
    let dir = tempfile::tempdir().unwrap();
    let key = id(kind);
    let first = write(dir.path(), "first.csv", format!("{key},name,age\n1,ann,30\n").as_bytes());
    let second = write(dir.path(), "second.csv", format!("{key},name,age\n1,ANN,31\n2,bob,40\n").as_bytes());
    let mcp = db.serve("read-write").await;
    mcp.ok("load-csv", load_args(&first, json!({}))).await;

    let e = mcp.err("load-csv", load_args(&second, json!({"mode": "insert"}))).await;
    assert!(e.contains("upsert") && e.contains("skip-duplicates") && e.contains("nothing was loaded"), "{e}");
    if kind == Kind::Mongo {
        assert!(e.contains("line 2"), "the conflicting row is named by its line: {e}");
    }
    assert_eq!(rows(&db).await, vec![(1, "ann".into(), Some(30), None)], "insert conflict merges nothing");

    let v = mcp.ok("load-csv", load_args(&second, json!({"mode": "skip-duplicates"}))).await;
    assert_eq!(v["skipped_duplicates"], json!(1), "{v}");
    let got = rows(&db).await;
    assert_eq!((got[0].1.as_str(), got.len()), ("ann", 2), "skip-duplicates keeps the stored row: {got:?}");

    // Row 2 already holds these values: it is left as it was, not rewritten.
    let v = mcp.ok("load-csv", load_args(&second, json!({"mode": "upsert"}))).await;
    assert_eq!((v["updated"].clone(), v["unchanged"].clone()), (json!(1), json!(1)), "{v}");
    let got = rows(&db).await;
    assert_eq!(got[0], (1, "ANN".into(), Some(31), None), "upsert updates the stored row");
    mcp.close().await;
}

async fn file_problems_load_nothing(kind: Kind) {
    let db = people(kind).await;
    let dir = tempfile::tempdir().unwrap();
    let key = id(kind);
    let mcp = db.serve("read-write").await;

    // Latin-1 bytes: refused with the line, nothing loaded.
    let mut bytes = format!("{key},name\n1,ann\n2,Jos").into_bytes();
    bytes.extend_from_slice(b"\xe9\n");
    let latin1 = write(dir.path(), "latin1.csv", &bytes);
    let e = mcp.err("load-csv", load_args(&latin1, json!({}))).await;
    assert!(e.contains("not UTF-8") && e.contains("line 3") && e.contains("iconv"), "{e}");
    let e = mcp.err("load-csv", load_args(&latin1, json!({"encoding": "latin1"}))).await;
    assert!(e.contains("only UTF-8"), "{e}");
    // Only files inside the directories the server may use.
    let e = mcp.err("load-csv", load_args("/etc/passwd", json!({}))).await;
    assert!(e.contains("outside the directories"), "{e}");

    if kind != Kind::Mongo {
        // A required column missing from the file.
        let no_name = write(dir.path(), "no_name.csv", b"id,age\n1,30\n");
        let e = mcp.err("load-csv", load_args(&no_name, json!({}))).await;
        assert!(e.contains("lacks columns") && e.contains("name"), "{e}");
        // An extra column: refused, then left out when asked, or mapped.
        let extra = write(dir.path(), "extra.csv", b"id,full name,shoe_size\n1,ann,38\n");
        let e = mcp.err("load-csv", load_args(&extra, json!({}))).await;
        assert!(e.contains("shoe_size") && e.contains("ignore_extra_columns"), "{e}");
        assert!(rows(&db).await.is_empty());
        let v = mcp
            .ok("load-csv", load_args(&extra, json!({"ignore_extra_columns": true, "mapping": {"full name": "name"}})))
            .await;
        assert_eq!(v["inserted"], json!(1), "{v}");
        assert!(v["unfilled_columns"].as_array().unwrap().contains(&json!("age")), "{v}");
        // Semicolons, a skipped title line and a NULL marker.
        let semi = write(dir.path(), "semi.csv", b"exported 2024\nid;name;age\n2;bob;NA\n");
        let v = mcp
            .ok("load-csv", load_args(&semi, json!({"delimiter": ";", "skip_rows": 1, "null_values": ["NA"]})))
            .await;
        assert_eq!(v["inserted"], json!(1), "{v}");
        assert_eq!(rows(&db).await[1].2, None);
        // An explicit NULL marker in a NOT NULL column is a bad row.
        let null_name = write(dir.path(), "null_name.csv", b"id,name\n9,NULL\n");
        let e = mcp.err("load-csv", load_args(&null_name, json!({"null_values": ["NULL"]}))).await;
        assert!(e.contains("line 2, column name: empty, but the column is NOT NULL"), "{e}");
        // Read-only databases refuse before reading.
        let ro = db.serve("read-only").await;
        let e = ro.err("load-csv", load_args(&semi, json!({}))).await;
        assert!(e.contains("read-only"), "{e}");
        ro.close().await;
    }
    mcp.close().await;
}

async fn preview_guesses_and_proposes(kind: Kind) {
    let db = people(kind).await;
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "p.csv", b"id,name,age,Signed Up\n1,ann,34,2024-01-02\n2,bob,x,2024-01-03\n");
    let mcp = db.serve("read-write").await;
    if kind != Kind::Mongo {
        let v = mcp.ok("load-csv", load_args(&file, json!({"preview": true, "ignore_extra_columns": true}))).await;
        assert_eq!(v["committed"], json!(false));
        assert_eq!(v["rejects"][0]["line"], json!(3), "{v}");
        assert_eq!(v["rejects"][0]["column"], json!("age"), "{v}");
        assert!(rows(&db).await.is_empty(), "preview writes nothing");
        let v = mcp.ok("load-csv", json!({"table": "signups", "file": file, "preview": true})).await;
        let ddl = v["create_table"].as_str().unwrap();
        assert!(
            ddl.contains("PRIMARY KEY") && ddl.contains("signed_up") && ddl.to_lowercase().contains("date"),
            "{ddl}"
        );
        assert_eq!(v["guessed"][2]["guessed"], json!("text"), "{v}");
    } else {
        let v = mcp.ok("load-csv", json!({"table": "people", "file": file, "preview": true})).await;
        assert_eq!(v["guessed"][0]["guessed"], json!("integer"), "{v}");
    }
    mcp.close().await;
}

macro_rules! on_engines {
    ($scenario:ident: $($engine:ident = $kind:ident),+) => {
        mod $scenario {
            use super::*;
            $(
                #[tokio::test]
                async fn $engine() {
                    super::$scenario(Kind::$kind).await
                }
            )+
        }
    };
}

macro_rules! on_every_engine {
    ($scenario:ident) => {
        on_engines!($scenario: postgres = Postgres, mysql = Mysql, sqlite = Sqlite, mongodb = Mongo);
    };
}

macro_rules! on_sql_engines {
    ($scenario:ident) => {
        on_engines!($scenario: postgres = Postgres, mysql = Mysql, sqlite = Sqlite);
    };
}

on_every_engine!(clean_file_with_quoted_newlines);
on_every_engine!(bad_rows_in_both_error_modes);
on_every_engine!(duplicate_keys_in_each_mode);
on_every_engine!(file_problems_load_nothing);
on_every_engine!(preview_guesses_and_proposes);
on_every_engine!(cancel_mid_load_merges_nothing);
on_every_engine!(kill_during_the_load_leaves_the_target_unchanged);
on_every_engine!(constraint_violations_are_named_by_line);
on_every_engine!(csv_dialects_are_read);
on_every_engine!(upsert_conflicts_are_named_by_line);

/// Progress notifications received: (progress, message).
type Received = Arc<Mutex<Vec<(f64, Option<String>)>>>;

/// A client that records progress notifications.
#[derive(Clone, Default)]
struct ProgressClient {
    progress: Received,
}

impl ClientHandler for ProgressClient {
    fn get_info(&self) -> ClientConfig {
        ClientConfig::new(ClientCapabilities::default(), Implementation::new("it-load", "0"))
    }

    async fn on_progress(&self, p: ProgressNotificationParam, _c: NotificationContext<RoleClient>) {
        self.progress.lock().unwrap().push((p.progress, p.message));
    }
}

/// Rows enough for a load to last a few seconds (SecantusDB is slower than the SQL servers).
fn big_size(kind: Kind) -> usize {
    if kind == Kind::Mongo { 40_000 } else { 400_000 }
}

fn big_file(dir: &Path, rows: usize, key: &str) -> String {
    wide_file(dir, rows, key, 0)
}

/// `rows` rows, each note padded with `pad` more bytes (wide rows make each staging write long).
fn wide_file(dir: &Path, rows: usize, key: &str, pad: usize) -> String {
    use std::io::Write;
    let path = dir.join("big.csv");
    let padding = "x".repeat(pad);
    let mut f = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
    writeln!(f, "{key},name,age,joined,note").unwrap();
    for i in 0..rows {
        writeln!(f, "{i},n{},{},2024-01-02,some note text for row {i}{padding}", i % 100_000, i % 90).unwrap();
    }
    f.flush().unwrap();
    path.display().to_string()
}

/// Statements of this database's load still running on the server.
async fn server_statements(db: &TestDb) -> Vec<String> {
    match db.kind {
        Kind::Postgres => {
            let mut c = sqlx::PgConnection::connect(&db.url).await.unwrap();
            sqlx::query_scalar(
                "select query from pg_stat_activity where datname = current_database() and pid <> pg_backend_pid()
                   and application_name = 'data-engineer-mcp' and state <> 'idle'",
            )
            .fetch_all(&mut c)
            .await
            .unwrap()
        }
        Kind::Mysql => {
            let mut c = sqlx::MySqlConnection::connect(&db.url).await.unwrap();
            let r: Vec<Option<String>> = sqlx::query_scalar(
                "select info from information_schema.processlist where db = database() and id <> connection_id() and info is not null",
            )
            .fetch_all(&mut c)
            .await
            .unwrap();
            r.into_iter().flatten().collect()
        }
        _ => vec![],
    }
}

async fn spawn_progress_client(
    db: &TestDb,
) -> (rmcp::service::RunningService<RoleClient, ProgressClient>, ProgressClient) {
    let (client, handler, _log) = spawn_logged_client(db, "warn").await;
    (client, handler)
}

/// The server's log lines (stderr), as they come.
type Log = tokio::sync::mpsc::UnboundedReceiver<String>;

/// A progress-recording client whose server logs at `filter` (DATA_ENGINEER_LOG) to a pipe.
async fn spawn_logged_client(
    db: &TestDb,
    filter: &str,
) -> (rmcp::service::RunningService<RoleClient, ProgressClient>, ProgressClient, Log) {
    use tokio::io::AsyncBufReadExt;
    let cmd = tokio::process::Command::new(BIN).configure(|c| {
        c.args(["--database-url", &db.url, "--mode", "read-write", "--allow-dir"])
            .arg(std::env::temp_dir())
            .env_remove("DATABASE_URL")
            .env("DATA_ENGINEER_LOG", filter);
    });
    let (transport, stderr) = TokioChildProcess::builder(cmd).stderr(std::process::Stdio::piped()).spawn().unwrap();
    let (tx, log) = tokio::sync::mpsc::unbounded_channel();
    let mut lines = tokio::io::BufReader::new(stderr.unwrap()).lines();
    tokio::spawn(async move {
        while let Ok(Some(line)) = lines.next_line().await {
            let _ = tx.send(line);
        }
    });
    let handler = ProgressClient::default();
    (handler.clone().serve(transport).await.unwrap(), handler, log)
}

/// Wait until the server has finished a call of `tool`: `Server::call_tool` logs "tool call" once
/// the tool returned, cancelled or not (a cancelled call's response never reaches the client).
async fn call_ended(log: &mut Log, tool: &str) {
    let wanted = format!("tool={tool}");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let line = tokio::time::timeout_at(deadline, log.recv())
            .await
            .unwrap_or_else(|_| panic!("the {tool} call did not end within 60 s"))
            .expect("the server's stderr closed");
        if line.contains("tool call") && line.contains(&wanted) {
            return;
        }
    }
}

fn load_request(args: Value) -> ClientRequest {
    ClientRequest::CallToolRequest(Request::new(
        CallToolRequestParams::new("load-csv").with_arguments(args.as_object().unwrap().clone()),
    ))
}

async fn cancel_mid_load_merges_nothing(kind: Kind) {
    let db = people(kind).await;
    let dir = tempfile::tempdir().unwrap();
    // MongoDB: wide rows, so that each write into the scratch collection is a long one and the
    // cancel lands while one is under way.
    let (size, file) = match kind {
        Kind::Mongo => (8_000, wide_file(dir.path(), 8_000, id(kind), 4_000)),
        _ => (big_size(kind), big_file(dir.path(), big_size(kind), id(kind))),
    };
    let (client, handler, mut log) = spawn_logged_client(&db, "warn,data_engineer_mcp::server=debug").await;
    let handle = client
        .send_cancellable_request(load_request(load_args(&file, json!({}))), PeerRequestOptions::no_options())
        .await
        .unwrap();
    // Wait for the first progress notification: the load is under way.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while handler.progress.lock().unwrap().iter().all(|(n, _)| *n == 0.0) {
        assert!(tokio::time::Instant::now() < deadline, "no progress notification");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (_, message) = handler.progress.lock().unwrap().last().cloned().unwrap();
    assert!(message.unwrap().contains("rows/s"));
    if kind == Kind::Mongo {
        // Rows are being staged: the scratch collection exists and the next write is on its way.
        let client = mongodb::Client::with_uri_str(&db.url).await.unwrap();
        let d = client.default_database().unwrap();
        loop {
            let names = d.list_collection_names().await.unwrap();
            if names.iter().any(|n| n.starts_with("__load_stage_")) {
                break;
            }
            assert!(tokio::time::Instant::now() < deadline, "no scratch collection appeared");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
    handle.cancel(Some("test".into())).await.unwrap();
    // The call ends on the server (its response is dropped: the client cancelled it). From then
    // on nothing of the load may run or remain.
    call_ended(&mut log, "load-csv").await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let running = server_statements(&db).await;
        if running.is_empty() {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "still running after cancel: {running:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(rows(&db).await.is_empty(), "a cancelled load merges nothing");
    match kind {
        // The load's write transaction is gone: another writer gets the lock at once.
        Kind::Sqlite => {
            let mut c = sqlx::SqliteConnection::connect(&db.url).await.unwrap();
            c.execute("PRAGMA busy_timeout = 0").await.unwrap();
            c.execute("BEGIN IMMEDIATE").await.expect("the cancelled load still holds the write lock");
            c.execute("ROLLBACK").await.unwrap();
        }
        // The scratch collection was dropped before the call ended, and no write of the load
        // still under way on the server brings it back afterwards.
        Kind::Mongo => {
            let client = mongodb::Client::with_uri_str(&db.url).await.unwrap();
            let d = client.default_database().unwrap();
            let names = d.list_collection_names().await.unwrap();
            assert_eq!(names, vec!["people".to_string()], "the scratch collection is dropped when the call ends");
            tokio::time::sleep(Duration::from_secs(2)).await;
            let names = d.list_collection_names().await.unwrap();
            assert_eq!(names, vec!["people".to_string()], "the scratch collection came back after the call ended");
        }
        _ => {}
    }
    // The server is still usable: the same load runs to the end.
    let r = client
        .call_tool(
            CallToolRequestParams::new("load-csv")
                .with_arguments(load_args(&file, json!({})).as_object().unwrap().clone()),
        )
        .await
        .unwrap();
    assert_ne!(r.is_error, Some(true), "{:?}", r.content);
    assert_eq!(rows(&db).await.len(), size);
    let _ = client.cancel().await;
}

/// The server process of this test (its command line holds the test database's URL).
fn server_pid(url: &str) -> Option<i32> {
    for entry in std::fs::read_dir("/proc").ok()? {
        let path: PathBuf = entry.ok()?.path();
        let Some(pid) = path.file_name().and_then(|n| n.to_str()).and_then(|n| n.parse::<i32>().ok()) else { continue };
        let Ok(cmdline) = std::fs::read(path.join("cmdline")) else { continue };
        let args: Vec<String> = cmdline.split(|b| *b == 0).map(|a| String::from_utf8_lossy(a).into_owned()).collect();
        if args.first().is_some_and(|a| a == BIN) && args.iter().any(|a| a == url) {
            return Some(pid);
        }
    }
    None
}

async fn kill_during_the_load_leaves_the_target_unchanged(kind: Kind) {
    let db = people(kind).await;
    let dir = tempfile::tempdir().unwrap();
    let key = id(kind);
    // A stored row the load would update.
    let seed = write(dir.path(), "seed.csv", format!("{key},name,age\n1,keep,7\n").as_bytes());
    let mcp = db.serve("read-write").await;
    mcp.ok("load-csv", load_args(&seed, json!({}))).await;
    mcp.close().await;
    if matches!(kind, Kind::Postgres | Kind::Sqlite) {
        db.exec("create index people_name on people (name); create index people_note on people (note)").await;
    }
    let file = big_file(dir.path(), big_size(kind), key);
    let (client, handler) = spawn_progress_client(&db).await;
    let mut handle = client
        .send_cancellable_request(
            load_request(load_args(&file, json!({"mode": "upsert"}))),
            PeerRequestOptions::no_options(),
        )
        .await
        .unwrap();
    // PostgreSQL and MariaDB: wait until the merge itself runs; elsewhere, until the load is under way.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(180);
    loop {
        assert!(tokio::time::Instant::now() < deadline, "the merge never started");
        if let Ok(done) = handle.rx.try_recv() {
            panic!("the load ended before it could be killed: {done:?}");
        }
        match kind {
            Kind::Postgres | Kind::Mysql => {
                // PostgreSQL stages with COPY: its only INSERT is the merge.
                let merging = |q: &String| match kind {
                    Kind::Postgres => q.starts_with("INSERT INTO"),
                    _ => q.starts_with("INSERT INTO `people`"),
                };
                if server_statements(&db).await.iter().any(merging) {
                    break;
                }
            }
            // The merge runs in a transaction of its own: kill it half-way through.
            Kind::Mongo => {
                let merging = |m: &Option<String>| m.as_deref().is_some_and(|m| m.contains("merging"));
                if handler.progress.lock().unwrap().iter().any(|(_, m)| merging(m)) {
                    // Long enough for write batches to land (SecantusDB sorts the scratch rows for a
                    // second, then writes about two thousand rows a second).
                    tokio::time::sleep(Duration::from_millis(3000)).await;
                    break;
                }
            }
            // The whole file is staged and the merge is under way (in the load's one transaction).
            Kind::Sqlite => {
                let merging = |m: &Option<String>| m.as_deref().is_some_and(|m| m.contains("merging"));
                if handler.progress.lock().unwrap().iter().any(|(_, m)| merging(m)) {
                    break;
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let pid = server_pid(&db.url).expect("the server process");
    assert_eq!(unsafe_kill(pid), 0, "kill -9 {pid}");
    drop(client);
    // The database rolls the open transaction back once it sees the session gone.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    while !server_statements(&db).await.is_empty() {
        assert!(tokio::time::Instant::now() < deadline, "the killed load still runs");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let got = rows(&db).await;
    let seed_only = got == vec![(1, "keep".into(), Some(7), None)];
    assert!(seed_only, "the target is exactly as before, yet it holds {} rows", got.len());
}

fn unsafe_kill(pid: i32) -> i32 {
    std::process::Command::new("kill").args(["-9", &pid.to_string()]).status().map_or(1, |s| s.code().unwrap_or(1))
}

/// The rows of `members` as text, ordered by key (run-sql on SQL engines, find on MongoDB).
async fn members(db: &TestDb, mcp: &Mcp) -> Vec<String> {
    if db.kind == Kind::Mongo {
        use futures::TryStreamExt;
        let client = mongodb::Client::with_uri_str(&db.url).await.unwrap();
        let coll = client.default_database().unwrap().collection::<Document>("members");
        let docs: Vec<Document> = coll.find(doc! {}).sort(doc! {"_id": 1}).await.unwrap().try_collect().await.unwrap();
        return docs.iter().map(|d| format!("{} {}", d.get("_id").unwrap(), d.get_str("email").unwrap())).collect();
    }
    let v = mcp.ok("run-sql", json!({"sql": "select id, email from members order by id"})).await;
    v["rows"].as_array().unwrap().iter().map(|r| format!("{} {}", r[0], r[1].as_str().unwrap())).collect()
}

/// Rows the target's own rules refuse at the merge (a foreign key, a CHECK or validator, a
/// unique key taken by a stored row or repeated in the file, an existing key in insert mode)
/// are named by line: the load refuses them all (nothing merged), or with on_error: skip
/// loads the rest and reports them, rejects_file included.
async fn constraint_violations_are_named_by_line(kind: Kind) {
    let db = TestDb::new(kind).await;
    let dir = tempfile::tempdir().unwrap();
    let (file, expected) = if kind == Kind::Mongo {
        let client = mongodb::Client::with_uri_str(&db.url).await.unwrap();
        let d = client.default_database().unwrap();
        d.run_command(doc! {
            "create": "members",
            "validator": { "$jsonSchema": { "properties": { "age": { "bsonType": "int", "minimum": 0 } } } },
        })
        .await
        .unwrap();
        d.collection::<Document>("members")
            .create_index(
                mongodb::IndexModel::builder()
                    .keys(doc! {"email": 1})
                    .options(mongodb::options::IndexOptions::builder().unique(true).build())
                    .build(),
            )
            .await
            .unwrap();
        db.mongo_insert("members", vec![doc! {"_id": 7, "email": "taken@x", "age": 30}]).await;
        let csv = "_id,email,age\n1,a@x,20\n3,c@x,-1\n4,taken@x,20\n5,a@x,20\n7,z@x,20\n8,h@x,20\n";
        let expected: Vec<(u64, &str)> =
            vec![(3, "validator"), (4, "other than _id"), (5, "other than _id"), (6, "mode insert adds new documents")];
        (write(dir.path(), "members.csv", csv.as_bytes()), expected)
    } else {
        db.exec(
            "create table teams (id int primary key);
             insert into teams values (1);
             create table members (id int primary key, team_id int, email varchar(50) unique, age int,
                 constraint age_not_negative check (age >= 0), foreign key (team_id) references teams (id));
             insert into members values (7, 1, 'taken@x', 30);",
        )
        .await;
        let csv = "id,team_id,email,age\n1,1,a@x,20\n2,9,b@x,20\n3,1,c@x,-1\n4,1,taken@x,20\n5,1,a@x,20\n7,1,z@x,20\n8,1,h@x,20\n";
        let expected: Vec<(u64, &str)> = vec![
            (3, "foreign key"),
            (4, "age_not_negative"),
            (5, "unique key (email) is already taken by another row"),
            (6, "unique key (email) repeats line 2"),
            (7, "key (id) already exists in members: mode insert adds new rows only"),
        ];
        (write(dir.path(), "members.csv", csv.as_bytes()), expected)
    };
    let mcp = db.serve("read-write").await;
    let before = members(&db, &mcp).await;
    let e = mcp.err("load-csv", json!({"table": "members", "file": file})).await;
    assert!(e.contains("nothing was loaded"), "{e}");
    for (line, reason) in &expected {
        let at = |part: &&str| {
            let part = part.rsplit("first: ").next().unwrap_or_default();
            part.starts_with(&format!("line {line},")) || part.starts_with(&format!("line {line}:"))
        };
        let named = e.split("; ").find(at);
        assert!(named.is_some_and(|part| part.contains(reason)), "line {line}: {reason}: {e}");
    }
    assert!(e.contains(&format!("{} bad rows found", expected.len())), "{e}");
    assert_eq!(members(&db, &mcp).await, before, "nothing merged");

    let rejects = dir.path().join("rejects.csv");
    let args = json!({"table": "members", "file": file, "on_error": "skip", "rejects_file": rejects.to_str().unwrap()});
    let v = mcp.ok("load-csv", args).await;
    assert_eq!(v["inserted"], json!(2), "{v}");
    assert_eq!(v["rejected"], json!(expected.len()), "{v}");
    let lines: Vec<u64> = v["rejects"].as_array().unwrap().iter().map(|r| r["line"].as_u64().unwrap()).collect();
    let mut wanted: Vec<u64> = expected.iter().map(|(l, _)| *l).collect();
    wanted.sort();
    let mut got = lines.clone();
    got.sort();
    assert_eq!(got, wanted, "{v}");
    let written = std::fs::read_to_string(&rejects).unwrap();
    assert_eq!(written.lines().count(), 1 + expected.len(), "a header and every refused row: {written}");
    let kept: Vec<String> = members(&db, &mcp).await;
    assert_eq!(kept, vec!["1 a@x".to_string(), "7 taken@x".into(), "8 h@x".into()], "{v}");
    mcp.close().await;
}

/// Upserts: a unique key held by another stored row is refused by line on every engine,
/// including MySQL/MariaDB, whose ON DUPLICATE KEY would otherwise rewrite that other row; a key
/// repeated in the file is refused rather than letting one of its rows win silently.
async fn upsert_conflicts_are_named_by_line(kind: Kind) {
    let db = TestDb::new(kind).await;
    let dir = tempfile::tempdir().unwrap();
    let (id, table) = (if kind == Kind::Mongo { "_id" } else { "id" }, "members");
    if kind == Kind::Mongo {
        let client = mongodb::Client::with_uri_str(&db.url).await.unwrap();
        let coll = client.default_database().unwrap().collection::<Document>(table);
        coll.create_index(
            mongodb::IndexModel::builder()
                .keys(doc! {"email": 1})
                .options(mongodb::options::IndexOptions::builder().unique(true).build())
                .build(),
        )
        .await
        .unwrap();
        db.mongo_insert(table, vec![doc! {"_id": 6, "email": "six@x"}, doc! {"_id": 7, "email": "taken@x"}]).await;
    } else {
        db.exec(
            "create table members (id int primary key, email varchar(50) unique);
             insert into members values (6, 'six@x'), (7, 'taken@x');",
        )
        .await;
    }
    let csv = format!("{id},email\n7,seven@x\n9,six@x\n10,ten@x\n10,ten2@x\n");
    let file = write(dir.path(), "members.csv", csv.as_bytes());
    let mcp = db.serve("read-write").await;
    let before = members(&db, &mcp).await;
    let args = json!({"table": table, "file": file, "mode": "upsert"});
    let e = mcp.err("load-csv", args.clone()).await;
    assert!(e.contains("line 3") && e.contains("nothing was loaded"), "another row's email: {e}");
    assert!(e.contains("line 5") && e.contains("repeats line 4"), "a key twice in the file: {e}");
    assert_eq!(members(&db, &mcp).await, before, "nothing merged, row 6 untouched");
    let mut skip = args.clone();
    skip["on_error"] = json!("skip");
    let v = mcp.ok("load-csv", skip).await;
    assert_eq!(v["updated"], json!(1), "{v}");
    assert_eq!(v["inserted"], json!(1), "{v}");
    let lines: Vec<u64> = v["rejects"].as_array().unwrap().iter().map(|r| r["line"].as_u64().unwrap()).collect();
    assert_eq!(lines, vec![3, 5], "{v}");
    let kept = members(&db, &mcp).await;
    assert!(kept.contains(&"6 six@x".to_string()) && kept.contains(&"7 seven@x".to_string()), "{kept:?}");
    assert!(!kept.iter().any(|r| r.starts_with("9 ")), "{kept:?}");
    mcp.close().await;
}

/// A MongoDB write that fails half-way through the merge (a row the collection's validator
/// refuses, after more than one write batch) aborts the transaction: nothing of the file stays.
#[tokio::test]
async fn a_mongodb_merge_is_one_transaction() {
    let db = TestDb::new(Kind::Mongo).await;
    let client = mongodb::Client::with_uri_str(&db.url).await.unwrap();
    let d = client.default_database().unwrap();
    d.run_command(doc! {
        "create": "people",
        "validator": { "$jsonSchema": { "properties": { "age": { "bsonType": "int", "minimum": 0 } } } },
    })
    .await
    .unwrap();
    db.mongo_insert("people", vec![doc! {"_id": 1, "name": "keep", "age": 7}]).await;
    let dir = tempfile::tempdir().unwrap();
    let mut csv = String::from("_id,name,age\n");
    for i in 1..=2500 {
        csv.push_str(&format!("{i},n{i},{}\n", if i == 2400 { -1 } else { i % 90 }));
    }
    let file = write(dir.path(), "people.csv", csv.as_bytes());
    let mcp = db.serve("read-write").await;
    let e = mcp.err("load-csv", json!({"table": "people", "file": file, "mode": "upsert"})).await;
    // Line 2401 holds _id 2400 (the header is line 1).
    assert!(e.contains("line 2401") && e.contains("validator") && e.contains("nothing was loaded"), "{e}");
    assert_eq!(rows(&db).await, vec![(1, "keep".into(), Some(7), None)], "the target is exactly as before");
    // Without the bad row the same file loads whole, in file order.
    let file = write(dir.path(), "good.csv", csv.replace("2400,n2400,-1", "2400,n2400,1").as_bytes());
    // non_atomic only permits a merge without a transaction: a replica set still gets one.
    let v = mcp.ok("load-csv", json!({"table": "people", "file": file, "mode": "upsert", "non_atomic": true})).await;
    assert_eq!((v["inserted"].clone(), v["updated"].clone()), (json!(2499), json!(1)), "{v}");
    assert!(v.get("notes").is_none_or(|n| !n.to_string().contains("without a transaction")), "{v}");
    assert_eq!(rows(&db).await.len(), 2500);
    let names: Vec<String> = d.list_collection_names().await.unwrap();
    assert_eq!(names, vec!["people".to_string()], "the scratch collection is dropped");
    mcp.close().await;
}

/// Merging on fields other than `_id` needs a unique index on them (said how to create it).
#[tokio::test]
async fn a_mongodb_merge_key_needs_a_unique_index() {
    let db = TestDb::new(Kind::Mongo).await;
    db.mongo_insert("people", vec![doc! {"email": "a@x", "name": "ann"}]).await;
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "people.csv", b"email,name\na@x,ANN\nb@x,bob\n");
    let mcp = db.serve("read-write").await;
    let args = json!({"table": "people", "file": file, "mode": "upsert", "key": ["email"]});
    let e = mcp.err("load-csv", args.clone()).await;
    assert!(e.contains("no unique index on email") && e.contains("createIndex({\"email\": 1}, {unique: true})"), "{e}");
    let client = mongodb::Client::with_uri_str(&db.url).await.unwrap();
    let people = client.default_database().unwrap().collection::<Document>("people");
    assert_eq!(people.count_documents(doc! {}).await.unwrap(), 1, "refused before anything was written");
    people
        .create_index(
            mongodb::IndexModel::builder()
                .keys(doc! {"email": 1})
                .options(mongodb::options::IndexOptions::builder().unique(true).build())
                .build(),
        )
        .await
        .unwrap();
    let v = mcp.ok("load-csv", args).await;
    assert_eq!((v["inserted"].clone(), v["updated"].clone()), (json!(1), json!(1)), "{v}");
    let ann = people.find_one(doc! {"email": "a@x"}).await.unwrap().unwrap();
    assert_eq!(ann.get_str("name").unwrap(), "ANN");
    mcp.close().await;
}

/// A standalone MongoDB has no multi-document transactions: the load is refused, unless the
/// caller accepts a merge that is not atomic (and the result says so).
#[tokio::test]
async fn a_standalone_mongodb_needs_non_atomic() {
    let base = crate::support::server_url("DE_TEST_MONGO_STANDALONE_URL");
    let url = format!("{}load_standalone_{}", base, std::process::id());
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "people.csv", b"_id,name\n1,ann\n2,bob\n");
    let mcp = Mcp::spawn(&["--database-url", &url, "--mode", "read-write"], &[]).await;
    let e = mcp.err("load-csv", json!({"table": "people", "file": file})).await;
    assert!(e.contains("standalone") && e.contains("--replSet") && e.contains("non_atomic: true"), "{e}");
    let client = mongodb::Client::with_uri_str(&url).await.unwrap();
    let people = client.default_database().unwrap().collection::<Document>("people");
    assert_eq!(people.count_documents(doc! {}).await.unwrap(), 0, "refused before anything was written");
    let v = mcp.ok("load-csv", json!({"table": "people", "file": file, "non_atomic": true})).await;
    assert_eq!(v["inserted"], json!(2), "{v}");
    assert!(v["notes"].to_string().contains("without a transaction"), "{v}");
    assert_eq!(people.count_documents(doc! {}).await.unwrap(), 2);
    client.default_database().unwrap().drop().await.unwrap();
    mcp.close().await;
}

/// An upsert compares every column, also those without an equality operator (json, point):
/// reloading the same file rewrites nothing, a changed row is rewritten.
#[tokio::test]
async fn a_postgres_upsert_leaves_unchanged_rows_alone() {
    let db = TestDb::new(Kind::Postgres).await;
    db.exec("create table shapes (id int primary key, doc json, tags jsonb, spot point, n numeric)").await;
    let dir = tempfile::tempdir().unwrap();
    let rows = "id,doc,tags,spot,n\n1,\"{\"\"a\"\": 1}\",\"[\"\"x\"\"]\",\"(1,2)\",1.50\n2,,,,\n";
    let file = write(dir.path(), "shapes.csv", rows.as_bytes());
    let mcp = db.serve("read-write").await;
    let args = json!({"table": "shapes", "file": file, "mode": "upsert"});
    let v = mcp.ok("load-csv", args.clone()).await;
    assert_eq!(v["inserted"], json!(2), "{v}");
    let v = mcp.ok("load-csv", args).await;
    assert_eq!((v["updated"].clone(), v["unchanged"].clone()), (json!(0), json!(2)), "{v}");
    let changed = write(dir.path(), "changed.csv", rows.replace("(1,2)", "(1,3)").as_bytes());
    let v = mcp.ok("load-csv", json!({"table": "shapes", "file": changed, "mode": "upsert"})).await;
    assert_eq!((v["updated"].clone(), v["unchanged"].clone()), (json!(1), json!(1)), "{v}");
    mcp.close().await;
}

/// An upsert compares values byte for byte: a change of case is a change, even in a column
/// whose collation ignores case (MariaDB's default, SQLite's NOCASE), and it is written.
async fn an_upsert_sees_a_change_of_case(kind: Kind) {
    let db = TestDb::new(kind).await;
    let collation = match kind {
        Kind::Sqlite => " collate nocase",
        Kind::Mysql => " collate utf8mb4_general_ci",
        _ => "",
    };
    db.exec(&format!("create table tags (id int primary key, label varchar(20){collation})")).await;
    let dir = tempfile::tempdir().unwrap();
    let mcp = db.serve("read-write").await;
    let first = write(dir.path(), "a.csv", b"id,label\n1,ann\n2,bob\n");
    mcp.ok("load-csv", json!({"table": "tags", "file": first})).await;
    let changed = write(dir.path(), "b.csv", b"id,label\n1,ANN\n2,bob\n");
    let v = mcp.ok("load-csv", json!({"table": "tags", "file": changed, "mode": "upsert"})).await;
    assert_eq!((v["updated"].clone(), v["unchanged"].clone()), (json!(1), json!(1)), "{v}");
    let rows = mcp.ok("run-sql", json!({"sql": "select label from tags order by id"})).await;
    assert_eq!(rows["rows"], json!([["ANN"], ["bob"]]), "{rows}");
    mcp.close().await;
}

/// Reloading an unchanged file in upsert mode fires no update trigger; a changed row fires one.
async fn an_unchanged_reload_fires_no_update_trigger(kind: Kind) {
    let db = TestDb::new(kind).await;
    db.exec("create table tags (id int primary key, label varchar(20)); create table fired (n int); insert into fired values (0);")
        .await;
    let trigger = match kind {
        Kind::Mysql => "create trigger tags_updated after update on tags for each row update fired set n = n + 1",
        _ => "create trigger tags_updated after update on tags begin update fired set n = n + 1; end",
    };
    db.exec(trigger).await;
    let dir = tempfile::tempdir().unwrap();
    let mcp = db.serve("read-write").await;
    let file = write(dir.path(), "a.csv", b"id,label\n1,ann\n2,bob\n");
    mcp.ok("load-csv", json!({"table": "tags", "file": file})).await;
    let v = mcp.ok("load-csv", json!({"table": "tags", "file": file, "mode": "upsert"})).await;
    assert_eq!((v["updated"].clone(), v["unchanged"].clone()), (json!(0), json!(2)), "{v}");
    assert_eq!(mcp.ok("run-sql", json!({"sql": "select n from fired"})).await["rows"][0][0], json!(0));
    let changed = write(dir.path(), "b.csv", b"id,label\n1,ann\n2,bo\n");
    let v = mcp.ok("load-csv", json!({"table": "tags", "file": changed, "mode": "upsert"})).await;
    assert_eq!((v["updated"].clone(), v["unchanged"].clone()), (json!(1), json!(1)), "{v}");
    assert_eq!(mcp.ok("run-sql", json!({"sql": "select n from fired"})).await["rows"][0][0], json!(1));
    mcp.close().await;
}

#[tokio::test]
async fn an_unchanged_reload_fires_no_update_trigger_on_mariadb() {
    an_unchanged_reload_fires_no_update_trigger(Kind::Mysql).await;
}

#[tokio::test]
async fn an_unchanged_reload_fires_no_update_trigger_on_sqlite() {
    an_unchanged_reload_fires_no_update_trigger(Kind::Sqlite).await;
}

on_sql_engines!(an_upsert_sees_a_change_of_case);

/// Upsert on a named unique key (the primary key, generated by the database, is not in the file).
async fn an_upsert_on_a_named_key(kind: Kind) {
    let db = TestDb::new(kind).await;
    let id = match kind {
        Kind::Postgres => "id int generated always as identity primary key",
        Kind::Mysql => "id int auto_increment primary key",
        _ => "id integer primary key",
    };
    db.exec(&format!("create table accounts ({id}, email varchar(50) not null unique, name varchar(20))")).await;
    let dir = tempfile::tempdir().unwrap();
    let mcp = db.serve("read-write").await;
    let first = write(dir.path(), "a.csv", b"email,name\na@x,ann\nb@x,bob\n");
    let args = |file: &str| json!({"table": "accounts", "file": file, "mode": "upsert", "key": ["email"]});
    let v = mcp.ok("load-csv", args(&first)).await;
    assert_eq!(v["inserted"], json!(2), "{v}");
    let second = write(dir.path(), "b.csv", b"email,name\na@x,ANN\nc@x,cy\n");
    let v = mcp.ok("load-csv", args(&second)).await;
    assert_eq!((v["inserted"].clone(), v["updated"].clone()), (json!(1), json!(1)), "{v}");
    assert_eq!(v["key"], json!(["email"]));
    let rows = mcp.ok("run-sql", json!({"sql": "select id, email, name from accounts order by id"})).await;
    // The stored rows keep their ids (a new row's id may skip values: upserts draw from the sequence).
    assert_eq!(rows["rows"][0], json!([1, "a@x", "ANN"]), "{rows}");
    assert_eq!(rows["rows"][1], json!([2, "b@x", "bob"]), "{rows}");
    assert_eq!((rows["rows"][2][1].clone(), rows["rows"][2][2].clone()), (json!("c@x"), json!("cy")), "{rows}");
    let e = mcp.err("load-csv", json!({"table": "accounts", "file": first, "mode": "upsert", "key": ["nope"]})).await;
    assert!(e.contains("key column nope is not filled by the file"), "{e}");
    mcp.close().await;
}

on_sql_engines!(an_upsert_on_a_named_key);

/// Preview reads and writes nothing, so a read-only database allows it; a load it refuses.
#[tokio::test]
async fn preview_works_on_a_read_only_database() {
    let db = people(Kind::Postgres).await;
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "people.csv", b"id,name,age\n1,ann,x\n2,bob,40\n");
    let mcp = db.serve("read-only").await;
    let v = mcp.ok("load-csv", load_args(&file, json!({"preview": true}))).await;
    assert_eq!(v["committed"], json!(false), "{v}");
    assert!(v["rejects"].to_string().contains("age"), "the value the table would refuse: {v}");
    let e = mcp.err("load-csv", load_args(&file, json!({}))).await;
    assert!(e.contains("read-only") && e.contains("preview: true works"), "{e}");
    assert!(rows(&db).await.is_empty());
    mcp.close().await;
}

/// A bad row's value never shows a secret: redacted when its column is named like one, and a
/// secret-looking value (a URL with a password) is redacted by the output layer.
#[tokio::test]
async fn bad_row_values_keep_secrets_out() {
    let db = TestDb::new(Kind::Postgres).await;
    db.exec("create table creds (id int primary key, api_token varchar(5), age int)").await;
    let dir = tempfile::tempdir().unwrap();
    let file =
        write(dir.path(), "creds.csv", b"id,api_token,age\n1,tok-abcdefgh,5\n2,ok,postgres://u:SuperSecret1@h/db\n");
    let mcp = db.serve("read-write").await;
    let e = mcp.err("load-csv", json!({"table": "creds", "file": file})).await;
    assert!(e.contains("line 2") && e.contains("line 3"), "{e}");
    assert!(!e.contains("abcdefgh") && !e.contains("SuperSecret1"), "{e}");
    let v = mcp.ok("load-csv", json!({"table": "creds", "file": file, "on_error": "skip"})).await;
    let shown = v["rejects"].to_string();
    assert!(shown.contains("[redacted]") && !shown.contains("abcdefgh") && !shown.contains("SuperSecret1"), "{shown}");
    mcp.close().await;
}
