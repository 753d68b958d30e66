//! `segmentation`: a model's masks against reference masks, case by case: Dice, IoU,
//! Hausdorff, HD95, ASSD or NSD at a tolerance, the mean over cases with a bootstrap interval.
//!
//! Documentation for users is in `segmentation.md`.

use super::evidence::{percent, Evidence, Finding, Measurement, Severity, Status};
use super::judge::{judge, pass_criterion};
use super::params::{number, text};
use super::{reference, Check, Context, DataSet, Names, Uses};
use crate::data::masks::{read_mask, Mask, MaskSet};
use crate::spec::diag::Diagnostic;
use crate::spec::expr::Expr;
use crate::spec::schema::{Field, Ty};
use crate::spec::yaml::Node;
use crate::stats::agreement::bootstrap_units;
use crate::stats::surface::surface_metrics;

pub const DOC: &str = include_str!("segmentation.md");

pub const METRICS: &[&str] = &["dice", "iou", "hausdorff", "hausdorff95", "assd", "nsd"];

pub const PARAMS: &[Field] = &[
    Field::req("model", Ty::Str, "a model with `masks:` in `models:`"),
    Field::req(
        "truth",
        Ty::Str,
        "a reference mask folder (`masks:`) in `data:`",
    ),
    Field::req("metric", Ty::Enum(METRICS), "the segmentation metric"),
    Field::opt(
        "tolerance_mm",
        Ty::Num { min: 0.0, max: 1e4 },
        "the tolerance of `nsd`, in mm (required there)",
    ),
    Field::opt(
        "ci",
        Ty::Obj(super::params::BOOTSTRAP_CI),
        "bootstrap interval over cases",
    ),
    Field::req("pass", Ty::Expr, "pass criterion, e.g. `ci_low >= 0.85`"),
    Field::opt(
        "min_n",
        Ty::Int { min: 0 },
        "fewer cases make the requirement inconclusive, default 0",
    ),
];

#[derive(Debug)]
pub struct Segmentation {
    model: String,
    truth: String,
    metric: String,
    tolerance: f64,
    level: f64,
    resamples: usize,
    pass: Expr,
    pass_text: String,
    min_n: u64,
}

pub fn build(node: &Node, names: &Names, out: &mut Vec<Diagnostic>) -> Option<Box<dyn Check>> {
    let before = out.len();
    let s = |k: &str| node.get(k).and_then(Node::as_str).map(str::to_string);
    let (model, truth) = (s("model")?, s("truth")?);
    reference(
        node,
        "model",
        &model,
        &names.mask_models,
        "a model with `masks:`",
        out,
    );
    reference(
        node,
        "truth",
        &truth,
        &names.masks,
        "a mask folder (`masks:`) in `data:`",
        out,
    );
    let metric = text(node, "metric", "dice");
    match (metric == "nsd", node.get("tolerance_mm")) {
        (true, None) => out.push(
            Diagnostic::new("missing-key", "`nsd` needs `tolerance_mm`", &node.pos)
                .label("add `tolerance_mm:` to this requirement"),
        ),
        (false, Some(t)) => out.push(
            Diagnostic::new(
                "unused-parameter",
                format!("`tolerance_mm` does not apply to `{metric}`"),
                &t.pos,
            )
            .label("remove this"),
        ),
        _ => {}
    }
    let (pass, pass_text) = pass_criterion(node, out)?;
    if out.len() > before {
        return None;
    }
    let (level, resamples) = super::params::bootstrap_ci(node);
    Some(Box::new(Segmentation {
        model,
        truth,
        metric,
        tolerance: number(node, "tolerance_mm", 0.0),
        level,
        resamples,
        pass: pass?,
        pass_text,
        min_n: number(node, "min_n", 0.0) as u64,
    }))
}

/// The largest distance on a grid, in mm: the worst value a distance metric can take there.
fn diagonal(m: &Mask) -> f64 {
    (0..3)
        .map(|k| ((m.dims[k].max(1) - 1) as f64 * m.spacing[k]).powi(2))
        .sum::<f64>()
        .sqrt()
}

impl Segmentation {
    fn higher_is_better(&self) -> bool {
        matches!(self.metric.as_str(), "dice" | "iou" | "nsd")
    }

    fn method(&self) -> String {
        let what = match self.metric.as_str() {
            "dice" => "volumetric Dice, 2|A∩B|/(|A|+|B|); both empty 1".to_string(),
            "iou" => "intersection over union, |A∩B|/|A∪B|; both empty 1".to_string(),
            "hausdorff" => "Hausdorff distance in mm, the larger of the two directed maxima".to_string(),
            "hausdorff95" => "95th-percentile Hausdorff distance in mm: the area-weighted 95th percentile of each direction's surface distances, then the larger (DeepMind compute_robust_hausdorff)".to_string(),
            "assd" => "average symmetric surface distance in mm, area-weighted over both surfaces".to_string(),
            _ => format!("normalized surface Dice at {} mm: the share of both surfaces' area within the tolerance of the other", self.tolerance),
        };
        format!(
            "{what}, per case, with surfaces and surface areas as DeepMind surface-distance defines them (surfels between foreground and background, neighbour-code areas, exact Euclidean distance transform honouring the voxel spacing); a case without a predicted mask, or whose predicted or reference structure is empty while the other is not, scores the worst value ({}); the mean over cases with a {} percentile bootstrap over cases ({} resamples, seeded)",
            if self.higher_is_better() { "0".to_string() } else { "the grid's diagonal in mm".to_string() },
            percent(self.level),
            self.resamples
        )
    }

    /// The metric for one pair of masks on one grid; the worst value for a missed or spurious
    /// structure (an infinite distance).
    fn score(&self, reference: &Mask, predicted: &Mask) -> (f64, bool) {
        let tol = [self.tolerance];
        let m = surface_metrics(
            &reference.voxels,
            &predicted.voxels,
            reference.dims,
            reference.spacing,
            &tol,
        );
        let v = match self.metric.as_str() {
            "dice" => m.dice,
            "iou" => crate::stats::overlap::iou(&reference.voxels, &predicted.voxels),
            "hausdorff" => m.hausdorff,
            "hausdorff95" => m.hausdorff95,
            "assd" => m.assd,
            _ => m.nsd[0],
        };
        if v.is_infinite() {
            (diagonal(reference), true)
        } else {
            (v, false)
        }
    }
}

impl Check for Segmentation {
    fn uses(&self) -> Uses {
        Uses {
            data: vec![self.truth.clone()],
            models: vec![self.model.clone()],
            ..Uses::default()
        }
    }

    fn evaluate(&self, cx: &Context) -> Evidence {
        let method = self.method();
        let fail = |f: Vec<Finding>| Evidence::error(method.clone(), f);
        let truth: &MaskSet = match cx.data.get(&self.truth) {
            Some(DataSet::Masks(m)) => match &m.value {
                Some(v) => v,
                None => return fail(m.findings.clone()),
            },
            _ => {
                return fail(vec![Finding::error(
                    "missing-data",
                    format!("mask folder `{}` was not loaded", self.truth),
                    self.truth.clone(),
                )])
            }
        };
        let predicted: &MaskSet = match cx.masks.get(&self.model) {
            Some(m) => match &m.value {
                Some(v) => v,
                None => return fail(m.findings.clone()),
            },
            None => {
                return fail(vec![Finding::error(
                    "missing-data",
                    format!("model `{}` was not loaded", self.model),
                    self.model.clone(),
                )])
            }
        };
        let mut findings = Vec::new();
        let mut undecided = false;
        for case in predicted
            .files
            .keys()
            .filter(|c| !truth.files.contains_key(*c))
        {
            findings.push(Finding::warning(
                "unknown-case",
                format!("model `{}` has a mask for case `{case}`, which the reference does not: ignored", self.model),
                format!("case {case}"),
            ));
        }
        let mut scores: Vec<f64> = Vec::new();
        for (case, ref_path) in &truth.files {
            let reference = match read_mask(ref_path) {
                Ok(m) => m,
                Err(why) => {
                    undecided = true;
                    findings.push(Finding::error(
                        "unreadable-mask",
                        why,
                        format!("case {case}"),
                    ));
                    continue;
                }
            };
            let worst = if self.higher_is_better() {
                0.0
            } else {
                diagonal(&reference)
            };
            let Some(pred_path) = predicted.files.get(case) else {
                findings.push(Finding::warning(
                    "missing-prediction",
                    format!("no predicted mask: scored the worst value ({worst})"),
                    format!("case {case}"),
                ));
                scores.push(worst);
                continue;
            };
            let pred = match read_mask(pred_path) {
                Ok(m) => m,
                Err(why) => {
                    undecided = true;
                    findings.push(Finding::error(
                        "unreadable-mask",
                        why,
                        format!("case {case}"),
                    ));
                    continue;
                }
            };
            if let Err(why) = reference.same_grid(&pred) {
                undecided = true;
                findings.push(Finding::error(
                    "grid-mismatch",
                    format!("the predicted and reference masks differ: {why}; not scored"),
                    format!("case {case}"),
                ));
                continue;
            }
            let (v, missed) = self.score(&reference, &pred);
            if missed {
                findings.push(Finding::new(
                    "empty-structure",
                    Severity::Warning,
                    format!("one mask is empty and the other is not: scored the worst value ({v})"),
                    Some(format!("case {case}")),
                ));
            }
            scores.push(v);
        }
        let mut m = Measurement::new(&self.metric, None);
        m.n = scores.len() as u64;
        if !scores.is_empty() {
            m.estimate = Some(scores.iter().sum::<f64>() / scores.len() as f64);
            let boot = bootstrap_units(scores.len(), self.resamples, cx.seed, self.level, |w| {
                let n: f64 = w.iter().map(|&x| f64::from(x)).sum();
                Some(
                    scores
                        .iter()
                        .zip(w)
                        .map(|(s, &x)| s * f64::from(x))
                        .sum::<f64>()
                        / n,
                )
            });
            if let Some(b) = boot {
                m.ci_low = b.ci.map(|i| i.low);
                m.ci_high = b.ci.map(|i| i.high);
                m.ci_level = Some(self.level);
                m.ci_method = Some(format!(
                    "bootstrap over cases, percentile ({} resamples)",
                    self.resamples
                ));
            }
            if m.ci_low.is_some() && m.ci_low == m.ci_high {
                m.ci_low = None;
                m.ci_high = None;
            }
        }
        judge(
            &mut m,
            &self.pass,
            &self.pass_text,
            None,
            self.min_n,
            &mut findings,
        );
        let mut status = m.status;
        if undecided && status == Status::Pass {
            status = Status::Inconclusive;
            m.status = status;
        }
        Evidence {
            status,
            method,
            measurements: vec![m],
            findings,
        }
    }
}
