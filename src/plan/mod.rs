//! One plan model for every engine, and the findings read off it. Engines translate their
//! native plans (PostgreSQL and MariaDB JSON, SQLite's query plan, MongoDB's explain) into
//! [`PlanNode`]s; the rules in `rules/` (one per file, each with a stable code) look only at
//! that model, so each rule serves every engine.

pub(crate) mod db;
pub mod indexes;
mod mongo;
mod mysql;
mod postgres;
mod rules;
mod sqlite;
pub(crate) mod tool;

use serde::Serialize;

use crate::config::Engine;

/// How a node reads its relation, in engine-neutral terms.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Access {
    /// Every row or document is read (Seq Scan, ALL, SCAN, COLLSCAN).
    FullScan,
    /// An index narrows what is read.
    Index,
    /// The index alone answers (Index Only Scan, covering index).
    IndexOnly,
}

/// One step of a plan.
#[derive(Debug, Clone, Default, Serialize, schemars::JsonSchema)]
pub struct PlanNode {
    /// The engine's own name for the step (Seq Scan, Hash Join, COLLSCAN, SEARCH, ...).
    pub kind: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub access: Option<Access>,
    /// Table or collection read by this step.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub relation: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub index: Option<String>,
    /// Filter, index or join condition, as the engine prints it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub condition: Option<String>,
    /// Rows the planner expected per loop.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub estimated_rows: Option<f64>,
    /// Rows actually produced per loop (analyzed plans).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub actual_rows: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub loops: Option<f64>,
    /// Inclusive time of this step across loops, in milliseconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time_ms: Option<f64>,
    /// Rows or documents read before filtering, across loops.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub examined: Option<f64>,
    /// Buffer pages found in cache.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cache_hits: Option<i64>,
    /// Buffer pages read from disk or the OS.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub disk_reads: Option<i64>,
    /// Index descents across loops (PostgreSQL 18's `Index Searches`): more than the loops
    /// means the index was searched once per value of an IN list or skip-scanned.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub index_searches: Option<f64>,
    /// Work that did not fit in memory (sort to disk, hash in batches).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub spilled: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub children: Vec<PlanNode>,
}

impl PlanNode {
    /// Rows produced across all loops.
    pub fn total_rows(&self) -> Option<f64> {
        self.actual_rows.map(|r| r * self.loops.unwrap_or(1.0))
    }

    /// Depth-first walk with each node's path (`0.1.0`).
    pub fn walk<'a>(&'a self, path: String, visit: &mut dyn FnMut(&'a PlanNode, &str)) {
        visit(self, &path);
        for (i, child) in self.children.iter().enumerate() {
            child.walk(if path.is_empty() { i.to_string() } else { format!("{path}.{i}") }, visit);
        }
    }

    /// A short label: `Seq Scan on orders using idx`.
    pub fn label(&self) -> String {
        let mut s = self.kind.clone();
        if let Some(r) = &self.relation {
            s.push_str(" on ");
            s.push_str(r);
        }
        if let Some(i) = &self.index {
            s.push_str(" using ");
            s.push_str(i);
        }
        s
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Warning,
    Critical,
}

/// Something in a plan worth fixing, with the evidence and the fix.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Finding {
    /// Stable rule code, e.g. `full-scan-selective`.
    pub code: &'static str,
    pub severity: Severity,
    /// The plan step it is about (its label).
    pub node: String,
    /// What in the plan shows it.
    pub evidence: String,
    /// What to do about it.
    pub fix: String,
    /// Time spent in that step, across loops: the finding's weight when ranking.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub step_ms: Option<f64>,
}

/// What a rule may know besides the plan.
pub struct Context {
    pub engine: Engine,
    /// Whether the plan holds run-time numbers.
    pub analyzed: bool,
    /// Foreign keys that no index starts with (from the catalog, where the engine can tell).
    pub unindexed_foreign_keys: Vec<ForeignKey>,
}

/// A foreign key of `table` on `columns`, pointing at `references`.
#[derive(Debug, Clone)]
pub struct ForeignKey {
    pub table: String,
    pub columns: Vec<String>,
    pub references: String,
}

/// Run every rule over the plan; findings come most severe first, then by the time their step
/// took.
pub fn findings(plan: &PlanNode, cx: &Context) -> Vec<Finding> {
    let mut out = Vec::new();
    plan.walk(String::new(), &mut |node, _| {
        for rule in rules::ALL {
            if let Some(mut f) = (rule.check)(node, cx) {
                f.step_ms = node.time_ms;
                out.push(f);
            }
        }
    });
    out.sort_by(|a, b| b.severity.cmp(&a.severity).then(b.step_ms.unwrap_or(0.0).total_cmp(&a.step_ms.unwrap_or(0.0))));
    out
}

/// The codes and one-line descriptions of every rule, for docs.
pub fn rule_codes() -> Vec<(&'static str, &'static str)> {
    rules::ALL.iter().map(|r| (r.code, r.summary)).collect()
}

/// A compact text tree of the plan for models that read text.
pub fn text_tree(plan: &PlanNode) -> String {
    fn go(node: &PlanNode, depth: usize, out: &mut String) {
        use std::fmt::Write as _;
        let _ = write!(out, "{}{}", "  ".repeat(depth), node.label());
        let mut facts = Vec::new();
        match (node.estimated_rows, node.actual_rows) {
            (Some(e), Some(a)) => facts.push(format!("rows {a} (est {e})")),
            (Some(e), None) => facts.push(format!("est rows {e}")),
            (None, Some(a)) => facts.push(format!("rows {a}")),
            _ => {}
        }
        if let Some(l) = node.loops.filter(|l| *l > 1.0) {
            facts.push(format!("loops {l}"));
        }
        if let Some(t) = node.time_ms {
            facts.push(format!("{t:.3} ms"));
        }
        if let Some(x) = node.examined {
            facts.push(format!("examined {x}"));
        }
        if let Some(n) = node.index_searches.filter(|n| *n > node.loops.unwrap_or(1.0)) {
            facts.push(format!("index searches {n}"));
        }
        if let Some(s) = &node.spilled {
            facts.push(s.clone());
        }
        if !facts.is_empty() {
            let _ = write!(out, "  [{}]", facts.join(", "));
        }
        if let Some(c) = &node.condition {
            let _ = write!(out, "  {c}");
        }
        out.push('\n');
        for child in &node.children {
            go(child, depth + 1, out);
        }
    }
    let mut out = String::new();
    go(plan, 0, &mut out);
    out.trim_end().to_string()
}

/// A statement to explain. Whatever it is, it runs inside a transaction that is rolled back.
pub struct ExplainCall<'a> {
    pub sql: &'a str,
    pub checked: &'a crate::sql::Checked,
    /// Run it and measure (true), or only plan it.
    pub analyze: bool,
    pub timeout_ms: u64,
}

/// A find or pipeline to explain.
pub struct DocumentExplainCall {
    pub collection: String,
    pub filter: mongodb::bson::Document,
    pub sort: Option<mongodb::bson::Document>,
    pub pipeline: Option<Vec<mongodb::bson::Document>>,
    pub analyze: bool,
    pub timeout_ms: u64,
}

/// A plan in the common model plus the engine's own output.
pub struct Explained {
    pub plan: crate::plan::PlanNode,
    pub raw: serde_json::Value,
    pub planning_ms: Option<f64>,
    pub execution_ms: Option<f64>,
    pub notes: Vec<String>,
}

/// Hypothetical indexes tried against one statement's plan.
pub struct Hypothetical {
    pub cost_before: f64,
    /// One per candidate, in the order given.
    pub tried: Vec<HypotheticalIndex>,
}

pub struct HypotheticalIndex {
    pub cost_after: f64,
    pub bytes: i64,
    /// The planner chose it.
    pub used: bool,
}

/// The busiest statements and what runs now.
pub struct Hotpaths {
    /// Set when statement statistics are off: exactly how to turn them on.
    pub how_to_enable: Option<String>,
    pub statements: serde_json::Value,
    pub activity: serde_json::Value,
}

/// An index's table, name, uniqueness and columns in order.
pub(crate) struct IndexShape {
    pub table: String,
    pub name: String,
    pub unique: bool,
    pub columns: Vec<String>,
}

/// Non-unique indexes whose columns lead another index on the same table: the other one serves
/// every lookup they do.
pub(crate) fn redundant(indexes: &[IndexShape]) -> Vec<serde_json::Value> {
    let mut out = Vec::new();
    for a in indexes.iter().filter(|a| !a.unique && a.name != "PRIMARY" && a.name != "_id_") {
        let wider = indexes.iter().find(|b| {
            b.table == a.table
                && b.name != a.name
                && b.columns.len() >= a.columns.len()
                && b.columns.iter().zip(&a.columns).all(|(x, y)| x == y)
                // Of two identical indexes, report only one.
                && (b.columns.len() > a.columns.len() || b.unique || b.name < a.name)
        });
        if let Some(b) = wider {
            out.push(serde_json::json!({ "table": a.table, "index": a.name, "same_as": b.name }));
        }
    }
    out
}
