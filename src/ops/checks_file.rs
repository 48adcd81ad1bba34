//! Checks files for data-quality: a TOML or YAML list of checks in the tool's own shape, or a dbt
//! properties file (`models:`, `seeds:`, `snapshots:`, `sources:` with their tests), whose tests
//! are translated into the same checks. A dbt test with no equivalent is listed as skipped, never
//! dropped silently.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::{QualityCheck, QualityKind};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ChecksList {
    checks: Vec<QualityCheck>,
}

/// A dbt test the file declares that this tool does not run, and why.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct SkippedTest {
    /// Where it is declared and what it is, e.g. `orders.status: dbt_utils.not_constant`.
    pub test: String,
    pub reason: String,
}

#[derive(Debug, Default)]
pub struct FileChecks {
    pub checks: Vec<QualityCheck>,
    pub skipped: Vec<SkippedTest>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Toml,
    Yaml,
}

/// The format a file name says; checked before the file is opened, so nothing else is read.
pub fn format(file: &str) -> Result<Format, String> {
    let lower = file.to_ascii_lowercase();
    if lower.ends_with(".toml") {
        Ok(Format::Toml)
    } else if lower.ends_with(".yml") || lower.ends_with(".yaml") {
        Ok(Format::Yaml)
    } else {
        Err(format!("{file}: give a .toml or .yml/.yaml checks file (or a dbt schema.yml)"))
    }
}

/// Parse a checks file; `Err` is a message naming the file and, where known, the line.
pub fn parse(file: &str, text: &str) -> Result<FileChecks, String> {
    if format(file)? == Format::Toml {
        let parsed: ChecksList = toml::from_str(text).map_err(|e| {
            // The message and line only: toml's full report quotes the file's text.
            let line = e.span().map_or(0, |s| text[..s.start.min(text.len())].lines().count().max(1));
            format!("{file} line {line} is not a valid [[checks]] table: {}", e.message().trim())
        })?;
        return Ok(FileChecks { checks: parsed.checks, skipped: vec![] });
    }
    let yaml_error = |e: serde_yaml_ng::Error| match e.location() {
        Some(at) => format!("{file} line {}: {}", at.line(), message_without_location(&e)),
        None => format!("{file}: {e}"),
    };
    let doc: Value = serde_yaml_ng::from_str(text).map_err(yaml_error)?;
    let Some(top) = doc.as_object() else {
        return Err(format!("{file}: expected a mapping with `checks:` or dbt's `models:` / `sources:`"));
    };
    if top.contains_key("checks") {
        let parsed: ChecksList = serde_yaml_ng::from_str(text).map_err(yaml_error)?;
        return Ok(FileChecks { checks: parsed.checks, skipped: vec![] });
    }
    if ["models", "seeds", "snapshots", "sources"].iter().any(|k| top.contains_key(*k)) {
        return Ok(dbt(top));
    }
    Err(format!(
        "{file}: expected `checks:` (a list of checks with the tool's fields) or a dbt properties file (`models:` / `sources:`)"
    ))
}

/// serde_yaml_ng appends " at line L column C"; the line is already said once.
fn message_without_location(e: &serde_yaml_ng::Error) -> String {
    let text = e.to_string();
    match text.rfind(" at line ") {
        Some(at) => text[..at].to_string(),
        None => text,
    }
}

/// Translate a dbt properties file.
fn dbt(top: &Map<String, Value>) -> FileChecks {
    let mut out = FileChecks::default();
    for kind in ["models", "seeds", "snapshots"] {
        for node in list(top.get(kind)) {
            let Some(name) = node.get("name").and_then(Value::as_str) else { continue };
            // A model materializes under its alias when it has one.
            let table = node.get("config").and_then(|c| c.get("alias")).and_then(Value::as_str).unwrap_or(name);
            relation(&mut out, table, node);
        }
    }
    for source in list(top.get("sources")) {
        let Some(source_name) = source.get("name").and_then(Value::as_str) else { continue };
        let schema = source.get("schema").and_then(Value::as_str).unwrap_or(source_name);
        for node in list(source.get("tables")) {
            let Some(name) = node.get("name").and_then(Value::as_str) else { continue };
            let identifier = node.get("identifier").and_then(Value::as_str).unwrap_or(name);
            let table = format!("{schema}.{identifier}");
            relation(&mut out, &table, node);
            freshness(&mut out, &table, source, node);
        }
    }
    out
}

fn list(v: Option<&Value>) -> impl Iterator<Item = &Map<String, Value>> {
    v.and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_object)
}

/// dbt 1.8 renamed `tests` to `data_tests`; both are read.
fn tests(node: &Map<String, Value>) -> impl Iterator<Item = &Value> {
    ["data_tests", "tests"].into_iter().filter_map(|k| node.get(k)).filter_map(Value::as_array).flatten()
}

/// The tests of one model, seed, snapshot or source table, and of its columns.
fn relation(out: &mut FileChecks, table: &str, node: &Map<String, Value>) {
    for test in tests(node) {
        translate(out, table, None, test);
    }
    for column in list(node.get("columns")) {
        let Some(name) = column.get("name").and_then(Value::as_str) else { continue };
        for test in tests(column) {
            translate(out, table, Some(name), test);
        }
    }
}

/// One test: `not_null`, `{accepted_values: {values: [...]}}` (arguments directly or under
/// `arguments:`, dbt 1.10's form), or `{test_name: accepted_values, values: [...]}`.
fn translate(out: &mut FileChecks, table: &str, column: Option<&str>, test: &Value) {
    let (test_name, args) = match test {
        Value::String(s) => (s.as_str(), Map::new()),
        Value::Object(m) if m.get("test_name").is_some_and(Value::is_string) => {
            (m["test_name"].as_str().unwrap_or_default(), m.clone())
        }
        Value::Object(m) if m.len() == 1 => {
            let (k, v) = m.iter().next().expect("one entry");
            (k.as_str(), v.as_object().cloned().unwrap_or_default())
        }
        _ => {
            out.skipped.push(SkippedTest { test: at(table, column, "?"), reason: "not a dbt test entry".into() });
            return;
        }
    };
    let mut arguments = args.get("arguments").and_then(Value::as_object).cloned().unwrap_or_default();
    for (k, v) in &args {
        if !matches!(
            k.as_str(),
            "arguments" | "config" | "name" | "test_name" | "severity" | "tags" | "meta" | "description"
        ) {
            arguments.entry(k.clone()).or_insert_with(|| v.clone());
        }
    }
    let skip = |out: &mut FileChecks, reason: &str| {
        out.skipped.push(SkippedTest { test: at(table, column, test_name), reason: reason.into() })
    };
    // A filtered test would be run unfiltered: wrong either way, so it is left out.
    if arguments.contains_key("where") || args.get("config").and_then(|c| c.get("where")).is_some() {
        return skip(out, "a `where` filter is not supported; write it as a custom_sql check");
    }
    let mut check = QualityCheck::on(QualityKind::NotNull, Some(table.to_string()), column.map(str::to_string));
    check.name = args.get("name").and_then(Value::as_str).map(str::to_string);
    let number = |key: &str| arguments.get(key).and_then(Value::as_f64);
    let text = |key: &str| arguments.get(key).and_then(Value::as_str);
    let bare = test_name.rsplit('.').next().unwrap_or(test_name);
    match (bare, column.is_some()) {
        ("not_null", true) => check.check = QualityKind::NotNull,
        ("unique", true) => check.check = QualityKind::Unique,
        ("accepted_values", true) => {
            let Some(values) = arguments.get("values").and_then(Value::as_array) else {
                return skip(out, "accepted_values needs `values`");
            };
            check.check = QualityKind::AcceptedValues;
            check.values = Some(values.clone());
        }
        ("relationships", true) => {
            let Some(to) = text("to").and_then(relation_name) else {
                return skip(out, "relationships needs `to: ref('...')` or `to: source('...', '...')`");
            };
            check.check = QualityKind::Relationships;
            check.to_table = Some(to);
            check.to_column = text("field").map(str::to_string);
        }
        ("accepted_range", true) => {
            if arguments.get("inclusive") == Some(&Value::Bool(false)) {
                return skip(out, "an exclusive range is not supported (range checks include their bounds)");
            }
            check.check = QualityKind::Range;
            check.min = number("min_value");
            check.max = number("max_value");
            if check.min.is_none() && check.max.is_none() {
                return skip(out, "accepted_range needs a numeric min_value or max_value");
            }
        }
        ("expression_is_true", _) => {
            let Some(expression) = text("expression") else {
                return skip(out, "expression_is_true needs `expression`");
            };
            // As dbt_utils renders it: the model's rows where the expression does not hold.
            let condition = match column {
                Some(c) => format!("{c} {expression}"),
                None => expression.to_string(),
            };
            check.check = QualityKind::CustomSql;
            check.name.get_or_insert_with(|| format!("expression_is_true {table}: {condition}"));
            check.sql = Some(format!("SELECT * FROM {table} WHERE NOT ({condition})"));
            check.table = None;
            check.column = None;
        }
        ("recency", false) => {
            let (Some(field), Some(interval), Some(period)) = (text("field"), number("interval"), text("datepart"))
            else {
                return skip(out, "recency needs `field`, `datepart` and `interval`");
            };
            let Some(seconds) = period_seconds(period) else {
                return skip(out, "recency's datepart must be second, minute, hour, day or week");
            };
            check.check = QualityKind::Freshness;
            check.column = Some(field.to_string());
            check.max_age_seconds = Some(interval * seconds);
        }
        ("expect_table_row_count_to_be_between", false) => {
            check.check = QualityKind::RowCount;
            check.min = number("min_value");
            check.max = number("max_value");
            if check.min.is_none() && check.max.is_none() {
                return skip(out, "expect_table_row_count_to_be_between needs min_value or max_value");
            }
        }
        ("not_null" | "unique" | "accepted_values" | "relationships" | "accepted_range", false) => {
            return skip(out, "a column test declared on the table: put it under the column");
        }
        _ => return skip(out, "no equivalent check here; write it as a custom_sql check"),
    }
    out.checks.push(check);
}

fn at(table: &str, column: Option<&str>, test: &str) -> String {
    match column {
        Some(c) => format!("{table}.{c}: {test}"),
        None => format!("{table}: {test}"),
    }
}

/// `ref('customers')` -> customers, `ref('pkg', 'customers')` -> customers,
/// `source('raw', 'orders')` -> raw.orders. The schema of a source is its name here, as dbt's
/// default when the source does not set one.
fn relation_name(to: &str) -> Option<String> {
    let to = to.trim();
    let (func, rest) = to.split_once('(')?;
    let inner = rest.trim_end().strip_suffix(')')?;
    let args: Vec<&str> =
        inner.split(',').map(|a| a.trim().trim_matches(|c| c == '\'' || c == '"')).filter(|a| !a.is_empty()).collect();
    match (func.trim(), args.as_slice()) {
        ("ref", [.., name]) => Some((*name).to_string()),
        ("source", [source, table]) => Some(format!("{source}.{table}")),
        _ => None,
    }
}

fn period_seconds(period: &str) -> Option<f64> {
    Some(match period.trim().to_ascii_lowercase().trim_end_matches('s') {
        "second" => 1.0,
        "minute" => 60.0,
        "hour" => 3600.0,
        "day" => 86_400.0,
        "week" => 604_800.0,
        _ => return None,
    })
}

/// A source table's `freshness` (its own, else its source's): the error threshold, else the
/// warning one, on `loaded_at_field`. `freshness: null` turns it off for the table.
fn freshness(out: &mut FileChecks, table: &str, source: &Map<String, Value>, node: &Map<String, Value>) {
    let policy = if node.contains_key("freshness") { node.get("freshness") } else { source.get("freshness") };
    let Some(policy) = policy.and_then(Value::as_object) else { return };
    let field = node.get("loaded_at_field").or_else(|| source.get("loaded_at_field")).and_then(Value::as_str);
    let threshold = ["error_after", "warn_after"].iter().find_map(|k| policy.get(*k).and_then(Value::as_object));
    let (Some(field), Some(threshold)) = (field, threshold) else { return };
    let count = threshold.get("count").and_then(Value::as_f64);
    let period = threshold.get("period").and_then(Value::as_str).and_then(period_seconds);
    let (Some(count), Some(period)) = (count, period) else {
        out.skipped.push(SkippedTest {
            test: format!("{table}: freshness"),
            reason: "freshness needs count and period (minute, hour or day)".into(),
        });
        return;
    };
    let mut check = QualityCheck::on(QualityKind::Freshness, Some(table.to_string()), Some(field.to_string()));
    check.name = Some(format!("source freshness {table}"));
    check.max_age_seconds = Some(count * period);
    out.checks.push(check);
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    /// The fields a check sets, compactly.
    fn summary(c: &QualityCheck) -> Value {
        let mut out = json!({ "check": serde_json::to_value(c.check).unwrap() });
        let fields = [
            ("name", c.name.clone().map(Value::from)),
            ("table", c.table.clone().map(Value::from)),
            ("column", c.column.clone().map(Value::from)),
            ("values", c.values.clone().map(Value::from)),
            ("to_table", c.to_table.clone().map(Value::from)),
            ("to_column", c.to_column.clone().map(Value::from)),
            ("min", c.min.map(Value::from)),
            ("max", c.max.map(Value::from)),
            ("max_age_seconds", c.max_age_seconds.map(Value::from)),
            ("sql", c.sql.clone().map(Value::from)),
        ];
        for (k, v) in fields {
            if let Some(v) = v {
                out[k] = v;
            }
        }
        out
    }

    const DBT: &str = r#"
version: 2
models:
  - name: orders
    data_tests:
      - dbt_utils.recency: {datepart: hour, field: created_at, interval: 6}
      - dbt_utils.expression_is_true:
          arguments:
            expression: "total >= 0"
      - dbt_expectations.expect_table_row_count_to_be_between: {min_value: 1}
    columns:
      - name: id
        data_tests: [unique, not_null]
      - name: status
        tests:
          - accepted_values:
              name: order_status_known
              values: ['placed', 'shipped']
          - dbt_utils.not_constant
          - test_name: accepted_values
            name: status_not_lost
            values: ['placed', 'shipped', 'returned']
      - name: customer_id
        tests:
          - relationships: {to: "ref('customers')", field: id}
          - not_null:
              config: {where: "status <> 'draft'"}
      - name: total
        tests:
          - dbt_utils.accepted_range: {min_value: 0, max_value: 10000}
  - name: customers_v2
    config: {alias: customers}
    columns:
      - name: email
        tests: [not_null]
sources:
  - name: raw
    schema: landing
    loaded_at_field: _loaded_at
    freshness: {warn_after: {count: 12, period: hour}, error_after: {count: 1, period: day}}
    tables:
      - name: events
        columns:
          - name: user_id
            tests:
              - relationships: {to: "source('raw', 'users')", field: id}
      - name: users
        identifier: app_users
        freshness: null
"#;

    #[test]
    fn a_dbt_properties_file_becomes_checks_and_says_what_it_skipped() {
        let parsed = parse("models/schema.yml", DBT).unwrap();
        let checks: Vec<Value> = parsed.checks.iter().map(summary).collect();
        assert_eq!(
            checks,
            vec![
                json!({"check": "freshness", "table": "orders", "column": "created_at", "max_age_seconds": 21600.0}),
                json!({"check": "custom_sql", "name": "expression_is_true orders: total >= 0",
                       "sql": "SELECT * FROM orders WHERE NOT (total >= 0)"}),
                json!({"check": "row_count", "table": "orders", "min": 1.0}),
                json!({"check": "unique", "table": "orders", "column": "id"}),
                json!({"check": "not_null", "table": "orders", "column": "id"}),
                json!({"check": "accepted_values", "name": "order_status_known", "table": "orders", "column": "status",
                       "values": ["placed", "shipped"]}),
                json!({"check": "accepted_values", "name": "status_not_lost", "table": "orders", "column": "status",
                       "values": ["placed", "shipped", "returned"]}),
                json!({"check": "relationships", "table": "orders", "column": "customer_id", "to_table": "customers",
                       "to_column": "id"}),
                json!({"check": "range", "table": "orders", "column": "total", "min": 0.0, "max": 10000.0}),
                json!({"check": "not_null", "table": "customers", "column": "email"}),
                json!({"check": "relationships", "table": "landing.events", "column": "user_id", "to_table": "raw.users",
                       "to_column": "id"}),
                json!({"check": "freshness", "name": "source freshness landing.events", "table": "landing.events",
                       "column": "_loaded_at", "max_age_seconds": 86400.0}),
            ]
        );
        let skipped: Vec<(&str, &str)> =
            parsed.skipped.iter().map(|s| (s.test.as_str(), s.reason.split(';').next().unwrap())).collect();
        assert_eq!(
            skipped,
            vec![
                ("orders.status: dbt_utils.not_constant", "no equivalent check here"),
                ("orders.customer_id: not_null", "a `where` filter is not supported"),
            ]
        );
    }

    #[test]
    fn the_tools_own_shape_reads_from_yaml_and_toml_alike() {
        let yaml = "checks:\n  - {check: not_null, table: users, column: email}\n  - check: row_count\n    table: users\n    min: 1\n";
        let toml = "[[checks]]\ncheck = \"not_null\"\ntable = \"users\"\ncolumn = \"email\"\n\n[[checks]]\ncheck = \"row_count\"\ntable = \"users\"\nmin = 1\n";
        let a: Vec<Value> = parse("q.yaml", yaml).unwrap().checks.iter().map(summary).collect();
        let b: Vec<Value> = parse("q.toml", toml).unwrap().checks.iter().map(summary).collect();
        assert_eq!(a, b);
        assert_eq!(a.len(), 2);
    }

    #[test]
    fn bad_files_say_where_and_what() {
        let err = parse("q.yml", "checks:\n  - {check: not_null, tabel: users}\n").unwrap_err();
        assert!(err.starts_with("q.yml line 2: ") && err.contains("unknown field `tabel`"), "{err}");
        let err = parse("q.yml", "checks: [\n").unwrap_err();
        assert!(err.starts_with("q.yml line "), "{err}");
        let err = parse("q.yml", "whatever: 1\n").unwrap_err();
        assert!(err.contains("`checks:`") && err.contains("dbt"), "{err}");
        let err = parse("q.json", "{}").unwrap_err();
        assert!(err.contains(".toml or .yml"), "{err}");
        let err = parse("q.toml", "[[checks]]\ncheck = \"nope\"\n").unwrap_err();
        assert!(err.starts_with("q.toml line 2 is not a valid [[checks]] table"), "{err}");
    }

    #[test]
    fn relation_names_follow_ref_and_source() {
        assert_eq!(relation_name("ref('customers')").as_deref(), Some("customers"));
        assert_eq!(relation_name("ref(\"pkg\", \"customers\")").as_deref(), Some("customers"));
        assert_eq!(relation_name(" source('raw','orders') ").as_deref(), Some("raw.orders"));
        assert_eq!(relation_name("customers"), None);
        assert_eq!(relation_name("source('raw')"), None);
    }
}
