//! Lesion detection scored the LUNA16 way: candidates matched to reference lesions by a hit
//! rule, the FROC curve (sensitivity against false positives per scan), sensitivity at given
//! false-positive rates, and the competition performance metric (CPM).

/// A reference lesion: centre in mm and diameter in mm, in one scan.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Lesion {
    pub scan: usize,
    pub centre: [f64; 3],
    pub diameter_mm: f64,
    /// Ignored: candidates hitting it count neither way (LUNA16's "irrelevant findings", or a
    /// lesion below the size filter).
    pub ignored: bool,
}

/// A detection candidate: centre in mm and probability, in one scan.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Candidate {
    pub scan: usize,
    pub centre: [f64; 3],
    pub probability: f64,
}

/// The outcome of matching: each counted lesion's best hitting probability (None: missed), and
/// the probabilities of the false positives.
#[derive(Debug, Clone, PartialEq)]
pub struct Matched {
    /// Per counted (not ignored) lesion, in input order.
    pub lesion_scores: Vec<Option<f64>>,
    /// The scan of each counted lesion.
    pub lesion_scans: Vec<usize>,
    pub false_positives: Vec<f64>,
    /// The scan of each false positive.
    pub fp_scans: Vec<usize>,
    /// Candidates that hit only ignored lesions, left out.
    pub ignored_candidates: usize,
}

/// Matches candidates to lesions with LUNA16's hit rule.
///
/// # Formula
/// A candidate hits a lesion of its scan when the Euclidean distance between their centres is
/// below `radius_factor` · diameter / 2 (1 for LUNA16: within the lesion's radius). A
/// candidate hitting a counted lesion is a true positive of each lesion it hits, and a lesion
/// hit by several candidates keeps the highest probability (the others are not false
/// positives). A candidate hitting only ignored lesions is left out. Every other candidate is
/// a false positive.
///
/// # Edge cases
/// No candidates: every lesion missed. No lesions: every candidate a false positive. A
/// candidate in a scan with no lesion is a false positive.
///
/// # References
/// Setio AAA et al. (2017) Validation, comparison, and combination of algorithms for automatic
/// detection of pulmonary nodules in computed tomography images: the LUNA16 challenge. Med
/// Image Anal 42:1–13 (§2.4; evaluation script `noduleCADEvaluationLUNA16.py`).
///
/// # Example
/// ```
/// use attest::stats::froc::{match_candidates, Candidate, Lesion};
/// let lesions = [Lesion { scan: 0, centre: [0.0; 3], diameter_mm: 10.0, ignored: false }];
/// let cands = [
///     Candidate { scan: 0, centre: [3.0, 0.0, 0.0], probability: 0.9 }, // 3 mm < 5 mm: hit
///     Candidate { scan: 0, centre: [4.0, 0.0, 0.0], probability: 0.7 }, // hit, not the best
///     Candidate { scan: 0, centre: [9.0, 0.0, 0.0], probability: 0.8 }, // miss: FP
/// ];
/// let m = match_candidates(&lesions, &cands, 1.0);
/// assert_eq!(m.lesion_scores, vec![Some(0.9)]);
/// assert_eq!(m.false_positives, vec![0.8]);
/// ```
pub fn match_candidates(
    lesions: &[Lesion],
    candidates: &[Candidate],
    radius_factor: f64,
) -> Matched {
    let counted: Vec<usize> = (0..lesions.len())
        .filter(|&i| !lesions[i].ignored)
        .collect();
    let mut best: Vec<Option<f64>> = vec![None; counted.len()];
    let mut false_positives = Vec::new();
    let mut fp_scans = Vec::new();
    let mut ignored_candidates = 0;
    for c in candidates {
        let mut hit_counted = false;
        let mut hit_ignored = false;
        for (l, lesion) in lesions.iter().enumerate() {
            if lesion.scan != c.scan {
                continue;
            }
            let d2: f64 = (0..3)
                .map(|k| (c.centre[k] - lesion.centre[k]).powi(2))
                .sum();
            let r = radius_factor * lesion.diameter_mm / 2.0;
            if d2 < r * r {
                if lesion.ignored {
                    hit_ignored = true;
                } else {
                    hit_counted = true;
                    let k = counted.binary_search(&l).expect("counted lesion");
                    best[k] = Some(best[k].map_or(c.probability, |b: f64| b.max(c.probability)));
                }
            }
        }
        if !hit_counted {
            if hit_ignored {
                ignored_candidates += 1;
            } else {
                false_positives.push(c.probability);
                fp_scans.push(c.scan);
            }
        }
    }
    Matched {
        lesion_scans: counted.iter().map(|&l| lesions[l].scan).collect(),
        lesion_scores: best,
        false_positives,
        fp_scans,
        ignored_candidates,
    }
}

/// One point of an FROC curve.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct FrocPoint {
    pub threshold: f64,
    pub fp_per_scan: f64,
    pub sensitivity: f64,
}

/// The FROC curve: for each distinct probability t, the share of counted lesions whose best
/// hitting candidate has probability ≥ t, and the false positives with probability ≥ t per
/// scan; ordered by increasing false positives.
///
/// # Formula
/// sensitivity(t) = |{lesions with best score ≥ t}| / lesions; FP/scan(t) = |{FP ≥ t}| / scans.
/// The curve starts at an infinite threshold (0 FP, sensitivity 0), as scikit-learn's
/// `roc_curve` does in the LUNA16 script, and is evaluated at every distinct candidate
/// probability, which is what that script's ROC-based computation gives.
///
/// # Edge cases
/// No counted lesion: empty (sensitivity is undefined). `scans == 0`: empty.
///
/// # References
/// Chakraborty DP (1989) Maximum likelihood analysis of free-response receiver operating
/// characteristic (FROC) data. Med Phys 16:561–568; Setio et al. (2017).
///
/// # Example
/// ```
/// use attest::stats::froc::froc_curve;
/// // Two lesions (best score 0.9; missed), FPs at 0.8 and 0.3, two scans.
/// let c = froc_curve(&[Some(0.9), None], &[0.8, 0.3], 2);
/// assert_eq!(c.last().unwrap().fp_per_scan, 1.0);
/// assert_eq!(c.last().unwrap().sensitivity, 0.5);
/// ```
pub fn froc_curve(
    lesion_scores: &[Option<f64>],
    false_positives: &[f64],
    scans: usize,
) -> Vec<FrocPoint> {
    if lesion_scores.is_empty() || scans == 0 {
        return Vec::new();
    }
    let mut thresholds: Vec<f64> = lesion_scores
        .iter()
        .flatten()
        .chain(false_positives)
        .copied()
        .collect();
    thresholds.sort_by(|a, b| b.total_cmp(a));
    thresholds.dedup();
    let mut tp: Vec<f64> = lesion_scores.iter().flatten().copied().collect();
    tp.sort_by(|a, b| b.total_cmp(a));
    let mut fp = false_positives.to_vec();
    fp.sort_by(|a, b| b.total_cmp(a));
    let n = lesion_scores.len() as f64;
    let (mut i, mut j) = (0, 0);
    // Like scikit-learn's roc_curve, which the LUNA16 script uses, the curve starts at an
    // infinite threshold: nothing detected, no false positive.
    std::iter::once(FrocPoint {
        threshold: f64::INFINITY,
        fp_per_scan: 0.0,
        sensitivity: 0.0,
    })
    .chain(thresholds.iter().map(|&t| {
        while i < tp.len() && tp[i] >= t {
            i += 1;
        }
        while j < fp.len() && fp[j] >= t {
            j += 1;
        }
        FrocPoint {
            threshold: t,
            fp_per_scan: j as f64 / scans as f64,
            sensitivity: i as f64 / n,
        }
    }))
    .collect()
}

/// Sensitivity at a false-positive rate, interpolated linearly on the FROC curve as the LUNA16
/// script does (`numpy.interp`): below the curve's first point its sensitivity, beyond its last
/// point its last sensitivity.
///
/// # Formula
/// With points (f_k, s_k) sorted by f, for f_k ≤ x ≤ f_{k+1}:
/// s = s_k + (s_{k+1} - s_k)(x - f_k)/(f_{k+1} - f_k); equal f take the last such point.
///
/// # Edge cases
/// An empty curve gives None.
///
/// # References
/// Setio et al. (2017), evaluation script (`np.interp(fps_itp, fps, sens)`).
///
/// # Example
/// ```
/// use attest::stats::froc::{sensitivity_at, FrocPoint};
/// let c = [
///     FrocPoint { threshold: 0.9, fp_per_scan: 0.0, sensitivity: 0.5 },
///     FrocPoint { threshold: 0.5, fp_per_scan: 1.0, sensitivity: 1.0 },
/// ];
/// assert_eq!(sensitivity_at(&c, 0.5), Some(0.75));
/// assert_eq!(sensitivity_at(&c, 8.0), Some(1.0));
/// ```
pub fn sensitivity_at(curve: &[FrocPoint], fp_per_scan: f64) -> Option<f64> {
    let first = curve.first()?;
    if fp_per_scan < first.fp_per_scan {
        return Some(first.sensitivity);
    }
    // numpy.interp: j = the last point with f_j <= x (searchsorted side="right" - 1), then
    // s_j + slope (x - f_j) towards point j + 1.
    let j = curve.partition_point(|p| p.fp_per_scan <= fp_per_scan) - 1;
    let a = curve[j];
    match curve.get(j + 1) {
        None => Some(a.sensitivity),
        Some(b) => {
            let f = (fp_per_scan - a.fp_per_scan) / (b.fp_per_scan - a.fp_per_scan);
            Some(a.sensitivity + f * (b.sensitivity - a.sensitivity))
        }
    }
}

/// The false-positive rates of the CPM: 1/8, 1/4, 1/2, 1, 2, 4, 8 per scan.
pub const CPM_RATES: [f64; 7] = [0.125, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0];

/// The competition performance metric: the mean sensitivity at [`CPM_RATES`].
///
/// # Formula
/// CPM = (1/7) Σ_r sensitivity_at(curve, r).
///
/// # Edge cases
/// An empty curve gives None.
///
/// # References
/// Niemeijer M et al. (2011) On combining computer-aided detection systems. IEEE Trans Med
/// Imaging 30:215–223; Setio et al. (2017).
///
/// # Example
/// ```
/// use attest::stats::froc::{cpm, FrocPoint};
/// let flat = [FrocPoint { threshold: 0.5, fp_per_scan: 0.0, sensitivity: 0.8 }];
/// assert!((cpm(&flat).unwrap() - 0.8).abs() < 1e-15);
/// ```
pub fn cpm(curve: &[FrocPoint]) -> Option<f64> {
    let s: Option<Vec<f64>> = CPM_RATES
        .iter()
        .map(|&r| sensitivity_at(curve, r))
        .collect();
    s.map(|v| v.iter().sum::<f64>() / v.len() as f64)
}

/// The FROC curve with each scan weighted (a bootstrap resample's multiplicities): as
/// [`froc_curve`] with every lesion and false positive counted `weights[scan]` times and
/// `Σ weights` scans. None when the weighted lesions or scans are zero.
fn weighted_curve(m: &Matched, weights: &[u32]) -> Option<Vec<FrocPoint>> {
    let w = |scan: usize| f64::from(weights[scan]);
    let lesions: f64 = m.lesion_scans.iter().map(|&s| w(s)).sum();
    let scans: f64 = weights.iter().map(|&x| f64::from(x)).sum();
    if lesions == 0.0 || scans == 0.0 {
        return None;
    }
    let mut tp: Vec<(f64, f64)> = m
        .lesion_scores
        .iter()
        .zip(&m.lesion_scans)
        .filter_map(|(s, &scan)| Some(((*s)?, w(scan))))
        .filter(|(_, w)| *w > 0.0)
        .collect();
    let mut fp: Vec<(f64, f64)> = m
        .false_positives
        .iter()
        .zip(&m.fp_scans)
        .map(|(&p, &scan)| (p, w(scan)))
        .filter(|(_, w)| *w > 0.0)
        .collect();
    tp.sort_by(|a, b| b.0.total_cmp(&a.0));
    fp.sort_by(|a, b| b.0.total_cmp(&a.0));
    let mut thresholds: Vec<f64> = tp.iter().chain(&fp).map(|x| x.0).collect();
    thresholds.sort_by(|a, b| b.total_cmp(a));
    thresholds.dedup();
    let (mut i, mut j, mut tp_w, mut fp_w) = (0, 0, 0.0, 0.0);
    let mut curve = vec![FrocPoint {
        threshold: f64::INFINITY,
        fp_per_scan: 0.0,
        sensitivity: 0.0,
    }];
    for t in thresholds {
        while i < tp.len() && tp[i].0 >= t {
            tp_w += tp[i].1;
            i += 1;
        }
        while j < fp.len() && fp[j].0 >= t {
            fp_w += fp[j].1;
            j += 1;
        }
        curve.push(FrocPoint {
            threshold: t,
            fp_per_scan: fp_w / scans,
            sensitivity: tp_w / lesions,
        });
    }
    Some(curve)
}

/// A percentile bootstrap over scans of a summary of the FROC curve (the CPM, or the
/// sensitivity at a false-positive rate), as the LUNA16 evaluation does: scans are drawn with
/// replacement, each with all its lesions and candidates, `replicates` times, seeded; results
/// do not depend on the thread count.
///
/// # Formula
/// For each resample, the FROC curve of the drawn scans (a scan drawn k times counts k times)
/// and its summary; the interval is the percentile interval of the summaries at `level`.
///
/// # Edge cases
/// None when there are no scans or no counted lesion. Resamples without any lesion have no
/// curve: they are left out of the interval and counted in `undefined`.
///
/// # References
/// Setio et al. (2017) §2.4 (bootstrapped FROC, 1,000 resamples); Efron & Tibshirani (1993).
///
/// # Example
/// ```
/// use attest::stats::froc::{cpm, froc_bootstrap, match_candidates, Candidate, Lesion};
/// let lesions: Vec<Lesion> = (0..20)
///     .map(|s| Lesion { scan: s, centre: [0.0; 3], diameter_mm: 8.0, ignored: false })
///     .collect();
/// let cands: Vec<Candidate> = (0..20)
///     .map(|s| Candidate { scan: s, centre: [f64::from(s as u32 % 6), 0.0, 0.0], probability: 0.1 + 0.04 * s as f64 })
///     .collect();
/// let m = match_candidates(&lesions, &cands, 1.0);
/// let b = froc_bootstrap(&m, 20, 500, 7, 0.95, cpm).unwrap();
/// let ci = b.ci.unwrap();
/// assert!(ci.low <= b.estimate && b.estimate <= ci.high);
/// ```
pub fn froc_bootstrap<F>(
    m: &Matched,
    scans: usize,
    replicates: usize,
    seed: u64,
    level: f64,
    summary: F,
) -> Option<super::agreement::BootstrapCi>
where
    F: Fn(&[FrocPoint]) -> Option<f64> + Sync,
{
    if scans == 0
        || m.lesion_scans
            .iter()
            .chain(&m.fp_scans)
            .any(|&s| s >= scans)
    {
        return None;
    }
    super::agreement::bootstrap_units(scans, replicates, seed, level, |weights| {
        summary(&weighted_curve(m, weights)?)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lesion(scan: usize, x: f64, d: f64) -> Lesion {
        Lesion {
            scan,
            centre: [x, 0.0, 0.0],
            diameter_mm: d,
            ignored: false,
        }
    }

    fn cand(scan: usize, x: f64, p: f64) -> Candidate {
        Candidate {
            scan,
            centre: [x, 0.0, 0.0],
            probability: p,
        }
    }

    #[test]
    fn a_hand_checked_case() {
        // Two scans, three nodules (10 mm at x=0 and x=100 in scan 0; 6 mm at x=0 in scan 1),
        // one ignored finding (scan 1, x=50, 8 mm).
        let mut lesions = vec![
            lesion(0, 0.0, 10.0),
            lesion(0, 100.0, 10.0),
            lesion(1, 0.0, 6.0),
        ];
        lesions.push(Lesion {
            ignored: true,
            ..lesion(1, 50.0, 8.0)
        });
        let cands = [
            cand(0, 2.0, 0.95),   // hits nodule 1
            cand(0, -4.9, 0.60),  // hits nodule 1 too: not counted again, not an FP
            cand(0, 5.0, 0.90),   // 5 mm is not below the 5 mm radius: FP
            cand(0, 100.0, 0.40), // hits nodule 2
            cand(1, 2.9, 0.70),   // hits nodule 3 (2.9 < 3)
            cand(1, 52.0, 0.99),  // hits only the ignored finding: left out
            cand(1, 30.0, 0.20),  // FP
        ];
        let m = match_candidates(&lesions, &cands, 1.0);
        assert_eq!(m.lesion_scores, vec![Some(0.95), Some(0.40), Some(0.70)]);
        assert_eq!(m.false_positives, vec![0.90, 0.20]);
        assert_eq!(m.ignored_candidates, 1);
        // Thresholds 0.95, 0.90, 0.70, 0.40, 0.20 (by hand):
        //   0.95: TP 1, FP 0; 0.90: TP 1, FP 1; 0.70: TP 2, FP 1; 0.40: TP 3, FP 1; 0.20: TP 3, FP 2.
        let c = froc_curve(&m.lesion_scores, &m.false_positives, 2);
        let pts: Vec<(f64, f64)> = c.iter().map(|p| (p.fp_per_scan, p.sensitivity)).collect();
        assert_eq!(
            pts,
            vec![
                (0.0, 0.0),
                (0.0, 1.0 / 3.0),
                (0.5, 1.0 / 3.0),
                (0.5, 2.0 / 3.0),
                (0.5, 1.0),
                (1.0, 1.0)
            ]
        );
        // numpy.interp(x, fps, sens) with fps [0, 0, .5, .5, .5, 1], sens [0, 1/3, 1/3, 2/3, 1, 1]:
        // x = 0.125 → 1/3; 0.25 → 1/3; 0.5 → 1 (the last of the equal points); beyond → 1.
        assert_eq!(sensitivity_at(&c, 0.125), Some(1.0 / 3.0));
        assert_eq!(sensitivity_at(&c, 0.25), Some(1.0 / 3.0));
        assert_eq!(sensitivity_at(&c, 0.5), Some(1.0));
        assert_eq!(sensitivity_at(&c, 8.0), Some(1.0));
        // CPM = (1/3 + 1/3 + 1 + 1 + 1 + 1 + 1) / 7 = 17/21. The LUNA16 script's computation
        // on these matched candidates (scikit-learn 1.9.1 roc_curve, fps = fpr * 2 FPs / 2
        // scans, sens = tpr * 3 detected / 3 lesions, numpy.interp at the seven rates) gives
        // the same sensitivities and CPM 0.8095238095238094.
        assert!((cpm(&c).unwrap() - 17.0 / 21.0).abs() < 1e-15);
    }

    #[test]
    fn the_bootstrap_curve_with_unit_weights_is_the_curve() {
        let lesions = [
            lesion(0, 0.0, 10.0),
            lesion(0, 100.0, 10.0),
            lesion(1, 0.0, 6.0),
        ];
        let cands = [
            cand(0, 2.0, 0.95),
            cand(0, 5.0, 0.90),
            cand(1, 2.9, 0.70),
            cand(1, 30.0, 0.20),
        ];
        let m = match_candidates(&lesions, &cands, 1.0);
        let plain = froc_curve(&m.lesion_scores, &m.false_positives, 2);
        assert_eq!(weighted_curve(&m, &[1, 1]).unwrap(), plain);
        // Scan 1 drawn twice, scan 0 never: lesions 3 of scan 1 counted twice.
        let w = weighted_curve(&m, &[0, 2]).unwrap();
        assert_eq!(w.last().unwrap().sensitivity, 1.0);
        assert_eq!(w.last().unwrap().fp_per_scan, 1.0);
        let a = froc_bootstrap(&m, 2, 200, 3, 0.95, cpm).unwrap();
        let b = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .unwrap()
            .install(|| froc_bootstrap(&m, 2, 200, 3, 0.95, cpm).unwrap());
        assert_eq!(a, b);
        assert_eq!(a.estimate, cpm(&plain).unwrap());
    }

    #[test]
    fn edge_cases() {
        assert!(froc_curve(&[], &[0.5], 3).is_empty());
        assert_eq!(cpm(&[]), None);
        // No candidate: every lesion missed, sensitivity 0 at every rate.
        let m = match_candidates(&[lesion(0, 0.0, 10.0)], &[], 1.0);
        assert_eq!(m.lesion_scores, vec![None]);
        let c = froc_curve(&m.lesion_scores, &[], 1);
        assert_eq!(cpm(&c), Some(0.0));
    }
}
