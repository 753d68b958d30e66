//! Overlap of two binary masks: Dice and IoU (Jaccard).

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

/// The Dice similarity coefficient of two masks of the same grid.
///
/// # Formula
/// Dice = 2|A ∩ B| / (|A| + |B|).
///
/// # Edge cases
/// Both masks empty: 1.0 (two readers who agree nothing is there agree perfectly; Metrics
/// Reloaded recommends stating this case explicitly rather than dropping it). One empty, the
/// other not: 0.0. Panics when the lengths differ (a programming error: callers compare grids
/// first).
///
/// # References
/// Dice LR (1945) Ecology 26:297–302; Maier-Hein L et al. (2024) Metrics Reloaded, Nat
/// Methods 21:195–212 (empty reference and prediction).
///
/// # Example
/// ```
/// use attest::stats::overlap::dice;
/// // 3 shared voxels, 4 and 3 voxels: 2·3/(4+3).
/// let a = [true, true, true, true, false];
/// let b = [true, true, true, false, false];
/// assert!((dice(&a, &b) - 6.0 / 7.0).abs() < 1e-15);
/// ```
pub fn dice(a: &[bool], b: &[bool]) -> f64 {
    let (i, na, nb) = counts(a, b);
    if na + nb == 0 {
        return 1.0;
    }
    2.0 * i as f64 / (na + nb) as f64
}

/// The intersection over union (Jaccard index) of two masks of the same grid.
///
/// # Formula
/// IoU = |A ∩ B| / |A ∪ B| = Dice / (2 − Dice).
///
/// # Edge cases
/// As [`dice`]: both empty 1.0, one empty 0.0, lengths differing panic.
///
/// # References
/// Jaccard P (1912) New Phytol 11:37–50.
///
/// # Example
/// ```
/// use attest::stats::overlap::iou;
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
    use super::*;

    #[test]
    fn hand_derivations() {
        // A = {0,1,2,3}, B = {2,3,4}: |A∩B| = 2; Dice = 4/7; IoU = 2/5.
        let a = [true, true, true, true, false, false];
        let b = [false, false, true, true, true, false];
        assert!((dice(&a, &b) - 4.0 / 7.0).abs() < 1e-15);
        assert!((iou(&a, &b) - 0.4).abs() < 1e-15);
        // IoU = Dice / (2 - Dice).
        let d = dice(&a, &b);
        assert!((iou(&a, &b) - d / (2.0 - d)).abs() < 1e-15);
        assert_eq!(dice(&[false; 3], &[false; 3]), 1.0);
        assert_eq!(dice(&[true, false], &[false, false]), 0.0);
        assert_eq!(iou(&[false; 3], &[false; 3]), 1.0);
    }

    #[test]
    #[should_panic(expected = "same number of voxels")]
    fn different_grids_are_a_programming_error() {
        dice(&[true], &[true, false]);
    }
}
