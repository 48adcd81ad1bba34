//! What is there: env-check (the configuration, each database's reach and assurance) and the
//! catalog tools list-objects and describe.

mod catalog;
mod env;
