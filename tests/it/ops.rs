//! data-quality, smoke-test and seed against real servers: every check fails on data built to
//! break it and passes once the data is fixed; the smoke test fails for each reason it checks;
//! seeds are idempotent and a failing run leaves nothing behind.

use std::time::Duration;

use mongodb::bson::{DateTime, Document, doc};
use serde_json::{Value, json};
use sqlx::{AssertSqlSafe, Connection, Executor};

use crate::support::{Kind, Mcp, TestDb};

fn result<'a>(v: &'a Value, name: &str) -> &'a Value {
    v["results"].as_array().unwrap().iter().find(|r| r["name"] == name).unwrap_or_else(|| panic!("no {name} in {v}"))
}

fn check<'a>(v: &'a Value, name: &str) -> &'a Value {
    v["checks"].as_array().unwrap().iter().find(|c| c["name"] == name).unwrap_or_else(|| panic!("no {name} in {v}"))
}

fn status(v: &Value, name: &str) -> String {
    check(v, name)["status"].as_str().unwrap().to_string()
}

async fn count(mcp: &Mcp, sql: &str) -> i64 {
    let v = mcp.ok("run-sql", json!({ "sql": sql })).await;
    let n = &v["rows"][0][0];
    n.as_i64().or_else(|| n.as_str().and_then(|s| s.parse().ok())).unwrap_or_else(|| panic!("{sql}: {v}"))
}

async fn mongo(db: &TestDb) -> mongodb::Database {
    mongodb::Client::with_uri_str(&db.url).await.unwrap().default_database().unwrap()
}

// ---------------------------------------------------------------- data-quality

/// One check of each kind; every one fails on the fixture and passes after `fix_sql`.
fn sql_checks() -> Value {
    json!([
        {"name": "email not null", "check": "not_null", "table": "users", "column": "email"},
        {"name": "email unique", "check": "unique", "table": "users", "column": "email"},
        {"name": "status accepted", "check": "accepted_values", "table": "users", "column": "status", "values": ["active", "inactive"]},
        {"name": "orders reference users", "check": "relationships", "table": "orders", "column": "user_id", "to_table": "users", "to_column": "id"},
        {"name": "age in range", "check": "range", "table": "users", "column": "age", "min": 0, "max": 150},
        {"name": "user count", "check": "row_count", "table": "users", "min": 1, "max": 2},
        {"name": "users fresh", "check": "freshness", "table": "users", "column": "created_at", "max_age_seconds": 3600},
        {"name": "no inactive admins", "check": "custom_sql", "sql": "select id, status from users where status not in ('active') ;"}
    ])
}

async fn quality_round_trip(kind: Kind, now: &str) {
    let db = TestDb::new(kind).await;
    db.exec(
        "create table users (id integer primary key, email varchar(100), status varchar(20), age integer, \
             created_at timestamp, password varchar(100));
         create table orders (id integer primary key, user_id integer);
         insert into users values (1, 'a@x.io', 'active', 30, '2001-01-01 00:00:00', 'hunter2-secret'),
             (2, NULL, 'active', 40, '2001-01-01 00:00:00', 'hunter2-secret'),
             (3, 'a@x.io', 'bogus', 200, '2001-01-01 00:00:00', 'hunter2-secret');
         insert into orders values (1, 1), (2, 99);",
    )
    .await;
    let mcp = db.serve("read-write").await;
    let v = mcp.ok("data-quality", json!({ "checks": sql_checks() })).await;
    assert_eq!(v["passed"], false, "{v}");
    assert_eq!(v["checks_failed"], 8, "every check fails on the fixture: {v}");
    assert_eq!(result(&v, "email not null")["failing"], 1);
    assert_eq!(result(&v, "email not null")["total"], 3);
    assert_eq!(result(&v, "email not null")["pass_rate"], 0.6667);
    assert_eq!(result(&v, "email unique")["failing"], 2);
    assert_eq!(result(&v, "email unique")["samples"][0]["occurrences"], 2);
    assert_eq!(result(&v, "status accepted")["failing"], 1);
    assert_eq!(result(&v, "orders reference users")["failing"], 1);
    assert_eq!(result(&v, "orders reference users")["samples"][0]["user_id"], 99);
    assert_eq!(result(&v, "age in range")["failing"], 1);
    assert_eq!(result(&v, "user count")["observed"], 3);
    assert!(result(&v, "users fresh")["observed"].as_f64().unwrap() > 3600.0);
    assert_eq!(result(&v, "no inactive admins")["failing"], 1);
    let sample = &result(&v, "email not null")["samples"][0];
    assert_eq!(sample["password"], "[masked]", "secret-named sample fields are masked: {sample}");
    assert!(!v.to_string().contains("hunter2"), "no secret leaves the server");
    // Sample rows are database content: fenced in the text a model reads, NULLs shown.
    let r = mcp.call("data-quality", json!({"checks": [sql_checks()[0]]})).await;
    let text = crate::support::text(&r);
    assert!(text.contains("samples: <data ") && text.contains("\"email\":null"), "{text}");

    // Read-only even on a read-write database, and nothing but one query.
    let refused = mcp
        .err("data-quality", json!({"checks": [{"check": "custom_sql", "sql": "delete from users where id = 3"}]}))
        .await;
    assert!(refused.contains("query"), "{refused}");
    // Identifiers are checked against the catalog, never pasted.
    let bad = mcp
        .err(
            "data-quality",
            json!({"checks": [{"check": "not_null", "table": "users; drop table users", "column": "x"}]}),
        )
        .await;
    assert!(bad.contains("no table or view"), "{bad}");
    let bad =
        mcp.err("data-quality", json!({"checks": [{"check": "not_null", "table": "users", "column": "nope"}]})).await;
    assert!(bad.contains("has no column") && bad.contains("email"), "{bad}");
    assert_eq!(count(&mcp, "select count(*) from users").await, 3);

    db.exec(&format!(
        "update users set email = 'b@x.io' where id = 2; delete from users where id = 3;
         update orders set user_id = 2 where id = 2; update users set created_at = {now};"
    ))
    .await;
    let v = mcp.ok("data-quality", json!({ "checks": sql_checks() })).await;
    assert_eq!(v["passed"], true, "every check passes on fixed data: {v}");
    assert_eq!(result(&v, "email not null")["pass_rate"], 1.0);
    assert_eq!(result(&v, "user count")["observed"], 2);
    mcp.close().await;
}

#[tokio::test]
async fn data_quality_checks_fail_and_pass_on_postgres() {
    quality_round_trip(Kind::Postgres, "now()").await;
}

#[tokio::test]
async fn data_quality_checks_fail_and_pass_on_mariadb() {
    quality_round_trip(Kind::Mysql, "NOW()").await;
}

#[tokio::test]
async fn data_quality_checks_fail_and_pass_on_sqlite() {
    quality_round_trip(Kind::Sqlite, "datetime('now')").await;
}

#[tokio::test]
async fn data_quality_reads_checks_from_a_toml_file_on_a_read_only_database() {
    let db = TestDb::new(Kind::Postgres).await;
    db.exec("create schema app; create table app.items (id int primary key, qty int); insert into app.items values (1, -5), (2, 3);")
        .await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("checks.toml");
    std::fs::write(
        &file,
        "[[checks]]\ncheck = \"range\"\ntable = \"app.items\"\ncolumn = \"qty\"\nmin = 0\n\n\
         [[checks]]\ncheck = \"row_count\"\ntable = \"app.items\"\nmin = 2\n",
    )
    .unwrap();
    let mcp = db.serve("read-only").await;
    let v = mcp.ok("data-quality", json!({"file": file.to_str().unwrap()})).await;
    assert_eq!(v["checks_failed"], 1, "{v}");
    assert_eq!(result(&v, "range app.items.qty")["samples"][0]["qty"], -5);
    assert_eq!(result(&v, "row_count app.items")["passed"], true);
    let missing = file.with_file_name("missing-checks.toml");
    let bad = mcp.err("data-quality", json!({"file": missing.to_str().unwrap()})).await;
    assert!(bad.contains("cannot read"), "{bad}");
    let bad = mcp.err("data-quality", json!({"file": "/nonexistent/checks.toml"})).await;
    assert!(bad.contains("outside the directories"), "{bad}");
    std::fs::write(&file, "[[checks]]\ncheck = \"nonsense-kind\"\nsecret = \"do-not-echo\"\n").unwrap();
    let bad = mcp.err("data-quality", json!({"file": file.to_str().unwrap()})).await;
    assert!(bad.contains("line ") && !bad.contains("do-not-echo"), "the file's text is not quoted back: {bad}");
    let bad = mcp.err("data-quality", json!({"file": "/etc/passwd"})).await;
    assert!(bad.contains(".toml"), "{bad}");
    let none = mcp.err("data-quality", json!({})).await;
    assert!(none.contains("at least one check"), "{none}");
}

const DBT_SCHEMA: &str = r#"
version: 2
models:
  - name: orders
    data_tests:
      - dbt_utils.expression_is_true:
          arguments: {expression: "total >= 0"}
      - dbt_utils.recency: {datepart: day, field: created_at, interval: 1}
    columns:
      - name: id
        data_tests: [unique, not_null]
      - name: status
        data_tests:
          - accepted_values: {values: [placed, shipped]}
          - dbt_utils.not_constant
      - name: customer_id
        data_tests:
          - relationships: {to: "ref('customers')", field: id}
  - name: customers
    columns:
      - name: email
        data_tests: [not_null, unique]
"#;

async fn dbt_round_trip(kind: Kind, now: &str) {
    let db = TestDb::new(kind).await;
    db.exec(
        "create table customers (id integer primary key, email varchar(100));
         create table orders (id integer primary key, customer_id integer, status varchar(20), total integer, \
             created_at timestamp);
         insert into customers values (1, 'a@x.io'), (2, NULL);
         insert into orders values (1, 1, 'placed', 10, '2001-01-01 00:00:00'), (2, 7, 'lost', -3, '2001-01-01 00:00:00');",
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("schema.yml");
    std::fs::write(&file, DBT_SCHEMA).unwrap();
    let mcp = db.serve("read-only").await;
    let v = mcp.ok("data-quality", json!({"file": file.to_str().unwrap()})).await;
    assert_eq!(v["checks_passed"].as_u64().unwrap() + v["checks_failed"].as_u64().unwrap(), 8, "{v}");
    for failing in [
        "expression_is_true orders: total >= 0",
        "freshness orders.created_at",
        "accepted_values orders.status",
        "relationships orders.customer_id",
        "not_null customers.email",
    ] {
        assert_eq!(result(&v, failing)["passed"], false, "{failing}: {v}");
    }
    for passing in ["unique orders.id", "not_null orders.id", "unique customers.email"] {
        assert_eq!(result(&v, passing)["passed"], true, "{passing}: {v}");
    }
    assert_eq!(result(&v, "relationships orders.customer_id")["samples"][0]["customer_id"], 7, "{v}");
    assert_eq!(
        v["skipped"],
        json!([{"test": "orders.status: dbt_utils.not_constant",
        "reason": "no equivalent check here; write it as a custom_sql check"}])
    );
    let text = crate::support::text(&mcp.call("data-quality", json!({"file": file.to_str().unwrap()})).await);
    assert!(text.contains("dbt_utils.not_constant"), "the skipped test is shown: {text}");

    db.exec(&format!(
        "update customers set email = 'b@x.io' where id = 2; update orders set customer_id = 2, status = 'shipped', \
         total = 3 where id = 2; update orders set created_at = {now};"
    ))
    .await;
    let v = mcp.ok("data-quality", json!({"file": file.to_str().unwrap()})).await;
    assert_eq!(v["passed"], true, "every translated test passes on fixed data: {v}");
    mcp.close().await;
}

#[tokio::test]
async fn data_quality_runs_a_dbt_schema_file_on_postgres() {
    dbt_round_trip(Kind::Postgres, "now()").await;
}

#[tokio::test]
async fn data_quality_runs_a_dbt_schema_file_on_mariadb() {
    dbt_round_trip(Kind::Mysql, "NOW()").await;
}

#[tokio::test]
async fn data_quality_runs_a_dbt_schema_file_on_sqlite() {
    dbt_round_trip(Kind::Sqlite, "datetime('now')").await;
}

#[tokio::test]
async fn data_quality_reads_a_yaml_checks_list_and_refuses_other_files() {
    let db = TestDb::new(Kind::Sqlite).await;
    db.exec("create table items (id integer primary key, qty integer); insert into items values (1, -5), (2, 3);")
        .await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("checks.yaml");
    std::fs::write(&file, "checks:\n  - {check: range, table: items, column: qty, min: 0}\n  - {check: row_count, table: items, min: 2}\n")
        .unwrap();
    let mcp = db.serve("read-only").await;
    let v = mcp.ok("data-quality", json!({"file": file.to_str().unwrap()})).await;
    assert_eq!(v["checks_failed"], 1, "{v}");
    assert_eq!(result(&v, "range items.qty")["samples"][0]["qty"], -5);
    std::fs::write(&file, "checks:\n  - {check: range, tabel: items}\n").unwrap();
    let bad = mcp.err("data-quality", json!({"file": file.to_str().unwrap()})).await;
    assert!(bad.contains("checks.yaml line 2") && bad.contains("unknown field `tabel`"), "{bad}");
    let only_skipped = dir.path().join("schema.yml");
    std::fs::write(
        &only_skipped,
        "models:\n  - name: items\n    columns:\n      - name: qty\n        tests: [dbt_utils.not_constant]\n",
    )
    .unwrap();
    let bad = mcp.err("data-quality", json!({"file": only_skipped.to_str().unwrap()})).await;
    assert!(bad.contains("none of the file's tests") && bad.contains("items.qty: dbt_utils.not_constant"), "{bad}");
}

fn mongo_checks() -> Value {
    json!([
        {"name": "email not null", "check": "not_null", "table": "users", "column": "email"},
        {"name": "email unique", "check": "unique", "table": "users", "column": "email"},
        {"name": "status accepted", "check": "accepted_values", "table": "users", "column": "status", "values": ["active", "inactive"]},
        {"name": "orders reference users", "check": "relationships", "table": "orders", "column": "user_id", "to_table": "users", "to_column": "_id"},
        {"name": "age in range", "check": "range", "table": "users", "column": "age", "min": 0, "max": 150},
        {"name": "user count", "check": "row_count", "table": "users", "max": 2},
        {"name": "users fresh", "check": "freshness", "table": "users", "column": "created_at", "max_age_seconds": 3600},
        {"name": "no bogus", "check": "custom_pipeline", "table": "users", "pipeline": [{"$match": {"status": "bogus"}}]}
    ])
}

#[tokio::test]
async fn data_quality_checks_fail_and_pass_on_mongodb() {
    let db = TestDb::new(Kind::Mongo).await;
    let old = DateTime::from_millis(978_307_200_000);
    db.mongo_insert(
        "users",
        vec![
            doc! {"_id": 1, "email": "a@x.io", "status": "active", "age": 30, "created_at": old, "api_token": "tok-secret-1"},
            doc! {"_id": 2, "status": "active", "age": 40, "created_at": old, "api_token": "tok-secret-1"},
            doc! {"_id": 3, "email": "a@x.io", "status": "bogus", "age": 200, "created_at": old},
        ],
    )
    .await;
    db.mongo_insert("orders", vec![doc! {"_id": 1, "user_id": 1}, doc! {"_id": 2, "user_id": 99}]).await;
    let mcp = db.serve("read-only").await;
    let v = mcp.ok("data-quality", json!({ "checks": mongo_checks() })).await;
    assert_eq!(v["checks_failed"], 8, "every check fails on the fixture: {v}");
    assert_eq!(result(&v, "email not null")["failing"], 1);
    assert_eq!(result(&v, "email not null")["samples"][0]["api_token"], "[masked]");
    assert_eq!(result(&v, "email unique")["failing"], 2);
    assert_eq!(result(&v, "status accepted")["failing"], 1);
    assert_eq!(result(&v, "orders reference users")["failing"], 1);
    assert_eq!(result(&v, "age in range")["failing"], 1);
    assert_eq!(result(&v, "user count")["observed"], 3);
    assert_eq!(result(&v, "no bogus")["failing"], 1);
    assert!(!v.to_string().contains("tok-secret"));
    let refused = mcp
        .err(
            "data-quality",
            json!({"checks": [{"check": "custom_pipeline", "table": "users", "pipeline": [{"$out": "copy"}]}]}),
        )
        .await;
    assert!(refused.contains("$out"), "{refused}");
    let bad = mcp.err("data-quality", json!({"checks": [{"check": "not_null", "table": "nope", "column": "x"}]})).await;
    assert!(bad.contains("no collection"), "{bad}");

    let m = mongo(&db).await;
    let users = m.collection::<Document>("users");
    users.delete_one(doc! {"_id": 3}).await.unwrap();
    users.update_one(doc! {"_id": 2}, doc! {"$set": {"email": "b@x.io"}}).await.unwrap();
    users.update_many(doc! {}, doc! {"$set": {"created_at": DateTime::now()}}).await.unwrap();
    m.collection::<Document>("orders").update_one(doc! {"_id": 2}, doc! {"$set": {"user_id": 2}}).await.unwrap();
    let v = mcp.ok("data-quality", json!({ "checks": mongo_checks() })).await;
    assert_eq!(v["passed"], true, "every check passes on fixed data: {v}");
}

// ---------------------------------------------------------------- smoke-test

fn ledger_sql(kind: Kind, rows: &[(i64, bool)]) -> String {
    let (ddl, checksum) = match kind {
        Kind::Postgres => (
            "create table _sqlx_migrations (version bigint primary key, description text not null, \
             installed_on timestamptz not null default now(), success boolean not null, checksum bytea not null, \
             execution_time bigint not null);",
            "'\\x00'::bytea",
        ),
        _ => (
            "create table _sqlx_migrations (version bigint primary key, description text not null, \
             installed_on timestamp not null default current_timestamp, success boolean not null, \
             checksum blob not null, execution_time bigint not null);",
            "X'00'",
        ),
    };
    let mut sql = ddl.to_string();
    for (version, success) in rows {
        sql.push_str(&format!(
            "insert into _sqlx_migrations (version, description, success, checksum, execution_time) \
             values ({version}, 'm{version}', {success}, {checksum}, 1);"
        ));
    }
    sql
}

#[tokio::test]
async fn smoke_test_fails_for_each_reason_on_postgres() {
    let db = TestDb::new(Kind::Postgres).await;
    db.exec(&ledger_sql(Kind::Postgres, &[(20240101, true), (20240102, false)])).await;
    db.exec(
        "create table users (id int primary key);
         create table orders (id int primary key, user_id int);
         insert into orders values (1, 42);
         alter table orders add constraint orders_user_fk foreign key (user_id) references users (id) not valid;
         create table notes (id int primary key, owner int); create policy own on notes using (owner = 1);
         create table secrets_t (id int primary key);
         create sequence nearly_done maxvalue 100; select setval('nearly_done', 90);
         create table dupes (v int); insert into dupes values (1), (1);",
    )
    .await;
    let mut c = sqlx::PgConnection::connect(&db.url).await.unwrap();
    // A failed concurrent build leaves its index behind, invalid.
    assert!(c.execute("create unique index concurrently dupes_v on dupes (v)").await.is_err());
    let url = db.url.clone();
    let sleeper = tokio::spawn(async move {
        let mut s = sqlx::PgConnection::connect(&url).await.unwrap();
        let _ = s.execute("select pg_sleep(6)").await;
    });
    let mut idle = sqlx::PgConnection::connect(&db.url).await.unwrap();
    idle.execute("begin").await.unwrap();
    idle.execute("select 1").await.unwrap();
    tokio::time::sleep(Duration::from_millis(1500)).await;

    let mcp = db.serve("read-only").await;
    let args = json!({"version": 20240102, "long_query_seconds": 1, "idle_in_transaction_seconds": 1, "rls_tables": ["secrets_t"]});
    let v = mcp.ok("smoke-test", args).await;
    assert_eq!(v["passed"], false, "{v}");
    assert_eq!(status(&v, "connectivity"), "pass");
    assert_eq!(status(&v, "migrations"), "fail");
    assert!(check(&v, "migrations")["detail"].as_str().unwrap().contains("20240102 m20240102"), "{v}");
    assert_eq!(status(&v, "invalid-indexes"), "fail");
    assert!(
        check(&v, "invalid-indexes")["fix"].as_str().unwrap().contains("REINDEX INDEX CONCURRENTLY public.dupes_v")
    );
    assert_eq!(status(&v, "unvalidated-constraints"), "fail");
    assert!(
        check(&v, "unvalidated-constraints")["fix"].as_str().unwrap().contains("VALIDATE CONSTRAINT orders_user_fk"),
        "{v}"
    );
    assert_eq!(status(&v, "row-level-security"), "fail");
    let rls = check(&v, "row-level-security")["detail"].as_str().unwrap();
    assert!(rls.contains("public.notes") && rls.contains("public.secrets_t"), "{rls}");
    assert_eq!(status(&v, "sequences"), "fail");
    assert!(check(&v, "sequences")["detail"].as_str().unwrap().contains("public.nearly_done at 90.0%"), "{v}");
    assert_eq!(status(&v, "long-running-queries"), "fail");
    assert!(check(&v, "long-running-queries")["activity"][0]["query"].as_str().unwrap().contains("pg_sleep"), "{v}");
    assert_eq!(status(&v, "idle-in-transaction"), "fail");
    assert_eq!(status(&v, "replication-lag"), "skip", "a primary has no lag to measure");
    assert_eq!(status(&v, "tenant-tables-rls"), "warn", "the audit's verdict on orders.user_id: {v}");
    assert!(check(&v, "tenant-tables-rls")["detail"].as_str().unwrap().contains("public.orders"), "{v}");
    drop(idle);
    sleeper.abort();

    // The ledger behind the deploy's version, with nothing dirty.
    db.exec("update _sqlx_migrations set success = true").await;
    let v = mcp.ok("smoke-test", json!({"version": "20240103"})).await;
    assert_eq!(status(&v, "migrations"), "fail");
    assert!(check(&v, "migrations")["detail"].as_str().unwrap().contains("did not all run"), "{v}");
    mcp.close().await;

    // An unreachable server is a failed check, not a crash.
    let gone = Mcp::spawn(&["--database-url", "postgres://nobody@127.0.0.1:1/none", "--mode", "read-only"], &[]).await;
    let v = gone.ok("smoke-test", json!({})).await;
    assert_eq!(status(&v, "connectivity"), "fail");
    assert_eq!(v["passed"], false);
}

#[tokio::test]
async fn smoke_test_passes_on_a_healthy_postgres_database() {
    let db = TestDb::new(Kind::Postgres).await;
    db.exec(&ledger_sql(Kind::Postgres, &[(1, true), (2, true)])).await;
    db.exec(
        "create table users (id bigint generated always as identity primary key);
         create table notes (id int primary key, owner int); create policy own on notes using (owner = 1);
         alter table notes enable row level security;
         create table orders (id int primary key, user_id bigint references users (id));
         alter table orders enable row level security;",
    )
    .await;
    let mcp = db.serve("read-only").await;
    let v = mcp.ok("smoke-test", json!({"version": 2, "rls_tables": ["notes"]})).await;
    assert_eq!(v["passed"], true, "{v}");
    assert_eq!(v["counts"]["fail"], 0);
    assert_eq!(status(&v, "migrations"), "pass");
    assert_eq!(status(&v, "row-level-security"), "pass");
    assert_eq!(status(&v, "tenant-tables-rls"), "pass", "{v}");
}

#[tokio::test]
async fn smoke_test_holds_row_level_security_to_a_stored_snapshot() {
    let db = TestDb::new(Kind::Postgres).await;
    db.exec(
        "create table notes (id int primary key, owner int); create policy own on notes using (owner = 1);
         alter table notes enable row level security, force row level security;
         create table vault (id int primary key); alter table vault enable row level security;
         create table scratch (id int primary key); alter table scratch enable row level security;
         create table open_t (id int primary key);",
    )
    .await;
    let mcp = db.serve("read-write").await;
    let v = mcp.ok("smoke-test", json!({})).await;
    assert_eq!(status(&v, "row-level-security"), "pass", "no snapshot yet: {v}");
    let before = mcp.ok("snapshot", json!({"label": "pre-deploy"})).await;
    let id = before["snapshot"]["id"].as_i64().unwrap();
    let v = mcp.ok("smoke-test", json!({})).await;
    assert_eq!(status(&v, "row-level-security"), "pass", "{v}");
    let detail = check(&v, "row-level-security")["detail"].as_str().unwrap().to_string();
    assert!(
        detail.contains(&format!("compared with snapshot {id} (pre-deploy")) && detail.contains("3 table(s) had RLS")
    );

    // A deploy that loses RLS on a table without policies (nothing else notices) and FORCE on another.
    db.exec(
        "alter table vault disable row level security; alter table notes no force row level security;
         drop table scratch;",
    )
    .await;
    let v = mcp.ok("smoke-test", json!({})).await;
    assert_eq!(v["passed"], false, "{v}");
    assert_eq!(status(&v, "row-level-security"), "fail");
    let rls = check(&v, "row-level-security");
    let detail = rls["detail"].as_str().unwrap();
    assert!(
        detail.contains(&format!("public.vault has RLS disabled, yet snapshot {id} recorded it enabled")),
        "{detail}"
    );
    assert!(
        detail.contains(&format!("public.notes has RLS not forced, yet snapshot {id} recorded it forced")),
        "{detail}"
    );
    assert!(detail.contains("dropped since: public.scratch") && !detail.contains("open_t"), "{detail}");
    let fix = rls["fix"].as_str().unwrap();
    assert!(fix.contains("ALTER TABLE public.vault ENABLE ROW LEVEL SECURITY;"), "{fix}");
    assert!(fix.contains("ALTER TABLE public.notes FORCE ROW LEVEL SECURITY;"), "{fix}");
    assert!(fix.contains("take a new snapshot"), "{fix}");

    // rls_tables and the snapshot agree on one table: one problem, one fix.
    let v = mcp.ok("smoke-test", json!({"rls_tables": ["vault"]})).await;
    let rls = check(&v, "row-level-security");
    assert_eq!(rls["fix"].as_str().unwrap().matches("public.vault").count(), 1, "{rls}");
    assert!(rls["detail"].as_str().unwrap().contains("rls_tables requires it and snapshot"), "{rls}");

    let v = mcp.ok("smoke-test", json!({"snapshot": "no-such-label"})).await;
    assert_eq!(status(&v, "row-level-security"), "fail");
    assert!(
        check(&v, "row-level-security")["detail"].as_str().unwrap().contains("no snapshot \"no-such-label\""),
        "{v}"
    );

    // A snapshot taken after an intended change becomes the reference; the old one can still be named.
    mcp.ok("snapshot", json!({"label": "post-deploy"})).await;
    let v = mcp.ok("smoke-test", json!({})).await;
    assert_eq!(status(&v, "row-level-security"), "pass", "{v}");
    let v = mcp.ok("smoke-test", json!({"snapshot": "pre-deploy"})).await;
    assert_eq!(status(&v, "row-level-security"), "fail", "{v}");
}

#[tokio::test]
async fn smoke_test_fails_for_each_reason_on_mariadb() {
    let db = TestDb::new(Kind::Mysql).await;
    db.exec(&ledger_sql(Kind::Mysql, &[(1, true), (2, false)])).await;
    db.exec(
        "create table tiny (id tinyint primary key auto_increment, v int) engine = InnoDB;
         insert into tiny (id, v) values (120, 1);
         create table t (id int primary key) engine = InnoDB;",
    )
    .await;
    let url = db.url.clone();
    let sleeper = tokio::spawn(async move {
        let mut s = sqlx::MySqlConnection::connect(&url).await.unwrap();
        let _ = s.execute("select sleep(6)").await;
    });
    let mut idle = sqlx::MySqlConnection::connect(&db.url).await.unwrap();
    idle.execute("start transaction").await.unwrap();
    idle.execute("insert into t values (1)").await.unwrap();
    tokio::time::sleep(Duration::from_millis(2100)).await;

    let mcp = db.serve("read-only").await;
    let args = json!({"version": 2, "long_query_seconds": 1, "idle_in_transaction_seconds": 1, "rls_tables": ["t"]});
    let v = mcp.ok("smoke-test", args).await;
    assert_eq!(v["passed"], false, "{v}");
    assert_eq!(status(&v, "connectivity"), "pass");
    assert_eq!(status(&v, "migrations"), "fail");
    assert_eq!(status(&v, "auto-increment"), "fail");
    assert!(check(&v, "auto-increment")["detail"].as_str().unwrap().contains("tiny.id"), "{v}");
    assert_eq!(status(&v, "long-running-queries"), "fail", "{v}");
    assert_eq!(status(&v, "idle-in-transaction"), "fail", "{v}");
    assert_eq!(status(&v, "row-level-security"), "fail", "no RLS on this engine, yet some was required");
    assert_eq!(status(&v, "replication-lag"), "skip");
    assert_eq!(status(&v, "invalid-indexes"), "skip");
    drop(idle);
    sleeper.abort();

    db.exec("update _sqlx_migrations set success = true; drop table tiny;").await;
    let v = mcp.ok("smoke-test", json!({"version": 2})).await;
    assert_eq!(v["passed"], true, "healthy now: {v}");

    // An unreachable server is a failed check, not a crash.
    let gone = Mcp::spawn(&["--database-url", "mysql://nobody@127.0.0.1:1/none", "--mode", "read-only"], &[]).await;
    let v = gone.ok("smoke-test", json!({})).await;
    assert_eq!(status(&v, "connectivity"), "fail", "{v}");
    assert_eq!(v["passed"], false);
}

#[tokio::test]
async fn smoke_test_fails_for_each_reason_on_sqlite() {
    let db = TestDb::new(Kind::Sqlite).await;
    db.exec("create table seedless (id integer primary key)").await;
    let v = db.serve("read-only").await.ok("smoke-test", json!({"version": 1})).await;
    assert_eq!(status(&v, "migrations"), "fail", "no ledger yet a version is expected: {v}");
    db.exec(&ledger_sql(Kind::Sqlite, &[(1, true)])).await;
    db.exec(
        "PRAGMA foreign_keys = OFF;
         create table parent (id integer primary key);
         create table child (id integer primary key, parent_id integer references parent (id));
         insert into child values (1, 7);",
    )
    .await;
    let mcp = db.serve("read-only").await;
    let v = mcp.ok("smoke-test", json!({"version": 2})).await;
    assert_eq!(status(&v, "migrations"), "fail");
    assert_eq!(status(&v, "foreign-keys"), "fail");
    assert!(check(&v, "foreign-keys")["detail"].as_str().unwrap().contains("child rowid 1 -> parent"), "{v}");
    assert_eq!(status(&v, "integrity"), "pass");
    mcp.close().await;

    db.exec("delete from child; create table t (id integer primary key, v text); create index t_v on t (v); insert into t values (1, 'a'), (2, 'b');")
        .await;
    let v = db.serve("read-only").await.ok("smoke-test", json!({"version": 1})).await;
    assert_eq!(v["passed"], true, "healthy: {v}");
    // An index whose definition no longer matches its entries.
    db.exec(
        "PRAGMA writable_schema = ON; update sqlite_schema set sql = 'CREATE INDEX t_v ON t (id)' where name = 't_v';",
    )
    .await;
    let v = db.serve("read-only").await.ok("smoke-test", json!({"version": 1, "rls_tables": ["t"]})).await;
    assert_eq!(status(&v, "integrity"), "fail", "{v}");
    assert!(check(&v, "integrity")["detail"].as_str().unwrap().contains("t_v"), "{v}");
    assert_eq!(status(&v, "row-level-security"), "fail");

    // A database file that cannot be opened is a failed check, not a crash.
    let gone = Mcp::spawn(&["--database-url", "sqlite:///nonexistent-dir/none.db", "--mode", "read-only"], &[]).await;
    let v = gone.ok("smoke-test", json!({})).await;
    assert_eq!(status(&v, "connectivity"), "fail", "{v}");
    assert_eq!(v["passed"], false);
}

#[tokio::test]
async fn smoke_test_checks_validators_on_mongodb() {
    let db = TestDb::new(Kind::Mongo).await;
    db.mongo_insert("plain", vec![doc! {"n": 1}]).await;
    let m = mongo(&db).await;
    m.create_collection("guarded")
        .validator(doc! {"$jsonSchema": {"bsonType": "object", "required": ["n"]}})
        .await
        .unwrap();
    let mcp = db.serve("read-only").await;
    let v = mcp.ok("smoke-test", json!({"validated_collections": ["guarded", "plain", "missing"]})).await;
    assert_eq!(status(&v, "connectivity"), "pass");
    assert_eq!(status(&v, "validators"), "fail");
    let detail = check(&v, "validators")["detail"].as_str().unwrap();
    assert!(detail.contains("plain has no validator") && detail.contains("missing") && !detail.contains("guarded"));
    assert_eq!(status(&v, "migrations"), "skip");
    let v = mcp.ok("smoke-test", json!({"validated_collections": ["guarded"]})).await;
    assert_eq!(v["passed"], true, "{v}");

    let gone = Mcp::spawn(&["--database-url", "mongodb://127.0.0.1:1/none", "--mode", "read-only"], &[]).await;
    let v = gone.ok("smoke-test", json!({})).await;
    assert_eq!(status(&v, "connectivity"), "fail", "{v}");
}

// ---------------------------------------------------------------- seed

async fn seed_round_trip(kind: Kind) {
    let db = TestDb::new(kind).await;
    db.exec(
        "create table users (id integer primary key, name varchar(50) not null, score integer);
         create table teams (id integer primary key, name varchar(50) not null, active boolean);
         create table tags (id integer primary key, label varchar(20) not null unique);
         create table members (id integer primary key, team_id integer);",
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let seeds = dir.path().join("seeds");
    std::fs::create_dir(&seeds).unwrap();
    std::fs::write(
        seeds.join("tags.sql"),
        "insert into tags (id, label) values (1, 'red');\ninsert into tags (id, label) values (2, 'blue');\n",
    )
    .unwrap();
    std::fs::write(
        seeds.join("teams.json"),
        r#"[{"id": 1, "name": "core", "active": true}, {"id": 2, "name": "ops", "active": false}]"#,
    )
    .unwrap();
    std::fs::write(seeds.join("users.csv"), "id,name,score\n1,Ann,10\n2,\"Bob, Jr.\",\n").unwrap();
    std::fs::write(seeds.join("README.md"), "not a seed").unwrap();
    let path = seeds.to_str().unwrap();
    let mcp = db.serve("read-write").await;

    let v = mcp.ok("seed", json!({ "path": path })).await;
    assert_eq!(v["committed"], true, "{v}");
    assert_eq!(v["counts"]["applied"], 3, "{v}");
    assert_eq!(v["counts"]["ignored"], 1);
    assert_eq!(count(&mcp, "select count(*) from users where score is null").await, 1, "empty CSV field is NULL");
    assert_eq!(count(&mcp, "select count(*) from teams").await, 2);
    assert_eq!(count(&mcp, "select count(*) from tags").await, 2);
    assert_eq!(count(&mcp, "select count(*) from data_engineer_seeds").await, 3);

    let again = mcp.ok("seed", json!({ "path": path })).await;
    assert_eq!(again["committed"], false, "a re-run is a no-op: {again}");
    assert_eq!(again["counts"]["unchanged"], 3);

    std::fs::write(seeds.join("users.csv"), "id,name,score\n1,Ann,11\n2,\"Bob, Jr.\",\n3,Cy,5\n").unwrap();
    let changed = mcp.ok("seed", json!({ "path": path })).await;
    assert_eq!(changed["counts"]["changed"], 1, "{changed}");
    let users = changed["files"].as_array().unwrap().iter().find(|f| f["file"] == "users.csv").unwrap();
    assert!(users["detail"].as_str().unwrap().contains("reapply_changed"), "{users}");
    assert_eq!(count(&mcp, "select score from users where id = 1").await, 10, "not re-applied unless asked");

    let reapplied = mcp.ok("seed", json!({ "path": path, "reapply_changed": true })).await;
    assert_eq!(reapplied["counts"]["reapplied"], 1, "{reapplied}");
    assert_eq!(count(&mcp, "select score from users where id = 1").await, 11, "upserted on the primary key");
    assert_eq!(count(&mcp, "select count(*) from users").await, 3);
    assert_eq!(mcp.ok("seed", json!({ "path": path })).await["counts"]["unchanged"], 3);

    // A run that fails in its last file leaves nothing from any of its files.
    let broken = dir.path().join("broken");
    std::fs::create_dir(&broken).unwrap();
    std::fs::write(broken.join("b_tags.sql"), "insert into tags (id, label) values (3, 'green');").unwrap();
    std::fs::write(broken.join("members.csv"), "id,team_id\n1,1\n2,2\n").unwrap();
    std::fs::write(broken.join("z_bad.sql"), "insert into tags (id, label) values (4, 'red');").unwrap();
    let e = mcp.err("seed", json!({ "path": broken.to_str().unwrap() })).await;
    assert!(e.contains("z_bad.sql") && e.contains("nothing was applied"), "{e}");
    assert_eq!(count(&mcp, "select count(*) from tags").await, 2);
    assert_eq!(count(&mcp, "select count(*) from members").await, 0);
    assert_eq!(count(&mcp, "select count(*) from data_engineer_seeds").await, 3);

    let ro = db.serve("read-only").await;
    let e = ro.err("seed", json!({ "path": path })).await;
    assert!(e.contains("read-only"), "{e}");
}

#[tokio::test]
async fn seed_is_idempotent_and_atomic_on_postgres() {
    seed_round_trip(Kind::Postgres).await;
}

#[tokio::test]
async fn seed_is_idempotent_and_atomic_on_mariadb() {
    seed_round_trip(Kind::Mysql).await;
    // DDL would commit mid-run on MySQL: refused before anything runs.
    let db = TestDb::new(Kind::Mysql).await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a.sql"), "create table made (id int primary key); insert into made values (1);")
        .unwrap();
    let mcp = db.serve("read-write").await;
    let e = mcp.err("seed", json!({ "path": dir.path().to_str().unwrap() })).await;
    assert!(e.contains("DDL"), "{e}");
    assert_eq!(
        count(
            &mcp,
            "select count(*) from information_schema.tables where table_schema = database() and table_name = 'made'"
        )
        .await,
        0
    );
}

#[tokio::test]
async fn seed_is_idempotent_and_atomic_on_sqlite() {
    seed_round_trip(Kind::Sqlite).await;
}

#[tokio::test]
async fn seed_refuses_transaction_control_in_a_script() {
    let db = TestDb::new(Kind::Postgres).await;
    db.exec("create table t (id int primary key)").await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a.sql"), "insert into t values (1); commit; insert into t values (1);").unwrap();
    let mcp = db.serve("read-write").await;
    let e = mcp.err("seed", json!({ "path": dir.path().to_str().unwrap() })).await;
    assert!(e.contains("transaction control"), "{e}");
    assert_eq!(count(&mcp, "select count(*) from t").await, 0);
    // Columns are checked before anything is written.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("t.csv"), "id,nope\n1,2\n").unwrap();
    let e = mcp.err("seed", json!({ "path": dir.path().to_str().unwrap() })).await;
    assert!(e.contains("t.csv") && e.contains("has no column \"nope\""), "{e}");
    std::fs::write(dir.path().join("t.csv"), "id\n1\n2,3\n").unwrap();
    let e = mcp.err("seed", json!({ "path": dir.path().to_str().unwrap() })).await;
    assert!(e.contains("line 3 has 2 fields"), "{e}");
    assert_eq!(count(&mcp, "select count(*) from t").await, 0);
    assert_eq!(count(&mcp, "select count(*) from data_engineer_seeds").await, 0);
}

#[tokio::test]
async fn seed_with_ddl_rolls_back_whole_on_postgres() {
    let db = TestDb::new(Kind::Postgres).await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a.sql"), "create table made (id int primary key); insert into made values (1);")
        .unwrap();
    std::fs::write(dir.path().join("b.sql"), "insert into made values (1);").unwrap();
    let mcp = db.serve("read-write").await;
    let e = mcp.err("seed", json!({ "path": dir.path().to_str().unwrap() })).await;
    assert!(e.contains("b.sql") && e.contains("23505"), "{e}");
    assert_eq!(count(&mcp, "select count(*) from pg_class where relname = 'made'").await, 0, "the table is gone too");
    std::fs::write(dir.path().join("b.sql"), "insert into made values (2) on conflict do nothing;").unwrap();
    let v = mcp.ok("seed", json!({ "path": dir.path().to_str().unwrap() })).await;
    assert_eq!(v["counts"]["applied"], 2, "{v}");
    assert_eq!(count(&mcp, "select count(*) from made").await, 2);
    // A schema-qualified file name reaches a table outside the search path.
    db.exec("create schema app; create table app.items (id int primary key, qty int)").await;
    let other = tempfile::tempdir().unwrap();
    std::fs::write(other.path().join("app.items.json"), r#"[{"id": 1, "qty": 4}]"#).unwrap();
    let v = mcp.ok("seed", json!({ "path": other.path().to_str().unwrap() })).await;
    assert_eq!(v["files"][0]["table"], "app.items", "{v}");
    assert_eq!(count(&mcp, "select qty from app.items").await, 4);
    // A check that errors says which one it was.
    let e = mcp
        .err(
            "data-quality",
            json!({"checks": [{"name": "divides", "check": "custom_sql", "sql": "select 1 / (id - id) from made"}]}),
        )
        .await;
    assert!(e.contains("check \"divides\"") && e.contains("division by zero"), "{e}");
}

#[tokio::test]
async fn seed_whose_connection_dies_midway_leaves_nothing_on_postgres() {
    let db = TestDb::new(Kind::Postgres).await;
    db.exec("create table users (id integer primary key, name text not null, score integer)").await;
    let dir = tempfile::tempdir().unwrap();
    let mut csv = String::from("id,name,score\n");
    for i in 1..=300_000 {
        csv.push_str(&format!("{i},name {i},{}\n", i % 100));
    }
    std::fs::write(dir.path().join("users.csv"), csv).unwrap();
    let mcp = db.serve("read-write").await;
    let url = db.url.clone();
    // Kill the server's session once its transaction has written something.
    let killer = tokio::spawn(async move {
        let mut c = sqlx::PgConnection::connect(&url).await.unwrap();
        for _ in 0..500 {
            let killed: Vec<(bool,)> = sqlx::query_as(
                "select pg_terminate_backend(pid) from pg_stat_activity where datname = current_database() \
                 and application_name = 'data-engineer-mcp' and backend_xid is not null \
                 and query like 'INSERT INTO \"public\".\"users\"%'",
            )
            .fetch_all(&mut c)
            .await
            .unwrap();
            if !killed.is_empty() {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        false
    });
    let e = mcp.err("seed", json!({ "path": dir.path().to_str().unwrap() })).await;
    assert!(killer.await.unwrap(), "the run was caught inside its transaction");
    assert!(e.contains("users.csv") && e.contains("nothing was applied"), "{e}");
    assert_eq!(count(&mcp, "select count(*) from users").await, 0);
    assert_eq!(count(&mcp, "select count(*) from data_engineer_seeds").await, 0);
    let v = mcp.ok("seed", json!({ "path": dir.path().to_str().unwrap() })).await;
    assert_eq!(v["files"][0]["rows"], 300_000, "the same run completes when left alone: {v}");
}

#[tokio::test]
async fn seed_is_idempotent_and_atomic_on_mongodb() {
    // A replica set: the run is one multi-document transaction.
    seed_is_idempotent_and_atomic_on(TestDb::new(Kind::Mongo).await.url).await;
}

#[tokio::test]
async fn seed_is_idempotent_and_atomic_on_a_standalone_mongodb() {
    // No transactions: a failed run takes back what it wrote.
    let base = crate::support::server_url("DE_TEST_MONGO_STANDALONE_URL");
    seed_is_idempotent_and_atomic_on(format!("{base}seed_{}", std::process::id())).await;
}

async fn seed_is_idempotent_and_atomic_on(url: String) {
    let dir = tempfile::tempdir().unwrap();
    let seeds = dir.path().join("seeds");
    std::fs::create_dir(&seeds).unwrap();
    std::fs::write(seeds.join("teams.json"), r#"[{"_id": 1, "name": "core"}, {"_id": 2, "name": "ops"}]"#).unwrap();
    std::fs::write(seeds.join("users.json"), r#"[{"name": "Ann"}, {"name": "Bob"}]"#).unwrap();
    std::fs::write(seeds.join("tags.csv"), "_id,label,weight,active\n1,red,1.5,true\n2,blue,,false\n").unwrap();
    std::fs::write(seeds.join("notes.txt"), "not a seed").unwrap();
    let path = seeds.to_str().unwrap();
    let mcp = Mcp::spawn(&["--database-url", &url, "--mode", "read-write"], &[]).await;
    let v = mcp.ok("seed", json!({ "path": path })).await;
    assert_eq!(v["counts"]["applied"], 3, "{v}");
    assert_eq!(v["counts"]["ignored"], 1, "{v}");
    let m = mongodb::Client::with_uri_str(&url).await.unwrap().default_database().unwrap();
    let n = |c: &'static str| {
        let m = m.clone();
        async move { m.collection::<Document>(c).count_documents(doc! {}).await.unwrap() }
    };
    assert_eq!(n("teams").await, 2);
    assert_eq!(n("users").await, 2);
    // CSV fields are typed by what they look like, as load-csv types them; an empty one is null.
    let tags: Vec<Document> = {
        use futures::TryStreamExt;
        m.collection::<Document>("tags").find(doc! {}).sort(doc! {"_id": 1}).await.unwrap().try_collect().await.unwrap()
    };
    assert_eq!(
        tags,
        vec![
            doc! {"_id": 1, "label": "red", "weight": 1.5, "active": true},
            doc! {"_id": 2, "label": "blue", "weight": mongodb::bson::Bson::Null, "active": false}
        ]
    );
    assert_eq!(mcp.ok("seed", json!({ "path": path })).await["counts"]["unchanged"], 3);

    std::fs::write(seeds.join("teams.json"), r#"[{"_id": 1, "name": "platform"}, {"_id": 2, "name": "ops"}]"#).unwrap();
    assert_eq!(mcp.ok("seed", json!({ "path": path })).await["counts"]["changed"], 1);
    let v = mcp.ok("seed", json!({ "path": path, "reapply_changed": true })).await;
    assert_eq!(v["counts"]["reapplied"], 1, "{v}");
    let team = m.collection::<Document>("teams").find_one(doc! {"_id": 1}).await.unwrap().unwrap();
    assert_eq!(team.get_str("name").unwrap(), "platform");

    let broken = dir.path().join("broken");
    std::fs::create_dir(&broken).unwrap();
    std::fs::write(broken.join("members.json"), r#"[{"team": 1}, {"team": 2}]"#).unwrap();
    std::fs::write(broken.join("z_dupes.json"), r#"[{"_id": 7}, {"_id": 7}]"#).unwrap();
    let e = mcp.err("seed", json!({ "path": broken.to_str().unwrap() })).await;
    assert!(e.contains("z_dupes.json") && e.contains("nothing was applied"), "{e}");
    assert_eq!(n("members").await, 0, "documents of earlier files are taken back");
    assert_eq!(n("z_dupes").await, 0);
    assert_eq!(n("data_engineer_seeds").await, 3);

    // A failing re-apply puts replaced documents and the ledger back as they were.
    std::fs::write(broken.join("teams.json"), r#"[{"_id": 1, "name": "renamed"}, {"_id": 3, "name": "new"}]"#).unwrap();
    let e = mcp.err("seed", json!({ "path": broken.to_str().unwrap(), "reapply_changed": true })).await;
    assert!(e.contains("z_dupes.json"), "{e}");
    let team = m.collection::<Document>("teams").find_one(doc! {"_id": 1}).await.unwrap().unwrap();
    assert_eq!(team.get_str("name").unwrap(), "platform");
    assert_eq!(n("teams").await, 2, "the upserted document is gone again");
    assert_eq!(mcp.ok("seed", json!({ "path": path })).await["counts"]["unchanged"], 3, "ledger as before");
    m.drop().await.unwrap();
    mcp.close().await;
}

/// A streaming standby (the test bed's): caught up, it is 0 s behind however quiet its primary
/// is; with replay paused while the primary writes, the lag passes the limit and fails the check.
#[tokio::test]
async fn smoke_test_measures_replication_lag_on_a_postgres_standby() {
    let standby_url = crate::support::server_url("DE_TEST_PG_STANDBY_URL");
    let primary_url = crate::support::server_url("DE_TEST_PG_URL");
    let mut standby = sqlx::PgConnection::connect(&standby_url).await.unwrap();
    let mut primary = sqlx::PgConnection::connect(&primary_url).await.unwrap();
    // One writer at a time on the shared standby's replay (no other test pauses it).
    let table = format!("lag_probe_{}", std::process::id());
    primary.execute(AssertSqlSafe(format!("create table if not exists {table} (at timestamptz)"))).await.unwrap();
    let caught_up = async |standby: &mut sqlx::PgConnection| {
        for _ in 0..200 {
            let done: bool = sqlx::query_scalar("select pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn()")
                .fetch_one(&mut *standby)
                .await
                .unwrap();
            if done {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("the standby did not catch up");
    };
    let mcp = Mcp::spawn(&["--database-url", &standby_url, "--mode", "read-only"], &[]).await;
    let args = json!({"max_replication_lag_seconds": 1});

    standby.execute("select pg_wal_replay_pause()").await.unwrap();
    primary.execute(AssertSqlSafe(format!("insert into {table} values (now())"))).await.unwrap();
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let v = mcp.ok("smoke-test", args.clone()).await;
    standby.execute("select pg_wal_replay_resume()").await.unwrap();
    assert_eq!(status(&v, "replication-lag"), "fail", "{v}");
    assert!(check(&v, "replication-lag")["detail"].as_str().unwrap().contains("behind its primary"), "{v}");
    assert_eq!(v["passed"], false);

    caught_up(&mut standby).await;
    let v = mcp.ok("smoke-test", args).await;
    let lag = check(&v, "replication-lag");
    // Caught up is 0 s behind; a transaction of another test may be on its way, seconds at most.
    assert_eq!(lag["status"], "pass", "{v}");
    assert!(lag["detail"].as_str().unwrap().contains("s behind (limit 1 s)"), "{v}");
    primary.execute(AssertSqlSafe(format!("drop table {table}"))).await.unwrap();
    mcp.close().await;
}

/// The test bed's MariaDB replica: replicating, it passes; with its SQL thread stopped it has
/// no lag to report, which fails the check (replication is stopped).
#[tokio::test]
async fn smoke_test_checks_replication_on_a_mariadb_replica() {
    let replica_url = crate::support::server_url("DE_TEST_MYSQL_REPLICA_URL");
    let mut replica = sqlx::MySqlConnection::connect(&replica_url).await.unwrap();
    let mcp = Mcp::spawn(&["--database-url", &replica_url, "--mode", "read-only"], &[]).await;
    let args = json!({"max_replication_lag_seconds": 5});
    let v = mcp.ok("smoke-test", args.clone()).await;
    assert_eq!(status(&v, "replication-lag"), "pass", "{v}");
    assert!(check(&v, "replication-lag")["detail"].as_str().unwrap().contains("s behind (limit 5 s)"), "{v}");

    replica.execute("STOP SLAVE SQL_THREAD").await.unwrap();
    let v = mcp.ok("smoke-test", args.clone()).await;
    replica.execute("START SLAVE SQL_THREAD").await.unwrap();
    assert_eq!(status(&v, "replication-lag"), "fail", "{v}");
    assert!(check(&v, "replication-lag")["detail"].as_str().unwrap().contains("replication is stopped"), "{v}");
    assert_eq!(v["passed"], false);
    mcp.close().await;
}

/// A seed folder as dbt and migration tools lay it out: a schema file that sorts first creates
/// the tables on a fresh database, numbered data files fill them (`10_orders.csv` is table
/// `orders`), and a bad row is named by file and line.
async fn seed_numbered_files_after_a_schema(kind: Kind) {
    let db = TestDb::new(kind).await;
    let dir = tempfile::tempdir().unwrap();
    let seeds = dir.path().join("seeds");
    std::fs::create_dir(&seeds).unwrap();
    std::fs::write(
        seeds.join("00_schema.sql"),
        "create table customers (id integer primary key, name varchar(20) not null);
         create table orders (id integer primary key, customer_id integer references customers (id), total integer);",
    )
    .unwrap();
    std::fs::write(seeds.join("05_customers.csv"), "id,name\r\n1,ann\r\n2,bob\r\n").unwrap();
    std::fs::write(seeds.join("10_orders.csv"), "id,customer_id,total\r\n1,1,30\r\n2,2,\r\n").unwrap();
    let mcp = db.serve("read-write").await;
    let v = mcp.ok("seed", json!({ "path": seeds.to_str().unwrap() })).await;
    assert_eq!(v["counts"]["applied"], 3, "{v}");
    let tables: Vec<&str> = v["files"].as_array().unwrap().iter().filter_map(|f| f["table"].as_str()).collect();
    assert!(tables.iter().any(|t| t.ends_with("orders") && !t.contains("10_")), "{v}");
    assert_eq!(count(&mcp, "select count(*) from orders where total is null").await, 1);

    // A row the table refuses (a NULL name): the error names the file and the row's line (CRLF
    // counted right).
    let bad = dir.path().join("bad");
    std::fs::create_dir(&bad).unwrap();
    std::fs::write(bad.join("20_customers.csv"), "id,name\r\n3,cy\r\n4,\r\n").unwrap();
    let e = mcp.err("seed", json!({ "path": bad.to_str().unwrap() })).await;
    assert!(e.contains("20_customers.csv") && e.contains("line 3") && e.contains("nothing was applied"), "{e}");
    assert_eq!(count(&mcp, "select count(*) from customers").await, 2);
}

#[tokio::test]
async fn seed_numbered_files_after_a_schema_on_postgres() {
    seed_numbered_files_after_a_schema(Kind::Postgres).await;
}

#[tokio::test]
async fn seed_numbered_files_after_a_schema_on_sqlite() {
    seed_numbered_files_after_a_schema(Kind::Sqlite).await;
}

/// The first apply of a seed onto a table that already holds some of its rows upserts them on
/// the primary key instead of failing on the first duplicate.
async fn seed_first_apply_onto_existing_rows(kind: Kind) {
    let db = TestDb::new(kind).await;
    db.exec(
        "create table users (id integer primary key, name varchar(20) not null); insert into users values (1, 'old');",
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("users.csv"), "id,name\n1,ann\n2,bob\n").unwrap();
    let mcp = db.serve("read-write").await;
    let v = mcp.ok("seed", json!({ "path": dir.path().to_str().unwrap() })).await;
    assert_eq!(v["counts"]["applied"], 1, "{v}");
    assert_eq!(count(&mcp, "select count(*) from users").await, 2);
    assert_eq!(count(&mcp, "select count(*) from users where name = 'ann'").await, 1, "row 1 took the file's values");
}

#[tokio::test]
async fn seed_first_apply_onto_existing_rows_on_postgres() {
    seed_first_apply_onto_existing_rows(Kind::Postgres).await;
}

#[tokio::test]
async fn seed_first_apply_onto_existing_rows_on_mariadb() {
    seed_first_apply_onto_existing_rows(Kind::Mysql).await;
}

#[tokio::test]
async fn seed_first_apply_onto_existing_rows_on_sqlite() {
    seed_first_apply_onto_existing_rows(Kind::Sqlite).await;
}

/// A seed folder with subfolders (as dbt's): every file is applied, and the ledger names each by
/// its path inside the seed folder, so `eu/customers.csv` is not `customers.csv`.
#[tokio::test]
async fn seed_ledger_keys_are_paths_inside_the_folder() {
    let db = TestDb::new(Kind::Sqlite).await;
    db.exec("create table customers (id integer primary key, name text not null);").await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("eu")).unwrap();
    std::fs::write(dir.path().join("customers.csv"), "id,name\n1,ann\n").unwrap();
    std::fs::write(dir.path().join("eu").join("customers.csv"), "id,name\n2,bea\n").unwrap();
    let mcp = db.serve("read-write").await;
    let path = dir.path().to_str().unwrap();
    let v = mcp.ok("seed", json!({ "path": path })).await;
    assert_eq!(v["counts"]["applied"], 2, "{v}");
    assert_eq!(count(&mcp, "select count(*) from customers").await, 2);
    assert_eq!(count(&mcp, "select count(*) from data_engineer_seeds where file = 'eu/customers.csv'").await, 1);
    assert_eq!(mcp.ok("seed", json!({ "path": path })).await["counts"]["unchanged"], 2);
}
