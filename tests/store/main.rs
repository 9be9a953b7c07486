//! The quota stores' tests (feature `redis`). They expect Redis on 127.0.0.1:6379 and use a
//! fresh survey each.

mod cluster_example;
