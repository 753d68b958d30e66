//! Krippendorff's alpha for any number of readers with missing ratings, at the nominal, ordinal,
//! interval and ratio metrics, by the coincidence-matrix method of Krippendorff (2011), and its
//! bootstrap over units.
//!
//! Units are grouped by their pattern (the multiset of values they received). A unit's
//! contribution to the coincidence matrix depends on its pattern alone, so alpha is computed
//! from the patterns and their multiplicities, and a bootstrap replicate only has to count how
//! often each pattern was drawn: with a handful of categories there are a few hundred patterns
//! however many units there are. Nothing is O(V²) in the number of distinct values V except
//! the ratio metric's expected disagreement.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use rayon::prelude::*;

use super::bootstrap::resample;
use super::BootstrapCi;

/// Krippendorff's difference function δ²(c, k) between two values (the "level of
/// measurement").
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    /// δ² = 0 if c = k, else 1: values are unordered labels.
    Nominal,
    /// δ² = (Σ_{g=c}^{k} n_g - (n_c + n_k)/2)², n_g the number of pairable values equal to g:
    /// only the order of the values matters, distances come from their frequencies.
    Ordinal,
    /// δ² = (c - k)².
    Interval,
    /// δ² = ((c - k)/(c + k))², 0 when c + k = 0; meant for values ≥ 0 with a true zero
    /// (negative values are computed by the same formula, as the `krippendorff` package does).
    Ratio,
}

/// One cell of a reliability data matrix: a value, or missing.
pub trait Rating: Copy {
    /// The value, or `None` when missing.
    fn value(self) -> Option<f64>;
}

/// NaN is missing.
impl Rating for f64 {
    fn value(self) -> Option<f64> {
        (!self.is_nan()).then_some(self)
    }
}

/// `None` and NaN are missing.
impl Rating for Option<f64> {
    fn value(self) -> Option<f64> {
        self.filter(|v| !v.is_nan())
    }
}

/// Category indices, as used by [`super::pairwise_cohen_kappa`]; `None` is missing.
impl Rating for Option<usize> {
    fn value(self) -> Option<f64> {
        self.map(|v| v as f64)
    }
}

/// Krippendorff's alpha and its parts.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct KrippendorffAlpha {
    /// Alpha = 1 - D_o/D_e: 1 is perfect agreement, 0 chance; higher is better.
    pub alpha: f64,
    /// Observed disagreement D_o.
    pub observed_disagreement: f64,
    /// Disagreement expected by chance D_e.
    pub expected_disagreement: f64,
    /// The difference function used.
    pub metric: Metric,
    /// Pairable values n: the values of units with at least two values.
    pub pairable_values: usize,
    /// Units with at least two values, which alpha uses.
    pub units: usize,
    /// Units with fewer than two values, which alpha leaves out.
    pub units_dropped: usize,
}

/// A reliability data matrix prepared for Krippendorff's alpha: its pairable units grouped by
/// pattern of values. Build it once, then compute alpha at several metrics and bootstrap it.
#[derive(Debug, Clone)]
pub struct ReliabilityData {
    /// Distinct pairable values, ascending.
    values: Vec<f64>,
    /// Value indices of each pattern, ascending within a pattern, patterns concatenated.
    pattern_values: Vec<u32>,
    /// Start of each pattern in `pattern_values`, plus the end: patterns + 1 entries.
    pattern_start: Vec<usize>,
    /// Pairable units with each pattern.
    pattern_units: Vec<u32>,
    /// The pattern of each pairable unit, in unit order.
    unit_pattern: Vec<u32>,
    /// Units with fewer than two values.
    units_dropped: usize,
}

/// Krippendorff's alpha of a readers × units reliability data matrix with missing values.
/// Shorthand for [`ReliabilityData::from_ratings`] then [`ReliabilityData::alpha`].
///
/// # Formula
/// See [`ReliabilityData::alpha`].
///
/// # Edge cases
/// `None` when the matrix is invalid (see [`ReliabilityData::from_ratings`]) or alpha is
/// undefined (see [`ReliabilityData::alpha`]).
///
/// # References
/// Krippendorff K (2011) Computing Krippendorff's alpha-reliability. Annenberg School for
/// Communication Departmental Papers 43, University of Pennsylvania.
///
/// # Example
/// ```
/// use attest::stats::agreement::{krippendorff_alpha, Metric};
/// // Krippendorff (2011), 4 observers × 12 units with missing values: nominal alpha .743.
/// let nan = f64::NAN;
/// let data = [
///     [1.0, 2.0, 3.0, 3.0, 2.0, 1.0, 4.0, 1.0, 2.0, nan, nan, nan],
///     [1.0, 2.0, 3.0, 3.0, 2.0, 2.0, 4.0, 1.0, 2.0, 5.0, nan, 3.0],
///     [nan, 3.0, 3.0, 3.0, 2.0, 3.0, 4.0, 2.0, 2.0, 5.0, 1.0, nan],
///     [1.0, 2.0, 3.0, 3.0, 2.0, 4.0, 4.0, 1.0, 2.0, 5.0, 1.0, nan],
/// ];
/// let a = krippendorff_alpha(&data, Metric::Nominal).unwrap();
/// assert!((a.alpha - 0.743).abs() < 5e-4);
/// assert_eq!((a.pairable_values, a.units, a.units_dropped), (40, 11, 1));
/// ```
pub fn krippendorff_alpha<T: Rating + Sync, R: AsRef<[T]> + Sync>(
    ratings: &[R],
    metric: Metric,
) -> Option<KrippendorffAlpha> {
    ReliabilityData::from_ratings(ratings)?.alpha(metric)
}

impl ReliabilityData {
    /// Prepares a readers × units matrix: `ratings[r][u]` is reader r's value for unit u, or
    /// missing (`None` or NaN). Values are any finite numbers (codes or measurements); -0.0
    /// and 0.0 are the same value.
    ///
    /// # Formula
    /// For each unit, m_u = number of values. Units with m_u < 2 are dropped, as Krippendorff
    /// (2011) prescribes (a lone value has no other value to pair with). The others are grouped
    /// by their sorted multiset of values. O(R·U) for R readers and U units, plus sorting the
    /// pairable values once.
    ///
    /// # Edge cases
    /// `None` when rows differ in length or a value is infinite. A matrix with no unit of two
    /// or more values is accepted; its alpha is `None`.
    ///
    /// # References
    /// Krippendorff (2011), section "Nominal data, any number of observers, missing values".
    ///
    /// # Example
    /// ```
    /// use attest::stats::agreement::ReliabilityData;
    /// let data = ReliabilityData::from_ratings(&[
    ///     [Some(1.0), Some(2.0), None],
    ///     [Some(1.0), None, Some(3.0)],
    /// ]).unwrap();
    /// assert_eq!((data.units(), data.units_dropped()), (1, 2));
    /// assert_eq!(data.values(), &[1.0]);
    /// ```
    pub fn from_ratings<T: Rating + Sync, R: AsRef<[T]> + Sync>(ratings: &[R]) -> Option<Self> {
        let units = ratings.first().map_or(0, |r| r.as_ref().len());
        if ratings.iter().any(|r| r.as_ref().len() != units) {
            return None;
        }
        // Chunks of units are scanned in parallel, then merged in unit order, so the result
        // does not depend on the thread count.
        const CHUNK: usize = 1 << 14;
        let chunks: Vec<Chunk> = (0..units.div_ceil(CHUNK))
            .into_par_iter()
            .map(|c| Chunk::scan(ratings, c * CHUNK..units.min((c + 1) * CHUNK)))
            .collect::<Option<_>>()?;
        // Global values: every chunk's pairable values, sorted.
        let mut values: Vec<f64> = chunks
            .iter()
            .flat_map(|c| c.used_bits().map(f64::from_bits))
            .collect();
        values.sort_unstable_by(f64::total_cmp);
        values.dedup_by(|a, b| a.to_bits() == b.to_bits());
        if values.len() > u32::MAX as usize {
            return None;
        }
        let mut data = ReliabilityData {
            values: Vec::new(),
            pattern_values: Vec::new(),
            pattern_start: vec![0],
            pattern_units: Vec::new(),
            unit_pattern: Vec::with_capacity(units),
            units_dropped: chunks.iter().map(|c| c.dropped).sum(),
        };
        let mut global: HashMap<Vec<u32>, u32, BuildHasherDefault<PatternHasher>> =
            HashMap::default();
        let mut pattern = Vec::new();
        for c in &chunks {
            // This chunk's pattern ids → global pattern ids (patterns are few).
            let rank = |local: u32| -> u32 {
                let v = f64::from_bits(c.bits[local as usize]);
                values.partition_point(|x| x.total_cmp(&v).is_lt()) as u32
            };
            let map: Vec<u32> = (0..c.pattern_units.len())
                .map(|p| {
                    pattern.clear();
                    pattern.extend(c.pattern(p).iter().map(|&i| rank(i)));
                    pattern.sort_unstable();
                    let next = data.pattern_units.len() as u32;
                    let id = *global.entry(pattern.clone()).or_insert(next);
                    if id == next {
                        data.pattern_values.extend_from_slice(&pattern);
                        data.pattern_start.push(data.pattern_values.len());
                        data.pattern_units.push(0);
                    }
                    data.pattern_units[id as usize] += c.pattern_units[p];
                    id
                })
                .collect();
            data.unit_pattern
                .extend(c.unit_pattern.iter().map(|&p| map[p as usize]));
        }
        data.values = values;
        Some(data)
    }

    /// Units with at least two values (the units alpha uses and the bootstrap resamples).
    pub fn units(&self) -> usize {
        self.unit_pattern.len()
    }

    /// Units with fewer than two values, left out.
    pub fn units_dropped(&self) -> usize {
        self.units_dropped
    }

    /// The distinct pairable values, ascending.
    pub fn values(&self) -> &[f64] {
        &self.values
    }

    /// Krippendorff's alpha at a metric.
    ///
    /// # Formula
    /// For unit u with m_u ≥ 2 values, each ordered pair of its values (i ≠ j) adds 1/(m_u - 1)
    /// to the coincidence o_{v_i v_j}; n_c = Σ_k o_ck counts the pairable values equal to c and
    /// n = Σ_c n_c. Then D_o = (1/n) Σ_ck o_ck δ²_ck, D_e = (1/(n(n-1))) Σ_ck n_c n_k δ²_ck
    /// and α = 1 - D_o/D_e = 1 - (n-1) Σ o δ² / Σ n_c n_k δ² (Krippendorff 2011). Per unit,
    /// Σ_{i≠j} δ² is m_u² - Σ_c n_uc² (nominal), 2 m_u Σ_i (v_i - v̄_u)² (interval),
    /// the same on the values' mid-ranks M_c = Σ_{g<c} n_g + n_c/2 (ordinal, because
    /// δ²_ck = (M_k - M_c)²), and the pair sum itself (ratio); D_e is formed the same way from
    /// n_c, except for ratio, which sums over pairs of distinct values (O(V²)).
    ///
    /// # Edge cases
    /// `None` when no unit has two values, or D_e = 0, where alpha is 0/0: every pairable value
    /// is the same (for ratio also when the only values are x and -x, whose difference the
    /// c + k = 0 convention sets to 0). Also `None` if the sums overflow (interval values
    /// beyond about 1e150 in magnitude). D_o = 0 < D_e gives α = 1.
    ///
    /// # References
    /// Krippendorff K (2011) Computing Krippendorff's alpha-reliability. Hayes AF,
    /// Krippendorff K (2007) Answering the call for a standard reliability measure for coding
    /// data. Commun Methods Meas 1:77–89. Python package `krippendorff` (`alpha`).
    ///
    /// # Example
    /// ```
    /// use attest::stats::agreement::{Metric, ReliabilityData};
    /// // Wikipedia "Krippendorff's alpha", computational example: nominal .691, interval .811.
    /// let rows: [&[Option<f64>]; 3] = [
    ///     &[None, None, None, None, None, Some(3.), Some(4.), Some(1.), Some(2.), Some(1.),
    ///       Some(1.), Some(3.), Some(3.), None, Some(3.)],
    ///     &[Some(1.), None, Some(2.), Some(1.), Some(3.), Some(3.), Some(4.), Some(3.), None,
    ///       None, None, None, None, None, None],
    ///     &[None, None, Some(2.), Some(1.), Some(3.), Some(4.), Some(4.), None, Some(2.),
    ///       Some(1.), Some(1.), Some(3.), Some(3.), None, Some(4.)],
    /// ];
    /// let data = ReliabilityData::from_ratings(&rows).unwrap();
    /// assert!((data.alpha(Metric::Nominal).unwrap().alpha - 0.691).abs() < 5e-4);
    /// assert!((data.alpha(Metric::Interval).unwrap().alpha - 0.811).abs() < 5e-4);
    /// ```
    pub fn alpha(&self, metric: Metric) -> Option<KrippendorffAlpha> {
        let within = self.within_unit(metric);
        let (alpha, d_o, d_e, n) = self.evaluate(metric, &within, &self.pattern_units)?;
        Some(KrippendorffAlpha {
            alpha,
            observed_disagreement: d_o,
            expected_disagreement: d_e,
            metric,
            pairable_values: n as usize,
            units: self.units(),
            units_dropped: self.units_dropped,
        })
    }

    /// Percentile bootstrap of alpha over units.
    ///
    /// What is resampled: the pairable units (those with at least two values; units with fewer
    /// contribute nothing to alpha and are not drawn), with replacement, as many as there are;
    /// each drawn unit brings all its values. Readers are held fixed. The number of pairable
    /// values n therefore varies a little between replicates. This is a case bootstrap; it is
    /// not the bootstrap of Hayes & Krippendorff (2007), which resamples pairs of values from
    /// the coincidence matrix.
    ///
    /// # Formula
    /// A replicate counts how often each unit pattern is drawn and recomputes α as in
    /// [`Self::alpha`] with those multiplicities (ordinal mid-ranks are recomputed from the
    /// replicate's n_c); see [`super::bootstrap_units`] for the streams and the type-7
    /// percentile bounds. Cost per replicate: O(units + Σ pattern sizes + V), V² for ratio.
    ///
    /// # Edge cases
    /// `None` when alpha is undefined on the data, `replicates` is 0 or `level` is not in
    /// (0, 1). A replicate where alpha is undefined (all resampled values equal) is counted in
    /// `undefined` and left out of the interval.
    ///
    /// # References
    /// Efron B, Tibshirani RJ (1993) An Introduction to the Bootstrap, ch. 13. Hayes &
    /// Krippendorff (2007) for their alternative.
    ///
    /// # Example
    /// ```
    /// use attest::stats::agreement::{Metric, ReliabilityData};
    /// let rows: Vec<Vec<f64>> = (0..3)
    ///     .map(|r| (0..90).map(|u| ((u % 5) + usize::from(u % (7 + r) == 0)) as f64).collect())
    ///     .collect();
    /// let data = ReliabilityData::from_ratings(&rows).unwrap();
    /// let boot = data.bootstrap(Metric::Ordinal, 500, 42, 0.95).unwrap();
    /// let ci = boot.ci.unwrap();
    /// assert!(ci.low <= boot.estimate && boot.estimate <= ci.high && boot.cases == 90);
    /// ```
    pub fn bootstrap(
        &self,
        metric: Metric,
        replicates: usize,
        seed: u64,
        level: f64,
    ) -> Option<BootstrapCi> {
        let within = self.within_unit(metric);
        let (estimate, ..) = self.evaluate(metric, &within, &self.pattern_units)?;
        resample(
            estimate,
            self.units(),
            |u| self.unit_pattern[u],
            self.pattern_units.len(),
            replicates,
            seed,
            level,
            |counts| self.evaluate(metric, &within, counts).map(|r| r.0),
        )
    }

    /// The value indices of pattern p.
    fn pattern(&self, p: usize) -> &[u32] {
        &self.pattern_values[self.pattern_start[p]..self.pattern_start[p + 1]]
    }

    /// Σ_{i≠j} δ²(v_i, v_j)/(m - 1) for each pattern, for the metrics whose δ² does not depend
    /// on the value frequencies (empty for ordinal, which is computed per evaluation).
    fn within_unit(&self, metric: Metric) -> Vec<f64> {
        let patterns = self.pattern_units.len();
        let value = |i: &u32| self.values[*i as usize];
        (0..patterns)
            .map(|p| {
                let idx = self.pattern(p);
                let m = idx.len() as f64;
                let pairs = match metric {
                    Metric::Ordinal => return 0.0,
                    Metric::Nominal => {
                        // m² - Σ_c n_uc², the runs of equal indices giving n_uc.
                        let same: f64 = idx
                            .chunk_by(|a, b| a == b)
                            .map(|run| (run.len() as f64).powi(2))
                            .sum();
                        m * m - same
                    }
                    Metric::Interval => {
                        let mean = idx.iter().map(value).sum::<f64>() / m;
                        2.0 * m * idx.iter().map(|i| (value(i) - mean).powi(2)).sum::<f64>()
                    }
                    Metric::Ratio => {
                        let mut s = 0.0;
                        for (a, i) in idx.iter().enumerate() {
                            for j in &idx[a + 1..] {
                                s += ratio_delta(value(i), value(j));
                            }
                        }
                        2.0 * s
                    }
                };
                pairs / (m - 1.0)
            })
            .collect()
    }

    /// (α, D_o, D_e, n) with pattern p counted `counts[p]` times; `None` when undefined.
    fn evaluate(
        &self,
        metric: Metric,
        within: &[f64],
        counts: &[u32],
    ) -> Option<(f64, f64, f64, f64)> {
        let mut n_c = vec![0.0; self.values.len()];
        for (p, &w) in counts.iter().enumerate() {
            if w > 0 {
                for &i in self.pattern(p) {
                    n_c[i as usize] += f64::from(w);
                }
            }
        }
        let n: f64 = n_c.iter().sum();
        if n < 2.0 {
            return None;
        }
        // Values present in this (re)sample, with their counts.
        let present = || {
            self.values
                .iter()
                .zip(&n_c)
                .filter(|(_, &c)| c > 0.0)
                .map(|(&v, &c)| (v, c))
        };
        // Σ_c n_c (x_c - x̄)² for a score x_c per value, two-pass.
        let spread = |score: &dyn Fn(usize) -> f64| {
            let mean = (0..n_c.len()).map(|i| n_c[i] * score(i)).sum::<f64>() / n;
            (0..n_c.len())
                .filter(|&i| n_c[i] > 0.0)
                .map(|i| n_c[i] * (score(i) - mean).powi(2))
                .sum::<f64>()
        };
        let (observed, expected) = match metric {
            Metric::Nominal => {
                let same: f64 = n_c.iter().map(|c| c * c).sum();
                (weighted(within, counts), n * n - same)
            }
            Metric::Interval => {
                let value = |i: usize| self.values[i];
                (weighted(within, counts), 2.0 * n * spread(&value))
            }
            Metric::Ratio => {
                let present: Vec<(f64, f64)> = present().collect();
                let mut s = 0.0;
                for (a, &(c, nc)) in present.iter().enumerate() {
                    for &(k, nk) in &present[a + 1..] {
                        s += nc * nk * ratio_delta(c, k);
                    }
                }
                (weighted(within, counts), 2.0 * s)
            }
            Metric::Ordinal => {
                // Mid-ranks M_c = Σ_{g<c} n_g + n_c/2 of this sample's values.
                let mut below = 0.0;
                let mid: Vec<f64> = n_c
                    .iter()
                    .map(|&c| {
                        let m = below + c / 2.0;
                        below += c;
                        m
                    })
                    .collect();
                let mut observed = 0.0;
                for (p, &w) in counts.iter().enumerate() {
                    if w == 0 {
                        continue;
                    }
                    let idx = self.pattern(p);
                    let m = idx.len() as f64;
                    let mean = idx.iter().map(|&i| mid[i as usize]).sum::<f64>() / m;
                    let ss: f64 = idx.iter().map(|&i| (mid[i as usize] - mean).powi(2)).sum();
                    observed += f64::from(w) * 2.0 * m * ss / (m - 1.0);
                }
                (observed, 2.0 * n * spread(&|i| mid[i]))
            }
        };
        if !(observed.is_finite() && expected.is_finite()) || expected <= 0.0 {
            return None;
        }
        let alpha = 1.0 - (n - 1.0) * observed / expected;
        Some((alpha, observed / n, expected / (n * (n - 1.0)), n))
    }
}

/// Σ_p counts[p] · within[p].
fn weighted(within: &[f64], counts: &[u32]) -> f64 {
    within
        .iter()
        .zip(counts)
        .filter(|(_, &w)| w > 0)
        .map(|(d, &w)| d * f64::from(w))
        .sum()
}

/// The ratio difference ((c - k)/(c + k))², 0 when c + k = 0 (as the `krippendorff` package).
fn ratio_delta(c: f64, k: f64) -> f64 {
    let s = c + k;
    if s == 0.0 {
        0.0
    } else {
        ((c - k) / s).powi(2)
    }
}

/// One chunk of units, scanned alone: values get provisional ids in order of first appearance
/// (`v + 0.0` turns -0.0 into 0.0, so the two are one value), found by a linear scan of their
/// bits while there are at most `SMALL` (rating scales have few values), by hashing beyond.
/// Each unit's multiset of ids is its pattern: with at most 15 readers and ids below 16, a
/// count per id in 4 bits is an order-free key found with one integer hash; otherwise the
/// sorted ids are the key. The same multiset may get one pattern from each path, which is
/// harmless: alpha and the bootstrap only sum over patterns, and merging joins them.
struct Chunk {
    bits: Vec<u64>,
    pattern_values: Vec<u32>,
    pattern_start: Vec<usize>,
    pattern_units: Vec<u32>,
    unit_pattern: Vec<u32>,
    dropped: usize,
}

impl Chunk {
    fn scan<T: Rating, R: AsRef<[T]>>(
        ratings: &[R],
        range: std::ops::Range<usize>,
    ) -> Option<Self> {
        const SMALL: usize = 32;
        type Map<K> = HashMap<K, u32, BuildHasherDefault<PatternHasher>>;
        let mut c = Chunk {
            bits: Vec::new(),
            pattern_values: Vec::new(),
            pattern_start: vec![0],
            pattern_units: Vec::new(),
            unit_pattern: Vec::with_capacity(range.len()),
            dropped: 0,
        };
        let mut many: Map<u64> = HashMap::default();
        let mut counted: Map<u64> = HashMap::default();
        let mut sorted: Map<Vec<u32>> = HashMap::default();
        let mut pattern: Vec<u32> = Vec::with_capacity(ratings.len());
        let countable = ratings.len() <= 15;
        for u in range {
            pattern.clear();
            let mut counts = 0u64;
            let mut fast = countable;
            for row in ratings {
                let Some(v) = row.as_ref()[u].value() else {
                    continue;
                };
                if !v.is_finite() {
                    return None;
                }
                let b = (v + 0.0).to_bits();
                let id = if many.is_empty() {
                    match c.bits.iter().position(|&x| x == b) {
                        Some(i) => i as u32,
                        None => {
                            c.bits.push(b);
                            if c.bits.len() > SMALL {
                                many.extend(c.bits.iter().enumerate().map(|(i, &x)| (x, i as u32)));
                            }
                            (c.bits.len() - 1) as u32
                        }
                    }
                } else {
                    let next = c.bits.len() as u32;
                    let id = *many.entry(b).or_insert(next);
                    if id == next {
                        c.bits.push(b);
                    }
                    id
                };
                if id < 16 {
                    counts += 1 << (4 * id);
                } else {
                    fast = false;
                }
                pattern.push(id);
            }
            if pattern.len() < 2 {
                c.dropped += 1;
                continue;
            }
            let known = if fast {
                counted.get(&counts).copied()
            } else {
                pattern.sort_unstable();
                sorted.get(pattern.as_slice()).copied()
            };
            let id = match known {
                Some(id) => id,
                None => {
                    pattern.sort_unstable();
                    let id = c.pattern_units.len() as u32;
                    if fast {
                        counted.insert(counts, id);
                    } else {
                        sorted.insert(pattern.clone(), id);
                    }
                    c.pattern_values.extend_from_slice(&pattern);
                    c.pattern_start.push(c.pattern_values.len());
                    c.pattern_units.push(0);
                    id
                }
            };
            c.pattern_units[id as usize] += 1;
            c.unit_pattern.push(id);
        }
        Some(c)
    }

    fn pattern(&self, p: usize) -> &[u32] {
        &self.pattern_values[self.pattern_start[p]..self.pattern_start[p + 1]]
    }

    /// The bits of the values the chunk's patterns use (values only in dropped units are not
    /// pairable).
    fn used_bits(&self) -> impl Iterator<Item = u64> + '_ {
        let mut used = vec![false; self.bits.len()];
        for &i in &self.pattern_values {
            used[i as usize] = true;
        }
        self.bits
            .iter()
            .zip(used)
            .filter(|(_, u)| *u)
            .map(|(&b, _)| b)
    }
}

/// A fast non-cryptographic hasher for unit patterns (short lists of small integers, from our
/// own data, so no hash flooding to fear): FxHash's multiply-rotate step.
#[derive(Default)]
struct PatternHasher(u64);

impl Hasher for PatternHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        // A slice of u32 arrives here as its bytes, four at a time per element.
        let mut chunks = bytes.chunks_exact(4);
        for c in &mut chunks {
            self.write_u64(u64::from(u32::from_le_bytes([c[0], c[1], c[2], c[3]])));
        }
        for &b in chunks.remainder() {
            self.write_u64(u64::from(b));
        }
    }
    fn write_u32(&mut self, i: u32) {
        self.write_u64(u64::from(i));
    }
    fn write_u64(&mut self, i: u64) {
        self.0 = (self.0.rotate_left(5) ^ i).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
    fn write_usize(&mut self, i: usize) {
        self.write_u64(i as u64);
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{fixture_ratings, num, peer_fixture};
    use super::*;
    use crate::stats::tolerance::{assert_close, Tol};

    const NAN: f64 = f64::NAN;

    /// Krippendorff (2011), "Nominal data, any number of observers, missing values": 4
    /// observers (rows) × 12 units, NaN where an observer did not code a unit.
    const K2011: [[f64; 12]; 4] = [
        [1., 2., 3., 3., 2., 1., 4., 1., 2., NAN, NAN, NAN],
        [1., 2., 3., 3., 2., 2., 4., 1., 2., 5., NAN, 3.],
        [NAN, 3., 3., 3., 2., 3., 4., 2., 2., 5., 1., NAN],
        [1., 2., 3., 3., 2., 4., 4., 1., 2., 5., 1., NAN],
    ];

    fn alpha_of<T: Rating + Sync, R: AsRef<[T]> + Sync>(ratings: &[R], metric: Metric) -> f64 {
        krippendorff_alpha(ratings, metric).unwrap().alpha
    }

    #[test]
    fn krippendorff_2011_published_values() {
        // Krippendorff (2011): nominal α = .743 for these data; the same data at the other
        // metrics: ordinal .815, interval .849, ratio .797 (the krippendorff package asserts
        // .743, .815 and .797 from the paper in its tests and doctests).
        const PAPER: &str = "Krippendorff (2011) Computing Krippendorff's Alpha-Reliability";
        assert_close(
            alpha_of(&K2011, Metric::Nominal),
            0.743,
            Tol::Abs(5e-4),
            PAPER,
        );
        assert_close(
            alpha_of(&K2011, Metric::Ordinal),
            0.815,
            Tol::Abs(5e-4),
            PAPER,
        );
        assert_close(
            alpha_of(&K2011, Metric::Interval),
            0.849,
            Tol::Abs(5e-4),
            PAPER,
        );
        assert_close(
            alpha_of(&K2011, Metric::Ratio),
            0.797,
            Tol::Abs(5e-4),
            PAPER,
        );
        // Unit 12 has one value and is dropped: n = 40 pairable values in 11 units.
        let a = krippendorff_alpha(&K2011, Metric::Nominal).unwrap();
        assert_eq!((a.pairable_values, a.units, a.units_dropped), (40, 11, 1));
    }

    #[test]
    fn krippendorff_2011_matches_the_python_package() {
        // krippendorff 0.9.0: repr(alpha(K2011, level_of_measurement=…)).
        let peer = [
            (Metric::Nominal, 0.743421052631579),
            (Metric::Ordinal, 0.8153875037548814),
            (Metric::Interval, 0.8491071428571428),
            (Metric::Ratio, 0.7974027747116121),
        ];
        for (metric, want) in peer {
            let src = format!("krippendorff 0.9.0 alpha, {metric:?}");
            assert_close(alpha_of(&K2011, metric), want, Tol::Rel(1e-12), &src);
        }
    }

    #[test]
    fn binary_two_observers() {
        // Krippendorff (2011), "Binary data, two observers, no missing data": α = 0.095
        // (also the Krippendorff.jl test suite); krippendorff 0.9.0 gives 0.09523809523809534.
        let data = [
            [0., 1., 0., 0., 0., 0., 0., 0., 1., 0.],
            [1., 1., 1., 0., 0., 1., 0., 0., 0., 0.],
        ];
        let a = alpha_of(&data, Metric::Nominal);
        assert_close(a, 0.095, Tol::Abs(5e-4), "Krippendorff (2011)");
        assert_close(
            a,
            0.09523809523809534,
            Tol::Rel(1e-12),
            "krippendorff 0.9.0",
        );
    }

    #[test]
    fn wikipedia_example_matches_the_python_package() {
        // Wikipedia "Krippendorff's alpha", computational example (3 coders × 15 units):
        // nominal .691, interval .811; krippendorff 0.9.0 reprs for all four metrics.
        let rows: [[Option<f64>; 15]; 3] = [
            [
                None,
                None,
                None,
                None,
                None,
                Some(3.),
                Some(4.),
                Some(1.),
                Some(2.),
                Some(1.),
                Some(1.),
                Some(3.),
                Some(3.),
                None,
                Some(3.),
            ],
            [
                Some(1.),
                None,
                Some(2.),
                Some(1.),
                Some(3.),
                Some(3.),
                Some(4.),
                Some(3.),
                None,
                None,
                None,
                None,
                None,
                None,
                None,
            ],
            [
                None,
                None,
                Some(2.),
                Some(1.),
                Some(3.),
                Some(4.),
                Some(4.),
                None,
                Some(2.),
                Some(1.),
                Some(1.),
                Some(3.),
                Some(3.),
                None,
                Some(4.),
            ],
        ];
        assert_close(
            alpha_of(&rows, Metric::Nominal),
            0.691,
            Tol::Abs(5e-4),
            "Wikipedia",
        );
        assert_close(
            alpha_of(&rows, Metric::Interval),
            0.811,
            Tol::Abs(5e-4),
            "Wikipedia",
        );
        let peer = [
            (Metric::Nominal, 0.691358024691358),
            (Metric::Ordinal, 0.8067214199413153),
            (Metric::Interval, 0.8108448928121059),
            (Metric::Ratio, 0.8089436707842471),
        ];
        for (metric, want) in peer {
            let src = format!("krippendorff 0.9.0 alpha, Wikipedia data, {metric:?}");
            assert_close(alpha_of(&rows, metric), want, Tol::Rel(1e-12), &src);
        }
    }

    #[test]
    fn synthetic_panels_match_the_python_package() {
        let f = peer_fixture();
        for set in ["ordinal", "continuous"] {
            let ratings = fixture_ratings(&f[set]["ratings"]);
            let data = ReliabilityData::from_ratings(&ratings).unwrap();
            for (metric, key) in [
                (Metric::Nominal, "nominal"),
                (Metric::Ordinal, "ordinal"),
                (Metric::Interval, "interval"),
                (Metric::Ratio, "ratio"),
            ] {
                let want = num(&f[set]["krippendorff_alpha"][key]);
                let src = format!("peer_values.json {set}, krippendorff alpha {key}");
                assert_close(
                    data.alpha(metric).unwrap().alpha,
                    want,
                    Tol::Rel(1e-10),
                    &src,
                );
            }
        }
    }

    #[test]
    fn input_types_agree() {
        let opts: Vec<Vec<Option<f64>>> = K2011
            .iter()
            .map(|r| r.iter().map(|&v| (!v.is_nan()).then_some(v)).collect())
            .collect();
        let idx: Vec<Vec<Option<usize>>> = K2011
            .iter()
            .map(|r| {
                r.iter()
                    .map(|&v| (!v.is_nan()).then_some(v as usize))
                    .collect()
            })
            .collect();
        for m in [
            Metric::Nominal,
            Metric::Ordinal,
            Metric::Interval,
            Metric::Ratio,
        ] {
            let want = krippendorff_alpha(&K2011, m);
            assert_eq!(krippendorff_alpha(&opts, m), want);
            assert_eq!(krippendorff_alpha(&idx, m), want);
        }
        // Some(NaN) is missing too.
        let mut with_nan = opts.clone();
        with_nan[0][9] = Some(f64::NAN);
        assert_eq!(
            krippendorff_alpha(&with_nan, Metric::Ordinal),
            krippendorff_alpha(&opts, Metric::Ordinal)
        );
    }

    #[test]
    fn invariances_of_the_metrics() {
        // Ordinal uses only the order of the values; interval is invariant under x ↦ a + b·x
        // (b ≠ 0); ratio under x ↦ b·x (b > 0); nominal under any relabelling.
        let map = |f: &dyn Fn(f64) -> f64| -> Vec<Vec<f64>> {
            // NaN (missing) stays NaN.
            let g = |v: f64| if v.is_nan() { v } else { f(v) };
            K2011
                .iter()
                .map(|r| r.iter().map(|&v| g(v)).collect())
                .collect()
        };
        let base = |m| alpha_of(&K2011, m);
        let exp = map(&|v| v.exp());
        let affine = map(&|v| 10.0 - 3.5 * v);
        let scaled = map(&|v| 2.5 * v);
        let relabel = map(&|v| [0.0, 40.0, -7.0, 3.5, 0.25, 99.0][v as usize]);
        let t = Tol::Rel(1e-12);
        assert_close(
            alpha_of(&exp, Metric::Ordinal),
            base(Metric::Ordinal),
            t,
            "order only",
        );
        let ai = alpha_of(&affine, Metric::Interval);
        assert_close(ai, base(Metric::Interval), t, "affine invariance");
        let rs = alpha_of(&scaled, Metric::Ratio);
        assert_close(rs, base(Metric::Ratio), t, "scale invariance");
        let nr = alpha_of(&relabel, Metric::Nominal);
        assert_close(nr, base(Metric::Nominal), t, "labels only");
    }

    #[test]
    fn undefined_and_invalid_data() {
        // No variation: every pairable value equal (the lone 2 is in a dropped unit).
        let flat = [[1.0, 1.0, 2.0], [1.0, 1.0, NAN]];
        for m in [
            Metric::Nominal,
            Metric::Ordinal,
            Metric::Interval,
            Metric::Ratio,
        ] {
            assert!(krippendorff_alpha(&flat, m).is_none(), "{m:?}");
        }
        // No unit with two values.
        let lonely = [[1.0, NAN], [NAN, 2.0]];
        let data = ReliabilityData::from_ratings(&lonely).unwrap();
        assert_eq!((data.units(), data.units_dropped()), (0, 2));
        assert!(data.alpha(Metric::Nominal).is_none());
        let empty: [[f64; 0]; 0] = [];
        assert!(krippendorff_alpha(&empty, Metric::Nominal).is_none());
        // Invalid matrices.
        assert!(ReliabilityData::from_ratings(&[vec![1.0, 2.0], vec![1.0]]).is_none());
        assert!(ReliabilityData::from_ratings(&[[1.0, f64::INFINITY], [1.0, 2.0]]).is_none());
        // -0.0 and 0.0 are one value.
        let zeros = ReliabilityData::from_ratings(&[[0.0, 1.0], [-0.0, 1.0]]).unwrap();
        assert_eq!(zeros.values(), &[0.0, 1.0]);
        assert_eq!(zeros.alpha(Metric::Nominal).unwrap().alpha, 1.0);
    }

    #[test]
    fn perfect_agreement_and_ratio_zeros() {
        // krippendorff package tests: [[0, 1, 2], [0, 1, 2]] at ratio gives exactly 1
        // (δ(0, 0) = 0 by the c + k = 0 convention), and perfect agreement gives 1.
        let data = [[0., 1., 2.], [0., 1., 2.]];
        assert_eq!(alpha_of(&data, Metric::Ratio), 1.0);
        let data = [[1., 2., 3., 4.], [1., 2., 3., 4.], [1., 2., 3., 4.]];
        for m in [
            Metric::Nominal,
            Metric::Ordinal,
            Metric::Interval,
            Metric::Ratio,
        ] {
            assert_eq!(alpha_of(&data, m), 1.0, "{m:?}");
        }
    }

    #[test]
    fn bootstrap_is_deterministic_across_thread_counts() {
        let f = peer_fixture();
        let ratings = fixture_ratings(&f["ordinal"]["ratings"]);
        let data = ReliabilityData::from_ratings(&ratings).unwrap();
        let run = |threads: usize, metric| {
            rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap()
                .install(|| data.bootstrap(metric, 400, 99, 0.95).unwrap())
        };
        for m in [
            Metric::Nominal,
            Metric::Ordinal,
            Metric::Interval,
            Metric::Ratio,
        ] {
            let one = run(1, m);
            assert_eq!(one, run(2, m), "{m:?}");
            assert_eq!(one.estimate, data.alpha(m).unwrap().alpha);
            assert_eq!((one.cases, one.undefined), (data.units(), 0));
            let ci = one.ci.unwrap();
            assert!(
                ci.low < one.estimate && one.estimate < ci.high,
                "{m:?} {ci:?}"
            );
        }
    }

    #[test]
    fn bootstrap_equals_recomputing_on_the_drawn_units() {
        // The pattern shortcut must give the alpha of the resampled matrix itself. Rebuild one
        // replicate by hand: same stream as the engine (ChaCha8, seed, stream r).
        use rand::{Rng, SeedableRng};
        let f = peer_fixture();
        let ratings = fixture_ratings(&f["continuous"]["ratings"]);
        let data = ReliabilityData::from_ratings(&ratings).unwrap();
        let pairable: Vec<usize> = (0..ratings[0].len())
            .filter(|&u| ratings.iter().filter(|r| r[u].is_some()).count() >= 2)
            .collect();
        assert_eq!(pairable.len(), data.units());
        let (seed, r) = (5u64, 3u64);
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        rng.set_stream(r);
        let n = pairable.len() as u128;
        let drawn: Vec<usize> = (0..pairable.len())
            .map(|_| pairable[((u128::from(rng.next_u64()) * n) >> 64) as usize])
            .collect();
        let resampled: Vec<Vec<Option<f64>>> = ratings
            .iter()
            .map(|row| drawn.iter().map(|&u| row[u]).collect())
            .collect();
        for m in [
            Metric::Nominal,
            Metric::Ordinal,
            Metric::Interval,
            Metric::Ratio,
        ] {
            let direct = alpha_of(&resampled, m);
            // The engine's replicate r: the same draws, counted per pattern.
            let mut counts = vec![0u32; data.pattern_units.len()];
            let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
            rng.set_stream(r);
            for _ in 0..data.units() {
                let u = ((u128::from(rng.next_u64()) * n) >> 64) as usize;
                counts[data.unit_pattern[u] as usize] += 1;
            }
            let within = data.within_unit(m);
            let (shortcut, ..) = data.evaluate(m, &within, &counts).unwrap();
            assert_close(
                shortcut,
                direct,
                Tol::Rel(1e-12),
                "alpha of the resampled matrix",
            );
        }
    }

    #[test]
    fn bootstrap_counts_undefined_replicates() {
        // 30 units where all three readers say 1 and one unit with values 1, 2, 2: a replicate
        // that misses that unit has no variation (probability (30/31)^31 ≈ 0.36).
        let mut rows = vec![vec![1.0; 31]; 3];
        rows[1][30] = 2.0;
        rows[2][30] = 2.0;
        let data = ReliabilityData::from_ratings(&rows).unwrap();
        let boot = data.bootstrap(Metric::Nominal, 1000, 3, 0.95).unwrap();
        assert!(
            boot.undefined > 300 && boot.undefined < 430,
            "{}",
            boot.undefined
        );
        assert!(boot.ci.is_some());
        assert!(data.bootstrap(Metric::Nominal, 0, 3, 0.95).is_none());
        assert!(data.bootstrap(Metric::Nominal, 10, 3, 1.5).is_none());
    }

    /// 100 000 units × 5 readers, 5 ordinal categories, ~10% missing.
    fn large_panel() -> Vec<Vec<Option<f64>>> {
        use rand::{RngExt, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
        let truth: Vec<i32> = (0..100_000).map(|_| rng.random_range(1..=5)).collect();
        (0..5)
            .map(|_| {
                truth
                    .iter()
                    .map(|&t| {
                        let v = (t + rng.random_range(-1..=1)).clamp(1, 5);
                        (rng.random_range(0..10) != 0).then_some(f64::from(v))
                    })
                    .collect()
            })
            .collect()
    }

    #[test]
    fn large_panel_agrees_with_pattern_free_formulas() {
        // Nominal and interval alpha of 100 000 units computed from the patterns equal the
        // direct per-unit sums (no grouping), which checks the grouping at scale.
        let ratings = large_panel();
        let data = ReliabilityData::from_ratings(&ratings).unwrap();
        assert!(
            data.pattern_units.len() < 400,
            "{} patterns",
            data.pattern_units.len()
        );
        let (mut n_c, mut obs_nom, mut obs_int) = ([0.0f64; 6], 0.0, 0.0);
        for u in 0..ratings[0].len() {
            let vals: Vec<f64> = ratings.iter().filter_map(|r| r[u]).collect();
            let m = vals.len() as f64;
            if vals.len() < 2 {
                continue;
            }
            let mut cnt = [0.0f64; 6];
            vals.iter().for_each(|&v| cnt[v as usize] += 1.0);
            obs_nom += (m * m - cnt.iter().map(|c| c * c).sum::<f64>()) / (m - 1.0);
            let mean = vals.iter().sum::<f64>() / m;
            obs_int += 2.0 * m * vals.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (m - 1.0);
            (0..6).for_each(|c| n_c[c] += cnt[c]);
        }
        let n: f64 = n_c.iter().sum();
        let exp_nom = n * n - n_c.iter().map(|c| c * c).sum::<f64>();
        let mean = (0..6).map(|c| n_c[c] * c as f64).sum::<f64>() / n;
        let exp_int = 2.0
            * n
            * (0..6)
                .map(|c| n_c[c] * (c as f64 - mean).powi(2))
                .sum::<f64>();
        let t = Tol::Rel(1e-10);
        let nominal = 1.0 - (n - 1.0) * obs_nom / exp_nom;
        assert_close(
            data.alpha(Metric::Nominal).unwrap().alpha,
            nominal,
            t,
            "direct sums",
        );
        let interval = 1.0 - (n - 1.0) * obs_int / exp_int;
        assert_close(
            data.alpha(Metric::Interval).unwrap().alpha,
            interval,
            t,
            "direct sums",
        );
    }
}
