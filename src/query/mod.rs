//! run-sql and run-mongo: the model's own statement or find, under the reader's session, the
//! caps and the timeout.

pub(crate) mod mongo;
pub(crate) mod tool;
