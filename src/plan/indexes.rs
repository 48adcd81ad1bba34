//! Index candidates read off a statement: equality predicates first, then one range or the
//! ORDER BY, per table; join columns on their own. Engine-neutral; costing happens elsewhere.

use std::{collections::BTreeMap, ops::ControlFlow};

use serde_json::Value;
use sqlparser::{
    ast::{
        BinaryOperator, Expr, GroupByExpr, OrderByKind, SetExpr, Statement, TableFactor, Value as SqlValue,
        visit_expressions,
    },
    dialect::{Dialect, MySqlDialect, PostgreSqlDialect, SQLiteDialect},
    parser::Parser,
};

use crate::config::Engine;

/// An index worth trying.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    pub table: String,
    pub columns: Vec<String>,
    /// Why these columns, in words.
    pub reason: String,
}

#[derive(Default)]
struct TableUse {
    equality: Vec<String>,
    range: Vec<String>,
    join: Vec<String>,
    order: Vec<String>,
}

fn push(list: &mut Vec<String>, column: &str) {
    if !list.iter().any(|c| c == column) {
        list.push(column.to_string());
    }
}

fn is_constant(e: &Expr) -> bool {
    match e {
        Expr::Value(v) => !matches!(v.value, SqlValue::Null),
        Expr::Cast { expr, .. } | Expr::Nested(expr) | Expr::UnaryOp { expr, .. } => is_constant(expr),
        Expr::TypedString { .. } | Expr::Interval(_) => true,
        Expr::Function(f) => f.args.to_string().is_empty() || f.name.to_string().eq_ignore_ascii_case("now"),
        _ => false,
    }
}

/// Candidates for each table a SELECT, UPDATE or DELETE filters, joins or sorts.
pub fn sql_candidates(sql: &str, engine: Engine) -> Vec<Candidate> {
    let dialect: Box<dyn Dialect> = match engine {
        Engine::Postgres => Box::new(PostgreSqlDialect {}),
        Engine::Mysql => Box::new(MySqlDialect {}),
        _ => Box::new(SQLiteDialect {}),
    };
    let Ok(statements) = Parser::parse_sql(dialect.as_ref(), sql) else { return vec![] };
    let Some(statement) = statements.first() else { return vec![] };

    // Which table each name or alias stands for.
    let mut tables: BTreeMap<String, String> = BTreeMap::new();
    let mut order_by: Vec<Expr> = Vec::new();
    let add_factor = |factor: &TableFactor, tables: &mut BTreeMap<String, String>| {
        if let TableFactor::Table { name, alias, .. } = factor {
            let table = name.0.last().and_then(|p| p.as_ident()).map(|i| i.value.clone()).unwrap_or_default();
            tables.insert(table.clone(), table.clone());
            if let Some(a) = alias {
                tables.insert(a.name.value.clone(), table);
            }
        }
    };
    match statement {
        Statement::Query(q) => {
            if let SetExpr::Select(select) = q.body.as_ref() {
                for from in &select.from {
                    add_factor(&from.relation, &mut tables);
                    for join in &from.joins {
                        add_factor(&join.relation, &mut tables);
                    }
                }
                // Grouping reads rows in key order when an index has it, like ORDER BY.
                if let GroupByExpr::Expressions(exprs, _) = &select.group_by {
                    order_by.extend(exprs.iter().cloned());
                }
            }
            if let Some(ob) = &q.order_by
                && let OrderByKind::Expressions(exprs) = &ob.kind
                && order_by.is_empty()
            {
                order_by = exprs.iter().map(|o| o.expr.clone()).collect();
            }
        }
        Statement::Update(u) => {
            add_factor(&u.table.relation, &mut tables);
        }
        Statement::Delete(d) => {
            let from = match &d.from {
                sqlparser::ast::FromTable::WithFromKeyword(f) | sqlparser::ast::FromTable::WithoutKeyword(f) => f,
            };
            for t in from {
                add_factor(&t.relation, &mut tables);
            }
        }
        _ => return vec![],
    }
    let only_table = {
        let mut distinct: Vec<&String> = tables.values().collect();
        distinct.dedup();
        (distinct.len() == 1).then(|| distinct[0].clone())
    };
    let column_of = |e: &Expr| -> Option<(String, String)> {
        match e {
            Expr::Identifier(i) => only_table.clone().map(|t| (t, i.value.clone())),
            Expr::CompoundIdentifier(parts) if parts.len() >= 2 => {
                let qualifier = &parts[parts.len() - 2].value;
                tables.get(qualifier).map(|t| (t.clone(), parts[parts.len() - 1].value.clone()))
            }
            _ => None,
        }
    };

    let mut uses: BTreeMap<String, TableUse> = BTreeMap::new();
    let _ = visit_expressions(statement, |e| {
        match e {
            Expr::BinaryOp { left, op, right } => {
                let (l, r) = (column_of(left), column_of(right));
                match (op, l, r) {
                    (BinaryOperator::Eq, Some((lt, lc)), Some((rt, rc))) if lt != rt => {
                        push(&mut uses.entry(lt).or_default().join, &lc);
                        push(&mut uses.entry(rt).or_default().join, &rc);
                    }
                    (BinaryOperator::Eq, Some((t, c)), None)
                        if is_constant(right) || matches!(right.as_ref(), Expr::Value(_)) =>
                    {
                        push(&mut uses.entry(t).or_default().equality, &c);
                    }
                    (BinaryOperator::Eq, None, Some((t, c))) if is_constant(left) => {
                        push(&mut uses.entry(t).or_default().equality, &c);
                    }
                    (
                        BinaryOperator::Lt | BinaryOperator::LtEq | BinaryOperator::Gt | BinaryOperator::GtEq,
                        Some((t, c)),
                        None,
                    ) => {
                        push(&mut uses.entry(t).or_default().range, &c);
                    }
                    (
                        BinaryOperator::Lt | BinaryOperator::LtEq | BinaryOperator::Gt | BinaryOperator::GtEq,
                        None,
                        Some((t, c)),
                    ) => {
                        push(&mut uses.entry(t).or_default().range, &c);
                    }
                    _ => {}
                }
            }
            Expr::In { expr, negated: false, .. } => {
                if let Some((t, c)) = column_of(expr) {
                    push(&mut uses.entry(t).or_default().equality, &c);
                }
            }
            Expr::Between { expr, negated: false, .. } => {
                if let Some((t, c)) = column_of(expr) {
                    push(&mut uses.entry(t).or_default().range, &c);
                }
            }
            _ => {}
        }
        ControlFlow::<()>::Continue(())
    });
    for e in &order_by {
        if let Some((t, c)) = column_of(e) {
            push(&mut uses.entry(t).or_default().order, &c);
        }
    }

    let mut out: Vec<Candidate> = Vec::new();
    for (table, u) in uses {
        let mut columns = u.equality.clone();
        let mut reason = Vec::new();
        if !u.equality.is_empty() {
            reason.push(format!("equality on {}", u.equality.join(", ")));
        }
        if let Some(range) = u.range.iter().find(|c| !columns.contains(c)) {
            columns.push(range.clone());
            reason.push(format!("range on {range}"));
        } else if !u.order.is_empty() && u.order.iter().all(|c| !columns.contains(c)) {
            columns.extend(u.order.iter().cloned());
            reason.push(format!("ORDER BY / GROUP BY {}", u.order.join(", ")));
        }
        if !columns.is_empty() {
            out.push(Candidate { table: table.clone(), columns, reason: reason.join(", then ") });
        }
        for j in &u.join {
            let candidate =
                Candidate { table: table.clone(), columns: vec![j.clone()], reason: format!("join on {j}") };
            if !out.iter().any(|c| c.table == candidate.table && c.columns.first() == candidate.columns.first()) {
                out.push(candidate);
            }
        }
    }
    out
}

/// Candidates for a MongoDB find: equality fields, then sort fields, then one range field (the
/// equality-sort-range rule).
pub fn document_candidates(collection: &str, filter: &Value, sort: Option<&Value>) -> Vec<Candidate> {
    let mut equality = Vec::new();
    let mut range = Vec::new();
    fn walk(v: &Value, equality: &mut Vec<String>, range: &mut Vec<String>) {
        for (k, inner) in v.as_object().into_iter().flatten() {
            if k == "$and" {
                inner.as_array().into_iter().flatten().for_each(|i| walk(i, equality, range));
            } else if !k.starts_with('$') {
                let ops: Vec<&String> = inner.as_object().map(|o| o.keys().collect()).unwrap_or_default();
                if ops.iter().any(|o| matches!(o.as_str(), "$gt" | "$gte" | "$lt" | "$lte")) {
                    push(range, k);
                } else if ops.is_empty() || ops.iter().any(|o| matches!(o.as_str(), "$eq" | "$in")) {
                    push(equality, k);
                }
            }
        }
    }
    walk(filter, &mut equality, &mut range);
    let mut columns = equality.clone();
    let mut reason = Vec::new();
    if !equality.is_empty() {
        reason.push(format!("equality on {}", equality.join(", ")));
    }
    if let Some(sort) = sort.and_then(Value::as_object) {
        for k in sort.keys() {
            if !columns.contains(k) {
                columns.push(k.clone());
            }
        }
        if !sort.is_empty() {
            reason.push(format!("sort on {}", sort.keys().cloned().collect::<Vec<_>>().join(", ")));
        }
    }
    if let Some(r) = range.iter().find(|c| !columns.contains(c)) {
        columns.push(r.clone());
        reason.push(format!("range on {r}"));
    }
    if columns.is_empty() {
        return vec![];
    }
    vec![Candidate { table: collection.to_string(), columns, reason: reason.join(", then ") }]
}

/// The statement that creates an index on `columns` of `relation`, in the engine's terms and
/// without blocking writes where the engine can.
pub fn create_index(engine: Engine, relation: &str, columns: &[String]) -> String {
    let name = format!("{}_{}_idx", relation.rsplit('.').next().unwrap_or(relation), columns.join("_"));
    match engine {
        Engine::Postgres => format!("CREATE INDEX CONCURRENTLY {name} ON {relation} ({});", columns.join(", ")),
        Engine::Mysql => {
            format!("CREATE INDEX {name} ON {relation} ({}) ALGORITHM=INPLACE LOCK=NONE;", columns.join(", "))
        }
        Engine::Sqlite => format!("CREATE INDEX {name} ON {relation} ({});", columns.join(", ")),
        Engine::Mongodb => format!(
            "db.{relation}.createIndex({{ {} }})",
            columns.iter().map(|c| format!("\"{c}\": 1")).collect::<Vec<_>>().join(", ")
        ),
    }
}

/// An existing index whose leading columns are the candidate's already serves it.
pub fn covered(candidate: &Candidate, existing: &[Vec<String>]) -> bool {
    existing.iter().any(|index| {
        index.len() >= candidate.columns.len()
            && index.iter().zip(&candidate.columns).all(|(a, b)| a.eq_ignore_ascii_case(b))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cols(c: &[Candidate]) -> Vec<String> {
        c.iter().map(|c| format!("{}({})", c.table, c.columns.join(","))).collect()
    }

    #[test]
    fn equality_then_range_or_order() {
        let c = sql_candidates(
            "select * from orders where customer_id = 42 and placed_at > now() - interval '1 day'",
            Engine::Postgres,
        );
        assert_eq!(cols(&c), ["orders(customer_id,placed_at)"]);
        let c = sql_candidates(
            "select * from orders where status = 'open' order by placed_at desc limit 10",
            Engine::Postgres,
        );
        assert_eq!(cols(&c), ["orders(status,placed_at)"]);
    }

    #[test]
    fn group_by_counts_like_order_by() {
        let c = sql_candidates(
            "select status, count(*) from orders where customer_id = 3 group by status",
            Engine::Postgres,
        );
        assert_eq!(cols(&c), ["orders(customer_id,status)"]);
    }

    #[test]
    fn joins_index_both_sides_by_alias() {
        let c = sql_candidates(
            "select c.email from customers c join orders o on o.customer_id = c.id where c.email = 'a@b.c'",
            Engine::Postgres,
        );
        assert_eq!(cols(&c), ["customers(email)", "customers(id)", "orders(customer_id)"]);
    }

    #[test]
    fn deletes_and_documents() {
        assert_eq!(
            cols(&sql_candidates("delete from orders where customer_id in (1, 2)", Engine::Mysql)),
            ["orders(customer_id)"]
        );
        let c = document_candidates(
            "orders",
            &serde_json::json!({"customer": 7, "at": {"$gte": 5}}),
            Some(&serde_json::json!({"total": -1})),
        );
        assert_eq!(cols(&c), ["orders(customer,total,at)"]);
    }

    #[test]
    fn an_index_with_the_same_leading_columns_covers() {
        let c = Candidate { table: "orders".into(), columns: vec!["customer_id".into()], reason: String::new() };
        assert!(covered(&c, &[vec!["customer_id".into(), "placed_at".into()]]));
        assert!(!covered(&c, &[vec!["placed_at".into(), "customer_id".into()]]));
    }
}
