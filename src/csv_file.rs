//! The one CSV reader: load-csv and seed open a file here, through the checked file access,
//! with a byte order mark dropped, rows skipped and the header read, whatever they do with the
//! records after. Memory holds one record at a time.

use std::{
    io::{BufRead, BufReader, Read},
    path::Path,
};

use crate::{error::ToolError, files::FileAccess};

/// How to read the file.
#[derive(Debug, Clone)]
pub struct Format {
    pub delimiter: u8,
    pub quote: u8,
    pub escape: Option<u8>,
    pub header: bool,
    pub skip_rows: u64,
    /// Exactly these are NULL in every column; `None`: an empty field is NULL except in text columns.
    pub null_values: Option<Vec<String>>,
}

impl Default for Format {
    /// RFC 4180: comma, double quote, a header row.
    fn default() -> Self {
        Format { delimiter: b',', quote: b'"', escape: None, header: true, skip_rows: 0, null_values: None }
    }
}

/// An opened file, positioned after the skipped rows and the header.
pub struct Opened {
    pub reader: csv::Reader<Box<dyn Read + Send>>,
    /// The header's names, or `1`, `2`, … when the file has none.
    pub fields: Vec<String>,
    /// Lines before the CSV reader's first line.
    pub line_offset: u64,
}

fn file_error(argument: &str, path: &Path, e: &std::io::Error) -> ToolError {
    let cwd = std::env::current_dir().map(|d| d.display().to_string()).unwrap_or_default();
    let what = match e.kind() {
        std::io::ErrorKind::NotFound => "no such file".to_string(),
        std::io::ErrorKind::PermissionDenied => "the server process may not read it".to_string(),
        _ => e.to_string(),
    };
    ToolError::invalid(
        argument,
        format!(
            "{what}: {} (the server reads the file; relative paths start at its working directory {cwd})",
            path.display()
        ),
    )
}

pub(crate) fn not_utf8(line: u64, byte: u64, what: &str) -> ToolError {
    ToolError::refused(
        format!("the file is not UTF-8: {what} at line {line} (byte {byte}); nothing was loaded"),
        "convert it first, e.g. `iconv -f WINDOWS-1252 -t UTF-8 in.csv > out.csv`, then load the converted file",
    )
}

/// Open the file (through `files`, like every file a tool reads), skip `skip_rows` lines, read
/// the header.
pub fn open(files: &FileAccess, argument: &str, path: &Path, format: &Format) -> Result<Opened, ToolError> {
    let file = files.open(argument, path)?;
    let mut buffered = BufReader::with_capacity(1 << 16, file);
    let head = buffered.fill_buf().map_err(|e| file_error(argument, path, &e))?;
    if head.starts_with(&[0xFF, 0xFE]) || head.starts_with(&[0xFE, 0xFF]) {
        return Err(not_utf8(1, 0, "a UTF-16 byte order mark"));
    }
    if head.starts_with(&[0xEF, 0xBB, 0xBF]) {
        buffered.consume(3);
    }
    let mut skipped = Vec::new();
    for _ in 0..format.skip_rows {
        skipped.clear();
        if buffered.read_until(b'\n', &mut skipped).map_err(|e| file_error(argument, path, &e))? == 0 {
            break;
        }
    }
    let mut builder = csv::ReaderBuilder::new();
    builder.delimiter(format.delimiter).quote(format.quote).escape(format.escape).has_headers(false).flexible(true);
    let mut reader = builder.from_reader(Box::new(buffered) as Box<dyn Read + Send>);
    let mut fields = Vec::new();
    let mut record = csv::ByteRecord::new();
    if format.header {
        if !reader.read_byte_record(&mut record).map_err(|e| csv_error(e, format.skip_rows))? {
            return Err(ToolError::invalid(argument, format!("{} has no header row", path.display())));
        }
        for (i, f) in record.iter().enumerate() {
            let name = std::str::from_utf8(f).map_err(|_| {
                not_utf8(
                    format.skip_rows + 1,
                    record.position().map_or(0, |p| p.byte()),
                    &format!("header field {}", i + 1),
                )
            })?;
            fields.push(name.trim().to_string());
        }
    } else {
        // Field names are positions; the width comes from the first record.
        let mut peek = csv::ReaderBuilder::new();
        peek.delimiter(format.delimiter).quote(format.quote).escape(format.escape).has_headers(false).flexible(true);
        let mut probe = peek.from_reader(files.open(argument, path)?);
        let mut first = csv::ByteRecord::new();
        for _ in 0..=format.skip_rows {
            if !probe.read_byte_record(&mut first).unwrap_or(false) {
                break;
            }
        }
        fields = (1..=first.len()).map(|i| i.to_string()).collect();
    }
    Ok(Opened { reader, fields, line_offset: format.skip_rows })
}

pub(crate) fn csv_error(e: csv::Error, offset: u64) -> ToolError {
    let at = e.position().map(|p| format!(" at line {}", p.line() + offset)).unwrap_or_default();
    ToolError::refused(
        format!("cannot read the file{at}: {e}; nothing was loaded"),
        "check delimiter, quote and escape against the file (preview: true shows how it parses)",
    )
}
