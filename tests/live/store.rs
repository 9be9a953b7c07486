//! The quota-store seam: the conformance suite on the in-memory store (and a broken store
//! failing it), and engines sharing one store as router nodes do: no overfill, their own
//! calls in their mirror at once, others' after a sync, a store failure reported and retried.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Barrier};

use quotaroute::catalogue::{Catalogue, Category, CategoryId, QuotaCell};
use quotaroute::live::{
    Answer, Completion, ConfigError, Engine, LiveConfig, LiveError, Reservation, SystemClock,
    Worker,
};
use quotaroute::route::{Greedy, ResumeError, SavedInterview};
use quotaroute::schema::{Answers, Respondent, Rule, Schema};
use quotaroute::store::{
    Change, ChangeKind, Count, CounterId, Hold, Layout, MemoryStore, QuotaStore, Released,
    StoreError, conformance,
};

#[test]
fn the_memory_store_passes_the_conformance_suite() {
    conformance::run_all(&|layout| MemoryStore::new(layout, SystemClock)).unwrap();
}

/// A store that grants holds past the max (and counts nothing for them): the suite must
/// catch it.
#[derive(Debug)]
struct Leaky(MemoryStore);

impl QuotaStore for Leaky {
    fn layout(&self) -> &Layout {
        self.0.layout()
    }
    fn hold(&self, r: &str, c: u32, counters: &[CounterId], ttl: u64) -> Result<Hold, StoreError> {
        match self.0.hold(r, c, counters, ttl)? {
            Hold::Full { .. } => Ok(Hold::Accepted {
                deadline: quotaroute::live::Timestamp(u64::MAX),
            }),
            other => Ok(other),
        }
    }
    fn commit(&self, r: &str, c: u32) -> Result<Completion, StoreError> {
        match self.0.commit(r, c)? {
            Completion::NotReserved => Ok(Completion::Completed),
            other => Ok(other),
        }
    }
    fn release(&self, r: &str, c: u32) -> Result<bool, StoreError> {
        self.0.release(r, c)
    }
    fn release_all(&self, r: &str) -> Result<Vec<Released>, StoreError> {
        self.0.release_all(r)
    }
    fn expire(&self) -> Result<u64, StoreError> {
        self.0.expire()
    }
    fn read(&self, out: &mut Vec<Count>) -> Result<(), StoreError> {
        self.0.read(out)
    }
    fn save_interview(&self, r: &str, state: &str, ttl: u64) -> Result<(), StoreError> {
        self.0.save_interview(r, state, ttl)
    }
    fn load_interview(&self, r: &str) -> Result<Option<String>, StoreError> {
        self.0.load_interview(r)
    }
    fn set_max(&self, c: CounterId, max: u32, kind: ChangeKind) -> Result<Change, StoreError> {
        self.0.set_max(c, max, kind)
    }
    fn changes(&self) -> Result<Vec<Change>, StoreError> {
        self.0.changes()
    }
}

#[test]
fn a_store_that_grants_past_the_max_fails_the_suite() {
    let failure =
        conformance::run_all(&|layout| Leaky(MemoryStore::new(layout, SystemClock))).unwrap_err();
    assert_eq!(failure.case, "fill_47_of_50", "{failure}");
    for case in ["three_at_19_of_20", "all_or_none"] {
        let f = conformance::run(case, &|layout| Leaky(MemoryStore::new(layout, SystemClock)));
        assert!(f.is_err(), "{case} passed a leaky store");
    }
}

/// Two categories, the second split into gender cells of at most 3.
fn catalogue() -> Catalogue {
    let schema = Schema::default_survey();
    let g = schema.question("gender").unwrap();
    let mut tea = Category::new("tea", "Tea", 0.9, 60.0).with_target(8);
    for r in schema.response_ids(g) {
        let name = schema.response_name(g, r).to_string();
        tea = tea.with_cell(QuotaCell::new(name, Rule::one_of(g, [r]), 3));
    }
    Catalogue::new(
        schema,
        vec![
            Category::new("coffee", "Coffee", 0.9, 60.0).with_target(10),
            tea,
        ],
    )
    .unwrap()
}

fn shared_store(cat: &Catalogue) -> Arc<MemoryStore> {
    Arc::new(MemoryStore::new(
        Layout::from_catalogue("nodes", cat).unwrap(),
        SystemClock,
    ))
}

fn node(cat: &Catalogue, store: &Arc<MemoryStore>) -> Engine<Greedy> {
    let store: Arc<dyn QuotaStore> = store.clone();
    Engine::with_store(
        cat.clone(),
        Greedy::scarcity(),
        SystemClock,
        LiveConfig::default(),
        store,
    )
    .unwrap()
}

const COFFEE: CategoryId = CategoryId::from_index(0);
const TEA: CategoryId = CategoryId::from_index(1);

#[test]
fn a_nodes_own_hold_shows_in_its_mirror_at_once_and_in_others_after_a_sync() {
    let cat = catalogue();
    let store = shared_store(&cat);
    let (a, b) = (node(&cat, &store), node(&cat, &store));
    let nobody = Answers::unknown(cat.schema());
    assert!(matches!(
        a.reserve(1, COFFEE, &nobody),
        Ok(Reservation::Accepted { .. })
    ));
    assert_eq!(a.quotas().view().open_slots(COFFEE), 9);
    assert_eq!(b.quotas().view().open_slots(COFFEE), 10, "b has not synced");
    b.sync().unwrap();
    assert_eq!(b.quotas().view().open_slots(COFFEE), 9);
    // The respondent moves to node b: the store knows the hold, so b completes it.
    assert_eq!(b.complete(1, COFFEE), Ok(Completion::Completed));
    assert_eq!(a.complete(1, COFFEE), Ok(Completion::AlreadyCompleted));
    assert_eq!(b.quotas().view().completed(COFFEE), 1);
    // expire_all would release other nodes' holds.
    assert_eq!(
        a.expire_all(),
        Err(LiveError::Shared {
            operation: "expire_all"
        })
    );
}

#[test]
fn a_node_whose_targets_differ_from_the_store_is_refused() {
    let cat = catalogue();
    let store = shared_store(&cat);
    let mut raised = cat.categories().to_vec();
    raised[0].target = 11;
    let other = Catalogue::new(cat.schema().clone(), raised).unwrap();
    let store: Arc<dyn QuotaStore> = store;
    let refused = Engine::with_store(
        other,
        Greedy::scarcity(),
        SystemClock,
        LiveConfig::default(),
        store,
    )
    .unwrap_err();
    match refused {
        ConfigError::Store {
            source:
                StoreError::TargetMismatch {
                    counter,
                    stored,
                    given,
                    original: None,
                    ..
                },
        } => assert_eq!((counter.as_str(), stored, given), ("coffee", 10, 11)),
        other => panic!("{other:?}"),
    }
}

#[test]
fn nodes_sharing_a_store_never_overfill_and_their_completes_add_up() {
    let cat = catalogue();
    let store = shared_store(&cat);
    let nodes = [node(&cat, &store), node(&cat, &store), node(&cat, &store)];
    let start = Barrier::new(6);
    let g = cat.schema().question("gender").unwrap();
    std::thread::scope(|s| {
        for t in 0..6u64 {
            let (e, start, cat) = (&nodes[t as usize % 3], &start, &cat);
            s.spawn(move || {
                let mut worker = Worker::new(t);
                start.wait();
                for i in 0..400u64 {
                    let id = t * 1_000_000 + i;
                    let mut answers = Answers::unknown(cat.schema());
                    let r = cat.schema().response_ids(g).nth((i % 2) as usize).unwrap();
                    answers.set(g, r);
                    let mut session = e.start(&mut worker, Respondent::new(id, answers));
                    while let Some(c) = e.next_offer(&mut worker, &mut session).unwrap() {
                        if let Answer::Reserved(Reservation::Accepted { .. }) =
                            e.answer(&mut worker, &mut session, c, true).unwrap()
                        {
                            if i % 3 == 0 {
                                e.abandon(id).unwrap();
                            } else {
                                e.complete(id, c).unwrap();
                            }
                        }
                    }
                    if i % 50 == 0 {
                        e.sync().unwrap();
                    }
                }
            });
        }
    });
    let mut counts = Vec::new();
    store.read(&mut counts).unwrap();
    for (i, c) in counts.iter().enumerate() {
        assert!(c.completed <= c.max, "counter {i} overfilled: {c:?}");
        assert_eq!(c.pending, 0, "counter {i}");
    }
    assert_eq!(
        (counts[0].completed, counts[1].completed),
        (10, 6),
        "both categories fill"
    );
    let acknowledged: u64 = nodes.iter().map(|e| e.stats().completed).sum();
    assert_eq!(
        acknowledged,
        u64::from(counts[0].completed + counts[1].completed)
    );
    for e in &nodes {
        e.sync().unwrap();
        assert_eq!(e.overfill(), 0);
        // The mirror is the store's picture: tea has 2 of 8 left that no cell can take.
        let view = e.quotas().view();
        assert_eq!((view.completed(COFFEE), view.completed(TEA)), (10, 6));
        assert_eq!(view.open_slots(TEA), 2);
        assert_eq!((view.cell_open_slots(0), view.cell_open_slots(1)), (0, 0));
    }
}

/// A store that can be switched off: every call fails as an unreachable store's would.
#[derive(Debug)]
struct Flaky {
    inner: MemoryStore,
    down: AtomicBool,
}

impl Flaky {
    fn check(&self) -> Result<(), StoreError> {
        if self.down.load(Ordering::Acquire) {
            return Err(StoreError::Unavailable {
                attempts: 3,
                indeterminate: false,
                source: Arc::new(std::io::Error::from(std::io::ErrorKind::ConnectionRefused)),
            });
        }
        Ok(())
    }
}

impl QuotaStore for Flaky {
    fn layout(&self) -> &Layout {
        self.inner.layout()
    }
    fn hold(&self, r: &str, c: u32, counters: &[CounterId], ttl: u64) -> Result<Hold, StoreError> {
        self.check()?;
        self.inner.hold(r, c, counters, ttl)
    }
    fn commit(&self, r: &str, c: u32) -> Result<Completion, StoreError> {
        self.check()?;
        self.inner.commit(r, c)
    }
    fn release(&self, r: &str, c: u32) -> Result<bool, StoreError> {
        self.check()?;
        self.inner.release(r, c)
    }
    fn release_all(&self, r: &str) -> Result<Vec<Released>, StoreError> {
        self.check()?;
        self.inner.release_all(r)
    }
    fn expire(&self) -> Result<u64, StoreError> {
        self.check()?;
        self.inner.expire()
    }
    fn read(&self, out: &mut Vec<Count>) -> Result<(), StoreError> {
        self.check()?;
        self.inner.read(out)
    }
    fn save_interview(&self, r: &str, state: &str, ttl: u64) -> Result<(), StoreError> {
        self.check()?;
        self.inner.save_interview(r, state, ttl)
    }
    fn load_interview(&self, r: &str) -> Result<Option<String>, StoreError> {
        self.check()?;
        self.inner.load_interview(r)
    }
    fn set_max(&self, c: CounterId, max: u32, kind: ChangeKind) -> Result<Change, StoreError> {
        self.check()?;
        self.inner.set_max(c, max, kind)
    }
    fn changes(&self) -> Result<Vec<Change>, StoreError> {
        self.check()?;
        self.inner.changes()
    }
}

#[test]
fn a_store_failure_is_reported_holds_nothing_and_the_answer_can_be_retried() {
    let cat = catalogue();
    let flaky = Arc::new(Flaky {
        inner: MemoryStore::new(Layout::from_catalogue("flaky", &cat).unwrap(), SystemClock),
        down: AtomicBool::new(false),
    });
    let store: Arc<dyn QuotaStore> = flaky.clone();
    let e = Engine::with_store(
        cat.clone(),
        Greedy::scarcity(),
        SystemClock,
        LiveConfig::default(),
        store,
    )
    .unwrap();
    let mut worker = Worker::new(1);
    let mut session = e.start(
        &mut worker,
        Respondent::new(7, Answers::unknown(cat.schema())),
    );
    let c = e.next_offer(&mut worker, &mut session).unwrap().unwrap();
    let budget = session.interview().seconds_left();
    flaky.down.store(true, Ordering::Release);
    let failed = e.answer(&mut worker, &mut session, c, true);
    assert!(matches!(failed, Err(LiveError::Store { .. })), "{failed:?}");
    assert_eq!(
        session.interview().seconds_left(),
        budget,
        "no time charged"
    );
    assert!(matches!(e.sync(), Err(LiveError::Store { .. })));
    assert_eq!(
        e.quotas().view().pending(c),
        0,
        "nothing held in the mirror"
    );
    flaky.down.store(false, Ordering::Release);
    let retried = e.answer(&mut worker, &mut session, c, true).unwrap();
    assert!(
        matches!(retried, Answer::Reserved(Reservation::Accepted { .. })),
        "{retried:?}"
    );
    assert!(session.interview().seconds_left() < budget);
    assert_eq!(e.complete(7, c), Ok(Completion::Completed));
}

#[path = "../support/resume.rs"]
pub(crate) mod resume;

#[test]
fn an_interview_resumed_on_another_node_shows_nothing_twice_and_keeps_its_budget() {
    let cat = resume::catalogue();
    let store = Arc::new(MemoryStore::new(
        Layout::from_catalogue("resume", &cat).unwrap(),
        SystemClock,
    ));
    let node = || {
        let store: Arc<dyn QuotaStore> = store.clone();
        Engine::with_store(
            cat.clone(),
            Greedy::scarcity(),
            SystemClock,
            resume::config(),
            store,
        )
        .unwrap()
    };
    let (a, b) = (node(), node());
    resume::resumed_on_another_node(&a, &b, 7);
    // Nothing kept for a respondent never saved: a fresh session.
    let mut w = Worker::new(3);
    let fresh = b
        .resume(&mut w, Respondent::new(8, Answers::unknown(cat.schema())))
        .unwrap();
    assert_eq!(fresh.interview().qualifiers_shown(), 0);
}

#[test]
fn a_saved_session_is_refused_on_another_catalogue_and_without_a_store() {
    let cat = resume::catalogue();
    let e = Engine::new(
        cat.clone(),
        Greedy::scarcity(),
        SystemClock,
        resume::config(),
    )
    .unwrap();
    let mut w = Worker::new(1);
    let nobody = Answers::unknown(cat.schema());
    let mut s = e.start(&mut w, Respondent::new(1, nobody.clone()));
    let c = e.next_offer(&mut w, &mut s).unwrap().unwrap();
    let saved = e.save(&s);
    assert_eq!(saved.shown, vec![c.index() as u32]);
    // The plain-text form reads back exactly.
    assert_eq!(
        SavedInterview::from_text(&saved.to_text()),
        Ok(saved.clone())
    );
    // On the same catalogue without a store: carried on from the value.
    let again = e
        .resume_from(&mut w, Respondent::new(1, nobody.clone()), &saved)
        .unwrap();
    assert!(again.interview().was_shown(c) && !again.interview().is_candidate(c));
    assert_eq!(
        e.save_session(&again),
        Err(LiveError::NoStore {
            operation: "save_session"
        })
    );
    // Another catalogue (a changed length): refused, naming both fingerprints.
    let mut changed = cat.categories().to_vec();
    changed[0].loi_seconds += 1.0;
    let other = Catalogue::new(cat.schema().clone(), changed).unwrap();
    let e2 = Engine::new(other, Greedy::scarcity(), SystemClock, resume::config()).unwrap();
    match e2.resume_from(&mut w, Respondent::new(1, nobody.clone()), &saved) {
        Err(LiveError::Resume {
            respondent,
            error: ResumeError::Catalogue { saved: s, current },
        }) if respondent == 1 => assert!(s == saved.catalogue && current != s),
        other => panic!("expected a catalogue refusal, got {other:?}"),
    }
    // A tampered save: a category index past the catalogue, and a mangled line.
    let mut bad = saved.clone();
    bad.shown.push(99);
    assert!(matches!(
        e.resume_from(&mut w, Respondent::new(1, nobody.clone()), &bad),
        Err(LiveError::Resume {
            error: ResumeError::Category {
                field: "shown",
                index: 99,
                key: None,
            },
            ..
        })
    ));
    let text = saved.to_text().replace("seconds_used ", "seconds_used x");
    assert!(matches!(
        SavedInterview::from_text(&text),
        Err(ResumeError::Format { line: 3, .. })
    ));
}
