//! `labels.qc`: quality-control re-review of each annotator's labels: enough of them
//! re-reviewed, and the error rate's upper confidence bound below a stated limit.
//!
//! Documentation for users is in `labels_qc.md`.

use std::collections::BTreeMap;

use super::evidence::{percent, Evidence, Finding, Measurement, Status};
use super::labels_common::{labels_source, loaded, set_aside};
use super::params::{number, text};
use super::{Check, Context, Names, Uses};
use crate::data::labels::{Decision, Source};
use crate::spec::diag::Diagnostic;
use crate::spec::schema::{Field, Ty};
use crate::spec::yaml::Node;
use crate::stats::proportion;

pub const DOC: &str = include_str!("labels_qc.md");

pub const METHODS: &[&str] = &["clopper_pearson", "wilson"];

pub const PARAMS: &[Field] = &[
    Field::req("labels", Ty::Str, "a label-set source in `data:`"),
    Field::opt(
        "task",
        Ty::Str,
        "only this task's labels, default every task",
    ),
    Field::req(
        "min_rate",
        Ty::Num { min: 0.0, max: 1.0 },
        "share of each annotator's labels that must be re-reviewed",
    ),
    Field::req(
        "max_error_ucl",
        Ty::Num { min: 0.0, max: 1.0 },
        "the largest acceptable upper confidence bound of each annotator's error rate",
    ),
    Field::opt(
        "level",
        Ty::Num {
            min: 0.5,
            max: 0.999999,
        },
        "one-sided confidence level of the bound, default 0.95",
    ),
    Field::opt(
        "method",
        Ty::Enum(METHODS),
        "interval method: clopper_pearson (exact, default) or wilson",
    ),
];

#[derive(Debug)]
pub struct Qc {
    labels: String,
    task: Option<String>,
    min_rate: f64,
    max_ucl: f64,
    level: f64,
    method: String,
}

pub fn build(node: &Node, names: &Names, out: &mut Vec<Diagnostic>) -> Option<Box<dyn Check>> {
    let labels = labels_source(node, names, out)?;
    Some(Box::new(Qc {
        labels,
        task: node.get("task").and_then(Node::as_str).map(str::to_string),
        min_rate: number(node, "min_rate", 0.0),
        max_ucl: number(node, "max_error_ucl", 1.0),
        level: number(node, "level", 0.95),
        method: text(node, "method", "clopper_pearson"),
    }))
}

impl Qc {
    /// The one-sided upper bound at `level`: the upper end of the two-sided interval at
    /// 2·level − 1.
    fn ucl(&self, errors: u64, n: u64) -> Option<f64> {
        let two_sided = 2.0 * self.level - 1.0;
        let i = match self.method.as_str() {
            "wilson" => proportion::wilson(errors, n, two_sided),
            _ => proportion::clopper_pearson(errors, n, two_sided),
        };
        i.map(|i| i.high)
    }
}

impl Check for Qc {
    fn uses(&self) -> Uses {
        Uses {
            data: vec![self.labels.clone()],
            ..Uses::default()
        }
    }

    fn evaluate(&self, cx: &Context) -> Evidence {
        let method = format!(
            "per annotator, over their reads (people's events revising nothing){}: the share re-reviewed by someone else (an event with \
             `reviewed_by`), at least {}; the error rate among them (decision `edit` or `reject`) with its \
             one-sided {} upper bound ({}, the upper end of the two-sided {} interval), at most {}",
            self.task.as_ref().map(|t| format!(" of task `{t}`")).unwrap_or_default(),
            self.min_rate,
            percent(self.level),
            self.method,
            percent(2.0 * self.level - 1.0),
            self.max_ucl
        );
        let l = match loaded(cx, &self.labels, &method) {
            Ok(l) => l,
            Err(e) => return e,
        };
        let (mut findings, lost) = set_aside(l);
        // annotator → (labels, reviewed, errors)
        let mut per: BTreeMap<&str, (u64, u64, u64)> = BTreeMap::new();
        for e in &l.set.events {
            // People's reads: adjudications, consensus and edits are decisions on reads, and AI
            // pre-annotations are `labels.ai_assist`'s.
            if e.source != Source::Human
                || e.revises.is_some()
                || self.task.as_ref().is_some_and(|t| *t != e.task)
            {
                continue;
            }
            let c = per.entry(e.annotator.as_str()).or_default();
            c.0 += 1;
            if e.reviewed_by.as_ref().is_some_and(|r| *r != e.annotator) {
                c.1 += 1;
                if matches!(e.decision, Some(Decision::Edit | Decision::Reject)) {
                    c.2 += 1;
                }
            }
        }
        let mut measurements = Vec::new();
        for (who, &(n, reviewed, errors)) in &per {
            let group = Some(BTreeMap::from([("annotator".to_string(), who.to_string())]));
            let mut rate = Measurement::new("review_rate", group.clone());
            rate.n = n;
            rate.estimate = Some(reviewed as f64 / n as f64);
            // A relative tolerance, so that 7 of 100 meets a rate of 0.07 (7.000000000000001).
            rate.status = if reviewed as f64 >= self.min_rate * n as f64 * (1.0 - 1e-12) {
                Status::Pass
            } else {
                findings.push(Finding::error(
                    "too-few-reviews",
                    format!(
                        "{reviewed} of {n} labels re-reviewed ({:.1}%), fewer than {:.1}%",
                        100.0 * reviewed as f64 / n as f64,
                        100.0 * self.min_rate
                    ),
                    format!("annotator {who}"),
                ));
                Status::Fail
            };
            let mut err = Measurement::new("error_rate", group);
            err.n = reviewed;
            err.ci_method = Some(format!("{} (one-sided upper bound)", self.method));
            err.ci_level = Some(self.level);
            if reviewed == 0 {
                err.status = Status::Inconclusive;
                findings.push(Finding::warning(
                    "no-reviews",
                    "none of this annotator's labels was re-reviewed, so the error rate is unknown",
                    format!("annotator {who}"),
                ));
            } else {
                err.estimate = Some(errors as f64 / reviewed as f64);
                err.ci_low = Some(0.0);
                err.ci_high = self.ucl(errors, reviewed);
                let best = self.ucl(0, reviewed).unwrap_or(1.0);
                let observed = errors as f64 / reviewed as f64;
                err.status = match err.ci_high {
                    Some(u) if u <= self.max_ucl => Status::Pass,
                    // Already above the limit: more reviews could not make it pass.
                    _ if observed > self.max_ucl => {
                        findings.push(Finding::error(
                            "error-rate-too-high",
                            format!(
                                "{errors} of {reviewed} reviewed labels were edited or rejected ({:.1}%), above {}",
                                100.0 * observed,
                                self.max_ucl
                            ),
                            format!("annotator {who}"),
                        ));
                        Status::Fail
                    }
                    _ if best > self.max_ucl => {
                        findings.push(Finding::warning(
                            "too-few-reviews",
                            format!(
                                "{reviewed} reviews cannot show an error rate below {}: even with no error the upper bound would be {best:.4}",
                                self.max_ucl
                            ),
                            format!("annotator {who}"),
                        ));
                        Status::Inconclusive
                    }
                    u => {
                        findings.push(Finding::error(
                            "error-rate-too-high",
                            format!(
                                "{errors} of {reviewed} reviewed labels were edited or rejected; the upper bound {:.4} exceeds {}",
                                u.unwrap_or(1.0),
                                self.max_ucl
                            ),
                            format!("annotator {who}"),
                        ));
                        Status::Fail
                    }
                };
            }
            measurements.push(rate);
            measurements.push(err);
        }
        let mut status = measurements
            .iter()
            .map(|m| m.status)
            .max()
            .unwrap_or(Status::Inconclusive);
        if per.is_empty() {
            findings.push(Finding::warning(
                "no-labels",
                "no person's label to review",
                self.labels.clone(),
            ));
        }
        if lost && status == Status::Pass {
            status = Status::Inconclusive;
        }
        Evidence {
            status,
            method,
            measurements,
            findings,
        }
    }
}
