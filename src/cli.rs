//! The command line: serve over stdio (the default), print the tool list, or run one tool once.
//! While serving, stdout carries only the protocol; logs go to stderr through the redactor.

use std::{io::Write, process::ExitCode, sync::Arc};

use clap::{Parser, Subcommand};
use rmcp::{
    ServiceExt,
    model::{CallToolRequestParams, CallToolResult},
};
use serde_json::Value;

use crate::{
    config::{Config, ConfigRequest, Mode},
    redact::Redactor,
    server::Server,
    transport::LineTransport,
};

#[derive(Debug, Parser)]
#[command(name = "data-engineer-mcp", version, about = "An MCP server that makes an LLM agent a careful senior data engineer", long_about = None)]
pub struct Cli {
    /// One database to use (postgres://, mysql://, mariadb://, sqlite://, mongodb://). Without it,
    /// DATABASE_URL is used unless a config file is (then DATABASE_URL is only for interpolation).
    #[arg(long, global = true)]
    database_url: Option<String>,
    /// Access mode for --database-url (default: read-only; the embedded SQLite file is read-write).
    #[arg(long, value_enum, global = true)]
    mode: Option<Mode>,
    /// TOML file of named databases (default: ./data-engineer.toml when it exists).
    #[arg(long, env = "DATA_ENGINEER_CONFIG", global = true)]
    config: Option<String>,
    /// A directory file-taking tools (seed, load-csv, migrations, ...) may use besides the working
    /// directory (or the config's [files] roots). Repeat for several.
    #[arg(long = "allow-dir", value_name = "DIR", global = true)]
    allow_dirs: Vec<String>,
    /// Offer only these toolsets or tools, comma-separated (core, performance, security,
    /// migrations, data, or tool names; default all). env-check is always offered.
    #[arg(long, value_delimiter = ',', global = true)]
    tools: Option<Vec<String>>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve MCP over stdin/stdout (the default).
    Serve,
    /// Print the tools/list result as JSON.
    Tools,
    /// Run one tool once and print its result.
    Call {
        /// Tool name, e.g. run-sql.
        tool: String,
        /// Arguments as a JSON object.
        #[arg(long, default_value = "{}")]
        args: String,
        /// Print the whole MCP result as JSON instead of its text.
        #[arg(long)]
        json: bool,
    },
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    // A config file (given, or ./data-engineer.toml) wins over the DATABASE_URL environment
    // variable, which it may interpolate; only the --database-url flag beats a file.
    let has_file = cli.config.is_some() || std::path::Path::new(crate::config::DEFAULT_CONFIG_FILE).exists();
    let database_url =
        cli.database_url.clone().or_else(|| if has_file { None } else { std::env::var("DATABASE_URL").ok() });
    let request = ConfigRequest {
        database_url,
        mode: cli.mode,
        config_file: cli.config.clone(),
        allow_dirs: cli.allow_dirs.clone(),
        tools: cli.tools.clone(),
    };
    let loaded = Config::load(&request, &|name| std::env::var(name).ok());
    let redactor = Arc::new(match &loaded {
        Ok(config) => Redactor::new(&config.secrets),
        Err(_) => Redactor::patterns_only(),
    });
    init_tracing(redactor.clone());
    // Deep statement trees are walked recursively: every thread gets the stack the SQL check
    // bounds them to (address space only; pages are touched as used).
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_stack_size(crate::sql::STACK_BYTES)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => {
            let server = match loaded {
                Ok(config) => Server::new(config),
                Err(e) => {
                    // Start anyway: env-check and every tool explain the problem to the model.
                    tracing::error!("{e}");
                    Server::unconfigured(e.to_string(), Redactor::patterns_only())
                }
            };
            runtime.block_on(serve(server, redactor))
        }
        Command::Tools => {
            let names = cli.tools.as_deref().or_else(|| loaded.as_ref().ok().and_then(|c| c.tools.as_deref()));
            let enabled = names.map(crate::toolsets::select);
            match enabled.transpose() {
                Ok(enabled) => {
                    let tools = crate::server::router(enabled.as_deref()).list_all();
                    print_json(&sort_keys(serde_json::json!({ "tools": tools })));
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("error: {e}");
                    ExitCode::FAILURE
                }
            }
        }
        Command::Call { tool, args, json } => {
            let config = match loaded {
                Ok(c) => c,
                Err(e) => {
                    eprintln!("error: {}", redactor.redact(&e.to_string()));
                    return ExitCode::from(2);
                }
            };
            runtime.block_on(call_once(Server::new(config), tool, &args, json))
        }
    }
}

async fn serve(server: Server, redactor: Arc<Redactor>) -> ExitCode {
    let stdout = match protocol_stdout(redactor) {
        Ok(out) => out,
        Err(e) => {
            tracing::error!("cannot take stdout for the protocol: {e}");
            return ExitCode::FAILURE;
        }
    };
    match server.serve(LineTransport::new(tokio::io::stdin(), stdout)).await {
        Ok(running) => match running.waiting().await {
            Ok(_) => ExitCode::SUCCESS,
            Err(e) => {
                tracing::error!("server task failed: {e}");
                ExitCode::FAILURE
            }
        },
        Err(e) => {
            tracing::error!("cannot start serving: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The protocol's own handle on stdout. On Unix, fd 1 itself is then pointed into a pipe whose
/// lines reach stderr through the redactor: whatever else in the process (a dependency, a stray
/// print) writes to stdout can never interleave with the protocol's lines.
#[cfg(unix)]
fn protocol_stdout(redactor: Arc<Redactor>) -> std::io::Result<tokio::fs::File> {
    use std::{
        io::BufRead,
        os::fd::{AsFd, AsRawFd},
    };
    std::io::stdout().lock().flush()?;
    let protocol = std::io::stdout().as_fd().try_clone_to_owned()?;
    let (stray, sink) = std::io::pipe()?;
    // SAFETY: dup2 on two open descriptors; fd 1 is replaced atomically and `sink` stays ours.
    if unsafe { libc::dup2(sink.as_raw_fd(), libc::STDOUT_FILENO) } < 0 {
        return Err(std::io::Error::last_os_error());
    }
    drop(sink);
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stray).lines() {
            let Ok(line) = line else { break };
            let mut err = std::io::stderr().lock();
            let _ = writeln!(err, "stray stdout output (kept off the protocol): {}", redactor.redact(&line));
        }
    });
    Ok(tokio::fs::File::from_std(std::fs::File::from(protocol)))
}

#[cfg(not(unix))]
fn protocol_stdout(_: Arc<Redactor>) -> std::io::Result<tokio::io::Stdout> {
    Ok(tokio::io::stdout())
}

/// Run one tool through a real MCP session in process, so the result passes the same path
/// (argument validation, the output layer) as any client's call.
async fn call_once(server: Server, tool: String, args: &str, json: bool) -> ExitCode {
    let arguments = match serde_json::from_str::<Value>(args) {
        Ok(Value::Object(map)) => map,
        _ => {
            eprintln!("error: --args must be a JSON object, e.g. --args '{{\"sql\": \"select 1\"}}'");
            return ExitCode::from(2);
        }
    };
    let (server_io, client_io) = tokio::io::duplex(1 << 16);
    let server_task = tokio::spawn(async move {
        let (read, write) = tokio::io::split(server_io);
        if let Ok(running) = server.serve(LineTransport::new(read, write)).await {
            let _ = running.waiting().await;
        }
    });
    let outcome = async {
        let client = ().serve(client_io).await.map_err(|e| e.to_string())?;
        let result = client
            .call_tool(CallToolRequestParams::new(tool).with_arguments(arguments))
            .await
            .map_err(|e| e.to_string());
        let _ = client.cancel().await;
        result
    }
    .await;
    server_task.abort();
    match outcome {
        Ok(result) => {
            print_result(&result, json);
            if result.is_error == Some(true) { ExitCode::FAILURE } else { ExitCode::SUCCESS }
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}

fn print_result(result: &CallToolResult, json: bool) {
    if json {
        print_json(&serde_json::to_value(result).unwrap_or(Value::Null));
    } else {
        let text: Vec<&str> = result.content.iter().filter_map(|c| c.as_text().map(|t| t.text.as_str())).collect();
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{}", text.join("\n"));
    }
}

/// The tools/list result with sorted keys, exactly as `tools.json` holds it.
pub fn tools_json() -> Value {
    sort_keys(serde_json::json!({ "tools": Server::tool_definitions() }))
}

pub fn sort_keys(value: Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<(String, Value)> = map.into_iter().map(|(k, v)| (k, sort_keys(v))).collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            Value::Object(entries.into_iter().collect())
        }
        Value::Array(items) => Value::Array(items.into_iter().map(sort_keys).collect()),
        other => other,
    }
}

fn print_json(value: &Value) {
    let mut out = std::io::stdout().lock();
    let _ = serde_json::to_writer_pretty(&mut out, value);
    let _ = writeln!(out);
}

/// stderr, with every line passed through the redactor first.
struct RedactingStderr(Arc<Redactor>);

impl Write for RedactingStderr {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let text = String::from_utf8_lossy(buf);
        std::io::stderr().write_all(self.0.redact(&text).as_bytes())?;
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}

fn init_tracing(redactor: Arc<Redactor>) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_env("DATA_ENGINEER_LOG")
        .or_else(|_| EnvFilter::try_from_default_env())
        .unwrap_or_else(|_| EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(move || RedactingStderr(redactor.clone()))
        .with_ansi(false)
        .try_init();
}
