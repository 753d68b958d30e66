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

mod structures {
    //! `structure:` with label maps (NIfTI) against DICOM SEG segments numbered differently,
    //! by hand; orientation and missing segments; spec diagnostics.

    use super::*;
    use attest::data::masks::Geometry;
    use attest::synth::{write_label_nifti, write_seg, SegInstance, SegSegment};

    /// The reference's lesion: two voxels in a corner, (0, 0, 4) and (0, 1, 4), outside both
    /// blocks.
    fn lesion() -> Vec<bool> {
        (0..180)
            .map(|i| i % 6 == 0 && (i / 6) % 6 <= 1 && i / 36 == 4)
            .collect()
    }

    fn grid() -> Geometry {
        Geometry {
            origin: [-2.0, -2.0, -10.0],
            ..Geometry::AXIAL
        }
    }

    /// Reference label map: organ (1) the block at slices 1–2, lesion (2) the corner pair.
    fn reference(dir: &std::path::Path, case: &str) {
        let labels: Vec<u8> = block(1)
            .iter()
            .zip(lesion())
            .map(|(&o, l)| if l { 2 } else { u8::from(o) })
            .collect();
        let p = dir.join(format!("{case}.nii.gz"));
        write_label_nifti(&p, DIMS, SPACING, &grid(), &labels).unwrap();
    }

    /// Model SEG: segment 1 lesion, 2 organ (the block one slice off), on `geometry`.
    fn model(
        dir: &std::path::Path,
        case: &str,
        lesion: Vec<bool>,
        numbers: &[u16],
        geometry: Geometry,
    ) {
        let all = [(1, "lesion", lesion), (2, "organ", block(2))];
        let segments = all
            .into_iter()
            .filter(|(n, ..)| numbers.contains(n))
            .map(|(number, label, voxels)| SegSegment {
                number,
                label: label.to_string(),
                category: attest::synth::ANATOMICAL_STRUCTURE,
                kind: attest::synth::LIVER,
                voxels,
            })
            .collect();
        let inst = SegInstance::new(1, case, DIMS, SPACING, geometry, segments);
        write_seg(&inst, &dir.join(format!("{case}.dcm"))).unwrap();
    }

    fn spec(requirement: &str) -> String {
        format!(
            "attest: 1\nid: s\nversion: '1'\ntitle: S\ndata:\n  reference: {{ masks: ref, structures: {{ organ: 1, lesion: 2 }} }}\n\
             models:\n  seg: {{ masks: pred, structures: {{ lesion: 1, organ: 2 }} }}\n\
             requirements:\n  - id: SEG\n    title: S\n    check: segmentation\n    model: seg\n    truth: reference\n{requirement}"
        )
    }

    fn per_case(r: &Value) -> Vec<(String, Option<f64>)> {
        r["measurements"][0]["per_case"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| (c["case"].as_str().unwrap().to_string(), c["value"].as_f64()))
            .collect()
    }

    #[test]
    fn a_named_structure_maps_label_values_to_segment_numbers() {
        let d = tempfile::tempdir().unwrap();
        let (r, p) = (d.path().join("ref"), d.path().join("pred"));
        // c1: lesion exact, organ one slice off; c2: the lesion missed (segment 1 empty).
        for case in ["c1", "c2"] {
            reference(&r, case);
        }
        model(&p, "c1", lesion(), &[1, 2], grid());
        model(&p, "c2", vec![false; 180], &[1, 2], grid());
        let run = |extra: &str| common::run_spec(d.path(), &spec(extra)).2;
        // Lesion: c1 1, c2 0 (missed: a finding). Mean 0.5.
        let q = run("    structure: lesion\n    metric: dice\n    pass: estimate >= 0.4\n");
        assert_eq!(
            per_case(&q),
            [("c1".to_string(), Some(1.0)), ("c2".to_string(), Some(0.0))]
        );
        assert!((estimate(&q) - 0.5).abs() < 1e-12, "{q}");
        assert_eq!(common::findings(&q), ["empty-structure case c2"]);
        assert!(q["method"].as_str().unwrap().contains(
            "structure `lesion` (reference label value or segment 2, model label value or segment 1)"
        ));
        // Organ: the block one slice off in both cases, 2·16/64 = 0.5.
        let q = run("    structure: organ\n    metric: dice\n    pass: estimate >= 0.4\n");
        assert_eq!(
            per_case(&q),
            [("c1".into(), Some(0.5)), ("c2".into(), Some(0.5))]
        );
        // No structure: any label against any segment. c1: 16 + 2 shared of 34 and 34 voxels,
        // 36/68; c2: 16 shared of 34 and 32, 32/66.
        let q = run("    metric: dice\n    pass: estimate >= 0.4\n");
        let v = per_case(&q);
        assert!((v[0].1.unwrap() - 36.0 / 68.0).abs() < 1e-12, "{q}");
        assert!((v[1].1.unwrap() - 32.0 / 66.0).abs() < 1e-12, "{q}");
        assert!((estimate(&q) - (36.0 / 68.0 + 32.0 / 66.0) / 2.0).abs() < 1e-12);
    }

    #[test]
    fn orientation_and_missing_segments_are_findings_and_never_pass() {
        let d = tempfile::tempdir().unwrap();
        let (r, p) = (d.path().join("ref"), d.path().join("pred"));
        for case in ["c1", "c3", "c4", "c5"] {
            reference(&r, case);
        }
        model(&p, "c1", lesion(), &[1, 2], grid());
        // c3: the model's SEG defines only segment 2 (organ).
        model(&p, "c3", lesion(), &[2], grid());
        // c4: the same slice positions, but the columns run right to left: the normal turns
        // to −z, so the reader stacks the slices from the top (origin at z = 0).
        let mut flipped = grid();
        flipped.axes[0] = [-1.0, 0.0, 0.0];
        model(&p, "c4", lesion(), &[1, 2], flipped);
        // c5: the slices stacked towards the feet from the same first position: another
        // region. The reader orders slices along the normal, so this is a different origin.
        let mut feet = grid();
        feet.axes[2] = [0.0, 0.0, -1.0];
        model(&p, "c5", lesion(), &[1, 2], feet);
        let (code, _, q) = common::run_spec(
            d.path(),
            &spec("    structure: lesion\n    metric: dice\n    pass: estimate >= 0.1\n"),
        );
        assert_eq!((code, q["status"].as_str()), (1, Some("inconclusive")));
        assert_eq!(
            per_case(&q),
            [
                ("c1".into(), Some(1.0)),
                ("c3".into(), None),
                ("c4".into(), None),
                ("c5".into(), None)
            ]
        );
        assert_eq!(q["measurements"][0]["n"], 1);
        let f = &q["findings"];
        let find = |code: &str| {
            f.as_array()
                .unwrap()
                .iter()
                .find(|x| x["code"] == code)
                .unwrap_or_else(|| panic!("no {code} in {f}"))["message"]
                .as_str()
                .unwrap()
                .to_string()
        };
        let missing = find("missing-segment");
        assert!(
            missing.contains("c3.dcm")
                && missing.contains("segment 1 is not defined")
                && missing.contains("[2]"),
            "{missing}"
        );
        let mismatch: Vec<(String, String)> = f
            .as_array()
            .unwrap()
            .iter()
            .filter(|x| x["code"] == "grid-mismatch")
            .map(|x| {
                (
                    x["subject"].as_str().unwrap().into(),
                    x["message"].as_str().unwrap().into(),
                )
            })
            .collect();
        assert_eq!(mismatch.len(), 2, "{f}");
        let (subject, m) = &mismatch[0];
        assert_eq!(subject, "case c4");
        assert!(
            m.contains("different orientation: origin (-2.0000, -2.0000, -10.0000) mm, axes (1.0000, 0.0000, 0.0000) (0.0000, 1.0000, 0.0000) (0.0000, 0.0000, 1.0000) (LPS) and origin (-2.0000, -2.0000, 0.0000) mm, axes (-1.0000, 0.0000, 0.0000) (0.0000, 1.0000, 0.0000) (0.0000, 0.0000, -1.0000) (LPS)"),
            "{m}"
        );
        let (subject, m) = &mismatch[1];
        assert_eq!(subject, "case c5");
        assert!(
            m.contains("different origin") && m.contains("(-2.0000, -2.0000, -20.0000)"),
            "{m}"
        );
    }

    #[test]
    fn other_files_and_second_masks_are_reported_with_the_requirement() {
        let d = tempfile::tempdir().unwrap();
        let (r, p) = (d.path().join("ref"), d.path().join("pred"));
        reference(&r, "c1");
        model(&p, "c1", lesion(), &[1, 2], grid());
        // A NIfTI for the same case (listed after `c1.dcm`: ignored) and a stray file.
        // Empty: were it read, the lesion would score 0.
        write_label_nifti(&p.join("c1.nii.gz"), DIMS, SPACING, &grid(), &[0; 180]).unwrap();
        std::fs::write(p.join("notes.txt"), "model run 3\n").unwrap();
        let (_, _, q) = common::run_spec(
            d.path(),
            &spec("    structure: lesion\n    metric: dice\n    pass: estimate >= 0.4\n"),
        );
        let mut f = common::findings(&q);
        f.sort();
        assert_eq!(
            f,
            ["duplicate-mask pred/c1.nii.gz", "not-a-mask pred/notes.txt"]
        );
        // The SEG was used: its lesion is exact.
        assert_eq!(per_case(&q), [("c1".into(), Some(1.0))]);
    }

    #[test]
    fn unknown_structures_are_spec_errors_with_positions() {
        let d = tempfile::tempdir().unwrap();
        for sub in ["ref", "pred"] {
            std::fs::create_dir_all(d.path().join(sub)).unwrap();
        }
        std::fs::write(d.path().join("cases.csv"), "case_id\nc1\n").unwrap();
        let text = "attest: 1\nid: s\nversion: '1'\ntitle: S\ndata:\n  reference: { masks: ref, structures: { organ: 1, lesion: 2 } }\n  \
             cases: { table: cases.csv, structures: { organ: 1 } }\n\
             models:\n  seg: { masks: pred }\n\
             requirements:\n  - id: SEG\n    title: S\n    check: segmentation\n    model: seg\n    truth: reference\n    structure: lesoin\n    metric: dice\n    pass: estimate >= 0.4\n";
        std::fs::write(d.path().join("spec.yaml"), text).unwrap();
        let out = assert_cmd::Command::cargo_bin("attest")
            .unwrap()
            .current_dir(d.path())
            .args(["lint", "spec.yaml"])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2));
        let err = String::from_utf8_lossy(&out.stderr);
        // `structure: lesoin` is line 16, its value from column 16; `structures` of `cases`
        // line 7, column 30.
        let line = text.lines().position(|l| l.contains("lesoin")).unwrap() + 1;
        assert_eq!(line, 16);
        for want in [
            "error[unknown-structure]: `lesoin` is not a structure of mask folder `reference`",
            "expected one of: `lesion`, `organ`",
            "did you mean `lesion`?",
            "error[unknown-structure]: `lesoin` is not a structure of model `seg`",
            "`seg` declares no `structures:`",
            "spec.yaml:16:16",
            "error[unused-parameter]: `structures` applies to mask folders (`masks:`) only, not to `cases`",
            "spec.yaml:7:30",
        ] {
            assert!(err.contains(want), "`{want}` missing in:\n{err}");
        }
    }
}

#[test]
fn the_segmentation_example_runs_on_its_committed_data() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let data = root.join("testdata/segmentation");
    // The committed data are what the generator writes, byte for byte.
    let fresh = tempfile::tempdir().unwrap();
    let s = attest::synth::write_segmentation(fresh.path(), attest::synth::DEMO_SEED).unwrap();
    assert_eq!((s.cases, s.lesions), (12, 9));
    let mut files = vec!["ERRORS.md".to_string()];
    for c in 1..=12 {
        files.push(format!("reference/S{c:02}.nii.gz"));
        files.push(format!("model/S{c:02}.dcm"));
    }
    let total = common::same_as_committed(
        fresh.path(),
        &data,
        &files,
        "regenerate with gen_testdata segmentation testdata/segmentation",
    );
    assert!(total < 1_000_000, "{total} bytes");

    let out = tempfile::tempdir().unwrap();
    let run = assert_cmd::Command::cargo_bin("attest")
        .unwrap()
        .env("ATTEST_PSEUDONYM_KEY", common::KEY)
        .current_dir(root)
        .args(["run", "specs/segmentation.yaml", "--quiet", "--out"])
        .arg(out.path())
        .output()
        .unwrap();
    assert_eq!(run.status.code(), Some(1));
    let r: Value =
        serde_json::from_str(&std::fs::read_to_string(out.path().join("report.json")).unwrap())
            .unwrap();
    let reqs = r["requirements"].as_array().unwrap();
    let status: Vec<(&str, &str)> = reqs
        .iter()
        .map(|q| (q["id"].as_str().unwrap(), q["status"].as_str().unwrap()))
        .collect();
    assert_eq!(
        status,
        [
            ("SEG-LIVER-DICE", "pass"),
            ("SEG-LIVER-HD95", "pass"),
            ("SEG-LIVER-NSD", "pass"),
            ("SEG-LESION-DICE", "fail"),
            ("SEG-LESION-NSD", "fail"),
        ]
    );
    // Every per-case value against tests/fixtures/seg/example_metrics.csv: the same masks
    // read with nibabel 5.4.2 and highdicom 0.28.2, Dice with numpy, HD95 and NSD with
    // DeepMind surface-distance 0.1 (example_metrics.py there).
    let csv = std::fs::read_to_string(root.join("tests/fixtures/seg/example_metrics.csv")).unwrap();
    let expected: std::collections::BTreeMap<(String, String, String), f64> = csv
        .lines()
        .skip(1)
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            (
                (f[0].into(), f[1].into(), f[2].into()),
                f[3].parse().unwrap(),
            )
        })
        .collect();
    let mut compared = 0;
    for (q, (structure, metric)) in reqs.iter().zip([
        ("liver", "dice"),
        ("liver", "hausdorff95"),
        ("liver", "nsd"),
        ("lesion", "dice"),
        ("lesion", "nsd"),
    ]) {
        let m = &q["measurements"][0];
        let cases = m["per_case"].as_array().unwrap();
        assert_eq!(cases.len(), 12);
        let mut sum = 0.0;
        for c in cases {
            let key = (
                c["case"].as_str().unwrap().to_string(),
                structure.to_string(),
                metric.to_string(),
            );
            let (got, want) = (c["value"].as_f64().unwrap(), expected[&key]);
            assert!(
                (got - want).abs() <= 1e-9 * want.abs().max(1.0),
                "{key:?}: {got} vs {want}"
            );
            sum += got;
            compared += 1;
        }
        assert!((m["estimate"].as_f64().unwrap() - sum / 12.0).abs() < 1e-12);
    }
    assert_eq!(compared, 60);
}
