//! Bootstrap confidence intervals from a set of replicates: percentile and BCa (bias-corrected
//! and accelerated). The replicates come from any resampling (e.g. cases, or patients when
//! several cases share one); these functions only turn them into an interval.

use statrs::distribution::{ContinuousCDF, Normal};

use super::{valid_level, Interval};

/// Hyndman–Fan type-7 quantile of ascending, non-empty `sorted` (numpy's default).
fn quantile7(sorted: &[f64], q: f64) -> f64 {
    let h = (sorted.len() - 1) as f64 * q;
    let lo = h.floor() as usize;
    match sorted.get(lo + 1) {
        Some(&next) => sorted[lo] + (h - lo as f64) * (next - sorted[lo]),
        None => sorted[lo],
    }
}

fn sorted_finite(replicates: &[f64]) -> Option<Vec<f64>> {
    if replicates.is_empty() || replicates.iter().any(|x| !x.is_finite()) {
        return None;
    }
    let mut s = replicates.to_vec();
    s.sort_by(f64::total_cmp);
    Some(s)
}

/// The percentile interval: the (1 − level)/2 and (1 + level)/2 type-7 quantiles of the
/// replicates.
///
/// # Formula
/// [q_{α/2}, q_{1−α/2}], α = 1 − level, numpy's default (linear) quantile.
///
/// # Edge cases
/// None for no replicates, a non-finite replicate, or an invalid level.
///
/// # References
/// Efron B, Tibshirani RJ (1993) An Introduction to the Bootstrap, §13.3; scipy
/// `stats.bootstrap(method="percentile")`.
///
/// # Example
/// ```
/// use attest::stats::bca::percentile;
/// let r: Vec<f64> = (0..=100).map(f64::from).collect();
/// let i = percentile(&r, 0.9).unwrap();
/// assert!((i.low - 5.0).abs() < 1e-9 && (i.high - 95.0).abs() < 1e-9);
/// ```
pub fn percentile(replicates: &[f64], level: f64) -> Option<Interval> {
    if !valid_level(level) {
        return None;
    }
    let s = sorted_finite(replicates)?;
    let a = (1.0 - level) / 2.0;
    Some(Interval {
        low: quantile7(&s, a),
        high: quantile7(&s, 1.0 - a),
    })
}

/// The BCa interval from the replicates, the estimate on the full data, and the jackknife
/// estimates (the statistic with each resampled unit left out in turn).
///
/// # Formula
/// z0 = Φ⁻¹(p), p = (#{θ* < θ̂} + #{θ* ≤ θ̂}) / (2B) (scipy's "mean" percentile of the
/// estimate); a = Σ d³ / (6 (Σ d²)^{3/2}) with d_i = mean(θ_(·)) − θ_(i) (jackknife);
/// α₁ = Φ(z0 + (z0 + z_{α/2}) / (1 − a (z0 + z_{α/2}))), α₂ likewise with z_{1−α/2}; the
/// interval is the type-7 quantiles at α₁ and α₂.
///
/// # Edge cases
/// None for no replicates or jackknife estimates, a non-finite value, an invalid level, every
/// replicate on one side of θ̂ (z0 infinite), or all jackknife estimates equal (a = 0/0).
///
/// # References
/// Efron B (1987) Better bootstrap confidence intervals. JASA 82:171–185; Efron & Tibshirani
/// (1993) §14.3, eq. 14.15; scipy `stats.bootstrap(method="BCa")`, whose computation this
/// follows exactly (checked on scipy's own replicates).
///
/// # Example
/// ```
/// use attest::stats::bca::bca;
/// let reps = [1.0, 1.5, 2.0, 2.5, 3.0, 2.2, 1.8, 2.4, 2.1, 1.9];
/// let jack = [2.0, 2.1, 1.9, 2.05, 1.95];
/// let i = bca(2.0, &reps, &jack, 0.8).unwrap();
/// assert!(i.low < 2.0 && 2.0 < i.high);
/// ```
pub fn bca(estimate: f64, replicates: &[f64], jackknife: &[f64], level: f64) -> Option<Interval> {
    if !valid_level(level) || !estimate.is_finite() || jackknife.iter().any(|x| !x.is_finite()) {
        return None;
    }
    let s = sorted_finite(replicates)?;
    let b = s.len() as f64;
    let below = s.iter().filter(|&&x| x < estimate).count() as f64;
    let at_or_below = s.iter().filter(|&&x| x <= estimate).count() as f64;
    let normal = Normal::standard();
    let z0 = normal.inverse_cdf((below + at_or_below) / (2.0 * b));
    if !z0.is_finite() || jackknife.is_empty() {
        return None;
    }
    let mean = jackknife.iter().sum::<f64>() / jackknife.len() as f64;
    let (num, den) = jackknife.iter().fold((0.0, 0.0), |(n, d), &t| {
        let x = mean - t;
        (n + x * x * x, d + x * x)
    });
    if den == 0.0 {
        return None;
    }
    let a = num / (6.0 * den.powf(1.5));
    let alpha = (1.0 - level) / 2.0;
    let adjust = |z: f64| normal.cdf(z0 + (z0 + z) / (1.0 - a * (z0 + z)));
    let (q1, q2) = (
        adjust(normal.inverse_cdf(alpha)),
        adjust(normal.inverse_cdf(1.0 - alpha)),
    );
    Some(Interval {
        low: quantile7(&s, q1),
        high: quantile7(&s, q2),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::tolerance::{assert_close, Tol};

    #[test]
    fn matches_scipy_on_its_own_replicates() {
        // tests/fixtures/bootstrap/scipy_bca.json (gen.py): scipy's bootstrap distribution of
        // the mean of 40 values and its percentile and BCa 95% intervals.
        let f: serde_json::Value = serde_json::from_str(include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/bootstrap/scipy_bca.json"
        )))
        .unwrap();
        let nums = |v: &serde_json::Value| -> Vec<f64> {
            v.as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_f64().unwrap())
                .collect()
        };
        let x = nums(&f["data"]);
        let n = x.len() as f64;
        let total: f64 = x.iter().sum();
        let estimate = total / n;
        let jackknife: Vec<f64> = x.iter().map(|xi| (total - xi) / (n - 1.0)).collect();
        let reps = nums(&f["BCa"]["replicates"]);
        let i = bca(estimate, &reps, &jackknife, 0.95).unwrap();
        let src = "scipy stats.bootstrap BCa";
        assert_close(
            i.low,
            f["BCa"]["low"].as_f64().unwrap(),
            Tol::Rel(1e-10),
            src,
        );
        assert_close(
            i.high,
            f["BCa"]["high"].as_f64().unwrap(),
            Tol::Rel(1e-10),
            src,
        );
        let p = percentile(&nums(&f["percentile"]["replicates"]), 0.95).unwrap();
        let src = "scipy stats.bootstrap percentile";
        assert_close(
            p.low,
            f["percentile"]["low"].as_f64().unwrap(),
            Tol::Rel(1e-12),
            src,
        );
        assert_close(
            p.high,
            f["percentile"]["high"].as_f64().unwrap(),
            Tol::Rel(1e-12),
            src,
        );
        // Every replicate above the estimate: z0 is infinite, no interval.
        assert!(bca(0.0, &[1.0, 2.0], &[0.5, 1.5], 0.95).is_none());
    }
}
