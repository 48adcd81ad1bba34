//! users-with-broad-roles: other users of the database hold roles beyond it.

use super::{Facts, Rule};
use crate::{audit::Scope, plan::Severity};

pub const RULE: Rule = Rule {
    code: "users-with-broad-roles",
    severity: Severity::Warning,
    scope: Scope::Rls,
    why: "a user defined in this database holds cluster-wide or any-database roles: its leaked password exposes \
          everything, not just this database",
    check,
};

fn check(f: &Facts) -> Vec<(String, String, String)> {
    let Some(users) = &f.users else { return vec![] };
    users
        .iter()
        .filter(|u| !f.authenticated.contains(&format!("{}@{}", u.user, u.db)))
        .filter_map(|u| {
            let broad: Vec<_> = u.roles.iter().filter(|r| r.is_broad()).map(|r| format!("{}@{}", r.role, r.db)).collect();
            (!broad.is_empty()).then(|| {
                (
                    format!("{}@{}", u.user, u.db),
                    format!("holds {}", broad.join(", ")),
                    format!(
                        "db.getSiblingDB('{}').revokeRolesFromUser('{}', [...]) and grant only the database roles it needs",
                        u.db, u.user
                    ),
                )
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::mongodb::{User, role};

    fn facts(roles: Vec<crate::audit::mongodb::RoleRef>) -> Facts {
        Facts { users: Some(vec![User { user: "etl".into(), db: "shop".into(), roles }]), ..Default::default() }
    }

    #[test]
    fn fires_on_a_user_with_root() {
        let found = check(&facts(vec![role("root", "admin")]));
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].0, "etl@shop");
    }

    #[test]
    fn silent_on_scoped_users_and_when_users_are_not_visible() {
        assert!(check(&facts(vec![role("read", "shop")])).is_empty());
        assert!(check(&Facts::default()).is_empty());
    }
}
