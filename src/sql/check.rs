//! The parser check every SQL statement passes before it reaches a database. It is the second
//! line of defence: the first is the database itself (read-only transactions, and read-only work
//! done as a least-privilege role or login, see `engine::session`). The check is done with a real SQL
//! parser, never with patterns over text.
//!
//! Functions are found on the token stream, not in the tree: a name followed by `(` is a call
//! wherever it stands (select list, `FROM`, `LATERAL`, `ROWS FROM`, `JOIN ... ON`, window frames,
//! `VALUES`, subqueries, CTEs, `EXPLAIN` targets), so no position of the tree can hide one.

use std::ops::ControlFlow;

use sqlparser::{
    ast::{
        AlterTableOperation, Expr, LimitClause, ObjectName, SetExpr, Statement, Value, visit_relations,
        visit_statements,
    },
    dialect::{Dialect, MySqlDialect, PostgreSqlDialect, SQLiteDialect},
    keywords::Keyword,
    parser::Parser,
    tokenizer::{Token, TokenWithSpan, Tokenizer},
};

use crate::{
    config::{Engine, Mode},
    error::ToolError,
};

/// Longer statements are refused before they are parsed.
pub const MAX_SQL_BYTES: usize = 1 << 20;

/// Operators in one statement past which it is refused. A long `a AND b AND ...` chain parses
/// into a tree as deep as it is long, and every walk over that tree (display, visit, clone,
/// drop) recurses: [`STACK_BYTES`] holds this many levels with room to spare, in debug builds too.
pub const MAX_OPERATORS: usize = 5_000;

/// The stack a tree of [`MAX_OPERATORS`] levels is walked on: the runtime's threads have it
/// (`cli.rs`), and [`check`] makes sure of it on any other thread.
pub const STACK_BYTES: usize = 64 << 20;

/// Run `f` with at least half of [`STACK_BYTES`] of stack left, on a fresh segment if need be.
fn with_stack<T>(f: impl FnOnce() -> T) -> T {
    stacker::maybe_grow(STACK_BYTES / 2, STACK_BYTES, f)
}

/// Functions refused everywhere: they read or write files on the database host, run programs,
/// open connections, or run SQL given as text (which this check cannot see into).
const DENIED_ALWAYS: &[&str] = &[
    // PostgreSQL: files
    "pg_read_file",
    "pg_read_binary_file",
    "pg_stat_file",
    "lo_import",
    "lo_export",
    // PostgreSQL: SQL given as text
    "query_to_xml",
    "query_to_xml_and_xmlschema",
    "query_to_xmlschema",
    "cursor_to_xml",
    "cursor_to_xmlschema",
    "ts_stat",
    "ts_rewrite",
    "crosstab",
    "crosstab2",
    "crosstab3",
    "crosstab4",
    "connectby",
    "xpath_table",
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

/// Prefixes of function families refused everywhere.
const DENIED_ALWAYS_PREFIXES: &[&str] = &["pg_ls_", "pg_file_", "dblink", "postgres_fdw_"];

/// Functions with effects outside the statement's result (sequences, locks, signals, slots,
/// configuration, settings, statistics, large objects). Refused on read-only databases.
const DENIED_READ_ONLY: &[&str] = &[
    "nextval",
    "setval",
    "set_config",
    "pg_notify",
    "pg_terminate_backend",
    "pg_cancel_backend",
    "pg_reload_conf",
    "pg_rotate_logfile",
    "pg_switch_wal",
    "pg_create_restore_point",
    "pg_promote",
    "pg_import_system_collations",
    "pg_nextoid",
    "pg_truncate_visibility_map",
    "pg_log_backend_memory_contexts",
    "pg_start_backup",
    "pg_stop_backup",
    "txid_current",
    "pg_current_xact_id",
    "hypopg_create_index",
    "hypopg_drop_index",
    "hypopg_reset",
    "lowrite",
    "get_lock",
    "release_lock",
    "release_all_locks",
    "master_pos_wait",
    "source_pos_wait",
    "master_gtid_wait",
];

const DENIED_READ_ONLY_PREFIXES: &[&str] = &[
    "pg_advisory",
    "pg_try_advisory",
    "pg_stat_reset",
    "pg_stat_statements_reset",
    "pg_logical_",
    "pg_replication_",
    "pg_create_",
    "pg_drop_",
    "pg_copy_",
    "pg_wal_replay_",
    "pg_backup_",
    "lo_",
    "heap_force_",
];

/// What kind of statement passed the check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum StatementKind {
    /// SELECT, VALUES, WITH ... SELECT, TABLE.
    Query,
    /// EXPLAIN, SHOW, DESCRIBE, PRAGMA reads.
    Inspect,
    /// INSERT, UPDATE, DELETE, MERGE, TRUNCATE (and EXPLAIN ANALYZE of one, which runs it).
    Dml,
    /// CREATE, ALTER, DROP, COMMENT, GRANT, ...
    Ddl,
}

impl StatementKind {
    /// It may change data or schema.
    pub fn writes(self) -> bool {
        matches!(self, StatementKind::Dml | StatementKind::Ddl)
    }
}

/// A statement that removes a table, a column or every row: run only after the user agreed.
#[derive(Debug, Clone)]
pub struct Destructive {
    /// What will happen, for the question to the user ("DROP TABLE t").
    pub action: String,
    /// Tables whose every row a TRUNCATE removes: counted first, since TRUNCATE reports none.
    pub truncated: Vec<String>,
}

#[derive(Debug)]
pub struct Checked {
    pub kind: StatementKind,
    /// The same statement with its row count capped at `cap` in the SQL itself, when that is
    /// possible (a top-level query). Rows past the cap are then never sent by the server.
    pub capped_sql: Option<String>,
    /// Set when the statement drops, truncates, or changes every row.
    pub destructive: Option<Destructive>,
    /// Tables and views the statement names (`schema.table` or `table`), as the engine reads
    /// them (PostgreSQL folds unquoted names to lower case).
    pub relations: Vec<String>,
    /// The tables it writes, when it writes.
    pub targets: Vec<Target>,
    /// Functions the statement calls (lowercase, without schema).
    pub functions: Vec<String>,
}

/// A table a statement writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub table: String,
    /// An INSERT (or MERGE, or REPLACE), which evaluates column defaults.
    pub inserts: bool,
    /// The INSERT's column list, when it has one: columns outside it get their defaults.
    pub columns: Option<Vec<String>>,
}

/// The parser dialect of an engine: the one place it is chosen.
pub fn dialect(engine: Engine) -> Box<dyn Dialect> {
    match engine {
        Engine::Postgres => Box::new(PostgreSqlDialect {}),
        Engine::Mysql => Box::new(MySqlDialect {}),
        _ => Box::new(SQLiteDialect {}),
    }
}

/// A debug-build switch for the red-team tests: skip the refusals of this module so that what
/// the database refuses on its own can be seen. Release builds never read it.
fn parser_layer_off() -> bool {
    cfg!(debug_assertions) && std::env::var_os("DATA_ENGINEER_UNSAFE_SKIP_PARSER_CHECK").is_some()
}

/// Parse one statement and decide whether it may run. `cap` is the row cap to push down.
pub fn check(sql: &str, engine: Engine, mode: Mode, cap: usize) -> Result<Checked, ToolError> {
    with_stack(|| check_here(sql, engine, mode, cap))
}

fn check_here(sql: &str, engine: Engine, mode: Mode, cap: usize) -> Result<Checked, ToolError> {
    let (tokens, parsed) = scan(sql, engine)?;
    let statement = one(parsed.parse(engine)?)?;
    let kind = classify(&statement);
    let checked = Checked {
        kind,
        capped_sql: cap_rows(sql, &statement, engine, cap),
        destructive: destructive(&statement),
        relations: relations(&statement, engine),
        targets: targets(&statement, engine),
        functions: tokens.functions.clone(),
    };
    if parser_layer_off() {
        return Ok(checked);
    }
    tokens.refuse(engine)?;
    refuse_session_control(&statement, engine)?;
    if mode == Mode::ReadOnly {
        // A plain EXPLAIN only plans, whatever it plans; EXPLAIN ANALYZE runs it (its kind is the
        // kind of what it runs).
        let plans_only = matches!(statement, Statement::Explain { .. }) && !explains_by_running(&statement);
        if kind.writes() || (!plans_only && has_nested_write(&statement)) {
            return Err(ToolError::refused(
                "this database is read-only and the statement would change data or schema",
                "run a read query, or configure the database with mode = \"read-write\" (and plan changes with the migration tools)",
            ));
        }
    }
    refuse_functions(&tokens.functions, mode)?;
    Ok(checked)
}

/// Parse SQL text into statements, refusing text too long or too deep to walk safely. Every
/// module that parses SQL goes through here.
pub fn parse(sql: &str, engine: Engine) -> Result<Vec<Statement>, ToolError> {
    scan(sql, engine)?.1.parse(engine)
}

/// Tokens that passed the size and depth bounds, ready for the parser.
struct Scanned(Vec<TokenWithSpan>);

impl Scanned {
    fn parse(self, engine: Engine) -> Result<Vec<Statement>, ToolError> {
        let dialect = dialect(engine);
        Parser::new(dialect.as_ref())
            .with_tokens_with_locations(self.0)
            .parse_statements()
            .map_err(|e| ToolError::Parse { message: e.to_string() })
    }
}

/// Exactly one statement.
fn one(mut statements: Vec<Statement>) -> Result<Statement, ToolError> {
    match statements.len() {
        0 => Err(ToolError::invalid("sql", "no statement given")),
        1 => Ok(statements.remove(0)),
        n => Err(ToolError::refused(
            format!("{n} statements given; exactly one statement per call is allowed"),
            "send each statement in its own call; for a multi-statement change use the migration tools",
        )),
    }
}

/// What the token stream shows: the functions called, and anything the parser would read
/// differently from the database.
struct Tokens {
    functions: Vec<String>,
    /// A comment MariaDB/MySQL executes (`/*! */`, `/*M! */`) or an optimizer hint (`/*+ */`).
    executable_comment: bool,
    /// PostgreSQL's `U&"..."` identifiers and strings, whose escapes the parser does not decode.
    unicode_escape: bool,
}

impl Tokens {
    fn refuse(&self, engine: Engine) -> Result<(), ToolError> {
        if self.executable_comment {
            return Err(ToolError::refused(
                format!(
                    "the statement holds an executable comment or optimizer hint (/*! */, /*M! */ or /*+ */), which {} runs as code",
                    engine
                ),
                "write the statement without it: plain /* */ comments are fine",
            ));
        }
        if self.unicode_escape {
            return Err(ToolError::refused(
                "U&\"...\" identifiers and U&'...' strings are not accepted: their escapes hide what they name",
                "write the name or text plainly",
            ));
        }
        Ok(())
    }
}

/// Tokenize `sql` in the engine's dialect and read what the tree would not show.
fn scan(sql: &str, engine: Engine) -> Result<(Tokens, Scanned), ToolError> {
    // MariaDB runs `/*! */` and `/*M! */` comments as code and MySQL reads `/*+ */` hints; the
    // parser expands the first and skips the others. Any such opening anywhere, even inside a
    // string, is refused: no quoting rule can then hide one.
    let executable_comment = engine == Engine::Mysql && ["/*!", "/*M!", "/*m!", "/*+"].iter().any(|c| sql.contains(c));
    let unicode_escape = engine == Engine::Postgres && ["U&\"", "u&\"", "U&'", "u&'"].iter().any(|c| sql.contains(c));
    let tokens = bounded_tokens(dialect(engine).as_ref(), sql)?;
    let significant: Vec<&Token> =
        tokens.iter().map(|t| &t.token).filter(|t| !matches!(t, Token::Whitespace(_))).collect();
    let mut functions = Vec::new();
    let word = |j: usize, k: Keyword| matches!(significant.get(j), Some(Token::Word(x)) if x.keyword == k);
    for (i, token) in significant.iter().enumerate() {
        let Token::Word(w) = token else { continue };
        let called = matches!(significant.get(i + 1), Some(Token::LParen))
            // MariaDB's `NEXT VALUE FOR seq` is a sequence call without parentheses.
            || (w.keyword == Keyword::NEXT && word(i + 1, Keyword::VALUE) && word(i + 2, Keyword::FOR));
        let name = if w.keyword == Keyword::NEXT { "nextval".to_string() } else { w.value.to_ascii_lowercase() };
        if called && !functions.contains(&name) {
            functions.push(name);
        }
    }
    Ok((Tokens { functions, executable_comment, unicode_escape }, Scanned(tokens)))
}

/// The tokens of `sql`, refused when the text is too long or a statement nests too many
/// operators to be walked safely.
fn bounded_tokens(dialect: &dyn Dialect, sql: &str) -> Result<Vec<TokenWithSpan>, ToolError> {
    if sql.len() > MAX_SQL_BYTES {
        return Err(ToolError::refused(
            format!("the statement is {} bytes; at most {MAX_SQL_BYTES} are accepted", sql.len()),
            "send a shorter statement; load data with load-csv or seed instead of long literal lists",
        ));
    }
    let tokens = Tokenizer::new(dialect, sql)
        .tokenize_with_location()
        .map_err(|e| ToolError::Parse { message: e.to_string() })?;
    let mut operators = 0usize;
    for t in &tokens {
        match &t.token {
            Token::SemiColon => operators = 0,
            Token::Word(w)
                if matches!(w.keyword, Keyword::AND | Keyword::OR | Keyword::NOT | Keyword::IS | Keyword::LIKE) =>
            {
                operators += 1
            }
            Token::Word(_)
            | Token::Whitespace(_)
            | Token::Comma
            | Token::LParen
            | Token::RParen
            | Token::Number(..)
            | Token::SingleQuotedString(_)
            | Token::DoubleQuotedString(_)
            | Token::Period
            | Token::EOF => {}
            _ => operators += 1,
        }
        if operators > MAX_OPERATORS {
            return Err(ToolError::refused(
                format!("a statement has more than {MAX_OPERATORS} operators, the most accepted"),
                "simplify it: a long OR chain of equalities is an IN (...) list, and long AND chains can be split",
            ));
        }
    }
    Ok(tokens)
}

/// Parse with any dialect (a function body, a catalog definition) under the same bounds.
pub fn parse_with(dialect: &dyn Dialect, sql: &str) -> Result<Vec<Statement>, ToolError> {
    let tokens = bounded_tokens(dialect, sql)?;
    Parser::new(dialect)
        .with_tokens_with_locations(tokens)
        .parse_statements()
        .map_err(|e| ToolError::Parse { message: e.to_string() })
}

/// Parse one expression (a plan's filter condition), under the same bounds as [`parse`].
pub fn parse_expr(text: &str, engine: Engine) -> Result<sqlparser::ast::Expr, ToolError> {
    let dialect = dialect(engine);
    let tokens = bounded_tokens(dialect.as_ref(), text)?;
    Parser::new(dialect.as_ref())
        .with_tokens_with_locations(tokens)
        .parse_expr()
        .map_err(|e| ToolError::Parse { message: e.to_string() })
}

/// The first `n` words of a statement, upper-cased, as the tokenizer reads them: comments,
/// whitespace and punctuation skipped, quoted identifiers kept as written (so `"vacuum"` is no
/// VACUUM). Empty when the text does not tokenize.
pub fn leading_words(sql: &str, engine: Engine, n: usize) -> Vec<String> {
    let dialect = dialect(engine);
    let Ok(tokens) = bounded_tokens(dialect.as_ref(), sql) else { return vec![] };
    tokens
        .iter()
        .filter_map(|t| match &t.token {
            Token::Word(w) if w.quote_style.is_none() => Some(w.value.to_ascii_uppercase()),
            Token::Word(w) => Some(w.value.clone()),
            _ => None,
        })
        .take(n)
        .collect()
}

fn refuse_session_control(statement: &Statement, engine: Engine) -> Result<(), ToolError> {
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
        _ if engine == Engine::Mysql && selects_into(statement) => {
            "SELECT ... INTO (a file on the database host, or session variables)"
        }
        _ => return Ok(()),
    };
    Err(ToolError::refused(
        format!("{what} is not allowed: the server manages the transaction and session itself"),
        "send just the statement; run-sql wraps it in its own transaction (read-only on read-only databases)",
    ))
}

/// MySQL's `SELECT ... INTO OUTFILE / DUMPFILE / @var`, at any depth.
fn selects_into(statement: &Statement) -> bool {
    let mut found = false;
    let _ = sqlparser::ast::visit_statements(statement, |s| {
        if let Statement::Query(q) = s {
            found |= query_selects_into(q);
        }
        ControlFlow::<()>::Continue(())
    });
    found
}

fn query_selects_into(q: &sqlparser::ast::Query) -> bool {
    fn body(b: &SetExpr) -> bool {
        match b {
            SetExpr::Select(s) => s.into.is_some(),
            SetExpr::Query(q) => query_selects_into(q),
            SetExpr::SetOperation { left, right, .. } => body(left) || body(right),
            _ => false,
        }
    }
    body(&q.body)
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
        // SELECT ... INTO creates a table on PostgreSQL.
        Statement::Query(q) if query_selects_into(q) => StatementKind::Ddl,
        Statement::Query(_) => StatementKind::Query,
        // EXPLAIN ANALYZE runs what it explains.
        Statement::Explain { statement: inner, .. } if explains_by_running(statement) => match classify(inner) {
            StatementKind::Query | StatementKind::Inspect => StatementKind::Inspect,
            writes => writes,
        },
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

/// A name as the engine reads it: PostgreSQL folds unquoted identifiers to lower case.
fn name_of(name: &ObjectName, engine: Engine) -> String {
    name.0
        .iter()
        .filter_map(|p| p.as_ident())
        .map(|i| match (engine, i.quote_style) {
            (Engine::Postgres, None) => i.value.to_lowercase(),
            _ => i.value.clone(),
        })
        .collect::<Vec<_>>()
        .join(".")
}

/// Tables and views named anywhere in the statement.
fn relations(statement: &Statement, engine: Engine) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let _ = visit_relations(statement, |name| {
        let name = name_of(name, engine);
        if !out.contains(&name) {
            out.push(name);
        }
        ControlFlow::<()>::Continue(())
    });
    out
}

/// The tables the statement (and any write nested in it) writes.
fn targets(statement: &Statement, engine: Engine) -> Vec<Target> {
    use sqlparser::ast::{FromTable, TableFactor, TableObject};
    let mut out: Vec<Target> = Vec::new();
    let mut add = |name: &ObjectName, inserts: bool, columns: Option<Vec<String>>| {
        let target = Target { table: name_of(name, engine), inserts, columns };
        if !out.contains(&target) {
            out.push(target);
        }
    };
    let factor_name = |f: &TableFactor| match f {
        TableFactor::Table { name, .. } => Some(name.clone()),
        _ => None,
    };
    let _ = visit_statements(statement, |s| {
        match s {
            Statement::Insert(i) => {
                if let TableObject::TableName(name) = &i.table {
                    let columns = (!i.columns.is_empty())
                        .then(|| i.columns.iter().map(|c| name_of(c, engine)).collect::<Vec<_>>());
                    add(name, true, columns);
                }
            }
            Statement::Update(u) => {
                if let Some(name) = factor_name(&u.table.relation) {
                    add(&name, false, None);
                }
            }
            Statement::Delete(d) => {
                for name in &d.tables {
                    add(name, false, None);
                }
                let (FromTable::WithFromKeyword(from) | FromTable::WithoutKeyword(from)) = &d.from;
                if d.tables.is_empty() {
                    for t in from {
                        if let Some(name) = factor_name(&t.relation) {
                            add(&name, false, None);
                        }
                    }
                }
            }
            Statement::Merge(m) => {
                if let Some(name) = factor_name(&m.table) {
                    add(&name, true, None);
                }
            }
            Statement::Truncate(t) => {
                for n in &t.table_names {
                    add(&n.name, false, None);
                }
            }
            _ => {}
        }
        ControlFlow::<()>::Continue(())
    });
    out
}

/// The statement removes a table, a column or constraint, or every row of a table.
fn destructive(statement: &Statement) -> Option<Destructive> {
    let plain = |action: String| Some(Destructive { action, truncated: vec![] });
    match statement {
        Statement::Drop { object_type, names, .. } => plain(format!(
            "DROP {object_type} {}",
            names.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")
        )),
        Statement::DropFunction(_) | Statement::DropProcedure { .. } | Statement::DropTrigger(_) => {
            plain(statement.to_string())
        }
        Statement::Truncate(t) => {
            let names: Vec<String> = t.table_names.iter().map(|n| n.name.to_string()).collect();
            Some(Destructive { action: format!("TRUNCATE {} (every row)", names.join(", ")), truncated: names })
        }
        Statement::Delete(d) if d.selection.is_none() => {
            plain(format!("DELETE every row of {}", statement.to_string().trim_start_matches("DELETE FROM ")))
        }
        Statement::Update(u) if u.selection.is_none() => plain(format!("UPDATE every row of {}", u.table)),
        Statement::AlterTable(a) => {
            let drops: Vec<String> = a
                .operations
                .iter()
                .filter(|op| {
                    matches!(
                        op,
                        AlterTableOperation::DropColumn { .. }
                            | AlterTableOperation::DropConstraint { .. }
                            | AlterTableOperation::DropPrimaryKey { .. }
                            | AlterTableOperation::DropForeignKey { .. }
                            | AlterTableOperation::DropIndex { .. }
                            | AlterTableOperation::DropPartitions { .. }
                    )
                })
                .map(ToString::to_string)
                .collect();
            (!drops.is_empty()).then(|| Destructive {
                action: format!("ALTER TABLE {} {}", a.name, drops.join(", ")),
                truncated: vec![],
            })
        }
        _ => None,
    }
}

/// Why `name` may not be called in `mode`, if it may not.
fn denied(name: &str, mode: Mode) -> Option<&'static str> {
    let always = DENIED_ALWAYS.contains(&name) || DENIED_ALWAYS_PREFIXES.iter().any(|p| name.starts_with(p));
    if always {
        return Some(
            "it reads or writes files on the database host, runs programs, opens connections, or runs SQL given as \
             text; this server never calls it: run the query itself, or use a dedicated tool (load-csv, snapshot)",
        );
    }
    let read_only = DENIED_READ_ONLY.contains(&name) || DENIED_READ_ONLY_PREFIXES.iter().any(|p| name.starts_with(p));
    (mode == Mode::ReadOnly && read_only).then_some(
        "its effect outlives the statement (a sequence, lock, signal, slot, setting or large object); it is \
         refused on read-only databases: use a read-write database if the effect is intended",
    )
}

fn refuse_functions(functions: &[String], mode: Mode) -> Result<(), ToolError> {
    for name in functions {
        if let Some(hint) = denied(name, mode) {
            return Err(ToolError::refused(format!("function {name}() is not allowed"), hint));
        }
    }
    Ok(())
}

/// The function check alone, for statements checked elsewhere (migration files).
pub(crate) fn refuse_functions_in(sql: &str, engine: Engine, mode: Mode) -> Result<(), ToolError> {
    let (tokens, _) = scan(sql, engine)?;
    if parser_layer_off() {
        return Ok(());
    }
    tokens.refuse(engine)?;
    refuse_functions(&tokens.functions, mode)
}

/// The statement with its row count capped at `cap`, so the server stops after that many rows.
/// The text is the caller's own, never the tree printed back: a LIMIT is appended on a line of
/// its own, or an existing one's number replaced where it stands. (Printed back, a string the
/// parser read as data can come out as code: MySQL reads `'a\'` as an escaped quote.)
fn cap_rows(sql: &str, statement: &Statement, engine: Engine, cap: usize) -> Option<String> {
    let Statement::Query(query) = statement else { return None };
    if query.fetch.is_some() || query.for_clause.is_some() || !query.locks.is_empty() || query_selects_into(query) {
        return None;
    }
    let body = sql.trim_end().trim_end_matches(';').trim_end();
    match &query.limit_clause {
        None => Some(format!("{body}\nLIMIT {cap}")),
        // PostgreSQL takes LIMIT after OFFSET; MySQL and SQLite have no OFFSET without LIMIT.
        Some(LimitClause::LimitOffset { limit: None, .. }) if engine == Engine::Postgres => {
            Some(format!("{body}\nLIMIT {cap}"))
        }
        Some(LimitClause::LimitOffset { limit: Some(Expr::Value(v)), .. }) => match &v.value {
            // Already within the cap: the query stops itself, as written.
            Value::Number(n, _) if n.parse::<usize>().is_ok_and(|n| n <= cap) => Some(body.to_string()),
            Value::Number(..) => {
                let (start, end) = (byte_offset(sql, v.span.start)?, byte_offset(sql, v.span.end)?);
                // Only when the span is exactly the number as written.
                (sql.get(start..end)?.trim().parse::<u128>().is_ok())
                    .then(|| format!("{}{cap}{}", &sql[..start], &sql[end..]))
            }
            _ => None,
        },
        // A computed or parameter limit, or MySQL's `LIMIT offset, count`: the reader stops at the cap.
        _ => None,
    }
}

/// The byte offset of a 1-based line and column (in characters), as the tokenizer counts them.
fn byte_offset(sql: &str, at: sqlparser::tokenizer::Location) -> Option<usize> {
    let (line, column) = (usize::try_from(at.line).ok()?, usize::try_from(at.column).ok()?);
    if line == 0 || column == 0 {
        return None;
    }
    let mut offset = 0;
    for (i, text) in sql.split_inclusive('\n').enumerate() {
        if i + 1 == line {
            return match text.char_indices().nth(column - 1) {
                Some((b, _)) => Some(offset + b),
                None if text.chars().count() == column - 1 => Some(offset + text.len()),
                None => None,
            };
        }
        offset += text.len();
    }
    (line == sql.split_inclusive('\n').count() + 1 && column == 1).then_some(sql.len())
}

/// Check a script of several statements (a seed file): each passes the same session-control and
/// function checks as a single statement. Returns each statement's kind; TRUNCATE counts as DDL
/// here, since MySQL commits it implicitly.
pub fn check_script(sql: &str, engine: Engine) -> Result<Vec<StatementKind>, ToolError> {
    with_stack(|| check_script_here(sql, engine))
}

fn check_script_here(sql: &str, engine: Engine) -> Result<Vec<StatementKind>, ToolError> {
    let (tokens, parsed) = scan(sql, engine)?;
    let statements = parsed.parse(engine)?;
    if !parser_layer_off() {
        tokens.refuse(engine)?;
        refuse_functions(&tokens.functions, Mode::ReadWrite)?;
    }
    statements
        .iter()
        .map(|s| {
            if !parser_layer_off() {
                refuse_session_control(s, engine)?;
            }
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
            ("SELECT 1", Postgres, "ok Query SELECT 1\nLIMIT 11"),
            ("select * from t order by a limit 5", Mysql, "ok Query select * from t order by a limit 5"),
            ("select * from t limit 500", Sqlite, "ok Query select * from t limit 11"),
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
            ("EXPLAIN (ANALYZE, BUFFERS) SELECT 1", Postgres, "ok Inspect -"),
            ("EXPLAIN DELETE FROM t", Postgres, "ok Inspect -"),
            (
                "EXPLAIN ANALYZE DELETE FROM t",
                Postgres,
                "err refused: refused: this database is read-only and the statement would change data or schema",
            ),
            (
                "SELECT pg_read_file('/etc/passwd')",
                Postgres,
                "err refused: refused: function pg_read_file() is not allowed",
            ),
            ("SELECT * FROM pg_ls_dir('.')", Postgres, "err refused: refused: function pg_ls_dir() is not allowed"),
            ("SELECT nextval('s')", Postgres, "err refused: refused: function nextval() is not allowed"),
            ("SELECT LOAD_FILE('/etc/passwd')", Mysql, "err refused: refused: function load_file() is not allowed"),
            ("SELECT load_extension('x')", Sqlite, "err refused: refused: function load_extension() is not allowed"),
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

    /// Every position a function can stand in: each must be found.
    #[test]
    fn functions_are_found_in_every_position() {
        use Engine::*;
        let f = "pg_reload_conf()";
        let cases = [
            format!("select {f}"),
            format!("select * from {f}"),
            format!("select * from {f} x"),
            format!("select * from t, lateral {f} x"),
            format!("select * from t join lateral {f} x on true"),
            format!("select * from t join u on {f}"),
            format!("select * from t where a = {f}"),
            format!("select * from t order by {f}"),
            format!("select * from t group by {f}"),
            format!("select * from t group by a having {f}"),
            format!("select sum(a) over (order by {f}) from t"),
            format!("select sum(a) over (rows between {f} preceding and current row) from t"),
            format!("values ({f})"),
            format!("select (select (select {f}))"),
            format!("with a as (select {f}) select * from a"),
            format!("with recursive a(n) as (select 1 union all select n + 1 from a where {f}) select * from a"),
            format!("explain select * from t where a in (select {f})"),
            format!("select * from t where exists (select {f})"),
            format!("select case when {f} then 1 end"),
            format!("select array[{f}]"),
            format!("select coalesce(null, {f})"),
            format!("select * from t limit (select 1 from {f} x)"),
            format!("select pg_catalog.{}", f),
            "select \"pg_reload_conf\"()".to_string(),
            "select PG_RELOAD_CONF /* c */ ()".to_string(),
            "select x from rows from (pg_reload_conf()) x".to_string(),
        ];
        for sql in cases {
            let got = verdict(&sql, Postgres, Mode::ReadOnly);
            assert!(got.contains("pg_reload_conf() is not allowed") || got.starts_with("err parse"), "{sql}: {got}");
        }
    }

    #[test]
    fn sql_given_as_text_and_escapes_are_refused() {
        use Engine::*;
        let rw = Mode::ReadWrite;
        for (sql, engine) in [
            ("select query_to_xml('select 1', true, true, '')", Postgres),
            ("select * from ts_stat('select 1')", Postgres),
            ("select * from crosstab('select 1')", Postgres),
            (r#"select U&"\0071uery_to_xml"('select 1', true, true, '')"#, Postgres),
            ("select u&'\\0041'", Postgres),
            ("select * from t /*!50000 into outfile '/tmp/x' */", Mysql),
            ("select * from t /*M! into outfile '/tmp/x' */", Mysql),
            ("select 1 /*M!, get_lock('x', 0) */", Mysql),
            ("/*M! SET STATEMENT max_statement_time=0 FOR */ select 1", Mysql),
            ("select /*+ SET_VAR(max_execution_time=0) */ 1", Mysql),
            ("select * from t into outfile '/tmp/x'", Mysql),
            ("select * from t into dumpfile '/tmp/x'", Mysql),
            ("select * from t into @x", Mysql),
        ] {
            let got = verdict(sql, engine, rw);
            assert!(got.starts_with("err refused") || got.starts_with("err parse"), "{sql}: {got}");
        }
        // The same text inside a plain comment or string does not run: still refused, since
        // quoting rules are the parser's and the server's to disagree on.
        assert!(verdict("select '/*M! x */'", Mysql, rw).starts_with("err refused"));
        assert_eq!(verdict("select 1 /* plain */", Mysql, rw), "ok Query select 1 /* plain */\nLIMIT 11");
    }

    #[test]
    fn read_only_functions_with_effects_are_refused() {
        use Engine::*;
        for (sql, engine) in [
            ("select pg_advisory_lock(1)", Postgres),
            ("select * from t, lateral pg_try_advisory_lock(1) x", Postgres),
            ("select set_config('role', 'postgres', false)", Postgres),
            ("select pg_terminate_backend(1)", Postgres),
            ("select pg_create_physical_replication_slot('s')", Postgres),
            ("select lo_create(0)", Postgres),
            ("select pg_stat_reset()", Postgres),
            ("select get_lock('x', 0)", Mysql),
            ("select next value for s", Mysql),
        ] {
            let got = verdict(sql, engine, Mode::ReadOnly);
            assert!(got.starts_with("err refused") || got.starts_with("err parse"), "{sql}: {got}");
        }
        assert!(verdict("select nextval('s')", Postgres, Mode::ReadWrite).starts_with("ok"));
    }

    #[test]
    fn read_write_allows_changes_but_not_session_control() {
        let rw = Mode::ReadWrite;
        assert_eq!(verdict("CREATE TABLE t (id int)", Engine::Postgres, rw), "ok Ddl -");
        assert_eq!(verdict("INSERT INTO t VALUES (1)", Engine::Mysql, rw), "ok Dml -");
        assert_eq!(verdict("SELECT nextval('s')", Engine::Postgres, rw), "ok Query SELECT nextval('s')\nLIMIT 11");
        assert_eq!(verdict("EXPLAIN ANALYZE INSERT INTO t VALUES (1)", Engine::Postgres, rw), "ok Dml -");
        assert_eq!(verdict("SELECT * INTO t2 FROM t", Engine::Postgres, rw), "ok Ddl -");
        assert!(verdict("ROLLBACK", Engine::Sqlite, rw).starts_with("err refused"));
        assert!(verdict("SELECT pg_read_file('x')", Engine::Postgres, rw).starts_with("err refused"));
    }

    #[test]
    fn the_cap_is_spliced_into_the_text_as_written() {
        let capped = |sql: &str, engine| check(sql, engine, Mode::ReadOnly, 10).unwrap().capped_sql;
        use Engine::*;
        assert_eq!(capped(r"select 'a\\', 'b' -- c;", Mysql).as_deref(), Some("select 'a\\\\', 'b' -- c\nLIMIT 10"));
        assert_eq!(capped("select 1;  ", Postgres).as_deref(), Some("select 1\nLIMIT 10"));
        assert_eq!(
            capped("select x\nfrom t\n  limit  500 offset 2", Postgres).as_deref(),
            Some("select x\nfrom t\n  limit  10 offset 2")
        );
        assert_eq!(capped("select 'é' from t limit 99", Sqlite).as_deref(), Some("select 'é' from t limit 10"));
        assert_eq!(capped("select 1 offset 5", Postgres).as_deref(), Some("select 1 offset 5\nLIMIT 10"));
        assert_eq!(capped("select 1 limit 3;", Postgres).as_deref(), Some("select 1 limit 3"));
        assert_eq!(capped("select 1 limit 2, 500", Mysql), None);
        assert_eq!(capped("select * from t for update", Postgres), None);
    }

    #[test]
    fn destructive_statements_are_named() {
        let d = |sql: &str| {
            check(sql, Engine::Postgres, Mode::ReadWrite, 10).unwrap().destructive.map(|d| (d.action, d.truncated))
        };
        assert_eq!(d("drop table t"), Some(("DROP TABLE t".into(), vec![])));
        assert_eq!(d("truncate a, b"), Some(("TRUNCATE a, b (every row)".into(), vec!["a".into(), "b".into()])));
        assert!(d("delete from t").is_some());
        assert!(d("update t set a = 1").is_some());
        assert!(d("alter table t drop column a").is_some());
        assert_eq!(d("delete from t where id = 1"), None);
        assert_eq!(d("update t set a = 1 where id = 1"), None);
        assert_eq!(d("alter table t add column b int"), None);
    }

    #[test]
    fn long_operator_chains_are_refused_before_parsing() {
        // On this 2 MiB test thread: check finds its own stack for what it accepts.
        let chain = (0..=MAX_OPERATORS + 1).map(|i| format!("{i}")).collect::<Vec<_>>().join(" + ");
        assert!(verdict(&format!("select {chain}"), Engine::Postgres, Mode::ReadOnly).starts_with("err refused"));
        // Counted per statement: a script of many short statements is fine.
        let script = (0..MAX_OPERATORS).map(|i| format!("insert into t values ({i} + 1);")).collect::<String>();
        assert!(check_script(&script, Engine::Postgres).is_ok());
        let fine = (0..MAX_OPERATORS / 2 - 1).map(|i| format!("a = {i}")).collect::<Vec<_>>().join(" or ");
        assert!(verdict(&format!("select 1 from t where {fine}"), Engine::Postgres, Mode::ReadOnly).starts_with("ok"));
    }
}
