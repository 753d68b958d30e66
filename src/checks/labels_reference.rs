//! `labels.reference`: the reference standard derived from a label set by its declared rule
//! covers every case, and how each case's reference was reached is stated.
//!
//! Documentation for users is in `labels_reference.md`.

use std::collections::BTreeMap;

use super::evidence::{Evidence, Finding, Measurement, Status};
use super::params::number;
use super::{reference, Check, Context, DataSet, Names, Uses};
use crate::data::labels::reference::{binary, Path};
use crate::spec::diag::Diagnostic;
use crate::spec::schema::{Field, Ty};
use crate::spec::yaml::Node;

pub const DOC: &str = include_str!("labels_reference.md");

pub const PARAMS: &[Field] = &[
    Field::req(
        "reference",
        Ty::Str,
        "a reference source in `data:` (`reference:` with its task, rule and positive classes)",
    ),
    Field::opt(
        "cases",
        Ty::Str,
        "a case table in `data:`: every case it lists needs a reference",
    ),
    Field::opt(
        "min_resolved",
        Ty::Num { min: 0.0, max: 1.0 },
        "share of cases that must have a reference, default 1",
    ),
];

#[derive(Debug)]
pub struct ReferenceCheck {
    reference: String,
    cases: Option<String>,
    min_resolved: f64,
}

pub fn build(node: &Node, names: &Names, out: &mut Vec<Diagnostic>) -> Option<Box<dyn Check>> {
    let before = out.len();
    let name = node.get("reference")?.as_str()?.to_string();
    reference(
        node,
        "reference",
        &name,
        &names.references,
        "a reference source (`reference:`) in `data:`",
        out,
    );
    let cases = node.get("cases").and_then(Node::as_str).map(str::to_string);
    if let Some(c) = &cases {
        reference(
            node,
            "cases",
            c,
            &names.tables,
            "a case table in `data:`",
            out,
        );
    }
    if out.len() > before {
        return None;
    }
    Some(Box::new(ReferenceCheck {
        reference: name,
        cases,
        min_resolved: number(node, "min_resolved", 1.0),
    }))
}

impl Check for ReferenceCheck {
    fn uses(&self) -> Uses {
        Uses {
            data: std::iter::once(self.reference.clone())
                .chain(self.cases.clone())
                .collect(),
            ..Uses::default()
        }
    }

    fn evaluate(&self, cx: &Context) -> Evidence {
        let Some(r) = cx.references.get(&self.reference) else {
            let findings = match cx.data.get(&self.reference) {
                Some(DataSet::Table(t)) => t.findings.clone(),
                _ => vec![],
            };
            return Evidence::error(
                format!("reference `{}` could not be derived", self.reference),
                findings,
            );
        };
        let method = format!(
            "the reference standard `{}`: task `{}` of label set `{}`, rule `{}` ({}); cases without \
             independent reads take an AI pre-annotation a person accepted, or that person's edit of it; \
             positive: {}",
            self.reference,
            r.task,
            r.from,
            r.rule.as_str(),
            match r.rule {
                crate::data::labels::reference::Rule::Majority =>
                    "the answer most independent reads give; a tie goes to the adjudication",
                crate::data::labels::reference::Rule::Arbitrator =>
                    "unanimous reads stand; any disagreement goes to the adjudication",
                crate::data::labels::reference::Rule::Consensus => "the consensus round's answer",
            },
            match &r.positive {
                crate::data::labels::reference::Positive::Classes(c) => c.join(", "),
                crate::data::labels::reference::Positive::AtLeast(t) => format!("grade or value >= {t}"),
                crate::data::labels::reference::Positive::AsIs => "the answer is 0 or 1".into(),
            }
        );
        let mut findings = Vec::new();
        let mut by_path: BTreeMap<&str, u64> = BTreeMap::new();
        let mut resolved = 0u64;
        for d in &r.derived {
            *by_path.entry(d.path.as_str()).or_default() += 1;
            match (&d.path, &d.answer) {
                (Path::Unresolved(why), _) => findings.push(Finding::error(
                    "unresolved-reference",
                    format!("no reference: {why}"),
                    format!("case {}", d.case_id),
                )),
                (_, Some(a)) if binary(a, &r.positive).is_none() => findings.push(Finding::error(
                    "not-binary",
                    format!(
                        "reference `{}` cannot be made a 0/1 label with the declared `positive`",
                        a.text()
                    ),
                    format!("case {}", d.case_id),
                )),
                _ => resolved += 1,
            }
        }
        let mut n = r.derived.len() as u64;
        if let Some(c) = &self.cases {
            match cx.data.get(c) {
                Some(DataSet::Table(t)) if t.value.is_some() => {
                    let t = t.value.as_ref().expect("checked");
                    for row in 0..t.len() {
                        let id = t.id(row);
                        if !r.derived.iter().any(|d| d.case_id == id) {
                            n += 1;
                            findings.push(Finding::error(
                                "no-reference",
                                format!("case `{id}` of `{c}` has no event of task `{}`", r.task),
                                format!("case {id}"),
                            ));
                        }
                    }
                }
                _ => findings.push(Finding::error(
                    "missing-data",
                    format!("case table `{c}` could not be read"),
                    c.clone(),
                )),
            }
        }
        // A declared positive class that no reference holds (a typo) would make every case 0.
        if let crate::data::labels::reference::Positive::Classes(classes) = &r.positive {
            for c in classes {
                if !r
                    .derived
                    .iter()
                    .any(|d| d.answer.as_ref().is_some_and(|a| a.text() == *c))
                {
                    findings.push(Finding::error(
                        "positive-class-absent",
                        format!("no case's reference is `{c}`, a class declared positive: every case would be 0 for it"),
                        self.reference.clone(),
                    ));
                }
            }
        }
        // Rows of the label set that could not be read might have changed the reference.
        let lost = match cx.data.get(&r.from) {
            Some(DataSet::Labels(l)) => l
                .value
                .as_ref()
                .is_some_and(|l| super::labels_common::set_aside(l).1),
            _ => false,
        };
        if lost {
            findings.push(Finding::warning(
                "label-rows-set-aside",
                format!("rows of label set `{}` could not be read (see labels.provenance); the reference may differ from what they said", r.from),
                self.reference.clone(),
            ));
        }
        let mut m = Measurement::new("resolved_fraction", None);
        m.n = n;
        m.estimate = (n > 0).then(|| resolved as f64 / n as f64);
        let status = match m.estimate {
            _ if findings.iter().any(|f| f.code == "positive-class-absent") => Status::Fail,
            None => Status::Inconclusive,
            Some(x) if lost && x + 1e-12 >= self.min_resolved => Status::Inconclusive,
            Some(x)
                if x + 1e-12 >= self.min_resolved
                    && !findings.iter().any(|f| f.code == "missing-data") =>
            {
                Status::Pass
            }
            Some(_) => Status::Fail,
        };
        m.status = status;
        let mut measurements = vec![m];
        for (path, count) in by_path {
            let mut p = Measurement::new(
                "cases_by_path",
                Some(BTreeMap::from([("path".to_string(), path.to_string())])),
            );
            p.n = r.derived.len() as u64;
            p.estimate = Some(count as f64 / r.derived.len() as f64);
            p.status = status;
            measurements.push(p);
        }
        Evidence {
            status,
            method,
            measurements,
            findings,
        }
    }
}
