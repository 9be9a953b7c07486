//! The fix-up step in bulk: which Δ units the seed's one-at-a-time loop would take away (or
//! give), computed without running the loop.
//!
//! # The model
//! In exact units (errors times the common denominator `D`), recipient `i`'s candidates form an
//! arithmetic progression: taking one more unit from `i` lowers its error by exactly `D`, giving
//! one raises it by exactly `D`. Written in *pick space* (the value the loop maximises: the error
//! itself when taking, minus the error when giving), recipient `i` offers the values
//! `y0_i, y0_i − D, y0_i − 2D, …` (`len_i` of them when taking: it cannot go below zero; unbounded
//! when giving). The loop repeatedly takes the largest offered head, where heads within `τ` of the
//! largest tie and the preferred recipient (later-added when taking, earlier-added when giving)
//! wins among them.
//!
//! # Why a selection gives the same answer
//! Sort every offered value in decreasing order. Call a cut between two neighbours *clean* when
//! the lower one is more than `τ` below the upper one. While anything above a clean cut remains,
//! the maximum `M` is above it, so nothing below the cut is within `τ` of `M`: the loop empties
//! everything above a clean cut before it touches anything below it, whatever the tie rule does.
//! The values between two consecutive clean cuts form a *chain*; a chain spans less than `n·τ`,
//! far less than `D`, so it holds at most one value per recipient and, once the loop reaches it,
//! each of those values is that recipient's head. Hence, with `p` the Δ-th largest value:
//! every value above the chain containing `p` is taken, values below it are not, and within the
//! chain the loop's own rule, replayed on the chain alone, decides the rest.
//!
//! # Cost
//! Finding `p` needs the *band* (a window of width `D`, in which every recipient offers at most
//! one value) that contains it: counting the values above a band is O(n), found by an
//! exponential then binary search over bands (one O(n) pass when Δ is at most the number of
//! recipients, the usual case), then `select_nth_unstable` inside the band. The chain is read
//! off a window around `p`, widened until it is closed. O(n + c log c) for a chain of `c` values,
//! O(n log Δ) in the worst case; never O(Δ·n).

use std::collections::BinaryHeap;

use super::wide::{approx_f64, div_floor_rem_with};

/// One recipient's offered values: `y0, y0 − D, …` (`len` of them).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Offer {
    /// Pick-space value of the first unit.
    pub y0: i128,
    /// How many units it can give up; `u64::MAX` means unbounded.
    pub len: u64,
}

/// Which recipient wins a tie.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Prefer {
    /// The later-added (higher position) wins: taking away.
    Later,
    /// The earlier-added (lower position) wins: giving.
    Earlier,
}

/// Reusable buffers so a batch allocates nothing once warmed up.
#[derive(Clone, Debug, Default)]
pub(crate) struct Scratch {
    start: Vec<u64>,
    band: Vec<(i128, u32)>,
    chain: Vec<(i128, usize)>,
    removed: Vec<bool>,
    heap: BinaryHeap<(i128, usize)>,
}

/// Picks `count ≥ 1` units from `offers` as the one-at-a-time loop would and adds each
/// recipient's number of picks to `picks`. `count` must not exceed the total offered.
pub(crate) fn select(
    offers: &[Offer],
    d: i128,
    tau: i128,
    count: u128,
    prefer: Prefer,
    picks: &mut [u64],
    scratch: &mut Scratch,
) {
    debug_assert!(count >= 1 && d > 0 && tau >= 0 && tau < d / 4);
    let Some(top) = offers.iter().filter(|o| o.len > 0).map(|o| o.y0).max() else {
        return;
    };
    // Band b holds the values in (top − (b+1)·D, top − b·D]; recipient i starts in band k_i and
    // offers one value in each of the bands k_i … k_i + len_i − 1.
    let inv_d = 1.0 / approx_f64(d);
    scratch.start.clear();
    scratch.start.extend(offers.iter().map(|o| {
        let behind = top - o.y0;
        if o.len == 0 {
            u64::MAX
        } else if behind < d {
            0 // the usual case: every rounded recipient starts in the top band
        } else {
            // Bands beyond 2^63 cannot be reached by a correction of at most 2^64 units.
            u64::try_from(div_floor_rem_with(behind, d, inv_d).0)
                .map_or(u64::MAX - 1, |k| k.min(u64::MAX - 1))
        }
    }));
    let starts = &scratch.start;
    // Values in bands < b.
    let count_before = |b: u128| -> u128 {
        if b == 0 {
            return 0;
        }
        offers
            .iter()
            .zip(starts)
            .map(|(o, &k)| {
                let k = k as u128;
                if o.len == 0 || b <= k {
                    0
                } else {
                    (b - k).min(o.len as u128)
                }
            })
            .sum()
    };
    // The value `o` offers in band b, if any.
    let in_band = |o: &Offer, k: u64, b: u128| band_value(o, k, b, d);
    // Smallest b ≥ 1 with count_before(b) ≥ count; the Δ-th value lies in band b − 1.
    let mut hi: u128 = 1;
    let mut lo: u128 = 0; // count_before(lo) < count (count_before(0) = 0)
    while count_before(hi) < count {
        lo = hi;
        hi = hi.saturating_mul(2);
    }
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        if count_before(mid) >= count {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    let band = hi - 1;
    let rank = count - count_before(band); // 1-based rank of the Δ-th value within its band
    scratch.band.clear();
    scratch.band.extend(
        offers
            .iter()
            .zip(starts)
            .enumerate()
            .filter_map(|(i, (o, &k))| in_band(o, k, band).map(|v| (v, i as u32))),
    );
    let nth = (rank - 1) as usize;
    let (_, pivot, _) = scratch
        .band
        .select_nth_unstable_by(nth, |a, b| b.0.cmp(&a.0));
    let pivot = pivot.0;
    // The band's value range: (top − (band+1)·D, top − band·D].
    let band_hi = top - band as i128 * d;
    let band_lo = band_hi - d;

    // The chain containing the pivot, read off a window widened until it is closed. A window
    // narrower than D/2 meets each recipient's values at most once, in band − 1, band or
    // band + 1.
    let mut half_width = 4 * tau + 1;
    loop {
        scratch.chain.clear();
        let (lo_v, hi_v) = (pivot - half_width, pivot + half_width);
        if lo_v > band_lo && hi_v <= band_hi {
            // The window lies inside the pivot's band, whose values are at hand.
            scratch.chain.extend(
                scratch
                    .band
                    .iter()
                    .filter(|(v, _)| (lo_v..=hi_v).contains(v))
                    .map(|&(v, i)| (v, i as usize)),
            );
        } else {
            for (i, (o, &k)) in offers.iter().zip(starts).enumerate() {
                for b in [band.wrapping_sub(1), band, band + 1] {
                    if let Some(v) = in_band(o, k, b).filter(|v| (lo_v..=hi_v).contains(v)) {
                        scratch.chain.push((v, i));
                    }
                }
            }
        }
        scratch
            .chain
            .sort_unstable_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
        let chain = &scratch.chain;
        let p = chain.partition_point(|&(v, _)| v > pivot);
        let mut first = p;
        while first > 0 && chain[first - 1].0 - chain[first].0 <= tau {
            first -= 1;
        }
        let mut last = p;
        while last + 1 < chain.len() && chain[last].0 - chain[last + 1].0 <= tau {
            last += 1;
        }
        let (top_v, bottom_v) = (chain[first].0, chain[last].0);
        let closed = top_v + tau < hi_v && bottom_v - tau > lo_v;
        if !closed && half_width < d / 8 {
            half_width = half_width.saturating_mul(4).min(d / 8);
            continue;
        }
        // Everything strictly above the chain is taken.
        let above = take_above(offers, starts, top, top_v, d, inv_d, picks);
        let chain = &chain[first..=last];
        let remaining = count - above;
        debug_assert!(remaining >= 1 && remaining <= chain.len() as u128);
        if remaining >= chain.len() as u128 {
            for &(_, i) in chain {
                picks[i] += 1;
            }
            return;
        }
        replay(
            chain,
            tau,
            prefer,
            remaining,
            picks,
            &mut scratch.removed,
            &mut scratch.heap,
        );
        return;
    }
}

/// The value `o` (starting in band `k`) offers in band `b`, if any.
#[inline]
fn band_value(o: &Offer, k: u64, b: u128, d: i128) -> Option<i128> {
    let k = k as u128;
    (o.len > 0 && k <= b && b - k < o.len as u128).then(|| o.y0 - (b - k) as i128 * d)
}

/// Takes every value strictly above `top_v`: the bands above `top_v`'s band, and the values
/// above it in its band. Returns how many were taken.
#[inline]
fn take_above(
    offers: &[Offer],
    starts: &[u64],
    top: i128,
    top_v: i128,
    d: i128,
    inv_d: f64,
    picks: &mut [u64],
) -> u128 {
    let top_band = div_floor_rem_with(top - top_v, d, inv_d).0 as u128;
    let mut above: u128 = 0;
    for (i, (o, &k)) in offers.iter().zip(starts).enumerate() {
        if o.len == 0 {
            continue;
        }
        let mut c = if top_band <= k as u128 {
            0
        } else {
            (top_band - k as u128).min(o.len as u128)
        };
        if band_value(o, k, top_band, d).is_some_and(|v| v > top_v) {
            c += 1;
        }
        picks[i] += c as u64;
        above += c;
    }
    above
}

/// Replays the one-unit loop on a closed chain (values in decreasing order): `remaining` times,
/// take the preferred recipient among those within τ of the largest value left. `removed` and
/// `heap` are reusable scratch.
#[inline]
fn replay(
    chain: &[(i128, usize)],
    tau: i128,
    prefer: Prefer,
    mut remaining: u128,
    picks: &mut [u64],
    removed: &mut Vec<bool>,
    heap: &mut BinaryHeap<(i128, usize)>,
) {
    // The window is [M − τ, M], with M the largest value left.
    removed.clear();
    removed.resize(chain.len(), false);
    heap.clear();
    let key = |i: usize| match prefer {
        Prefer::Later => i as i128,
        Prefer::Earlier => -(i as i128),
    };
    let (mut head, mut next) = (0usize, 0usize);
    while remaining > 0 {
        while removed[head] {
            head += 1;
        }
        let threshold = chain[head].0 - tau;
        while next < chain.len() && chain[next].0 >= threshold {
            heap.push((key(chain[next].1), next));
            next += 1;
        }
        let Some((_, at)) = heap.pop() else { break };
        removed[at] = true;
        picks[chain[at].1] += 1;
        remaining -= 1;
    }
}
