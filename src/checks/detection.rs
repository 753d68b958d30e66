//! `detection`: lesion detection performance the LUNA16 way: FROC, CPM, sensitivity at a
//! false-positive rate or at an operating point, false positives per scan, patient-level
//! sensitivity, each with a bootstrap interval over scans.
//!
//! Documentation for users is in `detection.md`.

use std::collections::HashMap;

use super::evidence::{percent, Evidence, Finding, Measurement, Status};
use super::judge::{judge, pass_criterion};
use super::params::{number, text};
use super::{reference, Check, Context, DataSet, Names, Uses};
use crate::data::detections::Points;
use crate::spec::diag::Diagnostic;
use crate::spec::expr::Expr;
use crate::spec::schema::{Field, Ty};
use crate::spec::yaml::Node;
use crate::stats::agreement::bootstrap_units;
use crate::stats::froc::{
    cpm, froc_bootstrap, froc_curve, match_candidates, sensitivity_at, Candidate, FrocPoint,
    Lesion, Matched, CPM_RATES,
};

pub const DOC: &str = include_str!("detection.md");

pub const METRICS: &[&str] = &[
    "cpm",
    "sensitivity_at_fp",
    "sensitivity",
    "fp_per_scan",
    "patient_sensitivity",
];

pub const PARAMS: &[Field] = &[
    Field::req("model", Ty::Str, "a model with `detections:` in `models:`"),
    Field::req("truth", Ty::Str, "a reference lesion source (`lesions:`) in `data:`"),
    Field::req(
        "scans",
        Ty::Str,
        "a case table in `data:` listing every scan (its id column holds the seriesuid)",
    ),
    Field::req("metric", Ty::Enum(METRICS), "the performance metric"),
    Field::opt(
        "fp_rate",
        Ty::Num { min: 0.0, max: 1e6 },
        "false positives per scan, for `sensitivity_at_fp`",
    ),
    Field::opt(
        "threshold",
        Ty::Num { min: 0.0, max: 1.0 },
        "operating point (probability >= threshold), for `sensitivity`, `fp_per_scan`, `patient_sensitivity`",
    ),
    Field::opt(
        "min_diameter_mm",
        Ty::Num { min: 0.0, max: 1e4 },
        "reference lesions smaller than this are ignored (hits on them count neither way), default 0",
    ),
    Field::opt(
        "radius_factor",
        Ty::Num { min: 0.0, max: 100.0 },
        "hit rule: a candidate hits a lesion within radius_factor x its radius, default 1 (LUNA16)",
    ),
    Field::opt("ci", Ty::Obj(super::params::BOOTSTRAP_CI), "bootstrap interval over scans"),
    Field::req("pass", Ty::Expr, "pass criterion, e.g. `ci_low >= 0.80`"),
];

#[derive(Debug)]
pub struct Detection {
    model: String,
    truth: String,
    scans: String,
    metric: String,
    fp_rate: f64,
    threshold: f64,
    min_diameter: f64,
    radius_factor: f64,
    level: f64,
    resamples: usize,
    pass: Expr,
    pass_text: String,
}

pub fn build(node: &Node, names: &Names, out: &mut Vec<Diagnostic>) -> Option<Box<dyn Check>> {
    let before = out.len();
    let s = |k: &str| node.get(k).and_then(Node::as_str).map(str::to_string);
    let (model, truth, scans) = (s("model")?, s("truth")?, s("scans")?);
    reference(
        node,
        "model",
        &model,
        &names.detection_models,
        "a model with `detections:`",
        out,
    );
    reference(
        node,
        "truth",
        &truth,
        &names.lesions,
        "a lesion source (`lesions:`) in `data:`",
        out,
    );
    reference(
        node,
        "scans",
        &scans,
        &names.tables,
        "a case table in `data:`",
        out,
    );
    let metric = text(node, "metric", "cpm");
    let need = |key: &str, metrics: &[&str], out: &mut Vec<Diagnostic>| {
        let has = node.get(key).is_some();
        let wanted = metrics.contains(&metric.as_str());
        if wanted && !has {
            out.push(
                Diagnostic::new(
                    "missing-key",
                    format!("`{metric}` needs `{key}`"),
                    &node.pos,
                )
                .label(format!("add `{key}:` to this requirement")),
            );
        } else if has && !wanted {
            out.push(
                Diagnostic::new(
                    "unused-parameter",
                    format!("`{key}` does not apply to `{metric}`"),
                    &node.get(key).expect("has").pos,
                )
                .label("remove this"),
            );
        }
    };
    need("fp_rate", &["sensitivity_at_fp"], out);
    need(
        "threshold",
        &["sensitivity", "fp_per_scan", "patient_sensitivity"],
        out,
    );
    let (pass, pass_text) = pass_criterion(node, out)?;
    if out.len() > before {
        return None;
    }
    let (level, resamples) = super::params::bootstrap_ci(node);
    Some(Box::new(Detection {
        model,
        truth,
        scans,
        metric,
        fp_rate: number(node, "fp_rate", 1.0),
        threshold: number(node, "threshold", 0.5),
        min_diameter: number(node, "min_diameter_mm", 0.0),
        radius_factor: number(node, "radius_factor", 1.0),
        level,
        resamples,
        pass: pass?,
        pass_text,
    }))
}

/// Points of the FROC curve kept in the report (for its plot).
const FROC_POINTS: usize = 200;

/// The FROC curve thinned for the report to at most `max` points (at least 2 + 14 for the
/// CPM rates). First losslessly: the inner points of each flat or vertical stretch of the
/// step curve are dropped, which changes neither its shape nor any value read from it by
/// linear interpolation. If still too many: the points on either side of each CPM rate (so
/// the curve read at those rates is unchanged), the first and the last, and the others spread
/// evenly along the curve as the report draws it (log axis from 1/8 to 8 FP/scan).
fn thin_froc(curve: &[FrocPoint], max: usize) -> Vec<FrocPoint> {
    let same = |a: f64, b: f64, c: f64| a == b && b == c;
    let corners: Vec<FrocPoint> = (0..curve.len())
        .filter(|&i| {
            if i == 0 || i + 1 == curve.len() {
                return true;
            }
            let (a, b, c) = (curve[i - 1], curve[i], curve[i + 1]);
            !(same(a.fp_per_scan, b.fp_per_scan, c.fp_per_scan)
                || same(a.sensitivity, b.sensitivity, c.sensitivity))
        })
        .map(|i| curve[i])
        .collect();
    if corners.len() <= max {
        return corners;
    }
    let last = corners.len() - 1;
    let mut keep = vec![false; corners.len()];
    (keep[0], keep[last]) = (true, true);
    for r in CPM_RATES {
        let j = corners.partition_point(|p| p.fp_per_scan <= r);
        for k in [j.wrapping_sub(1), j] {
            if let Some(x) = keep.get_mut(k) {
                *x = true;
            }
        }
    }
    let budget = max.saturating_sub(keep.iter().filter(|&&k| k).count());
    // Distance along the drawn curve: the FROC plot is 300 x 200 px over 6 octaves x [0, 1].
    let x = |f: f64| f.clamp(0.125, 8.0).log2() * 50.0;
    let step = |a: &FrocPoint, b: &FrocPoint| {
        (x(b.fp_per_scan) - x(a.fp_per_scan)).abs() + 200.0 * (b.sensitivity - a.sensitivity).abs()
    };
    let total: f64 = corners.windows(2).map(|w| step(&w[0], &w[1])).sum();
    if budget > 0 && total > 0.0 {
        let h = total / (budget + 1) as f64;
        let (mut k, mut s, mut picked) = (1, 0.0, 0);
        for i in 1..last {
            s += step(&corners[i - 1], &corners[i]);
            if picked < budget && s >= k as f64 * h {
                if !keep[i] {
                    keep[i] = true;
                    picked += 1;
                }
                while s >= k as f64 * h {
                    k += 1;
                }
            }
        }
    }
    corners
        .into_iter()
        .zip(keep)
        .filter_map(|(p, k)| k.then_some(p))
        .collect()
}

/// Per-scan counts at an operating point: (counted lesions, detected lesions, false positives).
type ScanCounts = (u32, u32, u32);

/// Picks a count out of a scan's counts (a ratio's numerator or denominator).
type Pick = fn(&ScanCounts) -> u32;

fn per_scan(m: &Matched, scans: usize, t: f64) -> Vec<ScanCounts> {
    let mut c = vec![(0u32, 0u32, 0u32); scans];
    for (s, &scan) in m.lesion_scores.iter().zip(&m.lesion_scans) {
        c[scan].0 += 1;
        if s.is_some_and(|p| p >= t) {
            c[scan].1 += 1;
        }
    }
    for (&p, &scan) in m.false_positives.iter().zip(&m.fp_scans) {
        if p >= t {
            c[scan].2 += 1;
        }
    }
    c
}

impl Detection {
    fn method(&self) -> String {
        let what = match self.metric.as_str() {
            "cpm" => "the CPM, mean sensitivity at 1/8, 1/4, 1/2, 1, 2, 4 and 8 false positives per scan, interpolated on the FROC curve (numpy.interp, as the LUNA16 script)".to_string(),
            "sensitivity_at_fp" => format!("lesion sensitivity at {} false positives per scan, interpolated on the FROC curve (numpy.interp, as the LUNA16 script)", self.fp_rate),
            "sensitivity" => format!("lesion sensitivity at probability >= {}", self.threshold),
            "fp_per_scan" => format!("false positives per scan at probability >= {}", self.threshold),
            _ => format!("patient-level sensitivity at probability >= {}: scans with a reference lesion where at least one is hit", self.threshold),
        };
        format!(
            "{what}; a candidate hits a reference lesion when its centre lies within {} x the lesion's radius (LUNA16 rule), a lesion hit by several candidates keeps the most probable, candidates hitting only ignored lesions{} count neither way, every other candidate is a false positive; {} percentile bootstrap over scans ({} resamples, seeded)",
            self.radius_factor,
            if self.min_diameter > 0.0 { format!(" (excluded findings, and lesions under {} mm)", self.min_diameter) } else { " (excluded findings)".into() },
            percent(self.level),
            self.resamples
        )
    }
}

impl Check for Detection {
    fn uses(&self) -> Uses {
        Uses {
            data: vec![self.truth.clone(), self.scans.clone()],
            models: vec![self.model.clone()],
            ..Uses::default()
        }
    }

    fn evaluate(&self, cx: &Context) -> Evidence {
        let method = self.method();
        let fail = |f: Vec<Finding>| Evidence::error(method.clone(), f);
        let missing = |what: &str, name: &str| {
            vec![Finding::error(
                "missing-data",
                format!("{what} `{name}` was not loaded"),
                name.to_string(),
            )]
        };
        let truth = match cx.data.get(&self.truth) {
            Some(DataSet::Lesions(l)) => match &l.value {
                Some(v) => (v, &l.findings),
                None => return fail(l.findings.clone()),
            },
            _ => return fail(missing("lesion source", &self.truth)),
        };
        let table = match cx.data.get(&self.scans) {
            Some(DataSet::Table(t)) => match &t.value {
                Some(v) => v,
                None => return fail(t.findings.clone()),
            },
            _ => return fail(missing("case table", &self.scans)),
        };
        let cands = match cx.detections.get(&self.model) {
            Some(d) => match &d.value {
                Some(v) => (v, &d.findings),
                None => return fail(d.findings.clone()),
            },
            None => return fail(missing("model", &self.model)),
        };
        let mut findings: Vec<Finding> = truth.1.iter().chain(cands.1.iter()).cloned().collect();
        let rows_set_aside = !findings.is_empty();
        let scan_ids: Vec<&str> = (0..table.len()).map(|r| table.id(r)).collect();
        let index: HashMap<&str, usize> =
            scan_ids.iter().enumerate().map(|(i, s)| (*s, i)).collect();
        let scans = scan_ids.len();
        let mut unknown = 0;
        let mut locate = |p: &Points,
                          what: &str,
                          findings: &mut Vec<Finding>|
         -> Vec<(usize, usize)> {
            p.rows
                .iter()
                .enumerate()
                .filter_map(|(i, r)| match index.get(r.scan.as_str()) {
                    Some(&s) => Some((i, s)),
                    None => {
                        unknown += 1;
                        findings.push(Finding::error(
                            "unknown-scan",
                            format!("{what} for scan `{}`, which the scan list `{}` does not hold; left out", r.scan, self.scans),
                            format!("{}:{}", p.display, r.line),
                        ));
                        None
                    }
                })
                .collect()
        };
        let mut lesions: Vec<Lesion> =
            locate(&truth.0.lesions, "a reference lesion", &mut findings)
                .into_iter()
                .map(|(i, s)| {
                    let r = &truth.0.lesions.rows[i];
                    Lesion {
                        scan: s,
                        centre: r.centre,
                        diameter_mm: r.value,
                        ignored: r.value < self.min_diameter,
                    }
                })
                .collect();
        if let Some(ex) = &truth.0.excluded {
            lesions.extend(
                locate(ex, "an excluded finding", &mut findings)
                    .into_iter()
                    .map(|(i, s)| {
                        let r = &ex.rows[i];
                        Lesion {
                            scan: s,
                            centre: r.centre,
                            diameter_mm: r.value,
                            ignored: true,
                        }
                    }),
            );
        }
        let candidates: Vec<Candidate> = locate(cands.0, "a candidate", &mut findings)
            .into_iter()
            .map(|(i, s)| {
                let r = &cands.0.rows[i];
                Candidate {
                    scan: s,
                    centre: r.centre,
                    probability: r.value,
                }
            })
            .collect();
        let m = match_candidates(&lesions, &candidates, self.radius_factor);
        let counted = m.lesion_scores.len();
        let mut meas = Measurement::new(&self.metric, None);
        meas.ci_level = Some(self.level);
        meas.ci_method = Some(format!(
            "bootstrap over scans, percentile ({} resamples)",
            self.resamples
        ));
        let (seed, r, level) = (cx.seed, self.resamples, self.level);
        let boot = match self.metric.as_str() {
            "cpm" | "sensitivity_at_fp" => {
                meas.n = counted as u64;
                let curve = froc_curve(&m.lesion_scores, &m.false_positives, scans);
                if !curve.is_empty() {
                    meas.froc = Some(thin_froc(&curve, FROC_POINTS));
                }
                if self.metric == "cpm" {
                    meas.estimate = cpm(&curve);
                    froc_bootstrap(&m, scans, r, seed, level, cpm)
                } else {
                    let rate = self.fp_rate;
                    meas.estimate = sensitivity_at(&curve, rate);
                    froc_bootstrap(&m, scans, r, seed, level, |c| sensitivity_at(c, rate))
                }
            }
            metric => {
                let c = per_scan(&m, scans, self.threshold);
                let (num, den): (Pick, Pick) = match metric {
                    "sensitivity" => (|x| x.1, |x| x.0),
                    "fp_per_scan" => (|x| x.2, |_| 1),
                    _ => (|x| u32::from(x.1 > 0), |x| u32::from(x.0 > 0)),
                };
                let ratio = |w: &[u32]| {
                    let (a, b) = c.iter().zip(w).fold((0.0, 0.0), |(a, b), (x, &w)| {
                        (
                            a + f64::from(w) * f64::from(num(x)),
                            b + f64::from(w) * f64::from(den(x)),
                        )
                    });
                    (b > 0.0).then(|| a / b)
                };
                meas.n = c.iter().map(|x| u64::from(den(x))).sum();
                meas.estimate = ratio(&vec![1; scans]);
                if scans > 0 {
                    bootstrap_units(scans, r, seed, level, ratio)
                } else {
                    None
                }
            }
        };
        if let Some(b) = &boot {
            meas.ci_low = b.ci.map(|i| i.low);
            meas.ci_high = b.ci.map(|i| i.high);
        }
        if scans == 0 {
            findings.push(Finding::error(
                "no-scans",
                format!("the scan list `{}` is empty", self.scans),
                self.scans.clone(),
            ));
        } else if counted == 0 && self.metric != "fp_per_scan" {
            findings.push(Finding::warning(
                "no-lesions",
                "no reference lesion to detect (after filters): sensitivity is undefined",
                self.truth.clone(),
            ));
        }
        if m.ignored_candidates > 0 {
            findings.push(Finding::new(
                "ignored-candidates",
                super::evidence::Severity::Info,
                format!(
                    "{} candidate(s) hit only ignored findings and count neither way",
                    m.ignored_candidates
                ),
                Some(self.model.clone()),
            ));
        }
        judge(
            &mut meas,
            &self.pass,
            &self.pass_text,
            None,
            0,
            &mut findings,
        );
        let mut status = meas.status;
        if (rows_set_aside || unknown > 0 || scans == 0) && status == Status::Pass {
            status = Status::Inconclusive;
            meas.status = status;
        }
        Evidence {
            status,
            method,
            measurements: vec![meas],
            findings,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A step curve from a seeded scatter of lesion and false-positive scores.
    fn curve(lesions: usize, fps: usize, scans: usize) -> Vec<FrocPoint> {
        let score = |i: usize, k: u64| ((i as u64 * 2_654_435_761 + k) % 10_007) as f64 / 10_007.0;
        let tp: Vec<Option<f64>> = (0..lesions)
            .map(|i| (i % 7 != 0).then(|| score(i, 17)))
            .collect();
        let fp: Vec<f64> = (0..fps).map(|i| score(i, 91)).collect();
        froc_curve(&tp, &fp, scans)
    }

    #[test]
    fn dropping_the_inner_points_of_flat_and_vertical_stretches_loses_nothing() {
        let c = curve(60, 80, 40);
        let t = thin_froc(&c, 10_000);
        assert!(t.len() < c.len() && t[0] == c[0] && t[t.len() - 1] == c[c.len() - 1]);
        for k in 0..=400 {
            let f = k as f64 * 0.01;
            assert_eq!(sensitivity_at(&t, f), sensitivity_at(&c, f), "at {f}");
        }
    }

    #[test]
    fn a_long_curve_keeps_its_cpm_and_at_most_the_stated_points() {
        let c = curve(3000, 20_000, 2000);
        assert!(c.len() > 5000);
        let t = thin_froc(&c, FROC_POINTS);
        assert!(
            t.len() <= FROC_POINTS && t.len() > FROC_POINTS - 20,
            "{}",
            t.len()
        );
        for r in CPM_RATES {
            assert_eq!(sensitivity_at(&t, r), sensitivity_at(&c, r), "at {r}");
        }
        assert_eq!(cpm(&t), cpm(&c));
        assert!(t.windows(2).all(|w| w[0].fp_per_scan <= w[1].fp_per_scan));
        assert_eq!((t[0], t[t.len() - 1]), (c[0], c[c.len() - 1]));
    }
}
