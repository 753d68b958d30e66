//! Cohen's kappa for two readers over k ordered or unordered categories: unweighted,
//! linear-weighted (Cicchetti–Allison) and quadratic-weighted (Fleiss–Cohen), with the
//! large-sample standard errors of Fleiss, Cohen & Everitt (1969) as SAS PROC FREQ and
//! statsmodels report them, a Wald interval, a case bootstrap, and the matrix of pairwise
//! kappas for a panel of readers.
//!
//! Categories are indices 0..k; weighted kappas space them equally (weights from |i - j|), as
//! scikit-learn, statsmodels (default scores) and R irr do.

use super::bootstrap::resample;
use super::{flatten_counts, BootstrapCi, Count};
use crate::stats::{valid_level, z_two_sided, Interval};

/// How disagreements between categories i and j of k are weighted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Weighting {
    /// Every disagreement counts fully: d_ij = 1 for i ≠ j (nominal categories).
    Unweighted,
    /// d_ij = |i - j|/(k - 1) (Cicchetti–Allison; sklearn `weights="linear"`).
    Linear,
    /// d_ij = (i - j)²/(k - 1)² (Fleiss–Cohen; sklearn `weights="quadratic"`).
    Quadratic,
}

impl Weighting {
    /// The disagreement weight d_ij in [0, 1] of categories i and j out of k ≥ 2; the
    /// agreement weight is 1 - d_ij.
    fn disagreement(self, i: usize, j: usize, k: usize) -> f64 {
        let d = i.abs_diff(j) as f64 / (k - 1) as f64;
        match self {
            Weighting::Unweighted => {
                if i == j {
                    0.0
                } else {
                    1.0
                }
            }
            Weighting::Linear => d,
            Weighting::Quadratic => d * d,
        }
    }
}

/// Cohen's kappa with its standard errors and Wald interval.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct CohenKappa {
    /// Kappa: 1 is perfect agreement, 0 chance agreement; higher is better.
    pub kappa: f64,
    /// Asymptotic standard error (ASE) of `kappa`, Fleiss–Cohen–Everitt (1969): statsmodels
    /// `std_kappa`, SAS "ASE".
    pub std_kappa: f64,
    /// Standard error under H0: kappa = 0 (statsmodels `std_kappa0`, SAS "ASE under H0"), for
    /// the test z = kappa / std_kappa0.
    pub std_kappa0: f64,
    /// Wald interval kappa ± z·`std_kappa` at `level`, clipped to [-1, 1].
    pub ci: Interval,
    /// The confidence level of `ci`.
    pub level: f64,
    /// Observed (weighted) agreement p_o.
    pub observed_agreement: f64,
    /// Chance (weighted) agreement p_e from the two readers' marginals.
    pub expected_agreement: f64,
    /// Number of paired readings (the table total).
    pub n: f64,
    /// The weighting used.
    pub weighting: Weighting,
}

/// Cohen's kappa from a k × k contingency table: rows are reader A's categories, columns reader
/// B's, cells count the cases (`u32`, `u64`, `usize` or `f64`).
///
/// # Formula
/// With p_ij = n_ij/n, marginals p_i· and p_·j, disagreement weights d_ij (see [`Weighting`])
/// and agreement weights w_ij = 1 - d_ij:
/// κ = 1 - Σ d_ij p_ij / Σ d_ij p_i· p_·j = (p_o - p_e)/(1 - p_e).
/// With w̄_i· = Σ_j p_·j w_ij and w̄_·j = Σ_i p_i· w_ij (Fleiss, Cohen & Everitt 1969; SAS
/// PROC FREQ "Weighted Kappa Coefficient", which reduces to its simple-kappa formula for
/// d_ij = [i ≠ j]):
/// var(κ) = [Σ p_ij (w_ij - (w̄_i· + w̄_·j)(1 - κ))² - (κ - p_e(1 - κ))²] / (n (1 - p_e)²),
/// var₀(κ) = [Σ p_i· p_·j (w_ij - (w̄_i· + w̄_·j))² - p_e²] / (n (1 - p_e)²).
/// Each bracket is the variance of a cell score under p (respectively p_i· p_·j), whose mean
/// is the subtracted term; it is evaluated as Σ p (a - ā)², which cannot go negative.
/// The interval is κ ± z_{1-α/2}·√var(κ), clipped to [-1, 1].
///
/// # Edge cases
/// `None` when the table is empty or not square, a cell is negative or not finite, the total
/// is 0 or overflows, k = 1, the level is not in (0, 1), or chance agreement is perfect
/// (p_e = 1: both readers put every case in the same single category), where kappa is 0/0.
/// Perfect agreement otherwise gives κ = 1 with standard error 0.
///
/// # References
/// Cohen J (1960) A coefficient of agreement for nominal scales. Educ Psychol Meas 20:37–46.
/// Cohen J (1968) Weighted kappa. Psychol Bull 70:213–220. Fleiss JL, Cohen J, Everitt BS
/// (1969) Large sample standard errors of kappa and weighted kappa. Psychol Bull 72:323–327.
/// SAS/STAT PROC FREQ, "Tests and Measures of Agreement". statsmodels `cohens_kappa`.
///
/// # Example
/// ```
/// use attest::stats::agreement::{cohen_kappa, Weighting};
/// // SAS printout quoted in statsmodels' test_inter_rater.py: kappa 0.4842, ASE 0.1380.
/// let k = cohen_kappa(&[[0u64, 4, 1], [0, 8, 0], [0, 1, 5]], Weighting::Unweighted, 0.95)
///     .unwrap();
/// assert!((k.kappa - 0.4842).abs() < 5e-5 && (k.std_kappa - 0.1380).abs() < 5e-5);
/// ```
pub fn cohen_kappa<C: Count, R: AsRef<[C]>>(
    table: &[R],
    weighting: Weighting,
    level: f64,
) -> Option<CohenKappa> {
    let k = table.len();
    let flat = flatten_counts(table, k)?;
    kappa_with_errors(&flat, k, weighting, level)
}

/// Cohen's kappa from two readers' paired labels: `a[i]` and `b[i]` are the categories (0..k)
/// the two readers gave case i. Same as [`cohen_kappa`] on their contingency table.
///
/// # Formula
/// n_ij = #{cases with a = i and b = j}, then as [`cohen_kappa`]. All k categories enter the
/// weights, used or not (scikit-learn's `cohen_kappa_score` uses only the labels present
/// unless given `labels=range(k)`, which changes weighted kappas when a category is unused).
///
/// # Edge cases
/// `None` when the slices differ in length or are empty, a label is ≥ k, or as for
/// [`cohen_kappa`].
///
/// # References
/// As [`cohen_kappa`]; scikit-learn `cohen_kappa_score(a, b, labels=range(k), weights=…)`.
///
/// # Example
/// ```
/// use attest::stats::agreement::{cohen_kappa_labels, Weighting};
/// let a = [0, 1, 2, 2, 1, 0];
/// let b = [0, 1, 2, 1, 1, 0];
/// // scikit-learn cohen_kappa_score(a, b, weights="quadratic") = 0.857142857142857 (6/7).
/// let k = cohen_kappa_labels(&a, &b, 3, Weighting::Quadratic, 0.95).unwrap();
/// assert!((k.kappa - 6.0 / 7.0).abs() < 1e-12 && k.n == 6.0);
/// ```
pub fn cohen_kappa_labels(
    a: &[usize],
    b: &[usize],
    k: usize,
    weighting: Weighting,
    level: f64,
) -> Option<CohenKappa> {
    let table = labels_table(a, b, k)?;
    kappa_with_errors(&table, k, weighting, level)
}

/// Percentile bootstrap of Cohen's kappa over cases: the paired readings (`a[i]`, `b[i]`) are
/// resampled with replacement, whole pairs at a time.
///
/// # Formula
/// Each replicate draws n cases, tabulates their cells and computes κ as in [`cohen_kappa`];
/// see [`super::bootstrap_units`] for the streams, the draw and the type-7 percentile bounds.
///
/// # Edge cases
/// `None` when the labels are invalid (as [`cohen_kappa_labels`]), kappa is undefined on the
/// original cases, `replicates` is 0 or the level is not in (0, 1). A replicate whose
/// resampled readings all fall in one category (p_e = 1) is counted in `undefined` and left
/// out of the interval.
///
/// # References
/// Efron B, Tibshirani RJ (1993) An Introduction to the Bootstrap, ch. 13.
///
/// # Example
/// ```
/// use attest::stats::agreement::{cohen_kappa_bootstrap, Weighting};
/// let a: Vec<usize> = (0..60).map(|i| i % 3).collect();
/// let b: Vec<usize> = (0..60).map(|i| if i % 7 == 0 { (i + 1) % 3 } else { i % 3 }).collect();
/// let boot = cohen_kappa_bootstrap(&a, &b, 3, Weighting::Unweighted, 500, 1, 0.95).unwrap();
/// let ci = boot.ci.unwrap();
/// assert!(ci.low < boot.estimate && boot.estimate < ci.high);
/// ```
pub fn cohen_kappa_bootstrap(
    a: &[usize],
    b: &[usize],
    k: usize,
    weighting: Weighting,
    replicates: usize,
    seed: u64,
    level: f64,
) -> Option<BootstrapCi> {
    let table = labels_table(a, b, k)?;
    let estimate = kappa_only(&table, k, weighting)?;
    resample(
        estimate,
        a.len(),
        |case| (a[case] * k + b[case]) as u32,
        k * k,
        replicates,
        seed,
        level,
        |counts| {
            let table: Vec<f64> = counts.iter().map(|&c| f64::from(c)).collect();
            kappa_only(&table, k, weighting)
        },
    )
}

/// Cohen's kappa of one pair of readers in a panel.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct PairKappa {
    /// Row index of the first reader in the ratings matrix.
    pub reader_a: usize,
    /// Row index of the second reader (`reader_b > reader_a`).
    pub reader_b: usize,
    /// Cases both readers rated.
    pub n: usize,
    /// Kappa on those cases; `None` when undefined (no common case, or p_e = 1).
    pub kappa: Option<CohenKappa>,
}

/// Cohen's kappa for every pair of readers, each on the cases both rated.
///
/// `ratings` is readers × cases: `ratings[r][i]` is reader r's category (0..k) for case i, or
/// `None` where reader r did not rate it.
///
/// # Formula
/// For each pair (a, b), a < b, in the order (0,1), (0,2), …, (1,2), …: the cases where both
/// are `Some`, then [`cohen_kappa_labels`] with the same k for every pair, so weighted
/// kappas of different pairs use the same category spacing.
///
/// # Edge cases
/// `None` when the rows differ in length or a category is ≥ k or the level is not in (0, 1).
/// A pair with no common case, or with p_e = 1, has `kappa: None` and its `n`. Fewer than two
/// readers give an empty list.
///
/// # References
/// As [`cohen_kappa`]. Light RJ (1971) Psychol Bull 76:365–377 averages these pairwise kappas
/// into one coefficient; this function reports them separately.
///
/// # Example
/// ```
/// use attest::stats::agreement::{pairwise_cohen_kappa, Weighting};
/// let ratings = [
///     vec![Some(0), Some(1), Some(2), Some(1)],
///     vec![Some(0), Some(1), Some(2), None],
///     vec![Some(0), Some(2), Some(2), Some(1)],
/// ];
/// let pairs = pairwise_cohen_kappa(&ratings, 3, Weighting::Unweighted, 0.95).unwrap();
/// assert_eq!(pairs.len(), 3);
/// assert_eq!((pairs[0].reader_a, pairs[0].reader_b, pairs[0].n), (0, 1, 3));
/// assert_eq!(pairs[0].kappa.as_ref().unwrap().kappa, 1.0);
/// ```
pub fn pairwise_cohen_kappa<R: AsRef<[Option<usize>]>>(
    ratings: &[R],
    k: usize,
    weighting: Weighting,
    level: f64,
) -> Option<Vec<PairKappa>> {
    if !valid_level(level) {
        return None;
    }
    let cases = ratings.first().map_or(0, |r| r.as_ref().len());
    for row in ratings {
        let row = row.as_ref();
        if row.len() != cases || row.iter().flatten().any(|&c| c >= k) {
            return None;
        }
    }
    let mut pairs = Vec::new();
    for (ia, a) in ratings.iter().enumerate() {
        for (ib, b) in ratings.iter().enumerate().skip(ia + 1) {
            let mut table = vec![0.0; k * k];
            let mut n = 0;
            for (x, y) in a.as_ref().iter().zip(b.as_ref()) {
                if let (Some(x), Some(y)) = (x, y) {
                    table[x * k + y] += 1.0;
                    n += 1;
                }
            }
            pairs.push(PairKappa {
                reader_a: ia,
                reader_b: ib,
                n,
                kappa: kappa_with_errors(&table, k, weighting, level),
            });
        }
    }
    Some(pairs)
}

/// The k × k table (row-major, f64) of paired labels, or `None` for invalid labels.
fn labels_table(a: &[usize], b: &[usize], k: usize) -> Option<Vec<f64>> {
    if a.len() != b.len() || a.is_empty() {
        return None;
    }
    let mut table = vec![0.0; k * k];
    for (&x, &y) in a.iter().zip(b) {
        if x >= k || y >= k {
            return None;
        }
        table[x * k + y] += 1.0;
    }
    Some(table)
}

/// Table total and marginal proportions (rows, columns), or `None` when k < 2 or the total is
/// not positive.
fn margins(t: &[f64], k: usize) -> Option<(f64, Vec<f64>, Vec<f64>)> {
    if k < 2 || t.len() != k * k {
        return None;
    }
    let n: f64 = t.iter().sum();
    if !n.is_finite() || n <= 0.0 {
        return None;
    }
    let mut row = vec![0.0; k];
    let mut col = vec![0.0; k];
    for i in 0..k {
        for j in 0..k {
            row[i] += t[i * k + j];
            col[j] += t[i * k + j];
        }
    }
    row.iter_mut().chain(col.iter_mut()).for_each(|x| *x /= n);
    Some((n, row, col))
}

/// Observed and chance disagreement Σ d p_ij and Σ d p_i· p_·j.
fn disagreements(
    t: &[f64],
    k: usize,
    n: f64,
    row: &[f64],
    col: &[f64],
    w: Weighting,
) -> (f64, f64) {
    let (mut obs, mut exp) = (0.0, 0.0);
    for i in 0..k {
        for j in 0..k {
            let d = w.disagreement(i, j, k);
            obs += d * t[i * k + j] / n;
            exp += d * row[i] * col[j];
        }
    }
    (obs, exp)
}

/// Kappa alone (for bootstrap replicates); `None` when undefined.
fn kappa_only(t: &[f64], k: usize, w: Weighting) -> Option<f64> {
    let (n, row, col) = margins(t, k)?;
    let (obs, exp) = disagreements(t, k, n, &row, &col, w);
    (exp > 0.0).then(|| 1.0 - obs / exp)
}

/// Kappa with its two standard errors and Wald interval from a row-major k × k table.
fn kappa_with_errors(t: &[f64], k: usize, w: Weighting, level: f64) -> Option<CohenKappa> {
    if !valid_level(level) {
        return None;
    }
    let (n, row, col) = margins(t, k)?;
    let (obs, exp) = disagreements(t, k, n, &row, &col, w);
    // exp is a sum of non-negative terms: exactly 0 when p_e = 1, positive otherwise.
    if exp <= 0.0 {
        return None;
    }
    let kappa = 1.0 - obs / exp;
    let agree = |i: usize, j: usize| 1.0 - w.disagreement(i, j, k);
    // w̄_i· = Σ_j p_·j w_ij and w̄_·j = Σ_i p_i· w_ij.
    let wr: Vec<f64> = (0..k)
        .map(|i| (0..k).map(|j| col[j] * agree(i, j)).sum())
        .collect();
    let wc: Vec<f64> = (0..k)
        .map(|j| (0..k).map(|i| row[i] * agree(i, j)).sum())
        .collect();
    let cells = || (0..k).flat_map(move |i| (0..k).map(move |j| (i, j)));
    // Variance of the cell score a_ij under p (ASE) and of b_ij under p_i·p_·j (H0).
    let a = |i: usize, j: usize| agree(i, j) - (wr[i] + wc[j]) * (1.0 - kappa);
    let b = |i: usize, j: usize| agree(i, j) - (wr[i] + wc[j]);
    let p = |i: usize, j: usize| t[i * k + j] / n;
    let p0 = |i: usize, j: usize| row[i] * col[j];
    let variance = |prob: &dyn Fn(usize, usize) -> f64, score: &dyn Fn(usize, usize) -> f64| {
        let mean: f64 = cells().map(|(i, j)| prob(i, j) * score(i, j)).sum();
        cells()
            .map(|(i, j)| prob(i, j) * (score(i, j) - mean).powi(2))
            .sum::<f64>()
    };
    let scale = n * exp * exp;
    let std_kappa = (variance(&p, &a) / scale).sqrt();
    let std_kappa0 = (variance(&p0, &b) / scale).sqrt();
    let half = z_two_sided(level) * std_kappa;
    Some(CohenKappa {
        kappa,
        std_kappa,
        std_kappa0,
        ci: Interval {
            low: (kappa - half).max(-1.0),
            high: (kappa + half).min(1.0),
        },
        level,
        observed_agreement: 1.0 - obs,
        expected_agreement: 1.0 - exp,
        n,
        weighting: w,
    })
}

#[cfg(test)]
mod tests {
    use super::super::tests::{fixture_ratings, num, peer_fixture};
    use super::*;
    use crate::stats::tolerance::{assert_close, Tol};

    /// The 3 × 3 table of the SAS printout quoted in statsmodels 0.15.0
    /// statsmodels/stats/tests/test_inter_rater.py (`table10`, TestUnweightedCohens and
    /// TestWeightedCohens: "comparison to printout of a SAS example").
    const SAS_TABLE: [[u64; 3]; 3] = [[0, 4, 1], [0, 8, 0], [0, 1, 5]];
    const SAS: &str = "SAS PROC FREQ printout quoted in statsmodels test_inter_rater.py";

    #[test]
    fn simple_kappa_matches_sas_printout() {
        let k = cohen_kappa(&SAS_TABLE, Weighting::Unweighted, 0.95).unwrap();
        // SAS: Kappa 0.4842, ASE 0.1380, 95% limits 0.2137 0.7547, ASE under H0 0.1484.
        assert_close(k.kappa, 0.4842, Tol::Abs(5e-5), SAS);
        assert_close(k.std_kappa, 0.1380, Tol::Abs(5e-5), SAS);
        assert_close(k.ci.low, 0.2137, Tol::Abs(5e-5), SAS);
        assert_close(k.ci.high, 0.7547, Tol::Abs(5e-5), SAS);
        assert_close(k.std_kappa0, 0.1484, Tol::Abs(5e-5), SAS);
        // SAS: Z 3.2626 for the test of H0: kappa = 0.
        assert_close(k.kappa / k.std_kappa0, 3.2626, Tol::Abs(5e-5), SAS);
        assert_eq!(k.n, 19.0);
    }

    #[test]
    fn linear_weighted_kappa_matches_sas_printout() {
        let k = cohen_kappa(&SAS_TABLE, Weighting::Linear, 0.95).unwrap();
        // SAS: Weighted Kappa 0.4701, ASE 0.1457, 95% limits 0.1845 0.7558, ASE under H0
        // 0.1426, Z 3.2971 (SAS's default Cicchetti–Allison weights).
        assert_close(k.kappa, 0.4701, Tol::Abs(5e-5), SAS);
        assert_close(k.std_kappa, 0.1457, Tol::Abs(5e-5), SAS);
        assert_close(k.ci.low, 0.1845, Tol::Abs(5e-5), SAS);
        assert_close(k.ci.high, 0.7558, Tol::Abs(5e-5), SAS);
        assert_close(k.std_kappa0, 0.1426, Tol::Abs(5e-5), SAS);
        assert_close(k.kappa / k.std_kappa0, 3.2971, Tol::Abs(5e-5), SAS);
    }

    #[test]
    fn sas_table_matches_statsmodels_to_full_precision() {
        // statsmodels 0.15.0: r = cohens_kappa(table10, wt=…); repr of r.kappa, r.std_kappa,
        // r.std_kappa0 (wt None, "linear", "quadratic"; weights default to arange(3)).
        let sm = [
            (
                Weighting::Unweighted,
                0.48416289592760187,
                0.1380135783058146,
                0.1483982818901329,
            ),
            (
                Weighting::Linear,
                0.4701195219123506,
                0.14574604514192566,
                0.14258507762473158,
            ),
            (
                Weighting::Quadratic,
                0.4501607717041801,
                0.19223266335726072,
                0.187919468304494,
            ),
        ];
        for (w, kappa, ase, ase0) in sm {
            let src = format!("statsmodels 0.15.0 cohens_kappa(table10), {w:?}");
            let k = cohen_kappa(&SAS_TABLE, w, 0.95).unwrap();
            assert_close(k.kappa, kappa, Tol::Rel(1e-12), &src);
            assert_close(k.std_kappa, ase, Tol::Rel(1e-12), &src);
            assert_close(k.std_kappa0, ase0, Tol::Rel(1e-12), &src);
        }
    }

    #[test]
    fn anxiety_pair_matches_r_irr_kappa2() {
        // R irr kappa2(anxiety[, 2:3], weight) as quoted in statsmodels 0.15.0
        // test_inter_rater.py (test_cohens_kappa_irr): value and z = kappa/ASE under H0,
        // printed to 7 significant digits. irr keeps only the observed levels 1, 2, 3, 4, 6,
        // so they are categories 0..5 here, equally spaced.
        let r2 = [3, 6, 4, 6, 2, 4, 2, 4, 3, 3, 2, 3, 3, 3, 2, 2, 1, 3, 3, 4];
        let r3 = [2, 1, 4, 4, 3, 2, 1, 6, 1, 1, 1, 2, 3, 3, 1, 1, 3, 3, 2, 2];
        let index = |v: &i32| [1, 2, 3, 4, 6].iter().position(|l| l == v).unwrap();
        let a: Vec<usize> = r2.iter().map(index).collect();
        let b: Vec<usize> = r3.iter().map(index).collect();
        let irr = [
            (Weighting::Unweighted, -0.006289308, -0.0604067),
            (Weighting::Linear, 0.1459075, 1.282472),
            (Weighting::Quadratic, 0.2520325, 1.437451),
        ];
        for (w, value, z) in irr {
            let src = format!("R irr kappa2 via statsmodels test_inter_rater.py, {w:?}");
            let k = cohen_kappa_labels(&a, &b, 5, w, 0.95).unwrap();
            assert_close(k.kappa, value, Tol::Rel(1e-6), &src);
            assert_close(k.kappa / k.std_kappa0, z, Tol::Rel(1e-6), &src);
        }
    }

    /// The fixture's ordinal codes 1..5 as category indices 0..4.
    fn fixture_labels() -> (Vec<Vec<Option<usize>>>, serde_json::Value) {
        let f = peer_fixture();
        let ratings = fixture_ratings(&f["ordinal"]["ratings"])
            .into_iter()
            .map(|row| row.into_iter().map(|v| v.map(|c| c as usize - 1)).collect())
            .collect();
        (ratings, f)
    }

    #[test]
    fn pairs_match_sklearn_and_statsmodels() {
        let (ratings, f) = fixture_labels();
        let pairs = pairwise_cohen_kappa(&ratings, 5, Weighting::Unweighted, 0.95).unwrap();
        let peer = f["ordinal"]["cohen_pairs"].as_array().unwrap();
        assert_eq!(pairs.len(), peer.len());
        for (w, key) in [
            (Weighting::Unweighted, "unweighted"),
            (Weighting::Linear, "linear"),
            (Weighting::Quadratic, "quadratic"),
        ] {
            let pairs = pairwise_cohen_kappa(&ratings, 5, w, 0.95).unwrap();
            for (mine, peer) in pairs.iter().zip(peer) {
                assert_eq!(mine.reader_a as u64, peer["coder_a"].as_u64().unwrap());
                assert_eq!(mine.reader_b as u64, peer["coder_b"].as_u64().unwrap());
                assert_eq!(mine.n as u64, peer["n"].as_u64().unwrap());
                let k = mine.kappa.as_ref().unwrap();
                let p = &peer[key];
                let src = format!(
                    "peer_values.json, readers {} and {}, {key}",
                    mine.reader_a, mine.reader_b
                );
                assert_close(k.kappa, num(&p["sklearn_kappa"]), Tol::Rel(1e-10), &src);
                assert_close(k.kappa, num(&p["statsmodels_kappa"]), Tol::Rel(1e-10), &src);
                let ase = num(&p["statsmodels_std_kappa"]);
                assert_close(k.std_kappa, ase, Tol::Rel(1e-10), &src);
                let ase0 = num(&p["statsmodels_std_kappa0"]);
                assert_close(k.std_kappa0, ase0, Tol::Rel(1e-10), &src);
                // The label-slice entry point gives the same numbers.
                let (a, b): (Vec<usize>, Vec<usize>) = ratings[mine.reader_a]
                    .iter()
                    .zip(&ratings[mine.reader_b])
                    .filter_map(|(x, y)| Some(((*x)?, (*y)?)))
                    .unzip();
                assert_eq!(cohen_kappa_labels(&a, &b, 5, w, 0.95).as_ref(), Some(k));
            }
        }
    }

    #[test]
    fn count_types_agree() {
        let f: Vec<Vec<f64>> = SAS_TABLE
            .iter()
            .map(|r| r.iter().map(|&c| c as f64).collect())
            .collect();
        let u32s: Vec<[u32; 3]> = SAS_TABLE.map(|r| r.map(|c| c as u32)).to_vec();
        for w in [
            Weighting::Unweighted,
            Weighting::Linear,
            Weighting::Quadratic,
        ] {
            let want = cohen_kappa(&SAS_TABLE, w, 0.9);
            assert_eq!(cohen_kappa(&f, w, 0.9), want);
            assert_eq!(cohen_kappa(&u32s, w, 0.9), want);
        }
    }

    #[test]
    fn perfect_agreement_has_zero_standard_error() {
        let k = cohen_kappa(&[[3u64, 0], [0, 7]], Weighting::Unweighted, 0.95).unwrap();
        assert_eq!(k.kappa, 1.0);
        assert_eq!(k.std_kappa, 0.0);
        assert_eq!(
            k.ci,
            Interval {
                low: 1.0,
                high: 1.0
            }
        );
        assert!(k.std_kappa0 > 0.0);
    }

    #[test]
    fn undefined_and_invalid_tables_give_none() {
        let w = Weighting::Linear;
        // p_e = 1: both readers used one category only.
        assert!(cohen_kappa(&[[5u64, 0], [0, 0]], w, 0.95).is_none());
        assert!(cohen_kappa(&[[5u64]], w, 0.95).is_none(), "k = 1");
        assert!(
            cohen_kappa(&[[0u64, 0], [0, 0]], w, 0.95).is_none(),
            "empty"
        );
        let empty: [[u64; 0]; 0] = [];
        assert!(cohen_kappa(&empty, w, 0.95).is_none(), "no categories");
        assert!(
            cohen_kappa(&[vec![1u64, 2], vec![3]], w, 0.95).is_none(),
            "ragged"
        );
        assert!(
            cohen_kappa(&[[1u64, 2, 3], [4, 5, 6]], w, 0.95).is_none(),
            "2 × 3"
        );
        assert!(
            cohen_kappa(&[[1.0, -1.0], [2.0, 3.0]], w, 0.95).is_none(),
            "negative"
        );
        assert!(
            cohen_kappa(&[[1.0, f64::NAN], [2.0, 3.0]], w, 0.95).is_none(),
            "NaN"
        );
        assert!(
            cohen_kappa(&[[1u64, 2], [3, 4]], w, 1.0).is_none(),
            "level 1"
        );
        // Labels.
        assert!(
            cohen_kappa_labels(&[0, 1], &[0], 2, w, 0.95).is_none(),
            "lengths"
        );
        assert!(
            cohen_kappa_labels(&[], &[], 2, w, 0.95).is_none(),
            "no cases"
        );
        assert!(
            cohen_kappa_labels(&[0, 2], &[0, 1], 2, w, 0.95).is_none(),
            "label ≥ k"
        );
        // A reader who always says the same while the other varies: p_e < 1, kappa 0.
        let k = cohen_kappa_labels(&[0, 0, 0, 0], &[0, 1, 0, 1], 2, w, 0.95).unwrap();
        assert_eq!(k.kappa, 0.0);
    }

    #[test]
    fn pairwise_edge_cases() {
        let ratings = [
            vec![Some(0), Some(1), None],
            vec![None, None, Some(1)],
            vec![Some(1), Some(1), Some(1)],
        ];
        let pairs = pairwise_cohen_kappa(&ratings, 2, Weighting::Unweighted, 0.95).unwrap();
        // (0, 1): no common case; (0, 2): reader 2 constant, kappa 0; (1, 2): p_e = 1.
        assert_eq!((pairs[0].n, pairs[0].kappa.is_none()), (0, true));
        assert_eq!(pairs[1].n, 2);
        assert_eq!(pairs[1].kappa.as_ref().unwrap().kappa, 0.0);
        assert_eq!((pairs[2].n, pairs[2].kappa.is_none()), (1, true));
        let bad = [vec![Some(0), Some(2)], vec![Some(0), Some(1)]];
        assert!(pairwise_cohen_kappa(&bad, 2, Weighting::Unweighted, 0.95).is_none());
        let ragged = [vec![Some(0)], vec![Some(0), Some(1)]];
        assert!(pairwise_cohen_kappa(&ragged, 2, Weighting::Unweighted, 0.95).is_none());
        let one: [Vec<Option<usize>>; 1] = [vec![Some(0)]];
        assert_eq!(
            pairwise_cohen_kappa(&one, 2, Weighting::Unweighted, 0.95),
            Some(vec![])
        );
    }

    #[test]
    fn bootstrap_is_deterministic_and_close_to_wald() {
        let (ratings, _) = fixture_labels();
        let (a, b): (Vec<usize>, Vec<usize>) = ratings[0]
            .iter()
            .zip(&ratings[1])
            .filter_map(|(x, y)| Some(((*x)?, (*y)?)))
            .unzip();
        let w = Weighting::Quadratic;
        let run = |threads: usize| {
            rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap()
                .install(|| cohen_kappa_bootstrap(&a, &b, 5, w, 1000, 2024, 0.95).unwrap())
        };
        let one = run(1);
        assert_eq!(one, run(2));
        let wald = cohen_kappa_labels(&a, &b, 5, w, 0.95).unwrap();
        assert_eq!(one.estimate, wald.kappa);
        assert_eq!(
            (one.replicates, one.undefined, one.cases),
            (1000, 0, a.len())
        );
        // n = 173: the percentile and Wald intervals agree to a few hundredths.
        let ci = one.ci.unwrap();
        assert_close(ci.low, wald.ci.low, Tol::Abs(0.03), "Wald interval");
        assert_close(ci.high, wald.ci.high, Tol::Abs(0.03), "Wald interval");
    }

    #[test]
    fn bootstrap_counts_undefined_replicates() {
        // 19 agreeing cases in category 0 and one in category 1: a resample that misses the
        // one case has every reading in category 0 (p_e = 1), probability (19/20)^20 ≈ 0.358.
        let mut a = vec![0usize; 19];
        a.push(1);
        let boot = cohen_kappa_bootstrap(&a, &a, 2, Weighting::Unweighted, 1000, 9, 0.95).unwrap();
        assert!(
            boot.undefined > 300 && boot.undefined < 420,
            "{}",
            boot.undefined
        );
        assert_eq!(
            boot.ci,
            Some(Interval {
                low: 1.0,
                high: 1.0
            })
        );
        assert!(cohen_kappa_bootstrap(&a, &a, 2, Weighting::Unweighted, 0, 9, 0.95).is_none());
    }
}
