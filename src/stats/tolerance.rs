//! The one float-comparison policy of the statistics tests (statrs keeps its own in `prec.rs`).
//!
//! Every comparison names where its expected value comes from, so a failure says which paper,
//! table or peer tool disagrees. Non-finite actual values always fail unless they equal the
//! expected value exactly, so a NaN can never pass a tolerance check.

/// How far an actual value may be from the expected one.
#[derive(Debug, Clone, Copy)]
pub enum Tol {
    /// `|actual - expected| <= eps`: for published values rounded to a number of decimals
    /// (4 decimals: 5e-5).
    Abs(f64),
    /// `|actual - expected| <= eps * |expected|`: for values from a peer tool printed with 17
    /// significant digits. An expected 0 must then be matched exactly.
    Rel(f64),
}

/// Asserts that `actual` is within `tol` of `expected`, naming the source of the expected value
/// on failure.
#[track_caller]
pub fn assert_close(actual: f64, expected: f64, tol: Tol, source: &str) {
    if actual == expected {
        return; // also covers equal infinities
    }
    let ok = actual.is_finite()
        && match tol {
            Tol::Abs(eps) => (actual - expected).abs() <= eps,
            Tol::Rel(eps) => (actual - expected).abs() <= eps * expected.abs(),
        };
    assert!(
        ok,
        "{actual:e} is not within {tol:?} of {expected:e} (expected value from: {source})"
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_within_and_rejects_outside() {
        assert_close(1.0, 1.00004, Tol::Abs(5e-5), "self");
        assert_close(1.0, 1.0 + 1e-10, Tol::Rel(1e-9), "self");
        assert_close(0.0, 0.0, Tol::Rel(1e-9), "self");
        for (a, e, t) in [
            (1.0, 1.0001, Tol::Abs(5e-5)),
            (1.0, 1.0 + 1e-8, Tol::Rel(1e-9)),
            (1e-300, 0.0, Tol::Rel(1e-9)),
            (f64::NAN, 0.5, Tol::Abs(1.0)),
            (f64::INFINITY, 0.5, Tol::Abs(1.0)),
        ] {
            let r = std::panic::catch_unwind(|| assert_close(a, e, t, "self"));
            assert!(r.is_err(), "{a} accepted as {e} within {t:?}");
        }
    }
}
