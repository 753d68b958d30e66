//! `dicom.conformance` on generated files with one planted defect each: attest finds exactly
//! the planted defect, and agrees file by file with dciodvfy (dicom3tools), whose errors on the
//! same files are recorded in tests/fixtures/dciodvfy/results.txt by
//! bench/conformance/compare.sh.

use std::collections::{BTreeMap, BTreeSet};

use assert_cmd::Command;
use serde_json::Value;

#[test]
fn planted_defects_are_found_exactly_and_agree_with_dciodvfy() {
    let d = tempfile::tempdir().unwrap();
    let planted = attest::synth::write_conformance_fixtures(&d.path().join("dicom")).unwrap();
    std::fs::write(
        d.path().join("s.yaml"),
        "attest: 1\nid: c\nversion: '1'\ntitle: C\ndata:\n  images: { dicom: dicom }\n\
         requirements:\n  - id: CONF\n    title: C\n    check: dicom.conformance\n    data: images\n",
    )
    .unwrap();
    Command::cargo_bin("attest")
        .unwrap()
        .env("ATTEST_PSEUDONYM_KEY", "k")
        .current_dir(d.path())
        .args(["run", "s.yaml", "--quiet", "--out", "out"])
        .assert()
        .code(1);
    let r: Value =
        serde_json::from_str(&std::fs::read_to_string(d.path().join("out/report.json")).unwrap())
            .unwrap();
    let req = &r["requirements"][0];
    // file → "code (Keyword)" as found by attest.
    let mut found: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for f in req["findings"].as_array().unwrap() {
        let subject = f["subject"].as_str().unwrap();
        let (file, what) = subject.split_once(' ').unwrap();
        found
            .entry(file.to_string())
            .or_default()
            .push(format!("{} {what}", f["code"].as_str().unwrap()));
    }
    for p in &planted {
        let expected: Vec<String> = if p.expected.is_empty() {
            vec![]
        } else {
            vec![p.expected.to_string()]
        };
        assert_eq!(
            found.get(p.file).cloned().unwrap_or_default(),
            expected,
            "{}: {}",
            p.file,
            p.description
        );
    }
    // 1 conformant file of 14.
    assert_eq!(
        req["measurements"][0]["estimate"].as_f64().unwrap(),
        1.0 / 14.0
    );

    // dciodvfy's verdicts on the same files (recorded, with its version, in the fixture).
    let recorded = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/dciodvfy/results.txt"
    ))
    .unwrap();
    let dciodvfy_flags: BTreeSet<&str> = recorded
        .lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| l.split('\t').next().unwrap())
        .collect();
    let attest_flags: BTreeSet<&str> = found.keys().map(String::as_str).collect();
    assert_eq!(attest_flags, dciodvfy_flags);
    // And on the attribute: every flagged keyword appears in dciodvfy's error for that file.
    for (file, items) in &found {
        for item in items {
            let keyword = item.split('(').nth(1).unwrap().trim_end_matches(')');
            assert!(
                recorded
                    .lines()
                    .any(|l| l.starts_with(file.as_str()) && l.contains(&format!("/{keyword}("))),
                "{file}: dciodvfy does not flag {keyword}"
            );
        }
    }
}
