//! The SQL the store runs, the schema's migrations, and the sorting of failures.

use std::sync::Arc;
use std::time::Duration;

use postgres::{Error, Row};

use crate::live::{Completion, Timestamp};
use crate::store::error::check_respondent;
use crate::store::{Count, CounterId, Hold, Layout, Released, StoreError};

use super::PostgresOptions;

/// The schema version this build reads and writes: the number of [`PG_MIGRATIONS`].
pub const PG_SCHEMA_VERSION: u32 = 2;

/// The version a survey's row records: the format of its counters and holds, which schema
/// version 2 (saved interviews, a table of its own) left as it was.
pub(super) const SURVEY_FORMAT: u32 = 1;

/// The schema's migrations, in order: migration `i` (from 0) takes the schema from version
/// `i` to `i + 1`. [`PostgresStore::connect`](super::PostgresStore::connect) applies the
/// missing ones itself (recording them in `quotaroute.migrations`); a platform that runs its
/// own migration tool can apply these texts instead, after `CREATE SCHEMA quotaroute`.
pub const PG_MIGRATIONS: &[&str] = &[
    include_str!("sql/0001_schema.sql"),
    include_str!("sql/0002_interviews_and_changes.sql"),
];

// Compile-time check: one migration per schema version.
const _: () = assert!(PG_MIGRATIONS.len() == PG_SCHEMA_VERSION as usize);

/// The advisory lock key under which migrations and survey creation run (several nodes
/// starting at once apply a migration once). The ASCII of "quotarte".
pub(super) const MIGRATION_LOCK: i64 = 0x71_75_6f_74_61_72_74_65;

pub(super) const HOLD: &str = "SELECT code, val FROM quotaroute.hold($1, $2, $3, $4, $5)";
pub(super) const COMMIT: &str = "SELECT quotaroute.commit($1, $2, $3)";
pub(super) const RELEASE: &str = "SELECT quotaroute.release($1, $2, $3)";
pub(super) const RELEASE_ALL: &str =
    "SELECT category, counters FROM quotaroute.release_all($1, $2)";
pub(super) const EXPIRE: &str = "SELECT released, seen FROM quotaroute.expire($1, $2)";
pub(super) const READ: &str =
    "SELECT id, max, pending, completed FROM quotaroute.counters WHERE survey = $1 ORDER BY id";
pub(super) const SAVE_INTERVIEW: &str = "INSERT INTO quotaroute.interviews
     (survey, respondent, state, deadline) VALUES ($1, $2, $3, quotaroute.now_ms() + $4)
     ON CONFLICT (survey, respondent) DO UPDATE SET state = excluded.state,
     deadline = excluded.deadline";
pub(super) const LOAD_INTERVIEW: &str = "SELECT state FROM quotaroute.interviews
     WHERE survey = $1 AND respondent = $2 AND deadline > quotaroute.now_ms()";
pub(super) const EXPIRE_INTERVIEWS: &str = "DELETE FROM quotaroute.interviews
     WHERE survey = $1 AND deadline <= quotaroute.now_ms()";
pub(super) const SET_MAX: &str = "SELECT seq, old_max FROM quotaroute.set_max($1, $2, $3, $4)";
pub(super) const PURGE: &str = "DELETE FROM quotaroute.surveys WHERE survey = $1";

/// A time-to-live as the SQL's bigint milliseconds (at least 1, at most the holds' cap).
pub(super) fn ttl(ttl_ms: u64) -> i64 {
    ttl_ms.clamp(1, MAX_TTL_MS) as i64
}

/// The reply of SET_MAX (`None`: no row, the survey's counters are gone) as the change.
pub(super) fn decode_set_max(
    row: Option<(i64, i64)>,
    counter: CounterId,
    to: u32,
    kind: crate::store::ChangeKind,
) -> Result<crate::store::Change, StoreError> {
    let Some((seq, from)) = row else {
        return Err(protocol(
            "set_max: the survey's counters are missing (was it purged?)",
            None,
        ));
    };
    let bad = || protocol(format!("set_max: row {seq} {from}"), None);
    Ok(crate::store::Change {
        seq: u64::try_from(seq).map_err(|_| bad())?,
        counter,
        from: u32::try_from(from).map_err(|_| bad())?,
        to,
        kind,
    })
}

/// The connection settings of `url` with the store's: the connect timeout (unless the URL
/// sets one), the application name, and `statement_timeout` added to the server options.
pub(super) fn config(
    url: &str,
    options: &PostgresOptions,
) -> Result<tokio_postgres::Config, StoreError> {
    let mut config: tokio_postgres::Config = url
        .parse()
        .map_err(|e| protocol("bad PostgreSQL URL", Some(e)))?;
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(options.connect_timeout);
    }
    if config.get_application_name().is_none() {
        config.application_name("quotaroute");
    }
    let extra = format!("-c statement_timeout={}", millis(options.statement_timeout));
    let merged = match config.get_options() {
        Some(given) => format!("{given} {extra}"),
        None => extra,
    };
    config.options(merged);
    Ok(config)
}

/// Refuses a layout whose counter ids would not fit the schema's `int`.
pub(super) fn check_layout(layout: &Layout) -> Result<(), StoreError> {
    match i32::try_from(layout.len()) {
        Ok(_) => Ok(()),
        Err(_) => Err(protocol("more than 2^31 - 1 counters", None)),
    }
}

/// The statements the stores prepare on each connection (so each call is one round trip).
pub(super) struct Statements {
    pub hold: postgres::Statement,
    pub commit: postgres::Statement,
    pub release: postgres::Statement,
    pub release_all: postgres::Statement,
    pub expire: postgres::Statement,
    pub read: postgres::Statement,
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

/// Deadlines are kept below 10^13 ms past the database's now (about 317 years).
const MAX_TTL_MS: u64 = 10_000_000_000_000;

/// A hold's arguments, checked: the category, the distinct counter ids (a counter named
/// twice takes one slot), the time-to-live.
pub(super) fn hold_args(
    layout: &Layout,
    respondent: &str,
    category: u32,
    counters: &[CounterId],
    ttl_ms: u64,
) -> Result<(i32, Vec<i32>, i64), StoreError> {
    check_respondent(respondent)?;
    layout.check_counters(counters)?;
    let category = self::category(category)?;
    let mut ids: Vec<i32> = Vec::with_capacity(counters.len());
    for &c in counters {
        // Ids fit i32: the layout was checked at connect.
        if !ids.contains(&(c as i32)) {
            ids.push(c as i32);
        }
    }
    Ok((category, ids, ttl_ms.min(MAX_TTL_MS) as i64))
}

/// The sweep's batch size as the schema takes it.
pub(super) fn batch(options: &PostgresOptions) -> i32 {
    i32::try_from(options.expire_batch.max(1)).unwrap_or(i32::MAX)
}

/// release_all's rows `(category, counters)`.
pub(super) fn decode_released(rows: Vec<(i32, Vec<i32>)>) -> Result<Vec<Released>, StoreError> {
    let id = |v: i32| u32::try_from(v).map_err(|_| protocol(format!("release_all: {v}"), None));
    rows.into_iter()
        .map(|(category, counters)| {
            Ok(Released {
                category: id(category)?,
                counters: counters.into_iter().map(id).collect::<Result<_, _>>()?,
            })
        })
        .collect()
}

/// The read's rows into `out`, checked against the layout.
pub(super) fn decode_read(
    rows: Vec<[i64; 4]>,
    len: usize,
    out: &mut Vec<Count>,
) -> Result<(), StoreError> {
    if rows.len() != len {
        return Err(protocol(
            format!(
                "read: {} counters stored, {len} in the layout (was the survey purged?)",
                rows.len()
            ),
            None,
        ));
    }
    let num = |v: i64| u32::try_from(v).map_err(|_| protocol(format!("read: {v}"), None));
    out.clear();
    for (i, [id, max, pending, completed]) in rows.into_iter().enumerate() {
        if id != i as i64 {
            return Err(protocol(format!("read: counter {id} at {i}"), None));
        }
        out.push(Count {
            max: num(max)?,
            pending: num(pending)?,
            completed: num(completed)?,
        });
    }
    Ok(())
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
