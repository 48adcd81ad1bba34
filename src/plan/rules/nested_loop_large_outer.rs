//! A nested loop that runs its inner side once per outer row, with many outer rows: each
//! inner pass should be an index lookup, or the join should hash.

use super::{Rule, thousands};
use crate::plan::{Access, Context, Finding, PlanNode, Severity};

pub const RULE: Rule = Rule {
    code: "nested-loop-large-outer",
    summary: "a nested loop repeats its inner side for many outer rows",
    check,
};

fn check(node: &PlanNode, _cx: &Context) -> Option<Finding> {
    if !node.kind.contains("Nested Loop") && !node.kind.contains("nested_loop") {
        return None;
    }
    let (outer, inner) = (node.children.first()?, node.children.get(1)?);
    let outer_rows = outer.total_rows().or(outer.estimated_rows)?;
    if outer_rows < 10_000.0 || inner.access == Some(Access::Index) && inner.index.is_some() && outer_rows < 100_000.0 {
        return None;
    }
    let fix = match (&inner.relation, inner.access) {
        (Some(r), Some(Access::FullScan)) => format!(
            "index the join column of {r} so each loop is a lookup, or let the planner hash (check join conditions and statistics)"
        ),
        _ => "make the inner side an index lookup, or reduce the outer rows before the join".to_string(),
    };
    Some(Finding {
        code: RULE.code,
        severity: if inner.access == Some(Access::FullScan) { Severity::Critical } else { Severity::Warning },
        node: node.label(),
        evidence: format!("the inner side ({}) runs for each of {} outer rows", inner.label(), thousands(outer_rows)),
        fix,
        step_ms: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{config::Engine, plan::rules::test_support::*};

    fn join(outer_rows: f64, inner: PlanNode) -> PlanNode {
        PlanNode {
            kind: "Nested Loop".into(),
            children: vec![scan("customers", "", outer_rows, outer_rows), inner],
            ..Default::default()
        }
    }

    #[test]
    fn err_scan_inside_a_big_loop() {
        let f =
            check(&join(50_000.0, scan("orders", "(o.customer_id = c.id)", 1.0, 10.0)), &cx(Engine::Postgres)).unwrap();
        assert_eq!(f.severity, Severity::Critical);
        assert!(f.evidence.contains("50,000 outer rows"));
    }

    #[test]
    fn ok_small_outer_side() {
        assert!(check(&join(20.0, scan("orders", "", 1.0, 10.0)), &cx(Engine::Postgres)).is_none());
    }
}
