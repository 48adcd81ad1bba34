//! Each engine end to end over stdio: typed rows, introspection, env-check, read-only enforced by
//! the database itself, caps, timeouts, atomic failures and reconnection.

use serde_json::{Value, json};

use crate::support::{Kind, Mcp, TestDb};

fn column<'a>(v: &'a Value, name: &str) -> &'a Value {
    let cols = v["columns"].as_array().unwrap();
    let i = cols.iter().position(|c| c["name"] == name).unwrap_or_else(|| panic!("no column {name} in {v}"));
    &v["rows"][0][i]
}

/// The text a model reads, with what changes from run to run replaced.
fn normalized_text(r: &rmcp::model::CallToolResult) -> String {
    let text = crate::support::text(r);
    let fence = text.split("<data ").nth(1).and_then(|s| s.split('>').next()).unwrap_or("").to_string();
    text.lines()
        .map(|l| if l.starts_with("elapsed_ms:") { "elapsed_ms: [varies]".to_string() } else { l.to_string() })
        .collect::<Vec<_>>()
        .join("\n")
        .replace(&fence, "FENCE")
}

async fn count(mcp: &crate::support::Mcp, sql: &str) -> i64 {
    let v = mcp.ok("run-sql", json!({ "sql": sql })).await;
    let n = &v["rows"][0][0];
    n.as_i64().or_else(|| n.as_str().and_then(|s| s.parse().ok())).unwrap()
}

#[tokio::test]
async fn postgres_end_to_end() {
    let db = TestDb::new(Kind::Postgres).await;
    let rw = db.serve("read-write").await;
    for sql in [
        "create table customers (id bigint generated always as identity primary key, email text not null unique, \
         api_token text, created_at timestamptz not null default now())",
        "create table orders (id bigserial primary key, customer_id bigint not null references customers(id), \
         total numeric(14,2) not null, placed_at timestamptz not null, meta jsonb, ref uuid, raw bytea, tags text[])",
        "comment on table orders is 'customer orders'",
        "insert into customers (email, api_token) values ('a@example.com', 'tok_live_abc'), ('b@example.com', null)",
        "insert into orders (customer_id, total, placed_at, meta, ref, raw, tags) values \
         (1, 123456789012.34, '2024-01-02T03:04:05.123Z', '{\"a\": [1, 2]}', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '\\xdeadbeef', '{x,y}')",
        "create function sneaky() returns int language plpgsql as $$ begin insert into customers (email) values ('evil@example.com'); return 1; end $$",
    ] {
        let v = rw.ok("run-sql", json!({ "sql": sql })).await;
        assert_eq!(v["committed"], true, "{sql}");
    }
    // A failing statement on a read-write database leaves nothing behind.
    rw.err("run-sql", json!({"sql": "insert into customers (email) values ('c@example.com'), (null)"})).await;
    assert_eq!(count(&rw, "select count(*) from customers").await, 2);

    // Queries are cached as prepared statements on every pooled connection; a schema change
    // must not break them.
    for _ in 0..8 {
        rw.ok("run-sql", json!({"sql": "select * from customers"})).await;
    }
    rw.ok("run-sql", json!({"sql": "alter table customers add column nickname text"})).await;
    for _ in 0..8 {
        let v = rw.ok("run-sql", json!({"sql": "select * from customers"})).await;
        assert_eq!(v["columns"].as_array().unwrap().len(), 5, "{v}");
    }

    let ro = db.serve("read-only").await;
    let env = ro.ok("env-check", json!({})).await;
    assert_eq!(env["databases"][0]["reachable"], true);
    let version = env["databases"][0]["version"].as_str().unwrap();
    assert!(version.starts_with(&format!("PostgreSQL {}.", db.pg_major().await)), "{version}");
    let checks = serde_json::to_string(&env["databases"][0]["checks"]).unwrap();
    assert!(checks.contains("extension pg_stat_statements") && checks.contains("privileges"), "{checks}");
    if !db.extension_available("pg_stat_statements").await {
        assert!(checks.contains("not available on this server"), "{checks}");
    }

    let v = ro
        .ok(
            "run-sql",
            json!({"sql": "select o.*, 9007199254740993::int8 as big, 42::int4 as small, interval '1 day' as span, \
              null::text as nothing from orders o"}),
        )
        .await;
    assert_eq!(column(&v, "total"), "123456789012.34");
    assert_eq!(column(&v, "placed_at"), "2024-01-02T03:04:05.123Z");
    assert_eq!(column(&v, "meta"), &json!({"a": [1, 2]}));
    assert_eq!(column(&v, "ref"), "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11");
    assert_eq!(column(&v, "raw"), "3q2+7w==");
    assert_eq!(column(&v, "tags"), &json!(["x", "y"]));
    assert_eq!(column(&v, "big"), "9007199254740993");
    assert_eq!(column(&v, "small"), 42);
    assert!(column(&v, "span").as_str().unwrap().contains("cast it to text"));
    assert_eq!(column(&v, "nothing"), &Value::Null);
    insta::assert_json_snapshot!("postgres_typed_columns", v["columns"]);

    // Zero rows still name and type the columns.
    let v = ro.ok("run-sql", json!({"sql": "select id, email from customers where false"})).await;
    assert_eq!(v["columns"], json!([{"name": "id", "type": "INT8"}, {"name": "email", "type": "TEXT"}]));

    // Secret-named columns are masked by default.
    let v = ro.ok("run-sql", json!({"sql": "select email, api_token from customers order by id"})).await;
    assert_eq!(v["rows"], json!([["a@example.com", "[masked]"], ["b@example.com", null]]));

    // Read-only: the parser refuses writes, and the database refuses what the parser cannot see.
    let e = ro.err("run-sql", json!({"sql": "insert into customers (email) values ('x@example.com')"})).await;
    assert!(e.contains("read-only"), "{e}");
    let e = ro.err("run-sql", json!({"sql": "select sneaky()"})).await;
    assert!(e.contains("25006") && e.contains("read-only transaction"), "{e}");
    assert_eq!(count(&ro, "select count(*) from customers").await, 2);

    let objects = ro.ok("list-objects", json!({"filter": "ord*"})).await;
    assert_eq!(objects["total"], 1);
    assert_eq!(objects["objects"][0]["comment"], "customer orders");
    assert_eq!(objects["objects"][0]["rls_enabled"], false);
    let d = ro.ok("describe", json!({"name": "public.orders"})).await;
    let o = &d["object"];
    assert_eq!(o["primary_key"], json!(["id"]));
    assert_eq!(o["foreign_keys"][0]["references"], "customers");
    assert_eq!(o["columns"].as_array().unwrap().len(), 8);
    assert_eq!(o["row_level_security"]["enabled"], false);

    // The row cap is pushed into the query's own LIMIT: PostgreSQL syntax must survive it.
    for sql in [
        "select o.id, o.total::text, o.meta->>'a' as a, o.meta @> '{\"a\": [1]}' as has from orders o where o.tags && array['x'] order by o.placed_at desc nulls last",
        "select distinct on (customer_id) customer_id, total from orders order by customer_id, placed_at desc",
        "select c.email, x.n from customers c cross join lateral (select count(*) as n from orders o where o.customer_id = c.id) x",
        "select customer_id, sum(total) filter (where total > 0) over (partition by customer_id) from orders",
        "with recursive t(n) as (select 1 union all select n + 1 from t where n < 5) select * from t",
        "select 'it''s' as quoted, E'a\\nb' as escaped, $$dollar$$ as d, 'orders'::regclass::text as rel, interval '1 day' + now() > now() as later",
        "select n from generate_series(1, 3) g(n) where n = any(array[1, 2]) and n is distinct from 3",
        "select email collate \"C\" from customers order by 1",
        "values (1, 'a'), (2, 'b')",
        "select grouping(customer_id), customer_id, count(*) from orders group by rollup (customer_id)",
        "select json_build_object('k', 1)::jsonb #>> '{k}' as k, now() at time zone 'UTC' as utc",
        "select x from unnest(array[3, 1, 2]) x order by x limit 2 offset 0",
    ] {
        ro.ok("run-sql", json!({ "sql": sql })).await;
    }
    let e = ro.err("run-sql", json!({"sql": "select * from customers for share"})).await;
    assert!(e.contains("25006"), "row locks need a read-write transaction: {e}");
    let v =
        ro.ok("run-sql", json!({"sql": "select n from generate_series(1, 50) n order by n desc", "max_rows": 3})).await;
    assert_eq!(v["rows"], json!([[50], [49], [48]]));

    // Caps: rows, then bytes, each saying so.
    let v = ro.ok("run-sql", json!({"sql": "select n from generate_series(1, 1000) n", "max_rows": 10})).await;
    assert_eq!(v["rows"].as_array().unwrap().len(), 10);
    assert_eq!(v["truncation"], json!({"truncated": true, "reason": "max_rows", "returned": 10, "max_rows": 10}));
    let v = ro.ok("run-sql", json!({"sql": "select repeat('x', 2000) as filler from generate_series(1, 150)"})).await;
    assert_eq!(v["truncation"]["reason"], "max_bytes");
    assert!(serde_json::to_vec(&v).unwrap().len() <= 64 * 1024);

    // Timeouts cancel on the server and leave the connection usable.
    let e = ro.err("run-sql", json!({"sql": "select pg_sleep(5)", "timeout_ms": 200})).await;
    assert!(e.starts_with("error (timeout)"), "{e}");
    assert_eq!(count(&ro, "select 1").await, 1);

    // The server's connections die (as on a restart): the next call reconnects.
    db.exec("select pg_terminate_backend(pid) from pg_stat_activity where application_name = 'data-engineer-mcp' and datname = current_database() and pid <> pg_backend_pid()").await;
    assert_eq!(count(&ro, "select count(*) from orders").await, 1);
    ro.close().await;
    rw.close().await;
}

#[tokio::test]
async fn mysql_end_to_end() {
    let db = TestDb::new(Kind::Mysql).await;
    let rw = db.serve("read-write").await;
    for sql in [
        "create table customers (id bigint auto_increment primary key, email varchar(200) not null unique, \
         password_hash varchar(100), created_at timestamp not null default current_timestamp) comment 'people who buy'",
        "create table orders (id bigint unsigned auto_increment primary key, customer_id bigint not null, total decimal(14,2) not null, \
         placed_at datetime(3) not null, meta json, raw varbinary(16), flag boolean, \
         index orders_placed (placed_at), foreign key (customer_id) references customers(id))",
        "insert into customers (email, password_hash) values ('a@example.com', '$2b$12$abcdefghijk'), ('b@example.com', null)",
        "insert into orders (customer_id, total, placed_at, meta, raw, flag) values (1, 123456789012.34, '2024-01-02 03:04:05.123', '{\"a\": 1}', x'deadbeef', true)",
    ] {
        rw.ok("run-sql", json!({ "sql": sql })).await;
    }
    db.exec("create function sneaky() returns int modifies sql data begin insert into customers (email) values ('evil@example.com'); return 1; end").await;
    let v = rw.ok("run-sql", json!({"sql": "create table scratch (id int)"})).await;
    assert!(v["notes"][0].as_str().unwrap().contains("commits DDL implicitly"));
    rw.err("run-sql", json!({"sql": "insert into customers (email) values ('c@example.com'), (null)"})).await;
    assert_eq!(count(&rw, "select count(*) from customers").await, 2);

    let ro = db.serve("read-only").await;
    let env = ro.ok("env-check", json!({})).await;
    assert_eq!(env["databases"][0]["reachable"], true);
    assert!(env["databases"][0]["version"].as_str().unwrap().contains("MariaDB"));

    let v = ro.ok("run-sql", json!({"sql": "select o.*, 18446744073709551615 as huge from orders o"})).await;
    assert_eq!(column(&v, "total"), "123456789012.34");
    assert_eq!(column(&v, "placed_at"), "2024-01-02T03:04:05.123");
    assert_eq!(column(&v, "raw"), "3q2+7w==");
    assert_eq!(column(&v, "id"), 1);
    assert_eq!(column(&v, "huge"), "18446744073709551615");
    let meta = column(&v, "meta");
    assert!(meta == &json!({"a": 1}) || meta == "{\"a\": 1}", "{meta}");
    insta::assert_json_snapshot!("mysql_typed_columns", v["columns"]);

    let v = ro.ok("run-sql", json!({"sql": "select email, password_hash from customers order by id"})).await;
    assert_eq!(v["rows"], json!([["a@example.com", "[masked]"], ["b@example.com", null]]));

    let e = ro.err("run-sql", json!({"sql": "delete from customers"})).await;
    assert!(e.contains("read-only"), "{e}");
    let e = ro.err("run-sql", json!({"sql": "select sneaky()"})).await;
    assert!(e.contains("READ ONLY"), "{e}");
    assert_eq!(count(&ro, "select count(*) from customers").await, 2);
    let e = ro.err("run-sql", json!({"sql": "select load_file('/etc/passwd')"})).await;
    assert!(e.contains("load_file"), "{e}");

    let objects = ro.ok("list-objects", json!({"filter": "cust"})).await;
    assert_eq!(objects["total"], 1);
    assert_eq!(objects["objects"][0]["comment"], "people who buy");
    let d = ro.ok("describe", json!({"name": "orders"})).await;
    let o = &d["object"];
    assert_eq!(o["primary_key"], json!(["id"]));
    assert_eq!(o["foreign_keys"][0]["references"], "customers");
    assert!(o["indexes"].as_array().unwrap().iter().any(|i| i["name"] == "orders_placed"));

    let v = ro.ok("run-sql", json!({"sql": "select seq from seq_1_to_1000", "max_rows": 5})).await;
    assert_eq!(v["truncation"]["reason"], "max_rows");
    assert_eq!(v["rows"].as_array().unwrap().len(), 5);
    let e = ro.err("run-sql", json!({"sql": "select sleep(5)", "timeout_ms": 300})).await;
    assert!(e.starts_with("error (timeout)"), "{e}");
    assert_eq!(count(&ro, "select 1").await, 1);
    ro.close().await;
    rw.close().await;
}

#[tokio::test]
async fn sqlite_end_to_end() {
    let db = TestDb::new(Kind::Sqlite).await;
    let rw = db.serve("read-write").await;
    for sql in [
        "create table customers (id integer primary key, email text not null unique, secret_key text)",
        "create table orders (id integer primary key, customer_id integer not null references customers(id), total real, raw blob, note text)",
        "create index orders_customer on orders (customer_id)",
        "insert into customers (email, secret_key) values ('a@example.com', 'k1'), ('b@example.com', null)",
        "insert into orders (customer_id, total, raw, note) values (1, 12.5, x'deadbeef', 'first')",
    ] {
        rw.ok("run-sql", json!({ "sql": sql })).await;
    }
    rw.err("run-sql", json!({"sql": "insert into customers (email) values ('c@example.com'), (null)"})).await;
    assert_eq!(count(&rw, "select count(*) from customers").await, 2);
    // Foreign keys are enforced.
    rw.err("run-sql", json!({"sql": "insert into orders (customer_id) values (99)"})).await;
    rw.close().await;

    let ro = db.serve("read-only").await;
    let r = ro.call("run-sql", json!({"sql": "select id, email, secret_key from customers order by id"})).await;
    insta::assert_snapshot!("sqlite_run_sql_text", normalized_text(&r));
    let v = ro.ok("run-sql", json!({"sql": "select * from orders"})).await;
    assert_eq!(column(&v, "total"), 12.5);
    assert_eq!(column(&v, "raw"), "3q2+7w==");
    let v = ro.ok("run-sql", json!({"sql": "select email, secret_key from customers order by id"})).await;
    assert_eq!(v["rows"], json!([["a@example.com", "[masked]"], ["b@example.com", null]]));
    let e = ro.err("run-sql", json!({"sql": "update customers set email = 'x'"})).await;
    assert!(e.contains("read-only"), "{e}");
    let e = ro.err("run-sql", json!({"sql": "PRAGMA query_only = 0"})).await;
    assert!(e.contains("pragma"), "{e}");
    let d = ro.ok("describe", json!({"name": "orders"})).await;
    assert_eq!(d["object"]["foreign_keys"][0]["references"], "customers");
    assert_eq!(d["object"]["indexes"][0]["name"], "orders_customer");
    let objects = ro.ok("list-objects", json!({"limit": 1})).await;
    assert_eq!(objects["total"], 2);
    assert_eq!(objects["next_cursor"], "1");
    let next = ro.ok("list-objects", json!({"limit": 1, "cursor": "1"})).await;
    assert_eq!(next["objects"][0]["name"], "orders");
    assert!(next.get("next_cursor").is_none());
    let e = ro
        .err("run-sql", json!({"sql": "with recursive c(x) as (select 1 union all select x + 1 from c) select count(*) from c", "timeout_ms": 200}))
        .await;
    assert!(e.starts_with("error (timeout)"), "{e}");
    ro.close().await;

    // Below the parser (switched off), the read-only file refuses writes by itself, and no
    // other file can be attached.
    let bare = Mcp::spawn(
        &["--database-url", &db.url, "--mode", "read-only"],
        &[("DATA_ENGINEER_UNSAFE_SKIP_PARSER_CHECK", "1")],
    )
    .await;
    let e = bare.err("run-sql", json!({"sql": "insert into customers (email) values ('evil@example.com')"})).await;
    assert!(e.contains("readonly"), "{e}");
    let other = db.url.replace("t.db", "other.db");
    let e = bare.err("run-sql", json!({"sql": format!("attach database '{}' as o", other.trim_start_matches("sqlite://").split('?').next().unwrap())})).await;
    assert!(e.starts_with("error (database)"), "{e}");
}

#[tokio::test]
async fn mongodb_end_to_end() {
    use mongodb::bson::{DateTime, doc, oid::ObjectId};
    let db = TestDb::new(Kind::Mongo).await;
    let customer = ObjectId::new();
    db.mongo_insert(
        "customers",
        vec![doc! {"_id": customer, "email": "a@example.com", "api_key": "k-123", "tier": "gold"}],
    )
    .await;
    db.mongo_insert(
        "orders",
        (0..30)
            .map(|i| doc! {"customer": customer, "total": i * 10, "at": DateTime::from_millis(1_700_000_000_000 + i), "tags": ["x"]})
            .collect(),
    )
    .await;

    let ro = db.serve("read-only").await;
    let env = ro.ok("env-check", json!({})).await;
    assert_eq!(env["databases"][0]["reachable"], true, "{env}");

    let v = ro
        .ok(
            "run-mongo",
            json!({"collection": "orders", "filter": {"total": {"$gte": 100}}, "sort": {"total": -1},
            "projection": {"_id": 0, "total": 1, "at": 1}, "max_rows": 3}),
        )
        .await;
    assert_eq!(v["documents"][0]["total"], 290);
    assert!(v["documents"][0]["at"]["$date"].is_string(), "{v}");
    assert_eq!(v["truncation"]["reason"], "max_rows");
    let v =
        ro.ok("run-mongo", json!({"collection": "customers", "filter": {"_id": {"$oid": customer.to_hex()}}})).await;
    assert_eq!(v["documents"][0]["email"], "a@example.com");
    assert_eq!(v["documents"][0]["api_key"], "[masked]");
    let v = ro
        .ok(
            "run-mongo",
            json!({"collection": "orders", "pipeline": [{"$group": {"_id": null, "sum": {"$sum": "$total"}}}]}),
        )
        .await;
    assert_eq!(v["documents"][0]["sum"], 4350);

    let e = ro.err("run-mongo", json!({"collection": "orders", "pipeline": [{"$out": "copy"}]})).await;
    assert!(e.contains("read-only"), "{e}");
    let e = ro.err("run-mongo", json!({"collection": "orders", "filter": {"$where": "sleep(100) || true"}})).await;
    assert!(e.contains("JavaScript"), "{e}");
    let e = ro.err("run-sql", json!({"sql": "select 1"})).await;
    assert!(e.contains("run-mongo"), "{e}");

    let objects = ro.ok("list-objects", json!({})).await;
    assert_eq!(objects["total"], 2);
    let d = ro.ok("describe", json!({"name": "orders", "sample": 50})).await;
    let fields = serde_json::to_string(&d["object"]["fields"]).unwrap();
    assert!(fields.contains("\"path\":\"total\"") && fields.contains("\"present_pct\":100.0"), "{fields}");
    assert_eq!(d["object"]["sampled_documents"], 30);
    ro.close().await;

    let rw = db.serve("read-write").await;
    rw.ok(
        "run-mongo",
        json!({"collection": "orders", "pipeline": [{"$match": {"total": {"$lt": 50}}}, {"$out": "small_orders"}]}),
    )
    .await;
    let objects = rw.ok("list-objects", json!({"filter": "small*"})).await;
    assert_eq!(objects["objects"][0]["row_estimate"], 5);
    rw.close().await;
}

#[tokio::test]
async fn listing_stays_small_on_a_database_with_500_tables() {
    let db = TestDb::new(Kind::Postgres).await;
    db.exec("do $$ begin for i in 1..500 loop execute format('create table t%s (id int primary key, name text)', i); end loop; end $$").await;
    let mcp = db.serve("read-only").await;
    let r = mcp.call("list-objects", json!({})).await;
    let v = r.structured_content.clone().unwrap();
    assert_eq!(v["total"], 500);
    assert_eq!(v["objects"].as_array().unwrap().len(), 100);
    assert_eq!(v["next_cursor"], "100");
    let bytes = serde_json::to_vec(&r).unwrap().len();
    assert!(bytes < 24 * 1024, "one page is {bytes} bytes");
    let filtered = mcp.ok("list-objects", json!({"filter": "t49*"})).await;
    assert_eq!(filtered["total"], 11);
    mcp.close().await;
}

#[tokio::test]
async fn several_named_databases_from_one_config_file() {
    let pg = TestDb::new(Kind::Postgres).await;
    let my = TestDb::new(Kind::Mysql).await;
    let lite = TestDb::new(Kind::Sqlite).await;
    let mongo = TestDb::new(Kind::Mongo).await;
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("multi.toml");
    std::fs::write(
        &config,
        format!(
            "[databases.pg]\nurl = \"${{DE_IT_PG}}\"\nmax_rows = 3\n[databases.my]\nurl = \"{}\"\n[databases.lite]\nurl = \"{}\"\nmode = \"read-write\"\n[databases.docs]\nurl = \"{}\"\n",
            my.url, lite.url, mongo.url
        ),
    )
    .unwrap();
    // An explicit --config wins over a DATABASE_URL in the environment.
    let mcp = crate::support::Mcp::spawn(
        &["--config", config.to_str().unwrap()],
        &[("DE_IT_PG", &pg.url), ("DATABASE_URL", "postgres://ignored@127.0.0.1:1/none")],
    )
    .await;
    let env = mcp.ok("env-check", json!({})).await;
    let names: Vec<&str> = env["databases"].as_array().unwrap().iter().map(|d| d["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["pg", "my", "lite", "docs"]);
    assert!(env["databases"].as_array().unwrap().iter().all(|d| d["reachable"] == true), "{env}");
    let v = mcp.ok("run-sql", json!({"sql": "select generate_series(1, 10)"})).await;
    assert_eq!(v["database"], "pg");
    assert_eq!(v["truncation"]["max_rows"], 3);
    let v = mcp.ok("run-sql", json!({"database": "my", "sql": "select version() like '%MariaDB%' as maria"})).await;
    assert_eq!(v["rows"], json!([[1]]));
    mcp.close().await;
}

#[tokio::test]
async fn every_engine_serves_2026_07_28_clients() {
    use rmcp::model::ProtocolVersion;
    for kind in [Kind::Postgres, Kind::Mysql, Kind::Sqlite, Kind::Mongo] {
        let db = TestDb::new(kind).await;
        let mcp = crate::support::Mcp::spawn_discover(&["--database-url", &db.url, "--mode", "read-write"]).await;
        assert_eq!(mcp.client.peer_info().unwrap().protocol_version, ProtocolVersion::V_2026_07_28);
        let env = mcp.ok("env-check", json!({})).await;
        assert_eq!(env["databases"][0]["reachable"], true, "{kind:?}: {env}");
        if kind == Kind::Mongo {
            db.mongo_insert("era", vec![mongodb::bson::doc! {"n": 1}]).await;
            let v = mcp.ok("run-mongo", json!({"collection": "era", "projection": {"_id": 0}})).await;
            assert_eq!(v["documents"], json!([{"n": 1}]));
        } else {
            mcp.ok("run-sql", json!({"sql": "create table era (id int primary key)"})).await;
            let v = mcp.ok("run-sql", json!({"sql": "select count(*) as n from era"})).await;
            assert_eq!(v["rows"][0][0], 0, "{kind:?}");
        }
        mcp.ok("list-objects", json!({})).await;
        mcp.close().await;
    }
}

/// The first read decides once whom reads run as (and, on MySQL, the server's flavour), on a
/// connection handed back before the read asks for one: the first call costs one connection,
/// not two, as the server itself counts them.
#[tokio::test]
async fn first_read_opens_one_connection() {
    for kind in [Kind::Postgres, Kind::Mysql] {
        let db = TestDb::new(kind).await;
        let mcp = db.serve("read-only").await;
        mcp.ok("run-sql", json!({ "sql": "select 1" })).await;
        let name = db.url.rsplit('/').next().unwrap().split('?').next().unwrap().to_string();
        let opened: i64 = match kind {
            Kind::Postgres => {
                let mut admin = <sqlx::PgConnection as sqlx::Connection>::connect(&db.url).await.unwrap();
                sqlx::query_scalar(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = $1 AND application_name = 'data-engineer-mcp'",
                )
                .bind(&name)
                .fetch_one(&mut admin)
                .await
                .unwrap()
            }
            _ => {
                let mut admin = <sqlx::MySqlConnection as sqlx::Connection>::connect(&db.url).await.unwrap();
                sqlx::query_scalar(
                    "SELECT count(*) FROM information_schema.PROCESSLIST WHERE DB = ? AND ID <> CONNECTION_ID()",
                )
                .bind(&name)
                .fetch_one(&mut admin)
                .await
                .unwrap()
            }
        };
        assert_eq!(opened, 1, "{kind:?}: connections the first read opened");
        mcp.close().await;
    }
}
