//! bootstrap over stdio for every engine: the second run creates nothing; the PostgreSQL, MariaDB
//! and SQLite baselines apply on fresh databases (updated_at kept current, the seed idempotent) and
//! their down scripts bring the schema back exactly; the generated data-engineer.toml loads.

use serde_json::{Value, json};
use sqlx::{AssertSqlSafe, Connection, Row};

use crate::support::{Kind, Mcp, TestDb};

fn statuses(v: &Value) -> Vec<(String, String)> {
    v["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["path"].as_str().unwrap().to_string(), f["status"].as_str().unwrap().to_string()))
        .collect()
}

fn read(dir: &std::path::Path, rel: &str) -> String {
    std::fs::read_to_string(dir.join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

/// Every object in the database's own namespace, with enough detail to see a difference.
async fn fingerprint(db: &TestDb) -> Vec<String> {
    let sql = match db.kind {
        Kind::Postgres => {
            "select c.relkind::text || ' ' || c.relname from pg_class c where c.relnamespace = 'public'::regnamespace
             union all select 'function ' || proname from pg_proc where pronamespace = 'public'::regnamespace
             union all select 'trigger ' || tgname from pg_trigger t join pg_class c on c.oid = t.tgrelid
                       where c.relnamespace = 'public'::regnamespace and not t.tgisinternal
             union all select 'comment ' || description from pg_description d join pg_class c on c.oid = d.objoid
                       where c.relnamespace = 'public'::regnamespace
             order by 1"
        }
        Kind::Mysql => {
            "select concat(table_type, ' ', table_name, ' ', table_comment) from information_schema.tables
             where table_schema = database()
             union all select concat('trigger ', trigger_name) from information_schema.triggers
             where trigger_schema = database() order by 1"
        }
        Kind::Sqlite => "select type || ' ' || name from sqlite_master order by 1",
        Kind::Mongo => unreachable!(),
    };
    let rows: Vec<String> = match db.kind {
        Kind::Postgres => {
            let mut c = sqlx::PgConnection::connect(&db.url).await.unwrap();
            sqlx::query(sql).fetch_all(&mut c).await.unwrap().iter().map(|r| r.get(0)).collect()
        }
        Kind::Mysql => {
            let mut c = sqlx::MySqlConnection::connect(&db.url).await.unwrap();
            sqlx::query(sql).fetch_all(&mut c).await.unwrap().iter().map(|r| r.get(0)).collect()
        }
        _ => {
            let mut c = sqlx::SqliteConnection::connect(&db.url).await.unwrap();
            sqlx::query(sql).fetch_all(&mut c).await.unwrap().iter().map(|r| r.get(0)).collect()
        }
    };
    // The seed tool's ledger is its own, not the baseline's.
    rows.into_iter().filter(|o| !o.contains("data_engineer_seeds")).collect()
}

/// One value as text.
async fn scalar(db: &TestDb, sql: &str) -> String {
    let sql = AssertSqlSafe(sql.to_string());
    match db.kind {
        Kind::Postgres => {
            let mut c = sqlx::PgConnection::connect(&db.url).await.unwrap();
            sqlx::query(sql).fetch_one(&mut c).await.unwrap().get(0)
        }
        Kind::Mysql => {
            let mut c = sqlx::MySqlConnection::connect(&db.url).await.unwrap();
            sqlx::query(sql).fetch_one(&mut c).await.unwrap().get(0)
        }
        _ => {
            let mut c = sqlx::SqliteConnection::connect(&db.url).await.unwrap();
            sqlx::query(sql).fetch_one(&mut c).await.unwrap().get(0)
        }
    }
}

async fn scaffold_twice(mcp: &Mcp, dir: &std::path::Path, engine: &str) -> Value {
    let first = mcp.ok("bootstrap", json!({"dir": dir, "engine": engine, "name": "shop"})).await;
    assert_eq!(first["engine"], engine);
    assert_eq!(first["left_alone"], 0, "{first:#}");
    assert!(statuses(&first).iter().all(|(_, s)| s == "created"));
    let second = mcp.ok("bootstrap", json!({"dir": dir, "engine": engine, "name": "shop"})).await;
    assert_eq!(second["created"], 0, "the second run creates nothing: {second:#}");
    assert_eq!(second["left_alone"], first["created"]);
    assert_eq!(
        statuses(&second).iter().map(|(p, _)| p.clone()).collect::<Vec<_>>(),
        statuses(&first).iter().map(|(p, _)| p.clone()).collect::<Vec<_>>(),
        "same files, the baseline keeps its version"
    );
    first
}

/// The migration file names sqlx expects, and their texts.
fn baseline(dir: &std::path::Path, v: &Value) -> (String, String) {
    let files = statuses(v);
    let up = files.iter().find(|(p, _)| p.ends_with("_baseline.up.sql")).expect("an up migration").0.clone();
    let version = up.trim_start_matches("migrations/").split('_').next().unwrap();
    assert!(version.len() == 14 && version.bytes().all(|b| b.is_ascii_digit()), "timestamp version: {up}");
    let down = up.replace(".up.sql", ".down.sql");
    assert!(files.iter().any(|(p, _)| *p == down), "a down script beside the up one");
    (read(dir, &up), read(dir, &down))
}

async fn sql_engine(kind: Kind, engine: &str) {
    let db = TestDb::new(kind).await;
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("shop-db");
    let mcp = db.serve("read-only").await;
    let v = scaffold_twice(&mcp, &dir, engine).await;
    let order = mcp.ok("verify-order", json!({"path": dir.join("migrations"), "engine": engine})).await;
    assert_eq!(
        (order["in_order"].as_bool(), order["problems"].as_array().map(Vec::len)),
        (Some(true), Some(0)),
        "{order:#}"
    );
    mcp.close().await;
    for rel in ["seeds/001_items.sql", "snapshots/README.md", "README.md", "data-engineer.toml"] {
        assert!(dir.join(rel).is_file(), "{engine}: {rel}");
    }
    assert_eq!(dir.join("tests/rls/example.toml").is_file(), kind == Kind::Postgres, "RLS expectations: PostgreSQL");

    // Up, then the conventions hold, the seed is idempotent, and down restores the schema.
    let (up, down) = baseline(&dir, &v);
    let before = fingerprint(&db).await;
    db.exec(&up).await;
    let after_up = fingerprint(&db).await;
    assert!(after_up.iter().any(|o| o.contains("items")), "{engine}: {after_up:?}");
    // The seed is idempotent by itself (seed reruns a changed SQL file whole) and through the seed tool.
    let seed = read(&dir, "seeds/001_items.sql");
    db.exec(&seed).await;
    db.exec(&seed).await;
    let rw = db.serve("read-write").await;
    let first = rw.ok("seed", json!({"path": dir.join("seeds")})).await;
    assert_eq!(first["counts"]["applied"], 1, "{engine}: {first:#}");
    let again = rw.ok("seed", json!({"path": dir.join("seeds")})).await;
    assert_eq!((again["counts"]["applied"].as_u64(), again["counts"]["unchanged"].as_u64()), (Some(0), Some(1)));
    rw.close().await;
    assert_eq!(scalar(&db, "select cast(count(*) as char(10)) from items").await.trim(), "1", "{engine}: seeded once");
    db.exec("update items set updated_at = created_at").await;
    let stale = scalar(&db, "select cast(updated_at as char(40)) from items").await;
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    db.exec("update items set name = 'renamed'").await;
    let fresh = scalar(&db, "select cast(updated_at as char(40)) from items").await;
    assert!(fresh > stale, "{engine}: updated_at kept current ({stale} -> {fresh})");
    if kind == Kind::Postgres {
        let comments = after_up.iter().filter(|o| o.starts_with("comment ")).count();
        assert_eq!(comments, 5, "a comment on the table and on each column: {after_up:?}");
    }
    if kind != Kind::Sqlite {
        // The baseline passes the house's own audit: nothing reported on its objects.
        let mcp = db.serve("read-only").await;
        let audit = mcp.ok("security-audit", json!({"scope": "schema"})).await;
        let on_baseline: Vec<&Value> = audit["findings"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["object"].as_str().is_some_and(|o| o.contains("items") || o.contains("set_updated_at")))
            .collect();
        assert!(on_baseline.is_empty(), "{engine}: {on_baseline:#?}");
        mcp.close().await;
    }
    db.exec(&down).await;
    assert_eq!(fingerprint(&db).await, before, "{engine}: the down script reverts the up one");

    // The generated config loads with the server and reaches the database.
    let config = dir.join("data-engineer.toml");
    let mcp = Mcp::spawn(&["--config", config.to_str().unwrap()], &[("DATABASE_URL", &db.url)]).await;
    let env = mcp.ok("env-check", json!({})).await;
    let report = &env["databases"][0];
    assert_eq!((report["name"].as_str(), report["engine"].as_str()), (Some("shop"), Some(engine)), "{env:#}");
    assert_eq!(report["reachable"], true, "{env:#}");
    assert_eq!(report["mode"], "read-only");
    // With no engine given, bootstrap takes the configured database's.
    let other = tmp.path().join("default-engine");
    let v = mcp.ok("bootstrap", json!({"dir": other})).await;
    assert_eq!(v["engine"], engine);
    assert_eq!(v["name"], "default_engine", "the folder's name, made a plain identifier");
    mcp.close().await;
}

#[tokio::test]
async fn postgres_baseline_applies_and_reverts() {
    sql_engine(Kind::Postgres, "postgres").await;
}

#[tokio::test]
async fn mariadb_baseline_applies_and_reverts() {
    sql_engine(Kind::Mysql, "mysql").await;
}

#[tokio::test]
async fn sqlite_baseline_applies_and_reverts() {
    sql_engine(Kind::Sqlite, "sqlite").await;
}

#[tokio::test]
async fn mongodb_gets_a_validator_and_index_spec_instead_of_migrations() {
    let db = TestDb::new(Kind::Mongo).await;
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("shop");
    let mcp = db.serve("read-only").await;
    let v = scaffold_twice(&mcp, &dir, "mongodb").await;
    assert!(v["notes"][0].as_str().unwrap().contains("no migrations/ folder"), "{v:#}");
    assert!(!dir.join("migrations").exists());
    let validator: Value = serde_json::from_str(&read(&dir, "schemas/items.json")).unwrap();
    assert_eq!(validator["validator"]["$jsonSchema"]["required"], json!(["_id", "name", "created_at", "updated_at"]));
    let indexes: Value = serde_json::from_str(&read(&dir, "schemas/items.indexes.json")).unwrap();
    assert_eq!(indexes["indexes"][0]["unique"], true);
    // The index spec is what createIndexes takes: it applies on a real server.
    let client = mongodb::Client::with_uri_str(&db.url).await.unwrap();
    let mdb = client.default_database().unwrap();
    let spec = mongodb::bson::to_document(&json!({"createIndexes": "items", "indexes": indexes["indexes"]})).unwrap();
    mdb.run_command(spec).await.unwrap();
    // The validator is what collMod takes: with it the collection passes the audit's validator rule,
    // which fires before.
    let unvalidated = |audit: &Value| {
        audit["findings"].as_array().unwrap().iter().filter(|f| f["code"] == "collection-without-validator").count()
    };
    assert_eq!(unvalidated(&mcp.ok("security-audit", json!({"scope": "schema"})).await), 1);
    let schema = mongodb::bson::to_document(&json!({
        "collMod": "items",
        "validator": validator["validator"],
        "validationLevel": validator["validationLevel"],
        "validationAction": validator["validationAction"],
    }))
    .unwrap();
    mdb.run_command(schema).await.unwrap();
    assert_eq!(unvalidated(&mcp.ok("security-audit", json!({"scope": "schema"})).await), 0);
    mcp.close().await;
    // The seed documents pass the validator (Extended JSON dates become dates) through the seed tool.
    let rw = db.serve("read-write").await;
    let seeded = rw.ok("seed", json!({"path": dir.join("seeds")})).await;
    assert_eq!(seeded["counts"]["applied"], 1, "{seeded:#}");
    assert_eq!(rw.ok("seed", json!({"path": dir.join("seeds")})).await["counts"]["unchanged"], 1);
    rw.close().await;
    let doc = mdb.collection::<mongodb::bson::Document>("items").find_one(mongodb::bson::doc! {}).await.unwrap();
    assert!(doc.unwrap().get_datetime("created_at").is_ok(), "created_at is a date");

    let config = dir.join("data-engineer.toml");
    let mcp = Mcp::spawn(&["--config", config.to_str().unwrap()], &[("DATABASE_URL", &db.url)]).await;
    let env = mcp.ok("env-check", json!({})).await;
    assert_eq!(env["databases"][0]["engine"], "mongodb", "{env:#}");
    assert_eq!(env["databases"][0]["reachable"], true, "{env:#}");
    mcp.close().await;
}

#[tokio::test]
async fn existing_files_are_left_alone_and_nothing_is_written_outside() {
    let db = TestDb::new(Kind::Sqlite).await;
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("proj");
    std::fs::create_dir_all(dir.join("seeds")).unwrap();
    std::fs::write(dir.join("README.md"), "mine").unwrap();
    let mcp = db.serve("read-only").await;
    let v = mcp.ok("bootstrap", json!({"dir": dir, "engine": "sqlite"})).await;
    assert!(statuses(&v).contains(&("README.md".into(), "left-alone".into())), "{v:#}");
    assert_eq!(read(&dir, "README.md"), "mine", "never overwritten");
    assert_eq!(v["created"], 5);

    let e = mcp.err("bootstrap", json!({"dir": format!("{}/../escape", dir.display()), "engine": "sqlite"})).await;
    assert!(e.contains("must not contain `..`"), "{e}");
    assert!(!tmp.path().join("escape").exists());
    let outside = tempfile::tempdir().unwrap();
    let linked = tmp.path().join("linked");
    std::fs::create_dir(&linked).unwrap();
    std::os::unix::fs::symlink(outside.path(), linked.join("migrations")).unwrap();
    let e = mcp.err("bootstrap", json!({"dir": linked, "engine": "postgres"})).await;
    assert!(e.contains("symlink that leads outside"), "{e}");
    assert_eq!(std::fs::read_dir(outside.path()).unwrap().count(), 0, "nothing written through the link");
    let e = mcp.err("bootstrap", json!({"dir": tmp.path().join("n"), "name": "bad name"})).await;
    assert!(e.contains("not a usable name"), "{e}");
    mcp.close().await;
}
