//! `segmentation`: a model's masks against reference masks, case by case: Dice, IoU,
//! Hausdorff, HD95, ASSD or NSD at a tolerance, the mean over cases with a bootstrap interval;
//! one named structure (a label value or a segment) or any foreground.
//!
//! Documentation for users is in `segmentation.md`.

use super::evidence::{percent, CaseValue, Evidence, Finding, Measurement, Severity, Status};
use super::judge::{judge, pass_criterion};
use super::params::{number, text};
use super::{reference, Check, Context, DataSet, Names, Uses};
use crate::data::masks::{read_structure, Foreground, Mask, MaskError, MaskSet};
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
        "structure",
        Ty::Str,
        "a structure named in both mask sources' `structures:`; default: any non-zero value or segment",
    ),
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
    /// The structure compared, if one is named.
    structure: Option<String>,
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
    let structure = s("structure");
    if let Some(st) = &structure {
        let sides = [
            ("mask folder", &truth, names.mask_structures.get(&truth)),
            ("model", &model, names.mask_model_structures.get(&model)),
        ];
        for (what, name, known) in sides {
            // An unknown source or model is reported above, once.
            let Some(known) = known else { continue };
            if known.contains(st) {
                continue;
            }
            let pos = node
                .get("structure")
                .map_or(node.pos.clone(), |n| n.pos.clone());
            let expected: Vec<&str> = known.iter().map(String::as_str).collect();
            out.push(
                Diagnostic::new(
                    "unknown-structure",
                    format!("`{st}` is not a structure of {what} `{name}`"),
                    &pos,
                )
                .label(if expected.is_empty() {
                    format!("`{name}` declares no `structures:`; add e.g. `structures: {{ {st}: 1 }}` there")
                } else {
                    format!("expected one of: {}", crate::spec::diag::one_of(&expected))
                })
                .did_you_mean(st, expected.iter().copied()),
            );
        }
    }
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
        structure,
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

    /// The method in words; `foreground` says which voxels are compared.
    fn method(&self, foreground: &str) -> String {
        let what = match self.metric.as_str() {
            "dice" => "volumetric Dice, 2|A∩B|/(|A|+|B|); both empty 1".to_string(),
            "iou" => "intersection over union, |A∩B|/|A∪B|; both empty 1".to_string(),
            "hausdorff" => "Hausdorff distance in mm, the larger of the two directed maxima".to_string(),
            "hausdorff95" => "95th-percentile Hausdorff distance in mm: the area-weighted 95th percentile of each direction's surface distances, then the larger (DeepMind compute_robust_hausdorff)".to_string(),
            "assd" => "average symmetric surface distance in mm, area-weighted over both surfaces".to_string(),
            _ => format!("normalized surface Dice at {} mm: the share of both surfaces' area within the tolerance of the other", self.tolerance),
        };
        format!(
            "{what}, per case, {foreground}, with surfaces and surface areas as DeepMind surface-distance defines them (surfels between foreground and background, neighbour-code areas, exact Euclidean distance transform honouring the voxel spacing); masks compared voxel by voxel on the same grid (dimensions, spacing, orientation and origin), never resampled; a case without a predicted mask, or whose predicted or reference structure is empty while the other is not, scores the worst value ({}); the mean over cases with a {} percentile bootstrap over cases ({} resamples, seeded)",
            if self.higher_is_better() { "0".to_string() } else { "the grid's diagonal in mm".to_string() },
            percent(self.level),
            self.resamples
        )
    }

    /// Which voxels of each side are foreground, and that in words.
    fn foreground(
        &self,
        truth: &MaskSet,
        predicted: &MaskSet,
    ) -> Result<(Foreground, Foreground, String), String> {
        let Some(st) = &self.structure else {
            return Ok((
                Foreground::Any,
                Foreground::Any,
                "foreground any non-zero label value or any segment".to_string(),
            ));
        };
        let value = |set: &MaskSet, side: &str| {
            set.structures.get(st).copied().ok_or_else(|| {
                format!(
                    "the {side} `{}` does not name structure `{st}`",
                    set.display
                )
            })
        };
        let (r, p) = (value(truth, "reference")?, value(predicted, "model")?);
        Ok((
            Foreground::Label(r),
            Foreground::Label(p),
            format!("structure `{st}` (reference label value or segment {r}, model label value or segment {p})"),
        ))
    }

    /// The metric for one pair of masks on one grid, and whether exactly one of them is empty
    /// (a missed or spurious structure: the worst value, 0 for the overlap metrics and the
    /// grid's diagonal for the distances, which are infinite there).
    fn score(&self, reference: &Mask, predicted: &Mask) -> (f64, bool) {
        let empty = |m: &Mask| !m.voxels.contains(&true);
        if empty(reference) != empty(predicted) {
            let worst = if self.higher_is_better() {
                0.0
            } else {
                diagonal(reference)
            };
            return (worst, true);
        }
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
        (v, false)
    }
}

/// Reads one side's mask of a case, a finding (and nothing) when it cannot be read.
type ReadMask = dyn Fn(&std::path::Path, Foreground, &str, &mut Vec<Finding>) -> Option<Mask>;

impl Segmentation {
    /// One reference case's value: the worst without a prediction, none (a finding) when the
    /// prediction cannot be read or lies on another grid.
    fn case_value(
        &self,
        case: &str,
        reference: &Mask,
        pred_path: Option<&std::path::PathBuf>,
        pred_fg: Foreground,
        read: &ReadMask,
        findings: &mut Vec<Finding>,
    ) -> Option<f64> {
        let worst = if self.higher_is_better() {
            0.0
        } else {
            diagonal(reference)
        };
        let Some(pred_path) = pred_path else {
            findings.push(Finding::warning(
                "missing-prediction",
                format!("no predicted mask: scored the worst value ({worst})"),
                format!("case {case}"),
            ));
            return Some(worst);
        };
        let pred = read(pred_path, pred_fg, case, findings)?;
        if let Err(why) = reference.same_grid(&pred) {
            findings.push(Finding::error(
                "grid-mismatch",
                format!("the reference and predicted masks differ: {why}; not scored"),
                format!("case {case}"),
            ));
            return None;
        }
        let (v, missed) = self.score(reference, &pred);
        if missed {
            findings.push(Finding::new(
                "empty-structure",
                Severity::Warning,
                format!("one mask is empty and the other is not: scored the worst value ({v})"),
                Some(format!("case {case}")),
            ));
        }
        Some(v)
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
        let generic = self.method(&match &self.structure {
            Some(st) => format!("structure `{st}`"),
            None => "foreground any non-zero label value or any segment".to_string(),
        });
        let fail = |f: Vec<Finding>| Evidence::error(generic.clone(), f);
        // What listing each folder found (files that are not masks, a second file for a
        // case) is reported with the requirement.
        let mut listed = Vec::new();
        let truth: &MaskSet = match cx.data.get(&self.truth) {
            Some(DataSet::Masks(m)) => match &m.value {
                Some(v) => {
                    listed.extend(m.findings.iter().cloned());
                    v
                }
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
                Some(v) => {
                    listed.extend(m.findings.iter().cloned());
                    v
                }
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
        let (ref_fg, pred_fg, foreground) = match self.foreground(truth, predicted) {
            Ok(f) => f,
            Err(why) => {
                return fail(vec![Finding::error(
                    "unknown-structure",
                    why,
                    self.truth.clone(),
                )])
            }
        };
        let method = self.method(&foreground);
        let mut findings = listed;
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
        // A file that cannot be read, or lacks the segment asked for: a finding, not scored.
        let read =
            |path: &std::path::Path, fg: Foreground, case: &str, findings: &mut Vec<Finding>| {
                match read_structure(path, fg) {
                    Ok(m) => Some(m),
                    Err(e) => {
                        let code = match e {
                            MaskError::MissingSegment { .. } => "missing-segment",
                            MaskError::Unreadable(_) => "unreadable-mask",
                        };
                        findings.push(Finding::error(code, e.to_string(), format!("case {case}")));
                        None
                    }
                }
            };
        let mut scores: Vec<f64> = Vec::new();
        let mut per_case: Vec<CaseValue> = Vec::new();
        for (case, ref_path) in &truth.files {
            let mut value = None;
            if let Some(reference) = read(ref_path, ref_fg, case, &mut findings) {
                value = self.case_value(
                    case,
                    &reference,
                    predicted.files.get(case),
                    pred_fg,
                    &read,
                    &mut findings,
                );
            }
            match value {
                Some(v) => scores.push(v),
                None => undecided = true,
            }
            per_case.push(CaseValue {
                case: case.clone(),
                value,
            });
        }
        let mut m = Measurement::new(&self.metric, None);
        m.n = scores.len() as u64;
        m.per_case = Some(per_case);
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
