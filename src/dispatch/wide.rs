//! Exact integer helpers: 128×128→256-bit products divided back down, and sum-preserving
//! rescaling (largest remainder), used when the common denominator of the errors changes.

/// `(⌊a / b⌋, a mod b)` for `b > 0`, exactly. Software 128-bit division costs ~50–100 ns; the
/// quotients met on the hot paths are small, so estimate in f64 (off by at most 1 below 2^50)
/// and correct with exact multiplications, falling back to the real division otherwise.
#[cfg(test)]
pub(crate) fn div_floor_rem(a: i128, b: i128) -> (i128, i128) {
    div_floor_rem_with(a, b, 1.0 / approx_f64(b))
}

/// [`div_floor_rem`] with `inv_b ≈ 1/b` precomputed (a multiplication instead of a division).
#[inline]
pub(crate) fn div_floor_rem_with(a: i128, b: i128, inv_b: f64) -> (i128, i128) {
    debug_assert!(b > 0);
    // Truncation instead of floor (a libm call without SSE4.1): the correction absorbs it.
    let est = approx_f64(a) * inv_b;
    // With |a| < 2^126 and b < 2^100, q·b stays within a ± 2b: no overflow.
    if est.abs() < (1u64 << 50) as f64 && b < 1 << 100 && a.unsigned_abs() < 1 << 126 {
        let mut q = est as i64 as i128;
        let mut r = a - q * b;
        while r < 0 {
            q -= 1;
            r += b;
        }
        while r >= b {
            q += 1;
            r -= b;
        }
        (q, r)
    } else {
        (a.div_euclid(b), a.rem_euclid(b))
    }
}

/// `x` as f64 within a few ulp, from two hardware conversions (the exact `as f64` of an i128
/// is a slow software routine).
#[inline]
pub(crate) fn approx_f64(x: i128) -> f64 {
    // Signed conversions only: u64 → f64 is a branchy sequence on baseline x86-64.
    ((x >> 64) as i64 as f64) * 18_446_744_073_709_551_616.0 + ((x as u64 >> 1) as i64 as f64) * 2.0
}

/// `a * b` as a 256-bit number `(high, low)`.
fn mul_wide(a: u128, b: u128) -> (u128, u128) {
    const MASK: u128 = u64::MAX as u128;
    let (a1, a0) = (a >> 64, a & MASK);
    let (b1, b0) = (b >> 64, b & MASK);
    let p00 = a0 * b0;
    let p01 = a0 * b1;
    let p10 = a1 * b0;
    let p11 = a1 * b1;
    // Middle column: at most 3·(2^64−1) < 2^66, no overflow.
    let mid = (p00 >> 64) + (p01 & MASK) + (p10 & MASK);
    let low = (p00 & MASK) | (mid << 64);
    let high = p11 + (p01 >> 64) + (p10 >> 64) + (mid >> 64);
    (high, low)
}

/// `(⌊a·b / c⌋, a·b mod c)` for `c > 0`; `None` when the quotient does not fit in 128 bits.
pub(crate) fn mul_div_rem(a: u128, b: u128, c: u128) -> Option<(u128, u128)> {
    debug_assert!(c > 0);
    let (high, low) = mul_wide(a, b);
    if high == 0 {
        return Some((low / c, low % c));
    }
    if high >= c {
        return None;
    }
    // Restoring long division, one quotient bit per step; the running remainder stays < c.
    let mut rem = high;
    let mut quot = 0u128;
    for bit in (0..128).rev() {
        let carry = rem >> 127;
        rem = (rem << 1) | ((low >> bit) & 1);
        if carry == 1 || rem >= c {
            rem = rem.wrapping_sub(c);
            quot |= 1 << bit;
        }
    }
    Some((quot, rem))
}

/// Floor division of a signed `x·m / c` (`m, c > 0`): `(quotient, remainder)` with the remainder
/// in `[0, c)`. `None` on overflow of the quotient.
pub(crate) fn mul_div_floor(x: i128, m: u128, c: u128) -> Option<(i128, u128)> {
    let (q, r) = mul_div_rem(x.unsigned_abs(), m, c)?;
    let q = i128::try_from(q).ok()?;
    if x >= 0 || r == 0 {
        Some((if x >= 0 { q } else { -q }, r))
    } else {
        Some((-q - 1, c - r))
    }
}

/// Rescales every `values[i]` by `m / c` so that the rescaled values sum to the rescaled sum
/// rounded to the nearest integer (exactly, when that sum is an integer, e.g. zero): each value
/// is floored and the units left over go to the largest remainders, ties to the lowest index.
/// Returns `None` (values untouched) on overflow.
pub(crate) fn rescale_preserving_sum(values: &mut [i128], m: u128, c: u128) -> Option<()> {
    if m == c {
        return Some(());
    }
    let mut out = Vec::with_capacity(values.len());
    let mut rems = Vec::with_capacity(values.len());
    let mut rem_sum: u128 = 0;
    for (i, &v) in values.iter().enumerate() {
        let (q, r) = mul_div_floor(v, m, c)?;
        out.push(q);
        rems.push((r, i));
        rem_sum = rem_sum.checked_add(r)?;
    }
    // Units to hand out: round(Σ remainders / c), at most values.len().
    let extra = ((rem_sum + c / 2) / c) as usize;
    give_units_to_largest(&mut out, &mut rems, extra);
    values.copy_from_slice(&out);
    Some(())
}

/// Adds one to `out[i]` for the `extra` entries of `rems` (remainder, index) with the largest
/// remainders, ties to the lowest index.
pub(crate) fn give_units_to_largest(out: &mut [i128], rems: &mut [(u128, usize)], extra: usize) {
    if extra == 0 {
        return;
    }
    let order = |a: &(u128, usize), b: &(u128, usize)| b.0.cmp(&a.0).then(a.1.cmp(&b.1));
    if extra < rems.len() {
        rems.select_nth_unstable_by(extra - 1, order);
    }
    for &(_, i) in rems.iter().take(extra) {
        out[i] += 1;
    }
}

/// Splits `total` over `shares` (non-negative, summing to `denominator > 0`) in proportion,
/// exactly: floors plus largest remainders. `None` on overflow.
pub(crate) fn split_by_shares(
    total: i128,
    shares: &[u128],
    denominator: u128,
) -> Option<Vec<i128>> {
    let mut out = Vec::with_capacity(shares.len());
    let mut rems = Vec::with_capacity(shares.len());
    let mut given: i128 = 0;
    for (i, &s) in shares.iter().enumerate() {
        let (q, r) = mul_div_floor(total, s, denominator)?;
        out.push(q);
        rems.push((r, i));
        given = given.checked_add(q)?;
    }
    let extra = usize::try_from(total.checked_sub(given)?).ok()?;
    if extra > shares.len() {
        return None;
    }
    give_units_to_largest(&mut out, &mut rems, extra);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn wide_division_matches_small_cases() {
        assert_eq!(mul_div_rem(7, 9, 4), Some((15, 3)));
        assert_eq!(mul_div_rem(u128::MAX, 2, u128::MAX), Some((2, 0)));
        assert_eq!(mul_div_rem(u128::MAX, u128::MAX, 1), None);
        assert_eq!(mul_div_floor(-7, 1, 2), Some((-4, 1)));
        assert_eq!(mul_div_floor(-8, 1, 2), Some((-4, 0)));
    }

    #[test]
    fn rescale_keeps_zero_sum() {
        let mut v = vec![5, -2, -3];
        rescale_preserving_sum(&mut v, 7, 3).unwrap();
        assert_eq!(v.iter().sum::<i128>(), 0);
        let s = split_by_shares(-10, &[1, 1, 1], 3).unwrap();
        assert_eq!(s, vec![-3, -3, -4]);
        assert_eq!(s.iter().sum::<i128>(), -10);
    }

    proptest! {
        #[test]
        fn fast_division_is_exact(a in any::<i128>(), b in 1i128..) {
            prop_assert_eq!(div_floor_rem(a, b), (a.div_euclid(b), a.rem_euclid(b)));
            let small = a >> 60;
            prop_assert_eq!(div_floor_rem(small, b >> 70 | 1), (small.div_euclid(b >> 70 | 1), small.rem_euclid(b >> 70 | 1)));
        }

        #[test]
        fn wide_matches_u128_when_it_fits(a in any::<u64>(), b in any::<u64>(), c in 1u128..) {
            let p = a as u128 * b as u128;
            prop_assert_eq!(mul_div_rem(a as u128, b as u128, c), Some((p / c, p % c)));
        }

        #[test]
        fn wide_identity(a in any::<u128>(), b in any::<u128>(), c in 1u128..) {
            if let Some((q, r)) = mul_div_rem(a, b, c) {
                prop_assert!(r < c);
                // q·c + r == a·b, checked in 256 bits.
                let (qh, ql) = mul_wide(q, c);
                let (lo, carry) = ql.overflowing_add(r);
                prop_assert_eq!((qh + carry as u128, lo), mul_wide(a, b));
            } else {
                prop_assert!(mul_wide(a, b).0 >= c);
            }
        }
    }
}
