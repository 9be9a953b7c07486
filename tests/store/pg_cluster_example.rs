//! The `cluster` example on PostgreSQL (it is built with the `redis` feature too, so this
//! runs when both are on, as in CI): node processes on the shared database, one SIGKILLed
//! mid-run; its holds expire on the database clock and nothing else is lost.

use crate::cluster_example::run_with_a_killed_node;
use crate::postgres::SHARED;

#[test]
fn postgres_cluster_example_a_node_killed_mid_run_loses_nothing() {
    let doc = run_with_a_killed_node(&["--postgres", SHARED]);
    assert_eq!(doc["store"], "postgres", "{doc:#}");
}
