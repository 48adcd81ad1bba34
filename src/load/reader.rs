//! The streaming side of load-csv: a blocking thread parses the file with the `csv` crate,
//! judges every value, and sends good rows in bounded batches. Memory holds one record and a
//! few batches, whatever the file's size.

pub use crate::csv_file::{Format, Opened, open};
use crate::csv_file::{Next, Record, not_utf8};
use std::{
    borrow::Cow,
    fs::File,
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
};

use tokio::sync::mpsc;

use super::values;
use crate::{
    error::ToolError,
    load::{Feed, StagedRow, ValueKind, csv_field, rejects_file_error},
};

pub use crate::load::{ABORT_REJECTS, MAX_REPORTED_REJECTS, Reject};

/// Rows per batch sent to the database side; with a channel of 4 batches this bounds memory.
pub const BATCH_ROWS: usize = 4096;

/// A staged column: which field of the record feeds it and what it accepts.
#[derive(Debug, Clone)]
pub struct Slot {
    pub field: usize,
    pub name: String,
    pub kind: ValueKind,
    /// NULL is refused (NOT NULL; a default does not apply to an explicit NULL).
    pub required: bool,
    pub secret: bool,
}

/// What reading the file came to.
#[derive(Debug, Default)]
pub struct ReadSummary {
    pub rows_read: u64,
    pub rejected: u64,
    pub rejects: Vec<Reject>,
    /// A problem with the file itself (encoding, syntax): nothing may be merged.
    pub fatal: Option<ToolError>,
}

pub struct ReadJob {
    pub opened: Opened,
    pub slots: Vec<Slot>,
    pub format: Format,
    pub skip_bad_rows: bool,
    /// The rejects file the tool created (shared with the merge, which writes after the reader).
    pub rejects_file: Option<Arc<File>>,
    pub rows_read: Arc<AtomicU64>,
    pub stop: Arc<AtomicBool>,
    /// Send CSV text (`Feed::Csv`) rather than typed rows: the database loads CSV in bulk.
    pub csv: bool,
}

/// One record's staged values (borrowed from the record where they need no rewriting), or what
/// is wrong with it.
fn judge<'r>(record: &'r Record, line: u64, width: usize, job: &ReadJob) -> Result<Vec<Option<Cow<'r, str>>>, Reject> {
    if record.len() != width {
        return Err(Reject {
            line,
            column: None,
            value: None,
            reason: format!("has {} fields, the header has {width}", record.len()),
        });
    }
    let mut values = Vec::with_capacity(job.slots.len());
    for slot in &job.slots {
        // The whole record was checked to be UTF-8 before; this stays total all the same.
        let raw = std::str::from_utf8(record.field(slot.field)).unwrap_or_default();
        let is_null = is_null(&job.format, raw, record.quoted(slot.field));
        if is_null {
            if slot.required {
                return Err(Reject {
                    line,
                    column: Some(slot.name.clone()),
                    value: None,
                    reason: "empty, but the column is NOT NULL".into(),
                });
            }
            values.push(None);
            continue;
        }
        match values::check(slot.kind, raw) {
            Ok(v) => values.push(Some(v)),
            Err(reason) => {
                let value = if slot.secret { "[redacted]".to_string() } else { raw.chars().take(200).collect() };
                return Err(Reject { line, column: Some(slot.name.clone()), value: Some(value), reason });
            }
        }
    }
    Ok(values)
}

/// COPY's CSV rule: an unquoted empty field is NULL, a quoted one (`""`) is not; with
/// `null_values`, exactly those values are NULL where unquoted (COPY's NULL option).
pub fn is_null(format: &Format, raw: &str, quoted: bool) -> bool {
    match &format.null_values {
        Some(markers) => !quoted && markers.iter().any(|m| m == raw),
        None => raw.is_empty() && !quoted,
    }
}

/// Good rows gathered for the next send: typed rows, or CSV text ready for the database's bulk
/// path (`ReadJob::csv`), encoded here, off the async side.
struct Pending {
    csv: bool,
    rows: Vec<StagedRow>,
    bytes: Vec<u8>,
    count: usize,
}

impl Pending {
    fn new(csv: bool) -> Self {
        Pending { csv, rows: Vec::new(), bytes: Vec::new(), count: 0 }
    }

    fn push(&mut self, line: u64, values: Vec<Option<Cow<'_, str>>>) {
        if self.csv {
            // The values, then the line: the staging table's last column.
            for v in &values {
                csv_field(&mut self.bytes, v.as_deref());
                self.bytes.push(b',');
            }
            self.bytes.extend_from_slice(itoa::Buffer::new().format(line).as_bytes());
            self.bytes.push(b'\n');
        } else {
            self.rows.push(StagedRow { line, values: values.into_iter().map(|v| v.map(Cow::into_owned)).collect() });
        }
        self.count += 1;
    }

    fn take(&mut self) -> Feed {
        let count = std::mem::take(&mut self.count);
        if self.csv {
            Feed::Csv { bytes: std::mem::replace(&mut self.bytes, Vec::with_capacity(1 << 20)), rows: count as u64 }
        } else {
            Feed::Rows(std::mem::replace(&mut self.rows, Vec::with_capacity(BATCH_ROWS)))
        }
    }

    fn clear(&mut self) {
        self.rows.clear();
        self.bytes.clear();
        self.count = 0;
    }
}

/// Read the whole file, sending good rows to `feed` and `Feed::End` when it may be merged.
pub fn run(mut job: ReadJob, feed: mpsc::Sender<Feed>) -> ReadSummary {
    let mut summary = ReadSummary::default();
    let width = job.opened.fields.len();
    let mut rejects_out =
        match job.rejects_file.as_ref().map(|f| f.try_clone().map(csv::Writer::from_writer)).transpose() {
            Ok(w) => w,
            Err(e) => {
                summary.fatal = Some(rejects_file_error(e));
                return summary;
            }
        };
    if let Some(w) = rejects_out.as_mut() {
        let _ = w.write_record(["line", "column", "value", "reason"]);
    }
    let mut record = Record::default();
    let mut pending = Pending::new(job.csv);
    let mut refused = false;
    loop {
        if job.stop.load(Ordering::Relaxed) {
            return summary;
        }
        let judged = match job.opened.reader.read(&mut record) {
            Ok(Next::End) => break,
            Ok(Next::Record) => None,
            Ok(Next::Malformed { line, reason }) => Some(Reject { line, column: None, value: None, reason }),
            Err(e) => {
                summary.fatal = Some(ToolError::refused(
                    format!("cannot read the file: {e}; nothing was loaded"),
                    "check that the file is readable and not being written",
                ));
                return summary;
            }
        };
        let line = record.line;
        if judged.is_none()
            && std::str::from_utf8(record.as_slice()).is_err()
            && let Some(bad) = record.iter().position(|f| std::str::from_utf8(f).is_err())
        {
            let valid = std::str::from_utf8(record.field(bad)).err().map_or(0, |e| e.valid_up_to());
            let column = job.opened.fields.get(bad).cloned().unwrap_or_default();
            summary.fatal =
                Some(not_utf8(line, record.byte, &format!("column {column:?}, {valid} bytes into the field")));
            return summary;
        }
        summary.rows_read += 1;
        job.rows_read.store(summary.rows_read, Ordering::Relaxed);
        let judged = match judged {
            Some(reject) => Err(reject),
            None => judge(&record, line, width, &job),
        };
        match judged {
            Ok(values) if !refused => {
                pending.push(line, values);
                if pending.count == BATCH_ROWS && feed.blocking_send(pending.take()).is_err() {
                    // The database side stopped (an error or a cancel): nothing more to do.
                    return summary;
                }
            }
            Ok(_) => {}
            Err(reject) => {
                summary.rejected += 1;
                if let Some(w) = rejects_out.as_mut() {
                    let _ = w.write_record([
                        reject.line.to_string(),
                        reject.column.clone().unwrap_or_default(),
                        reject.value.clone().unwrap_or_default(),
                        reject.reason.clone(),
                    ]);
                }
                if summary.rejects.len() < MAX_REPORTED_REJECTS {
                    summary.rejects.push(reject);
                }
                if !job.skip_bad_rows {
                    // Nothing will be merged; read on to count every bad row.
                    refused = true;
                    pending.clear();
                }
            }
        }
    }
    if let Some(mut w) = rejects_out
        && let Err(e) = w.flush()
    {
        summary.fatal = Some(rejects_file_error(e));
        return summary;
    }
    if refused {
        return summary;
    }
    if pending.count > 0 && feed.blocking_send(pending.take()).is_err() {
        return summary;
    }
    let _ = feed.blocking_send(Feed::End);
    summary
}

/// A previewed record: its line and fields (`None`: NULL by the file's rules), or why it
/// cannot be read.
pub type Sampled = (u64, Result<Vec<Option<String>>, String>);

/// Up to `limit` records, for preview; a file problem ends it with an error.
pub fn sample(opened: &mut Opened, format: &Format, limit: usize) -> Result<Vec<Sampled>, ToolError> {
    let mut out = Vec::new();
    let mut record = Record::default();
    while out.len() < limit {
        match opened.reader.read(&mut record) {
            Ok(Next::End) => break,
            Ok(Next::Record) => {}
            Ok(Next::Malformed { line, reason }) => {
                out.push((line, Err(reason)));
                continue;
            }
            Err(e) => return Err(ToolError::invalid("file", format!("cannot read the file: {e}"))),
        }
        let mut fields = Vec::with_capacity(record.len());
        for i in 0..record.len() {
            match std::str::from_utf8(record.field(i)) {
                Ok(s) => fields.push((!is_null(format, s, record.quoted(i))).then(|| s.to_string())),
                Err(_) => return Err(not_utf8(record.line, record.byte, "a field")),
            }
        }
        out.push((record.line, Ok(fields)));
    }
    Ok(out)
}
