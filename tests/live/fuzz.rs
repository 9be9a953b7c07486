//! Fuzzing the engine's restore validation: snapshots of engines driven by random call
//! sequences (structurally valid), with one field changed at a time — a count, a held slot, a
//! cell, the statistics, the configuration. A snapshot whose counts no longer add up is
//! refused with a typed error; whatever is accepted is restored exactly and within every max
//! target. A few cases still feed arbitrary and edited bytes through the JSON reader, and the
//! catalogue document's quota cells are fuzzed as JSON.

use proptest::prelude::*;
use quotaroute::catalogue::{Catalogue, Category, CategoryId, QuotaCell};
use quotaroute::live::{Engine, LiveConfig, LiveSnapshot, ManualClock, Timestamp};
use quotaroute::route::Greedy;
use quotaroute::schema::{Answers, Rule, Schema};
use rand::{RngExt, SeedableRng};
use serde_json::Value;

fn catalogue() -> Catalogue {
    let schema = Schema::default_survey();
    let g = schema.question("gender").unwrap();
    let r = |name| schema.response(g, name).unwrap();
    Catalogue::new(
        schema.clone(),
        vec![
            Category::new("a", "A", 0.5, 60.0)
                .with_target(5)
                .with_cell(QuotaCell::new("f", Rule::one_of(g, [r("female")]), 2))
                .with_cell(QuotaCell::new("m", Rule::one_of(g, [r("male")]), 3).with_min(1)),
            Category::new("b", "B", 0.3, 90.0).with_target(4),
        ],
    )
    .unwrap()
}

fn valid_snapshot() -> String {
    let clock = ManualClock::new(Timestamp(1_000));
    let e = Engine::new(
        catalogue(),
        Greedy::scarcity(),
        &clock,
        LiveConfig::default(),
    )
    .unwrap();
    let schema = e.catalogue().schema().clone();
    let woman = Answers::from_names(&schema, [("gender", "female")]).unwrap();
    let man = Answers::from_names(&schema, [("gender", "male")]).unwrap();
    let (a, b) = (CategoryId::from_index(0), CategoryId::from_index(1));
    e.reserve(1, a, &woman).unwrap();
    e.reserve(2, a, &man).unwrap();
    e.reserve(2, b, &man).unwrap();
    e.complete(2, a).unwrap();
    e.reserve(3, b, &woman).unwrap();
    e.abandon(3).unwrap();
    serde_json::to_string(&e.snapshot()).unwrap()
}

/// Parses and restores; panics only if the library does.
fn read(bytes: &[u8]) {
    let clock = ManualClock::new(Timestamp(0));
    if let Ok(snap) = serde_json::from_slice::<LiveSnapshot>(bytes) {
        match Engine::restore(catalogue(), Greedy::scarcity(), &clock, &snap) {
            Ok(e) => {
                // A restored engine is usable and within its targets.
                assert_eq!(e.overfill(), 0);
                let _ = e.snapshot();
            }
            Err(error) => assert!(!error.to_string().is_empty()),
        }
    }
}

/// Replaces, removes or resizes one randomly chosen node of a JSON document.
fn mutate(value: &mut Value, rng: &mut rand::rngs::Xoshiro256PlusPlus) {
    let children = match value {
        Value::Object(m) => m.len(),
        Value::Array(a) => a.len(),
        _ => 0,
    };
    if children > 0 && rng.random_bool(0.8) {
        let i = rng.random_range(0..children);
        if rng.random_bool(0.1) {
            match value {
                Value::Object(m) => {
                    let key = m.keys().nth(i).cloned().unwrap();
                    m.remove(&key);
                }
                Value::Array(a) => {
                    if rng.random_bool(0.5) {
                        a.remove(i);
                    } else {
                        let copy = a[i].clone();
                        a.push(copy);
                    }
                }
                _ => {}
            }
            return;
        }
        let child = match value {
            Value::Object(m) => m.values_mut().nth(i).unwrap(),
            Value::Array(a) => &mut a[i],
            _ => unreachable!(),
        };
        return mutate(child, rng);
    }
    *value = match rng.random_range(0..9) {
        0 => Value::Null,
        1 => Value::from(rng.random_range(0..10u64)),
        2 => Value::from(u64::MAX),
        3 => Value::from(-1),
        4 => Value::from(u64::from(u32::MAX) + 1),
        5 => Value::from("x"),
        6 => Value::Array(vec![]),
        7 => Value::from(rng.random_range(-1e9..1e9f64)),
        _ => Value::from(rng.random::<bool>()),
    };
}

proptest! {
    // The byte- and JSON-level cases mostly exercise the JSON reader: fewer of them.
    #![proptest_config(ProptestConfig { cases: 1_000, failure_persistence: None, ..crate::support::config() })]

    #[test]
    fn snapshot_reader_survives_arbitrary_bytes(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        read(&bytes);
    }

    #[test]
    fn snapshot_reader_survives_mutated_documents(seed in any::<u64>(), mutations in 1usize..4) {
        let text = valid_snapshot();
        let mut rng = rand::rngs::Xoshiro256PlusPlus::seed_from_u64(seed);
        let mut doc: Value = serde_json::from_str(&text).unwrap();
        for _ in 0..mutations {
            mutate(&mut doc, &mut rng);
        }
        read(serde_json::to_string(&doc).unwrap().as_bytes());
    }

    #[test]
    fn snapshot_reader_survives_byte_mutations(seed in any::<u64>(), edits in 1usize..6) {
        let mut bytes = valid_snapshot().into_bytes();
        let mut rng = rand::rngs::Xoshiro256PlusPlus::seed_from_u64(seed);
        for _ in 0..edits {
            let i = rng.random_range(0..bytes.len());
            match rng.random_range(0..3) {
                0 => bytes[i] = rng.random(),
                1 => { bytes.remove(i); }
                _ => bytes.insert(i, b"0123456789,:[]{}\"-"[rng.random_range(0..18)]),
            }
        }
        read(&bytes);
    }

    #[test]
    fn catalogue_cells_survive_mutated_documents(seed in any::<u64>(), mutations in 1usize..4) {
        let mut doc = serde_json::to_value(catalogue()).unwrap();
        let mut rng = rand::rngs::Xoshiro256PlusPlus::seed_from_u64(seed);
        // Aim at the cells: mutate inside a category's `cells` list most of the time.
        for _ in 0..mutations {
            let path = format!("/categories/{}/cells", rng.random_range(0..2usize));
            if rng.random_bool(0.7) && let Some(cells) = doc.pointer_mut(&path) {
                mutate(cells, &mut rng);
            } else {
                mutate(&mut doc, &mut rng);
            }
        }
        if let Ok(c) = serde_json::from_value::<Catalogue>(doc) {
            // A catalogue that loads is consistent: every cell is addressable.
            for i in 0..c.cell_count() {
                prop_assert!(c.cell(i).is_some());
            }
        }
    }
}

#[test]
fn the_valid_document_restores() {
    let snap: LiveSnapshot = serde_json::from_str(&valid_snapshot()).unwrap();
    let clock = ManualClock::new(Timestamp(0));
    let e = Engine::restore(catalogue(), Greedy::scarcity(), &clock, &snap).unwrap();
    assert_eq!(e.snapshot().held, snap.held);
}

/// A call on the engine, on two categories and six respondents.
#[derive(Clone, Debug)]
enum Op {
    Reserve {
        respondent: u64,
        category: usize,
        woman: bool,
    },
    Complete {
        respondent: u64,
        category: usize,
    },
    Abandon {
        respondent: u64,
    },
    AbandonCategory {
        respondent: u64,
        category: usize,
    },
    Advance {
        millis: u64,
    },
    Expire,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0..6u64, 0..2usize, any::<bool>())
            .prop_map(|(respondent, category, woman)| Op::Reserve { respondent, category, woman }),
        3 => (0..6u64, 0..2usize).prop_map(|(respondent, category)| Op::Complete { respondent, category }),
        1 => (0..6u64).prop_map(|respondent| Op::Abandon { respondent }),
        1 => (0..6u64, 0..2usize)
            .prop_map(|(respondent, category)| Op::AbandonCategory { respondent, category }),
        1 => (0..1_500u64).prop_map(|millis| Op::Advance { millis }),
        1 => Just(Op::Expire),
    ]
}

/// The snapshot of an engine (time-to-live 1 s) after the calls.
fn snapshot_after(ops: &[Op]) -> LiveSnapshot {
    let clock = ManualClock::new(Timestamp(1_000));
    let config = LiveConfig {
        ttl_ms: 1_000,
        ..LiveConfig::default()
    };
    let e = Engine::new(catalogue(), Greedy::scarcity(), &clock, config).unwrap();
    let schema = e.catalogue().schema().clone();
    let woman = Answers::from_names(&schema, [("gender", "female")]).unwrap();
    let man = Answers::from_names(&schema, [("gender", "male")]).unwrap();
    let id = CategoryId::from_index;
    for op in ops {
        match *op {
            Op::Reserve {
                respondent,
                category,
                woman: w,
            } => {
                e.reserve(respondent, id(category), if w { &woman } else { &man })
                    .unwrap();
            }
            Op::Complete {
                respondent,
                category,
            } => {
                e.complete(respondent, id(category)).unwrap();
            }
            Op::Abandon { respondent } => {
                e.abandon(respondent).unwrap();
            }
            Op::AbandonCategory {
                respondent,
                category,
            } => {
                e.abandon_category(respondent, id(category)).unwrap();
            }
            Op::Advance { millis } => {
                clock.advance(millis);
            }
            Op::Expire => {
                e.expire().unwrap();
            }
        }
    }
    e.snapshot()
}

/// One field of a snapshot changed. `pick` chooses the element (modulo the length) and
/// `value` the new number.
#[derive(Clone, Copy, Debug)]
enum Mutation {
    Format,
    Pending,
    CellCompleted,
    CellPending,
    CellMax,
    CellKey,
    HeldCategory,
    HeldDeadline,
    HeldCells,
    HeldTwice,
    HeldDropped,
    HeldRespondent,
    QuotaCompleted,
    QuotaTarget,
    QuotaKey,
    Accepted,
    Released,
    Ttl,
    Budget,
    Ledger,
    QuotaShown,
    Fingerprint,
    LedgerCarry,
}

impl Mutation {
    /// Every mutation, for the strategy to pick from.
    const ALL: [Mutation; 23] = {
        use Mutation::*;
        [
            Format,
            Pending,
            CellCompleted,
            CellPending,
            CellMax,
            CellKey,
            HeldCategory,
            HeldDeadline,
            HeldCells,
            HeldTwice,
            HeldDropped,
            HeldRespondent,
            QuotaCompleted,
            QuotaTarget,
            QuotaKey,
            Accepted,
            Released,
            Ttl,
            Budget,
            Ledger,
            QuotaShown,
            Fingerprint,
            LedgerCarry,
        ]
    };
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop::sample::select(Mutation::ALL.to_vec())
}

/// What restoring a mutated snapshot must do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Expect {
    /// The counts no longer add up, or the configuration does not match.
    Refuse,
    /// Still consistent.
    Accept,
    /// Depends on the rest of the snapshot.
    Either,
}

/// Applies the mutation and says what a restore must do; `None` when the snapshot has nothing
/// to mutate there (no held slot).
fn apply(snap: &mut LiveSnapshot, m: Mutation, pick: usize, value: u32) -> Option<Expect> {
    use Expect::{Accept, Either, Refuse};
    let n = snap.pending.len();
    let cells = snap.cells.len();
    let held = snap.held.len();
    let nonzero = value.max(1);
    Some(match m {
        Mutation::Format => {
            snap.format = snap.format.wrapping_add(nonzero);
            Refuse
        }
        Mutation::Pending => {
            let p = &mut snap.pending[pick % n];
            *p = p.wrapping_add(nonzero);
            Refuse
        }
        Mutation::CellCompleted => {
            snap.cells[pick % cells].completed = value;
            Either
        }
        Mutation::CellPending => {
            let p = &mut snap.cells[pick % cells].pending;
            *p = p.wrapping_add(nonzero);
            Refuse
        }
        Mutation::CellMax => {
            let m = &mut snap.cells[pick % cells].max;
            *m = m.wrapping_add(nonzero);
            Refuse
        }
        Mutation::CellKey => {
            snap.cells[pick % cells].key.push('x');
            Refuse
        }
        Mutation::HeldCategory => {
            if held == 0 {
                return None;
            }
            snap.held[pick % held].category = n as u32 + value % 4;
            Refuse
        }
        Mutation::HeldDeadline => {
            if held == 0 {
                return None;
            }
            let h = &mut snap.held[pick % held];
            // A pending slot's deadline may be any time up to the snapshot's clock plus the
            // time-to-live (issue 16: no slot that never expires); a completed slot that
            // becomes pending (or the reverse) leaves the pending counts short (or over), or
            // its markers past the completes.
            let deadline = (value % 2 == 1).then_some(Timestamp(u64::from(value)));
            let kept = h.deadline.is_some() == deadline.is_some();
            h.deadline = deadline;
            let latest = snap.taken_at.0 + snap.config.ttl_ms;
            if kept && deadline.is_none_or(|d| d.0 <= latest) {
                Accept
            } else {
                Refuse
            }
        }
        Mutation::HeldCells => {
            if held == 0 {
                return None;
            }
            let h = &mut snap.held[pick % held];
            h.cells.push(value % (cells as u32 + 2));
            Refuse
        }
        Mutation::HeldTwice => {
            if held == 0 {
                return None;
            }
            let copy = snap.held[pick % held].clone();
            snap.held.push(copy);
            Refuse
        }
        Mutation::HeldDropped => {
            if held == 0 {
                return None;
            }
            // Dropping a pending slot leaves the pending counts over; a completed marker may go.
            if snap.held.remove(pick % held).deadline.is_some() {
                Refuse
            } else {
                Accept
            }
        }
        Mutation::HeldRespondent => {
            if held == 0 {
                return None;
            }
            // Another respondent's slot: valid unless they already hold the category.
            snap.held[pick % held].respondent = u64::from(value % 8).into();
            Either
        }
        Mutation::QuotaCompleted => {
            let i = pick % n;
            snap.quotas.completed[i] = value;
            let target = snap.quotas.targets[i];
            if u64::from(value) + u64::from(snap.pending[i]) > u64::from(target) {
                Refuse
            } else {
                // Completed markers and cells' completes must stay within it.
                Either
            }
        }
        Mutation::QuotaTarget => {
            // The wave ledger explains every target (issue 16: a tampered target let
            // completes pass it).
            let i = pick % n;
            let same = snap.quotas.targets[i] == value;
            snap.quotas.targets[i] = value;
            if same { Accept } else { Refuse }
        }
        Mutation::QuotaKey => {
            snap.quotas.categories[pick % n].push('x');
            Refuse
        }
        Mutation::Accepted => {
            snap.stats.accepted = snap.stats.accepted.wrapping_add(u64::from(nonzero));
            Refuse
        }
        Mutation::Released => {
            snap.stats.expired = snap.stats.expired.wrapping_add(u64::from(nonzero));
            Refuse
        }
        Mutation::Ttl => {
            snap.config.ttl_ms = u64::from(value % 3);
            if snap.config.ttl_ms == 0 {
                Refuse
            } else {
                // Held deadlines must stay within the snapshot's clock plus the new TTL.
                Either
            }
        }
        Mutation::Budget => {
            snap.config.budget_seconds = match value % 3 {
                0 => f64::NAN,
                1 => -1.0,
                _ => f64::from(value),
            };
            if value % 3 == 2 { Accept } else { Refuse }
        }
        // Issue 16: the statistics' shown must equal the counts'.
        Mutation::QuotaShown => {
            let i = pick % n;
            let same = snap.quotas.shown[i] == value;
            snap.quotas.shown[i] = value;
            if same { Accept } else { Refuse }
        }
        // Issue 16: a category whose configuration changed is a mismatch.
        Mutation::Fingerprint => {
            let f = &mut snap.quotas.fingerprints[pick % n];
            *f ^= u64::from(nonzero);
            Refuse
        }
        // Issue 16: in wave 1 nothing is carried; a carry the ledger cannot explain is refused.
        Mutation::LedgerCarry => {
            snap.ledger.carried[pick % n] =
                i64::from(nonzero) * if value.is_multiple_of(2) { 1 } else { -1 };
            Refuse
        }
        Mutation::Ledger => {
            if value.is_multiple_of(2) {
                snap.ledger = quotaroute::live::WaveLedger::new(&catalogue());
                Accept
            } else {
                let mut doc = serde_json::to_value(&snap.ledger).unwrap();
                if let Some(Value::Array(base)) = doc.get_mut("base") {
                    base.push(Value::from(1));
                }
                snap.ledger = serde_json::from_value(doc).unwrap();
                Refuse
            }
        }
    })
}

/// The held slots in snapshot order.
fn sorted(mut snap: LiveSnapshot) -> LiveSnapshot {
    snap.held.sort_unstable();
    snap
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 3_000, failure_persistence: None, ..crate::support::config() })]

    /// A snapshot with one field changed: refused with a typed error when its counts no
    /// longer add up; when accepted, restored exactly and within every max target.
    #[test]
    fn restore_refuses_inconsistent_snapshots_and_restores_the_rest_exactly(
        ops in prop::collection::vec(op(), 0..40),
        m in mutation(),
        pick in any::<usize>(),
        value in prop_oneof![0..12u32, any::<u32>()],
    ) {
        let valid = snapshot_after(&ops);
        let clock = ManualClock::new(Timestamp(0));
        // The unchanged snapshot restores, to itself.
        let e = Engine::restore(catalogue(), Greedy::scarcity(), &clock, &valid).unwrap();
        prop_assert_eq!(LiveSnapshot { taken_at: valid.taken_at, ..e.snapshot() }, valid.clone());
        let mut snap = valid;
        let Some(expect) = apply(&mut snap, m, pick, value) else {
            return Ok(());
        };
        match Engine::restore(catalogue(), Greedy::scarcity(), &clock, &snap) {
            Ok(e) => {
                prop_assert!(expect != Expect::Refuse, "{:?} accepted: {:?}", m, snap);
                prop_assert_eq!(e.overfill(), 0);
                let view = e.quotas().view();
                for c in e.catalogue().ids() {
                    prop_assert!(view.completed(c) + view.pending(c) <= e.quotas().target(c));
                }
                let again = sorted(LiveSnapshot { taken_at: snap.taken_at, ..e.snapshot() });
                prop_assert_eq!(again, sorted(snap.clone()));
                // Still usable: counts move and stay within the targets.
                let nobody = Answers::unknown(e.catalogue().schema());
                let _ = e.reserve(99, CategoryId::from_index(1), &nobody).unwrap();
                e.expire_all().unwrap();
                prop_assert_eq!(e.overfill(), 0);
            }
            Err(error) => {
                prop_assert!(!error.to_string().is_empty());
                prop_assert!(expect != Expect::Accept, "{:?} refused: {}", m, error);
            }
        }
    }
}
