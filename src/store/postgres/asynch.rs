//! The async PostgreSQL store: the same operations as `async fn`s on one tokio-postgres
//! connection, which pipelines the calls of concurrent tasks.

use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard};

use tokio_postgres::{Client, Config, Error, NoTls};

use crate::live::Completion;
use crate::store::error::check_respondent;
use crate::store::{Change, ChangeKind, Count, CounterId, Hold, Layout, Released, StoreError};

use super::PostgresOptions;
use super::join;
use super::sql::{self, Failure, Statements};

/// The connection and its prepared statements; replaced when the connection is lost.
struct Live {
    client: Client,
    statements: Statements,
}

/// The operations of [`PostgresStore`](super::PostgresStore) as `async fn`s on tokio, for
/// services that must not block a worker thread on the database. One connection, shared by
/// every task (tokio-postgres pipelines their statements), reopened when it is lost; the
/// connection's I/O runs on a task spawned with `tokio::spawn`, so the store must be used
/// inside a tokio runtime. It runs the same SQL as the blocking store: the two can share a
/// survey. Schema, SQL and failure rules: see [`PostgresStore`](super::PostgresStore).
///
/// ```no_run
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// use quotaroute::store::{AsyncPostgresStore, Counter, Hold, Layout, PostgresOptions};
///
/// let layout = Layout::new("spring-wave", vec![Counter::new("coffee", 500)])?;
/// let url = "postgres://postgres@127.0.0.1:5432/postgres";
/// let store = AsyncPostgresStore::connect(url, layout, PostgresOptions::default()).await?;
/// if let Hold::Accepted { .. } = store.hold("resp-42", 0, &[0], 600_000).await? {
///     store.commit("resp-42", 0).await?;
/// }
/// # Ok(())
/// # }
/// ```
pub struct AsyncPostgresStore {
    layout: Layout,
    options: PostgresOptions,
    config: Config,
    live: Mutex<Option<Arc<Live>>>,
}

impl std::fmt::Debug for AsyncPostgresStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Not the config: it may hold a password.
        f.debug_struct("AsyncPostgresStore")
            .field("survey", &self.layout.survey())
            .field("counters", &self.layout.len())
            .field("options", &self.options)
            .finish()
    }
}

impl AsyncPostgresStore {
    /// Connects, applies the schema's missing migrations and joins the survey of `layout`,
    /// as [`PostgresStore::connect`](super::PostgresStore::connect) does.
    ///
    /// # Errors
    /// As [`PostgresStore::connect`](super::PostgresStore::connect).
    pub async fn connect(
        url: &str,
        layout: Layout,
        options: PostgresOptions,
    ) -> Result<AsyncPostgresStore, StoreError> {
        let config = sql::config(url, &options)?;
        sql::check_layout(&layout)?;
        let mut store = AsyncPostgresStore {
            layout,
            options,
            config,
            live: Mutex::new(None),
        };
        let given = store.layout.clone();
        let config = &store.config;
        store.layout = store
            .retry(true, || async {
                let mut client = open(config).await.map_err(|e| (e, false))?;
                join::migrate_and_join_async(&mut client, &given).await
            })
            .await??;
        Ok(store)
    }

    /// Deletes the survey, as [`PostgresStore::purge`](super::PostgresStore::purge).
    ///
    /// # Errors
    /// As [`StoreError`] says.
    pub async fn purge(&self) -> Result<(), StoreError> {
        let survey = self.layout.survey();
        self.run(true, |l| async move {
            l.client.execute(sql::PURGE, &[&survey]).await
        })
        .await
        .map(drop)
    }

    /// [`PostgresStore::commit_in`](super::PostgresStore::commit_in) on a tokio-postgres
    /// client or transaction: the complete counts if and only if the caller's transaction
    /// commits.
    ///
    /// # Errors
    /// As [`PostgresStore::commit_in`](super::PostgresStore::commit_in).
    pub async fn commit_in(
        &self,
        client: &impl tokio_postgres::GenericClient,
        respondent: &str,
        category: u32,
    ) -> Result<Completion, StoreError> {
        commit_in(self.layout.survey(), client, respondent, category).await
    }

    /// The counters as the store has them.
    pub fn layout(&self) -> &Layout {
        &self.layout
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
        let (category, ids, ttl) =
            sql::hold_args(&self.layout, respondent, category, counters, ttl_ms)?;
        let survey = self.layout.survey();
        let (ids, ttl) = (&ids, &ttl);
        let (code, val) = self
            .run(true, |l| async move {
                let row = l
                    .client
                    .query_one(
                        &l.statements.hold,
                        &[&survey, &respondent, &category, ids, ttl],
                    )
                    .await?;
                Ok((row.try_get::<_, i32>(0)?, row.try_get::<_, i64>(1)?))
            })
            .await?;
        sql::decode_hold(code, val)
    }

    /// As [`QuotaStore::commit`](crate::store::QuotaStore::commit).
    ///
    /// # Errors
    /// As [`StoreError`] says.
    pub async fn commit(&self, respondent: &str, category: u32) -> Result<Completion, StoreError> {
        check_respondent(respondent)?;
        let category = sql::category(category)?;
        let survey = self.layout.survey();
        let code = self
            .run(true, |l| async move {
                let row = l
                    .client
                    .query_one(&l.statements.commit, &[&survey, &respondent, &category])
                    .await?;
                row.try_get(0)
            })
            .await?;
        sql::decode_commit(code)
    }

    /// As [`QuotaStore::release`](crate::store::QuotaStore::release).
    ///
    /// # Errors
    /// As [`StoreError`] says.
    pub async fn release(&self, respondent: &str, category: u32) -> Result<bool, StoreError> {
        check_respondent(respondent)?;
        let category = sql::category(category)?;
        let survey = self.layout.survey();
        self.run(true, |l| async move {
            let row = l
                .client
                .query_one(&l.statements.release, &[&survey, &respondent, &category])
                .await?;
            row.try_get(0)
        })
        .await
    }

    /// As [`QuotaStore::release_all`](crate::store::QuotaStore::release_all).
    ///
    /// # Errors
    /// As [`StoreError`] says.
    pub async fn release_all(&self, respondent: &str) -> Result<Vec<Released>, StoreError> {
        check_respondent(respondent)?;
        let survey = self.layout.survey();
        let rows = self
            .run(true, |l| async move {
                l.client
                    .query(&l.statements.release_all, &[&survey, &respondent])
                    .await?
                    .iter()
                    .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
                    .collect::<Result<Vec<_>, Error>>()
            })
            .await?;
        sql::decode_released(rows)
    }

    /// As [`QuotaStore::expire`](crate::store::QuotaStore::expire).
    ///
    /// # Errors
    /// As [`StoreError`] says.
    pub async fn expire(&self) -> Result<u64, StoreError> {
        let survey = self.layout.survey();
        let batch = sql::batch(&self.options);
        let batch = &batch;
        let mut total = 0;
        loop {
            let (released, seen) = self
                .run(true, |l| async move {
                    let row = l
                        .client
                        .query_one(&l.statements.expire, &[&survey, batch])
                        .await?;
                    Ok((row.try_get::<_, i64>(0)?, row.try_get::<_, i64>(1)?))
                })
                .await?;
            total += released.max(0) as u64;
            if seen < i64::from(*batch) {
                // Saved interviews past their deadline read as absent already: this only
                // reclaims their rows.
                self.run(true, |l| async move {
                    l.client.execute(sql::EXPIRE_INTERVIEWS, &[&survey]).await
                })
                .await?;
                return Ok(total);
            }
        }
    }

    /// As [`QuotaStore::read`](crate::store::QuotaStore::read).
    ///
    /// # Errors
    /// As [`StoreError`] says.
    pub async fn read(&self, out: &mut Vec<Count>) -> Result<(), StoreError> {
        let survey = self.layout.survey();
        let rows = self
            .run(false, |l| async move {
                l.client
                    .query(&l.statements.read, &[&survey])
                    .await?
                    .iter()
                    .map(sql::count_row)
                    .collect::<Result<Vec<_>, Error>>()
            })
            .await?;
        sql::decode_read(rows, self.layout.len(), out)
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
        check_respondent(respondent)?;
        let survey = self.layout.survey();
        let ttl = &sql::ttl(ttl_ms);
        self.run(true, |l| async move {
            l.client
                .execute(sql::SAVE_INTERVIEW, &[&survey, &respondent, &state, ttl])
                .await
        })
        .await
        .map(drop)
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
        self.layout.check_counters(&[counter])?;
        let survey = self.layout.survey();
        let (id, to, k) = (&(counter as i32), &i64::from(max), &kind.as_str());
        let row = self
            .run(true, |l| async move {
                l.client
                    .query_opt(sql::SET_MAX, &[&survey, id, to, k])
                    .await?
                    .map(|r| Ok((r.try_get::<_, i64>(0)?, r.try_get::<_, i64>(1)?)))
                    .transpose()
            })
            .await?;
        sql::decode_set_max(row, counter, max, kind)
    }

    /// As [`QuotaStore::changes`](crate::store::QuotaStore::changes).
    ///
    /// # Errors
    /// As [`StoreError`] says.
    pub async fn changes(&self) -> Result<Vec<Change>, StoreError> {
        let survey = self.layout.survey();
        let rows = self
            .run(false, |l| async move {
                l.client
                    .query(join::CHANGES, &[&survey])
                    .await?
                    .iter()
                    .map(join::change_row)
                    .collect::<Result<Vec<_>, Error>>()
            })
            .await?;
        rows.into_iter().collect()
    }

    /// As [`QuotaStore::load_interview`](crate::store::QuotaStore::load_interview).
    ///
    /// # Errors
    /// As [`StoreError`] says.
    pub async fn load_interview(&self, respondent: &str) -> Result<Option<String>, StoreError> {
        check_respondent(respondent)?;
        let survey = self.layout.survey();
        self.run(false, |l| async move {
            l.client
                .query_opt(sql::LOAD_INTERVIEW, &[&survey, &respondent])
                .await?
                .map(|r| r.try_get(0))
                .transpose()
        })
        .await
    }

    fn slot(&self) -> MutexGuard<'_, Option<Arc<Live>>> {
        // Holds only a whole connection or none: a poisoned lock is still consistent.
        self.live.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The live connection, or a new one (its statements prepared) when there is none or
    /// it was closed.
    async fn live(&self) -> Result<Arc<Live>, Error> {
        if let Some(live) = self.slot().as_ref().filter(|l| !l.client.is_closed()) {
            return Ok(live.clone());
        }
        let client = open(&self.config).await?;
        let statements = Statements {
            hold: client.prepare(sql::HOLD).await?,
            commit: client.prepare(sql::COMMIT).await?,
            release: client.prepare(sql::RELEASE).await?,
            release_all: client.prepare(sql::RELEASE_ALL).await?,
            expire: client.prepare(sql::EXPIRE).await?,
            read: client.prepare(sql::READ).await?,
        };
        let live = Arc::new(Live { client, statements });
        *self.slot() = Some(live.clone());
        Ok(live)
    }

    /// Runs `call` on the live connection with the retry rules of the blocking store.
    async fn run<'a, T, F, Fut>(&'a self, writes: bool, call: F) -> Result<T, StoreError>
    where
        F: Fn(Arc<Live>) -> Fut,
        Fut: Future<Output = Result<T, Error>> + 'a,
    {
        self.retry(writes, || async {
            let live = self.live().await.map_err(|e| (e, false))?;
            match call(live.clone()).await {
                Ok(v) => Ok(v),
                Err(e) => {
                    if sql::connection_lost(&e) {
                        let mut slot = self.slot();
                        if slot.as_ref().is_some_and(|l| Arc::ptr_eq(l, &live)) {
                            *slot = None;
                        }
                    }
                    Err((e, true))
                }
            }
        })
        .await
    }

    /// Tries `attempt` until it succeeds, fails for good, or the retries are spent. An
    /// attempt's error says whether its statement had been sent.
    async fn retry<T, F, Fut>(&self, writes: bool, attempt: F) -> Result<T, StoreError>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = Result<T, (Error, bool)>>,
    {
        let mut attempts = 0;
        let mut maybe_applied = false;
        loop {
            attempts += 1;
            let (err, sent) = match attempt().await {
                Ok(v) => return Ok(v),
                Err(e) => e,
            };
            match sql::classify(err, sent && writes) {
                Failure::Fatal(e) => return Err(e),
                Failure::Retry {
                    maybe_applied: m,
                    error,
                } => {
                    maybe_applied |= m;
                    if attempts > self.options.retries {
                        return Err(sql::unavailable(attempts, maybe_applied, error));
                    }
                    crate::live::metrics::store_retry("postgres");
                    tokio::time::sleep(sql::backoff(&self.options, attempts)).await;
                }
            }
        }
    }
}

/// The commit inside a caller's transaction, for both stores.
pub(super) async fn commit_in(
    survey: &str,
    client: &impl tokio_postgres::GenericClient,
    respondent: &str,
    category: u32,
) -> Result<Completion, StoreError> {
    check_respondent(respondent)?;
    let category = sql::category(category)?;
    let code = client
        .query_one(sql::COMMIT, &[&survey, &respondent, &category])
        .await
        .and_then(|row| row.try_get(0))
        .map_err(super::blocking::in_caller_tx)?;
    sql::decode_commit(code)
}

/// Opens a connection and spawns its I/O task.
async fn open(config: &Config) -> Result<Client, Error> {
    let (client, connection) = config.connect(NoTls).await?;
    // The task ends when the connection closes; its error reaches the next call.
    tokio::spawn(async move {
        let _ = connection.await;
    });
    Ok(client)
}
