//! sqlite-alter-needs-rebuild: SQLite's ALTER TABLE only renames a table or column and adds or
//! drops a column. Anything else (type changes, constraints, NOT NULL, defaults) needs the
//! 12-step table rebuild.

use sqlparser::ast::{AlterTableOperation, Statement};

use super::Rule;
use crate::config::Engine;

pub const RULE: Rule = Rule { code: "sqlite-alter-needs-rebuild", engines: &[Engine::Sqlite], check };

fn check(statement: &Statement) -> Option<(String, String)> {
    let Statement::AlterTable(alter) = statement else { return None };
    let unsupported = alter.operations.iter().find(|op| {
        !matches!(
            op,
            AlterTableOperation::RenameTable { .. }
                | AlterTableOperation::RenameColumn { .. }
                | AlterTableOperation::AddColumn { .. }
                | AlterTableOperation::DropColumn { .. }
        )
    })?;
    Some((
        format!("SQLite cannot `{unsupported}` on {}", alter.name),
        "rebuild the table (sqlite.org/lang_altertable.html, the 12 steps): CREATE TABLE new_t with the wanted \
         definition, INSERT INTO new_t SELECT ... FROM t, DROP TABLE t, ALTER TABLE new_t RENAME TO t, recreate its \
         indexes, triggers and views, then PRAGMA foreign_key_check, all in one transaction"
            .into(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::migrate::rules::first;

    #[test]
    fn fires_on_a_type_change_and_an_added_constraint() {
        assert!(check(&first(Engine::Sqlite, "ALTER TABLE t ALTER COLUMN c SET NOT NULL")).is_some());
        assert!(check(&first(Engine::Sqlite, "ALTER TABLE t ADD CONSTRAINT u UNIQUE (c)")).is_some());
    }

    #[test]
    fn quiet_on_what_sqlite_supports() {
        for sql in
            ["ALTER TABLE t ADD COLUMN c TEXT", "ALTER TABLE t RENAME COLUMN a TO b", "ALTER TABLE t DROP COLUMN c"]
        {
            assert!(check(&first(Engine::Sqlite, sql)).is_none(), "{sql}");
        }
    }
}
