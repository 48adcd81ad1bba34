//! Reads a migration script statement by statement: what each one locks, whether it rewrites or
//! scans its table and for how long, the safer way to do it, and its inverse. Lint findings come
//! from squawk (PostgreSQL) and the rules in `rules/` (MySQL/MariaDB, SQLite).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use sqlparser::ast::{
    AlterColumnOperation, AlterTableOperation, ColumnOption, ObjectName, ObjectType, RenameTableNameKind,
    Statement as Ast, TableConstraint,
};

use super::{
    rules,
    snapshot::{Schema, SchemaObject},
};
use crate::{config::Engine, sql::split::Piece};

/// Throughputs the duration estimates assume (bytes per second): a sequential scan, a table
/// rewrite and an index build on an ordinary server disk.
const SCAN_BYTES_PER_SEC: f64 = 250e6;
const REWRITE_BYTES_PER_SEC: f64 = 35e6;
const INDEX_BYTES_PER_SEC: f64 = 40e6;
pub const ESTIMATE_BASIS: &str = "from the table's current total size, assuming a scan reads 250 MB/s, a rewrite \
    writes 35 MB/s and an index build handles 40 MB/s; lock waits behind running transactions come on top";

/// One statement of the plan.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Step {
    /// 1-based position in the script.
    pub index: usize,
    pub line: usize,
    pub sql: String,
    /// What it does (create table, add column, create index, ...).
    pub action: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub table: Option<String>,
    /// The lock it takes and what that blocks.
    pub lock: String,
    pub rewrites_table: bool,
    pub scans_table: bool,
    /// Estimated run time in seconds from the table's size (None: no existing table involved).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub estimated_seconds: Option<f64>,
    /// A safer way to reach the same result.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub safer: Option<String>,
    /// The statement that undoes it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub down: Option<String>,
    /// Why it cannot be undone, when it cannot.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub irreversible: Option<String>,
}

/// A lint finding with a stable rule id.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Finding {
    pub code: String,
    /// squawk or data-engineer.
    pub source: String,
    /// The statement it is about (1-based), when it is about one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub statement: Option<usize>,
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub help: Option<String>,
}

/// The analysis of a whole script.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Analysis {
    pub steps: Vec<Step>,
    pub findings: Vec<Finding>,
    /// The generated down script (inverses in reverse order); None when a step has no inverse.
    pub down: Option<String>,
    /// What cannot be reversed, one line per step.
    pub irreversible: Vec<String>,
}

/// DROP INDEX CONCURRENTLY, which the parser does not read: judged as the DROP INDEX it is,
/// with the lock it really takes and the index's own CREATE (concurrently) as its inverse.
fn drop_index_concurrently(engine: Engine, s: &Piece, schema: &Schema) -> Step {
    // The leading words are DROP INDEX CONCURRENTLY: the first CONCURRENTLY after INDEX in the
    // text without comments is that word (ASCII upper-casing keeps byte offsets).
    let text = crate::sql::split::strip_comments(&s.sql);
    let upper = text.to_ascii_uppercase();
    let sql = upper
        .find("INDEX")
        .and_then(|at| upper[at..].find("CONCURRENTLY").map(|c| at + c))
        .map(|c| format!("{}{}", &text[..c], &text[c + "CONCURRENTLY".len()..]))
        .unwrap_or(text);
    let mut step = match parse(engine, &sql) {
        Some(ast) => describe(engine, &ast, s, schema),
        None => step("drop index concurrently", None, PG_SHARE_UPDATE_EXCLUSIVE),
    };
    step.action = "drop index concurrently".into();
    step.lock = PG_SHARE_UPDATE_EXCLUSIVE.into();
    step.safer = None;
    step.down = step.down.map(|d| {
        d.replacen("CREATE INDEX", "CREATE INDEX CONCURRENTLY", 1).replacen(
            "CREATE UNIQUE INDEX",
            "CREATE UNIQUE INDEX CONCURRENTLY",
            1,
        )
    });
    step
}

/// Why PostgreSQL refuses to run this statement inside a transaction block, if it does: such a
/// statement makes its migration run statement by statement, outside a transaction.
pub fn outside_transaction(engine: Engine, sql: &str) -> Option<&'static str> {
    if engine != Engine::Postgres {
        return None;
    }
    let words = crate::sql::leading_words(sql, engine, 6);
    let w: Vec<&str> = words.iter().map(String::as_str).collect();
    let concurrently = w.contains(&"CONCURRENTLY");
    match w.as_slice() {
        ["CREATE", "INDEX", ..] | ["CREATE", "UNIQUE", "INDEX", ..] if concurrently => {
            Some("CREATE INDEX CONCURRENTLY")
        }
        ["DROP", "INDEX", "CONCURRENTLY", ..] => Some("DROP INDEX CONCURRENTLY"),
        ["REINDEX", ..] if concurrently => Some("REINDEX CONCURRENTLY"),
        ["VACUUM", ..] => Some("VACUUM"),
        ["CREATE", "DATABASE", ..] | ["DROP", "DATABASE", ..] => Some("CREATE / DROP DATABASE"),
        ["CREATE", "TABLESPACE", ..] | ["DROP", "TABLESPACE", ..] => Some("CREATE / DROP TABLESPACE"),
        ["ALTER", "SYSTEM", ..] => Some("ALTER SYSTEM"),
        _ => None,
    }
}

/// Parse one statement; None when the parser does not know it (the database will judge it).
pub fn parse(engine: Engine, sql: &str) -> Option<Ast> {
    crate::sql::parse(sql, engine).ok().and_then(|mut v| (v.len() == 1).then(|| v.remove(0)))
}

/// The unquoted last part of a name (`"public"."Orders"` → `Orders`).
pub fn base_name(name: &ObjectName) -> String {
    name.0.last().map(|p| p.to_string().trim_matches(['"', '`']).to_string()).unwrap_or_default()
}

/// Table names the script touches (unqualified), to look up their sizes.
pub fn tables(engine: Engine, script: &str) -> Vec<String> {
    let mut out: Vec<String> = crate::sql::split::split(script, engine)
        .iter()
        .filter_map(|s| parse(engine, &s.sql))
        .filter_map(|ast| match ast {
            Ast::AlterTable(a) => Some(base_name(&a.name)),
            Ast::CreateIndex(c) => Some(base_name(&c.table_name)),
            _ => None,
        })
        .collect();
    out.sort();
    out.dedup();
    out
}

/// Does a catalog name (`public.orders`, `orders.id`) end with these parts (case-insensitive)?
fn name_matches(object: &str, parts: &[String]) -> bool {
    let object: Vec<String> = object.split('.').map(|p| p.trim_matches(['"', '`']).to_ascii_lowercase()).collect();
    object.len() >= parts.len()
        && object[object.len() - parts.len()..].iter().zip(parts).all(|(a, b)| *a == b.to_ascii_lowercase())
}

fn find<'a>(schema: &'a Schema, kind: &[&str], parts: &[String]) -> Option<&'a SchemaObject> {
    schema.objects.iter().find(|o| kind.contains(&o.kind.as_str()) && name_matches(&o.name, parts))
}

fn parts(name: &ObjectName) -> Vec<String> {
    name.0.iter().map(|p| p.to_string().trim_matches(['"', '`']).to_string()).collect()
}

/// Analyze a script against the current schema and the sizes (bytes) of the tables it touches.
pub fn analyze(engine: Engine, script: &str, schema: &Schema, sizes: &BTreeMap<String, u64>) -> Analysis {
    let statements = crate::sql::split::split(script, engine);
    let mut steps = Vec::new();
    let mut findings = Vec::new();
    for (i, s) in statements.iter().enumerate() {
        let ast = parse(engine, &s.sql);
        let mut step = match &ast {
            Some(ast) => describe(engine, ast, s, schema),
            None if outside_transaction(engine, &s.sql) == Some("DROP INDEX CONCURRENTLY") => {
                drop_index_concurrently(engine, s, schema)
            }
            None => Step {
                index: 0,
                line: 0,
                sql: String::new(),
                action: "unparsed statement".into(),
                table: None,
                lock: "unknown: the parser does not know this statement; the dry-run will show what it does".into(),
                rewrites_table: false,
                scans_table: false,
                estimated_seconds: None,
                safer: None,
                down: None,
                irreversible: Some("the parser does not know this statement, so no inverse was generated".into()),
            },
        };
        step.index = i + 1;
        step.line = s.line;
        step.sql = s.sql.clone();
        if let Some(table) = &step.table {
            let bytes = sizes.get(&table.to_ascii_lowercase()).copied().unwrap_or(0) as f64;
            let seconds = if step.rewrites_table {
                Some(bytes / REWRITE_BYTES_PER_SEC)
            } else if step.action.contains("index") && step.scans_table {
                Some(bytes / INDEX_BYTES_PER_SEC)
            } else if step.scans_table {
                Some(bytes / SCAN_BYTES_PER_SEC)
            } else {
                Some(0.0)
            };
            step.estimated_seconds = seconds.map(|s| (s * 100.0).round() / 100.0);
        }
        if let Some(ast) = &ast {
            for rule in rules::for_engine(engine) {
                if let Some((message, help)) = (rule.check)(ast) {
                    findings.push(Finding {
                        code: rule.code.into(),
                        source: "data-engineer".into(),
                        statement: Some(i + 1),
                        message,
                        help: Some(help),
                    });
                }
            }
        }
        steps.push(step);
    }
    if engine == Engine::Postgres {
        findings.extend(squawk(script, &statements));
    }
    let irreversible: Vec<String> = steps
        .iter()
        .filter_map(|s| s.irreversible.as_ref().map(|why| format!("step {} ({}): {why}", s.index, s.action)))
        .collect();
    let down = irreversible.is_empty().then(|| {
        let mut lines: Vec<String> =
            steps.iter().rev().filter_map(|s| s.down.clone()).map(|d| format!("{d};")).collect();
        if steps.first().is_some_and(|s| {
            s.sql.starts_with(super::folder::NO_TRANSACTION) || script.starts_with(super::folder::NO_TRANSACTION)
        }) {
            lines.insert(0, super::folder::NO_TRANSACTION.to_string());
        }
        lines.join("\n") + "\n"
    });
    Analysis { steps, findings, down, irreversible }
}

/// squawk's PostgreSQL rules over the whole script; each finding is placed on its statement.
fn squawk(script: &str, statements: &[Piece]) -> Vec<Finding> {
    let parse = squawk_syntax::SourceFile::parse(script);
    let mut linter = squawk_linter::Linter::with_default_rules();
    // A script holding a statement PostgreSQL refuses in a transaction runs outside one.
    let outside = statements.iter().any(|s| outside_transaction(Engine::Postgres, &s.sql).is_some());
    linter.settings.assume_in_transaction = !script.starts_with(super::folder::NO_TRANSACTION) && !outside;
    let mut out: Vec<Finding> = linter
        .lint(&parse, script)
        .into_iter()
        .map(|v| {
            let at = usize::from(v.text_range.start());
            let statement = statements.iter().rposition(|s| s.offset <= at).map(|i| i + 1);
            Finding { code: v.code.to_string(), source: "squawk".into(), statement, message: v.message, help: v.help }
        })
        .collect();
    out.sort_by(|a, b| (a.statement, &a.code).cmp(&(b.statement, &b.code)));
    out
}

fn step(action: &str, table: Option<String>, lock: &str) -> Step {
    Step {
        index: 0,
        line: 0,
        sql: String::new(),
        action: action.into(),
        table,
        lock: lock.into(),
        rewrites_table: false,
        scans_table: false,
        estimated_seconds: None,
        safer: None,
        down: None,
        irreversible: None,
    }
}

const PG_ACCESS_EXCLUSIVE: &str = "ACCESS EXCLUSIVE on the table: blocks reads and writes until the transaction ends";
const PG_SHARE: &str = "SHARE on the table: blocks writes (reads continue) while the index builds";
const PG_SHARE_ROW_EXCLUSIVE: &str =
    "SHARE ROW EXCLUSIVE on the table and the referenced table: blocks writes on both while existing rows are checked";
const PG_SHARE_UPDATE_EXCLUSIVE: &str =
    "SHARE UPDATE EXCLUSIVE: reads and writes continue (blocks only other schema changes and VACUUM)";
const MYSQL_INSTANT: &str = "metadata lock for an instant: ALGORITHM=INSTANT changes only the data dictionary";
const MYSQL_INPLACE: &str = "metadata lock at start and end; ALGORITHM=INPLACE, LOCK=NONE: reads and writes continue";
const MYSQL_COPY: &str = "ALGORITHM=COPY: the table is copied row by row and writes wait until the copy ends";
const SQLITE_LOCK: &str = "the database's write lock for the whole transaction (SQLite has one writer)";
const NO_LOCK: &str = "no lock on existing tables";

fn lock_for(engine: Engine, pg: &'static str, mysql: &'static str) -> &'static str {
    match engine {
        Engine::Postgres => pg,
        Engine::Mysql => mysql,
        _ => SQLITE_LOCK,
    }
}

fn describe(engine: Engine, ast: &Ast, s: &Piece, schema: &Schema) -> Step {
    match ast {
        Ast::CreateTable(c) => {
            let mut st = step("create table", None, NO_LOCK);
            st.down = Some(format!("DROP TABLE {}", c.name));
            st
        }
        Ast::CreateIndex(c) => {
            let table = base_name(&c.table_name);
            let mut st = if c.concurrently {
                step("create index concurrently", Some(table.clone()), PG_SHARE_UPDATE_EXCLUSIVE)
            } else {
                step("create index", Some(table.clone()), lock_for(engine, PG_SHARE, MYSQL_INPLACE))
            };
            st.scans_table = true;
            if engine == Engine::Postgres && !c.concurrently {
                st.safer = Some(format!(
                    "CREATE INDEX CONCURRENTLY in its own migration whose first line is `-- no-transaction` \
                     (writes continue; an interrupted build leaves an INVALID index to drop and retry): {}",
                    s.sql.replacen("INDEX", "INDEX CONCURRENTLY", 1).replacen("index", "index concurrently", 1)
                ));
            }
            match &c.name {
                Some(name) => {
                    st.down = Some(match engine {
                        Engine::Mysql => format!("DROP INDEX {name} ON {}", c.table_name),
                        _ if c.concurrently => format!("DROP INDEX CONCURRENTLY {name}"),
                        _ => format!("DROP INDEX {name}"),
                    })
                }
                None => st.irreversible = Some("the index has no name; name it so the down script can drop it".into()),
            }
            st
        }
        Ast::CreateView(v) => {
            let mut st = step(if v.materialized { "create materialized view" } else { "create view" }, None, NO_LOCK);
            let existing = find(schema, &["view", "materialized view"], &parts(&v.name));
            match (v.or_replace, existing) {
                (true, Some(old)) => {
                    st.down = old.create.clone();
                    if st.down.is_none() {
                        st.irreversible = Some("replaces a view whose definition could not be read".into());
                    }
                }
                _ => {
                    st.down = Some(format!("DROP {}VIEW {}", if v.materialized { "MATERIALIZED " } else { "" }, v.name))
                }
            }
            st
        }
        Ast::CreateSequence { name, .. } => {
            let mut st = step("create sequence", None, NO_LOCK);
            st.down = Some(format!("DROP SEQUENCE {name}"));
            st
        }
        Ast::CreateSchema { schema_name, .. } => {
            let mut st = step("create schema", None, NO_LOCK);
            st.down = Some(format!("DROP SCHEMA {schema_name}"));
            st
        }
        Ast::CreateExtension(e) => {
            let mut st = step("create extension", None, NO_LOCK);
            st.down = Some(format!("DROP EXTENSION {}", e.name));
            st
        }
        Ast::CreateType { name, .. } => {
            let mut st = step("create type", None, NO_LOCK);
            st.down = Some(format!("DROP TYPE {name}"));
            st
        }
        Ast::CreateFunction(f) => {
            let mut st = step("create function", None, NO_LOCK);
            let args = f.args.as_ref().map(|a| a.iter().map(|x| x.to_string()).collect::<Vec<_>>().join(", "));
            st.down = Some(match engine {
                Engine::Postgres => format!("DROP FUNCTION {}({})", f.name, args.unwrap_or_default()),
                _ => format!("DROP FUNCTION {}", f.name),
            });
            st
        }
        Ast::CreateTrigger(t) => {
            let mut st = step(
                "create trigger",
                Some(base_name(&t.table_name)),
                lock_for(engine, "SHARE ROW EXCLUSIVE on the table: blocks writes for a moment", MYSQL_INSTANT),
            );
            st.down = Some(match engine {
                Engine::Postgres => format!("DROP TRIGGER {} ON {}", t.name, t.table_name),
                _ => format!("DROP TRIGGER {}", t.name),
            });
            st
        }
        Ast::CreatePolicy(p) => {
            let mut st = step("create policy", Some(base_name(&p.table_name)), PG_ACCESS_EXCLUSIVE);
            st.down = Some(format!("DROP POLICY {} ON {}", p.name, p.table_name));
            st
        }
        Ast::AlterTable(a) => alter_table(engine, &a.name, &a.operations, schema),
        Ast::Drop { object_type, names, table, .. } => drop(engine, *object_type, names, table.as_ref(), schema),
        Ast::RenameTable(renames) => {
            let mut st = step(
                "rename table",
                renames.first().map(|r| base_name(&r.old_name)),
                lock_for(engine, PG_ACCESS_EXCLUSIVE, MYSQL_INSTANT),
            );
            st.down = Some(format!(
                "RENAME TABLE {}",
                renames
                    .iter()
                    .rev()
                    .map(|r| format!("{} TO {}", r.new_name, r.old_name))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
            st.safer = Some(EXPAND_CONTRACT_TABLE.into());
            st
        }
        Ast::DropFunction(f) => {
            let mut st = step("drop function", None, NO_LOCK);
            let mut downs = Vec::new();
            for d in &f.func_desc {
                // Catalog names carry the argument types: `public.f(a integer)`.
                let wanted = parts(&d.name);
                let found: Vec<&SchemaObject> = schema
                    .objects
                    .iter()
                    .filter(|o| matches!(o.kind.as_str(), "function" | "procedure"))
                    .filter(|o| name_matches(o.name.split('(').next().unwrap_or(""), &wanted))
                    .collect();
                match found.as_slice() {
                    [one] if one.create.is_some() => downs.push(one.create.clone().unwrap_or_default()),
                    [] => st.irreversible = Some(format!("function {} is not in the current schema", d.name)),
                    _ => st.irreversible = Some(format!("{} is overloaded; name its argument types", d.name)),
                }
            }
            if st.irreversible.is_none() {
                st.down = Some(downs.join(";\n"));
            }
            st
        }
        Ast::Insert(_) | Ast::Update { .. } | Ast::Delete(_) => {
            let mut st = step(
                "data change",
                None,
                lock_for(engine, "ROW EXCLUSIVE: row locks on the rows it changes", "row locks on the rows it changes"),
            );
            st.irreversible =
                Some("a data change has no generated inverse; write one by hand or restore from a backup".into());
            st.safer = Some("change large tables in batches (by primary key ranges) in separate transactions".into());
            st
        }
        Ast::RefreshMaterializedView(r) => {
            let mut st = step(
                "refresh materialized view",
                None,
                if r.concurrently {
                    "EXCLUSIVE on the view: reads continue, other refreshes wait"
                } else {
                    "ACCESS EXCLUSIVE on the view: every read waits until the refresh ends"
                },
            );
            st.scans_table = true;
            // A refresh changes rows, not schema: undoing it is refreshing again.
            st.down = None;
            st
        }
        Ast::Set(_) => step("session setting", None, NO_LOCK),
        Ast::Grant(_) => {
            let mut st = step("grant", None, NO_LOCK);
            st.down = grant_inverse(&s.sql);
            if st.down.is_none() {
                st.irreversible = Some("could not derive the REVOKE for this GRANT".into());
            }
            st
        }
        Ast::Comment { .. } => step("comment", None, NO_LOCK),
        _ => {
            let mut st = step("other statement", None, "see the engine's documentation for this statement");
            st.irreversible = Some("no inverse is generated for this kind of statement".into());
            st
        }
    }
}

const EXPAND_CONTRACT_COLUMN: &str = "expand/contract: add the new column, write both from the application, backfill \
    in batches, switch reads, then drop the old column in a later release (a rename breaks every client still using \
    the old name)";
const EXPAND_CONTRACT_TABLE: &str = "expand/contract: create the new name as a view over the table (or the table plus \
    a view with the old name), move clients, then drop the old name in a later release";

fn grant_inverse(sql: &str) -> Option<String> {
    let re = regex::Regex::new(r"(?is)^\s*GRANT\s+(.+?)\s+TO\s+(.+?)(\s+WITH\s+GRANT\s+OPTION)?\s*$").ok()?;
    let c = re.captures(sql)?;
    Some(format!("REVOKE {} FROM {}", &c[1], &c[2]))
}

fn alter_table(engine: Engine, name: &ObjectName, ops: &[AlterTableOperation], schema: &Schema) -> Step {
    let table = base_name(name);
    let table_parts = parts(name);
    let column = |c: &str| -> Vec<String> {
        let mut p = table_parts.clone();
        p.push(c.trim_matches(['"', '`']).to_string());
        p
    };
    let has_algorithm = ops.iter().any(|o| matches!(o, AlterTableOperation::Algorithm { .. }));
    let real: Vec<&AlterTableOperation> = ops
        .iter()
        .filter(|o| !matches!(o, AlterTableOperation::Algorithm { .. } | AlterTableOperation::Lock { .. }))
        .collect();
    let mut st = step("alter table", Some(table.clone()), lock_for(engine, PG_ACCESS_EXCLUSIVE, MYSQL_INPLACE));
    let mut downs: Vec<String> = Vec::new();
    let mut irreversible: Vec<String> = Vec::new();
    let mut safer: Vec<String> = Vec::new();
    let mut actions: Vec<&str> = Vec::new();
    for op in &real {
        match op {
            AlterTableOperation::AddColumn { column_def, .. } => {
                actions.push("add column");
                let not_null = column_def.options.iter().any(|o| matches!(o.option, ColumnOption::NotNull));
                let default = column_def.options.iter().find_map(|o| match &o.option {
                    ColumnOption::Default(e) => Some(e.to_string()),
                    _ => None,
                });
                let volatile = default.as_deref().is_some_and(|d| {
                    let d = d.to_ascii_lowercase();
                    ["random(", "gen_random_uuid(", "uuid_generate", "clock_timestamp(", "nextval("]
                        .iter()
                        .any(|f| d.contains(f))
                });
                match engine {
                    Engine::Postgres if volatile => {
                        st.rewrites_table = true;
                        safer.push(format!(
                            "add {} without the volatile default, backfill in batches, then SET DEFAULT for new rows",
                            column_def.name
                        ));
                    }
                    Engine::Postgres if not_null && default.is_none() => safer.push(format!(
                        "ADD COLUMN {0} nullable, backfill in batches, ADD CONSTRAINT {0}_not_null CHECK ({0} IS NOT NULL) \
                         NOT VALID, VALIDATE CONSTRAINT, then SET NOT NULL (PostgreSQL 12+ skips the scan) and drop the CHECK",
                        column_def.name
                    )),
                    Engine::Mysql => st.lock = MYSQL_INSTANT.into(),
                    _ => {}
                }
                downs.push(format!("ALTER TABLE {name} DROP COLUMN {}", column_def.name));
            }
            AlterTableOperation::DropColumn { column_names, .. } => {
                actions.push("drop column");
                for c in column_names {
                    irreversible.push(format!("DROP COLUMN {c} loses the column's data"));
                }
                safer.push("stop reading and writing the column in the application first (contract step of expand/contract); keep a backup".into());
            }
            AlterTableOperation::AddConstraint { constraint, not_valid } => {
                let constraint_name = match constraint {
                    TableConstraint::Unique(u) => u.name.clone(),
                    TableConstraint::PrimaryKey(p) => p.name.clone(),
                    TableConstraint::ForeignKey(f) => f.name.clone(),
                    TableConstraint::Check(c) => c.name.clone(),
                    _ => None,
                };
                let is_fk = matches!(constraint, TableConstraint::ForeignKey(_));
                let is_index = matches!(constraint, TableConstraint::Unique(_) | TableConstraint::PrimaryKey(_));
                actions.push(if is_fk { "add foreign key" } else { "add constraint" });
                if !not_valid {
                    st.scans_table = true;
                }
                if engine == Engine::Postgres {
                    if is_fk {
                        st.lock = PG_SHARE_ROW_EXCLUSIVE.into();
                    }
                    if is_index {
                        st.scans_table = true;
                        safer.push("CREATE UNIQUE INDEX CONCURRENTLY first (own `-- no-transaction` migration), then ADD CONSTRAINT ... USING INDEX: the lock is then held only for a moment".into());
                    } else if !not_valid {
                        safer.push("ADD CONSTRAINT ... NOT VALID (instant; new rows are checked), then VALIDATE CONSTRAINT in a later transaction (checks old rows without blocking writes)".into());
                    }
                }
                if engine == Engine::Mysql && (is_fk || matches!(constraint, TableConstraint::PrimaryKey(_))) {
                    st.lock = MYSQL_COPY.into();
                    st.rewrites_table = true;
                }
                match (constraint_name, engine, constraint) {
                    (Some(n), Engine::Mysql, TableConstraint::ForeignKey(_)) => {
                        downs.push(format!("ALTER TABLE {name} DROP FOREIGN KEY {n}"))
                    }
                    (_, Engine::Mysql, TableConstraint::PrimaryKey(_)) => {
                        downs.push(format!("ALTER TABLE {name} DROP PRIMARY KEY"))
                    }
                    (Some(n), Engine::Mysql, TableConstraint::Unique(_)) => {
                        downs.push(format!("ALTER TABLE {name} DROP INDEX {n}"))
                    }
                    (Some(n), _, _) => downs.push(format!("ALTER TABLE {name} DROP CONSTRAINT {n}")),
                    (None, _, _) => {
                        irreversible.push("the constraint has no name; name it so the down script can drop it".into())
                    }
                }
            }
            AlterTableOperation::ValidateConstraint { .. } => {
                actions.push("validate constraint");
                st.scans_table = true;
                st.lock = PG_SHARE_UPDATE_EXCLUSIVE.into();
            }
            AlterTableOperation::DropConstraint { name: c, .. }
            | AlterTableOperation::DropForeignKey { name: c, .. } => {
                actions.push("drop constraint");
                let mut p = table_parts.clone();
                p.push(c.value.clone());
                match find(schema, &["constraint", "foreign key"], &p).and_then(|o| o.create.clone()) {
                    Some(create) => downs.push(create),
                    None => irreversible
                        .push(format!("constraint {c} is not in the current schema, so it cannot be recreated")),
                }
            }
            AlterTableOperation::RenameColumn { old_column_name, new_column_name } => {
                actions.push("rename column");
                if engine == Engine::Mysql {
                    st.lock = MYSQL_INSTANT.into();
                }
                safer.push(EXPAND_CONTRACT_COLUMN.into());
                downs.push(format!("ALTER TABLE {name} RENAME COLUMN {new_column_name} TO {old_column_name}"));
            }
            AlterTableOperation::RenameTable { table_name } => {
                actions.push("rename table");
                let new = match table_name {
                    RenameTableNameKind::As(n) | RenameTableNameKind::To(n) => n,
                };
                safer.push(EXPAND_CONTRACT_TABLE.into());
                let mut qualified = table_parts.clone();
                qualified.pop();
                qualified.push(base_name(new));
                let new_full = qualified.iter().map(|p| quote_if_needed(p)).collect::<Vec<_>>().join(".");
                downs.push(format!("ALTER TABLE {new_full} RENAME TO {}", quote_if_needed(&table)));
            }
            AlterTableOperation::AlterColumn { column_name, op } => {
                let existing = find(schema, &["column"], &column(&column_name.value));
                let restore = existing.and_then(|o| o.alter.clone());
                match op {
                    AlterColumnOperation::SetNotNull => {
                        actions.push("set not null");
                        st.scans_table = true;
                        safer.push(format!(
                            "ADD CONSTRAINT {0}_not_null CHECK ({0} IS NOT NULL) NOT VALID, VALIDATE CONSTRAINT (no write \
                             block), then SET NOT NULL (PostgreSQL 12+ uses the validated CHECK and skips the scan), then drop the CHECK",
                            column_name
                        ));
                        downs.push(format!("ALTER TABLE {name} ALTER COLUMN {column_name} DROP NOT NULL"));
                    }
                    AlterColumnOperation::DropNotNull => {
                        actions.push("drop not null");
                        downs.push(format!("ALTER TABLE {name} ALTER COLUMN {column_name} SET NOT NULL"));
                    }
                    AlterColumnOperation::SetDataType { .. } => {
                        actions.push("change column type");
                        st.rewrites_table = true;
                        st.scans_table = true;
                        safer.push(format!(
                            "{EXPAND_CONTRACT_COLUMN} (a type change rewrites the table under an exclusive lock)"
                        ));
                        match restore {
                            Some(r) => downs.push(r),
                            None => irreversible.push(format!("the current type of {column_name} is unknown")),
                        }
                    }
                    _ => {
                        actions.push("alter column");
                        match restore {
                            Some(r) => downs.push(r),
                            None => irreversible.push(format!("the current definition of {column_name} is unknown")),
                        }
                    }
                }
            }
            AlterTableOperation::ModifyColumn { col_name, .. } => {
                actions.push("modify column");
                st.lock = MYSQL_COPY.into();
                st.rewrites_table = true;
                match find(schema, &["column"], &column(&col_name.value)).and_then(|o| o.alter.clone()) {
                    Some(r) => downs.push(r),
                    None => irreversible.push(format!("the current definition of {col_name} is unknown")),
                }
            }
            AlterTableOperation::EnableRowLevelSecurity => {
                actions.push("enable row level security");
                downs.push(format!("ALTER TABLE {name} DISABLE ROW LEVEL SECURITY"));
            }
            AlterTableOperation::DisableRowLevelSecurity => {
                actions.push("disable row level security");
                downs.push(format!("ALTER TABLE {name} ENABLE ROW LEVEL SECURITY"));
            }
            AlterTableOperation::ForceRowLevelSecurity => {
                actions.push("force row level security");
                downs.push(format!("ALTER TABLE {name} NO FORCE ROW LEVEL SECURITY"));
            }
            AlterTableOperation::NoForceRowLevelSecurity => {
                actions.push("no force row level security");
                downs.push(format!("ALTER TABLE {name} FORCE ROW LEVEL SECURITY"));
            }
            _ => {
                actions.push("alter table");
                irreversible.push(format!("no inverse is generated for `{op}`"));
            }
        }
    }
    if engine == Engine::Mysql && !has_algorithm && st.lock != MYSQL_COPY && st.lock != MYSQL_INSTANT {
        st.lock = format!("{MYSQL_INPLACE} (if the engine can; otherwise it silently copies the table)");
    }
    st.action = actions.join(", ");
    if actions.is_empty() {
        st.action = "alter table".into();
    }
    // Inverses of several operations run in reverse order.
    downs.reverse();
    st.down = (!downs.is_empty() && irreversible.is_empty()).then(|| downs.join(";\n"));
    st.irreversible = (!irreversible.is_empty()).then(|| irreversible.join("; "));
    if engine == Engine::Postgres && !safer.iter().any(|s| s.contains("lock_timeout")) {
        safer.push(
            "run SET lock_timeout = '2s' first so the ALTER gives up instead of queueing every other query behind it"
                .into(),
        );
    }
    st.safer = (!safer.is_empty()).then(|| safer.join("; "));
    st
}

fn quote_if_needed(p: &str) -> String {
    if p.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_') {
        p.to_string()
    } else {
        format!("\"{p}\"")
    }
}

fn drop(
    engine: Engine,
    object_type: ObjectType,
    names: &[ObjectName],
    table: Option<&ObjectName>,
    schema: &Schema,
) -> Step {
    let kinds: &[&str] = match object_type {
        ObjectType::Table => &["table"],
        ObjectType::View => &["view"],
        ObjectType::MaterializedView => &["materialized view"],
        ObjectType::Index => &["index"],
        ObjectType::Sequence => &["sequence"],
        ObjectType::Schema => &["schema"],
        ObjectType::Type => &["type"],
        _ => &[],
    };
    let label = format!("drop {}", object_type.to_string().to_ascii_lowercase());
    let first_table = match object_type {
        ObjectType::Table => names.first().map(base_name),
        _ => table.map(base_name),
    };
    // PostgreSQL's DROP INDEX names no table: the schema knows it.
    let first_table = first_table.or_else(|| {
        let object = find(schema, kinds, &parts(names.first()?))?;
        object.parent.as_deref().map(|p| p.rsplit('.').next().unwrap_or(p).trim_matches('"').to_string())
    });
    let mut st = step(&label, first_table, lock_for(engine, PG_ACCESS_EXCLUSIVE, MYSQL_INPLACE));
    if object_type == ObjectType::Table {
        st.irreversible = Some(format!(
            "DROP TABLE {} loses every row; the table's structure can be recreated, its data cannot",
            names.iter().map(|n| n.to_string()).collect::<Vec<_>>().join(", ")
        ));
        st.safer = Some("rename the table out of the way first and drop it in a later release, after a backup".into());
        return st;
    }
    if object_type == ObjectType::Index && engine == Engine::Postgres {
        st.safer = Some("DROP INDEX CONCURRENTLY in its own `-- no-transaction` migration (writes continue)".into());
    }
    let mut downs = Vec::new();
    for n in names {
        let mut p = parts(n);
        if let (Some(t), Engine::Mysql) = (table, engine) {
            p.insert(0, base_name(t));
        }
        match find(schema, kinds, &p).and_then(|o| o.create.clone()) {
            Some(create) => downs.push(create),
            None => {
                st.irreversible = Some(format!("{n} is not in the current schema (or cannot be recreated from it)"));
                return st;
            }
        }
    }
    st.down = Some(downs.join(";\n"));
    st
}

/// Refuse what a migration must not contain: transaction control (the server owns the
/// transaction), file and program access, switching databases, and the functions the SQL check
/// denies everywhere. Statements the parser does not know are left to the database.
pub fn check_statements(engine: Engine, statements: &[Piece]) -> Result<(), crate::error::ToolError> {
    // Whatever the parser makes of them: statements that write or read server files.
    let file_access = regex::Regex::new(
        r"(?is)^\s*(copy\b|load\s+data\b|vacuum\s+into\b)|\binto\s+(outfile|dumpfile)\b|\bprogram\s+'",
    )
    .expect("static regex");
    for (i, s) in statements.iter().enumerate() {
        if file_access.is_match(&s.sql) {
            return Err(crate::error::ToolError::refused(
                format!(
                    "statement {} (line {}) reads or writes files on the server, which a migration may not",
                    i + 1,
                    s.line
                ),
                "load data with a dedicated tool and keep migrations to schema changes and in-database backfills",
            ));
        }
        // Tokens, not the tree: a statement the parser does not know is still read for calls.
        crate::sql::refuse_functions_in(&s.sql, engine, crate::config::Mode::ReadWrite)?;
        let Some(ast) = parse(engine, &s.sql) else { continue };
        let what = match &ast {
            Ast::StartTransaction { .. }
            | Ast::Commit { .. }
            | Ast::Rollback { .. }
            | Ast::Savepoint { .. }
            | Ast::ReleaseSavepoint { .. } => Some("transaction control"),
            Ast::Copy { .. } | Ast::LoadData { .. } => Some("COPY / LOAD DATA (file and program access)"),
            Ast::Use(_) => Some("USE (switching databases)"),
            Ast::AttachDatabase { .. } => Some("ATTACH (opening other database files)"),
            _ => None,
        };
        if let Some(what) = what {
            return Err(crate::error::ToolError::refused(
                format!("statement {} (line {}) is {what}, which a migration may not contain", i + 1, s.line),
                "remove it: the server runs the migration in its own transaction (mark the first line \
                 `-- no-transaction` for CREATE INDEX CONCURRENTLY)",
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statements_postgres_refuses_inside_a_transaction() {
        let outside = |s: &str| outside_transaction(Engine::Postgres, s);
        for sql in [
            "create index concurrently i on t (a)",
            "CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS i ON t (a)",
            "/* why */ -- more\n DROP INDEX CONCURRENTLY IF EXISTS i",
            "REINDEX (VERBOSE) TABLE CONCURRENTLY t",
            "vacuum analyze t",
            "CREATE DATABASE x",
            "ALTER SYSTEM SET work_mem = '8MB'",
        ] {
            assert!(outside(sql).is_some(), "{sql}");
        }
        for sql in [
            "create index i on t (a)",
            "select * from \"vacuum\"",
            "drop index i",
            "create table concurrently (a int)",
            "refresh materialized view concurrently v",
        ] {
            assert_eq!(outside(sql), None, "{sql}");
        }
        assert_eq!(outside_transaction(Engine::Mysql, "create index i on t (a)"), None);
    }

    fn plan(engine: Engine, sql: &str) -> Analysis {
        analyze(engine, sql, &Schema::default(), &BTreeMap::from([("orders".to_string(), 600_000_000)]))
    }

    #[test]
    fn a_safe_postgres_migration_has_a_down_script_in_reverse_order() {
        let a =
            plan(Engine::Postgres, "create table t (id bigint primary key);\nalter table orders add column note text;");
        assert_eq!(a.steps.len(), 2);
        assert_eq!(a.down.as_deref(), Some("ALTER TABLE orders DROP COLUMN note;\nDROP TABLE t;\n"));
        assert!(a.irreversible.is_empty());
        assert!(!a.steps[1].rewrites_table);
    }

    #[test]
    fn lock_heavy_postgres_statements_are_flagged_with_safer_ways() {
        let a = plan(
            Engine::Postgres,
            "create index orders_at on orders (created_at);\nalter table orders alter column total type numeric(12,2);",
        );
        assert!(a.steps[0].lock.starts_with("SHARE on the table"));
        assert!(a.steps[0].safer.as_deref().unwrap().contains("CONCURRENTLY"));
        assert_eq!(a.steps[0].estimated_seconds, Some(15.0));
        assert!(a.steps[1].rewrites_table && a.steps[1].estimated_seconds == Some(17.14));
        assert!(a.findings.iter().any(|f| f.code == "require-concurrent-index-creation" && f.statement == Some(1)));
        assert!(
            a.findings.iter().any(|f| f.code == "changing-column-type" && f.statement == Some(2)),
            "{:?}",
            a.findings
        );
        assert!(a.steps[1].irreversible.is_some(), "the old type is unknown without a schema");
    }

    #[test]
    fn migrations_may_not_touch_files_or_the_transaction() {
        for (engine, sql) in [
            (Engine::Sqlite, "create table a (x int); vacuum into '/tmp/copy.db'"),
            (Engine::Mysql, "select * from t into outfile '/tmp/t.csv'"),
            (Engine::Postgres, "copy t to program 'curl example.com'"),
            (Engine::Postgres, "create table a (x int); commit"),
        ] {
            assert!(check_statements(engine, &crate::sql::split::split(sql, engine)).is_err(), "{sql}");
        }
        let fine = "create table a (x int); update a set x = 1 where x is null";
        assert!(check_statements(Engine::Postgres, &crate::sql::split::split(fine, Engine::Postgres)).is_ok());
    }

    #[test]
    fn drops_are_irreversible_and_named_as_such() {
        let a = plan(Engine::Mysql, "alter table orders drop column note;\ndrop table old_orders;");
        assert!(a.down.is_none());
        assert_eq!(a.irreversible.len(), 2);
        assert!(a.irreversible[0].contains("loses the column's data"));
    }

    #[test]
    fn mysql_renames_and_foreign_keys_get_their_inverses() {
        let a = plan(
            Engine::Mysql,
            "alter table orders rename column note to remark;\nalter table orders add constraint fk_c foreign key (c) references c (id);",
        );
        assert_eq!(
            a.down.as_deref(),
            Some("ALTER TABLE orders DROP FOREIGN KEY fk_c;\nALTER TABLE orders RENAME COLUMN remark TO note;\n")
        );
        assert!(a.steps[1].rewrites_table, "a foreign key copies the table on MySQL");
    }
}
