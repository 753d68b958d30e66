//! `classification`: case-level performance of a binary classifier against a truth table.
//!
//! Documentation for users is in `classification.md` (shown by `attest explain classification`).

use std::collections::BTreeMap;

use super::evidence::{Confusion, Evidence, Finding, Measurement, Severity};
use super::judge::{combine, judge};
use super::{reference, Check, Context, DataSet, Names, Plan, Uses};
use crate::data::predictions::Score;
use crate::spec::diag::{one_of, Diagnostic};
use crate::spec::expr::Expr;
use crate::spec::schema::{Field, Ty};
use crate::spec::yaml::Node;
use crate::stats::{self, proportion, roc};

pub const DOC: &str = include_str!("classification.md");

pub const METRICS: &[&str] = &[
    "auc",
    "sensitivity",
    "specificity",
    "ppv",
    "npv",
    "accuracy",
];
pub const CI_METHODS: &[&str] = &[
    "wilson",
    "clopper_pearson",
    "wald",
    "delong",
    "bootstrap",
    "bca",
];
const PROPORTION_CI: &[&str] = &["wilson", "clopper_pearson", "wald"];
const AUC_CI: &[&str] = &["delong", "bootstrap", "bca"];
pub const MISSING_POLICIES: &[&str] = &["error", "exclude", "worst_case"];

const CI_FIELDS: &[Field] = &[
    Field::req(
        "method",
        Ty::Enum(CI_METHODS),
        "interval method: wilson, clopper_pearson or wald for proportions; delong, bootstrap (percentile) or bca for auc",
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
        "bootstrap resamples of cases (bootstrap, bca), default 2000, seeded",
    ),
];

const PLANNING_FIELDS: &[Field] = &[
    Field::req(
        "expected",
        Ty::Num { min: 0.0, max: 1.0 },
        "the value the model is expected to reach",
    ),
    Field::opt(
        "power",
        Ty::Num {
            min: 0.5,
            max: 0.9999,
        },
        "the probability of demonstrating the goal if it does, default 0.8",
    ),
];

pub const PARAMS: &[Field] = &[
    Field::req("model", Ty::Str, "name of a model in `models:`"),
    Field::req("truth", Ty::Str, "name of a case table in `data:`"),
    Field::req("metric", Ty::Enum(METRICS), "the performance metric"),
    Field::opt(
        "threshold",
        Ty::Num {
            min: f64::NEG_INFINITY,
            max: f64::INFINITY,
        },
        "operating point: score >= threshold counts as positive (required for every metric but auc)",
    ),
    Field::opt("ci", Ty::Obj(CI_FIELDS), "confidence interval; default wilson (proportions) or delong (auc) at 0.95"),
    Field::opt("label_column", Ty::Str, "truth column holding 0/1 labels, default `label`"),
    Field::opt("by", Ty::List(&Ty::Str), "truth-table columns to measure each group of"),
    Field::req("pass", Ty::Expr, "pass criterion, e.g. `ci_low >= 0.80`"),
    Field::opt("min_n", Ty::Int { min: 0 }, "groups (and overall) with fewer cases are inconclusive, default 0"),
    Field::opt(
        "planning",
        Ty::Obj(PLANNING_FIELDS),
        "sample-size planning for `attest lint`: the expected value and the power wanted (sensitivity and specificity)",
    ),
    Field::opt(
        "missing_prediction",
        Ty::Enum(MISSING_POLICIES),
        "a truth case without a valid score: `error` (default), `exclude` it, or count it as wrong (`worst_case`)",
    ),
];

#[derive(Debug, Clone, Copy, PartialEq)]
enum Missing {
    Error,
    Exclude,
    WorstCase,
}

#[derive(Debug)]
pub struct Classification {
    model: String,
    truth: String,
    metric: String,
    threshold: Option<f64>,
    ci_method: String,
    ci_level: f64,
    resamples: usize,
    label_column: String,
    by: Vec<String>,
    pass: Expr,
    pass_text: String,
    min_n: u64,
    missing: Missing,
    /// (expected, power) from `planning:`.
    planning: Option<(f64, f64)>,
}

/// Builds the check from validated parameters, adding diagnostics for what the table alone
/// cannot judge (references, metric/method fit, the pass expression).
pub fn build(node: &Node, names: &Names, out: &mut Vec<Diagnostic>) -> Option<Box<dyn Check>> {
    let before = out.len();
    let s = |k: &str| node.get(k).and_then(Node::as_str).map(str::to_string);
    let model = s("model")?;
    let truth = s("truth")?;
    let metric = s("metric")?;
    reference(
        node,
        "model",
        &model,
        &names.models,
        "a model in `models:`",
        out,
    );
    reference(
        node,
        "truth",
        &truth,
        &names.tables,
        "a case table (`table:`) in `data:`",
        out,
    );

    let is_auc = metric == "auc";
    let threshold = node.get("threshold").and_then(Node::as_f64);
    if is_auc {
        if let Some(k) = node.key("threshold") {
            out.push(
                Diagnostic::new(
                    "irrelevant-key",
                    "`threshold` has no meaning for `auc`, which uses every threshold",
                    &k.pos,
                )
                .label("remove this"),
            );
        }
    } else if threshold.is_none() && METRICS.contains(&metric.as_str()) {
        out.push(
            Diagnostic::new(
                "missing-key",
                format!("`{metric}` needs a `threshold` (score >= threshold counts as positive)"),
                &node
                    .key("metric")
                    .map_or(node.pos.clone(), |k| k.pos.clone()),
            )
            .label("add `threshold:` to this requirement"),
        );
    }

    let allowed = if is_auc { AUC_CI } else { PROPORTION_CI };
    let ci = node.get("ci");
    let ci_method = ci
        .and_then(|c| c.get("method"))
        .and_then(Node::as_str)
        .unwrap_or(allowed[0])
        .to_string();
    if let Some(m) = ci.and_then(|c| c.get("method")) {
        if !allowed.contains(&ci_method.as_str()) && CI_METHODS.contains(&ci_method.as_str()) {
            out.push(
                Diagnostic::new(
                    "unsuitable-method",
                    format!("CI method `{ci_method}` does not apply to `{metric}`"),
                    &m.pos,
                )
                .label(format!("expected one of: {}", one_of(allowed))),
            );
        }
    }
    let ci_level = ci
        .and_then(|c| c.get("level"))
        .and_then(Node::as_f64)
        .unwrap_or(0.95);

    let (pass, pass_text) = super::judge::pass_criterion(node, out)?;
    for n in node.get("by").and_then(Node::as_seq).unwrap_or(&[]) {
        if n.as_str()
            .is_some_and(crate::data::dictionary::identifying_column)
        {
            out.push(super::dataset_composition::identifying_group(
                n.as_str()?,
                &n.pos,
            ));
        }
    }
    let by = node
        .get("by")
        .and_then(Node::as_seq)
        .map(|items| {
            items
                .iter()
                .filter_map(|i| i.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    let missing = match node.get("missing_prediction").and_then(Node::as_str) {
        Some("exclude") => Missing::Exclude,
        Some("worst_case") => Missing::WorstCase,
        _ => Missing::Error,
    };
    if let Some(p) = node.get("planning") {
        if !matches!(metric.as_str(), "sensitivity" | "specificity") {
            out.push(
                Diagnostic::new(
                    "unused-parameter",
                    format!("`planning` applies to sensitivity and specificity, not `{metric}`"),
                    &p.pos,
                )
                .label("remove this"),
            );
        } else if pass
            .as_ref()
            .is_some_and(|e| e.lower_bound_goal().is_none())
        {
            out.push(
                Diagnostic::new(
                    "unplannable",
                    "`planning` needs a goal on the interval's lower bound",
                    &p.pos,
                )
                .label("state the criterion as `ci_low >= GOAL`"),
            );
        }
    }
    if out.len() > before {
        return None;
    }
    Some(Box::new(Classification {
        model,
        truth,
        metric,
        threshold,
        ci_method,
        ci_level,
        resamples: ci
            .and_then(|c| c.get("resamples"))
            .and_then(Node::as_f64)
            .map_or(2000, |x| x as usize),
        label_column: s("label_column").unwrap_or_else(|| "label".to_string()),
        by,
        pass: pass?,
        pass_text,
        min_n: node
            .get("min_n")
            .and_then(Node::as_f64)
            .map_or(0, |x| x as u64),
        missing,
        planning: node.get("planning").and_then(|p| {
            Some((
                p.get("expected")?.as_f64()?,
                p.get("power").and_then(Node::as_f64).unwrap_or(0.8),
            ))
        }),
    }))
}

/// One truth case ready for scoring.
struct Case {
    label: bool,
    score: f64,
    group: BTreeMap<String, String>,
}

impl Check for Classification {
    fn plan(&self) -> Option<Plan> {
        let (expected, power) = self.planning?;
        let class = match self.metric.as_str() {
            "sensitivity" => "1",
            "specificity" => "0",
            _ => return None,
        };
        Some(Plan {
            metric: self.metric.clone(),
            table: self.truth.clone(),
            label_column: self.label_column.clone(),
            class,
            by: self.by.clone(),
            goal: self.pass.lower_bound_goal()?,
            expected,
            power,
            alpha: (1.0 - self.ci_level) / 2.0,
        })
    }

    fn uses(&self) -> Uses {
        Uses {
            data: vec![self.truth.clone()],
            models: vec![self.model.clone()],
            ..Uses::default()
        }
    }

    fn evaluate(&self, cx: &Context) -> Evidence {
        let method = self.method();
        let mut findings = Vec::new();
        let table = match cx.data.get(&self.truth) {
            Some(DataSet::Table(t)) => {
                findings.extend(t.findings.iter().cloned());
                match &t.value {
                    Some(v) => v,
                    None => return Evidence::error(method, findings),
                }
            }
            _ => {
                findings.push(Finding::error(
                    "missing-data",
                    format!("no case table `{}` was loaded", self.truth),
                    self.truth.clone(),
                ));
                return Evidence::error(method, findings);
            }
        };
        let Some(preds) = cx.models.get(&self.model) else {
            findings.push(Finding::error(
                "missing-model",
                format!("model `{}` was not loaded", self.model),
                self.model.clone(),
            ));
            return Evidence::error(method, findings);
        };
        let policy_covers = self.missing != Missing::Error;
        findings.extend(preds.findings.iter().cloned().map(|mut f| {
            if policy_covers && f.severity == Severity::Error {
                f.severity = Severity::Warning;
                f.message
                    .push_str("; covered by the stated missing-prediction policy");
            }
            f
        }));
        let Some(preds) = &preds.value else {
            return Evidence::error(method, findings);
        };

        let Some(label_col) = table.column(&self.label_column) else {
            findings.push(Finding::error(
                "unknown-column",
                format!(
                    "the truth table has no `{}` column (columns are: {})",
                    self.label_column,
                    table.columns.join(", ")
                ),
                self.truth.clone(),
            ));
            return Evidence::error(method, findings);
        };
        let mut group_cols = Vec::new();
        for c in &self.by {
            match table.column(c) {
                Some(i) => group_cols.push((c.clone(), i)),
                None => findings.push(Finding::error(
                    "unknown-column",
                    format!(
                        "`by: {c}`: the truth table has no such column (columns are: {})",
                        table.columns.join(", ")
                    ),
                    self.truth.clone(),
                )),
            }
        }
        if group_cols.len() != self.by.len() {
            return Evidence::error(method, findings);
        }

        // Every group of the truth table is measured, also one whose cases were all left out
        // (it then has n = 0 and is inconclusive, never silently absent).
        let group_of = |row: usize| -> BTreeMap<String, String> {
            group_cols
                .iter()
                .map(|(name, c)| (name.clone(), table.get(row, *c).to_string()))
                .collect()
        };
        let all_groups: std::collections::BTreeSet<BTreeMap<String, String>> =
            if group_cols.is_empty() {
                Default::default()
            } else {
                (0..table.len()).map(group_of).collect()
            };
        let mut cases = Vec::with_capacity(table.len());
        for row in 0..table.len() {
            let id = table.id(row);
            let at = || format!("{}:{}", self.truth, table.lines[row]);
            let label = match table.get(row, label_col) {
                "1" => true,
                "0" => false,
                other => {
                    findings.push(Finding::error(
                        "invalid-label",
                        format!(
                            "case `{id}`: label `{other}` in `{}` is not 0 or 1",
                            self.label_column
                        ),
                        at(),
                    ));
                    continue;
                }
            };
            let score = match preds.score_near(id, row) {
                Score::Valid(s) => s,
                missing => {
                    let why = match missing {
                        Score::Invalid(reason) => reason,
                        _ => "no prediction",
                    };
                    let (severity, what) = match self.missing {
                        Missing::Error => (Severity::Error, "the requirement cannot be evaluated"),
                        Missing::Exclude => (Severity::Warning, "excluded by policy"),
                        Missing::WorstCase => (Severity::Warning, "counted as wrong by policy"),
                    };
                    findings.push(Finding::new(
                        "missing-prediction",
                        severity,
                        format!("case `{id}`: {why} from model `{}`; {what}", self.model),
                        Some(format!("case {id}")),
                    ));
                    match self.missing {
                        Missing::Exclude | Missing::Error => continue,
                        // The worst score for this case's true class.
                        Missing::WorstCase => {
                            if label {
                                f64::MIN
                            } else {
                                f64::MAX
                            }
                        }
                    }
                }
            };
            let group = group_of(row);
            cases.push(Case {
                label,
                score,
                group,
            });
        }
        for (row, case) in preds.cases().enumerate() {
            if table.find_near(case, row).is_some() {
                continue;
            }
            findings.push(Finding::warning(
                "unknown-case",
                format!(
                    "model `{}` scores case `{case}`, which is not in the truth table; ignored",
                    self.model
                ),
                format!("case {case}"),
            ));
        }

        let mut measurements = vec![self.measure(&cases, None, cx.seed)];
        if !group_cols.is_empty() {
            let mut groups: BTreeMap<&BTreeMap<String, String>, Vec<usize>> =
                all_groups.iter().map(|g| (g, Vec::new())).collect();
            for (i, c) in cases.iter().enumerate() {
                groups.entry(&c.group).or_default().push(i);
            }
            for (key, idx) in groups {
                let sub: Vec<&Case> = idx.iter().map(|&i| &cases[i]).collect();
                measurements.push(self.measure_refs(&sub, Some(key.clone()), cx.seed));
            }
        }
        for m in &mut measurements {
            let best = self.best_case(m);
            judge(
                m,
                &self.pass,
                &self.pass_text,
                best.as_ref(),
                self.min_n,
                &mut findings,
            );
        }
        Evidence {
            status: combine(&measurements, &findings),
            method,
            measurements,
            findings,
        }
    }
}

impl Classification {
    fn method(&self) -> String {
        let level = super::evidence::percent(self.ci_level);
        if self.metric == "auc" {
            let ci = match self.ci_method.as_str() {
                "bootstrap" => format!("percentile bootstrap interval over cases ({} resamples, seeded)", self.resamples),
                "bca" => format!("BCa bootstrap interval over cases ({} resamples, seeded; jackknife acceleration)", self.resamples),
                _ => "DeLong interval (Sun & Xu 2014 algorithm)".to_string(),
            };
            format!(
                "AUC (Mann-Whitney, ties count one half) with a {level} {ci}; higher score = positive"
            )
        } else {
            let ci = match self.ci_method.as_str() {
                "wilson" => "Wilson score",
                "clopper_pearson" => "Clopper-Pearson exact",
                _ => "Wald (for comparison only)",
            };
            format!(
                "{} at threshold {} (score >= threshold is positive) with a {level} {ci} interval",
                self.metric,
                self.threshold.unwrap_or(f64::NAN)
            )
        }
    }

    fn measure(
        &self,
        cases: &[Case],
        group: Option<BTreeMap<String, String>>,
        seed: u64,
    ) -> Measurement {
        let refs: Vec<&Case> = cases.iter().collect();
        if self.metric != "auc" {
            return self.measure_refs(&refs, group, seed);
        }
        // The curve (for the plot) and the statistic each sort the scores: do both at once.
        let (mut m, curve) = rayon::join(
            || self.measure_refs(&refs, group, seed),
            || {
                let (pos, neg) = split(&refs);
                roc::thin_curve(&roc::roc_curve(&pos, &neg), 200)
            },
        );
        m.roc = Some(curve);
        m
    }

    fn measure_refs(
        &self,
        cases: &[&Case],
        group: Option<BTreeMap<String, String>>,
        seed: u64,
    ) -> Measurement {
        let mut m = Measurement::new(&self.metric, group);
        m.ci_method = Some(self.ci_method.clone());
        m.ci_level = Some(self.ci_level);
        if self.metric == "auc" {
            let (pos, neg) = split(cases);
            m.n = cases.len() as u64;
            m.n_pos = Some(pos.len() as u64);
            m.n_neg = Some(neg.len() as u64);
            if let Some(a) = roc::auc_delong(&pos, &neg) {
                m.estimate = Some(a.auc);
                // A class with one case has an infinite variance: the interval is [0, 1]. A zero
                // variance (perfect separation, or all scores tied) gives a zero-width interval
                // that says nothing about the uncertainty: no interval, so the criterion cannot
                // pass on it.
                let ci = match self.ci_method.as_str() {
                    "bootstrap" | "bca" => self.auc_bootstrap(cases, a.auc, seed),
                    _ => (a.variance > 0.0).then(|| roc::delong_ci(&a, self.ci_level)),
                };
                if let Some(ci) = ci.filter(|ci| ci.high > ci.low) {
                    m.ci_low = Some(ci.low);
                    m.ci_high = Some(ci.high);
                }
            }
            return m;
        }
        let t = self.threshold.unwrap_or(f64::INFINITY);
        let mut c = Confusion::default();
        for case in cases {
            match (case.label, case.score >= t) {
                (true, true) => c.tp += 1,
                (true, false) => c.fn_ += 1,
                (false, true) => c.fp += 1,
                (false, false) => c.tn += 1,
            }
        }
        let (x, n) = proportion_of(&self.metric, &c);
        m.threshold = Some(t);
        m.confusion = Some(c);
        m.n = n;
        if n > 0 {
            m.estimate = Some(x as f64 / n as f64);
            // Wald's interval has zero width at 0/n and n/n: no interval rather than a false one.
            if let Some(ci) = self.interval(x, n).filter(|ci| ci.high > ci.low) {
                m.ci_low = Some(ci.low);
                m.ci_high = Some(ci.high);
            }
        }
        m
    }

    /// A bootstrap interval for the AUC over cases (percentile or BCa), seeded; resamples
    /// without both classes are left out. BCa's acceleration comes from the jackknife, whose
    /// leave-one-out AUCs follow from DeLong's placements in linear time.
    fn auc_bootstrap(&self, cases: &[&Case], auc: f64, seed: u64) -> Option<stats::Interval> {
        let labels: Vec<bool> = cases.iter().map(|c| c.label).collect();
        let scores: Vec<f64> = cases.iter().map(|c| c.score).collect();
        let w = roc::WeightedAuc::new(&labels, &scores)?;
        let replicates: Vec<f64> =
            stats::agreement::bootstrap_replicates(cases.len(), self.resamples, seed, |weights| {
                w.auc(weights)
            })
            .into_iter()
            .flatten()
            .collect();
        if self.ci_method == "bootstrap" {
            return stats::bca::percentile(&replicates, self.ci_level);
        }
        let jackknife = roc::jackknife_auc(&labels, &scores)?;
        stats::bca::bca(auc, &replicates, &jackknife, self.ci_level)
    }

    fn interval(&self, x: u64, n: u64) -> Option<stats::Interval> {
        match self.ci_method.as_str() {
            "clopper_pearson" => proportion::clopper_pearson(x, n, self.ci_level),
            "wald" => proportion::wald(x, n, self.ci_level),
            _ => proportion::wilson(x, n, self.ci_level),
        }
    }

    /// What a perfect classifier would measure on the same cases.
    fn best_case(&self, m: &Measurement) -> Option<Measurement> {
        m.estimate?;
        let mut b = m.clone();
        b.estimate = Some(1.0);
        if self.metric == "auc" {
            b.ci_low = Some(1.0);
            b.ci_high = Some(1.0);
        } else {
            let ci = self.interval(m.n, m.n)?;
            b.ci_low = Some(ci.low);
            b.ci_high = Some(ci.high);
        }
        Some(b)
    }
}

fn split(cases: &[&Case]) -> (Vec<f64>, Vec<f64>) {
    let mut pos = Vec::new();
    let mut neg = Vec::new();
    for c in cases {
        if c.label {
            pos.push(c.score);
        } else {
            neg.push(c.score);
        }
    }
    (pos, neg)
}

/// Successes and denominator of a proportion metric.
fn proportion_of(metric: &str, c: &Confusion) -> (u64, u64) {
    match metric {
        "sensitivity" => (c.tp, c.tp + c.fn_),
        "specificity" => (c.tn, c.tn + c.fp),
        "ppv" => (c.tp, c.tp + c.fp),
        "npv" => (c.tn, c.tn + c.fn_),
        _ => (c.tp + c.tn, c.tp + c.tn + c.fp + c.fn_),
    }
}
