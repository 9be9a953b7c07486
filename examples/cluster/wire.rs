//! What a node tells the parent: one JSON object per line on its stdout (a pipe to the
//! parent), and the latency histogram those lines carry.
//!
//! A node writes [`Line::Commit`] *before* it sends a complete to the store and
//! [`Line::Done`] when the store has answered it, so a parent that loses the node (killed, or
//! given up on the store) knows every complete whose outcome it never heard. Counters travel
//! as cumulative [`Stats`], every 200 ms and once more at the end.

use std::sync::atomic::{AtomicU64, Ordering};

use quotaroute::live::Completion;
use serde::{Deserialize, Serialize};

/// One line from a node.
#[derive(Serialize, Deserialize, Debug, Clone)]
#[serde(tag = "ev", rename_all = "snake_case")]
pub enum Line {
    /// The node is about to commit respondent `r`'s hold in category `c`.
    Commit {
        /// The respondent.
        r: u64,
        /// The category's index.
        c: u32,
    },
    /// The store answered the commit of (`r`, `c`).
    Done {
        /// The respondent.
        r: u64,
        /// The category's index.
        c: u32,
        /// What the store said.
        outcome: Outcome,
    },
    /// The node's counters so far (cumulative).
    Stats(Stats),
    /// The node's final counters: it is about to exit.
    End(Stats),
}

/// A commit's answer.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Counted now.
    Completed,
    /// Counted by an earlier attempt whose reply was lost.
    AlreadyCompleted,
    /// The hold had expired: nothing counted.
    Expired,
    /// No hold (a sweep released it first): nothing counted.
    NotReserved,
}

impl Outcome {
    /// The store's answer as an outcome.
    pub fn of(c: Completion) -> Outcome {
        match c {
            Completion::Completed => Outcome::Completed,
            Completion::AlreadyCompleted => Outcome::AlreadyCompleted,
            Completion::Expired => Outcome::Expired,
            _ => Outcome::NotReserved,
        }
    }

    /// True when the complete counted (now or by an earlier attempt).
    pub fn counted(self) -> bool {
        matches!(self, Outcome::Completed | Outcome::AlreadyCompleted)
    }
}

/// A node's cumulative counters.
#[derive(Serialize, Deserialize, Debug, Clone, Default)]
pub struct Stats {
    /// Interviews started.
    pub interviews: u64,
    /// Reservations tried (qualified answers sent to the store).
    pub reserves: u64,
    /// Holds granted.
    pub accepted: u64,
    /// Holds refused: a category or cell was full.
    pub refused: u64,
    /// Holds released by an abandon.
    pub abandoned: u64,
    /// Holds left to expire (the respondent walked away).
    pub walked_away: u64,
    /// Holds released by this node's sweeps.
    pub swept: u64,
    /// Completes that came too late (the hold had expired, or a sweep had released it).
    pub late: u64,
    /// Of those, holds the complete itself found expired and released (a sweep had not).
    pub expired_on_commit: u64,
    /// Milliseconds from the node's start until its threads had started every interview.
    pub routing_ms: u64,
    /// Store calls repeated after a failure.
    pub store_retries: u64,
    /// Store calls that failed (each failed attempt, including background ones).
    pub store_errors: u64,
    /// Calls given up after `--store-wait` seconds of failures.
    pub gave_up: u64,
    /// Reserve latencies: (bucket, count) of the non-empty buckets of a [`Histogram`].
    pub latency: Vec<(u32, u64)>,
}

/// Sub-buckets per power of two: about 3% resolution.
const SUB_BITS: u32 = 6;
const SUB: u64 = 1 << SUB_BITS;
const HALF: u64 = SUB / 2;
/// Buckets for values up to 2^40 µs.
const BUCKETS: usize = (SUB + (40 - SUB_BITS as u64) * HALF) as usize;

/// A fixed log-linear histogram of microseconds, shared by a node's threads.
#[derive(Debug)]
pub struct Histogram(Vec<AtomicU64>);

/// The bucket of `v`: exact below [`SUB`], then [`HALF`] buckets per power of two.
fn bucket(v: u64) -> usize {
    if v < SUB {
        return v as usize;
    }
    let shift = 64 - v.leading_zeros() - SUB_BITS;
    let top = v >> shift; // in HALF..SUB
    ((SUB + u64::from(shift - 1) * HALF + (top - HALF)) as usize).min(BUCKETS - 1)
}

/// The middle of bucket `b`.
fn value(b: u32) -> u64 {
    let b = u64::from(b);
    if b < SUB {
        return b;
    }
    let shift = (b - SUB) / HALF + 1;
    let top = (b - SUB) % HALF + HALF;
    (top << shift) + (1 << shift) / 2
}

impl Histogram {
    /// An empty histogram.
    pub fn new() -> Histogram {
        Histogram((0..BUCKETS).map(|_| AtomicU64::new(0)).collect())
    }

    /// Counts one value.
    pub fn record(&self, micros: u64) {
        self.0[bucket(micros)].fetch_add(1, Ordering::Relaxed);
    }

    /// The non-empty buckets.
    pub fn sparse(&self) -> Vec<(u32, u64)> {
        self.0
            .iter()
            .enumerate()
            .filter_map(|(i, n)| {
                let n = n.load(Ordering::Relaxed);
                (n > 0).then_some((i as u32, n))
            })
            .collect()
    }
}

/// The `q` quantile (0..=1) of merged sparse histograms, in microseconds (0 when empty).
pub fn quantile(merged: &[u64], q: f64) -> u64 {
    let total: u64 = merged.iter().sum();
    if total == 0 {
        return 0;
    }
    let rank = ((q * total as f64).ceil() as u64).clamp(1, total);
    let mut seen = 0;
    for (b, &n) in merged.iter().enumerate() {
        seen += n;
        if seen >= rank {
            return value(b as u32);
        }
    }
    0
}

/// Adds sparse buckets into a dense vector.
pub fn merge(into: &mut Vec<u64>, sparse: &[(u32, u64)]) {
    into.resize(BUCKETS, 0);
    for &(b, n) in sparse {
        if let Some(slot) = into.get_mut(b as usize) {
            *slot += n;
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn buckets_are_contiguous_and_close() {
        let mut last = 0;
        for v in 1..1_000_000u64 {
            let b = super::bucket(v);
            assert!(b == last || b == last + 1, "{v}");
            last = b;
            let mid = super::value(b as u32) as f64;
            assert!((mid - v as f64).abs() <= v as f64 * 0.035, "{v} {mid}");
        }
    }
}
