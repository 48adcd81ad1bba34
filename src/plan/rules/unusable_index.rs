//! A full scan whose condition wraps a column in a function or matches it against a leading
//! wildcard: a plain index on that column cannot serve it.

use std::ops::ControlFlow;

use sqlparser::ast::{BinaryOperator, Expr, FunctionArg, FunctionArgExpr, FunctionArguments, Value, visit_expressions};

use super::{Rule, condition_expr};
use crate::plan::{Access, Context, Finding, PlanNode, Severity};

pub const RULE: Rule = Rule {
    code: "unusable-index",
    summary: "a function or leading wildcard on a column keeps indexes from being used",
    check,
};

fn strip(mut e: &Expr) -> &Expr {
    loop {
        match e {
            Expr::Nested(inner) => e = inner,
            // PostgreSQL prints binary-compatible casts (varchar to text) that do not block indexes.
            Expr::Cast { expr, .. } => e = expr,
            other => return other,
        }
    }
}

fn is_column(e: &Expr) -> bool {
    matches!(strip(e), Expr::Identifier(_) | Expr::CompoundIdentifier(_))
}

fn leading_wildcard(pattern: &Expr) -> bool {
    matches!(strip(pattern), Expr::Value(v) if matches!(&v.value, Value::SingleQuotedString(s) if s.starts_with('%')))
}

pub(super) fn check(node: &PlanNode, cx: &Context) -> Option<Finding> {
    if node.access != Some(Access::FullScan) {
        return None;
    }
    let expr = condition_expr(node.condition.as_deref()?, cx.engine)?;
    let mut found: Option<(String, String)> = None;
    let _ = visit_expressions(&expr, |e| {
        found = match e {
            Expr::Like { expr, pattern, .. } | Expr::ILike { expr, pattern, .. }
                if is_column(expr) && leading_wildcard(pattern) =>
            {
                Some((format!("{e} starts with a wildcard"), wildcard_fix()))
            }
            Expr::BinaryOp { left, op: BinaryOperator::PGLikeMatch | BinaryOperator::PGILikeMatch, right }
                if is_column(left) && leading_wildcard(right) =>
            {
                Some((format!("{e} starts with a wildcard"), wildcard_fix()))
            }
            Expr::Function(f)
                if matches!(&f.args, FunctionArguments::List(list) if list.args.iter().any(|a| matches!(a,
                FunctionArg::Unnamed(FunctionArgExpr::Expr(x)) if is_column(x)))) =>
            {
                Some((
                    format!("{e} applies a function to the column"),
                    format!(
                        "index the expression itself (CREATE INDEX ... ON <table> (({e}))) or compare the bare column"
                    ),
                ))
            }
            _ => None,
        };
        if found.is_some() { ControlFlow::Break(()) } else { ControlFlow::Continue(()) }
    });
    let (evidence, fix) = found?;
    Some(Finding { code: RULE.code, severity: Severity::Warning, node: node.label(), evidence, fix, step_ms: None })
}

fn wildcard_fix() -> String {
    "a B-tree index cannot serve a leading wildcard: on PostgreSQL use a trigram index \
     (CREATE EXTENSION pg_trgm; CREATE INDEX ... USING gin (col gin_trgm_ops)), elsewhere full-text search"
        .into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{config::Engine, plan::rules::test_support::*};

    #[test]
    fn err_function_on_column() {
        let f = check(&scan("users", "(lower(email) = 'a@b.c'::text)", 1.0, 100.0), &cx(Engine::Postgres)).unwrap();
        assert_eq!(f.evidence, "lower(email) applies a function to the column");
    }

    #[test]
    fn err_leading_wildcard_in_either_spelling() {
        let pg = check(&scan("users", "((email)::text ~~ '%@example.com'::text)", 1.0, 100.0), &cx(Engine::Postgres));
        assert!(pg.unwrap().fix.contains("trigram"));
        let lite = check(&scan("users", "email LIKE '%@example.com'", 1.0, 100.0), &cx(Engine::Sqlite));
        assert!(lite.unwrap().evidence.contains("wildcard"));
    }

    #[test]
    fn ok_bare_column_comparison() {
        assert!(check(&scan("users", "((email)::text = 'a@b.c'::text)", 1.0, 100.0), &cx(Engine::Postgres)).is_none());
        assert!(check(&scan("users", "email LIKE 'abc%'", 1.0, 100.0), &cx(Engine::Sqlite)).is_none());
        assert!(check(&scan("users", "(created_at > now())", 1.0, 100.0), &cx(Engine::Postgres)).is_none());
    }
}
