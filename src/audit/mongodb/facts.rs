//! What the MongoDB rules judge, read once: the connection's user and roles, server options,
//! the database's users and collections, each where visible.

use mongodb::bson::{Bson, doc};

use crate::{engine::mongo::Mongo, error::ToolError};

/// What the audit rules look at, each part where this connection may see it.
pub(crate) async fn audit_facts(m: &Mongo) -> Result<crate::audit::mongodb::Facts, ToolError> {
    use crate::audit::mongodb::{Facts, RoleRef, User};
    let roles = |list: Option<&mongodb::bson::Array>| -> Vec<RoleRef> {
        list.into_iter()
            .flatten()
            .filter_map(Bson::as_document)
            .map(|r| RoleRef {
                role: r.get_str("role").unwrap_or_default().into(),
                db: r.get_str("db").unwrap_or_default().into(),
            })
            .collect()
    };
    let status = m.db.run_command(doc! { "connectionStatus": 1 }).await.map_err(|e| m.error(e, 0))?;
    let auth = status.get_document("authInfo").ok();
    let authenticated = auth
        .and_then(|a| a.get_array("authenticatedUsers").ok())
        .into_iter()
        .flatten()
        .filter_map(Bson::as_document)
        .map(|u| format!("{}@{}", u.get_str("user").unwrap_or_default(), u.get_str("db").unwrap_or_default()))
        .collect();
    let authenticated_roles = roles(auth.and_then(|a| a.get_array("authenticatedUserRoles").ok()));
    let mut authorization =
        m.client.database("admin").run_command(doc! { "getCmdLineOpts": 1 }).await.ok().and_then(|o| {
            o.get_document("parsed")
                .and_then(|p| p.get_document("security"))
                .and_then(|s| s.get_str("authorization"))
                .map(str::to_string)
                .ok()
        });
    let users = m.db.run_command(doc! { "usersInfo": 1 }).await.ok().map(|reply| {
        reply
            .get_array("users")
            .into_iter()
            .flatten()
            .filter_map(Bson::as_document)
            .map(|u| User {
                user: u.get_str("user").unwrap_or_default().into(),
                db: u.get_str("db").unwrap_or_default().into(),
                roles: roles(u.get_array("roles").ok()),
            })
            .collect()
    });
    let collections = match m.collections(doc! { "type": "collection" }).await {
        Ok(specs) => specs
            .iter()
            .filter_map(|s| {
                let name = s.get_str("name").ok()?;
                let validated = s
                    .get_document("options")
                    .ok()
                    .and_then(|o| o.get_document("validator").ok())
                    .is_some_and(|v| !v.is_empty());
                (!name.starts_with("system.")).then(|| (name.to_string(), validated))
            })
            .collect(),
        // Refused for lack of rights: access control is evidently on.
        Err(e) if matches!(*e.kind, mongodb::error::ErrorKind::Command(ref c) if c.code == 13) => {
            authorization.get_or_insert_with(|| "enabled".into());
            vec![]
        }
        Err(e) => return Err(m.error(e, 0)),
    };
    Ok(Facts { database: m.name.clone(), authenticated, authenticated_roles, authorization, users, collections })
}
