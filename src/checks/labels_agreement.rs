//! `labels.agreement`: inter-reader agreement of a task's independent reads: Cohen's kappa per
//! pair of readers, Fleiss' kappa, Krippendorff's alpha, or the Dice overlap of mask reads, each
//! with a confidence interval and a pass criterion.
//!
//! Documentation for users is in `labels_agreement.md`.

use std::collections::{BTreeMap, BTreeSet};

use super::evidence::{percent, Evidence, Finding, Measurement, Severity, Status};
use super::judge::{judge, pass_criterion};
use super::labels_common::{labels_source, loaded, set_aside};
use super::params::{number, text, texts};
use super::{Check, Context, Names, Uses};
use crate::data::labels::graph::Graph;
use crate::data::labels::{Answer, Labels};
use crate::spec::diag::Diagnostic;
use crate::spec::expr::Expr;
use crate::spec::schema::{Field, Ty};
use crate::spec::yaml::Node;
use crate::stats::agreement::{self as ag, Metric, Weighting};

pub const DOC: &str = include_str!("labels_agreement.md");

pub const STATISTICS: &[&str] = &["cohen_kappa", "fleiss_kappa", "krippendorff_alpha", "dice"];
pub const WEIGHTINGS: &[&str] = &["unweighted", "linear", "quadratic"];
pub const METRICS: &[&str] = &["nominal", "ordinal", "interval", "ratio"];
pub const CI_METHODS: &[&str] = &["asymptotic", "bootstrap"];

const CI_FIELDS: &[Field] = &[
    Field::opt(
        "method",
        Ty::Enum(CI_METHODS),
        "asymptotic (Cohen's kappa only, the default there) or bootstrap (over cases, seeded)",
    ),
    Field::opt(
        "level",
        Ty::Num {
            min: 0.5,
            max: 0.999999,
        },
        "confidence level, default 0.95",
    ),
    Field::opt(
        "resamples",
        Ty::Int { min: 100 },
        "bootstrap resamples, default 2000",
    ),
];

pub const PARAMS: &[Field] = &[
    Field::req("labels", Ty::Str, "a label-set source in `data:`"),
    Field::opt("task", Ty::Str, "the task, default `default`"),
    Field::req("statistic", Ty::Enum(STATISTICS), "the agreement statistic"),
    Field::opt(
        "weighting",
        Ty::Enum(WEIGHTINGS),
        "Cohen's kappa weights, default unweighted (linear and quadratic need grades)",
    ),
    Field::opt(
        "metric",
        Ty::Enum(METRICS),
        "Krippendorff's level of measurement, default nominal",
    ),
    Field::opt(
        "readers",
        Ty::List(&Ty::Str),
        "only these annotators' reads, default every reader of the task",
    ),
    Field::opt("ci", Ty::Obj(CI_FIELDS), "confidence interval"),
    Field::req("pass", Ty::Expr, "pass criterion, e.g. `ci_low >= 0.6`"),
    Field::opt(
        "min_n",
        Ty::Int { min: 0 },
        "measurements on fewer cases are inconclusive, default 10",
    ),
];

#[derive(Debug)]
pub struct Agreement {
    labels: String,
    task: String,
    statistic: String,
    weighting: String,
    metric: String,
    readers: Vec<String>,
    bootstrap: bool,
    level: f64,
    resamples: usize,
    pass: Expr,
    pass_text: String,
    min_n: u64,
}

pub fn build(node: &Node, names: &Names, out: &mut Vec<Diagnostic>) -> Option<Box<dyn Check>> {
    let before = out.len();
    let labels = labels_source(node, names, out);
    let (pass, pass_text) = pass_criterion(node, out)?;
    let statistic = text(node, "statistic", "cohen_kappa");
    let ci = node.get("ci");
    let method = ci
        .and_then(|c| c.get("method"))
        .and_then(Node::as_str)
        .unwrap_or(if statistic == "cohen_kappa" {
            "asymptotic"
        } else {
            "bootstrap"
        });
    if method == "asymptotic" && statistic != "cohen_kappa" {
        let pos = ci
            .and_then(|c| c.get("method"))
            .map_or(&node.pos, |n| &n.pos);
        out.push(
            Diagnostic::new(
                "unsuitable-method",
                format!("`{statistic}` has no asymptotic interval here"),
                pos,
            )
            .label("use `bootstrap` (Fleiss' standard error is valid under no agreement only)"),
        );
    }
    for (key, only) in [
        ("weighting", "cohen_kappa"),
        ("metric", "krippendorff_alpha"),
    ] {
        if let Some(n) = node.get(key) {
            if statistic != only {
                out.push(
                    Diagnostic::new(
                        "unused-parameter",
                        format!("`{key}` applies to `{only}` only"),
                        &n.pos,
                    )
                    .label("remove this"),
                );
            }
        }
    }
    if out.len() > before {
        return None;
    }
    Some(Box::new(Agreement {
        labels: labels?,
        task: text(node, "task", "default"),
        statistic,
        weighting: text(node, "weighting", "unweighted"),
        metric: text(node, "metric", "nominal"),
        readers: texts(node, "readers"),
        bootstrap: method == "bootstrap",
        level: ci.map_or(0.95, |c| number(c, "level", 0.95)),
        resamples: ci.map_or(2000.0, |c| number(c, "resamples", 2000.0)) as usize,
        pass: pass?,
        pass_text,
        min_n: number(node, "min_n", 10.0) as u64,
    }))
}

/// The reads of a task as a readers × cases matrix.
struct Reads<'a> {
    readers: Vec<&'a str>,
    cases: Vec<&'a str>,
    /// `answers[reader][case]`.
    answers: Vec<Vec<Option<&'a Answer>>>,
}

fn reads<'a>(g: &Graph<'a>, task: &str, only: &[String]) -> Reads<'a> {
    let mut by_case: BTreeMap<&str, BTreeMap<&str, &Answer>> = BTreeMap::new();
    let mut readers: BTreeSet<&str> = BTreeSet::new();
    for ((t, case), events) in &g.cases {
        if *t != task {
            continue;
        }
        for r in g.reads(events) {
            let e = g.event(r);
            if !only.is_empty() && !only.contains(&e.annotator) {
                continue;
            }
            readers.insert(e.annotator.as_str());
            by_case
                .entry(case)
                .or_default()
                .insert(e.annotator.as_str(), &e.answer);
        }
    }
    let readers: Vec<&str> = readers.into_iter().collect();
    let cases: Vec<&str> = by_case.keys().copied().collect();
    let answers = readers
        .iter()
        .map(|r| cases.iter().map(|c| by_case[c].get(r).copied()).collect())
        .collect();
    Reads {
        readers,
        cases,
        answers,
    }
}

/// Category codes 0..k: grades as their distance from the lowest grade (so weights follow the
/// grade scale), classes in sorted order. None when the reads mix kinds or are not categorical.
/// The most categories an agreement table may have (k × k cells per reader pair).
const MAX_CATEGORIES: usize = 1000;

/// Reads coded 0..k (`codes[reader][case]`), k, and whether the codes are grades.
type Coded = (Vec<Vec<Option<usize>>>, usize, bool);

fn categories(r: &Reads) -> Result<Coded, String> {
    let all: Vec<&Answer> = r.answers.iter().flatten().flatten().copied().collect();
    let grades: Vec<i64> = all
        .iter()
        .filter_map(|a| match a {
            Answer::Grade(g) => Some(*g),
            _ => None,
        })
        .collect();
    if grades.len() == all.len() && !all.is_empty() {
        let lo = *grades.iter().min().expect("non-empty");
        let hi = *grades.iter().max().expect("non-empty");
        let span = i128::from(hi) - i128::from(lo) + 1;
        if span > MAX_CATEGORIES as i128 {
            return Err(format!(
                "the grades span {span} values (from {lo} to {hi}); agreement tables are limited to {MAX_CATEGORIES} categories"
            ));
        }
        let code = |a: &Answer| match a {
            Answer::Grade(g) => (g - lo) as usize,
            _ => unreachable!(),
        };
        let m = r
            .answers
            .iter()
            .map(|row| row.iter().map(|a| a.map(code)).collect())
            .collect();
        return Ok((m, (hi - lo + 1) as usize, true));
    }
    if all.iter().all(|a| matches!(a, Answer::Class(_))) {
        let classes: BTreeSet<String> = all.iter().map(|a| a.text()).collect();
        if classes.len() > MAX_CATEGORIES {
            return Err(format!(
                "the reads hold {} distinct classes; agreement tables are limited to {MAX_CATEGORIES} categories",
                classes.len()
            ));
        }
        let classes: Vec<String> = classes.into_iter().collect();
        let code = |a: &Answer| classes.binary_search(&a.text()).expect("listed");
        let m = r
            .answers
            .iter()
            .map(|row| row.iter().map(|a| a.map(code)).collect())
            .collect();
        return Ok((m, classes.len(), false));
    }
    Err("the reads are not all classes or all grades".into())
}

impl Agreement {
    fn method_text(&self) -> String {
        let what = match self.statistic.as_str() {
            "cohen_kappa" => format!(
                "Cohen's kappa ({}) for each pair of readers on the cases both read",
                self.weighting
            ),
            "fleiss_kappa" => "Fleiss' kappa on the cases every reader read".to_string(),
            "krippendorff_alpha" => format!(
                "Krippendorff's alpha ({} metric), missing reads allowed, cases with fewer than 2 reads dropped",
                self.metric
            ),
            _ => "Dice overlap of mask reads, mean over the cases each pair of readers both read".to_string(),
        };
        let ci = if self.bootstrap {
            "percentile bootstrap over cases".to_string()
        } else {
            "asymptotic standard error (Fleiss, Cohen & Everitt 1969), Wald interval".to_string()
        };
        format!(
            "{what}, of task `{}`'s independent reads (one per annotator: their first); {} {ci}{}",
            self.task,
            percent(self.level),
            if self.bootstrap {
                format!(", {} resamples, seeded", self.resamples)
            } else {
                String::new()
            }
        )
    }

    fn set_ci(&self, m: &mut Measurement, b: Option<ag::BootstrapCi>, findings: &mut Vec<Finding>) {
        m.ci_level = Some(self.level);
        m.ci_method = Some(format!(
            "bootstrap percentile ({} resamples)",
            self.resamples
        ));
        if let Some(b) = b {
            m.ci_low = b.ci.map(|i| i.low);
            m.ci_high = b.ci.map(|i| i.high);
            if b.undefined > 0 {
                findings.push(Finding::warning(
                    "undefined-resamples",
                    format!(
                        "{} of {} bootstrap resamples had no defined value (e.g. every read in one category) and are left out of the interval",
                        b.undefined, b.replicates
                    ),
                    super::judge::subject(m),
                ));
            }
        }
    }

    fn pair_group(a: &str, b: &str) -> Option<BTreeMap<String, String>> {
        Some(BTreeMap::from([(
            "readers".to_string(),
            format!("{a} & {b}"),
        )]))
    }

    fn cohen(&self, r: &Reads, seed: u64, findings: &mut Vec<Finding>) -> Vec<Measurement> {
        let (codes, k, graded) = match categories(r) {
            Ok(c) => c,
            Err(why) => {
                findings.push(Finding::error("unsuitable-reads", why, self.task.clone()));
                return vec![];
            }
        };
        let weighting = match self.weighting.as_str() {
            "linear" => Weighting::Linear,
            "quadratic" => Weighting::Quadratic,
            _ => Weighting::Unweighted,
        };
        if weighting != Weighting::Unweighted && !graded {
            findings.push(Finding::error(
                "unsuitable-reads",
                "weighted kappa needs ordinal grades; these reads are classes",
                self.task.clone(),
            ));
            return vec![];
        }
        let mut out = Vec::new();
        for i in 0..r.readers.len() {
            for j in i + 1..r.readers.len() {
                let (a, b): (Vec<usize>, Vec<usize>) = codes[i]
                    .iter()
                    .zip(&codes[j])
                    .filter_map(|(x, y)| Some(((*x)?, (*y)?)))
                    .unzip();
                let mut m =
                    Measurement::new("cohen_kappa", Self::pair_group(r.readers[i], r.readers[j]));
                m.n = a.len() as u64;
                if a.is_empty() {
                    continue;
                }
                let k0 = ag::cohen_kappa_labels(&a, &b, k, weighting, self.level);
                m.estimate = k0.as_ref().map(|x| x.kappa);
                m.std_error = k0.as_ref().map(|x| x.std_kappa);
                if self.bootstrap {
                    let pair_seed = seed ^ ((i as u64) << 32 | j as u64);
                    let boot = ag::cohen_kappa_bootstrap(
                        &a,
                        &b,
                        k,
                        weighting,
                        self.resamples,
                        pair_seed,
                        self.level,
                    );
                    self.set_ci(&mut m, boot, findings);
                } else if let Some(x) = &k0 {
                    m.ci_low = Some(x.ci.low);
                    m.ci_high = Some(x.ci.high);
                    m.ci_level = Some(self.level);
                    m.ci_method = Some("asymptotic (Fleiss, Cohen & Everitt 1969)".into());
                }
                out.push(m);
            }
        }
        out
    }

    fn fleiss(&self, r: &Reads, seed: u64, findings: &mut Vec<Finding>) -> Vec<Measurement> {
        let (codes, k, _) = match categories(r) {
            Ok(c) => c,
            Err(why) => {
                findings.push(Finding::error("unsuitable-reads", why, self.task.clone()));
                return vec![];
            }
        };
        let complete: Vec<usize> = (0..r.cases.len())
            .filter(|&c| codes.iter().all(|row| row[c].is_some()))
            .collect();
        if complete.len() < r.cases.len() {
            findings.push(Finding::warning(
                "incomplete-cases",
                format!(
                    "{} of {} cases were not read by all {} readers and are left out (Fleiss' kappa needs the same readers on every case; Krippendorff's alpha allows missing reads)",
                    r.cases.len() - complete.len(),
                    r.cases.len(),
                    r.readers.len()
                ),
                self.task.clone(),
            ));
        }
        let counts: Vec<Vec<u64>> = complete
            .iter()
            .map(|&c| {
                let mut row = vec![0u64; k];
                for reader in &codes {
                    row[reader[c].expect("complete")] += 1;
                }
                row
            })
            .collect();
        let mut m = Measurement::new("fleiss_kappa", None);
        m.n = counts.len() as u64;
        m.estimate = ag::fleiss_kappa(&counts).map(|f| f.kappa);
        let boot = ag::fleiss_kappa_bootstrap(&counts, self.resamples, seed, self.level);
        self.set_ci(&mut m, boot, findings);
        vec![m]
    }

    fn krippendorff(&self, r: &Reads, seed: u64, findings: &mut Vec<Finding>) -> Vec<Measurement> {
        let metric = match self.metric.as_str() {
            "ordinal" => Metric::Ordinal,
            "interval" => Metric::Interval,
            "ratio" => Metric::Ratio,
            _ => Metric::Nominal,
        };
        let numeric = r
            .answers
            .iter()
            .flatten()
            .flatten()
            .all(|a| a.number().is_some());
        let rows: Vec<Vec<Option<f64>>> = if numeric {
            r.answers
                .iter()
                .map(|row| row.iter().map(|a| a.and_then(Answer::number)).collect())
                .collect()
        } else if metric == Metric::Nominal {
            match categories(r) {
                Ok((codes, _, _)) => codes
                    .iter()
                    .map(|row| row.iter().map(|c| c.map(|x| x as f64)).collect())
                    .collect(),
                Err(why) => {
                    findings.push(Finding::error("unsuitable-reads", why, self.task.clone()));
                    return vec![];
                }
            }
        } else {
            findings.push(Finding::error(
                "unsuitable-reads",
                format!(
                    "the {} metric needs grades or values; these reads are classes",
                    self.metric
                ),
                self.task.clone(),
            ));
            return vec![];
        };
        let mut m = Measurement::new("krippendorff_alpha", None);
        let Some(data) = ag::ReliabilityData::from_ratings(&rows) else {
            m.n = 0;
            return vec![m];
        };
        m.n = data.units() as u64;
        m.estimate = data.alpha(metric).map(|a| a.alpha);
        if data.units_dropped() > 0 {
            findings.push(Finding::new(
                "single-read-cases",
                Severity::Info,
                format!("{} case(s) with fewer than 2 reads carry no agreement information and are left out", data.units_dropped()),
                Some(self.task.clone()),
            ));
        }
        let boot = data.bootstrap(metric, self.resamples, seed, self.level);
        self.set_ci(&mut m, boot, findings);
        vec![m]
    }

    fn dice(
        &self,
        l: &Labels,
        r: &Reads,
        seed: u64,
        findings: &mut Vec<Finding>,
    ) -> Vec<Measurement> {
        let mut masks: BTreeMap<&str, Option<crate::data::masks::Mask>> = BTreeMap::new();
        for a in r.answers.iter().flatten().flatten() {
            let Answer::Mask(p) = a else {
                findings.push(Finding::error(
                    "unsuitable-reads",
                    "Dice needs mask reads",
                    self.task.clone(),
                ));
                return vec![];
            };
            masks.entry(p.as_str()).or_insert_with(|| {
                match crate::data::masks::read_mask(&l.dir.join(p)) {
                    Ok(m) => Some(m),
                    Err(why) => {
                        findings.push(Finding::error("unreadable-mask", why, p.clone()));
                        None
                    }
                }
            });
        }
        let mut out = Vec::new();
        for i in 0..r.readers.len() {
            for j in i + 1..r.readers.len() {
                let mut scores = Vec::new();
                for c in 0..r.cases.len() {
                    let (Some(Answer::Mask(a)), Some(Answer::Mask(b))) =
                        (r.answers[i][c], r.answers[j][c])
                    else {
                        continue;
                    };
                    let (Some(Some(ma)), Some(Some(mb))) =
                        (masks.get(a.as_str()), masks.get(b.as_str()))
                    else {
                        continue;
                    };
                    match ma.same_grid(mb) {
                        Ok(()) => scores.push(crate::stats::overlap::dice(&ma.voxels, &mb.voxels)),
                        Err(why) => findings.push(Finding::error(
                            "mask-mismatch",
                            format!("case `{}`: {why}", r.cases[c]),
                            format!("{a} vs {b}"),
                        )),
                    }
                }
                if scores.is_empty() {
                    continue;
                }
                let mut m = Measurement::new("dice", Self::pair_group(r.readers[i], r.readers[j]));
                m.n = scores.len() as u64;
                m.estimate = Some(scores.iter().sum::<f64>() / scores.len() as f64);
                let pair_seed = seed ^ ((i as u64) << 32 | j as u64);
                let boot =
                    ag::bootstrap_units(scores.len(), self.resamples, pair_seed, self.level, |w| {
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
                self.set_ci(&mut m, boot, findings);
                out.push(m);
            }
        }
        out
    }
}

impl Check for Agreement {
    fn uses(&self) -> Uses {
        Uses {
            data: vec![self.labels.clone()],
            ..Uses::default()
        }
    }

    fn evaluate(&self, cx: &Context) -> Evidence {
        let method = self.method_text();
        let l = match loaded(cx, &self.labels, &method) {
            Ok(l) => l,
            Err(e) => return e,
        };
        let (mut findings, lost) = set_aside(l);
        let g = Graph::new(&l.set);
        let r = reads(&g, &self.task, &self.readers);
        let mut measurements = if r.readers.len() < 2 {
            findings.push(Finding::warning(
                "too-few-readers",
                format!(
                    "task `{}` has {} reader(s); agreement needs at least 2",
                    self.task,
                    r.readers.len()
                ),
                self.labels.clone(),
            ));
            vec![]
        } else {
            match self.statistic.as_str() {
                "cohen_kappa" => self.cohen(&r, cx.seed, &mut findings),
                "fleiss_kappa" => self.fleiss(&r, cx.seed, &mut findings),
                "krippendorff_alpha" => self.krippendorff(&r, cx.seed, &mut findings),
                _ => self.dice(l, &r, cx.seed, &mut findings),
            }
        };
        for m in &mut measurements {
            // A zero-width interval (perfect agreement on a few cases, every resample alike)
            // says nothing about the uncertainty: no interval, so a criterion on it is undecided.
            if m.ci_low.is_some() && m.ci_low == m.ci_high {
                m.ci_low = None;
                m.ci_high = None;
            }
            judge(
                m,
                &self.pass,
                &self.pass_text,
                None,
                self.min_n,
                &mut findings,
            );
        }
        let mut status = measurements
            .iter()
            .map(|m| m.status)
            .max()
            .unwrap_or(Status::Inconclusive);
        let broken = findings.iter().any(|f| {
            matches!(
                f.code.as_str(),
                "unsuitable-reads" | "unreadable-mask" | "mask-mismatch"
            )
        });
        if (lost || broken) && status == Status::Pass {
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
