//! Helpers shared by the integration tests: run a spec written into a folder and read what the
//! report says about its first requirement.

// Each test binary uses the helpers it needs.
#![allow(dead_code)]

use std::path::Path;

use assert_cmd::Command;
use serde_json::Value;

/// The pseudonym key of every test run (patient pseudonyms and forbidden-value hashes).
pub const KEY: &str = "integration-test-key";

/// Writes `spec` to `DIR/spec.yaml`, runs `attest run` on it into `DIR/out`, and returns the
/// exit code, the report's text and its first requirement.
pub fn run_spec(dir: &Path, spec: &str) -> (i32, String, Value) {
    std::fs::write(dir.join("spec.yaml"), spec).unwrap();
    let out = Command::cargo_bin("attest")
        .unwrap()
        .env("ATTEST_PSEUDONYM_KEY", KEY)
        .current_dir(dir)
        .args(["run", "spec.yaml", "--quiet", "--out", "out"])
        .output()
        .unwrap();
    let text = std::fs::read_to_string(dir.join("out/report.json")).unwrap();
    let report: Value = serde_json::from_str(&text).unwrap();
    let code = out
        .status
        .code()
        .expect("attest exits with a code, never a signal");
    (code, text, report["requirements"][0].clone())
}

/// The findings of a requirement as "code subject".
pub fn findings(req: &Value) -> Vec<String> {
    req["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            format!(
                "{} {}",
                f["code"].as_str().unwrap(),
                f["subject"].as_str().unwrap()
            )
        })
        .collect()
}

/// Asserts that each of `files` (relative paths) the generator just wrote under `fresh` is
/// byte for byte the committed copy under `committed`; `how` says how to regenerate them.
/// Returns the committed files' total size.
pub fn same_as_committed<P: AsRef<Path>>(
    fresh: &Path,
    committed: &Path,
    files: &[P],
    how: &str,
) -> usize {
    let mut total = 0;
    for f in files {
        let f = f.as_ref();
        let kept = std::fs::read(committed.join(f))
            .unwrap_or_else(|e| panic!("{}: {e}; {how}", f.display()));
        let new = std::fs::read(fresh.join(f)).unwrap();
        assert!(
            new == kept,
            "{} differs from the committed file: {how}",
            f.display()
        );
        total += kept.len();
    }
    total
}
