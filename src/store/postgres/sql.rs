//! The SQL the store runs, the schema's migrations, and the sorting of failures.

use std::sync::Arc;
use std::time::Duration;

use postgres::{Error, Row};

use crate::live::{Completion, Timestamp};
use crate::store::{Counter, Hold, Layout, StoreError};

use super::PostgresOptions;

/// The schema version this build reads and writes: the number of [`PG_MIGRATIONS`].
pub const PG_SCHEMA_VERSION: u32 = 1;

/// The schema's migrations, in order: migration `i` (from 0) takes the schema from version
/// `i` to `i + 1`. [`PostgresStore::connect`](super::PostgresStore::connect) applies the
/// missing ones itself (recording them in `quotaroute.migrations`); a platform that runs its
/// own migration tool can apply these texts instead, after `CREATE SCHEMA quotaroute`.
pub const PG_MIGRATIONS: &[&str] = &[include_str!("sql/0001_schema.sql")];

// Compile-time check: one migration per schema version.
const _: () = assert!(PG_MIGRATIONS.len() == PG_SCHEMA_VERSION as usize);

/// The advisory lock key under which migrations and survey creation run (several nodes
/// starting at once apply a migration once). The ASCII of "quotarte".
const MIGRATION_LOCK: i64 = 0x71_75_6f_74_61_72_74_65;

pub(super) const HOLD: &str = "SELECT code, val FROM quotaroute.hold($1, $2, $3, $4, $5)";
pub(super) const COMMIT: &str = "SELECT quotaroute.commit($1, $2, $3)";
pub(super) const RELEASE: &str = "SELECT quotaroute.release($1, $2, $3)";
pub(super) const RELEASE_ALL: &str =
    "SELECT category, counters FROM quotaroute.release_all($1, $2)";
pub(super) const EXPIRE: &str = "SELECT released, seen FROM quotaroute.expire($1, $2)";
pub(super) const READ: &str =
    "SELECT id, max, pending, completed FROM quotaroute.counters WHERE survey = $1 ORDER BY id";
pub(super) const PURGE: &str = "DELETE FROM quotaroute.surveys WHERE survey = $1";

/// Applies the missing migrations and joins the survey (creating it when absent) in one
/// transaction under the advisory lock. The inner result is the stored layout, or why this
/// node may not join.
pub(super) fn migrate_and_join(
    client: &mut postgres::Client,
    given: &Layout,
) -> Result<Result<Layout, StoreError>, Error> {
    let mut tx = client.transaction()?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])?;
    // CREATE SCHEMA IF NOT EXISTS needs the CREATE privilege even when the schema exists:
    // look first, so a role without it can use a schema its DBA set up.
    let exists: bool = tx
        .query_one(
            "SELECT to_regclass('quotaroute.migrations') IS NOT NULL",
            &[],
        )?
        .try_get(0)?;
    if !exists {
        tx.batch_execute(
            "CREATE SCHEMA IF NOT EXISTS quotaroute;
             CREATE TABLE quotaroute.migrations (
                 version int PRIMARY KEY,
                 applied timestamptz NOT NULL DEFAULT now())",
        )?;
    }
    let applied: i32 = tx
        .query_one(
            "SELECT coalesce(max(version), 0) FROM quotaroute.migrations",
            &[],
        )?
        .try_get(0)?;
    let survey = given.survey().to_string();
    if applied < 0 || applied as u32 > PG_SCHEMA_VERSION {
        return Ok(Err(StoreError::Version {
            survey,
            found: format!("schema {applied}"),
            expected: PG_SCHEMA_VERSION,
        }));
    }
    for (i, migration) in PG_MIGRATIONS.iter().enumerate().skip(applied as usize) {
        tx.batch_execute(migration)?;
        let version = i as i32 + 1;
        tx.execute(
            "INSERT INTO quotaroute.migrations (version) VALUES ($1)",
            &[&version],
        )?;
    }
    let version = PG_SCHEMA_VERSION as i32;
    let created = tx.execute(
        "INSERT INTO quotaroute.surveys (survey, version) VALUES ($1, $2)
         ON CONFLICT (survey) DO NOTHING",
        &[&survey, &version],
    )?;
    if created == 1 {
        let ids: Vec<i32> = (0..given.len() as i32).collect();
        let names: Vec<&str> = given.counters().iter().map(|c| c.name.as_str()).collect();
        let maxes: Vec<i64> = given.counters().iter().map(|c| i64::from(c.max)).collect();
        tx.execute(
            "INSERT INTO quotaroute.counters (survey, id, name, max)
             SELECT $1, * FROM unnest($2::int[], $3::text[], $4::bigint[])",
            &[&survey, &ids, &names, &maxes],
        )?;
    }
    let found: i32 = tx
        .query_one(
            "SELECT version FROM quotaroute.surveys WHERE survey = $1",
            &[&survey],
        )?
        .try_get(0)?;
    if found != version {
        return Ok(Err(StoreError::Version {
            survey,
            found: found.to_string(),
            expected: PG_SCHEMA_VERSION,
        }));
    }
    let mut counters = Vec::new();
    for row in tx.query(
        "SELECT name, max FROM quotaroute.counters WHERE survey = $1 ORDER BY id",
        &[&survey],
    )? {
        let max: i64 = row.try_get(1)?;
        let max = u32::try_from(max).map_err(|_| protocol(format!("join: max {max}"), None));
        match max {
            Ok(max) => counters.push(Counter::new(row.try_get::<_, String>(0)?, max)),
            Err(e) => return Ok(Err(e)),
        }
    }
    tx.commit()?;
    Ok(compare(given, counters))
}

/// The stored layout when it is the one given, else the typed mismatch.
fn compare(given: &Layout, counters: Vec<Counter>) -> Result<Layout, StoreError> {
    let survey = given.survey().to_string();
    let stored = Layout::new(survey.as_str(), counters)
        .map_err(|e| protocol(format!("join: stored layout is invalid: {e}"), None))?;
    let show =
        |c: Option<&Counter>| c.map_or("none".to_string(), |c| format!("{} {}", c.name, c.max));
    if let Some((index, mine, theirs)) = given.first_difference(&stored) {
        return Err(StoreError::LayoutMismatch {
            survey,
            index,
            stored: show(theirs),
            given: show(mine),
        });
    }
    Ok(stored)
}

pub(super) fn protocol(detail: impl Into<String>, source: Option<Error>) -> StoreError {
    StoreError::Protocol {
        detail: detail.into(),
        source: source.map(|e| Arc::new(e) as _),
    }
}

/// A category as the schema keeps it (`int`).
pub(super) fn category(category: u32) -> Result<i32, StoreError> {
    i32::try_from(category).map_err(|_| protocol(format!("category {category} > 2^31 - 1"), None))
}

fn deadline(v: i64) -> Result<Timestamp, StoreError> {
    u64::try_from(v)
        .map(Timestamp)
        .map_err(|_| protocol(format!("hold: deadline {v} is negative"), None))
}

pub(super) fn decode_hold(code: i32, val: i64) -> Result<Hold, StoreError> {
    match code {
        0 => Ok(Hold::Accepted {
            deadline: deadline(val)?,
        }),
        1 => Ok(Hold::AlreadyHeld {
            deadline: deadline(val)?,
        }),
        2 => Ok(Hold::AlreadyCompleted),
        3 => u32::try_from(val)
            .map(|counter| Hold::Full { counter })
            .map_err(|_| protocol(format!("hold: full counter {val}"), None)),
        _ => Err(protocol(format!("hold: unexpected code {code}"), None)),
    }
}

pub(super) fn decode_commit(code: i32) -> Result<Completion, StoreError> {
    match code {
        0 => Ok(Completion::Completed),
        1 => Ok(Completion::AlreadyCompleted),
        2 => Ok(Completion::Expired),
        3 => Ok(Completion::NotReserved),
        _ => Err(protocol(format!("commit: unexpected code {code}"), None)),
    }
}

/// One `(id, max, pending, completed)` row of the read.
pub(super) fn count_row(row: &Row) -> Result<[i64; 4], Error> {
    Ok([
        i64::from(row.try_get::<_, i32>(0)?),
        row.try_get(1)?,
        row.try_get(2)?,
        row.try_get(3)?,
    ])
}

/// What to do after a failed attempt.
pub(super) enum Failure {
    /// Try again after a backoff; `maybe_applied` when the statement may have committed.
    Retry { maybe_applied: bool, error: Error },
    /// Give up with this error.
    Fatal(StoreError),
}

/// Sorts an error: transient ones are retried, the rest reported as they are. `sent` is true
/// when the statement had been sent (so, autocommitted, it may have run).
pub(super) fn classify(e: Error, sent: bool) -> Failure {
    let retry = |maybe_applied: bool, error: Error| Failure::Retry {
        maybe_applied,
        error,
    };
    let Some(code) = e.code().map(|c| c.code().to_string()) else {
        // No SQLSTATE: the connection failed (refused, reset, closed, timed out) or a reply
        // could not be decoded. Only the first is worth a retry.
        let io = std::error::Error::source(&e).is_some_and(|s| s.is::<std::io::Error>());
        return if e.is_closed() || io || e.to_string().contains("connect") {
            retry(sent, e)
        } else {
            Failure::Fatal(protocol(describe(&e), Some(e)))
        };
    };
    match code.as_str() {
        // Rolled back whole by the server; a fresh attempt may succeed: a deadlock, a
        // serialisation failure, a statement timeout, two first holds of one key racing to
        // insert it, a server starting up (before running anything).
        "40P01" | "40001" | "57014" | "23505" | "57P03" => retry(false, e),
        // The server was shut down or crashed under a running statement: it rolled back,
        // unless it had committed just before the reply was lost.
        "57P01" | "57P02" => retry(sent, e),
        c if c.starts_with("08") => retry(sent, e),
        c if c.starts_with("28") => Failure::Fatal(protocol("authentication failed", Some(e))),
        "QR001" => Failure::Fatal(protocol(
            "the survey's counters are missing (was it purged?)",
            Some(e),
        )),
        _ => Failure::Fatal(protocol(describe(&e), Some(e))),
    }
}

/// The error's text with the database's own message (`postgres::Error` shows only "db
/// error" and leaves the rest to its source).
fn describe(e: &Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{}: {}", db.code().code(), db.message()),
        None => e.to_string(),
    }
}

/// True for a failure that means the connection (and likely every idle one) is gone.
pub(super) fn connection_lost(e: &Error) -> bool {
    e.is_closed()
        || e.code().is_none_or(|c| {
            let c = c.code();
            c.starts_with("08") || c == "57P01" || c == "57P02"
        })
}

/// The wait before retry `attempt` (1 for the first retry): `backoff_base` doubled per
/// retry, at most `backoff_max`.
pub(super) fn backoff(options: &PostgresOptions, attempt: u32) -> Duration {
    let factor = 1u32 << attempt.saturating_sub(1).min(16);
    options
        .backoff_base
        .saturating_mul(factor)
        .min(options.backoff_max)
}

/// The error after the last attempt.
pub(super) fn unavailable(attempts: u32, indeterminate: bool, e: Error) -> StoreError {
    StoreError::Unavailable {
        attempts,
        indeterminate,
        source: Arc::new(e),
    }
}

/// Duration as whole milliseconds for a server setting (at least 1: 0 means "none").
pub(super) fn millis(d: Duration) -> u128 {
    d.as_millis().max(1)
}
