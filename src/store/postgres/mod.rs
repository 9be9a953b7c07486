//! The quota store in PostgreSQL (feature `postgres`): the counts and holds live in the
//! platform's own database, and a complete can commit in the platform's own transaction.
//!
//! [`PostgresStore`] is the blocking [`QuotaStore`](super::QuotaStore) (a small pool of
//! connections, one per concurrent caller); [`AsyncPostgresStore`] has the same operations
//! as `async fn`s on tokio (one pipelined connection). Each operation is one call of a PL/pgSQL
//! function installed by the schema's migrations, so one round trip;
//! [`PostgresStore::commit_in`] and [`PostgresStore::commit_in_async`] run the commit inside a
//! transaction the caller owns. The schema, the SQL and the failure rules are documented on
//! [`PostgresStore`] (`store.md`, shown there).

mod asynch;
mod blocking;
mod join;
mod sql;

use std::time::Duration;

pub use asynch::AsyncPostgresStore;
pub use blocking::PostgresStore;
pub use sql::{PG_MIGRATIONS, PG_SCHEMA_VERSION};

/// How a PostgreSQL store connects, waits and retries.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PostgresOptions {
    /// How long to wait for a new connection (TCP, TLS if any, authentication) before the
    /// attempt counts as failed. Default 2 s. A `connect_timeout` in the URL wins.
    pub connect_timeout: Duration,
    /// The server-side `statement_timeout` of the store's connections: a call that waits
    /// longer (on a row lock held by a stuck transaction, say) is cancelled by the server,
    /// rolled back whole, and retried. Default 2 s: every function answers in well under a
    /// millisecond when nothing is stuck.
    pub statement_timeout: Duration,
    /// How many times a failed call is tried again before
    /// [`StoreError::Unavailable`](super::StoreError::Unavailable). Default 4 (five attempts,
    /// about 1.5 s of backoff): enough to ride out a deadlock, a fail-over's reconnect or a
    /// short restart, short enough that a respondent is not left waiting.
    pub retries: u32,
    /// The wait before the first retry, doubled for each further one. Default 100 ms.
    pub backoff_base: Duration,
    /// The longest wait between two attempts. Default 1 s.
    pub backoff_max: Duration,
    /// How many due holds one sweep statement releases at most; `expire` repeats it until
    /// fewer are due. Default 500: a batch locks its rows for about a millisecond, so other
    /// nodes' calls are not held up behind a long sweep.
    pub expire_batch: u32,
    /// Idle connections the store keeps for reuse. Default 16; calls beyond that many at
    /// once open a connection each and close it after.
    pub pool_size: usize,
}

impl Default for PostgresOptions {
    fn default() -> PostgresOptions {
        PostgresOptions {
            connect_timeout: Duration::from_secs(2),
            statement_timeout: Duration::from_secs(2),
            retries: 4,
            backoff_base: Duration::from_millis(100),
            backoff_max: Duration::from_secs(1),
            expire_batch: 500,
            pool_size: 16,
        }
    }
}
