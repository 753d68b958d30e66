//! Reading a validated requirement's parameters: the schema has checked their types, so these
//! only pick values and defaults.

use crate::spec::schema::{Field, Ty};
use crate::spec::yaml::Node;

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

/// The `ci:` fields of a check whose interval is a seeded bootstrap.
pub const BOOTSTRAP_CI: &[Field] = &[
    Field::opt(
        "level",
        Ty::Num {
            min: 0.5,
            max: 0.999999,
        },
        "confidence level, default 0.95",
    ),
    Field::opt(
        "resamples",
        Ty::Int { min: 100 },
        "bootstrap resamples, default 2000, seeded by the run's seed",
    ),
];

/// `ci: { level, resamples }`: the level (default 0.95) and resamples (default 2000).
pub fn bootstrap_ci(node: &Node) -> (f64, usize) {
    let ci = node.get("ci");
    (
        ci.map_or(0.95, |c| number(c, "level", 0.95)),
        ci.map_or(2000.0, |c| number(c, "resamples", 2000.0)) as usize,
    )
}
