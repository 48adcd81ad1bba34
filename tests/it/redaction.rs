//! A configured password must never leave the server: not in results, errors, or logs.

use serde_json::json;

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
    for (tool, args) in calls {
        let r = mcp.call(tool, args).await;
        seen.push_str(&serde_json::to_string(&r).unwrap());
    }
    let stderr = mcp.close().await;
    assert!(seen.contains("***"), "redaction markers expected in {seen}");
    assert!(
        stderr.contains("DEBUG") || stderr.contains("WARN") || !stderr.is_empty(),
        "the log must have run: {stderr}"
    );
    for secret in [PASSWORD, mysql_password.as_str()] {
        assert!(!seen.contains(secret), "{secret} leaked on stdout:\n{seen}");
        assert!(!stderr.contains(secret), "{secret} leaked on stderr:\n{stderr}");
    }
}
