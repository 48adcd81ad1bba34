//! MongoDB audit rules. There is no catalog SQL: audit/mongodb/facts.rs gathers [`Facts`] once (the
//! connection's identity, the server's options, users and collections, each where visible) and
//! every rule, one file each, reads them.

mod app_user_broad_roles;
mod authorization_disabled;
mod collection_without_validator;
pub(crate) mod facts;
mod users_with_broad_roles;

use super::{AuditFinding, Scope};
use crate::plan::Severity;

/// Roles that reach beyond one application's database.
pub const BROAD_ROLES: &[&str] = &[
    "root",
    "__system",
    "clusterAdmin",
    "dbAdminAnyDatabase",
    "readWriteAnyDatabase",
    "userAdminAnyDatabase",
    "userAdmin",
    "restore",
];

/// A role grant: role name and the database it applies to.
#[derive(Debug, Clone, PartialEq)]
pub struct RoleRef {
    pub role: String,
    pub db: String,
}

impl RoleRef {
    pub fn is_broad(&self) -> bool {
        BROAD_ROLES.contains(&self.role.as_str())
    }
}

#[derive(Debug, Clone)]
pub struct User {
    pub user: String,
    pub db: String,
    pub roles: Vec<RoleRef>,
}

/// What the rules look at.
#[derive(Debug, Clone, Default)]
pub struct Facts {
    pub database: String,
    /// `user@db` of each user this connection authenticated as (empty: none).
    pub authenticated: Vec<String>,
    pub authenticated_roles: Vec<RoleRef>,
    /// `security.authorization` from getCmdLineOpts, when the server shows its options.
    pub authorization: Option<String>,
    /// The database's users, when the connection may list them.
    pub users: Option<Vec<User>>,
    /// Collections (not views or system collections) and whether each has a validator.
    pub collections: Vec<(String, bool)>,
}

/// One rule: its stable code, severity, scope, why it matters, and its check over the facts,
/// returning `(object, detail, fix)`.
pub struct Rule {
    pub code: &'static str,
    pub severity: Severity,
    pub scope: Scope,
    pub why: &'static str,
    pub check: fn(&Facts) -> Vec<(String, String, String)>,
}

pub const RULES: &[Rule] = &[
    authorization_disabled::RULE,
    app_user_broad_roles::RULE,
    users_with_broad_roles::RULE,
    collection_without_validator::RULE,
];

/// Run the rules `wanted` selects; returns how many ran and what they found.
pub fn run(facts: &Facts, wanted: impl Fn(Scope) -> bool) -> (usize, Vec<AuditFinding>) {
    let rules: Vec<_> = RULES.iter().filter(|r| wanted(r.scope)).collect();
    let findings = rules
        .iter()
        .flat_map(|rule| {
            (rule.check)(facts).into_iter().map(|(object, detail, fix)| AuditFinding {
                code: rule.code.into(),
                severity: rule.severity,
                object,
                detail,
                why: rule.why.into(),
                fix,
            })
        })
        .collect();
    (rules.len(), findings)
}

#[cfg(test)]
pub(crate) fn role(role: &str, db: &str) -> RoleRef {
    RoleRef { role: role.into(), db: db.into() }
}

#[cfg(test)]
mod tests {
    #[test]
    fn codes_are_unique_and_files_match_them() {
        let mut codes: Vec<_> = super::RULES.iter().map(|r| r.code).collect();
        codes.sort();
        codes.dedup();
        assert_eq!(codes.len(), super::RULES.len());
        let dir = format!("{}/src/audit/mongodb", env!("CARGO_MANIFEST_DIR"));
        for code in codes {
            let file = format!("{dir}/{}.rs", code.replace('-', "_"));
            assert!(std::path::Path::new(&file).exists(), "{file}");
        }
    }
}
