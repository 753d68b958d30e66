//! `labels.ai_assist` (YY/T 1833.3 Annex C): how people dealt with AI pre-annotations:
//! acceptance, edit and rejection rates per reviewer and overall, the size of edits, and
//! reviewers who accept nearly everything in very little time.
//!
//! Documentation for users is in `labels_ai_assist.md`.

use std::collections::BTreeMap;

use super::evidence::{Evidence, Finding, Measurement, Severity, Status};
use super::labels_common::{at, labels_source, loaded, set_aside};
use super::params::number;
use super::{Check, Context, Names, Uses};
use crate::data::labels::graph::Graph;
use crate::data::labels::{Answer, Decision, Labels, Source};
use crate::spec::diag::Diagnostic;
use crate::spec::schema::{Field, Ty};
use crate::spec::yaml::Node;

pub const DOC: &str = include_str!("labels_ai_assist.md");

const FLAG: &[Field] = &[
    Field::opt(
        "min_accept_rate",
        Ty::Num { min: 0.0, max: 1.0 },
        "acceptance rate at or above which a fast reviewer is flagged, default 0.95",
    ),
    Field::opt(
        "max_median_seconds",
        Ty::Num { min: 0.0, max: 1e9 },
        "median seconds per review at or below which a high-accepting reviewer is flagged, default 10",
    ),
    Field::opt(
        "min_reviews",
        Ty::Int { min: 2 },
        "reviews a reviewer needs before being judged, default 10",
    ),
];

pub const PARAMS: &[Field] = &[
    Field::req("labels", Ty::Str, "a label-set source in `data:`"),
    Field::opt("task", Ty::Str, "only this task, default every task"),
    Field::opt(
        "flag",
        Ty::Obj(FLAG),
        "when a reviewer is flagged for rubber-stamping",
    ),
];

/// A gap longer than this between two reviews is a break, not time spent on a review.
const BREAK_SECONDS: f64 = 600.0;

#[derive(Debug)]
pub struct AiAssist {
    labels: String,
    task: Option<String>,
    min_accept: f64,
    max_median: f64,
    min_reviews: usize,
}

pub fn build(node: &Node, names: &Names, out: &mut Vec<Diagnostic>) -> Option<Box<dyn Check>> {
    let labels = labels_source(node, names, out)?;
    let flag = node.get("flag");
    let n = |k: &str, d: f64| flag.map_or(d, |f| number(f, k, d));
    Some(Box::new(AiAssist {
        labels,
        task: node.get("task").and_then(Node::as_str).map(str::to_string),
        min_accept: n("min_accept_rate", 0.95),
        max_median: n("max_median_seconds", 10.0),
        min_reviews: n("min_reviews", 10.0) as usize,
    }))
}

#[derive(Default)]
struct Tally {
    accept: u64,
    edit: u64,
    reject: u64,
    times: Vec<f64>,
    /// Per edit: whether the answer changed (classes, grades, values) or the Dice of the masks.
    changed: Vec<bool>,
    dice: Vec<f64>,
}

impl Tally {
    fn reviewed(&self) -> u64 {
        self.accept + self.edit + self.reject
    }

    fn median_seconds(&self) -> Option<f64> {
        let mut t = self.times.clone();
        t.sort_by(f64::total_cmp);
        let gaps: Vec<f64> = t
            .windows(2)
            .map(|w| w[1] - w[0])
            .filter(|g| *g <= BREAK_SECONDS)
            .collect();
        if gaps.is_empty() {
            return None;
        }
        let mid = gaps.len() / 2;
        let mut g = gaps;
        g.sort_by(f64::total_cmp);
        Some(if g.len() % 2 == 1 {
            g[mid]
        } else {
            (g[mid - 1] + g[mid]) / 2.0
        })
    }
}

fn rate(metric: &str, k: u64, n: u64, group: Option<BTreeMap<String, String>>) -> Measurement {
    let mut m = Measurement::new(metric, group);
    m.n = n;
    m.estimate = (n > 0).then(|| k as f64 / n as f64);
    m
}

impl AiAssist {
    fn edit_size(
        &self,
        l: &Labels,
        g: &Graph,
        ai: usize,
        t: &mut Tally,
        findings: &mut Vec<Finding>,
    ) {
        let before = g.answer(ai);
        for &c in &g.children[ai] {
            let after = g.answer(c);
            match (before, after) {
                (Answer::Mask(a), Answer::Mask(b)) => {
                    let read = |p: &String| crate::data::masks::read_mask(&l.dir.join(p));
                    match (read(a), read(b)) {
                        (Ok(x), Ok(y)) => match x.same_grid(&y) {
                            Ok(()) => t
                                .dice
                                .push(crate::stats::overlap::dice(&x.voxels, &y.voxels)),
                            Err(why) => findings.push(Finding::error(
                                "mask-mismatch",
                                why,
                                at(l, g.event(c)),
                            )),
                        },
                        (Err(why), _) | (_, Err(why)) => {
                            findings.push(Finding::error("unreadable-mask", why, at(l, g.event(c))))
                        }
                    }
                }
                _ => t.changed.push(before.text() != after.text()),
            }
        }
    }
}

impl Check for AiAssist {
    fn uses(&self) -> Uses {
        Uses {
            data: vec![self.labels.clone()],
            ..Uses::default()
        }
    }

    fn evaluate(&self, cx: &Context) -> Evidence {
        let method = format!(
            "every AI pre-annotation{} and its review: acceptance, edit and rejection rates per reviewer \
             and overall; the size of edits (share of edited answers that changed, mean Dice between the \
             pre-annotation's mask and the edited mask); review time as the median gap between a reviewer's \
             consecutive reviews (gaps over {BREAK_SECONDS} s are breaks). A reviewer with at least {} reviews, \
             an acceptance rate of at least {} and a median review time of at most {} s is flagged for review",
            self.task.as_ref().map(|t| format!(" of task `{t}`")).unwrap_or_default(),
            self.min_reviews,
            self.min_accept,
            self.max_median
        );
        let l = match loaded(cx, &self.labels, &method) {
            Ok(l) => l,
            Err(e) => return e,
        };
        let (mut findings, lost) = set_aside(l);
        let g = Graph::new(&l.set);
        let mut per: BTreeMap<&str, Tally> = BTreeMap::new();
        let mut all = Tally::default();
        let mut unreviewed = 0u64;
        let mut total = 0u64;
        for (i, e) in l.set.events.iter().enumerate() {
            if e.source != Source::AiPreannotation
                || self.task.as_ref().is_some_and(|t| *t != e.task)
            {
                continue;
            }
            total += 1;
            let (Some(who), Some(d)) = (&e.reviewed_by, e.decision) else {
                unreviewed += 1;
                continue;
            };
            let t = per.entry(who.as_str()).or_default();
            for tally in [&mut *t, &mut all] {
                match d {
                    Decision::Accept => tally.accept += 1,
                    Decision::Edit => tally.edit += 1,
                    Decision::Reject => tally.reject += 1,
                }
            }
            if let Some(r) = e.reviewed_at {
                t.times.push(r.0);
            }
            if d == Decision::Edit {
                let mut size = Tally::default();
                self.edit_size(l, &g, i, &mut size, &mut findings);
                t.changed.extend(&size.changed);
                t.dice.extend(&size.dice);
                all.changed.extend(size.changed);
                all.dice.extend(size.dice);
            }
        }
        let mut measurements = Vec::new();
        let push_rates =
            |m: &mut Vec<Measurement>, t: &Tally, group: Option<BTreeMap<String, String>>| {
                let n = t.reviewed();
                m.push(rate("acceptance_rate", t.accept, n, group.clone()));
                m.push(rate("edit_rate", t.edit, n, group.clone()));
                m.push(rate("rejection_rate", t.reject, n, group.clone()));
                if !t.changed.is_empty() {
                    let k = t.changed.iter().filter(|c| **c).count() as u64;
                    m.push(rate(
                        "edits_changing_the_answer",
                        k,
                        t.changed.len() as u64,
                        group.clone(),
                    ));
                }
                if !t.dice.is_empty() {
                    let mut d = Measurement::new("edit_dice", group.clone());
                    d.n = t.dice.len() as u64;
                    d.estimate = Some(t.dice.iter().sum::<f64>() / t.dice.len() as f64);
                    m.push(d);
                }
            };
        push_rates(&mut measurements, &all, None);
        let mut flagged = 0;
        for (who, t) in &per {
            let group = Some(BTreeMap::from([("reviewer".to_string(), who.to_string())]));
            push_rates(&mut measurements, t, group.clone());
            let median = t.median_seconds();
            let mut m = Measurement::new("median_review_seconds", group);
            m.n = t.times.len() as u64;
            m.estimate = median;
            measurements.push(m);
            let n = t.reviewed();
            let accept = t.accept as f64 / n.max(1) as f64;
            if n as usize >= self.min_reviews
                && accept >= self.min_accept
                && median.is_some_and(|s| s <= self.max_median)
            {
                flagged += 1;
                findings.push(Finding::warning(
                    "rubber-stamping",
                    format!(
                        "accepted {} of {n} AI pre-annotations ({:.1}%) with a median of {:.1} s per review: flagged for review",
                        t.accept,
                        100.0 * accept,
                        median.unwrap_or(0.0)
                    ),
                    format!("reviewer {who}"),
                ));
            }
        }
        if unreviewed > 0 {
            findings.push(Finding::new(
                "unreviewed-preannotations",
                Severity::Warning,
                format!("{unreviewed} of {total} AI pre-annotations carry no review (see labels.provenance for whether they stand as final labels)"),
                Some(self.labels.clone()),
            ));
        }
        let broken = findings
            .iter()
            .any(|f| matches!(f.code.as_str(), "unreadable-mask" | "mask-mismatch"));
        let status = if total == 0 {
            findings.push(Finding::warning(
                "no-preannotations",
                "the label set holds no AI pre-annotation",
                self.labels.clone(),
            ));
            Status::Inconclusive
        } else if flagged > 0 || lost || broken {
            Status::Inconclusive
        } else {
            Status::Pass
        };
        for m in &mut measurements {
            m.status = status;
        }
        Evidence {
            status,
            method,
            measurements,
            findings,
        }
    }
}
