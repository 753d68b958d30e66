//! What the DICOM checks share: getting their data source's index, reporting the files that
//! could not be read, and turning a per-instance audit's findings into evidence.

use std::collections::BTreeSet;

use super::evidence::{Evidence, Finding, Measurement, Severity, Status};
use super::{reference, Context, DataSet, Names};
use crate::data::dicom_index::DicomIndex;
use crate::spec::diag::Diagnostic;
use crate::spec::yaml::Node;

/// The `data:` parameter of a DICOM check: its value, with a diagnostic unless it names a
/// DICOM data source of the spec.
pub fn dicom_source(node: &Node, names: &Names, out: &mut Vec<Diagnostic>) -> Option<String> {
    let data = node.get("data")?.as_str()?.to_string();
    reference(
        node,
        "data",
        &data,
        &names.dicom,
        "a DICOM data source (`dicom:`) in `data:`",
        out,
    );
    Some(data)
}

/// The index of DICOM data source `name`, or the evidence to return when there is none.
pub fn index<'a>(cx: &'a Context, name: &str, method: &str) -> Result<&'a DicomIndex, Evidence> {
    match cx.data.get(name) {
        Some(DataSet::Dicom(d)) => d
            .value
            .as_ref()
            .ok_or_else(|| Evidence::error(method.to_string(), d.findings.clone())),
        _ => Err(Evidence::error(
            method.to_string(),
            vec![Finding::error(
                "missing-data",
                format!("no DICOM data source `{name}` was loaded"),
                name.to_string(),
            )],
        )),
    }
}

/// One finding per file of the source that could not be read as DICOM.
pub fn unreadable(index: &DicomIndex) -> Vec<Finding> {
    index
        .failures
        .iter()
        .map(|f| {
            Finding::error(
                "unreadable-dicom",
                format!(
                    "cannot be read as DICOM, so it was not checked: {}",
                    f.reason
                ),
                f.path.clone(),
            )
        })
        .collect()
}

/// Evidence from a per-instance audit: its findings after the unreadable files, the share of
/// readable instances without an error finding as `metric`, and the status: `fail` on any
/// error finding; else `inconclusive` when `undecided`, a file could not be read or there
/// were no instances; else `pass`.
pub fn audit_evidence(
    index: &DicomIndex,
    audit: &[Finding],
    source: &str,
    method: String,
    metric: &str,
    undecided: bool,
) -> Evidence {
    let mut findings = unreadable(index);
    findings.extend(audit.iter().cloned());
    // Findings name "file" or "file (attribute)": the file is the instance. The attribute
    // part is split off at the last " (" of a subject ending in ")", so file names that hold
    // parentheses themselves stay whole.
    let failing: BTreeSet<&str> = audit
        .iter()
        .filter(|f| f.severity == Severity::Error)
        .filter_map(|f| f.subject.as_deref())
        .map(
            |s| match s.strip_suffix(')').and_then(|t| t.rsplit_once(" (")) {
                Some((file, _)) => file,
                None => s,
            },
        )
        .collect();
    let n = index.instances.len() as u64;
    let mut m = Measurement::new(metric, None);
    m.n = n;
    m.estimate = (n > 0).then(|| (n - failing.len() as u64) as f64 / n as f64);
    if n == 0 {
        findings.push(Finding::error(
            "no-instances",
            "no readable DICOM instance was found, so nothing could be checked",
            source.to_string(),
        ));
    }
    let status = if !failing.is_empty() {
        Status::Fail
    } else if undecided || n == 0 || !index.failures.is_empty() {
        Status::Inconclusive
    } else {
        Status::Pass
    };
    m.status = status;
    Evidence {
        status,
        method,
        measurements: vec![m],
        findings,
    }
}
