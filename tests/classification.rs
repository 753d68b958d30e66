//! `classification` beyond the basic metrics: one-sided tests stated in the spec (goal,
//! superiority, non-inferiority against a second model), Holm's adjustment, calibration, and
//! bootstraps clustered by patient, through the whole CLI.
//!
//! Data and expected values: tests/fixtures/classification/ (gen.py: SciPy, statsmodels,
//! scikit-learn; make.R: pROC 1.18.0). Each comparison names its source.

mod common;

use std::path::Path;

use serde_json::Value;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/classification");

fn py() -> Value {
    serde_json::from_str(&std::fs::read_to_string(format!("{FIXTURES}/expected_py.json")).unwrap())
        .unwrap()
}

fn proc_value(name: &str) -> f64 {
    let text = std::fs::read_to_string(format!("{FIXTURES}/expected_proc.csv")).unwrap();
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .find_map(|l| {
            let (k, v) = l.split_once(',')?;
            (k == name).then(|| v.parse().unwrap())
        })
        .unwrap_or_else(|| panic!("{name} not in expected_proc.csv"))
}

#[track_caller]
fn close(actual: &Value, expected: f64, rel: f64, source: &str) {
    let a = actual
        .as_f64()
        .unwrap_or_else(|| panic!("no value (expected {expected}, {source}): {actual}"));
    assert!(
        (a - expected).abs() <= rel * expected.abs(),
        "{a} vs {expected} ({source})"
    );
}

/// A folder holding the fixture data and a spec of the given requirements.
fn run(requirements: &str) -> (i32, Vec<Value>) {
    let dir = tempfile::tempdir().unwrap();
    for f in ["truth.csv", "model_a.csv", "model_b.csv"] {
        std::fs::copy(format!("{FIXTURES}/{f}"), dir.path().join(f)).unwrap();
    }
    run_in(dir.path(), requirements)
}

fn run_in(dir: &Path, requirements: &str) -> (i32, Vec<Value>) {
    let spec = format!(
        "attest: 1
id: t
version: 1.0.0
title: T
data:
  cases: {{ table: truth.csv }}
models:
  a: {{ predictions: model_a.csv }}
  b: {{ predictions: model_b.csv }}
requirements:
{requirements}"
    );
    let (code, text, _) = common::run_spec(dir, &spec);
    let report: Value = serde_json::from_str(&text).unwrap();
    (code, report["requirements"].as_array().unwrap().clone())
}

#[test]
fn paired_auc_tests_match_proc() {
    let (_, reqs) = run("  - id: NI
    title: AUC non-inferior to b
    check: classification
    model: a
    truth: cases
    metric: auc
    test: { kind: noninferiority, against: b, margin: 0.05, alpha: 0.05 }
  - id: SUP
    title: AUC superior to b
    check: classification
    model: a
    truth: cases
    metric: auc
    test: { kind: superiority, against: b }
  - id: GOAL
    title: AUC above 0.70
    check: classification
    model: a
    truth: cases
    metric: auc
    test: { kind: goal, value: 0.70 }
");
    let ni = &reqs[0]["measurements"][0]["test"];
    let src = "pROC 1.18.0 var/cov (DeLong), make.R";
    close(&ni["statistic"], proc_value("z_noninferiority"), 1e-9, src);
    close(&ni["p_value"], proc_value("p_noninferiority"), 1e-7, src);
    close(
        &ni["difference_ci_low"],
        proc_value("diff_low90"),
        1e-9,
        src,
    );
    close(
        &ni["difference_ci_high"],
        proc_value("diff_high90"),
        1e-9,
        src,
    );
    close(
        &ni["against_estimate"],
        proc_value("auc_b"),
        1e-12,
        "pROC auc",
    );
    assert_eq!(ni["rejected"], true);
    assert_eq!(reqs[0]["status"], "pass");

    let sup = &reqs[1]["measurements"][0]["test"];
    let src = "pROC roc.test(paired, delong, alternative = greater)";
    close(&sup["statistic"], proc_value("z_superiority"), 1e-9, src);
    close(&sup["p_value"], proc_value("p_superiority"), 1e-8, src);
    assert_eq!(reqs[1]["measurements"][0]["p_value"], sup["p_value"]);
    assert_eq!(reqs[1]["status"], "pass");
    assert!(reqs[1]["method"]
        .as_str()
        .unwrap()
        .contains("H0: AUC(a) − AUC(b) ≤ 0"));

    let goal = &reqs[2]["measurements"][0]["test"];
    close(
        &goal["statistic"],
        proc_value("z_goal"),
        1e-9,
        "pROC var (DeLong), make.R",
    );
    close(
        &goal["p_value"],
        proc_value("p_goal"),
        1e-6,
        "pROC var, pnorm upper tail",
    );
}

#[test]
fn proportion_tests_match_scipy_and_a_numeric_likelihood() {
    let e = py();
    let (code, reqs) = run("  - id: GOAL
    title: Sensitivity above 0.80
    check: classification
    model: a
    truth: cases
    metric: sensitivity
    threshold: 0.5
    test: { kind: goal, value: 0.80 }
  - id: SUP
    title: Sensitivity superior to b
    check: classification
    model: a
    truth: cases
    metric: sensitivity
    threshold: 0.5
    test: { kind: superiority, against: b, alpha: 0.05 }
  - id: NI
    title: Specificity non-inferior to b
    check: classification
    model: a
    truth: cases
    metric: specificity
    threshold: 0.5
    test: { kind: noninferiority, against: b, margin: 0.05, alpha: 0.05 }
");
    // 81/97 against a goal of 0.80: p = 0.234, not shown. The requirement fails (exit 1).
    let goal = &reqs[0]["measurements"][0];
    close(
        &goal["test"]["p_value"],
        e["goal_sens"]["p"].as_f64().unwrap(),
        1e-9,
        "SciPy binomtest",
    );
    assert_eq!(goal["test"]["statistic"], 81.0);
    assert_eq!(goal["test"]["rejected"], false);
    assert_eq!(reqs[0]["status"], "fail");
    assert_eq!(code, 1);

    let sup = &reqs[1]["measurements"][0]["test"];
    close(
        &sup["p_value"],
        e["mcnemar_sens"]["p"].as_f64().unwrap(),
        1e-9,
        "SciPy binomtest(b, b + c, 0.5)",
    );
    close(
        &sup["against_estimate"],
        e["mcnemar_sens"]["sens_b"].as_f64().unwrap(),
        1e-12,
        "count",
    );
    assert_eq!(
        sup["statistic"], 16.0,
        "b = 16 discordant positives favour a (gen.py)"
    );
    assert_eq!(reqs[1]["status"], "pass", "p = 0.026 <= 0.05");

    let ni = &reqs[2]["measurements"][0]["test"];
    let t = &e["tango_spec"];
    let src = "numeric restricted MLE (gen.py)";
    close(&ni["statistic"], t["z"].as_f64().unwrap(), 1e-8, src);
    close(&ni["p_value"], t["p"].as_f64().unwrap(), 1e-7, src);
    close(
        &ni["difference"],
        t["difference"].as_f64().unwrap(),
        1e-12,
        src,
    );
    close(
        &ni["difference_ci_low"],
        t["ci_low"].as_f64().unwrap(),
        1e-8,
        src,
    );
    close(
        &ni["difference_ci_high"],
        t["ci_high"].as_f64().unwrap(),
        1e-8,
        src,
    );
    assert_eq!(reqs[2]["status"], "pass");
}

#[test]
fn holm_adjusts_subgroup_p_values_as_statsmodels() {
    let e = py();
    let req = |multiplicity: &str| {
        format!(
            "  - id: SITES
    title: Sensitivity above 0.70 in every site
    check: classification
    model: a
    truth: cases
    metric: sensitivity
    threshold: 0.5
    by: [site]
    test: {{ kind: goal, value: 0.70, alpha: 0.05 }}
    multiplicity: {multiplicity}
"
        )
    };
    let (_, reqs) = run(&req("holm"));
    let ms = reqs[0]["measurements"].as_array().unwrap();
    let sites = e["holm_sites"]["sites"].as_array().unwrap();
    for (k, site) in sites.iter().enumerate() {
        let m = ms
            .iter()
            .find(|m| m["group"]["site"] == *site)
            .expect("a measurement per site");
        close(
            &m["test"]["p_value"],
            e["holm_sites"]["p"][k].as_f64().unwrap(),
            1e-9,
            "SciPy binomtest",
        );
        close(
            &m["test"]["p_adjusted"],
            e["holm_sites"]["adjusted"][k].as_f64().unwrap(),
            1e-9,
            "statsmodels multipletests(holm)",
        );
        // Adjusted p-values are all above 0.05: no site is shown.
        assert_eq!(m["test"]["rejected"], false);
        assert_eq!(m["status"], "fail");
    }
    // The overall measurement is not part of the family.
    assert!(ms[0]["test"].get("p_adjusted").is_none());
    assert!(reqs[0]["method"].as_str().unwrap().contains("Holm"));

    // Without the adjustment, north (p = 0.036) is shown at 0.05.
    let (_, reqs) = run(&req("none"));
    let north = reqs[0]["measurements"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["group"]["site"] == "north")
        .unwrap()
        .clone();
    assert_eq!(north["status"], "pass");
}

#[test]
fn calibration_metrics_match_sklearn_and_statsmodels() {
    let e = py();
    let req = |id: &str, metric: &str, ci: &str| {
        format!(
            "  - id: {id}
    title: Calibration
    check: classification
    model: a
    truth: cases
    metric: {metric}
    ci: {{ method: {ci} }}
    pass: estimate >= -100
"
        )
    };
    let (_, reqs) = run(&[
        req("ECE", "ece", "bootstrap"),
        req("BRIER", "brier", "bootstrap"),
        req("SLOPE", "calibration_slope", "wald"),
        req("INTERCEPT", "calibration_intercept", "wald"),
        req("CITL", "calibration_in_the_large", "wald"),
    ]
    .concat());
    let m = |k: usize| reqs[k]["measurements"][0].clone();
    close(
        &m(0)["estimate"],
        e["ece"].as_f64().unwrap(),
        1e-12,
        "sklearn calibration_curve bins, weighted by count (gen.py)",
    );
    close(
        &m(1)["estimate"],
        e["brier"].as_f64().unwrap(),
        1e-12,
        "sklearn brier_score_loss",
    );
    close(
        &m(2)["estimate"],
        e["slope"].as_f64().unwrap(),
        1e-8,
        "statsmodels Logit",
    );
    close(
        &m(2)["std_error"],
        e["slope_se"].as_f64().unwrap(),
        1e-6,
        "statsmodels Logit bse",
    );
    close(
        &m(3)["estimate"],
        e["intercept"].as_f64().unwrap(),
        1e-8,
        "statsmodels Logit",
    );
    close(
        &m(3)["std_error"],
        e["intercept_se"].as_f64().unwrap(),
        1e-6,
        "statsmodels Logit bse",
    );
    close(
        &m(4)["estimate"],
        e["citl"].as_f64().unwrap(),
        1e-9,
        "statsmodels GLM with offset",
    );
    close(
        &m(4)["std_error"],
        e["citl_se"].as_f64().unwrap(),
        1e-6,
        "statsmodels GLM bse",
    );
    // Wald: estimate ± 1.959964 SE.
    let (est, se) = (
        m(2)["estimate"].as_f64().unwrap(),
        m(2)["std_error"].as_f64().unwrap(),
    );
    close(
        &m(2)["ci_low"],
        est - 1.959963984540054 * se,
        1e-12,
        "R qnorm(0.975)",
    );
    // The bootstrap interval holds the estimate, and the bins are there for the plot.
    for k in [0, 1] {
        let (l, h, x) = (
            m(k)["ci_low"].as_f64().unwrap(),
            m(k)["ci_high"].as_f64().unwrap(),
            m(k)["estimate"].as_f64().unwrap(),
        );
        assert!(l < x && x < h, "{l} {x} {h}");
    }
    let bins = m(0)["calibration"].as_array().unwrap().clone();
    let total: u64 = bins.iter().map(|b| b["n"].as_u64().unwrap()).sum();
    assert_eq!(total, 240);
}

#[test]
fn calibration_needs_probabilities() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        format!("{FIXTURES}/truth.csv"),
        dir.path().join("truth.csv"),
    )
    .unwrap();
    let a: String = std::fs::read_to_string(format!("{FIXTURES}/model_a.csv"))
        .unwrap()
        .lines()
        .map(|l| {
            if l.starts_with("C0003,") {
                "C0003,1.5\n".to_string()
            } else {
                format!("{l}\n")
            }
        })
        .collect();
    std::fs::write(dir.path().join("model_a.csv"), a).unwrap();
    std::fs::copy(
        format!("{FIXTURES}/model_b.csv"),
        dir.path().join("model_b.csv"),
    )
    .unwrap();
    let (code, reqs) = run_in(
        dir.path(),
        "  - id: ECE
    title: ECE
    check: classification
    model: a
    truth: cases
    metric: ece
    pass: ci_high <= 0.2
",
    );
    assert_eq!(code, 2);
    assert_eq!(reqs[0]["status"], "error");
    let f = common::findings(&reqs[0]);
    assert!(
        f.iter().any(|f| f.starts_with("not-a-probability")),
        "{f:?}"
    );
}

/// Each case written twice under one patient: a bootstrap over patients on the doubled data
/// draws exactly what a bootstrap over cases draws on the original (same seed, same number of
/// units, units in the same order), and duplicating every case changes no AUC or proportion;
/// so the two intervals are equal. Resampling the doubled cases as if independent gives a
/// narrower, wrong interval.
#[test]
fn clustered_bootstrap_counts_patients_not_cases() {
    let truth = std::fs::read_to_string(format!("{FIXTURES}/truth.csv")).unwrap();
    let scores = std::fs::read_to_string(format!("{FIXTURES}/model_a.csv")).unwrap();
    let orig = tempfile::tempdir().unwrap();
    let mut t1 = String::from("case_id,label,site,patient_id\n");
    for l in truth.lines().skip(1) {
        let f: Vec<&str> = l.split(',').collect();
        // Each case its own patient.
        t1.push_str(&format!("{},{},{},{}\n", f[0], f[1], f[2], f[0]));
    }
    std::fs::write(orig.path().join("truth.csv"), &t1).unwrap();
    std::fs::write(orig.path().join("model_a.csv"), &scores).unwrap();
    std::fs::copy(
        format!("{FIXTURES}/model_b.csv"),
        orig.path().join("model_b.csv"),
    )
    .unwrap();

    let doubled = tempfile::tempdir().unwrap();
    let mut t2 = String::from("case_id,label,site,patient_id\n");
    let mut s2 = String::from("case_id,score\n");
    for (l, s) in t1.lines().skip(1).zip(scores.lines().skip(1)) {
        let f: Vec<&str> = l.split(',').collect();
        let score = s.split(',').nth(1).unwrap();
        for copy in ["x", "y"] {
            t2.push_str(&format!("{}{copy},{},{},{}\n", f[0], f[1], f[2], f[3]));
            s2.push_str(&format!("{}{copy},{score}\n", f[0]));
        }
    }
    std::fs::write(doubled.path().join("truth.csv"), t2).unwrap();
    std::fs::write(doubled.path().join("model_a.csv"), s2).unwrap();
    std::fs::copy(
        format!("{FIXTURES}/model_b.csv"),
        doubled.path().join("model_b.csv"),
    )
    .unwrap();

    let req = |metric: &str, extra: &str, method: &str, cluster: bool| {
        format!(
            "  - id: R
    title: R
    check: classification
    model: a
    truth: cases
    metric: {metric}{extra}
    ci: {{ method: {method}, resamples: 500{} }}
    pass: ci_low >= 0.5
    missing_prediction: exclude
",
            if cluster { ", cluster: patient_id" } else { "" }
        )
    };
    for (metric, extra) in [("auc", ""), ("sensitivity", "\n    threshold: 0.5")] {
        for method in ["bootstrap", "bca"] {
            let (_, a) = run_in(orig.path(), &req(metric, extra, method, false));
            let (_, b) = run_in(doubled.path(), &req(metric, extra, method, true));
            let (_, c) = run_in(doubled.path(), &req(metric, extra, method, false));
            let (ma, mb, mc) = (
                &a[0]["measurements"][0],
                &b[0]["measurements"][0],
                &c[0]["measurements"][0],
            );
            for k in ["ci_low", "ci_high"] {
                close(
                    &mb[k],
                    ma[k].as_f64().unwrap(),
                    1e-12,
                    "bootstrap over cases of the original data",
                );
            }
            let width = |m: &Value| m["ci_high"].as_f64().unwrap() - m["ci_low"].as_f64().unwrap();
            assert!(
                width(mc) < 0.85 * width(ma),
                "{metric} {method}: ignoring the clusters narrows the interval: {} vs {}",
                width(mc),
                width(ma)
            );
            assert!(b[0]["method"]
                .as_str()
                .unwrap()
                .contains("clusters of cases (`patient_id`)"));
        }
    }
}

#[test]
fn spec_mistakes_in_tests_are_diagnosed() {
    let dir = tempfile::tempdir().unwrap();
    for f in ["truth.csv", "model_a.csv", "model_b.csv"] {
        std::fs::copy(format!("{FIXTURES}/{f}"), dir.path().join(f)).unwrap();
    }
    let check = |body: &str, code: &str| {
        std::fs::write(
            dir.path().join("spec.yaml"),
            format!(
                "attest: 1
id: t
version: 1.0.0
title: T
data:
  cases: {{ table: truth.csv }}
models:
  a: {{ predictions: model_a.csv }}
  b: {{ predictions: model_b.csv }}
requirements:
  - id: R
    title: R
    check: classification
    model: a
    truth: cases
{body}"
            ),
        )
        .unwrap();
        let out = assert_cmd::Command::cargo_bin("attest")
            .unwrap()
            .current_dir(dir.path())
            .args(["lint", "spec.yaml"])
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{body}\n{err}");
        assert!(err.contains(code), "expected {code} for:\n{body}\n{err}");
        assert!(err.contains("spec.yaml:"), "points at the file: {err}");
    };
    check(
        "    metric: auc\n    test: { kind: noninferiority, against: b }\n",
        "a `noninferiority` test needs a `margin` above 0",
    );
    check(
        "    metric: auc\n    test: { kind: superiority, against: predicate }\n",
        "`predicate` is not a model",
    );
    check(
        "    metric: auc\n    test: { kind: superiority, against: a }\n",
        "self-comparison",
    );
    check(
        "    metric: ppv\n    threshold: 0.5\n    test: { kind: superiority, against: b }\n",
        "unpaired-metric",
    );
    check(
        "    metric: ece\n    test: { kind: goal, value: 0.1 }\n",
        "untestable-metric",
    );
    check(
        "    metric: auc\n    test: { kind: goal }\n",
        "a `goal` test needs its `value`",
    );
    check(
        "    metric: auc\n    test: { kind: goal, value: 0.7 }\n    multiplicity: holm\n",
        "`multiplicity: holm` adjusts",
    );
    check(
        "    metric: sensitivity\n    threshold: 0.5\n    ci: { method: wilson, cluster: patient_id }\n    pass: ci_low >= 0.5\n",
        "`cluster` applies to the bootstrap intervals",
    );
    check("    metric: auc\n", "needs a `pass` criterion or a `test`");
    check(
        "    metric: auc\n    test: { kind: goal, value: 0.7, alpha: 0.5 }\n",
        "within [0.000001, 0.25]",
    );
    check(
        "    metric: auc\n    test: { kind: noninferiority, against: b, margin: 0.05, value: 0.9 }\n",
        "`value` has no meaning for a `noninferiority` test",
    );
    check(
        "    metric: auc\n    by: []\n    test: { kind: goal, value: 0.7 }\n    multiplicity: holm\n",
        "`multiplicity: holm` adjusts",
    );
    check(
        "    metric: auc\n    pass: p_value <= 0.05\n",
        "`p_value` is never measured here",
    );
    check(
        "    metric: auc\n    test: { kind: goal, value: 0.7 }\n    pass: difference >= 0\n",
        "`difference` is never measured here",
    );
    check(
        "    metric: auc\n    ci: { method: bca, cluster: patient_id }\n    test: { kind: goal, value: 0.7 }\n",
        "clustered-test",
    );
    check(
        "    metric: ece\n    ci: { method: wald }\n    pass: estimate <= 0.1\n",
        "unsuitable-method",
    );
}

/// The review's cases: a policy must never favour the model by what the compared model lacks,
/// and a group that could not show the claim even with a perfect model is inconclusive, not
/// failed (and vice versa).
#[test]
fn missing_comparator_predictions_and_small_groups_are_judged_conservatively() {
    let dir = tempfile::tempdir().unwrap();
    for f in ["truth.csv", "model_a.csv"] {
        std::fs::copy(format!("{FIXTURES}/{f}"), dir.path().join(f)).unwrap();
    }
    // Drop the first 15 positives from b's predictions.
    let truth = std::fs::read_to_string(format!("{FIXTURES}/truth.csv")).unwrap();
    let positives: Vec<&str> = truth
        .lines()
        .skip(1)
        .filter(|l| l.split(',').nth(1) == Some("1"))
        .map(|l| l.split(',').next().unwrap())
        .take(15)
        .collect();
    let b = std::fs::read_to_string(format!("{FIXTURES}/model_b.csv")).unwrap();
    let kept: String = b
        .lines()
        .filter(|l| !positives.contains(&l.split(',').next().unwrap()))
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(dir.path().join("model_b.csv"), &kept).unwrap();
    let req = |policy: &str| {
        format!(
            "  - id: R
    title: R
    check: classification
    model: a
    truth: cases
    metric: sensitivity
    threshold: 0.5
    test: {{ kind: superiority, against: b }}
    missing_prediction: {policy}
"
        )
    };
    let (_, w) = run_in(dir.path(), &req("worst_case"));
    // b's sensitivity with its 15 missing positives counted right, counted by hand here.
    let score_b: std::collections::HashMap<&str, f64> = kept
        .lines()
        .skip(1)
        .map(|l| {
            let (c, s) = l.split_once(',').unwrap();
            (c, s.parse().unwrap())
        })
        .collect();
    let (mut right, mut pos) = (0, 0);
    for l in truth.lines().skip(1) {
        let f: Vec<&str> = l.split(',').collect();
        if f[1] == "1" {
            pos += 1;
            right += usize::from(score_b.get(f[0]).is_none_or(|&s| s >= 0.5));
        }
    }
    let t = &w[0]["measurements"][0]["test"];
    close(
        &t["against_estimate"],
        right as f64 / pos as f64,
        1e-12,
        "hand count",
    );
    assert_eq!(w[0]["status"], "fail", "{t}");

    // b against a, non-inferiority with a criterion on the difference: b is clearly worse,
    // which is a failure, not a sample too small.
    let (_, r) = run("  - id: NI
    title: NI
    check: classification
    model: b
    truth: cases
    metric: sensitivity
    threshold: 0.5
    pass: difference_ci_low >= -0.02
    test: { kind: noninferiority, against: a, margin: 0.1 }
");
    assert_eq!(r[0]["status"], "fail");
    assert!(!common::findings(&r[0])
        .iter()
        .any(|f| f.starts_with("group-too-small")));
}

/// Three positives, both models right on all of them: even a perfect model cannot show
/// non-inferiority at 0.025 on three cases (Tango with b = 0, c = 0, n = 3, θ0 = −0.05 gives
/// p ≈ 0.35; the best table, the compared model wrong on all three, is not available because
/// it is right), so the group is inconclusive, not failed.
#[test]
fn a_subgroup_too_small_for_a_paired_test_is_inconclusive() {
    let dir = tempfile::tempdir().unwrap();
    let mut t = String::from("case_id,label,site\n");
    let mut a = String::from("case_id,score\n");
    let mut b = String::from("case_id,score\n");
    for k in 0..60 {
        let (site, label) = if k < 3 { ("tiny", 1) } else { ("big", k % 2) };
        t.push_str(&format!("c{k},{label},{site}\n"));
        let s = if label == 1 { 0.9 } else { 0.1 };
        a.push_str(&format!("c{k},{s}\n"));
        b.push_str(&format!("c{k},{s}\n"));
    }
    std::fs::write(dir.path().join("truth.csv"), t).unwrap();
    std::fs::write(dir.path().join("model_a.csv"), a).unwrap();
    std::fs::write(dir.path().join("model_b.csv"), b).unwrap();
    let (_, r) = run_in(
        dir.path(),
        "  - id: NI
    title: NI
    check: classification
    model: a
    truth: cases
    metric: sensitivity
    threshold: 0.5
    by: [site]
    test: { kind: noninferiority, against: b, margin: 0.05 }
",
    );
    let tiny = r[0]["measurements"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["group"]["site"] == "tiny")
        .unwrap()
        .clone();
    assert_eq!(tiny["status"], "inconclusive", "{tiny}");
    assert!(common::findings(&r[0])
        .iter()
        .any(|f| f == "group-too-small site=tiny"));
}

/// A label that is neither 0 nor 1 is a finding naming the table's line, and the case is left
/// out of the measurement (never read as either class); classification and model.robustness
/// share the rule. Hand count: four cases, one with label `2`, leaves three.
#[test]
fn a_label_other_than_0_or_1_is_a_finding_and_the_case_is_left_out() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("cases.csv"),
        "case_id,label\na,1\nb,0\nc,2\nd,1\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("p.csv"),
        "case_id,score\na,0.9\nb,0.2\nc,0.5\nd,0.8\n",
    )
    .unwrap();
    let spec = "attest: 1\nid: l\nversion: '1'\ntitle: L\ndata:\n  cases: { table: cases.csv }\n\
                models:\n  m: { predictions: p.csv }\nrequirements:\n  - id: S\n    title: S\n    \
                check: classification\n    model: m\n    truth: cases\n    metric: sensitivity\n    \
                threshold: 0.5\n    pass: ci_low >= 0.0\n";
    let (_, _, req) = common::run_spec(dir.path(), spec);
    assert!(
        common::findings(&req).contains(&"invalid-label cases:4".to_string()),
        "{req:#}"
    );
    assert_eq!(req["measurements"][0]["n"], 2, "positives a and d");
    // c (score 0.5, at the threshold) would be a true or false positive had it been read.
    let c = &req["measurements"][0]["confusion"];
    assert_eq!(
        (&c["tp"], &c["fp"], &c["tn"], &c["fn"]),
        (&2.into(), &0.into(), &1.into(), &0.into())
    );
}
