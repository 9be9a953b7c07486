//! Unit tests with access to the exact state: the fast fix-up against the seed's literal
//! one-at-a-time loop, and the streaming mode against batches of one.

#![allow(clippy::needless_range_loop)]

use super::*;
use proptest::prelude::*;

/// The seed's algorithm, literally: round, then fix the total one unit at a time. O(Δ·n).
fn reference_dispatch(d: &mut Dispatcher<u32>, size: u64) -> Vec<u64> {
    let n = d.ids.len();
    let mut a = vec![0i128; n];
    if size == 0 {
        return vec![0; n];
    }
    let dd = d.denom as i128;
    let tau = d.tau;
    let x: Vec<i128> = (0..n)
        .map(|i| size as i128 * d.slope[i] as i128 - d.error_units(i))
        .collect();
    for i in 0..n {
        if d.slope[i] > 0 {
            a[i] = round_half_up(x[i], dd, d.half).max(0);
        }
    }
    let err = |a: &[i128], i: usize| a[i] * dd - x[i];
    let mut total: i128 = a.iter().sum();
    while total > size as i128 {
        let elig: Vec<usize> = (0..n).filter(|&i| d.slope[i] > 0 && a[i] > 0).collect();
        let m = elig.iter().map(|&i| err(&a, i)).max().unwrap();
        let pick = *elig
            .iter()
            .filter(|&&i| err(&a, i) >= m - tau)
            .max()
            .unwrap();
        a[pick] -= 1;
        total -= 1;
    }
    while total < size as i128 {
        let elig: Vec<usize> = (0..n).filter(|&i| d.slope[i] > 0).collect();
        let m = elig.iter().map(|&i| err(&a, i)).min().unwrap();
        let pick = *elig
            .iter()
            .filter(|&&i| err(&a, i) <= m + tau)
            .min()
            .unwrap();
        a[pick] += 1;
        total += 1;
    }
    for i in 0..n {
        d.base[i] += a[i] * dd;
    }
    d.t += size;
    d.tournament = None;
    a.iter().map(|&v| v as u64).collect()
}

fn exact_errors(d: &Dispatcher<u32>) -> Vec<i128> {
    (0..d.len()).map(|i| d.error_units(i)).collect()
}

#[derive(Clone, Debug)]
enum Op {
    Batch(u64),
    Weight(usize, f64),
    Remove(usize),
    Add(f64),
    SetError(usize, f64),
}

fn weight() -> impl Strategy<Value = f64> {
    prop_oneof![
        3 => (0u32..6).prop_map(f64::from),
        2 => 0.01f64..10.0,
        1 => Just(0.1 + 0.2),
        1 => Just(0.3),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => prop_oneof![4 => 0u64..12, 1 => 0u64..400, 1 => Just(1u64)].prop_map(Op::Batch),
        1 => (0usize..8, weight()).prop_map(|(i, w)| Op::Weight(i, w)),
        1 => (0usize..8).prop_map(Op::Remove),
        1 => weight().prop_map(Op::Add),
        1 => (0usize..8, prop_oneof![(-40i32..40).prop_map(|k| f64::from(k) / 4.0), -30.0f64..30.0])
            .prop_map(|(i, e)| Op::SetError(i, e)),
    ]
}

fn setup(weights: &[f64], policy: LeavePolicy) -> Dispatcher<u32> {
    Dispatcher::from_weights(
        weights.iter().enumerate().map(|(i, &w)| (i as u32, w)),
        policy,
    )
    .unwrap()
}

/// Applies a roster op (not a batch); returns false if it was refused.
fn apply_op(d: &mut Dispatcher<u32>, op: &Op, next_id: &mut u32) {
    match *op {
        Op::Weight(i, w) if i < d.len() => {
            let id = d.ids[i];
            d.set_weight(&id, w).unwrap();
        }
        Op::Remove(i) if i < d.len() => {
            let id = d.ids[i];
            d.remove(&id).unwrap();
        }
        Op::Add(w) => {
            d.add(*next_id, w).unwrap();
            *next_id += 1;
        }
        Op::SetError(i, e) if i < d.len() => {
            let id = d.ids[i];
            d.set_cumulative_error(&id, e).unwrap();
        }
        _ => {}
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    /// The bulk fix-up equals the seed's one-at-a-time loop, tie rules included, for any
    /// state: integer weights (ties everywhere), near-equal real weights, large carried errors
    /// (corrections of many units per recipient), pauses, departures, arrivals.
    #[test]
    fn fast_batch_equals_one_at_a_time_loop(
        weights in prop::collection::vec(weight(), 1..7),
        spread in any::<bool>(),
        ops in prop::collection::vec(op(), 1..40),
    ) {
        let policy = if spread { LeavePolicy::Spread } else { LeavePolicy::Forget };
        let mut fast = setup(&weights, policy);
        let mut slow = fast.clone();
        let mut next_id = 100;
        for op in &ops {
            if let Op::Batch(size) = *op {
                let got = fast.dispatch(size);
                if slow.active == 0 {
                    prop_assert!(size == 0 || got.is_err());
                    continue;
                }
                let want = reference_dispatch(&mut slow, size);
                prop_assert_eq!(got.unwrap(), want);
                prop_assert_eq!(exact_errors(&fast), exact_errors(&slow));
            } else {
                let mut n2 = next_id;
                apply_op(&mut fast, op, &mut next_id);
                apply_op(&mut slow, op, &mut n2);
            }
        }
    }

    /// `next()` equals `dispatch(1)`: same recipient, same exact state, through roster changes,
    /// carried errors and pauses.
    #[test]
    fn streaming_equals_batches_of_one(
        weights in prop::collection::vec(weight(), 1..9),
        ops in prop::collection::vec(op(), 1..30),
    ) {
        let mut stream = setup(&weights, LeavePolicy::Forget);
        let mut batch = stream.clone();
        let mut next_id = 100;
        for op in &ops {
            if let Op::Batch(size) = *op {
                for _ in 0..size.min(60) {
                    let s = stream.next();
                    let b = batch.dispatch(1);
                    match (s, b) {
                        (Ok(i), Ok(alloc)) => {
                            prop_assert_eq!(alloc.iter().sum::<u64>(), 1);
                            prop_assert_eq!(alloc[i], 1);
                        }
                        (Err(_), Err(_)) => {}
                        (s, b) => prop_assert!(false, "stream {:?} vs batch {:?}", s, b),
                    }
                    prop_assert_eq!(exact_errors(&stream), exact_errors(&batch));
                }
            } else {
                let mut n2 = next_id;
                apply_op(&mut stream, op, &mut next_id);
                apply_op(&mut batch, op, &mut n2);
            }
        }
    }
}

/// Many recipients with very negative errors: a batch of one must take away many units and
/// the streaming mode must find the survivor within the chain of ties.
#[test]
fn streaming_handles_large_take_phases() {
    let mut stream = setup(&[1.0; 12], LeavePolicy::Forget);
    for i in 0..12u32 {
        stream
            .set_cumulative_error(&i, -0.75 - f64::from(i % 3) * 0.25)
            .unwrap();
    }
    let mut batch = stream.clone();
    let mut reference = stream.clone();
    for _ in 0..500 {
        let s = stream.next().unwrap();
        let b = batch.dispatch(1).unwrap();
        let r = reference_dispatch(&mut reference, 1);
        assert_eq!(b, r);
        assert_eq!(b[s], 1);
        assert_eq!(exact_errors(&stream), exact_errors(&batch));
    }
}

#[test]
fn rebase_changes_nothing() {
    let mut a = setup(&[0.3, 0.7, 1.9], LeavePolicy::Forget);
    let mut b = a.clone();
    a.dispatch(REBASE_AT - 1).unwrap();
    b.dispatch(REBASE_AT - 1).unwrap();
    assert_eq!(a.t, REBASE_AT - 1);
    for _ in 0..5 {
        assert_eq!(
            a.next().unwrap(),
            b.dispatch(1).unwrap().iter().position(|&v| v == 1).unwrap()
        );
    }
    assert_eq!(a.t, 4);
    assert_eq!(exact_errors(&a), exact_errors(&b));
}

#[test]
fn scaling_is_exact_for_ordinary_weights() {
    assert_eq!(
        scale_weights([1.0, 2.0, 3.0].into_iter()),
        vec![1 << 51, 1 << 52, 3 << 51]
    );
    let s = scale_weights([0.8, 1.0, 1.2].into_iter());
    assert_eq!(s[1], 1 << 52);
    assert_eq!(s[0] as f64 / s[1] as f64, 0.8);
    assert_eq!(
        scale_weights([1e-300, 1.0, 0.0].into_iter()),
        vec![1, 1 << 52, 0]
    );
    assert_eq!(
        scale_weights([f64::MIN_POSITIVE / 4.0].into_iter()),
        vec![1 << 52]
    );
}

#[test]
fn rounding_is_half_up_with_tolerance() {
    let d = 1_000_000_000_000i128;
    let h = half_threshold(d);
    assert_eq!(round_half_up(d / 2, d, h), 1);
    assert_eq!(round_half_up(d / 2 - 1000, d, h), 1); // within 1e-9 below a half
    assert_eq!(round_half_up(d / 2 - 1001, d, h), 0);
    assert_eq!(round_half_up(-d / 2, d, h), 0);
    assert_eq!(round_half_up(-d / 2 - 1, d, h), 0);
    assert_eq!(round_half_up(-d / 2 - 2000, d, h), -1);
    assert_eq!(round_half_up(3 * d, d, h), 3);
}

#[test]
fn error_conversion_is_exact_on_dyadics() {
    let d = 3u128 << 51;
    assert_eq!(error_to_units(0.5, d), Some((3i128 << 51) / 2));
    assert_eq!(error_to_units(-0.25, d), Some(-(3i128 << 49)));
    assert_eq!(error_to_units(1e-300, d), Some(0));
    assert_eq!(error_to_units(2.0, d), Some(3i128 << 52));
}
