//! The store semantics on the in-process store and on one Redis server; joining, purging.

use quotaroute::live::{Completion, SystemClock};
use quotaroute::store::{
    Count, Counter, Hold, Layout, MemoryStore, QuotaStore, RedisOptions, RedisStore, StoreError,
    conformance,
};

use crate::semantics;
use crate::support::{SHARED, cli, layout};

fn shared(layout: Layout) -> RedisStore {
    RedisStore::connect(SHARED, layout, RedisOptions::default())
        .expect("Redis on 127.0.0.1:6379 (start it: redis-server --port 6379)")
}

#[test]
fn memory_store_passes_the_checks() {
    semantics::run_all(&|l| Box::new(MemoryStore::new(l, SystemClock)));
}

#[test]
fn redis_store_passes_the_checks() {
    semantics::run_all(&|l| Box::new(shared(l)));
}

#[test]
fn redis_store_passes_the_conformance_suite() {
    if let Err(f) = conformance::run_all(&shared) {
        panic!("{f}");
    }
}

#[test]
fn a_second_node_joins_and_shares_the_counts() {
    let l = layout("join", &[("a", 3), ("b", 1)]);
    let one = shared(l.clone());
    let two = shared(l.clone());
    assert_eq!(two.layout(), &l);
    assert!(matches!(
        one.hold("r1", 0, &[1], 60_000),
        Ok(Hold::Accepted { .. })
    ));
    assert_eq!(
        two.hold("r2", 0, &[1], 60_000),
        Ok(Hold::Full { counter: 1 })
    );
    assert_eq!(two.commit("r1", 0), Ok(Completion::Completed));
    let mut out = Vec::new();
    one.read(&mut out).expect("read");
    assert_eq!(
        out[1],
        Count {
            max: 1,
            pending: 0,
            completed: 1
        }
    );
}

#[test]
fn a_node_with_other_counters_is_refused() {
    let l = layout("mismatch", &[("a", 10), ("b", 5)]);
    let _first = shared(l.clone());
    let other = |counters: Vec<Counter>| {
        RedisStore::connect(
            SHARED,
            Layout::new(l.survey(), counters).expect("layout"),
            RedisOptions::default(),
        )
    };
    semantics::joins_follow_the_target_rule(&_first, &other);
}

#[test]
fn another_key_layout_version_is_refused() {
    let l = layout("version", &[("a", 10)]);
    let _first = shared(l.clone());
    let meta = format!("qr:v1:{{{}}}:meta", l.survey());
    assert_eq!(cli(6379, &[], &["hset", &meta, "version", "2"]).trim(), "0");
    match RedisStore::connect(SHARED, l, RedisOptions::default()) {
        Err(StoreError::Version {
            found, expected, ..
        }) => {
            assert_eq!((found.as_str(), expected), ("2", 1));
        }
        other => panic!("expected Version, got {other:?}"),
    }
}

#[test]
fn purge_removes_every_key_of_the_survey() {
    let l = layout("purge", &[("a", 10)]);
    let store = shared(l.clone());
    assert!(matches!(
        store.hold("r1", 0, &[0], 60_000),
        Ok(Hold::Accepted { .. })
    ));
    assert_eq!(store.commit("r1", 0), Ok(Completion::Completed));
    store.purge().expect("purge");
    let pattern = format!("qr:v1:{{{}}}:*", l.survey());
    assert_eq!(cli(6379, &[], &["keys", &pattern]).trim(), "");
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
    let again = shared(l);
    let mut out = Vec::new();
    again.read(&mut out).expect("read");
    assert_eq!(
        out,
        vec![Count {
            max: 10,
            pending: 0,
            completed: 0
        }]
    );
}

#[test]
fn a_retry_after_a_lost_reply_counts_once() {
    let store = shared(layout("lost", &[("a", 10)]));
    let Ok(Hold::Accepted { deadline }) = store.hold("r1", 0, &[0], 60_000) else {
        panic!("hold not accepted");
    };
    // The caller never saw that reply and retries.
    assert_eq!(
        store.hold("r1", 0, &[0], 60_000),
        Ok(Hold::AlreadyHeld { deadline })
    );
    assert_eq!(store.commit("r1", 0), Ok(Completion::Completed));
    assert_eq!(store.commit("r1", 0), Ok(Completion::AlreadyCompleted));
    let mut out = Vec::new();
    store.read(&mut out).expect("read");
    assert_eq!(
        out[0],
        Count {
            max: 10,
            pending: 0,
            completed: 1
        }
    );
}

#[test]
fn deadlines_are_on_the_server_clock() {
    let store = shared(layout("clock", &[("a", 10)]));
    let time = cli(6379, &[], &["time"]);
    let secs: u64 = time
        .lines()
        .next()
        .and_then(|s| s.trim().parse().ok())
        .expect("TIME");
    let Ok(Hold::Accepted { deadline }) = store.hold("r1", 0, &[0], 5_000) else {
        panic!("hold not accepted");
    };
    let server_ms = secs * 1000;
    assert!(
        deadline.millis() >= server_ms + 4_000 && deadline.millis() <= server_ms + 7_000,
        "deadline {} vs server time {server_ms}",
        deadline.millis()
    );
}
