//! mysql-alter-copies-table: an ALTER that MySQL/MariaDB can only do by copying the table
//! (column type changes, foreign keys with checks on, a new primary key). Writes wait for the copy.

use sqlparser::ast::{AlterColumnOperation, AlterTableOperation, Statement, TableConstraint};

use super::Rule;
use crate::config::Engine;

pub const RULE: Rule = Rule { code: "mysql-alter-copies-table", engines: &[Engine::Mysql], check };

fn check(statement: &Statement) -> Option<(String, String)> {
    let Statement::AlterTable(alter) = statement else { return None };
    let copying = alter.operations.iter().find_map(|op| match op {
        AlterTableOperation::ModifyColumn { col_name, .. } => Some(format!("MODIFY COLUMN {col_name}")),
        AlterTableOperation::ChangeColumn { old_name, .. } => Some(format!("CHANGE COLUMN {old_name}")),
        AlterTableOperation::AlterColumn { column_name, op: AlterColumnOperation::SetDataType { .. } } => {
            Some(format!("a type change of {column_name}"))
        }
        AlterTableOperation::AddConstraint { constraint: TableConstraint::ForeignKey(_), .. } => {
            Some("ADD FOREIGN KEY (with foreign_key_checks on)".into())
        }
        AlterTableOperation::AddConstraint { constraint: TableConstraint::PrimaryKey(_), .. } => {
            Some("ADD PRIMARY KEY".into())
        }
        _ => None,
    })?;
    Some((
        format!("{copying} on {} copies the whole table (ALGORITHM=COPY): writes wait until the copy ends", alter.name),
        "on a big table use an online schema change tool (gh-ost, pt-online-schema-change), or add ALGORITHM=INPLACE, \
         LOCK=NONE so the server refuses instead of copying; widening a VARCHAR within the same length byte is in place"
            .into(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::migrate::rules::first;

    #[test]
    fn fires_on_a_type_change_and_a_foreign_key() {
        assert!(
            check(&first(Engine::Mysql, "ALTER TABLE orders MODIFY COLUMN total DECIMAL(12,2) NOT NULL")).is_some()
        );
        assert!(
            check(&first(Engine::Mysql, "ALTER TABLE o ADD CONSTRAINT fk FOREIGN KEY (c) REFERENCES c (id)")).is_some()
        );
    }

    #[test]
    fn quiet_on_an_instant_column_add_and_a_rename() {
        assert!(check(&first(Engine::Mysql, "ALTER TABLE orders ADD COLUMN note TEXT")).is_none());
        assert!(check(&first(Engine::Mysql, "ALTER TABLE orders RENAME COLUMN a TO b")).is_none());
    }
}
