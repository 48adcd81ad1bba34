//! MongoDB: reads are finds and pipelines under maxTimeMS and a pushed-down limit; writes
//! through `$out`/`$merge` and server-side JavaScript are refused on read-only databases, at any
//! depth of a request ([`screen`]).

use std::{collections::BTreeMap, time::Duration};

use futures::TryStreamExt;
use mongodb::{
    Client, Database,
    bson::{Bson, Document, doc},
    options::ClientOptions,
};
use serde_json::{Value, json};

use super::{Check, Health, ObjectPage, ObjectQuery};
use crate::{
    config::{DatabaseConfig, Mode},
    error::ToolError,
};

/// Operators that run JavaScript on the server.
pub(crate) const JAVASCRIPT_OPERATORS: &[&str] = &["$where", "$function", "$accumulator"];
/// Stages that write their input somewhere.
pub(crate) const WRITING_STAGES: &[&str] = &["$out", "$merge"];

pub(crate) struct Mongo {
    pub(crate) client: Client,
    pub(crate) db: Database,
    pub(crate) tls: bool,
    pub(crate) name: String,
}

/// Commit, retrying the commit itself while its outcome is unknown (the drivers' rule).
pub(crate) async fn commit(session: &mut mongodb::ClientSession) -> Result<(), mongodb::error::Error> {
    let mut tries = 0;
    loop {
        match session.commit_transaction().await {
            Err(e) if e.contains_label(mongodb::error::UNKNOWN_TRANSACTION_COMMIT_RESULT) && tries < 2 => tries += 1,
            other => return other,
        }
    }
}

/// Documents read from a collection, at most `cap` of them.
pub struct DocumentSet {
    pub documents: Vec<Value>,
    pub more: bool,
    /// The byte cap stopped the read.
    pub cut_at_bytes: bool,
}

impl Mongo {
    pub(crate) async fn connect(cfg: &DatabaseConfig) -> Result<Mongo, String> {
        let mut options = ClientOptions::parse(cfg.url.expose()).await.map_err(|e| e.to_string())?;
        options.app_name = Some("data-engineer-mcp".into());
        options.server_selection_timeout = Some(Duration::from_secs(5));
        options.connect_timeout = Some(Duration::from_secs(5));
        options.max_pool_size = Some(4);
        let tls = matches!(options.tls, Some(mongodb::options::Tls::Enabled(_)));
        let name = options.default_database.clone().unwrap_or_else(|| "test".into());
        // Lazy: no I/O until the first operation.
        let client = Client::with_options(options).map_err(|e| e.to_string())?;
        let db = client.database(&name);
        Ok(Mongo { client, db, tls, name })
    }

    /// A replica set member or a mongos: both run multi-document transactions (a standalone
    /// does not).
    pub(crate) async fn supports_transactions(&self) -> Result<bool, mongodb::error::Error> {
        let hello = self.db.run_command(doc! { "hello": 1 }).await?;
        Ok(hello.contains_key("setName") || hello.get_str("msg").is_ok_and(|msg| msg == "isdbgrid"))
    }

    pub(crate) fn error(&self, e: mongodb::error::Error, timeout_ms: u64) -> ToolError {
        use mongodb::error::ErrorKind;
        match *e.kind {
            ErrorKind::ServerSelection { .. } | ErrorKind::Io(_) | ErrorKind::DnsResolve { .. } => ToolError::Connect {
                database: self.name.clone(),
                engine: crate::config::Engine::Mongodb,
                message: e.to_string(),
            },
            ErrorKind::Command(ref c) if c.code == 50 => ToolError::Timeout { timeout_ms },
            ErrorKind::Command(ref c) => {
                ToolError::Database { code: Some(c.code_name.clone()), message: c.message.clone(), hint: None }
            }
            _ => ToolError::Database { code: None, message: e.to_string(), hint: None },
        }
    }

    pub(crate) async fn collections(&self, filter: Document) -> Result<Vec<Document>, mongodb::error::Error> {
        let reply = self.db.run_command(doc! { "listCollections": 1, "filter": filter }).await?;
        Ok(first_batch(&reply))
    }

    pub(crate) async fn list_objects(&self, q: &ObjectQuery) -> Result<ObjectPage, ToolError> {
        let map_err = |e| self.error(e, 0);
        let mut specs = self.collections(doc! {}).await.map_err(map_err)?;
        specs.retain(|s| {
            let name = s.get_str("name").unwrap_or("");
            !name.starts_with("system.") && q.pattern.as_deref().is_none_or(|p| like_match(p, name))
        });
        specs.sort_by(|a, b| a.get_str("name").unwrap_or("").cmp(b.get_str("name").unwrap_or("")));
        let total = specs.len() as i64;
        let mut objects = Vec::new();
        for spec in specs.into_iter().skip(q.offset as usize).take(q.limit as usize) {
            let name = spec.get_str("name").unwrap_or("").to_string();
            let kind = spec.get_str("type").unwrap_or("collection").to_string();
            let estimate = if kind == "collection" {
                self.db.collection::<Document>(&name).estimated_document_count().await.ok()
            } else {
                None
            };
            objects.push(json!({ "name": name, "kind": kind, "row_estimate": estimate }));
        }
        Ok(ObjectPage { objects, total })
    }

    pub(crate) async fn describe(&self, name: &str, sample: i64) -> Result<Option<Value>, ToolError> {
        let map_err = |e| self.error(e, 0);
        let Some(spec) = self.collections(doc! { "name": name }).await.map_err(map_err)?.into_iter().next() else {
            return Ok(None);
        };
        let coll = self.db.collection::<Document>(name);
        let kind = spec.get_str("type").unwrap_or("collection").to_string();
        let options = spec.get_document("options").cloned().unwrap_or_default();
        let indexes = if kind == "view" {
            vec![]
        } else {
            let reply = self.db.run_command(doc! { "listIndexes": name }).await.map_err(map_err)?;
            first_batch(&reply).into_iter().map(|d| Bson::Document(d).into_relaxed_extjson()).collect()
        };
        let estimate = coll.estimated_document_count().await.ok();
        let docs: Vec<Document> = coll
            .aggregate([doc! { "$sample": { "size": sample.max(1) } }])
            .await
            .map_err(map_err)?
            .try_collect()
            .await
            .map_err(map_err)?;
        let mut fields: BTreeMap<String, (BTreeMap<&'static str, usize>, usize)> = BTreeMap::new();
        for d in &docs {
            walk_fields(d, "", 0, &mut fields);
        }
        let fields: Vec<Value> = fields
            .into_iter()
            .map(|(path, (types, count))| {
                json!({
                    "path": path,
                    "types": types.keys().collect::<Vec<_>>(),
                    "present_pct": (count as f64 * 1000.0 / docs.len().max(1) as f64).round() / 10.0,
                })
            })
            .collect();
        Ok(Some(json!({
            "name": name,
            "kind": kind,
            "row_estimate": estimate,
            "validator": options.get("validator").cloned().map(Bson::into_relaxed_extjson),
            "indexes": indexes,
            "sampled_documents": docs.len(),
            "fields": fields,
        })))
    }

    pub(crate) async fn health(&self, cfg: &DatabaseConfig) -> Result<Health, sqlx::Error> {
        let admin = self.client.database("admin");
        let fail = |e: mongodb::error::Error| {
            let e = self.error(e, 0);
            Health {
                version: None,
                checks: vec![Check::fail("connectivity", e.to_string(), e.hint().unwrap_or_default())],
            }
        };
        if let Err(e) = admin.run_command(doc! { "ping": 1 }).await {
            return Ok(fail(e));
        }
        let mut checks = vec![Check::ok("connectivity", format!("ping answered; database {}", self.name))];
        let version = admin
            .run_command(doc! { "buildInfo": 1 })
            .await
            .ok()
            .and_then(|b| b.get_str("version").ok().map(|v| format!("MongoDB-compatible {v}")));
        checks.push(if self.tls {
            Check::ok("tls", "tls enabled in the connection string")
        } else if super::is_local(cfg) {
            Check::ok("tls", "not encrypted (local connection)")
        } else {
            Check::warn("tls", "connection is not encrypted", "add tls=true to the connection string")
        });
        match admin.run_command(doc! { "connectionStatus": 1 }).await {
            Ok(status) => {
                let users = status
                    .get_document("authInfo")
                    .ok()
                    .and_then(|a| a.get_array("authenticatedUsers").ok())
                    .map_or(0, |u| u.len());
                checks.push(if users == 0 && !super::is_local(cfg) {
                    Check::warn(
                        "authentication",
                        "connected without authenticating",
                        "create a user with only the roles the work needs and put it in the URL",
                    )
                } else {
                    Check::ok("authentication", format!("{users} authenticated user(s)"))
                });
            }
            Err(e) => checks.push(Check::warn(
                "authentication",
                format!("connectionStatus failed: {e}"),
                "check the user's roles",
            )),
        }
        if cfg.mode == Mode::ReadOnly {
            checks.push(Check::ok("mode", "read-only: $out, $merge and server-side JavaScript are refused"));
        }
        Ok(Health { version, checks })
    }
}

/// What [`screen`] refuses in a request.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Screen {
    /// Stages that write (`$out`, `$merge`), and why not.
    pub writes: Option<Writes>,
    /// Operators that run JavaScript on the server (`$where`, `$function`, `$accumulator`).
    pub javascript: bool,
}

#[derive(Debug, Clone, Copy)]
pub(crate) enum Writes {
    ReadOnlyDatabase,
    /// The tool only reads, whatever the database's mode; `next` says what to do instead.
    ReadingTool {
        tool: &'static str,
        next: &'static str,
    },
}

/// The parts of a request as named values: the filter, projection, sort and pipeline.
pub(crate) fn request_parts(
    filter: &Document,
    projection: Option<&Document>,
    sort: Option<&Document>,
    pipeline: &[Document],
) -> Vec<(&'static str, Bson)> {
    let mut parts = vec![("filter", Bson::Document(filter.clone()))];
    parts.extend(projection.map(|p| ("projection", Bson::Document(p.clone()))));
    parts.extend(sort.map(|s| ("sort", Bson::Document(s.clone()))));
    parts.push(("pipeline", Bson::Array(pipeline.iter().cloned().map(Bson::Document).collect())));
    parts
}

/// The one check of every MongoDB request a tool sends on a caller's behalf (run-mongo,
/// explain-analyze, data-quality's pipelines). It walks every value at every depth, not only the
/// stages known to hold a pipeline (`$facet`, `$lookup`, `$unionWith`, nested in one another),
/// so it does not depend on which nestings a server accepts or refuses.
pub(crate) fn screen(parts: &[(&str, Bson)], refuse: Screen) -> Result<(), ToolError> {
    let forbidden = |key: &str| {
        (refuse.writes.is_some() && WRITING_STAGES.contains(&key))
            || (refuse.javascript && JAVASCRIPT_OPERATORS.contains(&key))
    };
    let Some((op, at)) = parts.iter().find_map(|(name, value)| find_key_path(value, name, &forbidden)) else {
        return Ok(());
    };
    if JAVASCRIPT_OPERATORS.contains(&op.as_str()) {
        return Err(ToolError::refused(
            format!("{op} (at {at}) runs JavaScript on the server"),
            "express the condition with query operators ($expr, $regex, ...) instead",
        ));
    }
    Err(match refuse.writes {
        Some(Writes::ReadingTool { tool, next }) => {
            ToolError::refused(format!("{op} (at {at}) writes to a collection and {tool} only reads"), next)
        }
        _ => ToolError::refused(
            format!("{op} (at {at}) writes to a collection and this database is read-only"),
            "remove every $out/$merge stage, also those nested in $facet, $lookup or $unionWith, to read the \
             results; or configure the database as read-write",
        ),
    })
}

/// The first key `wanted` accepts anywhere in `value`, with its path (`pipeline[0].$facet.a[0].$out`).
pub(crate) fn find_key_path(value: &Bson, path: &str, wanted: &dyn Fn(&str) -> bool) -> Option<(String, String)> {
    match value {
        Bson::Document(d) => d.iter().find_map(|(k, v)| {
            let here = format!("{path}.{k}");
            if wanted(k) { Some((k.clone(), here)) } else { find_key_path(v, &here, wanted) }
        }),
        Bson::Array(a) => a.iter().enumerate().find_map(|(i, v)| find_key_path(v, &format!("{path}[{i}]"), wanted)),
        _ => None,
    }
}

pub(crate) fn type_name(v: &Bson) -> &'static str {
    match v {
        Bson::Double(_) => "double",
        Bson::String(_) => "string",
        Bson::Array(_) => "array",
        Bson::Document(_) => "object",
        Bson::Boolean(_) => "bool",
        Bson::Null => "null",
        Bson::Int32(_) => "int",
        Bson::Int64(_) => "long",
        Bson::ObjectId(_) => "objectId",
        Bson::DateTime(_) => "date",
        Bson::Decimal128(_) => "decimal",
        Bson::Binary(_) => "binData",
        Bson::Timestamp(_) => "timestamp",
        Bson::RegularExpression(_) => "regex",
        _ => "other",
    }
}

pub(crate) fn walk_fields(
    d: &Document,
    prefix: &str,
    depth: usize,
    out: &mut BTreeMap<String, (BTreeMap<&'static str, usize>, usize)>,
) {
    for (k, v) in d {
        let path = if prefix.is_empty() { k.clone() } else { format!("{prefix}.{k}") };
        let entry = out.entry(path.clone()).or_default();
        *entry.0.entry(type_name(v)).or_default() += 1;
        entry.1 += 1;
        if let Bson::Document(inner) = v
            && depth < 3
        {
            walk_fields(inner, &path, depth + 1, out);
        }
    }
}

/// SQL LIKE (`%`, `_`, backslash escapes), case-insensitive, for filtering collection names.
pub(crate) fn like_match(pattern: &str, text: &str) -> bool {
    fn go(p: &[char], t: &[char]) -> bool {
        match p.split_first() {
            None => t.is_empty(),
            Some(('%', rest)) => (0..=t.len()).any(|i| go(rest, &t[i..])),
            Some(('_', rest)) => !t.is_empty() && go(rest, &t[1..]),
            Some(('\\', rest)) if !rest.is_empty() => !t.is_empty() && t[0] == rest[0] && go(&rest[1..], &t[1..]),
            Some((c, rest)) => !t.is_empty() && t[0] == *c && go(rest, &t[1..]),
        }
    }
    let p: Vec<char> = pattern.to_lowercase().chars().collect();
    let t: Vec<char> = text.to_lowercase().chars().collect();
    go(&p, &t)
}

pub(crate) fn first_batch(reply: &Document) -> Vec<Document> {
    reply
        .get_document("cursor")
        .ok()
        .and_then(|c| c.get_array("firstBatch").ok())
        .map(|b| b.iter().filter_map(|d| d.as_document().cloned()).collect())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_patterns() {
        assert!(like_match("ord%", "Orders"));
        assert!(like_match("%\\_log", "audit_log"));
        assert!(!like_match("%\\_log", "auditlog"));
        assert!(like_match("u_ers", "users"));
    }

    fn refused(parts: &[(&str, Bson)], refuse: Screen) -> String {
        screen(parts, refuse).unwrap_err().to_string()
    }

    const READ_ONLY: Screen = Screen { writes: Some(Writes::ReadOnlyDatabase), javascript: true };

    #[test]
    fn javascript_operators_are_found_anywhere() {
        let filter = doc! { "$and": [ { "a": 1 }, { "$where": "sleep(1000)" } ] };
        let e = refused(&request_parts(&filter, None, None, &[]), READ_ONLY);
        assert!(e.contains("$where (at filter.$and[1].$where) runs JavaScript"), "{e}");
        let projection = doc! { "x": { "$function": { "body": "function() {}", "args": [], "lang": "js" } } };
        let e = refused(&request_parts(&Document::new(), Some(&projection), None, &[]), READ_ONLY);
        assert!(e.contains("$function (at projection.x.$function)"), "{e}");
    }

    #[test]
    fn writing_stages_are_found_at_any_depth() {
        let nested = [
            (doc! { "$out": "t" }, "pipeline[1].$out"),
            (
                doc! { "$facet": { "a": [ { "$match": {} }, { "$merge": { "into": "t" } } ] } },
                "pipeline[1].$facet.a[1].$merge",
            ),
            (
                doc! { "$lookup": { "from": "u", "as": "x", "pipeline": [ { "$out": "t" } ] } },
                "pipeline[1].$lookup.pipeline[0].$out",
            ),
            (
                doc! { "$unionWith": { "coll": "u", "pipeline": [ { "$merge": "t" } ] } },
                "pipeline[1].$unionWith.pipeline[0].$merge",
            ),
            (
                doc! { "$facet": { "a": [ { "$lookup": { "from": "u", "as": "y", "pipeline": [
                { "$unionWith": { "coll": "u", "pipeline": [ { "$out": "t" } ] } } ] } } ] } },
                "pipeline[1].$facet.a[0].$lookup.pipeline[0].$unionWith.pipeline[0].$out",
            ),
        ];
        for (stage, at) in nested {
            let parts = request_parts(&Document::new(), None, None, &[doc! { "$match": {} }, stage]);
            let e = refused(&parts, READ_ONLY);
            assert!(e.contains(&format!("(at {at}) writes to a collection")), "{e}");
            let reading =
                Screen { writes: Some(Writes::ReadingTool { tool: "data-quality", next: "x" }), javascript: false };
            assert!(refused(&parts, reading).contains("data-quality only reads"));
            // Only what is asked for is refused.
            assert!(screen(&parts, Screen { writes: None, javascript: true }).is_ok());
        }
        let reads = [doc! { "$lookup": { "from": "u", "as": "x", "pipeline": [ { "$match": { "out": 1 } } ] } }];
        assert!(screen(&request_parts(&Document::new(), None, None, &reads), READ_ONLY).is_ok());
    }
}
