//! What the label-set checks share: getting their label set, its task, and reporting the rows
//! that could not be used.

use super::evidence::{Evidence, Finding};
use super::{reference, Context, DataSet, Names};
use crate::data::labels::{Event, Labels};
use crate::spec::diag::Diagnostic;
use crate::spec::yaml::Node;

/// The `labels:` parameter: a label-set source of the spec, with a diagnostic otherwise.
pub fn labels_source(node: &Node, names: &Names, out: &mut Vec<Diagnostic>) -> Option<String> {
    let name = node.get("labels")?.as_str()?.to_string();
    reference(
        node,
        "labels",
        &name,
        &names.labels,
        "a label-set source (`labels:`) in `data:`",
        out,
    );
    Some(name)
}

/// A string parameter, or its default.
pub fn text(node: &Node, key: &str, default: &str) -> String {
    node.get(key)
        .and_then(Node::as_str)
        .unwrap_or(default)
        .to_string()
}

/// A list-of-strings parameter (empty when absent).
pub fn texts(node: &Node, key: &str) -> Vec<String> {
    node.get(key)
        .and_then(Node::as_seq)
        .unwrap_or(&[])
        .iter()
        .filter_map(|n| n.as_str().map(str::to_string))
        .collect()
}

/// A number parameter, or its default.
pub fn number(node: &Node, key: &str, default: f64) -> f64 {
    node.get(key).and_then(Node::as_f64).unwrap_or(default)
}

/// The loaded label set `name`, or the evidence to return when there is none.
pub fn loaded<'a>(cx: &'a Context, name: &str, method: &str) -> Result<&'a Labels, Evidence> {
    match cx.data.get(name) {
        Some(DataSet::Labels(l)) => l
            .value
            .as_ref()
            .ok_or_else(|| Evidence::error(method.to_string(), l.findings.clone())),
        _ => Err(Evidence::error(
            method.to_string(),
            vec![Finding::error(
                "missing-data",
                format!("no label set `{name}` was loaded"),
                name.to_string(),
            )],
        )),
    }
}

/// The rows set aside while reading (each names its line), and whether any was a row that
/// might have changed the result (an unreadable event; an identical duplicate or an unknown
/// column does not).
pub fn set_aside(l: &Labels) -> (Vec<Finding>, bool) {
    let findings = l.set.problems.clone();
    let lost = findings.iter().any(|f| f.code == "invalid-event");
    (findings, lost)
}

/// Where an event is, for findings: `file:line (event E1)`.
pub fn at(l: &Labels, e: &Event) -> String {
    format!("{}:{} (event {})", l.set.display, e.line, e.id)
}
