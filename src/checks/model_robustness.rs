//! `model.robustness`: how much a model's performance drops when its input images are
//! perturbed as declared (noise, contrast, compression, rotation), against its clean run on
//! the same cases, with a paired interval for each drop.
//!
//! Documentation for users is in `model_robustness.md` (shown by `attest explain
//! model.robustness`). The runner runs the model under each perturbation (checks never run
//! models); this compares.

use std::collections::BTreeMap;

use super::evidence::{Evidence, Finding, Measurement, Severity, Status};
use super::judge::{combine, judge};
use super::{reference, Check, Context, Names, Uses};
use crate::data::predictions::{Predictions, Score};
use crate::model::perturb::Perturbation;
use crate::spec::diag::Diagnostic;
use crate::spec::expr::Expr;
use crate::spec::schema::{Field, Ty};
use crate::spec::yaml::Node;
use crate::stats::hypothesis::tango_ci;
use crate::stats::roc::delong_paired;

pub const DOC: &str = include_str!("model_robustness.md");

pub const METRICS: &[&str] = &["auc", "sensitivity", "specificity", "accuracy"];

const CI_FIELDS: &[Field] = &[Field::opt(
    "level",
    Ty::Num {
        min: 0.5,
        max: 0.999999,
    },
    "confidence level of each drop's interval, default 0.95",
)];

fn perturbation_schema() -> serde_json::Value {
    crate::spec::schema::embedded_schema::<Perturbation>()
}

pub const PARAMS: &[Field] = &[
    Field::req(
        "model",
        Ty::Str,
        "a network attest runs (`architecture:`) in `models:`",
    ),
    Field::req("truth", Ty::Str, "name of a case table in `data:`"),
    Field::opt(
        "metric",
        Ty::Enum(METRICS),
        "the performance whose drop is measured, default auc",
    ),
    Field::opt(
        "threshold",
        Ty::Num {
            min: f64::NEG_INFINITY,
            max: f64::INFINITY,
        },
        "operating point: score >= threshold counts as positive (sensitivity, specificity, accuracy)",
    ),
    Field::req(
        "perturbations",
        Ty::List(&Ty::Serde(perturbation_schema)),
        "each a `{ kind: noise, sigma: 20 }`, `{ kind: contrast, factor: 0.7 }`, `{ kind: jpeg, quality: 30 }` or `{ kind: rotation, degrees: 5 }`",
    ),
    Field::opt(
        "label_column",
        Ty::Str,
        "truth column holding 0/1 labels, default `label`",
    ),
    Field::opt("ci", Ty::Obj(CI_FIELDS), "the drops' intervals"),
    Field::req(
        "pass",
        Ty::Expr,
        "criterion each drop (clean minus perturbed) must meet, e.g. `ci_high <= 0.05`",
    ),
];

#[derive(Debug)]
pub struct Robustness {
    model: String,
    truth: String,
    metric: String,
    threshold: Option<f64>,
    perturbations: Vec<Perturbation>,
    label_column: String,
    level: f64,
    pass: Expr,
    pass_text: String,
}

pub fn build(node: &Node, names: &Names, out: &mut Vec<Diagnostic>) -> Option<Box<dyn Check>> {
    let before = out.len();
    let model = node.get("model").and_then(Node::as_str)?.to_string();
    let known: Vec<String> = names.burn_models.keys().cloned().collect();
    reference(
        node,
        "model",
        &model,
        &known,
        "a network attest runs (`architecture:`) in `models:`; perturbations act inside attest's image pipeline, which a `command:` program or a prediction file does not use",
        out,
    );
    let truth = node.get("truth").and_then(Node::as_str)?.to_string();
    reference(
        node,
        "truth",
        &truth,
        &names.tables,
        "a case table in `data:`",
        out,
    );
    let metric = node
        .get("metric")
        .and_then(Node::as_str)
        .unwrap_or("auc")
        .to_string();
    let threshold = node.get("threshold").and_then(Node::as_f64);
    match (metric.as_str(), threshold) {
        ("auc", Some(_)) => out.push(
            Diagnostic::new(
                "unused-parameter",
                "`threshold` does not apply to auc",
                &node.key("threshold").expect("present").pos,
            )
            .label("remove this"),
        ),
        ("auc", None) | (_, Some(_)) => {}
        (m, None) => out.push(
            Diagnostic::new(
                "missing-key",
                format!("metric `{m}` needs a `threshold` (score >= threshold is positive)"),
                &node.pos,
            )
            .label("add `threshold:`"),
        ),
    }
    let window = names.burn_models.get(&model).copied().unwrap_or(true);
    let mut perturbations = Vec::new();
    let mut labels = Vec::new();
    for item in node
        .get("perturbations")
        .and_then(Node::as_seq)
        .unwrap_or(&[])
    {
        let p: Perturbation = match serde_json::from_value(item.to_json()) {
            Ok(p) => p,
            Err(e) => {
                out.push(
                    Diagnostic::new("invalid-value", format!("perturbation: {e}"), &item.pos)
                        .label("e.g. `{ kind: noise, sigma: 20 }`"),
                );
                continue;
            }
        };
        if let Some((field, message)) = p.problem() {
            let pos = item.get(field).map_or(&item.pos, |n| &n.pos);
            out.push(
                Diagnostic::new("out-of-range", format!("`{field}` {message}"), pos).label("here"),
            );
        }
        if p.needs_window() && !window {
            out.push(
                Diagnostic::new(
                    "invalid-value",
                    format!("a `{}` perturbation needs a window in model `{model}`'s pipeline (it compresses the displayed 8-bit image)", p.label()),
                    &item.pos,
                )
                .label("add `window:` to the pipeline, or remove this"),
            );
        }
        if labels.contains(&p.label()) {
            out.push(
                Diagnostic::new(
                    "duplicate-perturbation",
                    format!("`{}` is listed twice", p.label()),
                    &item.pos,
                )
                .label("remove one"),
            );
        }
        labels.push(p.label());
        perturbations.push(p);
    }
    if node
        .get("perturbations")
        .and_then(Node::as_seq)
        .is_some_and(<[_]>::is_empty)
    {
        out.push(
            Diagnostic::new(
                "invalid-value",
                "no perturbation is declared",
                &node.get("perturbations").expect("present").pos,
            )
            .label("a robustness requirement with nothing to perturb would pass vacuously"),
        );
    }
    let (pass, pass_text) = super::judge::pass_criterion(node, out)?;
    if out.len() > before {
        return None;
    }
    Some(Box::new(Robustness {
        model,
        truth,
        metric,
        threshold,
        perturbations,
        label_column: node
            .get("label_column")
            .and_then(Node::as_str)
            .unwrap_or("label")
            .to_string(),
        level: node
            .get("ci")
            .and_then(|c| c.get("level"))
            .and_then(Node::as_f64)
            .unwrap_or(0.95),
        pass: pass?,
        pass_text,
    }))
}

/// One case's label and its clean and perturbed scores.
struct Pair {
    label: bool,
    clean: f64,
    perturbed: f64,
}

impl Check for Robustness {
    fn uses(&self) -> Uses {
        Uses {
            data: vec![self.truth.clone()],
            models: vec![self.model.clone()],
            perturbations: self
                .perturbations
                .iter()
                .map(|p| (self.model.clone(), p.clone()))
                .collect(),
            ..Uses::default()
        }
    }

    fn evaluate(&self, cx: &Context) -> Evidence {
        let method = self.method();
        let mut findings = Vec::new();
        let Some(table) = super::case_table(cx, &self.truth, &mut findings) else {
            return Evidence::error(method, findings);
        };
        let Some(clean) = cx.models.get(&self.model).and_then(|m| m.value.as_ref()) else {
            // Why it did not run (weights, pin, data), when the runner said.
            match cx.models.get(&self.model) {
                Some(m) if !m.findings.is_empty() => findings.extend(m.findings.iter().cloned()),
                _ => findings.push(Finding::error(
                    "missing-model",
                    format!("model `{}` did not run", self.model),
                    self.model.clone(),
                )),
            }
            return Evidence::error(method, findings);
        };
        let Some(label_col) =
            super::label_column(table, &self.truth, &self.label_column, &mut findings)
        else {
            return Evidence::error(method, findings);
        };
        // Cases with a label and a clean score; the rest are said once, not per perturbation.
        let mut base: Vec<(usize, bool, f64)> = Vec::new();
        for row in 0..table.len() {
            let id = table.id(row);
            let Some(label) = super::binary_label(
                table,
                &self.truth,
                row,
                (label_col, &self.label_column),
                &mut findings,
            ) else {
                continue;
            };
            match clean.score_near(id, row) {
                Score::Valid(s) => base.push((row, label, s)),
                _ => findings.push(Finding::warning(
                    "not-compared",
                    format!(
                        "case `{id}`: no clean score from model `{}`; left out of the comparison (the requirements on its clean performance account for it)",
                        self.model
                    ),
                    format!("case {id}"),
                )),
            }
        }
        let mut measurements = Vec::new();
        for p in &self.perturbations {
            let label = p.label();
            let mut m = Measurement::new(
                &format!("{}_drop", self.metric),
                Some(BTreeMap::from([(
                    "perturbation".to_string(),
                    label.clone(),
                )])),
            );
            m.threshold = self.threshold;
            let run = cx.perturbed.get(&self.model).and_then(|r| r.get(&label));
            let Some(perturbed) = run.and_then(|r| r.value.as_ref()) else {
                findings.push(Finding::error(
                    "missing-model",
                    format!("model `{}` did not run under `{label}`", self.model),
                    label.clone(),
                ));
                m.status = Status::Error;
                measurements.push(m);
                continue;
            };
            let (pairs, lost) = self.pairs(&base, table, perturbed, &label, &mut findings);
            self.measure(&mut m, &pairs, &label, &mut findings);
            judge(&mut m, &self.pass, &self.pass_text, None, 0, &mut findings);
            if lost > 0 && m.status == Status::Pass {
                m.status = Status::Inconclusive;
                findings.push(Finding::warning(
                    "undecided",
                    format!(
                        "{lost} case(s) scored clean could not be scored under `{label}`: the drop on the others cannot show robustness"
                    ),
                    label.clone(),
                ));
            }
            measurements.push(m);
        }
        Evidence {
            status: combine(&measurements, &findings),
            method,
            measurements,
            findings,
        }
    }

    fn criterion(&self) -> Option<String> {
        Some(format!("each perturbation: {}", self.pass_text))
    }
}

impl Robustness {
    fn method(&self) -> String {
        let what = match self.metric.as_str() {
            "auc" => "AUC drop (clean minus perturbed), paired DeLong interval of the difference"
                .to_string(),
            m => format!(
                "{m} drop at threshold {} (clean minus perturbed), Tango score interval for the paired difference",
                self.threshold.unwrap_or(f64::NAN)
            ),
        };
        format!(
            "{what} at {}; model `{}` rerun on the same cases under each declared perturbation, seeded by the run's seed and each file's name",
            super::evidence::percent(self.level),
            self.model
        )
    }

    /// The cases scored both clean and perturbed, and how many clean-scored cases the
    /// perturbed run lost (each a finding).
    fn pairs(
        &self,
        base: &[(usize, bool, f64)],
        table: &crate::data::table::CaseTable,
        perturbed: &Predictions,
        label: &str,
        findings: &mut Vec<Finding>,
    ) -> (Vec<Pair>, usize) {
        let mut pairs = Vec::with_capacity(base.len());
        let mut lost = 0;
        for &(row, truth, clean) in base {
            let id = table.id(row);
            match perturbed.score_near(id, row) {
                Score::Valid(s) => pairs.push(Pair {
                    label: truth,
                    clean,
                    perturbed: s,
                }),
                _ => {
                    lost += 1;
                    findings.push(Finding::error(
                        "perturbed-case-failed",
                        format!("case `{id}`: scored clean, but not under `{label}`"),
                        format!("case {id}"),
                    ));
                }
            }
        }
        (pairs, lost)
    }

    fn measure(
        &self,
        m: &mut Measurement,
        pairs: &[Pair],
        label: &str,
        findings: &mut Vec<Finding>,
    ) {
        m.n = pairs.len() as u64;
        m.n_pos = Some(pairs.iter().filter(|p| p.label).count() as u64);
        m.n_neg = Some(pairs.iter().filter(|p| !p.label).count() as u64);
        m.ci_level = Some(self.level);
        let (clean, perturbed) = if self.metric == "auc" {
            let split = |f: fn(&Pair) -> f64, positive: bool| -> Vec<f64> {
                pairs
                    .iter()
                    .filter(|p| p.label == positive)
                    .map(f)
                    .collect()
            };
            let t = delong_paired(
                &split(|p| p.clean, true),
                &split(|p| p.clean, false),
                &split(|p| p.perturbed, true),
                &split(|p| p.perturbed, false),
            );
            m.ci_method = Some("paired DeLong".to_string());
            match t {
                Some(t) => {
                    let z = crate::stats::z_two_sided(self.level);
                    let half = z * t.variance.sqrt();
                    m.estimate = Some(t.difference);
                    m.ci_low = Some(t.difference - half);
                    m.ci_high = Some(t.difference + half);
                    m.p_value = Some(t.p_value);
                    (Some(t.auc_a), Some(t.auc_b))
                }
                None => {
                    let (a, b) = identical_or_undefined(pairs);
                    if let (Some(a), Some(b)) = (a, b) {
                        // DeLong's variance of the difference is zero (e.g. both runs separate
                        // the classes perfectly): the estimate stands, but an interval of zero
                        // width says nothing about the uncertainty, so the criterion cannot be
                        // met on it (the judge leaves the measurement undecided).
                        m.estimate = Some(a - b);
                        findings.push(Finding::warning(
                            "zero-variance",
                            format!(
                                "`{label}`: DeLong's variance of the AUC difference is zero (AUC {a} clean, {b} perturbed); no interval"
                            ),
                            label.to_string(),
                        ));
                    } else {
                        findings.push(Finding::warning(
                            "undefined",
                            format!(
                                "`{label}`: the AUC drop needs at least two positive and two negative cases"
                            ),
                            label.to_string(),
                        ));
                    }
                    (a, b)
                }
            }
        } else {
            let threshold = self.threshold.unwrap_or(f64::NAN);
            let counted: Vec<&Pair> = pairs
                .iter()
                .filter(|p| match self.metric.as_str() {
                    "sensitivity" => p.label,
                    "specificity" => !p.label,
                    _ => true,
                })
                .collect();
            let right = |s: f64, label: bool| (s >= threshold) == label;
            let (mut b, mut c, mut clean_right, mut pert_right) = (0u64, 0u64, 0u64, 0u64);
            for p in &counted {
                let (x, y) = (right(p.clean, p.label), right(p.perturbed, p.label));
                clean_right += u64::from(x);
                pert_right += u64::from(y);
                b += u64::from(x && !y);
                c += u64::from(!x && y);
            }
            let n = counted.len() as u64;
            m.n = n;
            m.ci_method = Some("Tango score interval (paired)".to_string());
            if n == 0 {
                findings.push(Finding::warning(
                    "undefined",
                    format!("`{label}`: no case counts for {}", self.metric),
                    label.to_string(),
                ));
                (None, None)
            } else {
                let nf = n as f64;
                m.estimate = Some((b as f64 - c as f64) / nf);
                if let Some(ci) = tango_ci(b, c, n, self.level) {
                    m.ci_low = Some(ci.low);
                    m.ci_high = Some(ci.high);
                }
                (Some(clean_right as f64 / nf), Some(pert_right as f64 / nf))
            }
        };
        if let (Some(a), Some(b)) = (clean, perturbed) {
            findings.push(Finding::new(
                "perturbed-performance",
                Severity::Info,
                format!("`{label}`: {} {a:.4} clean, {b:.4} perturbed", self.metric),
                Some(label.to_string()),
            ));
        }
    }
}

/// The two AUCs when DeLong's paired test is undefined: both, when each class has at least
/// two cases (the variance of the difference is then zero), else neither.
fn identical_or_undefined(pairs: &[Pair]) -> (Option<f64>, Option<f64>) {
    let auc = |f: fn(&Pair) -> f64| {
        let pos: Vec<f64> = pairs.iter().filter(|p| p.label).map(f).collect();
        let neg: Vec<f64> = pairs.iter().filter(|p| !p.label).map(f).collect();
        crate::stats::roc::auc_delong(&pos, &neg).map(|a| a.auc)
    };
    let (pos, neg) = (
        pairs.iter().filter(|p| p.label).count(),
        pairs.iter().filter(|p| !p.label).count(),
    );
    if pos >= 2 && neg >= 2 {
        (auc(|p| p.clean), auc(|p| p.perturbed))
    } else {
        (None, None)
    }
}
