//! Joining a survey: the schema's migrations applied, the survey created when absent or
//! its stored counters compared, in one transaction under an advisory lock. The blocking
//! and the async store run the same statements.

use postgres::{Error, Row};
use tokio_postgres::Client;

use crate::store::change::reconcile;
use crate::store::{Change, ChangeKind, Counter, Layout, StoreError};

use super::sql::{MIGRATION_LOCK, PG_MIGRATIONS, PG_SCHEMA_VERSION, SURVEY_FORMAT, protocol};

const LOCK: &str = "SELECT pg_advisory_xact_lock($1)";
const SCHEMA_EXISTS: &str = "SELECT to_regclass('quotaroute.migrations') IS NOT NULL";
// CREATE SCHEMA IF NOT EXISTS needs the CREATE privilege even when the schema exists: the
// stores look first (SCHEMA_EXISTS), so a role without it can use a schema its DBA set up.
const CREATE_SCHEMA: &str = "CREATE SCHEMA IF NOT EXISTS quotaroute;
     CREATE TABLE quotaroute.migrations (
         version int PRIMARY KEY,
         applied timestamptz NOT NULL DEFAULT now())";
const APPLIED: &str = "SELECT coalesce(max(version), 0) FROM quotaroute.migrations";
const RECORD: &str = "INSERT INTO quotaroute.migrations (version) VALUES ($1)";
const CREATE_SURVEY: &str = "INSERT INTO quotaroute.surveys (survey, version)
     VALUES ($1, $2) ON CONFLICT (survey) DO NOTHING";
const CREATE_COUNTERS: &str = "INSERT INTO quotaroute.counters (survey, id, name, max)
     SELECT $1, * FROM unnest($2::int[], $3::text[], $4::bigint[])";
const SURVEY_VERSION: &str = "SELECT version FROM quotaroute.surveys WHERE survey = $1";
pub(super) const CHANGES: &str =
    "SELECT seq, counter, old_max, new_max, kind FROM quotaroute.changes
     WHERE survey = $1 ORDER BY seq";
const STORED: &str = "SELECT name, max FROM quotaroute.counters WHERE survey = $1 ORDER BY id";

/// The schema version found, checked against this build's: the migrations still to apply.
fn pending_migrations(
    applied: i32,
    survey: &str,
) -> Result<impl Iterator<Item = (i32, &'static str)>, StoreError> {
    match u32::try_from(applied) {
        Ok(a) if a <= PG_SCHEMA_VERSION => Ok(PG_MIGRATIONS
            .iter()
            .enumerate()
            .skip(a as usize)
            .map(|(i, m)| (i as i32 + 1, *m))),
        _ => Err(StoreError::Version {
            survey: survey.to_string(),
            found: format!("schema {applied}"),
            expected: PG_SCHEMA_VERSION,
        }),
    }
}

/// The new survey's counters as the arrays of CREATE_COUNTERS: ids, names, maxes.
fn counter_arrays(given: &Layout) -> (Vec<i32>, Vec<&str>, Vec<i64>) {
    (
        (0..given.len() as i32).collect(),
        given.counters().iter().map(|c| c.name.as_str()).collect(),
        given.counters().iter().map(|c| i64::from(c.max)).collect(),
    )
}

/// The survey's version as stored, checked.
fn check_survey_version(found: i32, survey: &str) -> Result<(), StoreError> {
    if found == SURVEY_FORMAT as i32 {
        return Ok(());
    }
    Err(StoreError::Version {
        survey: survey.to_string(),
        found: found.to_string(),
        expected: SURVEY_FORMAT,
    })
}

/// One row of CHANGES: a change, or the typed error for values out of range.
pub(super) fn change_row(row: &Row) -> Result<Result<Change, StoreError>, Error> {
    let (seq, counter, from, to, kind): (i64, i32, i64, i64, String) = (
        row.try_get(0)?,
        row.try_get(1)?,
        row.try_get(2)?,
        row.try_get(3)?,
        row.try_get(4)?,
    );
    let bad = || {
        protocol(
            format!("changes: row {seq} {counter} {from} {to} {kind}"),
            None,
        )
    };
    Ok((|| {
        Ok(Change {
            seq: u64::try_from(seq).map_err(|_| bad())?,
            counter: u32::try_from(counter).map_err(|_| bad())?,
            from: u32::try_from(from).map_err(|_| bad())?,
            to: u32::try_from(to).map_err(|_| bad())?,
            kind: ChangeKind::parse(&kind).ok_or_else(bad)?,
        })
    })())
}

/// One stored counter row (name, max) of STORED.
fn stored_counter(row: &Row) -> Result<(String, i64), Error> {
    Ok((row.try_get(0)?, row.try_get(1)?))
}

/// Applies the missing migrations and joins the survey (creating it when absent) in one
/// transaction under the advisory lock. The inner result is the stored layout, or why this
/// node may not join. (The async store runs the same statements, awaited.)
pub(super) fn migrate_and_join(
    client: &mut postgres::Client,
    given: &Layout,
) -> Result<Result<Layout, StoreError>, Error> {
    let survey = given.survey();
    let mut tx = client.transaction()?;
    tx.execute(LOCK, &[&MIGRATION_LOCK])?;
    if !tx.query_one(SCHEMA_EXISTS, &[])?.try_get::<_, bool>(0)? {
        tx.batch_execute(CREATE_SCHEMA)?;
    }
    let applied: i32 = tx.query_one(APPLIED, &[])?.try_get(0)?;
    let pending = match pending_migrations(applied, survey) {
        Ok(p) => p,
        Err(e) => return Ok(Err(e)),
    };
    for (version, migration) in pending {
        tx.batch_execute(migration)?;
        tx.execute(RECORD, &[&version])?;
    }
    let version = SURVEY_FORMAT as i32;
    if tx.execute(CREATE_SURVEY, &[&survey, &version])? == 1 {
        let (ids, names, maxes) = counter_arrays(given);
        tx.execute(CREATE_COUNTERS, &[&survey, &ids, &names, &maxes])?;
    }
    let found: i32 = tx.query_one(SURVEY_VERSION, &[&survey])?.try_get(0)?;
    if let Err(e) = check_survey_version(found, survey) {
        return Ok(Err(e));
    }
    let stored = tx
        .query(STORED, &[&survey])?
        .iter()
        .map(stored_counter)
        .collect::<Result<Vec<_>, Error>>()?;
    let changes = tx
        .query(CHANGES, &[&survey])?
        .iter()
        .map(change_row)
        .collect::<Result<Vec<_>, Error>>()?;
    tx.commit()?;
    Ok(compare(given, stored, changes))
}

/// The stored layout (the maxes now) when it agrees with the one given by the rule of
/// [`reconcile`], else the typed mismatch.
fn compare(
    given: &Layout,
    stored: Vec<(String, i64)>,
    changes: Vec<Result<Change, StoreError>>,
) -> Result<Layout, StoreError> {
    let survey = given.survey().to_string();
    let counters = stored
        .into_iter()
        .map(|(name, max)| match u32::try_from(max) {
            Ok(max) => Ok(Counter::new(name, max)),
            Err(_) => Err(protocol(
                format!("join: counter {name} has max {max}"),
                None,
            )),
        })
        .collect::<Result<Vec<_>, _>>()?;
    let stored = Layout::new(survey.as_str(), counters)
        .map_err(|e| protocol(format!("join: stored layout is invalid: {e}"), None))?;
    let changes = changes.into_iter().collect::<Result<Vec<_>, _>>()?;
    reconcile(given, &stored, &changes)?;
    Ok(stored)
}

/// Applies the migrations and joins the survey: the blocking store's transaction
/// (`migrate_and_join`), statement for statement, awaited. Errors say whether a
/// statement had been sent.
pub(super) async fn migrate_and_join_async(
    client: &mut Client,
    given: &Layout,
) -> Result<Result<Layout, StoreError>, (Error, bool)> {
    let sent = |e: Error| (e, true);
    let survey = given.survey();
    let tx = client.transaction().await.map_err(|e| (e, false))?;
    tx.execute(LOCK, &[&MIGRATION_LOCK]).await.map_err(sent)?;
    let exists: bool = tx
        .query_one(SCHEMA_EXISTS, &[])
        .await
        .and_then(|r| r.try_get(0))
        .map_err(sent)?;
    if !exists {
        tx.batch_execute(CREATE_SCHEMA).await.map_err(sent)?;
    }
    let applied: i32 = tx
        .query_one(APPLIED, &[])
        .await
        .and_then(|r| r.try_get(0))
        .map_err(sent)?;
    let pending = match pending_migrations(applied, survey) {
        Ok(p) => p,
        Err(e) => return Ok(Err(e)),
    };
    for (version, migration) in pending {
        tx.batch_execute(migration).await.map_err(sent)?;
        tx.execute(RECORD, &[&version]).await.map_err(sent)?;
    }
    let version = SURVEY_FORMAT as i32;
    if tx
        .execute(CREATE_SURVEY, &[&survey, &version])
        .await
        .map_err(sent)?
        == 1
    {
        let (ids, names, maxes) = counter_arrays(given);
        tx.execute(CREATE_COUNTERS, &[&survey, &ids, &names, &maxes])
            .await
            .map_err(sent)?;
    }
    let found: i32 = tx
        .query_one(SURVEY_VERSION, &[&survey])
        .await
        .and_then(|r| r.try_get(0))
        .map_err(sent)?;
    if let Err(e) = check_survey_version(found, survey) {
        return Ok(Err(e));
    }
    let stored = tx
        .query(STORED, &[&survey])
        .await
        .map_err(sent)?
        .iter()
        .map(stored_counter)
        .collect::<Result<Vec<_>, Error>>()
        .map_err(sent)?;
    let changes = tx
        .query(CHANGES, &[&survey])
        .await
        .map_err(sent)?
        .iter()
        .map(change_row)
        .collect::<Result<Vec<_>, Error>>()
        .map_err(sent)?;
    tx.commit().await.map_err(sent)?;
    Ok(compare(given, stored, changes))
}
