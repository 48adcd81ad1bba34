//! Split a migration script into statements, keeping each one's byte offset and line so a
//! failure can be pointed at. Quotes, dollar quotes and comments never end a statement.

/// One statement of a script.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    /// The statement text without its terminating semicolon, trimmed.
    pub sql: String,
    /// Byte offset of the statement's first character in the script.
    pub offset: usize,
    /// 1-based line of the statement's first character.
    pub line: usize,
}

/// Split on top-level semicolons. Comment-only fragments are dropped. `BEGIN ... END` bodies of
/// MySQL/SQLite triggers are kept whole (a semicolon inside them does not end the statement).
pub fn split(script: &str) -> Vec<Statement> {
    let bytes = script.as_bytes();
    let mut out = Vec::new();
    let mut start = 0;
    let mut i = 0;
    // Depth of BEGIN ... END blocks (trigger bodies) at statement level.
    let mut block_depth = 0usize;
    let push = |from: usize, to: usize, out: &mut Vec<Statement>| {
        let piece = &script[from..to];
        if strip_comments(piece).trim().is_empty() {
            return;
        }
        let offset = from + leading_comments(piece);
        out.push(Statement {
            sql: script[offset..to].trim().to_string(),
            offset,
            line: script[..offset].matches('\n').count() + 1,
        });
    };
    while i < bytes.len() {
        match bytes[i] {
            b'\'' | b'"' | b'`' => i = skip_quoted(bytes, i, bytes[i]),
            b'-' if bytes.get(i + 1) == Some(&b'-') => {
                i = script[i..].find('\n').map_or(bytes.len(), |n| i + n + 1);
            }
            b'/' if bytes.get(i + 1) == Some(&b'*') => {
                i = script[i + 2..].find("*/").map_or(bytes.len(), |n| i + 2 + n + 2);
            }
            b'$' => match dollar_tag(&script[i..]) {
                Some(tag) => {
                    let body = i + tag.len();
                    i = script[body..].find(tag).map_or(bytes.len(), |n| body + n + tag.len());
                }
                None => i += 1,
            },
            b';' if block_depth == 0 => {
                push(start, i, &mut out);
                i += 1;
                start = i;
            }
            b';' => i += 1,
            c if c.is_ascii_alphabetic() && (i == 0 || !is_word(bytes[i - 1])) => {
                let end = (i..bytes.len()).find(|&j| !is_word(bytes[j])).unwrap_or(bytes.len());
                let word = &script[i..end];
                if word.eq_ignore_ascii_case("begin") && opens_block(&script[start..i]) {
                    block_depth += 1;
                } else if word.eq_ignore_ascii_case("case") && block_depth > 0 {
                    // CASE ... END inside a body closes with END too.
                    block_depth += 1;
                } else if word.eq_ignore_ascii_case("end") && block_depth > 0 {
                    block_depth -= 1;
                }
                i = end;
            }
            _ => i += 1,
        }
    }
    push(start, bytes.len(), &mut out);
    out
}

/// Bytes of whitespace and comments before the statement's first token.
fn leading_comments(piece: &str) -> usize {
    let mut rest = piece;
    loop {
        let trimmed = rest.trim_start();
        if let Some(r) = trimmed.strip_prefix("--") {
            rest = r.find('\n').map_or("", |n| &r[n..]);
        } else if let Some(r) = trimmed.strip_prefix("/*") {
            rest = r.find("*/").map_or("", |n| &r[n + 2..]);
        } else {
            return piece.len() - trimmed.len();
        }
    }
}

fn is_word(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// A BEGIN opens a body only inside CREATE TRIGGER / PROCEDURE / FUNCTION / EVENT (elsewhere it
/// starts a transaction, which ends at its semicolon).
fn opens_block(statement_so_far: &str) -> bool {
    let s = strip_comments(statement_so_far).to_ascii_lowercase();
    let s = s.trim_start();
    s.starts_with("create") && ["trigger", "procedure", "function", "event"].iter().any(|k| s.contains(k))
}

fn skip_quoted(bytes: &[u8], open: usize, quote: u8) -> usize {
    let mut i = open + 1;
    while i < bytes.len() {
        if bytes[i] == b'\\' && quote != b'"' {
            // MySQL escapes inside strings; harmless elsewhere for well-formed SQL.
            i += 2;
            continue;
        }
        if bytes[i] == quote {
            if bytes.get(i + 1) == Some(&quote) {
                i += 2;
                continue;
            }
            return i + 1;
        }
        i += 1;
    }
    bytes.len()
}

/// `$tag$` or `$$` at the start of `s`.
fn dollar_tag(s: &str) -> Option<&str> {
    let rest = &s[1..];
    let end = rest.find('$')?;
    let tag = &rest[..end];
    tag.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_').then(|| &s[..end + 2])
}

/// The text with `--` and `/* */` comments removed (quotes respected only roughly: used to test
/// for emptiness and leading keywords).
pub fn strip_comments(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix("--") {
            rest = r.find('\n').map_or("", |n| &r[n..]);
        } else if let Some(r) = rest.strip_prefix("/*") {
            rest = r.find("*/").map_or("", |n| &r[n + 2..]);
        } else {
            let c = rest.chars().next().unwrap_or(' ');
            out.push(c);
            rest = &rest[c.len_utf8()..];
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sqls(s: &str) -> Vec<String> {
        split(s).into_iter().map(|s| s.sql).collect()
    }

    #[test]
    fn splits_on_top_level_semicolons_only() {
        let script = "-- header\ncreate table a (x text default ';');\n\n/* c; */ insert into a values ('it''s;');\ncreate function f() returns int language plpgsql as $$ begin return 1; end $$;";
        let got = split(script);
        assert_eq!(got.len(), 3, "{got:?}");
        assert_eq!(got[0].sql, "create table a (x text default ';')");
        assert_eq!(got[0].line, 2);
        assert!(got[1].sql.starts_with("insert"));
        assert_eq!(got[1].line, 4);
        assert!(got[2].sql.ends_with("end $$"));
    }

    #[test]
    fn keeps_trigger_bodies_whole_and_drops_comment_only_tail() {
        let script = "CREATE TRIGGER t AFTER INSERT ON a FOR EACH ROW BEGIN UPDATE b SET n = n + 1; \
                      UPDATE c SET m = CASE WHEN 1 THEN 2 END; END;\nselect 1;\n-- done\n";
        assert_eq!(sqls(script).len(), 2, "{:?}", sqls(script));
        assert_eq!(sqls("begin; select 1; commit;"), vec!["begin", "select 1", "commit"]);
    }
}
