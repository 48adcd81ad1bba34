//! The stdio framing: one JSON-RPC message per line in, one per line out, through one writer.
//!
//! rmcp's own stdio transport silently drops a line that is not JSON (or not UTF-8, or nested
//! too deep), so the client waits forever, and answers other bad messages without an `id`. This
//! one answers every line it cannot serve: `-32700` (parse error, `id: null`) for a line that is
//! not JSON, not UTF-8, nested deeper than serde_json's recursion limit or longer than
//! [`MAX_LINE_BYTES`]; `-32600` (invalid request, with the request's id when it has one) for JSON
//! that is no JSON-RPC message. Then it keeps serving. A line is never buffered past the bound.

use std::{io, sync::Arc};

use rmcp::{
    RoleServer,
    model::{CallToolRequest, ClientRequest, JsonRpcMessage, JsonRpcRequest, RequestId},
    service::{RxJsonRpcMessage, TxJsonRpcMessage},
    transport::Transport,
};
use serde::Deserialize as _;
use serde_json::{Value, json};
use tokio::{
    io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader},
    sync::Mutex,
    task::JoinHandle,
};

/// The longest line (one message) read; a longer one is discarded as it streams in and refused.
pub const MAX_LINE_BYTES: usize = 64 << 20;
/// JSON-RPC 2.0's code for a message that is not JSON.
pub const PARSE_ERROR: i64 = -32700;
/// JSON-RPC 2.0's code for JSON that is not a valid request.
pub const INVALID_REQUEST: i64 = -32600;
/// How much of serde's explanation an error reply quotes (it may quote the message itself).
const MAX_DETAIL_CHARS: usize = 200;
const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

/// A server transport over a byte reader (stdin) and a byte writer (stdout).
pub struct LineTransport<R, W> {
    read: BufReader<R>,
    line: Vec<u8>,
    /// Dropping the rest of an oversized line, until its newline.
    discarding: bool,
    /// The reader ended; a trailing line without newline has been handled.
    ended: bool,
    write: Arc<Mutex<W>>,
    /// The error reply being written. `receive` waits for it before reading on (so a client that
    /// never reads cannot make replies pile up), and it survives `receive` being cancelled.
    reply: Option<JoinHandle<()>>,
}

impl<R: AsyncRead + Unpin, W: AsyncWrite + Unpin> LineTransport<R, W> {
    pub fn new(read: R, write: W) -> Self {
        Self {
            read: BufReader::new(read),
            line: Vec::new(),
            discarding: false,
            ended: false,
            write: Arc::new(Mutex::new(write)),
            reply: None,
        }
    }
}

/// What one read produced.
enum Read {
    /// A whole line (without its `\n`) is in `line`.
    Line,
    /// A line passed [`MAX_LINE_BYTES`]; what was read of it is dropped.
    Oversized,
    Eof,
    Failed(io::Error),
}

impl<R: AsyncRead + Unpin, W> LineTransport<R, W> {
    /// Read one line into `self.line`, never holding more than [`MAX_LINE_BYTES`] of it.
    /// Cancel-safe: bytes are moved from the reader's buffer into `line` with no await between
    /// copying and consuming them, so a cancelled read resumes where it stopped.
    async fn read_line(&mut self) -> Read {
        loop {
            let (used, done) = {
                let available = match self.read.fill_buf().await {
                    Ok(a) => a,
                    Err(e) => return Read::Failed(e),
                };
                if available.is_empty() {
                    return Read::Eof;
                }
                let newline = available.iter().position(|&b| b == b'\n');
                let take = newline.map_or(available.len(), |i| i + 1);
                if self.discarding {
                    if newline.is_some() {
                        self.discarding = false;
                    }
                    (take, None)
                } else if self.line.len() + take > MAX_LINE_BYTES + 1 {
                    // `+ 1`: the newline itself does not count against the bound.
                    self.line = Vec::new();
                    self.discarding = newline.is_none();
                    (take, Some(Read::Oversized))
                } else {
                    self.line.extend_from_slice(&available[..take]);
                    (take, newline.map(|_| Read::Line))
                }
            };
            self.read.consume(used);
            if let Some(read) = done {
                if matches!(read, Read::Line) {
                    self.line.pop();
                }
                return read;
            }
        }
    }
}

impl<W: AsyncWrite + Unpin + Send + 'static, R> LineTransport<R, W> {
    /// Start writing an error reply; `receive` waits for it before it reads the next line.
    fn start_reply(&mut self, reply: Value) {
        let write = self.write.clone();
        self.reply = Some(tokio::spawn(async move {
            if let Err(e) = write_line(&write, &reply).await {
                tracing::warn!("cannot write an error reply: {e}");
            }
        }));
    }

    async fn finish_reply(&mut self) {
        if let Some(reply) = self.reply.as_mut() {
            let _ = reply.await;
            self.reply = None;
        }
    }
}

async fn write_line<W: AsyncWrite + Unpin>(write: &Mutex<W>, message: &impl serde::Serialize) -> io::Result<()> {
    let mut bytes = serde_json::to_vec(message)?;
    bytes.push(b'\n');
    let mut w = write.lock().await;
    w.write_all(&bytes).await?;
    w.flush().await
}

/// What to do with one line.
#[derive(Debug)]
pub enum Verdict {
    Serve(Box<RxJsonRpcMessage<RoleServer>>),
    /// Nothing to answer: a blank line, or a notification the server cannot read (JSON-RPC never
    /// answers notifications).
    Skip,
    /// The JSON-RPC error to send back.
    Reply(Value),
}

/// Judge one line (without its newline).
/// A well-formed `tools/call` request read straight into its type. Every other message (and a
/// call this cannot read) goes back to the general path: its untagged enum tries each of the 22
/// request kinds in turn, which was a sixth of a `run-sql SELECT 1` call's instructions.
fn tool_call(value: Value) -> Result<RxJsonRpcMessage<RoleServer>, Value> {
    let is_call = value.get("method").is_some_and(|m| m == "tools/call")
        && value.get("jsonrpc").is_some_and(|v| v == "2.0")
        && matches!(value.get("id"), Some(Value::String(_) | Value::Number(_)));
    if !is_call {
        return Err(value);
    }
    let id = RequestId::deserialize(&value["id"]);
    match (id, CallToolRequest::deserialize(&value)) {
        (Ok(id), Ok(request)) => {
            Ok(JsonRpcMessage::Request(JsonRpcRequest::new(id, ClientRequest::CallToolRequest(request))))
        }
        _ => Err(value),
    }
}

pub fn judge(line: &[u8]) -> Verdict {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let line = line.strip_prefix(UTF8_BOM).unwrap_or(line);
    if line.iter().all(u8::is_ascii_whitespace) {
        return Verdict::Skip;
    }
    let text = match std::str::from_utf8(line) {
        Ok(t) => t,
        Err(e) => {
            return Verdict::Reply(error(
                PARSE_ERROR,
                format!("parse error: the message is not UTF-8 (invalid byte at {})", e.valid_up_to()),
                Value::Null,
            ));
        }
    };
    // serde_json stops at 128 levels of nesting with an error instead of overflowing the stack.
    let value: Value = match serde_json::from_str(text) {
        Ok(v) => v,
        Err(e) => return Verdict::Reply(error(PARSE_ERROR, format!("parse error: {e}"), Value::Null)),
    };
    let id = match value.get("id") {
        Some(id @ (Value::String(_) | Value::Number(_))) => id.clone(),
        _ => Value::Null,
    };
    let notification = value.is_object()
        && value.get("id").is_none()
        && value.get("method").is_some_and(Value::is_string)
        && value.get("jsonrpc").is_some_and(|v| v == "2.0");
    let value = match tool_call(value) {
        Ok(message) => return Verdict::Serve(Box::new(message)),
        Err(value) => value,
    };
    match serde_json::from_value::<RxJsonRpcMessage<RoleServer>>(value) {
        Ok(message) => Verdict::Serve(Box::new(message)),
        Err(e) if notification => {
            tracing::debug!("ignoring a notification the server cannot read: {e}");
            Verdict::Skip
        }
        Err(e) => {
            let detail: String = e.to_string().chars().take(MAX_DETAIL_CHARS).collect();
            Verdict::Reply(error(
                INVALID_REQUEST,
                format!(
                    "invalid request: not a JSON-RPC 2.0 request, notification or response the server accepts ({detail})"
                ),
                id,
            ))
        }
    }
}

fn error(code: i64, message: String, id: Value) -> Value {
    json!({ "jsonrpc": "2.0", "id": id, "error": { "code": code, "message": message } })
}

impl<R, W> Transport<RoleServer> for LineTransport<R, W>
where
    R: AsyncRead + Unpin + Send + 'static,
    W: AsyncWrite + Unpin + Send + 'static,
{
    type Error = io::Error;

    fn send(&mut self, item: TxJsonRpcMessage<RoleServer>) -> impl Future<Output = io::Result<()>> + Send + 'static {
        let write = self.write.clone();
        async move { write_line(&write, &item).await }
    }

    async fn receive(&mut self) -> Option<RxJsonRpcMessage<RoleServer>> {
        loop {
            self.finish_reply().await;
            if self.ended {
                return None;
            }
            match self.read_line().await {
                Read::Line => {}
                Read::Oversized => {
                    self.start_reply(error(
                        PARSE_ERROR,
                        format!(
                            "parse error: the message is longer than {} MiB; send smaller messages",
                            MAX_LINE_BYTES >> 20
                        ),
                        Value::Null,
                    ));
                    continue;
                }
                // A last line without a newline is still a message.
                Read::Eof if !self.line.is_empty() && !self.discarding => self.ended = true,
                Read::Eof => return None,
                Read::Failed(e) => {
                    tracing::error!("cannot read stdin: {e}");
                    return None;
                }
            }
            let verdict = judge(&self.line);
            self.line.clear();
            match verdict {
                Verdict::Serve(message) => return Some(*message),
                Verdict::Skip => {}
                Verdict::Reply(reply) => self.start_reply(reply),
            }
        }
    }

    async fn close(&mut self) -> io::Result<()> {
        self.finish_reply().await;
        self.write.lock().await.flush().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The shortcut for tools/call reads every call exactly as the general path does (same
    /// message once serialized again), and leaves what it cannot read to that path.
    #[test]
    fn tool_calls_read_the_same_on_the_shortcut() {
        let calls = [
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"run-sql","arguments":{"sql":"select 1"}}}"#,
            r#"{"id":"a-b","jsonrpc":"2.0","params":{"name":"x"},"method":"tools/call"}"#,
            r#"{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"x","arguments":{},"_meta":{"progressToken":3}}}"#,
            r#"{"jsonrpc":"2.0","id":8,"method":"tools/call","params":{"name":"x","task":{"ttl":1000}}}"#,
        ];
        for call in calls {
            let value: Value = serde_json::from_str(call).unwrap();
            let general = serde_json::from_value::<RxJsonRpcMessage<RoleServer>>(value.clone()).unwrap();
            let fast = tool_call(value).unwrap_or_else(|_| panic!("the shortcut refused {call}"));
            assert_eq!(serde_json::to_value(&fast).unwrap(), serde_json::to_value(&general).unwrap(), "{call}");
        }
        for other in [
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#,
            r#"{"jsonrpc":"2.0","method":"tools/call","params":{"name":"x"}}"#,
            r#"{"jsonrpc":"1.0","id":1,"method":"tools/call","params":{"name":"x"}}"#,
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"arguments":{}}}"#,
            r#"{"jsonrpc":"2.0","id":null,"method":"tools/call","params":{"name":"x"}}"#,
        ] {
            assert!(tool_call(serde_json::from_str(other).unwrap()).is_err(), "{other}");
        }
    }

    fn reply(line: &[u8]) -> Value {
        match judge(line) {
            Verdict::Reply(v) => v,
            other => panic!("expected a reply, got {other:?}"),
        }
    }

    #[test]
    fn lines_are_judged() {
        assert!(matches!(judge(br#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#), Verdict::Serve(_)));
        assert!(matches!(
            judge(b"\xEF\xBB\xBF{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}\r"),
            Verdict::Serve(_)
        ));
        assert!(matches!(judge(b"  \r"), Verdict::Skip));
        assert!(matches!(judge(br#"{"jsonrpc":"2.0","method":"notifications/cancelled","params":7}"#), Verdict::Skip));
        assert_eq!(reply(b"nope")["error"]["code"], PARSE_ERROR);
        assert_eq!(reply(b"\xff")["id"], Value::Null);
        let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
        assert!(reply(deep.as_bytes())["error"]["message"].as_str().unwrap().contains("recursion limit"));
        let bad = reply(br#"{"jsonrpc":"2.0","id":"x","method":7}"#);
        assert_eq!((bad["id"].clone(), bad["error"]["code"].clone()), (json!("x"), json!(INVALID_REQUEST)));
        let long = format!(r#"{{"jsonrpc":"2.0","id":1,"method":"tools/call","params":"{}"}}"#, "a".repeat(10_000));
        assert!(reply(long.as_bytes())["error"]["message"].as_str().unwrap().len() < 400);
    }
}
