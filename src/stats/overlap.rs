//! Overlap of two binary masks on the same voxel grid: the Dice similarity coefficient and the
//! intersection over union (Jaccard index). Both are higher-is-better, in [0, 1], symmetric in
//! their two masks, and count voxels (no spacing: equal grids give equal voxel volumes).
//!
//! Empty masks are where libraries differ: scikit-learn 1.9.1 returns 0.0 (with a warning) when
//! both masks are empty unless `zero_division=1.0` is passed; the Metrics Reloaded reference
//! implementation returns 1 for Dice. Here both functions return 1.0 for two empty masks, and
//! say so.

/// Counts of a pair of masks: (|A ∩ B|, |A|, |B|).
fn counts(a: &[bool], b: &[bool]) -> (u64, u64, u64) {
    assert_eq!(
        a.len(),
        b.len(),
        "masks must have the same number of voxels (callers check the grid first)"
    );
    a.iter().zip(b).fold((0, 0, 0), |(i, na, nb), (&x, &y)| {
        (i + u64::from(x && y), na + u64::from(x), nb + u64::from(y))
    })
}

/// The Dice similarity coefficient of two masks of the same grid (higher is better; 1 is
/// identical masks, 0 no shared voxel).
///
/// # Formula
/// Dice = 2|A ∩ B| / (|A| + |B|), voxel counts; equal to the F1 score of one mask taken as
/// prediction of the other.
///
/// # Edge cases
/// - Both masks empty: 1.0. Two readers who agree that nothing is there agree perfectly; the
///   ratio itself is 0/0. Metrics Reloaded lists empty references among the properties that
///   decide how a segmentation metric must be handled, and its reference implementation
///   (`BinaryPairwiseMeasures.fbeta`, behind `dice_score`) returns 1 in this case.
///   scikit-learn's `f1_score` returns 0.0 unless `zero_division=1.0`.
/// - One empty, the other not: 0.0.
/// - Panics when the lengths differ: a programming error, since callers compare the grids
///   first (`data::masks::Mask::same_grid`).
///
/// # References
/// Dice LR (1945) Measures of the amount of ecologic association between species. Ecology
/// 26:297–302. Maier-Hein L, Reinke A, Godau P, et al. (2024) Metrics Reloaded:
/// recommendations for image analysis validation. Nat Methods 21:195–212 (empty reference
/// and prediction); MetricsReloaded `pairwise_measures.py`.
///
/// # Example
/// ```
/// use attest::stats::overlap::dice;
/// // 3 shared voxels, masks of 4 and 3 voxels: 2·3/(4+3).
/// let a = [true, true, true, true, false];
/// let b = [true, true, true, false, false];
/// assert!((dice(&a, &b) - 6.0 / 7.0).abs() < 1e-15);
/// assert_eq!(dice(&[false; 4], &[false; 4]), 1.0);
/// ```
pub fn dice(a: &[bool], b: &[bool]) -> f64 {
    let (i, na, nb) = counts(a, b);
    if na + nb == 0 {
        return 1.0;
    }
    2.0 * i as f64 / (na + nb) as f64
}

/// The intersection over union (Jaccard index) of two masks of the same grid (higher is
/// better; 1 is identical masks, 0 no shared voxel).
///
/// # Formula
/// IoU = |A ∩ B| / |A ∪ B| = Dice / (2 − Dice), voxel counts.
///
/// # Edge cases
/// As [`dice`], for the same reason: both empty 1.0 (0/0 otherwise; MetricsReloaded's
/// `intersection_over_union` leaves it NaN, scikit-learn's `jaccard_score` returns 0.0 unless
/// `zero_division=1.0`), one empty 0.0, lengths differing panic.
///
/// # References
/// Jaccard P (1912) The distribution of the flora in the alpine zone. New Phytol 11:37–50.
/// Maier-Hein L et al. (2024) Metrics Reloaded. Nat Methods 21:195–212.
///
/// # Example
/// ```
/// use attest::stats::overlap::iou;
/// // 3 shared voxels, 4 in the union.
/// let a = [true, true, true, true, false];
/// let b = [true, true, true, false, false];
/// assert!((iou(&a, &b) - 0.75).abs() < 1e-15);
/// ```
pub fn iou(a: &[bool], b: &[bool]) -> f64 {
    let (i, na, nb) = counts(a, b);
    let union = na + nb - i;
    if union == 0 {
        return 1.0;
    }
    i as f64 / union as f64
}

#[cfg(test)]
mod tests {
    use super::super::tolerance::{assert_close, Tol};
    use super::*;

    #[test]
    fn hand_derivations() {
        // 3 of 4 voxels overlapping: A = {0,1,2,3}, B = {0,1,2}: Dice = 2·3/(4+3) = 6/7,
        // IoU = 3/4.
        let a = [true, true, true, true, false];
        let b = [true, true, true, false, false];
        assert_close(dice(&a, &b), 6.0 / 7.0, Tol::Rel(1e-15), "hand: 6/7");
        assert_close(iou(&a, &b), 0.75, Tol::Rel(1e-15), "hand: 3/4");
        // A = {0,1,2,3}, B = {2,3,4}: |A∩B| = 2, |A∪B| = 5; Dice = 4/7; IoU = 2/5.
        let a = [true, true, true, true, false, false];
        let b = [false, false, true, true, true, false];
        assert_close(dice(&a, &b), 4.0 / 7.0, Tol::Rel(1e-15), "hand: 4/7");
        assert_close(iou(&a, &b), 0.4, Tol::Rel(1e-15), "hand: 2/5");
        // IoU = Dice / (2 - Dice), and both are symmetric.
        let d = dice(&a, &b);
        assert_close(iou(&a, &b), d / (2.0 - d), Tol::Rel(1e-15), "identity");
        assert_eq!(dice(&b, &a), d);
        // Identical masks, disjoint masks, empty masks.
        assert_eq!(dice(&a, &a), 1.0);
        assert_eq!(iou(&a, &a), 1.0);
        assert_eq!(dice(&[true, false], &[false, true]), 0.0);
        assert_eq!(dice(&[false; 3], &[false; 3]), 1.0);
        assert_eq!(iou(&[false; 3], &[false; 3]), 1.0);
        assert_eq!(dice(&[true, false], &[false, false]), 0.0);
        assert_eq!(iou(&[false, false], &[false, true]), 0.0);
        assert_eq!(dice(&[], &[]), 1.0);
    }

    #[test]
    fn matches_scikit_learn_on_two_discs() {
        // Two overlapping discs on a 16 × 16 grid, x fastest. scikit-learn 1.9.1 (numpy 2.4.6):
        //   y, x = np.mgrid[0:16, 0:16]
        //   a = ((x - 7)**2 + (y - 7)**2 <= 16).ravel()
        //   b = ((x - 8)**2 + (y - 6)**2 <= 13).ravel()
        //   repr(float(sklearn.metrics.f1_score(a, b)))       # 0.7659574468085106
        //   repr(float(sklearn.metrics.jaccard_score(a, b)))  # 0.6206896551724138
        // (|A| = 49, |B| = 45, |A∩B| = 36: 72/94 and 36/58.)
        let disc = |cx: i64, cy: i64, r2: i64| -> Vec<bool> {
            (0..256)
                .map(|i| {
                    let (x, y) = (i % 16, i / 16);
                    (x - cx).pow(2) + (y - cy).pow(2) <= r2
                })
                .collect()
        };
        let (a, b) = (disc(7, 7, 16), disc(8, 6, 13));
        let source = "scikit-learn 1.9.1 f1_score / jaccard_score";
        assert_close(dice(&a, &b), 0.7659574468085106, Tol::Rel(1e-15), source);
        assert_close(iou(&a, &b), 0.6206896551724138, Tol::Rel(1e-15), source);
    }

    #[test]
    #[should_panic(expected = "same number of voxels")]
    fn different_grids_are_a_programming_error() {
        dice(&[true], &[true, false]);
    }
}
