//! The streaming mode against batches of one at the edges of its two kinetic structures: the
//! wide groups (up to 8,192 recipients) and the binary tournament (beyond), one and two
//! recipients, partly filled groups, exact ties, pauses, weight changes, arrivals and departures
//! mid-stream, and the fold of the step counter.

use quotaroute::dispatch::{Dispatcher, LeavePolicy};
use rand::rngs::Xoshiro256PlusPlus;
use rand::{RngExt, SeedableRng};

/// Streams `items` items from `stream` and hands the same out as batches of one from a clone:
/// the same recipient every time and, now and then, the same exact state.
fn same_as_batches(stream: &mut Dispatcher<u32>, items: u64) {
    let mut batch = stream.clone();
    for k in 0..items {
        let s = stream.next().unwrap();
        let alloc = batch.dispatch(1).unwrap();
        assert_eq!(alloc[s], 1, "item {k}: stream gave {s}, batch {alloc:?}");
        if k % 97 == 0 {
            assert_eq!(stream.to_state(), batch.to_state(), "item {k}");
        }
    }
    assert_eq!(stream.to_state(), batch.to_state());
}

fn real_weights(n: u32, seed: u64) -> Dispatcher<u32> {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    Dispatcher::from_weights(
        (0..n).map(|i| (i, rng.random_range(0.05..3.0))),
        LeavePolicy::Forget,
    )
    .unwrap()
}

#[test]
fn one_and_two_recipients() {
    let mut d = Dispatcher::from_weights([(0u32, 0.7)], LeavePolicy::Forget).unwrap();
    same_as_batches(&mut d, 50);
    let mut d = Dispatcher::from_weights([(0u32, 1.0), (1, 1.0)], LeavePolicy::Forget).unwrap();
    same_as_batches(&mut d, 50);
    let mut d = Dispatcher::from_weights([(0u32, 0.6), (1, 0.4)], LeavePolicy::Forget).unwrap();
    let seq: Vec<usize> = (0..5).map(|_| d.next().unwrap()).collect();
    assert_eq!(seq, vec![0, 1, 0, 1, 0]);
    // One of two paused: the other gets everything.
    d.set_weight(&0, 0.0).unwrap();
    assert!((0..5).all(|_| d.next().unwrap() == 1));
    same_as_batches(&mut d, 20);
}

#[test]
fn partly_filled_groups_with_ties_and_pauses() {
    // 37 recipients: several groups, the last one partly padding; small integer weights
    // (exact ties at almost every step) and a few paused.
    let mut d = Dispatcher::from_weights(
        (0..37u32).map(|i| (i, f64::from(i % 4))),
        LeavePolicy::Forget,
    )
    .unwrap();
    same_as_batches(&mut d, 3_000);
}

#[test]
fn roster_changes_mid_stream() {
    let mut d = real_weights(300, 5);
    same_as_batches(&mut d, 500);
    d.set_weight(&7, 0.0).unwrap(); // pause
    d.set_weight(&8, 9.0).unwrap(); // a weight change
    same_as_batches(&mut d, 500);
    d.set_weight(&7, 1.0).unwrap(); // resume
    d.remove(&9).unwrap();
    d.add(1_000, 2.5).unwrap();
    same_as_batches(&mut d, 500);
    // A batch in between, then streaming again.
    d.dispatch(1_234).unwrap();
    same_as_batches(&mut d, 500);
}

#[test]
fn both_sides_of_the_structure_switch() {
    // 8,192 recipients use the wide groups, 8,193 the binary tournament: the same sequence
    // as batches of one either way.
    for n in [8_192, 8_193] {
        let mut d = real_weights(n, u64::from(n));
        d.dispatch(u64::from(n) * 2 + 5).unwrap();
        same_as_batches(&mut d, 300);
    }
}

#[test]
fn the_step_counter_folds_mid_stream() {
    // The counter is folded into the errors every 2²⁰ items: reach it inside the stream.
    let mut d = real_weights(50, 3);
    d.dispatch((1 << 20) - 40).unwrap();
    same_as_batches(&mut d, 100);
    let mut d =
        Dispatcher::from_weights((0..20u32).map(|i| (i, 1.0)), LeavePolicy::Forget).unwrap();
    d.dispatch((1 << 20) - 7).unwrap();
    same_as_batches(&mut d, 60);
}

#[test]
fn weights_equal_but_for_rounding() {
    // 0.3 and 0.1 + 0.2 differ in the last bit: their scaled weights differ by one unit, a
    // catch-up far slower than the f64 error, which the streaming mode settles exactly.
    let w = [0.3, 0.1 + 0.2, 0.3, 0.6, 0.1 + 0.2];
    let mut d = Dispatcher::from_weights(
        (0..40u32).map(|i| (i, w[i as usize % w.len()])),
        LeavePolicy::Forget,
    )
    .unwrap();
    same_as_batches(&mut d, 2_000);
}
