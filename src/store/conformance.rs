//! The suite every [`QuotaStore`] must pass: the reservation examples, idempotence,
//! all-or-none across counters, expiry, concurrent stress with zero overfill, counts read
//! back. Exported (feature `conformance`) so a store written outside the crate can run it.
//!
//! Each case builds a fresh store of its own layout with `make` (the layout's survey name is
//! new for every case, so a shared server can run the suite repeatedly) and returns a
//! [`Failure`] naming the case and what went wrong. The store's clock must be real time: the
//! expiry case holds with a 60 ms time-to-live and waits.
//!
//! ```
//! use quotaroute::live::SystemClock;
//! use quotaroute::store::{conformance, MemoryStore};
//!
//! conformance::run_all(&|layout| MemoryStore::new(layout, SystemClock))?;
//! # Ok::<(), conformance::Failure>(())
//! ```

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Barrier, Mutex};
use std::thread;
use std::time::Duration;

use rand::rngs::Xoshiro256PlusPlus;
use rand::{RngExt, SeedableRng};
use thiserror::Error;

use crate::live::Completion;

use super::{ChangeKind, Count, Counter, Hold, Layout, QuotaStore, StoreError};

/// A case the store failed, and how.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[error("conformance case `{case}` failed: {detail}")]
pub struct Failure {
    /// The case.
    pub case: &'static str,
    /// What was expected and what the store did.
    pub detail: String,
}

/// Every case, by name, in the order [`run_all`] runs them.
pub const CASES: &[&str] = &[
    "fill_47_of_50",
    "three_at_19_of_20",
    "idempotence",
    "all_or_none",
    "expiry",
    "stress",
    "respondent_keys",
    "interviews",
    "administration",
];

/// Runs every case; the first failure is returned.
///
/// # Errors
/// The first [`Failure`].
pub fn run_all<S: QuotaStore>(make: &(dyn Fn(Layout) -> S + Sync)) -> Result<(), Failure> {
    CASES.iter().try_for_each(|case| run(case, make))
}

/// Runs one case of [`CASES`]; an unknown name fails.
///
/// # Errors
/// The case's [`Failure`].
pub fn run<S: QuotaStore>(
    case: &'static str,
    make: &(dyn Fn(Layout) -> S + Sync),
) -> Result<(), Failure> {
    let c = Case { case };
    match case {
        "fill_47_of_50" => c.fill_47_of_50(make),
        "three_at_19_of_20" => c.three_at_19_of_20(make),
        "idempotence" => c.idempotence(make),
        "all_or_none" => c.all_or_none(make),
        "expiry" => c.expiry(make),
        "stress" => c.stress(make),
        "respondent_keys" => c.respondent_keys(make),
        "interviews" => c.interviews(make),
        "administration" => c.administration(make),
        _ => Err(c.fail(format!("no case named {case:?}"))),
    }
}

const TTL: u64 = 600_000;

/// A fresh survey name per case, so runs against one server never meet.
fn survey(case: &str) -> String {
    static RUN: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    let n = RUN.fetch_add(1, Ordering::Relaxed);
    format!("conf-{case}-{}-{nanos:x}-{n}", std::process::id())
}

struct Case {
    case: &'static str,
}

impl Case {
    fn fail(&self, detail: impl Into<String>) -> Failure {
        Failure {
            case: self.case,
            detail: detail.into(),
        }
    }

    fn layout(&self, maxes: &[u32]) -> Result<Layout, Failure> {
        let counters = maxes
            .iter()
            .enumerate()
            .map(|(i, &m)| Counter::new(format!("c{i}"), m))
            .collect();
        Layout::new(survey(self.case), counters).map_err(|e| self.fail(e.to_string()))
    }

    fn ok<T>(&self, r: Result<T, StoreError>, what: &str) -> Result<T, Failure> {
        r.map_err(|e| self.fail(format!("{what}: {e}")))
    }

    fn expect<T: PartialEq + std::fmt::Debug>(
        &self,
        got: T,
        want: T,
        what: &str,
    ) -> Result<(), Failure> {
        if got == want {
            Ok(())
        } else {
            Err(self.fail(format!("{what}: expected {want:?}, got {got:?}")))
        }
    }

    fn counts(&self, store: &dyn QuotaStore) -> Result<Vec<Count>, Failure> {
        let mut out = Vec::new();
        self.ok(store.read(&mut out), "read")?;
        self.expect(out.len(), store.layout().len(), "counters read")?;
        let changes = self.ok(store.changes(), "changes")?;
        for (i, (c, l)) in out.iter().zip(store.layout().counters()).enumerate() {
            // The max is the layout's, or the last recorded change's; a max lowered below
            // what was held leaves pending + completed at most the highest max it had.
            let own = || changes.iter().filter(|d| d.counter as usize == i);
            let max = own().next_back().map_or(l.max, |d| d.to);
            let highest = own().fold(l.max, |m, d| m.max(d.from).max(d.to));
            if c.max != max || c.pending.saturating_add(c.completed) > highest {
                return Err(self.fail(format!(
                    "counter {i} read as {c:?} (max {max} after {} change(s))",
                    own().count()
                )));
            }
        }
        Ok(out)
    }

    /// Holds and commits for `n` respondents named `prefix-i` in counter 0.
    fn fill(&self, store: &dyn QuotaStore, prefix: &str, n: u32) -> Result<(), Failure> {
        for i in 0..n {
            let r = format!("{prefix}-{i}");
            let h = self.ok(store.hold(&r, 0, &[0], TTL), "hold")?;
            if !matches!(h, Hold::Accepted { .. }) {
                return Err(self.fail(format!("hold {i} of {n}: {h:?}")));
            }
            self.expect(
                self.ok(store.commit(&r, 0), "commit")?,
                Completion::Completed,
                "commit",
            )?;
        }
        Ok(())
    }

    /// Racers hold and commit at once on counter 0; returns how many were accepted.
    fn race(&self, store: &dyn QuotaStore, racers: u32) -> Result<u32, Failure> {
        let barrier = Barrier::new(racers as usize);
        let outcomes = Mutex::new(Vec::new());
        thread::scope(|s| {
            for i in 0..racers {
                let (barrier, outcomes) = (&barrier, &outcomes);
                s.spawn(move || {
                    let r = format!("racer-{i}");
                    barrier.wait();
                    let held = store.hold(&r, 0, &[0], TTL);
                    let done = match held {
                        Ok(Hold::Accepted { .. }) => Some(store.commit(&r, 0)),
                        _ => None,
                    };
                    outcomes
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .push((held, done));
                });
            }
        });
        let mut accepted = 0;
        for (held, done) in outcomes.into_inner().unwrap_or_else(|e| e.into_inner()) {
            match self.ok(held, "racing hold")? {
                Hold::Accepted { .. } => {
                    accepted += 1;
                    let done = done.map(|d| self.ok(d, "racing commit")).transpose()?;
                    self.expect(done, Some(Completion::Completed), "racing commit")?;
                }
                Hold::Full { counter: 0 } => {}
                other => return Err(self.fail(format!("racing hold: {other:?}"))),
            }
        }
        Ok(accepted)
    }

    fn fill_47_of_50<S: QuotaStore>(
        &self,
        make: &(dyn Fn(Layout) -> S + Sync),
    ) -> Result<(), Failure> {
        let store = make(self.layout(&[50])?);
        self.fill(&store, "early", 47)?;
        let accepted = self.race(&store, 10)?;
        self.expect(accepted, 3, "racers accepted with 3 slots left")?;
        let c = self.counts(&store)?;
        self.expect(
            (c[0].completed, c[0].pending),
            (50, 0),
            "completed, pending",
        )
    }

    fn three_at_19_of_20<S: QuotaStore>(
        &self,
        make: &(dyn Fn(Layout) -> S + Sync),
    ) -> Result<(), Failure> {
        let store = make(self.layout(&[20])?);
        self.fill(&store, "early", 19)?;
        self.expect(
            self.race(&store, 3)?,
            1,
            "of three arriving together, accepted",
        )?;
        let c = self.counts(&store)?;
        self.expect(
            (c[0].completed, c[0].pending),
            (20, 0),
            "completed, pending",
        )
    }

    fn idempotence<S: QuotaStore>(
        &self,
        make: &(dyn Fn(Layout) -> S + Sync),
    ) -> Result<(), Failure> {
        let store = make(self.layout(&[5, 5])?);
        let first = self.ok(store.hold("ann", 0, &[0, 1], TTL), "hold")?;
        let Hold::Accepted { deadline } = first else {
            return Err(self.fail(format!("first hold: {first:?}")));
        };
        // A retry after a lost reply: the same hold, nothing taken twice.
        let again = self.ok(store.hold("ann", 0, &[0, 1], TTL), "repeated hold")?;
        self.expect(again, Hold::AlreadyHeld { deadline }, "repeated hold")?;
        let c = self.counts(&store)?;
        self.expect(
            (c[0].pending, c[1].pending),
            (1, 1),
            "pending after two holds",
        )?;
        self.expect(
            self.ok(store.commit("ann", 0), "commit")?,
            Completion::Completed,
            "commit",
        )?;
        self.expect(
            self.ok(store.commit("ann", 0), "repeated commit")?,
            Completion::AlreadyCompleted,
            "repeated commit",
        )?;
        self.expect(
            self.ok(store.hold("ann", 0, &[0, 1], TTL), "hold after complete")?,
            Hold::AlreadyCompleted,
            "hold after complete",
        )?;
        let c = self.counts(&store)?;
        self.expect(
            (c[0].completed, c[1].completed, c[0].pending),
            (1, 1, 0),
            "completed once",
        )?;
        // Release: once, then nothing; release_all names what it released; completes stay.
        self.ok(store.hold("bob", 0, &[0], TTL), "hold")?;
        self.ok(store.hold("bob", 1, &[1], TTL), "hold")?;
        self.expect(
            self.ok(store.release("bob", 0), "release")?,
            true,
            "release",
        )?;
        self.expect(
            self.ok(store.release("bob", 0), "repeated release")?,
            false,
            "repeated release",
        )?;
        let mut all = self.ok(store.release_all("bob"), "release_all")?;
        all.sort_by_key(|r| r.category);
        let cats: Vec<(u32, Vec<u32>)> = all
            .iter()
            .map(|r| (r.category, r.counters.to_vec()))
            .collect();
        self.expect(cats, vec![(1, vec![1])], "released by release_all")?;
        self.expect(
            self.ok(store.release_all("bob"), "repeated release_all")?
                .len(),
            0,
            "repeated release_all",
        )?;
        self.expect(
            self.ok(store.commit("bob", 0), "commit after release")?,
            Completion::NotReserved,
            "commit after release",
        )?;
        self.expect(
            self.ok(store.release_all("ann"), "release_all after complete")?
                .len(),
            0,
            "release_all of a complete",
        )?;
        let c = self.counts(&store)?;
        self.expect(
            (c[0], c[1]),
            (
                Count {
                    max: 5,
                    pending: 0,
                    completed: 1,
                },
                Count {
                    max: 5,
                    pending: 0,
                    completed: 1,
                },
            ),
            "counts",
        )
    }

    fn all_or_none<S: QuotaStore>(
        &self,
        make: &(dyn Fn(Layout) -> S + Sync),
    ) -> Result<(), Failure> {
        let store = make(self.layout(&[3, 1, 3])?);
        self.expect(
            self.ok(store.hold("ann", 0, &[0, 1], TTL), "hold")?
                .is_accepted(),
            true,
            "first hold",
        )?;
        // Counter 1 is full: bob takes nothing in counter 0 either.
        self.expect(
            self.ok(store.hold("bob", 0, &[0, 2, 1], TTL), "hold")?,
            Hold::Full { counter: 1 },
            "hold across a full counter",
        )?;
        let c = self.counts(&store)?;
        self.expect(
            (c[0].pending, c[1].pending, c[2].pending),
            (1, 1, 0),
            "pending after a refused hold",
        )?;
        // An unknown counter is an error and takes nothing.
        match store.hold("cat", 0, &[0, 99], TTL) {
            Err(StoreError::UnknownCounter { counter: 99, .. }) => {}
            other => return Err(self.fail(format!("hold on counter 99: {other:?}"))),
        }
        let c = self.counts(&store)?;
        self.expect(c[0].pending, 1, "pending after an unknown counter")?;
        // A counter named twice holds one slot.
        self.expect(
            self.ok(store.hold("dan", 2, &[2, 2], TTL), "hold")?
                .is_accepted(),
            true,
            "hold naming a counter twice",
        )?;
        self.expect(
            self.counts(&store)?[2].pending,
            1,
            "pending after a counter named twice",
        )
    }

    fn expiry<S: QuotaStore>(&self, make: &(dyn Fn(Layout) -> S + Sync)) -> Result<(), Failure> {
        let store = make(self.layout(&[3])?);
        self.ok(store.hold("ann", 0, &[0], 60), "hold")?;
        self.ok(store.hold("bob", 0, &[0], 60), "hold")?;
        self.ok(store.hold("cat", 0, &[0], TTL), "hold")?;
        self.expect(
            self.ok(store.hold("dan", 0, &[0], TTL), "hold")?,
            Hold::Full { counter: 0 },
            "hold while full",
        )?;
        thread::sleep(Duration::from_millis(200));
        // A due hold's own commit releases it; a sweep releases the other, once.
        self.expect(
            self.ok(store.commit("ann", 0), "commit past deadline")?,
            Completion::Expired,
            "commit past deadline",
        )?;
        self.expect(self.ok(store.expire(), "expire")?, 1, "holds swept")?;
        self.expect(
            self.ok(store.expire(), "second expire")?,
            0,
            "holds swept again",
        )?;
        let c = self.counts(&store)?;
        self.expect(
            (c[0].pending, c[0].completed),
            (1, 0),
            "pending after expiry",
        )?;
        self.expect(
            self.ok(store.hold("dan", 0, &[0], TTL), "hold")?
                .is_accepted(),
            true,
            "hold after expiry",
        )?;
        self.expect(
            self.ok(store.commit("bob", 0), "commit after sweep")?,
            Completion::NotReserved,
            "commit after sweep",
        )
    }

    fn stress<S: QuotaStore>(&self, make: &(dyn Fn(Layout) -> S + Sync)) -> Result<(), Failure> {
        let maxes = [12, 7, 9, 4];
        let store = make(self.layout(&maxes)?);
        let acked = Mutex::new(vec![0u32; maxes.len()]);
        let errors = Mutex::new(Vec::new());
        thread::scope(|s| {
            for t in 0..8u64 {
                let (store, acked, errors) = (&store, &acked, &errors);
                s.spawn(move || {
                    let mut rng = Xoshiro256PlusPlus::seed_from_u64(t);
                    for i in 0..150 {
                        let r = format!("t{t}-r{}", i % 40);
                        let category: u32 = rng.random_range(0..3);
                        let counters = [category, 3];
                        let step = match rng.random_range(0..4) {
                            0 => store.release_all(&r).map(|_| ()),
                            1 => store.release(&r, category).map(|_| ()),
                            _ => store
                                .hold(&r, category, &counters, TTL)
                                .and_then(|h| match h {
                                    Hold::Accepted { .. } | Hold::AlreadyHeld { .. } => {
                                        store.commit(&r, category).map(|c| {
                                            if c == Completion::Completed {
                                                let mut a =
                                                    acked.lock().unwrap_or_else(|e| e.into_inner());
                                                a[category as usize] += 1;
                                                a[3] += 1;
                                            }
                                        })
                                    }
                                    _ => Ok(()),
                                }),
                        };
                        if let Err(e) = step {
                            errors
                                .lock()
                                .unwrap_or_else(|e| e.into_inner())
                                .push(e.to_string());
                        }
                    }
                });
            }
        });
        if let Some(e) = errors
            .into_inner()
            .unwrap_or_else(|e| e.into_inner())
            .first()
        {
            return Err(self.fail(format!("a call failed: {e}")));
        }
        let c = self.counts(&store)?;
        let completed: Vec<u32> = c.iter().map(|c| c.completed).collect();
        self.expect(
            completed,
            acked.into_inner().unwrap_or_else(|e| e.into_inner()),
            "completes read back vs acknowledged",
        )?;
        self.expect(
            c.iter().map(|c| c.pending).sum::<u32>(),
            0,
            "pending after every hold was committed or released",
        )
    }

    fn respondent_keys<S: QuotaStore>(
        &self,
        make: &(dyn Fn(Layout) -> S + Sync),
    ) -> Result<(), Failure> {
        let store = make(self.layout(&[10])?);
        for key in [
            "4f1c2b1e-9d0a-4c7e-8a63-2f0d1b9e7c55",
            "ünïcødé respondent",
            "a:b{c}d",
            "x",
        ] {
            self.expect(
                self.ok(store.hold(key, 0, &[0], TTL), "hold")?
                    .is_accepted(),
                true,
                key,
            )?;
            self.expect(
                self.ok(store.commit(key, 0), "commit")?,
                Completion::Completed,
                key,
            )?;
        }
        match store.hold("", 0, &[0], TTL) {
            Err(StoreError::RespondentKey { len: 0 }) => {}
            other => return Err(self.fail(format!("empty respondent key: {other:?}"))),
        }
        self.expect(
            self.counts(&store)?[0].completed,
            4,
            "completes of four keys",
        )
    }

    /// Saved interviews: read back as written (any text), replaced by a newer save, apart
    /// per respondent, gone after their time-to-live, and untouched by holds and sweeps.
    fn interviews<S: QuotaStore>(
        &self,
        make: &(dyn Fn(Layout) -> S + Sync),
    ) -> Result<(), Failure> {
        let store = make(self.layout(&[10])?);
        let load = |r: &str| self.ok(store.load_interview(r), "load_interview");
        self.expect(load("ann")?, None, "never saved")?;
        let text = "line one\nünïcødé, {braces} and \"quotes\"\n";
        self.ok(store.save_interview("ann", text, TTL), "save_interview")?;
        self.expect(load("ann")?.as_deref(), Some(text), "read back")?;
        self.ok(store.save_interview("ann", "newer", TTL), "save_interview")?;
        self.expect(load("ann")?.as_deref(), Some("newer"), "replaced")?;
        self.expect(load("bob")?, None, "another respondent")?;
        self.ok(store.hold("ann", 0, &[0], TTL), "hold")?;
        self.ok(store.release_all("ann"), "release_all")?;
        self.ok(store.expire(), "expire")?;
        self.expect(
            load("ann")?.as_deref(),
            Some("newer"),
            "after holds and a sweep",
        )?;
        self.ok(store.save_interview("cy", "short", 60), "save_interview")?;
        thread::sleep(Duration::from_millis(150));
        self.expect(load("cy")?, None, "past its time-to-live")?;
        self.ok(store.expire(), "expire")?;
        self.expect(load("cy")?, None, "after the sweep")
    }

    /// Administrative changes: a raised max opens slots at once; one lowered below what is
    /// held cancels nothing (held slots complete) and grants nothing until completed +
    /// pending is below it; every change is recorded in order with its before and after.
    fn administration<S: QuotaStore>(
        &self,
        make: &(dyn Fn(Layout) -> S + Sync),
    ) -> Result<(), Failure> {
        let store = make(self.layout(&[2, 5])?);
        self.fill(&store, "a", 2)?;
        let full = self.ok(store.hold("x", 0, &[0], TTL), "hold")?;
        self.expect(full, Hold::Full { counter: 0 }, "hold at the max")?;
        let raised = self.ok(store.set_max(0, 4, ChangeKind::Target), "set_max")?;
        self.expect(
            (raised.from, raised.to),
            (2, 4),
            "the raise's before and after",
        )?;
        for r in ["b0", "b1"] {
            let held = self.ok(store.hold(r, 0, &[0], TTL), "hold")?;
            self.expect(held.is_accepted(), true, "a hold after the raise")?;
        }
        // 2 completed + 2 held, max lowered to 1: nothing is cancelled, nothing granted.
        self.ok(store.set_max(0, 1, ChangeKind::Target), "set_max")?;
        let c = self.counts(&store)?[0];
        self.expect(
            (c.max, c.pending, c.completed),
            (1, 2, 2),
            "after the lowering",
        )?;
        let refused = self.ok(store.hold("y", 0, &[0], TTL), "hold")?;
        self.expect(
            refused,
            Hold::Full { counter: 0 },
            "a hold under the lowered max",
        )?;
        let done = self.ok(store.commit("b0", 0), "commit")?;
        self.expect(
            done,
            Completion::Completed,
            "a slot held before the lowering",
        )?;
        self.ok(store.release("b1", 0), "release")?;
        let c = self.counts(&store)?[0];
        self.expect(
            (c.pending, c.completed),
            (0, 3),
            "completes above the lowered max",
        )?;
        self.expect(c.open(), 0, "open under the lowered max")?;
        // Closed and reopened at the max before the close.
        self.ok(store.set_max(1, 0, ChangeKind::Close), "close")?;
        let closed = self.ok(store.hold("z", 1, &[1], TTL), "hold")?;
        self.expect(
            closed,
            Hold::Full { counter: 1 },
            "a hold in a closed counter",
        )?;
        self.ok(store.set_max(1, 5, ChangeKind::Reopen), "reopen")?;
        let open = self.ok(store.hold("z", 1, &[1], TTL), "hold")?;
        self.expect(open.is_accepted(), true, "a hold after the reopen")?;
        match store.set_max(2, 1, ChangeKind::Target) {
            Err(StoreError::UnknownCounter { counter: 2, .. }) => {}
            other => return Err(self.fail(format!("set_max of counter 2: {other:?}"))),
        }
        let changes = self.ok(store.changes(), "changes")?;
        let seen: Vec<_> = changes
            .iter()
            .map(|c| (c.counter, c.from, c.to, c.kind))
            .collect();
        self.expect(
            seen,
            vec![
                (0, 2, 4, ChangeKind::Target),
                (0, 4, 1, ChangeKind::Target),
                (1, 5, 0, ChangeKind::Close),
                (1, 0, 5, ChangeKind::Reopen),
            ],
            "the recorded changes",
        )?;
        let increasing = changes.windows(2).all(|w| w[0].seq < w[1].seq);
        self.expect(increasing, true, "sequence numbers increase")
    }
}
