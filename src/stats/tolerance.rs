//! The one float-comparison policy of the tests (as statrs keeps `prec.rs`).

/// Asserts `|actual - expected| <= abs`, naming the source of the expected value on failure.
#[track_caller]
pub fn assert_close(actual: f64, expected: f64, abs: f64, source: &str) {
    assert!(
        (actual - expected).abs() <= abs,
        "{actual} differs from {expected} by more than {abs} (expected value from: {source})"
    );
}

/// Asserts a relative difference of at most `rel` (absolute near zero).
#[track_caller]
pub fn assert_rel(actual: f64, expected: f64, rel: f64, source: &str) {
    let scale = expected.abs().max(1e-12);
    assert!(
        (actual - expected).abs() / scale <= rel,
        "{actual} differs from {expected} by more than {rel} relative (expected value from: {source})"
    );
}
