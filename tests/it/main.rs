//! The one integration test binary: the real server binary over stdio against real databases.

mod engines;
mod manifest;
mod protocol;
mod redaction;
mod support;
