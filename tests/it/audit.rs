//! security-audit on PostgreSQL: every rule fires on a fixture built to trigger it, and none
//! fires on a fixture built right, read as an unprivileged application role.

use serde_json::{Value, json};

use crate::support::{Kind, Mcp, TestDb};

/// Every rule's code and the object the bad fixture must report it on.
const EXPECTED: &[(&str, &str)] = &[
    ("rls-disabled-tenant-table", "public.tenant_notes"),
    ("policies-without-rls", "public.half"),
    ("rls-without-policy", "public.locked"),
    ("permissive-true-write-policy", "public.leaky"),
    ("multiple-permissive-policies", "public.leaky"),
    ("identity-per-row", "public.leaky"),
    ("view-bypasses-rls", "public.leaky_all"),
    ("rls-not-forced", "public.locked"),
    ("privileged-app-role", "postgres"),
    ("app-role-password-never-expires", "postgres"),
    ("security-definer-search-path", "public.definer()"),
    ("security-definer-public-execute", "public.definer()"),
    ("mutable-search-path", "public.plain()"),
    ("table-without-primary-key", "public.nopk"),
    ("extension-in-public", "<ext>"),
    ("public-schema-create", "schema public"),
    ("fk-without-index", "child"),
    ("duplicate-index", "dup.dup_b"),
    ("unused-index", "dup.dup_a"),
    ("plaintext-secret-columns", "public.accounts.password"),
];

fn has(v: &Value, code: &str, object: &str) -> bool {
    v["findings"].as_array().unwrap().iter().any(|f| f["code"] == code && f["object"] == object)
}

#[tokio::test]
async fn every_rule_fires_on_its_fixture_and_not_on_a_sound_database() {
    let bad = TestDb::new(Kind::Postgres).await;
    // The test bed's 15 has contrib (pg_trgm), its 16 and 18 only pgvector.
    let ext = if bad.extension_available("pg_trgm").await { "pg_trgm" } else { "vector" };
    bad.exec(&format!(
        "create table tenant_notes (id bigint primary key, user_id bigint, body text);
         create table half (id int primary key, owner_id int); create policy p_half on half using (true);
         create table locked (id int primary key); alter table locked enable row level security;
         create table leaky (id int primary key, user_id int);
         alter table leaky enable row level security; alter table leaky force row level security;
         create policy leaky_update on leaky for update using (true);
         create policy leaky_sel_a on leaky for select using (user_id = (select current_setting('app.current_user_id', true)::int));
         create policy leaky_sel_b on leaky for select using (user_id = current_setting('app.current_user_id', true)::int);
         create view leaky_all as select * from leaky;
         create function definer() returns int language sql security definer as 'select 1';
         create function plain() returns int language plpgsql as 'begin return 1; end';
         create table nopk (x int);
         create extension {ext};
         grant create on schema public to public;
         create table parent (id int primary key);
         create table child (id int primary key, parent_id int references parent(id));
         create table dup (id int primary key, v int); create index dup_a on dup (v); create index dup_b on dup (v);
         create table accounts (id int primary key, password text, password_hash text);
         insert into accounts values (1, 'hunter2-plain', '$2b$12$abcdefghijklmnopqrstuv');",
    ))
    .await;
    let mcp = bad.serve("read-only").await;
    let v = mcp.ok("security-audit", json!({})).await;
    let missing: Vec<_> = EXPECTED
        .iter()
        .map(|&(code, object)| (code, if object == "<ext>" { ext } else { object }))
        .filter(|(code, object)| !has(&v, code, object))
        .collect();
    assert!(missing.is_empty(), "not reported: {missing:?}\n{v}");
    assert_eq!(v["rules_run"], EXPECTED.len(), "every rule has a fixture here");
    assert!(!has(&v, "plaintext-secret-columns", "public.accounts.password_hash"), "hashes are not plain text");
    assert!(!serde_json::to_string(&v).unwrap().contains("hunter2-plain"), "sampled values never appear");
    assert_eq!(v["findings"][0]["severity"], "critical", "most severe first");
    let fix = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["code"] == "rls-disabled-tenant-table" && f["object"] == "public.tenant_notes")
        .unwrap()["fix"]
        .clone();
    assert!(fix.as_str().unwrap().starts_with("ALTER TABLE public.tenant_notes ENABLE ROW LEVEL SECURITY;"), "{fix}");
    // Scopes split the rules.
    let rls = mcp.ok("security-audit", json!({"scope": "rls"})).await;
    assert!(
        has(&rls, "view-bypasses-rls", "public.leaky_all") && !has(&rls, "table-without-primary-key", "public.nopk")
    );
    mcp.close().await;

    // A sound database, read as an application role that is neither superuser nor BYPASSRLS.
    let good = TestDb::new(Kind::Postgres).await;
    let role = format!("de_app_{}", std::process::id());
    good.exec(&format!(
        "create role {role} login valid until '2100-01-01';
         create table notes (id bigint primary key, user_id bigint not null, body text);
         alter table notes enable row level security; alter table notes force row level security;
         create policy notes_owner on notes for all
             using (user_id = (select current_setting('app.current_user_id', true)::bigint))
             with check (user_id = (select current_setting('app.current_user_id', true)::bigint));
         create function safe() returns int language plpgsql set search_path = public, pg_temp as 'begin return 1; end';
         create table vault (id bigint primary key, api_token text);
         create table logins (id bigint primary key, password_hash text not null);
         insert into logins values (1, '$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$aGFzaA');
         alter table logins enable row level security; alter table logins force row level security;
         grant select, insert, update, delete on notes to {role};
         create policy logins_none on logins for select using (false);
         grant select on logins to {role};"
    ))
    .await;
    let as_app = good.url.replacen("postgres@", &format!("{role}@"), 1);
    let mcp = Mcp::spawn(&["--database-url", &as_app], &[]).await;
    let v = mcp.ok("security-audit", json!({})).await;
    assert_eq!(v["findings"], json!([]), "a sound database has no findings");
    mcp.close().await;
}

#[tokio::test]
async fn other_engines_say_what_covers_them_for_now() {
    let db = TestDb::new(Kind::Sqlite).await;
    let mcp = db.serve("read-only").await;
    let e = mcp.err("security-audit", json!({})).await;
    assert!(e.contains("not supported on sqlite") && e.contains("env-check"), "{e}");
    mcp.close().await;
}

#[tokio::test]
async fn mariadb_rules_fire_on_a_wide_account_and_not_on_a_narrow_one() {
    let db = TestDb::new(Kind::Mysql).await;
    let name = db.url.rsplit('/').next().unwrap().to_string();
    let (wide, narrow) = (format!("wide_{}", std::process::id()), format!("narrow_{}", std::process::id()));
    let open = format!("open_{}", std::process::id());
    db.exec(&format!(
        "create table nopk (x int);
         create table good (id int primary key, v int);
         create user '{wide}'@'%' identified by 'wide-pw-1';
         create user '{open}'@'localhost';
         grant all privileges on *.* to '{wide}'@'%' with grant option;
         create user '{narrow}'@'127.0.0.1' identified by 'narrow-pw-1';
         grant select on {name}.good to '{narrow}'@'127.0.0.1';"
    ))
    .await;
    let host = db.url.split('@').nth(1).unwrap().to_string();
    let as_wide = format!("mysql://{wide}:wide-pw-1@{host}");
    let mcp = Mcp::spawn(&["--database-url", &as_wide], &[]).await;
    let v = mcp.ok("security-audit", json!({})).await;
    for (code, object) in [
        ("app-account-wildcard-host", format!("{wide}@%")),
        ("app-account-global-privileges", format!("{wide}@%")),
        ("table-without-primary-key", format!("{name}.nopk")),
        ("account-without-password", format!("'{open}'@'localhost'")),
    ] {
        assert!(has(&v, code, &object), "{code} on {object} missing: {v}");
    }
    mcp.close().await;

    let as_narrow = format!("mysql://{narrow}:narrow-pw-1@{host}");
    let mcp = Mcp::spawn(&["--database-url", &as_narrow], &[]).await;
    let v = mcp.ok("security-audit", json!({})).await;
    let findings = v["findings"].as_array().unwrap();
    assert_eq!(findings.len(), 1, "a narrow account on a sound table has no findings: {v}");
    assert_eq!(findings[0]["object"], "(not visible)", "only what it may not read is named: {v}");
    assert_eq!(findings[0]["code"], "account-without-password");
    mcp.close().await;
}

#[tokio::test]
async fn mongodb_rules_fire_on_an_open_server_and_not_for_a_narrow_user_on_validated_collections() {
    let db = TestDb::new(Kind::Mongo).await;
    let name = db.url.rsplit('/').next().unwrap().to_string();
    let client = mongodb::Client::with_uri_str(&db.url).await.unwrap();
    let mdb = client.database(&name);
    mdb.create_collection("loose").await.unwrap();
    mdb.run_command(mongodb::bson::doc! {
        "create": "strict",
        "validator": {"$jsonSchema": {"bsonType": "object", "required": ["sku"]}},
    })
    .await
    .unwrap();
    mdb.run_command(
        mongodb::bson::doc! {"createUser": "etl", "pwd": "etl-pw-123", "roles": [{"role": "root", "db": "admin"}]},
    )
    .await
    .unwrap();
    mdb.run_command(
        mongodb::bson::doc! {"createUser": "wide", "pwd": "wide-pw-123", "roles": [{"role": "readWriteAnyDatabase", "db": "admin"}]},
    )
    .await
    .unwrap();
    mdb.run_command(
        mongodb::bson::doc! {"createUser": "app", "pwd": "app-pw-123", "roles": [{"role": "readWrite", "db": &name}]},
    )
    .await
    .unwrap();

    let mcp = db.serve("read-only").await;
    let v = mcp.ok("security-audit", json!({})).await;
    for (code, object) in [
        ("authorization-disabled", "server".to_string()),
        ("users-with-broad-roles", format!("etl@{name}")),
        ("users-with-broad-roles", format!("wide@{name}")),
        ("collection-without-validator", "loose".to_string()),
    ] {
        assert!(has(&v, code, &object), "{code} on {object} missing: {v}");
    }
    assert!(!has(&v, "collection-without-validator", "strict"), "{v}");
    assert!(!has(&v, "users-with-broad-roles", &format!("app@{name}")), "{v}");
    assert_eq!(v["findings"][0]["code"], "authorization-disabled", "most severe first");
    mcp.close().await;

    let host = db.url.split("://").nth(1).unwrap().split('/').next().unwrap().to_string();
    let as_wide = format!("mongodb://wide:wide-pw-123@{host}/{name}?authSource={name}");
    let mcp = Mcp::spawn(&["--database-url", &as_wide], &[]).await;
    let v = mcp.ok("security-audit", json!({"scope": "rls"})).await;
    assert!(has(&v, "app-user-broad-roles", &format!("wide@{name}")), "{v}");
    assert!(!has(&v, "authorization-disabled", "server"), "an authenticated connection: {v}");
    mcp.close().await;

    mdb.run_command(mongodb::bson::doc! {"dropUser": "etl"}).await.unwrap();
    mdb.run_command(mongodb::bson::doc! {"dropUser": "wide"}).await.unwrap();
    mdb.run_command(mongodb::bson::doc! {"drop": "loose"}).await.unwrap();
    let as_app = format!("mongodb://app:app-pw-123@{host}/{name}?authSource={name}");
    let mcp = Mcp::spawn(&["--database-url", &as_app], &[]).await;
    let v = mcp.ok("security-audit", json!({})).await;
    assert_eq!(v["findings"], json!([]), "a narrow user on validated collections has no findings: {v}");
    mcp.close().await;
    client.database(&name).drop().await.unwrap();
}
