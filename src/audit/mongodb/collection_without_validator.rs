//! collection-without-validator: any document shape is accepted.

use super::{Facts, Rule};
use crate::{audit::Scope, plan::Severity};

pub const RULE: Rule = Rule {
    code: "collection-without-validator",
    severity: Severity::Info,
    scope: Scope::Schema,
    why: "without a $jsonSchema validator any shape is accepted: a typo'd field or a wrong type is stored silently \
          and surfaces later as bad data",
    check,
};

fn check(f: &Facts) -> Vec<(String, String, String)> {
    f.collections
        .iter()
        .filter(|(_, validated)| !validated)
        .map(|(name, _)| {
            (
                name.clone(),
                "no validator".into(),
                format!(
                    "db.runCommand({{collMod: '{name}', validator: {{$jsonSchema: <schema>}}, validationLevel: \
                     'moderate', validationAction: 'warn'}}) -- describe shows the inferred schema; switch to 'error' \
                     once the logs are clean"
                ),
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fires_only_on_collections_without_a_validator() {
        let f = Facts { collections: vec![("orders".into(), false), ("users".into(), true)], ..Default::default() };
        let found = check(&f);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].0, "orders");
        assert!(check(&Facts::default()).is_empty());
    }
}
