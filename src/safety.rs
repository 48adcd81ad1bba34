//! The parser check every SQL statement passes before it reaches a database. It is the second
//! line of defence: the first is the database itself (read-only transactions and connections).
//! The check is done with a real SQL parser, never with patterns over text.

use std::ops::ControlFlow;

use sqlparser::{
    ast::{Expr, LimitClause, ObjectName, Statement, Value, visit_expressions, visit_relations, visit_statements},
    dialect::{Dialect, MySqlDialect, PostgreSqlDialect, SQLiteDialect},
    parser::Parser,
};

use crate::{
    config::{Engine, Mode},
    error::ToolError,
};

/// Functions that read or write files, run programs or reach the network. Refused everywhere.
const DENIED_ALWAYS: &[&str] = &[
    // PostgreSQL
    "pg_read_file",
    "pg_read_binary_file",
    "pg_ls_dir",
    "pg_stat_file",
    "pg_ls_logdir",
    "pg_ls_waldir",
    "pg_ls_tmpdir",
    "pg_ls_archive_statusdir",
    "pg_file_write",
    "pg_file_rename",
    "pg_file_unlink",
    "lo_import",
    "lo_export",
    "dblink",
    "dblink_exec",
    "dblink_connect",
    "dblink_send_query",
    // MySQL / MariaDB
    "load_file",
    "sys_exec",
    "sys_eval",
    // SQLite
    "load_extension",
    "readfile",
    "writefile",
    "edit",
    "fts3_tokenizer",
];

/// Functions with side effects outside the statement's result. Refused on read-only databases.
const DENIED_READ_ONLY: &[&str] = &[
    "nextval",
    "setval",
    "set_config",
    "pg_notify",
    "pg_advisory_lock",
    "pg_advisory_xact_lock",
    "pg_advisory_lock_shared",
    "pg_try_advisory_lock",
    "pg_advisory_unlock",
    "pg_advisory_unlock_all",
    "pg_terminate_backend",
    "pg_cancel_backend",
    "pg_reload_conf",
    "pg_rotate_logfile",
    "pg_switch_wal",
    "pg_create_restore_point",
    "pg_promote",
    "pg_logical_emit_message",
    "pg_create_logical_replication_slot",
    "pg_create_physical_replication_slot",
    "pg_drop_replication_slot",
    "txid_current",
    "lo_create",
    "lo_unlink",
    "lo_from_bytea",
    "lo_put",
    "get_lock",
    "release_lock",
    "release_all_locks",
    "master_pos_wait",
    "source_pos_wait",
];

/// What kind of statement passed the check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum StatementKind {
    /// SELECT, VALUES, WITH ... SELECT, TABLE.
    Query,
    /// EXPLAIN, SHOW, DESCRIBE, PRAGMA reads.
    Inspect,
    /// INSERT, UPDATE, DELETE, MERGE, TRUNCATE.
    Dml,
    /// CREATE, ALTER, DROP, COMMENT, GRANT, ...
    Ddl,
}

#[derive(Debug)]
pub struct Checked {
    pub kind: StatementKind,
    /// The same statement with its row count capped at `cap` in the SQL itself, when that is
    /// possible (a top-level query). Rows past the cap are then never sent by the server.
    pub capped_sql: Option<String>,
}

pub(crate) fn dialect(engine: Engine) -> Box<dyn Dialect> {
    match engine {
        Engine::Postgres => Box::new(PostgreSqlDialect {}),
        Engine::Mysql => Box::new(MySqlDialect {}),
        _ => Box::new(SQLiteDialect {}),
    }
}

/// Parse one statement and decide whether it may run. `cap` is the row cap to push down.
pub fn check(sql: &str, engine: Engine, mode: Mode, cap: usize) -> Result<Checked, ToolError> {
    let dialect = dialect(engine);
    let statements =
        Parser::parse_sql(dialect.as_ref(), sql).map_err(|e| ToolError::Parse { message: e.to_string() })?;
    let statement = match statements.as_slice() {
        [] => return Err(ToolError::invalid("sql", "no statement given")),
        [one] => one,
        many => {
            return Err(ToolError::refused(
                format!("{} statements given; exactly one statement per call is allowed", many.len()),
                "send each statement in its own call; for a multi-statement change use the migration tools",
            ));
        }
    };
    refuse_session_control(statement)?;
    let kind = classify(statement);
    if mode == Mode::ReadOnly {
        if explains_by_running(statement) {
            return Err(ToolError::refused(
                "EXPLAIN ANALYZE runs the statement",
                "use the explain-analyze tool, which runs it inside a transaction that is always rolled back",
            ));
        }
        // A plain EXPLAIN only plans, whatever it plans.
        let plans_only = matches!(statement, Statement::Explain { .. });
        if !matches!(kind, StatementKind::Query | StatementKind::Inspect)
            || (!plans_only && has_nested_write(statement))
        {
            return Err(ToolError::refused(
                "this database is read-only and the statement would change data or schema",
                "run a read query, or configure the database with mode = \"read-write\" (and plan changes with the migration tools)",
            ));
        }
    }
    refuse_functions(statement, mode)?;
    let capped_sql = cap_rows(statement, cap);
    Ok(Checked { kind, capped_sql })
}

fn refuse_session_control(statement: &Statement) -> Result<(), ToolError> {
    let what = match statement {
        Statement::StartTransaction { .. }
        | Statement::Commit { .. }
        | Statement::Rollback { .. }
        | Statement::Savepoint { .. }
        | Statement::ReleaseSavepoint { .. } => "transaction control",
        Statement::Set(_) | Statement::Reset(_) | Statement::AlterSession { .. } => "changing session settings",
        Statement::Discard { .. } => "DISCARD",
        Statement::Use(_) => "USE (switching the connection's database)",
        Statement::AttachDatabase { .. }
        | Statement::AttachDuckDBDatabase { .. }
        | Statement::DetachDuckDBDatabase { .. } => "attaching database files",
        Statement::Copy { .. } | Statement::LoadData { .. } | Statement::Unload { .. } | Statement::ExportData(_) => {
            "COPY / LOAD DATA (file and program access)"
        }
        Statement::Load { .. } | Statement::Install { .. } => "loading extensions",
        Statement::Prepare { .. } | Statement::Execute { .. } | Statement::Deallocate { .. } => "prepared statements",
        Statement::LISTEN { .. } | Statement::UNLISTEN { .. } | Statement::NOTIFY { .. } => "LISTEN / NOTIFY",
        Statement::Lock(_) | Statement::LockTables { .. } | Statement::UnlockTables => "explicit locks",
        Statement::Kill { .. } => "KILL",
        Statement::Declare { .. } | Statement::Fetch { .. } | Statement::Close { .. } | Statement::Open(_) => "cursors",
        Statement::Pragma { name, value: Some(_), is_eq } if *is_eq || !is_reading_pragma(name) => {
            "changing SQLite pragmas"
        }
        _ => return Ok(()),
    };
    Err(ToolError::refused(
        format!("{what} is not allowed: the server manages the transaction and session itself"),
        "send just the statement; run-sql wraps it in its own transaction (read-only on read-only databases)",
    ))
}

/// Pragmas that take an argument yet only read (`PRAGMA table_info('t')`); with an argument any
/// other pragma may set something (`PRAGMA query_only(0)`).
fn is_reading_pragma(name: &ObjectName) -> bool {
    const READING: &[&str] = &[
        "table_info",
        "table_xinfo",
        "index_list",
        "index_info",
        "index_xinfo",
        "foreign_key_list",
        "foreign_key_check",
        "integrity_check",
        "quick_check",
        "table_list",
    ];
    name.0.last().and_then(|p| p.as_ident()).is_some_and(|i| READING.contains(&i.value.to_ascii_lowercase().as_str()))
}

fn classify(statement: &Statement) -> StatementKind {
    match statement {
        Statement::Query(_) => StatementKind::Query,
        Statement::Explain { .. }
        | Statement::ExplainTable { .. }
        | Statement::ShowFunctions { .. }
        | Statement::ShowVariable { .. }
        | Statement::ShowStatus { .. }
        | Statement::ShowVariables { .. }
        | Statement::ShowCreate { .. }
        | Statement::ShowColumns { .. }
        | Statement::ShowCatalogs { .. }
        | Statement::ShowDatabases { .. }
        | Statement::ShowProcessList { .. }
        | Statement::ShowSchemas { .. }
        | Statement::ShowCharset(_)
        | Statement::ShowObjects(_)
        | Statement::ShowTables { .. }
        | Statement::ShowViews { .. }
        | Statement::ShowCollation { .. }
        | Statement::Pragma { .. } => StatementKind::Inspect,
        Statement::Insert(_)
        | Statement::Update(_)
        | Statement::Delete(_)
        | Statement::Merge(_)
        | Statement::Truncate(_) => StatementKind::Dml,
        _ => StatementKind::Ddl,
    }
}

/// `EXPLAIN ANALYZE` (or `EXPLAIN (ANALYZE)`) executes the statement it explains.
fn explains_by_running(statement: &Statement) -> bool {
    match statement {
        Statement::Explain { analyze, options, .. } => {
            *analyze
                || options.iter().flatten().any(|o| {
                    o.name.value.eq_ignore_ascii_case("analyze")
                        && o.arg.as_ref().is_none_or(|a| !a.to_string().eq_ignore_ascii_case("false"))
                })
        }
        _ => false,
    }
}

/// A query can hide a write in a CTE (`WITH d AS (DELETE ...) SELECT ...`).
fn has_nested_write(statement: &Statement) -> bool {
    visit_statements(statement, |s| match classify(s) {
        StatementKind::Dml | StatementKind::Ddl => ControlFlow::Break(()),
        _ => ControlFlow::Continue(()),
    })
    .is_break()
}

pub(crate) fn refuse_functions(statement: &Statement, mode: Mode) -> Result<(), ToolError> {
    let denied = |name: &ObjectName| -> Option<String> {
        let last = name.0.last()?.as_ident()?.value.to_ascii_lowercase();
        let hit = DENIED_ALWAYS.contains(&last.as_str())
            || (mode == Mode::ReadOnly && DENIED_READ_ONLY.contains(&last.as_str()));
        hit.then_some(last)
    };
    let mut found = None;
    let _ = visit_expressions(statement, |expr| {
        if let Expr::Function(f) = expr
            && let Some(name) = denied(&f.name)
        {
            found = Some(name);
            return ControlFlow::Break(());
        }
        ControlFlow::Continue(())
    });
    if found.is_none() {
        let _ = visit_relations(statement, |relation| {
            found = denied(relation);
            if found.is_some() { ControlFlow::Break(()) } else { ControlFlow::Continue(()) }
        });
    }
    match found {
        Some(name) => Err(ToolError::refused(
            format!("function {name}() is not allowed: it has side effects or reaches files, programs or the network"),
            if DENIED_ALWAYS.contains(&name.as_str()) {
                "this server never calls it; use a dedicated tool (load-csv, snapshot) instead"
            } else {
                "it is refused on read-only databases; use a read-write database if the side effect is intended"
            },
        )),
        None => Ok(()),
    }
}

/// Rewrite a top-level query so the server stops after `cap` rows.
fn cap_rows(statement: &Statement, cap: usize) -> Option<String> {
    let Statement::Query(query) = statement else { return None };
    if query.fetch.is_some() || query.for_clause.is_some() {
        return None;
    }
    let cap_expr = Expr::value(Value::Number(cap.to_string(), false));
    let mut capped = query.clone();
    match &mut capped.limit_clause {
        None => {
            capped.limit_clause =
                Some(LimitClause::LimitOffset { limit: Some(cap_expr), offset: None, limit_by: vec![] });
        }
        Some(LimitClause::LimitOffset { limit, .. }) => match limit {
            Some(Expr::Value(v)) if matches!(&v.value, Value::Number(n, _) if n.parse::<usize>().is_ok_and(|n| n <= cap)) =>
            {
                return None;
            }
            Some(Expr::Value(v)) if matches!(&v.value, Value::Number(..)) => *limit = Some(cap_expr),
            None => *limit = Some(cap_expr),
            // A computed or parameter limit: leave it, the reader stops at the cap.
            Some(_) => return None,
        },
        Some(LimitClause::OffsetCommaLimit { .. }) => return None,
    }
    Some(capped.to_string())
}

/// Check a script of several statements (a seed file): each passes the same session-control and
/// function checks as a single statement. Returns each statement's kind; TRUNCATE counts as DDL
/// here, since MySQL commits it implicitly.
pub fn check_script(sql: &str, engine: Engine) -> Result<Vec<StatementKind>, ToolError> {
    let statements =
        Parser::parse_sql(dialect(engine).as_ref(), sql).map_err(|e| ToolError::Parse { message: e.to_string() })?;
    statements
        .iter()
        .map(|s| {
            refuse_session_control(s)?;
            refuse_functions(s, Mode::ReadWrite)?;
            Ok(match s {
                Statement::Truncate(_) => StatementKind::Ddl,
                other => classify(other),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn verdict(sql: &str, engine: Engine, mode: Mode) -> String {
        match check(sql, engine, mode, 11) {
            Ok(c) => format!("ok {:?} {}", c.kind, c.capped_sql.unwrap_or_else(|| "-".into())),
            Err(e) => format!("err {}: {e}", e.kind()),
        }
    }

    #[test]
    fn read_only_verdicts() {
        use Engine::*;
        let ro = Mode::ReadOnly;
        let cases: &[(&str, Engine, &str)] = &[
            ("SELECT 1", Postgres, "ok Query SELECT 1 LIMIT 11"),
            ("select * from t order by a limit 5", Mysql, "ok Query -"),
            ("select * from t limit 500", Sqlite, "ok Query SELECT * FROM t LIMIT 11"),
            (
                "SELECT 1; DROP TABLE t",
                Postgres,
                "err refused: refused: 2 statements given; exactly one statement per call is allowed",
            ),
            (
                "DELETE FROM t",
                Postgres,
                "err refused: refused: this database is read-only and the statement would change data or schema",
            ),
            (
                "WITH d AS (DELETE FROM t RETURNING *) SELECT * FROM d",
                Postgres,
                "err refused: refused: this database is read-only and the statement would change data or schema",
            ),
            (
                "SET transaction_read_only = off",
                Postgres,
                "err refused: refused: changing session settings is not allowed: the server manages the transaction and session itself",
            ),
            (
                "SET ROLE postgres",
                Postgres,
                "err refused: refused: changing session settings is not allowed: the server manages the transaction and session itself",
            ),
            (
                "BEGIN",
                Postgres,
                "err refused: refused: transaction control is not allowed: the server manages the transaction and session itself",
            ),
            (
                "COMMIT",
                Mysql,
                "err refused: refused: transaction control is not allowed: the server manages the transaction and session itself",
            ),
            (
                "PRAGMA query_only = 0",
                Sqlite,
                "err refused: refused: changing SQLite pragmas is not allowed: the server manages the transaction and session itself",
            ),
            ("PRAGMA table_info('t')", Sqlite, "ok Inspect -"),
            (
                "EXPLAIN (ANALYZE, BUFFERS) SELECT 1",
                Postgres,
                "err refused: refused: EXPLAIN ANALYZE runs the statement",
            ),
            ("EXPLAIN DELETE FROM t", Postgres, "ok Inspect -"),
            (
                "SELECT pg_read_file('/etc/passwd')",
                Postgres,
                "err refused: refused: function pg_read_file() is not allowed: it has side effects or reaches files, programs or the network",
            ),
            (
                "SELECT * FROM pg_ls_dir('.')",
                Postgres,
                "err refused: refused: function pg_ls_dir() is not allowed: it has side effects or reaches files, programs or the network",
            ),
            (
                "SELECT nextval('s')",
                Postgres,
                "err refused: refused: function nextval() is not allowed: it has side effects or reaches files, programs or the network",
            ),
            (
                "SELECT LOAD_FILE('/etc/passwd')",
                Mysql,
                "err refused: refused: function load_file() is not allowed: it has side effects or reaches files, programs or the network",
            ),
            (
                "SELECT load_extension('x')",
                Sqlite,
                "err refused: refused: function load_extension() is not allowed: it has side effects or reaches files, programs or the network",
            ),
            (
                "ATTACH DATABASE 'x.db' AS x",
                Sqlite,
                "err refused: refused: attaching database files is not allowed: the server manages the transaction and session itself",
            ),
            (
                "COPY t TO PROGRAM 'rm -rf /'",
                Postgres,
                "err refused: refused: COPY / LOAD DATA (file and program access) is not allowed: the server manages the transaction and session itself",
            ),
            ("EXPLAIN ANALYZE DELETE FROM t", Postgres, "err refused: refused: EXPLAIN ANALYZE runs the statement"),
            ("SHOW TABLES", Mysql, "ok Inspect -"),
            (
                "SELEC 1",
                Postgres,
                "err parse: cannot parse the statement: sql parser error: Expected: an SQL statement, found: SELEC at Line: 1, Column: 1",
            ),
            ("", Postgres, "err invalid-argument: invalid argument sql: no statement given"),
        ];
        let mut failures = vec![];
        for (sql, engine, want) in cases {
            let got = verdict(sql, *engine, ro);
            if got != *want {
                failures.push(format!("{sql}\n  want {want}\n  got  {got}"));
            }
        }
        assert!(failures.is_empty(), "{}", failures.join("\n"));
    }

    #[test]
    fn read_write_allows_changes_but_not_session_control() {
        let rw = Mode::ReadWrite;
        assert_eq!(verdict("CREATE TABLE t (id int)", Engine::Postgres, rw), "ok Ddl -");
        assert_eq!(verdict("INSERT INTO t VALUES (1)", Engine::Mysql, rw), "ok Dml -");
        assert_eq!(verdict("SELECT nextval('s')", Engine::Postgres, rw), "ok Query SELECT nextval('s') LIMIT 11");
        assert!(verdict("ROLLBACK", Engine::Sqlite, rw).starts_with("err refused"));
        assert!(verdict("SELECT pg_read_file('x')", Engine::Postgres, rw).starts_with("err refused"));
    }
}
