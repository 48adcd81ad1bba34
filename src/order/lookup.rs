//! verify-order's catalog look-up: do objects a script uses but never creates exist in the
//! configured database? Catalog reads only.

use crate::engine::{Database, Pool};
use crate::error::ToolError;

/// An object to look for. `kind` is relation, type, function, schema or extension.
pub struct CatalogName<'a> {
    pub kind: &'a str,
    pub schema: Option<&'a str>,
    pub name: &'a str,
}

impl Database {
    /// For each object: whether the database has it, or `None` where the engine has no such kind
    /// (types on MySQL, anything on MongoDB).
    pub async fn objects_exist(&self, objects: &[CatalogName<'_>]) -> Result<Vec<Option<bool>>, ToolError> {
        let timeout = self.config.statement_timeout_ms;
        let err = |e| self.db_error(e, timeout);
        match self.pool().await? {
            Pool::Postgres(p) => {
                let kinds: Vec<&str> = objects.iter().map(|o| o.kind).collect();
                let schemas: Vec<Option<&str>> = objects.iter().map(|o| o.schema).collect();
                let names: Vec<&str> = objects.iter().map(|o| o.name).collect();
                let found: Vec<Option<bool>> = sqlx::query_scalar(include_str!("postgres/objects_exist.sql"))
                    .bind(kinds)
                    .bind(schemas)
                    .bind(names)
                    .fetch_all(p)
                    .await
                    .map_err(err)?;
                Ok(found)
            }
            Pool::Mysql(p) => {
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
                        .fetch_one(p)
                        .await
                        .map_err(err)?;
                    found.push(Some(present != 0));
                }
                Ok(found)
            }
            Pool::Sqlite(p) => {
                let mut found = Vec::with_capacity(objects.len());
                for o in objects {
                    if o.kind != "relation" {
                        found.push(None);
                        continue;
                    }
                    let present: bool = sqlx::query_scalar(include_str!("sqlite/object_exists.sql"))
                        .bind(o.name)
                        .fetch_one(p)
                        .await
                        .map_err(err)?;
                    found.push(Some(present));
                }
                Ok(found)
            }
            Pool::Mongo(_) => Ok(objects.iter().map(|_| None).collect()),
        }
    }
}
