//! A sort or hash that did not fit in memory and went to disk.

use super::Rule;
use crate::{
    config::Engine,
    plan::{Context, Finding, PlanNode, Severity},
};

pub const RULE: Rule = Rule { code: "spill-to-disk", summary: "a sort or hash spilled to disk", check };

fn check(node: &PlanNode, cx: &Context) -> Option<Finding> {
    let spilled = node.spilled.as_deref()?;
    let fix = match cx.engine {
        Engine::Postgres => "raise work_mem for this query (SET LOCAL work_mem = '64MB' in its transaction), or sort fewer rows / use an index that already has the order".to_string(),
        Engine::Mysql => "raise sort_buffer_size / tmp_table_size for the session, or add an index that yields the order".to_string(),
        _ => "add an index that yields the order, or sort fewer rows".to_string(),
    };
    Some(Finding {
        code: RULE.code,
        severity: Severity::Warning,
        node: node.label(),
        evidence: spilled.to_string(),
        fix,
        step_ms: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::rules::test_support::*;

    #[test]
    fn err_sort_on_disk() {
        let n = PlanNode {
            kind: "Sort".into(),
            spilled: Some("sort on disk: 12 MB (external merge)".into()),
            ..Default::default()
        };
        assert!(check(&n, &cx(Engine::Postgres)).unwrap().fix.contains("work_mem"));
    }

    #[test]
    fn ok_in_memory() {
        assert!(check(&PlanNode { kind: "Sort".into(), ..Default::default() }, &cx(Engine::Postgres)).is_none());
    }
}
