//! Cut a SQL script into statements without parsing them, so one statement the parser cannot read
//! keeps its place and the rest are still checked. Knows quotes, comments, dollar quotes and the
//! `BEGIN ... END` bodies of SQLite triggers, where `;` does not end the statement.

/// One statement's text (leading comments included) and the line its first token is on.
#[derive(Debug, Clone, PartialEq)]
pub struct Chunk {
    pub text: String,
    pub line: usize,
}

pub fn split(script: &str) -> Vec<Chunk> {
    let bytes = script.as_bytes();
    let mut chunks = Vec::new();
    let mut start = 0;
    let mut line = 1;
    // The line of the first token of the current statement, once seen.
    let mut first_token_line: Option<usize> = None;
    // `BEGIN`/`CASE` minus `END` words inside a CREATE TRIGGER body.
    let mut depth: i64 = 0;
    let mut word_start: Option<usize> = None;
    let mut words_seen = 0usize;
    let mut is_trigger = false;
    let mut previous_word = String::new();
    // The MySQL client's `DELIMITER //` changes what ends a statement until the next DELIMITER.
    let mut delimiter = String::from(";");
    let mut i = 0;
    let flush = |chunks: &mut Vec<Chunk>, from: usize, to: usize, first: Option<usize>| {
        let text = script[from..to].trim();
        if let Some(line) = first
            && !text.is_empty()
        {
            chunks.push(Chunk { text: text.to_string(), line });
        }
    };
    while i < bytes.len() {
        let c = bytes[i];
        if first_token_line.is_none()
            && matches!(c, b'd' | b'D')
            && script[i..].get(..10).is_some_and(|w| w.eq_ignore_ascii_case("delimiter "))
        {
            let end = script[i..].find('\n').map_or(bytes.len(), |n| i + n);
            let token = script[i + 10..end].trim();
            if !token.is_empty() {
                delimiter = token.to_string();
            }
            i = end;
            start = end;
            continue;
        }
        let is_word_char = c.is_ascii_alphanumeric() || c == b'_';
        if !is_word_char && let Some(ws) = word_start.take() {
            let word = script[ws..i].to_ascii_uppercase();
            words_seen += 1;
            if words_seen <= 4 && word == "TRIGGER" {
                is_trigger = true;
            }
            if is_trigger {
                match word.as_str() {
                    "BEGIN" | "CASE" if previous_word != "END" => depth += 1,
                    // MySQL's compound statements inside a body: IF ... END IF and the loops.
                    "IF" | "LOOP" | "WHILE" | "REPEAT" if depth > 0 && previous_word != "END" => depth += 1,
                    "END" => depth -= 1,
                    _ => {}
                }
            }
            previous_word = word;
        }
        if delimiter != ";" && word_start.is_none() && script[i..].starts_with(delimiter.as_str()) {
            flush(&mut chunks, start, i, first_token_line);
            i += delimiter.len();
            start = i;
            first_token_line = None;
            depth = 0;
            words_seen = 0;
            previous_word.clear();
            is_trigger = false;
            continue;
        }
        match c {
            b'\n' => {
                line += 1;
                i += 1;
            }
            b'-' if bytes.get(i + 1) == Some(&b'-') => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
            }
            b'/' if bytes.get(i + 1) == Some(&b'*') => {
                // PostgreSQL nests block comments.
                let mut nest = 0;
                while i < bytes.len() {
                    if bytes[i] == b'/' && bytes.get(i + 1) == Some(&b'*') {
                        nest += 1;
                        i += 2;
                    } else if bytes[i] == b'*' && bytes.get(i + 1) == Some(&b'/') {
                        nest -= 1;
                        i += 2;
                        if nest == 0 {
                            break;
                        }
                    } else {
                        if bytes[i] == b'\n' {
                            line += 1;
                        }
                        i += 1;
                    }
                }
            }
            b'\'' | b'"' | b'`' => {
                first_token_line.get_or_insert(line);
                // E'...' strings take backslash escapes.
                let backslash = c == b'\'' && i > 0 && matches!(bytes[i - 1], b'E' | b'e');
                i += 1;
                while i < bytes.len() {
                    if backslash && bytes[i] == b'\\' {
                        i += 2;
                        continue;
                    }
                    if bytes[i] == b'\n' {
                        line += 1;
                    }
                    if bytes[i] == c {
                        // A doubled quote is an escaped quote.
                        if bytes.get(i + 1) == Some(&c) {
                            i += 2;
                            continue;
                        }
                        i += 1;
                        break;
                    }
                    i += 1;
                }
            }
            b'$' if word_start.is_none() && dollar_tag(&script[i..]).is_some() => {
                first_token_line.get_or_insert(line);
                let tag = dollar_tag(&script[i..]).unwrap_or("$$");
                let body_start = i + tag.len();
                match script[body_start..].find(tag) {
                    Some(end) => {
                        line += script[body_start..body_start + end].matches('\n').count();
                        i = body_start + end + tag.len();
                    }
                    None => {
                        line += script[body_start..].matches('\n').count();
                        i = bytes.len();
                    }
                }
            }
            b';' if depth <= 0 && delimiter == ";" => {
                flush(&mut chunks, start, i + 1, first_token_line);
                i += 1;
                start = i;
                first_token_line = None;
                depth = 0;
                words_seen = 0;
                previous_word.clear();
                is_trigger = false;
            }
            _ => {
                if !c.is_ascii_whitespace() {
                    first_token_line.get_or_insert(line);
                }
                if is_word_char && word_start.is_none() {
                    word_start = Some(i);
                }
                i += 1;
            }
        }
    }
    flush(&mut chunks, start, bytes.len(), first_token_line);
    chunks
}

/// `$tag$` or `$$` at the start of `s`, if it opens a dollar-quoted string.
fn dollar_tag(s: &str) -> Option<&str> {
    let rest = &s[1..];
    let end = rest.find('$')?;
    let tag = &rest[..end];
    let valid = tag.chars().enumerate().all(|(n, ch)| ch == '_' || ch.is_alphabetic() || (n > 0 && ch.is_numeric()));
    valid.then(|| &s[..end + 2])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(script: &str) -> Vec<(String, usize)> {
        split(script).into_iter().map(|c| (c.text, c.line)).collect()
    }

    #[test]
    fn splits_on_semicolons_outside_quotes_comments_and_dollar_quotes() {
        let script = "-- header\ncreate table a (x text default ';');\n\n/* one; /* nested; */ */\ncreate function f() returns int language sql as $body$ select 1; $body$;\ninsert into a values ('it''s; fine');\nselect $1";
        let got = texts(script);
        assert_eq!(got.len(), 4, "{got:?}");
        assert_eq!(got[0].1, 2, "the line of the first token, not of the comment");
        assert!(got[0].0.starts_with("-- header"), "leading comments stay with their statement");
        assert_eq!(got[1].1, 5);
        assert!(got[1].0.contains("$body$ select 1; $body$"));
        assert_eq!(got[2].1, 6);
        assert_eq!(got[3], ("select $1".to_string(), 7));
    }

    #[test]
    fn sqlite_trigger_bodies_are_one_statement() {
        let script = "create trigger t after update on a begin update a set n = case when 1 then 2 end; select 1; end;\ncreate table b (x int);";
        let got = texts(script);
        assert_eq!(got.len(), 2, "{got:?}");
        assert!(got[0].0.ends_with("end;"));
        let mysql = "create trigger t before insert on a for each row begin if new.x > 1 then set new.y = 2; end if; end;\nselect 1;";
        assert_eq!(texts(mysql).len(), 2);
    }

    #[test]
    fn mysql_delimiter_blocks() {
        let script = "create table a (x int);\nDELIMITER //\ncreate procedure p() begin select 1; select 2; end //\ncreate function f() returns int deterministic return 1//\nDELIMITER ;\ncreate table b (y int);";
        let got = texts(script);
        assert_eq!(got.len(), 4, "{got:?}");
        assert_eq!(got[1], ("create procedure p() begin select 1; select 2; end".to_string(), 3));
        assert_eq!(got[3], ("create table b (y int);".to_string(), 6));
    }

    #[test]
    fn comment_only_tail_is_dropped() {
        assert_eq!(texts("create table a (x int);\n-- the end\n").len(), 1);
        assert!(texts("  \n-- nothing\n").is_empty());
    }
}
