//! Deciding a requirement from its measurements and pass criterion.
//!
//! Each measurement (overall and each group) is judged alone, then combined: any error makes
//! the requirement `error`, else any failure `fail`, else any undecided `inconclusive`, else
//! `pass`. A measurement is undecided (never pass) when the criterion needs a value it does
//! not have, or when the group is too small to decide: fewer than `min_n` cases, or so few
//! that even a perfect result could not meet the criterion.

use super::evidence::{Finding, Measurement, Status};
use crate::spec::diag::Diagnostic;
use crate::spec::expr::{self, Expr, Truth};
use crate::spec::yaml::Node;

/// The requirement's `pass:` criterion, parsed: `(Some(expr), text)`, or `(None, text)` with a
/// diagnostic pointing into the expression. None when there is no `pass:` (the schema reports
/// it where it is required).
pub fn pass_criterion(node: &Node, out: &mut Vec<Diagnostic>) -> Option<(Option<Expr>, String)> {
    let pass_node = node.get("pass")?;
    let pass_text = pass_node.as_str()?.to_string();
    let pass = match expr::parse(&pass_text) {
        Ok(e) => Some(e),
        Err(e) => {
            let mut d = Diagnostic::new(
                "invalid-pass",
                format!("invalid pass criterion: {}", e.message),
                &expr_pos(pass_node, &pass_text, e.offset, e.len),
            )
            .label(e.message.clone());
            if let Some(s) = e.suggestion {
                d = d.help(format!("did you mean `{s}`?"));
            }
            out.push(d);
            None
        }
    };
    Some((pass, pass_text))
}

/// The position of a part of the pass expression, when it sits on one line in the file.
fn expr_pos(n: &Node, text: &str, offset: usize, len: usize) -> crate::spec::yaml::Pos {
    let span = n.pos.bytes.len();
    if span == text.len() {
        n.pos.shifted(offset, len)
    } else if span == text.len() + 2 {
        // quoted scalar
        n.pos.shifted(offset + 1, len)
    } else {
        n.pos.clone()
    }
}

/// Judges one measurement. `best_case` is the same measurement as a perfect result on the
/// same cases would give (None when that cannot be stated); `min_n` the stated minimum size.
pub fn judge(
    m: &mut Measurement,
    pass: &Expr,
    pass_text: &str,
    best_case: Option<&Measurement>,
    min_n: u64,
    findings: &mut Vec<Finding>,
) {
    let subject = subject(m);
    if m.n < min_n {
        m.status = Status::Inconclusive;
        findings.push(Finding::warning(
            "group-too-small",
            format!(
                "{} on {} cases, fewer than the stated minimum of {min_n}: not decided",
                m.metric, m.n
            ),
            subject,
        ));
        return;
    }
    match pass.eval(&|f| m.field(f)) {
        Truth::True => m.status = Status::Pass,
        Truth::Undecided => {
            m.status = Status::Inconclusive;
            let missing: Vec<&str> = pass
                .fields()
                .into_iter()
                .filter(|f| m.field(f).is_none_or(f64::is_nan))
                .collect();
            findings.push(Finding::warning(
                "undecided",
                format!(
                    "`{pass_text}` cannot be evaluated: {} on {} cases has no {} \
                     (no cases, a class missing, or an interval of zero width that \
                     says nothing about the uncertainty)",
                    m.metric,
                    m.n,
                    missing.join(", ")
                ),
                subject,
            ));
        }
        Truth::False => {
            let hopeless = best_case.is_some_and(|b| pass.eval(&|f| b.field(f)) != Truth::True);
            if hopeless {
                m.status = Status::Inconclusive;
                findings.push(Finding::warning(
                    "group-too-small",
                    format!(
                        "even a perfect result on these {} cases would not meet `{pass_text}`: \
                         too few to decide",
                        m.n
                    ),
                    subject,
                ));
            } else {
                m.status = Status::Fail;
            }
        }
    }
}

/// Combines the statuses of a requirement's measurements and findings.
pub fn combine(measurements: &[Measurement], findings: &[Finding]) -> Status {
    let mut s = measurements
        .iter()
        .map(|m| m.status)
        .max()
        .unwrap_or(Status::Inconclusive);
    if findings
        .iter()
        .any(|f| f.severity == super::evidence::Severity::Error)
    {
        s = Status::Error;
    }
    s
}

/// "overall" or "site=A, sex=F".
pub fn subject(m: &Measurement) -> String {
    match &m.group {
        None => "overall".to_string(),
        Some(g) => g
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(", "),
    }
}
