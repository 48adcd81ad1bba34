//! app-user-broad-roles: the user this server connects as holds roles beyond its database.

use super::{Facts, Rule};
use crate::{audit::Scope, plan::Severity};

pub const RULE: Rule = Rule {
    code: "app-user-broad-roles",
    severity: Severity::Critical,
    scope: Scope::Rls,
    why: "the connected user may read, change or administer other databases (or the cluster), far beyond what an \
          application needs",
    check,
};

fn check(f: &Facts) -> Vec<(String, String, String)> {
    let broad: Vec<_> = f.authenticated_roles.iter().filter(|r| r.is_broad()).collect();
    let Some(user) = f.authenticated.first().filter(|_| !broad.is_empty()) else { return vec![] };
    let names = broad.iter().map(|r| format!("{}@{}", r.role, r.db)).collect::<Vec<_>>().join(", ");
    let revoke = broad.iter().map(|r| format!("{{role: '{}', db: '{}'}}", r.role, r.db)).collect::<Vec<_>>().join(", ");
    let name = user.split('@').next().unwrap_or(user);
    vec![(
        user.clone(),
        format!("holds {names}"),
        format!(
            "db.revokeRolesFromUser('{name}', [{revoke}]); db.grantRolesToUser('{name}', [{{role: 'readWrite', db: '{}'}}])",
            f.database
        ),
    )]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::mongodb::role;

    #[test]
    fn fires_on_an_any_database_role() {
        let f = Facts {
            database: "shop".into(),
            authenticated: vec!["app@shop".into()],
            authenticated_roles: vec![role("readWriteAnyDatabase", "admin"), role("readWrite", "shop")],
            ..Default::default()
        };
        let found = check(&f);
        assert_eq!(found.len(), 1);
        assert!(found[0].1.contains("readWriteAnyDatabase@admin") && !found[0].1.contains("readWrite@shop"));
        assert!(found[0].2.starts_with("db.revokeRolesFromUser('app'"));
    }

    #[test]
    fn silent_on_a_database_scoped_role() {
        let f = Facts {
            authenticated: vec!["app@shop".into()],
            authenticated_roles: vec![role("readWrite", "shop")],
            ..Default::default()
        };
        assert!(check(&f).is_empty());
    }
}
