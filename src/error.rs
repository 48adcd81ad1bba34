//! Errors a tool call can end with. Every variant is something the model can act on, so each
//! carries a hint saying what to do next; the output layer renders them as `isError` results.

use crate::config::Engine;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ToolError {
    /// The `database` argument names nothing configured.
    #[error("unknown database {name:?}; configured: {available}")]
    UnknownDatabase { name: String, available: String },
    /// The configuration of this database is unusable.
    #[error("database {database} is misconfigured: {message}")]
    Config { database: String, message: String },
    /// The server could not be reached or refused the login.
    #[error("cannot connect to database {database} ({engine}): {message}")]
    Connect { database: String, engine: Engine, message: String },
    /// The statement was refused before it reached the database.
    #[error("refused: {reason}")]
    Refused { reason: String, hint: String },
    /// The statement could not be parsed.
    #[error("cannot parse the statement: {message}")]
    Parse { message: String },
    /// The database rejected the statement.
    #[error("database error{}: {message}", code.as_deref().map(|c| format!(" {c}")).unwrap_or_default())]
    Database { code: Option<String>, message: String, hint: Option<String> },
    /// The statement ran past the database's statement timeout.
    #[error("the statement was cancelled after {timeout_ms} ms (statement timeout)")]
    Timeout { timeout_ms: u64 },
    /// The engine cannot do what the tool was asked.
    #[error("{what} is not supported on {engine}")]
    Unsupported { what: String, engine: Engine, hint: String },
    /// An argument is malformed or inconsistent.
    #[error("invalid argument {argument}: {message}")]
    InvalidArgument { argument: String, message: String },
    /// The call was cancelled by the client.
    #[error("cancelled by the client; the transaction was rolled back")]
    Cancelled,
    /// A change needs the user's go-ahead and the client cannot ask them.
    #[error("confirmation required: {action}")]
    ConfirmationRequired { action: String },
    /// The user declined the change.
    #[error("not confirmed: {action}; nothing was changed")]
    NotConfirmed { action: String },
    /// The client must ask the user and retry (2026-07-28 sessions); the output layer turns this
    /// into an `InputRequiredResult`, never an error the model sees.
    #[error("{message}")]
    InputRequired { message: String },
}

/// The kind of [`ToolError::InputRequired`], which the output layer looks for.
pub const INPUT_REQUIRED: &str = "input-required";

impl ToolError {
    /// What the model should do next.
    pub fn hint(&self) -> Option<String> {
        match self {
            ToolError::UnknownDatabase { .. } => {
                Some("pass one of the configured names as `database`, or omit it to use the first".into())
            }
            ToolError::Config { .. } => Some("fix the URL in the config or DATABASE_URL, then run env-check".into()),
            ToolError::Connect { .. } => Some(
                "check that the server is running and the URL, user and password are right; env-check shows details"
                    .into(),
            ),
            ToolError::Refused { hint, .. } | ToolError::Unsupported { hint, .. } => Some(hint.clone()),
            ToolError::Parse { .. } => Some("send exactly one complete SQL statement in the engine's dialect".into()),
            ToolError::Database { hint, .. } => hint.clone(),
            ToolError::Timeout { .. } => Some(
                "narrow the query (filters, LIMIT), check its plan with explain-analyze, or pass a larger timeout_ms"
                    .into(),
            ),
            ToolError::InvalidArgument { .. } => Some("correct the argument and call again".into()),
            ToolError::Cancelled | ToolError::InputRequired { .. } => None,
            ToolError::ConfirmationRequired { .. } => Some(
                "show the user exactly what will change (the tool's preview, plan or dry-run), and only after \
                 they agree call again with confirm: true"
                    .into(),
            ),
            ToolError::NotConfirmed { .. } => {
                Some("ask the user what they want changed; do not retry the same change unasked".into())
            }
        }
    }

    /// A short stable code for the error's kind.
    pub fn kind(&self) -> &'static str {
        match self {
            ToolError::UnknownDatabase { .. } => "unknown-database",
            ToolError::Config { .. } => "config",
            ToolError::Connect { .. } => "connect",
            ToolError::Refused { .. } => "refused",
            ToolError::Parse { .. } => "parse",
            ToolError::Database { .. } => "database",
            ToolError::Timeout { .. } => "timeout",
            ToolError::Unsupported { .. } => "unsupported",
            ToolError::InvalidArgument { .. } => "invalid-argument",
            ToolError::Cancelled => "cancelled",
            ToolError::ConfirmationRequired { .. } => "confirmation-required",
            ToolError::NotConfirmed { .. } => "not-confirmed",
            ToolError::InputRequired { .. } => INPUT_REQUIRED,
        }
    }

    pub fn refused(reason: impl Into<String>, hint: impl Into<String>) -> Self {
        ToolError::Refused { reason: reason.into(), hint: hint.into() }
    }

    pub fn invalid(argument: &str, message: impl Into<String>) -> Self {
        ToolError::InvalidArgument { argument: argument.into(), message: message.into() }
    }
}

/// The JSON text a [`ToolError`] travels in until `Output::finish` renders it.
pub fn envelope(e: &ToolError) -> String {
    serde_json::json!({ "error": { "kind": e.kind(), "message": e.to_string(), "hint": e.hint() } }).to_string()
}

/// Carries a tool error through rmcp's router to the output layer, which renders it; nothing
/// else turns errors into results.
impl rmcp::model::IntoContents for ToolError {
    fn into_contents(self) -> Vec<rmcp::model::ContentBlock> {
        vec![rmcp::model::ContentBlock::text(envelope(&self))]
    }
}
