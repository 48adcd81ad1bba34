//! Index candidates read off a statement: equality predicates first, then one range or the
//! ORDER BY, per table; join columns on their own. Engine-neutral; costing happens elsewhere.

use std::{collections::BTreeMap, ops::ControlFlow};

use serde::Serialize;
use serde_json::Value;
use sqlparser::ast::{
    BinaryOperator, Expr, GroupByExpr, OrderByKind, SetExpr, Statement, TableFactor, Value as SqlValue,
    visit_expressions,
};

use crate::config::Engine;

/// An index worth trying.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    pub table: String,
    pub columns: Vec<String>,
    /// Why these columns, in words.
    pub reason: String,
    /// Constants the statement compares equality columns with (`status = 'open'`), as SQL text.
    pub literals: Vec<(String, String)>,
    /// A predicate for a partial index (`status = 'open'`), when one fits better than a column.
    pub partial: Option<String>,
}

#[derive(Default)]
struct TableUse {
    literals: Vec<(String, String)>,
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
    let Ok(statements) = crate::sql::parse(sql, engine) else { return vec![] };
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
                        let used = uses.entry(t).or_default();
                        if let Expr::Value(v) = right.as_ref()
                            && !matches!(v.value, SqlValue::Placeholder(_))
                        {
                            used.literals.push((c.clone(), right.to_string()));
                        }
                        push(&mut used.equality, &c);
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
            out.push(Candidate {
                table: table.clone(),
                columns,
                reason: reason.join(", then "),
                literals: u.literals.clone(),
                partial: None,
            });
        }
        for j in &u.join {
            let candidate = Candidate {
                table: table.clone(),
                columns: vec![j.clone()],
                reason: format!("join on {j}"),
                literals: vec![],
                partial: None,
            };
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
    vec![Candidate {
        table: collection.to_string(),
        columns,
        reason: reason.join(", then "),
        literals: vec![],
        partial: None,
    }]
}

/// The statement that creates an index on `columns` of `relation`, in the engine's terms and
/// without blocking writes where the engine can.
pub fn create_index(engine: Engine, relation: &str, columns: &[String]) -> String {
    create_partial_index(engine, relation, columns, None)
}

/// As [`create_index`], limited to the rows matching `partial` where the engine has partial
/// indexes (PostgreSQL, SQLite).
pub fn create_partial_index(engine: Engine, relation: &str, columns: &[String], partial: Option<&str>) -> String {
    let name = format!(
        "{}_{}{}_idx",
        relation.rsplit('.').next().unwrap_or(relation),
        columns.join("_"),
        if partial.is_some() { "_partial" } else { "" }
    );
    let filter = partial.map(|p| format!(" WHERE {p}")).unwrap_or_default();
    match engine {
        Engine::Postgres => format!("CREATE INDEX CONCURRENTLY {name} ON {relation} ({}){filter};", columns.join(", ")),
        Engine::Mysql => {
            format!("CREATE INDEX {name} ON {relation} ({}) ALGORITHM=INPLACE LOCK=NONE;", columns.join(", "))
        }
        Engine::Sqlite => format!("CREATE INDEX {name} ON {relation} ({}){filter};", columns.join(", ")),
        Engine::Mongodb => format!(
            "db.{relation}.createIndex({{ {} }})",
            columns.iter().map(|c| format!("\"{c}\": 1")).collect::<Vec<_>>().join(", ")
        ),
    }
}

/// The statement that drops an index, in the engine's terms and without blocking where the engine
/// can. Names are quoted where they need it, so a mixed-case or odd name still works when pasted.
pub fn drop_index(engine: Engine, schema: &str, table: &str, index: &str) -> String {
    let plain = |n: &str| {
        n.chars().next().is_some_and(|c| c.is_ascii_lowercase() || c == '_')
            && n.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
    };
    let dq = |n: &str| if plain(n) { n.to_string() } else { crate::engine::double_quote(n) };
    let bt = |n: &str| if plain(n) { n.to_string() } else { crate::engine::backtick(n) };
    match engine {
        Engine::Postgres => format!("DROP INDEX CONCURRENTLY {}.{};", dq(schema), dq(index)),
        Engine::Mysql => format!("ALTER TABLE {} DROP INDEX {}, ALGORITHM=INPLACE, LOCK=NONE;", bt(table), bt(index)),
        Engine::Sqlite => format!("DROP INDEX {};", dq(index)),
        Engine::Mongodb => format!("db.getCollection({}).dropIndex({})", Value::from(table), Value::from(index)),
    }
}

#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct IndexProblem {
    /// unused, duplicate or fk-without-index.
    pub kind: String,
    pub table: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub index: Option<String>,
    pub detail: String,
    /// What to run about it (through a migration).
    pub statement: String,
}

pub fn problems_from(v: &Value, engine: Engine) -> Vec<IndexProblem> {
    let s = |o: &Value, k: &str| o[k].as_str().unwrap_or("?").to_string();
    let drop = |o: &Value| drop_index(engine, &s(o, "schema"), &s(o, "table"), &s(o, "index"));
    let mut out = Vec::new();
    for u in v["unused"].as_array().into_iter().flatten() {
        out.push(IndexProblem {
            kind: "unused".into(),
            table: s(u, "table"),
            index: Some(s(u, "index")),
            detail: match u["bytes"].as_i64() {
                Some(bytes) => {
                    format!("never scanned since statistics were reset; {bytes} bytes kept up to date on every write")
                }
                None => "never used since the server started; still kept up to date on every write".to_string(),
            },
            statement: drop(u),
        });
    }
    for d in v["duplicates"].as_array().into_iter().flatten() {
        out.push(IndexProblem {
            kind: "duplicate".into(),
            table: s(d, "table"),
            index: Some(s(d, "index")),
            detail: format!("{} leads with the same columns and serves every lookup this one does", s(d, "same_as")),
            statement: drop(d),
        });
    }
    for f in v["fk_without_index"].as_array().into_iter().flatten() {
        let columns: Vec<String> =
            f["columns"].as_array().into_iter().flatten().filter_map(Value::as_str).map(str::to_string).collect();
        out.push(IndexProblem {
            kind: "fk-without-index".into(),
            table: s(f, "table"),
            index: None,
            detail: format!(
                "foreign key {} ({}) to {} has no index: joins and every delete or key update on {} scan {}",
                s(f, "constraint"),
                columns.join(", "),
                s(f, "references"),
                s(f, "references"),
                s(f, "table")
            ),
            statement: create_index(engine, &s(f, "table"), &columns),
        });
    }
    out
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

    #[test]
    fn dropped_index_names_are_quoted_where_they_need_it() {
        assert_eq!(drop_index(Engine::Postgres, "public", "t", "t_a_idx"), "DROP INDEX CONCURRENTLY public.t_a_idx;");
        assert_eq!(
            drop_index(Engine::Postgres, "Sales", "t", "Orders\"Idx"),
            "DROP INDEX CONCURRENTLY \"Sales\".\"Orders\"\"Idx\";"
        );
        assert_eq!(
            drop_index(Engine::Mysql, "", "Order Items", "ix"),
            "ALTER TABLE `Order Items` DROP INDEX ix, ALGORITHM=INPLACE, LOCK=NONE;"
        );
        assert_eq!(drop_index(Engine::Sqlite, "", "t", "2ix"), "DROP INDEX \"2ix\";");
        assert_eq!(drop_index(Engine::Mongodb, "", "a\"b", "k_1"), "db.getCollection(\"a\\\"b\").dropIndex(\"k_1\")");
    }

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
        let c = Candidate {
            table: "orders".into(),
            columns: vec!["customer_id".into()],
            reason: String::new(),
            literals: vec![],
            partial: None,
        };
        assert!(covered(&c, &[vec!["customer_id".into(), "placed_at".into()]]));
        assert!(!covered(&c, &[vec!["placed_at".into(), "customer_id".into()]]));
    }
}

/// What the planner's statistics say about one column.
#[derive(Debug, Clone)]
pub struct ColumnStats {
    pub column: String,
    /// Distinct values: positive is a count, negative a fraction of the rows (PostgreSQL's n_distinct).
    pub n_distinct: f64,
    /// The most common values (as SQL literals' text) and their frequencies.
    pub common: Vec<(String, f64)>,
}

/// Reorder equality columns by selectivity (most distinct first), and turn an equality on a
/// low-cardinality column compared with a rare value into a partial index.
pub fn refine(candidate: &mut Candidate, stats: &[ColumnStats], rows: f64) {
    let distinct = |c: &str| {
        stats
            .iter()
            .find(|s| s.column == *c)
            .map(|s| if s.n_distinct < 0.0 { -s.n_distinct * rows.max(1.0) } else { s.n_distinct })
    };
    let equality: Vec<String> = candidate.literals.iter().map(|(c, _)| c.clone()).collect();
    let n_eq = candidate.columns.iter().take_while(|c| equality.contains(c)).count();
    let (head, tail) = candidate.columns.split_at(n_eq);
    let mut head = head.to_vec();
    head.sort_by(|a, b| distinct(b).unwrap_or(f64::MAX).total_cmp(&distinct(a).unwrap_or(f64::MAX)));
    let tail = tail.to_vec();
    for (column, literal) in &candidate.literals {
        let Some(stat) = stats.iter().find(|s| s.column == *column) else { continue };
        let few_values = distinct(column).is_some_and(|d| d <= 10.0);
        let bare = literal.trim_matches('\'');
        let share = stat.common.iter().find(|(v, _)| v == bare).map(|(_, f)| *f);
        if few_values && share.is_some_and(|f| f < 0.1) && candidate.partial.is_none() {
            candidate.partial = Some(format!("{column} = {literal}"));
            candidate.reason.push_str(&format!(
                "; {column} has {} distinct values and {literal} is {:.1}% of rows: a partial index on those rows",
                distinct(column).unwrap_or(0.0),
                share.unwrap_or(0.0) * 100.0
            ));
            head.retain(|c| c != column);
        }
    }
    let mut columns = head;
    columns.extend(tail);
    if columns.is_empty()
        && let Some((column, _)) = candidate.literals.first()
    {
        columns.push(column.clone());
    }
    candidate.columns = columns;
}

#[cfg(test)]
mod refine_tests {
    use super::*;

    #[test]
    fn rare_value_of_a_few_valued_column_becomes_a_partial_index() {
        let mut c = sql_candidates(
            "select * from orders where status = 'open' and customer_id = 4 order by placed_at",
            Engine::Postgres,
        )
        .remove(0);
        let stats = vec![
            ColumnStats {
                column: "status".into(),
                n_distinct: 2.0,
                common: vec![("done".into(), 0.99), ("open".into(), 0.01)],
            },
            ColumnStats { column: "customer_id".into(), n_distinct: -0.1, common: vec![] },
        ];
        refine(&mut c, &stats, 1_000_000.0);
        assert_eq!(c.columns, ["customer_id", "placed_at"]);
        assert_eq!(c.partial.as_deref(), Some("status = 'open'"));
        assert_eq!(
            create_partial_index(Engine::Postgres, "orders", &c.columns, c.partial.as_deref()),
            "CREATE INDEX CONCURRENTLY orders_customer_id_placed_at_partial_idx ON orders (customer_id, placed_at) WHERE status = 'open';"
        );
    }

    #[test]
    fn common_values_keep_the_column_and_selective_columns_go_first() {
        let mut c = sql_candidates("select * from orders where status = 'done' and customer_id = 4", Engine::Postgres)
            .remove(0);
        let stats = vec![
            ColumnStats { column: "status".into(), n_distinct: 2.0, common: vec![("done".into(), 0.99)] },
            ColumnStats { column: "customer_id".into(), n_distinct: 100_000.0, common: vec![] },
        ];
        refine(&mut c, &stats, 1_000_000.0);
        assert_eq!(c.columns, ["customer_id", "status"]);
        assert!(c.partial.is_none());
    }
}

#[cfg(test)]
mod digest_tests {
    use super::*;

    #[test]
    fn normalized_statement_texts_give_candidates() {
        let mysql = sql_candidates("SELECT COUNT ( * ) FROM `items` WHERE `price` > ? LIMIT ?", Engine::Mysql);
        assert_eq!(mysql.first().map(|c| c.columns.clone()), Some(vec!["price".to_string()]));
        let pg = sql_candidates("SELECT count(*) FROM orders WHERE total > $1 LIMIT $2", Engine::Postgres);
        assert_eq!(pg.first().map(|c| c.columns.clone()), Some(vec!["total".to_string()]));
    }
}
