//! The PostgreSQL store on the shared server (127.0.0.1:5432): the conformance suite, joining,
//! concurrent nodes, a statement timeout, and the complete inside the caller's transaction.

use std::sync::Mutex;
use std::time::Duration;

use ::postgres::{Client, NoTls};
use quotaroute::live::Completion;
use quotaroute::store::{
    Count, Counter, Hold, Layout, PostgresOptions, PostgresStore, QuotaStore, StoreError,
    conformance,
};
use rand::rngs::Xoshiro256PlusPlus;
use rand::{RngExt, SeedableRng};

use crate::semantics;
use crate::support::layout;

/// The shared server CI starts.
pub const SHARED: &str = "postgres://postgres@127.0.0.1:5432/postgres";

fn shared(layout: Layout) -> PostgresStore {
    PostgresStore::connect(SHARED, layout, PostgresOptions::default())
        .expect("PostgreSQL on 127.0.0.1:5432 (user postgres, trust auth)")
}

fn sql() -> Client {
    Client::connect(SHARED, NoTls).expect("connect to PostgreSQL")
}

fn counts(store: &dyn QuotaStore) -> Vec<Count> {
    let mut out = Vec::new();
    store.read(&mut out).expect("read");
    out
}

#[test]
fn postgres_store_passes_the_conformance_suite() {
    if let Err(f) = conformance::run_all(&shared) {
        panic!("{f}");
    }
}

#[test]
fn postgres_a_second_node_joins_and_shares_the_counts() {
    let l = layout("pg-join", &[("a", 3), ("b", 1)]);
    let one = shared(l.clone());
    let two = shared(l.clone());
    assert_eq!(two.layout(), &l);
    assert!(one.hold("r1", 0, &[1], 60_000).expect("hold").is_accepted());
    assert_eq!(
        two.hold("r2", 0, &[1], 60_000),
        Ok(Hold::Full { counter: 1 })
    );
    assert_eq!(two.commit("r1", 0), Ok(Completion::Completed));
    assert_eq!(
        counts(&one)[1],
        Count {
            max: 1,
            pending: 0,
            completed: 1
        }
    );
}

#[test]
fn postgres_a_node_with_other_counters_is_refused() {
    let l = layout("pg-mismatch", &[("a", 10), ("b", 5)]);
    let _first = shared(l.clone());
    let other = |counters: Vec<Counter>| {
        PostgresStore::connect(
            SHARED,
            Layout::new(l.survey(), counters).expect("layout"),
            PostgresOptions::default(),
        )
    };
    semantics::joins_follow_the_target_rule(&_first, &other);
}

#[test]
fn postgres_another_survey_version_is_refused_and_purge_removes_a_survey() {
    let l = layout("pg-version", &[("a", 10)]);
    let store = shared(l.clone());
    assert!(
        store
            .hold("r1", 0, &[0], 60_000)
            .expect("hold")
            .is_accepted()
    );
    let mut db = sql();
    db.execute(
        "UPDATE quotaroute.surveys SET version = 99 WHERE survey = $1",
        &[&l.survey()],
    )
    .expect("update");
    match PostgresStore::connect(SHARED, l.clone(), PostgresOptions::default()) {
        Err(StoreError::Version {
            found, expected, ..
        }) => assert_eq!((found.as_str(), expected), ("99", 1)),
        other => panic!("expected Version, got {other:?}"),
    }
    store.purge().expect("purge");
    let left: i64 = db
        .query_one(
            "SELECT (SELECT count(*) FROM quotaroute.counters WHERE survey = $1)
                  + (SELECT count(*) FROM quotaroute.holds WHERE survey = $1)",
            &[&l.survey()],
        )
        .and_then(|r| r.try_get(0))
        .expect("count rows");
    assert_eq!(left, 0);
    // A node still connected gets a typed error, not a panic or a silent count.
    assert!(matches!(
        store.hold("r2", 0, &[0], 60_000),
        Err(StoreError::Protocol { .. })
    ));
    assert!(matches!(
        store.read(&mut Vec::new()),
        Err(StoreError::Protocol { .. })
    ));
    // Joining again creates the survey afresh.
    assert_eq!(
        counts(&shared(l)),
        vec![Count {
            max: 10,
            pending: 0,
            completed: 0
        }]
    );
}

#[test]
fn postgres_deadlines_are_on_the_database_clock() {
    let store = shared(layout("pg-clock", &[("a", 10)]));
    let db_ms: i64 = sql()
        .query_one(
            "SELECT floor(extract(epoch FROM clock_timestamp()) * 1000)::bigint",
            &[],
        )
        .and_then(|r| r.try_get(0))
        .expect("clock");
    let Ok(Hold::Accepted { deadline }) = store.hold("r1", 0, &[0], 5_000) else {
        panic!("hold not accepted");
    };
    let d = deadline.millis() as i64;
    assert!(
        (db_ms + 5_000..db_ms + 7_000).contains(&d),
        "deadline {d} vs db {db_ms}"
    );
}

/// Several nodes (stores with pools of their own) on one survey, many threads each, random
/// holds across a category and a shared cell, commits and releases: no counter ever passes
/// its max, and the completes read back are exactly those acknowledged.
#[test]
fn postgres_concurrent_nodes_never_overfill() {
    let l = layout(
        "pg-nodes",
        &[("c0", 15), ("c1", 9), ("c2", 12), ("cell", 20)],
    );
    let nodes: Vec<PostgresStore> = (0..4).map(|_| shared(l.clone())).collect();
    let acked = Mutex::new([0u32; 4]);
    std::thread::scope(|s| {
        for (n, store) in nodes.iter().enumerate() {
            for t in 0..3u64 {
                let acked = &acked;
                s.spawn(move || {
                    let mut rng = Xoshiro256PlusPlus::seed_from_u64(n as u64 * 10 + t);
                    for i in 0..120 {
                        let r = format!("n{n}-t{t}-r{}", i % 50);
                        let cat: u32 = rng.random_range(0..3);
                        if rng.random_range(0..5) == 0 {
                            store.release(&r, cat).expect("release");
                            continue;
                        }
                        match store.hold(&r, cat, &[cat, 3], 60_000).expect("hold") {
                            Hold::Accepted { .. } => {
                                if store.commit(&r, cat).expect("commit") == Completion::Completed {
                                    let mut a = acked.lock().expect("acked");
                                    a[cat as usize] += 1;
                                    a[3] += 1;
                                }
                            }
                            Hold::Full { .. }
                            | Hold::AlreadyCompleted
                            | Hold::AlreadyHeld { .. } => {}
                        }
                    }
                });
            }
        }
    });
    let c = counts(&nodes[0]);
    for (i, count) in c.iter().enumerate() {
        assert!(
            count.completed + count.pending <= count.max,
            "counter {i} overfilled: {count:?}"
        );
    }
    let completed: Vec<u32> = c.iter().map(|c| c.completed).collect();
    assert_eq!(completed, acked.into_inner().expect("acked").to_vec());
    assert_eq!(c[3].completed, 20, "the shared cell fills to its max");
}

/// A hold that waits on a row lock past `statement_timeout` is cancelled by the server:
/// a typed, determinate error, and nothing of the hold is left behind.
#[test]
fn postgres_a_statement_timeout_is_a_typed_error_with_no_partial_hold() {
    let l = layout("pg-timeout", &[("a", 10), ("b", 10)]);
    let options = PostgresOptions {
        statement_timeout: Duration::from_millis(150),
        retries: 1,
        backoff_base: Duration::from_millis(10),
        ..PostgresOptions::default()
    };
    let store = PostgresStore::connect(SHARED, l.clone(), options).expect("connect");
    let mut other = sql();
    let mut tx = other.transaction().expect("begin");
    // Another transaction holds counter b's row: the hold takes a's lock, then waits on b.
    tx.execute(
        "SELECT 1 FROM quotaroute.counters WHERE survey = $1 AND id = 1 FOR UPDATE",
        &[&l.survey()],
    )
    .expect("lock b");
    match store.hold("r1", 0, &[0, 1], 60_000) {
        Err(e @ StoreError::Unavailable { attempts: 2, .. }) => {
            assert!(!e.is_indeterminate(), "a cancelled statement rolled back");
            let source = std::error::Error::source(&e).expect("source kept");
            // The source is the store's `Arc<dyn Error>` holding the postgres error.
            let pg = source
                .downcast_ref::<std::sync::Arc<dyn std::error::Error + Send + Sync>>()
                .and_then(|arc| arc.downcast_ref::<::postgres::Error>())
                .or_else(|| source.downcast_ref::<::postgres::Error>())
                .expect("the postgres error is the source");
            assert_eq!(
                pg.code(),
                Some(&::postgres::error::SqlState::QUERY_CANCELED),
                "{pg:?}"
            );
        }
        other => panic!("expected Unavailable after the timeout, got {other:?}"),
    }
    tx.rollback().expect("rollback");
    assert_eq!(
        counts(&store).iter().map(|c| c.pending).collect::<Vec<_>>(),
        vec![0, 0]
    );
    assert_eq!(store.commit("r1", 0), Ok(Completion::NotReserved));
    // With the lock gone the same hold goes through.
    assert!(
        store
            .hold("r1", 0, &[0, 1], 60_000)
            .expect("hold")
            .is_accepted()
    );
}

/// The platform's answer row and the complete commit or roll back together.
#[test]
fn postgres_a_complete_commits_with_the_callers_transaction() {
    let l = layout("pg-tx", &[("a", 10), ("a/cell", 2)]);
    let store = shared(l.clone());
    let mut db = sql();
    db.batch_execute(
        "CREATE TABLE IF NOT EXISTS public.quotaroute_test_answers (
             survey text, respondent text, answer text)",
    )
    .expect("answers table");
    for r in ["ann", "bob"] {
        assert!(
            store
                .hold(r, 0, &[0, 1], 60_000)
                .expect("hold")
                .is_accepted()
        );
    }
    let answers = |db: &mut Client, r: &str| -> i64 {
        db.query_one(
            "SELECT count(*) FROM public.quotaroute_test_answers
             WHERE survey = $1 AND respondent = $2",
            &[&l.survey(), &r],
        )
        .and_then(|row| row.try_get(0))
        .expect("count answers")
    };

    // Rolled back: no answer, no complete, the hold as it was.
    let mut tx = db.transaction().expect("begin");
    tx.execute(
        "INSERT INTO public.quotaroute_test_answers VALUES ($1, 'ann', 'yes')",
        &[&l.survey()],
    )
    .expect("insert");
    assert_eq!(
        store.commit_in(&mut tx, "ann", 0),
        Ok(Completion::Completed)
    );
    tx.rollback().expect("rollback");
    assert_eq!(answers(&mut db, "ann"), 0);
    assert_eq!(
        counts(&store),
        vec![
            Count {
                max: 10,
                pending: 2,
                completed: 0
            },
            Count {
                max: 2,
                pending: 2,
                completed: 0
            }
        ]
    );
    assert!(matches!(
        store.hold("ann", 0, &[0, 1], 60_000),
        Ok(Hold::AlreadyHeld { .. })
    ));

    // Committed: the answer and the complete both.
    let mut tx = db.transaction().expect("begin");
    tx.execute(
        "INSERT INTO public.quotaroute_test_answers VALUES ($1, 'ann', 'yes')",
        &[&l.survey()],
    )
    .expect("insert");
    assert_eq!(
        store.commit_in(&mut tx, "ann", 0),
        Ok(Completion::Completed)
    );
    tx.commit().expect("commit");
    assert_eq!(answers(&mut db, "ann"), 1);
    assert_eq!(counts(&store)[1].completed, 1);
    assert_eq!(store.commit("ann", 0), Ok(Completion::AlreadyCompleted));

    // An unknown respondent inside a transaction: a typed answer, the transaction usable.
    let mut tx = db.transaction().expect("begin");
    assert_eq!(
        store.commit_in(&mut tx, "nobody", 0),
        Ok(Completion::NotReserved)
    );
    tx.commit().expect("commit");
    assert_eq!(store.commit("bob", 0), Ok(Completion::Completed));
    assert_eq!(counts(&store)[1].completed, 2);
}
