//! `detection` on a small LUNA16-format case checked by hand and against the LUNA16 script's
//! computation, and on bad input.

use serde_json::Value;

mod common;

const LESIONS: &str = "seriesuid,coordX,coordY,coordZ,diameter_mm
s0,0,0,0,10
s0,100,0,0,10
s1,0,0,0,6
";
const EXCLUDED: &str = "seriesuid,coordX,coordY,coordZ,diameter_mm
s1,50,0,0,8
";
const CANDIDATES: &str = "seriesuid,coordX,coordY,coordZ,probability
s0,2,0,0,0.95
s0,-4.9,0,0,0.60
s0,5,0,0,0.90
s0,100,0,0,0.40
s1,2.9,0,0,0.70
s1,52,0,0,0.99
s1,30,0,0,0.20
s2,5,0,0,0.5
";

fn run(candidates: &str, requirement: &str) -> (i32, Value) {
    let d = tempfile::tempdir().unwrap();
    std::fs::write(d.path().join("lesions.csv"), LESIONS).unwrap();
    std::fs::write(d.path().join("excluded.csv"), EXCLUDED).unwrap();
    std::fs::write(d.path().join("candidates.csv"), candidates).unwrap();
    std::fs::write(d.path().join("scans.csv"), "seriesuid\ns0\ns1\ns2\n").unwrap();
    let spec = format!(
        "attest: 1\nid: d\nversion: '1'\ntitle: D\ndata:\n  scans: {{ table: scans.csv, id_column: seriesuid }}\n  \
         nodules: {{ lesions: lesions.csv, excluded: excluded.csv }}\nmodels:\n  cad: {{ detections: candidates.csv }}\n\
         requirements:\n  - id: DET\n    title: D\n    check: detection\n    model: cad\n    truth: nodules\n    scans: scans\n{requirement}"
    );
    let (code, _, req) = common::run_spec(d.path(), &spec);
    (code, req)
}

fn estimate(r: &Value) -> f64 {
    r["measurements"][0]["estimate"].as_f64().unwrap()
}

#[test]
fn cpm_and_sensitivities_of_a_hand_checked_case() {
    // Matching (hit within the radius): s0 lesion 1 hit by 0.95 and 0.60 (one TP, 0.95), 0.90
    // at exactly 5 mm is not within it (FP); s0 lesion 2 hit by 0.40; s1 lesion (3 mm radius)
    // hit by 0.70; 0.99 hits only the excluded finding (left out); 0.20 and s2's 0.5 are FPs.
    // TP [0.95, 0.40, 0.70], FP [0.90, 0.20, 0.5], 3 scans. The LUNA16 script's computation
    // (scikit-learn 1.9.1 roc_curve, fps = fpr * 3 / 3, sens = tpr * 3 / 3, numpy.interp)
    // gives sensitivities 1/3, 1/3, 2/3, 1, 1, 1, 1 at the seven rates: CPM 16/21.
    let (_, r) = run(CANDIDATES, "    metric: cpm\n    pass: estimate >= 0.7\n");
    assert!((estimate(&r) - 16.0 / 21.0).abs() < 1e-12, "{r}");
    assert_eq!(r["measurements"][0]["n"], 3);
    assert_eq!(r["status"], "pass");
    let ci = (
        &r["measurements"][0]["ci_low"],
        &r["measurements"][0]["ci_high"],
    );
    assert!(ci.0.as_f64().unwrap() <= 16.0 / 21.0 && 16.0 / 21.0 <= ci.1.as_f64().unwrap());
    assert!(common::findings(&r)
        .iter()
        .any(|f| f.starts_with("ignored-candidates")));

    let (_, r) = run(
        CANDIDATES,
        "    metric: sensitivity_at_fp\n    fp_rate: 0.5\n    pass: estimate >= 0.6\n",
    );
    assert!((estimate(&r) - 2.0 / 3.0).abs() < 1e-12);

    // At 0.5: lesions found 0.95 and 0.70 of 3; FPs 0.90 and 0.5 over 3 scans; both scans with
    // a lesion have one found.
    let (_, r) = run(
        CANDIDATES,
        "    metric: sensitivity\n    threshold: 0.5\n    pass: estimate >= 0.6\n",
    );
    assert!((estimate(&r) - 2.0 / 3.0).abs() < 1e-12);
    let (_, r) = run(
        CANDIDATES,
        "    metric: fp_per_scan\n    threshold: 0.5\n    pass: estimate <= 1\n",
    );
    assert!((estimate(&r) - 2.0 / 3.0).abs() < 1e-12);
    assert_eq!(r["measurements"][0]["n"], 3);
    let (_, r) = run(
        CANDIDATES,
        "    metric: patient_sensitivity\n    threshold: 0.5\n    pass: estimate >= 0.9\n",
    );
    assert_eq!(estimate(&r), 1.0);
    assert_eq!(r["measurements"][0]["n"], 2);

    // A 7 mm size filter ignores the 6 mm lesion: 0.70 now hits only an ignored lesion.
    let (_, r) = run(CANDIDATES, "    metric: sensitivity\n    threshold: 0.5\n    min_diameter_mm: 7\n    pass: estimate >= 0.6\n");
    assert_eq!(estimate(&r), 0.5);
    assert_eq!(r["measurements"][0]["n"], 2);
}

#[test]
fn bad_rows_and_unknown_scans_are_findings_and_never_a_pass() {
    let bad = format!("{CANDIDATES}s1,1,2,nan,0.5\ns1,1,2,3,1.7\ns9,0,0,0,0.9\n");
    let (code, r) = run(&bad, "    metric: cpm\n    pass: estimate >= 0.5\n");
    assert_eq!(code, 1);
    assert_eq!(r["status"], "inconclusive");
    let mut f = common::findings(&r);
    f.retain(|x| !x.starts_with("ignored-candidates"));
    assert_eq!(
        f,
        [
            "invalid-row candidates.csv:10",
            "invalid-row candidates.csv:11",
            "unknown-scan candidates.csv:12",
        ]
    );
    // No candidate at all: every lesion missed, CPM 0.
    let (_, r) = run(
        "seriesuid,coordX,coordY,coordZ,probability\n",
        "    metric: cpm\n    pass: estimate >= 0.5\n",
    );
    assert_eq!(estimate(&r), 0.0);
    assert_eq!(r["status"], "fail");
}

#[test]
fn missing_parameters_are_spec_errors() {
    let d = tempfile::tempdir().unwrap();
    for (f, t) in [
        ("lesions.csv", LESIONS),
        ("candidates.csv", CANDIDATES),
        ("scans.csv", "seriesuid\ns0\n"),
    ] {
        std::fs::write(d.path().join(f), t).unwrap();
    }
    std::fs::write(
        d.path().join("spec.yaml"),
        "attest: 1\nid: d\nversion: '1'\ntitle: D\ndata:\n  scans: { table: scans.csv, id_column: seriesuid }\n  \
         nodules: { lesions: lesions.csv }\nmodels:\n  cad: { detections: candidates.csv }\n\
         requirements:\n  - id: DET\n    title: D\n    check: detection\n    model: cad\n    truth: nodules\n    scans: scans\n    metric: sensitivity_at_fp\n    threshold: 0.5\n    pass: estimate >= 0.5\n",
    )
    .unwrap();
    let out = assert_cmd::Command::cargo_bin("attest")
        .unwrap()
        .current_dir(d.path())
        .args(["lint", "spec.yaml"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("needs `fp_rate`") && err.contains("`threshold` does not apply"),
        "{err}"
    );
}

#[test]
fn the_detection_example_runs_on_its_committed_data() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    // The committed data are what the generator writes.
    let fresh = tempfile::tempdir().unwrap();
    let summary = attest::synth::write_detection(fresh.path(), attest::synth::DEMO_SEED).unwrap();
    assert_eq!(summary.scans, 120);
    common::same_as_committed(
        fresh.path(),
        &root.join("testdata/detection"),
        &[
            "annotations.csv",
            "annotations_excluded.csv",
            "candidates.csv",
            "scans.csv",
        ],
        "regenerate with gen_testdata detection testdata/detection",
    );
    let out = tempfile::tempdir().unwrap();
    let run = assert_cmd::Command::cargo_bin("attest")
        .unwrap()
        .env("ATTEST_PSEUDONYM_KEY", common::KEY)
        .current_dir(root)
        .args(["run", "specs/detection.yaml", "--quiet", "--out"])
        .arg(out.path())
        .output()
        .unwrap();
    assert_eq!(run.status.code(), Some(1));
    let r: Value =
        serde_json::from_str(&std::fs::read_to_string(out.path().join("report.json")).unwrap())
            .unwrap();
    let status: Vec<(&str, &str)> = r["requirements"]
        .as_array()
        .unwrap()
        .iter()
        .map(|q| (q["id"].as_str().unwrap(), q["status"].as_str().unwrap()))
        .collect();
    assert_eq!(
        status,
        [
            ("DET-CPM", "pass"),
            ("DET-SENS-1FP", "fail"),
            ("DET-FP", "pass"),
            ("DET-PATIENT", "pass")
        ]
    );
}

#[test]
fn zero_scans_is_a_finding_and_never_a_pass() {
    let d = tempfile::tempdir().unwrap();
    std::fs::write(
        d.path().join("lesions.csv"),
        "seriesuid,coordX,coordY,coordZ,diameter_mm\n",
    )
    .unwrap();
    std::fs::write(
        d.path().join("candidates.csv"),
        "seriesuid,coordX,coordY,coordZ,probability\n",
    )
    .unwrap();
    std::fs::write(d.path().join("scans.csv"), "seriesuid\n").unwrap();
    let spec = "attest: 1\nid: d\nversion: '1'\ntitle: D\ndata:\n  scans: { table: scans.csv, id_column: seriesuid }\n  \
         nodules: { lesions: lesions.csv }\nmodels:\n  cad: { detections: candidates.csv }\n\
         requirements:\n  - id: DET\n    title: D\n    check: detection\n    model: cad\n    truth: nodules\n    scans: scans\n    metric: cpm\n    pass: estimate >= 0.5\n";
    let (code, _, r) = common::run_spec(d.path(), spec);
    assert_eq!(code, 1);
    assert_eq!(r["status"], "inconclusive");
    assert!(common::findings(&r).contains(&"no-scans scans".to_string()));
    assert!(r["measurements"][0]["estimate"].is_null());
}
