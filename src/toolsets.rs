//! Which tools a server offers: the toolsets a user enables by name (`--tools`, `[tools]
//! enable`). Names only, so the configuration can check them without the tools themselves.

/// Tools in groups a user can enable one by one (`--tools`, `[tools] enable`), so a client that
/// needs only some pays only for their definitions in its context. env-check is always on.
pub const TOOLSETS: &[(&str, &[&str])] = &[
    ("core", &["env-check", "list-objects", "describe", "run-sql", "run-mongo"]),
    ("performance", &["explain-analyze", "analyze-performance", "design-indexes"]),
    ("security", &["security-audit", "policy-apply", "test-as-user"]),
    ("migrations", &["create-migration-plan", "verify-order", "dry-run", "apply-migration", "snapshot", "rollback"]),
    ("data", &["load-csv", "seed", "smoke-test", "data-quality", "bootstrap"]),
];

/// The tool names a list of toolset and tool names selects, or the first name that is neither.
pub fn select(names: &[String]) -> Result<Vec<&'static str>, String> {
    let mut selected = vec!["env-check"];
    for name in names.iter().map(|n| n.trim()).filter(|n| !n.is_empty()) {
        if name == "all" {
            selected.extend(TOOLSETS.iter().flat_map(|(_, tools)| tools.iter().copied()));
        } else if let Some((_, tools)) = TOOLSETS.iter().find(|(set, _)| *set == name) {
            selected.extend(tools.iter().copied());
        } else if let Some(tool) = TOOLSETS.iter().flat_map(|(_, tools)| tools.iter()).find(|t| **t == name) {
            selected.push(tool);
        } else {
            let sets: Vec<_> = TOOLSETS.iter().map(|(set, _)| *set).collect();
            return Err(format!("unknown tool or toolset {name:?}; toolsets: all, {}", sets.join(", ")));
        }
    }
    selected.sort_unstable();
    selected.dedup();
    Ok(selected)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selection_by_set_or_name_always_keeps_env_check() {
        let s = select(&["security".into(), "run-sql".into()]).unwrap();
        assert_eq!(s, vec!["env-check", "policy-apply", "run-sql", "security-audit", "test-as-user"]);
        assert!(select(&["nope".into()]).unwrap_err().contains("toolsets: all, core"));
        assert_eq!(select(&["all".into()]).unwrap().len(), TOOLSETS.iter().map(|(_, t)| t.len()).sum::<usize>());
    }
}
