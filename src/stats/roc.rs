//! ROC analysis: the AUC with its DeLong variance, and the ROC curve.
//!
//! Scores are "higher means more likely positive". Both functions sort each class once and
//! walk the two sorted lists together, so they run in O(n log n) and handle millions of cases.

use super::{valid_level, z_two_sided, Interval};

/// The AUC and its DeLong variance.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct AucDelong {
    pub auc: f64,
    /// DeLong variance; `None` when a class has a single case (a sample variance needs two).
    pub variance: Option<f64>,
    pub n_pos: usize,
    pub n_neg: usize,
}

/// One operating point of the rule "score >= threshold is positive".
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct RocPoint {
    pub fpr: f64,
    pub tpr: f64,
    /// The threshold; `null` in JSON for the first point, where nothing is called positive.
    #[serde(serialize_with = "finite_or_null")]
    pub threshold: f64,
}

fn finite_or_null<S: serde::Serializer>(x: &f64, s: S) -> Result<S::Ok, S::Error> {
    if x.is_finite() {
        s.serialize_f64(*x)
    } else {
        s.serialize_none()
    }
}

fn sorted(xs: &[f64]) -> Vec<f64> {
    let mut v = xs.to_vec();
    v.sort_unstable_by(f64::total_cmp);
    v
}

/// AUC with DeLong's variance, by the midrank method of Sun & Xu (2014).
///
/// # Formula
/// For positive i with score x_i, its placement V10_i = (#{negatives < x_i} +
/// #{negatives = x_i}/2)/n; for negative j, V01_j = (#{positives > y_j} + #{positives = y_j}/2)/m.
/// AUC = mean(V10) = mean(V01) (the Mann-Whitney statistic, ties one half).
/// var = S10/m + S01/n with S10, S01 the sample variances (denominators m-1, n-1) of V10, V01
/// (DeLong et al. 1988). These placements equal Sun & Xu's midrank differences
/// (T_Z - T_X)/n, computed here by one merge of the two sorted classes.
///
/// # Edge cases
/// `None` if either class is empty or any score is not finite (NaN or infinite scores are
/// rejected by the prediction reader with a finding before they get here). With one case in a
/// class the AUC is defined but the variance is not: `variance` is `None`. All scores tied give
/// 0.5 with variance 0.
///
/// # References
/// DeLong ER, DeLong DM, Clarke-Pearson DL (1988) Biometrics 44:837-845.
/// Sun X, Xu W (2014) IEEE Signal Processing Letters 21:1389-1393.
/// Hanley JA, McNeil BJ (1982) Radiology 143:29-36.
///
/// # Example
/// ```
/// use attest::stats::roc::auc_delong;
/// let a = auc_delong(&[0.9, 0.8, 0.4], &[0.5, 0.3]).unwrap();
/// assert!((a.auc - 5.0 / 6.0).abs() < 1e-12);
/// ```
pub fn auc_delong(pos: &[f64], neg: &[f64]) -> Option<AucDelong> {
    if pos.is_empty() || neg.is_empty() || pos.iter().chain(neg).any(|x| !x.is_finite()) {
        return None;
    }
    let (x, y) = (sorted(pos), sorted(neg));
    let (m, n) = (x.len(), y.len());
    let (v10, v01) = placements(&x, &y);
    let auc = v10.iter().sum::<f64>() / m as f64;
    let variance = if m > 1 && n > 1 {
        let s10 = v10.iter().map(|v| (v - auc).powi(2)).sum::<f64>() / (m - 1) as f64;
        let s01 = v01.iter().map(|v| (v - auc).powi(2)).sum::<f64>() / (n - 1) as f64;
        Some(s10 / m as f64 + s01 / n as f64)
    } else {
        None
    };
    Some(AucDelong {
        auc,
        variance,
        n_pos: m,
        n_neg: n,
    })
}

/// Placement values of each positive (V10) and each negative (V01), from sorted classes.
fn placements(x: &[f64], y: &[f64]) -> (Vec<f64>, Vec<f64>) {
    let (m, n) = (x.len() as f64, y.len() as f64);
    let mut v10 = Vec::with_capacity(x.len());
    let mut v01 = Vec::with_capacity(y.len());
    let (mut i, mut j) = (0, 0);
    while i < x.len() || j < y.len() {
        // The next distinct value and how many of each class hold it.
        let v = match (x.get(i), y.get(j)) {
            (Some(a), Some(b)) => a.min(*b),
            (Some(a), None) => *a,
            (None, Some(b)) => *b,
            (None, None) => unreachable!("loop condition"),
        };
        let ci = x[i..].iter().take_while(|&&a| a == v).count();
        let cj = y[j..].iter().take_while(|&&b| b == v).count();
        // Negatives below v: j; positives above v: x.len() - i - ci.
        let p10 = (j as f64 + cj as f64 / 2.0) / n;
        let p01 = ((x.len() - i - ci) as f64 + ci as f64 / 2.0) / m;
        v10.extend(std::iter::repeat_n(p10, ci));
        v01.extend(std::iter::repeat_n(p01, cj));
        i += ci;
        j += cj;
    }
    (v10, v01)
}

/// Normal-approximation interval AUC ± z·sqrt(var), clipped to [0, 1], as R's pROC
/// `ci.auc(method = "delong")`.
///
/// # Edge cases
/// `None` when the variance is undefined (a class with one case) or the level is outside (0, 1).
///
/// # References
/// Robin X et al. (2011) pROC. BMC Bioinformatics 12:77.
///
/// # Example
/// ```
/// use attest::stats::roc::{auc_delong, delong_ci};
/// let a = auc_delong(&[0.9, 0.8, 0.4], &[0.5, 0.3]).unwrap();
/// let ci = delong_ci(&a, 0.95).unwrap();
/// assert!(ci.low < a.auc && a.auc < ci.high && ci.high <= 1.0);
/// ```
pub fn delong_ci(a: &AucDelong, level: f64) -> Option<Interval> {
    let var = a.variance?;
    if !valid_level(level) {
        return None;
    }
    let half = z_two_sided(level) * var.max(0.0).sqrt();
    Some(Interval {
        low: (a.auc - half).max(0.0),
        high: (a.auc + half).min(1.0),
    })
}

/// The ROC curve: one point per distinct score, from (0, 0) to (1, 1) in increasing FPR.
///
/// # Formula
/// For each threshold t (distinct scores, descending): TPR = #{pos >= t}/m, FPR = #{neg >= t}/n.
/// The first point has threshold +∞ (nothing positive).
///
/// # Edge cases
/// Empty when either class is empty or a score is not finite.
///
/// # Example
/// ```
/// let c = attest::stats::roc::roc_curve(&[0.9, 0.4], &[0.5]);
/// assert_eq!(c.len(), 4); // (0,0) (0,.5) (1,.5) (1,1)
/// ```
pub fn roc_curve(pos: &[f64], neg: &[f64]) -> Vec<RocPoint> {
    if pos.is_empty() || neg.is_empty() || pos.iter().chain(neg).any(|x| !x.is_finite()) {
        return Vec::new();
    }
    let desc = |v: &[f64]| {
        let mut s = sorted(v);
        s.reverse();
        s
    };
    let (x, y) = (desc(pos), desc(neg));
    let (m, n) = (x.len() as f64, y.len() as f64);
    let mut out = vec![RocPoint {
        fpr: 0.0,
        tpr: 0.0,
        threshold: f64::INFINITY,
    }];
    let (mut i, mut j) = (0, 0);
    while i < x.len() || j < y.len() {
        let t = match (x.get(i), y.get(j)) {
            (Some(a), Some(b)) => a.max(*b),
            (Some(a), None) => *a,
            (None, Some(b)) => *b,
            (None, None) => unreachable!("loop condition"),
        };
        i += x[i..].iter().take_while(|&&a| a == t).count();
        j += y[j..].iter().take_while(|&&b| b == t).count();
        out.push(RocPoint {
            fpr: j as f64 / n,
            tpr: i as f64 / m,
            threshold: t,
        });
    }
    out
}

/// At most `max_points` points of a curve, evenly spaced by index, always keeping the first and
/// the last (for plotting; the statistics use the full data).
///
/// # Example
/// ```
/// use attest::stats::roc::{roc_curve, thin_curve};
/// let c = roc_curve(&[0.9, 0.8, 0.7, 0.6], &[0.5, 0.4, 0.3]);
/// let t = thin_curve(&c, 3);
/// assert_eq!((t.len(), t[0], t[2]), (3, c[0], c[c.len() - 1]));
/// ```
pub fn thin_curve(points: &[RocPoint], max_points: usize) -> Vec<RocPoint> {
    if points.len() <= max_points || max_points < 2 {
        return points.to_vec();
    }
    let last = points.len() - 1;
    (0..max_points)
        .map(|k| points[(k * last + (max_points - 1) / 2) / (max_points - 1)])
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::tolerance::{assert_close, assert_rel};

    /// DeLong's variance by the textbook O(mn) definition, written independently.
    fn delong_naive(pos: &[f64], neg: &[f64]) -> (f64, f64) {
        let psi = |x: f64, y: f64| {
            if x > y {
                1.0
            } else if x == y {
                0.5
            } else {
                0.0
            }
        };
        let (m, n) = (pos.len() as f64, neg.len() as f64);
        let v10: Vec<f64> = pos
            .iter()
            .map(|&x| neg.iter().map(|&y| psi(x, y)).sum::<f64>() / n)
            .collect();
        let v01: Vec<f64> = neg
            .iter()
            .map(|&y| pos.iter().map(|&x| psi(x, y)).sum::<f64>() / m)
            .collect();
        let auc = v10.iter().sum::<f64>() / m;
        let s10 = v10.iter().map(|v| (v - auc).powi(2)).sum::<f64>() / (m - 1.0);
        let s01 = v01.iter().map(|v| (v - auc).powi(2)).sum::<f64>() / (n - 1.0);
        (auc, s10 / m + s01 / n)
    }

    #[test]
    fn hanley_mcneil_1982_table_1() {
        // Hanley & McNeil (1982) Radiology 143:29-36, Table 1: 109 CT images on a five-point
        // scale; normals (58) per rating 1..5: 33, 6, 6, 11, 2; abnormals (51): 3, 2, 2, 11, 33.
        // The paper's AUC: 0.893.
        let expand = |counts: [usize; 5]| -> Vec<f64> {
            counts
                .iter()
                .enumerate()
                .flat_map(|(r, &c)| std::iter::repeat_n((r + 1) as f64, c))
                .collect()
        };
        let neg = expand([33, 6, 6, 11, 2]);
        let pos = expand([3, 2, 2, 11, 33]);
        let a = auc_delong(&pos, &neg).unwrap();
        assert_close(a.auc, 0.893, 5e-4, "Hanley & McNeil 1982, Table 1 / text");
        let (auc, var) = delong_naive(&pos, &neg);
        assert_rel(a.auc, auc, 1e-12, "O(mn) definition");
        assert_rel(a.variance.unwrap(), var, 1e-12, "O(mn) definition");
    }

    #[test]
    fn hand_derived_small_example() {
        // pos = [0.9, 0.8, 0.4], neg = [0.5, 0.3]. Pairs won: 0.9 beats both, 0.8 both,
        // 0.4 beats 0.3 only: AUC = 5/6. V10 = [1, 1, 1/2]; V01 = [2/3 (0.5), 1 (0.3)].
        // S10 = ((1/6)²·2 + (1/3)²)/2 = 1/12; S01 = ((2/3-5/6)² + (1-5/6)²)/1 = 1/18.
        // var = (1/12)/3 + (1/18)/2 = 1/36 + 1/36 = 1/18.
        let a = auc_delong(&[0.9, 0.8, 0.4], &[0.5, 0.3]).unwrap();
        assert_close(a.auc, 5.0 / 6.0, 1e-15, "hand derivation");
        assert_close(a.variance.unwrap(), 1.0 / 18.0, 1e-15, "hand derivation");
    }

    #[test]
    fn fast_algorithm_matches_definition_with_heavy_ties() {
        // Deterministic pseudo-random scores on a coarse grid, so many ties within and across
        // classes.
        let mut s = 12345u64;
        let mut next = || {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((s >> 33) % 7) as f64 / 7.0
        };
        let pos: Vec<f64> = (0..57).map(|_| next() + 0.1).collect();
        let neg: Vec<f64> = (0..83).map(|_| next()).collect();
        let a = auc_delong(&pos, &neg).unwrap();
        let (auc, var) = delong_naive(&pos, &neg);
        assert_rel(a.auc, auc, 1e-12, "O(mn) definition");
        assert_rel(a.variance.unwrap(), var, 1e-10, "O(mn) definition");
    }

    #[test]
    fn edge_cases() {
        assert!(auc_delong(&[], &[0.1]).is_none());
        assert!(auc_delong(&[0.1], &[]).is_none());
        assert!(auc_delong(&[f64::NAN], &[0.1]).is_none());
        let a = auc_delong(&[0.5, 0.5], &[0.5, 0.5, 0.5]).unwrap();
        assert_eq!((a.auc, a.variance), (0.5, Some(0.0)));
        let one = auc_delong(&[0.9], &[0.1, 0.2]).unwrap();
        assert_eq!((one.auc, one.variance), (1.0, None));
        assert!(delong_ci(&one, 0.95).is_none());
        let c = roc_curve(&[0.9, 0.4], &[0.5, 0.4]);
        let pts: Vec<(f64, f64)> = c.iter().map(|p| (p.fpr, p.tpr)).collect();
        assert_eq!(pts, vec![(0.0, 0.0), (0.0, 0.5), (0.5, 0.5), (1.0, 1.0)]);
    }
}
