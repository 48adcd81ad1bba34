//! Row level security as a tool: what policies to write (policy-apply) and how to read a
//! user's access matrix (test-as-user). Engine-neutral types; the SQL lives in
//! `rls/postgres.rs` (dispatch in `rls/db.rs`).

pub(crate) mod db;
mod postgres;
mod tool;

use serde::{Deserialize, Serialize};

use crate::plan::Severity;

/// Column names that say whose row it is, most specific first.
pub const OWNER_COLUMNS: &[&str] = &["user_id", "owner_id", "created_by", "author_id", "profile_id", "tenant_id"];

/// Tables whose rows are users: a foreign key to one of them marks the owner column.
pub const USER_TABLES: &[&str] = &["users", "user", "accounts", "profiles", "members", "people"];

/// The default session setting that carries the current user's id.
pub const DEFAULT_SETTING: &str = "app.current_user_id";

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Strategy {
    /// Owner-based: every command sees and changes only the rows whose owner column is the
    /// current user.
    #[default]
    Kiss,
    /// Role-differentiated policies from `roles`.
    Granular,
}

/// What one role may do on the table under `granular`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Access {
    /// Read and write every row.
    All,
    /// Read every row, write none.
    ReadAll,
    /// Read every row, write only the rows it owns.
    ReadAllWriteOwn,
    /// Read and write only the rows it owns.
    Own,
    /// Read only the rows it owns, write none.
    ReadOwn,
    /// Read the rows of its tenant (`tenant_column` = the tenant setting), write only its own.
    ReadTenantWriteOwn,
    /// No policy: with row level security on, the role sees and changes nothing.
    None,
}

/// One role's access under `granular`.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
pub struct RoleAccess {
    pub role: String,
    pub access: Access,
}

/// Everything policy-apply needs to know to plan.
#[derive(Debug, Clone)]
pub struct PolicyRequest {
    pub table: String,
    pub strategy: Strategy,
    pub owner_column: Option<String>,
    pub tenant_column: Option<String>,
    pub identity_setting: String,
    pub tenant_setting: String,
    pub roles: Vec<RoleAccess>,
    pub create_roles: bool,
    pub replace: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum PolicyStatus {
    /// Not there yet: will be created.
    New,
    /// Already there, exactly as planned.
    Unchanged,
    /// A policy with this name exists with another definition: left alone unless `replace`.
    Differs,
    /// Exists with another definition and will be replaced (`replace: true`).
    Replaced,
    /// Exists; the database is read-only, so whether it matches could not be checked.
    Exists,
}

/// One policy the plan wants on the table.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct PlannedPolicy {
    pub name: String,
    pub command: String,
    pub roles: String,
    pub status: PolicyStatus,
    /// The definition as the database holds it now, when it differs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub existing: Option<String>,
}

/// How the policies know who the user is.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Identity {
    /// `supabase` (auth.uid()) or `setting` (a session setting).
    pub source: String,
    /// The expression the policies compare with, wrapped so it runs once per statement.
    pub expression: String,
    /// How the application must set it.
    pub how_to_set: String,
}

/// What policy-apply would do (or did) to one table.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct PolicyPlan {
    pub table: String,
    pub strategy: Strategy,
    /// The column compared with the user's identity, and why it was chosen.
    pub owner_column: String,
    pub owner_column_reason: String,
    pub identity: Identity,
    pub rls_enabled: bool,
    pub rls_forced: bool,
    pub policies: Vec<PlannedPolicy>,
    /// The exact SQL that brings the table to the plan: empty when nothing would change.
    pub statements: Vec<String>,
    pub warnings: Vec<String>,
}

/// A cell of the access matrix.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Cell {
    /// allowed, denied, partial, no-rows, or inconclusive (an error not caused by row security).
    pub outcome: String,
    /// Rows the user reached, and rows there are.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rows: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// One line of the matrix: a table and an operation, on the user's own rows and on others'.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct MatrixRow {
    pub table: String,
    pub operation: String,
    pub own: String,
    pub others: String,
}

/// A cell that contradicts what was expected.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Contradiction {
    pub severity: Severity,
    pub table: String,
    pub operation: String,
    /// own or others
    pub rows: String,
    pub expected: String,
    pub actual: String,
    pub why: String,
}

/// The expected outcome of a cell: allowed or denied.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Expect {
    Allowed,
    Denied,
}

/// A custom expectation: `table` (or `*`), `operation` (select, insert, update, delete or `*`),
/// `rows` (own, others or `*`).
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
pub struct Expectation {
    #[serde(default = "star")]
    pub table: String,
    #[serde(default = "star")]
    pub operation: String,
    #[serde(default = "star")]
    pub rows: String,
    pub expect: Expect,
}

fn star() -> String {
    "*".into()
}

/// What test-as-user is asked.
#[derive(Debug, Clone)]
pub struct UserTest {
    pub user_id: String,
    pub tables: Vec<String>,
    pub role: Option<String>,
    pub owner_column: Option<String>,
    pub identity_setting: String,
    /// More session settings the application sets for this user (e.g. the tenant).
    pub settings: Vec<(String, String)>,
    pub expectations: Vec<Expectation>,
    pub timeout_ms: u64,
}

/// The access matrix of one user, measured inside a transaction that was rolled back.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct UserReport {
    pub user_id: String,
    /// The role the tests ran as, and where it came from.
    pub role: String,
    /// How the user's identity was set for the tests.
    pub identity: String,
    /// table x operation: the outcome on the user's own rows and on everyone else's.
    pub matrix: Vec<MatrixRow>,
    /// Cells that contradict the expectation (default: own rows allowed, others' denied).
    pub contradictions: Vec<Contradiction>,
    pub notes: Vec<String>,
}

pub const OPERATIONS: [&str; 4] = ["select", "insert", "update", "delete"];

/// What a cell should be: the last matching custom expectation, else own rows allowed and
/// others' denied.
pub fn expected(expectations: &[Expectation], table: &str, operation: &str, rows: &str) -> Expect {
    let matches = |pattern: &str, value: &str| {
        pattern == "*" || pattern.eq_ignore_ascii_case(value) || table_matches(pattern, value)
    };
    expectations
        .iter()
        .rev()
        .find(|e| matches(&e.table, table) && matches(&e.operation, operation) && matches(&e.rows, rows))
        .map(|e| e.expect)
        .unwrap_or(if rows == "own" { Expect::Allowed } else { Expect::Denied })
}

/// `notes` matches `public.notes`.
fn table_matches(pattern: &str, qualified: &str) -> bool {
    qualified.rsplit_once('.').is_some_and(|(_, name)| name.eq_ignore_ascii_case(pattern))
}

/// Judge a cell against its expectation; contradictions of privacy are critical.
pub fn judge(table: &str, operation: &str, rows: &str, cell: &Cell, expect: Expect) -> Option<Contradiction> {
    let actual = match cell.outcome.as_str() {
        "allowed" | "partial" => Expect::Allowed,
        "denied" => Expect::Denied,
        _ => return None,
    };
    if actual == expect {
        return None;
    }
    let (severity, why) = match (expect, rows) {
        (Expect::Denied, "others") => (
            Severity::Critical,
            format!("the user can {operation} rows that belong to someone else: the policies leak"),
        ),
        (Expect::Denied, _) => (Severity::Critical, format!("the user can {operation} rows it was expected not to")),
        (Expect::Allowed, _) => (
            Severity::Warning,
            format!("the user cannot {operation} {rows} rows: a policy or grant is missing, or too strict"),
        ),
    };
    Some(Contradiction {
        severity,
        table: table.into(),
        operation: operation.into(),
        rows: rows.into(),
        expected: format!("{expect:?}").to_lowercase(),
        actual: cell_text(cell),
        why,
    })
}

/// `allowed (3/3)`, `denied (0/5)`, `inconclusive: ...`.
pub fn cell_text(cell: &Cell) -> String {
    let mut s = cell.outcome.clone();
    if let Some(rows) = &cell.rows {
        s.push_str(&format!(" ({rows})"));
    }
    if let Some(detail) = &cell.detail {
        s.push_str(&format!(": {detail}"));
    }
    s
}

/// A custom setting name must be `prefix.name` (PostgreSQL requires the dot) of plain characters.
pub fn valid_setting(name: &str) -> bool {
    let parts: Vec<_> = name.split('.').collect();
    parts.len() >= 2 && parts.iter().all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'))
}

/// A failure inside the engine code: the database's, or one the model can act on.
pub(super) enum Failure {
    Sql(sqlx::Error),
    Tool(crate::error::ToolError),
}

impl From<sqlx::Error> for Failure {
    fn from(e: sqlx::Error) -> Self {
        Failure::Sql(e)
    }
}

impl From<crate::error::ToolError> for Failure {
    fn from(e: crate::error::ToolError) -> Self {
        Failure::Tool(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cell(outcome: &str) -> Cell {
        Cell { outcome: outcome.into(), rows: None, detail: None }
    }

    #[test]
    fn default_expectation_is_own_allowed_others_denied() {
        assert_eq!(expected(&[], "public.notes", "select", "own"), Expect::Allowed);
        assert_eq!(expected(&[], "public.notes", "delete", "others"), Expect::Denied);
    }

    #[test]
    fn custom_expectations_match_by_name_and_the_last_wins() {
        let e = vec![
            Expectation { table: "*".into(), operation: "*".into(), rows: "*".into(), expect: Expect::Denied },
            Expectation {
                table: "notes".into(),
                operation: "select".into(),
                rows: "others".into(),
                expect: Expect::Allowed,
            },
        ];
        assert_eq!(expected(&e, "public.notes", "select", "others"), Expect::Allowed);
        assert_eq!(expected(&e, "public.notes", "select", "own"), Expect::Denied);
        assert_eq!(expected(&e, "public.other", "select", "others"), Expect::Denied);
    }

    #[test]
    fn a_leak_is_critical_and_a_denial_of_own_rows_a_warning() {
        let leak = judge("t", "select", "others", &cell("allowed"), Expect::Denied).unwrap();
        assert_eq!(leak.severity, Severity::Critical);
        let strict = judge("t", "update", "own", &cell("denied"), Expect::Allowed).unwrap();
        assert_eq!(strict.severity, Severity::Warning);
        assert!(judge("t", "select", "own", &cell("allowed"), Expect::Allowed).is_none());
        assert!(judge("t", "select", "own", &cell("inconclusive"), Expect::Allowed).is_none());
    }

    #[test]
    fn settings_need_a_dot_and_plain_characters() {
        assert!(valid_setting("app.current_user_id"));
        assert!(!valid_setting("current_user_id"));
        assert!(!valid_setting("app.x'; drop table t; --"));
        assert!(!valid_setting("app."));
    }
}
