//! The target's own rules checked on the staged rows: foreign keys, CHECK constraints and unique
//! keys. A merge that fails on a constraint names one row at best, and some conflicts never fail
//! at all (MySQL's `ON DUPLICATE KEY` fires on any unique key; SQLite's and MySQL's upserts let a
//! later duplicate in the file win). So, after a merge failed on a constraint, every staged row
//! that breaks one is found by its line; and where the engine would resolve a conflict silently,
//! the rows are looked for before the merge. The rows found are refused (the load then merges
//! nothing) or, with `on_error: skip`, reported and taken out of the staging table.
//!
//! Found rows go to [`MergeRejects`]: the first hundred listed, all counted, and all appended to
//! `rejects_file` after the reader's own bad rows.

use std::sync::Arc;

use futures::TryStreamExt as _;
use sqlx::{AssertSqlSafe, Executor as _};

use super::{ABORT_REJECTS, LoadPlan, MAX_REPORTED_REJECTS, MergeMode, Reject, text_cell};

/// What a rule is.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum RuleKind {
    /// `parent` is quoted for SQL; `parent_name` is for people.
    ForeignKey {
        parent: String,
        parent_name: String,
        parent_columns: Vec<String>,
    },
    /// `columns` may be empty when the engine does not say which columns the expression reads.
    Check {
        expression: String,
    },
    Unique,
}

/// A rule of the target table: a foreign key, a CHECK or a unique key.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Rule {
    pub name: String,
    pub columns: Vec<String>,
    pub kind: RuleKind,
}

/// Which violations to look for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Scope {
    /// Everything the merge could have failed on.
    All,
    /// Before the merge: conflicts the engine's merge would resolve without an error. With
    /// `any_unique_key` (MySQL's `ON DUPLICATE KEY`) every unique key matters; otherwise only
    /// an upsert's repeated merge key.
    Silent { any_unique_key: bool },
}

/// How one engine's SQL names things.
pub(super) struct Names {
    pub quote: fn(&str) -> String,
    /// The staging table and the target, as SQL names them.
    pub stage: String,
    pub target: String,
    /// `expr` as text.
    pub text: fn(&str) -> String,
    /// A failed statement leaves the transaction usable (not so on PostgreSQL), so a test the
    /// engine cannot run (a CHECK reading a column the file does not fill) is passed over.
    pub tolerant: bool,
}

/// What a test finds.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Finding {
    NoParent,
    CheckFails,
    /// The same unique key earlier in the file.
    Repeated,
    /// The unique key is already on a stored row (another row, for upserts).
    Taken,
}

/// One query over the staging table `s`: the rows it returns break `rule`.
struct Test<'a> {
    rule: &'a Rule,
    finding: Finding,
    /// The relation `s` ranges over (the staging table, or a window over it).
    from: String,
    condition: String,
    /// An expression for the `related` column (the first line of a repeated key).
    related: Option<String>,
    merge_key: bool,
}

/// Rows refused at the merge: the first [`MAX_REPORTED_REJECTS`] listed, all counted, all written
/// to the rejects file (after the reader's rows: the reader has flushed them by then, and the
/// shared file's offset is past them).
#[derive(Debug, Default)]
pub struct MergeRejects {
    pub listed: Vec<Reject>,
    pub count: u64,
    source: Option<Arc<std::fs::File>>,
    file: Option<csv::Writer<std::fs::File>>,
}

impl MergeRejects {
    pub fn new(rejects_file: Option<&Arc<std::fs::File>>) -> Self {
        MergeRejects { source: rejects_file.cloned(), ..MergeRejects::default() }
    }

    pub(super) fn push(&mut self, reject: Reject) -> std::io::Result<()> {
        if let Some(source) = &self.source {
            if self.file.is_none() {
                let file = source.try_clone()?;
                self.file = Some(csv::WriterBuilder::new().has_headers(false).from_writer(file));
            }
            if let Some(w) = self.file.as_mut() {
                w.write_record([
                    reject.line.to_string(),
                    reject.column.clone().unwrap_or_default(),
                    reject.value.clone().unwrap_or_default(),
                    reject.reason.clone(),
                ])?;
            }
        }
        self.count += 1;
        if self.listed.len() < MAX_REPORTED_REJECTS {
            self.listed.push(reject);
        }
        Ok(())
    }

    pub(super) fn flush(&mut self) -> std::io::Result<()> {
        match self.file.as_mut() {
            Some(w) => w.flush(),
            None => Ok(()),
        }
    }
}

fn same_columns(a: &[String], b: &[String]) -> bool {
    a.len() == b.len() && a.iter().all(|c| b.contains(c))
}

/// `a.x = b.y AND ...` over paired columns.
fn equal(n: &Names, a: &str, a_columns: &[String], b: &str, b_columns: &[String]) -> String {
    let q = n.quote;
    a_columns
        .iter()
        .zip(b_columns)
        .map(|(x, y)| format!("{a}.{} = {b}.{}", q(x), q(y)))
        .collect::<Vec<_>>()
        .join(" AND ")
}

fn not_null(n: &Names, alias: &str, columns: &[String]) -> String {
    columns.iter().map(|c| format!("{alias}.{} IS NOT NULL", (n.quote)(c))).collect::<Vec<_>>().join(" AND ")
}

fn list(n: &Names, alias: &str, columns: &[String]) -> String {
    columns.iter().map(|c| format!("{alias}.{}", (n.quote)(c))).collect::<Vec<_>>().join(", ")
}

/// The queries that find the rows breaking `rules`, in the order they run.
fn tests<'a>(rules: &'a [Rule], plan: &LoadPlan, n: &Names, scope: Scope) -> Vec<Test<'a>> {
    let staged = plan.names();
    let is_staged = |columns: &[String]| columns.iter().all(|c| staged.contains(&c.as_str()));
    let mut out = Vec::new();
    let stage = || format!("{} s", n.stage);
    for rule in rules {
        let merge_key = rule.kind == RuleKind::Unique && same_columns(&rule.columns, &plan.key);
        match &rule.kind {
            RuleKind::ForeignKey { parent, parent_columns, .. } if scope == Scope::All && is_staged(&rule.columns) => {
                let mut condition = format!(
                    "{} AND NOT EXISTS (SELECT 1 FROM {parent} p WHERE {})",
                    not_null(n, "s", &rule.columns),
                    equal(n, "p", parent_columns, "s", &rule.columns)
                );
                // A row may reference another row of the same file.
                if *parent == n.target {
                    condition.push_str(&format!(
                        " AND ({}) NOT IN (SELECT {} FROM {} o WHERE {})",
                        list(n, "s", &rule.columns),
                        list(n, "o", parent_columns),
                        n.stage,
                        not_null(n, "o", parent_columns)
                    ));
                }
                out.push(Test { rule, finding: Finding::NoParent, from: stage(), condition, related: None, merge_key });
            }
            RuleKind::Check { expression }
                if scope == Scope::All && (rule.columns.is_empty() || is_staged(&rule.columns)) =>
            {
                // The expression names bare columns, which read the staged row's.
                out.push(Test {
                    rule,
                    finding: Finding::CheckFails,
                    from: stage(),
                    condition: format!("NOT ({expression})"),
                    related: None,
                    merge_key,
                });
            }
            RuleKind::Unique if is_staged(&rule.columns) => {
                let silent_here = match scope {
                    Scope::All => true,
                    Scope::Silent { any_unique_key } => any_unique_key || merge_key,
                };
                // skip-duplicates keeps the first row of a repeated merge key by definition.
                let repeats_allowed = merge_key && plan.mode == MergeMode::SkipDuplicates;
                let repeat_matters = match scope {
                    Scope::All => true,
                    Scope::Silent { .. } => plan.mode != MergeMode::Insert,
                };
                if silent_here && repeat_matters && !repeats_allowed {
                    let partition = list(n, "o", &rule.columns);
                    out.push(Test {
                        rule,
                        finding: Finding::Repeated,
                        from: format!(
                            "(SELECT o.*, ROW_NUMBER() OVER (PARTITION BY {partition} ORDER BY o.__line) AS __repeat, \
                             MIN(o.__line) OVER (PARTITION BY {partition}) AS __first FROM {} o WHERE {}) s",
                            n.stage,
                            not_null(n, "o", &rule.columns)
                        ),
                        condition: "s.__repeat > 1".into(),
                        related: Some("s.__first".into()),
                        merge_key,
                    });
                }
                // An upsert or skip-duplicates meets its own key by design; any other unique key
                // held by a stored row with a different merge key is a conflict.
                let taken = match (plan.mode, scope) {
                    (MergeMode::Insert, Scope::All) => Some(String::new()),
                    (MergeMode::Insert, Scope::Silent { .. }) => None,
                    (_, _) if merge_key || !silent_here || !is_staged(&plan.key) => None,
                    (MergeMode::Upsert, _) => Some(format!(" AND NOT ({})", equal(n, "t", &plan.key, "s", &plan.key))),
                    (MergeMode::SkipDuplicates, _) => Some(format!(
                        " AND NOT ({}) AND NOT EXISTS (SELECT 1 FROM {} k WHERE {})",
                        equal(n, "t", &plan.key, "s", &plan.key),
                        n.target,
                        equal(n, "k", &plan.key, "s", &plan.key)
                    )),
                };
                if let Some(other_row) = taken {
                    out.push(Test {
                        rule,
                        finding: Finding::Taken,
                        from: stage(),
                        condition: format!(
                            "{} AND EXISTS (SELECT 1 FROM {} t WHERE {}{other_row})",
                            not_null(n, "s", &rule.columns),
                            n.target,
                            equal(n, "t", &rule.columns, "s", &rule.columns)
                        ),
                        related: None,
                        merge_key,
                    });
                }
            }
            _ => {}
        }
    }
    out
}

fn reason(test: &Test, plan: &LoadPlan, related: Option<i64>) -> String {
    let rule = test.rule;
    let columns = rule.columns.join(", ");
    match (&rule.kind, test.finding) {
        (RuleKind::ForeignKey { parent_name, parent_columns, .. }, _) => format!(
            "foreign key {}: no row of {parent_name} has ({}) equal to this value",
            rule.name,
            parent_columns.join(", ")
        ),
        (RuleKind::Check { expression }, _) => format!("check constraint {} fails: {expression}", rule.name),
        (_, Finding::Repeated) if test.merge_key => repeated_key(&rule.columns, related.unwrap_or_default()),
        (_, Finding::Repeated) => {
            format!("unique key ({columns}) repeats line {} of the file", related.unwrap_or_default())
        }
        (_, _) if test.merge_key => format!(
            "key ({columns}) already exists in {}: mode insert adds new rows only (upsert updates them, \
             skip-duplicates keeps them)",
            plan.target.name
        ),
        (_, _) => format!("unique key ({columns}) is already taken by another row of {}", plan.target.name),
    }
}

/// Why an upsert refuses a row whose key an earlier line of the file has.
pub(super) fn repeated_key(columns: &[String], first: i64) -> String {
    format!("key ({}) repeats line {first}: an upsert applies one row per key; remove one of them", columns.join(", "))
}

/// Run the tests for `scope`: every row found is added to `rejects` and, when `remove`, deleted
/// from the staging table. Without `remove` (the load is refused anyway) it stops once
/// [`ABORT_REJECTS`] rows are listed. A test the engine cannot run is passed over where
/// [`Names::tolerant`]; otherwise its error is returned.
async fn find<DB>(
    conn: &mut DB::Connection,
    n: &Names,
    rules: &[Rule],
    plan: &LoadPlan,
    scope: Scope,
    remove: bool,
    rejects: &mut MergeRejects,
) -> Result<u64, sqlx::Error>
where
    DB: sqlx::Database,
    for<'c> &'c mut DB::Connection: sqlx::Executor<'c, Database = DB>,
    for<'q> DB::Arguments: sqlx::IntoArguments<DB>,
    for<'r> String: sqlx::Decode<'r, DB> + sqlx::Type<DB>,
    for<'r> Vec<u8>: sqlx::Decode<'r, DB> + sqlx::Type<DB>,
    for<'r> i64: sqlx::Decode<'r, DB> + sqlx::Type<DB>,
    for<'r> &'r str: sqlx::ColumnIndex<DB::Row>,
{
    let mut found = 0u64;
    for test in tests(rules, plan, n, scope) {
        if !remove && rejects.listed.len() >= ABORT_REJECTS {
            break;
        }
        let shown: Vec<String> = test
            .rule
            .columns
            .iter()
            .enumerate()
            .map(|(i, c)| format!("{} AS c{i}", (n.text)(&format!("s.{}", (n.quote)(c)))))
            .collect();
        let shown = if shown.is_empty() { String::new() } else { format!(", {}", shown.join(", ")) };
        let limit = if remove { String::new() } else { format!(" LIMIT {}", ABORT_REJECTS) };
        let select = format!(
            "SELECT s.__line AS line, {} AS related{shown} FROM {} WHERE {} ORDER BY s.__line{limit}",
            test.related.as_deref().unwrap_or("NULL"),
            test.from,
            test.condition
        );
        let secret = test.rule.columns.iter().any(|c| crate::redact::is_secret_name(c));
        let mut this = 0u64;
        let mut io: Option<std::io::Error> = None;
        {
            let mut rows = sqlx::query(AssertSqlSafe(select)).fetch(&mut *conn);
            loop {
                let row = match rows.try_next().await {
                    Ok(Some(row)) => row,
                    Ok(None) => break,
                    Err(e) if n.tolerant && this == 0 => {
                        tracing::debug!(error = %e, rule = %test.rule.name, "load-csv: a constraint test could not run");
                        break;
                    }
                    Err(e) => return Err(e),
                };
                let values: Vec<String> = (0..test.rule.columns.len())
                    .map(|i| text_cell(&row, &format!("c{i}")).unwrap_or_default())
                    .collect();
                use sqlx::Row as _;
                let line: i64 = row.try_get("line")?;
                let related: Option<i64> = row.try_get("related").ok().flatten();
                let reject = Reject {
                    line: line as u64,
                    column: (!test.rule.columns.is_empty()).then(|| test.rule.columns.join(", ")),
                    value: (!values.is_empty()).then(|| {
                        if secret { "[redacted]".to_string() } else { values.join(", ").chars().take(200).collect() }
                    }),
                    reason: reason(&test, plan, related),
                };
                this += 1;
                if let Err(e) = rejects.push(reject) {
                    io.get_or_insert(e);
                }
            }
        }
        if let Some(e) = io {
            return Err(sqlx::Error::Io(e));
        }
        if remove && this > 0 {
            conn.execute(AssertSqlSafe(format!(
                "DELETE FROM {} WHERE __line IN (SELECT line FROM (SELECT s.__line AS line FROM {} WHERE {}) v)",
                n.stage, test.from, test.condition
            )))
            .await?;
        }
        found += this;
    }
    rejects.flush().map_err(sqlx::Error::Io)?;
    Ok(found)
}

/// What screening the staged rows came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Verdict {
    /// No staged row breaks a rule looked for.
    Clean,
    /// on_error skip: this many rows were reported and taken out of the staging table.
    Removed(u64),
    /// on_error abort: the load is refused; the rejects list the first rows of every kind.
    Refused,
}

/// Look for the rows breaking `rules` within `scope`, then remove them (on_error skip) or refuse
/// the load. Refusing after a narrower scope, a probe finds whether anything is wrong and, if so,
/// the listing covers every kind of problem, so the caller sees them all at once.
pub(super) async fn screen<DB>(
    conn: &mut DB::Connection,
    n: &Names,
    rules: &[Rule],
    plan: &LoadPlan,
    scope: Scope,
    rejects: &mut MergeRejects,
) -> Result<Verdict, sqlx::Error>
where
    DB: sqlx::Database,
    for<'c> &'c mut DB::Connection: sqlx::Executor<'c, Database = DB>,
    for<'q> DB::Arguments: sqlx::IntoArguments<DB>,
    for<'r> String: sqlx::Decode<'r, DB> + sqlx::Type<DB>,
    for<'r> Vec<u8>: sqlx::Decode<'r, DB> + sqlx::Type<DB>,
    for<'r> i64: sqlx::Decode<'r, DB> + sqlx::Type<DB>,
    for<'r> &'r str: sqlx::ColumnIndex<DB::Row>,
{
    let skip = plan.skip_bad_rows;
    let probing = !skip && scope != Scope::All;
    let mut probe = MergeRejects::new(None);
    let sink = if probing { &mut probe } else { &mut *rejects };
    let found = find::<DB>(conn, n, rules, plan, scope, skip, sink).await?;
    Ok(match found {
        0 => Verdict::Clean,
        found if skip => Verdict::Removed(found),
        _ => {
            if probing {
                find::<DB>(conn, n, rules, plan, Scope::All, false, rejects).await?;
            }
            Verdict::Refused
        }
    })
}

/// A merge failure a constraint explains: unique, foreign key, NOT NULL, CHECK or exclusion
/// violations, and PostgreSQL's "ON CONFLICT cannot affect a row a second time".
pub(super) fn is_violation(e: &sqlx::Error) -> bool {
    let Some(d) = e.as_database_error() else { return false };
    if d.kind() != sqlx::error::ErrorKind::Other {
        return true;
    }
    let code = d.code().unwrap_or_default();
    // PostgreSQL's class 23 and 21000; MariaDB's CHECK failure (4025); SQLite's constraint family.
    code.starts_with("23") || code == "21000" || code == "4025" || code == "19" || code.ends_with("_CONSTRAINT")
}

fn lines(text: String) -> Vec<String> {
    text.split('\n').filter(|s| !s.is_empty()).map(str::to_string).collect()
}

/// PostgreSQL's rules for the target (`target`: its regclass text).
pub(super) async fn postgres(conn: &mut sqlx::PgConnection, target: &str) -> Result<Vec<Rule>, sqlx::Error> {
    type Row = (String, String, Vec<String>, Option<String>, Vec<String>, Option<String>);
    let rows: Vec<Row> =
        sqlx::query_as(include_str!("postgres/load_rules.sql")).bind(target).fetch_all(&mut *conn).await?;
    Ok(rows
        .into_iter()
        .map(|(name, kind, columns, parent, parent_columns, expression)| Rule {
            name,
            columns,
            kind: match (kind.as_str(), parent, expression) {
                ("foreign key", Some(parent), _) => {
                    RuleKind::ForeignKey { parent_name: parent.clone(), parent, parent_columns }
                }
                ("check", _, Some(expression)) => RuleKind::Check { expression },
                _ => RuleKind::Unique,
            },
        })
        .collect())
}

/// MySQL/MariaDB's rules for the target table (in the current database).
pub(super) async fn mysql(conn: &mut sqlx::MySqlConnection, table: &str) -> Result<Vec<Rule>, sqlx::Error> {
    let rows = sqlx::query(include_str!("mysql/load_rules.sql")).bind(table).bind(table).fetch_all(&mut *conn).await?;
    let mut rules = Vec::new();
    for r in &rows {
        let kind = text_cell(r, "kind")?;
        let columns = lines(text_cell(r, "columns")?);
        rules.push(Rule {
            name: text_cell(r, "name")?,
            kind: if kind == "foreign key" {
                RuleKind::ForeignKey {
                    parent: text_cell(r, "parent")?,
                    parent_name: text_cell(r, "parent_name")?,
                    parent_columns: lines(text_cell(r, "parent_columns")?),
                }
            } else {
                RuleKind::Unique
            },
            columns,
        });
    }
    // MySQL's CHECK_CONSTRAINTS has no table name: there CHECKs are left to the merge.
    if let Ok(checks) = sqlx::query(include_str!("mysql/load_checks.sql")).bind(table).fetch_all(&mut *conn).await {
        for r in &checks {
            rules.push(Rule {
                name: text_cell(r, "name")?,
                columns: vec![],
                kind: RuleKind::Check { expression: text_cell(r, "expression")? },
            });
        }
    }
    Ok(rules)
}

/// SQLite's rules for the target table: keys from the pragmas, CHECKs parsed from its CREATE TABLE.
pub(super) async fn sqlite(conn: &mut sqlx::SqliteConnection, table: &str) -> Result<Vec<Rule>, sqlx::Error> {
    type Row = (String, String, i64, Option<String>, Option<String>, Option<String>);
    let rows: Vec<Row> =
        sqlx::query_as(include_str!("sqlite/load_rules.sql")).bind(table).fetch_all(&mut *conn).await?;
    let mut rules: Vec<Rule> = Vec::new();
    let mut broken: Vec<String> = Vec::new();
    for (_kind, name, _position, column, parent, parent_column) in rows {
        let Some(column) = column else {
            // An index on an expression: left to the merge.
            broken.push(name);
            continue;
        };
        let rule = match rules.iter_mut().find(|r| r.name == name) {
            Some(rule) => rule,
            None => {
                let kind = match parent {
                    Some(parent) => {
                        RuleKind::ForeignKey { parent_name: parent.clone(), parent, parent_columns: vec![] }
                    }
                    None => RuleKind::Unique,
                };
                rules.push(Rule { name: name.clone(), columns: vec![], kind });
                rules.last_mut().expect("just pushed")
            }
        };
        rule.columns.push(column);
        if let (RuleKind::ForeignKey { parent_columns, .. }, Some(to)) = (&mut rule.kind, parent_column) {
            parent_columns.push(to);
        }
    }
    rules.retain(|r| !broken.contains(&r.name));
    // The primary key twice (as itself and as its autoindex) checks nothing more.
    let mut seen: Vec<Vec<String>> = Vec::new();
    rules.retain(|r| {
        if r.kind != RuleKind::Unique {
            return true;
        }
        let mut key = r.columns.clone();
        key.sort();
        if seen.contains(&key) {
            return false;
        }
        seen.push(key);
        true
    });
    for rule in rules.iter_mut() {
        if let RuleKind::ForeignKey { parent, parent_columns, .. } = &mut rule.kind {
            // `REFERENCES parent` alone means the parent's primary key.
            if parent_columns.len() != rule.columns.len() {
                *parent_columns = sqlx::query_scalar("SELECT name FROM pragma_table_info(?1) WHERE pk > 0 ORDER BY pk")
                    .bind(parent.as_str())
                    .fetch_all(&mut *conn)
                    .await?;
            }
            // SQLite does not name foreign keys.
            rule.name = format!("({})", rule.columns.join(", "));
            *parent = format!("main.{}", crate::engine::double_quote(parent));
        }
    }
    let create: Option<String> = sqlx::query_scalar("SELECT sql FROM sqlite_schema WHERE type = 'table' AND name = ?1")
        .bind(table)
        .fetch_optional(&mut *conn)
        .await?;
    rules.extend(create.map(|sql| sqlite_checks(&sql)).unwrap_or_default());
    Ok(rules)
}

/// The CHECK constraints of a SQLite CREATE TABLE, table- and column-level, as written.
fn sqlite_checks(create: &str) -> Vec<Rule> {
    use sqlparser::ast::{ColumnOption, Statement, TableConstraint};
    let Ok(statements) = crate::sql::parse(create, crate::config::Engine::Sqlite) else {
        return vec![];
    };
    let mut out = Vec::new();
    for statement in statements {
        let Statement::CreateTable(table) = statement else { continue };
        for column in &table.columns {
            for option in &column.options {
                if let ColumnOption::Check(check) = &option.option {
                    let name = option.name.as_ref().or(check.name.as_ref()).map(|n| n.value.clone());
                    out.push(Rule {
                        name: name.unwrap_or_else(|| format!("on {}", column.name.value)),
                        columns: vec![],
                        kind: RuleKind::Check { expression: check.expr.to_string() },
                    });
                }
            }
        }
        for constraint in &table.constraints {
            if let TableConstraint::Check(check) = constraint {
                out.push(Rule {
                    name: check.name.as_ref().map_or_else(|| "(unnamed)".to_string(), |n| n.value.clone()),
                    columns: vec![],
                    kind: RuleKind::Check { expression: check.expr.to_string() },
                });
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_checks_come_from_the_create_table_text() {
        let rules = sqlite_checks(
            "CREATE TABLE t (id INTEGER PRIMARY KEY, qty INT CHECK (qty >= 0), \
             code TEXT CONSTRAINT code_len CHECK (length(code) = 3), CONSTRAINT positive CHECK (id > 0))",
        );
        let got: Vec<(String, String)> = rules
            .iter()
            .map(|r| match &r.kind {
                RuleKind::Check { expression } => (r.name.clone(), expression.clone()),
                _ => unreachable!(),
            })
            .collect();
        assert_eq!(
            got,
            vec![
                ("on qty".to_string(), "qty >= 0".to_string()),
                ("code_len".to_string(), "length(code) = 3".to_string()),
                ("positive".to_string(), "id > 0".to_string()),
            ]
        );
        assert!(sqlite_checks("not sql at all").is_empty());
    }
}
