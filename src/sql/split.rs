//! Cut a SQL script into statements without parsing them, so one statement the parser cannot read
//! keeps its place and a failure can be pointed at. The one splitter: verify-order, migration
//! files and seeds read scripts through it. It knows the engine's quoting (backslash escapes in
//! MySQL strings, only in `E''` strings on PostgreSQL), comments (nested block comments), dollar
//! quotes (`$1` is a parameter, not one), the MySQL client's `DELIMITER`, and the bodies of
//! triggers, procedures, functions and events, where `;` does not end the statement (MySQL's
//! `IF ... END IF`, loops and `CASE ... END` inside them too).

use crate::config::Engine;

/// One statement of a script.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Piece {
    /// As written: leading comments, through its terminator.
    pub text: String,
    /// From its first token, without its terminator, trimmed.
    pub sql: String,
    /// Byte offset of its first token in the script.
    pub offset: usize,
    /// 1-based line of its first token.
    pub line: usize,
}

/// Split `script` as `engine` reads it. Comment-only fragments are dropped.
pub fn split(script: &str, engine: Engine) -> Vec<Piece> {
    Splitter { script, bytes: script.as_bytes(), engine, out: Vec::new() }.run()
}

struct Splitter<'a> {
    script: &'a str,
    bytes: &'a [u8],
    engine: Engine,
    out: Vec<Piece>,
}

/// What the words of the current statement have shown so far.
#[derive(Default)]
struct Statement {
    start: usize,
    /// Byte offset of the first token, once seen.
    first: Option<usize>,
    /// Open `BEGIN` / `CASE` / MySQL compound blocks inside a routine body.
    depth: usize,
    /// The statement creates a trigger, procedure, function or event: its BEGIN opens a body.
    routine: bool,
    words: usize,
    created: bool,
    previous: String,
}

impl Splitter<'_> {
    fn run(mut self) -> Vec<Piece> {
        let mut st = Statement::default();
        let mut delimiter = String::from(";");
        let mut i = 0;
        while i < self.bytes.len() {
            let c = self.bytes[i];
            // The MySQL client's `DELIMITER xx`, alone at a statement's start.
            if st.first.is_none() && matches!(c, b'd' | b'D') && self.starts_word(i, "delimiter ") {
                let end = self.script[i..].find('\n').map_or(self.bytes.len(), |n| i + n);
                let token = self.script[i + 10..end].trim();
                if !token.is_empty() {
                    delimiter = token.to_string();
                }
                i = end;
                st = Statement { start: end, ..Statement::default() };
                continue;
            }
            // A delimiter made of punctuation ends a statement wherever it stands; one that
            // starts like a word only at a word's start.
            let at_boundary = !is_word(delimiter.as_bytes()[0]) || !self.inside_word(i);
            if delimiter != ";" && self.script[i..].starts_with(delimiter.as_str()) && at_boundary {
                self.push(&st, i, i + delimiter.len());
                i += delimiter.len();
                st = Statement { start: i, ..Statement::default() };
                continue;
            }
            match c {
                b'-' if self.bytes.get(i + 1) == Some(&b'-') => {
                    i = self.script[i..].find('\n').map_or(self.bytes.len(), |n| i + n + 1);
                }
                // MySQL's `#` comments.
                b'#' if self.engine == Engine::Mysql => {
                    i = self.script[i..].find('\n').map_or(self.bytes.len(), |n| i + n + 1);
                }
                b'/' if self.bytes.get(i + 1) == Some(&b'*') => i = self.skip_block_comment(i),
                b'\'' | b'"' | b'`' => {
                    st.first.get_or_insert(i);
                    i = self.skip_quoted(i);
                }
                b'$' if !self.inside_word(i) && dollar_tag(&self.script[i..]).is_some() => {
                    st.first.get_or_insert(i);
                    let tag = dollar_tag(&self.script[i..]).unwrap_or("$$");
                    let body = i + tag.len();
                    i = self.script[body..].find(tag).map_or(self.bytes.len(), |n| body + n + tag.len());
                }
                b';' if st.depth == 0 && delimiter == ";" => {
                    self.push(&st, i, i + 1);
                    i += 1;
                    st = Statement { start: i, ..Statement::default() };
                }
                c if is_word(c) && !self.inside_word(i) => {
                    st.first.get_or_insert(i);
                    let end = (i..self.bytes.len()).find(|&j| !is_word(self.bytes[j])).unwrap_or(self.bytes.len());
                    st.word(&self.script[i..end]);
                    i = end;
                }
                c => {
                    if !c.is_ascii_whitespace() {
                        st.first.get_or_insert(i);
                    }
                    i += 1;
                }
            }
        }
        self.push(&st, self.bytes.len(), self.bytes.len());
        self.out
    }

    /// Keep the statement that ends before `end` (its terminator running to `after`).
    fn push(&mut self, st: &Statement, end: usize, after: usize) {
        let Some(first) = st.first else { return };
        let text = self.script[st.start..after].trim();
        let sql = self.script[first..end].trim();
        if sql.is_empty() {
            return;
        }
        self.out.push(Piece {
            text: text.to_string(),
            sql: sql.to_string(),
            offset: first,
            line: self.script[..first].matches('\n').count() + 1,
        });
    }

    fn starts_word(&self, i: usize, word: &str) -> bool {
        self.script[i..].get(..word.len()).is_some_and(|w| w.eq_ignore_ascii_case(word)) && !self.inside_word(i)
    }

    fn inside_word(&self, i: usize) -> bool {
        i > 0 && is_word(self.bytes[i - 1])
    }

    /// Past a block comment; PostgreSQL nests them.
    fn skip_block_comment(&self, mut i: usize) -> usize {
        let nests = self.engine == Engine::Postgres;
        let mut depth = 0;
        while i < self.bytes.len() {
            if self.bytes[i] == b'/' && self.bytes.get(i + 1) == Some(&b'*') {
                depth += 1;
                i += 2;
            } else if self.bytes[i] == b'*' && self.bytes.get(i + 1) == Some(&b'/') {
                depth -= 1;
                i += 2;
                if depth == 0 || !nests {
                    return i;
                }
            } else {
                i += 1;
            }
        }
        i
    }

    /// Past a quoted string or identifier opened at `open`. A doubled quote is an escaped one;
    /// a backslash escapes in MySQL strings and in PostgreSQL's `E''` strings.
    fn skip_quoted(&self, open: usize) -> usize {
        let quote = self.bytes[open];
        let backslash = match self.engine {
            Engine::Mysql => quote != b'`',
            Engine::Postgres => quote == b'\'' && open > 0 && matches!(self.bytes[open - 1], b'E' | b'e'),
            _ => false,
        };
        let mut i = open + 1;
        while i < self.bytes.len() {
            if backslash && self.bytes[i] == b'\\' {
                i += 2;
                continue;
            }
            if self.bytes[i] == quote {
                if self.bytes.get(i + 1) == Some(&quote) {
                    i += 2;
                    continue;
                }
                return i + 1;
            }
            i += 1;
        }
        self.bytes.len()
    }
}

impl Statement {
    fn word(&mut self, word: &str) {
        let word = word.to_ascii_uppercase();
        self.words += 1;
        if self.words == 1 {
            self.created = word == "CREATE";
        }
        if self.created && matches!(word.as_str(), "TRIGGER" | "PROCEDURE" | "FUNCTION" | "EVENT") {
            self.routine = true;
        }
        if self.routine {
            let after_end = self.previous == "END";
            match word.as_str() {
                "BEGIN" if !after_end => self.depth += 1,
                "CASE" if !after_end && self.depth > 0 => self.depth += 1,
                // MySQL's compound statements inside a body: IF ... END IF and the loops.
                "IF" | "LOOP" | "WHILE" | "REPEAT" if !after_end && self.depth > 0 => self.depth += 1,
                "END" => self.depth = self.depth.saturating_sub(1),
                _ => {}
            }
        }
        self.previous = word;
    }
}

fn is_word(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// `$tag$` or `$$` at the start of `s`, if it opens a dollar-quoted string (`$1` does not).
fn dollar_tag(s: &str) -> Option<&str> {
    let rest = &s[1..];
    let end = rest.find('$')?;
    let tag = &rest[..end];
    let valid = tag.chars().enumerate().all(|(n, ch)| ch == '_' || ch.is_alphabetic() || (n > 0 && ch.is_numeric()));
    valid.then(|| &s[..end + 2])
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
    use Engine::*;

    fn texts(script: &str, engine: Engine) -> Vec<(String, usize)> {
        split(script, engine).into_iter().map(|c| (c.text, c.line)).collect()
    }

    fn sqls(script: &str, engine: Engine) -> Vec<String> {
        split(script, engine).into_iter().map(|s| s.sql).collect()
    }

    // verify-order's cases.

    #[test]
    fn splits_on_semicolons_outside_quotes_comments_and_dollar_quotes() {
        let script = "-- header\ncreate table a (x text default ';');\n\n/* one; /* nested; */ */\ncreate function f() returns int language sql as $body$ select 1; $body$;\ninsert into a values ('it''s; fine');\nselect $1";
        let got = texts(script, Postgres);
        assert_eq!(got.len(), 4, "{got:?}");
        assert_eq!(got[0].1, 2, "the line of the first token, not of the comment");
        assert!(got[0].0.starts_with("-- header"), "leading comments stay with their statement");
        assert_eq!(got[1].1, 5);
        assert!(got[1].0.contains("$body$ select 1; $body$"));
        assert_eq!(got[2].1, 6);
        assert_eq!(got[3], ("select $1".to_string(), 7));
    }

    #[test]
    fn trigger_bodies_are_one_statement() {
        let script = "create trigger t after update on a begin update a set n = case when 1 then 2 end; select 1; end;\ncreate table b (x int);";
        let got = texts(script, Sqlite);
        assert_eq!(got.len(), 2, "{got:?}");
        assert!(got[0].0.ends_with("end;"));
        let mysql = "create trigger t before insert on a for each row begin if new.x > 1 then set new.y = 2; end if; end;\nselect 1;";
        assert_eq!(texts(mysql, Mysql).len(), 2);
    }

    #[test]
    fn mysql_delimiter_blocks() {
        let script = "create table a (x int);\nDELIMITER //\ncreate procedure p() begin select 1; select 2; end //\ncreate function f() returns int deterministic return 1//\nDELIMITER ;\ncreate table b (y int);";
        let got = split(script, Mysql);
        assert_eq!(got.len(), 4, "{got:?}");
        assert_eq!(got[1].sql, "create procedure p() begin select 1; select 2; end");
        assert_eq!(got[1].line, 3);
        assert_eq!(got[3].text, "create table b (y int);");
        assert_eq!(got[3].line, 6);
    }

    #[test]
    fn comment_only_tail_is_dropped() {
        assert_eq!(texts("create table a (x int);\n-- the end\n", Postgres).len(), 1);
        assert!(texts("  \n-- nothing\n", Postgres).is_empty());
    }

    // The migration tools' cases.

    #[test]
    fn statements_carry_offset_and_line_without_leading_comments_or_terminator() {
        let script = "-- header\ncreate table a (x text default ';');\n\n/* c; */ insert into a values ('it''s;');\ncreate function f() returns int language plpgsql as $$ begin return 1; end $$;";
        let got = split(script, Postgres);
        assert_eq!(got.len(), 3, "{got:?}");
        assert_eq!(got[0].sql, "create table a (x text default ';')");
        assert_eq!(got[0].line, 2);
        assert_eq!(&script[got[0].offset..got[0].offset + 6], "create");
        assert!(got[1].sql.starts_with("insert"));
        assert_eq!(got[1].line, 4);
        assert!(got[2].sql.ends_with("end $$"));
    }

    #[test]
    fn routine_bodies_whole_and_a_transaction_begin_is_no_body() {
        let script = "CREATE TRIGGER t AFTER INSERT ON a FOR EACH ROW BEGIN UPDATE b SET n = n + 1; \
                      UPDATE c SET m = CASE WHEN 1 THEN 2 END; END;\nselect 1;\n-- done\n";
        assert_eq!(sqls(script, Mysql).len(), 2, "{:?}", sqls(script, Mysql));
        assert_eq!(sqls("begin; select 1; commit;", Postgres), vec!["begin", "select 1", "commit"]);
        let procedure =
            "CREATE PROCEDURE p() BEGIN IF 1 THEN SELECT 1; END IF; WHILE 0 DO SELECT 2; END WHILE; END;\nSELECT 3;";
        assert_eq!(sqls(procedure, Mysql).len(), 2, "{:?}", sqls(procedure, Mysql));
        let atomic = "create function f() returns int language sql begin atomic select 1; end;\nselect 2;";
        assert_eq!(sqls(atomic, Postgres).len(), 2);
    }

    #[test]
    fn quoting_follows_the_engine() {
        // MySQL: a backslash escapes the quote. PostgreSQL: only in E'' strings.
        assert_eq!(sqls(r"select 'a\'; b'; select 2;", Mysql).len(), 2);
        assert_eq!(sqls(r"select 'a\'; select 2;", Postgres).len(), 2);
        assert_eq!(sqls(r"select E'a\'; b'; select 2;", Postgres).len(), 2);
        assert_eq!(sqls("select 1 # a; comment\n; select 2;", Mysql).len(), 2);
    }
}
