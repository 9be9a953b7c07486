//! Property tests of the dispatcher's invariants, and an exact-rational oracle.
#![allow(clippy::needless_range_loop)] // parallel arrays in the oracle and brute force

use proptest::prelude::*;
use quotaroute::dispatch::{Dispatcher, LeavePolicy};

// ---------------------------------------------------------------------------------------------
// Small exact rationals for the oracle.

fn gcd(mut a: i128, mut b: i128) -> i128 {
    a = a.abs();
    b = b.abs();
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Q(i128, i128); // numerator, denominator > 0, reduced

impl Q {
    fn new(n: i128, d: i128) -> Q {
        let g = gcd(n, d).max(1);
        let s = if d < 0 { -1 } else { 1 };
        Q(s * n / g, s * d / g)
    }
    fn int(n: i128) -> Q {
        Q(n, 1)
    }
    fn add(self, o: Q) -> Q {
        Q::new(self.0 * o.1 + o.0 * self.1, self.1 * o.1)
    }
    fn sub(self, o: Q) -> Q {
        self.add(Q(-o.0, o.1))
    }
    fn le(self, o: Q) -> bool {
        self.0 * o.1 <= o.0 * self.1
    }
    fn floor(self) -> i128 {
        self.0.div_euclid(self.1)
    }
    fn to_f64(self) -> f64 {
        self.0 as f64 / self.1 as f64
    }
}

const TAU: Q = Q(1, 1_000_000_000);

/// The forced-distribution rules of the `dispatch` module docs (ideal, round half up with the
/// tie tolerance, one-unit corrections, ties to the earlier-added), in exact rationals.
#[derive(Clone, Debug)]
struct Oracle {
    ids: Vec<u32>,
    weights: Vec<i128>,
    errors: Vec<Q>,
}

impl Oracle {
    fn dispatch(&mut self, size: i128) -> Vec<u64> {
        let n = self.ids.len();
        let total: i128 = self.weights.iter().sum();
        let mut a = vec![0i128; n];
        if size == 0 {
            return vec![0; n];
        }
        let ideal: Vec<Q> = (0..n)
            .map(|i| Q::new(size * self.weights[i], total.max(1)).sub(self.errors[i]))
            .collect();
        for i in 0..n {
            if self.weights[i] > 0 {
                // round half up, a half less 1e-9 counting as a half; negatives to 0
                a[i] = ideal[i].add(Q(1, 2)).add(TAU).floor().max(0);
            }
        }
        let err = |a: &[i128], i: usize| Q::int(a[i]).sub(ideal[i]);
        let mut sum: i128 = a.iter().sum();
        while sum > size {
            let elig: Vec<usize> = (0..n)
                .filter(|&i| self.weights[i] > 0 && a[i] > 0)
                .collect();
            let mut m = err(&a, elig[0]);
            for &i in &elig {
                if m.le(err(&a, i)) {
                    m = err(&a, i);
                }
            }
            let pick = *elig.iter().rfind(|&&i| m.sub(TAU).le(err(&a, i))).unwrap();
            a[pick] -= 1;
            sum -= 1;
        }
        while sum < size {
            let elig: Vec<usize> = (0..n).filter(|&i| self.weights[i] > 0).collect();
            let mut m = err(&a, elig[0]);
            for &i in &elig {
                if err(&a, i).le(m) {
                    m = err(&a, i);
                }
            }
            let pick = *elig.iter().find(|&&i| err(&a, i).le(m.add(TAU))).unwrap();
            a[pick] += 1;
            sum += 1;
        }
        for i in 0..n {
            if self.weights[i] > 0 {
                self.errors[i] = err(&a, i);
            }
        }
        a.iter().map(|&v| v as u64).collect()
    }
}

#[derive(Clone, Debug)]
enum Op {
    Batch(u64),
    Weight(usize, u8),
    Remove(usize),
    Add(u8),
}

fn ops() -> impl Strategy<Value = Vec<Op>> {
    prop::collection::vec(
        prop_oneof![
            6 => prop_oneof![3 => 0u64..8, 1 => 0u64..60].prop_map(Op::Batch),
            1 => (0usize..6, 0u8..5).prop_map(|(i, w)| Op::Weight(i, w)),
            1 => (0usize..6).prop_map(Op::Remove),
            1 => (0u8..5).prop_map(Op::Add),
        ],
        1..40,
    )
}

proptest! {
    #![proptest_config(crate::proptest_config(256))]

    /// Small integer weights (ties everywhere): allocations equal the exact-rational oracle's,
    /// errors agree to 1e-9, through pauses, departures (forgetting) and arrivals.
    #[test]
    fn matches_exact_rational_oracle(weights in prop::collection::vec(0u8..5, 1..6), ops in ops()) {
        let mut d = Dispatcher::from_weights(
            weights.iter().enumerate().map(|(i, &w)| (i as u32, f64::from(w))),
            LeavePolicy::Forget,
        ).unwrap();
        let mut o = Oracle {
            ids: (0..weights.len() as u32).collect(),
            weights: weights.iter().map(|&w| i128::from(w)).collect(),
            errors: vec![Q::int(0); weights.len()],
        };
        let mut next = 100u32;
        for op in &ops {
            match *op {
                Op::Batch(size) => {
                    let active = o.weights.iter().any(|&w| w > 0);
                    let got = d.dispatch(size);
                    if !active && size > 0 {
                        prop_assert!(got.is_err());
                        continue;
                    }
                    prop_assert_eq!(got.unwrap(), o.dispatch(size as i128));
                    for (i, e) in d.cumulative_errors().enumerate() {
                        prop_assert!((e - o.errors[i].to_f64()).abs() < 1e-9, "{} vs {:?}", e, o.errors[i]);
                    }
                }
                Op::Weight(i, w) if i < o.ids.len() => {
                    d.set_weight(&o.ids[i], f64::from(w)).unwrap();
                    o.weights[i] = i128::from(w);
                }
                Op::Remove(i) if i < o.ids.len() => {
                    d.remove(&o.ids[i]).unwrap();
                    o.ids.remove(i);
                    o.weights.remove(i);
                    o.errors.remove(i);
                }
                Op::Add(w) => {
                    d.add(next, f64::from(w)).unwrap();
                    o.ids.push(next);
                    o.weights.push(i128::from(w));
                    o.errors.push(Q::int(0));
                    next += 1;
                }
                _ => {}
            }
        }
    }

    /// Non-negative allocations summing to the size; paused recipients get nothing and keep
    /// their error; the errors of all held recipients sum to exactly zero (until a departure
    /// forgets one; always with spreading); the same inputs give the same outputs.
    #[test]
    fn batch_invariants(
        weights in prop::collection::vec(prop_oneof![Just(0.0), 0.05f64..5.0, (1u8..4).prop_map(f64::from)], 1..7),
        spread in any::<bool>(),
        ops in ops(),
    ) {
        let policy = if spread { LeavePolicy::Spread } else { LeavePolicy::Forget };
        let build = || Dispatcher::from_weights(
            weights.iter().enumerate().map(|(i, &w)| (i as u32, w)),
            policy,
        ).unwrap();
        let mut d = build();
        let mut twin = build();
        let mut forgotten = false;
        let mut next = 100u32;
        for op in &ops {
            let ids = d.ids().to_vec();
            match *op {
                Op::Batch(size) => {
                    let before: Vec<f64> = d.cumulative_errors().collect();
                    let paused: Vec<bool> = d.weights().iter().map(|&w| w == 0.0).collect();
                    let got = d.dispatch(size);
                    prop_assert_eq!(&got, &twin.dispatch(size));
                    let Ok(alloc) = got else { continue };
                    prop_assert_eq!(alloc.iter().sum::<u64>(), size);
                    for (i, &p) in paused.iter().enumerate() {
                        if p {
                            prop_assert_eq!(alloc[i], 0);
                            prop_assert_eq!(d.cumulative_errors().nth(i).unwrap(), before[i]);
                        }
                    }
                }
                Op::Weight(i, w) if i < ids.len() => {
                    d.set_weight(&ids[i], f64::from(w) * 0.7).unwrap();
                    twin.set_weight(&ids[i], f64::from(w) * 0.7).unwrap();
                }
                Op::Remove(i) if i < ids.len() => {
                    let e = d.remove(&ids[i]).unwrap();
                    twin.remove(&ids[i]).unwrap();
                    forgotten |= !spread && e != 0.0;
                }
                Op::Add(w) => {
                    d.add(next, f64::from(w)).unwrap();
                    twin.add(next, f64::from(w)).unwrap();
                    next += 1;
                }
                _ => {}
            }
            let sum: i128 = (0..d.len()).map(|i| d.exact_error(i).unwrap().numerator).sum();
            if !forgotten {
                prop_assert_eq!(sum, 0);
            }
            prop_assert_eq!(d.to_state(), twin.to_state());
        }
    }

    /// Each batch minimises the sum of squared cumulative errors given the errors carried in
    /// (brute force over every allocation of the batch).
    #[test]
    fn batch_minimises_squared_errors(
        weights in prop::collection::vec(prop_oneof![Just(0.0), 0.1f64..3.0, (1u8..4).prop_map(f64::from)], 1..5),
        errors in prop::collection::vec(-2.5f64..2.5, 4),
        size in 0u64..7,
    ) {
        prop_assume!(weights.iter().any(|&w| w > 0.0));
        let mut d = Dispatcher::from_weights(
            weights.iter().enumerate().map(|(i, &w)| (i, w)),
            LeavePolicy::Forget,
        ).unwrap();
        for i in 0..weights.len() {
            d.set_cumulative_error(&i, errors[i]).unwrap();
        }
        let carried: Vec<f64> = d.cumulative_errors().collect();
        let total: f64 = weights.iter().sum();
        let active: Vec<usize> = (0..weights.len()).filter(|&i| weights[i] > 0.0).collect();
        let sse = |alloc: &[u64]| -> f64 {
            active.iter().map(|&i| {
                let e = carried[i] + alloc[i] as f64 - size as f64 * weights[i] / total;
                e * e
            }).sum()
        };
        let got = d.dispatch(size).unwrap();
        // Enumerate all allocations of `size` among the active recipients.
        let mut best = f64::INFINITY;
        let mut alloc = vec![0u64; weights.len()];
        fn walk(k: usize, left: u64, active: &[usize], alloc: &mut Vec<u64>, f: &mut dyn FnMut(&[u64])) {
            if k + 1 == active.len() {
                alloc[active[k]] = left;
                f(alloc);
                return;
            }
            for v in 0..=left {
                alloc[active[k]] = v;
                walk(k + 1, left - v, active, alloc, f);
            }
        }
        walk(0, size, &active, &mut alloc, &mut |a| best = best.min(sse(a)));
        prop_assert!(sse(&got) <= best + 1e-6, "got {:?}: {} > best {}", got, sse(&got), best);
    }

    /// With fixed positive weights no recipient is ever a whole item ahead of its ideal share
    /// (error < +1), whatever the batch sizes.
    #[test]
    fn never_a_whole_item_ahead(
        weights in prop::collection::vec(prop_oneof![0.01f64..10.0, (1u8..6).prop_map(f64::from)], 1..9),
        sizes in prop::collection::vec(prop_oneof![0u64..5, 0u64..200], 1..60),
    ) {
        let mut d = Dispatcher::from_weights(weights.iter().enumerate().map(|(i, &w)| (i, w)), LeavePolicy::Forget).unwrap();
        for size in sizes {
            d.dispatch(size).unwrap();
            for i in 0..d.len() {
                let e = d.exact_error(i).unwrap();
                prop_assert!(e.numerator < e.denominator as i128, "recipient {} ahead by {}", i, e.to_f64());
            }
        }
    }

    /// With fixed weights and one item per batch the sequence is nginx's smooth weighted round
    /// robin with peers in order of addition, in both modes.
    #[test]
    fn one_item_batches_are_smooth_weighted_round_robin(
        weights in prop::collection::vec(1i64..12, 1..9),
        items in 1usize..400,
    ) {
        let mut d = Dispatcher::from_weights(weights.iter().enumerate().map(|(i, &w)| (i, w as f64)), LeavePolicy::Forget).unwrap();
        let mut s = d.clone();
        let total: i64 = weights.iter().sum();
        let mut current = vec![0i64; weights.len()];
        for _ in 0..items {
            // ngx_http_upstream_get_peer: add each weight, take the first largest, subtract total.
            let mut best: Option<usize> = None;
            for i in 0..weights.len() {
                current[i] += weights[i];
                if best.is_none_or(|b| current[i] > current[b]) {
                    best = Some(i);
                }
            }
            let b = best.unwrap();
            current[b] -= total;
            let alloc = d.dispatch(1).unwrap();
            prop_assert_eq!(alloc.iter().position(|&v| v == 1), Some(b));
            prop_assert_eq!(s.next().unwrap(), b);
        }
    }
}
