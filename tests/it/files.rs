//! Files a planted symlink or file could turn against the user. The server runs confined to its
//! working directory (`work`); `outside` is a directory it may not use. Every folder-reading tool
//! meets entries linking out of `work`; writing tools meet a planted dangling link and files that
//! exist. Ground truth is the file system (what exists outside, what a file holds) and the
//! database (what a seed applied), never only the answer.

use std::path::{Path, PathBuf};

use serde_json::{Value, json};
use sqlx::Connection;

use crate::support::{Kind, Mcp, TestDb, text};

/// Marks text that lives only outside the allowed directory: an answer holding it read it.
const SECRET: &str = "leaked_secret_7f3a";

struct Sandbox {
    /// The server's working directory: its only allowed directory.
    work: tempfile::TempDir,
    outside: tempfile::TempDir,
    db: TestDb,
    mcp: Mcp,
}

impl Sandbox {
    async fn new() -> Sandbox {
        let db = TestDb::new(Kind::Sqlite).await;
        db.exec("create table t (id int primary key)").await;
        // Inside the crate, away from /tmp where `outside` is.
        let work = tempfile::tempdir_in(env!("CARGO_MANIFEST_DIR")).unwrap();
        let outside = tempfile::tempdir().unwrap();
        let mcp = Mcp::spawn_confined(&["--database-url", &db.url, "--mode", "read-write"], work.path()).await;
        Sandbox { work, outside, db, mcp }
    }

    fn work(&self, rel: &str) -> PathBuf {
        self.work.path().join(rel)
    }

    fn outside(&self, rel: &str) -> PathBuf {
        self.outside.path().join(rel)
    }

    fn write(&self, path: &Path, text: &str) {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    fn link(&self, target: &Path, link: &Path) {
        std::fs::create_dir_all(link.parent().unwrap()).unwrap();
        std::os::unix::fs::symlink(target, link).unwrap();
    }

    /// A call's answer: refused or not, and its text.
    async fn call(&self, tool: &str, args: Value) -> (bool, String) {
        let r = self.mcp.call(tool, args).await;
        (r.is_error == Some(true), text(&r))
    }

    async fn ids(&self) -> Vec<i64> {
        let mut c = sqlx::SqliteConnection::connect(&self.db.url).await.unwrap();
        sqlx::query_scalar("select id from t order by id").fetch_all(&mut c).await.unwrap()
    }
}

fn listing(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> =
        std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    names.sort();
    names
}

/// A link inside the folder leading out of it is judged by its target: refused by every tool that
/// reads a folder, and nothing of the target is read (or applied).
#[tokio::test]
async fn folder_entries_linking_out_are_refused_by_every_tool_that_reads_a_folder() {
    let s = Sandbox::new().await;
    s.write(&s.outside("secret.sql"), &format!("create table {SECRET} (id int primary key);\n"));
    s.write(&s.outside("evil.sql"), "insert into t values (666);\n");
    s.write(&s.outside("down.sql"), &format!("drop table {SECRET};\n"));
    // migrations/: version 1 is a link out; version 2 is real.
    s.link(&s.outside("secret.sql"), &s.work("migrations/0001_init.sql"));
    s.write(&s.work("migrations/0002_b.sql"), "create table b (id int primary key);\n");
    // single/: a real up script whose down script is a link out.
    s.write(&s.work("single/0003_c.up.sql"), "create table c (id int primary key);\n");
    s.link(&s.outside("down.sql"), &s.work("single/0003_c.down.sql"));
    // seeds/: a seed script that is a link out.
    s.link(&s.outside("evil.sql"), &s.work("seeds/a_evil.sql"));

    let (mut read, mut wrong) = (Vec::new(), Vec::new());
    for (tool, args, entry) in [
        ("create-migration-plan", json!({"folder": "migrations"}), "0001_init.sql"),
        ("dry-run", json!({"folder": "migrations"}), "0001_init.sql"),
        ("apply-migration", json!({"folder": "migrations", "plan_id": "0", "confirm": true}), "0001_init.sql"),
        ("rollback", json!({"folder": "migrations", "version": 1}), "0001_init.sql"),
        ("verify-order", json!({"path": "migrations", "engine": "sqlite", "emit_sql": true}), "0001_init.sql"),
        ("create-migration-plan", json!({"file": "single/0003_c.up.sql"}), "0003_c.down.sql"),
        ("seed", json!({"path": "seeds"}), "a_evil.sql"),
    ] {
        let (refused, answer) = s.call(tool, args.clone()).await;
        if answer.contains(SECRET) || answer.contains("666") {
            read.push(format!("{tool} {args}"));
        }
        let named = answer.contains(entry) && answer.contains("outside the directories") && answer.contains("next:");
        if !(refused && named) {
            wrong.push(format!("{tool} {args}: {}", answer.lines().take(3).collect::<Vec<_>>().join(" | ")));
        }
    }
    let applied = s.ids().await;
    assert!(
        applied.is_empty() && read.is_empty() && wrong.is_empty(),
        "rows the seed linking out applied: {applied:?}\nthese read a file outside: {read:#?}\n\
         these did not refuse the entry linking out, naming it: {wrong:#?}"
    );

    // A folder that is itself a link out is refused as before; links that stay inside are fine.
    s.link(s.outside.path(), &s.work("linked"));
    let (refused, answer) = s.call("verify-order", json!({"path": "linked", "engine": "sqlite"})).await;
    assert!(refused && answer.contains("outside the directories"), "{answer}");
    s.write(&s.work("inner/real/1_a.sql"), "create table a (id int primary key);\n");
    s.link(&s.work("inner/real/1_a.sql"), &s.work("inner/ok/1_a.sql"));
    let (refused, answer) = s.call("verify-order", json!({"path": "inner/ok", "engine": "sqlite"})).await;
    assert!(!refused, "a link inside the allowed directory is read: {answer}");
    s.mcp.close().await;
}

/// A planted dangling link named like the next migration: create-migration-plan with write must
/// not create its target outside (nor anything else).
#[tokio::test]
async fn create_migration_plan_never_writes_through_a_planted_link() {
    let s = Sandbox::new().await;
    // The newest version fixes the next one, so the planted name is the one write would use.
    s.write(&s.work("migrations/99999999999998_a.sql"), "create table a (id int primary key);\n");
    s.link(&s.outside("planted.sql"), &s.work("migrations/99999999999999_migration.up.sql"));
    let before = listing(&s.work("migrations"));
    let (refused, answer) = s
        .call(
            "create-migration-plan",
            json!({"sql": "create table b (id int primary key)", "folder": "migrations", "write": true}),
        )
        .await;
    assert!(!s.outside("planted.sql").exists(), "a file was created outside through the planted link:\n{answer}");
    assert_eq!(listing(s.outside.path()), Vec::<String>::new());
    assert_eq!(listing(&s.work("migrations")), before, "nothing is written next to the planted link");
    assert!(refused, "{answer}");
    assert!(answer.contains("99999999999999_migration.up.sql") && answer.contains("next:"), "{answer}");
    s.mcp.close().await;
}

/// snapshot's file and load-csv's rejects_file replace a file only with overwrite: true, and
/// never write through a link.
#[tokio::test]
async fn written_files_are_never_overwritten_unless_asked() {
    let s = Sandbox::new().await;
    let keep = "keep me\n";
    s.write(&s.work("snap.json"), keep);
    s.write(&s.work("rows.csv"), "id\n1\nx\n2\n");
    s.write(&s.work("rejects.csv"), keep);
    let (snapshot_refused, snapshot_answer) = s.call("snapshot", json!({"file": "snap.json"})).await;
    let load = json!({"table": "t", "file": "rows.csv", "on_error": "skip", "rejects_file": "rejects.csv"});
    let (load_refused, load_answer) = s.call("load-csv", load.clone()).await;
    let contents = [
        std::fs::read_to_string(s.work("snap.json")).unwrap(),
        std::fs::read_to_string(s.work("rejects.csv")).unwrap(),
    ];
    assert_eq!(contents, [keep, keep], "snapshot's file and load-csv's rejects_file were overwritten");
    for (refused, answer) in [(snapshot_refused, snapshot_answer), (load_refused, load_answer)] {
        assert!(refused && answer.contains("already exists") && answer.contains("overwrite: true"), "{answer}");
    }
    assert!(s.ids().await.is_empty(), "a refused load loads nothing");
    let listed = s.mcp.ok("snapshot", json!({"list": true})).await;
    assert!(listed.get("snapshots").is_none(), "a refused snapshot stores nothing: {listed}");
    s.mcp.ok("snapshot", json!({"file": "snap.json", "overwrite": true})).await;
    let written: Value = serde_json::from_str(&std::fs::read_to_string(s.work("snap.json")).unwrap()).unwrap();
    assert!(written.is_object(), "{written}");
    s.mcp.ok("snapshot", json!({"file": "fresh.json"})).await;
    assert!(s.work("fresh.json").exists());

    // A link to a file inside the directory is not written through, even with overwrite.
    s.write(&s.work("target.json"), keep);
    s.link(&s.work("target.json"), &s.work("link.json"));
    let (refused, answer) = s.call("snapshot", json!({"file": "link.json", "overwrite": true})).await;
    assert_eq!(std::fs::read_to_string(s.work("target.json")).unwrap(), keep, "written through a link");
    assert!(refused && answer.contains("symlink"), "{answer}");

    // load-csv replaces its rejects file when asked.
    let mut again = load.clone();
    again["overwrite"] = json!(true);
    let v = s.mcp.ok("load-csv", again).await;
    assert_eq!(v["rejected"], 1, "{v}");
    assert_eq!(s.ids().await, vec![1, 2]);
    let rejects = std::fs::read_to_string(s.work("rejects.csv")).unwrap();
    assert!(rejects.starts_with("line,column,value,reason\n") && rejects.contains("\n3,id,x,"), "{rejects}");
    s.mcp.close().await;
}
