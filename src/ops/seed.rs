//! Seeds: `.sql` scripts, or `.csv` / `.json` files named after their table (a numeric prefix
//! only orders them), applied in file-name order inside one transaction. A ledger (`data_engineer_seeds`: file, SHA-256, applied_at)
//! makes a re-run a no-op; a changed file is reported, and re-applied (upserts on the primary
//! key) only when asked.

use std::{
    collections::HashMap,
    io::Read,
    path::{Path, PathBuf},
};

use mongodb::bson::{Bson, Document, doc};
use serde::Serialize;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use super::{Dialect, Table};
use crate::engine::session::{Access, Session};
use crate::{
    engine::{
        Database,
        mongo::{Mongo, commit},
    },
    error::ToolError,
    files::FileAccess,
    sql::StatementKind,
};

/// Rows per INSERT: well under every engine's bind limit (SQLite 32766, MySQL 65535) for tables
/// up to ~30 columns, and few round trips.
const BIND_BUDGET: usize = 30_000;
const LEDGER: &str = "data_engineer_seeds";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum SeedOutcome {
    /// New: applied and recorded.
    Applied,
    /// Recorded with the same checksum: nothing done.
    Unchanged,
    /// Recorded with another checksum and not re-applied (pass reapply_changed).
    Changed,
    /// Changed and re-applied (upserts on the primary key; SQL files rerun).
    Reapplied,
    /// Not a seed file (or not one this engine takes).
    Ignored,
}

#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct SeedFile {
    pub file: String,
    pub outcome: SeedOutcome,
    /// The target table or collection (CSV and JSON files).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub table: Option<String>,
    /// Rows written (inserted or upserted; for SQL files what the engine reports).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rows: Option<u64>,
    pub sha256: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct SeedReport {
    pub files: Vec<SeedFile>,
    /// Whether anything was written (and committed).
    pub committed: bool,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Format {
    Sql,
    Csv,
    Json,
}

struct Found {
    path: PathBuf,
    /// The ledger key: the path inside the seed folder.
    name: String,
    format: Option<Format>,
    sha256: String,
}

impl SeedFile {
    /// The report line of a file before anything is decided about it.
    fn ignored(f: &Found) -> SeedFile {
        SeedFile {
            file: f.name.clone(),
            outcome: SeedOutcome::Ignored,
            table: None,
            rows: None,
            sha256: f.sha256.clone(),
            detail: None,
        }
    }
}

/// The seed files at `path` (a file, or a folder's files and its subfolders', in path order) with
/// their checksums; every folder is listed, and every file opened, through `access`. A file's
/// ledger key is its path inside the seed folder (`eu/customers.csv`), or its name when `path`
/// is the file.
fn find(access: &FileAccess, path: &Path) -> Result<Vec<Found>, ToolError> {
    let meta = std::fs::metadata(path)
        .map_err(|e| ToolError::invalid("path", format!("cannot read {}: {e}", path.display())))?;
    let mut paths: Vec<(String, PathBuf)> = Vec::new();
    if meta.is_dir() {
        walk(access, path, "", &mut paths)?;
        paths.sort_by(|a, b| a.0.cmp(&b.0));
    } else if !path.file_name().is_some_and(|n| n.to_string_lossy().starts_with('.')) {
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        paths.push((name, path.to_path_buf()));
    }
    paths
        .into_iter()
        .map(|(name, p)| {
            let format = match p.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase).as_deref() {
                Some("sql") => Some(Format::Sql),
                Some("csv") => Some(Format::Csv),
                Some("json") => Some(Format::Json),
                _ => None,
            };
            Ok(Found { name, sha256: sha256(access, &p)?, format, path: p })
        })
        .collect()
}

/// The files of `dir` (through `access`, which judges each) and of its subfolders (real
/// folders only, not links to one; hidden ones left out), keyed by their path under the seed
/// folder.
fn walk(access: &FileAccess, dir: &Path, prefix: &str, out: &mut Vec<(String, PathBuf)>) -> Result<(), ToolError> {
    for entry in access.list("path", dir, |n| !n.starts_with('.'))? {
        out.push((format!("{prefix}{}", entry.name), entry.path));
    }
    for folder in access.subfolders("path", dir, |n| !n.starts_with('.'))? {
        walk(access, &folder.path, &format!("{prefix}{}/", folder.name), out)?;
    }
    Ok(())
}

/// The file's SHA-256, read in chunks (seed CSVs can be large).
fn sha256(access: &FileAccess, path: &Path) -> Result<String, ToolError> {
    let mut file = access.open("path", path)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = file
            .read(&mut buf)
            .map_err(|e| ToolError::invalid("path", format!("cannot read {}: {e}", path.display())))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hex::encode(hasher.finalize()))
}

/// The table a data file fills: its name without the extension and without a numeric prefix,
/// which only orders the files (`10_orders.csv` fills `orders`).
fn stem(path: &Path) -> String {
    let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    let digits = stem.bytes().take_while(u8::is_ascii_digit).count();
    match stem[digits..].strip_prefix(['_', '-']) {
        Some(rest) if digits > 0 && !rest.is_empty() => rest.to_string(),
        _ => stem,
    }
}

fn read_text(access: &FileAccess, path: &Path) -> Result<String, ToolError> {
    access.read_to_string("path", path)
}

/// A JSON seed: an array of objects.
fn json_rows(access: &FileAccess, path: &Path) -> Result<Vec<Map<String, Value>>, ToolError> {
    let file_error = |m: String| ToolError::invalid("path", format!("{}: {m}", path.display()));
    let value: Value =
        serde_json::from_str(&read_text(access, path)?).map_err(|e| file_error(format!("invalid JSON: {e}")))?;
    let Value::Array(items) = value else { return Err(file_error("a JSON seed is an array of objects".into())) };
    items
        .into_iter()
        .enumerate()
        .map(|(i, v)| match v {
            Value::Object(o) => Ok(o),
            _ => Err(file_error(format!("item {i} is not an object"))),
        })
        .collect()
}

/// Apply the seeds at `path` in one transaction; with `reapply_changed`, changed files too.
/// Files are listed and opened through `access`.
pub async fn seed(
    db: &Database,
    access: &FileAccess,
    path: &Path,
    reapply_changed: bool,
) -> Result<SeedReport, ToolError> {
    let files = find(access, path)?;
    let t = db.config.statement_timeout_ms;
    if let Ok(m) = db.mongo().await {
        return mongo_seed(m, access, files, reapply_changed, t).await;
    }
    let d = crate::ops::dialect(db).ok_or_else(|| db.needs_sql("seed"))?;
    let ledger_ddl = match d {
        Dialect::Postgres => include_str!("postgres/seed_ledger.sql"),
        Dialect::Mysql => include_str!("mysql/seed_ledger.sql"),
        Dialect::Sqlite => include_str!("sqlite/seed_ledger.sql"),
    };
    // Outside the run's transaction: on MySQL a CREATE TABLE would commit it.
    let mut setup = db.session(Access::Writer, t).await?;
    setup.execute(ledger_ddl, &[]).await?;
    let recorded: HashMap<String, String> = setup
        .rows(format!("SELECT file, checksum FROM {LEDGER}"), &[])
        .await?
        .into_iter()
        .map(|r| {
            (r["file"].as_str().unwrap_or_default().to_string(), r["checksum"].as_str().unwrap_or_default().to_string())
        })
        .collect();
    setup.commit().await?;

    // Decide and validate everything before writing anything.
    let mut report = Vec::new();
    let mut work = Vec::new();
    for f in files {
        let mut entry = SeedFile::ignored(&f);
        let Some(format) = f.format else {
            entry.detail = Some("not a .sql, .csv or .json file".into());
            report.push(entry);
            continue;
        };
        entry.outcome = match recorded.get(&f.name) {
            Some(sum) if *sum == f.sha256 => SeedOutcome::Unchanged,
            Some(_) if !reapply_changed => {
                entry.detail = Some(
                    "changed since it was applied; pass reapply_changed: true to re-apply it (CSV and JSON rows are upserted on the primary key; SQL files rerun whole)"
                        .into(),
                );
                SeedOutcome::Changed
            }
            Some(_) => SeedOutcome::Reapplied,
            None => SeedOutcome::Applied,
        };
        if matches!(entry.outcome, SeedOutcome::Applied | SeedOutcome::Reapplied) {
            let mut upsert = entry.outcome == SeedOutcome::Reapplied;
            let job = match format {
                Format::Sql => Job::Sql(seed_script(db, access, &f)?),
                Format::Csv | Format::Json => {
                    // Columns come from the CSV header or the JSON objects' keys; each must exist.
                    let (keys, rows) = if format == Format::Csv {
                        (csv_seed(access, &f.path)?.0, None)
                    } else {
                        let rows = json_rows(access, &f.path)?;
                        (json_keys(&rows), Some(rows))
                    };
                    let name = stem(&f.path);
                    let table = match crate::ops::resolve_table(db, "path", &name).await {
                        Ok(table) => table,
                        // A script earlier in this run may create it (a schema file that sorts
                        // first, on a fresh database): the insert, in the same transaction, checks
                        // the columns then. Such a table is new, so its rows are inserted.
                        Err(ToolError::InvalidArgument { .. })
                            if db.capabilities().transactional_ddl
                                && work.iter().any(|(_, _, j, _)| matches!(j, Job::Sql(_))) =>
                        {
                            super::Table { schema: None, name, columns: keys.clone(), primary_key: vec![] }
                        }
                        Err(e) => return Err(in_file(&f.name, e)),
                    };
                    // A first apply onto rows the table already holds updates them on the primary
                    // key, as a re-apply does, rather than failing on the first duplicate: a seed
                    // states what the rows should be, and rows it does not name are kept.
                    if entry.outcome == SeedOutcome::Applied && !table.primary_key.is_empty() {
                        upsert = true;
                    }
                    if upsert && table.primary_key.is_empty() {
                        return Err(ToolError::refused(
                            format!("{} changed, but table {} has no primary key to upsert on", f.name, table.shown()),
                            "add a primary key to the table, or restore the file and add new rows in a new seed file",
                        ));
                    }
                    entry.table = Some(table.shown());
                    let columns = keys
                        .iter()
                        .map(|k| table.column("path", k).map_err(|e| in_file(&f.name, e)))
                        .collect::<Result<Vec<_>, _>>()?;
                    Job::Rows { table, keys, columns, rows }
                }
            };
            work.push((report.len(), f, job, upsert));
        }
        report.push(entry);
    }
    if work.is_empty() {
        return Ok(SeedReport { files: report, committed: false });
    }

    let mut conn = db.session(Access::Writer, t).await?;
    for (at, f, job, upsert) in &work {
        let written = match job {
            Job::Sql(sql) => conn.script(sql).await,
            Job::Rows { table, keys, columns, rows } => {
                let target = Target { d, table, keys, columns, upsert: *upsert };
                match rows {
                    Some(rows) => insert_rows(&mut conn, &target, rows).await,
                    None => csv_rows(&mut conn, &target, access, &f.path).await,
                }
            }
        };
        let recorded = match written {
            Ok(n) => {
                report[*at].rows = Some(n);
                let record = match d {
                    Dialect::Postgres => include_str!("postgres/seed_record.sql"),
                    Dialect::Mysql => include_str!("mysql/seed_record.sql"),
                    Dialect::Sqlite => include_str!("sqlite/seed_record.sql"),
                };
                conn.execute(record, &[f.name.clone().into(), f.sha256.clone().into()]).await
            }
            Err(e) => Err(e),
        };
        if let Err(e) = recorded {
            let _ = conn.rollback().await;
            return Err(rolled_back(&f.name, e));
        }
    }
    conn.commit().await?;
    Ok(SeedReport { files: report, committed: true })
}

/// A seed script, checked: no transaction control; no DDL where DDL commits implicitly.
fn seed_script(db: &Database, access: &FileAccess, f: &Found) -> Result<String, ToolError> {
    let sql = read_text(access, &f.path)?;
    let kinds = crate::sql::check_script(&sql, db.config.engine).map_err(|e| in_file(&f.name, e))?;
    if !db.capabilities().transactional_ddl && kinds.contains(&StatementKind::Ddl) {
        return Err(ToolError::refused(
            format!(
                "{} holds DDL (or TRUNCATE), which this engine commits on the spot: a failure later could not be rolled back",
                f.name
            ),
            "keep seeds to INSERT / UPDATE / DELETE here and create the tables with a migration",
        ));
    }
    Ok(sql)
}

/// Stream a CSV seed (header row = column names) into the table in batches.
async fn csv_rows(
    conn: &mut Session<'_>,
    target: &Target<'_>,
    access: &FileAccess,
    path: &Path,
) -> Result<u64, ToolError> {
    let (header, records) = csv_seed(access, path)?;
    let batch_rows = (BIND_BUDGET / header.len().max(1)).max(1);
    let mut batch = Vec::new();
    let mut lines = Vec::new();
    let mut written = 0;
    for record in records {
        let (line, record) = record?;
        // An empty field is NULL.
        let row: Map<String, Value> = header
            .iter()
            .zip(record.iter())
            .map(|(k, v)| (k.clone(), if v.is_empty() { Value::Null } else { Value::String(v.to_string()) }))
            .collect();
        batch.push(row);
        lines.push(line);
        if batch.len() == batch_rows {
            written += insert_batch(conn, target, &batch, &lines).await?;
            batch.clear();
            lines.clear();
        }
    }
    written += insert_batch(conn, target, &batch, &lines).await?;
    Ok(written)
}

/// Insert a batch of a CSV seed; when the database refuses it, find the first row it refuses
/// (one at a time, after a savepoint) and name its line.
async fn insert_batch(
    conn: &mut Session<'_>,
    target: &Target<'_>,
    batch: &[Map<String, Value>],
    lines: &[u64],
) -> Result<u64, ToolError> {
    if batch.is_empty() {
        return Ok(0);
    }
    conn.execute("SAVEPOINT seed_rows", &[]).await?;
    let e = match insert_rows(conn, target, batch).await {
        Ok(n) => {
            conn.execute("RELEASE SAVEPOINT seed_rows", &[]).await?;
            return Ok(n);
        }
        Err(e @ ToolError::Database { .. }) => e,
        Err(e) => return Err(e),
    };
    // The run fails and rolls back whole whatever is found: this only names the row.
    conn.execute("ROLLBACK TO SAVEPOINT seed_rows", &[]).await?;
    for (row, line) in batch.iter().zip(lines) {
        if let Err(ToolError::Database { code, message, hint }) =
            insert_rows(conn, target, std::slice::from_ref(row)).await
        {
            return Err(ToolError::Database { code, message: format!("line {line}: {message}"), hint });
        }
    }
    Err(e)
}

enum Job {
    Sql(String),
    /// CSV rows are streamed at apply time; JSON rows were read while planning.
    Rows {
        table: Table,
        keys: Vec<String>,
        columns: Vec<String>,
        rows: Option<Vec<Map<String, Value>>>,
    },
}

/// Where rows go: the table, the file's keys and the columns they name (same order).
struct Target<'a> {
    d: Dialect,
    table: &'a Table,
    keys: &'a [String],
    columns: &'a [String],
    upsert: bool,
}

/// A CSV seed as documents: fields named by the header, typed by what they look like (as
/// load-csv types them: int32/int64, double, boolean, else string); an empty field is null.
fn csv_documents(access: &FileAccess, path: &Path) -> Result<Vec<Document>, ToolError> {
    let (header, records) = csv_seed(access, path)?;
    let mut docs = Vec::new();
    for record in records {
        let (_, record) = record?;
        let doc: Document = header
            .iter()
            .zip(record.iter())
            .map(|(k, v)| (k.clone(), crate::load::bson_value((!v.is_empty()).then_some(v))))
            .collect();
        docs.push(doc);
    }
    Ok(docs)
}

/// A CSV seed's record and its line.
type CsvRow = (u64, csv::StringRecord);

/// A CSV seed's header (the column names) and its records, streamed; a record whose width is not
/// the header's is an error naming the file and the line.
fn csv_seed(
    access: &FileAccess,
    path: &Path,
) -> Result<(Vec<String>, impl Iterator<Item = Result<CsvRow, ToolError>>), ToolError> {
    let display = path.display().to_string();
    let file_error = move |m: String| ToolError::invalid("path", format!("{display}: {m}"));
    // The one CSV reader, in RFC 4180's format; a short or long row gets this function's error,
    // with its line number.
    let opened = crate::csv_file::open(access, "path", path, &crate::csv_file::Format::default())?;
    let header = opened.fields;
    if header.iter().all(String::is_empty) {
        return Err(file_error("the first line must name the columns".into()));
    }
    let width = header.len();
    let mut reader = opened.reader;
    let mut record = crate::csv_file::Record::default();
    let records = std::iter::from_fn(move || {
        let next = reader.read(&mut record);
        let line = record.line;
        Some(match next {
            Ok(crate::csv_file::Next::End) => return None,
            Ok(crate::csv_file::Next::Malformed { line, reason }) => Err(file_error(format!("line {line}: {reason}"))),
            Err(e) => Err(file_error(e.to_string())),
            Ok(crate::csv_file::Next::Record) => (|| {
                let mut fields = Vec::with_capacity(record.len());
                for f in record.iter() {
                    fields.push(
                        std::str::from_utf8(f).map_err(|_| crate::csv_file::not_utf8(line, record.byte, "a field"))?,
                    );
                }
                if fields.len() != width {
                    return Err(file_error(format!("line {line} has {} fields, the header {width}", fields.len())));
                }
                Ok((line, csv::StringRecord::from(fields)))
            })(),
        })
    });
    Ok((header, records))
}

/// Keys of JSON rows in first-seen order.
fn json_keys(rows: &[Map<String, Value>]) -> Vec<String> {
    let mut keys: Vec<String> = Vec::new();
    for k in rows.iter().flat_map(Map::keys) {
        if !keys.contains(k) {
            keys.push(k.clone());
        }
    }
    keys
}

fn in_file(file: &str, e: ToolError) -> ToolError {
    match e {
        ToolError::InvalidArgument { argument, message } => {
            ToolError::InvalidArgument { argument, message: format!("{file}: {message}") }
        }
        ToolError::Refused { reason, .. } => ToolError::refused(
            format!("{file}: {reason}"),
            "seed runs every file in one transaction it manages: remove transaction control and session settings from the file",
        ),
        ToolError::Parse { message } => ToolError::Parse { message: format!("{file}: {message}") },
        other => other,
    }
}

/// The run's error, saying which file failed and that nothing was kept.
fn rolled_back(file: &str, e: ToolError) -> ToolError {
    match e {
        ToolError::Database { code, message, hint } => ToolError::Database {
            code,
            message: format!(
                "seed file {file} failed, the whole run was rolled back and nothing was applied: {message}"
            ),
            hint: hint.or_else(|| Some("fix the file (or the data it conflicts with) and run seed again".into())),
        },
        ToolError::InvalidArgument { argument, message } => ToolError::InvalidArgument {
            argument,
            message: format!("{message}; the whole run was rolled back and nothing was applied"),
        },
        // A lost connection or a timeout: the server rolled the open transaction back.
        other => ToolError::Database {
            code: None,
            message: format!("seed file {file} failed, the whole run was rolled back and nothing was applied: {other}"),
            hint: other.hint(),
        },
    }
}

/// Insert (or upsert on the primary key) rows keyed by column name; returns rows written.
async fn insert_rows(
    conn: &mut Session<'_>,
    target: &Target<'_>,
    rows: &[Map<String, Value>],
) -> Result<u64, ToolError> {
    if rows.is_empty() {
        return Ok(0);
    }
    let Target { d, table, keys, columns, upsert } = *target;
    let target = d.table(table);
    let list = columns.iter().map(|c| d.ident(c)).collect::<Vec<_>>().join(", ");
    let pk: Vec<String> = table.primary_key.iter().map(|c| d.ident(c)).collect();
    let others: Vec<String> = columns.iter().filter(|c| !table.primary_key.contains(c)).map(|c| d.ident(c)).collect();
    let conflict = |excluded: &str| {
        if !upsert || pk.is_empty() {
            String::new()
        } else if others.is_empty() {
            format!(" ON CONFLICT ({}) DO NOTHING", pk.join(", "))
        } else {
            let set: Vec<String> = others.iter().map(|c| format!("{c} = {excluded}.{c}")).collect();
            format!(" ON CONFLICT ({}) DO UPDATE SET {}", pk.join(", "), set.join(", "))
        }
    };
    if d == Dialect::Postgres {
        // One bind for the batch; PostgreSQL converts each value to its column's type.
        let batch: Vec<Value> = rows
            .iter()
            .map(|r| {
                Value::Object(
                    keys.iter()
                        .zip(columns)
                        .map(|(k, c)| (c.clone(), r.get(k).cloned().unwrap_or(Value::Null)))
                        .collect(),
                )
            })
            .collect();
        let sql = format!(
            "INSERT INTO {target} ({list}) SELECT {list} FROM json_populate_recordset(NULL::{target}, $1::json){}",
            conflict("EXCLUDED")
        );
        return conn.execute(sql, &[Value::String(Value::Array(batch).to_string())]).await;
    }
    let placeholders = format!("({})", vec!["?"; columns.len()].join(", "));
    let values = vec![placeholders; rows.len()].join(", ");
    let tail = match d {
        Dialect::Mysql if upsert => {
            let set: Vec<String> = match others.is_empty() {
                true => pk.iter().map(|c| format!("{c} = {c}")).collect(),
                false => others.iter().map(|c| format!("{c} = VALUES({c})")).collect(),
            };
            format!(" ON DUPLICATE KEY UPDATE {}", set.join(", "))
        }
        Dialect::Mysql => String::new(),
        _ => conflict("excluded"),
    };
    let binds: Vec<Value> =
        rows.iter().flat_map(|r| keys.iter().map(|k| r.get(k).cloned().unwrap_or(Value::Null))).collect();
    conn.execute(format!("INSERT INTO {target} ({list}) VALUES {values}{tail}"), &binds).await
}

/// MongoDB: JSON files into the collection named after the file, with a ledger collection.
/// On a replica set (or mongos) the run is one multi-document transaction. A standalone server
/// has none: there the run is made all-or-nothing by validating every file first and, when a
/// write fails, deleting what it inserted and restoring what it replaced and the ledger entries
/// it changed (a crash mid-run is not undone there).
async fn mongo_seed(
    m: &Mongo,
    access: &FileAccess,
    files: Vec<Found>,
    reapply: bool,
    timeout_ms: u64,
) -> Result<SeedReport, ToolError> {
    use futures::TryStreamExt;
    let map_err = |e| m.error(e, timeout_ms);
    let ledger = m.db.collection::<Document>(LEDGER);
    let recorded: HashMap<String, String> = ledger
        .find(doc! {})
        .await
        .map_err(map_err)?
        .try_collect::<Vec<_>>()
        .await
        .map_err(map_err)?
        .into_iter()
        .filter_map(|d| Some((d.get_str("_id").ok()?.to_string(), d.get_str("checksum").ok()?.to_string())))
        .collect();
    let mut report = Vec::new();
    let mut work = Vec::new();
    for f in files {
        let mut entry = SeedFile::ignored(&f);
        if !matches!(f.format, Some(Format::Json | Format::Csv)) {
            entry.detail = Some("MongoDB seeds are .json (an array of documents) or .csv files".into());
            report.push(entry);
            continue;
        }
        entry.outcome = match recorded.get(&f.name) {
            Some(sum) if *sum == f.sha256 => SeedOutcome::Unchanged,
            Some(_) if !reapply => {
                entry.detail = Some("changed since it was applied; pass reapply_changed: true to re-apply it (documents are replaced by _id)".into());
                SeedOutcome::Changed
            }
            Some(_) => SeedOutcome::Reapplied,
            None => SeedOutcome::Applied,
        };
        if matches!(entry.outcome, SeedOutcome::Applied | SeedOutcome::Reapplied) {
            let docs: Vec<Document> = if f.format == Some(Format::Csv) {
                csv_documents(access, &f.path)?
            } else {
                json_rows(access, &f.path)?
                    .into_iter()
                    .map(|o| match Bson::try_from(Value::Object(o)) {
                        Ok(Bson::Document(d)) => Ok(d),
                        _ => Err(ToolError::invalid(
                            "path",
                            format!("{}: a document is not representable in BSON", f.name),
                        )),
                    })
                    .collect::<Result<_, _>>()?
            };
            if entry.outcome == SeedOutcome::Reapplied && docs.iter().any(|d| !d.contains_key("_id")) {
                return Err(ToolError::refused(
                    format!("{} changed, but not every document has an _id to replace by", f.name),
                    "give every document an _id, or restore the file and add new documents in a new seed file",
                ));
            }
            let name = stem(&f.path);
            if name.is_empty() || name.starts_with("system.") || name.contains('$') {
                return Err(ToolError::invalid("path", format!("{}: not a usable collection name", f.name)));
            }
            entry.table = Some(name.clone());
            work.push((report.len(), f, name, docs, entry.outcome == SeedOutcome::Reapplied));
        }
        report.push(entry);
    }
    if work.is_empty() {
        return Ok(SeedReport { files: report, committed: false });
    }
    let mut session = if m.supports_transactions().await.map_err(map_err)? {
        let mut session = m.client.start_session().await.map_err(map_err)?;
        session.start_transaction().await.map_err(map_err)?;
        Some(session)
    } else {
        None
    };
    // In the transaction when there is one.
    macro_rules! run {
        ($action:expr) => {
            match session.as_mut() {
                Some(s) => $action.session(&mut *s).await,
                None => $action.await,
            }
        };
    }
    // What this run wrote, to take back if a later file fails (standalone servers).
    let mut inserted: Vec<(String, Vec<Bson>)> = Vec::new();
    // Documents as they were before a replace (None: the replace inserted it).
    let mut replaced: Vec<(String, Bson, Option<Document>)> = Vec::new();
    // Ledger entries as they were before this run (None: new).
    let mut ledger_before: Vec<(String, Option<String>)> = Vec::new();
    for (at, f, name, docs, replace) in &mut work {
        let coll = m.db.collection::<Document>(name.as_str());
        let result: Result<u64, mongodb::error::Error> = if *replace {
            let mut n = 0;
            let mut outcome = Ok(());
            for d in docs.iter() {
                let id = d.get("_id").cloned().unwrap_or(Bson::Null);
                let before = match run!(coll.find_one(doc! { "_id": id.clone() })) {
                    Ok(before) => before,
                    Err(e) => {
                        outcome = Err(e);
                        break;
                    }
                };
                replaced.push((name.clone(), id.clone(), before));
                if let Err(e) = run!(coll.replace_one(doc! { "_id": id }, d.clone()).upsert(true)) {
                    outcome = Err(e);
                    break;
                }
                n += 1;
            }
            outcome.map(|_| n)
        } else if docs.is_empty() {
            Ok(0)
        } else {
            // Ids given here, so the run knows exactly what it inserted.
            for d in docs.iter_mut() {
                if !d.contains_key("_id") {
                    d.insert("_id", mongodb::bson::oid::ObjectId::new());
                }
            }
            match run!(coll.insert_many(docs.clone())) {
                Ok(_) => {
                    inserted.push((name.clone(), docs.iter().filter_map(|d| d.get("_id").cloned()).collect()));
                    Ok(docs.len() as u64)
                }
                Err(e) => {
                    // An ordered insert stops at its first failure: everything before it went in.
                    let written = match *e.kind {
                        mongodb::error::ErrorKind::InsertMany(ref failure) => {
                            failure.write_errors.as_ref().and_then(|w| w.iter().map(|w| w.index).min()).unwrap_or(0)
                        }
                        _ => 0,
                    };
                    inserted.push((
                        name.clone(),
                        docs.iter().take(written).filter_map(|d| d.get("_id").cloned()).collect(),
                    ));
                    Err(e)
                }
            }
        };
        ledger_before.push((f.name.clone(), recorded.get(&f.name).cloned()));
        let result = match result {
            Ok(n) => run!(
                ledger
                    .replace_one(
                        doc! { "_id": &f.name },
                        doc! { "_id": &f.name, "checksum": &f.sha256, "applied_at": mongodb::bson::DateTime::now() },
                    )
                    .upsert(true)
            )
            .map(|_| n),
            Err(e) => Err(e),
        };
        match result {
            Ok(n) => report[*at].rows = Some(n),
            Err(e) => {
                if let Some(mut session) = session {
                    let _ = session.abort_transaction().await;
                    return Err(rolled_back(&f.name, m.error(e, timeout_ms)));
                }
                // Undo newest first: inserts deleted, replaced documents and ledger entries restored.
                for (collection, id, before) in replaced.iter().rev() {
                    let c = m.db.collection::<Document>(collection);
                    let _ = match before {
                        Some(old) => c.replace_one(doc! { "_id": id.clone() }, old.clone()).await.map(drop),
                        None => c.delete_one(doc! { "_id": id.clone() }).await.map(drop),
                    };
                }
                for (collection, ids) in &inserted {
                    let c = m.db.collection::<Document>(collection);
                    let _ = c.delete_many(doc! { "_id": { "$in": ids.clone() } }).await;
                }
                for (file, checksum) in &ledger_before {
                    let _ = match checksum {
                        Some(sum) => ledger
                            .update_one(doc! { "_id": file }, doc! { "$set": { "checksum": sum } })
                            .await
                            .map(drop),
                        None => ledger.delete_one(doc! { "_id": file }).await.map(drop),
                    };
                }
                return Err(rolled_back(&f.name, m.error(e, timeout_ms)));
            }
        }
    }
    if let Some(session) = session.as_mut() {
        commit(session).await.map_err(|e| match m.error(e, timeout_ms) {
            ToolError::Database { code, message, hint } => ToolError::Database {
                code,
                message: format!("the seed run did not commit, nothing was applied: {message}"),
                hint: hint.or_else(|| Some("run seed again".into())),
            },
            other => other,
        })?;
    }
    Ok(SeedReport { files: report, committed: true })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_are_found_in_name_order_with_checksums() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("b_users.csv"), "id\n1\n").unwrap();
        std::fs::write(dir.path().join("a.sql"), "abc").unwrap();
        std::fs::write(dir.path().join("notes.txt"), "x").unwrap();
        std::fs::write(dir.path().join(".hidden.sql"), "x").unwrap();
        let found = find(&FileAccess::new(vec![dir.path().to_path_buf()]), dir.path()).unwrap();
        let names: Vec<_> = found.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, ["a.sql", "b_users.csv", "notes.txt"]);
        assert!(found[2].format.is_none());
        assert_eq!(found[0].sha256, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    }
}
