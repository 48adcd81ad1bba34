//! The dependency graph on small scripts: one case per kind of mistake, each with the problems it
//! must report and the order it must propose.

use super::*;

fn run(engine: Engine, sql: &str) -> Report {
    analyze(&[SourceFile { name: "s.sql".into(), text: sql.into() }], engine, true)
}

/// `(kind, statement, object)` of each problem.
fn problems(r: &Report) -> Vec<(ProblemKind, usize, String)> {
    r.problems.iter().map(|p| (p.kind, p.at.statement, p.object.clone().unwrap_or_default())).collect()
}

struct Case {
    name: &'static str,
    sql: &'static str,
    problems: &'static [(ProblemKind, usize, &'static str)],
    /// Expected proposed order; empty when the given order is kept.
    order: &'static [&'static str],
}

use ProblemKind::*;

const CASES: &[Case] = &[
    Case {
        name: "already ordered (and a comment on a missing function)",
        sql: "create extension if not exists citext;
              create schema app;
              create type mood as enum ('ok', 'sad');
              create domain email as citext check (value like '%@%');
              create table app.users (id bigint generated always as identity primary key, mail email, m mood);
              create sequence order_no;
              create table orders (id bigint primary key, no bigint default nextval('order_no'),
                                   user_id bigint references app.users (id), parent_id bigint references orders (id));
              create index orders_user on orders (user_id);
              create view recent as select o.id, u.mail from orders o join app.users u on u.id = o.user_id;
              create function touch() returns trigger language plpgsql as $$ begin new.id = 1; return new; end $$;
              create trigger t_touch before update on orders for each row execute function touch();
              alter table orders enable row level security;
              create policy own on orders using (user_id = current_setting('app.user_id')::bigint);
              grant select on orders to public;
              comment on column orders.no is 'order number';
              comment on function touch() is 'sets id';
              comment on function missing(int, text) is 'not here';",
        problems: &[(DefinedNowhere, 17, "function missing")],
        order: &[],
    },
    Case {
        name: "out-of-order foreign key",
        sql: "create table orders (id int primary key, user_id int references users (id));
              create table users (id int primary key);",
        problems: &[(DefinedLater, 1, "table users")],
        order: &["s.sql#2", "s.sql#1"],
    },
    Case {
        name: "view before table",
        sql: "create view v as with w as (select * from t) select * from w;
              create table t (id int);",
        problems: &[(DefinedLater, 1, "relation t")],
        order: &["s.sql#2", "s.sql#1"],
    },
    Case {
        name: "index before table",
        sql: "create index t_a on t (a);
              create table t (a int);",
        problems: &[(DefinedLater, 1, "table t")],
        order: &["s.sql#2", "s.sql#1"],
    },
    Case {
        name: "an index on a column added by an earlier ALTER stays after it",
        sql: "alter table t add column b mood;
              create index t_b on t (b);
              create table t (a int);
              create type mood as enum ('x');",
        problems: &[(DefinedLater, 1, "table t"), (DefinedLater, 1, "type mood"), (DefinedLater, 2, "table t")],
        order: &["s.sql#3-4", "s.sql#1-2"],
    },
    Case {
        name: "inheritance and LIKE need their source table",
        sql: "create table c1 (like p including all);
              create table c2 (x int) inherits (p);
              create table c3 (like p);
              create table p (id int);",
        // The parser does not know LIKE's options: its keywords still name the source.
        problems: &[
            (DefinedLater, 1, "table p"),
            (Unparsed, 1, ""),
            (DefinedLater, 2, "table p"),
            (DefinedLater, 3, "table p"),
        ],
        order: &["s.sql#4", "s.sql#1-3"],
    },
    Case {
        name: "trigger before function",
        sql: "create table t (a int);
              create trigger t_a before insert on t for each row execute function set_a();
              create function set_a() returns trigger language plpgsql as $$ begin new.a = 1; return new; end $$;",
        problems: &[(DefinedLater, 2, "function set_a")],
        order: &["s.sql#1", "s.sql#3", "s.sql#2"],
    },
    Case {
        name: "policy before table",
        sql: "create policy p on t using (owner = current_user);
              create table t (owner text);
              alter table t enable row level security;",
        problems: &[(DefinedLater, 1, "table t")],
        order: &["s.sql#2", "s.sql#1", "s.sql#3"],
    },
    Case {
        name: "type and sequence used before they exist",
        sql: "create table t (id int default nextval('t_seq'), m mood);
              create sequence t_seq;
              create type mood as enum ('a');",
        problems: &[(DefinedLater, 1, "sequence t_seq"), (DefinedLater, 1, "type mood")],
        order: &["s.sql#2-3", "s.sql#1"],
    },
    Case {
        name: "extension after its type",
        sql: "create table u (mail citext);
              create extension citext;",
        problems: &[(DefinedLater, 1, "type citext")],
        order: &["s.sql#2", "s.sql#1"],
    },
    Case {
        name: "table in a schema created later",
        sql: "create table app.t (id int);
              create schema app;",
        problems: &[(DefinedLater, 1, "schema app")],
        order: &["s.sql#2", "s.sql#1"],
    },
    Case {
        name: "sql function reads a table created later",
        sql: "create function n() returns bigint language sql as $$ select count(*) from t $$;
              create table t (id int);",
        problems: &[(DefinedLater, 1, "relation t")],
        order: &["s.sql#2", "s.sql#1"],
    },
    Case {
        name: "mutual foreign keys cycle",
        sql: "create table a (id int primary key, b_id int references b (id));
              create table b (id int primary key, a_id int, constraint b_a foreign key (a_id) references a (id));",
        problems: &[(DefinedLater, 1, "table b"), (Cycle, 1, "table a")],
        order: &["s.sql#1*", "s.sql#2", "s.sql#1+fk1"],
    },
    Case {
        name: "views that need each other: no order works, the given one is kept",
        sql: "create view a as select * from b;
              create view b as select * from a;",
        problems: &[(DefinedLater, 1, "relation b"), (Cycle, 1, "")],
        order: &[],
    },
    Case {
        name: "built-in types are not objects to create",
        sql: "create table t (body text, r int4range[], at timestamptz, ip inet, doc tsvector, n serial);
              create index t_fts on t using gin (to_tsvector('english'::regconfig, body));",
        problems: &[],
        order: &[],
    },
    Case {
        name: "unknown reference",
        sql: "create table t (id int, owner uuid references auth.users (id));
              grant select on t to app;",
        problems: &[(DefinedNowhere, 1, "table auth.users")],
        order: &[],
    },
    Case {
        name: "unparsed statement keeps its place",
        sql: "create table t (id int);
              do $$ begin perform 1; end $$;
              create index concurrently t_id on t (id);",
        problems: &[],
        order: &[],
    },
];

#[test]
fn cases() {
    for case in CASES {
        let r = run(Engine::Postgres, case.sql);
        let mut got: Vec<_> =
            problems(&r).into_iter().filter(|p| p.0 != Unparsed || !case.name.starts_with("unparsed")).collect();
        got.sort();
        let mut want: Vec<_> = case.problems.iter().map(|(k, n, o)| (*k, *n, o.to_string())).collect();
        want.sort();
        assert_eq!(got, want, "{}: problems\n{:#?}", case.name, r.problems);
        assert_eq!(r.proposed_order, case.order, "{}: order\n{:#?}", case.name, r);
    }
}

#[test]
fn cycle_is_fixed_with_alter_table() {
    let r = run(
        Engine::Postgres,
        "create table a (id int primary key, b_id int references b (id));
         create table b (id int primary key, a_id int, constraint b_a foreign key (a_id) references a (id));",
    );
    let sql: Vec<&str> = r.rewritten.iter().map(|w| w.sql.as_str()).collect();
    assert_eq!(sql.len(), 2, "{sql:?}");
    assert!(!sql[0].contains("REFERENCES"), "the table loses the key: {}", sql[0]);
    assert_eq!(sql[1], "ALTER TABLE a ADD FOREIGN KEY (b_id) REFERENCES b(id);");
    assert!(!r.in_order);
    let whole = r.sql.unwrap();
    assert!(whole.find("ALTER TABLE a").unwrap() > whole.find("create table b").unwrap(), "{whole}");
}

#[test]
fn defined_later_names_both_locations() {
    let r = analyze(
        &[
            SourceFile { name: "1_a.sql".into(), text: "select 1;\n\ncreate index i on t (x);".into() },
            SourceFile { name: "2_b.sql".into(), text: "\n\ncreate table t (x int);".into() },
        ],
        Engine::Postgres,
        false,
    );
    let p = &r.problems[0];
    assert_eq!((p.at.file.as_str(), p.at.statement, p.at.line), ("1_a.sql", 2, 3));
    let d = p.defined_at.as_ref().unwrap();
    assert_eq!((d.file.as_str(), d.statement, d.line), ("2_b.sql", 1, 3));
    assert_eq!(r.proposed_order, ["1_a.sql#1", "2_b.sql#1", "1_a.sql#2"]);
    assert!(r.sql.is_none(), "sql only on request");
}

#[test]
fn unparsable_statement_is_reported_with_its_error_and_position() {
    let r = run(Engine::Postgres, "create table t (id int);\ncreate tabel oops (x int);\ncreate index i on t (id);");
    let p = r.problems.iter().find(|p| p.kind == Unparsed).expect("reported");
    assert_eq!((p.at.statement, p.at.line), (2, 2));
    assert!(p.detail.as_ref().unwrap().contains("Expected"), "{:?}", p.detail);
    assert!(r.proposed_order.is_empty(), "the rest is still in order");
}

#[test]
fn common_postgres_statements_the_parser_misses_still_count() {
    let r = run(
        Engine::Postgres,
        "comment on policy \"members read\" on t is 'x';
         create materialized view m as select * from t with no data;
         comment on function f(int, text) is 'y';
         create table t (id int);
         create function f(a int, b text) returns int language sql as 'select 1';",
    );
    assert_eq!(r.counts.unparsed, 1, "only the COMMENT ON POLICY: {:#?}", r.problems);
    let later: Vec<_> = problems(&r).into_iter().filter(|p| p.0 == DefinedLater).collect();
    assert_eq!(
        later,
        [
            (DefinedLater, 1, "table t".to_string()),
            (DefinedLater, 2, "relation t".to_string()),
            (DefinedLater, 3, "function f".to_string())
        ]
    );
    assert_eq!(r.proposed_order, ["s.sql#4", "s.sql#1-2", "s.sql#5", "s.sql#3"]);
}

#[test]
fn mysql_and_sqlite_dialects() {
    let my = run(
        Engine::Mysql,
        "create table `order` (id int primary key, user_id int, foreign key (user_id) references users (id));
         create table users (id int auto_increment primary key) engine=innodb;",
    );
    assert_eq!(problems(&my), [(DefinedLater, 1, "table users".to_string())]);
    let lite = run(
        Engine::Sqlite,
        "create trigger t_u after update on t begin update t set n = n + 1 where id = new.id; end;
         create table t (id integer primary key, n whatever_type);",
    );
    assert_eq!(problems(&lite), [(DefinedLater, 1, "table t".to_string())], "{lite:#?}");
    // SQLite resolves foreign keys and views when they are used: no order needed, but a table
    // that never exists is still reported.
    let lazy = run(
        Engine::Sqlite,
        "create table a (id integer primary key, b_id int references b (id), c_id int references c (id));
         create view v as select * from b;
         create table b (id integer primary key, a_id int references a (id));",
    );
    assert_eq!(problems(&lazy), [(DefinedNowhere, 1, "table c".to_string())], "{lazy:#?}");
    assert!(lazy.in_order && lazy.proposed_order.is_empty() && lazy.rewritten.is_empty());
}

#[test]
fn big_scripts_stay_small() {
    // A chain of 400 tables written backwards: every one needs the next.
    let sql: String = (0..400)
        .map(|i| format!("create table t{i} (id int primary key, next_id int references t{} (id));\n", i + 1))
        .chain(std::iter::once("create table t400 (id int primary key);".to_string()))
        .collect();
    let r = run(Engine::Postgres, &sql);
    assert_eq!(r.counts.defined_later, 400);
    assert_eq!((r.problems.len(), r.omitted_problems), (100, Some(300)));
    assert_eq!((r.proposed_order.len(), r.omitted_order_entries), (300, Some(101)));
    assert_eq!(r.proposed_order[0], "s.sql#401");
    let whole = r.sql.unwrap();
    assert!(whole.starts_with("create table t400") && whole.trim_end().ends_with("references t1 (id));"));
}

#[test]
fn folder_order_follows_sqlx_versions() {
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in [
        ("10_later.up.sql", "create index i on t (x);"),
        ("2_first.up.sql", "create table t (x int);"),
        ("2_first.down.sql", "drop table t;"),
        ("notes.txt", "ignored"),
    ] {
        std::fs::write(dir.path().join(name), text).unwrap();
    }
    let access = crate::files::FileAccess::new(vec![dir.path().to_path_buf()]);
    let files = load(&access, dir.path()).unwrap();
    let names: Vec<_> = files.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(names, ["2_first.up.sql", "10_later.up.sql"]);
    assert!(load(&access, &dir.path().join("missing")).is_err());
}
