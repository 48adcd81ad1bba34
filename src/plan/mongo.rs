//! MongoDB's side of the plan tools: explain executionStats read into the common model, the
//! profiler's slow operations, collection statistics and index problems.

use mongodb::bson::{Bson, Document, doc};
use serde_json::{Value, json};

use futures::TryStreamExt as _;

use crate::{
    config::Mode,
    engine::mongo::{Mongo, Screen, Writes, first_batch, request_parts, screen},
    error::ToolError,
};

/// The explain command; with analyze, `executionStats` runs the query (reads only: stages
/// that write are refused here whatever the mode).
pub(crate) async fn explain(
    m: &Mongo,
    call: super::DocumentExplainCall,
    mode: Mode,
) -> Result<super::Explained, ToolError> {
    let mut pipeline = call.pipeline.clone().unwrap_or_default();
    // Explaining with executionStats runs the pipeline: writing stages are refused whatever
    // the mode.
    let parts = request_parts(&call.filter, None, call.sort.as_ref(), &pipeline);
    let writes =
        Writes::ReadingTool { tool: "explain-analyze", next: "explain the pipeline without its $out/$merge stages" };
    screen(&parts, Screen { writes: Some(writes), javascript: mode == Mode::ReadOnly })?;
    let command = if call.pipeline.is_some() {
        if !call.filter.is_empty() {
            pipeline.insert(0, doc! { "$match": call.filter.clone() });
        }
        doc! { "aggregate": &call.collection, "pipeline": pipeline, "cursor": {} }
    } else {
        let mut find = doc! { "find": &call.collection, "filter": call.filter.clone() };
        if let Some(sort) = &call.sort {
            find.insert("sort", sort.clone());
        }
        find
    };
    let verbosity = if call.analyze { "executionStats" } else { "queryPlanner" };
    let reply =
        m.db.run_command(doc! { "explain": command, "verbosity": verbosity, "maxTimeMS": call.timeout_ms as i64 })
            .await
            .map_err(|e| m.error(e, call.timeout_ms))?;
    let raw = Bson::Document(reply).into_relaxed_extjson();
    let planner = find_key(&raw, "queryPlanner").cloned().unwrap_or(Value::Null);
    let stats = find_key(&raw, "executionStats").cloned();
    let tree = match &stats {
        Some(s) if !s["executionStages"].is_null() => s["executionStages"].clone(),
        _ => {
            let winning = &planner["winningPlan"];
            if winning.get("queryPlan").is_some() { winning["queryPlan"].clone() } else { winning.clone() }
        }
    };
    let filter_json = Bson::Document(call.filter.clone()).into_relaxed_extjson().to_string();
    let mut plan = stage_node(&tree, &call.collection, &filter_json);
    if let Some(s) = &stats {
        plan.actual_rows = plan.actual_rows.or(s["nReturned"].as_f64());
        // Some servers count examined documents and keys only for the whole query.
        fill_examined(&mut plan, crate::plan::Access::FullScan, s["totalDocsExamined"].as_f64());
        fill_examined(&mut plan, crate::plan::Access::Index, s["totalKeysExamined"].as_f64());
    }
    let notes = if stats.is_none() && call.analyze {
        vec!["the server returned no executionStats: the plan holds no run-time numbers".into()]
    } else {
        vec![]
    };
    Ok(super::Explained {
        plan,
        planning_ms: None,
        execution_ms: stats.as_ref().and_then(|s| s["executionTimeMillis"].as_f64()),
        raw,
        notes,
    })
}

/// collStats per collection: documents, sizes, indexes.
pub(crate) async fn table_stats(m: &Mongo, collections: &[String]) -> Value {
    let mut out = Vec::new();
    for name in collections {
        match m.db.run_command(doc! { "collStats": name }).await {
            Ok(s) => {
                let v = Bson::Document(s).into_relaxed_extjson();
                out.push(json!({
                    "table": name, "live_rows": v["count"], "total_bytes": v["size"],
                    "storage_bytes": v["storageSize"], "index_bytes": v["totalIndexSize"], "indexes": v["nindexes"],
                }));
            }
            Err(_) => {
                let estimate = m.db.collection::<Document>(name).estimated_document_count().await.ok();
                out.push(json!({ "table": name, "live_rows": estimate }));
            }
        }
    }
    Value::Array(out)
}

/// The slowest profiled operations, or how to turn the profiler on; and current operations.
pub(crate) async fn hotpaths(m: &Mongo, limit: i64) -> super::Hotpaths {
    let activity = match m.client.database("admin").run_command(doc! { "currentOp": 1, "active": true }).await {
        Ok(reply) => {
            let v = Bson::Document(reply).into_relaxed_extjson();
            Value::Array(
                v["inprog"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter(|op| op["ns"].as_str().is_some_and(|ns| ns.starts_with(&format!("{}.", m.name))))
                    .map(|op| json!({"opid": op["opid"], "op": op["op"], "ns": op["ns"], "running_ms": op["microsecs_running"].as_f64().map(|m| m / 1000.0), "command": op["command"].to_string().chars().take(300).collect::<String>()}))
                    .collect(),
            )
        }
        Err(_) => Value::Array(vec![]),
    };
    let enable = format!(
        "turn the profiler on for this database: db.getSiblingDB(\"{}\").setProfilingLevel(1, {{ slowms: 100 }}) \
         (it records operations slower than slowms in system.profile; level 2 records all and costs more)",
        m.name
    );
    let level = match m.db.run_command(doc! { "profile": -1 }).await {
        Ok(reply) => reply.get("was").and_then(Bson::as_i32).unwrap_or(0),
        Err(e) => {
            return super::Hotpaths {
                how_to_enable: Some(format!("this server does not answer the profile command ({e}); {enable}")),
                statements: Value::Array(vec![]),
                activity,
            };
        }
    };
    if level == 0 {
        return super::Hotpaths { how_to_enable: Some(enable), statements: Value::Array(vec![]), activity };
    }
    let profile = m.db.collection::<Document>("system.profile");
    let statements = match profile.find(doc! {}).sort(doc! { "millis": -1 }).limit(limit).await {
        Ok(cursor) => {
            let docs: Vec<Document> = cursor.try_collect().await.unwrap_or_default();
            Value::Array(
                docs.into_iter()
                    .map(|d| {
                        let v = Bson::Document(d).into_relaxed_extjson();
                        json!({"op": v["op"], "ns": v["ns"], "total_ms": v["millis"], "docs_examined": v["docsExamined"],
                               "returned": v["nreturned"], "plan": v["planSummary"],
                               "query": v["command"].to_string().chars().take(500).collect::<String>()})
                    })
                    .collect(),
            )
        }
        Err(_) => Value::Array(vec![]),
    };
    super::Hotpaths { how_to_enable: None, statements, activity }
}

/// Indexes never used since the server started ($indexStats) and indexes another one leads.
pub(crate) async fn index_problems(m: &Mongo) -> Value {
    let mut shapes = Vec::new();
    let mut unused = Vec::new();
    let names: Vec<String> = m
        .collections(doc! {})
        .await
        .unwrap_or_default()
        .iter()
        .filter(|c| c.get_str("type").unwrap_or("collection") == "collection")
        .filter_map(|c| c.get_str("name").ok().map(str::to_string))
        .filter(|n| !n.starts_with("system."))
        .collect();
    for name in names {
        let Ok(reply) = m.db.run_command(doc! { "listIndexes": &name }).await else { continue };
        for ix in first_batch(&reply) {
            let index = ix.get_str("name").unwrap_or_default().to_string();
            shapes.push(super::IndexShape {
                table: name.clone(),
                unique: ix.get_bool("unique").unwrap_or(false),
                columns: ix.get_document("key").map(|k| k.keys().cloned().collect()).unwrap_or_default(),
                name: index,
            });
        }
        let stats = m.db.collection::<Document>(&name).aggregate([doc! { "$indexStats": {} }]).await;
        if let Ok(cursor) = stats {
            let docs: Vec<Document> = cursor.try_collect().await.unwrap_or_default();
            for d in docs {
                let ops = d
                    .get_document("accesses")
                    .ok()
                    .and_then(|a| a.get("ops"))
                    .and_then(|o| o.as_i64().or(o.as_i32().map(i64::from)));
                let index = d.get_str("name").unwrap_or_default();
                if ops == Some(0) && index != "_id_" {
                    unused.push(json!({ "table": name, "index": index }));
                }
            }
        }
    }
    json!({ "unused": unused, "duplicates": super::redundant(&shapes), "fk_without_index": [] })
}

/// The first value under `key` anywhere in a JSON tree (explain output nests differently for
/// finds, pushed-down pipelines and `$cursor` stages).
pub(crate) fn find_key<'a>(v: &'a Value, key: &str) -> Option<&'a Value> {
    match v {
        Value::Object(map) => map.get(key).or_else(|| map.values().find_map(|inner| find_key(inner, key))),
        Value::Array(items) => items.iter().find_map(|inner| find_key(inner, key)),
        _ => None,
    }
}

/// Give the only scan of a kind the query's total, when the stage itself has no count.
pub(crate) fn fill_examined(plan: &mut crate::plan::PlanNode, access: crate::plan::Access, total: Option<f64>) {
    fn scans<'a>(
        node: &'a mut crate::plan::PlanNode,
        access: crate::plan::Access,
        out: &mut Vec<&'a mut crate::plan::PlanNode>,
    ) {
        if node.access == Some(access) {
            out.push(node);
            return;
        }
        for child in node.children.iter_mut() {
            scans(child, access, out);
        }
    }
    let mut found = Vec::new();
    scans(plan, access, &mut found);
    if let ([only], Some(total)) = (found.as_mut_slice(), total) {
        only.examined = only.examined.or(Some(total));
    }
}

/// A MongoDB plan stage in the common model.
pub(crate) fn stage_node(v: &Value, collection: &str, filter: &str) -> crate::plan::PlanNode {
    use crate::plan::{Access, PlanNode};
    let stage = v["stage"].as_str().unwrap_or("?").to_string();
    let access = match stage.as_str() {
        "COLLSCAN" => Some(Access::FullScan),
        "IXSCAN" | "IDHACK" | "EXPRESS_IXSCAN" | "EXPRESS_CLUSTERED_IXSCAN" => Some(Access::Index),
        _ => None,
    };
    let mut children: Vec<PlanNode> = Vec::new();
    if v.get("inputStage").is_some() {
        children.push(stage_node(&v["inputStage"], collection, filter));
    }
    for inner in v["inputStages"].as_array().into_iter().flatten() {
        children.push(stage_node(inner, collection, filter));
    }
    let examined = match access {
        Some(Access::FullScan) => v["docsExamined"].as_f64(),
        Some(_) => v["keysExamined"].as_f64(),
        None => None,
    };
    PlanNode {
        kind: stage,
        access,
        relation: access.map(|_| collection.to_string()),
        index: v["indexName"].as_str().map(str::to_string),
        condition: match access {
            Some(Access::FullScan) if filter != "{}" => Some(filter.to_string()),
            _ => v.get("filter").map(|f| f.to_string()),
        },
        actual_rows: v["nReturned"].as_f64(),
        time_ms: v["executionTimeMillisEstimate"].as_f64(),
        examined,
        children,
        ..Default::default()
    }
}
