//! sqlite-add-column-limits: SQLite refuses ADD COLUMN with PRIMARY KEY or UNIQUE, NOT NULL
//! without a non-null default, or a non-constant default (CURRENT_TIMESTAMP, an expression).

use sqlparser::ast::{AlterTableOperation, ColumnOption, Expr, Statement, Value};

use super::Rule;
use crate::config::Engine;

pub const RULE: Rule = Rule { code: "sqlite-add-column-limits", engines: &[Engine::Sqlite], check };

fn check(statement: &Statement) -> Option<(String, String)> {
    let Statement::AlterTable(alter) = statement else { return None };
    for op in &alter.operations {
        let AlterTableOperation::AddColumn { column_def, .. } = op else { continue };
        let options: Vec<&ColumnOption> = column_def.options.iter().map(|o| &o.option).collect();
        let default = options.iter().find_map(|o| match o {
            ColumnOption::Default(e) => Some(e),
            _ => None,
        });
        let constant = |e: &Expr| {
            matches!(e, Expr::Value(v) if !matches!(v.value, Value::Null))
                || matches!(e, Expr::UnaryOp { expr, .. } if matches!(**expr, Expr::Value(_)))
        };
        let problem = if options.iter().any(|o| matches!(o, ColumnOption::PrimaryKey(_) | ColumnOption::Unique(_))) {
            Some("a PRIMARY KEY or UNIQUE column")
        } else if options.iter().any(|o| matches!(o, ColumnOption::NotNull)) && !default.is_some_and(&constant) {
            Some("a NOT NULL column without a constant non-null default")
        } else if default.is_some_and(|d| !constant(d)) {
            Some("a column whose default is not a constant")
        } else {
            None
        };
        if let Some(problem) = problem {
            return Some((
                format!("SQLite cannot ADD COLUMN {} on {}: {problem}", column_def.name, alter.name),
                "add the column nullable (or with a constant default) and enforce the rest with a unique index or the \
                 12-step table rebuild"
                    .into(),
            ));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::migrate::rules::first;

    #[test]
    fn fires_on_not_null_without_default_and_on_unique() {
        assert!(check(&first(Engine::Sqlite, "ALTER TABLE t ADD COLUMN c TEXT NOT NULL")).is_some());
        assert!(check(&first(Engine::Sqlite, "ALTER TABLE t ADD COLUMN c TEXT UNIQUE")).is_some());
        assert!(check(&first(Engine::Sqlite, "ALTER TABLE t ADD COLUMN c TEXT DEFAULT (lower('x'))")).is_some());
    }

    #[test]
    fn quiet_on_a_nullable_or_constant_default_column() {
        assert!(check(&first(Engine::Sqlite, "ALTER TABLE t ADD COLUMN c TEXT")).is_none());
        assert!(check(&first(Engine::Sqlite, "ALTER TABLE t ADD COLUMN c INTEGER NOT NULL DEFAULT 0")).is_none());
    }
}
