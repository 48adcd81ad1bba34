//! Where the databases come from: one URL, a TOML file of named databases, or the embedded
//! SQLite file. Secrets are interpolated from the environment and remembered so the redactor
//! can scrub them from every byte the server emits.

use std::{fmt, path::Path};

use serde::Deserialize;

/// Default config file looked up in the working directory.
pub const DEFAULT_CONFIG_FILE: &str = "data-engineer.toml";
/// The embedded database used when nothing is configured, so the first run needs nothing.
pub const EMBEDDED_SQLITE_FILE: &str = "data-engineer.db";

const DEFAULT_STATEMENT_TIMEOUT_MS: u64 = 15_000;
const DEFAULT_MAX_ROWS: usize = 200;
const DEFAULT_MAX_BYTES: usize = 64 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read { path: String, source: std::io::Error },
    #[error("invalid config file {path}: {message}")]
    Parse { path: String, message: String },
    #[error("environment variable {name} is not set (referenced as ${{{name}}} in {context})")]
    MissingEnv { name: String, context: String },
    #[error("database {name}: {message}")]
    Database { name: String, message: String },
    #[error("the config file defines no databases; add a [databases.NAME] table with a url")]
    NoDatabases,
    #[error("--tools: {0}")]
    Tools(String),
}

/// Which engine a URL speaks to. A closed set: every engine-specific decision lives behind it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Engine {
    Postgres,
    Mysql,
    Sqlite,
    Mongodb,
}

impl Engine {
    pub fn from_url(url: &str) -> Option<Engine> {
        let scheme = url.split(':').next()?.to_ascii_lowercase();
        match scheme.as_str() {
            "postgres" | "postgresql" => Some(Engine::Postgres),
            "mysql" | "mariadb" => Some(Engine::Mysql),
            "sqlite" => Some(Engine::Sqlite),
            "mongodb" | "mongodb+srv" => Some(Engine::Mongodb),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Engine::Postgres => "postgres",
            Engine::Mysql => "mysql",
            Engine::Sqlite => "sqlite",
            Engine::Mongodb => "mongodb",
        }
    }
}

impl fmt::Display for Engine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize, schemars::JsonSchema, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    ReadOnly,
    ReadWrite,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::ReadOnly => "read-only",
            Mode::ReadWrite => "read-write",
        }
    }
}

/// A connection URL. Its `Debug` and `Display` never show the URL: drivers' option types print
/// passwords, so only `expose()` hands the real string to a driver.
#[derive(Clone)]
pub struct SecretUrl(String);

impl SecretUrl {
    pub fn new(url: impl Into<String>) -> Self {
        Self(url.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
    /// The password in the URL's userinfo, percent-decoded, if any.
    pub fn password(&self) -> Option<String> {
        let rest = self.0.split_once("://")?.1;
        let authority = rest.split(['/', '?']).next()?;
        let userinfo = authority.rsplit_once('@')?.0;
        let password = userinfo.split_once(':')?.1;
        (!password.is_empty()).then(|| percent_decode(password))
    }
    /// The URL with its password replaced, safe to show.
    pub fn display_redacted(&self) -> String {
        match self.password() {
            Some(_) => {
                let (scheme, rest) = self.0.split_once("://").unwrap_or(("", &self.0));
                let auth_end = rest.find(['/', '?']).unwrap_or(rest.len());
                let (authority, tail) = rest.split_at(auth_end);
                let (userinfo, host) = authority.rsplit_once('@').unwrap_or(("", authority));
                let user = userinfo.split(':').next().unwrap_or("");
                format!("{scheme}://{user}:***@{host}{tail}")
            }
            None => self.0.clone(),
        }
    }
}

impl fmt::Debug for SecretUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretUrl([REDACTED])")
    }
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let Some(b) = std::str::from_utf8(&bytes[i + 1..i + 3]).ok().and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[derive(Debug, Clone)]
pub struct DatabaseConfig {
    pub name: String,
    pub engine: Engine,
    pub url: SecretUrl,
    pub mode: Mode,
    pub statement_timeout_ms: u64,
    pub max_rows: usize,
    /// A least-privilege login for the reads the server runs on the model's behalf (its SQL):
    /// the database itself then refuses everything but reading, whatever the main login may do.
    pub reader_url: Option<SecretUrl>,
    /// PostgreSQL: the role read-only work switches to when there is no `reader_url` (default
    /// `pg_read_all_data`).
    pub reader_role: Option<String>,
}

impl DatabaseConfig {
    /// The row cap for a call: what it asked for, never above the configured one.
    pub fn row_cap(&self, asked: Option<u64>) -> usize {
        asked.map_or(self.max_rows, |n| (n as usize).clamp(1, self.max_rows))
    }

    /// The statement timeout for a call: what it asked for, never above the configured one.
    pub fn timeout_ms(&self, asked: Option<u64>) -> u64 {
        asked.map_or(self.statement_timeout_ms, |t| t.clamp(1, self.statement_timeout_ms))
    }
}

#[derive(Debug, Clone)]
pub struct OutputConfig {
    /// Largest serialized tool result; row sets are cut to fit and say so.
    pub max_bytes: usize,
    /// Mask values of result columns whose names denote secrets (password, token, ...).
    pub mask_secret_columns: bool,
}

impl Default for OutputConfig {
    fn default() -> Self {
        Self { max_bytes: DEFAULT_MAX_BYTES, mask_secret_columns: true }
    }
}

#[derive(Debug, Clone)]
pub struct Config {
    pub databases: Vec<DatabaseConfig>,
    pub output: OutputConfig,
    /// Directories file-taking tools may read and write (default: the working directory).
    pub file_roots: Vec<std::path::PathBuf>,
    /// Toolsets and tools to offer (None: all).
    pub tools: Option<Vec<String>>,
    /// Literal secrets the redactor must never let through.
    pub secrets: Vec<String>,
    /// Where the configuration came from, for env-check.
    pub source: String,
}

/// What the command line and environment asked for.
#[derive(Debug, Default, Clone)]
pub struct ConfigRequest {
    pub database_url: Option<String>,
    pub mode: Option<Mode>,
    pub config_file: Option<String>,
    /// More directories file-taking tools may use (--allow-dir).
    pub allow_dirs: Vec<String>,
    /// Toolsets and tools to offer (--tools); wins over the config file's [tools] enable.
    pub tools: Option<Vec<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    #[serde(default)]
    output: Option<FileOutput>,
    #[serde(default)]
    files: Option<FileFiles>,
    #[serde(default)]
    tools: Option<FileTools>,
    #[serde(default)]
    databases: toml::Table,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileOutput {
    max_bytes: Option<usize>,
    mask_secret_columns: Option<bool>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileTools {
    enable: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileFiles {
    /// Relative entries are taken from the config file's directory.
    roots: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileDatabase {
    url: String,
    mode: Option<Mode>,
    statement_timeout_ms: Option<u64>,
    max_rows: Option<usize>,
    reader_url: Option<String>,
    reader_role: Option<String>,
}

impl Config {
    /// Resolve the configuration: an explicit URL wins, then an explicit or default config file,
    /// then the embedded SQLite file.
    pub fn load(req: &ConfigRequest, env: &dyn Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        if let Some(names) = &req.tools {
            crate::toolsets::select(names).map_err(ConfigError::Tools)?;
        }
        if let Some(url) = req.database_url.as_deref().filter(|u| !u.trim().is_empty()) {
            let db = database("main", url.trim(), req.mode, None, None)?;
            let secrets = db.url.password().into_iter().collect();
            return Ok(Config {
                databases: vec![db],
                output: OutputConfig::default(),
                file_roots: file_roots(&req.allow_dirs),
                tools: req.tools.clone(),
                secrets,
                source: "--database-url / DATABASE_URL".into(),
            });
        }
        let file = match &req.config_file {
            Some(path) => Some(path.clone()),
            None => Path::new(DEFAULT_CONFIG_FILE).exists().then(|| DEFAULT_CONFIG_FILE.to_string()),
        };
        if let Some(path) = file {
            let text =
                std::fs::read_to_string(&path).map_err(|source| ConfigError::Read { path: path.clone(), source })?;
            let mut config = Config::from_toml(&text, &path, env)?;
            config.file_roots.extend(req.allow_dirs.iter().map(std::path::PathBuf::from));
            if req.tools.is_some() {
                config.tools = req.tools.clone();
            }
            return Ok(config);
        }
        let db = DatabaseConfig {
            name: "local".into(),
            engine: Engine::Sqlite,
            url: SecretUrl::new(format!("sqlite://{EMBEDDED_SQLITE_FILE}?mode=rwc")),
            mode: req.mode.unwrap_or(Mode::ReadWrite),
            statement_timeout_ms: DEFAULT_STATEMENT_TIMEOUT_MS,
            max_rows: DEFAULT_MAX_ROWS,
            reader_url: None,
            reader_role: None,
        };
        Ok(Config {
            databases: vec![db],
            output: OutputConfig::default(),
            file_roots: file_roots(&req.allow_dirs),
            tools: req.tools.clone(),
            secrets: vec![],
            source: format!("embedded SQLite file ./{EMBEDDED_SQLITE_FILE} (no URL or config given)"),
        })
    }

    pub fn from_toml(text: &str, path: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        let parsed: FileConfig = toml::from_str(text)
            .map_err(|e| ConfigError::Parse { path: path.into(), message: e.message().to_string() })?;
        let mut secrets = Vec::new();
        let mut databases = Vec::new();
        for (name, value) in parsed.databases {
            let raw: FileDatabase = value.try_into().map_err(|e: toml::de::Error| ConfigError::Parse {
                path: path.into(),
                message: format!("[databases.{name}]: {}", e.message()),
            })?;
            let url = interpolate(&raw.url, &format!("databases.{name}.url"), env, &mut secrets)?;
            let mut db = database(&name, &url, raw.mode, raw.statement_timeout_ms, raw.max_rows)?;
            secrets.extend(db.url.password());
            if let Some(reader) = &raw.reader_url {
                let reader = interpolate(reader, &format!("databases.{name}.reader_url"), env, &mut secrets)?;
                if Engine::from_url(&reader) != Some(db.engine) || db.engine == Engine::Sqlite {
                    return Err(ConfigError::Database {
                        name: name.clone(),
                        message:
                            "reader_url must be a URL of the same engine as url (PostgreSQL, MySQL/MariaDB or MongoDB)"
                                .into(),
                    });
                }
                let reader = SecretUrl::new(reader);
                secrets.extend(reader.password());
                db.reader_url = Some(reader);
            }
            db.reader_role = raw.reader_role.filter(|r| !r.trim().is_empty());
            databases.push(db);
        }
        if databases.is_empty() {
            return Err(ConfigError::NoDatabases);
        }
        let mut output = OutputConfig::default();
        if let Some(o) = parsed.output {
            output.max_bytes = o.max_bytes.unwrap_or(output.max_bytes).max(1024);
            output.mask_secret_columns = o.mask_secret_columns.unwrap_or(true);
        }
        secrets.retain(|s| !s.is_empty());
        secrets.sort();
        secrets.dedup();
        let base = Path::new(path).parent().map(Path::to_path_buf);
        let file_roots = match parsed.files {
            Some(f) => f.roots.iter().map(|r| base.clone().unwrap_or_default().join(r)).collect(),
            None => file_roots(&[]),
        };
        let tools = parsed.tools.map(|t| t.enable);
        if let Some(names) = &tools {
            crate::toolsets::select(names).map_err(|message| ConfigError::Parse {
                path: path.into(),
                message: format!("[tools] enable: {message}"),
            })?;
        }
        Ok(Config { databases, output, file_roots, tools, secrets, source: format!("config file {path}") })
    }

    /// The named database, or the first one when no name is given.
    pub fn database(&self, name: Option<&str>) -> Option<&DatabaseConfig> {
        match name {
            Some(n) => self.databases.iter().find(|d| d.name == n),
            None => self.databases.first(),
        }
    }
}

/// The working directory plus the directories allowed on the command line.
pub(crate) fn file_roots(allowed: &[String]) -> Vec<std::path::PathBuf> {
    let mut roots = vec![std::env::current_dir().unwrap_or_else(|_| ".".into())];
    roots.extend(allowed.iter().map(std::path::PathBuf::from));
    roots
}

fn database(
    name: &str,
    url: &str,
    mode: Option<Mode>,
    statement_timeout_ms: Option<u64>,
    max_rows: Option<usize>,
) -> Result<DatabaseConfig, ConfigError> {
    let engine = Engine::from_url(url).ok_or_else(|| ConfigError::Database {
        name: name.into(),
        message: "unrecognised URL scheme; use postgres://, mysql:// (or mariadb://), sqlite:// or mongodb://".into(),
    })?;
    if max_rows == Some(0) {
        return Err(ConfigError::Database { name: name.into(), message: "max_rows must be at least 1".into() });
    }
    Ok(DatabaseConfig {
        name: name.into(),
        engine,
        url: SecretUrl::new(url),
        mode: mode.unwrap_or(Mode::ReadOnly),
        statement_timeout_ms: statement_timeout_ms.unwrap_or(DEFAULT_STATEMENT_TIMEOUT_MS),
        max_rows: max_rows.unwrap_or(DEFAULT_MAX_ROWS),
        reader_url: None,
        reader_role: None,
    })
}

/// Replace `${VAR}` and `${VAR:-default}`; every interpolated value is treated as a secret.
fn interpolate(
    text: &str,
    context: &str,
    env: &dyn Fn(&str) -> Option<String>,
    secrets: &mut Vec<String>,
) -> Result<String, ConfigError> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else {
            out.push_str(&rest[start..]);
            return Ok(out);
        };
        let inner = &after[..end];
        let (name, default) = match inner.split_once(":-") {
            Some((n, d)) => (n, Some(d)),
            None => (inner, None),
        };
        match env(name).or_else(|| default.map(str::to_string)) {
            Some(value) => {
                if default.is_none_or(|d| d != value) {
                    secrets.push(value.clone());
                }
                out.push_str(&value);
            }
            None => return Err(ConfigError::MissingEnv { name: name.into(), context: context.into() }),
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        match name {
            "PG_URL" => Some("postgres://app:s3cr%40t@db:5432/app".into()),
            "PW" => Some("hunter22".into()),
            _ => None,
        }
    }

    #[test]
    fn the_example_config_loads_and_its_reader_password_is_a_secret() {
        let text = include_str!("../examples/data-engineer.toml");
        let vars = |name: &str| {
            Some(if name.ends_with("_URL") { "postgres://app@db/app".to_string() } else { "pw-from-env-7".to_string() })
        };
        let cfg = Config::from_toml(text, "examples/data-engineer.toml", &vars).unwrap();
        let analytics = cfg.databases.iter().find(|d| d.name == "analytics").unwrap();
        assert!(analytics.reader_url.as_ref().is_some_and(|u| u.expose().starts_with("mysql://data_engineer_reader:")));
        assert!(cfg.secrets.contains(&"pw-from-env-7".to_string()));
        // A reader of another engine is refused.
        let wrong = Config::from_toml(
            "[databases.a]\nurl = \"postgres://x@h/d\"\nreader_url = \"mysql://r@h/d\"",
            "t.toml",
            &env,
        );
        assert!(wrong.is_err());
    }

    #[test]
    fn toml_with_interpolation_keeps_order_and_secrets() {
        let cfg = Config::from_toml(
            r#"
            [databases.main]
            url = "${PG_URL}"
            mode = "read-write"
            max_rows = 50
            [databases.cache]
            url = "mysql://root:${PW}@127.0.0.1/x"
            "#,
            "t.toml",
            &env,
        )
        .unwrap();
        let names: Vec<_> = cfg.databases.iter().map(|d| d.name.as_str()).collect();
        assert_eq!(names, ["main", "cache"]);
        assert_eq!(cfg.databases[0].mode, Mode::ReadWrite);
        assert_eq!(cfg.databases[1].mode, Mode::ReadOnly);
        assert_eq!(cfg.databases[0].max_rows, 50);
        assert!(cfg.secrets.contains(&"s3cr@t".to_string()));
        assert!(cfg.secrets.contains(&"hunter22".to_string()));
        assert!(cfg.secrets.iter().any(|s| s.starts_with("postgres://")));
    }

    #[test]
    fn missing_env_names_the_variable() {
        let err = Config::from_toml("[databases.a]\nurl = \"${NOPE}\"", "t.toml", &env).unwrap_err();
        assert_eq!(err.to_string(), "environment variable NOPE is not set (referenced as ${NOPE} in databases.a.url)");
    }

    #[test]
    fn url_password_is_hidden() {
        let u = SecretUrl::new("mysql://de:p%40ss:w@127.0.0.1:3306/db?ssl=true");
        assert_eq!(u.password().as_deref(), Some("p@ss:w"));
        assert_eq!(u.display_redacted(), "mysql://de:***@127.0.0.1:3306/db?ssl=true");
        assert_eq!(format!("{u:?}"), "SecretUrl([REDACTED])");
    }
}
