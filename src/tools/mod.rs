//! Tool families, one file and one router each; `all()` adds them together. Handlers return
//! typed results or a [`ToolError`](crate::error::ToolError); they never build MCP results.

mod bootstrap;
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

pub(crate) use crate::confirm::confirmed;
