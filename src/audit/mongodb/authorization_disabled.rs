//! authorization-disabled: the server lets unauthenticated clients in.

use super::{Facts, Rule};
use crate::{audit::Scope, plan::Severity};

pub const RULE: Rule = Rule {
    code: "authorization-disabled",
    severity: Severity::Critical,
    scope: Scope::Rls,
    why: "access control is off: anyone who can reach the port reads and writes every database",
    check,
};

fn check(f: &Facts) -> Vec<(String, String, String)> {
    let enabled = f.authorization.as_deref() == Some("enabled");
    if enabled || !f.authenticated.is_empty() {
        return vec![];
    }
    vec![(
        "server".into(),
        "this connection authenticated as no user and could still read the database".into(),
        "create an administrator (db.getSiblingDB('admin').createUser({user: '<admin>', pwd: passwordPrompt(), roles: \
         ['root']})), then start the server with security.authorization: enabled (mongod --auth) and connect with \
         credentials"
            .into(),
    )]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fires_when_nobody_authenticated_and_access_control_is_not_known_on() {
        assert_eq!(check(&Facts::default()).len(), 1);
    }

    #[test]
    fn silent_when_authenticated_or_enabled() {
        let authenticated = Facts { authenticated: vec!["app@shop".into()], ..Default::default() };
        assert!(check(&authenticated).is_empty());
        let enabled = Facts { authorization: Some("enabled".into()), ..Default::default() };
        assert!(check(&enabled).is_empty());
    }
}
