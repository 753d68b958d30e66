//! Inter-reader agreement: Cohen's kappa for two readers (unweighted, linear, quadratic, with
//! the Fleiss–Cohen–Everitt standard errors), Fleiss' kappa for a fixed number of readers per
//! case, Krippendorff's alpha for any number of readers with missing ratings (nominal, ordinal,
//! interval and ratio metrics), a pairwise reader matrix of Cohen's kappas, and a seeded
//! bootstrap over cases for each of them.
//!
//! Every coefficient here is "higher is better": 1 is perfect agreement, 0 is the agreement
//! expected by chance, and negative values are systematic disagreement. Each function says what
//! it returns when the coefficient is undefined (typically `None` when every rating falls in one
//! category, so chance agreement is already perfect); none returns a NaN.
//!
//! Readers are called coders in Krippendorff's vocabulary and raters in Fleiss'; cases are
//! units or subjects. The reliability data matrix is always readers × cases (one row per
//! reader), as in Krippendorff (2011).

pub mod bootstrap;
pub mod cohen;
pub mod fleiss;
pub mod krippendorff;

pub use bootstrap::{bootstrap_replicates, bootstrap_units, BootstrapCi};
pub use cohen::{
    cohen_kappa, cohen_kappa_bootstrap, cohen_kappa_labels, pairwise_cohen_kappa, CohenKappa,
    PairKappa, Weighting,
};
pub use fleiss::{
    category_counts, fleiss_kappa, fleiss_kappa_bootstrap, CategoryKappa, FleissKappa,
};
pub use krippendorff::{krippendorff_alpha, KrippendorffAlpha, Metric, Rating, ReliabilityData};

/// A cell of a contingency table or of a subjects × categories count matrix: a whole number of
/// ratings (`u32`, `u64`, `usize`) or a count held as `f64`.
pub trait Count: Copy {
    /// The count as a float (exact for whole numbers up to 2⁵³).
    fn to_f64(self) -> f64;
}

impl Count for u32 {
    fn to_f64(self) -> f64 {
        f64::from(self)
    }
}

impl Count for u64 {
    fn to_f64(self) -> f64 {
        self as f64
    }
}

impl Count for usize {
    fn to_f64(self) -> f64 {
        self as f64
    }
}

impl Count for f64 {
    fn to_f64(self) -> f64 {
        self
    }
}

/// A square or rectangular matrix of counts flattened row by row, or `None` if rows differ in
/// length from `cols`, or a count is negative or not finite.
fn flatten_counts<C: Count, R: AsRef<[C]>>(rows: &[R], cols: usize) -> Option<Vec<f64>> {
    let mut flat = Vec::with_capacity(rows.len() * cols);
    for row in rows {
        let row = row.as_ref();
        if row.len() != cols {
            return None;
        }
        for &c in row {
            let c = c.to_f64();
            if !(c.is_finite() && c >= 0.0) {
                return None;
            }
            flat.push(c);
        }
    }
    Some(flat)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The peer-tool fixture written by `tests/fixtures/agreement/gen.py` (scikit-learn,
    /// statsmodels and krippendorff; versions in its "generator" field).
    pub(super) fn peer_fixture() -> serde_json::Value {
        serde_json::from_str(include_str!(
            "../../../tests/fixtures/agreement/peer_values.json"
        ))
        .expect("peer_values.json parses")
    }

    /// A readers × cases matrix from the fixture, `null` as `None`.
    pub(super) fn fixture_ratings(v: &serde_json::Value) -> Vec<Vec<Option<f64>>> {
        v.as_array()
            .expect("ratings array")
            .iter()
            .map(|row| {
                row.as_array()
                    .expect("ratings row")
                    .iter()
                    .map(serde_json::Value::as_f64)
                    .collect()
            })
            .collect()
    }

    /// A number from the fixture.
    pub(super) fn num(v: &serde_json::Value) -> f64 {
        v.as_f64().expect("a number in peer_values.json")
    }

    #[test]
    fn fixture_records_its_generator() {
        let f = peer_fixture();
        for key in ["numpy", "scikit-learn", "statsmodels", "krippendorff"] {
            assert!(f["generator"][key].is_string(), "{key} version recorded");
        }
        assert!(include_str!("../../../tests/fixtures/agreement/peer_values.json").len() < 100_000);
    }

    #[test]
    fn flatten_rejects_ragged_and_negative() {
        assert_eq!(
            flatten_counts(&[[1u64, 2], [3, 4]], 2),
            Some(vec![1.0, 2.0, 3.0, 4.0])
        );
        assert!(flatten_counts(&[vec![1u64, 2], vec![3]], 2).is_none());
        assert!(flatten_counts(&[[1.0, -1.0]], 2).is_none());
        assert!(flatten_counts(&[[1.0, f64::NAN]], 2).is_none());
    }
}
