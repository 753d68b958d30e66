//! The `command` model adapter against a vendor program that misbehaves in every way the
//! protocol allows: it hangs, crashes, prints garbage, answers for the wrong case, sends a
//! non-numeric score and reports an error; every other case is answered correctly. A POSIX
//! shell script plays the vendor (no interpreter beyond `sh` is needed).

#![cfg(unix)]

mod common;

use std::time::{Duration, Instant};

use attest::model::command::{CommandModel, Hello, Outcome, Request};

/// Answers `score = 0.<number of files>` unless the case id names a misbehaviour.
const VENDOR: &str = r#"#!/bin/sh
echo '{"protocol":"attest-model/1","model":"misbehaving","version":"1.0"}'
while IFS= read -r line; do
  id=$(printf '%s' "$line" | sed -n 's/.*"case_id":"\([^"]*\)".*/\1/p')
  case "$id" in
    hang) sleep 30 ;;
    crash) echo "segmentation fault (pretend)" >&2; exit 3 ;;
    garbage) echo "this is not json" ;;
    wrong) echo '{"case_id":"someone-else","score":0.5}' ;;
    text) echo "{\"case_id\":\"$id\",\"score\":\"high\"}" ;;
    refuse) echo "{\"case_id\":\"$id\",\"error\":\"cannot read the series\"}" ;;
    *) n=$(printf '%s' "$line" | grep -o '\.dcm' | wc -l | tr -d ' ');
       echo "{\"case_id\":\"$id\",\"score\":0.$n}" ;;
  esac
done
"#;

fn model(dir: &std::path::Path, script: &str, timeout_ms: u64) -> CommandModel {
    std::fs::write(dir.join("vendor.sh"), script).unwrap();
    CommandModel {
        argv: vec!["sh".into(), "vendor.sh".into()],
        dir: dir.to_path_buf(),
        timeout: Duration::from_millis(timeout_ms),
    }
}

fn req(id: &str, files: usize) -> Request {
    Request {
        case_id: id.to_string(),
        files: (0..files).map(|k| format!("/data/{id}/{k}.dcm")).collect(),
    }
}

fn code(o: &Outcome) -> &str {
    match o {
        Outcome::Score(_) => "score",
        Outcome::Failed { code, .. } => code,
    }
}

#[test]
fn every_misbehaviour_fails_its_case_only() {
    let dir = tempfile::tempdir().unwrap();
    let m = model(dir.path(), VENDOR, 2000);
    let requests = vec![
        req("a", 3),
        req("hang", 1),
        req("b", 2),
        req("crash", 1),
        req("c", 4),
        req("garbage", 1),
        req("d", 1),
        req("wrong", 1),
        req("e", 5),
        req("text", 1),
        req("refuse", 1),
        req("f", 6),
    ];
    let started = Instant::now();
    let log = m.run(&requests).unwrap();
    assert_eq!(
        log.hello,
        Some(Hello {
            model: "misbehaving".into(),
            version: "1.0".into()
        })
    );
    let codes: Vec<&str> = log.outcomes.iter().map(code).collect();
    assert_eq!(
        codes,
        [
            "score",
            "model-timeout",
            "score",
            "model-crashed",
            "score",
            "invalid-response",
            "score",
            "wrong-case",
            "score",
            "invalid-score",
            "model-error",
            "score",
        ]
    );
    // The answers belong to their cases: the script counts each case's files.
    let scores: Vec<f64> = log
        .outcomes
        .iter()
        .filter_map(|o| match o {
            Outcome::Score(s) => Some(*s),
            _ => None,
        })
        .collect();
    assert_eq!(scores, [0.3, 0.2, 0.4, 0.1, 0.5, 0.6]);
    // Started once, then again after the hang, the crash, the garbage and the wrong case;
    // an unusable score or a reported error keeps the conversation in step.
    assert_eq!(log.starts, 5);
    // The hang cost one timeout, not the 30 s the script sleeps.
    assert!(started.elapsed() < Duration::from_secs(25));
    match &log.outcomes[3] {
        Outcome::Failed { message, .. } => {
            assert!(
                message.contains("segmentation fault (pretend)"),
                "{message}"
            );
            assert!(message.contains("exit status: 3"), "{message}");
        }
        o => panic!("{o:?}"),
    }
}

#[test]
fn a_program_that_cannot_start_or_greet_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let missing = CommandModel {
        argv: vec!["./no-such-program".into()],
        dir: dir.path().to_path_buf(),
        timeout: Duration::from_secs(2),
    };
    let e = missing.run(&[req("a", 1)]).unwrap_err();
    assert!(e.contains("cannot start `./no-such-program`"), "{e}");

    let rude = model(dir.path(), "#!/bin/sh\necho hello\n", 2000);
    let e = rude.run(&[req("a", 1)]).unwrap_err();
    assert!(e.contains("not a hello line"), "{e}");

    let other = model(
        dir.path(),
        "#!/bin/sh\necho '{\"protocol\":\"other/2\",\"model\":\"m\",\"version\":\"1\"}'\n",
        2000,
    );
    let e = other.run(&[req("a", 1)]).unwrap_err();
    assert!(
        e.contains("does not name the protocol `attest-model/1`"),
        "{e}"
    );

    let silent = model(dir.path(), "#!/bin/sh\nexec sleep 30\n", 300);
    let e = silent.run(&[req("a", 1)]).unwrap_err();
    assert!(e.contains("no hello line within 0.3 s"), "{e}");
}

#[test]
fn a_program_that_dies_for_good_leaves_the_rest_unavailable() {
    let dir = tempfile::tempdir().unwrap();
    // Greets only on its first start (a marker file), then crashes on its first case.
    let script = "#!/bin/sh\nif [ -e started ]; then exit 1; fi\n: > started\n\
                  echo '{\"protocol\":\"attest-model/1\",\"model\":\"once\",\"version\":\"0\"}'\n\
                  read -r line\nexit 2\n";
    let m = model(dir.path(), script, 2000);
    let log = m.run(&[req("a", 1), req("b", 1), req("c", 1)]).unwrap();
    let codes: Vec<&str> = log.outcomes.iter().map(code).collect();
    assert_eq!(
        codes,
        ["model-crashed", "model-unavailable", "model-unavailable"]
    );
}

/// Through the CLI on the demo data: a vendor script scores each study from its file count and
/// case number, hangs on one case and crashes on another; the classification requirement
/// reads its scores as it would a prediction file, the failed cases are findings, and the
/// scores, the script and the program's identity are in the report and the manifest.
#[test]
fn a_command_model_runs_end_to_end_on_the_demo_data() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = tempfile::tempdir().unwrap();
    // Positive demo cases are labelled 1 in cases.csv; the script knows nothing of labels, so
    // it scores by the case number's parity: an AUC near 0.5, which is all this test needs.
    std::fs::write(
        dir.path().join("vendor.sh"),
        r#"#!/bin/sh
echo '{"protocol":"attest-model/1","model":"parity","version":"2.1"}'
while IFS= read -r line; do
  id=$(printf '%s' "$line" | sed -n 's/.*"case_id":"\([^"]*\)".*/\1/p')
  case "$id" in
    C0003) sleep 30 ;;
    C0005) exit 9 ;;
  esac
  n=$(printf '%s' "$line" | grep -o '\.dcm' | wc -l | tr -d ' ')
  last=$(printf '%s' "$id" | tail -c 2)
  echo "{\"case_id\":\"$id\",\"score\":0.$n$last}"
done
"#,
    )
    .unwrap();
    let spec = format!(
        "attest: 1\nid: cmd\nversion: '1'\ntitle: Command model\ndata:\n  images: {{ dicom: {0}/testdata/demo/dicom }}\n  \
         cases: {{ table: {0}/testdata/demo/cases.csv }}\nmodels:\n  vendor:\n    command: [sh, vendor.sh]\n    \
         cases: cases\n    images: images\n    image_column: study_instance_uid\n    timeout_s: 2\nrequirements:\n  \
         - id: AUC\n    title: AUC\n    check: classification\n    model: vendor\n    truth: cases\n    metric: auc\n    \
         pass: ci_low >= 0.0\n    missing_prediction: exclude\n",
        root.display()
    );
    std::fs::write(dir.path().join("spec.yaml"), spec).unwrap();
    let out = assert_cmd::Command::cargo_bin("attest")
        .unwrap()
        .env("ATTEST_PSEUDONYM_KEY", "integration-test-key")
        .current_dir(dir.path())
        .args(["run", "spec.yaml", "--quiet", "--out", "out"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("out/report.json")).unwrap())
            .unwrap_or_else(|e| panic!("{e}: {stderr}"));
    let m = &report["models"][0];
    assert_eq!(m["name"], "vendor", "{stderr}\n{report}");
    assert_eq!(m["model"], "parity");
    assert_eq!(m["version"], "2.1");
    // 200 cases: three are not sent (their series folder holds an unreadable file, which may
    // be one of their slices), one times out and one crashes the program.
    assert_eq!(m["cases"], 200);
    assert_eq!(m["scored"], 195);
    assert_eq!(m["failed"], 5, "the three not sent and the two that failed");
    assert_eq!(m["starts"], 3);
    let req = &report["requirements"][0];
    assert_eq!(req["measurements"][0]["n"], 195);
    let codes: Vec<String> = common::findings(req);
    assert!(
        codes.contains(&"model-timeout case C0003".to_string()),
        "{codes:?}"
    );
    assert!(
        codes.contains(&"model-crashed case C0005".to_string()),
        "{codes:?}"
    );
    // The scores file: one row per scored case, each study's two slices counted.
    let csv = std::fs::read_to_string(dir.path().join("out/models/vendor.csv")).unwrap();
    assert_eq!(csv.lines().count(), 196);
    assert_eq!(
        codes
            .iter()
            .filter(|c| c.starts_with("model-input"))
            .count(),
        3,
        "{codes:?}"
    );
    assert!(csv.lines().any(|l| l == "C0001,0.201"), "{csv}");
    let manifest: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("out/manifest.json")).unwrap(),
    )
    .unwrap();
    let outputs = manifest["outputs"].as_array().unwrap();
    let scores = outputs
        .iter()
        .find(|o| o["path"] == "models/vendor.csv")
        .expect("the scores are a hashed output");
    assert_eq!(scores["sha256"], m["output_sha256"]);
    assert!(report["inputs"]
        .as_array()
        .unwrap()
        .iter()
        .any(|i| i["path"] == "vendor.sh"));
}

#[test]
fn command_model_mistakes_are_spec_errors() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("cases.csv"),
        "case_id,label,study_uid\na,1,1.2\n",
    )
    .unwrap();
    std::fs::write(dir.path().join("p.csv"), "case_id,score\na,0.5\n").unwrap();
    std::fs::create_dir(dir.path().join("dicom")).unwrap();
    let lint = |models: &str| {
        std::fs::write(
            dir.path().join("spec.yaml"),
            format!(
                "attest: 1\nid: c\nversion: '1'\ntitle: C\ndata:\n  images: {{ dicom: dicom }}\n  \
                 cases: {{ table: cases.csv }}\nmodels:\n{models}requirements:\n  - id: A\n    title: A\n    \
                 check: classification\n    model: m\n    truth: cases\n    metric: auc\n    pass: ci_low >= 0.5\n"
            ),
        )
        .unwrap();
        let out = assert_cmd::Command::cargo_bin("attest")
            .unwrap()
            .current_dir(dir.path())
            .args(["lint", "spec.yaml"])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{models}");
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let e = lint("  m: { command: [sh, run.sh], images: images }\n");
    assert!(e.contains("model `m` needs `cases`"), "{e}");
    let e = lint("  m: { command: [sh, run.sh], cases: cases, images: cases }\n");
    assert!(e.contains("`cases` is not a DICOM source"), "{e}");
    let e =
        lint("  m: { command: [sh, run.sh], predictions: p.csv, cases: cases, images: images }\n");
    assert!(
        e.contains("`predictions` and `command` exclude each other"),
        "{e}"
    );
    let e = lint("  m: { command: [], cases: cases, images: images }\n");
    assert!(e.contains("`command` is empty"), "{e}");
    let e = lint("  m: { predictions: p.csv, timeout_s: 5 }\n");
    assert!(
        e.contains("`timeout_s` applies to models attest runs (`command` or `architecture`) only"),
        "{e}"
    );
}

/// `model.repeatability` through the CLI: a deterministic program passes; one whose second
/// process gives another score for one case, and fails another case, fails with both named.
#[test]
fn repeatability_reruns_a_seeded_sample_in_a_fresh_process() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = tempfile::tempdir().unwrap();
    let script = |drift: bool| {
        format!(
            r#"#!/bin/sh
echo start >> starts
echo '{{"protocol":"attest-model/1","model":"m","version":"1"}}'
starts=$(wc -l < starts | tr -d ' ')
while IFS= read -r line; do
  id=$(printf '%s' "$line" | sed -n 's/.*"case_id":"\([^"]*\)".*/\1/p')
  last=$(printf '%s' "$id" | tail -c 3)
  if [ "{drift}" = "true" ] && [ "$starts" -gt 1 ]; then
    case "$id" in
      C0010) echo "{{\"case_id\":\"$id\",\"score\":0.5001}}"; continue ;;
      C0020) echo "{{\"case_id\":\"$id\",\"error\":\"out of memory\"}}"; continue ;;
    esac
  fi
  echo "{{\"case_id\":\"$id\",\"score\":0.$last}}"
done
"#
        )
    };
    let run = |drift: bool, n: usize| {
        std::fs::write(dir.path().join("vendor.sh"), script(drift)).unwrap();
        let _ = std::fs::remove_file(dir.path().join("starts"));
        let spec = format!(
            "attest: 1\nid: rep\nversion: '1'\ntitle: R\ndata:\n  images: {{ dicom: {0}/testdata/demo/dicom }}\n  \
             cases: {{ table: {0}/testdata/demo/cases.csv }}\nmodels:\n  vendor: {{ command: [sh, vendor.sh], cases: cases, \
             images: images, image_column: study_instance_uid }}\nrequirements:\n  - id: REP\n    title: R\n    \
             check: model.repeatability\n    model: vendor\n    cases: {n}\n",
            root.display()
        );
        let (code, _, req) = {
            std::fs::write(dir.path().join("spec.yaml"), &spec).unwrap();
            let out = assert_cmd::Command::cargo_bin("attest")
                .unwrap()
                .env("ATTEST_PSEUDONYM_KEY", "k")
                .current_dir(dir.path())
                .args(["run", "spec.yaml", "--quiet", "--out", "out"])
                .output()
                .unwrap();
            let text = std::fs::read_to_string(dir.path().join("out/report.json")).unwrap();
            let r: serde_json::Value = serde_json::from_str(&text).unwrap();
            (out.status.code(), text, r["requirements"][0].clone())
        };
        (code, req)
    };
    // Every case sent (197: three are not, see above) is rerun.
    let (code, req) = run(false, 200);
    assert_eq!(code, Some(0), "{req}");
    assert_eq!(req["measurements"][0]["n"], 197);
    assert_eq!(req["measurements"][0]["estimate"], 1.0);

    let (code, req) = run(true, 200);
    assert_eq!(code, Some(1));
    let f: Vec<String> = common::findings(&req);
    assert_eq!(
        f,
        [
            "not-repeatable case C0010",
            "unrepeatable-failure case C0020"
        ]
    );
    assert_eq!(req["measurements"][0]["n"], 196);

    // A seeded sample of 20: the same cases every time.
    let (_, a) = run(false, 20);
    let (_, b) = run(false, 20);
    assert_eq!(a["measurements"][0]["n"], 20);
    assert_eq!(a, b);
}
