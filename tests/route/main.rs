//! Routing policies: `balanced` on a quota tree, `weighted` through the dispatcher, and the
//! properties every built-in policy keeps.

// Installs a global allocator that counts allocations per thread, for the decision paths
// checked to allocate nothing.
#[path = "../support/counting_alloc.rs"]
mod counting_alloc;

mod balanced;
mod mins;
mod properties;
mod weighted;

#[path = "../support/proptest_config.rs"]
mod support;
