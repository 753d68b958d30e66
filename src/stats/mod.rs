//! Pure statistics: proportions with their confidence intervals, and ROC/AUC with DeLong's
//! variance. No I/O, no printing, nothing else of ours imported: every function here is a pure
//! function over numbers or slices, so `checks` can call it and tests can pin it to published
//! values and to peer tools (R's `binom.test`, pROC).
//!
//! Undefined quantities are never a silent NaN: each function's doc says what it returns
//! instead (`None`, an empty curve, a documented infinity, or a panic for a programming error
//! such as a confidence level outside (0, 1)).

pub mod agreement;
pub mod bca;
pub mod calibration;
pub mod froc;
pub mod hypothesis;
pub mod overlap;
pub mod proportion;
pub mod roc;
pub mod surface;

#[cfg(test)]
pub(crate) mod tolerance;

use statrs::distribution::{ContinuousCDF, Normal};

/// A two-sided confidence interval.
///
/// It carries no method or level: whoever reports it names both next to it (house style,
/// "every interval names its method and level").
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Interval {
    pub low: f64,
    pub high: f64,
}

/// True when `level` can be a confidence level: a number strictly between 0 and 1.
///
/// # Formula
/// `0 < level < 1` (false for NaN).
///
/// # Edge cases
/// 0, 1, NaN and infinities are all rejected; callers validate a user's level with this before
/// calling [`z_two_sided`] or [`roc::delong_ci`], which panic on an invalid level.
///
/// # References
/// None needed: the definition of a two-sided confidence level.
///
/// # Example
/// ```
/// use attest::stats::valid_level;
/// assert!(valid_level(0.95));
/// assert!(!valid_level(1.0) && !valid_level(0.0) && !valid_level(f64::NAN));
/// ```
pub fn valid_level(level: f64) -> bool {
    level > 0.0 && level < 1.0
}

/// The two-sided standard-normal quantile z_{1-(1-level)/2}, e.g. 1.959964 for 0.95.
///
/// # Formula
/// z = Φ⁻¹(1 - (1 - level)/2), Φ the standard normal distribution function (statrs's
/// `Normal::inverse_cdf`).
///
/// # Edge cases
/// Panics when `level` is not in (0, 1) (see [`valid_level`]): an invalid level is a
/// programming error (the spec validator rejects it), and a NaN quantile would otherwise flow
/// silently into an interval.
///
/// # References
/// Abramowitz M, Stegun IA (1964) Handbook of Mathematical Functions, 26.2;
/// R `qnorm(0.975)` = 1.959963984540054.
///
/// # Example
/// ```
/// let z = attest::stats::z_two_sided(0.95);
/// assert!((z - 1.959963984540054).abs() < 1e-12);
/// ```
pub fn z_two_sided(level: f64) -> f64 {
    assert!(
        valid_level(level),
        "confidence level must lie strictly between 0 and 1, got {level}"
    );
    Normal::standard().inverse_cdf(1.0 - (1.0 - level) / 2.0)
}

#[cfg(test)]
mod tests {
    use super::tolerance::{assert_close, Tol};
    use super::*;

    #[test]
    fn z_matches_r_qnorm() {
        // R 4.2.2: sprintf("%.17g", qnorm(c(0.975, 0.95, 0.995))), as shortest decimals.
        assert_close(
            z_two_sided(0.95),
            1.9599639845400536,
            Tol::Rel(1e-14),
            "R qnorm(0.975)",
        );
        assert_close(
            z_two_sided(0.90),
            1.6448536269514715,
            Tol::Rel(1e-14),
            "R qnorm(0.95)",
        );
        assert_close(
            z_two_sided(0.99),
            2.5758293035489,
            Tol::Rel(1e-14),
            "R qnorm(0.995)",
        );
    }

    #[test]
    #[should_panic(expected = "confidence level")]
    fn z_rejects_level_one() {
        z_two_sided(1.0);
    }

    #[test]
    fn level_validation() {
        assert!(valid_level(0.5));
        for bad in [0.0, 1.0, -0.1, 1.5, f64::NAN, f64::INFINITY] {
            assert!(!valid_level(bad), "{bad} accepted");
        }
    }
}
