//! Spec validation: every problem reported at once, each with file, line, column, what was
//! expected and a suggestion where one is close.

use std::path::Path;

use attest::spec::{self, diag::SpecErrors};

/// A folder with a truth table, predictions and a DICOM folder, and a spec written into it.
fn fixture(spec_text: &str) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("cases.csv"),
        "case_id,label,site\na,1,X\nb,0,X\n",
    )
    .unwrap();
    std::fs::write(dir.path().join("pred.csv"), "case_id,score\na,0.9\nb,0.1\n").unwrap();
    std::fs::create_dir(dir.path().join("dicom")).unwrap();
    let p = dir.path().join("spec.yaml");
    std::fs::write(&p, spec_text).unwrap();
    (dir, p)
}

const HEAD: &str = "attest: 1
id: t
version: 1.0.0
title: T
data:
  images: { dicom: dicom }
  cases: { table: cases.csv }
models:
  m: { predictions: pred.csv }
requirements:
";

fn errors(body: &str) -> SpecErrors {
    let (_dir, p) = fixture(&format!("{HEAD}{body}"));
    spec::load(&p).expect_err("the spec is invalid")
}

/// (code, line, column) of each diagnostic.
fn places(e: &SpecErrors) -> Vec<(&'static str, usize, usize)> {
    e.diagnostics
        .iter()
        .map(|d| {
            let p = d.pos.clone().unwrap_or_default();
            (d.code, p.line, p.column)
        })
        .collect()
}

const GOOD_REQ: &str = "  - id: R1
    title: AUC
    check: classification
    model: m
    truth: cases
    metric: auc
    pass: ci_low >= 0.8
";

#[test]
fn a_valid_spec_loads() {
    let (_dir, p) = fixture(&format!("{HEAD}{GOOD_REQ}"));
    let s = spec::load(&p).unwrap();
    assert_eq!(s.requirements.len(), 1);
    assert_eq!(s.requirements[0].check, "classification");
}

#[test]
fn the_bundled_specs_are_valid() {
    for entry in std::fs::read_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("specs")).unwrap() {
        let p = entry.unwrap().path();
        if p.extension().is_some_and(|e| e == "yaml") {
            if let Err(e) = spec::load(&p) {
                panic!("{}", e.render());
            }
        }
    }
}

#[test]
fn malformed_yaml_points_at_line_and_column() {
    let (_dir, p) = fixture("attest: 1\nid: [unclosed\ntitle: x\n");
    let e = spec::load(&p).unwrap_err();
    assert_eq!(e.diagnostics.len(), 1);
    assert_eq!(e.diagnostics[0].code, "invalid-yaml");
    let pos = e.diagnostics[0].pos.clone().expect("a position");
    assert!(pos.line >= 2, "{pos:?}");
    let text = e.render();
    assert!(text.contains("spec.yaml:"), "{text}");
}

#[test]
fn misspelt_key_gets_did_you_mean_with_its_position() {
    let e = errors(&GOOD_REQ.replace("    metric: auc", "    metric: auc\n    treshold: 0.5"));
    assert_eq!(places(&e), vec![("unknown-key", 17, 5)]);
    let d = &e.diagnostics[0];
    assert_eq!(d.help, vec!["did you mean `threshold`?".to_string()]);
    let text = e.render();
    // The snippet shows the line and a caret under the key.
    assert!(text.contains("17 │     treshold: 0.5"), "{text}");
    assert!(text.contains("^^^^^^^^"), "{text}");
}

#[test]
fn every_problem_is_reported_at_once() {
    let body = "  - id: R1
    title: AUC
    check: classifcation
  - id: R2
    title: Sens
    check: classification
    model: m
    truth: cases
    metric: sensitivty
    pass: ci_low >= 0.8
  - id: R3
    title: Sens
    check: classification
    model: nope
    truth: cases
    metric: sensitivity
    threshold: 0.5
    ci: { method: delong }
    pass: ci_lo >= 0.8
  - id: R4
    title: CT
    check: dicom.attributes
    data: images
    expect:
      SliceThicknes: { max: 2.5 }
";
    let e = errors(body);
    assert_eq!(
        places(&e),
        vec![
            ("unknown-check", 13, 12),
            ("unknown-value", 19, 13),
            ("unknown-reference", 24, 12),
            ("unsuitable-method", 28, 19),
            ("invalid-pass", 29, 11),
            ("unknown-keyword", 35, 7),
        ],
        "{}",
        e.render()
    );
    let help: Vec<&str> = e
        .diagnostics
        .iter()
        .flat_map(|d| d.help.iter().map(String::as_str))
        .collect();
    assert_eq!(
        help,
        vec![
            "did you mean `classification`?",
            "did you mean `sensitivity`?",
            "did you mean `ci_low`?",
            "did you mean `SliceThickness`?",
        ]
    );
}

#[test]
fn missing_path_names_the_file_and_the_spec_folder() {
    let (_dir, p) = fixture(&format!(
        "{}{GOOD_REQ}",
        HEAD.replace("cases.csv }", "nosuch.csv }")
    ));
    let e = spec::load(&p).unwrap_err();
    assert_eq!(places(&e), vec![("missing-path", 7, 19)]);
    assert!(e.diagnostics[0].message.contains("nosuch.csv"));
}

#[test]
fn threshold_metrics_need_a_threshold_and_auc_refuses_one() {
    let e = errors(&GOOD_REQ.replace("metric: auc", "metric: specificity"));
    assert_eq!(places(&e)[0].0, "missing-key");
    let e = errors(&GOOD_REQ.replace("metric: auc", "metric: auc\n    threshold: 0.5"));
    assert_eq!(places(&e)[0].0, "irrelevant-key");
}

#[test]
fn duplicate_ids_and_wrong_types() {
    let body = format!("{GOOD_REQ}{GOOD_REQ}").replacen("min_n", "x", 1);
    let e = errors(&body.replacen(
        "pass: ci_low >= 0.8",
        "pass: ci_low >= 0.8\n    min_n: many",
        1,
    ));
    let codes: Vec<&str> = e.diagnostics.iter().map(|d| d.code).collect();
    assert_eq!(codes, vec!["wrong-type", "duplicate-id"]);
}

#[test]
fn schema_lists_every_check_kind() {
    let s = spec::json_schema();
    let kinds = s["properties"]["requirements"]["items"]["oneOf"]
        .as_array()
        .unwrap();
    let names: Vec<&str> = kinds
        .iter()
        .map(|k| k["properties"]["check"]["const"].as_str().unwrap())
        .collect();
    assert_eq!(names, attest::checks::registry::names());
    assert_eq!(s["additionalProperties"], false);
}
