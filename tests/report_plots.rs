//! The HTML report's inline SVG plots, rendered through the real template from a report built
//! by hand (so every plot kind is present whatever the checks fill today): each plot is
//! well-formed XML with an accessible name, text is escaped, nothing non-finite is written,
//! the output is byte-stable, and report.json carries the numbers but never the plots. Then
//! the detection example end to end: its CPM requirement gets an FROC plot.

use std::collections::BTreeMap;

use attest::checks::evidence::{CaseValue, Measurement, Status, TestResult};
use attest::report::model::{RequirementResult, SpecInfo, Summary, Verdict};
use attest::report::render::{self, Templates};
use attest::report::Report;
use attest::stats::calibration::Bin;
use attest::stats::froc::FrocPoint;
use attest::stats::roc::RocPoint;

mod common;

fn requirement(id: &str, check: &str, measurements: Vec<Measurement>) -> RequirementResult {
    RequirementResult {
        id: id.to_string(),
        title: format!("{id} title"),
        clause: None,
        reference: None,
        check: check.to_string(),
        pass: Some("ci_low >= 0.85".to_string()),
        status: Status::Fail,
        method: "hand-made".to_string(),
        measurements,
        findings: Vec::new(),
    }
}

fn group(site: &str) -> Option<BTreeMap<String, String>> {
    Some(BTreeMap::from([("site".to_string(), site.to_string())]))
}

fn with_ci(mut m: Measurement, e: Option<f64>, l: f64, h: f64, status: Status) -> Measurement {
    (m.estimate, m.ci_low, m.ci_high) = (e, Some(l), Some(h));
    m.ci_method = Some("wilson".to_string());
    m.ci_level = Some(0.95);
    m.n = 40;
    m.status = status;
    m
}

fn report() -> Report {
    let mut auc = with_ci(
        Measurement::new("auc", None),
        Some(0.9),
        0.85,
        0.95,
        Status::Pass,
    );
    auc.roc = Some(
        [(0.0, 0.0), (0.1, 0.6), (0.4, 0.9), (1.0, 1.0)]
            .map(|(fpr, tpr)| RocPoint {
                fpr,
                tpr,
                threshold: 0.5,
            })
            .to_vec(),
    );
    auc.test = Some(TestResult {
        kind: "noninferiority".to_string(),
        null_hypothesis: "AUC(candidate) − AUC(predicate) ≤ −0.05".to_string(),
        method: "DeLong".to_string(),
        alpha: 0.025,
        against: Some("predicate".to_string()),
        against_estimate: Some(0.88),
        difference: Some(0.02),
        difference_ci_low: Some(-0.01),
        difference_ci_high: Some(0.05),
        statistic: Some(2.1),
        p_value: Some(0.01),
        p_adjusted: None,
        rejected: Some(true),
    });
    // An empty ROC curve draws nothing.
    let mut empty = Measurement::new("auc", group("Z"));
    empty.roc = Some(Vec::new());
    let mut cal = Measurement::new("ece", None);
    cal.estimate = Some(0.04);
    cal.n = 100;
    cal.calibration = Some(vec![
        Bin {
            low: 0.0,
            high: 0.5,
            n: 60,
            mean_predicted: 0.2,
            observed: 0.25,
        },
        Bin {
            low: 0.5,
            high: 1.0,
            n: 40,
            mean_predicted: 0.8,
            observed: f64::NAN,
        },
    ]);
    let mut cpm = Measurement::new("cpm", None);
    cpm.estimate = Some(0.7);
    cpm.froc = Some(vec![
        FrocPoint {
            threshold: f64::INFINITY,
            fp_per_scan: 0.0,
            sensitivity: 0.0,
        },
        FrocPoint {
            threshold: 0.9,
            fp_per_scan: 1.0,
            sensitivity: 0.5,
        },
        FrocPoint {
            threshold: 0.1,
            fp_per_scan: 3.0,
            sensitivity: 0.9,
        },
    ]);
    let mut dice = Measurement::new("dice", None);
    dice.estimate = Some(0.8);
    dice.per_case = Some(vec![
        CaseValue {
            case: "<case&\"1\">".to_string(),
            value: Some(0.81),
        },
        CaseValue {
            case: "case-2".to_string(),
            value: Some(0.79),
        },
        CaseValue {
            case: "case-3".to_string(),
            value: None,
        },
        CaseValue {
            case: "case-4".to_string(),
            value: Some(f64::NAN),
        },
    ]);
    let sens = vec![
        with_ci(
            Measurement::new("sensitivity", None),
            Some(0.9),
            0.82,
            0.95,
            Status::Pass,
        ),
        with_ci(
            Measurement::new("sensitivity", group("A&B")),
            Some(0.85),
            0.7,
            0.93,
            Status::Fail,
        ),
        with_ci(
            Measurement::new("sensitivity", group("<C>")),
            None,
            f64::NAN,
            f64::NAN,
            Status::Inconclusive,
        ),
    ];
    Report {
        attest_version: "0".to_string(),
        generated_at: "2026-01-01T00:00:00Z".to_string(),
        spec: SpecInfo {
            id: "plots".to_string(),
            version: "1".to_string(),
            title: "Plots".to_string(),
            path: "plots.yaml".to_string(),
            sha256: "0".repeat(64),
        },
        seed: 0,
        verdict: Verdict::Fail,
        summary: Summary::default(),
        requirements: vec![
            requirement("AUC", "classification", vec![auc, empty]),
            requirement("CAL", "classification", vec![cal]),
            requirement("CPM", "detection", vec![cpm]),
            requirement("DICE", "segmentation", vec![dice]),
            requirement("SENS", "classification", sens),
        ],
        data: Vec::new(),
        inputs: Vec::new(),
        models: Vec::new(),
        pseudonym_key: "0".to_string(),
    }
}

/// Every `<svg>…</svg>` of the page.
fn svgs(html: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = html;
    while let Some(i) = rest.find("<svg") {
        let j = rest[i..].find("</svg>").expect("a closed svg") + i + "</svg>".len();
        out.push(&rest[i..j]);
        rest = &rest[j..];
    }
    out
}

#[test]
fn every_plot_is_well_formed_accessible_and_escaped() {
    let report = report();
    let t = Templates::load(None).unwrap();
    let html = t.html(&report).unwrap();
    // The stated criterion is shown, and the forest plot draws its goal.
    assert!(html.contains("Pass criterion: <code>ci_low &gt;= 0.85</code>"));
    assert!(html.contains("Dashed: the pass criterion"));
    let plots = svgs(&html);
    let labels: Vec<String> = plots
        .iter()
        .map(|svg| {
            let doc = roxmltree::Document::parse(svg).unwrap_or_else(|e| panic!("{e}: {svg}"));
            let root = doc.root_element();
            assert_eq!(root.attribute("role"), Some("img"));
            let title = root.first_element_child().unwrap();
            assert_eq!(title.tag_name().name(), "title");
            assert_eq!(title.text(), root.attribute("aria-label"));
            title.text().unwrap().to_string()
        })
        .collect();
    let kinds = [
        "ROC curve, overall",
        "Forest plot of auc: 2 rows",
        "Forest plot of AUC(candidate) − AUC(predicate)",
        "Reliability diagram, overall",
        "FROC curve, overall",
        "Distribution of dice over cases, overall: 2 cases with a value and 2 without",
        "Forest plot of sensitivity: 3 rows",
    ];
    assert_eq!(labels.len(), kinds.len(), "{labels:#?}");
    for (label, kind) in labels.iter().zip(kinds) {
        assert!(label.starts_with(kind), "{label} is not {kind}");
    }
    // The empty curve of group Z has no plot, and no broken one either.
    assert!(!html.contains("site=Z: sensitivity"));
    for bad in ["NaN", "inf\"", "Infinity"] {
        assert!(!html.contains(bad), "{bad}");
    }
    // Case ids and group values are escaped once, in the SVG and in the captions.
    assert!(html.contains("&lt;case&amp;&quot;1&quot;&gt;: 0.8100"));
    assert!(html.contains(">A&amp;B<") && html.contains(">&lt;C&gt;<"));
    assert!(html.contains("2 cases without a value are not drawn"));
    // Byte-stable.
    assert_eq!(html, t.html(&report).unwrap());
}

#[test]
fn report_json_has_the_numbers_but_no_plot() {
    let json = render::json(&report());
    assert!(!json.contains("<svg") && !json.contains("_svg") && !json.contains("forest"));
    assert!(json.contains("\"froc\"") && json.contains("\"per_case\""));
    Templates::load(None)
        .unwrap()
        .markdown(&report())
        .expect("the Markdown report renders with plot data present");
}

#[test]
fn the_detection_example_has_an_froc_plot() {
    let spec = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("specs/detection.yaml");
    let out = tempfile::tempdir().unwrap();
    let run = assert_cmd::Command::cargo_bin("attest")
        .unwrap()
        .env("ATTEST_PSEUDONYM_KEY", common::KEY)
        .args(["run", "--quiet", "--out"])
        .arg(out.path())
        .arg(&spec)
        .output()
        .unwrap();
    // The example fails a requirement on purpose (exit 1); it never errors.
    assert_eq!(run.status.code(), Some(1), "{run:?}");
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.path().join("report.json")).unwrap())
            .unwrap();
    let cpm = &json["requirements"][0]["measurements"][0];
    assert_eq!(cpm["metric"], "cpm");
    let froc = cpm["froc"].as_array().unwrap();
    assert!(froc.len() >= 2 && froc.len() <= 200, "{}", froc.len());
    let html = std::fs::read_to_string(out.path().join("report.html")).unwrap();
    let frocs: Vec<&str> = svgs(&html)
        .into_iter()
        .filter(|s| s.contains("aria-label=\"FROC curve"))
        .collect();
    // The CPM and the sensitivity at 1 FP/scan both read the curve.
    assert_eq!(frocs.len(), 2);
    for s in frocs {
        roxmltree::Document::parse(s).unwrap();
    }
}
