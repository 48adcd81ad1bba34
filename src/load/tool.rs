//! load-csv: stream a CSV file into a table through a staging table, judged row by row, merged
//! in one transaction (insert, upsert or skip-duplicates), with progress and cancellation.

use std::{
    collections::BTreeMap,
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use rmcp::{
    Json, RoleServer,
    handler::server::wrapper::Parameters,
    model::{ProgressNotificationParam, ProgressToken},
    service::RequestContext,
    tool, tool_router,
};
use serde::{Deserialize, Serialize};

use super::{
    reader::{Format, Reject, Slot},
    values::Guess,
};
use crate::{
    config::{Engine, Mode},
    error::ToolError,
    load::{LoadPlan, Loaded, MergeMode, TargetTable},
    server::Server,
};

/// Statements of a load may run this long by default: a bulk load is not an interactive query.
const DEFAULT_LOAD_TIMEOUT_MS: u64 = 600_000;
const DEFAULT_PREVIEW_ROWS: u64 = 100;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum OnError {
    /// Any bad row refuses the whole file: nothing is merged (default).
    #[default]
    Abort,
    /// Good rows merge; bad rows are reported (and written to rejects_file when given).
    Skip,
}

fn default_mode() -> MergeMode {
    MergeMode::Insert
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct LoadCsvParams {
    /// Configured database name (default: the first one).
    #[serde(default)]
    pub database: Option<String>,
    /// Target table (schema.table on PostgreSQL) or collection.
    pub table: String,
    /// Path of the CSV file as the server process sees it (relative paths start at its working directory).
    pub file: String,
    /// insert (default: a key that exists fails the load), upsert (update rows whose key exists) or
    /// skip-duplicates (keep stored rows, insert the rest).
    #[serde(default = "default_mode")]
    pub mode: MergeMode,
    /// Key columns for upsert and skip-duplicates (default: the primary key; `_id` on MongoDB).
    #[serde(default)]
    pub key: Option<Vec<String>>,
    /// abort (default: any bad row loads nothing, the first ones are listed) or skip (load the good rows, report the bad).
    #[serde(default)]
    pub on_error: OnError,
    /// Write every bad row (line, column, value, reason) to this CSV file (a new one: see overwrite).
    #[serde(default)]
    pub rejects_file: Option<String>,
    /// Replace rejects_file when it exists (default: refuse).
    #[serde(default)]
    pub overwrite: bool,
    /// File column -> table column, for names that differ (by default header names match column
    /// names case-insensitively). Without a header, file columns are positions: {"1": "id"}.
    #[serde(default)]
    pub mapping: Option<BTreeMap<String, String>>,
    /// The first row names the columns (default true). Without a header and without a mapping,
    /// fields fill the table's columns in order.
    #[serde(default)]
    pub header: Option<bool>,
    /// Load even when the file has columns the table lacks (they are left out); default: refuse.
    #[serde(default)]
    pub ignore_extra_columns: bool,
    /// Field delimiter, one character (default ","; "\t" for TSV).
    #[serde(default)]
    pub delimiter: Option<String>,
    /// Quote character (default '"'; a quote inside a quoted field is doubled).
    #[serde(default)]
    pub quote: Option<String>,
    /// Escape character for quotes inside quoted fields, e.g. "\\" (default: none, quotes are doubled).
    #[serde(default)]
    pub escape: Option<String>,
    /// Only UTF-8 (the default) is read; convert other encodings first.
    #[serde(default)]
    pub encoding: Option<String>,
    /// Unquoted values read as NULL in every column. Default: COPY's CSV rule, an unquoted empty
    /// field is NULL and a quoted "" the empty string.
    #[serde(default)]
    pub null_values: Option<Vec<String>>,
    /// Lines to skip before the header (titles, notes).
    #[serde(default, deserialize_with = "crate::args::lenient::opt_u64")]
    pub skip_rows: Option<u64>,
    /// Read the first rows only: show the mapping, each column's guessed type and the values the
    /// table would refuse, and a CREATE TABLE when the table does not exist. Writes nothing.
    #[serde(default)]
    pub preview: bool,
    /// MongoDB standalone servers only, which have no multi-document transactions: merge anyway,
    /// accepting that a crash during the merge leaves part of the file applied. Default: refused.
    #[serde(default)]
    pub non_atomic: bool,
    /// Rows read by preview (default 100).
    #[serde(default, deserialize_with = "crate::args::lenient::opt_u64")]
    pub preview_rows: Option<u64>,
    /// Limit for each statement of the load in milliseconds (default 600000).
    #[serde(default, deserialize_with = "crate::args::lenient::opt_u64")]
    pub timeout_ms: Option<u64>,
}

/// One file column and where it goes.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct ColumnMapping {
    pub file_column: String,
    /// The table column, or null when the column is left out.
    pub column: Option<String>,
    /// The table column's type.
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub type_name: Option<String>,
}

/// A file column's type guessed from the previewed rows.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct GuessedColumn {
    pub file_column: String,
    pub guessed: Guess,
    /// Empty values among the previewed rows.
    pub empty: u64,
    /// Longest value in characters.
    pub max_chars: usize,
}

#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct LoadCsvOutput {
    pub database: String,
    pub engine: Engine,
    pub table: String,
    /// The file as the server resolved it.
    pub file: String,
    pub mode: MergeMode,
    /// True when rows were merged and committed.
    pub committed: bool,
    /// Data rows read from the file (all of them; in preview, the previewed ones).
    pub rows_read: u64,
    /// Rows newly inserted.
    pub inserted: u64,
    /// Rows whose key existed and were updated (upsert).
    pub updated: u64,
    /// Rows whose key existed with the same values (upsert): left as they were, not rewritten.
    pub unchanged: u64,
    /// Rows whose key existed and were left alone (skip-duplicates).
    pub skipped_duplicates: u64,
    /// Bad rows (not loaded).
    pub rejected: u64,
    /// The bad rows: line, column, value and reason; at most 100 (rejects_file has all).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub rejects: Vec<Reject>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rejects_file: Option<String>,
    pub mapping: Vec<ColumnMapping>,
    /// Table columns the file does not fill (they get their default or NULL).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub unfilled_columns: Vec<String>,
    /// The key the merge matched rows on.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub key: Vec<String>,
    pub elapsed_ms: f64,
    pub rows_per_second: f64,
    /// Preview only: each file column's guessed type.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub guessed: Vec<GuessedColumn>,
    /// Preview only: a CREATE TABLE for the file when the table does not exist.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub create_table: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

fn one_byte(argument: &str, value: Option<&str>, default: u8) -> Result<u8, ToolError> {
    match value {
        None => Ok(default),
        Some("\\t") | Some("\t") => Ok(b'\t'),
        Some(s) if s.len() == 1 => Ok(s.as_bytes()[0]),
        Some(s) => Err(ToolError::invalid(argument, format!("{s:?} is not one ASCII character"))),
    }
}

/// A name for matching: lower case, runs of anything but letters and digits as one `_`.
fn normalized(name: &str) -> String {
    let mut out = String::new();
    for c in name.trim().chars() {
        if c.is_alphanumeric() {
            out.extend(c.to_lowercase());
        } else if !out.ends_with('_') {
            out.push('_');
        }
    }
    out.trim_matches('_').to_string()
}

/// Which table column each file field feeds (`None`: left out), by mapping, then name.
fn map_fields(
    fields: &[String],
    target: &TargetTable,
    mapping: Option<&BTreeMap<String, String>>,
    header: bool,
) -> Result<Vec<Option<String>>, ToolError> {
    if target.schemaless {
        return Ok(fields
            .iter()
            .map(|f| Some(mapping.and_then(|m| m.get(f)).cloned().unwrap_or_else(|| f.clone())))
            .collect());
    }
    let find = |name: &str| {
        target
            .columns
            .iter()
            .find(|c| c.name == name)
            .or_else(|| target.columns.iter().find(|c| c.name.eq_ignore_ascii_case(name)))
            .or_else(|| target.columns.iter().find(|c| normalized(&c.name) == normalized(name)))
            .map(|c| c.name.clone())
    };
    if let Some(m) = mapping {
        for (from, to) in m {
            if !fields.iter().any(|f| f == from || f.eq_ignore_ascii_case(from)) {
                return Err(ToolError::invalid(
                    "mapping",
                    format!("the file has no column {from:?}; its columns: {}", fields.join(", ")),
                ));
            }
            if find(to).is_none() {
                return Err(ToolError::invalid("mapping", format!("table {} has no column {to:?}", target.name)));
            }
        }
    }
    let mut out = Vec::new();
    for (i, f) in fields.iter().enumerate() {
        let mapped = mapping.and_then(|m| m.iter().find(|(k, _)| *k == f || k.eq_ignore_ascii_case(f)).map(|(_, v)| v));
        out.push(match mapped {
            Some(to) => find(to),
            None if !header && mapping.is_none() => target.columns.get(i).map(|c| c.name.clone()),
            None if !header => None,
            None => find(f),
        });
    }
    let mut seen = std::collections::HashSet::new();
    for name in out.iter().flatten() {
        if !seen.insert(name) {
            return Err(ToolError::invalid(
                "mapping",
                format!("two file columns go to column {name}: map one of them elsewhere"),
            ));
        }
    }
    Ok(out)
}

fn round(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

#[tool_router(router = load_router, vis = "pub(crate)")]
impl Server {
    #[tool(
        name = "load-csv",
        description = "Load a CSV file (read by the server) into a table or collection, streamed in bounded batches. \
            Rows go to a staging table first (PostgreSQL COPY, MySQL/MariaDB and SQLite multi-row inserts, a \
            MongoDB staging collection), every value is checked against the column (type, range, length, NOT NULL), \
            and the merge into the target is one transaction: mode insert (an existing key is a bad row), upsert \
            (on the primary key or `key`) or skip-duplicates. Rows the table's own rules refuse (foreign keys, \
            CHECKs or the validator, unique keys taken or repeated in the file) are found by line too. Bad rows: by \
            default nothing loads and the first ones are listed with line, column, value and reason; on_error: skip \
            loads the good rows and reports the bad (rejects_file writes them all). Header names match columns case-insensitively, or pass a mapping. \
            Fields follow PostgreSQL COPY's CSV rules: an unquoted empty field is NULL, a quoted \"\" the empty string. \
            preview: true reads the first rows, guesses types, shows mismatches and proposes a CREATE TABLE \
            without writing. Sends progress when asked; cancelling rolls back. Read-write databases only.",
        annotations(
            title = "Load a CSV file into a table",
            read_only_hint = false,
            destructive_hint = true,
            idempotent_hint = false,
            open_world_hint = false
        )
    )]
    async fn load_csv(
        &self,
        Parameters(p): Parameters<LoadCsvParams>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<Json<LoadCsvOutput>, ToolError> {
        let started = Instant::now();
        let db = self.database(p.database.as_deref())?;
        check_request(db, &p)?;
        // Only inside the directories this server may use (working directory, --allow-dir).
        let path = self.file("file", &p.file)?;
        let format = read_format(&p)?;
        let mut opened = self.open_csv(&path, &format).await?;
        let target = crate::load::load_target(db, p.table.trim()).await?;
        let mut out = LoadCsvOutput::new(db, &p, &path, target.as_ref());
        let Some(target) = target else {
            if p.preview {
                return self.preview_new_table(db, &p, opened, out, started).await;
            }
            return Err(no_table(db, &p));
        };
        let staged = stage_columns(&opened.fields, &target, &p, format.header, &mut out)?;
        if p.preview {
            return self.preview_existing(opened, &staged.slots, &format, &p, out, started);
        }
        out.key = merge_key(&p, &target, &staged.slots)?;
        let rejects_file = self.create_rejects_file(&p, &mut out)?;
        let plan = load_plan(&p, target, &staged, out.key.clone(), rejects_file.clone());
        opened.fields.shrink_to_fit();
        let job = super::reader::ReadJob {
            opened,
            slots: staged.slots,
            format,
            skip_bad_rows: plan.skip_bad_rows,
            rejects_file,
            rows_read: Arc::new(AtomicU64::new(0)),
            stop: Arc::new(AtomicBool::new(false)),
            csv: crate::load::takes_csv(db),
        };
        let (summary, loaded) = read_and_load(db, &plan, job, &ctx, started).await?;
        report(out, summary, loaded, started).map(Json)
    }
}

/// Refusals before anything is read: a read-only database, an encoding other than UTF-8, no table.
fn check_request(db: &crate::engine::Database, p: &LoadCsvParams) -> Result<(), ToolError> {
    let cfg = &db.config;
    if cfg.mode != Mode::ReadWrite && !p.preview {
        return Err(ToolError::refused(
            format!("database {} is read-only", cfg.name),
            "load-csv writes: configure the database with mode read-write (preview: true works on any database)",
        ));
    }
    if let Some(enc) = p.encoding.as_deref()
        && !matches!(enc.to_ascii_lowercase().replace('_', "-").as_str(), "utf-8" | "utf8")
    {
        return Err(ToolError::invalid(
            "encoding",
            format!(
                "only UTF-8 is read, not {enc}: convert the file first, e.g. `iconv -f {enc} -t UTF-8 in.csv > out.csv`"
            ),
        ));
    }
    if p.table.trim().is_empty() {
        return Err(ToolError::invalid("table", "give the target table (list-objects shows them)"));
    }
    Ok(())
}

/// How to read the file, from the request.
fn read_format(p: &LoadCsvParams) -> Result<Format, ToolError> {
    Ok(Format {
        delimiter: one_byte("delimiter", p.delimiter.as_deref(), b',')?,
        quote: one_byte("quote", p.quote.as_deref(), b'"')?,
        escape: p.escape.as_deref().map(|e| one_byte("escape", Some(e), b'\\')).transpose()?,
        header: p.header.unwrap_or(true),
        skip_rows: p.skip_rows.unwrap_or(0),
        null_values: p.null_values.clone(),
    })
}

fn no_table(db: &crate::engine::Database, p: &LoadCsvParams) -> ToolError {
    ToolError::invalid(
        "table",
        format!(
            "no table {} in database {}: call load-csv with preview: true to get a CREATE TABLE for this file",
            p.table, db.config.name
        ),
    )
}

impl LoadCsvOutput {
    /// The report before anything is read or loaded.
    fn new(
        db: &crate::engine::Database,
        p: &LoadCsvParams,
        path: &std::path::Path,
        target: Option<&TargetTable>,
    ) -> Self {
        LoadCsvOutput {
            database: db.config.name.clone(),
            engine: db.config.engine,
            table: target.map_or_else(|| p.table.clone(), |t| t.name.clone()),
            file: path.display().to_string(),
            mode: p.mode,
            committed: false,
            rows_read: 0,
            inserted: 0,
            updated: 0,
            unchanged: 0,
            skipped_duplicates: 0,
            rejected: 0,
            rejects: vec![],
            rejects_file: None,
            mapping: vec![],
            unfilled_columns: vec![],
            key: vec![],
            elapsed_ms: 0.0,
            rows_per_second: 0.0,
            guessed: vec![],
            create_table: None,
            notes: vec![],
        }
    }
}

/// The file's columns matched to the table's: what each staged column reads and where it goes.
struct Staged {
    slots: Vec<Slot>,
    /// Each staged column's index among the table's columns.
    columns: Vec<usize>,
}

/// Match file columns to table columns (reporting the mapping and the unfilled columns in
/// `out`); refuse extra file columns (unless ignored) and required table columns the file lacks.
fn stage_columns(
    file_columns: &[String],
    target: &TargetTable,
    p: &LoadCsvParams,
    header: bool,
    out: &mut LoadCsvOutput,
) -> Result<Staged, ToolError> {
    let fields = map_fields(file_columns, target, p.mapping.as_ref(), header)?;
    for (file_column, column) in file_columns.iter().zip(&fields) {
        out.mapping.push(ColumnMapping {
            file_column: file_column.clone(),
            column: column.clone(),
            type_name: column
                .as_ref()
                .and_then(|c| target.columns.iter().find(|t| &t.name == c))
                .map(|t| t.type_name.clone()),
        });
    }
    let extra: Vec<&String> = file_columns.iter().zip(&fields).filter(|(_, c)| c.is_none()).map(|(f, _)| f).collect();
    if !extra.is_empty() && header && !p.ignore_extra_columns {
        return Err(ToolError::refused(
            format!(
                "the file has columns table {} lacks: {}; nothing was loaded",
                target.name,
                extra.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")
            ),
            "map them to table columns with `mapping`, or pass ignore_extra_columns: true to leave them out",
        ));
    }
    // Columns the file does not fill must be able to stay empty.
    out.unfilled_columns = target
        .columns
        .iter()
        .filter(|c| !fields.iter().flatten().any(|f| f == &c.name))
        .map(|c| c.name.clone())
        .collect();
    let missing: Vec<&str> = target
        .columns
        .iter()
        .filter(|c| out.unfilled_columns.contains(&c.name) && !c.nullable && !c.has_default)
        .map(|c| c.name.as_str())
        .collect();
    if !missing.is_empty() {
        return Err(ToolError::refused(
            format!(
                "the file lacks columns table {} requires (NOT NULL, no default): {}; nothing was loaded",
                target.name,
                missing.join(", ")
            ),
            "add them to the file, or map file columns to them with `mapping`",
        ));
    }
    // Staged columns in table order, each with the field that feeds it.
    let mut staged = Staged { slots: Vec::new(), columns: Vec::new() };
    for (field, column) in fields.iter().enumerate() {
        let Some(column) = column else { continue };
        let (index, kind, required) = match target.columns.iter().position(|c| &c.name == column) {
            Some(i) => (i, target.columns[i].kind, !target.columns[i].nullable),
            None => (0, crate::load::ValueKind::Other, false),
        };
        staged.columns.push(index);
        staged.slots.push(Slot {
            field,
            name: column.clone(),
            kind,
            required,
            secret: crate::redact::is_secret_name(column),
        });
    }
    if staged.slots.is_empty() {
        return Err(ToolError::invalid("mapping", "no file column matches a table column: pass a mapping"));
    }
    Ok(staged)
}

/// The key rows are merged on: `key`, else the primary key; upsert and skip-duplicates need one
/// the file fills.
fn merge_key(p: &LoadCsvParams, target: &TargetTable, slots: &[Slot]) -> Result<Vec<String>, ToolError> {
    let key = p.key.clone().unwrap_or_else(|| target.primary_key.clone());
    if p.mode != MergeMode::Insert {
        if key.is_empty() {
            return Err(ToolError::invalid(
                "key",
                format!("table {} has no primary key: name the key columns for {:?}", target.name, p.mode),
            ));
        }
        if let Some(k) = key.iter().find(|k| !slots.iter().any(|s| &s.name == *k)) {
            return Err(ToolError::invalid("key", format!("key column {k} is not filled by the file")));
        }
    }
    Ok(key)
}

/// What the database side does: the target (a collection's fields are the file's, in file
/// order), the staged columns, the mode and key.
fn load_plan(
    p: &LoadCsvParams,
    mut target: TargetTable,
    staged: &Staged,
    key: Vec<String>,
    rejects_file: Option<Arc<std::fs::File>>,
) -> LoadPlan {
    let columns = if target.schemaless {
        target.columns = staged
            .slots
            .iter()
            .map(|s| crate::load::TargetColumn {
                name: s.name.clone(),
                type_name: String::new(),
                kind: s.kind,
                nullable: true,
                has_default: false,
            })
            .collect();
        (0..target.columns.len()).collect()
    } else {
        staged.columns.clone()
    };
    LoadPlan {
        columns,
        target,
        mode: p.mode,
        key,
        timeout_ms: p.timeout_ms.unwrap_or(DEFAULT_LOAD_TIMEOUT_MS),
        non_atomic: p.non_atomic,
        skip_bad_rows: p.on_error == OnError::Skip,
        rejects_file,
        merging: Arc::new(AtomicBool::new(false)),
    }
}

/// Read the file in a blocking thread while the database side stages and merges what it sends,
/// with progress notifications when the client asked for them.
async fn read_and_load(
    db: &crate::engine::Database,
    plan: &LoadPlan,
    job: super::reader::ReadJob,
    ctx: &RequestContext<RoleServer>,
    started: Instant,
) -> Result<(super::reader::ReadSummary, Result<Loaded, ToolError>), ToolError> {
    let (rows_read, stop) = (job.rows_read.clone(), job.stop.clone());
    let (feed, batches) = tokio::sync::mpsc::channel(4);
    let reading = tokio::task::spawn_blocking(move || super::reader::run(job, feed));
    let progress = ctx
        .meta
        .get_progress_token()
        .map(|token| tokio::spawn(report_progress(ctx.peer.clone(), token, rows_read, plan.merging.clone(), started)));
    let loaded = crate::load::load(db, plan, batches, ctx.ct.clone()).await;
    stop.store(true, Ordering::Relaxed);
    if let Some(task) = progress {
        task.abort();
    }
    let summary = reading.await.map_err(|e| ToolError::invalid("file", format!("reading failed: {e}")))?;
    Ok((summary, loaded))
}

/// The result: what was merged, or why nothing was, with every bad row counted.
fn report(
    mut out: LoadCsvOutput,
    summary: super::reader::ReadSummary,
    loaded: Result<Loaded, ToolError>,
    started: Instant,
) -> Result<LoadCsvOutput, ToolError> {
    let merged = loaded?;
    if let Some(fatal) = summary.fatal {
        return Err(fatal);
    }
    let merged = match merged {
        Loaded::Merged(merged) => merged,
        // The reader read the whole file: its count is every bad row it holds.
        Loaded::FileRefused => return Err(bad_rows(&summary.rejects, summary.rejected, false)),
        Loaded::RowsRefused(refused) => {
            let mut listed = summary.rejects;
            listed.extend(refused.listed);
            listed.sort_by_key(|r| r.line);
            return Err(bad_rows(&listed, summary.rejected + refused.count, true));
        }
    };
    out.committed = true;
    out.rows_read = summary.rows_read;
    out.inserted = merged.inserted;
    out.updated = merged.updated;
    out.unchanged = merged.unchanged;
    out.skipped_duplicates = merged.skipped;
    // The reader's bad rows, then those the target's constraints refused at the merge.
    out.rejected = summary.rejected + merged.rejects.count;
    out.rejects = summary.rejects;
    let room = super::reader::MAX_REPORTED_REJECTS.saturating_sub(out.rejects.len());
    out.rejects.extend(merged.rejects.listed.into_iter().take(room));
    out.rejects.sort_by_key(|r| r.line);
    if out.rejected > out.rejects.len() as u64 {
        out.notes.push(format!(
            "{} bad rows, {} listed{}",
            out.rejected,
            out.rejects.len(),
            if out.rejects_file.is_some() {
                "; rejects_file has all of them"
            } else {
                "; pass rejects_file to get all of them"
            }
        ));
    }
    if merged.without_transaction {
        out.notes.push(
            "non_atomic: rows were merged without a transaction, so a crash during the merge could have left part \
             of them applied"
                .into(),
        );
    }
    let elapsed = started.elapsed().as_secs_f64();
    out.elapsed_ms = round(elapsed * 1000.0);
    out.rows_per_second = round(out.rows_read as f64 / elapsed.max(1e-6));
    Ok(out)
}

impl Server {
    /// Open the file in a blocking thread: skipped rows and the header read.
    async fn open_csv(&self, path: &std::path::Path, format: &Format) -> Result<super::reader::Opened, ToolError> {
        let (files, path, format) = (self.files().clone(), path.to_path_buf(), format.clone());
        tokio::task::spawn_blocking(move || super::reader::open(&files, "file", &path, &format))
            .await
            .map_err(|e| ToolError::invalid("file", e.to_string()))?
    }

    /// Created before anything is loaded: an existing file is refused unless overwrite.
    fn create_rejects_file(
        &self,
        p: &LoadCsvParams,
        out: &mut LoadCsvOutput,
    ) -> Result<Option<Arc<std::fs::File>>, ToolError> {
        let Some(f) = p.rejects_file.as_deref() else { return Ok(None) };
        let path = self.file("rejects_file", f)?;
        let file = self.files().create("rejects_file", std::path::Path::new(f.trim()), p.overwrite)?;
        out.rejects_file = Some(path.display().to_string());
        Ok(Some(Arc::new(file)))
    }
}

/// Nothing was loaded because of these rows: the first few, with what to do.
fn bad_rows(rejects: &[Reject], count: u64, more_possible: bool) -> ToolError {
    let listed: Vec<String> = rejects
        .iter()
        .take(super::reader::ABORT_REJECTS)
        .map(|r| {
            let mut s = format!("line {}", r.line);
            if let Some(c) = &r.column {
                s.push_str(&format!(", column {c}"));
            }
            if let Some(v) = &r.value {
                s.push_str(&format!(", value {v:?}"));
            }
            format!("{s}: {}", r.reason)
        })
        .collect();
    ToolError::refused(
        format!(
            "{} bad row{} found, nothing was loaded; first: {}",
            if more_possible && listed.len() == super::reader::ABORT_REJECTS {
                format!("at least {}", count.max(listed.len() as u64))
            } else {
                count.to_string()
            },
            if count == 1 { "" } else { "s" },
            listed.join("; ")
        ),
        "fix those rows in the file, or call again with on_error: skip to load the good rows and get every bad one in \
         the report (rejects_file writes them all to a CSV)",
    )
}

/// Progress every half second: rows read so far and the rate.
async fn report_progress(
    peer: rmcp::Peer<RoleServer>,
    token: ProgressToken,
    rows_read: Arc<AtomicU64>,
    merging: Arc<AtomicBool>,
    started: Instant,
) {
    let mut tick = tokio::time::interval(Duration::from_millis(500));
    loop {
        tick.tick().await;
        let rows = rows_read.load(Ordering::Relaxed);
        let rate = rows as f64 / started.elapsed().as_secs_f64().max(1e-6);
        let phase = if merging.load(Ordering::Relaxed) { "; merging into the target" } else { "" };
        let _ = peer
            .notify_progress(
                ProgressNotificationParam::new(token.clone(), rows as f64)
                    .with_message(format!("{rows} rows read, {rate:.0} rows/s{phase}")),
            )
            .await;
    }
}

impl Server {
    /// Preview against an existing table: the values in the first rows that it would refuse.
    fn preview_existing(
        &self,
        mut opened: super::reader::Opened,
        slots: &[Slot],
        format: &Format,
        p: &LoadCsvParams,
        mut out: LoadCsvOutput,
        started: Instant,
    ) -> Result<Json<LoadCsvOutput>, ToolError> {
        let rows = super::reader::sample(&mut opened, format, p.preview_rows.unwrap_or(DEFAULT_PREVIEW_ROWS) as usize)?;
        out.guessed = guesses(&opened.fields, &rows);
        let width = opened.fields.len();
        for (line, fields) in &rows {
            let fields = match fields {
                Ok(f) => f,
                Err(reason) => {
                    out.rejects.push(Reject { line: *line, column: None, value: None, reason: reason.clone() });
                    continue;
                }
            };
            if fields.len() != width {
                out.rejects.push(Reject {
                    line: *line,
                    column: None,
                    value: None,
                    reason: format!("has {} fields, the header has {width}", fields.len()),
                });
                continue;
            }
            for slot in slots {
                let raw = fields[slot.field].as_deref();
                let problem = match raw {
                    None => slot.required.then(|| "empty, but the column is NOT NULL".to_string()),
                    Some(raw) => super::values::check(slot.kind, raw).err(),
                };
                if let Some(reason) = problem {
                    let value =
                        raw.map(|raw| if slot.secret { "[redacted]".into() } else { raw.chars().take(200).collect() });
                    out.rejects.push(Reject { line: *line, column: Some(slot.name.clone()), value, reason });
                    break;
                }
            }
        }
        out.rows_read = rows.len() as u64;
        out.rejected = out.rejects.len() as u64;
        out.notes.push("preview: nothing was written".into());
        out.elapsed_ms = round(started.elapsed().as_secs_f64() * 1000.0);
        Ok(Json(out))
    }

    /// Preview for a table that does not exist yet: guessed types and a CREATE TABLE.
    async fn preview_new_table(
        &self,
        db: &crate::engine::Database,
        p: &LoadCsvParams,
        mut opened: super::reader::Opened,
        mut out: LoadCsvOutput,
        started: Instant,
    ) -> Result<Json<LoadCsvOutput>, ToolError> {
        let format = Format { null_values: p.null_values.clone(), ..Format::default() };
        let rows =
            super::reader::sample(&mut opened, &format, p.preview_rows.unwrap_or(DEFAULT_PREVIEW_ROWS) as usize)?;
        out.guessed = guesses(&opened.fields, &rows);
        out.rows_read = rows.len() as u64;
        out.create_table = crate::load::create_table_for(
            db,
            p.table.trim(),
            &out.guessed
                .iter()
                .map(|g| {
                    let name = normalized(&g.file_column);
                    (if name.is_empty() { g.file_column.clone() } else { name }, g.guessed, g.max_chars, g.empty == 0)
                })
                .collect::<Vec<_>>(),
        );
        out.mapping = opened
            .fields
            .iter()
            .map(|f| ColumnMapping { file_column: f.clone(), column: Some(normalized(f)), type_name: None })
            .collect();
        out.notes.push(format!(
            "table {} does not exist: nothing was written. Review the proposed CREATE TABLE (types are guessed from {} rows), \
             run it with run-sql, then load",
            p.table,
            rows.len()
        ));
        out.elapsed_ms = round(started.elapsed().as_secs_f64() * 1000.0);
        Ok(Json(out))
    }
}

fn guesses(fields: &[String], rows: &[super::reader::Sampled]) -> Vec<GuessedColumn> {
    fields
        .iter()
        .enumerate()
        .map(|(i, name)| {
            let mut guessed: Option<Guess> = None;
            let mut empty = 0;
            let mut max_chars = 0;
            for r in rows.iter().filter_map(|(_, r)| r.as_ref().ok()) {
                let v = r.get(i).and_then(Option::as_deref).unwrap_or("");
                if v.is_empty() {
                    empty += 1;
                    continue;
                }
                max_chars = max_chars.max(v.chars().count());
                let g = super::values::guess(v);
                guessed = Some(guessed.map_or(g, |prev| super::values::widen(prev, g)));
            }
            GuessedColumn { file_column: name.clone(), guessed: guessed.unwrap_or(Guess::Text), empty, max_chars }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_match_ignoring_case_and_punctuation() {
        assert_eq!(normalized("First Name"), "first_name");
        assert_eq!(normalized("  E-Mail  "), "e_mail");
        assert_eq!(normalized("UserID"), "userid");
    }

    #[test]
    fn delimiters_are_one_character() {
        assert_eq!(one_byte("delimiter", Some("\\t"), b',').unwrap(), b'\t');
        assert_eq!(one_byte("delimiter", None, b',').unwrap(), b',');
        assert!(one_byte("delimiter", Some(";;"), b',').is_err());
    }
}
