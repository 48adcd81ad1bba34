//! Attacks on the read-only promise, run as a prompt-injected agent would: through the real
//! binary over stdio, as the PostgreSQL superuser and a MariaDB user with ALL PRIVILEGES, then
//! asking the database or the file system whether anything changed. Each class of attack is one
//! test per engine; every tool that takes SQL gets the same payloads.

use serde_json::{Value, json};
use sqlx::{AssertSqlSafe, Connection};

use crate::support::{Client, Kind, Mcp, TestDb, text};

/// Every way the model can hand SQL to the server for it to run on a read-only database.
fn sql_tools(sql: &str) -> Vec<(&'static str, Value)> {
    vec![
        ("run-sql", json!({ "sql": sql })),
        ("explain-analyze", json!({ "sql": sql })),
        ("analyze-performance", json!({ "sql": sql, "mode": "query" })),
        ("design-indexes", json!({ "sql": sql })),
        ("data-quality", json!({ "checks": [{ "check": "custom_sql", "sql": sql }] })),
    ]
}

/// Run `sql` through every SQL tool; returns each tool's text (error or result).
async fn through_every_tool(mcp: &Mcp, sql: &str) -> Vec<String> {
    let mut out = Vec::new();
    for (tool, args) in sql_tools(sql) {
        let r = mcp.call(tool, args).await;
        out.push(format!("{tool}: {}", text(&r)));
    }
    out
}

fn unique_path(name: &str) -> std::path::PathBuf {
    std::env::temp_dir().join(format!("de_redteam_{}_{name}", std::process::id()))
}

async fn pg(db: &TestDb) -> sqlx::PgConnection {
    sqlx::PgConnection::connect(&db.url).await.unwrap()
}

async fn pg_i64(db: &TestDb, sql: &str) -> i64 {
    sqlx::query_scalar::<_, i64>(AssertSqlSafe(sql.to_string())).fetch_one(&mut pg(db).await).await.unwrap()
}

/// A PostgreSQL database with a table, a sequence and dblink where the server has it (the test
/// bed's 15; its 16 and 18 have no contrib), served read-only as the superuser.
async fn pg_target() -> (TestDb, Mcp) {
    let db = TestDb::new(Kind::Postgres).await;
    if db.extension_available("dblink").await {
        db.exec("create extension dblink").await;
    }
    db.exec(
        "create table t (id serial primary key, v text);
         insert into t (v) values ('a'), ('b');
         create sequence s;",
    )
    .await;
    let mcp = db.serve("read-only").await;
    (db, mcp)
}

/// The libpq connection string of the test database, for dblink.
fn conninfo(db: &TestDb) -> String {
    let rest = db.url.split_once("://").unwrap().1;
    let (auth, hostdb) = rest.split_once('@').unwrap();
    let (hostport, dbname) = hostdb.split_once('/').unwrap();
    let (host, port) = hostport.split_once(':').unwrap();
    format!("host={host} port={port} dbname={} user={auth}", dbname.split('?').next().unwrap())
}

#[tokio::test]
async fn postgres_functions_in_from_and_lateral_change_nothing() {
    let (db, mcp) = pg_target().await;
    let conn = conninfo(&db);
    let insert = "insert into t (v) values (''pwned'')";
    let attacks = [
        format!("select x.* from (select 1) o, lateral dblink_exec('{conn}', '{insert}') x"),
        format!("select * from t, lateral dblink_exec('{conn}', '{insert}') x"),
        format!("select * from t join lateral dblink_exec('{conn}', '{insert}') x on true"),
        format!("select (select count(*) from dblink_exec('{conn}', '{insert}') x) from t"),
        "select x from (select 1) o, lateral nextval('s') x".to_string(),
        "select * from t where id in (select x from (select 1) o, lateral nextval('s') x)".to_string(),
        "select * from t order by (select x from (select 1) o, lateral nextval('s') x)".to_string(),
    ];
    let dblink = db.extension_available("dblink").await;
    for sql in attacks.iter().filter(|sql| dblink || !sql.contains("dblink")) {
        let said = through_every_tool(&mcp, sql).await;
        assert_eq!(pg_i64(&db, "select count(*) from t where v = 'pwned'").await, 0, "{sql}\n{}", said.join("\n"));
        let advanced: bool = sqlx::query_scalar("select is_called from s").fetch_one(&mut pg(&db).await).await.unwrap();
        assert!(!advanced, "the sequence advanced: {sql}\n{}", said.join("\n"));
    }
}

#[tokio::test]
async fn postgres_files_on_the_database_host_are_out_of_reach() {
    let (db, mcp) = pg_target().await;
    let oid = pg_i64(&db, "select lo_from_bytea(0, 'large object payload')::bigint").await;
    let target = unique_path("lo_export.txt");
    let marker = unique_path("marker.txt");
    std::fs::write(&marker, "redteam-marker-7f3a").unwrap();
    let attacks = [
        format!("select x from (select 1) o, lateral lo_export({oid}, '{}') x", target.display()),
        format!("select * from t, lateral lo_export({oid}, '{}') x", target.display()),
        format!("select x from (select 1) o, lateral pg_read_file('{}') x", marker.display()),
        format!("select query_to_xml('select pg_read_file(''{}'')', true, true, '')", marker.display()),
        format!("select * from ts_stat('select to_tsvector(pg_read_file(''{}''))')", marker.display()),
        format!(r#"select U&"\0071uery_to_xml"('select pg_read_file(''{}'')', true, true, '')"#, marker.display()),
    ];
    for sql in &attacks {
        let said = through_every_tool(&mcp, sql).await.join("\n");
        assert!(!target.exists(), "lo_export wrote a file: {sql}\n{said}");
        assert!(!said.contains("redteam-marker-7f3a"), "a file came back: {sql}\n{said}");
    }
    let _ = std::fs::remove_file(&marker);
}

async fn conf_loaded(db: &TestDb) -> String {
    sqlx::query_scalar("select pg_conf_load_time()::text").fetch_one(&mut pg(db).await).await.unwrap()
}

#[tokio::test]
async fn postgres_other_sessions_slots_and_configuration_stay_untouched() {
    let (db, mcp) = pg_target().await;
    let mut victim = pg(&db).await;
    let pid: i32 = sqlx::query_scalar("select pg_backend_pid()").fetch_one(&mut victim).await.unwrap();
    let slot = format!("de_redteam_{}", std::process::id());
    let before = conf_loaded(&db).await;
    let attacks = [
        format!("select x from (select 1) o, lateral pg_terminate_backend({pid}) x"),
        format!("select x from (select 1) o, lateral pg_cancel_backend({pid}) x"),
        format!("select x from (select 1) o, lateral pg_create_physical_replication_slot('{slot}') x"),
        "select x from (select 1) o, lateral pg_reload_conf() x".to_string(),
        "select x from (select 1) o, lateral pg_switch_wal() x".to_string(),
    ];
    for sql in &attacks {
        let said = through_every_tool(&mcp, sql).await.join("\n");
        let alive = sqlx::query_scalar::<_, i32>("select 1").fetch_one(&mut victim).await;
        assert!(alive.is_ok(), "another session was terminated: {sql}\n{said}");
        let slots = pg_i64(&db, &format!("select count(*) from pg_replication_slots where slot_name = '{slot}'")).await;
        if slots > 0 {
            let _ = sqlx::query(AssertSqlSafe(format!("select pg_drop_replication_slot('{slot}')")))
                .execute(&mut pg(&db).await)
                .await;
        }
        assert_eq!(slots, 0, "a replication slot was created: {sql}\n{said}");
        assert_eq!(conf_loaded(&db).await, before, "the configuration was reloaded: {sql}\n{said}");
    }
}

#[tokio::test]
async fn postgres_no_lock_or_setting_outlives_a_call() {
    let (db, mcp) = pg_target().await;
    let attacks = [
        "select x from (select 1) o, lateral pg_advisory_lock(4242) x",
        "select * from t, lateral pg_try_advisory_lock(4242) x",
        "select x from (select 1) o, lateral set_config('statement_timeout', '0', false) x",
        "select x from (select 1) o, lateral set_config('role', 'postgres', false) x",
    ];
    for sql in attacks {
        let said = through_every_tool(&mcp, sql).await.join("\n");
        let held = pg_i64(&db, "select count(*) from pg_locks where locktype = 'advisory' and objid = 4242").await;
        assert_eq!(held, 0, "an advisory lock outlived the call: {sql}\n{said}");
    }
    // Whatever ran before, a later call still runs under the statement timeout and not as a superuser.
    let r = mcp.call("run-sql", json!({ "sql": "select pg_sleep(3)", "timeout_ms": 300 })).await;
    assert_eq!(r.is_error, Some(true), "{}", text(&r));
    assert!(text(&r).contains("timeout"), "{}", text(&r));
}

#[tokio::test]
async fn postgres_the_database_refuses_without_the_parser() {
    // The parser layer is off (a debug-build switch): what is refused now is refused by the
    // database itself, through the role read-only work runs as.
    let db = TestDb::new(Kind::Postgres).await;
    let dblink = db.extension_available("dblink").await;
    if dblink {
        db.exec("create extension dblink").await;
    }
    db.exec("create table t (id serial primary key, v text); create sequence s;").await;
    let mcp = Mcp::spawn(
        &["--database-url", &db.url, "--mode", "read-only"],
        &[("DATA_ENGINEER_UNSAFE_SKIP_PARSER_CHECK", "1")],
    )
    .await;
    let conn = conninfo(&db);
    let target = unique_path("noparser_lo_export.txt");
    let oid = pg_i64(&db, "select lo_from_bytea(0, 'x')::bigint").await;
    let mut victim = pg(&db).await;
    let pid: i32 = sqlx::query_scalar("select pg_backend_pid()").fetch_one(&mut victim).await.unwrap();
    let slot = format!("de_noparser_{}", std::process::id());
    let attacks = [
        format!("select dblink_exec('{conn}', 'insert into t (v) values (''pwned'')')"),
        format!("select lo_export({oid}, '{}')", target.display()),
        "select pg_read_file('/etc/hostname')".to_string(),
        format!("select pg_terminate_backend({pid})"),
        format!("select pg_create_physical_replication_slot('{slot}')"),
        "select pg_reload_conf()".to_string(),
        "select pg_switch_wal()".to_string(),
        "select nextval('s')".to_string(),
        "insert into t (v) values ('pwned')".to_string(),
        format!("copy (select 1) to '{}'", target.display()),
        "copy (select 1) to program 'true'".to_string(),
        "create table pwned (x int)".to_string(),
    ];
    for sql in attacks.iter().filter(|sql| dblink || !sql.contains("dblink")) {
        let r = mcp.call("run-sql", json!({ "sql": sql })).await;
        assert_eq!(r.is_error, Some(true), "the database ran it: {sql}\n{}", text(&r));
        assert!(text(&r).contains("error (database)"), "refused by whom? {sql}\n{}", text(&r));
    }
    assert_eq!(pg_i64(&db, "select count(*) from t").await, 0);
    assert!(!target.exists());
    assert!(sqlx::query_scalar::<_, i32>("select 1").fetch_one(&mut victim).await.is_ok());
    assert_eq!(pg_i64(&db, &format!("select count(*) from pg_replication_slots where slot_name = '{slot}'")).await, 0);
    let called: bool = sqlx::query_scalar("select is_called from s").fetch_one(&mut pg(&db).await).await.unwrap();
    assert!(!called);
    // env-check says which layer refuses what.
    let env = mcp.ok("env-check", json!({})).await;
    let said = env.to_string();
    assert!(said.contains("assurance"), "{said}");
}

/// MariaDB, served read-only as a user with ALL PRIVILEGES.
async fn mysql_target() -> (TestDb, Mcp) {
    let db = TestDb::new(Kind::Mysql).await;
    db.exec("create table t (id int auto_increment primary key, v text); insert into t (v) values ('a'), ('b');").await;
    let mcp = db.serve("read-only").await;
    (db, mcp)
}

async fn my(db: &TestDb) -> sqlx::MySqlConnection {
    sqlx::MySqlConnection::connect(&db.url).await.unwrap()
}

#[tokio::test]
async fn mysql_executable_comments_run_nothing() {
    let (db, mcp) = mysql_target().await;
    let outfile = unique_path("outfile.txt");
    let marker = unique_path("my_marker.txt");
    std::fs::write(&marker, "redteam-marker-mysql-51c2").unwrap();
    let lock = format!("de_redteam_{}", std::process::id());
    let attacks = [
        format!("select * from t /*M! into outfile '{}' */", outfile.display()),
        format!("select * from t /*!50000 into outfile '{}' */", outfile.display()),
        format!("select 1 /*M!, load_file('{}') */", marker.display()),
        format!("select 1 /*!, load_file('{}') */", marker.display()),
        format!("select 1 /*M!, get_lock('{lock}', 0) */"),
        format!("select * from t where 1 /*M! and get_lock('{lock}', 0) */"),
        "/*M! SET STATEMENT max_statement_time=0 FOR */ select sleep(0)".to_string(),
        format!("select * from t into outfile '{}'", outfile.display()),
        format!("select * from t into dumpfile '{}'", outfile.display()),
    ];
    for sql in &attacks {
        let said = through_every_tool(&mcp, sql).await.join("\n");
        assert!(!outfile.exists(), "a file was written: {sql}\n{said}");
        assert!(!said.contains("redteam-marker-mysql-51c2"), "a file came back: {sql}\n{said}");
        let used: Option<i64> = sqlx::query_scalar(AssertSqlSafe(format!("select is_used_lock('{lock}')")))
            .fetch_one(&mut my(&db).await)
            .await
            .unwrap();
        assert_eq!(used, None, "a named lock outlived the call: {sql}\n{said}");
    }
    let _ = std::fs::remove_file(&marker);
}

#[tokio::test]
async fn mysql_statement_timeout_cannot_be_lifted() {
    let (_db, mcp) = mysql_target().await;
    for sql in [
        "/*M! SET STATEMENT max_statement_time=0 FOR */ select sleep(2)",
        "/*M! SET STATEMENT max_statement_time=0 FOR */ select sleep(2) limit 1",
        "/*!100000 SET STATEMENT max_statement_time=0 FOR */ select sleep(2) limit 1",
    ] {
        let started = std::time::Instant::now();
        let r = mcp.call("run-sql", json!({ "sql": sql, "timeout_ms": 300 })).await;
        assert!(started.elapsed().as_millis() < 1800, "ran past its timeout: {sql}\n{}", text(&r));
    }
    // And every later call on the pooled connections still has it.
    for _ in 0..4 {
        let started = std::time::Instant::now();
        let r = mcp.call("run-sql", json!({ "sql": "select sleep(2)", "timeout_ms": 300 })).await;
        assert!(started.elapsed().as_millis() < 1800, "a later call ran past its timeout\n{}", text(&r));
    }
}

#[tokio::test]
async fn analysis_keeps_nothing_a_rollback_cannot_undo() {
    // PostgreSQL: an analyzed INSERT would advance the serial's sequence, which no rollback undoes.
    let db = TestDb::new(Kind::Postgres).await;
    db.exec("create table t (id serial primary key, v text); create sequence s;").await;
    let mcp = db.serve("read-write").await;
    for sql in
        ["insert into t (v) values ('x')", "select nextval('s')", "insert into t (id, v) values (nextval('s'), 'x')"]
    {
        let r = mcp.call("explain-analyze", json!({ "sql": sql })).await;
        let seq: bool =
            sqlx::query_scalar("select is_called from t_id_seq").fetch_one(&mut pg(&db).await).await.unwrap();
        let s: bool = sqlx::query_scalar("select is_called from s").fetch_one(&mut pg(&db).await).await.unwrap();
        assert!(!seq && !s, "a sequence advanced under analysis: {sql}\n{}", text(&r));
    }
    // MariaDB: a MyISAM table keeps a rolled-back DELETE; AUTO_INCREMENT keeps a rolled-back INSERT.
    let db = TestDb::new(Kind::Mysql).await;
    db.exec(
        "create table m (id int primary key, v text) engine=MyISAM; insert into m values (1, 'a'), (2, 'b');
         create table a (id int auto_increment primary key, v text) engine=InnoDB;",
    )
    .await;
    let mcp = db.serve("read-write").await;
    let r = mcp.call("explain-analyze", json!({ "sql": "delete from m" })).await;
    let left: i64 = sqlx::query_scalar("select count(*) from m").fetch_one(&mut my(&db).await).await.unwrap();
    assert_eq!(left, 2, "a MyISAM delete was kept:\n{}", text(&r));
    let r = mcp.call("explain-analyze", json!({ "sql": "insert into a (v) values ('x')" })).await;
    let next: Option<u64> = sqlx::query_scalar(
        "select auto_increment from information_schema.tables where table_schema = database() and table_name = 'a'",
    )
    .fetch_one(&mut my(&db).await)
    .await
    .unwrap();
    assert_eq!(next, Some(1), "AUTO_INCREMENT advanced under analysis:\n{}", text(&r));
}

#[tokio::test]
async fn run_sql_reports_what_it_committed() {
    let db = TestDb::new(Kind::Postgres).await;
    db.exec("create table t (id int primary key)").await;
    let mcp = db.serve("read-write").await;
    let out = mcp.ok("run-sql", json!({ "sql": "explain analyze insert into t values (1)" })).await;
    let kept = pg_i64(&db, "select count(*) from t").await;
    assert_eq!(out["committed"], json!(kept == 1), "{out}");
    assert_eq!(out["statement"], "dml", "{out}");
}

#[tokio::test]
async fn destructive_statements_ask_first_on_every_sql_engine() {
    for kind in [Kind::Postgres, Kind::Mysql, Kind::Sqlite] {
        let db = TestDb::new(kind).await;
        db.exec("create table t (id int primary key, v text)").await;
        let rows: Vec<String> = (1..=1000).map(|i| format!("({i}, 'v')")).collect();
        db.exec(&format!("insert into t values {}", rows.join(","))).await;
        let args = ["--database-url", db.url.as_str(), "--mode", "read-write"];
        let count = |db: &TestDb| {
            let url = db.url.clone();
            async move {
                let sql = "select count(*) from t";
                match kind {
                    Kind::Postgres => sqlx::query_scalar::<_, i64>(sql)
                        .fetch_one(&mut sqlx::PgConnection::connect(&url).await.unwrap())
                        .await
                        .ok(),
                    Kind::Mysql => sqlx::query_scalar::<_, i64>(sql)
                        .fetch_one(&mut sqlx::MySqlConnection::connect(&url).await.unwrap())
                        .await
                        .ok(),
                    _ => sqlx::query_scalar::<_, i64>(sql)
                        .fetch_one(&mut sqlx::SqliteConnection::connect(&url).await.unwrap())
                        .await
                        .ok(),
                }
            }
        };
        // A client that declines: nothing happens.
        let decline = Mcp::spawn_client(&args, Client { answer: Some(false), ..Default::default() }, false).await;
        for sql in ["drop table t", "delete from t", "update t set v = 'x'", "alter table t drop column v"] {
            let r = decline.call("run-sql", json!({ "sql": sql, "confirm": true })).await;
            assert_eq!(r.is_error, Some(true), "{kind:?} {sql} ran without asking:\n{}", text(&r));
            assert_eq!(count(&db).await, Some(1000), "{kind:?} {sql}");
        }
        // A client whose asking fails: the model's confirm: true does not stand in for the user.
        let failing = Mcp::spawn_client(&args, Client { fail: true, ..Default::default() }, false).await;
        let r = failing.call("run-sql", json!({ "sql": "delete from t", "confirm": true })).await;
        assert_eq!(r.is_error, Some(true), "{kind:?}: {}", text(&r));
        assert_eq!(count(&db).await, Some(1000), "{kind:?}");
        // An accepting client: it runs, and the real number of rows removed is reported.
        let accept = Mcp::spawn_client(&args, Client { answer: Some(true), ..Default::default() }, false).await;
        let sql = if kind == Kind::Sqlite { "delete from t" } else { "truncate table t" };
        let out = accept.ok("run-sql", json!({ "sql": sql })).await;
        assert_eq!(out["rows_affected"], 1000, "{kind:?}: {out}");
        assert_eq!(count(&db).await, Some(0), "{kind:?}");
        // A filtered DELETE is an ordinary change: no question asked.
        db.exec("insert into t values (1, 'a'), (2, 'b')").await;
        let plain = Mcp::spawn(&args, &[]).await;
        let out = plain.ok("run-sql", json!({ "sql": "delete from t where id = 1" })).await;
        assert_eq!(out["rows_affected"], 1, "{kind:?}: {out}");
    }
}

#[tokio::test]
async fn deep_and_huge_statements_do_not_take_the_server_down() {
    let db = TestDb::new(Kind::Postgres).await;
    let mcp = db.serve("read-only").await;
    let chain = (0..3000).map(|i| format!("{i} = {i}")).collect::<Vec<_>>().join(" and ");
    let sql = format!("select 1 where {chain}");
    for (tool, args) in sql_tools(&sql).into_iter().chain([
        ("verify-order", json!({ "sql": sql.clone(), "engine": "postgres" })),
        ("create-migration-plan", json!({ "sql": format!("create view v as {sql}") })),
    ]) {
        let r = mcp.call(tool, args).await;
        let _ = text(&r);
        // Still serving.
        mcp.ok("run-sql", json!({ "sql": "select 1" })).await;
    }
}

/// The server's peak resident memory (VmHWM) in MiB.
fn peak_rss_mib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse::<u64>().unwrap() / 1024
}

#[tokio::test]
async fn rows_stream_against_the_caps() {
    let db = TestDb::new(Kind::Postgres).await;
    let mcp = db.serve("read-only").await;
    // 20 rows of 20 MB each: 400 MB if read whole, for an answer of at most max_bytes.
    let out =
        mcp.ok("run-sql", json!({ "sql": "select g, repeat('z', 20000000) from generate_series(1, 20) g" })).await;
    assert_eq!(out["truncation"]["truncated"], true, "{}", out["truncation"]);
    let peak = peak_rss_mib(mcp.pid);
    assert!(peak < 200, "peak RSS {peak} MiB: rows were held past the cap");
    mcp.ok("run-sql", json!({ "sql": "select 1" })).await;
    // MariaDB and SQLite stop reading at the cap too.
    for kind in [Kind::Mysql, Kind::Sqlite] {
        let db = TestDb::new(kind).await;
        let mcp = db.serve("read-only").await;
        let sql = "with recursive g(n) as (select 1 union all select n + 1 from g where n < 20) \
                   select n, repeat('z', 20000000) from g";
        let r = mcp.call("run-sql", json!({ "sql": sql })).await;
        let peak = peak_rss_mib(mcp.pid);
        assert!(peak < 200, "{kind:?}: peak RSS {peak} MiB\n{}", text(&r).chars().take(300).collect::<String>());
    }
    // MongoDB: 40 documents of 4 MB, read for an answer of at most max_bytes.
    let db = TestDb::new(Kind::Mongo).await;
    let big = "z".repeat(4 << 20);
    for chunk in 0..4 {
        let docs = (0..10).map(|i| mongodb::bson::doc! { "n": chunk * 10 + i, "blob": big.clone() }).collect();
        db.mongo_insert("big", docs).await;
    }
    let mcp = db.serve("read-only").await;
    let out = mcp.ok("run-mongo", json!({ "collection": "big" })).await;
    assert_eq!(out["truncation"]["truncated"], true, "{}", out["truncation"]);
    let peak = peak_rss_mib(mcp.pid);
    // 160 MB is much for the test server to keep: gone before the check can fail.
    let client = mongodb::Client::with_uri_str(&db.url).await.unwrap();
    client.default_database().unwrap().drop().await.unwrap();
    assert!(peak < 150, "MongoDB: peak RSS {peak} MiB: documents were held past the cap");
}

#[tokio::test]
async fn test_as_user_settings_cannot_switch_role() {
    let db = TestDb::new(Kind::Postgres).await;
    db.exec(
        "create table notes (id int primary key, user_id int, body text);
         insert into notes values (1, 1, 'mine'), (2, 2, 'theirs');
         alter table notes enable row level security;
         create policy own on notes using (user_id = nullif(current_setting('app.current_user_id', true), '')::int);",
    )
    .await;
    let mcp = db.serve("read-write").await;
    for setting in ["role", "session_authorization", "statement_timeout", "default_transaction_read_only"] {
        let r = mcp
            .call("test-as-user", json!({ "user_id": "1", "settings": { setting: "postgres" }, "tables": ["notes"] }))
            .await;
        assert_eq!(r.is_error, Some(true), "{setting} was set:\n{}", text(&r));
    }
}

#[tokio::test]
async fn row_level_security_reads_say_whose_rows_they_show() {
    // In read-only mode the model's SQL runs as the least-privilege reader, which row level
    // security filters like any other role: the result says so instead of looking empty.
    let db = TestDb::new(Kind::Postgres).await;
    db.exec(
        "create table notes (id int primary key, user_id int);
         insert into notes values (1, 1), (2, 2);
         alter table notes enable row level security, force row level security;",
    )
    .await;
    let mcp = db.serve("read-only").await;
    let out = mcp.ok("run-sql", json!({ "sql": "select * from notes" })).await;
    let notes = out["notes"].to_string();
    assert!(notes.contains("row level security"), "{out}");
}

#[tokio::test]
async fn the_row_cap_never_rewrites_what_the_parser_read() {
    // The parser reads two strings here; printed back out with its own quoting, the first one's
    // trailing backslash escapes the closing quote on MariaDB, and load_file turns into code.
    let (_db, mcp) = mysql_target().await;
    let marker = unique_path("rewrite_marker.txt");
    std::fs::write(&marker, "redteam-rewrite-4d1e").unwrap();
    let codes: Vec<String> = marker.display().to_string().bytes().map(|b| b.to_string()).collect();
    let sql = format!(r"select 'a\\', ' ,load_file(char({})) as y -- '", codes.join(","));
    let said = through_every_tool(&mcp, &sql).await.join("\n");
    // base64 of the marker, as a BLOB comes back, and the marker itself.
    assert!(!said.contains("cmVkdGVhbS1yZXdyaXRlLTRkMWU") && !said.contains("redteam-rewrite-4d1e"), "{said}");
    // The same text on every SQL engine comes back as the two strings it is.
    for kind in [Kind::Postgres, Kind::Sqlite] {
        let db = TestDb::new(kind).await;
        db.exec("create table x (a int)").await;
        let mcp = db.serve("read-only").await;
        let out = mcp.ok("run-sql", json!({ "sql": "select 'a\\', 'b''c' as x -- '" })).await;
        assert_eq!(out["rows"][0], json!(["a\\", "b'c"]), "{kind:?}: {out}");
    }
    let _ = std::fs::remove_file(&marker);
}

#[tokio::test]
async fn a_reader_login_is_a_boundary_no_sql_crosses() {
    // reader_url: the model's SQL runs as a separate least-privilege login. Even with the parser
    // off, the way back to the superuser (set_config('role', ...)) is refused by PostgreSQL.
    let db = TestDb::new(Kind::Postgres).await;
    let reader = format!("de_reader_{}", std::process::id());
    db.exec(&format!(
        "create table t (id int); insert into t values (1);
         do $$ begin
           if not exists (select from pg_roles where rolname = '{reader}') then
             create role {reader} login in role pg_read_all_data;
           end if;
         end $$;"
    ))
    .await;
    let (scheme_user, rest) = db.url.split_once('@').unwrap();
    let scheme = scheme_user.split("://").next().unwrap();
    let reader_url = format!("{scheme}://{reader}@{rest}");
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("data-engineer.toml");
    std::fs::write(&config, format!("[databases.main]\nurl = \"{}\"\nreader_url = \"{reader_url}\"\n", db.url))
        .unwrap();
    let mcp =
        Mcp::spawn(&["--config", config.to_str().unwrap()], &[("DATA_ENGINEER_UNSAFE_SKIP_PARSER_CHECK", "1")]).await;
    let who = mcp.ok("run-sql", json!({ "sql": "select current_user as u, count(*) as n from t" })).await;
    assert_eq!(who["rows"][0], json!([reader, 1]), "{who}");
    let r = mcp.call("run-sql", json!({ "sql": "select set_config('role', 'postgres', true)" })).await;
    assert_eq!(r.is_error, Some(true), "{}", text(&r));
    assert!(text(&r).contains("permission denied"), "{}", text(&r));
    let env = mcp.ok("env-check", json!({})).await;
    assert!(env["databases"][0]["assurance"].as_str().unwrap().contains("reader_url"), "{env}");
}
