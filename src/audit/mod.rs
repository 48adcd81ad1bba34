//! security-audit rules. Each rule is one file: a header with its stable code, severity, scope
//! and why it matters, then the catalog query that returns the offending objects as
//! `(object, detail, fix)` rows. Every rule has a fixture that triggers it and one that does
//! not (tests/it/audit.rs).

pub(crate) mod db;
pub mod mongodb;
mod mysql;
pub mod plaintext_secrets;
mod postgres;
mod tool;

use std::sync::LazyLock;

use serde::Serialize;

use crate::plan::Severity;

/// What part of the database a rule looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize, schemars::JsonSchema, Default)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    /// Row level security: tables, policies, the roles that bypass them.
    Rls,
    /// Schema hygiene: keys, indexes, functions, grants, extensions.
    Schema,
    /// Both.
    #[default]
    Full,
}

#[derive(Debug)]
pub struct Rule {
    pub code: String,
    pub severity: Severity,
    pub scope: Scope,
    pub why: String,
    pub sql: &'static str,
}

macro_rules! rule_files {
    ($engine:literal: $($name:literal),* $(,)?) => {
        &[$(($name, include_str!(concat!($engine, "/", $name, ".sql")))),*]
    };
}

/// PostgreSQL rules, one file each.
const POSTGRES: &[(&str, &str)] = rule_files![
    "postgres":
    "rls_disabled_tenant_table",
    "policies_without_rls",
    "rls_without_policy",
    "permissive_true_write_policy",
    "multiple_permissive_policies",
    "identity_per_row",
    "view_bypasses_rls",
    "rls_not_forced",
    "privileged_app_role",
    "app_role_password_never_expires",
    "security_definer_search_path",
    "security_definer_public_execute",
    "mutable_search_path",
    "table_without_primary_key",
    "extension_in_public",
    "public_schema_create",
];

fn parse(file: &str, text: &'static str) -> Rule {
    let header = |key: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(&format!("-- {key}: ")))
            .unwrap_or_else(|| panic!("audit rule {file} lacks its `-- {key}:` line"))
            .trim()
            .to_string()
    };
    let severity = match header("severity").as_str() {
        "critical" => Severity::Critical,
        "warning" => Severity::Warning,
        _ => Severity::Info,
    };
    let scope = if header("scope") == "rls" { Scope::Rls } else { Scope::Schema };
    Rule { code: header("code"), severity, scope, why: header("why"), sql: text }
}

/// MySQL / MariaDB rules, one file each.
const MYSQL: &[(&str, &str)] = rule_files![
    "mysql":
    "app_account_wildcard_host",
    "app_account_global_privileges",
    "account_without_password",
    "table_without_primary_key",
];

/// Every PostgreSQL rule, parsed once.
pub static POSTGRES_RULES: LazyLock<Vec<Rule>> =
    LazyLock::new(|| POSTGRES.iter().map(|(file, text)| parse(file, text)).collect());

/// Every MySQL / MariaDB rule, parsed once.
pub static MYSQL_RULES: LazyLock<Vec<Rule>> =
    LazyLock::new(|| MYSQL.iter().map(|(file, text)| parse(file, text)).collect());

/// One problem found.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct AuditFinding {
    pub code: String,
    pub severity: Severity,
    /// The table, policy, function, role or schema concerned.
    pub object: String,
    pub detail: String,
    /// Why it matters.
    pub why: String,
    /// Remediation SQL (review it, then apply through a migration).
    pub fix: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_rule_file_has_its_header_and_a_unique_code() {
        for (engine, files, rules) in [("postgres", POSTGRES, &*POSTGRES_RULES), ("mysql", MYSQL, &*MYSQL_RULES)] {
            let mut codes: Vec<&str> = rules.iter().map(|r| r.code.as_str()).collect();
            assert_eq!(codes.len(), files.len());
            for (rule, (file, _)) in rules.iter().zip(files) {
                assert_eq!(rule.code.replace('-', "_"), *file, "the file is named after the code");
                assert!(!rule.why.is_empty());
            }
            codes.sort();
            codes.dedup();
            assert_eq!(codes.len(), files.len(), "codes are unique");
            let dir = format!("{}/src/audit/{engine}", env!("CARGO_MANIFEST_DIR"));
            let on_disk = std::fs::read_dir(&dir).unwrap().count();
            assert_eq!(on_disk, files.len(), "every file in {dir} is listed");
        }
    }
}
