//! ROC analysis of a score against a binary truth: the AUC with DeLong's variance and its
//! normal-approximation interval, the empirical ROC curve, and its thinning for plots.
//!
//! Scores follow "higher means more likely positive". Each function sorts a copy of each class
//! once and then walks the two sorted lists together tie group by tie group, so everything is
//! O(n log n) time and O(n) memory, fast for a million cases; nothing is O(m·n).

use super::{z_two_sided, Interval};

/// The AUC of a score and its DeLong variance.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct AucDelong {
    /// Mann–Whitney AUC, ties counted one half. Higher is better; 0.5 is chance.
    pub auc: f64,
    /// DeLong variance of `auc`. `f64::INFINITY` (serialized by serde_json as `null`) when a
    /// class has a single case, where the sample variance is undefined (pROC gives NA).
    pub variance: f64,
    /// Number of positive cases.
    pub n_pos: usize,
    /// Number of negative cases.
    pub n_neg: usize,
}

/// One operating point of the rule "score >= threshold is positive".
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct RocPoint {
    /// False-positive rate, 1 - specificity.
    pub fpr: f64,
    /// True-positive rate, sensitivity.
    pub tpr: f64,
    /// The threshold; +∞ at the first point, where nothing is called positive, which is
    /// written `null` (JSON has no infinity).
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

/// A sorted copy (ascending), or `None` if a score is not finite.
fn sorted_finite(xs: &[f64]) -> Option<Vec<f64>> {
    if xs.iter().any(|x| !x.is_finite()) {
        return None;
    }
    let mut v = xs.to_vec();
    // Finite values only, so total_cmp is the numeric order except that -0.0 sorts just
    // before 0.0; the tie walk below compares with `==`, which treats them as one value.
    v.sort_unstable_by(f64::total_cmp);
    Some(v)
}

/// One group of equal scores in the merged sorted classes.
#[derive(Debug, Clone, Copy)]
struct TieGroup {
    value: f64,
    /// Positives and negatives strictly below `value`.
    pos_below: usize,
    neg_below: usize,
    /// Positives and negatives equal to `value`.
    pos_tied: usize,
    neg_tied: usize,
}

/// Calls `f` for each distinct score, in ascending order, over two ascending lists: O(m + n).
fn for_each_tie_group(x: &[f64], y: &[f64], mut f: impl FnMut(TieGroup)) {
    let (mut i, mut j) = (0, 0);
    while i < x.len() || j < y.len() {
        let value = match (x.get(i), y.get(j)) {
            (Some(&a), Some(&b)) => a.min(b),
            (Some(&a), None) => a,
            (None, Some(&b)) => b,
            (None, None) => break,
        };
        let pos_tied = x[i..].iter().take_while(|&&a| a == value).count();
        let neg_tied = y[j..].iter().take_while(|&&b| b == value).count();
        f(TieGroup {
            value,
            pos_below: i,
            neg_below: j,
            pos_tied,
            neg_tied,
        });
        i += pos_tied;
        j += neg_tied;
    }
}

/// A sum with Neumaier's compensation, so a million small squares add up to full precision.
#[derive(Default)]
struct Sum {
    sum: f64,
    compensation: f64,
}

impl Sum {
    fn add(&mut self, v: f64) {
        let t = self.sum + v;
        if self.sum.abs() >= v.abs() {
            self.compensation += (self.sum - t) + v;
        } else {
            self.compensation += (v - t) + self.sum;
        }
        self.sum = t;
    }
    fn value(&self) -> f64 {
        self.sum + self.compensation
    }
}

/// AUC (Mann–Whitney, ties count one half) with DeLong's variance, computed in O(n log n) by
/// the midrank algorithm of Sun & Xu (2014). Higher score = more likely positive.
///
/// # Formula
/// With m positives X, n negatives Y and ψ(x, y) = 1 if x > y, ½ if x = y, 0 otherwise:
/// the placements V10_i = (1/n) Σ_j ψ(X_i, Y_j) and V01_j = (1/m) Σ_i ψ(X_i, Y_j);
/// AUC = mean(V10) = mean(V01); var = S10/m + S01/n, with S10 and S01 the sample variances
/// (denominators m-1 and n-1) of V10 and V01 (DeLong et al. 1988, as pROC `var(roc)`).
/// Sun & Xu: V10_i = (T_Z(X_i) - T_X(X_i))/n and V01_j = 1 - (T_Z(Y_j) - T_Y(Y_j))/m, with T
/// the midranks within the pooled sample Z, within X and within Y. For a tie group with p
/// positives and q negatives above i₀ positives and j₀ negatives the midrank differences are
/// j₀ + q/2 and i₀ + p/2, so one walk over the sorted classes gives every placement. The AUC is
/// formed from the integer count 2U = Σ p(2j₀ + q), so it is exact up to one rounding.
///
/// # Edge cases
/// `None` if either class is empty or any score is NaN or infinite: callers report such scores
/// as findings rather than drop them silently. With a single case in a class the AUC is defined
/// but the sample variance is not: `variance` is `f64::INFINITY`, so [`delong_ci`] gives the
/// uninformative [0, 1] rather than a spuriously narrow interval. All scores tied give AUC 0.5
/// with variance 0, and a perfect separation gives 1 with variance 0 (pROC warns that this
/// variance "can be misleading").
///
/// # References
/// DeLong ER, DeLong DM, Clarke-Pearson DL (1988) Comparing the areas under two or more
/// correlated receiver operating characteristic curves: a nonparametric approach. Biometrics
/// 44:837–845. Sun X, Xu W (2014) Fast implementation of DeLong's algorithm for comparing the
/// areas under correlated receiver operating characteristic curves. IEEE Signal Process Lett
/// 21:1389–1393. Hanley JA, McNeil BJ (1982) Radiology 143:29–36. Robin X et al. (2011) pROC.
/// BMC Bioinformatics 12:77.
///
/// # Example
/// ```
/// use attest::stats::roc::auc_delong;
/// // 5 of the 6 positive–negative pairs are ordered correctly.
/// let a = auc_delong(&[0.9, 0.8, 0.4], &[0.5, 0.3]).unwrap();
/// assert!((a.auc - 5.0 / 6.0).abs() < 1e-15);
/// assert!((a.variance - 1.0 / 18.0).abs() < 1e-15);
/// ```
pub fn auc_delong(pos: &[f64], neg: &[f64]) -> Option<AucDelong> {
    if pos.is_empty() || neg.is_empty() {
        return None;
    }
    let x = sorted_finite(pos)?;
    let y = sorted_finite(neg)?;
    let (m, n) = (x.len(), y.len());

    // Pass 1: twice the Mann–Whitney U, an integer (u128: 2·m·n cannot overflow).
    let mut twice_u: u128 = 0;
    for_each_tie_group(&x, &y, |g| {
        twice_u += g.pos_tied as u128 * (2 * g.neg_below + g.neg_tied) as u128;
    });
    let auc = twice_u as f64 / (2.0 * m as f64 * n as f64);

    // Pass 2: squared deviations of the placements from the AUC, one term per tie group.
    let variance = if m < 2 || n < 2 {
        f64::INFINITY
    } else {
        let (mf, nf) = (m as f64, n as f64);
        let (mut s10, mut s01) = (Sum::default(), Sum::default());
        for_each_tie_group(&x, &y, |g| {
            if g.pos_tied > 0 {
                let v10 = (g.neg_below as f64 + g.neg_tied as f64 / 2.0) / nf;
                s10.add(g.pos_tied as f64 * (v10 - auc) * (v10 - auc));
            }
            if g.neg_tied > 0 {
                let above = (m - g.pos_below - g.pos_tied) as f64;
                let v01 = (above + g.pos_tied as f64 / 2.0) / mf;
                s01.add(g.neg_tied as f64 * (v01 - auc) * (v01 - auc));
            }
        });
        s10.value() / (mf - 1.0) / mf + s01.value() / (nf - 1.0) / nf
    };
    Some(AucDelong {
        auc,
        variance,
        n_pos: m,
        n_neg: n,
    })
}

/// Normal-approximation interval for the AUC, clipped to [0, 1], as pROC
/// `ci.auc(roc, method = "delong")`.
///
/// # Formula
/// AUC ± z_{1-α/2}·sqrt(variance), then each bound clipped to [0, 1].
///
/// # Edge cases
/// An infinite variance (a class with one case) gives [0, 1]; a zero variance gives the point
/// [AUC, AUC]. A NaN field (possible only in a hand-built `AucDelong`) also gives [0, 1], since
/// the clipping keeps the non-NaN bound. Panics when `level` is not in (0, 1), like
/// [`super::z_two_sided`]: validate a user's level with [`super::valid_level`] first.
///
/// # References
/// DeLong et al. (1988); Robin X et al. (2011) pROC: an open-source package for R and S+ to
/// analyze and compare ROC curves. BMC Bioinformatics 12:77 (`ci.auc.delong`).
///
/// # Example
/// ```
/// use attest::stats::roc::{auc_delong, delong_ci};
/// let a = auc_delong(&[0.9, 0.8, 0.4], &[0.5, 0.3]).unwrap();
/// let ci = delong_ci(&a, 0.95);
/// // 5/6 + 1.96·sqrt(1/18) > 1, so the upper bound is clipped.
/// assert!(ci.low < a.auc && ci.high == 1.0);
/// ```
pub fn delong_ci(a: &AucDelong, level: f64) -> Interval {
    let half = z_two_sided(level) * a.variance.sqrt();
    Interval {
        low: (a.auc - half).max(0.0),
        high: (a.auc + half).min(1.0),
    }
}

/// ROC operating points for the rule "score >= t is positive", one per distinct threshold, from
/// (0, 0) to (1, 1) in increasing FPR order; the first point has threshold +∞.
///
/// # Formula
/// For each distinct score t, in descending order: TPR(t) = #{X ≥ t}/m, FPR(t) = #{Y ≥ t}/n.
/// A tie between classes gives a diagonal step, so the trapezoidal area under the points is the
/// Mann–Whitney AUC of [`auc_delong`]. The last point has the smallest score as threshold and is
/// (1, 1). All points are kept (no dropping of collinear points); see [`thin_curve`].
///
/// # Edge cases
/// Empty when either class is empty or any score is NaN or infinite, matching the `None` of
/// [`auc_delong`].
///
/// # References
/// Fawcett T (2006) An introduction to ROC analysis. Pattern Recognit Lett 27:861–874 (its
/// efficient generation of ROC points, emitting a point only when the score changes). The same
/// points as pROC's `coords`, whose thresholds are midpoints between scores instead.
///
/// # Example
/// ```
/// use attest::stats::roc::roc_curve;
/// let c = roc_curve(&[0.9, 0.4], &[0.5]);
/// let pts: Vec<(f64, f64, f64)> = c.iter().map(|p| (p.fpr, p.tpr, p.threshold)).collect();
/// assert_eq!(
///     pts,
///     [(0.0, 0.0, f64::INFINITY), (0.0, 0.5, 0.9), (1.0, 0.5, 0.5), (1.0, 1.0, 0.4)]
/// );
/// ```
pub fn roc_curve(pos: &[f64], neg: &[f64]) -> Vec<RocPoint> {
    if pos.is_empty() || neg.is_empty() {
        return Vec::new();
    }
    let (Some(x), Some(y)) = (sorted_finite(pos), sorted_finite(neg)) else {
        return Vec::new();
    };
    let (m, n) = (x.len(), y.len());
    let mut groups = 0;
    for_each_tie_group(&x, &y, |_| groups += 1);
    let mut out = Vec::with_capacity(groups + 1);
    // Ascending thresholds give decreasing rates; build that way and reverse once.
    for_each_tie_group(&x, &y, |g| {
        out.push(RocPoint {
            fpr: (n - g.neg_below) as f64 / n as f64,
            tpr: (m - g.pos_below) as f64 / m as f64,
            threshold: g.value,
        });
    });
    out.push(RocPoint {
        fpr: 0.0,
        tpr: 0.0,
        threshold: f64::INFINITY,
    });
    out.reverse();
    out
}

/// Reduce a curve to at most `max_points` vertices deterministically, always keeping the first
/// and the last point (for plotting a ROC of a million cases; statistics use the full data).
///
/// # Formula
/// Let s_i be the cumulative L1 path length |Δfpr| + |Δtpr| from the first point to point i and
/// S the total, h = S/(max_points - 1). For k = 1, …, max_points - 2 the first point with
/// s_i ≥ k·h is kept, plus the first and the last point; repeated picks are kept once. Each
/// drawn segment then stands for a stretch of the curve no longer than h plus one original
/// step, so long steps (a class with few cases) and dense stretches are both drawn faithfully.
///
/// # Edge cases
/// A curve with at most `max_points` points is returned unchanged. `max_points` below 2 is
/// treated as 2 (first and last point). If the path length is zero or not finite (points that
/// are not from [`roc_curve`]), points evenly spaced by index are kept instead.
///
/// # References
/// None: a plotting aid, not a statistic (the bound on each segment follows from the pick rule:
/// s at the kept point is at least (k-1)·h and s one point before the next pick is below k·h).
///
/// # Example
/// ```
/// use attest::stats::roc::{roc_curve, thin_curve};
/// let pos: Vec<f64> = (0..1000).map(|i| i as f64 + 0.5).collect();
/// let neg: Vec<f64> = (0..1000).map(|i| i as f64).collect();
/// let c = roc_curve(&pos, &neg);
/// let t = thin_curve(&c, 50);
/// assert!(t.len() <= 50);
/// assert_eq!((t[0], t[t.len() - 1]), (c[0], c[c.len() - 1]));
/// ```
pub fn thin_curve(points: &[RocPoint], max_points: usize) -> Vec<RocPoint> {
    let max_points = max_points.max(2);
    if points.len() <= max_points {
        return points.to_vec();
    }
    let last = points.len() - 1;
    let step = |a: &RocPoint, b: &RocPoint| (b.fpr - a.fpr).abs() + (b.tpr - a.tpr).abs();
    let total: f64 = points.windows(2).map(|w| step(&w[0], &w[1])).sum();
    let mut keep = Vec::with_capacity(max_points);
    keep.push(points[0]);
    let inner = max_points - 2;
    if total.is_finite() && total > 0.0 {
        let h = total / (max_points - 1) as f64;
        let (mut k, mut s) = (1, 0.0);
        for i in 1..last {
            s += step(&points[i - 1], &points[i]);
            if k <= inner && s >= k as f64 * h {
                keep.push(points[i]);
                // One point per target; skip the targets this point already passed.
                while k <= inner && s >= k as f64 * h {
                    k += 1;
                }
            }
        }
    } else {
        let mut prev = 0;
        for k in 1..=inner {
            let i = k * last / (inner + 1);
            if i > prev && i < last {
                keep.push(points[i]);
                prev = i;
            }
        }
    }
    keep.push(points[last]);
    keep
}

/// DeLong's placements of every case, in input order: V10 for each positive, V01 for each
/// negative (see [`auc_delong`]). None on an empty class or a non-finite score.
fn placements(pos: &[f64], neg: &[f64]) -> Option<(Vec<f64>, Vec<f64>)> {
    let x = sorted_finite(pos)?;
    let y = sorted_finite(neg)?;
    if x.is_empty() || y.is_empty() {
        return None;
    }
    let (m, n) = (x.len(), y.len());
    // Placement by value, one per tie group; then looked up for each case.
    let mut by_value: Vec<(f64, f64, f64)> = Vec::new(); // (value, v10, v01)
    for_each_tie_group(&x, &y, |g| {
        let v10 = (g.neg_below as f64 + g.neg_tied as f64 / 2.0) / n as f64;
        let above = (m - g.pos_below - g.pos_tied) as f64;
        let v01 = (above + g.pos_tied as f64 / 2.0) / m as f64;
        by_value.push((g.value, v10, v01));
    });
    let find = |v: f64| {
        let k = by_value.partition_point(|e| e.0 < v);
        by_value[k]
    };
    Some((
        pos.iter().map(|&v| find(v).1).collect(),
        neg.iter().map(|&v| find(v).2).collect(),
    ))
}

/// The paired DeLong test of two AUCs measured on the same cases.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PairedDelong {
    pub auc_a: f64,
    pub auc_b: f64,
    /// auc_a − auc_b.
    pub difference: f64,
    /// DeLong variance of the difference, the covariance of the two AUCs included.
    pub variance: f64,
    /// difference / sqrt(variance).
    pub z: f64,
    /// Two-sided p value, 2(1 − Φ(|z|)).
    pub p_value: f64,
}

/// DeLong's test for two correlated AUCs: two models' scores of the same cases, `pos_a[i]`
/// and `pos_b[i]` the same positive case, `neg_a[j]` and `neg_b[j]` the same negative case.
///
/// # Formula
/// With the placements V10, V01 of each model (see [`auc_delong`]), S10 the 2 × 2 sample
/// covariance of (V10_a, V10_b) over positives and S01 that of (V01_a, V01_b) over negatives:
/// var(A_a − A_b) = (S10_aa + S10_bb − 2 S10_ab)/m + (S01_aa + S01_bb − 2 S01_ab)/n;
/// z = (A_a − A_b)/sqrt(var), p = 2(1 − Φ(|z|)) (DeLong et al. 1988; pROC `roc.test(method =
/// "delong", paired = TRUE)`).
///
/// # Edge cases
/// None when a class is empty or has a single case (the covariances are undefined), when the
/// paired lists differ in length, a score is not finite, or the variance is zero (identical
/// placements: the two AUCs cannot differ by sampling, and z is 0/0).
///
/// # References
/// DeLong ER, DeLong DM, Clarke-Pearson DL (1988) Biometrics 44:837–845; Robin X et al. (2011)
/// pROC. BMC Bioinformatics 12:77 (`roc.test`).
///
/// # Example
/// ```
/// use attest::stats::roc::delong_paired;
/// let t = delong_paired(&[0.9, 0.8, 0.4, 0.7], &[0.5, 0.3, 0.6], &[0.6, 0.8, 0.2, 0.5], &[0.5, 0.4, 0.7]).unwrap();
/// assert!(t.auc_a > t.auc_b && t.p_value > 0.0 && t.p_value < 1.0);
/// ```
pub fn delong_paired(
    pos_a: &[f64],
    neg_a: &[f64],
    pos_b: &[f64],
    neg_b: &[f64],
) -> Option<PairedDelong> {
    use statrs::distribution::{ContinuousCDF, Normal};
    if pos_a.len() != pos_b.len()
        || neg_a.len() != neg_b.len()
        || pos_a.len() < 2
        || neg_a.len() < 2
    {
        return None;
    }
    let (v10a, v01a) = placements(pos_a, neg_a)?;
    let (v10b, v01b) = placements(pos_b, neg_b)?;
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    let cov = |a: &[f64], b: &[f64]| {
        let (ma, mb) = (mean(a), mean(b));
        a.iter()
            .zip(b)
            .map(|(x, y)| (x - ma) * (y - mb))
            .sum::<f64>()
            / (a.len() - 1) as f64
    };
    let (auc_a, auc_b) = (mean(&v10a), mean(&v10b));
    let (m, n) = (pos_a.len() as f64, neg_a.len() as f64);
    let variance = (cov(&v10a, &v10a) + cov(&v10b, &v10b) - 2.0 * cov(&v10a, &v10b)) / m
        + (cov(&v01a, &v01a) + cov(&v01b, &v01b) - 2.0 * cov(&v01a, &v01b)) / n;
    if variance.is_nan() || variance <= 0.0 {
        return None;
    }
    let difference = auc_a - auc_b;
    let z = difference / variance.sqrt();
    let p_value = 2.0 * (1.0 - Normal::standard().cdf(z.abs()));
    Some(PairedDelong {
        auc_a,
        auc_b,
        difference,
        variance,
        z,
        p_value,
    })
}

/// Leave-one-out AUCs of every case (the jackknife, for BCa intervals), in linear time from
/// DeLong's placements: leaving out positive i gives (m·AUC − V10_i)/(m − 1), leaving out
/// negative j gives (n·AUC − V01_j)/(n − 1).
///
/// # Edge cases
/// None when a class has fewer than two cases (a leave-one-out AUC would be undefined), the
/// lengths differ, or a score is not finite.
///
/// # References
/// DeLong et al. (1988) (placements); Efron B, Tibshirani RJ (1993) §11.2 (jackknife).
///
/// # Example
/// ```
/// use attest::stats::roc::jackknife_auc;
/// // AUC 3/4. Without the 0.9 positive: 0.4 against 0.5 and 0.3, 1/2; without the 0.4
/// // positive: 1; without the 0.5 negative: 1; without the 0.3 negative: 1/2.
/// let j = jackknife_auc(&[true, true, false, false], &[0.9, 0.4, 0.5, 0.3]).unwrap();
/// assert_eq!(j, vec![0.5, 1.0, 1.0, 0.5]);
/// ```
pub fn jackknife_auc(positive: &[bool], scores: &[f64]) -> Option<Vec<f64>> {
    if positive.len() != scores.len() {
        return None;
    }
    let pos: Vec<f64> = positive
        .iter()
        .zip(scores)
        .filter(|(p, _)| **p)
        .map(|(_, s)| *s)
        .collect();
    let neg: Vec<f64> = positive
        .iter()
        .zip(scores)
        .filter(|(p, _)| !**p)
        .map(|(_, s)| *s)
        .collect();
    let (m, n) = (pos.len() as f64, neg.len() as f64);
    if pos.len() < 2 || neg.len() < 2 {
        return None;
    }
    let (v10, v01) = placements(&pos, &neg)?;
    let auc = v10.iter().sum::<f64>() / m;
    let (mut i, mut j) = (0, 0);
    Some(
        positive
            .iter()
            .map(|&p| {
                if p {
                    i += 1;
                    (m * auc - v10[i - 1]) / (m - 1.0)
                } else {
                    j += 1;
                    (n * auc - v01[j - 1]) / (n - 1.0)
                }
            })
            .collect(),
    )
}

/// Leave-one-cluster-out AUCs (the jackknife over clusters, e.g. patients with several
/// cases, for BCa intervals of a bootstrap that resamples clusters), one per cluster id
/// `0..=max(cluster)`, from DeLong's placements and the pairs within each cluster.
///
/// # Formula
/// With S = Σ_i Σ_j ψ(x_i, y_j) = m·n·AUC, leaving out cluster c with m_c positives and n_c
/// negatives removes its positives' rows (n·V10_i each) and its negatives' columns (m·V01_j
/// each), which both count the pairs within c:
/// AUC_(−c) = (S − n Σ_{i∈c} V10_i − m Σ_{j∈c} V01_j + Σ_{i,j∈c} ψ(x_i, y_j)) / ((m − m_c)(n − n_c)).
/// With one case per cluster this is [`jackknife_auc`].
///
/// # Edge cases
/// None when the lengths differ, a score is not finite, a cluster id has no case, or leaving
/// out some cluster empties a class (its AUC would be undefined).
///
/// # References
/// DeLong et al. (1988) (placements); Efron B, Tibshirani RJ (1993) §11.2 and §14.3 (jackknife
/// and BCa); Field CA, Welsh AH (2007) Bootstrapping clustered data. JRSS B 69:369–390.
///
/// # Example
/// ```
/// use attest::stats::roc::jackknife_auc_clusters;
/// // Cluster 0 holds the 0.9 positive and the 0.5 negative; cluster 1 the rest: without
/// // cluster 0, 0.4 against 0.3 gives 1; without cluster 1, 0.9 against 0.5 gives 1.
/// let j = jackknife_auc_clusters(&[true, true, false, false], &[0.9, 0.4, 0.5, 0.3], &[0, 1, 0, 1]).unwrap();
/// assert_eq!(j, vec![1.0, 1.0]);
/// ```
pub fn jackknife_auc_clusters(
    positive: &[bool],
    scores: &[f64],
    cluster: &[usize],
) -> Option<Vec<f64>> {
    if positive.len() != scores.len() || positive.len() != cluster.len() {
        return None;
    }
    let pos: Vec<f64> = (0..scores.len())
        .filter(|&i| positive[i])
        .map(|i| scores[i])
        .collect();
    let neg: Vec<f64> = (0..scores.len())
        .filter(|&i| !positive[i])
        .map(|i| scores[i])
        .collect();
    let (v10, v01) = placements(&pos, &neg)?;
    let (m, n) = (pos.len() as f64, neg.len() as f64);
    let k = cluster.iter().max().map_or(0, |c| c + 1);
    // Per cluster: positives, negatives, n·ΣV10 + m·ΣV01, and the case indices.
    let mut count = vec![(0usize, 0usize); k];
    let mut removed = vec![0.0f64; k];
    let mut members: Vec<Vec<usize>> = vec![Vec::new(); k];
    let (mut i, mut j) = (0, 0);
    for (case, &c) in cluster.iter().enumerate() {
        members[c].push(case);
        if positive[case] {
            count[c].0 += 1;
            removed[c] += n * v10[i];
            i += 1;
        } else {
            count[c].1 += 1;
            removed[c] += m * v01[j];
            j += 1;
        }
    }
    let total: f64 = v10.iter().sum::<f64>() * n;
    (0..k)
        .map(|c| {
            let (mc, nc) = count[c];
            if mc + nc == 0 || mc == pos.len() || nc == neg.len() {
                return None;
            }
            let mut within = 0.0;
            for &a in members[c].iter().filter(|&&a| positive[a]) {
                for &b in members[c].iter().filter(|&&b| !positive[b]) {
                    within += if scores[a] > scores[b] {
                        1.0
                    } else if scores[a] == scores[b] {
                        0.5
                    } else {
                        0.0
                    };
                }
            }
            Some((total - removed[c] + within) / ((m - mc as f64) * (n - nc as f64)))
        })
        .collect()
}

/// The AUC of weighted cases in O(n) per evaluation, for bootstraps: the scores are sorted
/// once into groups of equal scores, and each evaluation with integer case weights (a
/// resample's multiplicities) walks the groups once.
#[derive(Debug, Clone)]
pub struct WeightedAuc {
    /// Case indices in ascending score order.
    order: Vec<u32>,
    /// Where each group of equal scores starts in `order`, plus the end.
    groups: Vec<usize>,
    positive: Vec<bool>,
}

impl WeightedAuc {
    /// Prepares cases (`positive[i]`, `scores[i]`). None when the lengths differ or a score is
    /// not finite.
    pub fn new(positive: &[bool], scores: &[f64]) -> Option<Self> {
        if positive.len() != scores.len()
            || scores.len() > u32::MAX as usize
            || scores.iter().any(|s| !s.is_finite())
        {
            return None;
        }
        let mut order: Vec<u32> = (0..scores.len() as u32).collect();
        order.sort_by(|&a, &b| scores[a as usize].total_cmp(&scores[b as usize]));
        let mut groups = vec![0];
        for k in 1..order.len() {
            if scores[order[k] as usize] != scores[order[k - 1] as usize] {
                groups.push(k);
            }
        }
        groups.push(order.len());
        Some(WeightedAuc {
            order,
            groups,
            positive: positive.to_vec(),
        })
    }

    /// The Mann–Whitney AUC with case i counted `weights[i]` times (ties one half).
    ///
    /// # Formula
    /// AUC = Σ_{i pos} w_i (W⁻_below(s_i) + ½ W⁻_tied(s_i)) / (W⁺ W⁻), W the summed weights;
    /// with unit weights, the AUC of [`auc_delong`]; with a resample's multiplicities, the AUC
    /// of the resampled data (as scikit-learn's `roc_auc_score` with `sample_weight`).
    ///
    /// # Edge cases
    /// None when the weights of either class sum to zero (a resample without positives or
    /// negatives). Panics when `weights` is not one per case (a programming error).
    ///
    /// # References
    /// Mann HB, Whitney DR (1947) Ann Math Stat 18:50–60; Hanley & McNeil (1982).
    ///
    /// # Example
    /// ```
    /// use attest::stats::roc::WeightedAuc;
    /// let w = WeightedAuc::new(&[true, true, false], &[0.9, 0.4, 0.5]).unwrap();
    /// assert_eq!(w.auc(&[1, 1, 1]), Some(0.5));
    /// assert_eq!(w.auc(&[2, 1, 1]), Some(2.0 / 3.0)); // the 0.9 positive drawn twice
    /// ```
    pub fn auc(&self, weights: &[u32]) -> Option<f64> {
        assert_eq!(weights.len(), self.positive.len(), "one weight per case");
        let (mut below_neg, mut num, mut pos_total) = (0.0f64, 0.0f64, 0.0f64);
        for g in self.groups.windows(2) {
            let (mut pos, mut neg) = (0.0, 0.0);
            for &i in &self.order[g[0]..g[1]] {
                let w = f64::from(weights[i as usize]);
                if self.positive[i as usize] {
                    pos += w;
                } else {
                    neg += w;
                }
            }
            num += pos * (below_neg + neg / 2.0);
            below_neg += neg;
            pos_total += pos;
        }
        (pos_total > 0.0 && below_neg > 0.0).then(|| num / (pos_total * below_neg))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::tolerance::{assert_close, Tol};

    /// DeLong's AUC and variance by the textbook O(m·n) definition (placements V10, V01 and
    /// their sample variances), written independently of the fast walk.
    fn delong_by_definition(pos: &[f64], neg: &[f64]) -> (f64, f64) {
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

    /// A small deterministic generator (PCG-style LCG), so the tests need no seed plumbing.
    fn lcg(seed: u64) -> impl FnMut() -> f64 {
        let mut s = seed;
        move || {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (s >> 11) as f64 / (1u64 << 53) as f64
        }
    }

    #[test]
    fn hanley_mcneil_1982_table_1() {
        // Hanley JA, McNeil BJ (1982) Radiology 143:29-36, Table 1: 109 CT images rated on a
        // five-point scale; normals (n = 58) per rating 1..5: 33, 6, 6, 11, 2; abnormals
        // (n = 51): 3, 2, 2, 11, 33. Paper: AUC 0.893 (0.8932 to 4 decimals).
        // By hand: U = 3·(0 + 33/2) + 2·(33 + 6/2) + 2·(39 + 6/2) + 11·(45 + 11/2) + 33·(56 + 2/2)
        //            = 49.5 + 72 + 84 + 555.5 + 1881 = 2642, and AUC = 2642/(51·58) = 2642/2958.
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
        assert_eq!((a.n_pos, a.n_neg), (51, 58));
        assert_close(
            a.auc,
            0.8932,
            Tol::Abs(5e-5),
            "Hanley & McNeil 1982, Table 1",
        );
        assert_close(
            a.auc,
            2642.0 / 2958.0,
            Tol::Rel(1e-15),
            "hand count U = 2642",
        );
        let (_, var) = delong_by_definition(&pos, &neg);
        assert_close(a.variance, var, Tol::Rel(1e-12), "O(mn) DeLong definition");
    }

    #[test]
    fn hand_derived_small_example() {
        // pos = [0.9, 0.8, 0.4], neg = [0.5, 0.3]. 0.9 and 0.8 beat both negatives, 0.4 beats
        // only 0.3: AUC = 5/6. V10 = [1, 1, 1/2]; V01 = [2/3 (for 0.5), 1 (for 0.3)].
        // S10 = ((1/6)² + (1/6)² + (1/3)²)/2 = 1/12; S01 = ((2/3 - 5/6)² + (1 - 5/6)²)/1 = 1/18.
        // var = S10/3 + S01/2 = 1/36 + 1/36 = 1/18.
        let (pos, neg) = ([0.9, 0.8, 0.4], [0.5, 0.3]);
        let a = auc_delong(&pos, &neg).unwrap();
        assert_close(a.auc, 5.0 / 6.0, Tol::Rel(1e-15), "hand derivation");
        assert_close(a.variance, 1.0 / 18.0, Tol::Rel(1e-14), "hand derivation");
        let (auc, var) = delong_by_definition(&pos, &neg);
        assert_close(auc, 5.0 / 6.0, Tol::Rel(1e-15), "O(mn) definition, by hand");
        assert_close(
            var,
            1.0 / 18.0,
            Tol::Rel(1e-14),
            "O(mn) definition, by hand",
        );
        // CI: 5/6 ± 1.959964·sqrt(1/18) = 5/6 ± 0.461960, upper bound clipped to 1.
        let ci = delong_ci(&a, 0.95);
        let half = 1.9599639845400536 * (1.0f64 / 18.0).sqrt();
        assert_close(ci.low, 5.0 / 6.0 - half, Tol::Rel(1e-14), "hand derivation");
        assert_eq!(ci.high, 1.0);
    }

    #[test]
    fn fast_walk_matches_definition_with_heavy_ties() {
        // Scores on a 7-point grid: many ties within and across classes, including -0.0 and
        // 0.0, which are one value.
        let mut u = lcg(12345);
        let mut grid = || {
            let v = (u() * 7.0).floor() - 3.0;
            if v == 0.0 && u() < 0.5 {
                -0.0
            } else {
                v
            }
        };
        let pos: Vec<f64> = (0..57).map(|_| grid() + 1.0).collect();
        let neg: Vec<f64> = (0..83).map(|_| grid()).collect();
        let signed_zero = |v: &[f64], neg_sign: bool| {
            v.iter()
                .any(|&s| s == 0.0 && s.is_sign_negative() == neg_sign)
        };
        assert!(signed_zero(&pos, false) && signed_zero(&neg, true) && signed_zero(&neg, false));
        let a = auc_delong(&pos, &neg).unwrap();
        let (auc, var) = delong_by_definition(&pos, &neg);
        assert_close(a.auc, auc, Tol::Rel(1e-14), "O(mn) definition");
        assert_close(a.variance, var, Tol::Rel(1e-12), "O(mn) definition");
        assert!(a.auc > 0.5 && a.auc < 1.0);
    }

    /// Reads `tests/fixtures/proc/<name>.csv` (label,score), as written by make_fixture.R.
    fn read_cases(name: &str) -> (Vec<f64>, Vec<f64>) {
        let path = format!(
            "{}/tests/fixtures/proc/{name}.csv",
            env!("CARGO_MANIFEST_DIR")
        );
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        let (mut pos, mut neg) = (Vec::new(), Vec::new());
        for line in text.lines().skip(1) {
            let (label, score) = line.split_once(',').expect("label,score");
            let score: f64 = score.parse().expect("score");
            match label {
                "1" => pos.push(score),
                "0" => neg.push(score),
                other => panic!("{path}: label {other}"),
            }
        }
        (pos, neg)
    }

    #[test]
    fn matches_proc_on_fixtures() {
        // Expected values from R pROC (versions in the header of expected.csv; script
        // tests/fixtures/proc/make_fixture.R): auc(roc), var(roc, method = "delong") and
        // ci.auc(roc, method = "delong", conf.level = 0.95), with
        // roc(labels, scores, levels = c(0, 1), direction = "<").
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/proc");
        let text = std::fs::read_to_string(format!("{dir}/expected.csv")).expect("expected.csv");
        let mut rows = text.lines().filter(|l| !l.starts_with('#'));
        let header = rows.next().expect("header");
        assert_eq!(header, "dataset,n_pos,n_neg,auc,var,ci_low,ci_high");
        let mut seen = Vec::new();
        for row in rows {
            let f: Vec<&str> = row.split(',').collect();
            assert_eq!(f.len(), 7, "{row}");
            let num = |i: usize| f[i].parse::<f64>().expect("number");
            let (pos, neg) = read_cases(f[0]);
            let src = format!("pROC on {}", f[0]);
            let a = auc_delong(&pos, &neg).expect("both classes present");
            assert_eq!((a.n_pos as f64, a.n_neg as f64), (num(1), num(2)), "{src}");
            assert_close(a.auc, num(3), Tol::Rel(1e-9), &src);
            assert_close(a.variance, num(4), Tol::Rel(1e-9), &src);
            let ci = delong_ci(&a, 0.95);
            assert_close(ci.low, num(5), Tol::Rel(1e-9), &src);
            assert_close(ci.high, num(6), Tol::Rel(1e-9), &src);
            seen.push(f[0].to_string());
        }
        // Guard against a silently empty or truncated fixture.
        assert_eq!(seen, ["ties30", "hanley109", "n200", "n2000", "inverse200"]);
    }

    #[test]
    fn weighted_auc_matches_scikit_learn_sample_weights() {
        // tests/fixtures/auc_weighted/sklearn.json (gen.py): scikit-learn 1.9.1
        // roc_auc_score(y, s, sample_weight=w) for five bootstrap multiplicity vectors, and
        // unweighted, on 300 cases with ties within and across classes.
        let f: serde_json::Value = serde_json::from_str(include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/auc_weighted/sklearn.json"
        )))
        .unwrap();
        let y: Vec<bool> = f["labels"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64() == Some(1))
            .collect();
        let s: Vec<f64> = f["scores"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect();
        let w = WeightedAuc::new(&y, &s).unwrap();
        let src = "scikit-learn roc_auc_score sample_weight";
        let ones = vec![1; y.len()];
        assert_close(
            w.auc(&ones).unwrap(),
            f["unweighted"].as_f64().unwrap(),
            Tol::Rel(1e-12),
            src,
        );
        let (pos, neg): (Vec<f64>, Vec<f64>) = {
            let p = y
                .iter()
                .zip(&s)
                .filter(|(l, _)| **l)
                .map(|(_, x)| *x)
                .collect();
            let n = y
                .iter()
                .zip(&s)
                .filter(|(l, _)| !**l)
                .map(|(_, x)| *x)
                .collect();
            (p, n)
        };
        assert_close(
            w.auc(&ones).unwrap(),
            auc_delong(&pos, &neg).unwrap().auc,
            Tol::Rel(1e-12),
            "auc_delong",
        );
        for case in f["cases"].as_array().unwrap() {
            let wt: Vec<u32> = case["weights"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_u64().unwrap() as u32)
                .collect();
            assert_close(
                w.auc(&wt).unwrap(),
                case["auc"].as_f64().unwrap(),
                Tol::Rel(1e-12),
                src,
            );
        }
        assert_eq!(w.auc(&vec![0; y.len()]), None);
    }

    #[test]
    fn jackknife_matches_leaving_each_case_out() {
        // tests/fixtures/proc/ties30.csv: leave-one-out AUCs by recomputing auc_delong.
        let data = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/proc/ties30.csv"
        ))
        .unwrap();
        let (mut y, mut s) = (Vec::new(), Vec::new());
        for row in data.lines().skip(1) {
            let c: Vec<f64> = row.split(',').map(|x| x.parse().unwrap()).collect();
            y.push(c[0] == 1.0);
            s.push(c[1]);
        }
        let j = jackknife_auc(&y, &s).unwrap();
        for (k, &jk) in j.iter().enumerate() {
            let (pos, neg): (Vec<f64>, Vec<f64>) = {
                let keep = |want: bool| {
                    (0..y.len())
                        .filter(|&i| i != k && y[i] == want)
                        .map(|i| s[i])
                        .collect::<Vec<f64>>()
                };
                (keep(true), keep(false))
            };
            let brute = auc_delong(&pos, &neg).unwrap().auc;
            assert_close(jk, brute, Tol::Rel(1e-12), "leave-one-out auc_delong");
        }
    }

    #[test]
    fn cluster_jackknife_matches_leaving_each_cluster_out() {
        // ties30.csv grouped into clusters of 1 to 4 cases (case k in cluster k·7 mod 11,
        // so clusters mix classes): brute force recomputes auc_delong without each cluster.
        let data = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/proc/ties30.csv"
        ))
        .unwrap();
        let (mut y, mut s) = (Vec::new(), Vec::new());
        for row in data.lines().skip(1) {
            let c: Vec<f64> = row.split(',').map(|x| x.parse().unwrap()).collect();
            y.push(c[0] == 1.0);
            s.push(c[1]);
        }
        let cluster: Vec<usize> = (0..y.len()).map(|k| k * 7 % 11).collect();
        let j = jackknife_auc_clusters(&y, &s, &cluster).unwrap();
        assert_eq!(j.len(), 11);
        for (c, &jc) in j.iter().enumerate() {
            let keep = |want: bool| {
                (0..y.len())
                    .filter(|&i| cluster[i] != c && y[i] == want)
                    .map(|i| s[i])
                    .collect::<Vec<f64>>()
            };
            let brute = auc_delong(&keep(true), &keep(false)).unwrap().auc;
            assert_close(
                jc,
                brute,
                Tol::Rel(1e-12),
                "leave-one-cluster-out auc_delong",
            );
        }
        // One case per cluster is the ordinary jackknife.
        let own: Vec<usize> = (0..y.len()).collect();
        let (a, b) = (
            jackknife_auc_clusters(&y, &s, &own).unwrap(),
            jackknife_auc(&y, &s).unwrap(),
        );
        for (x, e) in a.iter().zip(&b) {
            assert_close(*x, *e, Tol::Rel(1e-12), "jackknife_auc");
        }
        // A cluster holding every positive leaves an undefined AUC.
        let all_pos: Vec<usize> = y.iter().map(|&p| usize::from(!p)).collect();
        assert!(jackknife_auc_clusters(&y, &s, &all_pos).is_none());
    }

    #[test]
    fn paired_delong_matches_proc_roc_test() {
        // tests/fixtures/proc/paired_expected.csv, written by make_paired.R: pROC 1.18.0
        // roc.test(method = "delong", paired = TRUE) on the data read back from the CSVs.
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/proc");
        let expected = std::fs::read_to_string(format!("{dir}/paired_expected.csv")).unwrap();
        let mut checked = 0;
        for line in expected.lines().filter(|l| !l.starts_with('#')).skip(1) {
            let f: Vec<&str> = line.split(',').collect();
            let num = |i: usize| f[i].parse::<f64>().unwrap();
            let data = std::fs::read_to_string(format!("{dir}/{}.csv", f[0])).unwrap();
            let (mut pa, mut na, mut pb, mut nb) = (vec![], vec![], vec![], vec![]);
            for row in data.lines().skip(1) {
                let c: Vec<f64> = row.split(',').map(|x| x.parse().unwrap()).collect();
                if c[0] == 1.0 {
                    pa.push(c[1]);
                    pb.push(c[2]);
                } else {
                    na.push(c[1]);
                    nb.push(c[2]);
                }
            }
            let t = delong_paired(&pa, &na, &pb, &nb).unwrap();
            let src = "pROC 1.18.0 roc.test (paired DeLong)";
            assert_close(t.auc_a, num(1), Tol::Rel(1e-12), src);
            assert_close(t.auc_b, num(2), Tol::Rel(1e-12), src);
            assert_close(t.z, num(3), Tol::Rel(1e-9), src);
            assert_close(t.p_value, num(4), Tol::Rel(1e-7), src);
            checked += 1;
        }
        assert_eq!(checked, 2);
        // Identical models: zero variance, no test.
        assert!(delong_paired(&[0.9, 0.8], &[0.1, 0.2], &[0.9, 0.8], &[0.1, 0.2]).is_none());
    }

    #[test]
    fn roc_points_match_proc_coords() {
        // tests/fixtures/proc/ties30_coords.csv: pROC's (1 - specificity, sensitivity) at each
        // of its thresholds, the same vertices as ours (pROC's thresholds are midpoints).
        let (pos, neg) = read_cases("ties30");
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/proc/ties30_coords.csv"
        );
        let text = std::fs::read_to_string(path).expect("coords");
        let mut expected: Vec<(f64, f64)> = text
            .lines()
            .filter(|l| !l.starts_with('#'))
            .skip(1)
            .map(|l| {
                let (a, b) = l.split_once(',').expect("fpr,tpr");
                (a.parse().expect("fpr"), b.parse().expect("tpr"))
            })
            .collect();
        expected.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.total_cmp(&b.1)));
        let ours = roc_curve(&pos, &neg);
        assert_eq!(
            ours.len(),
            expected.len(),
            "one point per distinct score plus (0,0)"
        );
        assert!(ours.len() < 31, "the fixture must have ties");
        for (p, (fpr, tpr)) in ours.iter().zip(&expected) {
            assert_close(p.fpr, *fpr, Tol::Abs(1e-15), "pROC coords");
            assert_close(p.tpr, *tpr, Tol::Abs(1e-15), "pROC coords");
        }
    }

    #[test]
    fn roc_curve_shape_and_trapezoid_area() {
        let c = roc_curve(&[0.9, 0.4, 0.4], &[0.5, 0.4]);
        // Thresholds +inf, 0.9, 0.5, 0.4 (tie across classes: a diagonal step).
        let pts: Vec<(f64, f64, f64)> = c.iter().map(|p| (p.fpr, p.tpr, p.threshold)).collect();
        let third = 1.0 / 3.0;
        assert_eq!(
            pts,
            [
                (0.0, 0.0, f64::INFINITY),
                (0.0, third, 0.9),
                (0.5, third, 0.5),
                (1.0, 1.0, 0.4)
            ]
        );
        // The trapezoid area equals the Mann–Whitney AUC, on random tied data too.
        let mut u = lcg(7);
        let pos: Vec<f64> = (0..300).map(|_| (u() * 20.0).floor() + 3.0).collect();
        let neg: Vec<f64> = (0..500).map(|_| (u() * 20.0).floor()).collect();
        let c = roc_curve(&pos, &neg);
        let area: f64 = c
            .windows(2)
            .map(|w| (w[1].fpr - w[0].fpr) * (w[1].tpr + w[0].tpr) / 2.0)
            .sum();
        let a = auc_delong(&pos, &neg).unwrap();
        assert_close(area, a.auc, Tol::Rel(1e-12), "trapezoid = Mann–Whitney");
        assert!(c
            .windows(2)
            .all(|w| w[0].fpr <= w[1].fpr && w[0].tpr <= w[1].tpr));
        assert!(c.windows(2).all(|w| w[0].threshold > w[1].threshold));
    }

    #[test]
    fn edge_cases() {
        // Empty class, non-finite score.
        assert!(auc_delong(&[], &[0.1]).is_none());
        assert!(auc_delong(&[0.1], &[]).is_none());
        assert!(auc_delong(&[f64::NAN, 0.2], &[0.1]).is_none());
        assert!(auc_delong(&[0.2], &[0.1, f64::INFINITY]).is_none());
        assert!(roc_curve(&[], &[0.1]).is_empty());
        assert!(roc_curve(&[0.3], &[f64::NAN]).is_empty());
        // All scores tied: AUC 1/2, every placement 1/2, variance 0, CI the point.
        let a = auc_delong(&[0.5, 0.5], &[0.5, 0.5, 0.5]).unwrap();
        assert_eq!((a.auc, a.variance), (0.5, 0.0));
        assert_eq!(
            delong_ci(&a, 0.95),
            Interval {
                low: 0.5,
                high: 0.5
            }
        );
        let c = roc_curve(&[0.5, 0.5], &[0.5, 0.5, 0.5]);
        assert_eq!(c.len(), 2);
        assert_eq!((c[1].fpr, c[1].tpr), (1.0, 1.0));
        // One case in a class: AUC defined, variance undefined → infinite, CI [0, 1].
        let one = auc_delong(&[0.9], &[0.1, 0.95]).unwrap();
        assert_eq!((one.auc, one.variance), (0.5, f64::INFINITY));
        assert_eq!(
            delong_ci(&one, 0.95),
            Interval {
                low: 0.0,
                high: 1.0
            }
        );
        // Reversed scores: AUC 0 (no flipping of the direction).
        let rev = auc_delong(&[0.1, 0.2], &[0.8, 0.9]).unwrap();
        assert_eq!((rev.auc, rev.variance), (0.0, 0.0));
    }

    #[test]
    #[should_panic(expected = "confidence level")]
    fn delong_ci_rejects_invalid_level() {
        let a = auc_delong(&[0.9, 0.8], &[0.1, 0.2]).unwrap();
        delong_ci(&a, 95.0);
    }

    #[test]
    fn a_million_cases_in_n_log_n() {
        // N = 500 000 per class, scores given in a scrambled order. pos_k = k + 1/2 beats the
        // negatives 0..=k, so V10_k = (k+1)/N and V01_j = (N-j)/N: both are {1/N, ..., N/N}.
        // AUC = (N+1)/(2N); each sample variance is N(N+1)/12/N² = (N+1)/(12N), so
        // var = 2(N+1)/(12N²) = (N+1)/(6N²). An O(m·n) method would not finish.
        const N: usize = 500_000;
        let scramble = |k: usize| (k * 7919) % N; // 7919 is prime, coprime with N
        let pos: Vec<f64> = (0..N).map(|k| scramble(k) as f64 + 0.5).collect();
        let neg: Vec<f64> = (0..N).map(|k| scramble(k) as f64).collect();
        let nf = N as f64;
        let a = auc_delong(&pos, &neg).unwrap();
        assert_close(
            a.auc,
            (nf + 1.0) / (2.0 * nf),
            Tol::Rel(1e-15),
            "closed form",
        );
        assert_close(
            a.variance,
            (nf + 1.0) / (6.0 * nf * nf),
            Tol::Rel(1e-12),
            "closed form",
        );
        let c = roc_curve(&pos, &neg);
        assert_eq!(c.len(), 2 * N + 1);
        let t = thin_curve(&c, 1000);
        assert!(t.len() <= 1000 && t.len() > 900, "{} points", t.len());
        assert_eq!((t[0], t[t.len() - 1]), (c[0], c[2 * N]));
    }

    #[test]
    fn thinning_keeps_ends_count_and_bounds_the_skipped_path() {
        // 100 positives all above 100 000 negatives: the curve rises in 100 steps of 0.01,
        // then runs right in 100 000 steps of 1e-5 (total L1 length 2). The documented
        // guarantee: between consecutive kept points the skipped path is shorter than
        // h + the longest step = 2/(max-1) + 0.01. Index-spaced thinning would jump from
        // (0, 0) to about (0.009, 1) in one segment (path length ≈ 1.01) and fail.
        let pos: Vec<f64> = (0..100).map(|i| 2.0 + i as f64 / 1000.0).collect();
        let neg: Vec<f64> = (0..100_000).map(|i| i as f64 / 100_000.0).collect();
        let c = roc_curve(&pos, &neg);
        let l1 = |a: &RocPoint, b: &RocPoint| (b.fpr - a.fpr).abs() + (b.tpr - a.tpr).abs();
        let mut along = vec![0.0];
        for w in c.windows(2) {
            along.push(along[along.len() - 1] + l1(&w[0], &w[1]));
        }
        for max in [2usize, 3, 10, 101, 1000] {
            let t = thin_curve(&c, max);
            assert!(t.len() <= max, "{} > {max}", t.len());
            assert_eq!((t[0], t[t.len() - 1]), (c[0], c[c.len() - 1]));
            // Kept points are original points, in order; map each to its path position.
            let mut from = 0;
            let idx: Vec<usize> = t
                .iter()
                .map(|p| {
                    let i = from + c[from..].iter().position(|q| q == p).expect("in order");
                    from = i + 1;
                    i
                })
                .collect();
            let h = 2.0 / (max - 1) as f64;
            for w in idx.windows(2) {
                let skipped = along[w[1]] - along[w[0]];
                assert!(
                    skipped <= h + 0.01 + 1e-9,
                    "max {max}: segment of length {skipped}"
                );
            }
        }
        // Short curves come back unchanged; max_points below 2 means first and last.
        assert_eq!(thin_curve(&c[..5], 10), c[..5].to_vec());
        assert_eq!(thin_curve(&c, 0), vec![c[0], c[c.len() - 1]]);
        // Deterministic, and a degenerate (zero-length) path falls back to index spacing.
        assert_eq!(thin_curve(&c, 57), thin_curve(&c, 57));
        let flat = vec![c[0]; 10];
        assert_eq!(thin_curve(&flat, 4).len(), 4);
    }
}
