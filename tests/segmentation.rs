//! `segmentation` on masks written by the test, with values derived by hand.

use serde_json::Value;

mod common;

const DIMS: [usize; 3] = [6, 6, 5];
const SPACING: [f64; 3] = [0.7, 0.7, 2.5];

/// A 4 × 4 × 2 block starting at slice z0.
fn block(z0: usize) -> Vec<bool> {
    (0..180)
        .map(|i| {
            let (x, y, z) = (i % 6, (i / 6) % 6, i / 36);
            (1..5).contains(&x) && (1..5).contains(&y) && (z0..z0 + 2).contains(&z)
        })
        .collect()
}

fn run(metric: &str, extra: &str, mismatch: bool) -> (i32, Value) {
    let d = tempfile::tempdir().unwrap();
    let (r, p) = (d.path().join("ref"), d.path().join("pred"));
    let w = |dir: &std::path::Path, case: &str, v: &[bool], spacing: [f64; 3]| {
        attest::synth::write_mask(&dir.join(format!("{case}.nii.gz")), DIMS, spacing, v).unwrap();
    };
    // c1: the block one slice off; c2: identical; c3: no prediction; x9: a prediction for a
    // case the reference does not have.
    w(&r, "c1", &block(1), SPACING);
    w(&p, "c1", &block(2), SPACING);
    w(&r, "c2", &block(1), SPACING);
    w(&p, "c2", &block(1), SPACING);
    w(&r, "c3", &block(1), SPACING);
    w(&p, "x9", &block(1), SPACING);
    if mismatch {
        w(&r, "c4", &block(1), SPACING);
        w(&p, "c4", &block(1), [0.8, 0.8, 2.5]);
    }
    let spec = format!(
        "attest: 1\nid: s\nversion: '1'\ntitle: S\ndata:\n  reference: {{ masks: ref }}\nmodels:\n  seg: {{ masks: pred }}\n\
         requirements:\n  - id: SEG\n    title: S\n    check: segmentation\n    model: seg\n    truth: reference\n    metric: {metric}\n{extra}"
    );
    let (code, _, req) = common::run_spec(d.path(), &spec);
    (code, req)
}

fn estimate(r: &Value) -> f64 {
    r["measurements"][0]["estimate"].as_f64().unwrap()
}

#[test]
fn dice_and_distances_by_hand_with_a_missed_case_scored_worst() {
    // Dice: c1 shares one of two slices of a 32-voxel block, 2·16/64 = 0.5; c2 1; c3 has no
    // prediction, 0. Mean 0.5.
    let (_, r) = run("dice", "    pass: estimate >= 0.4\n", false);
    assert!((estimate(&r) - 0.5).abs() < 1e-12, "{r}");
    assert_eq!(r["measurements"][0]["n"], 3);
    let mut f = common::findings(&r);
    f.sort();
    assert_eq!(f, ["missing-prediction case c3", "unknown-case case x9"]);
    // Hausdorff: c1 one slice, 2.5 mm; c2 0; c3 the grid's diagonal,
    // sqrt((5·0.7)² + (5·0.7)² + (4·2.5)²) = sqrt(124.5) mm (NIfTI stores the spacing as
    // float32, so 0.7 reads back as 0.699999988: agreement to 1e-6).
    let (_, r) = run("hausdorff", "    pass: estimate <= 10\n", false);
    let expected = (2.5 + 0.0 + 124.5f64.sqrt()) / 3.0;
    assert!((estimate(&r) - expected).abs() < 1e-6, "{r}");
    assert_eq!(r["status"], "pass");
    // NSD at 2.5 mm: every distance of c1 is at most one slice, 1; c2 1; c3 0.
    let (_, r) = run(
        "nsd",
        "    tolerance_mm: 2.5\n    pass: estimate >= 0.6\n",
        false,
    );
    assert!((estimate(&r) - 2.0 / 3.0).abs() < 1e-12, "{r}");
}

#[test]
fn masks_on_different_grids_are_never_scored_and_never_pass() {
    let (code, r) = run("dice", "    pass: estimate >= 0.1\n", true);
    assert_eq!(code, 1);
    assert_eq!(r["status"], "inconclusive");
    assert!(common::findings(&r)
        .iter()
        .any(|f| f == "grid-mismatch case c4"));
    assert_eq!(r["measurements"][0]["n"], 3);
}
