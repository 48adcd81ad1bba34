//! SQLite's side of the plan tools: EXPLAIN QUERY PLAN rebuilt as a tree, and a timed run.

use std::time::Instant;

use serde_json::json;
use sqlx::AssertSqlSafe;

/// SQLite's query plan, plus (with analyze) a timed run inside a transaction that is always
/// rolled back. SQLite reports no row counts per step, so the run's row count and the scanned
/// table's size stand in for them.
/// The query plan, and with `analyze` a timed run, in the session (a reader's, or a trial that
/// is always rolled back).
pub(crate) async fn explain(
    session: &mut crate::engine::session::Session<'_>,
    call: &super::ExplainCall<'_>,
) -> Result<super::Explained, crate::error::ToolError> {
    use crate::plan::{Access, PlanNode};
    let result = session
        .guard(async |conn, _| {
            let crate::engine::session::Conn::Sqlite(c) = conn else { unreachable!() };
            // Reading the schema table first makes the plan see the current schema: a connection
            // that has not read since another one created an index would plan without it.
            let _: i64 = sqlx::query_scalar("SELECT count(*) FROM sqlite_schema").fetch_one(&mut **c).await?;
            // Columns: id, parent, notused, detail.
            let steps: Vec<(i64, i64, i64, String)> =
                sqlx::query_as(AssertSqlSafe(format!("EXPLAIN QUERY PLAN {}", call.sql)))
                    .persistent(false)
                    .fetch_all(&mut **c)
                    .await?;
            let steps: Vec<(i64, i64, String)> =
                steps.into_iter().map(|(id, parent, _, detail)| (id, parent, detail)).collect();
            let mut measured = None;
            if call.analyze {
                use futures::TryStreamExt as _;
                let started = Instant::now();
                // Count the rows without keeping them: the result can be any size.
                let mut rows = 0_usize;
                let mut affected = 0;
                {
                    #[allow(deprecated)] // one statement, checked by the parser
                    let mut stream =
                        sqlx::query(AssertSqlSafe(call.sql.to_string())).persistent(false).fetch_many(&mut **c);
                    while let Some(item) = stream.try_next().await? {
                        match item {
                            sqlx::Either::Left(done) => affected += done.rows_affected(),
                            sqlx::Either::Right(_) => rows += 1,
                        }
                    }
                }
                measured = Some((started.elapsed().as_secs_f64() * 1000.0, rows as f64, affected));
            }
            Ok((steps, measured))
        })
        .await;
    let (steps, measured) = result?;

    // Rebuild the tree from (id, parent) pairs.
    fn build(steps: &[(i64, i64, String)], parent: i64) -> Vec<PlanNode> {
        steps
            .iter()
            .filter(|(_, p, _)| *p == parent)
            .map(|(id, _, detail)| {
                let words: Vec<&str> = detail.split_whitespace().collect();
                let verb = words.first().copied().unwrap_or("");
                let relation = matches!(verb, "SCAN" | "SEARCH").then(|| words.get(1).map(|w| w.to_string())).flatten();
                let covering = detail.contains("COVERING INDEX");
                let access = match verb {
                    "SCAN" if covering => Some(Access::IndexOnly),
                    "SCAN" => Some(Access::FullScan),
                    "SEARCH" if covering => Some(Access::IndexOnly),
                    "SEARCH" => Some(Access::Index),
                    _ => None,
                };
                let index =
                    detail.split(" INDEX ").nth(1).and_then(|r| r.split_whitespace().next()).map(str::to_string);
                // "SCAN orders USING INDEX x" reads as kind SCAN, relation orders, index x.
                let kind = if relation.is_some() { verb.to_string() } else { detail.clone() };
                PlanNode { kind, access, relation, index, children: build(steps, *id), ..Default::default() }
            })
            .collect()
    }
    let mut root = PlanNode { kind: "QUERY PLAN".into(), children: build(&steps, 0), ..Default::default() };
    let raw = json!(
        steps
            .iter()
            .map(|(id, parent, detail)| json!({"id": id, "parent": parent, "detail": detail}))
            .collect::<Vec<_>>()
    );
    let mut notes =
        vec!["SQLite reports no per-step row counts or times; the run's totals are on the root".to_string()];
    if let Some((ms, rows, _)) = measured {
        root.time_ms = Some((ms * 1000.0).round() / 1000.0);
        root.actual_rows = Some(rows);
        // A lone full scan: its table's size and the statement's filter stand in for the
        // step's own numbers, so plan rules can judge it.
        let scans: Vec<usize> =
            (0..root.children.len()).filter(|i| root.children[*i].access == Some(Access::FullScan)).collect();
        if let ([only], Some(filter)) = (scans.as_slice(), where_clause(call.sql)) {
            let relation = root.children[*only].relation.clone().unwrap_or_default();
            let quoted = crate::engine::double_quote(&relation);
            let size =
                session.scalar(format!("SELECT max(rowid) FROM {quoted}"), &[]).await.ok().and_then(|v| v.as_i64());
            let scan = &mut root.children[*only];
            scan.condition = Some(filter);
            scan.actual_rows = Some(rows);
            scan.examined = size.map(|n| n as f64);
        }
    } else {
        notes.push("not analyzed: the statement was only planned".into());
    }
    Ok(super::Explained { plan: root, raw, planning_ms: None, execution_ms: measured.map(|m| m.0), notes })
}

/// The WHERE clause of a single-table statement, as SQL text.
fn where_clause(sql: &str) -> Option<String> {
    use sqlparser::ast::{SetExpr, Statement};
    let statements = crate::sql::parse(sql, crate::config::Engine::Sqlite).ok()?;
    match statements.first()? {
        Statement::Query(q) => match q.body.as_ref() {
            SetExpr::Select(s) if s.from.len() == 1 && s.from[0].joins.is_empty() => {
                s.selection.as_ref().map(|e| e.to_string())
            }
            _ => None,
        },
        Statement::Delete(d) => d.selection.as_ref().map(|e| e.to_string()),
        Statement::Update(u) => u.selection.as_ref().map(|e| e.to_string()),
        _ => None,
    }
}
