//! The quota store on Redis or Redis Cluster (feature `redis`): many router nodes share one
//! survey's counts, and Redis grants every slot.
//!
//! [`RedisStore`] is the blocking [`QuotaStore`](super::QuotaStore) (a small pool of
//! connections, one per concurrent caller); [`AsyncRedisStore`] has the same operations as
//! `async fn`s on tokio (one multiplexed connection), so a tokio service never blocks a
//! worker thread on the network. Both run the same scripts, so they can share a survey.
//!
//! # One script per operation
//!
//! Each operation (hold, commit, release, release all, one sweep batch of expire, read) is
//! **one Lua script**, run atomically by the server: a hold's check-and-take over all its
//! counters cannot interleave with another node's. Scripts are sent by `EVALSHA` and loaded
//! on `NOSCRIPT`. Their sources are the `.lua` files beside this module, so
//! `redis-cli SCRIPT LOAD "$(cat hold.lua)"` loads exactly what the store runs (the
//! `store_bench` example does this to compare with `redis-benchmark`). Times are the
//! server's (`TIME` inside the script): deadlines are milliseconds on the clock of the node
//! that holds the survey, whatever the router nodes' clocks say.
//!
//! # Key layout, version 1
//!
//! Every key of a survey carries the hash tag `{survey}`, so a survey lives in one Cluster
//! slot (one shard) and each script touches only its own slot; surveys spread over the
//! shards by the CRC16 of their names.
//!
//! | key | type | holds |
//! |---|---|---|
//! | `qr:v1:{survey}:meta` | hash | `version`, `n`, `name:<i>` and `max:<i>` per counter |
//! | `qr:v1:{survey}:counts` | hash | `m<i>` max, `p<i>` pending, `c<i>` completed |
//! | `qr:v1:{survey}:resp` | hash | respondent → their holds (`category deadline k c1..ck`) and completes (`category -1 0`) |
//! | `qr:v1:{survey}:due` | sorted set | `<category>:<respondent>` per hold, by deadline |
//!
//! One field per respondent keeps a respondent's calls to one hash read and write, and lets
//! [`release_all`](super::QuotaStore::release_all) find all their holds without an index.
//! Interview state, when the store keeps it, belongs in a fifth key of the same slot
//! (`qr:v1:{survey}:iv`, respondent → state), so a commit can update quota and interview in
//! one script. A change to the layout bumps the version in every key name and in `meta`.
//!
//! # Joining a survey
//!
//! [`RedisStore::connect`] runs the join script: it creates the survey (meta and zeroed
//! counters) when absent; otherwise the stored counters are authoritative and a node whose
//! layout differs gets [`StoreError::LayoutMismatch`] (the first differing counter), one
//! that finds another key-layout version [`StoreError::Version`]. [`RedisStore::purge`]
//! deletes a finished survey.
//!
//! # Failures
//!
//! A call that cannot reach the server, or gets no reply within [`RedisOptions::timeout`],
//! is retried [`RedisOptions::retries`] times with exponential backoff, then fails with
//! [`StoreError::Unavailable`]. Its `indeterminate` flag is set when a write script may have
//! been sent before its reply was lost: the effect is unknown, and repeating the call is
//! safe (every script is idempotent by respondent and category). Because of this, a call
//! whose first reply was lost and that succeeded on a retry may answer
//! [`Hold::AlreadyHeld`](super::Hold::AlreadyHeld) or
//! [`Completion::AlreadyCompleted`](crate::live::Completion::AlreadyCompleted) for its own
//! earlier attempt: the slot is the caller's either way. A server still loading its
//! append-only file after a restart (`LOADING`) or a Cluster fail-over (`CLUSTERDOWN`,
//! `TRYAGAIN`, `MOVED`) is retried the same way. A wrong password, a script error or a reply
//! of the wrong shape is [`StoreError::Protocol`], not retried.
//!
//! For completes to survive a crash the server needs `appendonly yes` with `appendfsync
//! always`, and `maxmemory-policy noeviction` so no key is ever dropped to make room.

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
