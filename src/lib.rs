//! data-engineer-mcp: an MCP server that turns an LLM agent into a careful senior data engineer
//! over PostgreSQL, MySQL/MariaDB, SQLite and MongoDB.
//!
//! Reading order: `config` (what to connect to) → `server` (the MCP face, assembling each
//! capability's router) → a capability folder such as `query/` (its `tool.rs` handler, its logic,
//! its database side) → `sql` (the parser check) → `engine` (pools and a call's session) →
//! `output` (the one place results leave) → `redact`. ARCHITECTURE.md has the map.

#![deny(clippy::print_stdout)] // stdout is the protocol channel while serving

pub mod args;
pub mod audit;
pub mod bootstrap;
pub mod cli;
pub mod config;
pub mod confirm;
pub mod csv_file;
pub mod engine;
pub mod error;
pub mod files;
pub mod introspect;
pub mod load;
pub mod migrate;
pub mod ops;
pub mod order;
pub mod output;
pub mod plan;
pub mod prompts;
pub mod query;
pub mod redact;
pub mod rls;
pub mod server;
pub mod sql;
pub mod toolsets;
pub mod transport;
