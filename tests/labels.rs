//! The label-set checks on small label sets written in the test, each defect planted by hand
//! with the finding it must cause.

use serde_json::Value;

mod common;

const REGISTRY: &str = "annotators:
  - id: R01
    role: radiologist
    years_experience: 9
    training: [{ course: protocol v2, date: 2025-01-02 }]
    assessments: [{ date: 2025-01-03, passed: true }]
  - id: R02
    role: radiologist
    years_experience: 4
    training: [{ course: protocol v2, date: 2025-01-02 }]
    assessments: [{ date: 2025-01-03, passed: true }]
  - id: R05
    role: resident
    years_experience: 1
    training: [{ course: protocol v2, date: 2025-03-01 }]
  - id: A01
    role: arbitrator
    years_experience: 15
  - id: Q01
    role: quality_evaluator
    years_experience: 8
  - id: M1
    role: model
    version: 1.3.0
";

const HEADER: &str = "event_id,case_id,task,label,annotator_id,created_at,tool,tool_version,source,revises,round,reviewed_by,reviewed_at,decision\n";

/// A clean programme: two reads of c1 and c2 (c2 disagreeing, adjudicated by A01), an AI
/// pre-annotation of c3 accepted by R01 and one of c4 edited by R02; Q01 re-reviews R01's read
/// of c1.
const CLEAN: &[&str] = &[
    "E1,c1,m,nodule,R01,2025-02-01T09:00:00+08:00,viewer,2.1,human,,1,Q01,2025-02-03T09:00:00+08:00,accept",
    "E2,c1,m,nodule,R02,2025-02-01T09:05:00+08:00,viewer,2.1,human,,1,,,",
    "E3,c2,m,nodule,R01,2025-02-01T09:10:00+08:00,viewer,2.1,human,,1,,,",
    "E4,c2,m,no_nodule,R02,2025-02-01T09:15:00+08:00,viewer,2.1,human,,1,,,",
    "E5,c2,m,nodule,A01,2025-02-02T10:00:00+08:00,viewer,2.1,adjudication,,,,,",
    "E6,c3,m,no_nodule,M1,2025-02-04T01:00:00+08:00,nodule-net,1.3.0,ai_preannotation,,,R01,2025-02-05T09:00:00+08:00,accept",
    "E7,c4,m,no_nodule,M1,2025-02-04T01:00:00+08:00,nodule-net,1.3.0,ai_preannotation,,,R02,2025-02-05T09:10:00+08:00,edit",
    "E8,c4,m,nodule,R02,2025-02-05T09:11:00+08:00,viewer,2.1,human,E7,,,,",
];

fn run(rows: &[&str], requirement: &str) -> (i32, Value) {
    let d = tempfile::tempdir().unwrap();
    let mut text = HEADER.to_string();
    for r in rows {
        text.push_str(r);
        text.push('\n');
    }
    std::fs::write(d.path().join("events.csv"), text).unwrap();
    std::fs::write(d.path().join("annotators.yaml"), REGISTRY).unwrap();
    std::fs::write(
        d.path().join("cases.csv"),
        "case_id,label\nc1,1\nc2,1\nc3,0\nc4,1\n",
    )
    .unwrap();
    let spec = format!(
        "attest: 1\nid: l\nversion: '1'\ntitle: L\ndata:\n  cases: {{ table: cases.csv }}\n  \
         reads: {{ labels: events.csv, registry: annotators.yaml }}\nrequirements:\n{requirement}"
    );
    let (code, _, req) = common::run_spec(d.path(), &spec);
    (code, req)
}

fn codes(req: &Value) -> Vec<String> {
    let mut c: Vec<String> = common::findings(req);
    c.sort();
    c
}

const PROVENANCE: &str =
    "  - id: P\n    title: P\n    check: labels.provenance\n    labels: reads\n    cases: cases\n";

#[test]
fn a_clean_label_set_has_complete_chains() {
    let (code, req) = run(CLEAN, PROVENANCE);
    assert_eq!(codes(&req), Vec::<String>::new());
    assert_eq!(code, 0);
    // Final labels: E1 and E2 (c1), E5 (c2's adjudication), E6 (c3), E8 (c4).
    assert_eq!(req["measurements"][0]["n"], 5);
    assert_eq!(req["measurements"][0]["estimate"], 1.0);
}

#[test]
fn each_planted_provenance_defect_is_one_finding() {
    let mut rows: Vec<String> = CLEAN.iter().map(|s| s.to_string()).collect();
    // A broken link, an unregistered annotator, a self-review, an edit older than what it
    // edits, an AI pre-annotation nobody reviewed, an AI event without the model's version,
    // an event for a case the case table does not list, and an unreadable row.
    rows.push("E9,c1,m,nodule,R01,2025-02-06T09:00:00+08:00,viewer,2.1,human,E404,,,,".into());
    rows.push("E10,c2,m,nodule,X99,2025-02-06T09:00:00+08:00,viewer,2.1,human,,1,,,".into());
    rows[1] = "E2,c1,m,nodule,R02,2025-02-01T09:05:00+08:00,viewer,2.1,human,,1,R02,2025-02-02T09:00:00+08:00,accept".into();
    rows[7] = "E8,c4,m,nodule,R02,2025-02-03T09:11:00+08:00,viewer,2.1,human,E7,,,,".into();
    rows.push(
        "E11,c5,m,nodule,M1,2025-02-04T01:00:00+08:00,nodule-net,,ai_preannotation,,,,,".into(),
    );
    rows.push("E12,c3,m,nodule,R01,2025-02-31T09:00:00+08:00,viewer,2.1,human,,1,,,".into());
    let rows: Vec<&str> = rows.iter().map(String::as_str).collect();
    let (code, req) = run(&rows, PROVENANCE);
    assert_eq!(code, 1);
    assert_eq!(
        codes(&req),
        [
            "broken-chain events.csv:10 (event E9)",
            "invalid-event events.csv:13",
            "model-version-missing events.csv:12 (event E11)",
            "self-review events.csv:3 (event E2)",
            "time-order events.csv:9 (event E8)",
            "unconfirmed-ai-label events.csv:12 (event E11)",
            "unknown-annotator events.csv:11 (event E10)",
            "unknown-case events.csv:12 (event E11)",
        ]
    );
}

#[test]
fn reads_need_adjudication_by_a_qualified_arbitrator() {
    let req = "  - id: R\n    title: R\n    check: labels.reads\n    labels: reads\n    task: m\n    min_reads: 2\n    scope: read\n    min_arbitrator_years: 5\n";
    let (code, r) = run(CLEAN, req);
    assert_eq!(codes(&r), Vec::<String>::new());
    assert_eq!(code, 0);
    // c1 and c2 are in scope (c3, c4 have no independent read); c2 disagrees, settled by A01.
    assert_eq!(r["measurements"][0]["n"], 2);
    assert_eq!(r["measurements"][1]["n"], 1);
    assert_eq!(r["measurements"][1]["estimate"], 1.0);

    // The resident adjudicates instead, and c1 has one read only.
    let mut rows: Vec<&str> = CLEAN.to_vec();
    rows[1] = "E2,c9,m,nodule,R02,2025-02-01T09:05:00+08:00,viewer,2.1,human,,1,,,";
    rows[4] = "E5,c2,m,nodule,R05,2025-02-02T10:00:00+08:00,viewer,2.1,adjudication,,,,,";
    let (code, r) = run(&rows, req);
    assert_eq!(code, 1);
    assert_eq!(
        codes(&r),
        [
            "too-few-reads events.csv:2 (event E1)",
            "too-few-reads events.csv:3 (event E2)",
            "unqualified-arbitrator events.csv:6 (event E5)",
        ]
    );
}

#[test]
fn qualification_rules_per_task_role() {
    let req = "  - id: Q\n    title: Q\n    check: labels.qualification\n    labels: reads\n    rules:\n      annotator: { roles: [radiologist], min_years: 3, training: true, assessment: true }\n      arbitrator: { roles: [arbitrator], min_years: 10 }\n      quality_evaluator: { roles: [quality_evaluator] }\n";
    let (code, r) = run(CLEAN, req);
    assert_eq!(codes(&r), Vec::<String>::new());
    assert_eq!(code, 0);
    // R01 and R02 as annotators, A01 as arbitrator, Q01 as quality evaluator.
    assert_eq!(r["measurements"][0]["n"], 4);
    // R05 (a resident, trained only in March, never assessed) reads c1 in February.
    let mut rows: Vec<&str> = CLEAN.to_vec();
    rows.push("E9,c1,m,nodule,R05,2025-02-01T09:20:00+08:00,viewer,2.1,human,,1,,,");
    let (code, r) = run(&rows, req);
    assert_eq!(code, 1);
    assert_eq!(codes(&r), ["unqualified events.csv:10 (event E9)"]);
    let msg = r["findings"][0]["message"].as_str().unwrap();
    assert!(
        msg.contains("is a resident")
            && msg.contains("1 years")
            && msg.contains("training")
            && msg.contains("assessment"),
        "{msg}"
    );
}

#[test]
fn qc_rate_and_the_exact_upper_bound() {
    // R01 made 2 labels (E1, E3), 1 re-reviewed without error: rate 0.5; the one-sided 95%
    // Clopper-Pearson bound for 0 of 1 is 1 - 0.05^(1/1) = 0.95 (hand derivation), so a limit
    // of 0.5 cannot be shown with one review: inconclusive, not fail.
    let req = "  - id: QC\n    title: QC\n    check: labels.qc\n    labels: reads\n    task: m\n    min_rate: 0.5\n    max_error_ucl: 0.5\n";
    let (_, r) = run(CLEAN, req);
    let m = r["measurements"].as_array().unwrap();
    let r01: Vec<&Value> = m
        .iter()
        .filter(|x| x["group"]["annotator"] == "R01")
        .collect();
    assert_eq!(r01[0]["estimate"], 0.5);
    assert!((r01[1]["ci_high"].as_f64().unwrap() - 0.95).abs() < 1e-9);
    assert_eq!(r01[1]["status"], "inconclusive");
    // R02 (E2, E4, E8) had no review: rate 0 fails.
    let r02: Vec<&Value> = m
        .iter()
        .filter(|x| x["group"]["annotator"] == "R02")
        .collect();
    assert_eq!(r02[0]["status"], "fail");
    assert_eq!(r["status"], "fail");
}

/// A label set of grade or class reads: `reads[reader][case]`, None for a missing read.
fn reads_set(reads: &[Vec<Option<String>>], column: &str) -> String {
    let mut text = format!(
        "event_id,case_id,task,{column},annotator_id,created_at,tool,tool_version,source,round\n"
    );
    let mut id = 0;
    for (r, row) in reads.iter().enumerate() {
        for (c, v) in row.iter().enumerate() {
            if let Some(v) = v {
                id += 1;
                text.push_str(&format!(
                    "E{id},c{c:02},t,{v},R{r:02},2025-02-01T09:00:00Z,viewer,2.1,human,1\n"
                ));
            }
        }
    }
    text
}

fn run_agreement(events: &str, registry: &str, requirement: &str) -> Value {
    let d = tempfile::tempdir().unwrap();
    std::fs::write(d.path().join("events.csv"), events).unwrap();
    std::fs::write(d.path().join("annotators.csv"), registry).unwrap();
    let spec = format!(
        "attest: 1\nid: a\nversion: '1'\ntitle: A\ndata:\n  reads: {{ labels: events.csv, registry: annotators.csv }}\n\
         requirements:\n  - id: AG\n    title: AG\n    check: labels.agreement\n    labels: reads\n    task: t\n{requirement}"
    );
    common::run_spec(d.path(), &spec).2
}

fn registry(n: usize) -> String {
    let mut s = "id,role,years_experience\n".to_string();
    for r in 0..n {
        s.push_str(&format!("R{r:02},radiologist,5\n"));
    }
    s
}

#[test]
fn cohen_kappa_of_the_sas_example_through_a_label_set() {
    // The 3x3 table [[0,4,1],[0,8,0],[0,1,5]] (SAS PROC FREQ example, quoted in statsmodels'
    // test_inter_rater.py): kappa 0.4842, ASE 0.1380, 95% CI 0.2137-0.7547; linear-weighted
    // kappa 0.4701, CI 0.1845-0.7558. Rows are reader R00's grade, columns R01's.
    let table = [[0, 4, 1], [0, 8, 0], [0, 1, 5]];
    let (mut a, mut b) = (Vec::new(), Vec::new());
    for (i, row) in table.iter().enumerate() {
        for (j, &n) in row.iter().enumerate() {
            for _ in 0..n {
                a.push(Some((i + 1).to_string()));
                b.push(Some((j + 1).to_string()));
            }
        }
    }
    let events = reads_set(&[a, b], "grade");
    let r = run_agreement(
        &events,
        &registry(2),
        "    statistic: cohen_kappa\n    pass: ci_low >= 0.2\n",
    );
    let m = &r["measurements"][0];
    assert_eq!(m["group"]["readers"], "R00 & R01");
    assert_eq!(m["n"], 19);
    assert!(
        (m["estimate"].as_f64().unwrap() - 0.4842).abs() < 5e-5,
        "{m}"
    );
    assert!((m["ci_low"].as_f64().unwrap() - 0.2137).abs() < 5e-5, "{m}");
    assert!(
        (m["std_error"].as_f64().unwrap() - 0.1380).abs() < 5e-5,
        "{m}"
    );
    assert!(
        (m["ci_high"].as_f64().unwrap() - 0.7547).abs() < 5e-5,
        "{m}"
    );
    assert_eq!(r["status"], "pass");
    let r = run_agreement(
        &events,
        &registry(2),
        "    statistic: cohen_kappa\n    weighting: linear\n    pass: ci_low >= 0.2\n",
    );
    let m = &r["measurements"][0];
    assert!(
        (m["estimate"].as_f64().unwrap() - 0.4701).abs() < 5e-5,
        "{m}"
    );
    assert!((m["ci_low"].as_f64().unwrap() - 0.1845).abs() < 5e-5, "{m}");
    assert_eq!(r["status"], "fail");
}

#[test]
fn krippendorff_alpha_of_the_2011_example_through_a_label_set() {
    // Krippendorff (2011), 4 coders x 12 units with missing values: nominal .743, ordinal
    // .815, interval .849.
    let k: [[Option<u8>; 12]; 4] = [
        [
            Some(1),
            Some(2),
            Some(3),
            Some(3),
            Some(2),
            Some(1),
            Some(4),
            Some(1),
            Some(2),
            None,
            None,
            None,
        ],
        [
            Some(1),
            Some(2),
            Some(3),
            Some(3),
            Some(2),
            Some(2),
            Some(4),
            Some(1),
            Some(2),
            Some(5),
            None,
            Some(3),
        ],
        [
            None,
            Some(3),
            Some(3),
            Some(3),
            Some(2),
            Some(3),
            Some(4),
            Some(2),
            Some(2),
            Some(5),
            Some(1),
            None,
        ],
        [
            Some(1),
            Some(2),
            Some(3),
            Some(3),
            Some(2),
            Some(4),
            Some(4),
            Some(1),
            Some(2),
            Some(5),
            Some(1),
            None,
        ],
    ];
    let reads: Vec<Vec<Option<String>>> = k
        .iter()
        .map(|row| row.iter().map(|v| v.map(|x| x.to_string())).collect())
        .collect();
    let events = reads_set(&reads, "grade");
    for (metric, expected) in [("nominal", 0.743), ("ordinal", 0.815), ("interval", 0.849)] {
        let r = run_agreement(
            &events,
            &registry(4),
            &format!("    statistic: krippendorff_alpha\n    metric: {metric}\n    ci: {{ resamples: 500 }}\n    pass: estimate >= 0.7\n"),
        );
        let m = &r["measurements"][0];
        assert!(
            (m["estimate"].as_f64().unwrap() - expected).abs() < 5e-4,
            "{metric}: {m}"
        );
        // 11 units with at least two values; unit 12 (one value) is left out and said so.
        assert_eq!(m["n"], 11);
        assert!(
            m["ci_low"].as_f64().unwrap() < expected && expected < m["ci_high"].as_f64().unwrap()
        );
        assert!(common::findings(&r)
            .iter()
            .any(|f| f.starts_with("single-read-cases")));
    }
}

#[test]
fn fleiss_kappa_of_the_1971_example_through_a_label_set() {
    // Fleiss (1971): 30 subjects, 6 ratings each, 5 categories: kappa = .430. Fleiss' kappa
    // depends only on the counts per subject, so the ratings are given to readers R00..R05 in
    // category order.
    const COUNTS: [[usize; 5]; 30] = [
        [0, 0, 0, 6, 0],
        [0, 3, 0, 0, 3],
        [0, 1, 4, 0, 1],
        [0, 0, 0, 0, 6],
        [0, 3, 0, 3, 0],
        [2, 0, 4, 0, 0],
        [0, 0, 4, 0, 2],
        [2, 0, 3, 1, 0],
        [2, 0, 0, 4, 0],
        [0, 0, 0, 0, 6],
        [1, 0, 0, 5, 0],
        [1, 1, 0, 4, 0],
        [0, 3, 3, 0, 0],
        [1, 0, 0, 5, 0],
        [0, 2, 0, 3, 1],
        [0, 0, 5, 0, 1],
        [3, 0, 0, 1, 2],
        [5, 1, 0, 0, 0],
        [0, 2, 0, 4, 0],
        [1, 0, 2, 0, 3],
        [0, 0, 0, 0, 6],
        [0, 1, 0, 5, 0],
        [0, 2, 0, 1, 3],
        [2, 0, 0, 4, 0],
        [1, 0, 0, 4, 1],
        [0, 5, 0, 1, 0],
        [4, 0, 0, 0, 2],
        [0, 2, 0, 4, 0],
        [1, 0, 5, 0, 0],
        [0, 0, 0, 0, 6],
    ];
    let names = [
        "depression",
        "personality",
        "schizophrenia",
        "neurosis",
        "other",
    ];
    let mut reads = vec![vec![None; 30]; 6];
    for (s, counts) in COUNTS.iter().enumerate() {
        let mut reader = 0;
        for (c, &n) in counts.iter().enumerate() {
            for _ in 0..n {
                reads[reader][s] = Some(names[c].to_string());
                reader += 1;
            }
        }
    }
    let events = reads_set(&reads, "label");
    let r = run_agreement(
        &events,
        &registry(6),
        "    statistic: fleiss_kappa\n    ci: { resamples: 500 }\n    pass: estimate >= 0.4\n",
    );
    let m = &r["measurements"][0];
    assert!(
        (m["estimate"].as_f64().unwrap() - 0.430).abs() < 5e-4,
        "{m}"
    );
    assert_eq!(m["n"], 30);
    assert_eq!(r["status"], "pass");
}

#[test]
fn ai_assist_rates_and_a_rubber_stamping_reviewer() {
    // R01 reviews 12 pre-annotations 3 s apart and accepts all; R02 reviews 4 of them a minute
    // apart: accepts 2, edits 1 (changing the class), rejects 1.
    let mut rows = Vec::new();
    for i in 0..12 {
        rows.push(format!(
            "A{i},c{i:02},m,no_nodule,M1,2025-02-04T01:00:00Z,nodule-net,1.3.0,ai_preannotation,,,R01,2025-02-05T09:00:{:02}Z,accept",
            3 * i
        ));
    }
    let decisions = ["accept", "accept", "edit", "reject"];
    for (i, d) in decisions.iter().enumerate() {
        rows.push(format!(
            "B{i},d{i:02},m,no_nodule,M1,2025-02-04T01:00:00Z,nodule-net,1.3.0,ai_preannotation,,,R02,2025-02-05T10:0{i}:00Z,{d}"
        ));
    }
    rows.push("B2e,d02,m,nodule,R02,2025-02-05T10:02:30Z,viewer,2.1,human,B2,,,,".into());
    let rows: Vec<&str> = rows.iter().map(String::as_str).collect();
    let (code, r) = run(
        &rows,
        "  - id: AI\n    title: AI\n    check: labels.ai_assist\n    labels: reads\n",
    );
    assert_eq!(code, 1);
    assert_eq!(r["status"], "inconclusive");
    assert_eq!(codes(&r), ["rubber-stamping reviewer R01"]);
    let get = |metric: &str, reviewer: Option<&str>| -> f64 {
        r["measurements"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["metric"] == metric && m["group"]["reviewer"].as_str() == reviewer)
            .unwrap()["estimate"]
            .as_f64()
            .unwrap()
    };
    // Overall: 14 accepted of 16; R02: 1 edit of 4, and it changed the answer.
    assert_eq!(get("acceptance_rate", None), 14.0 / 16.0);
    assert_eq!(get("edit_rate", Some("R02")), 0.25);
    assert_eq!(get("rejection_rate", Some("R02")), 0.25);
    assert_eq!(get("edits_changing_the_answer", None), 1.0);
    // R01's gaps are all 3 s; R02's are 60 s (the 30 s edit is not a review).
    assert_eq!(get("median_review_seconds", Some("R01")), 3.0);
    assert_eq!(get("median_review_seconds", Some("R02")), 60.0);
}

#[test]
fn the_reference_standard_is_derived_documented_and_usable_as_truth() {
    // CLEAN: c1 unanimous nodule, c2 adjudicated nodule, c3 confirmed no_nodule, c4 R02's edit
    // (nodule) of a pre-annotation: all resolved. The model scores rank them perfectly.
    let d = tempfile::tempdir().unwrap();
    let mut text = HEADER.to_string();
    for r in CLEAN {
        text.push_str(r);
        text.push('\n');
    }
    std::fs::write(d.path().join("events.csv"), text).unwrap();
    std::fs::write(d.path().join("annotators.yaml"), REGISTRY).unwrap();
    std::fs::write(
        d.path().join("cases.csv"),
        "case_id,label\nc1,1\nc2,1\nc3,0\nc4,1\nc5,0\n",
    )
    .unwrap();
    std::fs::write(
        d.path().join("p.csv"),
        "case_id,score\nc1,0.9\nc2,0.8\nc3,0.1\nc4,0.7\n",
    )
    .unwrap();
    let spec = "attest: 1\nid: r\nversion: '1'\ntitle: R\ndata:\n  cases: { table: cases.csv }\n  \
                reads: { labels: events.csv, registry: annotators.yaml }\n  \
                ref: { reference: reads, task: m, rule: arbitrator, positive: [nodule] }\n\
                models:\n  m: { predictions: p.csv }\nrequirements:\n  \
                - id: REF\n    title: R\n    check: labels.reference\n    reference: ref\n    cases: cases\n  \
                - id: SENS\n    title: S\n    check: classification\n    model: m\n    truth: ref\n    metric: sensitivity\n    threshold: 0.5\n    pass: estimate >= 0.9\n";
    std::fs::write(d.path().join("spec.yaml"), spec).unwrap();
    let out = assert_cmd::Command::cargo_bin("attest")
        .unwrap()
        .env("ATTEST_PSEUDONYM_KEY", common::KEY)
        .current_dir(d.path())
        .args(["run", "spec.yaml", "--quiet", "--out", "out"])
        .output()
        .unwrap();
    let report: Value =
        serde_json::from_str(&std::fs::read_to_string(d.path().join("out/report.json")).unwrap())
            .unwrap();
    // c5 is in the case table but has no event: no reference, so the requirement fails.
    let reference = &report["requirements"][0];
    assert_eq!(codes(reference), ["no-reference case c5"]);
    assert_eq!(reference["measurements"][0]["estimate"], 0.8);
    let path = |p: &str| {
        reference["measurements"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["group"]["path"] == p)
            .map(|m| m["estimate"].as_f64().unwrap())
    };
    assert_eq!(path("unanimous"), Some(0.25));
    assert_eq!(path("adjudicated"), Some(0.25));
    assert_eq!(path("confirmed"), Some(0.5));
    // Sensitivity against the derived reference: c1, c2, c4 positive, all above 0.5.
    let sens = &report["requirements"][1];
    assert_eq!(sens["status"], "pass");
    assert_eq!(sens["measurements"][0]["n"], 3);
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn bad_label_rows_and_registries_are_reported_never_a_panic() {
    // A cycle, an unknown source, a time stamp without a zone, a duplicated event.
    let rows = [
        "E1,c1,m,nodule,R01,2025-02-01T09:00:00+08:00,viewer,2.1,human,E2,1,,,",
        "E2,c1,m,nodule,R01,2025-02-01T09:00:00+08:00,viewer,2.1,human,E1,1,,,",
        "E3,c1,m,nodule,R01,2025-02-01T09:00:00+08:00,viewer,2.1,robot,,1,,,",
        "E4,c1,m,nodule,R01,2025-02-01 09:00:00,viewer,2.1,human,,1,,,",
        "E5,c2,m,nodule,R01,2025-02-01T09:00:00+08:00,viewer,2.1,human,,1,,,",
        "E5,c2,m,nodule,R01,2025-02-01T09:00:00+08:00,viewer,2.1,human,,1,,,",
    ];
    let (code, r) = run(&rows, PROVENANCE);
    assert_eq!(code, 1);
    assert_eq!(
        codes(&r),
        [
            "duplicate-event events.csv:7",
            "invalid-event events.csv:4",
            "invalid-event events.csv:5",
            "no-final-label events.csv:2 (event E1)",
            "revision-cycle events.csv:2 (event E1)",
            "revision-cycle events.csv:3 (event E2)",
        ]
    );
    // A registry with an unknown key makes the label set unusable: error, exit 2.
    let d = tempfile::tempdir().unwrap();
    std::fs::write(
        d.path().join("events.csv"),
        format!("{HEADER}{}\n", CLEAN[0]),
    )
    .unwrap();
    std::fs::write(
        d.path().join("annotators.yaml"),
        "annotators:\n  - id: R01\n    rol: x\n",
    )
    .unwrap();
    let spec = format!(
        "attest: 1\nid: l\nversion: '1'\ntitle: L\ndata:\n  reads: {{ labels: events.csv, registry: annotators.yaml }}\nrequirements:\n{}",
        PROVENANCE.replace("    cases: cases\n", "")
    );
    let (code, _, req) = common::run_spec(d.path(), &spec);
    assert_eq!(code, 2);
    let msg = req["findings"][0]["message"].as_str().unwrap();
    assert!(
        msg.contains("annotators.yaml") && msg.contains("rol"),
        "{msg}"
    );
}

#[test]
fn the_demo_label_audit_reports_exactly_the_planted_defects() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = tempfile::tempdir().unwrap();
    let run = assert_cmd::Command::cargo_bin("attest")
        .unwrap()
        .env("ATTEST_PSEUDONYM_KEY", common::KEY)
        .current_dir(root)
        .args(["run", "specs/labels.yaml", "--quiet", "--out"])
        .arg(out.path())
        .output()
        .unwrap();
    assert_eq!(run.status.code(), Some(1));
    let r: Value =
        serde_json::from_str(&std::fs::read_to_string(out.path().join("report.json")).unwrap())
            .unwrap();
    let req = |id: &str| {
        r["requirements"]
            .as_array()
            .unwrap()
            .iter()
            .find(|q| q["id"] == id)
            .unwrap()
            .clone()
    };
    // testdata/demo/labels/DEFECTS.md is written by the generator beside the defects.
    let md = std::fs::read_to_string(root.join("testdata/demo/labels/DEFECTS.md")).unwrap();
    let mut planted: Vec<(String, String)> = md
        .lines()
        .filter(|l| l.starts_with("| E"))
        .map(|l| {
            let cells: Vec<&str> = l.split('|').map(str::trim).collect();
            (cells[3].trim_matches('`').to_string(), cells[1].to_string())
        })
        .collect();
    planted.sort();
    let mut found: Vec<(String, String)> = ["LAB-PROV", "LAB-READS"]
        .iter()
        .flat_map(|id| req(id)["findings"].as_array().unwrap().clone())
        .map(|f| {
            let subject = f["subject"].as_str().unwrap();
            let event = subject
                .split("(event ")
                .nth(1)
                .unwrap()
                .trim_end_matches(')');
            (f["code"].as_str().unwrap().to_string(), event.to_string())
        })
        .collect();
    found.sort();
    assert_eq!(found, planted);
    // The rest of the programme is as designed: the careful readers agree, the rubber-stamping
    // reviewer is flagged, the reference covers every case but the unreviewed one.
    assert_eq!(req("LAB-KAPPA")["status"], "pass");
    assert_eq!(req("LAB-ALPHA")["status"], "pass");
    assert_eq!(req("LAB-DICE")["status"], "pass");
    assert_eq!(req("LAB-AI")["status"], "inconclusive");
    assert_eq!(
        common::findings(&req("LAB-AI"))[0],
        "rubber-stamping reviewer R04"
    );
    assert_eq!(req("LAB-REF")["measurements"][0]["estimate"], 0.995);
    assert_eq!(req("PERF-AUC-REF")["status"], "pass");
    let html = std::fs::read_to_string(out.path().join("report.html")).unwrap();
    assert!(html.contains("annotation provenance") && html.contains("Reader agreement"));
    assert!(html.contains("Chain of custody") && html.contains("E99999"));
}

#[test]
fn the_label_audit_is_deterministic_and_hashes_every_mask() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let run = |threads: &str| {
        let out = tempfile::tempdir().unwrap();
        assert_cmd::Command::cargo_bin("attest")
            .unwrap()
            .env("ATTEST_PSEUDONYM_KEY", common::KEY)
            .env("RAYON_NUM_THREADS", threads)
            .current_dir(root)
            .args([
                "run",
                "specs/labels.yaml",
                "--quiet",
                "--seed",
                "7",
                "--out",
            ])
            .arg(out.path())
            .assert()
            .code(1);
        let text = std::fs::read_to_string(out.path().join("report.json")).unwrap();
        let manifest = std::fs::read_to_string(out.path().join("manifest.json")).unwrap();
        (out, text, manifest)
    };
    let strip = |t: &str| -> String {
        t.lines()
            .filter(|l| !l.trim_start().starts_with("\"generated_at\""))
            .collect::<Vec<_>>()
            .join("\n")
    };
    let (_a, one, manifest) = run("1");
    let (_b, two, _) = run("2");
    assert_eq!(strip(&one), strip(&two));
    // Every mask the label set names is an input with its hash.
    let masks = std::fs::read_dir(root.join("testdata/demo/labels/masks"))
        .unwrap()
        .count();
    assert_eq!(masks, 68);
    assert_eq!(
        manifest.matches("labels/masks/").count(),
        masks,
        "every mask in the manifest"
    );
}

#[test]
fn future_time_stamps_are_findings() {
    let mut rows: Vec<&str> = CLEAN.to_vec();
    rows.push("E9,c1,m,nodule,R01,2099-01-01T09:00:00+08:00,viewer,2.1,human,,2,,,");
    let (_, r) = run(&rows, PROVENANCE);
    assert_eq!(codes(&r), ["future-timestamp events.csv:10 (event E9)"]);
}

#[test]
fn the_label_set_json_schema() {
    let out = assert_cmd::Command::cargo_bin("attest")
        .unwrap()
        .args(["schema", "--labels"])
        .output()
        .unwrap();
    let s: Value = serde_json::from_slice(&out.stdout).unwrap();
    let event = &s["$defs"]["event"];
    assert_eq!(
        event["required"],
        serde_json::json!([
            "event_id",
            "case_id",
            "annotator_id",
            "created_at",
            "source"
        ])
    );
    assert_eq!(event["properties"]["source"]["enum"][1], "ai_preannotation");
    assert_eq!(event["oneOf"].as_array().unwrap().len(), 5);
    assert!(s["$defs"]["registry"]["properties"]["annotators"].is_object());
    let explain = assert_cmd::Command::cargo_bin("attest")
        .unwrap()
        .args(["explain", "labels"])
        .output()
        .unwrap();
    assert!(String::from_utf8(explain.stdout)
        .unwrap()
        .contains("## Annotator registry"));
}

#[test]
fn review_findings_from_the_code_review() {
    // A read corrected after QC (R02's no_nodule on c2 revised to nodule by R02) makes c2
    // unanimous: the reference uses current answers, so it is `unanimous`, not `adjudicated`,
    // and labels.reads sees no disagreement left.
    let mut rows: Vec<&str> = CLEAN.to_vec();
    rows.push("E9,c2,m,nodule,R02,2025-02-06T09:00:00+08:00,viewer,2.1,human,E4,,,,");
    let (_, r) = run(
        &rows,
        "  - id: R\n    title: R\n    check: labels.reads\n    labels: reads\n    task: m\n    min_reads: 2\n    scope: read\n",
    );
    assert_eq!(r["measurements"][1]["n"], 0, "no disagreement left: {r}");

    // Two adjudications that disagree.
    let mut rows: Vec<&str> = CLEAN.to_vec();
    rows.push("E9,c2,m,no_nodule,A01,2025-02-02T11:00:00+08:00,viewer,2.1,adjudication,,,,,");
    let (_, r) = run(
        &rows,
        "  - id: R\n    title: R\n    check: labels.reads\n    labels: reads\n    task: m\n    min_reads: 2\n    scope: read\n",
    );
    assert_eq!(
        codes(&r),
        ["conflicting-adjudications events.csv:6 (event E5)"]
    );

    // An AI pre-annotation edited by a resident, with confirm_roles [radiologist].
    let mut rows: Vec<&str> = CLEAN.to_vec();
    rows[6] = "E7,c4,m,no_nodule,M1,2025-02-04T01:00:00+08:00,nodule-net,1.3.0,ai_preannotation,,,R05,2025-02-05T09:10:00+08:00,edit";
    rows[7] = "E8,c4,m,nodule,R05,2025-02-05T09:11:00+08:00,viewer,2.1,human,E7,,,,";
    let (_, r) = run(
        &rows,
        &format!("{PROVENANCE}    confirm_roles: [radiologist]\n"),
    );
    assert_eq!(codes(&r), ["unconfirmed-ai-label events.csv:8 (event E7)"]);

    // An event id given twice with different content: the statistics cannot vouch.
    let mut rows: Vec<&str> = CLEAN.to_vec();
    rows.push("E2,c1,m,no_nodule,R05,2025-02-01T09:20:00+08:00,viewer,2.1,human,,1,,,");
    let (_, r) = run(
        &rows,
        "  - id: Q\n    title: Q\n    check: labels.qualification\n    labels: reads\n    rules:\n      annotator: { roles: [radiologist] }\n",
    );
    assert_eq!(r["status"], "inconclusive");
    assert_eq!(codes(&r), ["conflicting-event events.csv:10"]);
}

#[test]
fn agreement_is_never_decided_on_degenerate_data() {
    // Two readers agreeing perfectly on two cases: kappa 1 with a zero-width interval, on
    // fewer cases than min_n: inconclusive, never pass.
    let reads = vec![
        vec![Some("a".to_string()), Some("b".to_string())],
        vec![Some("a".to_string()), Some("b".to_string())],
    ];
    let r = run_agreement(
        &reads_set(&reads, "label"),
        &registry(2),
        "    statistic: cohen_kappa\n    pass: ci_low >= 0.4\n",
    );
    assert_eq!(r["status"], "inconclusive");
    assert!(r["measurements"][0]["ci_low"].is_null());
    // Grades spanning a million values are not a rating scale: a finding, not an allocation.
    let reads = vec![
        vec![Some("0".to_string()), Some("1000000".to_string())],
        vec![Some("0".to_string()), Some("1000000".to_string())],
    ];
    let r = run_agreement(
        &reads_set(&reads, "grade"),
        &registry(2),
        "    statistic: fleiss_kappa\n    pass: ci_low >= 0.4\n",
    );
    assert_eq!(r["status"], "inconclusive");
    assert!(common::findings(&r)[0].starts_with("unsuitable-reads"));
}

#[test]
fn qc_fails_a_reader_already_above_the_limit_and_meets_a_rate_exactly() {
    // R01 reads 100 cases, 7 re-reviewed by Q01, all edited: 7/100 meets min_rate 0.07
    // exactly; the observed error rate 1.0 is above 0.1 however few the reviews: fail.
    let mut rows = Vec::new();
    for i in 0..100 {
        let review = if i < 7 {
            "Q01,2025-02-03T09:00:00+08:00,edit"
        } else {
            ",,"
        };
        rows.push(format!(
            "E{i},c{i},m,nodule,R01,2025-02-01T09:00:00+08:00,viewer,2.1,human,,1,{review}"
        ));
    }
    let rows: Vec<&str> = rows.iter().map(String::as_str).collect();
    let (_, r) = run(
        &rows,
        "  - id: QC\n    title: QC\n    check: labels.qc\n    labels: reads\n    min_rate: 0.07\n    max_error_ucl: 0.1\n",
    );
    let m = r["measurements"].as_array().unwrap();
    assert_eq!(m[0]["status"], "pass");
    assert_eq!(m[1]["status"], "fail");
    assert_eq!(codes(&r), ["error-rate-too-high annotator R01"]);
}

#[test]
fn a_positive_class_nobody_uses_and_a_missing_mask_are_findings() {
    let d = tempfile::tempdir().unwrap();
    let mut text = HEADER.to_string();
    for r in CLEAN {
        text.push_str(r);
        text.push('\n');
    }
    std::fs::write(d.path().join("events.csv"), &text).unwrap();
    std::fs::write(d.path().join("annotators.yaml"), REGISTRY).unwrap();
    let spec = "attest: 1\nid: r\nversion: '1'\ntitle: R\ndata:\n  reads: { labels: events.csv, registry: annotators.yaml }\n  \
                ref: { reference: reads, task: m, rule: arbitrator, positive: [nodul] }\nrequirements:\n  \
                - id: REF\n    title: R\n    check: labels.reference\n    reference: ref\n";
    let (code, _, req) = common::run_spec(d.path(), spec);
    assert_eq!(code, 1);
    assert_eq!(codes(&req), ["positive-class-absent ref"]);
    // A mask the label set names that is not there.
    let masks =
        "event_id,case_id,task,mask,annotator_id,created_at,tool,tool_version,source,round\n\
                 E1,c1,seg,masks/c1_R01.nii.gz,R01,2025-02-01T09:00:00Z,viewer,2.1,human,1\n";
    std::fs::write(d.path().join("events.csv"), masks).unwrap();
    let (_, _, req) = common::run_spec(d.path(), &format!(
        "attest: 1\nid: r\nversion: '1'\ntitle: R\ndata:\n  reads: {{ labels: events.csv, registry: annotators.yaml }}\nrequirements:\n{}",
        PROVENANCE.replace("    cases: cases\n", "")
    ));
    assert_eq!(codes(&req), ["missing-mask events.csv:2 (event E1)"]);
}
