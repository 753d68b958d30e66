//! `model.repeatability`: a model attest runs gives the same scores when run again.
//!
//! Documentation for users is in `model_repeatability.md` (shown by `attest explain
//! model.repeatability`). The runner reruns the model (checks never run models); this compares.

use super::evidence::{Evidence, Finding, Measurement, Status};
use super::{reference, Check, Context, Names, Uses};
use crate::data::predictions::Score;
use crate::spec::diag::Diagnostic;
use crate::spec::schema::{Field, Ty};
use crate::spec::yaml::Node;

pub const DOC: &str = include_str!("model_repeatability.md");

pub const PARAMS: &[Field] = &[
    Field::req(
        "model",
        Ty::Str,
        "a model attest runs (`command:` or `architecture:`) in `models:`",
    ),
    Field::opt(
        "cases",
        Ty::Int { min: 1 },
        "how many cases to run again (a seeded sample), default 20",
    ),
    Field::opt(
        "tolerance",
        Ty::Num {
            min: 0.0,
            max: f64::INFINITY,
        },
        "largest absolute difference that counts as the same score, default 0 (bit-identical)",
    ),
    Field::opt(
        "backend",
        Ty::Enum(crate::model::burn::Backend::NAMES),
        "networks only: run the second time on this backend (compiled in) instead of the model's own, e.g. to bound the difference between CPU and GPU with `tolerance`",
    ),
];

#[derive(Debug)]
pub struct Repeatability {
    model: String,
    /// The backend of the second run, when not the model's own.
    backend: Option<String>,
    /// A network attest runs in-process (else a vendor program).
    burn: bool,
    cases: usize,
    tolerance: f64,
}

pub fn build(node: &Node, names: &Names, out: &mut Vec<Diagnostic>) -> Option<Box<dyn Check>> {
    let model = node.get("model").and_then(Node::as_str)?.to_string();
    let before = out.len();
    reference(
        node,
        "model",
        &model,
        &names.run_models,
        "a model attest runs (`command:` or `architecture:`) in `models:`",
        out,
    );
    let backend = node
        .get("backend")
        .and_then(Node::as_str)
        .map(str::to_string);
    if let (Some(b), Some(n)) = (&backend, node.get("backend")) {
        if !names.burn_models.contains_key(&model) {
            out.push(
                Diagnostic::new(
                    "unused-parameter",
                    format!("`backend` applies to networks attest runs (`architecture:`); `{model}` is a program"),
                    &n.pos,
                )
                .label("remove this"),
            );
        } else if crate::model::burn::Backend::from_name(b).is_none() {
            out.push(crate::spec::models::unavailable_backend(b, &n.pos));
        }
    }
    if out.len() > before {
        return None;
    }
    Some(Box::new(Repeatability {
        backend,
        burn: names.burn_models.contains_key(&model),
        model,
        cases: node
            .get("cases")
            .and_then(Node::as_f64)
            .map_or(20, |x| x as usize),
        tolerance: node.get("tolerance").and_then(Node::as_f64).unwrap_or(0.0),
    }))
}

impl Check for Repeatability {
    fn uses(&self) -> Uses {
        Uses {
            models: vec![self.model.clone()],
            repeats: vec![(self.model.clone(), self.cases, self.backend.clone())],
            ..Uses::default()
        }
    }

    fn evaluate(&self, cx: &Context) -> Evidence {
        let same = if self.tolerance == 0.0 {
            "bit-identical".to_string()
        } else {
            format!("within {} (absolute)", self.tolerance)
        };
        let again = match (&self.backend, self.burn) {
            (Some(b), _) => format!(
                "on the {b} backend, its weights loaded again into a fresh network, one image per batch,"
            ),
            (None, true) => {
                "with its weights loaded again into a fresh network, one image per batch,".to_string()
            }
            (None, false) => "in a fresh process".to_string(),
        };
        let mut method = format!(
            "model `{}` run again {again} on a seeded sample of up to {} of its cases; \
             scores {same} count as repeated",
            self.model, self.cases
        );
        let mut findings = Vec::new();
        let key = super::repeat_key(&self.model, self.backend.as_deref());
        let first = cx.models.get(&self.model);
        // Why the first run gave nothing (weights, pin, data), when the runner said.
        if let Some(f) = first.filter(|f| f.value.is_none()) {
            findings.extend(f.findings.iter().cloned());
        }
        let (Some(first), Some(second)) = (first, cx.repeats.get(&key)) else {
            if findings.is_empty() {
                findings.push(Finding::error(
                    "missing-model",
                    format!("model `{}` was not run", self.model),
                    self.model.clone(),
                ));
            }
            return Evidence::error(method, findings);
        };
        findings.extend(second.findings.iter().cloned());
        // Its sample only: a larger one may have been drawn for another requirement, and the
        // sample's first cases in shuffle order are the ones this one would have drawn.
        let Some(second) = &second.value else {
            return Evidence::error(method, findings);
        };
        let second: Vec<_> = second.iter().take(self.cases).collect();
        let Some(first) = &first.value else {
            return Evidence::error(method, findings);
        };
        let (mut compared, mut agree, mut max_diff) = (0u64, 0u64, 0.0f64);
        let mut failed = false;
        for (row, (case, again)) in second.iter().copied().enumerate() {
            let at = format!("case {case}");
            match (first.score_near(case, row), again) {
                (Score::Valid(a), Ok(b)) => {
                    compared += 1;
                    let d = (a - b).abs();
                    max_diff = max_diff.max(d);
                    let ok = if self.tolerance == 0.0 {
                        a.to_bits() == b.to_bits()
                    } else {
                        d <= self.tolerance
                    };
                    if ok {
                        agree += 1;
                    } else {
                        findings.push(Finding::error(
                            "not-repeatable",
                            format!("case `{case}`: first {a}, then {b} (difference {d:e})"),
                            at,
                        ));
                    }
                }
                (Score::Valid(a), Err(why)) => {
                    failed = true;
                    findings.push(Finding::error(
                        "unrepeatable-failure",
                        format!(
                            "case `{case}`: scored {a} the first time, failed the second: {why}"
                        ),
                        at,
                    ));
                }
                (_, Ok(b)) => {
                    failed = true;
                    findings.push(Finding::error(
                        "unrepeatable-failure",
                        format!("case `{case}`: failed the first time, scored {b} the second"),
                        at,
                    ));
                }
                (_, Err(_)) => findings.push(Finding::warning(
                    "not-compared",
                    format!("case `{case}`: failed in both runs; not compared"),
                    at,
                )),
            }
        }
        let mut m = Measurement::new("repeatable_share", None);
        m.n = compared;
        if compared > 0 {
            m.estimate = Some(agree as f64 / compared as f64);
        }
        method.push_str(&format!("; largest difference {max_diff:e}"));
        m.status = if compared == 0 {
            findings.push(Finding::warning(
                "undecided",
                "no case was scored in both runs: repeatability not shown",
                self.model.clone(),
            ));
            Status::Inconclusive
        } else if agree == compared && !failed {
            Status::Pass
        } else {
            Status::Fail
        };
        Evidence {
            status: m.status,
            method,
            measurements: vec![m],
            findings,
        }
    }
}
