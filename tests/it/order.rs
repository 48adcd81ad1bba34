//! verify-order over stdio on a migrations folder written in the wrong order (a view before its
//! tables, the base objects last, mutual foreign keys): the original order fails on a real
//! PostgreSQL database, the proposed one applies, and the result is a working schema.

use serde_json::{Value, json};
use sqlx::{AssertSqlSafe, Connection, Executor};

use crate::support::{Kind, TestDb};

const FIXTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/order/ddl");

fn problem<'a>(v: &'a Value, kind: &str, file: &str, statement: u64) -> Option<&'a Value> {
    v["problems"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["kind"] == kind && p["at"].as_str().unwrap().starts_with(&format!("{file}#{statement} ")))
}

/// Run a whole script in one transaction; the error, if any.
async fn apply(url: &str, script: &str) -> Result<(), String> {
    let mut c = sqlx::PgConnection::connect(url).await.unwrap();
    let mut tx = c.begin().await.unwrap();
    match tx.execute(sqlx::raw_sql(AssertSqlSafe(script.to_string()))).await {
        Ok(_) => tx.commit().await.map_err(|e| e.to_string()),
        Err(e) => Err(e.to_string()),
    }
}

#[tokio::test]
async fn proposed_order_applies_on_postgres_and_the_original_does_not() {
    let db = TestDb::new(Kind::Postgres).await;
    let mcp = db.serve("read-only").await;
    let v = mcp.ok("verify-order", json!({"path": FIXTURE, "emit_sql": true})).await;
    assert_eq!(v["engine"], "postgres");
    assert_eq!(v["files"], 3, "the .down.sql file is skipped");
    assert_eq!(v["statements"], 16);
    assert_eq!(v["in_order"], false);

    // The view needs tables created in the next file, with both locations.
    let view = problem(&v, "defined-later", "001_reports.sql", 1).expect("view before its tables");
    assert_eq!(view["at"], "001_reports.sql#1 line 2", "the line of CREATE VIEW, after the comment");
    let later: Vec<&Value> = v["problems"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["kind"] == "defined-later" && p["at"] == "001_reports.sql#1 line 2")
        .collect();
    assert!(
        later.iter().any(|p| p["object"] == "relation app.orders" && p["defined_at"] == "002_tables.sql#1 line 1"),
        "{later:#?}"
    );
    for (file, statement, object) in [
        ("002_tables.sql", 1, "type app.order_status"),
        ("002_tables.sql", 1, "sequence app.order_number"),
        ("002_tables.sql", 1, "table app.customers"),
        ("002_tables.sql", 3, "type citext"),
        ("002_tables.sql", 4, "function app.touch_updated_at"),
        ("002_tables.sql", 6, "function app.current_customer"),
    ] {
        let found = v["problems"].as_array().unwrap().iter().any(|p| {
            p["kind"] == "defined-later"
                && p["at"].as_str().unwrap().starts_with(&format!("{file}#{statement} "))
                && p["object"] == object
        });
        assert!(found, "{file}#{statement} needs {object}: {:#}", v["problems"]);
    }
    let base_problems =
        v["problems"].as_array().unwrap().iter().filter(|p| p["at"].as_str().unwrap().starts_with("003"));
    assert_eq!(base_problems.count(), 0, "the base file is in order within itself");
    let cycle = problem(&v, "cycle", "002_tables.sql", 1).expect("mutual foreign keys");
    assert_eq!(cycle["object"], "table app.orders");
    assert_eq!(
        v["proposed_order"],
        json!([
            "003_base.sql#1-6",
            "002_tables.sql#1*",
            "002_tables.sql#2-3",
            "001_reports.sql#1-2",
            "002_tables.sql#1+fk1",
            "002_tables.sql#4-8"
        ]),
        "the base first, orders without its key to customers, then the rest in the author's order"
    );
    assert_eq!(v["counts"]["cycle"], 1);
    assert_eq!(
        v["rewritten"][1]["sql"],
        "ALTER TABLE app.orders ADD FOREIGN KEY (customer_id) REFERENCES app.customers(id);"
    );

    // The fixture uses citext; on a server without contrib (the test bed's 16 and 18) a domain of
    // the same name stands in, as the subject here is the order, not the extension.
    let citext = db.extension_available("citext").await;
    let here = |sql: &str| {
        if citext {
            sql.to_string()
        } else {
            sql.replace("CREATE EXTENSION IF NOT EXISTS citext", "CREATE DOMAIN citext AS text")
        }
    };

    // The files as written fail on a fresh database; nothing is left behind.
    let original: String = ["001_reports.sql", "002_tables.sql", "003_base.sql"]
        .iter()
        .map(|f| std::fs::read_to_string(format!("{FIXTURE}/{f}")).unwrap())
        .collect::<Vec<_>>()
        .join("\n");
    let err = apply(&db.url, &here(&original)).await.expect_err("the original order must fail");
    assert!(err.contains("does not exist"), "{err}");

    // The proposed order applies and gives a schema that works.
    let proposed = v["sql"].as_str().unwrap();
    assert!(citext || here(proposed) != proposed, "the stand-in replaced the extension");
    apply(&db.url, &here(proposed)).await.unwrap_or_else(|e| panic!("proposed order failed: {e}\n{proposed}"));
    db.exec(
        "insert into app.customers (email) values ('Ann@example.com');
         insert into app.orders (customer_id) select id from app.customers;
         update app.customers set last_order_id = (select id from app.orders);
         update app.orders set status = 'open';",
    )
    .await;
    let mut c = sqlx::PgConnection::connect(&db.url).await.unwrap();
    let (fks, number, email): (i64, i64, String) = sqlx::query_as(
        "select (select count(*) from pg_constraint where contype = 'f' and connamespace = 'app'::regnamespace),
                (select number from app.open_orders), (select email::text from app.open_orders)",
    )
    .fetch_one(&mut c)
    .await
    .unwrap();
    assert_eq!((fks, number, email.as_str()), (2, 1000, "Ann@example.com"));

    // The proposed script is in order by its own verdict.
    let again = mcp.ok("verify-order", json!({"sql": proposed, "engine": "postgres"})).await;
    assert_eq!(again["in_order"], true, "{again:#}");
    assert!(again.get("proposed_order").is_none());
    mcp.close().await;
}

#[tokio::test]
async fn bad_input_is_refused_with_a_next_step() {
    let mongo = TestDb::new(Kind::Mongo).await;
    let mcp = mongo.serve("read-only").await;
    let e = mcp.err("verify-order", json!({"sql": "create table t (id int);"})).await;
    assert!(e.contains("not supported on mongodb") && e.contains("engine"), "{e}");
    let v = mcp
        .ok("verify-order", json!({"sql": "create index i on t (x); create table t (x int);", "engine": "sqlite"}))
        .await;
    assert_eq!(v["proposed_order"], json!(["sql#2", "sql#1"]));
    let e = mcp.err("verify-order", json!({"engine": "postgres"})).await;
    assert!(e.contains("exactly one of `path`"), "{e}");
    let missing = std::env::temp_dir().join("de-nonexistent-ddl");
    let e = mcp.err("verify-order", json!({"path": missing, "engine": "postgres"})).await;
    assert!(e.contains(&format!("cannot read {}", missing.display())), "{e}");
    let not_sql = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(not_sql.path(), "root:x:0:0:root:/root:/bin/bash\n").unwrap();
    let e = mcp.err("verify-order", json!({"path": not_sql.path(), "engine": "postgres"})).await;
    assert!(e.contains("not a .sql file") && !e.contains("root:x"), "{e}");
    let e = mcp.err("verify-order", json!({"path": "/etc/passwd", "engine": "postgres"})).await;
    assert!(e.contains("outside the directories"), "{e}");
    mcp.close().await;
}

/// `object -> in_database` of the defined-nowhere problems.
fn looked_up(v: &Value) -> Vec<(String, Value)> {
    let mut found: Vec<(String, Value)> = v["problems"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["kind"] == "defined-nowhere")
        .map(|p| (p["object"].as_str().unwrap().to_string(), p["in_database"].clone()))
        .collect();
    found.sort_by(|a, b| a.0.cmp(&b.0));
    found
}

#[tokio::test]
async fn objects_defined_nowhere_are_looked_up_in_the_configured_database() {
    let pg = TestDb::new(Kind::Postgres).await;
    pg.exec(
        "create schema auth; create table auth.users (id uuid primary key);
         create type mood as enum ('ok'); create function notify_change() returns trigger language plpgsql
         as 'begin return new; end';",
    )
    .await;
    let mcp = pg.serve("read-only").await;
    let v = mcp
        .ok(
            "verify-order",
            json!({"sql": "create table notes (id int primary key, owner uuid references auth.users (id), m mood,
                                              gone_id int references gone (id));
                           create trigger a before insert on notes for each row execute function notify_change();
                           create trigger b before insert on notes for each row execute function missing_fn();"}),
        )
        .await;
    assert_eq!(
        looked_up(&v),
        [
            ("function missing_fn".to_string(), json!(false)),
            ("function notify_change".to_string(), json!(true)),
            ("table auth.users".to_string(), json!(true)),
            ("table gone".to_string(), json!(false)),
            ("type mood".to_string(), json!(true)),
        ],
        "{v:#}"
    );
    assert!(v["catalog"].as_str().unwrap().contains("looked up in database main"), "{v:#}");
    // Another dialect than the database's: nothing to ask.
    let v = mcp.ok("verify-order", json!({"sql": "create index i on gone (x);", "engine": "sqlite"})).await;
    assert_eq!(looked_up(&v), [("table gone".to_string(), Value::Null)]);
    assert!(v.get("catalog").is_none());
    mcp.close().await;

    for kind in [Kind::Mysql, Kind::Sqlite] {
        let db = TestDb::new(kind).await;
        db.exec("create table users (id int primary key)").await;
        let mcp = db.serve("read-only").await;
        let v = mcp
            .ok(
                "verify-order",
                json!({"sql": "create table notes (id int primary key, user_id int references users (id),
                                                  gone_id int references gone (id));"}),
            )
            .await;
        assert_eq!(
            looked_up(&v),
            [("table gone".to_string(), json!(false)), ("table users".to_string(), json!(true))],
            "{kind:?}: {v:#}"
        );
        mcp.close().await;
    }
}

/// Run a script on MariaDB or SQLite; the error, if any. (MariaDB commits each DDL statement.)
async fn apply_on(db: &TestDb, script: &str) -> Result<(), String> {
    let script = AssertSqlSafe(script.to_string());
    match db.kind {
        Kind::Mysql => {
            let mut c = sqlx::MySqlConnection::connect(&db.url).await.unwrap();
            c.execute(sqlx::raw_sql(script)).await.map(|_| ()).map_err(|e| e.to_string())
        }
        _ => {
            let mut c = sqlx::SqliteConnection::connect(&db.url).await.unwrap();
            c.execute(sqlx::raw_sql(script)).await.map(|_| ()).map_err(|e| e.to_string())
        }
    }
}

#[tokio::test]
async fn proposed_order_applies_on_mariadb_and_sqlite() {
    let mariadb = TestDb::new(Kind::Mysql).await;
    let script =
        "CREATE VIEW open_orders AS SELECT o.id, c.email FROM orders o JOIN customers c ON c.id = o.customer_id;
        CREATE TABLE orders (id BIGINT PRIMARY KEY, customer_id BIGINT NOT NULL,
            CONSTRAINT orders_customer FOREIGN KEY (customer_id) REFERENCES customers (id));
        CREATE INDEX orders_customer_id ON orders (customer_id);
        CREATE TABLE customers (id BIGINT PRIMARY KEY, email VARCHAR(200) NOT NULL, last_order_id BIGINT,
            FOREIGN KEY (last_order_id) REFERENCES orders (id));";
    let mcp = mariadb.serve("read-only").await;
    let v = mcp.ok("verify-order", json!({"sql": script, "emit_sql": true})).await;
    assert_eq!(v["engine"], "mysql");
    assert_eq!(v["proposed_order"], json!(["sql#2*", "sql#3-4", "sql#1", "sql#2+fk1"]), "{v:#}");
    assert_eq!(
        v["rewritten"][1]["sql"],
        "ALTER TABLE orders ADD CONSTRAINT orders_customer FOREIGN KEY (customer_id) REFERENCES customers(id);"
    );
    let err = apply_on(&mariadb, script).await.expect_err("the original order fails");
    assert!(err.contains("doesn't exist"), "{err}");
    apply_on(&mariadb, v["sql"].as_str().unwrap()).await.expect("the proposed order applies");
    mariadb
        .exec(
            "insert into customers (id, email) values (1, 'a@example.com'); insert into orders values (10, 1);
             update customers set last_order_id = 10;",
        )
        .await;
    let err = apply_on(&mariadb, "insert into orders values (11, 99)").await.expect_err("the moved key is enforced");
    assert!(err.contains("foreign key constraint fails"), "{err}");
    mcp.close().await;

    let sqlite = TestDb::new(Kind::Sqlite).await;
    let script = "create index t_x on t (x); create trigger t_touch after insert on t begin select 1; end;
                  create table t (x int, y int references later (id)); create table later (id integer primary key);";
    let mcp = sqlite.serve("read-only").await;
    let v = mcp.ok("verify-order", json!({"sql": script, "emit_sql": true})).await;
    assert_eq!(v["proposed_order"], json!(["sql#3", "sql#1-2", "sql#4"]), "foreign keys need no order on SQLite");
    assert!(apply_on(&sqlite, script).await.expect_err("index before its table").contains("no such table"));
    apply_on(&sqlite, v["sql"].as_str().unwrap()).await.expect("the proposed order applies");
    mcp.close().await;
}
