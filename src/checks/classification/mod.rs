//! `classification`: case-level performance of a binary classifier against a truth table:
//! discrimination (AUC and the proportions at a threshold), calibration, and the one-sided
//! tests a submission states in advance (against a goal, or a second model on the same cases).
//!
//! Documentation for users is in `classification.md` (shown by `attest explain classification`).

mod measure;
mod test;

use std::collections::BTreeMap;

use super::evidence::{Confusion, Evidence, Finding, Measurement, Severity};
use super::judge::{combine, judge};
use super::{reference, Check, Context, Names, Plan, Uses};
use crate::data::predictions::{Predictions, Score};
use crate::spec::diag::{one_of, Diagnostic};
use crate::spec::expr::Expr;
use crate::spec::schema::{Field, Ty};
use crate::spec::yaml::Node;
use measure::CALIBRATION;
use test::TestSpec;

pub const DOC: &str = include_str!("../classification.md");

pub const METRICS: &[&str] = &[
    "auc",
    "sensitivity",
    "specificity",
    "ppv",
    "npv",
    "accuracy",
    "ece",
    "brier",
    "calibration_slope",
    "calibration_intercept",
    "calibration_in_the_large",
];
pub const CI_METHODS: &[&str] = &[
    "wilson",
    "clopper_pearson",
    "wald",
    "delong",
    "bootstrap",
    "bca",
];
pub const MISSING_POLICIES: &[&str] = &["error", "exclude", "worst_case"];

/// The interval methods a metric allows, the default first.
fn ci_methods_for(metric: &str) -> &'static [&'static str] {
    match metric {
        "auc" => &["delong", "bootstrap", "bca"],
        "calibration_slope" | "calibration_intercept" | "calibration_in_the_large" => {
            &["wald", "bootstrap"]
        }
        "ece" | "brier" => &["bootstrap"],
        _ => &["wilson", "clopper_pearson", "wald", "bootstrap", "bca"],
    }
}

const CI_FIELDS: &[Field] = &[
    Field::req(
        "method",
        Ty::Enum(CI_METHODS),
        "interval method: wilson, clopper_pearson, wald, bootstrap or bca for proportions; delong, bootstrap or bca for auc; wald or bootstrap for the calibration slope and intercept; bootstrap for ece and brier",
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
        "bootstrap resamples (bootstrap, bca), default 2000, seeded",
    ),
    Field::opt(
        "cluster",
        Ty::Str,
        "truth-table column naming the unit to resample (e.g. patient_id when a patient has several cases); bootstrap and bca",
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
        "operating point: score >= threshold counts as positive (required for sensitivity, specificity, ppv, npv, accuracy)",
    ),
    Field::opt("ci", Ty::Obj(CI_FIELDS), "confidence interval; default wilson (proportions), delong (auc), wald (calibration slope and intercept) or bootstrap (ece, brier) at 0.95"),
    Field::opt("label_column", Ty::Str, "truth column holding 0/1 labels, default `label`"),
    Field::opt("by", Ty::List(&Ty::Str), "truth-table columns to measure each group of"),
    Field::opt("pass", Ty::Expr, "pass criterion, e.g. `ci_low >= 0.80`; required unless a `test` is stated"),
    Field::opt("test", Ty::Obj(test::FIELDS), "a one-sided test stated in advance: against a goal, or superiority or non-inferiority against a second model"),
    Field::opt(
        "multiplicity",
        Ty::Enum(&["none", "holm"]),
        "adjustment of the subgroups' test p-values: `holm` (family-wise error rate at alpha) or `none` (default)",
    ),
    Field::opt("bins", Ty::Int { min: 2 }, "equal-width bins of the reliability diagram and ECE, default 10"),
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
    /// The truth column whose values are the bootstrap's sampling units.
    cluster: Option<String>,
    label_column: String,
    by: Vec<String>,
    pass: Expr,
    pass_text: String,
    min_n: u64,
    missing: Missing,
    /// (expected, power) from `planning:`.
    planning: Option<(f64, f64)>,
    test: Option<TestSpec>,
    holm: bool,
    bins: usize,
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

    let thresholdless = metric == "auc" || CALIBRATION.contains(&metric.as_str());
    let threshold = node.get("threshold").and_then(Node::as_f64);
    if thresholdless {
        if let Some(k) = node.key("threshold") {
            out.push(
                Diagnostic::new(
                    "irrelevant-key",
                    format!("`threshold` has no meaning for `{metric}`, which uses the scores themselves"),
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

    let allowed = ci_methods_for(&metric);
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

    let test = TestSpec::parse(node, &metric, &model, names, out);
    let (pass, pass_text) = match (super::judge::pass_criterion(node, out), &test) {
        (Some(p), _) => p,
        (None, Some(_)) => (None, String::new()),
        (None, None) => {
            if node.get("test").is_none() {
                out.push(
                    Diagnostic::new(
                        "missing-key",
                        "a requirement needs a `pass` criterion or a `test`",
                        &node.pos,
                    )
                    .label("add `pass:` (e.g. `ci_low >= 0.80`) or `test:`"),
                );
            }
            return None;
        }
    };
    // A stated test decides through its (adjusted) p-value, with `pass` as a further condition.
    let (pass, pass_text) = match &test {
        Some(t) => {
            let rule = format!("p_adjusted <= {}", t.alpha);
            if pass_text.is_empty() {
                (crate::spec::expr::parse(&rule).ok(), rule)
            } else {
                let text = format!("({pass_text}) and {rule}");
                (
                    pass.and_then(|_| crate::spec::expr::parse(&text).ok()),
                    text,
                )
            }
        }
        None => (pass, pass_text),
    };
    let holm = node.get("multiplicity").and_then(Node::as_str) == Some("holm");
    if let Some(m) = node.key("multiplicity").filter(|_| holm) {
        let no_groups = node
            .get("by")
            .and_then(Node::as_seq)
            .is_none_or(<[Node]>::is_empty);
        if test.is_none() || no_groups {
            out.push(
                Diagnostic::new(
                    "unused-parameter",
                    "`multiplicity: holm` adjusts the p-values of a `test` across the `by` groups",
                    &m.pos,
                )
                .label("add `test:` and `by:`, or remove this"),
            );
        }
    }
    let cluster = ci
        .and_then(|c| c.get("cluster"))
        .and_then(Node::as_str)
        .map(str::to_string);
    if let (Some(c), Some(_)) = (ci.and_then(|c| c.key("cluster")), &test) {
        out.push(
            Diagnostic::new(
                "clustered-test",
                "the tests (exact binomial, McNemar, Tango, DeLong) assume independent cases, \
                 and `cluster` says they are not: their p-values would be too small",
                &c.pos,
            )
            .label("state the claim with `pass:` on the clustered bootstrap interval instead")
            .help("e.g. `pass: ci_low >= 0.80` with `ci: { method: bca, cluster: patient_id }`"),
        );
    }
    // Fields only a stated test fills.
    if let Some(p) = &pass {
        let paired = test.as_ref().is_some_and(|t| t.against().is_some());
        for f in p.fields() {
            let missing = match f {
                "p_value" | "p_adjusted" => test.is_none(),
                "difference" | "difference_ci_low" | "difference_ci_high" => !paired,
                _ => false,
            };
            if missing {
                out.push(
                    Diagnostic::new(
                        "unavailable-field",
                        format!(
                            "`{f}` is never measured here: it comes from a stated {}",
                            if f.starts_with("difference") {
                                "superiority or non-inferiority `test` against a second model"
                            } else {
                                "`test`"
                            }
                        ),
                        &node.get("pass").map_or(node.pos.clone(), |n| n.pos.clone()),
                    )
                    .label("state the `test`, or remove this comparison"),
                );
            }
        }
    }
    if let Some(c) = ci.and_then(|c| c.key("cluster")) {
        if !matches!(ci_method.as_str(), "bootstrap" | "bca") {
            out.push(
                Diagnostic::new(
                    "unused-parameter",
                    format!("`cluster` applies to the bootstrap intervals; `{ci_method}` assumes independent cases"),
                    &c.pos,
                )
                .label("use `method: bootstrap` or `bca`, or remove this"),
            );
        }
    }
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
        } else if !matches!(
            test.as_ref().map(|t| &t.kind),
            Some(test::Kind::Goal { .. })
        ) && pass
            .as_ref()
            .is_some_and(|e| e.lower_bound_goal().is_none())
        {
            out.push(
                Diagnostic::new(
                    "unplannable",
                    "`planning` needs a goal on the interval's lower bound",
                    &p.pos,
                )
                .label("state the criterion as `ci_low >= GOAL`, or a `goal` test"),
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
        cluster,
        test,
        holm,
        bins: node
            .get("bins")
            .and_then(Node::as_f64)
            .map_or(10, |b| b as usize),
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
    /// The compared model's score, when a paired test is stated.
    other: Option<f64>,
    /// The case's sampling unit for bootstraps: its cluster (`ci.cluster`), or itself.
    cluster: usize,
    group: BTreeMap<String, String>,
}

impl Check for Classification {
    fn plan(&self) -> Option<Plan> {
        let (expected, power) = self.planning?;
        let (goal, alpha) = match self.test.as_ref().map(|t| (&t.kind, t.alpha)) {
            Some((test::Kind::Goal { value }, a)) => (*value, a),
            _ => (self.pass.lower_bound_goal()?, (1.0 - self.ci_level) / 2.0),
        };
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
            goal,
            expected,
            power,
            alpha,
        })
    }

    fn criterion(&self) -> Option<String> {
        Some(self.pass_text.clone())
    }

    fn uses(&self) -> Uses {
        let mut models = vec![self.model.clone()];
        if let Some(a) = self.test.as_ref().and_then(TestSpec::against) {
            models.push(a.to_string());
        }
        Uses {
            data: vec![self.truth.clone()],
            models,
            ..Uses::default()
        }
    }

    fn evaluate(&self, cx: &Context) -> Evidence {
        let method = self.method();
        let mut findings = Vec::new();
        let Some(table) = super::case_table(cx, &self.truth, &mut findings) else {
            return Evidence::error(method, findings);
        };
        let against = self.test.as_ref().and_then(TestSpec::against);
        let mut models: Vec<(&str, &Predictions)> = Vec::new();
        for name in std::iter::once(self.model.as_str()).chain(against) {
            let Some(preds) = cx.models.get(name) else {
                findings.push(Finding::error(
                    "missing-model",
                    format!("model `{name}` was not loaded"),
                    name.to_string(),
                ));
                return Evidence::error(method, findings);
            };
            // A policy covers missing cases, not a model that gave nothing at all.
            let policy_covers = self.missing != Missing::Error && preds.value.is_some();
            findings.extend(preds.findings.iter().cloned().map(|mut f| {
                if policy_covers && f.severity == Severity::Error {
                    f.severity = Severity::Warning;
                    f.message
                        .push_str("; covered by the stated missing-prediction policy");
                }
                f
            }));
            let Some(p) = &preds.value else {
                return Evidence::error(method, findings);
            };
            models.push((name, p));
        }

        let Some(label_col) =
            super::label_column(table, &self.truth, &self.label_column, &mut findings)
        else {
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
        let cluster_col = match &self.cluster {
            Some(c) => match table.column(c) {
                Some(i) => Some(i),
                None => {
                    findings.push(Finding::error(
                        "unknown-column",
                        format!(
                            "`ci.cluster: {c}`: the truth table has no such column (columns are: {})",
                            table.columns.join(", ")
                        ),
                        self.truth.clone(),
                    ));
                    return Evidence::error(method, findings);
                }
            },
            None => None,
        };
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
        let mut clusters: std::collections::HashMap<&str, usize> = Default::default();
        let probabilities = CALIBRATION.contains(&self.metric.as_str());
        let mut cases = Vec::with_capacity(table.len());
        'rows: for row in 0..table.len() {
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
            let mut scores = [0.0f64; 2];
            for (k, (name, preds)) in models.iter().enumerate() {
                scores[k] = match preds.score_near(id, row) {
                    Score::Valid(s) if probabilities && !(0.0..=1.0).contains(&s) => {
                        findings.push(Finding::error(
                            "not-a-probability",
                            format!(
                                "case `{id}`: score {s} from model `{name}` is not a probability \
                                 in [0, 1], which `{}` needs",
                                self.metric
                            ),
                            format!("case {id}"),
                        ));
                        continue 'rows;
                    }
                    Score::Valid(s) => s,
                    missing => {
                        let why = match missing {
                            Score::Invalid(reason) => reason,
                            _ => "no prediction",
                        };
                        let (severity, what) = match self.missing {
                            Missing::Error => {
                                (Severity::Error, "the requirement cannot be evaluated")
                            }
                            Missing::Exclude => (
                                Severity::Warning,
                                if models.len() > 1 {
                                    "the case is excluded for both models by policy"
                                } else {
                                    "excluded by policy"
                                },
                            ),
                            Missing::WorstCase if k == 0 => {
                                (Severity::Warning, "counted as wrong by policy")
                            }
                            // Counting the compared model wrong would favour this one.
                            Missing::WorstCase => (
                                Severity::Warning,
                                "counted as right for the compared model by policy (the conservative choice)",
                            ),
                        };
                        findings.push(Finding::new(
                            "missing-prediction",
                            severity,
                            format!("case `{id}`: {why} from model `{name}`; {what}"),
                            Some(format!("case {id}")),
                        ));
                        match self.missing {
                            Missing::Exclude | Missing::Error => continue 'rows,
                            // The worst score for this case's true class; for the compared
                            // model the best.
                            Missing::WorstCase => match (label == (k == 0), probabilities) {
                                (true, true) => 0.0,
                                (false, true) => 1.0,
                                (true, false) => f64::MIN,
                                (false, false) => f64::MAX,
                            },
                        }
                    }
                };
            }
            let cluster = match cluster_col {
                Some(c) => {
                    let next = clusters.len();
                    *clusters.entry(table.get(row, c)).or_insert(next)
                }
                None => row,
            };
            cases.push(Case {
                label,
                score: scores[0],
                other: (models.len() > 1).then_some(scores[1]),
                cluster,
                group: group_of(row),
            });
        }
        if probabilities && findings.iter().any(|f| f.code == "not-a-probability") {
            return Evidence::error(method, findings);
        }
        for (name, preds) in &models {
            for (row, case) in preds.cases().enumerate() {
                if table.find_near(case, row).is_some() {
                    continue;
                }
                findings.push(Finding::warning(
                    "unknown-case",
                    format!(
                        "model `{name}` scores case `{case}`, which is not in the truth table; ignored"
                    ),
                    format!("case {case}"),
                ));
            }
        }

        let mut measurements = vec![self.measure(&cases, None, cx.seed)];
        let mut subsets: Vec<Vec<&Case>> = vec![cases.iter().collect()];
        if !group_cols.is_empty() {
            let mut groups: BTreeMap<&BTreeMap<String, String>, Vec<usize>> =
                all_groups.iter().map(|g| (g, Vec::new())).collect();
            for (i, c) in cases.iter().enumerate() {
                groups.entry(&c.group).or_default().push(i);
            }
            for (key, idx) in groups {
                let sub: Vec<&Case> = idx.iter().map(|&i| &cases[i]).collect();
                measurements.push(self.measure_refs(&sub, Some(key.clone()), cx.seed));
                subsets.push(sub);
            }
        }
        let mut bests: Vec<Option<Measurement>> = measurements
            .iter()
            .zip(&subsets)
            .map(|(m, sub)| self.best_case(m, sub))
            .collect();
        if let (Some(t), true) = (&self.test, self.holm) {
            test::adjust_holm(&mut measurements, t.alpha);
            test::adjust_holm_best(&measurements, &mut bests, t.alpha);
        }
        for (m, best) in measurements.iter_mut().zip(&bests) {
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
        let units = match &self.cluster {
            Some(c) => format!("clusters of cases (`{c}`)"),
            None => "cases".to_string(),
        };
        let ci = match self.ci_method.as_str() {
            "bootstrap" => format!(
                "percentile bootstrap interval over {units} ({} resamples, seeded)",
                self.resamples
            ),
            "bca" => format!(
                "BCa bootstrap interval over {units} ({} resamples, seeded; jackknife acceleration)",
                self.resamples
            ),
            "delong" => "DeLong interval (Sun & Xu 2014 algorithm)".to_string(),
            "wilson" => "Wilson score interval".to_string(),
            "clopper_pearson" => "Clopper-Pearson exact interval".to_string(),
            _ if CALIBRATION.contains(&self.metric.as_str()) => {
                "Wald interval from the logistic fit's standard error".to_string()
            }
            _ => "Wald interval (for comparison only)".to_string(),
        };
        let what = match self.metric.as_str() {
            "auc" => {
                "AUC (Mann-Whitney, ties count one half; higher score = positive)".to_string()
            }
            "ece" => format!(
                "expected calibration error over {} equal-width bins (score read as a probability)",
                self.bins
            ),
            "brier" => "Brier score, mean squared difference of probability and label".to_string(),
            "calibration_in_the_large" => "calibration-in-the-large, the intercept a of logit P(y) = a + logit(score) with the slope fixed at 1 (Van Calster et al. 2019)".to_string(),
            "calibration_slope" | "calibration_intercept" => format!(
                "calibration {} of the joint logistic fit logit P(y) = a + b·logit(score) (Cox 1958)",
                if self.metric == "calibration_slope" { "slope b" } else { "intercept a" }
            ),
            m => format!(
                "{m} at threshold {} (score >= threshold is positive)",
                self.threshold.unwrap_or(f64::NAN)
            ),
        };
        let mut text = format!("{what} with a {level} {ci}");
        if let Some(t) = &self.test {
            text.push_str(&format!(
                "; test of H0: {}: {}",
                t.null_hypothesis(&self.metric, &self.model),
                t.method(&self.metric)
            ));
            if self.holm {
                text.push_str("; subgroup p-values adjusted by Holm's method");
            }
        }
        text
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
