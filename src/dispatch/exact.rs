//! Exact arithmetic: weights scaled to integers, cumulative errors in units of one common
//! denominator, and rounding half up with the tie tolerance.

use super::wide;

/// `(mantissa, exponent)` with `w = mantissa · 2^exponent`, for finite `w > 0`.
pub(super) fn decompose(w: f64) -> (u64, i32) {
    let bits = w.to_bits();
    let exp = ((bits >> 52) & 0x7ff) as i32;
    let frac = bits & ((1u64 << 52) - 1);
    if exp == 0 {
        (frac, -1074)
    } else {
        (frac | (1u64 << 52), exp - 1075)
    }
}

/// Scales positive weights to integers by one power of two, exactly where it fits: the largest
/// lands in [2^52, 2^53); one too small to show up is raised to 1. Zero stays zero.
pub(super) fn scale_weights(weights: impl Iterator<Item = f64> + Clone) -> Vec<u64> {
    let top = weights.clone().filter(|&w| w > 0.0).fold(0.0f64, f64::max);
    if top == 0.0 {
        return weights.map(|_| 0).collect();
    }
    let (tm, te) = decompose(top);
    let top_exp = te + 63 - tm.leading_zeros() as i32; // top ∈ [2^top_exp, 2^(top_exp+1))
    weights
        .map(|w| {
            if w <= 0.0 {
                return 0;
            }
            let (m, e) = decompose(w);
            let shift = e + 52 - top_exp; // scaled = m · 2^shift
            let v = if shift >= 0 {
                m << shift
            } else if shift <= -64 {
                0
            } else {
                let s = (-shift) as u32;
                (m >> s) + ((m >> (s - 1)) & 1)
            };
            v.max(1)
        })
        .collect()
}

/// `⌊x + ½ + 10⁻⁹⌋` for `x = num / d`, exactly (`d > 0`); `half` is [`half_threshold`]`(d)`.
#[cfg(test)]
pub(super) fn round_half_up(num: i128, d: i128, half: i128) -> i128 {
    let (k, rem) = wide::div_floor_rem(num, d);
    k + i128::from(rem >= half)
}

/// `round_half_up` with `inv_d ≈ 1/d` precomputed.
#[inline]
pub(super) fn round_half_up_with(num: i128, d: i128, half: i128, inv_d: f64) -> i128 {
    let (k, rem) = wide::div_floor_rem_with(num, d, inv_d);
    k + i128::from(rem >= half)
}

/// The smallest remainder `r` (of a division by `d`) with `r/d ≥ ½ − 10⁻⁹`, i.e.
/// `⌈(10⁹ − 2)·d / (2·10⁹)⌉`.
pub(super) fn half_threshold(d: i128) -> i128 {
    let num = (1_000_000_000 - 2) * d;
    let den = 2_000_000_000;
    num / den + i128::from(num % den != 0)
}

/// Converts a finite f64 error to units of `1/d`, rounding half away from zero.
pub(super) fn error_to_units(error: f64, d: u128) -> Option<i128> {
    if error == 0.0 {
        return Some(0);
    }
    let (m, e) = decompose(error.abs());
    let units: u128 = if e >= 0 {
        let (q, _) = wide::mul_div_rem(m as u128, d, 1)?;
        let shifted = q.checked_shl(e as u32)?;
        if shifted >> (e as u32) != q {
            return None;
        }
        shifted
    } else if e >= -127 {
        let div = 1u128 << (-e) as u32;
        let (q, r) = wide::mul_div_rem(m as u128, d, div)?;
        q + u128::from(r >= div - r)
    } else {
        // m·d < 2^131, so beyond 2^-140 nothing is left; in between, divide in two steps.
        let rest = (-e - 127) as u32;
        if rest > 13 {
            0
        } else {
            let (q, _) = wide::mul_div_rem(m as u128, d, 1u128 << 127)?;
            (q + (1u128 << (rest - 1))) >> rest
        }
    };
    let units = i128::try_from(units).ok()?;
    Some(if error < 0.0 { -units } else { units })
}
