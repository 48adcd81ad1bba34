//! unbatched-data-change: an UPDATE or DELETE without WHERE in a migration changes every row of
//! the table in one transaction: row locks on all of them, a burst of WAL / binlog and, on
//! PostgreSQL, a dead copy of every row. squawk does not look at data changes.

use sqlparser::ast::Statement;

use super::Rule;
use crate::config::Engine;

pub const RULE: Rule =
    Rule { code: "unbatched-data-change", engines: &[Engine::Postgres, Engine::Mysql, Engine::Sqlite], check };

fn check(statement: &Statement) -> Option<(String, String)> {
    let (verb, table) = match statement {
        Statement::Update(u) if u.selection.is_none() => ("UPDATE", u.table.to_string()),
        Statement::Delete(d) if d.selection.is_none() => ("DELETE", d.from.to_string()),
        _ => return None,
    };
    Some((
        format!("{verb} without WHERE on {table} changes every row in one transaction"),
        "backfill in batches (WHERE id BETWEEN ... of a few thousand rows, one transaction each) outside the schema \
         migration, or in its own `-- no-transaction` migration; on a big table keep it out of the DDL transaction"
            .into(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::migrate::rules::first;

    #[test]
    fn fires_on_whole_table_updates_and_deletes() {
        assert!(check(&first(Engine::Postgres, "UPDATE orders SET status = 'new'")).is_some());
        assert!(check(&first(Engine::Mysql, "DELETE FROM orders")).is_some());
    }

    #[test]
    fn quiet_on_a_batch() {
        assert!(
            check(&first(Engine::Sqlite, "UPDATE orders SET status = 'new' WHERE id BETWEEN 1 AND 5000")).is_none()
        );
    }
}
