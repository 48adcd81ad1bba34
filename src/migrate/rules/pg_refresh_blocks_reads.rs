//! pg-refresh-blocks-reads: REFRESH MATERIALIZED VIEW without CONCURRENTLY holds an ACCESS
//! EXCLUSIVE lock on the view for the whole refresh, so every read of it waits. squawk has no
//! rule for it.

use sqlparser::ast::Statement;

use super::Rule;
use crate::config::Engine;

pub const RULE: Rule = Rule { code: "pg-refresh-blocks-reads", engines: &[Engine::Postgres], check };

fn check(statement: &Statement) -> Option<(String, String)> {
    let Statement::RefreshMaterializedView(r) = statement else { return None };
    if r.concurrently || r.with_data == Some(false) {
        return None;
    }
    Some((
        format!("REFRESH MATERIALIZED VIEW {} blocks every read of the view until the refresh ends", r.name),
        "REFRESH MATERIALIZED VIEW CONCURRENTLY (needs a unique index on the view; runs outside a transaction \
         block, so in its own `-- no-transaction` migration)"
            .into(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::migrate::rules::first;

    #[test]
    fn fires_on_a_plain_refresh() {
        assert!(check(&first(Engine::Postgres, "REFRESH MATERIALIZED VIEW daily_totals")).is_some());
    }

    #[test]
    fn quiet_on_a_concurrent_refresh_or_other_statements() {
        assert!(check(&first(Engine::Postgres, "REFRESH MATERIALIZED VIEW CONCURRENTLY daily_totals")).is_none());
        assert!(check(&first(Engine::Postgres, "CREATE MATERIALIZED VIEW m AS SELECT 1")).is_none());
    }
}
