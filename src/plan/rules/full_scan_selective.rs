//! A full scan of a large table or collection that keeps only a small part of what it reads:
//! an index on the filtered columns would read just those rows.

use super::{LARGE, Rule, columns_in, create_index, thousands};
use crate::plan::{Access, Context, Finding, PlanNode, Severity};

pub const RULE: Rule = Rule {
    code: "full-scan-selective",
    summary: "full scan of a large table keeps few of the rows it reads: index the filtered columns",
    check,
};

fn check(node: &PlanNode, cx: &Context) -> Option<Finding> {
    if node.access != Some(Access::FullScan) {
        return None;
    }
    let relation = node.relation.as_deref()?;
    let condition = node.condition.as_deref()?;
    let examined = node.examined?;
    let kept = node.total_rows().or(node.estimated_rows)?;
    // A function or wildcard on the column needs another kind of index: unusable-index says which.
    if examined < LARGE || kept > examined * 0.1 || super::unusable_index::check(node, cx).is_some() {
        return None;
    }
    let columns = columns_in(condition, cx.engine);
    let fix = if columns.is_empty() {
        format!("add an index matching the filter {condition}")
    } else {
        create_index(cx.engine, relation, &columns)
    };
    Some(Finding {
        code: RULE.code,
        severity: if examined >= LARGE * 10.0 { Severity::Critical } else { Severity::Warning },
        node: node.label(),
        evidence: format!(
            "read {} rows of {relation} to keep {} ({:.2}%) with {condition}",
            thousands(examined),
            thousands(kept),
            kept * 100.0 / examined.max(1.0)
        ),
        fix,
        step_ms: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{config::Engine, plan::rules::test_support::*};

    #[test]
    fn err_large_selective_scan() {
        let f = check(&scan("orders", "(customer_id = 42)", 10.0, 1_000_000.0), &cx(Engine::Postgres)).unwrap();
        assert_eq!(f.fix, "CREATE INDEX CONCURRENTLY orders_customer_id_idx ON orders (customer_id);");
        assert_eq!(f.severity, Severity::Critical);
        assert_eq!(f.evidence, "read 1,000,000 rows of orders to keep 10 (0.00%) with (customer_id = 42)");
    }

    #[test]
    fn ok_small_table_or_unselective_filter() {
        assert!(check(&scan("orders", "(customer_id = 42)", 10.0, 500.0), &cx(Engine::Postgres)).is_none());
        assert!(check(&scan("orders", "(total > 0)", 900_000.0, 1_000_000.0), &cx(Engine::Postgres)).is_none());
    }

    #[test]
    fn err_mongo_collscan_names_the_fields() {
        let mut node = scan("orders", r#"{"customer": 7}"#, 3.0, 50_000.0);
        node.kind = "COLLSCAN".into();
        let f = check(&node, &cx(Engine::Mongodb)).unwrap();
        assert_eq!(f.fix, r#"db.orders.createIndex({ "customer": 1 })"#);
    }
}
