//! The streaming mode against batches of one over a million items each: random real weights,
//! and small integer weights (ties at almost every step), with occasional roster changes. Between
//! roster changes, the items each recipient received (counted here) must account exactly for
//! how its cumulative error moved, and the errors' sum must not move.

use std::collections::HashMap;

use quotaroute::dispatch::{Dispatcher, LeavePolicy};
use rand::rngs::Xoshiro256PlusPlus;
use rand::{RngExt, SeedableRng};

/// Per-epoch bookkeeping (an epoch is a stretch of items with a fixed roster), kept apart from
/// the dispatcher: which recipient each item went to, counted independently of its errors.
struct Epoch {
    start: u64,
    errors: HashMap<u32, f64>,
    counts: HashMap<u32, u64>,
}

impl Epoch {
    fn begin(d: &Dispatcher<u32>, start: u64) -> Epoch {
        Epoch {
            start,
            errors: errors(d),
            counts: HashMap::new(),
        }
    }

    /// Over the epoch, each recipient's cumulative error moved by exactly what it received less
    /// its ideal share (`items × weight / Σ weights`, 0 when paused), and the errors' sum did
    /// not move (each item adds one unit received and one unit of ideal share).
    fn check(&self, d: &Dispatcher<u32>, end: u64) {
        let items = (end - self.start) as f64;
        let total: f64 = d.weights().iter().sum();
        let now = errors(d);
        for (&id, &w) in d.ids().iter().zip(d.weights()) {
            let got = *self.counts.get(&id).unwrap_or(&0) as f64;
            let moved = now[&id] - self.errors[&id];
            let expected = got - items * w / total;
            assert!(
                (moved - expected).abs() < 1e-6,
                "items {}..{end}: recipient {id} received {got} at weight {w}/{total}: \
                 its error moved by {moved}, not {expected}",
                self.start
            );
        }
        let (before, after): (f64, f64) = (self.errors.values().sum(), now.values().sum());
        assert!(
            (before - after).abs() < 1e-6,
            "items {}..{end}: the errors' sum moved from {before} to {after}",
            self.start
        );
    }
}

fn errors(d: &Dispatcher<u32>) -> HashMap<u32, f64> {
    d.ids().iter().copied().zip(d.cumulative_errors()).collect()
}

fn run(mut weight: impl FnMut(&mut Xoshiro256PlusPlus) -> f64, n: u32, items: u64, seed: u64) {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    let mut stream =
        Dispatcher::from_weights((0..n).map(|i| (i, weight(&mut rng))), LeavePolicy::Forget)
            .unwrap();
    let mut batch = stream.clone();
    let mut next_id = n;
    let mut epoch = Epoch::begin(&stream, 0);
    for k in 0..items {
        if k % 100_000 == 99_999 {
            epoch.check(&stream, k);
            // A roster change: reweight one, pause/resume one, swap one out for a newcomer.
            let ids = stream.ids().to_vec();
            let (a, b, c) = (
                ids[k as usize % ids.len()],
                ids[(k as usize / 7) % ids.len()],
                ids[0],
            );
            let w = weight(&mut rng);
            for d in [&mut stream, &mut batch] {
                d.set_weight(&a, w).unwrap();
                let paused = d.weight(&b).unwrap() == 0.0;
                d.set_weight(&b, if paused { 1.0 } else { 0.0 }).unwrap();
                d.remove(&c).unwrap();
                d.add(next_id, 2.0).unwrap();
            }
            next_id += 1;
            epoch = Epoch::begin(&stream, k);
        }
        let s = stream.next().unwrap();
        let alloc = batch.dispatch(1).unwrap();
        assert_eq!(alloc[s], 1, "item {k}: stream gave {s}, batch {alloc:?}");
        *epoch.counts.entry(stream.ids()[s]).or_insert(0) += 1;
        if k % 10_000 == 0 {
            assert_eq!(stream.to_state(), batch.to_state(), "item {k}");
        }
    }
    assert_eq!(stream.to_state(), batch.to_state());
    epoch.check(&stream, items);
}

#[test]
fn million_items_real_weights() {
    run(|r| r.random_range(0.05..3.0), 6, 1_000_000, 1);
}

#[test]
fn million_items_small_integer_weights() {
    run(|r| f64::from(r.random_range(1u8..4)), 7, 1_000_000, 2);
}
