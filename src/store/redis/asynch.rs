//! The async Redis store: the same scripts over one multiplexed tokio connection.

use std::sync::{Mutex, MutexGuard};

use redis::aio::MultiplexedConnection;
use redis::cluster::ClusterClient;
use redis::cluster_async::ClusterConnection;
use redis::{AsyncConnectionConfig, Client, RedisError, Value};

use crate::live::Completion;
use crate::store::{Change, ChangeKind, Count, CounterId, Hold, Layout, Released, StoreError};

use super::wire::{self, Call, Failure, Keys, SCRIPTS};
use super::{RedisOptions, config_error};

struct Single {
    client: Client,
    conn: Mutex<Option<MultiplexedConnection>>,
}

enum Backend {
    /// The client, and the connection while it works (dropped after a failure, opened
    /// again by the next attempt).
    Single(Box<Single>),
    /// The Cluster connection reconnects by itself.
    Cluster(ClusterConnection),
}

/// The Redis store for tokio services: the operations of [`QuotaStore`], same semantics and
/// same scripts as [`RedisStore`](super::RedisStore) (the two can share a survey), as
/// `async fn`s that never block a worker thread. Calls from many tasks share one
/// multiplexed connection (pipelined by the redis crate); cloning is cheap and shares it.
///
/// Needs a tokio runtime with the time driver enabled (backoff and timeouts use it).
///
/// [`QuotaStore`]: crate::store::QuotaStore
#[derive(Clone)]
pub struct AsyncRedisStore {
    inner: std::sync::Arc<Inner>,
}

struct Inner {
    layout: Layout,
    keys: Keys,
    options: RedisOptions,
    backend: Backend,
}

impl std::fmt::Debug for AsyncRedisStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AsyncRedisStore")
            .field("survey", &self.inner.layout.survey())
            .field("counters", &self.inner.layout.len())
            .field(
                "cluster",
                &matches!(self.inner.backend, Backend::Cluster(_)),
            )
            .field("options", &self.inner.options)
            .finish()
    }
}

fn lock(m: &Mutex<Option<MultiplexedConnection>>) -> MutexGuard<'_, Option<MultiplexedConnection>> {
    // Only ever holds a whole connection or none: a poisoned lock is still consistent.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn timed_out() -> RedisError {
    RedisError::from(std::io::Error::new(
        std::io::ErrorKind::TimedOut,
        "no reply within the store's timeout",
    ))
}

impl AsyncRedisStore {
    /// Connects to one Redis server and joins the survey, as
    /// [`RedisStore::connect`](super::RedisStore::connect).
    ///
    /// # Errors
    /// As [`RedisStore::connect`](super::RedisStore::connect).
    pub async fn connect(
        url: &str,
        layout: Layout,
        options: RedisOptions,
    ) -> Result<AsyncRedisStore, StoreError> {
        let client = Client::open(url).map_err(config_error)?;
        let backend = Backend::Single(Box::new(Single {
            client,
            conn: Mutex::new(None),
        }));
        AsyncRedisStore::join(backend, layout, options).await
    }

    /// Connects to a Redis Cluster through any of its nodes and joins the survey, as
    /// [`RedisStore::connect_cluster`](super::RedisStore::connect_cluster).
    ///
    /// # Errors
    /// As [`RedisStore::connect`](super::RedisStore::connect).
    pub async fn connect_cluster(
        urls: &[&str],
        layout: Layout,
        options: RedisOptions,
    ) -> Result<AsyncRedisStore, StoreError> {
        let client = ClusterClient::builder(urls.iter().copied())
            .connection_timeout(options.timeout)
            .response_timeout(options.timeout)
            .retries(2)
            .min_retry_wait(10)
            .max_retry_wait(100)
            .build()
            .map_err(config_error)?;
        let mut attempts = 0;
        let conn = loop {
            attempts += 1;
            let err =
                match tokio::time::timeout(options.timeout, client.get_async_connection()).await {
                    Ok(Ok(conn)) => break conn,
                    Ok(Err(e)) => e,
                    Err(_) => timed_out(),
                };
            match wire::classify(&err, false) {
                Failure::Fatal(e) => return Err(e),
                Failure::Retry { .. } if attempts > options.retries => {
                    return Err(wire::unavailable(attempts, false, err));
                }
                Failure::Retry { .. } => {
                    crate::live::metrics::store_retry("redis");
                    tokio::time::sleep(wire::backoff(&options, attempts)).await;
                }
            }
        };
        AsyncRedisStore::join(Backend::Cluster(conn), layout, options).await
    }

    async fn join(
        backend: Backend,
        layout: Layout,
        options: RedisOptions,
    ) -> Result<AsyncRedisStore, StoreError> {
        let keys = Keys::new(layout.survey());
        let mut inner = Inner {
            layout,
            keys,
            options,
            backend,
        };
        let reply = inner.run(&Call::join(&inner.keys, &inner.layout)).await?;
        inner.layout = wire::decode_join(reply, &inner.layout)?;
        Ok(AsyncRedisStore {
            inner: std::sync::Arc::new(inner),
        })
    }

    /// The counters as the store has them.
    pub fn layout(&self) -> &Layout {
        &self.inner.layout
    }

    /// As [`QuotaStore::hold`](crate::store::QuotaStore::hold).
    ///
    /// # Errors
    /// As [`QuotaStore::hold`](crate::store::QuotaStore::hold).
    pub async fn hold(
        &self,
        respondent: &str,
        category: u32,
        counters: &[CounterId],
        ttl_ms: u64,
    ) -> Result<Hold, StoreError> {
        let i = &self.inner;
        let call = Call::hold(&i.keys, &i.layout, respondent, category, counters, ttl_ms)?;
        wire::decode_hold(i.run(&call).await?)
    }

    /// As [`QuotaStore::commit`](crate::store::QuotaStore::commit).
    ///
    /// # Errors
    /// As [`StoreError`] says.
    pub async fn commit(&self, respondent: &str, category: u32) -> Result<Completion, StoreError> {
        let call = Call::of_category(&SCRIPTS.commit, &self.inner.keys, respondent, category)?;
        wire::decode_commit(self.inner.run(&call).await?)
    }

    /// As [`QuotaStore::release`](crate::store::QuotaStore::release).
    ///
    /// # Errors
    /// As [`StoreError`] says.
    pub async fn release(&self, respondent: &str, category: u32) -> Result<bool, StoreError> {
        let call = Call::of_category(&SCRIPTS.release, &self.inner.keys, respondent, category)?;
        wire::decode_release(self.inner.run(&call).await?)
    }

    /// As [`QuotaStore::release_all`](crate::store::QuotaStore::release_all).
    ///
    /// # Errors
    /// As [`StoreError`] says.
    pub async fn release_all(&self, respondent: &str) -> Result<Vec<Released>, StoreError> {
        let call = Call::release_all(&self.inner.keys, respondent)?;
        wire::decode_release_all(self.inner.run(&call).await?)
    }

    /// As [`QuotaStore::expire`](crate::store::QuotaStore::expire).
    ///
    /// # Errors
    /// As [`StoreError`] says.
    pub async fn expire(&self) -> Result<u64, StoreError> {
        let batch = self.inner.options.expire_batch;
        let call = Call::expire(&self.inner.keys, batch);
        let mut total = 0;
        loop {
            let (released, seen) = wire::decode_expire(self.inner.run(&call).await?)?;
            total += released;
            if seen < u64::from(batch.max(1)) {
                return Ok(total);
            }
        }
    }

    /// As [`QuotaStore::read`](crate::store::QuotaStore::read).
    ///
    /// # Errors
    /// As [`StoreError`] says.
    pub async fn read(&self, out: &mut Vec<Count>) -> Result<(), StoreError> {
        let reply = self.inner.run(&Call::read(&self.inner.keys)).await?;
        wire::decode_read(reply, self.inner.layout.len(), out)
    }

    /// As [`QuotaStore::save_interview`](crate::store::QuotaStore::save_interview).
    ///
    /// # Errors
    /// As [`StoreError`] says.
    pub async fn save_interview(
        &self,
        respondent: &str,
        state: &str,
        ttl_ms: u64,
    ) -> Result<(), StoreError> {
        let call = Call::save_interview(&self.inner.keys, respondent, state, ttl_ms)?;
        self.inner.run(&call).await.map(drop)
    }

    /// As [`QuotaStore::load_interview`](crate::store::QuotaStore::load_interview).
    ///
    /// # Errors
    /// As [`StoreError`] says.
    pub async fn load_interview(&self, respondent: &str) -> Result<Option<String>, StoreError> {
        let call = Call::load_interview(&self.inner.keys, respondent)?;
        wire::decode_load_interview(self.inner.run(&call).await?)
    }

    /// As [`QuotaStore::set_max`](crate::store::QuotaStore::set_max).
    ///
    /// # Errors
    /// As [`QuotaStore::set_max`](crate::store::QuotaStore::set_max).
    pub async fn set_max(
        &self,
        counter: CounterId,
        max: u32,
        kind: ChangeKind,
    ) -> Result<Change, StoreError> {
        let i = &self.inner;
        let call = Call::set_max(&i.keys, &i.layout, counter, max, kind)?;
        wire::decode_set_max(i.run(&call).await?, counter, max, kind)
    }

    /// As [`QuotaStore::changes`](crate::store::QuotaStore::changes).
    ///
    /// # Errors
    /// As [`StoreError`] says.
    pub async fn changes(&self) -> Result<Vec<Change>, StoreError> {
        let reply = self.inner.run(&Call::changes(&self.inner.keys)).await?;
        wire::decode_changes(reply)
    }

    /// As [`RedisStore::purge`](super::RedisStore::purge).
    ///
    /// # Errors
    /// As [`StoreError`] says.
    pub async fn purge(&self) -> Result<(), StoreError> {
        self.inner
            .run(&Call::purge(&self.inner.keys))
            .await
            .map(drop)
    }
}

impl Inner {
    /// One attempt: `Err((error, sent))` on failure.
    async fn attempt(&self, call: &Call) -> Result<Value, (RedisError, bool)> {
        let timeout = self.options.timeout;
        match &self.backend {
            Backend::Cluster(conn) => {
                let mut conn = conn.clone();
                match tokio::time::timeout(timeout, call.invocation().invoke_async(&mut conn)).await
                {
                    Ok(Ok(v)) => Ok(v),
                    Ok(Err(e)) => Err((e, call.writes)),
                    Err(_) => Err((timed_out(), call.writes)),
                }
            }
            Backend::Single(single) => {
                let Single { client, conn } = &**single;
                let current = lock(conn).clone();
                let mut c = match current {
                    Some(c) => c,
                    None => {
                        let config = AsyncConnectionConfig::new()
                            .set_connection_timeout(Some(timeout))
                            .set_response_timeout(Some(timeout));
                        let c = client
                            .get_multiplexed_async_connection_with_config(&config)
                            .await
                            .map_err(|e| (e, false))?;
                        *lock(conn) = Some(c.clone());
                        c
                    }
                };
                let result =
                    match tokio::time::timeout(timeout, call.invocation().invoke_async(&mut c))
                        .await
                    {
                        Ok(Ok(v)) => return Ok(v),
                        Ok(Err(e)) => e,
                        Err(_) => timed_out(),
                    };
                if result.is_io_error() || result.is_timeout() || result.is_connection_dropped() {
                    *lock(conn) = None;
                }
                Err((result, call.writes))
            }
        }
    }

    async fn run(&self, call: &Call) -> Result<Value, StoreError> {
        let mut attempts = 0;
        let mut maybe_applied = false;
        loop {
            attempts += 1;
            let (err, sent) = match self.attempt(call).await {
                Ok(v) => return Ok(v),
                Err(failed) => failed,
            };
            match wire::classify(&err, sent) {
                Failure::Fatal(e) => return Err(e),
                Failure::Retry { maybe_applied: m } => {
                    maybe_applied |= m;
                    if attempts > self.options.retries {
                        return Err(wire::unavailable(attempts, maybe_applied, err));
                    }
                    crate::live::metrics::store_retry("redis");
                    tokio::time::sleep(wire::backoff(&self.options, attempts)).await;
                }
            }
        }
    }
}
