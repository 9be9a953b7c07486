//! Fuzzing the live snapshot format (and the catalogue document's quota cells): arbitrary
//! bytes and mutated valid documents, 10,000 cases each. Reading never panics, and anything
//! invalid is a typed error: a serde error for malformed JSON, a `LiveRestoreError` (or
//! `CatalogueError`) for a well-formed document that does not fit.

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
    e.abandon(3);
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
    #![proptest_config(ProptestConfig { cases: 10_000, failure_persistence: None, ..ProptestConfig::default() })]

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
