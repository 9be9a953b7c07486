//! Every error type of the crate in one place.
//!
//! Each operation has its own `#[non_exhaustive]` enum, defined beside the operation and
//! re-exported here, so a caller matches only the failures that operation can have.

pub use crate::schema::{LookupError, RuleError, SchemaError};
