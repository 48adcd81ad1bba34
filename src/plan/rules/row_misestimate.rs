//! The planner expected far more or far fewer rows than came: its statistics are stale or miss
//! a correlation, and every choice above this step rests on the wrong number.

use super::{Rule, thousands};
use crate::{
    config::Engine,
    plan::{Context, Finding, PlanNode, Severity},
};

pub const RULE: Rule = Rule {
    code: "row-misestimate",
    summary: "estimated and actual rows differ more than tenfold: refresh or extend statistics",
    check,
};

/// How far off the estimate is, when it is off enough to matter.
fn ratio(node: &PlanNode) -> Option<f64> {
    let (estimated, actual) = (node.estimated_rows?, node.actual_rows?);
    let (low, high) = (estimated.min(actual).max(1.0), estimated.max(actual));
    (high >= 100.0 && high / low >= 10.0).then_some(high / low)
}

fn check(node: &PlanNode, cx: &Context) -> Option<Finding> {
    let off = ratio(node)?;
    // Report where the error starts, not every step that inherits it.
    if node.children.iter().any(|c| ratio(c).is_some()) {
        return None;
    }
    let (estimated, actual) = (node.estimated_rows?, node.actual_rows?);
    let relation = node.relation.as_deref().unwrap_or("the tables involved");
    let fix = match cx.engine {
        Engine::Postgres => format!(
            "ANALYZE {relation}; if the filter combines correlated columns, CREATE STATISTICS (dependencies, ndistinct, mcv) ON those columns FROM {relation} and ANALYZE again"
        ),
        Engine::Mysql => format!(
            "ANALYZE TABLE {relation} (and consider histograms: ANALYZE TABLE {relation} UPDATE HISTOGRAM ON <columns>)"
        ),
        Engine::Sqlite => "ANALYZE; (SQLite plans from sqlite_stat1, which only ANALYZE fills)".to_string(),
        Engine::Mongodb => "check the index bounds and the filter's selectivity".to_string(),
    };
    Some(Finding {
        code: RULE.code,
        severity: if off >= 1000.0 { Severity::Critical } else { Severity::Warning },
        node: node.label(),
        evidence: format!("estimated {} rows per loop, got {}", thousands(estimated), thousands(actual)),
        fix,
        step_ms: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::rules::test_support::*;

    #[test]
    fn err_tenfold_off() {
        let mut n = scan("orders", "(status = 'x')", 5000.0, 5000.0);
        n.estimated_rows = Some(50.0);
        let f = check(&n, &cx(Engine::Postgres)).unwrap();
        assert_eq!(f.evidence, "estimated 50 rows per loop, got 5,000");
        assert!(f.fix.starts_with("ANALYZE orders"));
    }

    #[test]
    fn ok_inherited_from_a_child() {
        let mut child = scan("orders", "(status = 'x')", 5000.0, 5000.0);
        child.estimated_rows = Some(50.0);
        let parent = PlanNode {
            kind: "Sort".into(),
            estimated_rows: Some(50.0),
            actual_rows: Some(5000.0),
            children: vec![child],
            ..Default::default()
        };
        assert!(check(&parent, &cx(Engine::Postgres)).is_none());
    }

    #[test]
    fn ok_close_or_tiny() {
        assert!(check(&scan("orders", "", 900.0, 900.0), &cx(Engine::Postgres)).is_none());
        let mut n = scan("orders", "", 40.0, 40.0);
        n.estimated_rows = Some(1.0);
        assert!(check(&n, &cx(Engine::Postgres)).is_none());
    }
}
