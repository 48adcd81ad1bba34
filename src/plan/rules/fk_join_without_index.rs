//! A join on a foreign key column that no index serves: every join (and every delete or key
//! update on the referenced table) scans the referencing table.

use super::{Rule, columns_in, create_index};
use crate::plan::{Access, Context, Finding, PlanNode, Severity};

pub const RULE: Rule = Rule {
    code: "fk-join-without-index",
    summary: "a join on a foreign key that has no index scans the referencing table",
    check,
};

/// Scans feeding a join directly or through a Hash, Materialize or Sort step.
fn scans(node: &PlanNode) -> Vec<&PlanNode> {
    let mut out = Vec::new();
    for child in &node.children {
        if child.access == Some(Access::FullScan) {
            out.push(child);
        } else if matches!(child.kind.as_str(), "Hash" | "Materialize" | "Sort" | "Memoize") {
            out.extend(child.children.iter().filter(|g| g.access == Some(Access::FullScan)));
        }
    }
    out
}

fn check(node: &PlanNode, cx: &Context) -> Option<Finding> {
    if cx.unindexed_foreign_keys.is_empty() || !(node.kind.contains("Join") || node.kind.contains("Nested Loop")) {
        return None;
    }
    for scan in scans(node) {
        let table = scan.relation.as_deref()?;
        let mut mentioned = columns_in(node.condition.as_deref().unwrap_or(""), cx.engine);
        mentioned.extend(columns_in(scan.condition.as_deref().unwrap_or(""), cx.engine));
        if let Some(fk) = cx
            .unindexed_foreign_keys
            .iter()
            .find(|fk| fk.table == table && fk.columns.iter().all(|c| mentioned.contains(c)))
        {
            return Some(Finding {
                code: RULE.code,
                severity: Severity::Critical,
                node: node.label(),
                evidence: format!(
                    "joins on {table}.{}, a foreign key to {} that no index starts with, so {} is scanned",
                    fk.columns.join(", "),
                    fk.references,
                    scan.label()
                ),
                fix: create_index(cx.engine, table, &fk.columns),
                step_ms: None,
            });
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        config::Engine,
        plan::{ForeignKey, rules::test_support::*},
    };

    fn join() -> PlanNode {
        let hash = PlanNode {
            kind: "Hash".into(),
            children: vec![scan("customers", "(email = 'x')", 1.0, 100.0)],
            ..Default::default()
        };
        PlanNode {
            kind: "Hash Join".into(),
            condition: Some("(o.customer_id = c.id)".into()),
            children: vec![scan("orders", "", 100_000.0, 100_000.0), hash],
            ..Default::default()
        }
    }

    fn with_fk() -> Context {
        let mut c = cx(Engine::Postgres);
        c.unindexed_foreign_keys = vec![ForeignKey {
            table: "orders".into(),
            columns: vec!["customer_id".into()],
            references: "customers".into(),
        }];
        c
    }

    #[test]
    fn err_join_on_unindexed_foreign_key() {
        let f = check(&join(), &with_fk()).unwrap();
        assert_eq!(f.fix, "CREATE INDEX CONCURRENTLY orders_customer_id_idx ON orders (customer_id);");
        assert!(f.evidence.contains("orders.customer_id, a foreign key to customers"));
    }

    #[test]
    fn ok_when_the_key_is_indexed() {
        assert!(check(&join(), &cx(Engine::Postgres)).is_none());
    }
}
