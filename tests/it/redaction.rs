//! A configured password must never leave the server: not in results, errors, or logs.

use serde_json::{Value, json};

use crate::support::{Kind, Mcp, TestDb};

const PASSWORD: &str = "KnownPW-7f3e91x";

#[tokio::test]
async fn a_known_password_appears_nowhere_on_stdout_or_stderr() {
    let pg = TestDb::new(Kind::Postgres).await;
    let mysql = TestDb::new(Kind::Mysql).await;
    let mongo = TestDb::new(Kind::Mongo).await;
    mongo.mongo_insert("notes", vec![mongodb::bson::doc! {"body": format!("pw {PASSWORD}"), "token": PASSWORD}]).await;
    // The test bed trusts local logins, so PostgreSQL accepts any password: ours rides along in the URL.
    let pg_url = pg.url.replacen("postgres@", &format!("postgres:{PASSWORD}@"), 1);
    assert!(pg_url.contains(PASSWORD));
    let mysql_password =
        mysql.url.split("://").nth(1).unwrap().split('@').next().unwrap().split(':').nth(1).unwrap().to_string();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("secrets.toml");
    std::fs::write(
        &config,
        format!(
            "[databases.pg]\nurl = \"${{DE_IT_SECRET_URL}}\"\nmode = \"read-write\"\n\
             [databases.my]\nurl = \"{}\"\n\
             [databases.down]\nurl = \"postgres://app:{PASSWORD}@127.0.0.1:1/none\"\n\
             [databases.denied]\nurl = \"{}\"\n\
             [databases.docs]\nurl = \"{}\"\n",
            mysql.url,
            mysql.url.replacen(&format!(":{mysql_password}@"), &format!(":{PASSWORD}@"), 1),
            mongo.url,
        ),
    )
    .unwrap();
    let mcp = Mcp::spawn(
        &["--config", config.to_str().unwrap()],
        &[("DE_IT_SECRET_URL", &pg_url), ("DATA_ENGINEER_LOG", "debug")],
    )
    .await;
    let calls = [
        ("env-check", json!({})),
        ("env-check", json!({"database": "nope"})),
        ("run-sql", json!({"sql": "create table vault (id int primary key, note text, password text)"})),
        ("run-sql", json!({"sql": format!("insert into vault values (1, 'pw is {PASSWORD}', '{PASSWORD}')")})),
        ("run-sql", json!({"sql": "select * from vault"})),
        ("run-sql", json!({"sql": format!("select '{PASSWORD}'::int")})),
        (
            "run-sql",
            json!({"sql": format!("select convert_to('{PASSWORD}', 'UTF8') as b, '{PASSWORD}'::bytea::text as h")}),
        ),
        ("run-sql", json!({"sql": format!("select current_setting('{PASSWORD}')")})),
        ("run-sql", json!({"database": "down", "sql": "select 1"})),
        ("run-sql", json!({"database": "denied", "sql": "select 1"})),
        (
            "run-sql",
            json!({"database": "my", "sql": format!("select '{PASSWORD}' as echo, '{mysql_password}' as other")}),
        ),
        ("list-objects", json!({})),
        ("list-objects", json!({"database": "down"})),
        ("list-objects", json!({"cursor": PASSWORD})),
        ("describe", json!({"name": "vault"})),
        ("describe", json!({"name": PASSWORD})),
        ("run-mongo", json!({"collection": PASSWORD})),
        ("run-mongo", json!({"database": "docs", "collection": "notes"})),
        ("run-mongo", json!({"database": "docs", "collection": "notes", "filter": {"$where": PASSWORD}})),
        ("list-objects", json!({"database": "docs"})),
        ("describe", json!({"database": "docs", "name": "notes"})),
        ("env-check", json!({"database": "docs"})),
    ];
    let mut seen = String::new();
    let mut found = Vec::new();
    for (tool, args) in calls {
        let r = mcp.call(tool, args.clone()).await;
        seen.push_str(&serde_json::to_string(&r).unwrap());
        found.extend(leaks(&format!("{tool} {args}"), &whole(&r), &[PASSWORD, &mysql_password]));
    }
    assert!(found.is_empty(), "{} leaks:\n{}", found.len(), found.join("\n"));
    let stderr = mcp.close().await;
    assert!(seen.contains("***"), "redaction markers expected in {seen}");
    assert!(
        stderr.contains("DEBUG") || stderr.contains("WARN") || !stderr.is_empty(),
        "the log must have run: {stderr}"
    );
    // The database's error, which quotes the value, reached the log, redacted.
    assert!(
        stderr.lines().any(|l| l.contains("invalid input syntax for type integer") && l.contains("***")),
        "the database error is logged through the redactor:\n{stderr}"
    );
    for secret in [PASSWORD, mysql_password.as_str()] {
        assert!(!seen.contains(secret), "{secret} leaked on stdout:\n{seen}");
        assert!(!stderr.contains(secret), "{secret} leaked on stderr:\n{stderr}");
    }
}

/// A DSN with a password, as an attacker would plant it in a row.
const DSN: &str = "postgres://app:s3cretpw-93kq@db/x";
const DSN_SECRET: &str = "s3cretpw-93kq";
/// A value under a secret-named key inside a JSON cell.
const JSON_SECRET: &str = "jsonSecretValue-5v8w";

/// Every reading of a string a client could undo: as is, base64-decoded, `\x`-hex-decoded.
fn readings(s: &str) -> Vec<String> {
    use base64::Engine as _;
    let mut out = vec![s.to_string()];
    if let Ok(bytes) = base64::engine::general_purpose::STANDARD.decode(s) {
        out.push(String::from_utf8_lossy(&bytes).into_owned());
    }
    if let Some(bytes) = s.strip_prefix("\\x").and_then(|h| hex::decode(h).ok()) {
        out.push(String::from_utf8_lossy(&bytes).into_owned());
    }
    out
}

/// Every secret that can be read out of a string of `v`, however it is encoded.
fn leaks(what: &str, v: &Value, secrets: &[&str]) -> Vec<String> {
    fn strings<'a>(v: &'a Value, out: &mut Vec<&'a str>) {
        match v {
            Value::String(s) => out.push(s),
            Value::Array(items) => items.iter().for_each(|i| strings(i, out)),
            Value::Object(map) => map.iter().for_each(|(k, v)| {
                out.push(k);
                strings(v, out)
            }),
            _ => {}
        }
    }
    let mut all = Vec::new();
    strings(v, &mut all);
    let mut found = Vec::new();
    for s in all {
        for reading in readings(s) {
            for secret in secrets.iter().filter(|secret| reading.contains(**secret)) {
                found.push(format!("{what}: {secret} readable in {s:.120?} (as {reading:.120?})"));
            }
        }
    }
    found.dedup();
    found
}

/// The whole result a client gets: structured content and every text block.
fn whole(r: &rmcp::model::CallToolResult) -> Value {
    let lines: Vec<Value> = crate::support::text(r).lines().map(|l| Value::String(l.into())).collect();
    // Text lines are split on spaces and `|` too, so a base64 cell in a table is read on its own.
    let words: Vec<Value> = crate::support::text(r)
        .split([' ', '|', '\n'])
        .map(|w| Value::String(w.trim_end_matches('…').into()))
        .collect();
    json!({ "structured": r.structured_content, "lines": lines, "words": words })
}

fn b64(s: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(s)
}

/// Secrets in bytes (bytea, BLOB, VARBINARY, MongoDB Binary) are redacted as text before they are
/// encoded, and secret-named keys in JSON cells are masked at every depth, on every engine.
#[tokio::test]
async fn secrets_in_bytes_and_json_cells_never_leave_the_server() {
    let pg = TestDb::new(Kind::Postgres).await;
    let mysql = TestDb::new(Kind::Mysql).await;
    let lite = TestDb::new(Kind::Sqlite).await;
    let mongo = TestDb::new(Kind::Mongo).await;
    let deep = json!({"a": [{"b": {"credentials": {"user": "u", "pw": JSON_SECRET}}}],
                      "token": JSON_SECRET, "list": [[{"api_key": JSON_SECRET}]], "ok": "visible"});
    pg.exec(&format!(
        "create table vault (id int primary key, b bytea, j jsonb, note text);
         insert into vault values
           (1, convert_to('{DSN}', 'UTF8'), '{deep}', 'n1'),
           (2, convert_to('pw is {PASSWORD}', 'UTF8'), null, 'n2'),
           (3, '\\x00ff'::bytea || convert_to(' password={DSN_SECRET} ', 'UTF8') || '\\xfe'::bytea, null, 'n3');"
    ))
    .await;
    mysql
        .exec(&format!(
            "create table vault (id int primary key, b blob, vb varbinary(200), j json);
             insert into vault values (1, '{DSN}', 'pw is {PASSWORD}', '{deep}'),
               (2, concat(x'00ff', ' password={DSN_SECRET} '), x'00', null);"
        ))
        .await;
    lite.exec(&format!(
        "create table vault (id integer primary key, b blob, t text, j text);
         insert into vault values (1, cast('{DSN}' as blob), cast('pw is {PASSWORD}' as blob), '{deep}'),
           (2, x'00ff' || cast(' password={DSN_SECRET} ' as blob), null, null);"
    ))
    .await;
    {
        use mongodb::bson::{Binary, doc, spec::BinarySubtype};
        let bin = |s: &str| Binary { subtype: BinarySubtype::Generic, bytes: s.as_bytes().to_vec() };
        mongo
            .mongo_insert(
                "vault",
                vec![doc! {
                    "_id": 1, "b": bin(DSN), "nested": {"raw": bin(&format!("pw is {PASSWORD}"))},
                    "profile": {"credentials": {"user": "u", "pw": JSON_SECRET}, "items": [{"api_key": JSON_SECRET}]},
                    "ok": "visible",
                }],
            )
            .await;
    }
    let pg_url = pg.url.replacen("postgres@", &format!("postgres:{PASSWORD}@"), 1);
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("bytes.toml");
    std::fs::write(
        &config,
        format!(
            "[databases.pg]\nurl = \"{pg_url}\"\n[databases.my]\nurl = \"{}\"\n\
             [databases.lite]\nurl = \"{}\"\n[databases.docs]\nurl = \"{}\"\n",
            mysql.url, lite.url, mongo.url
        ),
    )
    .unwrap();
    let mcp = Mcp::spawn(&["--config", config.to_str().unwrap()], &[]).await;
    let secrets = [DSN_SECRET, PASSWORD, JSON_SECRET];
    let calls = [
        ("run-sql", json!({"database": "pg", "sql": "select * from vault order by id"})),
        ("run-sql", json!({"database": "pg", "sql": "select row_to_json(v) as r from vault v order by id"})),
        ("run-sql", json!({"database": "pg", "sql": "select json_agg(v) from vault v"})),
        (
            "run-sql",
            json!({"database": "pg", "sql": format!(
            "select json_build_object('password', '{JSON_SECRET}', 'inner', json_build_object('client_secret', '{JSON_SECRET}'), 'fine', 1) as o")}),
        ),
        ("run-sql", json!({"database": "pg", "sql": "select array[b, b] as bs from vault order by id"})),
        ("data-quality", json!({"database": "pg", "checks": [{"check": "not_null", "table": "vault", "column": "j"}]})),
        ("run-sql", json!({"database": "my", "sql": "select * from vault order by id"})),
        ("run-sql", json!({"database": "my", "sql": "select json_object('secret', 'x', 'deep', j) as o from vault"})),
        ("run-sql", json!({"database": "lite", "sql": "select * from vault order by id"})),
        ("run-sql", json!({"database": "lite", "sql": "select b || x'' as expr, json(j) as j from vault"})),
        ("run-mongo", json!({"database": "docs", "collection": "vault"})),
        (
            "run-mongo",
            json!({"database": "docs", "collection": "vault", "pipeline": [{"$project": {"b": 1, "profile": 1}}]}),
        ),
    ];
    let mut found = Vec::new();
    for (tool, args) in calls {
        let r = mcp.call(tool, args.clone()).await;
        assert_ne!(r.is_error, Some(true), "{tool} {args}: {}", crate::support::text(&r));
        found.extend(leaks(&format!("{tool} {args}"), &whole(&r), &secrets));
    }
    assert!(found.is_empty(), "{} leaks:\n{}", found.len(), found.join("\n"));
    // The bytes come back redacted, not dropped: their text with the secret masked, re-encoded.
    let v = mcp.ok("run-sql", json!({"database": "pg", "sql": "select b from vault order by id"})).await;
    assert_eq!(v["rows"][0][0], b64("postgres://app:***@db/x"), "{v}");
    assert_eq!(v["rows"][1][0], b64("pw is ***"));
    let v = mcp.ok("run-sql", json!({"database": "my", "sql": "select b, vb from vault where id = 1"})).await;
    assert_eq!(v["rows"][0], json!([b64("postgres://app:***@db/x"), b64("pw is ***")]));
    let v = mcp.ok("run-sql", json!({"database": "lite", "sql": "select b, t from vault where id = 1"})).await;
    assert_eq!(v["rows"][0], json!([b64("postgres://app:***@db/x"), b64("pw is ***")]));
    // JSON keeps its shape: secret-named keys masked, whole objects under them too, the rest intact.
    let v = mcp.ok("run-sql", json!({"database": "pg", "sql": "select j from vault where id = 1"})).await;
    assert_eq!(
        v["rows"][0][0],
        json!({"a": [{"b": {"credentials": "[masked]"}}], "list": [[{"api_key": "[masked]"}]], "ok": "visible", "token": "[masked]"})
    );
    let v = mcp.ok("run-mongo", json!({"database": "docs", "collection": "vault"})).await;
    let doc = &v["documents"][0];
    assert_eq!(doc["profile"], json!({"credentials": "[masked]", "items": [{"api_key": "[masked]"}]}), "{doc}");
    assert_eq!(doc["b"]["$binary"]["base64"], b64("postgres://app:***@db/x"), "{doc}");
    assert_eq!(doc["ok"], "visible");
    mcp.close().await;
}
