//! The quota stores' tests. With the `redis` feature: tests on the shared server expect Redis
//! on 127.0.0.1:6379 (CI starts one) and use a fresh survey each; the Cluster, AUTH, kill and
//! lost-reply tests start private `redis-server`s on free ports and kill them at the end.
//! `cluster_example` runs the `cluster` example (node processes, one SIGKILLed) on 6379;
//! `service` runs two processes of the `service` example there and drives them over HTTP.
//! With the `postgres` feature: PostgreSQL on 127.0.0.1:5432 (user `postgres`, trust auth;
//! CI starts it), a fresh survey per test; `pg_kill` initdb's a private cluster on a free
//! port and SIGKILLs its postmaster. Without either feature the binary holds no test.

#[cfg(feature = "redis")]
mod asyncs;
#[cfg(feature = "redis")]
mod cluster;
#[cfg(feature = "redis")]
mod cluster_example;
#[cfg(feature = "redis")]
mod engine;
#[cfg(feature = "redis")]
mod failures;
#[cfg(feature = "redis")]
mod kill;
#[cfg(feature = "postgres")]
mod pg_async;
#[cfg(all(feature = "postgres", feature = "redis"))]
mod pg_cluster_example;
#[cfg(feature = "postgres")]
mod pg_kill;
#[cfg(feature = "postgres")]
mod postgres;
#[cfg(any(feature = "redis", feature = "postgres"))]
// PostgreSQL alone uses only the join rule of it.
#[cfg_attr(not(feature = "redis"), allow(dead_code))]
mod semantics;
#[cfg(feature = "redis")]
mod service;
#[cfg(feature = "redis")]
mod single;
#[cfg(any(feature = "redis", feature = "postgres"))]
mod trees;
// The Redis servers and Cluster helpers are unused by a postgres-only build.
#[cfg(any(feature = "redis", feature = "postgres"))]
#[cfg_attr(not(feature = "redis"), allow(dead_code))]
mod support;
