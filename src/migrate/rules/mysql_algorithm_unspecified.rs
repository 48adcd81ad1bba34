//! mysql-algorithm-unspecified: an ALTER TABLE without ALGORITHM=. MySQL/MariaDB then pick the
//! cheapest algorithm they can, which silently falls back to copying the table.

use sqlparser::ast::{AlterTableOperation, Statement};

use super::Rule;
use crate::config::Engine;

pub const RULE: Rule = Rule { code: "mysql-algorithm-unspecified", engines: &[Engine::Mysql], check };

fn check(statement: &Statement) -> Option<(String, String)> {
    let Statement::AlterTable(alter) = statement else { return None };
    if alter.operations.iter().any(|op| matches!(op, AlterTableOperation::Algorithm { .. })) {
        return None;
    }
    Some((
        format!("ALTER TABLE {} does not say which algorithm it accepts", alter.name),
        "append ALGORITHM=INSTANT (column adds, renames) or ALGORITHM=INPLACE, LOCK=NONE (indexes): the server then \
         fails fast instead of silently copying the table under a write lock"
            .into(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::migrate::rules::first;

    #[test]
    fn fires_without_algorithm() {
        assert!(check(&first(Engine::Mysql, "ALTER TABLE t ADD COLUMN c INT")).is_some());
    }

    #[test]
    fn quiet_with_algorithm_or_on_other_statements() {
        assert!(check(&first(Engine::Mysql, "ALTER TABLE t ADD COLUMN c INT, ALGORITHM=INSTANT")).is_none());
        assert!(check(&first(Engine::Mysql, "CREATE TABLE t (id INT PRIMARY KEY)")).is_none());
    }
}
