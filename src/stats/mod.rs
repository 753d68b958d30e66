//! Pure statistics: no I/O, no printing, nothing else of ours imported.
//!
//! Every interval names its method and level where it is reported; these functions return
//! `None` (never a silent NaN) where a quantity is undefined, and say so in their docs.

pub mod proportion;
pub mod roc;

#[cfg(test)]
pub(crate) mod tolerance;

use statrs::distribution::{ContinuousCDF, Normal};

/// A two-sided confidence interval.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Interval {
    pub low: f64,
    pub high: f64,
}

/// The two-sided standard-normal quantile z_{1-(1-level)/2}, e.g. 1.959964 for 0.95.
///
/// # Edge cases
/// `level` must lie in (0, 1); outside it the result is NaN, and callers check the level first.
///
/// # Example
/// ```
/// let z = attest::stats::z_two_sided(0.95);
/// assert!((z - 1.959963984540054).abs() < 1e-12);
/// ```
pub fn z_two_sided(level: f64) -> f64 {
    if !(level > 0.0 && level < 1.0) {
        return f64::NAN;
    }
    let n = Normal::standard();
    n.inverse_cdf(1.0 - (1.0 - level) / 2.0)
}

/// True when `level` is a usable confidence level.
pub fn valid_level(level: f64) -> bool {
    level > 0.0 && level < 1.0
}
