//! quotaroute: survey routing (work in progress; the crate map is filled in as modules land).
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod catalogue;
pub mod dispatch;
pub mod error;
pub mod quota;
pub mod risk;
pub mod route;
pub mod schema;
pub mod sim;
pub mod state;
#[cfg(feature = "proptest")]
pub mod testing;
