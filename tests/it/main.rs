//! The one integration test binary: the real server binary over stdio against real databases.

mod architecture;
mod audit;
mod bootstrap;
mod engines;
mod fencing;
mod files;
mod load;
mod load_files;
mod manifest;
mod migrate;
mod mongo_pipelines;
mod ops;
mod order;
mod performance;
mod protocol;
mod redaction;
mod redteam;
mod rls;
mod support;
mod values;
