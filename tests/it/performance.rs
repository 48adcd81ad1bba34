//! explain-analyze on every engine: the missing index is named, an analyzed DELETE deletes
//! nothing, and once the index exists the finding is gone.

use serde_json::{Value, json};

use crate::support::{Kind, Mcp, TestDb};

fn codes(v: &Value) -> Vec<String> {
    v["findings"].as_array().unwrap().iter().map(|f| f["code"].as_str().unwrap().to_string()).collect()
}

fn finding<'a>(v: &'a Value, code: &str) -> &'a Value {
    v["findings"].as_array().unwrap().iter().find(|f| f["code"] == code).unwrap_or_else(|| panic!("no {code} in {v}"))
}

async fn count_orders(mcp: &Mcp) -> Value {
    mcp.ok("run-sql", json!({"sql": "select count(*) as n from orders"})).await["rows"][0][0].clone()
}

/// The same story on each SQL engine (customers 100k rows, orders 1M rows, no index on the
/// foreign key): finding, rolled-back DELETE, design, index, no finding.
fn recommended(v: &Value, table: &str, first_column: &str) -> bool {
    v["recommendations"].as_array().unwrap().iter().any(|r| r["table"] == table && r["columns"][0] == first_column)
}

async fn sql_story(kind: Kind, fill: &[&str], create_index: &str, plans_writes_read_only: bool) {
    let db = TestDb::new(kind).await;
    for sql in fill {
        db.exec(sql).await;
    }
    // HypoPG where the server has it (the test bed's 15), the heuristics where not (16, 18).
    let hypopg = kind == Kind::Postgres && db.extension_available("hypopg").await;
    if hypopg {
        db.exec("create extension hypopg").await;
    }
    let rw = db.serve("read-write").await;
    let query = json!({"sql": "select * from orders where customer_id = 42"});
    let v = rw.ok("explain-analyze", query.clone()).await;
    assert_eq!(v["analyzed"], true);
    let f = finding(&v, "full-scan-selective");
    assert!(f["fix"].as_str().unwrap().contains("(customer_id)"), "{kind:?}: {f}");
    assert!(f["evidence"].as_str().unwrap().contains("orders"), "{kind:?}: {f}");
    assert!(v["plan_text"].as_str().unwrap().contains("orders"));

    let before = count_orders(&rw).await;
    let v = rw.ok("explain-analyze", json!({"sql": "delete from orders where customer_id < 1000"})).await;
    assert_eq!(v["rolled_back"], true);
    assert_eq!(count_orders(&rw).await, before, "{kind:?}: an analyzed DELETE must delete nothing");

    // design-indexes proposes the same index, costed by the planner where HypoPG is there.
    let design = rw.ok("design-indexes", query.clone()).await;
    assert!(recommended(&design, "orders", "customer_id"), "{kind:?}: {design}");
    let statement = design["recommendations"][0]["statement"].as_str().unwrap();
    assert!(statement.contains("orders") && statement.contains("(customer_id)"), "{statement}");
    if kind == Kind::Postgres {
        let r = &design["recommendations"][0];
        if hypopg {
            assert_eq!(design["hypothetical_costing"], true, "{design}");
            assert!(r["improvement_pct"].as_f64().unwrap() > 50.0 && r["estimated_bytes"].as_i64().unwrap() > 0, "{r}");
        } else {
            // No HypoPG on this server (the test bed's 16 and 18): still a recommendation, and it says how it was judged.
            assert_eq!(design["hypothetical_costing"], false, "{design}");
            assert!(r["improvement_pct"].is_null(), "{r}");
            let notes = serde_json::to_string(&design["notes"]).unwrap();
            assert!(notes.contains("HypoPG is not") && notes.contains("heuristics"), "{notes}");
        }
        assert!(statement.starts_with("CREATE INDEX CONCURRENTLY"), "{statement}");
        let problems = serde_json::to_string(&design["existing_index_problems"]).unwrap();
        assert!(problems.contains("fk-without-index") && problems.contains("orders_customer_id_fkey"), "{problems}");
        let join = json!({"sql": "select c.email, o.total from customers c join orders o on o.customer_id = c.id where c.email = 'u7@example.com'"});
        let v = rw.ok("explain-analyze", join).await;
        let f = finding(&v, "fk-join-without-index");
        assert!(f["evidence"].as_str().unwrap().contains("orders.customer_id"), "{f}");
    }

    rw.ok("run-sql", json!({ "sql": create_index })).await;
    let design = rw.ok("design-indexes", query.clone()).await;
    assert!(!recommended(&design, "orders", "customer_id"), "{kind:?}: proposed again after creation: {design}");
    // An identical second index is reported as a duplicate, with the statement that drops it.
    rw.ok("run-sql", json!({ "sql": create_index.replace("orders_customer_id_idx", "orders_customer_id_again") }))
        .await;
    let design = rw.ok("design-indexes", query.clone()).await;
    let problems = serde_json::to_string(&design["existing_index_problems"]).unwrap();
    assert!(
        problems.contains("\"duplicate\"") && problems.contains("orders_customer_id_again"),
        "{kind:?}: {problems}"
    );
    let v = rw.ok("explain-analyze", query.clone()).await;
    assert!(!codes(&v).contains(&"full-scan-selective".to_string()), "{kind:?}: still flagged after the index: {v}");
    rw.close().await;

    let ro = db.serve("read-only").await;
    let e = ro.err("explain-analyze", json!({"sql": "delete from orders"})).await;
    assert!(e.contains("only reads are analyzed"), "{e}");
    let plan_only = json!({"sql": "delete from orders", "analyze": false});
    if plans_writes_read_only {
        let v = ro.ok("explain-analyze", plan_only).await;
        assert_eq!(v["analyzed"], false);
    } else {
        // MariaDB will not even plan a write inside a read-only transaction.
        let e = ro.err("explain-analyze", plan_only).await;
        assert!(e.contains("READ ONLY"), "{e}");
    }
    let v = ro.ok("explain-analyze", json!({"sql": "select count(*) from orders", "raw": true})).await;
    assert!(!v["raw_plan"].is_null());
    assert_eq!(count_orders(&ro).await, before);
    ro.close().await;
}

#[tokio::test]
async fn postgres_explain_names_the_missing_index() {
    sql_story(
        Kind::Postgres,
        &[
            "create table customers (id bigint primary key, email text not null)",
            "insert into customers select g, 'u' || g || '@example.com' from generate_series(1, 100000) g",
            "create table orders (id bigserial primary key, customer_id bigint not null references customers(id), total numeric not null)",
            "insert into orders (customer_id, total) select (g % 100000) + 1, g from generate_series(1, 1000000) g",
            "analyze customers; analyze orders",
        ],
        "create index orders_customer_id_idx on orders (customer_id)",
        true,
    )
    .await;
}

#[tokio::test]
async fn mysql_explain_names_the_missing_index() {
    sql_story(
        Kind::Mysql,
        &[
            "create table customers (id bigint primary key, email varchar(100) not null)",
            "insert into customers select seq, concat('u', seq, '@example.com') from seq_1_to_100000",
            "create table orders (id bigint auto_increment primary key, customer_id bigint not null, total decimal(12, 2) not null)",
            "insert into orders (customer_id, total) select (seq % 100000) + 1, seq from seq_1_to_1000000",
        ],
        "create index orders_customer_id_idx on orders (customer_id)",
        false,
    )
    .await;
}

#[tokio::test]
async fn sqlite_explain_names_the_missing_index() {
    sql_story(
        Kind::Sqlite,
        &[
            "create table customers (id integer primary key, email text not null)",
            "create table orders (id integer primary key, customer_id integer not null references customers(id), total real not null)",
            "insert into customers (id, email) with recursive g(n) as (select 1 union all select n + 1 from g where n < 100000) select n, 'u' || n from g",
            "insert into orders (customer_id, total) with recursive g(n) as (select 1 union all select n + 1 from g where n < 1000000) select (n % 100000) + 1, n from g",
        ],
        "create index orders_customer_id_idx on orders (customer_id)",
        true,
    )
    .await;
}

#[tokio::test]
async fn mongodb_explain_flags_a_collection_scan_until_indexed() {
    use mongodb::bson::doc;
    let db = TestDb::new(Kind::Mongo).await;
    db.mongo_insert("orders", (0..20_000).map(|i| doc! {"customer": i % 2000, "total": i}).collect()).await;
    let mcp = db.serve("read-only").await;
    let args = json!({"collection": "orders", "filter": {"customer": 42}});
    let design = mcp.ok("design-indexes", args.clone()).await;
    assert_eq!(design["recommendations"][0]["statement"], r#"db.orders.createIndex({ "customer": 1 })"#, "{design}");
    let v = mcp.ok("explain-analyze", args.clone()).await;
    let f = finding(&v, "full-scan-selective");
    assert_eq!(f["fix"], r#"db.orders.createIndex({ "customer": 1 })"#, "{v}");
    let e = mcp.err("explain-analyze", json!({"collection": "orders", "pipeline": [{"$out": "x"}]})).await;
    assert!(e.contains("$out"), "{e}");

    let client = mongodb::Client::with_uri_str(&db.url).await.unwrap();
    let coll = client.default_database().unwrap().collection::<mongodb::bson::Document>("orders");
    coll.create_index(mongodb::IndexModel::builder().keys(doc! {"customer": 1}).build()).await.unwrap();
    coll.create_index(mongodb::IndexModel::builder().keys(doc! {"customer": 1, "total": 1}).build()).await.unwrap();
    let design = mcp.ok("design-indexes", args.clone()).await;
    assert!(design["recommendations"].as_array().unwrap().is_empty(), "{design}");
    let problems = serde_json::to_string(&design["existing_index_problems"]).unwrap();
    assert!(
        problems.contains("customer_1_total_1") && problems.contains("dropIndex(\\\"customer_1\\\")"),
        "{problems}"
    );
    let v = mcp.ok("explain-analyze", args).await;
    assert!(!codes(&v).contains(&"full-scan-selective".to_string()), "{v}");
    assert!(v["plan_text"].as_str().unwrap().contains("IXSCAN"), "{v}");
    mcp.close().await;
}

#[tokio::test]
async fn analyze_performance_ranks_findings_and_reads_the_workload() {
    use sqlx::Connection;
    let db = TestDb::new(Kind::Postgres).await;
    for sql in [
        "create table customers (id bigint primary key, email text not null)",
        "insert into customers select g, 'u' || g from generate_series(1, 3000) g",
        "create table orders (id bigserial primary key, customer_id bigint not null references customers(id), total numeric)",
        "insert into orders (customer_id, total) select (g % 3000) + 1, g from generate_series(1, 30000) g",
        "analyze customers; analyze orders",
    ] {
        db.exec(sql).await;
    }
    let mcp = db.serve("read-only").await;
    let v = mcp.ok("analyze-performance", json!({"sql": "select * from orders where customer_id = 7"})).await;
    assert_eq!(v["findings"][0]["code"], "full-scan-selective", "{v}");
    let stats = &v["table_stats"][0];
    assert_eq!(stats["table"], "orders");
    assert_eq!(stats["live_rows"], 30000, "{stats}");

    // Without pg_stat_statements in this database: exactly how to enable it.
    let v = mcp.ok("analyze-performance", json!({"mode": "hotpaths"})).await;
    let how = v["how_to_enable"].as_str().unwrap();
    assert!(how.contains("CREATE EXTENSION pg_stat_statements"), "{v}");
    // The test bed's 16 and 18 have no contrib: the server cannot have it, and the answer says so.
    let pgss = db.extension_available("pg_stat_statements").await;
    assert_eq!(how.contains("not available on this server"), !pgss, "{v}");

    if pgss {
        db.exec("create extension pg_stat_statements").await;
    }
    for _ in 0..3 {
        mcp.ok("run-sql", json!({"sql": "select count(*) from orders where total > 100"})).await;
    }
    // A session holding a row lock and one waiting for it.
    let mut holder = sqlx::PgConnection::connect(&db.url).await.unwrap();
    sqlx::raw_sql("begin; update customers set email = 'held' where id = 1").execute(&mut holder).await.unwrap();
    let url = db.url.clone();
    let waiter = tokio::spawn(async move {
        let mut c = sqlx::PgConnection::connect(&url).await.unwrap();
        let _ = sqlx::raw_sql("set lock_timeout = '5s'; update customers set email = 'waiting' where id = 1")
            .execute(&mut c)
            .await;
    });
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let v = mcp.ok("analyze-performance", json!({"mode": "hotpaths", "order_by": "calls", "limit": 20})).await;
    let statements = serde_json::to_string(&v["statements"]).unwrap().to_lowercase();
    if pgss {
        assert!(v.get("how_to_enable").is_none(), "{v}");
        assert!(statements.contains("from orders where total >"), "{statements}");
    } else {
        assert_eq!(statements, "[]", "{v}");
    }
    // Current activity needs no extension.
    let blocked =
        v["activity"].as_array().unwrap().iter().find(|a| a["blocked_by"].as_array().is_some_and(|b| !b.is_empty()));
    assert!(blocked.is_some_and(|b| b["query"].as_str().unwrap().contains("waiting")), "{v}");
    sqlx::raw_sql("rollback").execute(&mut holder).await.unwrap();
    waiter.await.unwrap();

    // Designing for the workload: the busy statement's filter column is proposed; without
    // statement statistics, a refusal saying how to get them.
    if !pgss {
        let e = mcp.err("design-indexes", json!({"from": "hotpaths"})).await;
        assert!(e.contains("not available on this server"), "{e}");
        mcp.close().await;
        return;
    }
    let v = mcp.ok("design-indexes", json!({"from": "hotpaths"})).await;
    let r =
        v["recommendations"].as_array().unwrap().iter().find(|r| r["table"] == "orders" && r["columns"][0] == "total");
    assert!(r.is_some_and(|r| r["workload_ms"].as_f64().unwrap() > 0.0), "{v}");
    mcp.close().await;
}

#[tokio::test]
async fn hotpaths_on_mariadb_sqlite_and_mongodb() {
    // MariaDB: statement digests from performance_schema (the test bed turns it on).
    let db = TestDb::new(Kind::Mysql).await;
    // The digest table holds 5,000 statements; on a long-lived test bed it fills up and new
    // statements land in its overflow row. Start from empty.
    db.exec("truncate performance_schema.events_statements_summary_by_digest").await;
    db.exec("create table items (id int primary key, price int, sku int, label int, key items_sku_idx (sku), key items_price_unused (label))").await;
    // The application's workload, over the text protocol (MariaDB does not digest statements
    // run through the binary protocol of prepared statements).
    for _ in 0..3 {
        db.exec("select count(*) from items where price > 10").await;
    }
    // And an application that prepares its statements (as drivers do), its connection still open.
    use sqlx::Connection as _;
    let mut app = sqlx::MySqlConnection::connect(&db.url).await.unwrap();
    for _ in 0..4 {
        sqlx::query("select id from items where sku = ?").bind(7).fetch_all(&mut app).await.unwrap();
    }
    let mcp = db.serve("read-only").await;
    let v = mcp.ok("analyze-performance", json!({"mode": "hotpaths", "order_by": "calls"})).await;
    assert!(v.get("how_to_enable").is_none(), "{v}");
    let statements = serde_json::to_string(&v["statements"]).unwrap().to_lowercase();
    assert!(statements.contains("items"), "{statements}");
    let prepared = v["statements"].as_array().unwrap().iter().find(|s| s["source"] == "prepared");
    assert!(
        prepared.is_some_and(
            |s| s["query"].as_str().unwrap().contains("sku = ?") && s["calls"].to_string().trim_matches('"') == "4"
        ),
        "prepared statements are counted too: {v}"
    );
    let design = mcp.ok("design-indexes", json!({"from": "hotpaths"})).await;
    let unused = design.to_string();
    assert!(
        unused.contains("\"unused\"") && unused.contains("items_price_unused"),
        "an index no statement used: {design}"
    );
    drop(app);
    assert!(
        design["recommendations"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["table"] == "items" && r["columns"][0] == "price"),
        "{design}"
    );
    mcp.close().await;

    let db = TestDb::new(Kind::Sqlite).await;
    let mcp = db.serve("read-only").await;
    let v = mcp.ok("analyze-performance", json!({"mode": "hotpaths"})).await;
    assert!(v["how_to_enable"].as_str().unwrap_or("").contains("SQLite keeps no statement statistics"), "{v}");
    mcp.close().await;

    let db = TestDb::new(Kind::Mongo).await;
    db.mongo_insert("orders", vec![mongodb::bson::doc! {"customer": 1}]).await;
    let mcp = db.serve("read-only").await;
    let v = mcp.ok("analyze-performance", json!({"mode": "hotpaths"})).await;
    assert!(v["how_to_enable"].is_string() || v["statements"].is_array(), "{v}");
    let v = mcp.ok("analyze-performance", json!({"collection": "orders", "filter": {"customer": 1}})).await;
    assert_eq!(v["table_stats"][0]["table"], "orders", "{v}");
    mcp.close().await;
}

#[tokio::test]
async fn a_rare_value_gets_a_partial_index_costed_by_hypopg() {
    let db = TestDb::new(Kind::Postgres).await;
    // Costed by HypoPG where the server has it (the test bed's 15); from column statistics alone where not.
    let hypopg = db.extension_available("hypopg").await;
    if hypopg {
        db.exec("create extension hypopg").await;
    }
    for sql in [
        "create table tickets (id bigserial primary key, status text not null, opened_at timestamptz not null)",
        "insert into tickets (status, opened_at) select case when g % 100 = 0 then 'open' else 'closed' end, \
         now() - g * interval '1 minute' from generate_series(1, 200000) g",
        "analyze tickets",
    ] {
        db.exec(sql).await;
    }
    let mcp = db.serve("read-only").await;
    let v = mcp
        .ok("design-indexes", json!({"sql": "select * from tickets where status = 'open' order by opened_at"}))
        .await;
    let r = &v["recommendations"][0];
    assert_eq!(
        r["statement"],
        "CREATE INDEX CONCURRENTLY tickets_opened_at_partial_idx ON tickets (opened_at) WHERE status = 'open';",
        "{v}"
    );
    assert!(r["reason"].as_str().unwrap().contains("partial index"), "{r}");
    if hypopg {
        assert!(r["improvement_pct"].as_f64().unwrap() > 50.0, "{r}");
    } else {
        assert!(r["improvement_pct"].is_null(), "{r}");
        assert!(serde_json::to_string(&v["notes"]).unwrap().contains("heuristics"), "{v}");
    }
    mcp.close().await;
}

/// PostgreSQL 18 counts each descent of an index (`Index Searches`; EXPLAIN ANALYZE also shows
/// buffers by default there): an IN list searches the index once per value. Older majors say
/// nothing of it, and the plan reader must not invent it.
#[tokio::test]
async fn postgres_plans_carry_index_searches_from_18_on() {
    let db = TestDb::new(Kind::Postgres).await;
    db.exec(
        "create table orders (id bigserial primary key, customer_id bigint not null, total numeric not null);
         insert into orders (customer_id, total) select g % 5000, g from generate_series(1, 50000) g;
         create index orders_customer_idx on orders (customer_id);
         analyze orders;",
    )
    .await;
    let major = db.pg_major().await;
    let mcp = db.serve("read-only").await;
    let v = mcp
        .ok(
            "explain-analyze",
            json!({"sql": "select count(*) from orders where customer_id in (7, 2500, 4999)", "raw": true}),
        )
        .await;
    let mut searches = Vec::new();
    fn walk(n: &Value, out: &mut Vec<Value>) {
        if n.get("index").is_some() {
            out.push(n["index_searches"].clone());
        }
        for c in n["children"].as_array().into_iter().flatten() {
            walk(c, out);
        }
    }
    walk(&v["plan"], &mut searches);
    assert!(!searches.is_empty(), "the index is used: {v}");
    let raw = v["raw_plan"].to_string();
    if major >= 18 {
        assert!(raw.contains("Index Searches") && raw.contains("Shared Hit Blocks"), "{raw}");
        assert_eq!(searches, vec![json!(3.0)], "{v}");
        assert!(v["plan_text"].as_str().unwrap().contains("index searches 3"), "{v}");
    } else {
        assert!(searches.iter().all(Value::is_null), "{v}");
    }
    mcp.close().await;
}
