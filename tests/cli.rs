//! The `attest` command end to end: the demo, exit codes, determinism, verification, and bad
//! input that must become findings or clear errors, never a panic.

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use serde_json::Value;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn attest() -> Command {
    let mut c = Command::cargo_bin("attest").unwrap();
    c.env("ATTEST_PSEUDONYM_KEY", "test-key")
        .current_dir(root());
    c
}

fn read_json(p: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
}

fn requirement<'a>(report: &'a Value, id: &str) -> &'a Value {
    report["requirements"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == id)
        .unwrap()
}

/// Runs the demo spec into a fresh folder; returns the folder and the report.
fn run_demo(threads: &str) -> (tempfile::TempDir, Value) {
    let out = tempfile::tempdir().unwrap();
    attest()
        .env("RAYON_NUM_THREADS", threads)
        .args(["run", "specs/demo.yaml", "--quiet", "--out"])
        .arg(out.path())
        .assert()
        .code(1);
    let report = read_json(&out.path().join("report.json"));
    (out, report)
}

#[test]
fn demo_reports_exactly_the_deliberate_defects() {
    let (out, r) = run_demo("2");
    assert_eq!(r["verdict"], "fail");
    assert_eq!(requirement(&r, "PERF-AUC")["status"], "pass");
    assert_eq!(requirement(&r, "PERF-SENS")["status"], "fail");
    // Non-inferior to the predicate (paired DeLong), but not calibrated (ECE above 0.10).
    assert_eq!(requirement(&r, "PERF-AUC-NI")["status"], "pass");
    assert_eq!(
        requirement(&r, "PERF-AUC-NI")["measurements"][0]["test"]["rejected"],
        true
    );
    assert_eq!(requirement(&r, "PERF-CAL")["status"], "fail");
    let data = requirement(&r, "DATA-CT");
    assert_eq!(data["status"], "fail");
    // testdata/demo/DEFECTS.md is written by the generator beside the defects themselves.
    let defects = std::fs::read_to_string(root().join("testdata/demo/DEFECTS.md")).unwrap();
    let mut expected: Vec<(String, String)> = defects
        .lines()
        .filter(|l| l.starts_with("| dicom/"))
        .map(|l| {
            let cells: Vec<&str> = l.split('|').map(str::trim).collect();
            let file = cells[1].trim_start_matches("dicom/").to_string();
            let code = cells[3].split('`').nth(1).unwrap().to_string();
            (file, code)
        })
        .collect();
    let mut found: Vec<(String, String)> = data["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            let subject = f["subject"].as_str().unwrap();
            let file = subject.split(" (").next().unwrap().to_string();
            (file, f["code"].as_str().unwrap().to_string())
        })
        .collect();
    expected.sort();
    found.sort();
    assert_eq!(found, expected);
    // 400 instances minus the 9 with a deliberate defect conform.
    let m = &data["measurements"][0];
    assert_eq!(m["n"], 400);
    assert_eq!(m["estimate"].as_f64().unwrap(), 391.0 / 400.0);
    // Every DICOM file, the table, both models' predictions and the network's weights are
    // hashed: 403 files + 3 CSVs + 1 weights file.
    assert_eq!(r["inputs"].as_array().unwrap().len(), 407);
    for f in ["report.html", "report.md", "manifest.json"] {
        assert!(out.path().join(f).exists(), "{f}");
    }
    let html = std::fs::read_to_string(out.path().join("report.html")).unwrap();
    assert!(html.contains("<svg") && html.contains("PERF-AUC"));
    // Self-contained: the only URLs are the SVG namespace of the inline plots.
    assert_eq!(
        html.matches("http://").count(),
        html.matches("http://www.w3.org/2000/svg").count(),
        "self-contained"
    );
    assert!(!html.contains("https://"), "self-contained");
    // No patient identifier or name reaches the report.
    let text = std::fs::read_to_string(out.path().join("report.json")).unwrap();
    assert!(!text.contains("SYN1") && !text.contains("SYNTH^"));
}

/// The demo's network (models/nodule-cnn, trained on other seeds of the generator): run by
/// attest on the demo DICOMs and identified by the hash its model card states. It does not
/// score the three cases whose series folder holds an unreadable file; counted as its worst
/// answers, they are three negatives scored above every positive, so its AUC is exactly
/// 1 − 3·80/(80·120) = 0.975 (hand count: it separates every case it scored, as the
/// sensitivity's 80/80 and the robustness check's clean AUC of 1 on 197 cases show). Its
/// scores repeat bit for bit, and it is robust except to JPEG at quality 30, which wipes out
/// the tiny nodules.
#[test]
fn demo_network_is_run_identified_and_judged() {
    let (out, r) = run_demo("2");
    let card = std::fs::read_to_string(root().join("models/nodule-cnn/TRAINING.md")).unwrap();
    let m = &r["models"][0];
    assert_eq!(m["name"], "cnn");
    let sha = m["network"]["weights"]["sha256"].as_str().unwrap();
    assert!(card.contains(&format!("SHA-256: `{sha}`")), "{sha}");
    assert_eq!(
        (m["cases"].as_u64(), m["scored"].as_u64()),
        (Some(200), Some(197))
    );
    let auc = requirement(&r, "CNN-AUC");
    assert_eq!(auc["status"], "pass");
    let est = auc["measurements"][0]["estimate"].as_f64().unwrap();
    assert!(
        (est - (1.0 - 3.0 * 80.0 / (80.0 * 120.0))).abs() < 1e-12,
        "{est}"
    );
    let skipped = auc["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["code"] == "model-input")
        .count();
    assert_eq!(skipped, 3);
    let sens = requirement(&r, "CNN-SENS");
    assert_eq!(sens["status"], "pass");
    assert_eq!(sens["measurements"][0]["confusion"]["tp"], 80);
    assert_eq!(requirement(&r, "CNN-REPEAT")["status"], "pass");
    let rob = requirement(&r, "CNN-ROBUST");
    assert_eq!(rob["status"], "fail");
    let failing: Vec<&str> = rob["measurements"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["status"] == "fail")
        .map(|m| m["group"]["perturbation"].as_str().unwrap())
        .collect();
    assert_eq!(failing, ["jpeg quality=30"]);
    assert!(rob["findings"]
        .as_array()
        .unwrap()
        .iter()
        .any(|f| f["message"].as_str().unwrap().contains("auc 1.0000 clean")));
    for p in m["perturbed"].as_array().unwrap() {
        assert!(out.path().join(p["output"].as_str().unwrap()).exists());
    }
}

#[test]
fn sensitivity_matches_the_hand_count_from_the_csvs() {
    let (_out, r) = run_demo("2");
    let sens = &requirement(&r, "PERF-SENS")["measurements"][0];
    // Independent count: read both CSVs here and apply score >= 0.5.
    let cases = std::fs::read_to_string(root().join("testdata/demo/cases.csv")).unwrap();
    let preds = std::fs::read_to_string(root().join("testdata/demo/predictions.csv")).unwrap();
    let score: std::collections::HashMap<&str, f64> = preds
        .lines()
        .skip(1)
        .map(|l| {
            let (c, s) = l.split_once(',').unwrap();
            (c, s.parse().unwrap())
        })
        .collect();
    let (mut tp, mut pos) = (0, 0);
    for l in cases.lines().skip(1) {
        let f: Vec<&str> = l.split(',').collect();
        if f[1] == "1" {
            pos += 1;
            tp += u64::from(score[f[0]] >= 0.5);
        }
    }
    assert_eq!(sens["confusion"]["tp"], tp);
    assert_eq!(sens["n"], pos);
    assert_eq!(sens["estimate"].as_f64().unwrap(), tp as f64 / pos as f64);
}

#[test]
fn report_is_byte_identical_across_runs_and_thread_counts() {
    let strip = |dir: &Path| {
        let text = std::fs::read_to_string(dir.join("report.json")).unwrap();
        text.lines()
            .filter(|l| !l.trim_start().starts_with("\"generated_at\""))
            .collect::<Vec<_>>()
            .join("\n")
    };
    let (a, _) = run_demo("1");
    let (b, _) = run_demo("2");
    assert_eq!(strip(a.path()), strip(b.path()));
}

#[test]
fn verify_detects_changes_and_works_on_a_moved_copy() {
    // A project of its own: spec, data and report folder, so it can be copied and altered.
    let proj = tempfile::tempdir().unwrap();
    let p = proj.path();
    std::fs::create_dir_all(p.join("specs")).unwrap();
    std::fs::write(p.join("cases.csv"), "case_id,label\na,1\nb,0\nc,1\nd,0\n").unwrap();
    std::fs::write(
        p.join("pred.csv"),
        "case_id,score\na,0.9\nb,0.2\nc,0.7\nd,0.4\n",
    )
    .unwrap();
    std::fs::write(
        p.join("specs/s.yaml"),
        "attest: 1\nid: s\nversion: '1'\ntitle: S\ndata:\n  cases: { table: ../cases.csv }\n\
         models:\n  m: { predictions: ../pred.csv }\nrequirements:\n  - id: AUC\n    title: AUC\n\
         \x20   check: classification\n    model: m\n    truth: cases\n    metric: auc\n\
         \x20   pass: estimate >= 0.9\n",
    )
    .unwrap();
    attest()
        .current_dir(p)
        .args(["run", "specs/s.yaml", "--quiet", "--out", "out/s"])
        .assert()
        .code(0);
    attest()
        .current_dir(p)
        .args(["verify", "out/s"])
        .assert()
        .code(0)
        .stdout(predicates::str::contains(
            "6 files checked, 0 changed, missing or added",
        ));

    // The whole tree copied elsewhere verifies as is.
    let copy = tempfile::tempdir().unwrap();
    copy_tree(p, copy.path());
    attest()
        .current_dir(copy.path())
        .args(["verify", "out/s"])
        .assert()
        .code(0);
    // The report folder alone, with --inputs pointing at the spec's folder.
    let alone = tempfile::tempdir().unwrap();
    copy_tree(&p.join("out/s"), &alone.path().join("report"));
    attest()
        .args(["verify"])
        .arg(alone.path().join("report"))
        .arg("--inputs")
        .arg(p.join("specs"))
        .assert()
        .code(0);

    // A changed input and a changed output are both named.
    std::fs::write(copy.path().join("pred.csv"), "case_id,score\na,0.1\n").unwrap();
    std::fs::write(copy.path().join("out/s/report.md"), "edited").unwrap();
    attest()
        .current_dir(copy.path())
        .args(["verify", "out/s"])
        .assert()
        .code(1)
        .stdout(predicates::str::contains("CHANGED input ../pred.csv"))
        .stdout(predicates::str::contains("CHANGED output report.md"));
}

fn copy_tree(from: &Path, to: &Path) {
    for e in walkdir::WalkDir::new(from) {
        let e = e.unwrap();
        let target = to.join(e.path().strip_prefix(from).unwrap());
        if e.file_type().is_dir() {
            std::fs::create_dir_all(&target).unwrap();
        } else {
            std::fs::copy(e.path(), &target).unwrap();
        }
    }
}

/// A scratch project with a truth table, a prediction file and a spec over them.
struct Scratch {
    dir: tempfile::TempDir,
}

impl Scratch {
    fn new(cases: &str, preds: &str, extra_req: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("cases.csv"), cases).unwrap();
        std::fs::write(dir.path().join("pred.csv"), preds).unwrap();
        std::fs::create_dir(dir.path().join("dicom")).unwrap();
        let spec = format!(
            "attest: 1\nid: x\nversion: '1'\ntitle: X\ndata:\n  cases: {{ table: cases.csv }}\n\
             \x20 images: {{ dicom: dicom }}\nmodels:\n  m: {{ predictions: pred.csv }}\nrequirements:\n\
             \x20 - id: SENS\n    title: Sensitivity\n    check: classification\n    model: m\n\
             \x20   truth: cases\n    metric: sensitivity\n    threshold: 0.5\n    pass: estimate >= 0.5\n{extra_req}"
        );
        std::fs::write(dir.path().join("spec.yaml"), spec).unwrap();
        Scratch { dir }
    }

    fn run(&self, code: i32) -> Value {
        attest()
            .current_dir(self.dir.path())
            .args(["run", "spec.yaml", "--quiet", "--out", "out"])
            .assert()
            .code(code);
        read_json(&self.dir.path().join("out/report.json"))
    }
}

fn codes(req: &Value) -> Vec<String> {
    req["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            format!(
                "{} {}",
                f["code"].as_str().unwrap(),
                f["subject"].as_str().unwrap_or("")
            )
        })
        .collect()
}

#[test]
fn missing_prediction_is_an_error_unless_a_policy_is_stated() {
    let cases = "case_id,label\na,1\nb,1\nc,0\n";
    let preds = "case_id,score\na,0.9\nc,0.1\n";
    let r = Scratch::new(cases, preds, "").run(2);
    assert_eq!(r["verdict"], "error");
    let q = requirement(&r, "SENS");
    assert_eq!(q["status"], "error");
    assert_eq!(codes(q), vec!["missing-prediction case b"]);

    let r = Scratch::new(cases, preds, "    missing_prediction: worst_case\n").run(0);
    let m = &requirement(&r, "SENS")["measurements"][0];
    // b is positive and counted as missed: 1 of 2.
    assert_eq!(
        (m["confusion"]["tp"].as_u64(), m["n"].as_u64()),
        (Some(1), Some(2))
    );

    let r = Scratch::new(cases, preds, "    missing_prediction: exclude\n").run(0);
    let m = &requirement(&r, "SENS")["measurements"][0];
    assert_eq!(
        (m["confusion"]["tp"].as_u64(), m["n"].as_u64()),
        (Some(1), Some(1))
    );
}

#[test]
fn nan_scores_duplicates_and_unknown_cases_are_findings_naming_the_line() {
    let cases = "case_id,label\na,1\nb,1\nc,0\nc,1\n";
    let preds = "case_id,score\na,0.9\nb,NaN\nc,0.1\nz,0.5\n";
    let r = Scratch::new(cases, preds, "").run(2);
    let q = requirement(&r, "SENS");
    assert_eq!(
        codes(q),
        vec![
            "duplicate-case-id cases.csv:5",
            "invalid-score pred.csv:3",
            "missing-prediction case b",
            "unknown-case case z",
        ]
    );
}

#[test]
fn a_csv_without_the_score_column_is_an_error_naming_the_columns() {
    let r = Scratch::new("case_id,label\na,1\n", "case_id,prob\na,0.9\n", "").run(2);
    let q = requirement(&r, "SENS");
    assert_eq!(q["status"], "error");
    let msg = q["findings"][0]["message"].as_str().unwrap();
    assert!(
        msg.contains("no `score` column (columns are: case_id, prob)"),
        "{msg}"
    );
}

#[test]
fn an_empty_dicom_folder_is_inconclusive_never_pass() {
    let req = "  - id: CT\n    title: CT\n    check: dicom.attributes\n    data: images\n\
               \x20   expect:\n      Modality: { in: [CT] }\n";
    let r = Scratch::new("case_id,label\na,1\n", "case_id,score\na,0.9\n", req).run(1);
    let q = requirement(&r, "CT");
    assert_eq!(q["status"], "inconclusive");
    assert_eq!(codes(q), vec!["no-instances images"]);
}

#[test]
fn a_group_too_small_to_decide_is_inconclusive() {
    // Site Y has 2 positives, both found: even so, Wilson's lower bound (0.342) cannot reach
    // 0.8, so the group cannot decide and the requirement is inconclusive, not pass.
    let cases = "case_id,label,site\n".to_string()
        + &(0..40).map(|i| format!("x{i},1,X\n")).collect::<String>()
        + "y1,1,Y\ny2,1,Y\n";
    let preds = "case_id,score\n".to_string()
        + &(0..40).map(|i| format!("x{i},0.9\n")).collect::<String>()
        + "y1,0.9\ny2,0.9\n";
    let s = Scratch::new(&cases, &preds, "    by: [site]\n");
    let spec = std::fs::read_to_string(s.dir.path().join("spec.yaml"))
        .unwrap()
        .replace("pass: estimate >= 0.5", "pass: ci_low >= 0.8");
    std::fs::write(s.dir.path().join("spec.yaml"), spec).unwrap();
    let r = s.run(1);
    let q = requirement(&r, "SENS");
    assert_eq!(q["status"], "inconclusive");
    let statuses: Vec<&str> = q["measurements"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, vec!["pass", "pass", "inconclusive"]);
    assert_eq!(codes(q), vec!["group-too-small site=Y"]);
}

#[test]
fn lint_reports_problems_with_file_line_and_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("bad.yaml"), "attest: 1\nid: [x\n").unwrap();
    attest()
        .arg("lint")
        .arg(dir.path().join("bad.yaml"))
        .arg("specs/demo.yaml")
        .assert()
        .code(2)
        .stdout(predicates::str::contains("ok: specs/demo.yaml"))
        .stderr(predicates::str::contains("bad.yaml:2:5"))
        .stderr(predicates::str::contains("error[invalid-yaml]"));
    attest().args(["lint", "specs/demo.yaml"]).assert().code(0);
}

#[test]
fn run_with_a_broken_spec_exits_2_without_writing() {
    let dir = tempfile::tempdir().unwrap();
    let spec = std::fs::read_to_string(root().join("specs/demo.yaml"))
        .unwrap()
        .replace("metric: auc", "metric: acu")
        .replace(
            "../testdata",
            &root().join("testdata").display().to_string(),
        );
    std::fs::write(dir.path().join("s.yaml"), spec).unwrap();
    attest()
        .arg("run")
        .arg(dir.path().join("s.yaml"))
        .arg("--out")
        .arg(dir.path().join("out"))
        .assert()
        .code(2)
        .stderr(predicates::str::contains("unknown value `acu`"))
        .stderr(predicates::str::contains("did you mean `auc`?"));
    assert!(!dir.path().join("out").exists());
}

#[test]
fn explain_schema_and_scan() {
    attest()
        .args(["explain", "classification"])
        .assert()
        .code(0)
        .stdout(predicates::str::contains("## What it checks"));
    attest()
        .args(["explain", "clasification"])
        .assert()
        .code(2)
        .stderr(predicates::str::contains("did you mean `classification`?"));
    let out = attest()
        .arg("schema")
        .assert()
        .code(0)
        .get_output()
        .stdout
        .clone();
    let schema: Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(schema["required"][0], "attest");
    // One self-contained document: the embedded schemas of networks and pipelines have their
    // definitions inlined, so no `$ref` points at a `$defs` the root does not have.
    let text = String::from_utf8_lossy(&out);
    assert!(!text.contains("\"$ref\"") && !text.contains("\"$defs\""));
    let network =
        &schema["properties"]["models"]["additionalProperties"]["properties"]["architecture"];
    assert!(network.to_string().contains("num_classes"), "{network}");
    let out = attest()
        .args(["scan", "testdata/demo/dicom", "--json"])
        .assert()
        .code(0)
        .get_output()
        .stdout
        .clone();
    let inv: Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(inv["files"], 403);
    assert_eq!(inv["instances"], 400);
    assert_eq!(inv["by_modality"]["CT"], 398);
    assert_eq!(inv["by_modality"]["MR"], 2);
    assert_eq!(inv["patients"], 200);
    assert_eq!(inv["unreadable"].as_array().unwrap().len(), 3);
    attest()
        .args(["scan", "no/such/folder"])
        .assert()
        .code(2)
        .stderr(predicates::str::contains("no/such/folder: no such folder"));
}

#[test]
fn composition_counts_match_the_case_table() {
    let (_out, r) = run_demo("2");
    let q = requirement(&r, "DATA-SITES");
    assert_eq!(q["status"], "pass");
    // Independent count straight from the CSV.
    let cases = std::fs::read_to_string(root().join("testdata/demo/cases.csv")).unwrap();
    let header: Vec<&str> = cases.lines().next().unwrap().split(',').collect();
    let site = header.iter().position(|h| *h == "site").unwrap();
    let mut expected: std::collections::BTreeMap<String, u64> = Default::default();
    for l in cases.lines().skip(1) {
        *expected
            .entry(l.split(',').nth(site).unwrap().to_string())
            .or_default() += 1;
    }
    let found: std::collections::BTreeMap<String, u64> = q["measurements"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["metric"] == "share")
        .map(|m| {
            (
                m["group"]["site"].as_str().unwrap().to_string(),
                m["n"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(found, expected);
    let devices = requirement(&r, "DATA-DEVICES");
    assert_eq!(devices["measurements"][0]["estimate"], 4.0);
    // One study per case: the manufacturers' study counts add up to the number of cases.
    let studies: u64 = devices["measurements"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["metric"] == "share")
        .map(|m| m["n"].as_u64().unwrap())
        .sum();
    assert_eq!(studies, expected.values().sum::<u64>());
}

#[test]
fn composition_constraints_fail_with_findings_naming_the_stratum() {
    // Ages 5, 30, 30, 50, 70, 70, 70, 70 in bands cut at 18 and 65:
    // <18: 1, 18–65: 3, >=65: 4 (hand count).
    let ages = [5, 30, 30, 50, 70, 70, 70, 70];
    let cases = "case_id,label,age\n".to_string()
        + &ages
            .iter()
            .enumerate()
            .map(|(i, a)| format!("c{i},1,{a}\n"))
            .collect::<String>();
    let preds = "case_id,score\n".to_string()
        + &(0..ages.len())
            .map(|i| format!("c{i},0.9\n"))
            .collect::<String>();
    let req = "  - id: AGE\n    title: Ages\n    check: dataset.composition\n    data: cases\n\
               \x20   by: [age]\n    bins: [18, 65]\n    min_count: 2\n    max_share: 0.45\n\
               \x20   require: ['<18', '>=65', 'unknown']\n";
    let r = Scratch::new(&cases, &preds, req).run(1);
    let q = requirement(&r, "AGE");
    assert_eq!(q["status"], "fail");
    let counts: Vec<(String, u64)> = q["measurements"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["metric"] == "share")
        .map(|m| {
            (
                m["group"]["age"].as_str().unwrap().to_string(),
                m["n"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        counts,
        vec![("18–65".into(), 3), ("<18".into(), 1), (">=65".into(), 4)]
    );
    assert_eq!(
        codes(q),
        vec![
            "stratum-too-small age=<18",
            "stratum-dominates age=>=65",
            "missing-stratum age=unknown",
        ]
    );
}

#[test]
fn composition_without_constraints_is_a_spec_error() {
    let dir = tempfile::tempdir().unwrap();
    let spec = std::fs::read_to_string(root().join("specs/demo.yaml"))
        .unwrap()
        .replace("    min_count: 30\n    max_share: 0.40\n", "")
        .replace(
            "../testdata",
            &root().join("testdata").display().to_string(),
        );
    std::fs::write(dir.path().join("s.yaml"), spec).unwrap();
    attest()
        .arg("lint")
        .arg(dir.path().join("s.yaml"))
        .assert()
        .code(2)
        .stderr(predicates::str::contains("error[no-constraint]"));
}

#[test]
fn a_zero_width_interval_never_passes() {
    // 2 positives and 2 negatives perfectly separated: AUC 1 with DeLong variance 0, so the
    // "interval" [1, 1] says nothing; the requirement is inconclusive, not pass.
    let cases = "case_id,label\na,1\nb,1\nc,0\nd,0\n";
    let preds = "case_id,score\na,0.9\nb,0.8\nc,0.2\nd,0.1\n";
    let s = Scratch::new(cases, preds, "");
    let spec = std::fs::read_to_string(s.dir.path().join("spec.yaml"))
        .unwrap()
        .replace(
            "metric: sensitivity\n    threshold: 0.5\n    pass: estimate >= 0.5",
            "metric: auc\n    pass: ci_low >= 0.8",
        );
    std::fs::write(s.dir.path().join("spec.yaml"), spec).unwrap();
    let r = s.run(1);
    let q = requirement(&r, "SENS");
    assert_eq!(q["status"], "inconclusive");
    assert_eq!(q["measurements"][0]["estimate"], 1.0);
    assert!(q["measurements"][0]["ci_low"].is_null());
    // Wald at 2/2 has zero width too.
    let s = Scratch::new(cases, preds, "    ci: { method: wald }\n");
    let spec = std::fs::read_to_string(s.dir.path().join("spec.yaml"))
        .unwrap()
        .replace("pass: estimate >= 0.5", "pass: ci_low >= 0.5");
    std::fs::write(s.dir.path().join("spec.yaml"), spec).unwrap();
    assert_eq!(requirement(&s.run(1), "SENS")["status"], "inconclusive");
}

#[test]
fn a_group_whose_cases_were_all_excluded_is_still_judged() {
    let cases = "case_id,label,site\na,1,X\nb,1,X\nc,1,Y\n";
    let preds = "case_id,score\na,0.9\nb,0.9\n";
    let r = Scratch::new(
        cases,
        preds,
        "    by: [site]\n    missing_prediction: exclude\n",
    )
    .run(1);
    let q = requirement(&r, "SENS");
    assert_eq!(q["status"], "inconclusive");
    let y = &q["measurements"][2];
    assert_eq!(
        (y["group"]["site"].as_str(), y["n"].as_u64()),
        (Some("Y"), Some(0))
    );
    assert_eq!(y["status"], "inconclusive");
}

#[test]
fn html_escapes_what_comes_from_the_spec_and_the_data() {
    let cases = "case_id,label,site\na,1,<b>X</b>\n";
    let s = Scratch::new(cases, "case_id,score\na,0.9\n", "    by: [site]\n");
    let spec = std::fs::read_to_string(s.dir.path().join("spec.yaml"))
        .unwrap()
        .replace("title: X\n", "title: \"<img src=x>\"\n");
    std::fs::write(s.dir.path().join("spec.yaml"), spec).unwrap();
    s.run(0);
    let html = std::fs::read_to_string(s.dir.path().join("out/report.html")).unwrap();
    assert!(!html.contains("<img src=x>") && html.contains("&lt;img src=x&gt;"));
    assert!(!html.contains("<b>X</b>"));
}

#[test]
fn identifying_groups_and_meta_attributes_are_refused_at_lint() {
    let dir = tempfile::tempdir().unwrap();
    let spec = std::fs::read_to_string(root().join("specs/demo.yaml"))
        .unwrap()
        .replace("by: [site]\n    pass", "by: [patient_id]\n    pass")
        .replace(
            "PixelSpacing: { present: true }",
            "TransferSyntaxUID: { present: true }",
        )
        .replace("id: demo-nodule-triage", "id: ../escape")
        .replace(
            "../testdata",
            &root().join("testdata").display().to_string(),
        );
    std::fs::write(dir.path().join("s.yaml"), spec).unwrap();
    let out = attest()
        .arg("lint")
        .arg(dir.path().join("s.yaml"))
        .assert()
        .code(2);
    let err = String::from_utf8_lossy(&out.get_output().stderr).to_string();
    for code in ["invalid-id", "identifying-group", "meta-attribute"] {
        assert!(err.contains(&format!("error[{code}]")), "{code}: {err}");
    }
}

#[test]
fn verify_reports_a_file_added_to_a_dicom_folder() {
    let proj = tempfile::tempdir().unwrap();
    let p = proj.path();
    copy_tree(&root().join("testdata/demo"), &p.join("data"));
    copy_tree(&root().join("models"), &p.join("models"));
    let spec = std::fs::read_to_string(root().join("specs/demo.yaml"))
        .unwrap()
        .replace("../testdata/demo", "data")
        .replace("../models", "models");
    std::fs::write(p.join("s.yaml"), spec).unwrap();
    attest()
        .current_dir(p)
        .args(["run", "s.yaml", "--quiet", "--out", "out"])
        .assert()
        .code(1);
    attest()
        .current_dir(p)
        .args(["verify", "out"])
        .assert()
        .code(0);
    std::fs::write(p.join("data/dicom/site-A/extra.dcm"), b"new").unwrap();
    attest()
        .current_dir(p)
        .args(["verify", "out"])
        .assert()
        .code(1)
        .stdout(predicates::str::contains(
            "ADDED input data/dicom/site-A/extra.dcm",
        ));
}

#[test]
fn a_template_that_fails_to_render_still_leaves_report_json() {
    // A user's --templates with a mistake: the run says which template failed and exits 2, and
    // the evidence itself (report.json, manifest.json) is still written.
    let d = tempfile::tempdir().unwrap();
    let t = d.path().join("templates");
    std::fs::create_dir_all(&t).unwrap();
    std::fs::write(t.join("report.html.tera"), "{{ r.no_such_field.deeper }}").unwrap();
    let out = d.path().join("out");
    let run = Command::cargo_bin("attest")
        .unwrap()
        .env("ATTEST_PSEUDONYM_KEY", "k")
        .current_dir(root())
        .args(["run", "specs/demo.yaml", "--quiet", "--out"])
        .arg(&out)
        .arg("--templates")
        .arg(&t)
        .output()
        .unwrap();
    assert_eq!(run.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&run.stderr).contains("report.html.tera"));
    assert!(out.join("report.json").exists());
    assert!(out.join("report.md").exists());
    assert!(out.join("manifest.json").exists());
    assert!(!out.join("report.html").exists());
}

#[test]
fn lint_says_how_many_positives_a_sensitivity_goal_needs() {
    // specs/demo.yaml PERF-SENS: ci_low >= 0.85 (Wilson 95%: one-sided alpha 0.025), planning
    // expected 0.92, power 0.8. The exact binomial search in R (qbinom/pbinom, see
    // stats::proportion::exact_binomial_plan) gives 169 positives, 153 of them detected; the
    // demo's cases.csv has 80 positives (24, 24, 20 and 12 per site).
    let out = Command::cargo_bin("attest")
        .unwrap()
        .current_dir(root())
        .args(["lint", "specs/demo.yaml"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("needs 169 positives (at least 153 of them correct)"),
        "{text}"
    );
    assert!(text.contains("overall: 80 positives: too few"), "{text}");
    assert!(text.contains("site=D: 12 positives: too few"), "{text}");
}

#[test]
fn planning_applies_to_a_lower_bound_goal_on_a_proportion() {
    let d = tempfile::tempdir().unwrap();
    std::fs::write(d.path().join("t.csv"), "case_id,label\nc1,1\n").unwrap();
    std::fs::write(d.path().join("p.csv"), "case_id,score\nc1,0.5\n").unwrap();
    std::fs::write(
        d.path().join("s.yaml"),
        "attest: 1\nid: s\nversion: '1'\ntitle: S\ndata:\n  t: { table: t.csv }\nmodels:\n  m: { predictions: p.csv }\n\
         requirements:\n  - id: A\n    title: A\n    check: classification\n    model: m\n    truth: t\n    metric: auc\n    pass: ci_low >= 0.8\n    planning: { expected: 0.9 }\n\
         \x20 - id: B\n    title: B\n    check: classification\n    model: m\n    truth: t\n    metric: sensitivity\n    threshold: 0.5\n    pass: estimate >= 0.8\n    planning: { expected: 0.9 }\n",
    )
    .unwrap();
    let out = Command::cargo_bin("attest")
        .unwrap()
        .current_dir(d.path())
        .args(["lint", "s.yaml"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("`planning` applies to sensitivity and specificity, not `auc`"),
        "{err}"
    );
    assert!(
        err.contains("needs a goal on the interval's lower bound"),
        "{err}"
    );
}

#[test]
fn auc_bootstrap_and_bca_intervals_are_seeded_and_near_delong() {
    // On the demo's 200 cases the bootstrap intervals (percentile, BCa) of the AUC should lie
    // close to DeLong's (the large-sample theory they approximate), be reproducible, and not
    // depend on the thread count.
    let spec = |method: &str| {
        format!(
            "attest: 1\nid: b\nversion: '1'\ntitle: B\ndata:\n  cases: {{ table: {0}/testdata/demo/cases.csv }}\n\
             models:\n  m: {{ predictions: {0}/testdata/demo/predictions.csv }}\nrequirements:\n  - id: A\n    title: A\n\
             \x20   check: classification\n    model: m\n    truth: cases\n    metric: auc\n    ci: {{ method: {method}, resamples: 2000 }}\n    pass: ci_low >= 0.8\n",
            root().display()
        )
    };
    let run = |method: &str, threads: &str| -> (f64, f64) {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("s.yaml");
        std::fs::write(&p, spec(method)).unwrap();
        let out = d.path().join("out");
        Command::cargo_bin("attest")
            .unwrap()
            .env("ATTEST_PSEUDONYM_KEY", "k")
            .env("RAYON_NUM_THREADS", threads)
            .current_dir(root())
            .arg("run")
            .arg(&p)
            .args(["--quiet", "--seed", "11", "--out"])
            .arg(&out)
            .assert()
            .code(0);
        let r = read_json(&out.join("report.json"));
        let m = &r["requirements"][0]["measurements"][0];
        (
            m["ci_low"].as_f64().unwrap(),
            m["ci_high"].as_f64().unwrap(),
        )
    };
    let delong = run("delong", "2");
    for method in ["bootstrap", "bca"] {
        let a = run(method, "2");
        assert_eq!(a, run(method, "1"), "{method}: same seed, same interval");
        assert!(
            (a.0 - delong.0).abs() < 0.03 && (a.1 - delong.1).abs() < 0.03,
            "{method} {a:?} vs DeLong {delong:?}"
        );
    }
}
