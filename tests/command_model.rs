//! The `command` model adapter against a vendor program that misbehaves in every way the
//! protocol allows: it hangs, crashes, prints garbage, answers for the wrong case, sends a
//! non-numeric score and reports an error; every other case is answered correctly. A POSIX
//! shell script plays the vendor (no interpreter beyond `sh` is needed).

#![cfg(unix)]

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
