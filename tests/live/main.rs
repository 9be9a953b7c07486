//! The live engine: reservations, races and snapshots; exhaustive interleavings of its atomic
//! steps; properties of call sequences; a multi-threaded stress run; restore validation under
//! mutated snapshots.

mod admin;
mod compat;
mod engine;
mod fuzz;
mod hostile;
mod interleave;
mod keys;
mod messages;
#[cfg(feature = "metrics")]
mod metrics;
mod props;
mod store;
mod stress;
mod tree_runs;
mod trees;

#[path = "../support/proptest_config.rs"]
mod support;
#[cfg(feature = "metrics")]
#[path = "../support/test_recorder.rs"]
mod test_recorder;
