//! Confidence intervals for a single binomial proportion x/n.

use statrs::function::beta::inv_beta_reg;

use super::{valid_level, z_two_sided, Interval};

fn usable(x: u64, n: u64, level: f64) -> bool {
    n > 0 && x <= n && valid_level(level)
}

/// Wilson score interval, without continuity correction.
///
/// # Formula
/// With p̂ = x/n and z = z_{1-α/2}:
/// (p̂ + z²/2n ± z·sqrt(p̂(1-p̂)/n + z²/4n²)) / (1 + z²/n).
///
/// # Edge cases
/// `None` when n = 0, x > n or the level is outside (0, 1). At x = 0 the lower bound is 0
/// and at x = n the upper bound is 1 (exactly, not by rounding).
///
/// # References
/// Wilson EB (1927) JASA 22:209-212; Newcombe RG (1998) Stat Med 17:857-872, method 3.
///
/// # Example
/// ```
/// // Newcombe (1998) Table I: 81/263 → 0.2553 to 0.3662.
/// let ci = attest::stats::proportion::wilson(81, 263, 0.95).unwrap();
/// assert!((ci.low - 0.2553).abs() < 5e-5 && (ci.high - 0.3662).abs() < 5e-5);
/// ```
pub fn wilson(x: u64, n: u64, level: f64) -> Option<Interval> {
    if !usable(x, n, level) {
        return None;
    }
    let (xf, nf) = (x as f64, n as f64);
    let z = z_two_sided(level);
    let p = xf / nf;
    let z2 = z * z;
    let centre = p + z2 / (2.0 * nf);
    let half = z * (p * (1.0 - p) / nf + z2 / (4.0 * nf * nf)).sqrt();
    let denom = 1.0 + z2 / nf;
    let low = if x == 0 { 0.0 } else { (centre - half) / denom };
    let high = if x == n { 1.0 } else { (centre + half) / denom };
    Some(Interval {
        low: low.max(0.0),
        high: high.min(1.0),
    })
}

/// Clopper-Pearson "exact" interval.
///
/// # Formula
/// low = B⁻¹(α/2; x, n-x+1), high = B⁻¹(1-α/2; x+1, n-x), B⁻¹ the beta quantile.
///
/// # Edge cases
/// `None` when n = 0, x > n or the level is outside (0, 1); low = 0 when x = 0 and
/// high = 1 when x = n.
///
/// # References
/// Clopper CJ, Pearson ES (1934) Biometrika 26:404-413; Newcombe (1998) method 5.
///
/// # Example
/// ```
/// // Newcombe (1998) Table I: 15/148 → 0.0578 to 0.1617.
/// let ci = attest::stats::proportion::clopper_pearson(15, 148, 0.95).unwrap();
/// assert!((ci.low - 0.0578).abs() < 5e-5 && (ci.high - 0.1617).abs() < 5e-5);
/// ```
pub fn clopper_pearson(x: u64, n: u64, level: f64) -> Option<Interval> {
    if !usable(x, n, level) {
        return None;
    }
    let alpha = 1.0 - level;
    let (xf, nf) = (x as f64, n as f64);
    let low = if x == 0 {
        0.0
    } else {
        inv_beta_reg(xf, nf - xf + 1.0, alpha / 2.0)
    };
    let high = if x == n {
        1.0
    } else {
        inv_beta_reg(xf + 1.0, nf - xf, 1.0 - alpha / 2.0)
    };
    Some(Interval { low, high })
}

/// Wald interval p̂ ± z·sqrt(p̂(1-p̂)/n), clipped to [0, 1]. For comparison only: it
/// undercovers badly near 0 and 1 (zero width at x = 0 or x = n).
///
/// # Edge cases
/// `None` when n = 0, x > n or the level is outside (0, 1).
///
/// # References
/// Newcombe (1998) method 1.
///
/// # Example
/// ```
/// // Newcombe (1998) Table I: 81/263 → 0.2522 to 0.3638.
/// let ci = attest::stats::proportion::wald(81, 263, 0.95).unwrap();
/// assert!((ci.low - 0.2522).abs() < 5e-5 && (ci.high - 0.3638).abs() < 5e-5);
/// ```
pub fn wald(x: u64, n: u64, level: f64) -> Option<Interval> {
    if !usable(x, n, level) {
        return None;
    }
    let p = x as f64 / n as f64;
    let half = z_two_sided(level) * (p * (1.0 - p) / n as f64).sqrt();
    Some(Interval {
        low: (p - half).max(0.0),
        high: (p + half).min(1.0),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::tolerance::assert_close;

    const NEWCOMBE: &str = "Newcombe RG (1998) Stat Med 17:857-872, Table I";

    fn check(ci: Option<Interval>, low: f64, high: f64) {
        let ci = ci.expect("defined");
        assert_close(ci.low, low, 5e-5, NEWCOMBE);
        assert_close(ci.high, high, 5e-5, NEWCOMBE);
    }

    #[test]
    fn wilson_matches_newcombe_table_1() {
        check(wilson(81, 263, 0.95), 0.2553, 0.3662);
        check(wilson(15, 148, 0.95), 0.0624, 0.1605);
        check(wilson(0, 20, 0.95), 0.0, 0.1611);
        check(wilson(1, 29, 0.95), 0.0061, 0.1718);
    }

    #[test]
    fn clopper_pearson_matches_newcombe_table_1() {
        check(clopper_pearson(81, 263, 0.95), 0.2527, 0.3676);
        check(clopper_pearson(15, 148, 0.95), 0.0578, 0.1617);
        check(clopper_pearson(0, 20, 0.95), 0.0, 0.1684);
        check(clopper_pearson(1, 29, 0.95), 0.0009, 0.1776);
    }

    #[test]
    fn wald_matches_newcombe_table_1() {
        check(wald(81, 263, 0.95), 0.2522, 0.3638);
        check(wald(15, 148, 0.95), 0.0527, 0.1500);
        check(wald(0, 20, 0.95), 0.0, 0.0);
    }

    #[test]
    fn clopper_pearson_bounds_are_beta_quantiles() {
        // Hand derivation: with x = n, the lower bound solves p^n = α/2, so p = (α/2)^(1/n).
        let ci = clopper_pearson(10, 10, 0.95).unwrap();
        assert_close(ci.low, 0.025f64.powf(0.1), 1e-10, "closed form (α/2)^(1/n)");
        assert_eq!(ci.high, 1.0);
        // x = 0: upper bound solves (1-p)^n = α/2.
        let ci = clopper_pearson(0, 10, 0.95).unwrap();
        assert_close(
            ci.high,
            1.0 - 0.025f64.powf(0.1),
            1e-10,
            "closed form 1-(α/2)^(1/n)",
        );
    }

    #[test]
    fn undefined_inputs_give_none() {
        for f in [wilson, clopper_pearson, wald] {
            assert!(f(0, 0, 0.95).is_none());
            assert!(f(3, 2, 0.95).is_none());
            assert!(f(1, 2, 1.0).is_none());
            assert!(f(1, 2, f64::NAN).is_none());
        }
        let ci = wilson(5, 5, 0.95).unwrap();
        assert_eq!(ci.high, 1.0);
    }
}
