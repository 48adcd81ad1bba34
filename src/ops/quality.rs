//! dbt-style data-quality checks: SQL built per engine (inside one read-only transaction) or
//! aggregation pipelines on MongoDB. Each check counts failing rows and keeps a few samples.

use std::time::Duration;

use futures::TryStreamExt;
use mongodb::bson::{Bson, Document, doc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::{Dialect, Table, number};
use crate::engine::session::{Access, Session};
use crate::{
    config::Mode,
    engine::{Database, mongo::Mongo},
    error::ToolError,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
// Plain comments: the `check` field's description already lists the kinds for the schema.
pub enum QualityKind {
    // `column` has no NULL (MongoDB: no null or missing field).
    NotNull,
    // No two rows share a non-null `column`.
    Unique,
    // Every non-null `column` is one of `values` (compared as text on SQL engines).
    AcceptedValues,
    // Every non-null `column` exists in `to_table`.`to_column` (referential integrity).
    Relationships,
    // `column` lies within `min` and/or `max` (numbers).
    Range,
    // The row count lies within `min` and/or `max`.
    RowCount,
    // The newest `column` timestamp is at most `max_age_seconds` old.
    Freshness,
    // `sql` is a query returning the failing rows (SQL engines).
    CustomSql,
    // `pipeline` is an aggregation returning the failing documents (MongoDB).
    CustomPipeline,
}

/// One check, as an argument or a `[[checks]]` table of a TOML file.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct QualityCheck {
    /// not_null, unique, accepted_values, relationships, range, row_count, freshness, custom_sql
    /// (SQL engines) or custom_pipeline (MongoDB).
    pub check: QualityKind,
    /// Shown in the result (default: the check, table and column).
    #[serde(default)]
    pub name: Option<String>,
    /// The table (`schema.table` on PostgreSQL) or collection. Not used by custom_sql.
    #[serde(default)]
    pub table: Option<String>,
    /// The column or field checked (not_null, unique, accepted_values, relationships, range, freshness).
    #[serde(default)]
    pub column: Option<String>,
    /// accepted_values: the allowed values.
    #[serde(default)]
    pub values: Option<Vec<Value>>,
    /// relationships: the referenced table or collection.
    #[serde(default)]
    pub to_table: Option<String>,
    /// relationships: the referenced column (default: the same name as `column`).
    #[serde(default)]
    pub to_column: Option<String>,
    /// range: lowest allowed value; row_count: fewest rows.
    #[serde(default)]
    pub min: Option<f64>,
    /// range: highest allowed value; row_count: most rows.
    #[serde(default)]
    pub max: Option<f64>,
    /// freshness: the newest value may be at most this many seconds old.
    #[serde(default)]
    pub max_age_seconds: Option<f64>,
    /// custom_sql: one query returning the rows that fail.
    #[serde(default)]
    pub sql: Option<String>,
    /// custom_pipeline: an aggregation pipeline on `table` returning the documents that fail.
    #[serde(default)]
    pub pipeline: Option<Vec<Value>>,
}

#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct QualityResult {
    pub name: String,
    pub check: QualityKind,
    pub passed: bool,
    /// Rows (documents) that fail; absent for row_count and freshness.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failing: Option<u64>,
    /// Rows examined.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub total: Option<u64>,
    /// Share of examined rows that pass, 0 to 1.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pass_rate: Option<f64>,
    /// row_count: the count; freshness: the newest value's age in seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub observed: Option<Value>,
    pub detail: String,
    /// A few failing rows (secret-named fields masked; every value redacted on output).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub samples: Vec<Value>,
}

impl QualityCheck {
    /// A check of `kind` on `table`.`column`, every other field unset.
    pub fn on(kind: QualityKind, table: Option<String>, column: Option<String>) -> Self {
        QualityCheck {
            check: kind,
            name: None,
            table,
            column,
            values: None,
            to_table: None,
            to_column: None,
            min: None,
            max: None,
            max_age_seconds: None,
            sql: None,
            pipeline: None,
        }
    }

    fn label(&self) -> String {
        if let Some(n) = &self.name {
            return n.clone();
        }
        let kind = serde_json::to_value(self.check).ok().and_then(|v| v.as_str().map(str::to_string));
        let mut label = kind.unwrap_or_default();
        if let Some(t) = &self.table {
            label.push(' ');
            label.push_str(t);
            if let Some(c) = &self.column {
                label.push('.');
                label.push_str(c);
            }
        }
        label
    }

    fn need<'a, T>(&self, i: usize, field: &str, v: &'a Option<T>) -> Result<&'a T, ToolError> {
        v.as_ref().ok_or_else(|| {
            ToolError::invalid(&format!("checks[{i}].{field}"), format!("the {} check needs `{field}`", self.label()))
        })
    }

    fn bounds(&self, i: usize) -> Result<(), ToolError> {
        if self.min.is_none() && self.max.is_none() {
            return Err(ToolError::invalid(&format!("checks[{i}]"), "give `min`, `max` or both"));
        }
        if [self.min, self.max].into_iter().flatten().any(|b| !b.is_finite()) {
            return Err(ToolError::invalid(&format!("checks[{i}]"), "`min` and `max` must be finite numbers"));
        }
        Ok(())
    }
}

/// The statements of one SQL check.
#[derive(Default)]
struct Planned {
    /// Rows examined.
    total: Option<String>,
    /// Number of failing rows.
    failing: Option<String>,
    /// A few failing rows (or groups).
    samples: Option<String>,
    /// The observed value (row count, age).
    observed: Option<String>,
    binds: Vec<Value>,
}

/// Run the checks; nothing they run can write (a read-only transaction, rolled back).
pub async fn data_quality(
    db: &Database,
    checks: &[QualityCheck],
    samples: usize,
) -> Result<Vec<QualityResult>, ToolError> {
    let t = db.config.statement_timeout_ms;
    if let Ok(m) = db.mongo().await {
        let mut out = Vec::new();
        let existing = m.db.list_collection_names().await.map_err(|e| m.error(e, t))?;
        for (i, check) in checks.iter().enumerate() {
            out.push(mongo_check(m, &existing, i, check, samples, t).await?);
        }
        return Ok(out);
    }
    let dialect = crate::ops::dialect(db).ok_or_else(|| db.needs_sql("data-quality"))?;
    // Plan every check first: a bad argument fails the call before anything runs.
    let mut planned = Vec::new();
    for (i, check) in checks.iter().enumerate() {
        planned.push(plan(db, dialect, i, check, samples).await?);
    }
    // The server's own checks read as the login (row level security must not hide rows from
    // a count); the model's custom_sql runs as the least-privilege reader. Both read-only.
    let mut catalog: Option<Session<'_>> = None;
    let mut reader: Option<Session<'_>> = None;
    let mut out = Vec::new();
    for (check, plan) in checks.iter().zip(planned) {
        let slot = if check.check == QualityKind::CustomSql { &mut reader } else { &mut catalog };
        let session = match slot {
            Some(s) => s,
            None => slot.insert(
                db.session(if check.check == QualityKind::CustomSql { Access::Reader } else { Access::Catalog }, t)
                    .await?,
            ),
        };
        match evaluate(session, check, plan).await {
            Ok(r) => out.push(r),
            Err(e) => {
                return Err(match e {
                    ToolError::Database { code, message, hint } => ToolError::Database {
                        code,
                        message: format!("check {:?}: {message}", check.label()),
                        hint: hint.or_else(|| Some("fix or drop that check and run the others again".into())),
                    },
                    other => other,
                });
            }
        }
    }
    catalog.into_iter().chain(reader).for_each(Session::close);
    Ok(out)
}

async fn plan(db: &Database, d: Dialect, i: usize, check: &QualityCheck, samples: usize) -> Result<Planned, ToolError> {
    let arg = |field: &str| format!("checks[{i}].{field}");
    if check.check == QualityKind::CustomPipeline {
        return Err(ToolError::invalid(
            &arg("check"),
            "custom_pipeline runs on MongoDB; on a SQL database use custom_sql with a query returning the failing rows",
        ));
    }
    if check.check == QualityKind::CustomSql {
        let sql = check.need(i, "sql", &check.sql)?.trim().trim_end_matches(';').trim();
        let checked = crate::sql::check(sql, db.config.engine, Mode::ReadOnly, samples.max(1))?;
        if checked.kind != crate::sql::StatementKind::Query {
            return Err(ToolError::refused(
                "custom_sql must be a query (SELECT or WITH ... SELECT) returning the failing rows",
                "rewrite the check as a SELECT of the rows that break the rule",
            ));
        }
        return Ok(Planned {
            // On lines of its own: a trailing `--` comment cannot swallow the closing parenthesis.
            failing: Some(format!("SELECT count(*) AS n FROM (\n{sql}\n) AS failing_rows")),
            samples: Some(format!("SELECT * FROM (\n{sql}\n) AS failing_rows LIMIT {samples}")),
            ..Planned::default()
        });
    }
    let table = crate::ops::resolve_table(db, &arg("table"), check.need(i, "table", &check.table)?).await?;
    let from = format!("{} AS t", d.table(&table));
    let total = Some(format!("SELECT count(*) AS n FROM {from}"));
    let column = |table: &Table| -> Result<String, ToolError> {
        let c = table.column(&arg("column"), check.need(i, "column", &check.column)?)?;
        Ok(format!("t.{}", d.ident(&c)))
    };
    // Rows failing `condition`: counted, and a few shown.
    let failing_where = |condition: String, binds: Vec<Value>| Planned {
        total: total.clone(),
        failing: Some(format!("SELECT count(*) AS n FROM {from} WHERE {condition}")),
        samples: Some(format!("SELECT t.* FROM {from} WHERE {condition} LIMIT {samples}")),
        observed: None,
        binds,
    };
    Ok(match check.check {
        QualityKind::NotNull => failing_where(format!("{} IS NULL", column(&table)?), vec![]),
        QualityKind::Unique => {
            let c = column(&table)?;
            let name = d.ident(&table.column(&arg("column"), check.column.as_deref().unwrap_or_default())?);
            let groups = format!("FROM {from} WHERE {c} IS NOT NULL GROUP BY {c} HAVING count(*) > 1");
            Planned {
                total: total.clone(),
                failing: Some(format!("SELECT COALESCE(SUM(n), 0) AS n FROM (SELECT count(*) AS n {groups}) AS dup")),
                samples: Some(format!(
                    "SELECT {c} AS {name}, count(*) AS occurrences {groups} ORDER BY count(*) DESC LIMIT {samples}"
                )),
                ..Planned::default()
            }
        }
        QualityKind::AcceptedValues => {
            let c = column(&table)?;
            let values = check.need(i, "values", &check.values)?;
            if values.is_empty() {
                return Err(ToolError::invalid(&arg("values"), "list at least one accepted value"));
            }
            let binds: Vec<Value> = values
                .iter()
                .map(|v| match v {
                    Value::String(s) => Ok(Value::String(s.clone())),
                    Value::Number(_) | Value::Bool(_) => Ok(Value::String(v.to_string())),
                    _ => Err(ToolError::invalid(&arg("values"), "values are strings, numbers or booleans")),
                })
                .collect::<Result<_, _>>()?;
            let list: Vec<String> = (1..=binds.len()).map(|n| d.placeholder(n)).collect();
            failing_where(format!("{c} IS NOT NULL AND {} NOT IN ({})", d.as_text(&c), list.join(", ")), binds)
        }
        QualityKind::Relationships => {
            let c = column(&table)?;
            let parent =
                crate::ops::resolve_table(db, &arg("to_table"), check.need(i, "to_table", &check.to_table)?).await?;
            let wanted = check.to_column.as_deref().or(check.column.as_deref()).unwrap_or_default();
            let pc = d.ident(&parent.column(&arg("to_column"), wanted)?);
            failing_where(
                format!("{c} IS NOT NULL AND NOT EXISTS (SELECT 1 FROM {} AS p WHERE p.{pc} = {c})", d.table(&parent)),
                vec![],
            )
        }
        QualityKind::Range => {
            check.bounds(i)?;
            let c = column(&table)?;
            // Finite f64s print as plain decimal literals: safe to write into the statement.
            let mut outside = Vec::new();
            if let Some(min) = check.min {
                outside.push(format!("{c} < {min}"));
            }
            if let Some(max) = check.max {
                outside.push(format!("{c} > {max}"));
            }
            failing_where(format!("({})", outside.join(" OR ")), vec![])
        }
        QualityKind::RowCount => {
            check.bounds(i)?;
            Planned { observed: total.clone(), ..Planned::default() }
        }
        QualityKind::Freshness => {
            let max_age = *check.need(i, "max_age_seconds", &check.max_age_seconds)?;
            if !max_age.is_finite() || max_age < 0.0 {
                return Err(ToolError::invalid(&arg("max_age_seconds"), "a number of seconds, 0 or more"));
            }
            let c = column(&table)?;
            Planned {
                observed: Some(format!("SELECT {} AS age FROM {from}", d.age_seconds(&format!("MAX({c})")))),
                ..Planned::default()
            }
        }
        QualityKind::CustomSql | QualityKind::CustomPipeline => unreachable!("handled above"),
    })
}

async fn evaluate(conn: &mut Session<'_>, check: &QualityCheck, plan: Planned) -> Result<QualityResult, ToolError> {
    let count = |v: Value| number(&v).map(|n| n.max(0.0) as u64);
    let total = match plan.total {
        Some(sql) => count(conn.scalar(sql, &[]).await?),
        None => None,
    };
    let failing = match plan.failing {
        Some(sql) => count(conn.scalar(sql, &plan.binds).await?),
        None => None,
    };
    let observed = match plan.observed {
        Some(sql) => Some(conn.scalar(sql, &[]).await?),
        None => None,
    };
    let samples = match (plan.samples, failing) {
        (Some(sql), Some(n)) if n > 0 => conn.rows(sql, &plan.binds).await?,
        _ => vec![],
    };
    Ok(judge(check, total, failing, observed, samples))
}

/// Pass or fail from the counts (shared by every engine).
fn judge(
    check: &QualityCheck,
    total: Option<u64>,
    failing: Option<u64>,
    observed: Option<Value>,
    samples: Vec<Value>,
) -> QualityResult {
    let within = |n: f64| check.min.is_none_or(|m| n >= m) && check.max.is_none_or(|m| n <= m);
    let bounds = || match (check.min, check.max) {
        (Some(a), Some(b)) => format!("between {a} and {b}"),
        (Some(a), None) => format!("at least {a}"),
        (None, Some(b)) => format!("at most {b}"),
        (None, None) => String::new(),
    };
    let (passed, detail) = match check.check {
        QualityKind::RowCount => {
            let n = observed.as_ref().and_then(number).unwrap_or(0.0);
            (within(n), format!("{n} rows; expected {}", bounds()))
        }
        QualityKind::Freshness => {
            let max = check.max_age_seconds.unwrap_or(0.0);
            match observed.as_ref().and_then(number) {
                Some(age) => (age <= max, format!("newest value is {:.0} s old; allowed {max} s", age.max(0.0))),
                None => (false, "no value to judge: the table is empty or the column is all NULL".into()),
            }
        }
        _ => {
            let n = failing.unwrap_or(0);
            let what = match check.check {
                QualityKind::Unique => "rows share a value with another row",
                QualityKind::NotNull => "rows are NULL",
                QualityKind::AcceptedValues => "rows hold a value outside the accepted list",
                QualityKind::Relationships => "rows reference a missing parent",
                QualityKind::Range => "rows are outside the range",
                _ => "rows returned by the check",
            };
            (n == 0, format!("{n} {what}"))
        }
    };
    let pass_rate = match (total, failing) {
        (Some(0), Some(_)) => Some(1.0),
        (Some(t), Some(f)) => Some(((t.saturating_sub(f)) as f64 / t as f64 * 10_000.0).round() / 10_000.0),
        _ => None,
    };
    QualityResult {
        name: check.label(),
        check: check.check,
        passed,
        failing,
        total,
        pass_rate,
        observed,
        detail,
        samples,
    }
}

/// A field name for MongoDB: a `$` prefix would turn it into an operator or expression.
fn field(i: usize, argument: &str, name: Option<&String>) -> Result<String, ToolError> {
    let arg = format!("checks[{i}].{argument}");
    let name = name.ok_or_else(|| ToolError::invalid(&arg, "a field name is required"))?;
    if name.is_empty() || name.starts_with('$') || name.contains('\0') {
        return Err(ToolError::invalid(&arg, "a field name (dotted paths allowed), not starting with $"));
    }
    Ok(name.clone())
}

fn collection<'a>(
    existing: &[String],
    i: usize,
    argument: &str,
    name: Option<&'a String>,
) -> Result<&'a str, ToolError> {
    let arg = format!("checks[{i}].{argument}");
    let name = name.ok_or_else(|| ToolError::invalid(&arg, "a collection name is required"))?;
    if !existing.iter().any(|c| c == name) {
        return Err(ToolError::invalid(&arg, format!("no collection named {name:?}; list-objects shows what exists")));
    }
    Ok(name)
}

fn to_bson(arg: &str, v: &Value) -> Result<Bson, ToolError> {
    Bson::try_from(v.clone()).map_err(|e| ToolError::invalid(arg, format!("not representable in BSON: {e}")))
}

async fn mongo_check(
    m: &Mongo,
    existing: &[String],
    i: usize,
    check: &QualityCheck,
    samples: usize,
    timeout_ms: u64,
) -> Result<QualityResult, ToolError> {
    let map_err = |e| m.error(e, timeout_ms);
    let max_time = Duration::from_millis(timeout_ms);
    if check.check == QualityKind::CustomSql {
        return Err(ToolError::invalid(
            &format!("checks[{i}].check"),
            "custom_sql needs a SQL database; on MongoDB use custom_pipeline with a pipeline returning the failing documents",
        ));
    }
    let name = collection(existing, i, "table", check.table.as_ref())?;
    let coll = m.db.collection::<Document>(name);
    let total = coll.count_documents(doc! {}).max_time(max_time).await.map_err(map_err)?;
    // Failing documents as a pipeline: counted with $count, sampled with $limit.
    let failing_pipeline: Option<Vec<Document>> = match check.check {
        QualityKind::NotNull => {
            Some(vec![doc! { "$match": { field(i, "column", check.column.as_ref())?: Bson::Null } }])
        }
        QualityKind::AcceptedValues => {
            let values = check.need(i, "values", &check.values)?;
            let arg = format!("checks[{i}].values");
            let list: Vec<Bson> = values.iter().map(|v| to_bson(&arg, v)).collect::<Result<_, _>>()?;
            let f = field(i, "column", check.column.as_ref())?;
            Some(vec![doc! { "$match": { f: { "$ne": Bson::Null, "$nin": list } } }])
        }
        QualityKind::Range => {
            check.bounds(i)?;
            let f = field(i, "column", check.column.as_ref())?;
            let mut outside = Vec::new();
            if let Some(min) = check.min {
                outside.push(Bson::Document(doc! { f.clone(): { "$lt": min } }));
            }
            if let Some(max) = check.max {
                outside.push(Bson::Document(doc! { f.clone(): { "$gt": max } }));
            }
            Some(vec![doc! { "$match": { "$or": outside } }])
        }
        QualityKind::Unique => {
            let f = field(i, "column", check.column.as_ref())?;
            Some(vec![
                doc! { "$match": { f.clone(): { "$ne": Bson::Null } } },
                doc! { "$group": { "_id": format!("${f}"), "occurrences": { "$sum": 1 } } },
                doc! { "$match": { "occurrences": { "$gt": 1 } } },
                doc! { "$sort": { "occurrences": -1 } },
            ])
        }
        QualityKind::Relationships => {
            let f = field(i, "column", check.column.as_ref())?;
            let parent = collection(existing, i, "to_table", check.to_table.as_ref())?;
            let pf = field(i, "to_column", check.to_column.as_ref().or(check.column.as_ref()))?;
            Some(vec![
                doc! { "$match": { f.clone(): { "$ne": Bson::Null } } },
                doc! { "$lookup": { "from": parent, "localField": f, "foreignField": pf, "as": "__parents" } },
                doc! { "$match": { "__parents": { "$size": 0 } } },
                doc! { "$project": { "__parents": 0 } },
            ])
        }
        QualityKind::CustomPipeline => {
            let arg = format!("checks[{i}].pipeline");
            let stages = check.need(i, "pipeline", &check.pipeline)?;
            let pipeline: Vec<Document> = stages
                .iter()
                .map(|s| match to_bson(&arg, s)? {
                    Bson::Document(d) => Ok(d),
                    _ => Err(ToolError::invalid(&arg, "each stage is an object")),
                })
                .collect::<Result<_, _>>()?;
            Some(pipeline)
        }
        QualityKind::RowCount | QualityKind::Freshness => None,
        QualityKind::CustomSql => unreachable!("refused above"),
    };
    if let Some(pipeline) = failing_pipeline {
        use crate::engine::mongo::{Screen, Writes, request_parts, screen};
        // Whatever the database's mode: data-quality only reads, and runs no JavaScript.
        let writes = Writes::ReadingTool {
            tool: "data-quality",
            next: "remove the writing stage (also one nested in $facet, $lookup or $unionWith): the pipeline should \
                   return the failing documents",
        };
        screen(
            &request_parts(&Document::new(), None, None, &pipeline),
            Screen { writes: Some(writes), javascript: true },
        )?;
        let counted: Vec<Document> = pipeline.iter().cloned().chain([doc! { "$count": "n" }]).collect();
        let first =
            coll.aggregate(counted).max_time(max_time).await.map_err(map_err)?.try_next().await.map_err(map_err)?;
        let groups = first.as_ref().and_then(|d| d.get("n")).and_then(super::bson_number).unwrap_or(0.0) as u64;
        let mut sampled = Vec::new();
        if groups > 0 {
            let limited: Vec<Document> = pipeline.iter().cloned().chain([doc! { "$limit": samples as i64 }]).collect();
            let mut cursor = coll.aggregate(limited).max_time(max_time).await.map_err(map_err)?;
            while let Some(d) = cursor.try_next().await.map_err(map_err)? {
                sampled.push(Bson::Document(d).into_relaxed_extjson());
            }
        }
        // Duplicate groups count every row in them, like the SQL check.
        let failing = if check.check == QualityKind::Unique {
            let summed: Vec<Document> = pipeline
                .iter()
                .cloned()
                .chain([doc! { "$group": { "_id": Bson::Null, "n": { "$sum": "$occurrences" } } }])
                .collect();
            let first =
                coll.aggregate(summed).max_time(max_time).await.map_err(map_err)?.try_next().await.map_err(map_err)?;
            first.as_ref().and_then(|d| d.get("n")).and_then(super::bson_number).unwrap_or(0.0) as u64
        } else {
            groups
        };
        let total = (check.check != QualityKind::CustomPipeline).then_some(total);
        return Ok(judge(check, total, Some(failing), None, sampled));
    }
    let observed = match check.check {
        QualityKind::RowCount => {
            check.bounds(i)?;
            json!(total)
        }
        _ => {
            check.need(i, "max_age_seconds", &check.max_age_seconds)?;
            let f = field(i, "column", check.column.as_ref())?;
            let newest = coll
                .aggregate(vec![doc! { "$group": { "_id": Bson::Null, "newest": { "$max": format!("${f}") } } }])
                .max_time(max_time)
                .await
                .map_err(map_err)?
                .try_next()
                .await
                .map_err(map_err)?;
            match newest.as_ref().and_then(|d| d.get("newest")) {
                Some(Bson::DateTime(t)) => {
                    let age_ms = mongodb::bson::DateTime::now().timestamp_millis() - t.timestamp_millis();
                    json!(age_ms as f64 / 1000.0)
                }
                None | Some(Bson::Null) => Value::Null,
                Some(other) => {
                    return Err(ToolError::invalid(
                        &format!("checks[{i}].column"),
                        format!("freshness needs a date field; {f} holds {:?}", other.element_type()),
                    ));
                }
            }
        }
    };
    Ok(judge(check, None, None, Some(observed).filter(|v| !v.is_null()), vec![]))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(kind: QualityKind) -> QualityCheck {
        QualityCheck::on(kind, Some("t".into()), Some("c".into()))
    }

    #[test]
    fn counts_decide_pass_and_rate() {
        let r = judge(&check(QualityKind::NotNull), Some(4), Some(1), None, vec![]);
        assert!(!r.passed);
        assert_eq!(r.pass_rate, Some(0.75));
        assert_eq!(r.name, "not_null t.c");
        let ok = judge(&check(QualityKind::NotNull), Some(0), Some(0), None, vec![]);
        assert!(ok.passed && ok.pass_rate == Some(1.0));
    }

    #[test]
    fn row_count_and_freshness_judge_the_observed_value() {
        let mut c = check(QualityKind::RowCount);
        c.min = Some(2.0);
        assert!(judge(&c, None, None, Some(json!(2)), vec![]).passed);
        assert!(!judge(&c, None, None, Some(json!(1)), vec![]).passed);
        let mut f = check(QualityKind::Freshness);
        f.max_age_seconds = Some(60.0);
        assert!(judge(&f, None, None, Some(json!(10.5)), vec![]).passed);
        assert!(!judge(&f, None, None, Some(json!(61)), vec![]).passed);
        assert!(!judge(&f, None, None, None, vec![]).passed, "no rows is not fresh");
    }

    #[test]
    fn checks_read_from_toml() {
        #[derive(Deserialize)]
        struct File {
            checks: Vec<QualityCheck>,
        }
        let f: File = toml::from_str(
            "[[checks]]\ncheck = \"range\"\ntable = \"t\"\ncolumn = \"c\"\nmin = 0\nmax = 9.5\n\
             [[checks]]\ncheck = \"accepted_values\"\ntable = \"t\"\ncolumn = \"s\"\nvalues = [\"a\", 1]\n",
        )
        .unwrap();
        assert_eq!(f.checks[0].min, Some(0.0));
        assert_eq!(f.checks[1].values.as_ref().unwrap().len(), 2);
    }
}
