//! The quota stores' tests (feature `redis`). Tests on the shared server expect Redis on
//! 127.0.0.1:6379 (CI starts one) and use a fresh survey each; the Cluster, AUTH, kill and
//! lost-reply tests start private `redis-server`s on free ports and kill them at the end.
//! `cluster_example` runs the `cluster` example (node processes, one SIGKILLed) on 6379.

mod asyncs;
mod cluster;
mod cluster_example;
mod engine;
mod failures;
mod kill;
mod semantics;
mod single;
mod support;
