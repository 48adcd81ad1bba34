//! load-csv into a MongoDB collection. Rows are staged in a scratch collection as they are read
//! (no transaction is open while the file streams in), then merged into the target inside one
//! multi-document transaction with batched writes: a refused file, a cancel, a kill or a failed
//! row at any point leaves the target exactly as it was. `$merge` cannot run in a transaction,
//! so the merge is ordinary `insert` / `update` commands.
//!
//! A standalone server has no transactions: it is refused unless the caller accepts a
//! non-atomic merge (`non_atomic`).

use std::{sync::atomic::Ordering, time::Duration};

use futures::TryStreamExt as _;
use mongodb::{
    ClientSession, Collection,
    bson::{Bson, Document, doc},
    error::{ErrorKind, TRANSIENT_TRANSACTION_ERROR, UNKNOWN_TRANSACTION_COMMIT_RESULT},
};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::{
    ABORT_REJECTS, Feed, LoadPlan, Loaded, MergeMode, MergeRejects, Merged, Reject, bson_value, rejects_file_error,
};
use crate::{
    engine::mongo::{Mongo, commit},
    error::ToolError,
};

/// Documents per write command: well under the server's 100,000-statement batch limit.
const WRITE_BATCH: usize = 1_000;
/// Bytes per write command, below the 16 MiB document (and 48 MB message) limits.
const WRITE_BATCH_BYTES: usize = 8 << 20;
/// Scratch collections older than this are leftovers of a killed load and are dropped.
const STALE_STAGE: Duration = Duration::from_secs(3600);
const STAGE_PREFIX: &str = "__load_stage_";
/// How long a write already sent may still run after a cancel before it is abandoned.
const CANCEL_GRACE: Duration = Duration::from_secs(30);
/// Runs of a merge transaction the server reported as not committed, before giving up.
const MERGE_ATTEMPTS: u32 = 3;
/// Rows the target may refuse with on_error skip. Each one aborts the merge transaction, which
/// then runs again without it, so beyond this the file needs fixing instead.
const MAX_MERGE_REFUSALS: u64 = 100;

/// Why a load failed, before it becomes a tool error.
enum Failure {
    Cancelled,
    Mongo(mongodb::error::Error),
    Tool(ToolError),
    /// The target refused the row of this line (a duplicate key, its validator).
    Row {
        line: i64,
        code: i32,
        message: String,
    },
}

impl From<mongodb::error::Error> for Failure {
    fn from(e: mongodb::error::Error) -> Self {
        Failure::Mongo(e)
    }
}

pub(super) async fn load(
    m: &Mongo,
    plan: &LoadPlan,
    feed: mpsc::Receiver<Feed>,
    cancel: CancellationToken,
) -> Result<Loaded, ToolError> {
    let error = |e: mongodb::error::Error| with_hint(m.error(e, plan.timeout_ms), plan);
    let transactions = m.supports_transactions().await.map_err(error)?;
    if !transactions && !plan.non_atomic {
        return Err(ToolError::refused(
            "this MongoDB server is a standalone, without multi-document transactions: a crash during the merge \
             could leave part of the file applied",
            "run the server as a replica set (a single node will do: mongod --replSet rs0, then rs.initiate()), or \
             call again with non_atomic: true to accept a merge that is not atomic",
        ));
    }
    if !plan.key.iter().all(|k| k == "_id") && plan.mode != MergeMode::Insert {
        require_unique_index(m, plan).await?;
    }
    drop_stale_stages(m).await;
    let now = std::time::UNIX_EPOCH.elapsed().unwrap_or_default();
    let stage_name = format!("{STAGE_PREFIX}{}_{}_{}", now.as_secs(), std::process::id(), now.subsec_nanos());
    let stage = m.db.collection::<Document>(&stage_name);
    let result = stage_and_merge(m, plan, &stage, feed, &cancel, transactions).await;
    // No write of this load is still under way (finish_then_check), so nothing recreates the
    // scratch collection after this: the call returns with it gone.
    if let Err(e) = stage.drop().await {
        tracing::warn!(collection = %stage_name, error = %e, "load-csv: could not drop the scratch collection");
    }
    match result {
        Ok(merged) => Ok(merged),
        Err(Failure::Cancelled) => Err(ToolError::Cancelled),
        Err(Failure::Tool(e)) => Err(e),
        Err(Failure::Mongo(e)) => Err(error(e)),
        Err(Failure::Row { line, code, message }) => Err(row_failure(plan, line, code, &message)),
    }
}

/// Run one write to its end even when the call is cancelled meanwhile, then report the cancel.
/// A command already sent runs on the server whatever the client does: abandoning it (dropping
/// the future closes the connection, not the command) would let it land after the cleanup, and an
/// insert into the dropped scratch collection creates it again. A write the server has not
/// answered [`CANCEL_GRACE`] after the cancel is abandoned after all.
async fn finish_then_check<T, E>(
    write: impl Future<Output = Result<T, E>>,
    cancel: &CancellationToken,
) -> Result<T, Failure>
where
    Failure: From<E>,
{
    let mut write = std::pin::pin!(write);
    let done = tokio::select! {
        done = &mut write => Some(done),
        _ = cancel.cancelled() => None,
    };
    let done = match done {
        Some(done) => done,
        None => match tokio::time::timeout(CANCEL_GRACE, write).await {
            Ok(done) => done,
            Err(_) => {
                tracing::warn!("load-csv: a write was still running {CANCEL_GRACE:?} after the cancel; abandoned");
                return Err(Failure::Cancelled);
            }
        },
    };
    if cancel.is_cancelled() {
        return Err(Failure::Cancelled);
    }
    Ok(done?)
}

/// Upserting on fields other than `_id` needs a unique index on exactly them: without one every
/// row's lookup scans the collection and two rows could share a key.
async fn require_unique_index(m: &Mongo, plan: &LoadPlan) -> Result<(), ToolError> {
    let target = m.db.collection::<Document>(&plan.target.name);
    let mut wanted = plan.key.clone();
    wanted.sort();
    let indexes: Vec<mongodb::IndexModel> = match target.list_indexes().await {
        Ok(cursor) => cursor.try_collect().await.map_err(|e| m.error(e, plan.timeout_ms))?,
        // A collection that does not exist yet has no index.
        Err(e) if matches!(*e.kind, ErrorKind::Command(ref c) if c.code == 26) => vec![],
        Err(e) => return Err(m.error(e, plan.timeout_ms)),
    };
    let found = indexes.iter().any(|index| {
        let unique = index.options.as_ref().and_then(|o| o.unique).unwrap_or(false);
        let mut fields: Vec<String> = index.keys.keys().cloned().collect();
        fields.sort();
        unique && fields == wanted
    });
    if found {
        return Ok(());
    }
    let spec: Vec<String> = plan.key.iter().map(|k| format!("{k:?}: 1")).collect();
    Err(ToolError::refused(
        format!(
            "collection {} has no unique index on {}: rows cannot be matched by that key",
            plan.target.name,
            plan.key.join(", ")
        ),
        format!(
            "create one first (run db.{}.createIndex({{{}}}, {{unique: true}})), or merge on _id",
            plan.target.name,
            spec.join(", ")
        ),
    ))
}

/// Scratch collections a killed load left behind, once they are old enough not to be a load
/// still running in another process.
async fn drop_stale_stages(m: &Mongo) {
    let Ok(names) =
        m.db.list_collection_names().filter(doc! { "name": { "$regex": format!("^{STAGE_PREFIX}") } }).await
    else {
        return;
    };
    let now = std::time::UNIX_EPOCH.elapsed().unwrap_or_default().as_secs();
    for name in names {
        let started = name[STAGE_PREFIX.len()..].split('_').next().and_then(|s| s.parse::<u64>().ok());
        if started.is_some_and(|s| now.saturating_sub(s) > STALE_STAGE.as_secs()) {
            let _ = m.db.collection::<Document>(&name).drop().await;
        }
    }
}

async fn stage_and_merge(
    m: &Mongo,
    plan: &LoadPlan,
    stage: &Collection<Document>,
    mut feed: mpsc::Receiver<Feed>,
    cancel: &CancellationToken,
    transactions: bool,
) -> Result<Loaded, Failure> {
    let names = plan.names();
    let mut staged = 0u64;
    loop {
        let item = tokio::select! {
            item = feed.recv() => item,
            _ = cancel.cancelled() => return Err(Failure::Cancelled),
        };
        match item {
            Some(Feed::Rows(rows)) => {
                // The line is the scratch document's _id: the merge reads them back in file order
                // through the _id index, and a failed row is reported by its line.
                let docs = rows.iter().map(|row| {
                    let mut d = Document::new();
                    for (name, v) in names.iter().zip(&row.values) {
                        d.insert(*name, bson_value(v.as_deref()));
                    }
                    doc! { "_id": row.line as i64, "d": d }
                });
                staged += rows.len() as u64;
                finish_then_check(stage.insert_many(docs).into_future(), cancel).await?;
            }
            Some(Feed::End) => break,
            Some(Feed::Csv { .. }) => {
                return Err(Failure::Tool(ToolError::invalid(
                    "file",
                    "load-csv sent CSV to a collection (a bug: please report it)",
                )));
            }
            None => return Ok(Loaded::FileRefused),
        }
    }
    if plan.mode == MergeMode::Insert && !names.contains(&"_id") {
        refuse_a_second_run(m, plan, stage).await?;
    }
    plan.merging.store(true, Ordering::Relaxed);
    let mut rejects = MergeRejects::new(plan.rejects_file.as_ref());
    if plan.mode == MergeMode::Upsert {
        // Refusing, the rows stay staged: the merge then lists what else the target refuses.
        staged -= repeated_keys(plan, stage, &mut rejects).await?;
        if !plan.skip_bad_rows && rejects.count >= ABORT_REJECTS as u64 {
            return Ok(Loaded::RowsRefused(rejects));
        }
    }
    let mut attempt = 1;
    loop {
        let mut session = m.client.start_session().await?;
        if transactions {
            session.start_transaction().await?;
        }
        let merged = merge(m, plan, stage, &mut session, staged, cancel).await;
        let failure = match merged {
            Ok(merged) if !transactions => return Ok(Loaded::Merged(Merged { without_transaction: true, ..merged })),
            Ok(_) if rejects.count > 0 && !plan.skip_bad_rows => {
                let _ = session.abort_transaction().await;
                return Ok(Loaded::RowsRefused(rejects));
            }
            Ok(merged) => match commit(&mut session).await {
                Ok(()) => return Ok(Loaded::Merged(Merged { rejects, ..merged })),
                Err(e) => e,
            },
            // The transaction is aborted: the row is set aside and the merge runs again without
            // it, until every refused row is known (skip) or enough are listed (abort).
            Err(Failure::Row { line, code, message }) if transactions => {
                let _ = session.abort_transaction().await;
                let reason = row_reason(plan, code, &message);
                let pushed = rejects.push(Reject { line: line as u64, column: None, value: None, reason });
                pushed.and_then(|()| rejects.flush()).map_err(|e| Failure::Tool(rejects_file_error(e)))?;
                stage.delete_one(doc! { "_id": line }).await?;
                staged -= 1;
                if !plan.skip_bad_rows && rejects.count >= ABORT_REJECTS as u64 {
                    return Ok(Loaded::RowsRefused(rejects));
                }
                if rejects.count > MAX_MERGE_REFUSALS {
                    return Err(Failure::Tool(ToolError::refused(
                        format!(
                            "the collection refused more than {MAX_MERGE_REFUSALS} rows at the merge (each one aborts the \
                             merge transaction, which then runs again); nothing was loaded"
                        ),
                        "look at the first refused rows with on_error: abort, fix the file (or the validator or \
                         unique index that refuses them), then load it again",
                    )));
                }
                continue;
            }
            Err(Failure::Mongo(e)) if transactions && e.contains_label(TRANSIENT_TRANSACTION_ERROR) => {
                let _ = session.abort_transaction().await;
                e
            }
            Err(e) => {
                if transactions {
                    let _ = session.abort_transaction().await;
                }
                return Err(e);
            }
        };
        // The server said the transaction did not commit (a write conflict with another
        // session, say): nothing of it applied, so the merge can run again from the scratch
        // collection. An unknown outcome is never retried.
        if attempt == MERGE_ATTEMPTS || failure.contains_label(UNKNOWN_TRANSACTION_COMMIT_RESULT) {
            return Err(Failure::Mongo(failure));
        }
        tracing::warn!(attempt, error = %failure, "load-csv: the merge transaction did not commit; running it again");
        tokio::time::sleep(Duration::from_millis(100 * attempt as u64)).await;
        attempt += 1;
    }
}

/// An insert-mode load of a file without `_id` gives every row a new one, so loading the same
/// file again would add every row a second time, silently. When the collection already holds
/// documents equal to the file's first and last rows (every field), that is what this load
/// would do: refused, with the modes that make a re-run safe.
async fn refuse_a_second_run(m: &Mongo, plan: &LoadPlan, stage: &Collection<Document>) -> Result<(), Failure> {
    let target = m.db.collection::<Document>(&plan.target.name);
    let mut lines = Vec::new();
    for order in [1, -1] {
        let Some(staged) = stage.find_one(doc! {}).sort(doc! { "_id": order }).await? else { return Ok(()) };
        let Ok(fields) = staged.get_document("d") else { return Ok(()) };
        // A dotted or `$` name would be read as a path or an operator, not matched as written.
        if fields.keys().any(|k| k.contains('.') || k.starts_with('$')) {
            return Ok(());
        }
        if target.find_one(fields.clone()).await?.is_none() {
            return Ok(());
        }
        lines.push(staged.get_i64("_id").unwrap_or_default());
    }
    Err(Failure::Tool(ToolError::refused(
        format!(
            "collection {} already holds documents equal to lines {} and {} of the file: it looks loaded before, and \
             the file has no _id, so insert mode would add every row again; nothing was loaded",
            plan.target.name, lines[0], lines[1]
        ),
        "to load it again without duplicates pass mode: skip-duplicates (keep stored rows) or upsert, with key: the \
         fields that identify a row (they need a unique index); if the rows really are new, give the file an _id column",
    )))
}

/// Rows whose merge key an earlier line has: an upsert applies one row per key, so they are
/// refused (and, with on_error skip, taken out of the scratch collection). Returns how many
/// were taken out.
async fn repeated_keys(
    plan: &LoadPlan,
    stage: &Collection<Document>,
    rejects: &mut MergeRejects,
) -> Result<u64, Failure> {
    let key: Document = plan.key.iter().map(|k| (k.clone(), Bson::String(format!("$d.{k}")))).collect();
    let pipeline = vec![
        doc! { "$group": { "_id": key, "lines": { "$push": "$_id" }, "n": { "$sum": 1 } } },
        doc! { "$match": { "n": { "$gt": 1 } } },
    ];
    let mut groups = stage.aggregate(pipeline).await?;
    let mut refused = Vec::new();
    while let Some(group) = groups.try_next().await? {
        let mut lines: Vec<i64> = group
            .get_array("lines")
            .map(|a| a.iter().filter_map(|l| l.as_i64().or_else(|| l.as_i32().map(i64::from))).collect())
            .unwrap_or_default();
        lines.sort_unstable();
        let value = group
            .get_document("_id")
            .map(|k| k.values().map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_string)).collect::<Vec<_>>())
            .unwrap_or_default()
            .join(", ");
        for &line in lines.iter().skip(1) {
            refused.push(Reject {
                line: line as u64,
                column: Some(plan.key.join(", ")),
                value: Some(if plan.key.iter().any(|k| crate::redact::is_secret_name(k)) {
                    "[redacted]".into()
                } else {
                    value.chars().take(200).collect()
                }),
                reason: super::constraints::repeated_key(&plan.key, lines[0]),
            });
        }
    }
    refused.sort_by_key(|r| r.line);
    let lines: Vec<i64> = refused.iter().map(|r| r.line as i64).collect();
    for reject in refused {
        rejects.push(reject).map_err(|e| Failure::Tool(rejects_file_error(e)))?;
    }
    rejects.flush().map_err(|e| Failure::Tool(rejects_file_error(e)))?;
    if !plan.skip_bad_rows || lines.is_empty() {
        return Ok(0);
    }
    let removed = stage.delete_many(doc! { "_id": { "$in": lines } }).await?;
    Ok(removed.deleted_count)
}

/// Replay the scratch collection into the target in file order, a batch per write command.
async fn merge(
    m: &Mongo,
    plan: &LoadPlan,
    stage: &Collection<Document>,
    session: &mut ClientSession,
    staged: u64,
    cancel: &CancellationToken,
) -> Result<Merged, Failure> {
    let mut merged = Merged { staged, ..Merged::default() };
    let mut cursor = stage.find(doc! {}).sort(doc! { "_id": 1 }).batch_size(WRITE_BATCH as u32).await?;
    let mut batch: Vec<(i64, Document)> = Vec::with_capacity(WRITE_BATCH);
    let mut bytes = 0;
    loop {
        // Reads may be abandoned; writes are not (see finish_then_check).
        let next = tokio::select! {
            next = cursor.try_next() => next?,
            _ = cancel.cancelled() => return Err(Failure::Cancelled),
        };
        if let Some(row) = &next {
            let line = row.get_i64("_id").unwrap_or_default();
            let d = row.get_document("d").cloned().unwrap_or_default();
            bytes += approximate_size(&d);
            batch.push((line, d));
        }
        if batch.len() >= WRITE_BATCH || bytes >= WRITE_BATCH_BYTES || (next.is_none() && !batch.is_empty()) {
            finish_then_check(write_batch(m, plan, session, &batch, &mut merged), cancel).await?;
            batch.clear();
            bytes = 0;
        }
        if next.is_none() {
            return Ok(merged);
        }
    }
}

async fn write_batch(
    m: &Mongo,
    plan: &LoadPlan,
    session: &mut ClientSession,
    batch: &[(i64, Document)],
    merged: &mut Merged,
) -> Result<(), Failure> {
    let target = &plan.target.name;
    if plan.mode == MergeMode::Insert {
        let docs = batch.iter().map(|(_, d)| d);
        let coll = m.db.collection::<Document>(target);
        return match coll.insert_many(docs).ordered(true).session(&mut *session).await {
            Ok(r) => {
                merged.inserted += r.inserted_ids.len() as u64;
                Ok(())
            }
            Err(e) => match *e.kind {
                ErrorKind::InsertMany(ref failure) => {
                    let first = failure.write_errors.as_ref().and_then(|w| w.first());
                    match first {
                        Some(w) => Err(refused_row(batch, w.index, w.code, &w.message)),
                        None => Err(Failure::Mongo(e)),
                    }
                }
                _ => Err(Failure::Mongo(e)),
            },
        };
    }
    let updates: Vec<Document> = batch
        .iter()
        .map(|(_, d)| {
            let key: Document = plan.key.iter().map(|k| (k.clone(), d.get(k).cloned().unwrap_or(Bson::Null))).collect();
            let rest: Document =
                d.iter().filter(|(k, _)| !plan.key.contains(k)).map(|(k, v)| (k.clone(), v.clone())).collect();
            let change = match plan.mode {
                MergeMode::Upsert if !rest.is_empty() => doc! { "$set": rest },
                _ => doc! { "$setOnInsert": d.clone() },
            };
            doc! { "q": key, "u": change, "upsert": true, "multi": false }
        })
        .collect();
    let reply =
        m.db.run_command(doc! { "update": target, "updates": updates, "ordered": true }).session(&mut *session).await?;
    if let Ok(errors) = reply.get_array("writeErrors")
        && let Some(Bson::Document(w)) = errors.first()
    {
        let index = w.get_i32("index").map(|i| i as usize).unwrap_or_default();
        let code = w.get_i32("code").unwrap_or_default();
        return Err(refused_row(batch, index, code, w.get_str("errmsg").unwrap_or("write error")));
    }
    let inserted = reply.get_array("upserted").map(|u| u.len() as u64).unwrap_or_default();
    let matched = number(reply.get("n")).unwrap_or_default().saturating_sub(inserted);
    // The server does not rewrite a document a `$set` leaves as it was.
    let modified = number(reply.get("nModified")).unwrap_or_default().min(matched);
    merged.inserted += inserted;
    match plan.mode {
        MergeMode::Upsert => {
            merged.updated += modified;
            merged.unchanged += matched - modified;
        }
        _ => merged.skipped += matched,
    }
    Ok(())
}

/// A document's size on the wire, near enough to keep a write command under the limits.
fn approximate_size(d: &Document) -> usize {
    d.iter()
        .map(|(k, v)| {
            k.len()
                + 8
                + match v {
                    Bson::String(s) => s.len(),
                    Bson::Document(d) => approximate_size(d),
                    _ => 8,
                }
        })
        .sum::<usize>()
        + 16
}

fn number(v: Option<&Bson>) -> Option<u64> {
    match v? {
        Bson::Int32(i) => u64::try_from(*i).ok(),
        Bson::Int64(i) => u64::try_from(*i).ok(),
        Bson::Double(f) => Some(*f as u64),
        _ => None,
    }
}

/// The row of a batch the target refused, by its line in the file.
fn refused_row(batch: &[(i64, Document)], index: usize, code: i32, message: &str) -> Failure {
    let line = batch.get(index).map(|(line, _)| *line).unwrap_or_default();
    Failure::Row { line, code, message: message.chars().take(300).collect() }
}

/// Why the target refused a row, for the reject report.
fn row_reason(plan: &LoadPlan, code: i32, message: &str) -> String {
    // The server names the index: `... index: email_1 dup key: ...`.
    let on_id = message.contains("index: _id_ ");
    match code {
        11000 if plan.mode == MergeMode::Insert && on_id => {
            format!("{message} (mode insert adds new documents only: upsert updates them, skip-duplicates keeps them)")
        }
        11000 if on_id => message.to_string(),
        11000 => format!("{message} (a unique index other than _id)"),
        121 => format!("the collection's validator refuses it: {message}"),
        _ => message.to_string(),
    }
}

/// A row the target refused on a merge without a transaction: rows before it stay applied.
fn row_failure(plan: &LoadPlan, line: i64, code: i32, message: &str) -> ToolError {
    let hint = match code {
        11000 if plan.mode == MergeMode::Insert => {
            "the row's key already exists (in the collection or earlier in the file): use mode upsert to update \
             existing documents or skip-duplicates to keep them; nothing was loaded"
        }
        11000 => {
            "the row conflicts on a unique index other than the merge key: pass `key` naming it; nothing was loaded"
        }
        121 => "the row does not pass the collection's validator: fix the file or the validator; nothing was loaded",
        _ => "nothing was loaded (the transaction was aborted)",
    };
    let hint = if plan.non_atomic {
        hint.replace(
            "nothing was loaded",
            "rows before it were applied (non_atomic): check the collection with run-mongo",
        )
    } else {
        hint.to_string()
    };
    ToolError::Database { code: Some(code.to_string()), message: format!("line {line}: {message}"), hint: Some(hint) }
}

/// Driver and server errors said in terms of what to do; the write never half-applies.
fn with_hint(e: ToolError, plan: &LoadPlan) -> ToolError {
    match e {
        ToolError::Database { code, message, hint: None } => {
            let hint = if code.as_deref() == Some("NoSuchTransaction") || message.contains("transactionLifetimeLimit") {
                "the merge outlived the server's transaction lifetime (transactionLifetimeLimitSeconds, 60 s by \
                 default) and was aborted, so nothing was loaded: raise it (db.adminCommand({setParameter: 1, \
                 transactionLifetimeLimitSeconds: 600})) or load the file in parts"
                    .to_string()
            } else if code.as_deref() == Some("TransactionTooLarge") {
                "the file is too large for one transaction on this server (its writes must fit in the storage \
                 engine's cache), so nothing was loaded: load it in parts"
                    .to_string()
            } else if plan.non_atomic {
                "the merge is not atomic on this server: part of the file may be applied; check the collection with \
                 run-mongo"
                    .to_string()
            } else {
                "nothing was loaded (the transaction was aborted); check the values with preview: true".to_string()
            };
            ToolError::Database { code, message, hint: Some(hint) }
        }
        other => other,
    }
}
