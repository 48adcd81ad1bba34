//! Writing stages and server-side JavaScript nested anywhere in a MongoDB request: `$out` /
//! `$merge` inside `$facet`, `$lookup` and `$unionWith` pipelines (at any depth) copy a whole
//! collection into a new one on servers that accept them (SecantusDB does). Read-only databases,
//! and the tools that only read, refuse them wherever they sit; the test bed's own driver then
//! lists the database's collections and reads the source back: nothing new, nothing changed.

use mongodb::bson::{Document, doc};
use serde_json::{Value, json};

use crate::support::{Kind, TestDb, text};

/// The database's collections, sorted, and every document of `users` (the attack's source).
async fn state(db: &TestDb) -> (Vec<String>, Vec<Document>) {
    use futures::TryStreamExt;
    let client = mongodb::Client::with_uri_str(&db.url).await.unwrap();
    let d = client.default_database().unwrap();
    let mut names = d.list_collection_names().await.unwrap();
    names.sort();
    let users = d.collection::<Document>("users").find(doc! {}).sort(doc! {"_id": 1}).await.unwrap();
    (names, users.try_collect().await.unwrap())
}

async fn users_db() -> TestDb {
    let db = TestDb::new(Kind::Mongo).await;
    db.mongo_insert(
        "users",
        vec![
            doc! {"_id": 1, "email": "a@example.com", "password": "hunter2"},
            doc! {"_id": 2, "email": "b@example.com", "password": "s3cret"},
        ],
    )
    .await;
    db
}

/// Pipelines that write into `into` from inside another stage.
fn nested_writes(into: &str) -> Vec<(&'static str, Value)> {
    vec![
        ("$out in $facet", json!([{"$facet": {"a": [{"$out": format!("{into}_1")}]}}])),
        ("$merge in $facet", json!([{"$facet": {"a": [{"$merge": {"into": format!("{into}_2")}}]}}])),
        (
            "$out in $lookup",
            json!([{"$lookup": {"from": "users", "as": "x", "pipeline": [{"$out": format!("{into}_3")}]}}]),
        ),
        (
            "$merge in $lookup",
            json!([{"$lookup": {"from": "users", "as": "x", "pipeline": [{"$merge": {"into": format!("{into}_4")}}]}}]),
        ),
        ("$out in $unionWith", json!([{"$unionWith": {"coll": "users", "pipeline": [{"$out": format!("{into}_5")}]}}])),
        (
            "$merge in $unionWith",
            json!([{"$unionWith": {"coll": "users", "pipeline": [{"$merge": format!("{into}_6")}]}}]),
        ),
        (
            "$out three levels down",
            json!([{"$match": {}}, {"$facet": {"a": [{"$lookup": {"from": "users", "as": "y", "pipeline": [
                {"$unionWith": {"coll": "users", "pipeline": [{"$out": format!("{into}_7")}]}}]}}]}}]),
        ),
    ]
}

#[tokio::test]
async fn run_mongo_on_a_read_only_database_refuses_writes_nested_anywhere() {
    let db = users_db().await;
    let before = state(&db).await;
    let ro = db.serve("read-only").await;
    let (mut wrote, mut answers, mut last) = (Vec::new(), Vec::new(), before.clone());
    for (what, pipeline) in nested_writes("stolen") {
        let r = ro.call("run-mongo", json!({"collection": "users", "pipeline": pipeline})).await;
        let now = state(&db).await;
        if now != last {
            wrote.push(what);
        }
        last = now;
        answers.push((what, r));
    }
    assert!(
        wrote.is_empty(),
        "run-mongo wrote into the read-only database with: {wrote:?}; now {:?}",
        state(&db).await.0
    );
    for (what, r) in answers {
        assert_eq!(r.is_error, Some(true), "{what}: {}", text(&r));
        let e = text(&r);
        assert!(e.contains("writes to a collection and this database is read-only"), "{what}: {e}");
        assert!(e.contains("next:"), "{what}: {e}");
    }
    // JavaScript in a find's projection is refused by the server check, not left to the server.
    let function = json!({"$function": {"body": "function() { return 1 }", "args": [], "lang": "js"}});
    let e = ro.err("run-mongo", json!({"collection": "users", "projection": {"x": function}})).await;
    assert!(e.contains("$function (at projection.x.$function) runs JavaScript"), "{e}");
    let e = ro
        .err(
            "run-mongo",
            json!({"collection": "users", "pipeline": [{"$facet": {"a": [{"$match": {"$where": "true"}}]}}]}),
        )
        .await;
    assert!(e.contains("$where (at pipeline[0].$facet.a[0].$match.$where) runs JavaScript"), "{e}");
    // Reading through the same stages still works.
    let v = ro
        .ok(
            "run-mongo",
            json!({"collection": "users", "pipeline": [{"$lookup": {"from": "users", "as": "x", "pipeline": [{"$match": {"_id": 1}}]}}]}),
        )
        .await;
    assert_eq!(v["documents"].as_array().unwrap().len(), 2, "{v}");
    ro.close().await;
    assert_eq!(state(&db).await, before);
}

#[tokio::test]
async fn data_quality_pipelines_never_write_nested_stages() {
    let db = users_db().await;
    let before = state(&db).await;
    // data-quality only reads, on a read-write database too.
    for mode in ["read-only", "read-write"] {
        let mcp = db.serve(mode).await;
        let (mut wrote, mut answers, mut last) = (Vec::new(), Vec::new(), before.clone());
        for (what, pipeline) in nested_writes(&format!("dq_{}", mode.replace('-', "_"))) {
            let check = json!({"check": "custom_pipeline", "table": "users", "pipeline": pipeline});
            let r = mcp.call("data-quality", json!({"checks": [check]})).await;
            let now = state(&db).await;
            if now != last {
                wrote.push(what);
            }
            last = now;
            answers.push((what, r));
        }
        assert!(
            wrote.is_empty(),
            "data-quality wrote on a {mode} database with: {wrote:?}; now {:?}",
            state(&db).await.0
        );
        for (what, r) in answers {
            assert_eq!(r.is_error, Some(true), "{mode} {what}: {}", text(&r));
            let e = text(&r);
            assert!(e.contains("writes to a collection and data-quality only reads"), "{mode} {what}: {e}");
        }
        mcp.close().await;
    }
}

#[tokio::test]
async fn explain_analyze_refuses_writes_nested_anywhere() {
    // SecantusDB's explain does not run a nested $out (so this never wrote there), but a server
    // whose explain executes the pipeline would: the same check refuses it whatever the mode.
    let db = users_db().await;
    let before = state(&db).await;
    let rw = db.serve("read-write").await;
    for (what, pipeline) in nested_writes("explained") {
        let e = rw.err("explain-analyze", json!({"collection": "users", "analyze": true, "pipeline": pipeline})).await;
        assert!(e.contains("writes to a collection and explain-analyze only reads"), "{what}: {e}");
        assert_eq!(state(&db).await, before, "explain-analyze with {what}");
    }
    rw.close().await;
}
