//! run-mongo on the database: a find or pipeline, screened, under maxTimeMS and a pushed-down
//! limit, its documents read against the caps as they arrive.

use std::time::Duration;

use futures::TryStreamExt as _;
use mongodb::bson::{Bson, Document, doc};

use crate::{
    config::Mode,
    engine::{
        Database,
        mongo::{DocumentSet, Mongo, Screen, WRITING_STAGES, Writes, request_parts, screen},
    },
    error::ToolError,
};

/// A find or aggregate on a document collection.
pub struct DocumentCall {
    pub collection: String,
    pub filter: mongodb::bson::Document,
    pub projection: Option<mongodb::bson::Document>,
    pub sort: Option<mongodb::bson::Document>,
    pub pipeline: Option<Vec<mongodb::bson::Document>>,
    pub cap: usize,
    /// Stop reading once the documents pass this many bytes.
    pub max_bytes: usize,
    pub timeout_ms: u64,
}

pub(crate) async fn run(m: &Mongo, call: DocumentCall, mode: Mode) -> Result<DocumentSet, ToolError> {
    let mut pipeline = call.pipeline.unwrap_or_default();
    if mode == Mode::ReadOnly {
        let parts = request_parts(&call.filter, call.projection.as_ref(), call.sort.as_ref(), &pipeline);
        screen(&parts, Screen { writes: Some(Writes::ReadOnlyDatabase), javascript: true })?;
    }
    // The pipeline's own last stage writes: it returns nothing to limit.
    let writes = pipeline.iter().any(|stage| stage.keys().any(|k| WRITING_STAGES.contains(&k.as_str())));
    let coll = m.db.collection::<Document>(&call.collection);
    let limit = call.cap as i64 + 1;
    let max_time = Duration::from_millis(call.timeout_ms);
    let map_err = |e| m.error(e, call.timeout_ms);
    let mut cursor = if pipeline.is_empty() {
        let mut find = coll.find(call.filter).limit(limit).max_time(max_time).batch_size(limit.min(101) as u32);
        if let Some(p) = call.projection {
            find = find.projection(p);
        }
        if let Some(s) = call.sort {
            find = find.sort(s);
        }
        find.await.map_err(map_err)?
    } else {
        if !call.filter.is_empty() {
            pipeline.insert(0, doc! { "$match": call.filter });
        }
        if !writes {
            pipeline.push(doc! { "$limit": limit });
        }
        coll.aggregate(pipeline).max_time(max_time).batch_size(limit.min(101) as u32).await.map_err(map_err)?
    };
    // Documents are converted as they arrive; the read stops at the row cap or once they pass
    // the byte cap (the driver holds one batch, kept small, beyond them).
    let mut documents = Vec::new();
    let mut bytes = 0;
    let mut cut_at_bytes = false;
    while let Some(d) = cursor.try_next().await.map_err(map_err)? {
        let value = Bson::Document(d).into_relaxed_extjson();
        bytes += crate::engine::approx_json_len(&value);
        documents.push(value);
        if documents.len() as i64 >= limit {
            break;
        }
        if bytes > call.max_bytes {
            cut_at_bytes = true;
            break;
        }
    }
    let more = documents.len() > call.cap;
    documents.truncate(call.cap);
    Ok(DocumentSet { documents, more, cut_at_bytes })
}

/// Run a find or aggregate on a collection.
pub async fn run_documents(db: &Database, call: DocumentCall) -> Result<DocumentSet, ToolError> {
    run(db.mongo().await?, call, db.config.mode).await
}
