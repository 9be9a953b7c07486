//! The blocking Redis store: a [`QuotaStore`] over a pool of connections.

use std::sync::{Mutex, MutexGuard};

use redis::cluster::{ClusterClient, ClusterConnection};
use redis::{Client, Connection, ConnectionLike, RedisError, Value};

use crate::live::Completion;
use crate::store::{
    Change, ChangeKind, Count, CounterId, Hold, Layout, QuotaStore, Released, StoreError,
};

use super::wire::{self, Call, Failure, Keys, SCRIPTS};
use super::{RedisOptions, config_error};

/// Where the connections go (boxed: the two differ much in size).
enum Backend {
    Single(Box<Client>),
    Cluster(Box<ClusterClient>),
}

/// One connection of the pool.
enum Conn {
    Single(Box<Connection>),
    Cluster(Box<ClusterConnection>),
}

impl Conn {
    fn like(&mut self) -> &mut dyn ConnectionLike {
        match self {
            Conn::Single(c) => &mut **c,
            Conn::Cluster(c) => &mut **c,
        }
    }
}

/// A [`QuotaStore`] on a Redis server or a Redis Cluster, shared by every router node that
/// connects to the same survey. Blocking: each call takes a pooled connection (or opens
/// one), runs one script and returns the connection. Share it among threads by reference
/// or `Arc`.
///
/// ```no_run
/// use quotaroute::store::{Counter, Hold, Layout, QuotaStore, RedisOptions, RedisStore};
///
/// let layout = Layout::new("spring-wave", vec![Counter::new("coffee", 500)])?;
/// let store = RedisStore::connect("redis://127.0.0.1:6379/", layout, RedisOptions::default())?;
/// if let Hold::Accepted { deadline } = store.hold("resp-42", 0, &[0], 600_000)? {
///     // ... interview until `deadline` (server clock), then:
///     store.commit("resp-42", 0)?;
/// }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
#[doc = include_str!("store.md")]
pub struct RedisStore {
    layout: Layout,
    keys: Keys,
    options: RedisOptions,
    backend: Backend,
    idle: Mutex<Vec<Conn>>,
}

impl std::fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisStore")
            .field("survey", &self.layout.survey())
            .field("counters", &self.layout.len())
            .field("cluster", &matches!(self.backend, Backend::Cluster(_)))
            .field("options", &self.options)
            .finish()
    }
}

impl RedisStore {
    /// Connects to one Redis server (`redis://[:password@]host:port/[db]`, or `rediss://`
    /// when the redis crate's TLS is enabled) and joins the survey of `layout`, creating it
    /// if absent.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] when the server cannot be reached after the retries;
    /// [`StoreError::LayoutMismatch`] or [`StoreError::Version`] when the survey exists with
    /// other counters or another key layout; [`StoreError::Protocol`] for a bad URL or a
    /// refused password.
    pub fn connect(
        url: &str,
        layout: Layout,
        options: RedisOptions,
    ) -> Result<RedisStore, StoreError> {
        let client = Client::open(url).map_err(config_error)?;
        RedisStore::join(Backend::Single(Box::new(client)), layout, options)
    }

    /// Connects to a Redis Cluster through any of its nodes (`urls`, as for
    /// [`connect`](RedisStore::connect)) and joins the survey. The survey's keys live on
    /// the shard that owns the slot of its name's hash tag.
    ///
    /// # Errors
    /// As [`connect`](RedisStore::connect).
    pub fn connect_cluster(
        urls: &[&str],
        layout: Layout,
        options: RedisOptions,
    ) -> Result<RedisStore, StoreError> {
        let client = ClusterClient::builder(urls.iter().copied())
            .connection_timeout(options.timeout)
            .response_timeout(options.timeout)
            // Redirects (MOVED, ASK) are followed by the client; everything else is retried
            // here, with this store's backoff.
            .retries(2)
            .min_retry_wait(10)
            .max_retry_wait(100)
            .build()
            .map_err(config_error)?;
        RedisStore::join(Backend::Cluster(Box::new(client)), layout, options)
    }

    fn join(
        backend: Backend,
        layout: Layout,
        options: RedisOptions,
    ) -> Result<RedisStore, StoreError> {
        let keys = Keys::new(layout.survey());
        let mut store = RedisStore {
            keys,
            options,
            backend,
            idle: Mutex::new(Vec::new()),
            layout,
        };
        let reply = store.run(&Call::join(&store.keys, &store.layout))?;
        store.layout = wire::decode_join(reply, &store.layout)?;
        Ok(store)
    }

    /// Deletes every key of the survey (counts, holds, completes, meta): the way to remove a
    /// finished survey. Other nodes' calls then fail with [`StoreError::Protocol`] until a
    /// node connects again, which creates the survey afresh.
    ///
    /// # Errors
    /// As [`StoreError`] says.
    pub fn purge(&self) -> Result<(), StoreError> {
        self.run(&Call::purge(&self.keys)).map(drop)
    }

    /// The options the store was connected with.
    pub fn options(&self) -> &RedisOptions {
        &self.options
    }

    fn idle(&self) -> MutexGuard<'_, Vec<Conn>> {
        // The pool holds only whole connections, so a poisoned lock still guards a
        // consistent list.
        self.idle.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn checkout(&self) -> Result<Conn, RedisError> {
        if let Some(conn) = self.idle().pop() {
            return Ok(conn);
        }
        match &self.backend {
            Backend::Single(client) => {
                let conn = client.get_connection_with_timeout(self.options.timeout)?;
                conn.set_read_timeout(Some(self.options.timeout))?;
                conn.set_write_timeout(Some(self.options.timeout))?;
                Ok(Conn::Single(Box::new(conn)))
            }
            Backend::Cluster(client) => Ok(Conn::Cluster(Box::new(client.get_connection()?))),
        }
    }

    fn checkin(&self, conn: Conn) {
        let mut idle = self.idle();
        if idle.len() < self.options.pool_size {
            idle.push(conn);
        }
    }

    /// Runs one script with the retry rules of the module docs.
    fn run(&self, call: &Call) -> Result<Value, StoreError> {
        let mut attempts = 0;
        let mut maybe_applied = false;
        loop {
            attempts += 1;
            let (err, sent) = match self.checkout() {
                Err(e) => (e, false),
                Ok(mut conn) => match call.invocation().invoke::<Value>(conn.like()) {
                    Ok(v) => {
                        self.checkin(conn);
                        return Ok(v);
                    }
                    // The connection is dropped: after a timeout its reply may still come.
                    Err(e) => (e, call.writes),
                },
            };
            match wire::classify(&err, sent) {
                Failure::Fatal(e) => return Err(e),
                Failure::Retry { maybe_applied: m } => {
                    maybe_applied |= m;
                    if attempts > self.options.retries {
                        return Err(wire::unavailable(attempts, maybe_applied, err));
                    }
                    crate::live::metrics::store_retry("redis");
                    std::thread::sleep(wire::backoff(&self.options, attempts));
                }
            }
        }
    }
}

impl QuotaStore for RedisStore {
    fn layout(&self) -> &Layout {
        &self.layout
    }

    fn hold(
        &self,
        respondent: &str,
        category: u32,
        counters: &[CounterId],
        ttl_ms: u64,
    ) -> Result<Hold, StoreError> {
        let call = Call::hold(
            &self.keys,
            &self.layout,
            respondent,
            category,
            counters,
            ttl_ms,
        )?;
        wire::decode_hold(self.run(&call)?)
    }

    fn commit(&self, respondent: &str, category: u32) -> Result<Completion, StoreError> {
        let call = Call::of_category(&SCRIPTS.commit, &self.keys, respondent, category)?;
        wire::decode_commit(self.run(&call)?)
    }

    fn release(&self, respondent: &str, category: u32) -> Result<bool, StoreError> {
        let call = Call::of_category(&SCRIPTS.release, &self.keys, respondent, category)?;
        wire::decode_release(self.run(&call)?)
    }

    fn release_all(&self, respondent: &str) -> Result<Vec<Released>, StoreError> {
        let call = Call::release_all(&self.keys, respondent)?;
        wire::decode_release_all(self.run(&call)?)
    }

    fn expire(&self) -> Result<u64, StoreError> {
        let call = Call::expire(&self.keys, self.options.expire_batch);
        let mut total = 0;
        loop {
            let (released, seen) = wire::decode_expire(self.run(&call)?)?;
            total += released;
            if seen < u64::from(self.options.expire_batch.max(1)) {
                return Ok(total);
            }
        }
    }

    fn read(&self, out: &mut Vec<Count>) -> Result<(), StoreError> {
        let reply = self.run(&Call::read(&self.keys))?;
        wire::decode_read(reply, self.layout.len(), out)
    }

    fn save_interview(&self, respondent: &str, state: &str, ttl_ms: u64) -> Result<(), StoreError> {
        let call = Call::save_interview(&self.keys, respondent, state, ttl_ms)?;
        self.run(&call).map(drop)
    }

    fn load_interview(&self, respondent: &str) -> Result<Option<String>, StoreError> {
        let call = Call::load_interview(&self.keys, respondent)?;
        wire::decode_load_interview(self.run(&call)?)
    }

    fn set_max(
        &self,
        counter: CounterId,
        max: u32,
        kind: ChangeKind,
    ) -> Result<Change, StoreError> {
        let call = Call::set_max(&self.keys, &self.layout, counter, max, kind)?;
        wire::decode_set_max(self.run(&call)?, counter, max, kind)
    }

    fn changes(&self) -> Result<Vec<Change>, StoreError> {
        wire::decode_changes(self.run(&Call::changes(&self.keys))?)
    }
}
