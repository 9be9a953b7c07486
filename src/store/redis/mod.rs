//! The quota store on Redis or Redis Cluster (feature `redis`): many router nodes share one
//! survey's counts, and Redis grants every slot.
//!
//! [`RedisStore`] is the blocking [`QuotaStore`](super::QuotaStore) (a small pool of
//! connections, one per concurrent caller); [`AsyncRedisStore`] has the same operations as
//! `async fn`s on tokio (one multiplexed connection), so a tokio service never blocks a
//! worker thread on the network. Both run the same scripts, so they can share a survey.
//!
//! The key layout, the scripts and the failure rules are documented on [`RedisStore`]
//! (`store.md`, shown there).

mod asynch;
mod blocking;
mod wire;

use std::time::Duration;

use super::StoreError;

pub use asynch::AsyncRedisStore;
pub use blocking::RedisStore;

/// The key layout version this build reads and writes (the `v1` in every key name).
pub const LAYOUT_VERSION: u32 = 1;

/// How a Redis store connects, waits and retries.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RedisOptions {
    /// How long to wait for a connection, and for each reply, before the attempt counts as
    /// failed. Default 2 s: a script answers in well under a millisecond, so a reply that
    /// takes seconds means a server or network in trouble.
    pub timeout: Duration,
    /// How many times a failed call is tried again before [`StoreError::Unavailable`].
    /// Default 4 (five attempts, about 1.5 s of backoff in all): long enough to ride out a
    /// restart's AOF load or a Cluster fail-over of a small survey, short enough that a
    /// respondent is not left waiting.
    pub retries: u32,
    /// The wait before the first retry, doubled for each further one. Default 100 ms.
    pub backoff_base: Duration,
    /// The longest wait between two attempts. Default 1 s.
    pub backoff_max: Duration,
    /// How many due holds one sweep script releases at most; [`expire`] repeats it until
    /// none are due. Default 500: a batch takes well under a millisecond of the server, so
    /// other nodes' calls are not held up behind a long sweep.
    ///
    /// [`expire`]: super::QuotaStore::expire
    pub expire_batch: u32,
    /// Idle connections the blocking store keeps for reuse. Default 16; calls beyond that
    /// many at once open a connection each and close it after.
    pub pool_size: usize,
}

impl Default for RedisOptions {
    fn default() -> RedisOptions {
        RedisOptions {
            timeout: Duration::from_secs(2),
            retries: 4,
            backoff_base: Duration::from_millis(100),
            backoff_max: Duration::from_secs(1),
            expire_batch: 500,
            pool_size: 16,
        }
    }
}

/// Wraps a configuration error (a bad URL) as a protocol error: nothing was sent.
fn config_error(e: redis::RedisError) -> StoreError {
    StoreError::Protocol {
        detail: format!("bad Redis configuration: {e}"),
        source: Some(std::sync::Arc::new(e)),
    }
}
