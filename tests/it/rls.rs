//! Row level security end to end on PostgreSQL: a multi-tenant fixture with an open table, a
//! protected one and a leaky one. policy-apply closes the open one (idempotently, after
//! confirmation), test-as-user shows the leak and the denials, security-audit agrees.

use serde_json::{Value, json};

use crate::support::{Client, Kind, Mcp, TestDb, text};

const FIXTURE: &str = "
    create table open_notes (id bigserial primary key, user_id bigint not null, body text);
    create table notes (id bigserial primary key, user_id bigint not null, body text);
    alter table notes enable row level security; alter table notes force row level security;
    create policy notes_all on notes using (user_id = (select nullif(current_setting('app.current_user_id', true), '')::bigint))
        with check (user_id = (select nullif(current_setting('app.current_user_id', true), '')::bigint));
    create table leaky (id bigserial primary key, user_id bigint not null, body text);
    alter table leaky enable row level security; alter table leaky force row level security;
    create policy leaky_select on leaky for select using (true);
    create policy leaky_update on leaky for update using (true);
    create policy leaky_insert on leaky for insert
        with check (user_id = (select nullif(current_setting('app.current_user_id', true), '')::bigint));
    insert into open_notes (user_id, body) values (1, 'a'), (1, 'b'), (1, 'c'), (2, 'x'), (2, 'y');
    insert into notes (user_id, body) select user_id, body from open_notes;
    insert into leaky (user_id, body) select user_id, body from open_notes;";

fn has(audit: &Value, code: &str, object: &str) -> bool {
    audit["findings"].as_array().unwrap().iter().any(|f| f["code"] == code && f["object"] == object)
}

fn cell(report: &Value, table: &str, operation: &str, rows: &str) -> String {
    report["matrix"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["table"] == table && r["operation"] == operation)
        .unwrap_or_else(|| panic!("no {table} {operation} in {report}"))[rows]
        .as_str()
        .unwrap()
        .to_string()
}

#[tokio::test]
async fn policy_apply_closes_the_open_table_and_test_as_user_proves_it() {
    let db = TestDb::new(Kind::Postgres).await;
    db.exec(FIXTURE).await;
    let mcp = db.serve("read-write").await;

    // Before: the audit sees the open table and the leak.
    let before = mcp.ok("security-audit", json!({"scope": "rls"})).await;
    assert!(has(&before, "rls-disabled-tenant-table", "public.open_notes"), "{before}");
    assert!(has(&before, "permissive-true-write-policy", "public.leaky"), "{before}");

    // The leak shows in the matrix (negative case); the protected table's denials hold (positive case).
    let report = mcp.ok("test-as-user", json!({"user_id": "1"})).await;
    assert_eq!(report["rolled_back"], true);
    assert_eq!(report["passed"], false, "{report}");
    assert!(cell(&report, "public.leaky", "select", "others").starts_with("allowed (2/2)"), "{report}");
    assert!(cell(&report, "public.leaky", "update", "others").starts_with("allowed (2/2)"), "{report}");
    assert!(cell(&report, "public.leaky", "insert", "others").starts_with("denied"), "{report}");
    let critical: Vec<_> = report["contradictions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["severity"] == "critical")
        .map(|c| format!("{} {} {}", c["table"], c["operation"], c["rows"]))
        .collect();
    assert!(
        critical.iter().any(|c| c.contains("leaky") && c.contains("update") && c.contains("others")),
        "{critical:?}"
    );
    assert!(
        !critical.iter().any(|c| c.contains("\"public.notes\"")),
        "the protected table does not leak: {critical:?}"
    );
    for op in ["select", "insert", "update", "delete"] {
        assert!(cell(&report, "public.notes", op, "own").starts_with("allowed"), "{op}: {report}");
        assert!(cell(&report, "public.notes", op, "others").starts_with("denied"), "{op}: {report}");
    }
    assert!(!report["matrix"].to_string().contains("open_notes"), "RLS is off there: not tested by default");

    // Preview shows the exact SQL and changes nothing.
    let preview = mcp.ok("policy-apply", json!({"table": "open_notes", "preview": true})).await;
    assert_eq!(preview["outcome"], "preview");
    assert_eq!(preview["owner_column"], "user_id");
    let statements: Vec<String> =
        preview["statements"].as_array().unwrap().iter().map(|s| s.as_str().unwrap().to_string()).collect();
    assert_eq!(statements.len(), 6, "{statements:?}");
    assert_eq!(statements[0], r#"ALTER TABLE "public"."open_notes" ENABLE ROW LEVEL SECURITY"#);
    assert!(statements[2].contains("(SELECT NULLIF(current_setting('app.current_user_id', true), '')::bigint)"));
    assert!(preview["warnings"].to_string().contains("every row is hidden"), "nothing sets the identity: {preview}");
    let still_open = mcp.ok("security-audit", json!({"scope": "rls"})).await;
    assert!(has(&still_open, "rls-disabled-tenant-table", "public.open_notes"));

    // Without a client that can ask the user, applying needs confirm: true.
    let refused = mcp.err("policy-apply", json!({"table": "open_notes"})).await;
    assert!(refused.contains("confirmation-required") && refused.contains("confirm: true"), "{refused}");
    let applied = mcp.ok("policy-apply", json!({"table": "open_notes", "confirm": true})).await;
    assert_eq!(applied["outcome"], "applied", "{applied}");
    let again = mcp.ok("policy-apply", json!({"table": "open_notes", "confirm": true})).await;
    assert_eq!(again["outcome"], "unchanged", "idempotent: {again}");
    assert!(again["statements"].as_array().unwrap().is_empty());
    assert!(again["policies"].as_array().unwrap().iter().all(|p| p["status"] == "unchanged"), "{again}");

    // Fix the leak the same way: drop the open policies, then the owner policies. The planner
    // warns about policies it leaves in place, which would add up with its own.
    let warned = mcp.ok("policy-apply", json!({"table": "leaky", "preview": true})).await;
    assert!(warned["warnings"].to_string().contains("leaky_update"), "{warned}");
    for policy in ["leaky_select", "leaky_update", "leaky_insert"] {
        mcp.ok("run-sql", json!({"sql": format!("drop policy {policy} on leaky")})).await;
    }
    mcp.ok("policy-apply", json!({"table": "leaky", "confirm": true})).await;

    let after = mcp.ok("test-as-user", json!({"user_id": "1"})).await;
    assert_eq!(after["passed"], true, "{after}");
    for table in ["public.open_notes", "public.leaky", "public.notes"] {
        assert!(cell(&after, table, "select", "own").starts_with("allowed (3/3)"), "{table}: {after}");
        assert!(cell(&after, table, "update", "others").starts_with("denied (0/2)"), "{table}: {after}");
    }
    let audit = mcp.ok("security-audit", json!({"scope": "rls"})).await;
    for table in ["public.open_notes", "public.leaky"] {
        let on_it: Vec<_> =
            audit["findings"].as_array().unwrap().iter().filter(|f| f["object"] == table).map(|f| &f["code"]).collect();
        assert!(on_it.is_empty(), "{table} still has findings: {on_it:?}");
    }
    // Nothing the tests tried was kept.
    let count = mcp.ok("run-sql", json!({"sql": "select count(*) from open_notes"})).await;
    assert_eq!(count["rows"][0][0], 5);
    mcp.close().await;
}

#[tokio::test]
async fn an_existing_policy_with_another_definition_is_reported_never_replaced_unasked() {
    let db = TestDb::new(Kind::Postgres).await;
    db.exec(
        "create table docs (id int primary key, owner_id int not null);
         create policy owner_select on docs for select using (owner_id > 0);",
    )
    .await;
    let mcp = db.serve("read-write").await;
    let preview = mcp.ok("policy-apply", json!({"table": "docs", "preview": true})).await;
    let select = preview["policies"].as_array().unwrap().iter().find(|p| p["name"] == "owner_select").unwrap();
    assert_eq!(select["status"], "differs", "{preview}");
    assert!(select["existing"].as_str().unwrap().contains("owner_id > 0"));
    let refused = mcp.err("policy-apply", json!({"table": "docs", "confirm": true})).await;
    assert!(refused.contains("owner_select") && refused.contains("replace: true"), "{refused}");
    let rls: Value =
        mcp.ok("run-sql", json!({"sql": "select relrowsecurity from pg_class where relname = 'docs'"})).await;
    assert_eq!(rls["rows"][0][0], false, "refused means nothing changed");
    let replaced = mcp.ok("policy-apply", json!({"table": "docs", "replace": true, "confirm": true})).await;
    assert_eq!(replaced["outcome"], "applied");
    assert!(replaced["statements"].to_string().contains("DROP POLICY \\\"owner_select\\\""), "{replaced}");
    mcp.close().await;
}

#[tokio::test]
async fn granular_policies_per_role_with_roles_created_when_asked() {
    let db = TestDb::new(Kind::Postgres).await;
    let suffix = std::process::id();
    let (admin, member) = (format!("admin_{suffix}"), format!("member_{suffix}"));
    db.exec(
        "create table tasks (id bigserial primary key, tenant_id int not null, user_id int not null, title text);
         insert into tasks (tenant_id, user_id, title) values (1, 1, 'mine'), (1, 2, 'team'), (2, 3, 'other tenant');",
    )
    .await;
    let mcp = db.serve("read-write").await;
    let roles = json!([{"role": admin, "access": "all"}, {"role": member, "access": "read-tenant-write-own"}]);
    let missing = mcp.err("policy-apply", json!({"table": "tasks", "strategy": "granular", "roles": roles})).await;
    assert!(missing.contains("create_roles"), "{missing}");
    let applied = mcp
        .ok(
            "policy-apply",
            json!({"table": "tasks", "strategy": "granular", "roles": roles, "create_roles": true, "confirm": true}),
        )
        .await;
    let sql = applied["statements"].to_string();
    assert!(sql.contains(&format!("CREATE ROLE \\\"{member}\\\" NOLOGIN")), "{sql}");
    assert!(sql.contains("current_setting('app.current_tenant_id', true)"), "{sql}");
    assert!(sql.contains(&format!("GRANT SELECT ON \\\"public\\\".\\\"tasks\\\" TO \\\"{member}\\\"")), "{sql}");

    // A member of tenant 1 reads the tenant's rows and writes only its own.
    let expectations = json!([{"operation": "select", "rows": "others", "expect": "allowed"}]);
    let member_view = mcp
        .ok(
            "test-as-user",
            json!({"user_id": "1", "role": member, "tables": ["tasks"], "expectations": expectations,
                   "settings": {"app.current_tenant_id": "1"}}),
        )
        .await;
    assert!(cell(&member_view, "public.tasks", "select", "own").starts_with("allowed (1/1)"), "{member_view}");
    assert!(cell(&member_view, "public.tasks", "select", "others").starts_with("partial (1/2)"), "{member_view}");
    assert!(cell(&member_view, "public.tasks", "insert", "own").starts_with("allowed (1/1)"), "{member_view}");
    assert!(cell(&member_view, "public.tasks", "update", "others").starts_with("denied"), "{member_view}");
    assert_eq!(member_view["passed"], true, "{member_view}");
    // Without the tenant setting the member sees nothing, and the matrix says so.
    let no_tenant = mcp.ok("test-as-user", json!({"user_id": "1", "role": member, "tables": ["tasks"]})).await;
    assert!(cell(&no_tenant, "public.tasks", "select", "own").starts_with("denied (0/1)"), "{no_tenant}");
    assert_eq!(no_tenant["counts"]["critical"], 0);
    let admin_view = mcp
        .ok(
            "test-as-user",
            json!({"user_id": "1", "role": admin, "tables": ["tasks"],
                   "expectations": [{"expect": "allowed"}]}),
        )
        .await;
    assert_eq!(admin_view["passed"], true, "{admin_view}");
    assert!(cell(&admin_view, "public.tasks", "delete", "others").starts_with("allowed (2/2)"), "{admin_view}");
    // Cluster-wide roles outlive the test database: drop them.
    db.exec(&format!(
        "drop owned by \"{admin}\"; drop owned by \"{member}\"; drop role \"{admin}\"; drop role \"{member}\";"
    ))
    .await;
    mcp.close().await;
}

/// Clients that can ask the user get asked, in both protocol eras; a decline changes nothing.
#[tokio::test]
async fn applying_asks_the_user_through_elicitation() {
    for discover in [false, true] {
        let db = TestDb::new(Kind::Postgres).await;
        db.exec("create table notes (id int primary key, user_id int not null);").await;
        let args = ["--database-url", db.url.as_str(), "--mode", "read-write"];

        let decline = Client { answer: Some(false), ..Default::default() };
        let mcp = Mcp::spawn_client(&args, decline.clone(), discover).await;
        let refused = mcp.err("policy-apply", json!({"table": "notes", "confirm": true})).await;
        assert!(refused.contains("not-confirmed"), "era discover={discover}: {refused}");
        let asked = decline.asked.lock().unwrap().clone();
        assert!(asked.len() == 1 && asked[0].contains("ENABLE ROW LEVEL SECURITY"), "{asked:?}");
        let still = mcp.ok("policy-apply", json!({"table": "notes", "preview": true})).await;
        assert_eq!(still["rls_enabled"], false);
        mcp.close().await;

        let accept = Client { answer: Some(true), ..Default::default() };
        let mcp = Mcp::spawn_client(&args, accept, discover).await;
        let applied = mcp.ok("policy-apply", json!({"table": "notes"})).await;
        assert_eq!(applied["outcome"], "applied", "era discover={discover}: {applied}");
        mcp.close().await;
    }
}

#[tokio::test]
async fn other_engines_explain_their_equivalent_and_read_only_databases_preview_only() {
    for (kind, phrase) in [(Kind::Sqlite, "database file"), (Kind::Mysql, "view"), (Kind::Mongo, "$match")] {
        let db = TestDb::new(kind).await;
        let mcp = db.serve("read-write").await;
        for tool in ["policy-apply", "test-as-user"] {
            let e = mcp.err(tool, json!({"table": "notes", "user_id": "1"})).await;
            assert!(e.contains("unsupported") && e.contains(phrase), "{kind:?} {tool}: {e}");
        }
        mcp.close().await;
    }
    let db = TestDb::new(Kind::Postgres).await;
    db.exec("create table notes (id int primary key, user_id int not null);").await;
    let mcp = db.serve("read-only").await;
    let preview = mcp.ok("policy-apply", json!({"table": "notes", "preview": true})).await;
    assert_eq!(preview["statements"].as_array().unwrap().len(), 6);
    let refused = mcp.err("policy-apply", json!({"table": "notes", "confirm": true})).await;
    assert!(refused.contains("read-only"), "{refused}");
    let unknown = mcp.err("policy-apply", json!({"table": "nope", "preview": true})).await;
    assert!(unknown.contains("list-objects"), "{unknown}");
    let bad_setting = mcp.err("test-as-user", json!({"user_id": "1", "identity_setting": "x'; --"})).await;
    assert!(bad_setting.contains("prefix.name"), "{bad_setting}");
    let text_of = text(&mcp.call("policy-apply", json!({"table": "notes", "preview": true})).await);
    assert!(text_of.contains("ENABLE ROW LEVEL SECURITY"), "{text_of}");
    mcp.close().await;
}

/// A Supabase-shaped database: auth.uid() from the JWT claims and the authenticated role; the
/// owner column is found through its foreign key to auth.users.
#[tokio::test]
async fn supabase_identity_and_role_are_used_when_the_database_has_them() {
    const ME: &str = "11111111-1111-1111-1111-111111111111";
    const YOU: &str = "22222222-2222-2222-2222-222222222222";
    let db = TestDb::new(Kind::Postgres).await;
    db.exec(&format!(
        r#"do $$ begin
             if not exists (select 1 from pg_roles where rolname = 'authenticated') then create role authenticated nologin; end if;
           end $$;
           create schema auth;
           grant usage on schema auth to authenticated;
           create table auth.users (id uuid primary key);
           create function auth.uid() returns uuid language sql stable
             as $f$ select (nullif(current_setting('request.jwt.claims', true), '')::json ->> 'sub')::uuid $f$;
           create table todos (id bigserial primary key, author uuid not null references auth.users (id), title text);
           grant select, insert, update, delete on todos to authenticated;
           grant usage on sequence todos_id_seq to authenticated;
           insert into auth.users values ('{ME}'), ('{YOU}');
           insert into todos (author, title) values ('{ME}', 'mine'), ('{YOU}', 'yours'), ('{YOU}', 'yours too');"#
    ))
    .await;
    let mcp = db.serve("read-write").await;
    let applied = mcp.ok("policy-apply", json!({"table": "todos", "confirm": true})).await;
    assert_eq!(applied["owner_column"], "author");
    assert_eq!(applied["owner_column_reason"], "foreign key to users");
    assert_eq!(applied["identity"]["source"], "supabase");
    let sql = applied["statements"].to_string();
    assert!(sql.contains("TO authenticated USING (\\\"author\\\" = (SELECT auth.uid()))"), "{sql}");
    assert!(applied["warnings"].as_array().unwrap().is_empty(), "Supabase sets the identity: {applied}");

    let report = mcp.ok("test-as-user", json!({"user_id": ME})).await;
    assert!(report["role"].as_str().unwrap().starts_with("authenticated"), "{report}");
    assert!(report["identity"].as_str().unwrap().contains("request.jwt.claims"), "{report}");
    assert_eq!(report["passed"], true, "{report}");
    assert!(cell(&report, "public.todos", "select", "own").starts_with("allowed (1/1)"), "{report}");
    assert!(cell(&report, "public.todos", "insert", "own").starts_with("allowed (1/1)"), "{report}");
    assert!(cell(&report, "public.todos", "delete", "others").starts_with("denied (0/2)"), "{report}");
    mcp.close().await;
}
