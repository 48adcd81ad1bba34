//! The migration lifecycle's engine-neutral parts: migration folders and checksums in sqlx's
//! format, statement splitting, the schema model with fingerprints and diffs, and the plan
//! analysis with its lint rules. Engine SQL lives in `db.rs` and the per-engine folders.

pub mod db;
pub mod folder;
pub mod plan;
pub mod rules;
pub mod snapshot;
mod tool;
