//! verify-order's catalog look-up: do objects a script uses but never creates exist in the
//! configured database? Catalog reads only.

use crate::{
    config::Engine,
    engine::{Database, session::Conn},
    error::ToolError,
};

/// An object to look for. `kind` is relation, type, function, schema or extension.
pub struct CatalogName<'a> {
    pub kind: &'a str,
    pub schema: Option<&'a str>,
    pub name: &'a str,
}

/// For each object: whether the database has it, or `None` where the engine has no such kind
/// (types on MySQL, anything on MongoDB).
pub async fn objects_exist(db: &Database, objects: &[CatalogName<'_>]) -> Result<Vec<Option<bool>>, ToolError> {
    if db.engine() == Engine::Mongodb {
        return Ok(objects.iter().map(|_| None).collect());
    }
    db.catalog(async |conn| match conn {
        Conn::Postgres(c) => {
            let kinds: Vec<&str> = objects.iter().map(|o| o.kind).collect();
            let schemas: Vec<Option<&str>> = objects.iter().map(|o| o.schema).collect();
            let names: Vec<&str> = objects.iter().map(|o| o.name).collect();
            sqlx::query_scalar(include_str!("postgres/objects_exist.sql"))
                .bind(kinds)
                .bind(schemas)
                .bind(names)
                .fetch_all(&mut **c)
                .await
        }
        Conn::Mysql(c) => {
            let mut found = Vec::with_capacity(objects.len());
            for o in objects {
                if !matches!(o.kind, "relation" | "function") {
                    found.push(None);
                    continue;
                }
                let present: i64 = sqlx::query_scalar(include_str!("mysql/object_exists.sql"))
                    .bind(o.kind)
                    .bind(o.schema)
                    .bind(o.name)
                    .bind(o.schema)
                    .bind(o.name)
                    .fetch_one(&mut **c)
                    .await?;
                found.push(Some(present != 0));
            }
            Ok(found)
        }
        Conn::Sqlite(c) => {
            let mut found = Vec::with_capacity(objects.len());
            for o in objects {
                if o.kind != "relation" {
                    found.push(None);
                    continue;
                }
                let present: bool = sqlx::query_scalar(include_str!("sqlite/object_exists.sql"))
                    .bind(o.name)
                    .fetch_one(&mut **c)
                    .await?;
                found.push(Some(present));
            }
            Ok(found)
        }
        Conn::Empty => unreachable!("an open session"),
    })
    .await
}
