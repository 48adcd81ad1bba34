//! load-csv on real files of the shapes users have: a broken quote, CRLF line endings, empty
//! and quoted-empty fields. PostgreSQL's own `psql \copy` of the same file is the ground truth.

use std::path::{Path, PathBuf};

use mongodb::bson::{Document, doc};
use serde_json::{Value, json};
use sqlx::Connection;

use crate::support::{Kind, TestDb};

const TABLE_SQL: &str =
    "create table people (id int primary key, name varchar(10) not null, age int, joined date, note text)";

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/csv").join(name)
}

/// A fresh database with the `people` table (an empty collection on MongoDB).
async fn people(kind: Kind) -> TestDb {
    let db = TestDb::new(kind).await;
    if kind == Kind::Mongo {
        let client = mongodb::Client::with_uri_str(&db.url).await.unwrap();
        client.default_database().unwrap().create_collection("people").await.unwrap();
    } else {
        db.exec(TABLE_SQL).await;
    }
    db
}

/// The fixture as this engine loads it: MongoDB's key is `_id`.
fn file_for(kind: Kind, dir: &Path, name: &str) -> String {
    let bytes = std::fs::read(fixture(name)).unwrap();
    let bytes = if kind == Kind::Mongo { [b"_".as_slice(), &bytes].concat() } else { bytes };
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path.display().to_string()
}

/// `psql \copy` of the file into a fresh PostgreSQL `people` table: its rows, or its error.
async fn psql_copy(file: &Path) -> Result<Vec<Row>, String> {
    let db = people(Kind::Postgres).await;
    let out = std::process::Command::new("psql")
        .args([&db.url, "-X", "-v", "ON_ERROR_STOP=1", "-c"])
        .arg(format!("\\copy people from '{}' with (format csv, header)", file.display()))
        .output()
        .expect("psql runs");
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).into_owned());
    }
    Ok(rows(&db).await)
}

type Row = (i64, String, Option<i64>, Option<String>);

/// Rows of `people` as (id, name, age, note), ordered by id (MongoDB: values that are not text
/// as their Extended JSON text).
pub(crate) async fn rows(db: &TestDb) -> Vec<Row> {
    let sql = "select id, name, age, note from people order by id";
    match db.kind {
        Kind::Postgres => {
            let mut c = sqlx::PgConnection::connect(&db.url).await.unwrap();
            let r: Vec<(i32, String, Option<i32>, Option<String>)> =
                sqlx::query_as(sql).fetch_all(&mut c).await.unwrap();
            r.into_iter().map(|(a, b, c, d)| (a as i64, b, c.map(i64::from), d)).collect()
        }
        Kind::Mysql => {
            let mut c = sqlx::MySqlConnection::connect(&db.url).await.unwrap();
            let r: Vec<(i32, String, Option<i32>, Option<String>)> =
                sqlx::query_as(sql).fetch_all(&mut c).await.unwrap();
            r.into_iter().map(|(a, b, c, d)| (a as i64, b, c.map(i64::from), d)).collect()
        }
        Kind::Sqlite => {
            let mut c = sqlx::SqliteConnection::connect(&db.url).await.unwrap();
            sqlx::query_as(sql).fetch_all(&mut c).await.unwrap()
        }
        Kind::Mongo => {
            use futures::TryStreamExt;
            let client = mongodb::Client::with_uri_str(&db.url).await.unwrap();
            let coll = client.default_database().unwrap().collection::<Document>("people");
            let docs: Vec<Document> =
                coll.find(doc! {}).sort(doc! {"_id": 1}).await.unwrap().try_collect().await.unwrap();
            docs.into_iter()
                .map(|d| {
                    let int = |k: &str| match d.get(k) {
                        Some(mongodb::bson::Bson::Int32(i)) => Some(*i as i64),
                        Some(mongodb::bson::Bson::Int64(i)) => Some(*i),
                        _ => None,
                    };
                    let text = |k: &str| match d.get(k) {
                        Some(mongodb::bson::Bson::String(s)) => Some(s.clone()),
                        Some(mongodb::bson::Bson::Null) | None => None,
                        Some(other) => Some(other.to_string()),
                    };
                    (int("_id").unwrap(), text("name").unwrap_or_default(), int("age"), text("note"))
                })
                .collect()
        }
    }
}

fn load_args(file: &str, extra: Value) -> Value {
    let mut args = json!({"table": "people", "file": file});
    args.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
    args
}

/// An unterminated quote (line 3) and a stray one inside a field (line 3): `psql \copy` refuses
/// both files; load-csv rejects that one line, by number, and never loads the rest of the file
/// as one value.
async fn a_broken_quote_is_a_reject_with_its_line(kind: Kind) {
    for name in ["unterminated_quote.csv", "stray_quote.csv"] {
        let db = people(kind).await;
        let dir = tempfile::tempdir().unwrap();
        let truth = psql_copy(&fixture(name)).await;
        assert!(truth.as_ref().is_err_and(|e| e.contains("unterminated CSV quoted field")), "{name}: {truth:?}");
        let file = file_for(kind, dir.path(), name);
        let mcp = db.serve("read-write").await;
        let e = mcp.err("load-csv", load_args(&file, json!({}))).await;
        assert!(e.contains("nothing was loaded") && e.contains("line 3") && e.contains("quote"), "{name}: {e}");
        assert!(rows(&db).await.is_empty(), "{name}: abort loads nothing");
        let v = mcp.ok("load-csv", load_args(&file, json!({"on_error": "skip"}))).await;
        assert_eq!((v["rejected"].clone(), v["rejects"][0]["line"].clone()), (json!(1), json!(3)), "{name}: {v}");
        let ids: Vec<i64> = rows(&db).await.into_iter().map(|r| r.0).collect();
        let want = if name == "stray_quote.csv" { vec![1, 3] } else { vec![1, 3, 4] };
        assert_eq!(ids, want, "{name}: the lines after the broken one load as rows of their own");
        assert!(
            rows(&db).await.iter().all(|r| r.3.as_deref().is_none_or(|n| !n.contains('\n'))),
            "{name}: no value holds another line"
        );
        mcp.close().await;
    }
}

/// CRLF line endings (dbt's seed files): bad rows are named by their real line, a quoted line
/// break stays in its value.
async fn crlf_files_name_the_right_line(kind: Kind) {
    let db = people(kind).await;
    let dir = tempfile::tempdir().unwrap();
    let file = file_for(kind, dir.path(), "crlf_bad_rows.csv");
    let mcp = db.serve("read-write").await;
    let v = mcp.ok("load-csv", load_args(&file, json!({"on_error": "skip"}))).await;
    let lines: Vec<Value> = v["rejects"].as_array().unwrap().iter().map(|r| r["line"].clone()).collect();
    let want = if kind == Kind::Mongo { vec![json!(5)] } else { vec![json!(4), json!(5)] };
    assert_eq!(lines, want, "{v}");
    let got = rows(&db).await;
    assert_eq!(got[0].3.as_deref(), Some("two\r\nlines"), "{got:?}");
    mcp.close().await;
}

/// Empty fields follow COPY's CSV rules: unquoted empty is NULL, quoted `""` the empty string;
/// every row is what `psql \copy` stores for the same file (a NOT NULL column refuses a NULL).
async fn empty_fields_follow_copy(kind: Kind) {
    let db = people(kind).await;
    let dir = tempfile::tempdir().unwrap();
    let truth = psql_copy(&fixture("empty_fields.csv")).await.expect("psql \\copy loads the file");
    let file = file_for(kind, dir.path(), "empty_fields.csv");
    let mcp = db.serve("read-write").await;
    mcp.ok("load-csv", load_args(&file, json!({}))).await;
    assert_eq!(rows(&db).await, truth);
    // An unquoted empty name is NULL: the NOT NULL column refuses the row, as COPY does.
    if kind != Kind::Mongo {
        let empty_name = dir.path().join("empty_name.csv");
        std::fs::write(&empty_name, "id,name,age,joined,note\n9,,1,,\n").unwrap();
        assert!(psql_copy(&empty_name).await.is_err_and(|e| e.contains("not-null")));
        let e = mcp.err("load-csv", load_args(&empty_name.display().to_string(), json!({}))).await;
        assert!(e.contains("line 2, column name: empty, but the column is NOT NULL"), "{e}");
    }
    mcp.close().await;
}

/// Abort mode counts every bad row of every class the file has (values, widths, broken
/// quotes), not the first few: 13 here, more than it lists.
async fn abort_counts_every_bad_row(kind: Kind) {
    let db = people(kind).await;
    let dir = tempfile::tempdir().unwrap();
    let key = if kind == Kind::Mongo { "_id" } else { "id" };
    let mut csv = format!("{key},name,age\n1,ann,30\n");
    for i in 2..12 {
        csv.push_str(&format!("{i},short\n"));
    }
    csv.push_str("12,bob,1,extra\n13,cy,\"40\n14,dee,2,3,4\n15,eve,5\n");
    let file = dir.path().join("bad.csv");
    std::fs::write(&file, csv).unwrap();
    let mcp = db.serve("read-write").await;
    let e = mcp.err("load-csv", load_args(&file.display().to_string(), json!({}))).await;
    assert!(e.contains("13 bad rows found, nothing was loaded") && !e.contains("at least"), "{e}");
    assert!(rows(&db).await.is_empty());
    mcp.close().await;
}

/// MongoDB: a value the preview guesses a date or timestamp is stored as a BSON date; loading
/// the same file again in insert mode (its rows get new `_id`s) is refused, not duplicated.
#[tokio::test]
async fn a_mongodb_load_stores_dates_and_refuses_a_duplicate_run() {
    let db = people(Kind::Mongo).await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("events.csv");
    std::fs::write(
        &file,
        "name,joined,seen\nann,2024-01-02,2024-01-02T10:30:00Z\nbob,2024-02-03,2024-02-03 08:00:00\n",
    )
    .unwrap();
    let file = file.display().to_string();
    let mcp = db.serve("read-write").await;
    let v = mcp.ok("load-csv", load_args(&file, json!({"preview": true}))).await;
    assert_eq!(v["guessed"][1]["guessed"], json!("date"), "{v}");
    let v = mcp.ok("load-csv", load_args(&file, json!({}))).await;
    assert_eq!(v["inserted"], json!(2), "{v}");
    let client = mongodb::Client::with_uri_str(&db.url).await.unwrap();
    let coll = client.default_database().unwrap().collection::<Document>("people");
    let ann = coll.find_one(doc! {"name": "ann"}).await.unwrap().unwrap();
    let joined = ann.get_datetime("joined").unwrap_or_else(|_| panic!("a BSON date: {ann}"));
    assert_eq!(joined.try_to_rfc3339_string().unwrap(), "2024-01-02T00:00:00Z");
    let seen = ann.get_datetime("seen").unwrap_or_else(|_| panic!("a BSON date: {ann}"));
    assert_eq!(seen.try_to_rfc3339_string().unwrap(), "2024-01-02T10:30:00Z");
    let e = mcp.err("load-csv", load_args(&file, json!({}))).await;
    assert!(e.contains("already") && e.contains("lines 2 and 3") && e.contains("skip-duplicates"), "{e}");
    assert_eq!(coll.count_documents(doc! {}).await.unwrap(), 2, "a second run adds nothing");
    mcp.close().await;
}

macro_rules! on_every_engine {
    ($scenario:ident) => {
        mod $scenario {
            use super::*;
            #[tokio::test]
            async fn postgres() {
                super::$scenario(Kind::Postgres).await
            }
            #[tokio::test]
            async fn mysql() {
                super::$scenario(Kind::Mysql).await
            }
            #[tokio::test]
            async fn sqlite() {
                super::$scenario(Kind::Sqlite).await
            }
            #[tokio::test]
            async fn mongodb() {
                super::$scenario(Kind::Mongo).await
            }
        }
    };
}

on_every_engine!(a_broken_quote_is_a_reject_with_its_line);
on_every_engine!(crlf_files_name_the_right_line);
on_every_engine!(empty_fields_follow_copy);
on_every_engine!(abort_counts_every_bad_row);
