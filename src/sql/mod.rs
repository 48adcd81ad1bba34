//! SQL text before it reaches a database: the parser check every statement passes
//! ([`check`]), the one bounded way to parse ([`parse`]), and the one statement splitter.

pub mod check;
pub mod split;

pub use check::*;
