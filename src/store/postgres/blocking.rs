//! The blocking PostgreSQL store: a [`QuotaStore`] over a pool of connections.

use std::sync::{Mutex, MutexGuard};

use postgres::{Client, Config, Error, NoTls};

use crate::live::Completion;
use crate::store::error::check_respondent;
use crate::store::{
    Change, ChangeKind, Count, CounterId, Hold, Layout, QuotaStore, Released, StoreError,
};

use super::PostgresOptions;
use super::sql::{self, Failure, Statements};

/// One connection of the pool; its statements are prepared on first use (the functions they
/// call exist only once the migrations ran).
struct Conn {
    client: Client,
    statements: Option<Statements>,
}

impl Conn {
    fn statements(&mut self) -> Result<&Statements, Error> {
        let st = match self.statements.take() {
            Some(st) => st,
            None => {
                let c = &mut self.client;
                Statements {
                    hold: c.prepare(sql::HOLD)?,
                    commit: c.prepare(sql::COMMIT)?,
                    release: c.prepare(sql::RELEASE)?,
                    release_all: c.prepare(sql::RELEASE_ALL)?,
                    expire: c.prepare(sql::EXPIRE)?,
                    read: c.prepare(sql::READ)?,
                }
            }
        };
        Ok(self.statements.insert(st))
    }
}

/// A [`QuotaStore`] in a PostgreSQL database, shared by every router node that connects to
/// the same survey. Blocking: each call takes a pooled connection (or opens one), runs one
/// statement and returns the connection. Share it among threads by reference or `Arc`.
///
/// ```no_run
/// use quotaroute::store::{Counter, Hold, Layout, PostgresOptions, PostgresStore, QuotaStore};
///
/// let layout = Layout::new("spring-wave", vec![Counter::new("coffee", 500)])?;
/// let url = "postgres://postgres@127.0.0.1:5432/postgres";
/// let store = PostgresStore::connect(url, layout, PostgresOptions::default())?;
/// if let Hold::Accepted { .. } = store.hold("resp-42", 0, &[0], 600_000)? {
///     // ... interview; then save the answers and count the complete in one transaction:
///     let mut db = postgres::Client::connect(url, postgres::NoTls)?;
///     let mut tx = db.transaction()?;
///     // tx.execute("INSERT INTO answers ...", &[...])?;
///     store.commit_in(&mut tx, "resp-42", 0)?;
///     tx.commit()?;
/// }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
#[doc = include_str!("store.md")]
pub struct PostgresStore {
    layout: Layout,
    options: PostgresOptions,
    config: Config,
    idle: Mutex<Vec<Conn>>,
}

impl std::fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Not the config: it may hold a password.
        f.debug_struct("PostgresStore")
            .field("survey", &self.layout.survey())
            .field("counters", &self.layout.len())
            .field("options", &self.options)
            .finish()
    }
}

impl PostgresStore {
    /// Connects to PostgreSQL (`postgres://user[:password]@host:port/db[?options]`, or a
    /// `key=value` string), applies the schema's missing migrations and joins the survey of
    /// `layout`, creating it if absent. Without TLS: see the module docs.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] when the database cannot be reached after the retries;
    /// [`StoreError::LayoutMismatch`] when the survey exists with other counters or maxes;
    /// [`StoreError::Version`] when the database's schema is newer than this build's;
    /// [`StoreError::Protocol`] for a bad URL, a refused password or missing privileges.
    pub fn connect(
        url: &str,
        layout: Layout,
        options: PostgresOptions,
    ) -> Result<PostgresStore, StoreError> {
        let config = Config::from(sql::config(url, &options)?);
        sql::check_layout(&layout)?;
        let mut store = PostgresStore {
            layout,
            options,
            config,
            idle: Mutex::new(Vec::new()),
        };
        let given = store.layout.clone();
        store.layout = store.run(true, |c| {
            super::join::migrate_and_join(&mut c.client, &given)
        })??;
        Ok(store)
    }

    /// Deletes the survey (its counters, holds and completes): the way to remove a finished
    /// survey. Other nodes' calls then fail with [`StoreError::Protocol`] until a node
    /// connects again, which creates the survey afresh.
    ///
    /// # Errors
    /// As [`StoreError`] says.
    pub fn purge(&self) -> Result<(), StoreError> {
        let survey = self.layout.survey();
        self.run(true, |c| c.client.execute(sql::PURGE, &[&survey]))
            .map(drop)
    }

    /// The options the store was connected with.
    pub fn options(&self) -> &PostgresOptions {
        &self.options
    }

    /// [`commit`](QuotaStore::commit) inside the caller's open transaction (or on any
    /// client): the complete counts if and only if the caller's transaction commits, so a
    /// platform's answer row and its complete are saved together or not at all. Runs
    /// `SELECT quotaroute.commit(survey, respondent, category)` once, without retries: on
    /// an error the caller's transaction is aborted; roll it back and retry it whole.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] (never indeterminate: nothing is applied before the
    /// caller commits) for a lost connection, a deadlock or a statement timeout;
    /// [`StoreError::Protocol`] for anything else the database refused.
    pub fn commit_in(
        &self,
        client: &mut impl postgres::GenericClient,
        respondent: &str,
        category: u32,
    ) -> Result<Completion, StoreError> {
        check_respondent(respondent)?;
        let category = sql::category(category)?;
        let survey = self.layout.survey();
        let code = client
            .query_one(sql::COMMIT, &[&survey, &respondent, &category])
            .and_then(|row| row.try_get(0))
            .map_err(in_caller_tx)?;
        sql::decode_commit(code)
    }

    /// [`commit_in`](PostgresStore::commit_in) for a tokio-postgres client or transaction
    /// (it runs on that client only, so it may be awaited on any runtime).
    ///
    /// # Errors
    /// As [`commit_in`](PostgresStore::commit_in).
    pub async fn commit_in_async(
        &self,
        client: &impl tokio_postgres::GenericClient,
        respondent: &str,
        category: u32,
    ) -> Result<Completion, StoreError> {
        super::asynch::commit_in(self.layout.survey(), client, respondent, category).await
    }

    fn idle(&self) -> MutexGuard<'_, Vec<Conn>> {
        // The pool holds only whole connections, so a poisoned lock still guards a
        // consistent list.
        self.idle.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn checkout(&self) -> Result<Conn, Error> {
        if let Some(conn) = self.idle().pop() {
            return Ok(conn);
        }
        Ok(Conn {
            client: self.config.connect(NoTls)?,
            statements: None,
        })
    }

    fn checkin(&self, conn: Conn) {
        let mut idle = self.idle();
        if idle.len() < self.options.pool_size && !conn.client.is_closed() {
            idle.push(conn);
        }
    }

    /// Runs `call` on a pooled connection with the retry rules of the module docs; `writes`
    /// when a lost reply leaves the outcome unknown.
    fn run<T>(
        &self,
        writes: bool,
        mut call: impl FnMut(&mut Conn) -> Result<T, Error>,
    ) -> Result<T, StoreError> {
        let mut attempts = 0;
        let mut maybe_applied = false;
        loop {
            attempts += 1;
            let (err, sent) = match self.checkout() {
                Err(e) => (e, false),
                Ok(mut conn) => match call(&mut conn) {
                    Ok(v) => {
                        self.checkin(conn);
                        return Ok(v);
                    }
                    Err(e) => {
                        if sql::connection_lost(&e) {
                            // After a restart every idle connection is dead too: drop them
                            // rather than spend the retries finding out one by one.
                            self.idle().clear();
                        } else {
                            self.checkin(conn);
                        }
                        (e, writes)
                    }
                },
            };
            match sql::classify(err, sent) {
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
                    std::thread::sleep(sql::backoff(&self.options, attempts));
                }
            }
        }
    }
}

/// An error inside the caller's transaction: nothing is retried there.
pub(super) fn in_caller_tx(e: Error) -> StoreError {
    match sql::classify(e, false) {
        Failure::Fatal(e) => e,
        Failure::Retry { error, .. } => sql::unavailable(1, false, error),
    }
}

impl QuotaStore for PostgresStore {
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
        let (category, ids, ttl) =
            sql::hold_args(&self.layout, respondent, category, counters, ttl_ms)?;
        let survey = self.layout.survey();
        let (code, val) = self.run(true, |c| {
            let st = c.statements()?.hold.clone();
            let row = c
                .client
                .query_one(&st, &[&survey, &respondent, &category, &ids, &ttl])?;
            Ok((row.try_get::<_, i32>(0)?, row.try_get::<_, i64>(1)?))
        })?;
        sql::decode_hold(code, val)
    }

    fn commit(&self, respondent: &str, category: u32) -> Result<Completion, StoreError> {
        check_respondent(respondent)?;
        let category = sql::category(category)?;
        let survey = self.layout.survey();
        let code = self.run(true, |c| {
            let st = c.statements()?.commit.clone();
            c.client
                .query_one(&st, &[&survey, &respondent, &category])?
                .try_get(0)
        })?;
        sql::decode_commit(code)
    }

    fn release(&self, respondent: &str, category: u32) -> Result<bool, StoreError> {
        check_respondent(respondent)?;
        let category = sql::category(category)?;
        let survey = self.layout.survey();
        self.run(true, |c| {
            let st = c.statements()?.release.clone();
            c.client
                .query_one(&st, &[&survey, &respondent, &category])?
                .try_get(0)
        })
    }

    fn release_all(&self, respondent: &str) -> Result<Vec<Released>, StoreError> {
        check_respondent(respondent)?;
        let survey = self.layout.survey();
        let rows = self.run(true, |c| {
            let st = c.statements()?.release_all.clone();
            c.client
                .query(&st, &[&survey, &respondent])?
                .iter()
                .map(|r| Ok((r.try_get::<_, i32>(0)?, r.try_get::<_, Vec<i32>>(1)?)))
                .collect::<Result<Vec<_>, Error>>()
        })?;
        sql::decode_released(rows)
    }

    fn expire(&self) -> Result<u64, StoreError> {
        let survey = self.layout.survey();
        let batch = sql::batch(&self.options);
        let mut total = 0;
        loop {
            let (released, seen) = self.run(true, |c| {
                let st = c.statements()?.expire.clone();
                let row = c.client.query_one(&st, &[&survey, &batch])?;
                Ok((row.try_get::<_, i64>(0)?, row.try_get::<_, i64>(1)?))
            })?;
            total += released.max(0) as u64;
            if seen < i64::from(batch) {
                // Saved interviews past their deadline read as absent already: this only
                // reclaims their rows.
                self.run(true, |c| {
                    c.client
                        .execute(sql::EXPIRE_INTERVIEWS, &[&survey])
                        .map(drop)
                })?;
                return Ok(total);
            }
        }
    }

    fn read(&self, out: &mut Vec<Count>) -> Result<(), StoreError> {
        let survey = self.layout.survey();
        let rows = self.run(false, |c| {
            let st = c.statements()?.read.clone();
            c.client
                .query(&st, &[&survey])?
                .iter()
                .map(sql::count_row)
                .collect::<Result<Vec<_>, Error>>()
        })?;
        sql::decode_read(rows, self.layout.len(), out)
    }

    fn save_interview(&self, respondent: &str, state: &str, ttl_ms: u64) -> Result<(), StoreError> {
        check_respondent(respondent)?;
        let survey = self.layout.survey();
        let ttl = sql::ttl(ttl_ms);
        self.run(true, |c| {
            c.client
                .execute(sql::SAVE_INTERVIEW, &[&survey, &respondent, &state, &ttl])
                .map(drop)
        })
    }

    fn load_interview(&self, respondent: &str) -> Result<Option<String>, StoreError> {
        check_respondent(respondent)?;
        let survey = self.layout.survey();
        self.run(false, |c| {
            c.client
                .query_opt(sql::LOAD_INTERVIEW, &[&survey, &respondent])?
                .map(|r| r.try_get(0))
                .transpose()
        })
    }

    fn set_max(
        &self,
        counter: CounterId,
        max: u32,
        kind: ChangeKind,
    ) -> Result<Change, StoreError> {
        self.layout.check_counters(&[counter])?;
        let survey = self.layout.survey();
        let (id, to, k) = (counter as i32, i64::from(max), kind.as_str());
        // Not idempotent (a repeat records a second change): a lost reply is indeterminate.
        let row = self.run(true, |c| {
            c.client
                .query_opt(sql::SET_MAX, &[&survey, &id, &to, &k])?
                .map(|r| Ok((r.try_get::<_, i64>(0)?, r.try_get::<_, i64>(1)?)))
                .transpose()
        })?;
        sql::decode_set_max(row, counter, max, kind)
    }

    fn changes(&self) -> Result<Vec<Change>, StoreError> {
        let survey = self.layout.survey();
        let rows = self.run(false, |c| {
            c.client
                .query(super::join::CHANGES, &[&survey])?
                .iter()
                .map(super::join::change_row)
                .collect::<Result<Vec<_>, Error>>()
        })?;
        rows.into_iter().collect()
    }
}
