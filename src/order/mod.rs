//! verify-order: does a DDL script (or a folder of migrations) create every object before a
//! statement needs it? Pure parsing, no database: statements are cut by [`split`], read by
//! [`extract`] into what each defines and needs, and sorted topologically keeping the author's
//! order wherever it works. Mutual foreign keys get the standard fix: the tables first, the keys
//! added after with `ALTER TABLE`.

mod extract;
pub(crate) mod lookup;
mod tool;

use std::{
    cmp::Reverse,
    collections::{BTreeMap, BTreeSet, BinaryHeap},
    path::Path,
};

use serde::Serialize;

use crate::{config::Engine, error::ToolError, files::FileAccess};
use extract::{Extractor, Facts, Kind, Obj};

/// The SQL dialect to read scripts in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Dialect {
    #[serde(alias = "postgresql")]
    Postgres,
    #[serde(alias = "mariadb")]
    Mysql,
    Sqlite,
}

impl From<Dialect> for Engine {
    fn from(d: Dialect) -> Engine {
        match d {
            Dialect::Postgres => Engine::Postgres,
            Dialect::Mysql => Engine::Mysql,
            Dialect::Sqlite => Engine::Sqlite,
        }
    }
}

/// One script: its name as shown in locations, and its text.
pub struct SourceFile {
    pub name: String,
    pub text: String,
}

/// Where a statement is: file, its position in the file (1-based) and the line it starts on.
#[derive(Debug, Clone, PartialEq)]
pub struct Location {
    pub file: String,
    pub statement: usize,
    pub line: usize,
}

impl std::fmt::Display for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}#{} line {}", self.file, self.statement, self.line)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum ProblemKind {
    /// The statement needs an object a later statement creates.
    DefinedLater,
    /// Nothing in the files creates it; it may already exist in the database.
    DefinedNowhere,
    /// Statements need each other.
    Cycle,
    /// The parser could not read the statement; it keeps its place.
    Unparsed,
}

#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Problem {
    pub kind: ProblemKind,
    /// `file#statement line N`.
    #[serde(serialize_with = "display")]
    #[schemars(with = "String")]
    pub at: Location,
    /// The object needed, e.g. `table orders`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub object: Option<String>,
    /// Where the object is created, for defined-later.
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "display_some")]
    #[schemars(with = "Option<String>")]
    pub defined_at: Option<Location>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// For defined-nowhere: whether the configured database has it (when it could be asked).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub in_database: Option<bool>,
    #[serde(skip)]
    needed: Option<Obj>,
    /// The statement's position across all files, to sort by.
    #[serde(skip)]
    position: usize,
}

fn display<S: serde::Serializer>(at: &Location, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(at)
}

fn display_some<S: serde::Serializer>(at: &Option<Location>, s: S) -> Result<S::Ok, S::Error> {
    match at {
        Some(at) => s.collect_str(at),
        None => s.serialize_none(),
    }
}

/// A statement the proposed order changes: a CREATE TABLE without the foreign keys that formed a
/// cycle, or the ALTER TABLE that adds one of them back.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Rewritten {
    /// Its reference in `proposed_order`.
    pub at: String,
    pub sql: String,
}

#[derive(Debug, Clone, Default, Serialize, schemars::JsonSchema)]
pub struct ProblemCounts {
    pub defined_later: usize,
    pub defined_nowhere: usize,
    pub cycle: usize,
    pub unparsed: usize,
}

/// Past these, lists are counted rather than shown, to keep the result small on big scripts.
const MAX_PROBLEMS: usize = 100;
const MAX_ORDER_ENTRIES: usize = 300;

#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Report {
    pub files: usize,
    pub statements: usize,
    /// Nothing is needed before it is created and nothing waits on itself (objects defined nowhere
    /// and unparsed statements are reported but do not count).
    pub in_order: bool,
    pub counts: ProblemCounts,
    /// In statement order; at most 100 (the counts include the rest).
    pub problems: Vec<Problem>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub omitted_problems: Option<usize>,
    /// Statements as `file#n` (runs as `file#n-m`) in an order that works, only when it differs
    /// from the given one; `file#n*` is rewritten and `file#n+fkK` an added ALTER TABLE (both in
    /// `rewritten`). At most 300 entries: `emit_sql` returns the whole script.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub proposed_order: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub omitted_order_entries: Option<usize>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub rewritten: Vec<Rewritten>,
    /// The whole script in the proposed order (with `emit_sql`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sql: Option<String>,
    /// Whether objects defined nowhere were looked up in the configured database.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub catalog: Option<String>,
}

/// An object a listed problem needs and nothing creates: (problem index, kind, schema, name).
pub type Missing = (usize, &'static str, Option<String>, String);

impl Report {
    /// The objects defined nowhere, to look up in a database.
    pub fn missing(&self) -> Vec<Missing> {
        self.problems
            .iter()
            .enumerate()
            .filter_map(|(i, p)| {
                let obj = p.needed.as_ref()?;
                let kind = match obj.kind {
                    Kind::Relation => "relation",
                    Kind::Type => "type",
                    Kind::Function => "function",
                    Kind::Schema => "schema",
                    Kind::Extension => "extension",
                };
                let (schema, name) = match obj.name.split_once('.') {
                    Some((s, n)) if obj.kind != Kind::Schema && obj.kind != Kind::Extension => {
                        (Some(s.to_string()), n.to_string())
                    }
                    _ => (None, obj.name.clone()),
                };
                Some((i, kind, schema, name))
            })
            .collect()
    }

    /// Record what the database said about a missing object.
    pub fn found_in_database(&mut self, problem: usize, present: bool, database: &str) {
        let p = &mut self.problems[problem];
        p.in_database = Some(present);
        p.detail = Some(if present {
            format!("no statement creates it; database {database} has it")
        } else {
            format!("no statement creates it and database {database} does not have it: the script fails there")
        });
    }
}

/// Read a DDL file, or every `.sql` file of a folder except `.down.sql`, in sqlx migration order
/// (by numeric version) when every file has a `<version>_` prefix, else by name. The folder is
/// listed and every file opened through `files`.
pub fn load(files: &FileAccess, path: &Path) -> Result<Vec<SourceFile>, ToolError> {
    let meta = std::fs::metadata(path)
        .map_err(|e| ToolError::invalid("path", format!("cannot read {}: {e}", path.display())))?;
    if !meta.is_dir() {
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        // Only SQL scripts: parse errors quote the text, and other files are nobody's DDL.
        if !name.to_ascii_lowercase().ends_with(".sql") {
            return Err(ToolError::invalid(
                "path",
                format!("{name} is not a .sql file; give a DDL script or a folder"),
            ));
        }
        return Ok(vec![SourceFile { name, text: files.read_to_string("path", path)? }]);
    }
    let mut entries = files.list("path", path, |n| n.ends_with(".sql") && !n.ends_with(".down.sql"))?;
    if entries.is_empty() {
        return Err(ToolError::invalid("path", format!("{} holds no .sql files", path.display())));
    }
    let version = |n: &str| n.split_once('_').and_then(|(v, _)| v.parse::<u64>().ok());
    if entries.iter().all(|e| version(&e.name).is_some()) {
        entries.sort_by_key(|e| (version(&e.name), e.name.clone()));
    }
    entries.into_iter().map(|e| Ok(SourceFile { text: files.read_to_string("path", &e.path)?, name: e.name })).collect()
}

struct Stmt {
    at: Location,
    text: String,
    parsed: Option<sqlparser::ast::Statement>,
    facts: Facts,
}

/// One entry of the sort: a statement, or an ALTER TABLE split off one (`sub` > 0).
struct Node {
    stmt: usize,
    sub: usize,
    refs: Vec<extract::Ref>,
    /// Replaces the statement's text when rewritten.
    sql: Option<String>,
}

pub fn analyze(files: &[SourceFile], engine: Engine, emit_sql: bool) -> Report {
    let dialect = crate::sql::dialect(engine);
    let extractor = Extractor { postgres: engine == Engine::Postgres, sqlite: engine == Engine::Sqlite };
    let mut stmts = Vec::new();
    let mut problems = Vec::new();
    for file in files {
        for (n, chunk) in crate::sql::split::split(&file.text, engine).into_iter().enumerate() {
            let at = Location { file: file.name.clone(), statement: n + 1, line: chunk.line };
            let parse = |text: &str| crate::sql::parse(text, engine);
            let result = parse(&chunk.text).or_else(|e| rescue(&chunk.text).and_then(|t| parse(&t).ok()).ok_or(e));
            let (parsed, facts) = match result {
                Ok(mut list) if list.len() == 1 => {
                    let s = list.remove(0);
                    let facts = extractor.facts(&s, dialect.as_ref());
                    (Some(s), facts)
                }
                Ok(list) => {
                    let mut facts = Facts::default();
                    for s in &list {
                        let f = extractor.facts(s, dialect.as_ref());
                        facts.defines.extend(f.defines);
                        facts.refs.extend(f.refs);
                    }
                    (None, facts)
                }
                Err(e) => {
                    let facts = extractor.fallback(&chunk.text);
                    problems.push(Problem {
                        kind: ProblemKind::Unparsed,
                        at: at.clone(),
                        object: None,
                        defined_at: None,
                        detail: Some(format!(
                            "{e}; kept in place, after every statement before it; dependencies read from its keywords"
                        )),
                        in_database: None,
                        needed: None,
                        position: stmts.len(),
                    });
                    (None, facts)
                }
            };
            stmts.push(Stmt { at, text: chunk.text, parsed, facts });
        }
    }

    // The first statement that creates each object.
    let mut definer: BTreeMap<Obj, usize> = BTreeMap::new();
    for (i, s) in stmts.iter().enumerate() {
        for (obj, _) in &s.facts.defines {
            definer.entry(obj.clone()).or_insert(i);
        }
    }
    let describe = |r: &extract::Ref| format!("{} {}", r.what, r.obj.name);
    for (i, s) in stmts.iter().enumerate() {
        let mut reported = BTreeSet::new();
        for r in &s.facts.refs {
            if !reported.insert((r.obj.clone(), r.lazy)) && r.foreign_key.is_none() {
                continue;
            }
            // The schema of a referenced object orders statements but is not worth a problem of its own.
            if r.obj.kind == Kind::Schema && !r.required {
                continue;
            }
            match definer.get(&r.obj) {
                Some(&j) if j > i && !r.lazy => problems.push(Problem {
                    kind: ProblemKind::DefinedLater,
                    at: s.at.clone(),
                    object: Some(describe(r)),
                    defined_at: Some(stmts[j].at.clone()),
                    detail: None,
                    in_database: None,
                    needed: None,
                    position: i,
                }),
                None if r.required => problems.push(Problem {
                    kind: ProblemKind::DefinedNowhere,
                    at: s.at.clone(),
                    object: Some(describe(r)),
                    defined_at: None,
                    detail: Some(format!(
                        "no statement creates it; fine if it already exists in the database{}",
                        if r.obj.kind == Kind::Type { " or comes from an extension" } else { "" }
                    )),
                    in_database: None,
                    needed: Some(r.obj.clone()),
                    position: i,
                }),
                _ => {}
            }
        }
    }
    problems.dedup_by(|a, b| a.kind == b.kind && a.at == b.at && a.object == b.object);

    let (order, nodes, cycle_problems) = sort(&stmts, &definer);
    problems.extend(cycle_problems);
    problems.sort_by_key(|p| (p.position, p.kind));

    let label = |n: &Node| {
        let at = &stmts[n.stmt].at;
        match (n.sub, &n.sql) {
            (0, None) => format!("{}#{}", at.file, at.statement),
            (0, Some(_)) => format!("{}#{}*", at.file, at.statement),
            (k, _) => format!("{}#{}+fk{k}", at.file, at.statement),
        }
    };
    let changed = order.iter().enumerate().any(|(pos, &n)| nodes[n].stmt != pos || nodes[n].sub != 0)
        || nodes.iter().any(|n| n.sql.is_some());
    let rewritten = order
        .iter()
        .map(|&n| &nodes[n])
        .filter_map(|n| n.sql.as_ref().map(|sql| Rewritten { at: label(n), sql: sql.clone() }))
        .collect();
    let sql = emit_sql.then(|| {
        order
            .iter()
            .map(|&n| {
                let node = &nodes[n];
                let text = node.sql.clone().unwrap_or_else(|| stmts[node.stmt].text.clone());
                if text.trim_end().ends_with(';') { text } else { format!("{text};") }
            })
            .collect::<Vec<_>>()
            .join("\n\n")
            + "\n"
    });
    let mut counts = ProblemCounts::default();
    for p in &problems {
        *match p.kind {
            ProblemKind::DefinedLater => &mut counts.defined_later,
            ProblemKind::DefinedNowhere => &mut counts.defined_nowhere,
            ProblemKind::Cycle => &mut counts.cycle,
            ProblemKind::Unparsed => &mut counts.unparsed,
        } += 1;
    }
    let in_order = counts.defined_later == 0 && counts.cycle == 0;
    let omitted_problems = problems.len().checked_sub(MAX_PROBLEMS).filter(|n| *n > 0);
    problems.truncate(MAX_PROBLEMS);
    let mut proposed_order = Vec::new();
    if changed {
        // Runs of untouched statements that follow each other in one file become `file#n-m`.
        let mut run: Option<(usize, usize)> = None;
        let flush = |run: Option<(usize, usize)>, out: &mut Vec<String>| {
            if let Some((a, b)) = run {
                let (first, last) = (&stmts[a].at, &stmts[b].at);
                out.push(if a == b {
                    format!("{}#{}", first.file, first.statement)
                } else {
                    format!("{}#{}-{}", first.file, first.statement, last.statement)
                });
            }
        };
        for &n in &order {
            let node = &nodes[n];
            let plain = node.sub == 0 && node.sql.is_none();
            match run {
                Some((a, b)) if plain && node.stmt == b + 1 && stmts[node.stmt].at.file == stmts[a].at.file => {
                    run = Some((a, node.stmt));
                }
                _ => {
                    flush(run.take(), &mut proposed_order);
                    if plain {
                        run = Some((node.stmt, node.stmt));
                    } else {
                        proposed_order.push(label(node));
                    }
                }
            }
        }
        flush(run, &mut proposed_order);
    }
    let omitted_order_entries = proposed_order.len().checked_sub(MAX_ORDER_ENTRIES).filter(|n| *n > 0);
    proposed_order.truncate(MAX_ORDER_ENTRIES);
    Report {
        files: files.len(),
        statements: stmts.len(),
        in_order,
        counts,
        problems,
        omitted_problems,
        proposed_order,
        omitted_order_entries,
        rewritten,
        sql,
        catalog: None,
    }
}

/// A rewrite sqlparser can read of a common statement it cannot, keeping what the graph needs:
/// `COMMENT ON FUNCTION f(args)` loses its argument list, `CREATE MATERIALIZED VIEW ... WITH [NO]
/// DATA` its last clause.
fn rescue(text: &str) -> Option<String> {
    use std::sync::LazyLock;
    static COMMENT_ON_FUNCTION: LazyLock<regex::Regex> = LazyLock::new(|| {
        regex::Regex::new(r#"(?is)^((?:\s*--[^\n]*\n)*\s*comment\s+on\s+(?:function|procedure)\s+[\w."]+)\s*\([^)]*\)"#)
            .expect("valid regex")
    });
    static WITH_DATA: LazyLock<regex::Regex> = LazyLock::new(|| {
        regex::Regex::new(
            r#"(?is)^((?:\s*--[^\n]*\n)*\s*create\s+materialized\s+view\s.*?)\s+with\s+(?:no\s+)?data\s*;?\s*$"#,
        )
        .expect("valid regex")
    });
    [&*COMMENT_ON_FUNCTION, &*WITH_DATA]
        .into_iter()
        .find(|re| re.is_match(text))
        .map(|re| re.replace(text, "$1").into_owned())
}

/// Kahn's sort, always taking the earliest ready statement, so the author's order survives
/// wherever it works. When every remaining statement waits on another, a CREATE TABLE whose
/// foreign keys point at tables not created yet loses those keys to ALTER TABLE statements.
fn sort(stmts: &[Stmt], definer: &BTreeMap<Obj, usize>) -> (Vec<usize>, Vec<Node>, Vec<Problem>) {
    let mut nodes: Vec<Node> = stmts
        .iter()
        .enumerate()
        .map(|(i, s)| Node { stmt: i, sub: 0, refs: s.facts.refs.clone(), sql: None })
        .collect();
    let mut problems = Vec::new();
    let mut altered_by: BTreeMap<&Obj, Vec<usize>> = BTreeMap::new();
    for (i, s) in stmts.iter().enumerate() {
        for obj in &s.facts.alters {
            altered_by.entry(obj).or_default().push(i);
        }
    }
    let deps_of = |nodes: &Vec<Node>, n: usize| -> BTreeSet<usize> {
        let node = &nodes[n];
        let mut deps: BTreeSet<usize> = node
            .refs
            .iter()
            .filter(|r| !r.lazy)
            .filter_map(|r| definer.get(&r.obj).copied())
            .filter(|&d| d != n)
            .collect();
        if node.sub == 0 && stmts[node.stmt].facts.barrier {
            deps.extend(0..node.stmt);
        }
        // Earlier ALTER TABLEs of a table this statement uses stay before it.
        for r in &node.refs {
            for &j in altered_by.get(&r.obj).into_iter().flatten() {
                if j < node.stmt {
                    deps.insert(j);
                }
            }
        }
        deps
    };
    let mut deps: Vec<BTreeSet<usize>> = (0..nodes.len()).map(|n| deps_of(&nodes, n)).collect();
    let mut placed = vec![false; nodes.len()];
    let mut order = Vec::new();
    loop {
        let mut missing: Vec<usize> = deps.iter().map(|d| d.iter().filter(|&&x| !placed[x]).count()).collect();
        let mut dependents = vec![Vec::new(); nodes.len()];
        for (n, d) in deps.iter().enumerate() {
            for &x in d {
                dependents[x].push(n);
            }
        }
        let mut ready: BinaryHeap<_> = (0..nodes.len())
            .filter(|&n| !placed[n] && missing[n] == 0)
            .map(|n| Reverse((nodes[n].stmt, nodes[n].sub, n)))
            .collect();
        while let Some(Reverse((_, _, n))) = ready.pop() {
            placed[n] = true;
            order.push(n);
            for &m in &dependents[n] {
                missing[m] -= 1;
                if missing[m] == 0 && !placed[m] {
                    ready.push(Reverse((nodes[m].stmt, nodes[m].sub, m)));
                }
            }
        }
        let remaining: Vec<usize> = (0..nodes.len()).filter(|&n| !placed[n]).collect();
        let Some(&first) = remaining.first() else { break };
        // A cycle: break it at the earliest CREATE TABLE with foreign keys to tables still waiting.
        let waiting = |obj: &Obj| definer.get(obj).is_some_and(|&d| !placed[d]);
        let candidate = remaining.iter().copied().find(|&n| {
            nodes[n].sub == 0
                && nodes[n].sql.is_none()
                && nodes[n].refs.iter().any(|r| r.foreign_key.is_some() && waiting(&r.obj))
        });
        let split = candidate.and_then(|n| {
            let moved: BTreeSet<usize> =
                nodes[n].refs.iter().filter(|r| waiting(&r.obj)).filter_map(|r| r.foreign_key).collect();
            let parsed = stmts[nodes[n].stmt].parsed.as_ref()?;
            extract::move_foreign_keys(parsed, &moved).map(|(table, alters)| (n, moved, table, alters))
        });
        match split {
            Some((n, moved, table, alters)) => {
                let stmt = nodes[n].stmt;
                let targets: Vec<String> = nodes[n]
                    .refs
                    .iter()
                    .filter(|r| r.foreign_key.is_some_and(|k| moved.contains(&k)))
                    .map(|r| r.obj.name.clone())
                    .collect();
                let table_obj = stmts[stmt].facts.defines.first().map(|(o, _)| o.clone());
                nodes[n].refs.retain(|r| !r.foreign_key.is_some_and(|k| moved.contains(&k)));
                nodes[n].sql = Some(table);
                for (k, (alter, target)) in alters.into_iter().zip(&targets).enumerate() {
                    let mut refs = vec![extract::Ref {
                        obj: Obj { kind: Kind::Relation, name: target.clone() },
                        what: "table",
                        required: true,
                        foreign_key: None,
                        lazy: false,
                    }];
                    // The ALTER needs its own table too (through the definer map that is the
                    // statement itself, which is placed before any of its ALTERs).
                    refs.extend(table_obj.clone().map(|obj| extract::Ref {
                        obj,
                        what: "table",
                        required: true,
                        foreign_key: None,
                        lazy: false,
                    }));
                    nodes.push(Node { stmt, sub: k + 1, refs, sql: Some(alter) });
                    placed.push(false);
                    deps.push(deps_of(&nodes, nodes.len() - 1));
                }
                deps[n] = deps_of(&nodes, n);
                problems.push(Problem {
                    kind: ProblemKind::Cycle,
                    at: stmts[stmt].at.clone(),
                    object: table_obj.map(|o| format!("table {}", o.name)),
                    defined_at: None,
                    detail: Some(format!(
                        "foreign keys form a cycle with {}: the table is created without them and they are added \
                         afterwards with ALTER TABLE (see rewritten)",
                        targets.join(", ")
                    )),
                    in_database: None,
                    needed: None,
                    position: stmt,
                });
            }
            None => {
                // Not a foreign-key cycle (views or functions needing each other): no order fixes it.
                let mut members: Vec<String> = remaining
                    .iter()
                    .filter(|&&n| nodes[n].sub == 0)
                    .map(|&n| format!("{}#{}", stmts[nodes[n].stmt].at.file, stmts[nodes[n].stmt].at.statement))
                    .collect();
                if members.len() > 10 {
                    let more = members.len() - 10;
                    members.truncate(10);
                    members.push(format!("and {more} more waiting on them"));
                }
                problems.push(Problem {
                    kind: ProblemKind::Cycle,
                    at: stmts[nodes[first].stmt].at.clone(),
                    object: None,
                    defined_at: None,
                    detail: Some(format!(
                        "these statements wait on each other and no order satisfies them: {}; break the cycle by hand \
                         (create one side first without the dependency, then alter it)",
                        members.join(", ")
                    )),
                    in_database: None,
                    needed: None,
                    position: nodes[first].stmt,
                });
                for n in remaining {
                    placed[n] = true;
                    order.push(n);
                }
            }
        }
    }
    (order, nodes, problems)
}

#[cfg(test)]
mod tests;
