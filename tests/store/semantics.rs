//! The store semantics every QuotaStore must show (MemoryStore's), checked on any store
//! made by `make`. Runs on MemoryStore too, so the checks themselves are checked.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use quotaroute::live::Completion;
use quotaroute::store::{ChangeKind, Count, Counter, Hold, Layout, QuotaStore, StoreError};

use crate::support::layout;

/// Makes a store of a layout (a fresh survey each time).
pub type Make<'a> = &'a dyn Fn(Layout) -> Box<dyn QuotaStore>;

pub fn run_all(make: Make) {
    basics(make);
    all_or_none(make);
    expiry(make);
    release_all(make);
    last_slots_under_contention(make, 50, 47, 10);
    last_slots_under_contention(make, 20, 19, 3);
    stress(make);
}

fn counts(store: &dyn QuotaStore) -> Vec<Count> {
    let mut out = Vec::new();
    store.read(&mut out).expect("read");
    out
}

fn accepted(h: Hold) -> bool {
    matches!(h, Hold::Accepted { .. })
}

pub fn basics(make: Make) {
    let store = make(layout("basics", &[("a", 2), ("b", 3)]));
    assert_eq!(store.layout().len(), 2);
    let h = store.hold("ann", 0, &[0, 1, 1], 60_000).expect("hold");
    let Hold::Accepted { deadline } = h else {
        panic!("first hold not accepted: {h:?}");
    };
    // A retried hold (its reply lost) takes nothing more.
    assert_eq!(
        store.hold("ann", 0, &[0, 1], 60_000),
        Ok(Hold::AlreadyHeld { deadline })
    );
    let c = counts(&*store);
    assert_eq!((c[0].max, c[0].pending, c[0].completed), (2, 1, 0));
    assert_eq!((c[1].max, c[1].pending, c[1].completed), (3, 1, 0)); // named twice: one slot
    assert_eq!(store.commit("ann", 0), Ok(Completion::Completed));
    assert_eq!(store.commit("ann", 0), Ok(Completion::AlreadyCompleted));
    assert_eq!(
        store.hold("ann", 0, &[0], 60_000),
        Ok(Hold::AlreadyCompleted)
    );
    assert_eq!(store.commit("bob", 0), Ok(Completion::NotReserved));
    assert_eq!(store.release("bob", 0), Ok(false));
    assert_eq!(store.release("ann", 0), Ok(false)); // a complete is not released
    assert!(accepted(store.hold("bob", 1, &[0], 60_000).expect("hold")));
    assert_eq!(
        store.hold("cy", 1, &[0], 60_000),
        Ok(Hold::Full { counter: 0 })
    );
    assert_eq!(store.release("bob", 1), Ok(true));
    assert_eq!(store.release("bob", 1), Ok(false));
    let c = counts(&*store);
    assert_eq!((c[0].pending, c[0].completed), (0, 1));
    assert_eq!((c[1].pending, c[1].completed), (0, 1));
    assert!(matches!(
        store.hold("dee", 0, &[0, 2], 1000),
        Err(StoreError::UnknownCounter { counter: 2, len: 2 })
    ));
    assert!(matches!(
        store.hold("", 0, &[0], 1000),
        Err(StoreError::RespondentKey { len: 0 })
    ));
    let long = "x".repeat(513);
    assert!(matches!(
        store.commit(&long, 0),
        Err(StoreError::RespondentKey { len: 513 })
    ));
    // An empty set of counters holds nothing, but the hold is kept (as MemoryStore does).
    assert!(accepted(store.hold("eve", 4, &[], 60_000).expect("hold")));
    assert!(matches!(
        store.hold("eve", 4, &[], 60_000),
        Ok(Hold::AlreadyHeld { .. })
    ));
    assert_eq!(store.commit("eve", 4), Ok(Completion::Completed));
    // Respondent keys are opaque: spaces, colons and UTF-8 are fine.
    assert!(accepted(
        store.hold("a b:c ü", 3, &[1], 60_000).expect("hold")
    ));
    assert_eq!(store.commit("a b:c ü", 3), Ok(Completion::Completed));
    assert_eq!(counts(&*store)[1].completed, 2);
}

pub fn all_or_none(make: Make) {
    let store = make(layout("allornone", &[("a", 1), ("b", 5), ("c", 5)]));
    assert!(accepted(
        store.hold("r1", 0, &[0, 1], 60_000).expect("hold")
    ));
    assert_eq!(
        store.hold("r2", 0, &[1, 2, 0], 60_000),
        Ok(Hold::Full { counter: 0 })
    );
    let c = counts(&*store);
    assert_eq!(
        c.iter().map(|c| c.pending).collect::<Vec<_>>(),
        vec![1, 1, 0]
    );
    // r2's full attempt left nothing behind: it is not held.
    assert_eq!(store.commit("r2", 0), Ok(Completion::NotReserved));
}

pub fn expiry(make: Make) {
    let store = make(layout("expiry", &[("a", 2)]));
    assert!(accepted(store.hold("r1", 0, &[0], 40).expect("hold")));
    assert!(accepted(store.hold("r2", 0, &[0], 40).expect("hold")));
    assert_eq!(store.hold("r3", 0, &[0], 40), Ok(Hold::Full { counter: 0 }));
    std::thread::sleep(Duration::from_millis(120));
    // Past its deadline: released and taken anew.
    assert!(accepted(
        store.hold("r1", 0, &[0], 60_000).expect("re-hold")
    ));
    assert_eq!(counts(&*store)[0].pending, 2); // r1 new + r2 expired, not yet swept
    assert_eq!(store.commit("r2", 0), Ok(Completion::Expired));
    assert_eq!(store.commit("r2", 0), Ok(Completion::NotReserved));
    assert_eq!(counts(&*store)[0].pending, 1);
    assert!(accepted(store.hold("r3", 0, &[0], 40).expect("hold")));
    assert_eq!(store.hold("r4", 1, &[0], 40), Ok(Hold::Full { counter: 0 }));
    std::thread::sleep(Duration::from_millis(120));
    // r3's is released by the sweep; a second sweep finds none.
    assert_eq!(store.expire(), Ok(1));
    assert_eq!(store.expire(), Ok(0));
    assert_eq!(counts(&*store)[0].pending, 1);
    assert_eq!(store.release("r3", 0), Ok(false));
    // release of an expired hold says false but releases it.
    assert!(accepted(store.hold("r5", 0, &[0], 40).expect("hold")));
    std::thread::sleep(Duration::from_millis(120));
    assert_eq!(store.release("r5", 0), Ok(false));
    assert_eq!(counts(&*store)[0].pending, 1);
    assert_eq!(store.expire(), Ok(0));
    assert_eq!(store.commit("r1", 0), Ok(Completion::Completed));
    assert_eq!(
        counts(&*store)[0],
        Count {
            max: 2,
            pending: 0,
            completed: 1
        }
    );
}

pub fn release_all(make: Make) {
    let store = make(layout("releaseall", &[("a", 5), ("b", 5), ("c", 5)]));
    assert!(accepted(store.hold("r", 0, &[0, 1], 60_000).expect("hold")));
    assert!(accepted(store.hold("r", 1, &[2], 60_000).expect("hold")));
    assert!(accepted(store.hold("r", 2, &[1], 60_000).expect("hold")));
    assert_eq!(store.commit("r", 1), Ok(Completion::Completed));
    let mut released = store.release_all("r").expect("release_all");
    released.sort_by_key(|r| r.category);
    let got: Vec<(u32, Vec<u32>)> = released
        .iter()
        .map(|r| (r.category, r.counters.to_vec()))
        .collect();
    assert_eq!(got, vec![(0, vec![0, 1]), (2, vec![1])]);
    assert_eq!(store.release_all("r"), Ok(Vec::new()));
    assert_eq!(store.release_all("nobody"), Ok(Vec::new()));
    let c = counts(&*store);
    assert_eq!(
        c.iter()
            .map(|c| (c.pending, c.completed))
            .collect::<Vec<_>>(),
        vec![(0, 0), (0, 0), (0, 1)]
    );
    assert_eq!(store.hold("r", 1, &[2], 60_000), Ok(Hold::AlreadyCompleted));
}

/// `done` of `max` completed beforehand, then `racers` threads hold and commit at once:
/// exactly `max` completes.
pub fn last_slots_under_contention(make: Make, max: u32, done: u32, racers: u32) {
    let store = make(layout("last", &[("a", max)]));
    for i in 0..done {
        let r = format!("pre{i}");
        assert!(accepted(store.hold(&r, 0, &[0], 60_000).expect("hold")));
        assert_eq!(store.commit(&r, 0), Ok(Completion::Completed));
    }
    let won = AtomicU32::new(0);
    let barrier = std::sync::Barrier::new(racers as usize);
    std::thread::scope(|s| {
        for i in 0..racers {
            let (store, won, barrier) = (&*store, &won, &barrier);
            s.spawn(move || {
                let r = format!("racer{i}");
                barrier.wait();
                if accepted(store.hold(&r, 0, &[0], 60_000).expect("hold")) {
                    assert_eq!(store.commit(&r, 0), Ok(Completion::Completed));
                    won.fetch_add(1, Ordering::Relaxed);
                }
            });
        }
    });
    assert_eq!(won.load(Ordering::Relaxed), max - done);
    assert_eq!(
        counts(&*store)[0],
        Count {
            max,
            pending: 0,
            completed: max
        }
    );
}

/// Eight threads hold, commit and release over shared counters: never an overfill, and the
/// counts read back are the completes acknowledged.
pub fn stress(make: Make) {
    let maxes = [("a", 40), ("b", 25), ("c", 60), ("d", 10)];
    let store = make(layout("stress", &maxes));
    let completed: Vec<AtomicU32> = (0..maxes.len()).map(|_| AtomicU32::new(0)).collect();
    std::thread::scope(|s| {
        for t in 0..8u32 {
            let (store, completed) = (&*store, &completed);
            s.spawn(move || {
                let mut out = Vec::new();
                for i in 0..60u32 {
                    let r = format!("t{t}-r{i}");
                    let set: Vec<u32> = match (t + i) % 4 {
                        0 => vec![0, 1],
                        1 => vec![2],
                        2 => vec![0, 2, 3],
                        _ => vec![1, 3],
                    };
                    if accepted(store.hold(&r, i % 3, &set, 60_000).expect("hold")) {
                        if i % 5 == 0 {
                            assert_eq!(store.release(&r, i % 3), Ok(true));
                        } else {
                            assert_eq!(store.commit(&r, i % 3), Ok(Completion::Completed));
                            for &c in &set {
                                completed[c as usize].fetch_add(1, Ordering::Relaxed);
                            }
                        }
                    }
                    if i % 10 == 0 {
                        store.read(&mut out).expect("read");
                        assert!(out.iter().all(|c| c.pending + c.completed <= c.max));
                    }
                }
            });
        }
    });
    let c = counts(&*store);
    for (i, c) in c.iter().enumerate() {
        assert_eq!(c.pending, 0);
        assert!(c.completed <= c.max, "overfill in counter {i}: {c:?}");
        assert_eq!(c.completed, completed[i].load(Ordering::Relaxed));
    }
    // Enough demand that every counter was contended to its max.
    assert_eq!(c[3].completed, c[3].max);
}

/// The one rule for targets when a node joins a survey: `first` holds the survey `a 10, b 5`;
/// `other` connects another node with the counters given. Another target is refused naming
/// the counter; after a change 5 -> 8 a node configured before it (5) or after it (8) joins
/// and 6 is refused; other names or counters are a layout mismatch.
pub fn joins_follow_the_target_rule<S: QuotaStore>(
    first: &dyn QuotaStore,
    other: &dyn Fn(Vec<Counter>) -> Result<S, StoreError>,
) {
    let target = |r: Result<S, StoreError>| match r {
        Err(StoreError::TargetMismatch {
            counter,
            given,
            stored,
            original,
            ..
        }) => (counter, given, stored, original),
        Err(other) => panic!("expected TargetMismatch, got {other:?}"),
        Ok(_) => panic!("expected TargetMismatch, the node joined"),
    };
    let b6 = || other(vec![Counter::new("a", 10), Counter::new("b", 6)]);
    assert_eq!(target(b6()), ("b".to_string(), 6, 5, None));
    first.set_max(1, 8, ChangeKind::Target).expect("set_max");
    assert!(
        other(vec![Counter::new("a", 10), Counter::new("b", 5)]).is_ok(),
        "the catalogue before the change"
    );
    let after = other(vec![Counter::new("a", 10), Counter::new("b", 8)]).expect("after");
    assert_eq!(after.layout().counters()[1].max, 8);
    assert_eq!(target(b6()), ("b".to_string(), 6, 8, Some(5)));
    match other(vec![Counter::new("a", 10), Counter::new("c", 5)]) {
        Err(StoreError::LayoutMismatch { index: 1, .. }) => {}
        Err(e) => panic!("expected LayoutMismatch on the name, got {e:?}"),
        Ok(_) => panic!("a node with another counter name joined"),
    }
    match other(vec![Counter::new("a", 10)]) {
        Err(StoreError::LayoutMismatch {
            index,
            stored,
            given,
            ..
        }) => assert_eq!((index, stored.as_str(), given.as_str()), (1, "b 8", "none")),
        Err(e) => panic!("expected LayoutMismatch, got {e:?}"),
        Ok(_) => panic!("a node with a counter missing joined"),
    }
}
