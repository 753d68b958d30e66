//! One-sided hypothesis tests stated before the data are seen (a performance goal, superiority
//! or non-inferiority against a second model on the same cases), and Holm's adjustment for
//! several of them.
//!
//! Every test here is one-sided with the alternative "the new model is better": H0: θ ≤ θ0
//! against H1: θ > θ0, and the p-value is the probability under θ0 of a result at least as
//! favourable as the one observed.

use statrs::distribution::{ContinuousCDF, Normal};

use super::Interval;

/// The one-sided p-value of a standard-normal statistic, P(Z ≥ z) = 1 − Φ(z).
///
/// # Formula
/// 1 − Φ(z), computed as Φ(−z) so that small p-values keep their relative precision.
///
/// # Edge cases
/// z = +∞: 0; z = −∞: 1; NaN: None.
///
/// # References
/// R `pnorm(z, lower.tail = FALSE)`.
///
/// # Example
/// ```
/// use attest::stats::hypothesis::normal_upper_p;
/// // statrs 0.19 evaluates Φ to about 1e-10 relative here: 0.02499999999887707.
/// assert!((normal_upper_p(1.959963984540054).unwrap() - 0.025).abs() < 1e-10);
/// ```
pub fn normal_upper_p(z: f64) -> Option<f64> {
    if z.is_nan() {
        return None;
    }
    Some(Normal::standard().cdf(-z))
}

/// The exact one-sided McNemar test: of the b + c discordant pairs, b favour the new model;
/// under H0 (no difference) b ~ Binomial(b + c, ½), and p = P(B ≥ b).
///
/// # Formula
/// p = Σ_{k = b}^{b + c} C(b + c, k) / 2^(b + c).
///
/// # Edge cases
/// No discordant pair: p = 1 (nothing shows the new model better).
///
/// # References
/// McNemar Q (1947) Psychometrika 12:153–157; SciPy 1.17 `binomtest(b, b + c, 0.5,
/// alternative="greater")` gives the same value.
///
/// # Example
/// ```
/// use attest::stats::hypothesis::mcnemar_exact_greater;
/// // b = 9, c = 1: (C(10,9) + C(10,10)) / 1024.
/// assert!((mcnemar_exact_greater(9, 1) - 11.0 / 1024.0).abs() < 1e-15);
/// ```
pub fn mcnemar_exact_greater(b: u64, c: u64) -> f64 {
    super::proportion::binomial_upper_tail(b, b + c, 0.5).unwrap_or(1.0)
}

/// A score test of the difference of two paired proportions.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PairedScore {
    /// The observed difference (b − c)/n.
    pub difference: f64,
    /// The score statistic.
    pub z: f64,
    /// One-sided p-value, P(Z ≥ z).
    pub p_value: f64,
}

/// Tango's score test of H0: θ ≤ θ0 for the difference θ = p_new − p_old of two paired
/// proportions (e.g. two models' sensitivities on the same positives), with b cases right by
/// the new model only, c right by the old one only, n pairs in all. Non-inferiority with
/// margin δ tests θ0 = −δ; superiority by a margin δ tests θ0 = δ.
///
/// # Formula
/// Under θ = θ0 the restricted maximum-likelihood estimate of q = P(old right, new wrong) is
/// the root of 2n q² + B q + C = 0 with B = −b − c + (2n − b + c) θ0, C = −c θ0 (1 − θ0):
/// q̂ = (√(B² − 4·2n·C) − B) / (4n); then
/// z = (b − c − n θ0) / √(n (2 q̂ + θ0 (1 − θ0))), p = 1 − Φ(z).
/// At θ0 = 0 this is McNemar's z, (b − c)/√(b + c).
///
/// # Edge cases
/// None when n = 0, b + c > n, θ0 is not in (−1, 1), or the variance is zero (θ0 = 0 and no
/// discordant pair: nothing can be said).
///
/// # References
/// Tango T (1998) Equivalence test and confidence interval for the difference in proportions
/// for the paired-sample design. Stat Med 17:891–908; Nam J (1997) Biometrics 53:1422–1430.
/// The restricted estimate is checked against a numeric maximisation of the likelihood
/// (`tests/fixtures/hypothesis/gen.py`, SciPy brentq on the score equation).
///
/// # Example
/// ```
/// use attest::stats::hypothesis::tango_test;
/// // θ0 = 0 reduces to McNemar's z = (b − c)/√(b + c) = 6/√14.
/// let t = tango_test(10, 4, 100, 0.0).unwrap();
/// assert!((t.z - 6.0 / 14f64.sqrt()).abs() < 1e-12);
/// ```
pub fn tango_test(b: u64, c: u64, n: u64, theta0: f64) -> Option<PairedScore> {
    let z = tango_z(b, c, n, theta0)?;
    Some(PairedScore {
        difference: (b as f64 - c as f64) / n as f64,
        z,
        p_value: normal_upper_p(z)?,
    })
}

fn tango_z(b: u64, c: u64, n: u64, theta0: f64) -> Option<f64> {
    if n == 0 || b + c > n || !(theta0 > -1.0 && theta0 < 1.0) {
        return None;
    }
    let (bf, cf, nf) = (b as f64, c as f64, n as f64);
    let a = 2.0 * nf;
    let bq = -bf - cf + (2.0 * nf - bf + cf) * theta0;
    let cq = -cf * theta0 * (1.0 - theta0);
    let disc = (bq * bq - 4.0 * a * cq).max(0.0);
    let q = (disc.sqrt() - bq) / (2.0 * a);
    let var = nf * (2.0 * q + theta0 * (1.0 - theta0));
    if var.is_nan() || var <= 0.0 {
        return None;
    }
    Some((bf - cf - nf * theta0) / var.sqrt())
}

/// Tango's score interval for the difference of paired proportions: the θ0 whose two-sided
/// score test does not reject at 1 − `level`.
///
/// # Formula
/// {θ0 ∈ [−1, 1] : |z(θ0)| ≤ z_{(1+level)/2}}, z from [`tango_test`], which decreases in θ0;
/// each end is found by bisection to 1e-12.
///
/// # Edge cases
/// None when n = 0 or b + c > n. An end at ±1 is returned as ±1.
///
/// # References
/// Tango T (1998) Stat Med 17:891–908 (the interval); Tango T (1999) Stat Med 18:3511
/// (correction).
///
/// # Example
/// ```
/// use attest::stats::hypothesis::tango_ci;
/// let ci = tango_ci(10, 4, 100, 0.95).unwrap();
/// assert!(ci.low < 0.06 && 0.06 < ci.high);
/// ```
pub fn tango_ci(b: u64, c: u64, n: u64, level: f64) -> Option<Interval> {
    if n == 0 || b + c > n {
        return None;
    }
    let zc = super::z_two_sided(level);
    // z(θ0) − target, decreasing in θ0; undefined (θ0 = 0 with b = c = 0) counts as 0.
    let f = |t: f64, target: f64| tango_z(b, c, n, t).unwrap_or(0.0) - target;
    let solve = |target: f64| -> f64 {
        let (mut lo, mut hi) = (-1.0 + 1e-15, 1.0 - 1e-15);
        if f(lo, target) <= 0.0 {
            return -1.0;
        }
        if f(hi, target) >= 0.0 {
            return 1.0;
        }
        while hi - lo > 1e-12 {
            let mid = 0.5 * (lo + hi);
            if f(mid, target) > 0.0 {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        0.5 * (lo + hi)
    };
    Some(Interval {
        low: solve(zc),
        high: solve(-zc),
    })
}

/// Holm's step-down adjustment of p-values for a family of hypotheses: rejecting where the
/// adjusted p-value is at most alpha controls the family-wise error rate at alpha.
///
/// # Formula
/// With p_(1) ≤ … ≤ p_(m) sorted, p̃_(i) = max_{j ≤ i} min(1, (m − j + 1) p_(j)); returned in
/// the input order. Ties keep their input order (the adjusted values are equal anyway).
///
/// # Edge cases
/// Empty input: empty output. NaN p-values are treated as 1 (never significant).
///
/// # References
/// Holm S (1979) A simple sequentially rejective multiple test procedure. Scand J Stat
/// 6:65–70; statsmodels 0.15.0 `multipletests(p, method="holm")` gives the same values.
///
/// # Example
/// ```
/// use attest::stats::hypothesis::holm;
/// // Sorted .01, .02, .04: 3 × .01 = .03, 2 × .02 = .04, 1 × .04 = .04.
/// assert_eq!(holm(&[0.04, 0.01, 0.02]), vec![0.04, 0.03, 0.04]);
/// ```
pub fn holm(p: &[f64]) -> Vec<f64> {
    let m = p.len();
    let clean: Vec<f64> = p
        .iter()
        .map(|&x| if x.is_nan() { 1.0 } else { x })
        .collect();
    let mut order: Vec<usize> = (0..m).collect();
    order.sort_by(|&i, &j| clean[i].total_cmp(&clean[j]));
    let mut out = vec![0.0; m];
    let mut running: f64 = 0.0;
    for (rank, &i) in order.iter().enumerate() {
        let adj = ((m - rank) as f64 * clean[i]).min(1.0);
        running = running.max(adj);
        out[i] = running;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::tolerance::{assert_close, Tol};

    fn fixture() -> serde_json::Value {
        serde_json::from_str(include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/hypothesis/expected.json"
        )))
        .unwrap()
    }

    #[test]
    fn binomial_goal_matches_scipy() {
        // SciPy binomtest(x, n, p0, alternative="greater").pvalue (gen.py).
        for case in fixture()["binomial"].as_array().unwrap() {
            let (x, n, p0) = (
                case["x"].as_u64().unwrap(),
                case["n"].as_u64().unwrap(),
                case["p0"].as_f64().unwrap(),
            );
            let p = crate::stats::proportion::binomial_upper_tail(x, n, p0).unwrap();
            assert_close(
                p,
                case["p"].as_f64().unwrap(),
                Tol::Rel(1e-9),
                "SciPy binomtest",
            );
        }
    }

    #[test]
    fn mcnemar_one_sided_matches_scipy() {
        for case in fixture()["mcnemar"].as_array().unwrap() {
            let (b, c) = (case["b"].as_u64().unwrap(), case["c"].as_u64().unwrap());
            assert_close(
                mcnemar_exact_greater(b, c),
                case["p"].as_f64().unwrap(),
                Tol::Rel(1e-9),
                "SciPy binomtest(b, b + c, 0.5, greater)",
            );
        }
        assert_eq!(mcnemar_exact_greater(0, 0), 1.0);
    }

    #[test]
    fn tango_matches_numeric_likelihood() {
        // gen.py: the restricted MLE by SciPy brentq on the score equation (not the closed
        // form), then z, the one-sided p and the inverted 95% interval by brentq.
        for case in fixture()["tango"].as_array().unwrap() {
            let g = |k: &str| case[k].as_f64().unwrap();
            let (b, c, n) = (g("b") as u64, g("c") as u64, g("n") as u64);
            let t = tango_test(b, c, n, g("theta0")).unwrap();
            let src = "numeric restricted MLE (gen.py)";
            assert_close(t.z, g("z"), Tol::Rel(1e-8), src);
            assert_close(t.p_value, g("p"), Tol::Rel(1e-7), src);
            let ci = tango_ci(b, c, n, 0.95).unwrap();
            assert_close(ci.low, g("ci_low"), Tol::Abs(1e-9), src);
            assert_close(ci.high, g("ci_high"), Tol::Abs(1e-9), src);
        }
        // θ0 = 0 without discordant pairs has no variance.
        assert!(tango_test(0, 0, 20, 0.0).is_none());
        assert!(tango_test(1, 0, 0, 0.0).is_none());
        // All pairs favour the new model: the upper end is 1.
        assert_eq!(tango_ci(5, 0, 5, 0.95).unwrap().high, 1.0);
    }

    #[test]
    fn holm_matches_statsmodels() {
        for case in fixture()["holm"].as_array().unwrap() {
            let p: Vec<f64> = case["p"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_f64().unwrap())
                .collect();
            let adj = holm(&p);
            for (a, e) in adj.iter().zip(case["adjusted"].as_array().unwrap()) {
                assert_close(*a, e.as_f64().unwrap(), Tol::Rel(1e-12), "statsmodels holm");
            }
        }
        assert!(holm(&[]).is_empty());
        assert_eq!(holm(&[f64::NAN, 0.01]), vec![1.0, 0.02]);
    }
}
