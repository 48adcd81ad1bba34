//! A step that read more pages from disk than it found in cache: the working set does not fit
//! in memory, or the data was cold.

use super::{Rule, thousands};
use crate::plan::{Context, Finding, PlanNode, Severity};

pub const RULE: Rule = Rule { code: "cold-reads", summary: "more buffer reads from disk than cache hits", check };

fn check(node: &PlanNode, _cx: &Context) -> Option<Finding> {
    let (hits, reads) = (node.cache_hits.unwrap_or(0), node.disk_reads?);
    // Only leaves: parents repeat their children's counts.
    if reads < 1_000 || reads <= hits || !node.children.is_empty() {
        return None;
    }
    Some(Finding {
        code: RULE.code,
        severity: Severity::Info,
        node: node.label(),
        evidence: format!("{} pages read from disk, {} from cache", thousands(reads as f64), thousands(hits as f64)),
        fix: "read fewer pages (a selective index, fewer columns) or give the cache more memory (shared_buffers); run it again to tell a cold cache from a working set that does not fit".into(), step_ms: None })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{config::Engine, plan::rules::test_support::*};

    #[test]
    fn err_mostly_disk() {
        let mut n = scan("orders", "", 1.0, 1.0);
        n.disk_reads = Some(5_000);
        n.cache_hits = Some(10);
        assert!(check(&n, &cx(Engine::Postgres)).is_some());
    }

    #[test]
    fn ok_mostly_cached() {
        let mut n = scan("orders", "", 1.0, 1.0);
        n.disk_reads = Some(5_000);
        n.cache_hits = Some(50_000);
        assert!(check(&n, &cx(Engine::Postgres)).is_none());
    }
}
