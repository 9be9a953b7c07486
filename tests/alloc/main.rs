//! Hot paths that allocate nothing once warmed up: routing a month of respondents with every
//! built-in policy, the live engine's decision path (with feature `metrics`, with a recorder
//! installed too), quota-tree queries and counting.
//!
//! One binary has one global allocator: these tests share the counting allocator of
//! `support/counting_alloc.rs`, which counts per thread, so tests running in parallel threads
//! do not see each other's allocations.

#[path = "../support/counting_alloc.rs"]
mod counting_alloc;

#[path = "../support/interlocked.rs"]
mod interlocked;

#[path = "../support/test_recorder.rs"]
#[cfg(feature = "metrics")]
mod test_recorder;

mod live;
#[cfg(feature = "metrics")]
mod metrics;
mod quota;
mod route;
mod trees;
