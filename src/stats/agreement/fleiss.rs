//! Fleiss' kappa: agreement of a fixed number of readers per case over nominal categories,
//! from a cases × categories count matrix, with the per-category kappas, the standard errors
//! under H0 of Fleiss, Nee & Landis (1979), and a case bootstrap.
//!
//! The readers of one case need not be the readers of another; only their number is fixed.

use super::bootstrap::resample;
use super::{flatten_counts, BootstrapCi, Count};

/// Fleiss' kappa and its parts.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct FleissKappa {
    /// Kappa: 1 is perfect agreement, 0 chance agreement; higher is better.
    pub kappa: f64,
    /// Standard error of `kappa` under H0: kappa = 0 (Fleiss, Nee & Landis 1979; R irr
    /// `kappam.fleiss`), for the test z = kappa / std_kappa0. It is not a standard error for a
    /// confidence interval; use [`fleiss_kappa_bootstrap`] for that.
    pub std_kappa0: f64,
    /// Mean observed agreement P̄ over cases.
    pub observed_agreement: f64,
    /// Chance agreement P̄e = Σ p_j².
    pub expected_agreement: f64,
    /// Number of cases N.
    pub subjects: usize,
    /// Readers per case n.
    pub raters: usize,
    /// One entry per category, in column order.
    pub categories: Vec<CategoryKappa>,
}

/// Agreement on one category against all others.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct CategoryKappa {
    /// Share p_j of all ratings that fall in this category.
    pub proportion: f64,
    /// Kappa for this category; `None` when no rating or every rating falls in it
    /// (p_j(1 - p_j) = 0).
    pub kappa: Option<f64>,
    /// Standard error under H0 of the category kappa, √(2/(N n (n-1))).
    pub std_kappa0: f64,
}

/// Fleiss' kappa from a cases × categories matrix: `counts[i][j]` readers put case i in
/// category j, and every row sums to the same number of readers n ≥ 2.
///
/// # Formula
/// With N cases, n readers per case and p_j = Σ_i n_ij / (N n):
/// P̄ = (1/N) Σ_i (Σ_j n_ij² - n) / (n(n-1)), P̄e = Σ_j p_j², κ = (P̄ - P̄e)/(1 - P̄e), evaluated
/// as 1 - [Σ_ij n_ij(n - n_ij) / (N n(n-1))] / Σ_j p_j q_j (q_j = 1 - p_j), both sums of
/// non-negative terms.
/// Category j: κ_j = 1 - Σ_i n_ij(n - n_ij) / (N n(n-1) p_j q_j), which is also Fleiss' kappa
/// of the two-column table (category j, all others).
/// Under H0 (Fleiss, Nee & Landis 1979; R irr `kappam.fleiss`):
/// se₀(κ) = √(2/(N n(n-1))) · √((Σ p_j q_j)² - Σ p_j q_j (q_j - p_j)) / Σ p_j q_j and
/// se₀(κ_j) = √(2/(N n(n-1))).
///
/// # Edge cases
/// `None` when there is no case or category, rows differ in length, a count is negative, not
/// finite or not a whole number, rows do not all sum to the same n, n < 2, or every rating
/// falls in one category (P̄e = 1), where kappa is 0/0. A category nobody used has
/// `kappa: None`. Cases rated by fewer readers must be dropped (or the data analysed with
/// [`super::krippendorff_alpha`], which allows missing ratings).
///
/// # References
/// Fleiss JL (1971) Measuring nominal scale agreement among many raters. Psychol Bull
/// 76:378–382. Fleiss JL, Nee JCM, Landis JR (1979) Large sample variance of kappa in the case
/// of different sets of raters. Psychol Bull 86:974–977. statsmodels `fleiss_kappa`; R irr
/// `kappam.fleiss`.
///
/// # Example
/// ```
/// use attest::stats::agreement::fleiss_kappa;
/// // Wikipedia "Fleiss' kappa" worked example: 10 cases, 14 readers, 5 categories → 0.210.
/// let counts = [
///     [0u64, 0, 0, 0, 14], [0, 2, 6, 4, 2], [0, 0, 3, 5, 6], [0, 3, 9, 2, 0],
///     [2, 2, 8, 1, 1], [7, 7, 0, 0, 0], [3, 2, 6, 3, 0], [2, 5, 3, 2, 2],
///     [6, 5, 2, 1, 0], [0, 2, 2, 3, 7],
/// ];
/// let k = fleiss_kappa(&counts).unwrap();
/// assert!((k.kappa - 0.210).abs() < 5e-4);
/// ```
pub fn fleiss_kappa<C: Count, R: AsRef<[C]>>(counts: &[R]) -> Option<FleissKappa> {
    let m = CountMatrix::new(counts)?;
    let ones = vec![1u32; m.subjects];
    let (kappa, observed_disagreement, p) = m.kappa(&ones)?;
    let (nf, subjects) = (m.raters as f64, m.subjects as f64);
    let pq: Vec<f64> = p.iter().map(|&pj| pj * (1.0 - pj)).collect();
    let pq_sum: f64 = pq.iter().sum();
    let tail: f64 = pq
        .iter()
        .zip(&p)
        .map(|(pq, pj)| pq * (1.0 - 2.0 * pj))
        .sum();
    let unit_se = (2.0 / (subjects * nf * (nf - 1.0))).sqrt();
    let std_kappa0 = unit_se * (pq_sum * pq_sum - tail).max(0.0).sqrt() / pq_sum;
    let categories = (0..m.k)
        .map(|j| {
            let dis: f64 = (0..m.subjects)
                .map(|i| {
                    let c = m.flat[i * m.k + j];
                    c * (nf - c)
                })
                .sum();
            let dis = dis / (subjects * nf * (nf - 1.0));
            CategoryKappa {
                proportion: p[j],
                kappa: (pq[j] > 0.0).then(|| 1.0 - dis / pq[j]),
                std_kappa0: unit_se,
            }
        })
        .collect();
    Some(FleissKappa {
        kappa,
        std_kappa0,
        observed_agreement: 1.0 - observed_disagreement,
        expected_agreement: 1.0 - pq_sum,
        subjects: m.subjects,
        raters: m.raters,
        categories,
    })
}

/// Percentile bootstrap of Fleiss' kappa over cases: the rows of the count matrix are
/// resampled with replacement.
///
/// # Formula
/// Each replicate draws N rows and computes κ as in [`fleiss_kappa`] with each row weighted by
/// its multiplicity; see [`super::bootstrap_units`] for the streams and the percentile bounds.
///
/// # Edge cases
/// `None` when [`fleiss_kappa`] is `None` for the data, `replicates` is 0 or the level is not
/// in (0, 1). A replicate in which every rating falls in one category is counted in
/// `undefined` and left out of the interval.
///
/// # References
/// Efron B, Tibshirani RJ (1993) An Introduction to the Bootstrap, ch. 13.
///
/// # Example
/// ```
/// use attest::stats::agreement::fleiss_kappa_bootstrap;
/// let counts: Vec<[u64; 3]> = (0..40).map(|i| match i % 4 {
///     0 => [3, 0, 0], 1 => [0, 3, 0], 2 => [0, 1, 2], _ => [1, 1, 1],
/// }).collect();
/// let boot = fleiss_kappa_bootstrap(&counts, 500, 3, 0.95).unwrap();
/// let ci = boot.ci.unwrap();
/// assert!(ci.low < boot.estimate && boot.estimate < ci.high);
/// ```
pub fn fleiss_kappa_bootstrap<C: Count, R: AsRef<[C]>>(
    counts: &[R],
    replicates: usize,
    seed: u64,
    level: f64,
) -> Option<BootstrapCi> {
    let m = CountMatrix::new(counts)?;
    let ones = vec![1u32; m.subjects];
    let (estimate, _, _) = m.kappa(&ones)?;
    resample(
        estimate,
        m.subjects,
        |case| case as u32,
        m.subjects,
        replicates,
        seed,
        level,
        |weights| m.kappa(weights).map(|(kappa, _, _)| kappa),
    )
}

/// The cases × categories count matrix of a readers × cases matrix of category indices
/// (`None` = not rated): `out[i][j]` readers put case i in category j.
///
/// # Formula
/// `out[i][j]` = #{r : `ratings[r][i]` = `Some(j)`}.
///
/// # Edge cases
/// `None` when rows differ in length or a category is ≥ k. A case with missing ratings gets a
/// smaller row total; [`fleiss_kappa`] needs equal totals, so keep only complete cases for it.
///
/// # References
/// statsmodels `aggregate_raters` (which takes cases × readers).
///
/// # Example
/// ```
/// use attest::stats::agreement::category_counts;
/// let ratings = [vec![Some(0), Some(1)], vec![Some(0), None], vec![Some(2), Some(1)]];
/// assert_eq!(category_counts(&ratings, 3).unwrap(), vec![vec![2, 0, 1], vec![0, 2, 0]]);
/// ```
pub fn category_counts<R: AsRef<[Option<usize>]>>(
    ratings: &[R],
    k: usize,
) -> Option<Vec<Vec<u64>>> {
    let cases = ratings.first().map_or(0, |r| r.as_ref().len());
    let mut out = vec![vec![0u64; k]; cases];
    for row in ratings {
        let row = row.as_ref();
        if row.len() != cases {
            return None;
        }
        for (counts, rating) in out.iter_mut().zip(row) {
            if let Some(c) = *rating {
                *counts.get_mut(c)? += 1;
            }
        }
    }
    Some(out)
}

/// A validated count matrix: every row whole numbers summing to `raters` ≥ 2.
struct CountMatrix {
    flat: Vec<f64>,
    subjects: usize,
    k: usize,
    raters: usize,
    /// Σ_j n_ij (n - n_ij) per case: twice the disagreeing reader pairs.
    disagreement: Vec<f64>,
}

impl CountMatrix {
    fn new<C: Count, R: AsRef<[C]>>(counts: &[R]) -> Option<Self> {
        let k = counts.first()?.as_ref().len();
        let flat = flatten_counts(counts, k)?;
        if k == 0 || flat.iter().any(|c| c.fract() != 0.0) {
            return None;
        }
        let total = |i: usize| flat[i * k..(i + 1) * k].iter().sum::<f64>();
        let n = total(0);
        if n < 2.0 || n > u32::MAX as f64 || (1..counts.len()).any(|i| total(i) != n) {
            return None;
        }
        let disagreement = flat
            .chunks_exact(k)
            .map(|row| row.iter().map(|&c| c * (n - c)).sum())
            .collect();
        Some(CountMatrix {
            subjects: counts.len(),
            k,
            raters: n as usize,
            flat,
            disagreement,
        })
    }

    /// (κ, observed disagreement 1 - P̄, category proportions) with case i counted
    /// `weights[i]` times; `None` when P̄e = 1.
    fn kappa(&self, weights: &[u32]) -> Option<(f64, f64, Vec<f64>)> {
        let nf = self.raters as f64;
        let mut p = vec![0.0; self.k];
        let (mut cases, mut dis) = (0.0, 0.0);
        for ((row, &d), &w) in self
            .flat
            .chunks_exact(self.k)
            .zip(&self.disagreement)
            .zip(weights)
        {
            if w == 0 {
                continue;
            }
            let w = f64::from(w);
            cases += w;
            dis += w * d;
            p.iter_mut().zip(row).for_each(|(pj, &c)| *pj += w * c);
        }
        p.iter_mut().for_each(|pj| *pj /= cases * nf);
        let observed = dis / (cases * nf * (nf - 1.0));
        // Σ p_j q_j = 1 - P̄e: exactly 0 when one category holds every rating.
        let expected: f64 = p.iter().map(|&pj| pj * (1.0 - pj)).sum();
        (expected > 0.0).then(|| (1.0 - observed / expected, observed, p))
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{fixture_ratings, num, peer_fixture};
    use super::*;
    use crate::stats::tolerance::{assert_close, Tol};

    /// Fleiss (1971): 30 patients, 6 psychiatrists each, 5 diagnoses (depression, personality
    /// disorder, schizophrenia, neurosis, other), as counts per patient. The same data are R
    /// irr's `diagnoses`, reproduced (as ratings) in statsmodels 0.15.0 test_inter_rater.py;
    /// these rows are `aggregate_raters(diagnoses)`, also written by gen.py.
    const DIAGNOSES: [[u64; 5]; 30] = [
        [0, 0, 0, 6, 0],
        [0, 3, 0, 0, 3],
        [0, 1, 4, 0, 1],
        [0, 0, 0, 0, 6],
        [0, 3, 0, 3, 0],
        [2, 0, 4, 0, 0],
        [0, 0, 4, 0, 2],
        [2, 0, 3, 1, 0],
        [2, 0, 0, 4, 0],
        [0, 0, 0, 0, 6],
        [1, 0, 0, 5, 0],
        [1, 1, 0, 4, 0],
        [0, 3, 3, 0, 0],
        [1, 0, 0, 5, 0],
        [0, 2, 0, 3, 1],
        [0, 0, 5, 0, 1],
        [3, 0, 0, 1, 2],
        [5, 1, 0, 0, 0],
        [0, 2, 0, 4, 0],
        [1, 0, 2, 0, 3],
        [0, 0, 0, 0, 6],
        [0, 1, 0, 5, 0],
        [0, 2, 0, 1, 3],
        [2, 0, 0, 4, 0],
        [1, 0, 0, 4, 1],
        [0, 5, 0, 1, 0],
        [4, 0, 0, 0, 2],
        [0, 2, 0, 4, 0],
        [1, 0, 5, 0, 0],
        [0, 0, 0, 0, 6],
    ];

    /// Wikipedia "Fleiss' kappa", worked example (10 cases, 14 readers); statsmodels
    /// test_inter_rater.py `table1`.
    const WIKIPEDIA: [[u64; 5]; 10] = [
        [0, 0, 0, 0, 14],
        [0, 2, 6, 4, 2],
        [0, 0, 3, 5, 6],
        [0, 3, 9, 2, 0],
        [2, 2, 8, 1, 1],
        [7, 7, 0, 0, 0],
        [3, 2, 6, 3, 0],
        [2, 5, 3, 2, 2],
        [6, 5, 2, 1, 0],
        [0, 2, 2, 3, 7],
    ];

    #[test]
    fn fleiss_1971_diagnoses() {
        let k = fleiss_kappa(&DIAGNOSES).unwrap();
        assert_eq!((k.subjects, k.raters), (30, 6));
        // Fleiss (1971): kappa = .430.
        assert_close(k.kappa, 0.430, Tol::Abs(5e-4), "Fleiss (1971)");
        // R irr kappam.fleiss(diagnoses), quoted in statsmodels test_inter_rater.py
        // (test_fleiss_kappa_irr): value 0.4302445, z 17.65183 (7 significant digits).
        const IRR: &str = "R irr kappam.fleiss via statsmodels test_inter_rater.py";
        assert_close(k.kappa, 0.4302445, Tol::Abs(5e-8), IRR);
        assert_close(k.kappa / k.std_kappa0, 17.65183, Tol::Abs(5e-6), IRR);
        // statsmodels 0.15.0 fleiss_kappa(aggregate_raters(diagnoses)[0]), repr.
        let sm = 0.43024452006014074;
        assert_close(
            k.kappa,
            sm,
            Tol::Rel(1e-13),
            "statsmodels 0.15.0 fleiss_kappa",
        );
    }

    #[test]
    fn fleiss_1971_category_kappas() {
        let k = fleiss_kappa(&DIAGNOSES).unwrap();
        // statsmodels 0.15.0 fleiss_kappa on each two-column table (category j, all others),
        // written by gen.py into peer_values.json: Fleiss' kappa_j equals the overall kappa of
        // that collapsed table (see the Formula section of fleiss_kappa).
        let f = peer_fixture();
        let counts: Vec<Vec<u64>> =
            serde_json::from_value(f["diagnoses"]["counts"].clone()).expect("diagnoses counts");
        assert_eq!(
            counts,
            DIAGNOSES.map(Vec::from).to_vec(),
            "gen.py has the same data"
        );
        let peer = f["diagnoses"]["statsmodels_category_kappa"]
            .as_array()
            .unwrap();
        let overall = num(&f["diagnoses"]["statsmodels_fleiss_kappa"]);
        assert_close(
            k.kappa,
            overall,
            Tol::Rel(1e-12),
            "peer_values.json diagnoses",
        );
        for (c, p) in k.categories.iter().zip(peer) {
            let src = "peer_values.json diagnoses, statsmodels on category vs rest";
            assert_close(c.kappa.unwrap(), num(p), Tol::Rel(1e-12), src);
            // R irr kappam.fleiss source (detail = TRUE): varkappaK <- 2/(ns*nr*(nr-1)).
            assert_close(
                c.std_kappa0,
                (2.0f64 / 900.0).sqrt(),
                Tol::Rel(1e-15),
                "irr",
            );
        }
        let proportions: Vec<f64> = k.categories.iter().map(|c| c.proportion).collect();
        // Column sums 26, 26, 30, 55, 43 of 180 ratings (statsmodels test_aggregate_raters).
        let want = [26.0, 26.0, 30.0, 55.0, 43.0].map(|s| s / 180.0);
        for (p, w) in proportions.iter().zip(want) {
            assert_close(*p, w, Tol::Rel(1e-15), "column sums / 180");
        }
    }

    #[test]
    fn wikipedia_worked_example() {
        let k = fleiss_kappa(&WIKIPEDIA).unwrap();
        // Wikipedia "Fleiss' kappa": P̄ = 0.378, P̄e = 0.213, κ = 0.210.
        const WP: &str = "Wikipedia, Fleiss' kappa worked example";
        assert_close(k.observed_agreement, 0.378, Tol::Abs(5e-4), WP);
        assert_close(k.expected_agreement, 0.213, Tol::Abs(5e-4), WP);
        assert_close(k.kappa, 0.210, Tol::Abs(5e-4), WP);
        // statsmodels 0.15.0 fleiss_kappa(table1), repr.
        let sm = 0.20993070442195522;
        assert_close(
            k.kappa,
            sm,
            Tol::Rel(1e-13),
            "statsmodels 0.15.0 fleiss_kappa",
        );
    }

    /// The fixture's complete cases (all four readers) as counts, codes 1..5 → 0..4.
    fn fixture_complete_counts() -> (Vec<Vec<u64>>, serde_json::Value) {
        let f = peer_fixture();
        let ratings: Vec<Vec<Option<usize>>> = fixture_ratings(&f["ordinal"]["ratings"])
            .into_iter()
            .map(|row| row.into_iter().map(|v| v.map(|c| c as usize - 1)).collect())
            .collect();
        let counts = category_counts(&ratings, 5)
            .unwrap()
            .into_iter()
            .filter(|row| row.iter().sum::<u64>() == 4)
            .collect();
        (counts, f)
    }

    #[test]
    fn synthetic_panel_matches_statsmodels() {
        let (counts, f) = fixture_complete_counts();
        let peer = &f["ordinal"]["fleiss"];
        assert_eq!(
            counts.len() as u64,
            peer["complete_units"].as_u64().unwrap()
        );
        let k = fleiss_kappa(&counts).unwrap();
        let src = "peer_values.json, statsmodels fleiss_kappa on complete cases";
        assert_close(
            k.kappa,
            num(&peer["statsmodels_fleiss_kappa"]),
            Tol::Rel(1e-10),
            src,
        );
        let cats = peer["statsmodels_category_kappa"].as_array().unwrap();
        for (c, p) in k.categories.iter().zip(cats) {
            assert_close(c.kappa.unwrap(), num(p), Tol::Rel(1e-10), src);
        }
    }

    #[test]
    fn undefined_and_invalid_matrices_give_none() {
        let empty: [[u64; 3]; 0] = [];
        assert!(fleiss_kappa(&empty).is_none(), "no case");
        let no_cat: [[u64; 0]; 2] = [[], []];
        assert!(fleiss_kappa(&no_cat).is_none(), "no category");
        assert!(fleiss_kappa(&[[3u64, 0], [0, 3]]).is_some());
        assert!(
            fleiss_kappa(&[[3u64, 0], [0, 2]]).is_none(),
            "unequal readers"
        );
        assert!(fleiss_kappa(&[[1u64, 0], [0, 1]]).is_none(), "one reader");
        assert!(
            fleiss_kappa(&[[3u64, 0], [3, 0]]).is_none(),
            "one category used"
        );
        assert!(
            fleiss_kappa(&[[1.5, 1.5], [3.0, 0.0]]).is_none(),
            "fractional"
        );
        assert!(
            fleiss_kappa(&[[-1.0, 4.0], [3.0, 0.0]]).is_none(),
            "negative"
        );
        assert!(fleiss_kappa(&[vec![3u64, 0], vec![3]]).is_none(), "ragged");
        // An unused category: its kappa is None, the others are defined.
        let k = fleiss_kappa(&[[3u64, 0, 0], [0, 3, 0], [1, 2, 0]]).unwrap();
        assert_eq!(k.categories[2].kappa, None);
        assert!(k.categories[0].kappa.is_some());
        // Perfect agreement.
        let k = fleiss_kappa(&[[3u64, 0], [0, 3]]).unwrap();
        assert_eq!(k.kappa, 1.0);
    }

    #[test]
    fn category_counts_edge_cases() {
        assert!(
            category_counts(&[vec![Some(0)], vec![]], 2).is_none(),
            "ragged"
        );
        assert!(
            category_counts(&[vec![Some(2)]], 2).is_none(),
            "category ≥ k"
        );
        let none: [Vec<Option<usize>>; 0] = [];
        assert_eq!(category_counts(&none, 2), Some(vec![]));
    }

    #[test]
    fn bootstrap_is_deterministic_across_thread_counts() {
        let (counts, _) = fixture_complete_counts();
        let run = |threads: usize| {
            rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap()
                .install(|| fleiss_kappa_bootstrap(&counts, 500, 77, 0.95).unwrap())
        };
        let one = run(1);
        assert_eq!(one, run(2));
        assert_eq!(one.estimate, fleiss_kappa(&counts).unwrap().kappa);
        let ci = one.ci.unwrap();
        assert!(ci.low < one.estimate && one.estimate < ci.high);
        assert_eq!(one.undefined, 0);
        assert!(fleiss_kappa_bootstrap(&[[3u64, 0], [3, 0]], 10, 1, 0.95).is_none());
    }
}
