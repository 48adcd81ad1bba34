//! The migration lifecycle over stdio against real databases: plan, dry-run, apply with a
//! snapshot, rollback; atomicity proved by failing on purpose and comparing snapshots; and
//! interop with sqlx's own Migrator in both directions, checksums included.

use std::path::Path;

use serde_json::{Value, json};

use crate::support::{Kind, Mcp, TestDb};

fn write(dir: &Path, name: &str, text: &str) {
    std::fs::write(dir.join(name), text).unwrap();
}

/// The fingerprint of the schema as the server describes it now.
async fn fingerprint(mcp: &Mcp) -> String {
    let v = mcp.ok("snapshot", json!({"label": "check"})).await;
    v["fingerprint"].as_str().unwrap().to_string()
}

async fn dry_run_then_apply(mcp: &Mcp, source: Value) -> Value {
    let d = mcp.ok("dry-run", source.clone()).await;
    assert_eq!(d["success"], true, "{d}");
    let mut args = source;
    args["plan_id"] = d["plan_id"].clone();
    args["confirm"] = json!(true);
    mcp.ok("apply-migration", args).await
}

/// sqlx's Migrator over the folder: it must accept what is applied (a checksum mismatch or a
/// dirty version is an error) and apply what is pending.
async fn sqlx_migrate(db: &TestDb, folder: &Path) {
    let migrator = sqlx::migrate::Migrator::new(folder).await.unwrap();
    match db.kind {
        Kind::Postgres => migrator.run(&sqlx::PgPool::connect(&db.url).await.unwrap()).await.unwrap(),
        Kind::Mysql => migrator.run(&sqlx::MySqlPool::connect(&db.url).await.unwrap()).await.unwrap(),
        Kind::Sqlite => migrator.run(&sqlx::SqlitePool::connect(&db.url).await.unwrap()).await.unwrap(),
        Kind::Mongo => unreachable!(),
    }
}

async fn interop(kind: Kind) {
    let db = TestDb::new(kind).await;
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path();
    write(folder, "1_create_users.up.sql", "CREATE TABLE users (id INTEGER PRIMARY KEY, name VARCHAR(50));\n");
    write(folder, "1_create_users.down.sql", "DROP TABLE users;\n");
    // sqlx applies version 1.
    sqlx_migrate(&db, folder).await;

    // The server sees it as applied, checksum included, and version 2 as the next one.
    write(folder, "2_add_email.up.sql", "ALTER TABLE users ADD COLUMN email VARCHAR(100);\n");
    write(folder, "2_add_email.down.sql", "ALTER TABLE users DROP COLUMN email;\n");
    let mcp = db.serve("read-write").await;
    let source = json!({"folder": folder.display().to_string()});
    let plan = mcp.ok("create-migration-plan", source.clone()).await;
    assert_eq!(plan["ledger"]["applied"], json!([1]), "{plan}");
    assert_eq!(plan["ledger"]["pending"], json!([2]));
    assert!(plan["ledger"].get("checksum_mismatches").is_none(), "{plan}");
    assert!(plan["source"].as_str().unwrap().contains("version 2"));
    let applied = dry_run_then_apply(&mcp, source.clone()).await;
    assert_eq!(applied["applied"], true, "{applied}");
    assert_eq!(applied["ledger_version"], 2);
    assert_eq!(applied["verification"]["ledger_checksum_ok"], true);
    mcp.close().await;

    // sqlx sees version 2 as applied (it would re-run it and fail, or report a mismatch,
    // otherwise), then applies version 3; the server sees that one too.
    sqlx_migrate(&db, folder).await;
    write(folder, "3_add_age.sql", "ALTER TABLE users ADD COLUMN age INTEGER;\n");
    sqlx_migrate(&db, folder).await;
    let mcp = db.serve("read-write").await;
    let e = mcp.err("create-migration-plan", source).await;
    assert!(e.contains("no pending migration"), "{e}");
    mcp.close().await;
}

#[tokio::test]
async fn sqlx_migrator_and_this_server_agree_on_postgres() {
    interop(Kind::Postgres).await;
}

#[tokio::test]
async fn sqlx_migrator_and_this_server_agree_on_mariadb() {
    interop(Kind::Mysql).await;
}

#[tokio::test]
async fn sqlx_migrator_and_this_server_agree_on_sqlite() {
    interop(Kind::Sqlite).await;
}

#[tokio::test]
async fn a_dirty_version_is_reported_with_how_to_recover() {
    let db = TestDb::new(Kind::Sqlite).await;
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "1_a.sql", "CREATE TABLE a (id INTEGER);\n");
    write(dir.path(), "2_b.sql", "CREATE TABLE b (id INTEGER);\n");
    sqlx_migrate(&db, dir.path()).await;
    db.exec("UPDATE _sqlx_migrations SET success = FALSE WHERE version = 2").await;
    let mcp = db.serve("read-write").await;
    write(dir.path(), "3_c.sql", "CREATE TABLE c (id INTEGER);\n");
    let e = mcp.err("create-migration-plan", json!({"folder": dir.path().display().to_string()})).await;
    assert!(
        e.contains("version 2 (b) is dirty") && e.contains("DELETE FROM _sqlx_migrations WHERE version = 2"),
        "{e}"
    );
    // An applied file edited afterwards is refused, as sqlx refuses it.
    db.exec("UPDATE _sqlx_migrations SET success = TRUE WHERE version = 2").await;
    write(dir.path(), "1_a.sql", "CREATE TABLE a (id INTEGER, edited INTEGER);\n");
    let e = mcp.err("create-migration-plan", json!({"folder": dir.path().display().to_string()})).await;
    assert!(e.contains("applied versions [1] changed since they were applied"), "{e}");
    mcp.close().await;
}

#[tokio::test]
async fn a_safe_postgres_migration_is_planned_tried_applied_and_rolled_back_to_its_snapshot() {
    let db = TestDb::new(Kind::Postgres).await;
    db.exec("create table orders (id bigint primary key, total int); insert into orders select g, g from generate_series(1, 1000) g;")
        .await;
    let mcp = db.serve("read-write").await;
    let base = mcp.ok("snapshot", json!({"label": "base"})).await;
    let sql = "create table notes (id bigint primary key, body text);\nalter table orders add column note_id bigint;";
    let plan = mcp.ok("create-migration-plan", json!({"sql": sql})).await;
    assert_eq!(plan["findings"].as_array().unwrap().iter().filter(|f| f["code"] == "changing-column-type").count(), 0);
    assert_eq!(plan["down"], "ALTER TABLE orders DROP COLUMN note_id;\nDROP TABLE notes;\n");
    assert_eq!(plan["steps"][1]["rewrites_table"], false, "{plan}");
    let applied = dry_run_then_apply(&mcp, json!({"sql": sql})).await;
    assert_eq!(applied["applied"], true, "{applied}");
    assert!(applied["snapshot_before"]["label"].as_str().unwrap().starts_with("before plan"));
    let added: Vec<&str> =
        applied["schema_diff"]["added"].as_array().unwrap().iter().map(|a| a["name"].as_str().unwrap()).collect();
    assert!(added.contains(&"public.notes") && added.contains(&"public.orders.note_id"), "{added:?}");

    // Back to the snapshot: shown first, refused without consent to lose data, then done.
    let shown = mcp.ok("rollback", json!({"to_snapshot": "base"})).await;
    assert_eq!(shown["dry_run_success"], true, "{shown}");
    assert_eq!(shown["reaches_snapshot"], true);
    assert_eq!(shown["drops_data"], json!(["column public.orders.note_id", "table public.notes"]));
    assert_eq!(shown["executed"], false);
    let args = json!({"to_snapshot": "base", "plan_id": shown["plan_id"], "confirm": true});
    let e = mcp.err("rollback", args.clone()).await;
    assert!(e.contains("data does not come back") && e.contains("accept_data_loss"), "{e}");
    let mut args = args;
    args["accept_data_loss"] = json!(true);
    let done = mcp.ok("rollback", args).await;
    assert_eq!(done["executed"], true, "{done}");
    assert_eq!(done["reaches_snapshot"], true);
    assert_eq!(fingerprint(&mcp).await, base["fingerprint"].as_str().unwrap());
    let list = mcp.ok("snapshot", json!({"list": true})).await;
    assert!(list["snapshots"].as_array().unwrap().len() >= 3, "{list}");
    mcp.close().await;
}

#[tokio::test]
async fn a_lock_heavy_postgres_migration_is_flagged() {
    let db = TestDb::new(Kind::Postgres).await;
    db.exec(
        "create table orders (id bigint primary key, total int, status text);
         insert into orders select g, g, 'new' from generate_series(1, 200000) g; analyze orders;",
    )
    .await;
    let mcp = db.serve("read-only").await;
    let sql = "create index orders_status on orders (status);\n\
               alter table orders alter column total type bigint;\n\
               alter table orders add constraint total_positive check (total > 0);";
    let plan = mcp.ok("create-migration-plan", json!({"sql": sql})).await;
    let steps = plan["steps"].as_array().unwrap();
    assert!(steps[0]["lock"].as_str().unwrap().starts_with("SHARE"), "{plan}");
    assert!(steps[0]["safer"].as_str().unwrap().contains("CONCURRENTLY"));
    assert!(steps[1]["lock"].as_str().unwrap().starts_with("ACCESS EXCLUSIVE"));
    assert_eq!(steps[1]["rewrites_table"], true);
    assert!(steps[1]["estimated_seconds"].as_f64().unwrap() > 0.0, "estimated from the real size: {plan}");
    assert!(steps[2]["safer"].as_str().unwrap().contains("NOT VALID"));
    // The down script restores the old type, read from the catalog.
    assert!(plan["down"].as_str().unwrap().contains("ALTER COLUMN total TYPE integer"), "{plan}");
    let codes: Vec<&str> = plan["findings"].as_array().unwrap().iter().map(|f| f["code"].as_str().unwrap()).collect();
    for code in ["require-concurrent-index-creation", "changing-column-type", "constraint-missing-not-valid"] {
        assert!(codes.contains(&code), "{code} missing: {codes:?}");
    }
    // Planning works on a read-only database; trying and applying run DDL, so they do not.
    let e = mcp.err("dry-run", json!({"sql": sql})).await;
    assert!(e.contains("read-only"), "{e}");
    let e = mcp.err("rollback", json!({"down": "drop index orders_status;"})).await;
    assert!(e.contains("read-only"), "{e}");
    mcp.close().await;
    let mcp = db.serve("read-write").await;
    let d = mcp.ok("dry-run", json!({"sql": sql})).await;
    assert_eq!(d["success"], true, "{d}");
    assert_eq!(d["reversible"], true, "{d}");
    mcp.close().await;
}

/// A migration whose third statement fails when applied (duplicates arrive between the dry-run
/// and the apply): the database is exactly as before, compared by snapshot.
async fn broken_third_statement(kind: Kind) {
    let db = TestDb::new(kind).await;
    db.exec("create table items (id int primary key, sku varchar(20))").await;
    let mcp = db.serve("read-write").await;
    // Statically broken: the dry-run names the statement.
    let broken =
        "alter table items add column a int;\ncreate table extra (id int primary key);\ninsert into nosuch values (1);";
    let d = mcp.ok("dry-run", json!({"sql": broken})).await;
    assert_eq!(d["success"], false);
    assert_eq!(d["failed"]["index"], 3, "{d}");
    assert_eq!(d["failed"]["line"], 3);
    assert_eq!(d["failed"]["position"], broken.find("insert").unwrap());
    assert!(d["failed"]["error"].as_str().unwrap().contains("nosuch"), "{d}");
    assert_eq!(d["verified"], false);

    let before = mcp.ok("snapshot", json!({"label": "before"})).await;
    let sql = "alter table items add column price int;\ncreate table extra (id int primary key);\n\
               create unique index items_sku on items (sku);";
    let d = mcp.ok("dry-run", json!({"sql": sql})).await;
    assert_eq!(d["success"], true, "{d}");
    db.exec("insert into items values (1, 'same'), (2, 'same')").await;
    let applied = mcp.ok("apply-migration", json!({"sql": sql, "plan_id": d["plan_id"], "confirm": true})).await;
    assert_eq!(applied["applied"], false, "{applied}");
    assert_eq!(applied["failed"]["index"], 3);
    assert_eq!(applied["statements_in_effect"], 0);
    assert_eq!(applied["unchanged"], true, "{applied}");
    let diff = mcp.ok("snapshot", json!({"diff": [before["snapshot"]["id"].to_string(), "current"]})).await;
    assert_eq!(diff["diff"], json!({"added": [], "removed": [], "changed": []}), "{diff}");
    if kind == Kind::Mysql {
        assert_eq!(applied["compensated"].as_array().unwrap().len(), 2, "{applied}");
        assert_eq!(applied["ran_before_failure"].as_array().unwrap().len(), 2, "{applied}");
    }
    mcp.close().await;
}

#[tokio::test]
async fn a_broken_third_statement_leaves_postgres_exactly_as_before() {
    broken_third_statement(Kind::Postgres).await;
}

#[tokio::test]
async fn a_broken_third_statement_leaves_mariadb_exactly_as_before() {
    broken_third_statement(Kind::Mysql).await;
}

#[tokio::test]
async fn a_broken_third_statement_leaves_sqlite_exactly_as_before() {
    broken_third_statement(Kind::Sqlite).await;
}

#[tokio::test]
async fn the_reversibility_check_catches_a_down_script_that_forgets_something() {
    for kind in [Kind::Sqlite, Kind::Mysql] {
        let db = TestDb::new(kind).await;
        db.exec("create table t (id int primary key)").await;
        let mcp = db.serve("read-write").await;
        let sql = "alter table t add column note varchar(20);\ncreate index t_note on t (note);";
        let forgetful_down = if kind == Kind::Mysql { "drop index t_note on t;" } else { "drop index t_note;" };
        let d = mcp.ok("dry-run", json!({"sql": sql, "down": forgetful_down})).await;
        assert_eq!(d["success"], true, "{d}");
        assert_eq!(d["reversible"], false, "{kind:?}: {d}");
        let left: Vec<&str> =
            d["reversibility_diff"]["added"].as_array().unwrap().iter().map(|a| a["name"].as_str().unwrap()).collect();
        assert_eq!(left, vec!["t.note"], "{kind:?}: {d}");
        // The generated down script is complete.
        let d = mcp.ok("dry-run", json!({"sql": sql})).await;
        assert_eq!(d["reversible"], true, "{kind:?}: {d}");
        mcp.close().await;
    }
}

#[tokio::test]
async fn apply_refuses_a_plan_id_that_does_not_match() {
    let db = TestDb::new(Kind::Postgres).await;
    db.exec("create table t (id int primary key)").await;
    let mcp = db.serve("read-write").await;
    let sql = "alter table t add column a int;";
    let d = mcp.ok("dry-run", json!({"sql": sql})).await;
    // Other SQL with this plan_id.
    let e = mcp
        .err(
            "apply-migration",
            json!({"sql": "alter table t add column b int;", "plan_id": d["plan_id"], "confirm": true}),
        )
        .await;
    assert!(e.contains("does not match"), "{e}");
    // An id no dry-run verified.
    let plan = mcp.ok("create-migration-plan", json!({"sql": "alter table t add column c int;"})).await;
    let e = mcp
        .err(
            "apply-migration",
            json!({"sql": "alter table t add column c int;", "plan_id": plan["plan_id"], "confirm": true}),
        )
        .await;
    assert!(e.contains("not verified by a successful dry-run"), "{e}");
    // No confirmation.
    let e = mcp.err("apply-migration", json!({"sql": sql, "plan_id": d["plan_id"]})).await;
    assert!(e.contains("confirmation required"), "{e}");
    // The schema changed since the dry-run.
    db.exec("create table other (id int)").await;
    let e = mcp.err("apply-migration", json!({"sql": sql, "plan_id": d["plan_id"], "confirm": true})).await;
    assert!(e.contains("schema changed since the dry-run"), "{e}");
    mcp.close().await;
}

#[tokio::test]
async fn mariadb_lint_rules_and_dry_run_in_a_scratch_database() {
    let db = TestDb::new(Kind::Mysql).await;
    db.exec(
        "create table orders (id int primary key, total decimal(10,2), check (total >= 0));
         create table refunds (id int primary key, amount int, check (amount > 0));",
    )
    .await;
    let mcp = db.serve("read-write").await;
    // MariaDB names both checks CONSTRAINT_1: each table still gets only its own.
    let v = mcp.ok("snapshot", json!({"include_objects": true})).await;
    let checks: Vec<(String, String)> = v["schema"]["objects"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|o| o["kind"] == "constraint")
        .map(|o| (o["name"].as_str().unwrap().to_string(), o["definition"].as_str().unwrap().to_string()))
        .collect();
    assert_eq!(checks.len(), 2, "{checks:?}");
    assert!(checks[0].1.contains("total") && checks[1].1.contains("amount"), "{checks:?}");
    let sql = "alter table orders modify column total decimal(12,2);\nalter table orders add column note text, algorithm=instant;";
    let plan = mcp.ok("create-migration-plan", json!({"sql": sql})).await;
    let codes: Vec<(&str, i64)> = plan["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["code"].as_str().unwrap(), f["statement"].as_i64().unwrap()))
        .collect();
    assert_eq!(codes, vec![("mysql-alter-copies-table", 1), ("mysql-algorithm-unspecified", 1)], "{plan}");
    let before = fingerprint(&mcp).await;
    let d = mcp.ok("dry-run", json!({"sql": sql})).await;
    assert_eq!(d["success"], true, "{d}");
    assert_eq!(d["reversible"], true, "{d}");
    assert!(d["notes"][0].as_str().unwrap().contains("scratch database"), "{d}");
    assert_eq!(fingerprint(&mcp).await, before, "the dry-run never touches the real schema");
    mcp.close().await;
}

#[tokio::test]
async fn write_creates_a_migration_pair_sqlx_can_run() {
    let db = TestDb::new(Kind::Sqlite).await;
    db.exec("create table t (id integer primary key)").await;
    let dir = tempfile::tempdir().unwrap();
    let mcp = db.serve("read-write").await;
    let plan = mcp
        .ok(
            "create-migration-plan",
            json!({"sql": "alter table t add column note text;", "folder": dir.path().display().to_string(), "write": true, "name": "add note"}),
        )
        .await;
    let written = plan["written"].as_array().unwrap();
    assert_eq!(written.len(), 2, "{plan}");
    let up = written[0].as_str().unwrap();
    assert!(up.ends_with("_add_note.up.sql"));
    // The file, applied by the server, is recorded under its version; sqlx then has nothing to do
    // (it would fail re-adding the column otherwise).
    let applied = dry_run_then_apply(&mcp, json!({"file": up})).await;
    assert!(applied["ledger_version"].as_i64().unwrap() > 20260000000000, "{applied}");
    assert_eq!(applied["verification"]["ledger_checksum_ok"], true);
    mcp.close().await;
    sqlx_migrate(&db, dir.path()).await;
}

#[tokio::test]
async fn mongodb_says_the_migration_tools_do_not_apply() {
    let db = TestDb::new(Kind::Mongo).await;
    let mcp = db.serve("read-write").await;
    for tool in ["create-migration-plan", "dry-run", "snapshot", "rollback"] {
        let e = mcp.err(tool, json!({"sql": "select 1"})).await;
        assert!(e.contains("not supported on mongodb") && e.contains("no fixed schema"), "{tool}: {e}");
    }
    mcp.close().await;
}

async fn rollback_to_snapshot(kind: Kind) {
    let db = TestDb::new(kind).await;
    db.exec("create table t (id int primary key)").await;
    let mcp = db.serve("read-write").await;
    let base = mcp.ok("snapshot", json!({"label": "base"})).await;
    let sql = "alter table t add column note varchar(20);\ncreate index t_note on t (note);\ncreate table u (id int primary key);";
    let applied = dry_run_then_apply(&mcp, json!({"sql": sql})).await;
    assert_eq!(applied["applied"], true, "{applied}");
    let shown = mcp.ok("rollback", json!({"to_snapshot": "base"})).await;
    assert_eq!(shown["dry_run_success"], true, "{kind:?}: {shown}");
    assert_eq!(shown["reaches_snapshot"], true, "{kind:?}: {shown}");
    assert_eq!(shown["manual"], json!([]), "{kind:?}: {shown}");
    if kind == Kind::Mysql {
        assert_eq!(shown["ddl"].as_array().unwrap().len(), 3, "index, column, table: {shown}");
    } else {
        // SQLite rebuilds the table (its CREATE text holds the columns): 4 steps, plus the drop.
        assert_eq!(shown["ddl"].as_array().unwrap().len(), 5, "{shown}");
    }
    let done = mcp
        .ok(
            "rollback",
            json!({"to_snapshot": "base", "plan_id": shown["plan_id"], "confirm": true, "accept_data_loss": true}),
        )
        .await;
    assert_eq!(done["executed"], true, "{kind:?}: {done}");
    assert_eq!(fingerprint(&mcp).await, base["fingerprint"].as_str().unwrap(), "{kind:?}");
    mcp.close().await;
}

#[tokio::test]
async fn rollback_to_a_snapshot_on_mariadb() {
    rollback_to_snapshot(Kind::Mysql).await;
}

#[tokio::test]
async fn rollback_to_a_snapshot_on_sqlite() {
    rollback_to_snapshot(Kind::Sqlite).await;
}

#[tokio::test]
async fn a_no_transaction_concurrent_index_and_a_version_rollback_on_postgres() {
    let db = TestDb::new(Kind::Postgres).await;
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path();
    write(folder, "1_orders.up.sql", "CREATE TABLE orders (id bigint PRIMARY KEY, status text);\n");
    write(folder, "1_orders.down.sql", "DROP TABLE orders;\n");
    write(
        folder,
        "2_orders_status.up.sql",
        "-- no-transaction\nCREATE INDEX CONCURRENTLY orders_status ON orders (status);\n",
    );
    write(folder, "2_orders_status.down.sql", "-- no-transaction\nDROP INDEX CONCURRENTLY orders_status;\n");
    let mcp = db.serve("read-write").await;
    let source = json!({"folder": folder.display().to_string()});
    assert_eq!(dry_run_then_apply(&mcp, source.clone()).await["ledger_version"], 1);
    let plan = mcp.ok("create-migration-plan", source.clone()).await;
    assert_eq!(plan["no_transaction"], true);
    assert!(plan["steps"][0]["lock"].as_str().unwrap().starts_with("SHARE UPDATE EXCLUSIVE"), "{plan}");
    let applied = dry_run_then_apply(&mcp, source.clone()).await;
    assert_eq!(applied["applied"], true, "{applied}");
    assert_eq!(applied["verification"]["invalid_indexes"], json!([]));
    assert_eq!(applied["verification"]["ledger_checksum_ok"], true);
    // sqlx agrees both are applied.
    sqlx_migrate(&db, folder).await;

    // Undo version 2 with its down file: the ledger row goes, and sqlx applies it again.
    let args = json!({"folder": folder.display().to_string(), "version": 2});
    let shown = mcp.ok("rollback", args.clone()).await;
    assert_eq!(shown["ddl"], json!(["DROP INDEX CONCURRENTLY orders_status"]), "{shown}");
    assert_eq!(shown["dry_run_success"], true, "{shown}");
    let mut args = args;
    args["plan_id"] = shown["plan_id"].clone();
    args["confirm"] = json!(true);
    let done = mcp.ok("rollback", args).await;
    assert_eq!(done["executed"], true, "{done}");
    let plan = mcp.ok("create-migration-plan", source).await;
    assert_eq!(plan["ledger"]["applied"], json!([1]), "{plan}");
    mcp.close().await;
    sqlx_migrate(&db, folder).await;
}

#[tokio::test]
async fn rollback_recreates_what_a_postgres_migration_dropped_except_the_data() {
    let db = TestDb::new(Kind::Postgres).await;
    db.exec(
        "create table customers (id bigint primary key, email text not null default '' check (email <> 'x'));
         create table orders (id bigint generated always as identity primary key,
                              customer_id bigint references customers (id), total numeric(12,2), note text);
         create index orders_customer on orders (customer_id);
         create view big_orders as select id, total from orders where total > 100;
         create function order_count() returns bigint language sql as 'select count(*) from orders';
         insert into customers values (1, 'a@b.c'); insert into orders (customer_id, total, note) values (1, 5, 'n');",
    )
    .await;
    let mcp = db.serve("read-write").await;
    // A new file: snapshot never replaces one unless told to (overwrite).
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("base.json");
    let base = mcp.ok("snapshot", json!({"label": "base", "file": file.display().to_string()})).await;
    let on_disk: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    assert!(on_disk["objects"].as_array().unwrap().len() > 10, "{on_disk}");
    let sql = "drop view big_orders;\ndrop index orders_customer;\nalter table orders drop column note;\n\
               alter table orders alter column total type numeric(14,2);\ndrop function order_count();";
    let plan = mcp.ok("create-migration-plan", json!({"sql": sql})).await;
    assert_eq!(plan["irreversible"].as_array().unwrap().len(), 1, "only the dropped column: {plan}");
    let applied = dry_run_then_apply(&mcp, json!({"sql": sql})).await;
    assert_eq!(applied["applied"], true, "{applied}");
    let shown = mcp.ok("rollback", json!({"to_snapshot": "base"})).await;
    assert_eq!(shown["reaches_snapshot"], true, "{shown}");
    assert_eq!(shown["drops_data"], json!([]), "{shown}");
    let done = mcp.ok("rollback", json!({"to_snapshot": "base", "plan_id": shown["plan_id"], "confirm": true})).await;
    assert_eq!(done["executed"], true, "{done}");
    assert_eq!(fingerprint(&mcp).await, base["fingerprint"].as_str().unwrap());
    assert!(done["notes"].as_array().unwrap().is_empty() || !done["ddl"].to_string().contains("DROP TABLE"));
    mcp.close().await;
}

#[tokio::test]
async fn a_postgres_snapshot_describes_every_kind_of_object_and_diffs() {
    let db = TestDb::new(Kind::Postgres).await;
    // Any extension will do: the test bed's 15 has contrib, its 16 and 18 only pgvector.
    let ext = if db.extension_available("pg_trgm").await { "pg_trgm" } else { "vector" };
    db.exec(&format!(
        "create extension {ext};
         create type mood as enum ('ok', 'sad');
         create sequence invoice_no start 100;
         create table customers (id bigint generated always as identity primary key, email text unique, m mood);
         create table orders (id bigserial primary key, customer_id bigint references customers (id),
                              total numeric(12,2) check (total >= 0));
         create index orders_customer on orders (customer_id);
         create view order_totals as select customer_id, sum(total) from orders group by customer_id;
         create function touch() returns trigger language plpgsql as 'begin return new; end';
         create trigger orders_touch before update on orders for each row execute function touch();
         alter table orders enable row level security;
         create policy orders_all on orders using (true);
         grant select on orders to public;
         select nextval('invoice_no');",
    ))
    .await;
    let mcp = db.serve("read-write").await;
    let v = mcp.ok("snapshot", json!({"label": "full", "include_objects": true})).await;
    let kinds: Vec<&str> = v["counts"].as_object().unwrap().keys().map(String::as_str).collect();
    for kind in [
        "extension",
        "type",
        "sequence",
        "table",
        "column",
        "constraint",
        "foreign key",
        "index",
        "view",
        "function",
        "trigger",
        "row level security",
        "policy",
        "grant",
    ] {
        assert!(kinds.contains(&kind), "{kind} missing: {kinds:?}");
    }
    assert_eq!(v["schema"]["positions"]["public.invoice_no"], 100, "{}", v["schema"]["positions"]);
    // Deterministic: the same schema gives the same fingerprint; a change shows in the diff.
    let again = mcp.ok("snapshot", json!({"label": "again"})).await;
    assert_eq!(again["fingerprint"], v["fingerprint"]);
    db.exec("alter table orders add column note text; drop policy orders_all on orders;").await;
    let d = mcp.ok("snapshot", json!({"diff": ["full", "current"]})).await;
    assert_eq!(d["diff"]["added"][0]["name"], "public.orders.note", "{d}");
    assert_eq!(d["diff"]["removed"][0]["name"], "public.orders.orders_all", "{d}");
    mcp.close().await;
}

#[tokio::test]
async fn sqlite_rolls_back_a_dropped_column_by_rebuilding_the_table_and_keeps_the_other_data() {
    let db = TestDb::new(Kind::Sqlite).await;
    db.exec(
        "create table t (id integer primary key, note text, total int not null default 0);
         create index t_total on t (total);
         create view big as select id from t where total > 10;
         insert into t values (1, 'a', 5), (2, 'b', 50);",
    )
    .await;
    let mcp = db.serve("read-write").await;
    let base = mcp.ok("snapshot", json!({"label": "base"})).await;
    let applied = dry_run_then_apply(&mcp, json!({"sql": "drop view big;\nalter table t drop column note;"})).await;
    assert_eq!(applied["applied"], true, "{applied}");
    let shown = mcp.ok("rollback", json!({"to_snapshot": "base"})).await;
    assert_eq!(shown["reaches_snapshot"], true, "{shown}");
    assert!(shown["ddl"].to_string().contains("RENAME TO"), "{shown}");
    let done = mcp.ok("rollback", json!({"to_snapshot": "base", "plan_id": shown["plan_id"], "confirm": true})).await;
    assert_eq!(done["executed"], true, "{done}");
    assert_eq!(fingerprint(&mcp).await, base["fingerprint"].as_str().unwrap());
    let rows = mcp.ok("run-sql", json!({"sql": "select id, note, total from t order by id"})).await;
    assert_eq!(rows["rows"], json!([[1, null, 5], [2, null, 50]]), "the other columns keep their data: {rows}");
    mcp.close().await;
}

/// The MySQL client's DELIMITER, as dumps and hand-written migrations use it: the migration
/// tools split the script as verify-order does (one splitter), so the procedure is created
/// whole and called after.
#[tokio::test]
async fn a_delimiter_script_migrates_on_mariadb() {
    let db = TestDb::new(Kind::Mysql).await;
    let mcp = db.serve("read-write").await;
    let sql = "create table t (id int primary key);\nDELIMITER //\ncreate procedure fill() begin insert into t values (1); insert into t values (2); end //\nDELIMITER ;\ncall fill();";
    let plan = mcp.ok("create-migration-plan", json!({ "sql": sql })).await;
    assert_eq!(plan["steps"].as_array().map(Vec::len), Some(3), "{plan}");
    let applied = dry_run_then_apply(&mcp, json!({ "sql": sql })).await;
    assert_ne!(applied["failed"], json!(true), "{applied}");
    let out = mcp.ok("run-sql", json!({ "sql": "select count(*) as n from t" })).await;
    assert_eq!(out["rows"][0][0], 2, "{out}");
}

/// What PostgreSQL's catalog says of an index: None when it does not exist, else whether it is valid.
async fn pg_index_valid(db: &TestDb, name: &str) -> Option<bool> {
    let mut c = <sqlx::PgConnection as sqlx::Connection>::connect(&db.url).await.unwrap();
    sqlx::query_scalar(
        "SELECT i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE c.relname = $1",
    )
    .bind(name)
    .fetch_optional(&mut c)
    .await
    .unwrap()
}

/// CREATE INDEX CONCURRENTLY needs no `-- no-transaction` header: the plan says the change runs
/// outside a transaction, the dry-run verifies what apply can run, apply builds a valid index;
/// a build that fails at apply time (duplicates arrived after the dry-run) leaves no INVALID
/// index behind. Ground truth: pg_index.
#[tokio::test]
async fn a_concurrent_index_applies_without_a_header_and_a_failed_build_leaves_nothing() {
    let db = TestDb::new(Kind::Postgres).await;
    db.exec(
        "create table orders (id bigint primary key, status text, code int);
         insert into orders select g, 'new', g from generate_series(1, 1000) g;",
    )
    .await;
    let mcp = db.serve("read-write").await;
    let sql = "CREATE INDEX CONCURRENTLY orders_status ON orders (status);";
    let plan = mcp.ok("create-migration-plan", json!({"sql": sql})).await;
    assert_eq!(plan["no_transaction"], true, "{plan}");
    assert!(!plan["findings"].to_string().contains("in-transaction"), "it does not run in one: {plan}");
    let applied = dry_run_then_apply(&mcp, json!({"sql": sql})).await;
    assert_eq!(applied["applied"], true, "{applied}");
    assert_eq!(pg_index_valid(&db, "orders_status").await, Some(true));
    // The way back, which the plan itself proposes, is understood too.
    let plan = mcp.ok("create-migration-plan", json!({"sql": "DROP INDEX CONCURRENTLY orders_status"})).await;
    let step = &plan["steps"][0];
    assert!(step["lock"].as_str().unwrap().starts_with("SHARE UPDATE EXCLUSIVE"), "{plan}");
    assert!(step["down"].as_str().unwrap().starts_with("CREATE INDEX CONCURRENTLY orders_status"), "{plan}");

    let sql = "CREATE UNIQUE INDEX CONCURRENTLY orders_code ON orders (code);";
    let d = mcp.ok("dry-run", json!({"sql": sql})).await;
    assert_eq!(d["success"], true, "{d}");
    db.exec("insert into orders values (1001, 'new', 1)").await;
    let applied = mcp.ok("apply-migration", json!({"sql": sql, "plan_id": d["plan_id"], "confirm": true})).await;
    assert_eq!(applied["applied"], false, "{applied}");
    assert_eq!(
        pg_index_valid(&db, "orders_code").await,
        None,
        "the failed build's INVALID index is dropped: {applied}"
    );
    let notes = applied["notes"].to_string();
    assert!(notes.contains("orders_code"), "the result says what was cleaned up: {applied}");
    mcp.close().await;
}
