//! Secret redaction for everything the server emits.
//!
//! Database drivers echo DSNs (passwords included) in their error messages, query
//! results and configs can carry credentials, and stderr logs are often captured by
//! the MCP client. Every string leaving the process goes through [`Redactor`] so that
//! secrets the server knows, and secret-shaped tokens it does not, never reach the
//! model or its transcript. The mask keeps labels visible (`password=***`,
//! `postgres://app:***@db/x`, `Bearer ***`) so messages stay useful.

use std::borrow::Cow;
use std::collections::BTreeSet;
use std::fmt;
use std::sync::{LazyLock, OnceLock};

use aho_corasick::{AhoCorasick, MatchKind};
use regex::{Captures, Regex};
use serde_json::Value;

const MASK: &str = "***";
/// Shorter literals would mask ordinary words and numbers everywhere.
const MIN_SECRET_CHARS: usize = 4;

/// Masks known secret literals and secret-shaped patterns in outgoing text.
#[derive(Clone, Default)]
pub struct Redactor {
    known: Known,
}

#[derive(Clone, Default)]
enum Known {
    #[default]
    Empty,
    Matcher(AhoCorasick),
    /// Only if the automaton cannot be built (absurdly many/long secrets): slower, still correct.
    Naive(Vec<String>),
}

// Hand-written so a `{:?}` of a config struct never prints the secrets themselves.
impl fmt::Debug for Redactor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = match &self.known {
            Known::Empty => 0,
            Known::Matcher(ac) => ac.patterns_len(),
            Known::Naive(v) => v.len(),
        };
        f.debug_struct("Redactor").field("known_variants", &n).finish()
    }
}

impl Redactor {
    /// `known` are literal secret values the server holds (passwords, interpolated env values).
    pub fn new<I, S>(known: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut variants = BTreeSet::new();
        for secret in known {
            let secret = secret.as_ref();
            if secret.chars().count() < MIN_SECRET_CHARS {
                continue;
            }
            let mut bases = vec![secret.to_owned()];
            if let Some(decoded) = percent_decode(secret) {
                bases.push(decoded);
            }
            for base in bases {
                variants.insert(percent_encode(&base, is_unreserved, true));
                variants.insert(percent_encode(&base, is_unreserved, false));
                variants.insert(percent_encode(&base, is_userinfo_safe, true));
                variants.insert(percent_encode(&base, is_unreserved, true).replace("%20", "+"));
                if let Ok(json) = serde_json::to_string(&base) {
                    variants.insert(json[1..json.len() - 1].to_owned());
                }
                variants.insert(base);
            }
        }
        variants.retain(|v| v.chars().count() >= MIN_SECRET_CHARS);
        if variants.is_empty() {
            return Self::patterns_only();
        }
        let known = match AhoCorasick::builder().match_kind(MatchKind::LeftmostLongest).build(&variants) {
            Ok(ac) => Known::Matcher(ac),
            Err(_) => {
                let mut v: Vec<String> = variants.into_iter().collect();
                v.sort_by_key(|s| std::cmp::Reverse(s.len()));
                Known::Naive(v)
            }
        };
        Self { known }
    }

    /// A redactor that knows no literal secrets (patterns only).
    pub fn patterns_only() -> Self {
        Self { known: Known::Empty }
    }

    /// Redact one string. Returns Cow::Borrowed when nothing matched (fast path: must be cheap on clean text).
    pub fn redact<'a>(&self, text: &'a str) -> Cow<'a, str> {
        let mut out = match self.mask_known(text) {
            Some(s) => Cow::Owned(s),
            None => Cow::Borrowed(text),
        };
        // Text without any rule's trigger words stops here, before any pattern is compiled (a
        // server's answers are mostly such text). Otherwise each rule whose words it holds runs,
        // in order, on the progressively redacted text, so later rules see earlier masks.
        let found = triggers_in(out.as_ref());
        if found == 0 {
            return out;
        }
        for (index, rule) in RULES.iter().enumerate().filter(|(_, r)| r.triggers & found != 0) {
            let fix = PATTERNS[index].1;
            let replaced =
                match rule.regex(index).replace_all(&out, |c: &Captures<'_>| fix(c).unwrap_or_else(|| c[0].to_owned()))
                {
                    Cow::Owned(s) => Some(s),
                    Cow::Borrowed(_) => None,
                };
            if let Some(s) = replaced {
                out = Cow::Owned(s);
            }
        }
        // Fix-ups may decline every match (e.g. `password: YES`); keep the borrow then.
        if out == text { Cow::Borrowed(text) } else { out }
    }

    /// Redact the text inside bytes: every run of valid UTF-8 is redacted as text, the other
    /// bytes are kept as they are. `None` when nothing matched.
    pub fn redact_bytes(&self, bytes: &[u8]) -> Option<Vec<u8>> {
        let mut out: Option<Vec<u8>> = None;
        let mut done = 0;
        for chunk in bytes.utf8_chunks() {
            let text = chunk.valid();
            if let Cow::Owned(redacted) = self.redact(text) {
                // `text` borrows from `bytes`, so its offset is where this run starts.
                let start = text.as_ptr() as usize - bytes.as_ptr() as usize;
                let o = out.get_or_insert_with(|| Vec::with_capacity(bytes.len()));
                o.extend_from_slice(&bytes[done..start]);
                o.extend_from_slice(redacted.as_bytes());
                done = start + text.len();
            }
        }
        out.map(|mut o| {
            o.extend_from_slice(&bytes[done..]);
            o
        })
    }

    /// A string that encodes bytes the way our decoders and the databases print them (standard
    /// base64, PostgreSQL's `\x` hex): the bytes' text redacted and encoded the same way again.
    /// `None` when the string is no such encoding or nothing matched.
    pub fn redact_encoded(&self, s: &str) -> Option<String> {
        use base64::Engine as _;
        let b64 = &base64::engine::general_purpose::STANDARD;
        if let Some(digits) = s.strip_prefix("\\x") {
            let bytes = hex::decode(digits).ok()?;
            return self.redact_bytes(&bytes).map(|r| format!("\\x{}", hex::encode(r)));
        }
        // The shortest secret (4 characters) takes 8; shorter, or not a multiple of 4, is no
        // base64 we or a driver wrote.
        if s.len() < 8
            || !s.len().is_multiple_of(4)
            || !s.bytes().all(|b| b.is_ascii_alphanumeric() || b"+/=".contains(&b))
        {
            return None;
        }
        let bytes = b64.decode(s).ok()?;
        self.redact_bytes(&bytes).map(|r| b64.encode(r))
    }

    /// Redact every string (object keys are left alone, values recursively) in a JSON value in
    /// place; a string that encodes bytes ([`Redactor::redact_encoded`]) has their text redacted.
    pub fn redact_json(&self, value: &mut Value) {
        match value {
            Value::String(s) => {
                if let Some(r) = self.redact_encoded(s) {
                    *s = r;
                }
                if let Cow::Owned(r) = self.redact(s) {
                    *s = r;
                }
            }
            Value::Array(items) => items.iter_mut().for_each(|v| self.redact_json(v)),
            Value::Object(map) => map.values_mut().for_each(|v| self.redact_json(v)),
            Value::Null | Value::Bool(_) | Value::Number(_) => {}
        }
    }

    fn mask_known(&self, text: &str) -> Option<String> {
        match &self.known {
            Known::Empty => None,
            Known::Matcher(ac) => {
                let mut matches = ac.find_iter(text).peekable();
                matches.peek()?;
                let mut out = String::with_capacity(text.len());
                let mut last = 0;
                for m in matches {
                    out.push_str(&text[last..m.start()]);
                    out.push_str(MASK);
                    last = m.end();
                }
                out.push_str(&text[last..]);
                Some(out)
            }
            Known::Naive(list) => {
                let mut out: Option<String> = None;
                for s in list {
                    let cur = out.as_deref().unwrap_or(text);
                    if cur.contains(s.as_str()) {
                        out = Some(cur.replace(s.as_str(), MASK));
                    }
                }
                out
            }
        }
    }
}

// ---------------------------------------------------------------------------
// Pattern rules
// ---------------------------------------------------------------------------

/// Returns the replacement for one match, or `None` to leave it untouched.
type Fix = fn(&Captures<'_>) -> Option<String>;

/// One pattern, compiled the first time a text holds one of its trigger words: most answers hold
/// none, so most servers never pay for most patterns (compile time on the first answer, memory
/// for the rest of the process).
struct Rule {
    re: OnceLock<Regex>,
    /// Bit `i` set: [`TRIGGER_WORDS`]`[i]` is one of this rule's triggers.
    triggers: u64,
}

impl Rule {
    fn regex(&self, index: usize) -> &Regex {
        self.re.get_or_init(|| Regex::new(PATTERNS[index].0).expect("valid regex"))
    }
}

// Conventions: group `s` is the secret (masked, rest of the match kept); the kv rule
// uses `p` (label, kept, containing key `k`) + `v` (value; its quotes are kept). `(?-u:\b)` is an ASCII word boundary: the
// Unicode one makes the lazy DFA give up on non-ASCII text, which kills the fast path.
// Order matters: rules run in this order on the output of the previous ones.
const PATTERNS: &[(&str, Fix)] = &[
    // PEM private keys, multi-line; an unterminated (truncated) block masks to the end.
    (
        r"(?s)(?P<s>-----BEGIN [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----.*?(?:-----END [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----|\z))",
        mask_group,
    ),
    // URL userinfo. The password may hold `:` and raw `@`; greedy matching picks the
    // last `@` before the path/query, i.e. the host separator.
    (r#"(?P<p>[A-Za-z][A-Za-z0-9+.-]*://[^\s:/?#@"'<>\\]*:)(?P<s>[^\s/?#"'<>\\]+)@"#, mask_group),
    // Authorization headers: keep the scheme word, mask the credential.
    (
        r#"(?i)(?P<p>(?-u:\b)(?:proxy-)?authorization(?:\\?["'])?[ \t]*[:=][ \t]*(?:\\?["'])?(?:(?:bearer|basic|token|digest|negotiate|ntlm|apikey|aws4-hmac-sha256)[ \t]+)?)(?P<s>[^\s"'\\,;]+)"#,
        mask_group,
    ),
    // Cookie headers carry session credentials; mask the whole header value.
    (
        r#"(?i)(?P<p>(?-u:\b)(?:set-)?cookie(?:\\?["'])?[ \t]*[:=][ \t]*(?:\\?["'])?)(?P<s>[^\s"'\\][^"'\\\r\n]*)"#,
        mask_group,
    ),
    // XML elements: `<password>x</password>`, `<ns:secretKey>x</ns:secretKey>`.
    (
        r"(?i)(?P<p><[a-z0-9_.:-]*?(?:password|passwd|secret|token|api[_-]?key|access[_-]?key|private[_-]?key)>)(?P<s>[^<]+)<",
        mask_group,
    ),
    // key=value / key: value secrets (libpq, query strings, JSON, YAML, env, ODBC).
    // Long keywords may be glued to a prefix (`sslpassword`, `AccountKey`); short
    // ones (`pwd`, `pass`, `sig`) need a separator so `bypass=` is not a secret.
    (
        concat!(
            r#"(?i)(?P<p>(?-u:\b)(?P<k>[a-z0-9_.-]*?(?:password|passwd|passphrase|secret|token|signature|(?:api|access|private|secret|account|sharedaccess|master|signing|encryption|client)[_.-]?key)|(?:[a-z0-9]+[_.-])*(?:pwd|pass|sig))"#,
            r#"(?:\\?["'])?[ \t]*(?::=|==?|:)[ \t]*)"#,
            r#"(?P<v>\\"(?:[^"\\\r\n]|\\[^"\r\n])*\\"|"(?:[^"\\\r\n]|\\.)*"|'(?:[^'\\\r\n]|''|\\.)*'|\{[^}"\r\n]*\}|\$\{[A-Za-z0-9_]*\}|[^\s"'`<>&;=:(\[{)\]}][^\s"'`<>&;)\]}]*)"#,
        ),
        fix_kv,
    ),
    // SQL DDL: `PASSWORD 'x'`, `IDENTIFIED [WITH plugin] BY 'x'`.
    (
        r"(?i)(?P<p>(?-u:\b)(?:password|identified(?:[ \t]+with[ \t]+[a-z0-9_]+)?[ \t]+by)[ \t]+')(?P<s>(?:[^'\\\r\n]|''|\\.)+)'",
        mask_group,
    ),
    // Bare bearer tokens (header name already stripped by a driver or logger).
    (r"(?P<p>(?-u:\b)(?:Bearer|bearer|BEARER)[ \t]+)(?P<s>[A-Za-z0-9._~+/-]+=*)", fix_bearer),
    // Bare HTTP Basic credentials; `t` catches identifier chars that prove it is a word.
    (r"(?P<p>(?-u:\b)(?:Basic|BASIC)[ \t]+)(?P<s>[A-Za-z0-9+/]+={0,2})(?P<t>[_.-]?)", fix_basic),
    // JWT / JWS (3 segments) and JWE (5 segments).
    (r"(?P<s>(?-u:\b)eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}(?:\.[A-Za-z0-9_-]*){1,3})", mask_group),
    // Vendor keys recognisable by prefix.
    (
        concat!(
            r"(?-u:\b)(?P<s>",
            r"gh[pousr]_[A-Za-z0-9]{30,}",
            r"|github_pat_[A-Za-z0-9_]{30,}",
            r"|xox[abposr]-[A-Za-z0-9-]{10,}",
            r"|(?:sk|rk|pk)_(?:live|test)_[A-Za-z0-9]{16,}",
            r"|whsec_[A-Za-z0-9]{24,}",
            r"|sk-[A-Za-z0-9_-]{20,}",
            r"|gl(?:pat|dt|rt|ptt)-[A-Za-z0-9_-]{20,}",
            r"|npm_[A-Za-z0-9]{36}",
            r"|pypi-[A-Za-z0-9_-]{40,}",
            r"|SG\.[A-Za-z0-9_-]{16,}\.[A-Za-z0-9_-]{16,}",
            r"|SK[0-9a-f]{32}(?-u:\b)",
            r"|ya29\.[A-Za-z0-9_-]{20,}",
            r"|hf_[A-Za-z0-9]{30,}",
            r"|do[por]_v1_[a-f0-9]{64}",
            r"|shp(?:at|ca|pa|ss)_[a-fA-F0-9]{32}",
            r"|(?:AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16}(?-u:\b)",
            r"|AIza[A-Za-z0-9_-]{35}",
            r")",
        ),
        fix_prefixed,
    ),
];

/// Per rule of [`PATTERNS`], in order: literals at least one of which every match of the rule
/// contains (ASCII case aside). A text holding none of a rule's words cannot match it, and the
/// rule is neither compiled nor run. The unit test `triggers_cover_every_pattern` holds these
/// lists to the patterns.
const RULE_TRIGGERS: &[&[&str]] = &[
    &["-----begin"],
    &["://"],
    &["authorization"],
    &["cookie"],
    &["pass", "secret", "token", "key"],
    &["pass", "pwd", "secret", "token", "sig", "key"],
    &["pass", "identified"],
    &["bearer"],
    &["basic"],
    &["eyj"],
    &[
        "gh",
        "github_pat_",
        "xox",
        "sk",
        "rk_",
        "pk_",
        "whsec_",
        "gl",
        "npm_",
        "pypi-",
        "sg.",
        "ya29.",
        "hf_",
        "_v1_",
        "shp",
        "akia",
        "asia",
        "abia",
        "acca",
        "aiza",
    ],
];

/// Every rule's trigger words, each once.
static TRIGGER_WORDS: LazyLock<Vec<&'static str>> = LazyLock::new(|| {
    let mut words: Vec<&str> = RULE_TRIGGERS.iter().flat_map(|w| w.iter().copied()).collect();
    words.sort_unstable();
    words.dedup();
    words
});

/// Built in microseconds, unlike the patterns.
static TRIGGERS: LazyLock<AhoCorasick> = LazyLock::new(|| {
    AhoCorasick::builder().ascii_case_insensitive(true).build(TRIGGER_WORDS.iter()).expect("literal patterns")
});

static RULES: LazyLock<Vec<Rule>> = LazyLock::new(|| {
    RULE_TRIGGERS
        .iter()
        .map(|words| Rule {
            re: OnceLock::new(),
            triggers: words.iter().fold(0, |bits, w| bits | 1 << TRIGGER_WORDS.binary_search(w).expect("listed")),
        })
        .collect()
});

/// The trigger words `text` holds, as bits of [`TRIGGER_WORDS`].
fn triggers_in(text: &str) -> u64 {
    TRIGGERS.find_overlapping_iter(text).fold(0, |bits, m| bits | 1 << m.pattern().as_usize())
}

/// Replace group `s` with the mask, keeping the rest of the match.
fn mask_group(c: &Captures<'_>) -> Option<String> {
    let all = c.get(0)?;
    let s = c.name("s")?;
    let m = all.as_str();
    let (a, b) = (s.start() - all.start(), s.end() - all.start());
    Some(format!("{}{MASK}{}", &m[..a], &m[b..]))
}

fn fix_kv(c: &Captures<'_>) -> Option<String> {
    let pre = c.name("p")?.as_str();
    let key = c.name("k")?.as_str().as_bytes();
    let v = c.name("v")?.as_str();
    let (open, inner, close) = split_quotes(v);
    // `PWD=/home/x` in an environment dump is the working directory.
    let cwd = key.len() >= 3 && key[key.len() - 3..].eq_ignore_ascii_case(b"pwd") && inner.starts_with(['/', '~']);
    if cwd || is_not_a_secret(inner) {
        return None;
    }
    Some(format!("{pre}{open}{MASK}{close}"))
}

fn split_quotes(v: &str) -> (&str, &str, &str) {
    for (open, close) in [("\\\"", "\\\""), ("\"", "\""), ("'", "'"), ("{", "}")] {
        if v.len() >= open.len() + close.len() && v.starts_with(open) && v.ends_with(close) {
            return (open, &v[open.len()..v.len() - close.len()], close);
        }
    }
    // Sentence punctuation after an unquoted value is not part of it.
    let inner = v.trim_end_matches(['.', ',']);
    ("", inner, &v[inner.len()..])
}

/// Values that are visibly not secrets: `password: YES` (MySQL), `null`, placeholders.
fn is_not_a_secret(v: &str) -> bool {
    const WORDS: &[&str] = &[
        "yes", "no", "true", "false", "null", "none", "nil", "empty", "unset", "required", "missing", "invalid",
        "expired", "redacted", "hidden", "masked",
    ];
    // `[masked]` is what the output layer puts in place of a secret-named key's value.
    let word = v.strip_prefix('[').and_then(|w| w.strip_suffix(']')).unwrap_or(v);
    v.is_empty()
        || v.bytes().all(|b| b == b'*')
        || WORDS.iter().any(|w| word.eq_ignore_ascii_case(w))
        || is_placeholder(v)
}

/// Bind parameters and env references (`$1`, `?`, `%s`, `${DB_PASSWORD}`, `$DB_PASSWORD`).
fn is_placeholder(v: &str) -> bool {
    let ident = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    let env_or_pos =
        |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_');
    v == "?"
        || v == "%s"
        || v.strip_prefix("${").and_then(|r| r.strip_suffix('}')).is_some_and(ident)
        || v.strip_prefix('$').is_some_and(env_or_pos)
        || v.strip_prefix("%(").and_then(|r| r.strip_suffix(")s")).is_some_and(ident)
}

fn fix_bearer(c: &Captures<'_>) -> Option<String> {
    looks_like_token(c.name("s")?.as_str()).then(|| mask_group(c)).flatten()
}

fn fix_basic(c: &Captures<'_>) -> Option<String> {
    let s = c.name("s")?.as_str();
    // Real Basic credentials are padded base64; the suffix check rejects `Basic foo_bar`.
    let ok = c.name("t").is_none_or(|t| t.as_str().is_empty()) && s.len() % 4 == 0 && looks_like_token(s);
    ok.then(|| mask_group(c)).flatten()
}

fn fix_prefixed(c: &Captures<'_>) -> Option<String> {
    let s = c.name("s")?.as_str();
    // `sk-` also starts hyphenated words (`sk-learn-...`); real keys are mixed-case random.
    if let Some(tail) = s.strip_prefix("sk-") {
        let has = |f: fn(&u8) -> bool| tail.as_bytes().iter().any(f);
        if !(has(u8::is_ascii_digit) && has(u8::is_ascii_uppercase) && has(u8::is_ascii_lowercase)) {
            return None;
        }
    }
    mask_group(c)
}

/// Distinguishes credentials from prose after `Bearer`/`Basic` ("bearer of", "Basic setup").
fn looks_like_token(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() < 8 {
        return false;
    }
    let digit = b.iter().any(u8::is_ascii_digit);
    let symbol = b.iter().any(|c| matches!(c, b'+' | b'/' | b'=' | b'_'));
    let lower = b.iter().any(u8::is_ascii_lowercase);
    let inner_upper = b[1..].iter().any(u8::is_ascii_uppercase);
    digit || symbol || (lower && inner_upper)
}

// ---------------------------------------------------------------------------
// Percent encoding helpers for known-secret variants
// ---------------------------------------------------------------------------

fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

/// What many URL builders leave unescaped in userinfo (RFC 3986 sub-delims).
fn is_userinfo_safe(b: u8) -> bool {
    is_unreserved(b) || b"!$&'()*+,;=".contains(&b)
}

fn percent_encode(s: &str, keep: fn(u8) -> bool, upper: bool) -> String {
    const UP: &[u8; 16] = b"0123456789ABCDEF";
    const LO: &[u8; 16] = b"0123456789abcdef";
    let hex = if upper { UP } else { LO };
    let mut out = String::with_capacity(s.len());
    for &b in s.as_bytes() {
        if keep(b) {
            out.push(char::from(b));
        } else {
            out.push('%');
            out.push(char::from(hex[usize::from(b >> 4)]));
            out.push(char::from(hex[usize::from(b & 0xf)]));
        }
    }
    out
}

/// Decodes `%XX` escapes; `None` when there are none or the result is not UTF-8.
fn percent_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut any = false;
    let mut i = 0;
    while i < b.len() {
        let hex = |x: u8| char::from(x).to_digit(16);
        if b[i] == b'%'
            && let (Some(h), Some(l)) = (b.get(i + 1).copied().and_then(hex), b.get(i + 2).copied().and_then(hex))
        {
            // Both digits are < 16, so this fits in a byte.
            out.push(u8::try_from(h * 16 + l).ok()?);
            any = true;
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    if any { String::from_utf8(out).ok() } else { None }
}

// ---------------------------------------------------------------------------
// Secret column / field names
// ---------------------------------------------------------------------------

/// Single name components that denote a secret.
const SECRET_WORDS: &[&str] = &[
    "password",
    "passwords",
    "passwd",
    "pwd",
    "pass",
    "passphrase",
    "secret",
    "secrets",
    "token",
    "auth",
    "authorization",
    "credential",
    "credentials",
    "ssn",
    "cvv",
    "cvc",
    "otp",
    "dsn",
    "cookie",
    "apikey",
    "accesskey",
    "privatekey",
    "secretkey",
    "sessionkey",
    "accountkey",
    "creditcard",
    "cardnumber",
];

/// Glued lowercase endings (`userpassword`, `authtoken`, `clientsecret`).
const SECRET_ENDINGS: &[&str] = &["password", "passwd", "passphrase", "secret", "token"];

/// Two-component phrases (`api_key`, `credit_card`, `card_number`).
const SECRET_PAIRS: &[(&str, &str)] = &[
    ("api", "key"),
    ("access", "key"),
    ("private", "key"),
    ("secret", "key"),
    ("session", "key"),
    ("account", "key"),
    ("master", "key"),
    ("signing", "key"),
    ("encryption", "key"),
    ("client", "key"),
    ("license", "key"),
    ("auth", "key"),
    ("credit", "card"),
    ("card", "number"),
    ("card", "num"),
    ("card", "no"),
    ("cc", "number"),
    ("cc", "num"),
    ("security", "code"),
    ("security", "number"),
    ("pin", "code"),
    ("recovery", "code"),
    ("recovery", "codes"),
    ("backup", "codes"),
    ("connection", "string"),
    ("conn", "string"),
    ("conn", "str"),
];

/// Trailing components that still describe the secret's value (hashes are sensitive too).
const VALUE_SUFFIXES: &[&str] = &[
    "hash",
    "hashed",
    "digest",
    "enc",
    "encrypted",
    "crypted",
    "cipher",
    "ciphertext",
    "value",
    "val",
    "plain",
    "plaintext",
    "raw",
    "b64",
    "base64",
    "hex",
    "md5",
    "sha",
    "bcrypt",
    "bytes",
    "blob",
];

/// Leading components that make the column a flag about a secret, not the secret.
const FLAG_PREFIXES: &[&str] = &["is", "has", "was", "needs", "requires", "require", "uses", "use"];

/// True when a column/field name denotes a secret whose VALUES should be masked in query results:
/// password, passwd, pwd, secret, token, api_key, apikey, access_key, private_key, client_secret, ssn,
/// credit_card/card_number, auth/authorization, session_key, etc. — matched on name components
/// (split on `_`, `-`, `.`, camelCase boundaries), case-insensitive; `password_hash`, `token_hash`,
/// `password_digest` ARE secret (hashes are still sensitive); but `token_count`, `tokens_used`,
/// `secretary`, `passport_office`, `author`, `authored_at` are NOT.
pub fn is_secret_name(name: &str) -> bool {
    let mut comps = name_components(name);
    if comps.len() > 1 && FLAG_PREFIXES.contains(&comps[0].as_str()) {
        return false;
    }
    // The secret word must end the name, possibly followed by value suffixes only:
    // `password_hash` yes, `token_count` / `password_updated_at` no.
    while comps.len() > 1 && comps.last().is_some_and(|c| VALUE_SUFFIXES.contains(&c.as_str())) {
        comps.pop();
    }
    let Some(last) = comps.last().map(String::as_str) else {
        return false;
    };
    if is_secret_word(last) {
        return true;
    }
    comps.len() >= 2 && {
        let prev = comps[comps.len() - 2].as_str();
        SECRET_PAIRS.iter().any(|&(a, b)| a == prev && b == last)
    }
}

fn is_secret_word(w: &str) -> bool {
    SECRET_WORDS.contains(&w)
        || SECRET_ENDINGS.iter().any(|e| w.len() > e.len() && w.ends_with(e))
        // Glued value suffix: `passwordhash`, `tokendigest`.
        || ["password", "passwd", "pwd", "token", "secret"].iter().any(|p| {
            w.strip_prefix(p).is_some_and(|rest| VALUE_SUFFIXES.contains(&rest))
        })
}

/// Lowercased components split on non-alphanumerics, camelCase and letter/digit
/// boundaries; purely numeric components are dropped (`password2` -> `password`).
fn name_components(name: &str) -> Vec<String> {
    let chars: Vec<char> = name.chars().collect();
    let mut comps = Vec::new();
    let mut cur = String::new();
    for (i, &c) in chars.iter().enumerate() {
        if !c.is_alphanumeric() {
            if !cur.is_empty() {
                comps.push(std::mem::take(&mut cur));
            }
            continue;
        }
        if !cur.is_empty() && i > 0 {
            let prev = chars[i - 1];
            let next_lower = chars.get(i + 1).is_some_and(|n| n.is_lowercase());
            let boundary = (c.is_uppercase() && (prev.is_lowercase() || prev.is_numeric()))
                // Acronym end: `APIKey` -> `API` + `Key`.
                || (c.is_uppercase() && prev.is_uppercase() && next_lower)
                || (c.is_numeric() != prev.is_numeric());
            if boundary {
                comps.push(std::mem::take(&mut cur));
            }
        }
        cur.extend(c.to_lowercase());
    }
    if !cur.is_empty() {
        comps.push(cur);
    }
    comps.retain(|c| !c.chars().all(char::is_numeric));
    comps
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn r() -> Redactor {
        Redactor::patterns_only()
    }

    /// (input, expected output, secret fragment that must be gone).
    /// Vendor tokens are assembled with `concat!` so repository secret scanners do not
    /// flag these fixtures.
    const POSITIVE: &[(&str, &str, &str)] = &[
        // URL userinfo
        ("postgres://app:hunter2pw@db:5432/x", "postgres://app:***@db:5432/x", "hunter2pw"),
        ("mysql://root:p%40ss:w0rd@10.0.0.5/db", "mysql://root:***@10.0.0.5/db", "p%40ss:w0rd"),
        (
            "mongodb+srv://svc:p@ss@word9@cluster0.example.net/?retryWrites=true",
            "mongodb+srv://svc:***@cluster0.example.net/?retryWrites=true",
            "ss@word9",
        ),
        ("redis://:r3disPass@cache:6379/0", "redis://:***@cache:6379/0", "r3disPass"),
        (
            "error connecting to postgresql://etl:Tr0ub4dor@warehouse.internal/analytics: timeout",
            "error connecting to postgresql://etl:***@warehouse.internal/analytics: timeout",
            "Tr0ub4dor",
        ),
        ("jdbc:mysql://rep:Jd8c!pw@h1:3306,h2:3306/db", "jdbc:mysql://rep:***@h1:3306,h2:3306/db", "Jd8c!pw"),
        // key=value DSN secrets
        (
            "host=db port=5432 user=app password=s3cretPw dbname=x",
            "host=db port=5432 user=app password=*** dbname=x",
            "s3cretPw",
        ),
        ("host=db password='a b c' user=app", "host=db password='***' user=app", "a b c"),
        (
            "postgres://db/x?sslpassword=keyPw1&password=qPw2&sslmode=require",
            "postgres://db/x?sslpassword=***&password=***&sslmode=require",
            "qPw2",
        ),
        (
            "Driver={ODBC 18};Server=s;Uid=sa;Pwd=Odbc!Pass1;Encrypt=yes",
            "Driver={ODBC 18};Server=s;Uid=sa;Pwd=***;Encrypt=yes",
            "Odbc!Pass1",
        ),
        ("Server=s;PWD={semi;colon};", "Server=s;PWD={***};", "semi;colon"),
        ("passwd=plainpw99", "passwd=***", "plainpw99"),
        ("client_secret=abcXYZ123 next", "client_secret=*** next", "abcXYZ123"),
        ("GET /cb?access_token=tok123abc&page=2", "GET /cb?access_token=***&page=2", "tok123abc"),
        ("api_key=k3y-value", "api_key=***", "k3y-value"),
        (
            "https://api.example.com/v1?apikey=0123456789abcdef",
            "https://api.example.com/v1?apikey=***",
            "0123456789abcdef",
        ),
        ("access_key: AbCdEf123", "access_key: ***", "AbCdEf123"),
        (r#"{"password": "hun\"ter2!", "host": "db"}"#, r#"{"password": "***", "host": "db"}"#, "ter2!"),
        ("PASSWORD: yamlPw123", "PASSWORD: ***", "yamlPw123"),
        (r#"body={\"token\":\"abc123def\"}"#, r#"body={\"token\":\"***\"}"#, "abc123def"),
        ("run --password=cliPw7 --verbose", "run --password=*** --verbose", "cliPw7"),
        ("failed: password=oops9.", "failed: password=***.", "oops9"),
        ("v_password := 'plpgPw'", "v_password := '***'", "plpgPw"),
        ("secret='it''s mine'", "secret='***'", "s mine"),
        ("{'password': 'py!repr', 'user': 'u'}", "{'password': '***', 'user': 'u'}", "py!repr"),
        ("<ns:Password>xmlPw9</ns:Password>", "<ns:Password>***</ns:Password>", "xmlPw9"),
        ("Cookie: session=abc123; csrftoken=xyz789", "Cookie: ***", "abc123"),
        (r#"{"set-cookie": "sid=Zm9v; Path=/"}"#, r#"{"set-cookie": "***"}"#, "Zm9v"),
        // SQL DDL
        ("ALTER ROLE app WITH PASSWORD 'n3w''Pass'", "ALTER ROLE app WITH PASSWORD '***'", "Pass"),
        (
            "CREATE USER u IDENTIFIED WITH mysql_native_password BY 'myPw1'",
            "CREATE USER u IDENTIFIED WITH mysql_native_password BY '***'",
            "myPw1",
        ),
        // Authorization
        ("Authorization: Bearer abc.def-123_XYZ", "Authorization: Bearer ***", "abc.def-123"),
        ("authorization: token 0123abcdef", "authorization: token ***", "0123abcdef"),
        (r#"{"Authorization": "Basic YWRtaW46c2VjcmV0"}"#, r#"{"Authorization": "Basic ***"}"#, "YWRtaW46c2VjcmV0"),
        ("sent header bearer 9f8e7d6c5b4a3", "sent header bearer ***", "9f8e7d6c5b4a3"),
        ("proxy sent Basic dXNlcjpwYXNz", "proxy sent Basic ***", "dXNlcjpwYXNz"),
        // JWT
        (
            concat!(
                "jwt eyJhbGciOiJIUzI1NiJ9",
                ".eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U done"
            ),
            "jwt *** done",
            "dozjgNryP4J3",
        ),
        // AWS
        ("aws_access_key_id = AKIAIOSFODNN7EXAMPLE", "aws_access_key_id = ***", "AKIAIOSFODNN7EXAMPLE"),
        ("temp creds ASIAY34FZKBOKMUTVV7A ok", "temp creds *** ok", "ASIAY34FZKBOKMUTVV7A"),
        (
            "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
            "aws_secret_access_key = ***",
            "wJalrXUtnFEMI",
        ),
        (
            "https://b.s3.amazonaws.com/k?X-Amz-Security-Token=FwoGZXIvYXdz&X-Amz-Signature=9a8b7c6d",
            "https://b.s3.amazonaws.com/k?X-Amz-Security-Token=***&X-Amz-Signature=***",
            "9a8b7c6d",
        ),
        // GCP
        (
            r#"{"type": "service_account", "private_key_id": "abc123", "private_key": "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkq\n-----END PRIVATE KEY-----\n", "client_email": "sa@p.iam.gserviceaccount.com"}"#,
            r#"{"type": "service_account", "private_key_id": "abc123", "private_key": "***", "client_email": "sa@p.iam.gserviceaccount.com"}"#,
            "MIIEvQIBADANBgkq",
        ),
        (
            concat!("maps key=AI", "zaSyA-1234567890abcdefghijklmnopqrstu&x=1"),
            "maps key=***&x=1",
            "1234567890abcdefghij",
        ),
        // Azure
        (
            "DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=bXlrZXk+/abc==;EndpointSuffix=core.windows.net",
            "DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=***;EndpointSuffix=core.windows.net",
            "bXlrZXk",
        ),
        (
            "https://acct.blob.core.windows.net/c/b.csv?sv=2022-11-02&ss=b&sp=r&se=2030-01-01&sig=AbC%2Fdef%3D",
            "https://acct.blob.core.windows.net/c/b.csv?sv=2022-11-02&ss=b&sp=r&se=2030-01-01&sig=***",
            "AbC%2Fdef",
        ),
        (
            "BlobEndpoint=https://a.blob.core.windows.net/;SharedAccessSignature=sv=2022&sig=XyZ123;",
            "BlobEndpoint=https://a.blob.core.windows.net/;SharedAccessSignature=***&sig=***;",
            "XyZ123",
        ),
        (
            "Endpoint=sb://ns.servicebus.windows.net/;SharedAccessKeyName=Root;SharedAccessKey=q1W2e3R4=",
            "Endpoint=sb://ns.servicebus.windows.net/;SharedAccessKeyName=Root;SharedAccessKey=***",
            "q1W2e3R4",
        ),
        ("AZURE_CLIENT_SECRET=Abc8Q~xyz.123", "AZURE_CLIENT_SECRET=***", "Abc8Q~xyz"),
        // PEM
        (
            "key:\n-----BEGIN RSA PRIVATE KEY-----\nMIIBOgIBAAJBAK\nabcd\n-----END RSA PRIVATE KEY-----\nnext",
            "key:\n***\nnext",
            "MIIBOgIBAAJBAK",
        ),
        (
            "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----",
            "***",
            "b3BlbnNzaC1rZXktdjEAAAAA",
        ),
        (
            "a -----BEGIN ENCRYPTED PRIVATE KEY-----\nMIIFHzBJBgkqhkiG\n-----END ENCRYPTED PRIVATE KEY----- b",
            "a *** b",
            "MIIFHzBJBgkqhkiG",
        ),
        ("truncated: -----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIBb", "truncated: ***", "MHcCAQEEIBb"),
        // Vendor prefixes
        (concat!("tok gh", "p_aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789 end"), "tok *** end", "aBcDeFgHiJkL"),
        (concat!("gh", "o_16C7e42F292c6912E7710c838347Ae178B4a"), "***", "16C7e42F292c"),
        (
            concat!("gith", "ub_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOP"),
            "***",
            "11ABCDEFG0123456789",
        ),
        (concat!("slack xo", "xb-123456789012-1234567890123-AbCdEfGhIjKl"), "slack ***", "AbCdEfGhIjKl"),
        (concat!("xo", "xp-1111-2222-3333-abcdef"), "***", "3333-abcdef"),
        (concat!("sk_l", "ive_51HxYzAbCdEfGhIjKlMnOp"), "***", "51HxYzAbCdEf"),
        (concat!("key sk_t", "est_4eC39HqLyjWDarjtT1zdp7dc"), "key ***", "4eC39HqLyjWD"),
        (concat!("rk_l", "ive_51HxYzAbCdEfGhIjKlMnOp"), "***", "51HxYzAbCdEf"),
        (concat!("OPENAI_API_KEY=s", "k-proj-Ab12Cd34Ef56Gh78Ij90KlMnOpQrSt"), "OPENAI_API_KEY=***", "Ab12Cd34Ef56"),
        (concat!("using s", "k-Ab12Cd34Ef56Gh78Ij90KlMn for chat"), "using *** for chat", "Ab12Cd34Ef56"),
        (concat!("s", "k-ant-api03-Zx9Yw8Vu7Ts6Rq5Po4Nm3Lk2Jh1-AA"), "***", "Zx9Yw8Vu7Ts6"),
        (concat!("gl", "pat-xYz123AbC456dEf789gHi"), "***", "xYz123AbC456"),
        (concat!("np", "m_abcdefghijklmnopqrstuvwxyz0123456789"), "***", "abcdefghijklmnop"),
        (concat!("pyp", "i-AgEIcHlwaS5vcmcCJDAwMDAwMDAwLTAwMDAtMDAwMC0wMDAw"), "***", "AgEIcHlwaS5vcmc"),
        (
            concat!("S", "G.ngeVfQFYQlKU0ufo8x5d1A.TwL2iGABf9DHoTf-09kqeF8tAmbihYzrnopKc-1s5cr"),
            "***",
            "ngeVfQFYQlKU0ufo8x5d1A",
        ),
        (concat!("twilio S", "K0123456789abcdef0123456789abcdef."), "twilio ***.", "0123456789abcdef"),
        (concat!("y", "a29.a0AfH6SMBx3yZ_0123456789abcdef"), "***", "a0AfH6SMBx3y"),
        (concat!("h", "f_AbCdEfGhIjKlMnOpQrStUvWxYz01234567"), "***", "AbCdEfGhIjKl"),
        (
            concat!("d", "op_v1_0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"),
            "***",
            "0123456789abcdef0123",
        ),
        (concat!("sh", "pat_0123456789abcdef0123456789abcdef"), "***", "0123456789abcdef"),
    ];

    /// Ordinary text that must come back unchanged (and borrowed).
    const NEGATIVE: &[&str] = &[
        "SELECT password_hash FROM users WHERE id = 1",
        "SELECT id FROM t WHERE token_count > 5",
        "SELECT secret_level, author, passport_office, authored_at FROM staff",
        "sk",
        "the sk column and pk index",
        "https://example.com/a?b=c&page=2",
        "2024-05-01T12:34:56.789Z at 12:30:45",
        "550e8400-e29b-41d4-a716-446655440000",
        "commit deadbeef and 3f2a9c1",
        "postgres://app@db:5432/x",
        "https://example.com:8443/path",
        "Access denied for user 'root'@'localhost' (using password: YES)",
        "password authentication failed for user \"app\"",
        r#"{"tokens_used": 1234, "max_tokens": 4096, "token_type": "bearer"}"#,
        "basic information about the bearer of this card",
        "Basic setup done; Bearer well-known",
        "risk-assessment-and-mitigation-plan-for-q3",
        "sk-learn-compatible-estimators-list",
        "ERROR: duplicate key value violates unique constraint \"users_pkey\" DETAIL: Key (id)=(5) already exists.",
        "SELECT * FROM users WHERE password = $1 AND email = ?",
        "password=${DB_PASSWORD} is not set",
        "SELECT password::text FROM t",
        "mail a@b.com, bypass=true, compass=north",
        "the ghp_ prefix and AKIA alone",
        "header eyJhbGciOiJIUzI1NiJ9 only",
        r#"{"password": null, "token": ""}"#,
        r#"{"password":"[masked]","token": "[MASKED]"}"#,
        "user=app password=*** dbname=x",
        "Größe: 5 — naïve café ☕ token_count=3",
        "PWD=/home/user/project pwd: ~/src",
        "Invalid token: expired; cookie_consent=yes",
        "SELECT * FROM t WHERE key = 'a' AND pkey=3",
        "s3://bucket/key=value/part-0000.parquet and sha256:9f86d081884c7d659a2feaa0c55ad015",
    ];

    #[test]
    fn table_positive() {
        assert!(POSITIVE.len() >= 35);
        let red = r();
        for &(input, expected, secret) in POSITIVE {
            let out = red.redact(input);
            assert_eq!(out, expected, "input: {input}");
            assert!(!out.contains(secret), "secret {secret:?} leaked in {out:?}");
            assert!(matches!(out, Cow::Owned(_)), "{input}");
            // Idempotent: redacting the redacted text changes nothing.
            assert_eq!(red.redact(&out), out, "not idempotent: {input}");
        }
    }

    #[test]
    fn table_negative() {
        assert!(NEGATIVE.len() >= 10);
        let red = r();
        for &input in NEGATIVE {
            let out = red.redact(input);
            assert_eq!(out, input);
            assert!(matches!(out, Cow::Borrowed(_)), "allocated for clean {input:?}");
        }
    }

    #[test]
    fn known_secrets_raw_encoded_and_decoded() {
        let red = Redactor::new(["S3cr@t/pw", "tiny", "abc", "Pa%24%24word"]);
        // raw
        assert_eq!(red.redact("pw is S3cr@t/pw!"), "pw is ***!");
        // percent-encoded, both hex cases
        assert_eq!(red.redact("x=S3cr%40t%2Fpw"), "x=***");
        assert_eq!(red.redact("x=S3cr%40t%2fpw"), "x=***");
        // userinfo encoding leaves `/` encoded but sub-delims raw
        assert_eq!(red.redact("got Pa$$word back"), "got *** back");
        // given encoded, the decoded form is caught as well
        assert_eq!(red.redact("Pa%24%24word"), "***");
        // exactly 4 chars counts; shorter secrets are ignored
        assert_eq!(red.redact("a tiny abc"), "a *** abc");
        // in a driver error (the URL rule alone would also catch this one)
        let msg = r#"password authentication failed for user "app" (dsn postgres://app:S3cr%40t%2Fpw@h/db)"#;
        let out = red.redact(msg);
        assert_eq!(out, r#"password authentication failed for user "app" (dsn postgres://app:***@h/db)"#);
        // where no pattern applies, only the known list protects
        assert_eq!(red.redact("login with S3cr@t/pw failed"), "login with *** failed");
    }

    #[test]
    fn known_secret_in_spec_error_message() {
        let red = Redactor::new(["S3cr@t"]);
        let msg = r#"password authentication failed for user "app" (dsn postgres://app:S3cr%40t@h/db)"#;
        let out = red.redact(msg);
        assert!(!out.contains("S3cr"));
        assert_eq!(out, r#"password authentication failed for user "app" (dsn postgres://app:***@h/db)"#);
        // JSON-escaped form of a secret with a quote
        let red = Redactor::new([r#"qu"ote"#]);
        assert_eq!(red.redact(r#"{"v":"qu\"ote"}"#), r#"{"v":"***"}"#);
    }

    #[test]
    fn a_fine_grained_github_token_is_masked_alone() {
        let token = "github_pat_11AAAAAAA0000000000_bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";
        let out = Redactor::patterns_only().redact(token).into_owned();
        assert!(!out.contains("bbbbbbbb"), "{out}");
    }

    /// Every string a pattern matches holds a trigger: checked on every test sample of this
    /// module and on strings built from the patterns' own pieces.
    #[test]
    fn triggers_cover_every_pattern() {
        let pieces = [
            "-----BEGIN RSA PRIVATE KEY-----",
            "postgres://u:p@h/d",
            "Authorization: Bearer abc",
            "Cookie: a=b",
            "<apiKey>x</apiKey>",
            "PASSWORD=x",
            "pwd=x",
            "sig=x",
            "AccountKey=x",
            "IDENTIFIED BY 'x'",
            "bearer abcdefgh",
            "Basic dXNlcjpwYXNz",
            "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.abcdefgh",
            "ghp_0123456789abcdefghijklmnopqrstuv",
            "github_pat_11AAAAAAA0000000000_bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb",
            "xoxb-0123456789-abc",
            "sk_live_0123456789abcdef",
            "rk_test_0123456789abcdef",
            "pk_live_0123456789abcdef",
            "whsec_0123456789abcdef01234567",
            "sk-0123456789abcdefghijkl",
            "glpat-0123456789abcdefghij",
            "npm_012345678901234567890123456789012345",
            "pypi-0123456789012345678901234567890123456789",
            "SG.0123456789abcdef.0123456789abcdef",
            "SK0123456789abcdef0123456789abcdef",
            "ya29.0123456789abcdefghij",
            "hf_0123456789abcdefghijklmnopqrstu",
            "dop_v1_0123456789012345678901234567890123456789012345678901234567890123",
            "shpat_0123456789abcdef0123456789abcdef",
            "AKIA0123456789ABCDEF",
            "AIza0123456789012345678901234567890123456",
        ];
        let noise = ["", " ", "x", "=", ":", "'", "\"", "/", "@", "\n", "é", "_", "-", ".", "a1"];
        assert_eq!(RULE_TRIGGERS.len(), PATTERNS.len(), "one trigger list per pattern");
        assert!(TRIGGER_WORDS.len() <= 64, "a rule's triggers are bits of a u64");
        let mut seen = 0;
        for (i, piece) in pieces.iter().enumerate() {
            for a in noise {
                for b in noise {
                    let s = format!("{a}{piece}{b}");
                    // Pieces cut in two, too: a pattern may match a part of a piece.
                    for cut in 0..=s.len() {
                        let Some(part) = s.get(cut..) else { continue };
                        for (r, rule) in RULES.iter().enumerate() {
                            if rule.regex(r).is_match(part) {
                                seen += 1;
                                assert!(
                                    rule.triggers & triggers_in(part) != 0,
                                    "piece {i}: {part:?} matches pattern {r} but holds none of its triggers"
                                );
                            }
                        }
                    }
                }
            }
        }
        assert!(seen > 1000, "{seen}");
    }

    #[test]
    fn new_accepts_borrowed_config_vec() {
        // Call shape used by the server: `Redactor::new(&config.secrets)`.
        let secrets: Vec<String> = vec!["from-env-value".into(), String::new()];
        let red = Redactor::new(&secrets);
        assert_eq!(red.redact("v=from-env-value;"), "v=***;");
    }

    #[test]
    fn known_empty_and_short_only_is_patterns_only() {
        let red = Redactor::new(Vec::<String>::new());
        assert!(matches!(red.redact("hello"), Cow::Borrowed(_)));
        let red = Redactor::new(["ab", ""]);
        assert_eq!(red.redact("ab ab"), "ab ab");
        assert_eq!(format!("{red:?}"), "Redactor { known_variants: 0 }");
    }

    #[test]
    fn shareable_across_tasks() {
        fn assert_traits<T: Send + Sync + Clone + Default + 'static>() {}
        assert_traits::<Redactor>();
    }

    #[test]
    fn debug_does_not_print_secrets() {
        let red = Redactor::new(["hunter2secret"]);
        assert!(!format!("{red:?}").contains("hunter2"));
    }

    #[test]
    fn redact_json_nested() {
        let red = Redactor::new(["LiteralPw1"]);
        let mut v = json!({
            "rows": [
                {"id": 1, "dsn": "postgres://u:pw123@h/db", "note": "ok"},
                {"id": 2, "nested": {"deep": ["LiteralPw1", 5, true, null, "clean"]}}
            ],
            "password=keysAreLeftAlone": "Authorization: Bearer abcdef123456",
            "count": 3
        });
        red.redact_json(&mut v);
        assert_eq!(
            v,
            json!({
                "rows": [
                    {"id": 1, "dsn": "postgres://u:***@h/db", "note": "ok"},
                    {"id": 2, "nested": {"deep": ["***", 5, true, null, "clean"]}}
                ],
                "password=keysAreLeftAlone": "Authorization: Bearer ***",
                "count": 3
            })
        );
        // preserve_order: key order unchanged
        let keys: Vec<_> = v.as_object().map(|m| m.keys().cloned().collect()).unwrap_or_default();
        assert_eq!(keys, ["rows", "password=keysAreLeftAlone", "count"]);
    }

    #[test]
    fn text_in_bytes_is_redacted_and_other_bytes_kept() {
        let red = Redactor::new(["LiteralPw1"]);
        let bytes = [b"\x00\xffuser=app password=s3cret1 \xfe".as_slice(), "é LiteralPw1".as_bytes()].concat();
        let want = [b"\x00\xffuser=app password=*** \xfe".as_slice(), "é ***".as_bytes()].concat();
        assert_eq!(red.redact_bytes(&bytes), Some(want));
        assert_eq!(red.redact_bytes(b"\x00\x01 clean \xff"), None);
        // Encoded as our decoders and the databases print bytes: base64, PostgreSQL's \x hex.
        use base64::Engine as _;
        let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
        assert_eq!(red.redact_encoded(&b64("pw LiteralPw1")), Some(b64("pw ***")));
        assert_eq!(
            red.redact_encoded(&format!("\\x{}", hex::encode("LiteralPw1!"))),
            Some(format!("\\x{}", hex::encode("***!")))
        );
        // Not an encoding, or nothing to redact: untouched.
        for s in ["LiteralPw1", "abc", &b64("clean text"), "\\xzz", "AKIAIOSFODNN7EXAMPLE"] {
            assert_eq!(red.redact_encoded(s), None, "{s}");
        }
        let mut v = json!({"b": b64("postgres://u:pw123@h/db"), "k": "AKIAIOSFODNN7EXAMPLE"});
        red.redact_json(&mut v);
        assert_eq!(v, json!({"b": b64("postgres://u:***@h/db"), "k": "***"}));
    }

    #[test]
    fn clean_100kb_is_borrowed() {
        let text = clean_json(100 * 1024);
        let red = Redactor::new(["NotInThereAnywhere"]);
        assert!(matches!(red.redact(&text), Cow::Borrowed(_)));
    }

    #[test]
    fn secret_deep_in_large_text() {
        let mut text = clean_json(100 * 1024);
        text.push_str(" dsn=postgres://a:deepPw9@h/x");
        let out = r().redact(&text);
        assert!(out.ends_with("postgres://a:***@h/x"));
        assert_eq!(out.len(), text.len() - "deepPw9".len() + 3);
    }

    /// Realistic clean query-result JSON of at least `len` bytes.
    pub(crate) fn clean_json(len: usize) -> String {
        let mut s = String::from("[");
        let mut i = 0u32;
        while s.len() < len {
            s.push_str(&format!(
                r#"{{"id":{i},"name":"user {i}","email":"u{i}@example.com","created_at":"2024-01-{:02}T10:{:02}:00Z","uuid":"550e8400-e29b-41d4-a716-{i:012}","score":{}.5,"active":true,"tags":["a","b"]}},"#,
                i % 28 + 1,
                i % 60,
                i % 97
            ));
            i += 1;
        }
        s.push(']');
        s
    }

    #[test]
    fn secret_names() {
        let yes = [
            "password",
            "PASSWORD",
            "user_password",
            "passwd",
            "pwd",
            "user_pass",
            "passphrase",
            "secret",
            "client_secret",
            "clientSecret",
            "token",
            "access_token",
            "refreshToken",
            "api_key",
            "apiKey",
            "APIKey",
            "x-api-key",
            "apikey",
            "access_key",
            "AccessKey",
            "aws_secret_access_key",
            "private_key",
            "privateKey",
            "ssn",
            "credit_card",
            "creditCard",
            "card_number",
            "cardNumber",
            "cvv",
            "auth",
            "authorization",
            "basic_auth",
            "session_key",
            "password_hash",
            "token_hash",
            "password_digest",
            "passwordHash",
            "passwordhash",
            "password_encrypted",
            "password2",
            "db.password",
            "authtoken",
            "userpassword",
            "credentials",
            "connection_string",
            "recovery_codes",
        ];
        for name in yes {
            assert!(is_secret_name(name), "{name} should be secret");
        }
        let no = [
            "token_count",
            "tokens_used",
            "max_tokens",
            "tokens",
            "secretary",
            "passport_office",
            "author",
            "authored_at",
            "password_updated_at",
            "password_hint",
            "token_type",
            "token_id",
            "api_key_id",
            "AccessKeyId",
            "secret_name",
            "has_password",
            "is_secret",
            "id",
            "username",
            "email",
            "key",
            "primary_key",
            "hash",
            "sk",
            "pk",
            "bypass",
            "compass",
            "card_number_last4",
            "",
            "_",
            "created_at",
        ];
        for name in no {
            assert!(!is_secret_name(name), "{name} should not be secret");
        }
    }

    #[test]
    fn name_splitting() {
        assert_eq!(name_components("APIKeyID"), ["api", "key", "id"]);
        assert_eq!(name_components("user-Password2.hash"), ["user", "password", "hash"]);
        assert_eq!(name_components("OAuthToken"), ["o", "auth", "token"]);
    }

    #[test]
    fn percent_helpers() {
        assert_eq!(percent_decode("a%40b%2F"), Some("a@b/".to_owned()));
        assert_eq!(percent_decode("plain"), None);
        assert_eq!(percent_decode("bad%zzx%4"), None);
        assert_eq!(percent_decode("%FF%FE"), None);
        assert_eq!(percent_encode("a b@é", is_unreserved, true), "a%20b%40%C3%A9");
    }
}
