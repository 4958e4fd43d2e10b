//! Integer money and points arithmetic: rounding and exact allocation.
//!
//! Money is `i64` minor units of the program currency; points are `i64`. Neither is
//! ever a float. Intermediate products are computed in `i128` so they cannot overflow.

/// An amount of money in minor units of the program currency (kopecks, cents).
pub type Money = i64;

/// A number of loyalty points.
pub type Points = i64;

/// `numerator / denominator` rounded half to even (banker's rounding). `denominator > 0`.
pub fn div_round_half_even(numerator: i128, denominator: i128) -> i128 {
    debug_assert!(denominator > 0);
    let quotient = numerator.div_euclid(denominator);
    let remainder = numerator.rem_euclid(denominator);
    let twice = remainder * 2;
    if twice > denominator || (twice == denominator && quotient % 2 != 0) {
        quotient + 1
    } else {
        quotient
    }
}

/// `numerator / denominator` rounded towards negative infinity. `denominator > 0`.
pub fn div_floor(numerator: i128, denominator: i128) -> i128 {
    numerator.div_euclid(denominator)
}

/// Clamps an `i128` into `i64`; values here are bounded by validated inputs, so this
/// only guards against pathological input rather than changing real results.
pub fn to_i64(value: i128) -> i64 {
    value.clamp(i64::MIN as i128, i64::MAX as i128) as i64
}

/// Splits `total` into parts proportional to `weights` so that the parts sum to
/// `total` exactly (largest remainder method).
///
/// Each part is `floor(total * w / W)`, and the units left over go one by one to the
/// parts with the largest fractional remainders; ties go to the earlier part, so the
/// result is deterministic. With `total <= W` no part exceeds its weight. Weights must
/// be non-negative; when they are all zero, everything goes to the first part (or the
/// result is empty when there are no parts).
pub fn allocate(total: i64, weights: &[i64]) -> Vec<i64> {
    if weights.is_empty() {
        return Vec::new();
    }
    let weight_sum: i128 = weights.iter().map(|w| (*w).max(0) as i128).sum();
    let mut parts = vec![0i64; weights.len()];
    if weight_sum == 0 {
        parts[0] = total;
        return parts;
    }
    let total_wide = total as i128;
    let mut remainders: Vec<(i128, usize)> = Vec::with_capacity(weights.len());
    let mut allocated: i128 = 0;
    for (idx, weight) in weights.iter().enumerate() {
        let product = total_wide * (*weight).max(0) as i128;
        let share = product.div_euclid(weight_sum);
        remainders.push((product.rem_euclid(weight_sum), idx));
        parts[idx] = to_i64(share);
        allocated += share;
    }
    let mut left = total_wide - allocated;
    // Largest remainder first; equal remainders keep their original order.
    remainders.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    for (_, idx) in remainders.iter().cycle() {
        if left <= 0 {
            break;
        }
        parts[*idx] += 1;
        left -= 1;
    }
    parts
}

/// The share of `whole` that belongs to `done` out of `of` units, computed
/// cumulatively: summing the shares of consecutive partial steps gives exactly
/// `whole` once `done == of`. Used to split a line's money and points over partial
/// returns without a rounding drift.
pub fn cumulative_share(whole: i64, done: i64, of: i64) -> i64 {
    if of <= 0 || done >= of {
        return whole;
    }
    to_i64(div_round_half_even(
        whole as i128 * done as i128,
        of as i128,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn half_even_rounding_table() {
        let cases = [
            (5, 2, 2),
            (7, 2, 4),
            (-5, 2, -2),
            (-7, 2, -4),
            (1, 3, 0),
            (2, 3, 1),
            (25, 10, 2),
            (35, 10, 4),
            (0, 7, 0),
        ];
        for (n, d, expected) in cases {
            assert_eq!(div_round_half_even(n, d), expected, "{n}/{d}");
        }
    }

    #[test]
    fn allocation_table() {
        let cases: [(i64, &[i64], &[i64]); 6] = [
            (100, &[1, 1, 1], &[34, 33, 33]),
            (10, &[300, 700], &[3, 7]),
            (1, &[1, 1], &[1, 0]),
            (0, &[5, 5], &[0, 0]),
            (7, &[0, 0], &[7, 0]),
            (5, &[1, 0, 3], &[1, 0, 4]),
        ];
        for (total, weights, expected) in cases {
            assert_eq!(
                allocate(total, weights),
                expected,
                "{total} over {weights:?}"
            );
        }
    }

    #[test]
    fn cumulative_shares_sum_to_the_whole() {
        let whole = 1001;
        let steps = [1, 2, 0, 3];
        let mut done = 0;
        let mut sum = 0;
        for step in steps {
            let before = cumulative_share(whole, done, 6);
            done += step;
            sum += cumulative_share(whole, done, 6) - before;
        }
        assert_eq!(sum, whole);
    }

    proptest! {
        #[test]
        fn allocation_sums_and_respects_caps(total in 0i64..1_000_000, weights in proptest::collection::vec(0i64..100_000, 1..20)) {
            let parts = allocate(total, &weights);
            prop_assert_eq!(parts.iter().sum::<i64>(), total);
            let weight_sum: i64 = weights.iter().sum();
            if total <= weight_sum {
                for (part, weight) in parts.iter().zip(&weights) {
                    prop_assert!(part <= weight);
                    prop_assert!(*part >= 0);
                }
            }
        }
    }
}
