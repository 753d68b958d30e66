//! The seeded case bootstrap shared by the agreement statistics: resample the cases (units,
//! subjects, paired readings) with replacement, recompute the statistic, and take the percentile
//! interval, counting the resamples on which the statistic is undefined.
//!
//! A resample is never materialised as a list of cases. Each case belongs to a class (its cell
//! of a contingency table, its pattern of values, or itself), and a replicate only counts how
//! many times each class was drawn; the statistic is computed from those counts. Replicate r
//! draws from its own ChaCha8 stream (key from the seed, stream number r), replicates run in
//! parallel with rayon and are collected in index order, so the result depends on the seed
//! alone, never on the number of threads.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

use crate::stats::{valid_level, Interval};

/// A bootstrap percentile interval with the bookkeeping a report needs next to it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct BootstrapCi {
    /// The statistic on the original cases.
    pub estimate: f64,
    /// Percentile interval over the replicates where the statistic is defined; `None` when it
    /// is defined on none of them.
    pub ci: Option<Interval>,
    /// The confidence level of `ci`.
    pub level: f64,
    /// Replicates drawn.
    pub replicates: usize,
    /// Replicates on which the statistic was undefined (for example every resampled rating in
    /// one category). They are left out of `ci` and counted here, so a report can say
    /// "interval over 994 of 1000 resamples".
    pub undefined: usize,
    /// Cases resampled in each replicate (the number of cases in the data).
    pub cases: usize,
    /// The seed the replicates were drawn from.
    pub seed: u64,
}

/// Percentile bootstrap over cases for any statistic that can be computed from case
/// multiplicities.
///
/// `statistic(counts)` receives, for each of the `n_cases` cases, how many times it was drawn
/// (all ones for the original data) and returns the statistic, or `None` where it is
/// undefined. Statistics with a cheaper sufficient summary (a contingency table, unit patterns)
/// have their own functions ([`super::cohen_kappa_bootstrap`], [`super::fleiss_kappa_bootstrap`],
/// [`super::ReliabilityData::bootstrap`]) built on the same engine.
///
/// # Formula
/// Replicate r = 0..B draws `n_cases` case indices uniformly with replacement from ChaCha8
/// seeded with `SeedableRng::seed_from_u64(seed)` on stream r; an index is
/// ⌊u·n/2⁶⁴⌋ for a uniform 64-bit u (bias below n/2⁶⁴). θ*_r = statistic(counts_r). With the
/// B' defined replicates sorted, each bound is the type-7 quantile (linear interpolation
/// between order statistics, R's and numpy's default) at α/2 and 1 - α/2, α = 1 - level.
///
/// # Edge cases
/// `None` when `n_cases` is 0 or above `u32::MAX`, `replicates` is 0, the level is not in
/// (0, 1), or the statistic is undefined (or not finite) on the original data. Replicates
/// where it is undefined or not finite are counted in `undefined` and left out of the
/// quantiles; `ci` is `None` only when every replicate is. With one defined replicate both
/// bounds equal it.
///
/// # References
/// Efron B, Tibshirani RJ (1993) An Introduction to the Bootstrap, ch. 13 (percentile
/// interval). Hyndman RJ, Fan Y (1996) Sample quantiles in statistical packages. Am Stat
/// 50:361–365 (definition 7).
///
/// # Example
/// ```
/// use attest::stats::agreement::bootstrap_units;
/// // Bootstrap the mean of five numbers.
/// let x = [1.0, 2.0, 3.0, 4.0, 10.0];
/// let mean = |counts: &[u32]| {
///     let n: u32 = counts.iter().sum();
///     Some(x.iter().zip(counts).map(|(v, &c)| v * f64::from(c)).sum::<f64>() / f64::from(n))
/// };
/// let b = bootstrap_units(x.len(), 1000, 7, 0.95, mean).unwrap();
/// assert_eq!(b.estimate, 4.0);
/// let ci = b.ci.unwrap();
/// assert!(ci.low < 4.0 && 4.0 < ci.high && b.undefined == 0);
/// ```
pub fn bootstrap_units<F>(
    n_cases: usize,
    replicates: usize,
    seed: u64,
    level: f64,
    statistic: F,
) -> Option<BootstrapCi>
where
    F: Fn(&[u32]) -> Option<f64> + Sync,
{
    if n_cases > u32::MAX as usize {
        return None;
    }
    let ones = vec![1u32; n_cases];
    let estimate = statistic(&ones).filter(|e| e.is_finite())?;
    resample(
        estimate,
        n_cases,
        |case| case as u32,
        n_cases,
        replicates,
        seed,
        level,
        statistic,
    )
}

/// The engine: case `i` belongs to class `class_of(i)` < `n_classes`; each replicate hands the
/// statistic the number of draws per class. See [`bootstrap_units`] for the contract.
#[allow(clippy::too_many_arguments)]
pub(super) fn resample<C, F>(
    estimate: f64,
    n_cases: usize,
    class_of: C,
    n_classes: usize,
    replicates: usize,
    seed: u64,
    level: f64,
    statistic: F,
) -> Option<BootstrapCi>
where
    C: Fn(usize) -> u32 + Sync,
    F: Fn(&[u32]) -> Option<f64> + Sync,
{
    if n_cases == 0 || n_cases > u32::MAX as usize || replicates == 0 || !valid_level(level) {
        return None;
    }
    let thetas = replicate_values(n_cases, &class_of, n_classes, replicates, seed, &statistic);
    let mut defined: Vec<f64> = thetas.into_iter().flatten().collect();
    let undefined = replicates - defined.len();
    defined.sort_unstable_by(f64::total_cmp);
    let alpha = 1.0 - level;
    let ci = (!defined.is_empty()).then(|| Interval {
        low: quantile7(&defined, alpha / 2.0),
        high: quantile7(&defined, 1.0 - alpha / 2.0),
    });
    Some(BootstrapCi {
        estimate,
        ci,
        level,
        replicates,
        undefined,
        cases: n_cases,
        seed,
    })
}

/// The replicate values of a bootstrap over cases (None where the statistic is undefined),
/// in replicate order, with the same random streams as [`bootstrap_units`]: replicate r draws
/// from `ChaCha8Rng::seed_from_u64(seed)` on stream r. For intervals other than the percentile
/// one (e.g. BCa, `stats::bca`).
pub fn bootstrap_replicates<F>(
    n_cases: usize,
    replicates: usize,
    seed: u64,
    statistic: F,
) -> Vec<Option<f64>>
where
    F: Fn(&[u32]) -> Option<f64> + Sync,
{
    if n_cases == 0 || n_cases > u32::MAX as usize {
        return Vec::new();
    }
    replicate_values(
        n_cases,
        &|c| c as u32,
        n_cases,
        replicates,
        seed,
        &statistic,
    )
}

fn replicate_values<C, F>(
    n_cases: usize,
    class_of: &C,
    n_classes: usize,
    replicates: usize,
    seed: u64,
    statistic: &F,
) -> Vec<Option<f64>>
where
    C: Fn(usize) -> u32 + Sync,
    F: Fn(&[u32]) -> Option<f64> + Sync,
{
    let n = n_cases as u128;
    (0..replicates)
        .into_par_iter()
        .map_init(
            || vec![0u32; n_classes],
            |counts, r| {
                counts.fill(0);
                let mut rng = ChaCha8Rng::seed_from_u64(seed);
                rng.set_stream(r as u64);
                for _ in 0..n_cases {
                    // Lemire's multiply-shift without rejection: bias below n/2^64.
                    let case = ((u128::from(rng.next_u64()) * n) >> 64) as usize;
                    counts[class_of(case) as usize] += 1;
                }
                statistic(counts).filter(|t| t.is_finite())
            },
        )
        .collect()
}

/// Hyndman–Fan type-7 quantile of ascending, non-empty `sorted`: h = (n-1)q,
/// x[⌊h⌋] + (h - ⌊h⌋)(x[⌊h⌋+1] - x[⌊h⌋]).
fn quantile7(sorted: &[f64], q: f64) -> f64 {
    let h = (sorted.len() - 1) as f64 * q;
    let lo = h.floor() as usize;
    match sorted.get(lo + 1) {
        Some(&next) => sorted[lo] + (h - lo as f64) * (next - sorted[lo]),
        None => sorted[lo],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::tolerance::{assert_close, Tol};

    #[test]
    fn quantile7_matches_numpy() {
        // numpy 2.4.6: np.quantile([1, 2, 4, 8, 16], [0.025, 0.5, 0.975, 0, 1]) (default
        // method "linear", which is Hyndman–Fan type 7).
        let x = [1.0, 2.0, 4.0, 8.0, 16.0];
        assert_close(quantile7(&x, 0.025), 1.1, Tol::Rel(1e-14), "numpy quantile");
        assert_close(quantile7(&x, 0.5), 4.0, Tol::Rel(1e-14), "numpy quantile");
        assert_close(
            quantile7(&x, 0.975),
            15.2,
            Tol::Rel(1e-14),
            "numpy quantile",
        );
        assert_eq!(quantile7(&x, 0.0), 1.0);
        assert_eq!(quantile7(&x, 1.0), 16.0);
        assert_eq!(quantile7(&[3.0], 0.975), 3.0);
    }

    fn mean_of(x: &[f64]) -> impl Fn(&[u32]) -> Option<f64> + Sync + '_ {
        move |counts: &[u32]| {
            let n: u32 = counts.iter().sum();
            let s: f64 = x.iter().zip(counts).map(|(v, &c)| v * f64::from(c)).sum();
            Some(s / f64::from(n))
        }
    }

    #[test]
    fn each_replicate_resamples_all_cases() {
        let x: Vec<f64> = (0..50).map(f64::from).collect();
        let seen = std::sync::Mutex::new(Vec::new());
        let b = bootstrap_units(x.len(), 20, 1, 0.9, |counts: &[u32]| {
            seen.lock().unwrap().push(counts.iter().sum::<u32>());
            Some(0.0)
        })
        .unwrap();
        assert_eq!(b.cases, 50);
        // One call on the original data plus one per replicate, each with 50 draws.
        let seen = seen.into_inner().unwrap();
        assert_eq!(seen.len(), 21);
        assert!(seen.iter().all(|&s| s == 50));
    }

    #[test]
    fn same_seed_same_interval_whatever_the_thread_count() {
        let x: Vec<f64> = (0..200).map(|i| f64::from(i * i % 37)).collect();
        let run = |threads: usize, seed: u64| {
            rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap()
                .install(|| bootstrap_units(x.len(), 300, seed, 0.95, mean_of(&x)).unwrap())
        };
        let one = run(1, 42);
        let two = run(2, 42);
        let three = run(3, 42);
        assert_eq!(one, two);
        assert_eq!(one, three);
        let ci = one.ci.unwrap();
        assert_eq!(ci.low.to_bits(), two.ci.unwrap().low.to_bits());
        assert_ne!(one, run(2, 43), "another seed gives another interval");
    }

    #[test]
    fn undefined_replicates_are_counted_not_hidden() {
        // The statistic is undefined whenever case 0 is not drawn: P = (1 - 1/3)^3 = 8/27 per
        // replicate, so about 296 of 1000.
        let b = bootstrap_units(3, 1000, 5, 0.95, |c: &[u32]| {
            (c[0] > 0).then_some(f64::from(c[0]))
        })
        .unwrap();
        assert!(b.undefined > 240 && b.undefined < 350, "{}", b.undefined);
        let ci = b.ci.unwrap();
        assert!(ci.low >= 1.0 && ci.high <= 3.0);
        // Defined only when each of 30 cases is drawn once (probability 30!/30^30 ≈ 1e-12):
        // every replicate is undefined, so they are all counted and there is no interval.
        let b = bootstrap_units(30, 10, 5, 0.95, |c: &[u32]| {
            c.iter().all(|&k| k == 1).then_some(1.0)
        })
        .unwrap();
        assert_eq!((b.undefined, b.ci), (10, None));
    }

    #[test]
    fn invalid_requests_give_none() {
        let x = [1.0, 2.0];
        assert!(bootstrap_units(0, 10, 1, 0.95, |_: &[u32]| Some(1.0)).is_none());
        assert!(bootstrap_units(2, 0, 1, 0.95, mean_of(&x)).is_none());
        assert!(bootstrap_units(2, 10, 1, 1.0, mean_of(&x)).is_none());
        assert!(bootstrap_units(2, 10, 1, 0.95, |_: &[u32]| None).is_none());
    }

    #[test]
    fn percentile_interval_covers_the_mean_of_a_known_sample() {
        // 400 draws from a fixed sequence with mean 0.5 and sd ≈ 0.2887: the 95% percentile
        // interval of the mean should be close to 0.5 ± 1.96·0.2887/√400 = 0.5 ± 0.0283.
        let x: Vec<f64> = (0..400).map(|i| (f64::from(i) + 0.5) / 400.0).collect();
        let b = bootstrap_units(x.len(), 2000, 11, 0.95, mean_of(&x)).unwrap();
        let ci = b.ci.unwrap();
        assert_close(ci.low, 0.5 - 0.0283, Tol::Abs(0.003), "normal theory");
        assert_close(ci.high, 0.5 + 0.0283, Tol::Abs(0.003), "normal theory");
    }
}
