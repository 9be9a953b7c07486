//! The survey every node routes: the bundled 77-category catalogue, each category split into
//! gender cells of at most 60% of its target (shared with the `server` and `service`
//! examples).

#[path = "../support/bundled.rs"]
mod bundled;

pub use bundled::catalogue;
