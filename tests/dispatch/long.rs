//! The streaming mode against batches of one over a million items each: random real weights,
//! and small integer weights (ties at almost every step), with occasional roster changes.

use quotaroute::dispatch::{Dispatcher, LeavePolicy};
use rand::rngs::Xoshiro256PlusPlus;
use rand::{RngExt, SeedableRng};

fn run(mut weight: impl FnMut(&mut Xoshiro256PlusPlus) -> f64, n: u32, items: u64, seed: u64) {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    let mut stream =
        Dispatcher::from_weights((0..n).map(|i| (i, weight(&mut rng))), LeavePolicy::Forget)
            .unwrap();
    let mut batch = stream.clone();
    let mut next_id = n;
    let mut counts = vec![0u64; 64];
    for k in 0..items {
        if k % 100_000 == 99_999 {
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
        }
        let s = stream.next().unwrap();
        let alloc = batch.dispatch(1).unwrap();
        assert_eq!(alloc[s], 1, "item {k}: stream gave {s}, batch {alloc:?}");
        counts[*stream.ids().get(s).unwrap() as usize % 64] += 1;
        if k % 10_000 == 0 {
            assert_eq!(stream.to_state(), batch.to_state(), "item {k}");
        }
    }
    assert_eq!(stream.to_state(), batch.to_state());
    assert_eq!(counts.iter().sum::<u64>(), items);
}

#[test]
fn million_items_real_weights() {
    run(|r| r.random_range(0.05..3.0), 6, 1_000_000, 1);
}

#[test]
fn million_items_small_integer_weights() {
    run(|r| f64::from(r.random_range(1u8..4)), 7, 1_000_000, 2);
}
