//! Our migration lint rules, one per file: a stable code, the engines it serves, the check over
//! one parsed statement (message and help when it fires) and ok/err tests. PostgreSQL is linted
//! by squawk; these cover MySQL/MariaDB and SQLite, and what squawk is silent about.

mod mysql_algorithm_unspecified;
mod mysql_alter_copies_table;
mod pg_refresh_blocks_reads;
mod sqlite_add_column_limits;
mod sqlite_alter_needs_rebuild;
mod unbatched_data_change;

use sqlparser::ast::Statement;

use crate::config::Engine;

pub struct Rule {
    pub code: &'static str,
    pub engines: &'static [Engine],
    /// `Some((message, help))` when the statement breaks the rule.
    pub check: fn(&Statement) -> Option<(String, String)>,
}

pub const RULES: &[Rule] = &[
    mysql_alter_copies_table::RULE,
    mysql_algorithm_unspecified::RULE,
    sqlite_alter_needs_rebuild::RULE,
    sqlite_add_column_limits::RULE,
    pg_refresh_blocks_reads::RULE,
    unbatched_data_change::RULE,
];

pub fn for_engine(engine: Engine) -> impl Iterator<Item = &'static Rule> {
    RULES.iter().filter(move |r| r.engines.contains(&engine))
}

#[cfg(test)]
pub(crate) fn first(engine: Engine, sql: &str) -> Statement {
    super::plan::parse(engine, sql).expect("parses")
}

#[cfg(test)]
mod tests {
    #[test]
    fn codes_are_unique_and_kebab_case() {
        let mut codes: Vec<_> = super::RULES.iter().map(|r| r.code).collect();
        assert!(codes.iter().all(|c| c.chars().all(|ch| ch.is_ascii_lowercase() || ch == '-')));
        codes.sort();
        codes.dedup();
        assert_eq!(codes.len(), super::RULES.len());
    }
}
