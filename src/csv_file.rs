//! The one CSV reader: load-csv and seed open a file here, through the checked file access,
//! with a byte order mark dropped, rows skipped and the header read, whatever they do with the
//! records after. Memory holds one record at a time.

use std::{
    fs::File,
    io::{BufRead, BufReader, Seek, SeekFrom},
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
    /// Exactly these, unquoted, are NULL in every column; `None`: COPY's rule, an unquoted
    /// empty field is NULL and a quoted one (`""`) the empty string.
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
    pub reader: Reader,
    /// The header's names, or `1`, `2`, … when the file has none.
    pub fields: Vec<String>,
}

/// One record: its fields' bytes, whether each was quoted, and where it starts.
#[derive(Debug, Default)]
pub struct Record {
    bytes: Vec<u8>,
    ends: Vec<usize>,
    quoted: Vec<bool>,
    /// The file line the record starts on (1-based, skipped rows and header counted).
    pub line: u64,
    /// The byte offset it starts at.
    pub byte: u64,
    /// File lines it spans (more than one when a quoted field holds a line break).
    pub lines: u64,
}

impl Record {
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    pub fn field(&self, i: usize) -> &[u8] {
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        &self.bytes[start..self.ends[i]]
    }

    /// The field had a quote: never NULL, as in COPY (`""` is the empty string).
    pub fn quoted(&self, i: usize) -> bool {
        self.quoted[i]
    }

    pub fn iter(&self) -> impl Iterator<Item = &[u8]> {
        (0..self.len()).map(|i| self.field(i))
    }

    /// Every field's bytes, one after the other.
    pub fn as_slice(&self) -> &[u8] {
        &self.bytes
    }
}

/// What reading the next record came to.
#[derive(Debug)]
pub enum Next {
    Record,
    /// A line CSV cannot read (a quote opened and never closed): a reject with its line; reading
    /// goes on at the next line.
    Malformed {
        line: u64,
        reason: String,
    },
    End,
}

/// A record larger than this is taken for a quote never closed rather than buffered further.
const MAX_RECORD_BYTES: usize = 64 << 20;

/// PostgreSQL COPY's CSV rules (`CopyReadAttributesCSV`): a quote anywhere in a field opens a
/// quoted part, the escape character (the quote by default) escapes a quote or itself inside
/// one, a field with any quote is never NULL. Line breaks are `\n` or `\r\n`; lines are counted
/// as they are in the file. Where COPY refuses the whole file (a quote never closed), this
/// reader rejects that line and goes on with the next one, so one stray quote never turns the
/// rest of the file into one value.
pub struct Reader {
    src: BufReader<File>,
    delimiter: u8,
    quote: u8,
    escape: u8,
    line: u64,
    byte: u64,
    raw: Vec<u8>,
}

impl Reader {
    fn new(src: BufReader<File>, format: &Format, line: u64, byte: u64) -> Self {
        Reader {
            src,
            delimiter: format.delimiter,
            quote: format.quote,
            escape: format.escape.unwrap_or(format.quote),
            line,
            byte,
            raw: Vec::new(),
        }
    }

    /// Read one record into `record`.
    pub fn read(&mut self, record: &mut Record) -> std::io::Result<Next> {
        record.bytes.clear();
        record.ends.clear();
        record.quoted.clear();
        record.line = self.line;
        record.byte = self.byte;
        self.raw.clear();
        let mut n = self.src.read_until(b'\n', &mut self.raw)?;
        if n == 0 {
            return Ok(Next::End);
        }
        let mut lines = 1u64;
        let (mut pos, mut in_quote, mut saw_quote) = (0usize, false, false);
        loop {
            let raw = &self.raw;
            while pos < raw.len() {
                let c = raw[pos];
                pos += 1;
                if in_quote {
                    if c == self.escape
                        && pos < raw.len()
                        && (raw[pos] == self.quote || raw[pos] == self.escape)
                        && (self.escape != self.quote || raw[pos] == self.quote)
                    {
                        record.bytes.push(raw[pos]);
                        pos += 1;
                    } else if c == self.quote {
                        in_quote = false;
                    } else {
                        record.bytes.push(c);
                    }
                } else if c == self.delimiter {
                    record.ends.push(record.bytes.len());
                    record.quoted.push(saw_quote);
                    saw_quote = false;
                } else if c == self.quote {
                    saw_quote = true;
                    in_quote = true;
                } else if c == b'\n' || (c == b'\r' && pos + 1 == raw.len() && raw[pos] == b'\n') {
                    pos = raw.len();
                } else {
                    record.bytes.push(c);
                }
            }
            if !in_quote {
                break;
            }
            // A quoted field goes on past the line break, unless the file ends first.
            let more = if self.raw.len() < MAX_RECORD_BYTES { self.src.read_until(b'\n', &mut self.raw)? } else { 0 };
            if more == 0 {
                return self.unterminated(record, lines);
            }
            n += more;
            lines += 1;
        }
        record.ends.push(record.bytes.len());
        record.quoted.push(saw_quote);
        record.lines = lines;
        self.line += lines;
        self.byte += n as u64;
        Ok(Next::Record)
    }

    /// A quote opened on `record.line` and the file ended (or the record grew past any
    /// reasonable field) before it closed: that line is a reject; go on at the next one.
    fn unterminated(&mut self, record: &Record, lines: u64) -> std::io::Result<Next> {
        let first_line = self.raw.iter().position(|&b| b == b'\n').map_or(self.raw.len(), |i| i + 1);
        self.byte = record.byte + first_line as u64;
        self.line = record.line + 1;
        self.src.seek(SeekFrom::Start(self.byte))?;
        let reason = if lines > 1 {
            "a quote opened on this line is never closed (COPY refuses the file: unterminated CSV quoted field); \
             the lines after it were read again as rows of their own"
        } else {
            "a quote opened on this line is never closed (COPY refuses the file: unterminated CSV quoted field)"
        };
        Ok(Next::Malformed { line: record.line, reason: reason.into() })
    }
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
    let io = |e: std::io::Error| file_error(argument, path, &e);
    let mut buffered = BufReader::with_capacity(1 << 16, file);
    let head = buffered.fill_buf().map_err(io)?;
    let mut byte = 0u64;
    if head.starts_with(&[0xFF, 0xFE]) || head.starts_with(&[0xFE, 0xFF]) {
        return Err(not_utf8(1, 0, "a UTF-16 byte order mark"));
    }
    if head.starts_with(&[0xEF, 0xBB, 0xBF]) {
        buffered.consume(3);
        byte = 3;
    }
    let mut skipped = Vec::new();
    let mut line = 1;
    for _ in 0..format.skip_rows {
        skipped.clear();
        let n = buffered.read_until(b'\n', &mut skipped).map_err(io)?;
        if n == 0 {
            break;
        }
        byte += n as u64;
        line += 1;
    }
    let mut reader = Reader::new(buffered, format, line, byte);
    let mut record = Record::default();
    let first = loop {
        match reader.read(&mut record).map_err(io)? {
            Next::Record => break true,
            Next::End => break false,
            Next::Malformed { line, reason } if format.header => {
                return Err(ToolError::refused(
                    format!("cannot read the header at line {line}: {reason}; nothing was loaded"),
                    "check delimiter, quote and escape against the file",
                ));
            }
            Next::Malformed { .. } => {}
        }
    };
    let fields = if format.header {
        if !first {
            return Err(ToolError::invalid(argument, format!("{} has no header row", path.display())));
        }
        let mut fields = Vec::with_capacity(record.len());
        for (i, f) in record.iter().enumerate() {
            let name = std::str::from_utf8(f)
                .map_err(|_| not_utf8(record.line, record.byte, &format!("header field {}", i + 1)))?;
            fields.push(name.trim().to_string());
        }
        fields
    } else {
        // Field names are positions; the width comes from the first record, read again after.
        if first {
            reader.line = record.line;
            reader.byte = record.byte;
            reader.src.seek(SeekFrom::Start(record.byte)).map_err(io)?;
        }
        (1..=record.len()).map(|i| i.to_string()).collect()
    };
    Ok(Opened { reader, fields })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every record of `text` as (line, fields with their quoted flag) or (line, the reject).
    type Read = (u64, Result<Vec<(String, bool)>, String>);

    fn read_all(text: &str, format: &Format) -> Vec<Read> {
        let mut file = tempfile::tempfile().unwrap();
        std::io::Write::write_all(&mut file, text.as_bytes()).unwrap();
        file.seek(SeekFrom::Start(0)).unwrap();
        let mut reader = Reader::new(BufReader::new(file), format, 1, 0);
        let mut record = Record::default();
        let mut out = Vec::new();
        loop {
            match reader.read(&mut record).unwrap() {
                Next::End => return out,
                Next::Malformed { line, reason } => out.push((line, Err(reason))),
                Next::Record => out.push((
                    record.line,
                    Ok((0..record.len())
                        .map(|i| (String::from_utf8(record.field(i).to_vec()).unwrap(), record.quoted(i)))
                        .collect()),
                )),
            }
        }
    }

    fn fields(v: &[(&str, bool)]) -> Result<Vec<(String, bool)>, String> {
        Ok(v.iter().map(|(s, q)| (s.to_string(), *q)).collect())
    }

    #[test]
    fn quotes_follow_copy() {
        let f = Format::default();
        // A quote anywhere opens a quoted part; doubled quotes inside one are one quote.
        let got = read_all("a\"b,c\"d,\"x\"\"y\",,\"\"\n", &f);
        assert_eq!(got, vec![(1, fields(&[("ab,cd", true), ("x\"y", true), ("", false), ("", true)]))]);
        // With a backslash escape, \" is a quote inside a quoted field.
        let esc = Format { escape: Some(b'\\'), ..Format::default() };
        assert_eq!(read_all("\"a\\\"b\"\n", &esc), vec![(1, fields(&[("a\"b", true)]))]);
    }

    #[test]
    fn lines_are_the_files_lines_with_crlf() {
        let got = read_all("a,b\r\n\"x\r\ny\",z\r\nc,d", &Format::default());
        assert_eq!(
            got,
            vec![
                (1, fields(&[("a", false), ("b", false)])),
                (2, fields(&[("x\r\ny", true), ("z", false)])),
                (4, fields(&[("c", false), ("d", false)])),
            ]
        );
    }

    #[test]
    fn a_quote_never_closed_is_its_line_only() {
        let got = read_all("1,ok\n2,\"open\n3,fine\n4,x\n5,last\n", &Format::default());
        let lines: Vec<(u64, bool)> = got.iter().map(|(l, r)| (*l, r.is_ok())).collect();
        assert_eq!(lines, vec![(1, true), (2, false), (3, true), (4, true), (5, true)], "{got:?}");
        // Two stray quotes pair up across lines, as COPY pairs them: one value holding a line
        // break (a width check then judges the record).
        let got = read_all("2,\"open\n4,x\"y\n", &Format::default());
        assert_eq!(got, vec![(1, fields(&[("2", false), ("open\n4,xy", true)]))]);
    }
}
