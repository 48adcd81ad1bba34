//! Tool families, one file and one router each; `all()` adds them together. Handlers return
//! typed results or a [`ToolError`](crate::error::ToolError); they never build MCP results.

mod bootstrap;
mod confirm;
mod env;
mod introspect;
mod load;
mod migrate;
mod ops;
mod order;
mod performance;
mod rls;
mod security;
mod sql;

use rmcp::handler::server::router::tool::ToolRouter;

pub(crate) use confirm::confirmed;
pub use confirm::{Confirm, INPUT_KEY as CONFIRM_INPUT_KEY};

use crate::server::Server;

pub fn all() -> ToolRouter<Server> {
    Server::env_router()
        + Server::introspect_router()
        + Server::sql_router()
        + Server::performance_router()
        + Server::design_router()
        + Server::analyze_router()
        + Server::security_router()
        + Server::rls_router()
        + Server::order_router()
        + Server::bootstrap_router()
        + Server::ops_router()
        + Server::migrate_router()
        + Server::load_router()
}

/// Deserialize an optional argument that clients may send as a number or a numeric string.
pub(crate) mod lenient {
    use serde::{Deserialize, Deserializer};

    pub fn opt_u64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum N {
            Num(u64),
            Text(String),
        }
        match Option::<N>::deserialize(d)? {
            None => Ok(None),
            Some(N::Num(n)) => Ok(Some(n)),
            Some(N::Text(s)) => s.trim().parse().map(Some).map_err(serde::de::Error::custom),
        }
    }
}
