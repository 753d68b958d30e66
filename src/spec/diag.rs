//! Spec diagnostics: what is wrong, where (file, line, column, byte range) and what was expected.
//!
//! Validation collects every diagnostic before reporting (cargo-deny's rule: give the user the
//! full list of problems to fix); `render` prints them with a source snippet and a caret
//! through codespan-reporting.

use std::path::{Path, PathBuf};

use codespan_reporting::diagnostic::{Diagnostic as CsDiagnostic, Label};
use codespan_reporting::files::SimpleFile;
use codespan_reporting::term;

use super::yaml::Pos;

/// One problem in a spec.
#[derive(Debug, Clone, PartialEq)]
pub struct Diagnostic {
    /// Stable kebab-case code naming the defect, e.g. `unknown-key`.
    pub code: &'static str,
    pub message: String,
    pub pos: Option<Pos>,
    /// Short text under the caret, e.g. "expected one of: `a`, `b`".
    pub label: String,
    /// Extra lines, e.g. "did you mean `threshold`?".
    pub help: Vec<String>,
}

impl Diagnostic {
    pub fn new(code: &'static str, message: impl Into<String>, pos: &Pos) -> Self {
        Diagnostic {
            code,
            message: message.into(),
            pos: Some(pos.clone()),
            label: String::new(),
            help: Vec::new(),
        }
    }

    /// A diagnostic about the file as a whole (no position).
    pub fn whole_file(code: &'static str, message: impl Into<String>) -> Self {
        Diagnostic {
            code,
            message: message.into(),
            pos: None,
            label: String::new(),
            help: Vec::new(),
        }
    }

    pub fn label(mut self, label: impl Into<String>) -> Self {
        self.label = label.into();
        self
    }

    pub fn help(mut self, help: impl Into<String>) -> Self {
        self.help.push(help.into());
        self
    }

    /// Adds "did you mean `x`?" when a candidate is close enough to `given`.
    pub fn did_you_mean<'a>(
        self,
        given: &str,
        candidates: impl IntoIterator<Item = &'a str>,
    ) -> Self {
        match closest(given, candidates) {
            Some(best) => self.help(format!("did you mean `{best}`?")),
            None => self,
        }
    }
}

/// The candidate closest to `given` by edit distance (optimal string alignment: insertions,
/// deletions, substitutions and transpositions, case-insensitive), if it is plausibly a typo:
/// at most a third of the name's length, and at least 1, apart. Ties go to the earlier candidate.
pub fn closest<'a>(given: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let given_lower = given.to_ascii_lowercase();
    let limit = (given.chars().count() / 3).max(1);
    let mut best: Option<(usize, &str)> = None;
    for c in candidates {
        let d = strsim::osa_distance(&given_lower, &c.to_ascii_lowercase());
        if d <= limit && best.is_none_or(|(bd, _)| d < bd) {
            best = Some((d, c));
        }
    }
    best.map(|(_, c)| c)
}

/// "`a`, `b`, `c`" for error messages.
pub fn one_of(items: &[&str]) -> String {
    items
        .iter()
        .map(|s| format!("`{s}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// All diagnostics for one spec file, with the text needed to show snippets.
#[derive(Debug, Clone)]
pub struct SpecErrors {
    pub path: PathBuf,
    pub source: String,
    pub diagnostics: Vec<Diagnostic>,
}

impl SpecErrors {
    pub fn new(path: &Path, source: &str, diagnostics: Vec<Diagnostic>) -> Self {
        SpecErrors {
            path: path.to_path_buf(),
            source: source.to_string(),
            diagnostics,
        }
    }

    /// Renders every diagnostic as `error[code]: message` with a snippet and caret.
    pub fn render(&self) -> String {
        let name = self.path.display().to_string();
        let file = SimpleFile::new(name.as_str(), self.source.as_str());
        let config = term::Config::default();
        let mut out = String::new();
        for d in &self.diagnostics {
            let mut cs = CsDiagnostic::error()
                .with_code(d.code)
                .with_message(&d.message)
                .with_notes(d.help.iter().map(|h| format!("help: {h}")).collect());
            if let Some(pos) = &d.pos {
                let end = pos.bytes.end.min(self.source.len());
                let start = pos.bytes.start.min(end);
                cs = cs.with_labels(vec![Label::primary((), start..end).with_message(&d.label)]);
            }
            match term::emit_into_string(&config, &file, &cs) {
                Ok(text) => out.push_str(&text),
                // Only a range outside the text fails; fall back to the plain location.
                Err(_) => {
                    let line = d.pos.as_ref().map_or(0, |p| p.line);
                    out.push_str(&format!(
                        "error[{}]: {} ({name}:{line})\n",
                        d.code, d.message
                    ));
                }
            }
        }
        out
    }
}

impl std::fmt::Display for SpecErrors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.render())
    }
}

impl std::error::Error for SpecErrors {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_close_names_only() {
        assert_eq!(
            closest("treshold", ["threshold", "metric"]),
            Some("threshold")
        );
        assert_eq!(closest("zzz", ["threshold", "metric"]), None);
        // A transposition is one edit: `acu` is `auc`, not `accuracy`.
        assert_eq!(closest("acu", ["accuracy", "auc"]), Some("auc"));
    }
}
