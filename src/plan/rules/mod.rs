//! Plan rules, one per file: a stable code, a one-line summary, a check over one plan node, and
//! ok/err tests. Add a rule by adding a file and listing it in [`ALL`].

mod cold_reads;
mod fk_join_without_index;
mod full_scan_selective;
mod nested_loop_large_outer;
mod row_misestimate;
mod spill_to_disk;
mod unusable_index;

use std::ops::ControlFlow;

use sqlparser::ast::{Expr, visit_expressions};

use super::{Context, Finding, PlanNode, indexes::create_index};
use crate::config::Engine;

pub struct Rule {
    pub code: &'static str,
    pub summary: &'static str,
    pub check: fn(&PlanNode, &Context) -> Option<Finding>,
}

pub const ALL: &[Rule] = &[
    full_scan_selective::RULE,
    fk_join_without_index::RULE,
    unusable_index::RULE,
    row_misestimate::RULE,
    nested_loop_large_outer::RULE,
    spill_to_disk::RULE,
    cold_reads::RULE,
];

/// Tables smaller than this are cheap to scan whatever the plan says.
const LARGE: f64 = 10_000.0;

/// The condition parsed as an expression, when it is SQL the parser understands.
fn condition_expr(condition: &str, engine: Engine) -> Option<Expr> {
    crate::sql::parse_expr(condition, engine).ok()
}

/// Column names a condition compares, in order of appearance.
fn columns_in(condition: &str, engine: Engine) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut push = |name: String| {
        if !out.contains(&name) {
            out.push(name);
        }
    };
    if engine == Engine::Mongodb {
        fn keys(v: &serde_json::Value, push: &mut dyn FnMut(String)) {
            if let Some(map) = v.as_object() {
                for (k, inner) in map {
                    if k == "$and" || k == "$or" {
                        inner.as_array().into_iter().flatten().for_each(|i| keys(i, push));
                    } else if !k.starts_with('$') {
                        push(k.clone());
                    }
                }
            }
        }
        if let Ok(v) = serde_json::from_str(condition) {
            keys(&v, &mut push);
        }
        return out;
    }
    if let Some(expr) = condition_expr(condition, engine) {
        let _ = visit_expressions(&expr, |e| {
            match e {
                Expr::Identifier(i) => push(i.value.clone()),
                Expr::CompoundIdentifier(parts) => {
                    if let Some(last) = parts.last() {
                        push(last.value.clone());
                    }
                }
                _ => {}
            }
            ControlFlow::<()>::Continue(())
        });
    }
    out
}

fn thousands(n: f64) -> String {
    let s = format!("{:.0}", n);
    let bytes = s.as_bytes();
    let mut out = String::new();
    for (i, c) in bytes.iter().enumerate() {
        if i > 0 && (bytes.len() - i) % 3 == 0 && *c != b'-' {
            out.push(',');
        }
        out.push(*c as char);
    }
    out
}

#[cfg(test)]
pub(super) mod test_support {
    use super::*;
    use crate::plan::Access;

    pub fn cx(engine: Engine) -> Context {
        Context { engine, analyzed: true, unindexed_foreign_keys: vec![] }
    }

    pub fn scan(relation: &str, condition: &str, returned: f64, examined: f64) -> PlanNode {
        PlanNode {
            kind: "Seq Scan".into(),
            access: Some(Access::FullScan),
            relation: Some(relation.into()),
            condition: Some(condition.into()),
            estimated_rows: Some(returned),
            actual_rows: Some(returned),
            loops: Some(1.0),
            examined: Some(examined),
            ..Default::default()
        }
    }

    #[test]
    fn columns_are_read_from_conditions() {
        assert_eq!(columns_in("(customer_id = 42)", Engine::Postgres), ["customer_id"]);
        assert_eq!(
            columns_in("((o.status)::text = 'x'::text) AND (o.total > 5)", Engine::Postgres),
            ["status", "total"]
        );
        assert_eq!(columns_in(r#"{"customer": 1, "$and": [{"at": {"$gt": 5}}]}"#, Engine::Mongodb), ["customer", "at"]);
        assert_eq!(thousands(1234567.0), "1,234,567");
    }
}
