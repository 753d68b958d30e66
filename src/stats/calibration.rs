//! Calibration of predicted probabilities: the reliability diagram, the expected calibration
//! error, and the calibration slope and intercept (logistic recalibration).

/// One bin of a reliability diagram.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Bin {
    /// The bin covers (low, high] (the first bin includes 0).
    pub low: f64,
    pub high: f64,
    pub n: u64,
    /// Mean predicted probability in the bin.
    pub mean_predicted: f64,
    /// Observed share of positives in the bin.
    pub observed: f64,
}

/// The bin of probability p among `bins` equal-width bins: the b with b/B < p ≤ (b + 1)/B
/// (p = 0 in the first bin), the edges computed as b/B so that rounding in p·B never moves a
/// score that lies exactly on an edge.
fn bin_of(p: f64, bins: usize) -> usize {
    let edge = |b: usize| b as f64 / bins as f64;
    let mut b = ((p * bins as f64) as usize).min(bins - 1);
    while b > 0 && p <= edge(b) {
        b -= 1;
    }
    while b + 1 < bins && p > edge(b + 1) {
        b += 1;
    }
    b
}

/// The reliability diagram with `bins` equal-width bins over [0, 1], empty bins left out.
///
/// # Formula
/// Case i falls in the bin b with b/B < p_i ≤ (b + 1)/B (p = 0 in the first bin): Guo et
/// al.'s B_m = ((m − 1)/M, m/M], as scikit-learn's `calibration_curve(strategy="uniform")`; per bin, the mean of p and the share
/// of y = 1.
///
/// # Edge cases
/// None when a probability is outside [0, 1] or not finite, the lists differ in length, or
/// `bins == 0`. No cases: no bins.
///
/// # References
/// DeGroot MH, Fienberg SE (1983) The comparison and evaluation of forecasters. The
/// Statistician 32:12–22; Guo C et al. (2017) On calibration of modern neural networks. ICML.
///
/// # Example
/// ```
/// use attest::stats::calibration::reliability;
/// let bins = reliability(&[0.1, 0.2, 0.8, 0.9], &[false, true, true, true], 2).unwrap();
/// assert_eq!((bins[0].n, bins[0].observed), (2, 0.5));
/// ```
pub fn reliability(p: &[f64], y: &[bool], bins: usize) -> Option<Vec<Bin>> {
    if p.len() != y.len() || bins == 0 || p.iter().any(|x| !(0.0..=1.0).contains(x)) {
        return None;
    }
    let mut acc = vec![(0u64, 0.0f64, 0u64); bins];
    for (&pi, &yi) in p.iter().zip(y) {
        let b = bin_of(pi, bins);
        acc[b].0 += 1;
        acc[b].1 += pi;
        acc[b].2 += u64::from(yi);
    }
    Some(
        acc.iter()
            .enumerate()
            .filter(|(_, a)| a.0 > 0)
            .map(|(b, a)| Bin {
                low: b as f64 / bins as f64,
                high: (b + 1) as f64 / bins as f64,
                n: a.0,
                mean_predicted: a.1 / a.0 as f64,
                observed: a.2 as f64 / a.0 as f64,
            })
            .collect(),
    )
}

/// The expected calibration error over equal-width bins.
///
/// # Formula
/// ECE = Σ_b (n_b / N) |observed_b − mean_predicted_b|.
///
/// # Edge cases
/// None as [`reliability`], and when there are no cases.
///
/// # References
/// Naeini MP, Cooper G, Hauskrecht M (2015) Obtaining well calibrated probabilities using
/// Bayesian binning. AAAI; Guo et al. (2017).
///
/// # Example
/// ```
/// use attest::stats::calibration::ece;
/// // Bin [0, .5): mean .15, observed .5; bin [.5, 1]: mean .85, observed 1.
/// let e = ece(&[0.1, 0.2, 0.8, 0.9], &[false, true, true, true], 2).unwrap();
/// assert!((e - (0.5 * 0.35 + 0.5 * 0.15)).abs() < 1e-12);
/// ```
pub fn ece(p: &[f64], y: &[bool], bins: usize) -> Option<f64> {
    let b = reliability(p, y, bins)?;
    let n: u64 = b.iter().map(|x| x.n).sum();
    (n > 0).then(|| {
        b.iter()
            .map(|x| x.n as f64 / n as f64 * (x.observed - x.mean_predicted).abs())
            .sum()
    })
}

/// The expected calibration error of cases with integer weights (a bootstrap resample's
/// multiplicities): [`ece`] of the data with case i repeated `w[i]` times.
///
/// # Formula
/// As [`ece`], with every count and sum weighted.
///
/// # Edge cases
/// None as [`ece`], when the weights' length differs, or all weights are 0.
///
/// # References
/// As [`ece`].
///
/// # Example
/// ```
/// use attest::stats::calibration::{ece, ece_weighted};
/// let (p, y) = ([0.1, 0.2, 0.8], [false, true, true]);
/// let e = ece_weighted(&p, &y, &[1, 2, 1], 2).unwrap();
/// assert!((e - ece(&[0.1, 0.2, 0.2, 0.8], &[false, true, true, true], 2).unwrap()).abs() < 1e-15);
/// ```
pub fn ece_weighted(p: &[f64], y: &[bool], w: &[u32], bins: usize) -> Option<f64> {
    if p.len() != y.len()
        || p.len() != w.len()
        || bins == 0
        || p.iter().any(|x| !(0.0..=1.0).contains(x))
    {
        return None;
    }
    let mut acc = vec![(0u64, 0.0f64, 0u64); bins];
    for ((&pi, &yi), &wi) in p.iter().zip(y).zip(w) {
        let b = bin_of(pi, bins);
        acc[b].0 += u64::from(wi);
        acc[b].1 += f64::from(wi) * pi;
        acc[b].2 += u64::from(wi) * u64::from(yi);
    }
    let n: u64 = acc.iter().map(|a| a.0).sum();
    (n > 0).then(|| {
        acc.iter()
            .filter(|a| a.0 > 0)
            .map(|a| {
                let k = a.0 as f64;
                k / n as f64 * (a.2 as f64 / k - a.1 / k).abs()
            })
            .sum()
    })
}

/// The Brier score of cases with integer weights (all 1 for the plain score).
///
/// # Formula
/// Σ w_i (p_i − y_i)² / Σ w_i.
///
/// # Edge cases
/// None when a probability is outside [0, 1] or not finite, the lengths differ, or the weights
/// sum to 0.
///
/// # References
/// Brier GW (1950) Verification of forecasts expressed in terms of probability. Mon Weather
/// Rev 78:1–3; scikit-learn 1.9.1 `brier_score_loss` gives the same value.
///
/// # Example
/// ```
/// use attest::stats::calibration::brier;
/// // ((0.1)² + (0.8)² + (0.3)²) / 3 with the second case negative at 0.8.
/// let b = brier(&[0.9, 0.8, 0.7], &[true, false, true], &[1, 1, 1]).unwrap();
/// assert!((b - (0.01 + 0.64 + 0.09) / 3.0).abs() < 1e-15);
/// ```
pub fn brier(p: &[f64], y: &[bool], w: &[u32]) -> Option<f64> {
    if p.len() != y.len() || p.len() != w.len() || p.iter().any(|x| !(0.0..=1.0).contains(x)) {
        return None;
    }
    let (mut num, mut den) = (0.0, 0u64);
    for ((&pi, &yi), &wi) in p.iter().zip(y).zip(w) {
        let d = pi - f64::from(u8::from(yi));
        num += f64::from(wi) * d * d;
        den += u64::from(wi);
    }
    (den > 0).then(|| num / den as f64)
}

/// Calibration intercept and slope: the logistic regression logit P(y = 1) = a + b·logit(p).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Recalibration {
    pub intercept: f64,
    pub slope: f64,
    /// Their standard errors (inverse Fisher information).
    pub intercept_se: f64,
    pub slope_se: f64,
}

/// Fits the calibration intercept and slope by maximum likelihood (Newton–Raphson).
///
/// # Formula
/// Maximise Σ y_i (a + b x_i) − ln(1 + e^{a + b x_i}) with x_i = logit(p_i); a well calibrated
/// model has slope 1 and intercept 0 (Cox 1958). This is the joint fit (the "calibration
/// slope" with its intercept), as statsmodels `Logit(y, [1, logit(p)])`.
///
/// # Edge cases
/// None when a probability is 0 or 1 (its logit is infinite), the lists differ in length, a
/// class is empty, the fit does not converge in 100 steps, or the data separate perfectly
/// (the maximum lies at infinity).
///
/// # References
/// Cox DR (1958) Two further applications of a model for binary regression. Biometrika
/// 45:562–565; Van Calster B et al. (2019) Calibration: the Achilles heel of predictive
/// analytics. BMC Med 17:230.
///
/// # Example
/// ```
/// use attest::stats::calibration::recalibrate;
/// let p = [0.2, 0.3, 0.6, 0.7, 0.4, 0.8, 0.1, 0.9];
/// let y = [false, true, false, true, false, true, false, true];
/// let r = recalibrate(&p, &y).unwrap();
/// assert!(r.slope > 0.0 && r.slope_se > 0.0);
/// ```
pub fn recalibrate(p: &[f64], y: &[bool]) -> Option<Recalibration> {
    if p.len() != y.len() || p.iter().any(|&x| !(x > 0.0 && x < 1.0)) {
        return None;
    }
    let pos = y.iter().filter(|&&v| v).count();
    if pos == 0 || pos == y.len() {
        return None;
    }
    let x: Vec<f64> = p.iter().map(|&v| (v / (1.0 - v)).ln()).collect();
    let (mut a, mut b) = (0.0f64, 1.0f64);
    for _ in 0..100 {
        // Gradient g and information matrix H (negative Hessian).
        let (mut g0, mut g1, mut h00, mut h01, mut h11) = (0.0, 0.0, 0.0, 0.0, 0.0);
        for (&xi, &yi) in x.iter().zip(y) {
            let mu = 1.0 / (1.0 + (-(a + b * xi)).exp());
            let r = f64::from(u8::from(yi)) - mu;
            let w = mu * (1.0 - mu);
            g0 += r;
            g1 += r * xi;
            h00 += w;
            h01 += w * xi;
            h11 += w * xi * xi;
        }
        let det = h00 * h11 - h01 * h01;
        if !(det.is_finite() && det > 0.0) {
            return None;
        }
        let (da, db) = ((h11 * g0 - h01 * g1) / det, (h00 * g1 - h01 * g0) / det);
        a += da;
        b += db;
        if !(a.is_finite() && b.is_finite()) || a.abs() > 1e6 || b.abs() > 1e6 {
            return None;
        }
        if da.abs() < 1e-12 && db.abs() < 1e-12 {
            return Some(Recalibration {
                intercept: a,
                slope: b,
                intercept_se: (h11 / det).sqrt(),
                slope_se: (h00 / det).sqrt(),
            });
        }
    }
    None
}

/// Calibration-in-the-large: the intercept a of logit P(y = 1) = a + logit(p) with the slope
/// fixed at 1 (logit(p) as an offset), and its standard error. a = 0 when the mean predicted
/// risk matches the observed rate on the logit scale; a > 0 when the model under-predicts.
///
/// # Formula
/// Newton–Raphson on Σ y_i (a + x_i) − ln(1 + e^{a + x_i}), x_i = logit(p_i): a ← a + Σ(y − μ) /
/// Σ μ(1 − μ); SE = 1/√(Σ μ(1 − μ)) at the maximum.
///
/// # Edge cases
/// None when a probability is 0 or 1, the lengths differ, a class is empty (the maximum lies
/// at ±∞), or 100 steps do not converge.
///
/// # References
/// Van Calster B et al. (2019) BMC Med 17:230 (calibration-in-the-large); Steyerberg EW (2019)
/// Clinical Prediction Models, 2nd ed., §15.3. statsmodels 0.15.0 `GLM(y, 1, Binomial(),
/// offset=logit(p))` gives the same value and standard error.
///
/// # Example
/// ```
/// use attest::stats::calibration::calibration_in_the_large;
/// // Every case predicted 0.5, half positive: already calibrated in the large.
/// let (a, se) = calibration_in_the_large(&[0.5; 4], &[true, false, true, false]).unwrap();
/// assert!(a.abs() < 1e-12 && (se - 1.0).abs() < 1e-12);
/// ```
pub fn calibration_in_the_large(p: &[f64], y: &[bool]) -> Option<(f64, f64)> {
    if p.len() != y.len() || p.iter().any(|&x| !(x > 0.0 && x < 1.0)) {
        return None;
    }
    let pos = y.iter().filter(|&&v| v).count();
    if pos == 0 || pos == y.len() {
        return None;
    }
    let x: Vec<f64> = p.iter().map(|&v| (v / (1.0 - v)).ln()).collect();
    let mut a = 0.0f64;
    for _ in 0..100 {
        let (mut g, mut h) = (0.0, 0.0);
        for (&xi, &yi) in x.iter().zip(y) {
            let mu = 1.0 / (1.0 + (-(a + xi)).exp());
            g += f64::from(u8::from(yi)) - mu;
            h += mu * (1.0 - mu);
        }
        if !(h.is_finite() && h > 0.0) {
            return None;
        }
        let step = g / h;
        a += step;
        if step.abs() < 1e-13 {
            return Some((a, 1.0 / h.sqrt()));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::tolerance::{assert_close, Tol};

    #[test]
    fn recalibration_matches_statsmodels() {
        // statsmodels 0.15.0: sm.Logit(y, sm.add_constant(np.log(p / (1 - p)))).fit(tol=1e-12)
        // on these 12 cases: params and bse (generator: tests/fixtures/calibration/gen.py).
        let p = [
            0.05, 0.1, 0.2, 0.3, 0.35, 0.4, 0.55, 0.6, 0.7, 0.8, 0.9, 0.95,
        ];
        let y = [
            false, false, true, false, false, true, false, true, true, false, true, true,
        ];
        let r = recalibrate(&p, &y).unwrap();
        let f: serde_json::Value = serde_json::from_str(include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/calibration/statsmodels.json"
        )))
        .unwrap();
        let v = |k: &str| f[k].as_f64().unwrap();
        assert_close(
            r.intercept,
            v("intercept"),
            Tol::Rel(1e-8),
            "statsmodels Logit",
        );
        assert_close(r.slope, v("slope"), Tol::Rel(1e-8), "statsmodels Logit");
        assert_close(
            r.intercept_se,
            v("intercept_se"),
            Tol::Rel(1e-6),
            "statsmodels Logit bse",
        );
        assert_close(
            r.slope_se,
            v("slope_se"),
            Tol::Rel(1e-6),
            "statsmodels Logit bse",
        );
        // Perfect separation has no finite maximum.
        assert!(recalibrate(&[0.1, 0.2, 0.8, 0.9], &[false, false, true, true]).is_none());
        assert!(recalibrate(&[0.0, 0.5], &[false, true]).is_none());
    }

    #[test]
    fn ece_by_hand() {
        // Bins of 0.25: [0,.25): .1,.2 (y 0,0) → mean .15, obs 0; [.5,.75): .6 (y 1) → .6, 1;
        // [.75,1]: .8, 1.0 (y 1, 0) → .9, .5. ECE = (2·.15 + 1·.4 + 2·.4)/5 = 0.3.
        let p = [0.1, 0.2, 0.6, 0.8, 1.0];
        let y = [false, false, true, true, false];
        assert!((ece(&p, &y, 4).unwrap() - 0.3).abs() < 1e-12);
        let bins = reliability(&p, &y, 4).unwrap();
        assert_eq!(bins.len(), 3);
        assert_eq!(bins[2].n, 2);
        assert!(reliability(&[1.5], &[true], 4).is_none());
    }
}
