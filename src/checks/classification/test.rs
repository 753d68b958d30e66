//! The one-sided hypothesis test a classification requirement may state in advance (`test:`):
//! against a performance goal, or superiority or non-inferiority against a second model scored
//! on the same cases; and Holm's adjustment across subgroups (`multiplicity: holm`).

use super::{proportion_of, split, Case};
use crate::checks::evidence::{Measurement, TestResult};
use crate::checks::{reference, Names};
use crate::spec::diag::Diagnostic;
use crate::spec::schema::{Field, Ty};
use crate::spec::yaml::Node;
use crate::stats::{hypothesis, proportion, roc};

pub const KINDS: &[&str] = &["goal", "superiority", "noninferiority"];

pub const FIELDS: &[Field] = &[
    Field::req(
        "kind",
        Ty::Enum(KINDS),
        "goal (H0: metric <= value), superiority (H0: difference <= margin) or noninferiority (H0: difference <= -margin) against `against`",
    ),
    Field::opt(
        "value",
        Ty::Num { min: 0.0, max: 1.0 },
        "goal: the performance goal the metric must exceed",
    ),
    Field::opt(
        "against",
        Ty::Str,
        "superiority, noninferiority: the compared model (in `models:`), scored on the same cases",
    ),
    Field::opt(
        "margin",
        Ty::Num { min: 0.0, max: 0.5 },
        "noninferiority: the margin (> 0) the model may fall short by; superiority: the margin to exceed (default 0)",
    ),
    Field::opt(
        "threshold",
        Ty::Num {
            min: f64::NEG_INFINITY,
            max: f64::INFINITY,
        },
        "the compared model's operating point (threshold metrics), default the requirement's threshold",
    ),
    Field::opt(
        "alpha",
        Ty::Num {
            min: 1e-6,
            max: 0.25,
        },
        "one-sided significance level, default 0.025 (at most 0.25)",
    ),
];

/// Metrics a paired test against a second model applies to: those whose cases do not depend
/// on the model's own decisions (PPV's and NPV's denominators do).
const PAIRED_METRICS: &[&str] = &["auc", "sensitivity", "specificity", "accuracy"];
/// Metrics any test applies to.
const TESTED_METRICS: &[&str] = &[
    "auc",
    "sensitivity",
    "specificity",
    "ppv",
    "npv",
    "accuracy",
];

/// What is tested.
#[derive(Debug, Clone, PartialEq)]
pub enum Kind {
    /// H0: metric ≤ value.
    Goal { value: f64 },
    /// H0: metric − against's ≤ margin.
    Superiority { against: String, margin: f64 },
    /// H0: metric − against's ≤ −margin.
    NonInferiority { against: String, margin: f64 },
}

/// A stated test.
#[derive(Debug, Clone, PartialEq)]
pub struct TestSpec {
    pub kind: Kind,
    pub alpha: f64,
    /// The compared model's threshold.
    pub threshold: Option<f64>,
}

impl TestSpec {
    /// Reads and validates `test:` (the schema has checked the types).
    pub fn parse(
        node: &Node,
        metric: &str,
        model: &str,
        names: &Names,
        out: &mut Vec<Diagnostic>,
    ) -> Option<TestSpec> {
        let t = node.get("test")?;
        let kind = t.get("kind").and_then(Node::as_str)?;
        let at = |k: &str| t.get(k).map_or(t.pos.clone(), |n| n.pos.clone());
        let num = |k: &str| t.get(k).and_then(Node::as_f64);
        if !TESTED_METRICS.contains(&metric) {
            out.push(
                Diagnostic::new(
                    "untestable-metric",
                    format!("a `test` applies to auc and the proportions, not `{metric}`"),
                    &t.pos,
                )
                .label("state a `pass` criterion instead"),
            );
            return None;
        }
        let against = t.get("against").and_then(Node::as_str).map(str::to_string);
        let kind = match kind {
            "goal" => {
                let Some(value) = num("value") else {
                    out.push(
                        Diagnostic::new("missing-key", "a `goal` test needs its `value`", &t.pos)
                            .label("add `value:`, e.g. `value: 0.80`"),
                    );
                    return None;
                };
                for k in ["against", "margin", "threshold"] {
                    if let Some(n) = t.key(k) {
                        out.push(
                            Diagnostic::new(
                                "irrelevant-key",
                                format!("`{k}` has no meaning for a `goal` test"),
                                &n.pos,
                            )
                            .label("remove this"),
                        );
                    }
                }
                Kind::Goal { value }
            }
            k => {
                let Some(against) = against else {
                    out.push(
                        Diagnostic::new(
                            "missing-key",
                            format!("a `{k}` test needs the model it is `against`"),
                            &t.pos,
                        )
                        .label("add `against:` naming a model in `models:`"),
                    );
                    return None;
                };
                reference(
                    t,
                    "against",
                    &against,
                    &names.models,
                    "a model in `models:`",
                    out,
                );
                if against == model {
                    out.push(
                        Diagnostic::new(
                            "self-comparison",
                            "a model cannot be compared with itself",
                            &at("against"),
                        )
                        .label("name the predicate or comparator model"),
                    );
                }
                if !PAIRED_METRICS.contains(&metric) {
                    out.push(
                        Diagnostic::new(
                            "unpaired-metric",
                            format!(
                                "`{metric}` cannot be compared on paired cases: its denominator \
                                 depends on each model's decisions"
                            ),
                            &t.pos,
                        )
                        .label("compare auc, sensitivity, specificity or accuracy"),
                    );
                }
                if let Some(n) = t.key("value") {
                    out.push(
                        Diagnostic::new(
                            "irrelevant-key",
                            format!("`value` has no meaning for a `{k}` test, which compares two models"),
                            &n.pos,
                        )
                        .label("remove this, or state a `goal` test"),
                    );
                }
                if let (Some(n), "auc") = (t.key("threshold"), metric) {
                    out.push(
                        Diagnostic::new(
                            "irrelevant-key",
                            "`threshold` has no meaning for `auc`",
                            &n.pos,
                        )
                        .label("remove this"),
                    );
                }
                let margin = num("margin");
                if k == "noninferiority" {
                    match margin {
                        Some(m) if m > 0.0 => Kind::NonInferiority { against, margin: m },
                        _ => {
                            out.push(
                                Diagnostic::new(
                                    "missing-key",
                                    "a `noninferiority` test needs a `margin` above 0",
                                    &at("margin"),
                                )
                                .label("state the clinically acceptable loss, e.g. `margin: 0.05`"),
                            );
                            return None;
                        }
                    }
                } else {
                    Kind::Superiority {
                        against,
                        margin: margin.unwrap_or(0.0),
                    }
                }
            }
        };
        Some(TestSpec {
            kind,
            alpha: num("alpha").unwrap_or(0.025),
            threshold: num("threshold"),
        })
    }

    /// The compared model, for paired tests.
    pub fn against(&self) -> Option<&str> {
        match &self.kind {
            Kind::Goal { .. } => None,
            Kind::Superiority { against, .. } | Kind::NonInferiority { against, .. } => {
                Some(against)
            }
        }
    }

    pub fn kind_name(&self) -> &'static str {
        match self.kind {
            Kind::Goal { .. } => "goal",
            Kind::Superiority { .. } => "superiority",
            Kind::NonInferiority { .. } => "noninferiority",
        }
    }

    /// The null hypothesis in words.
    pub fn null_hypothesis(&self, metric: &str, model: &str) -> String {
        let m = metric_name(metric);
        match &self.kind {
            Kind::Goal { value } => format!("{m}({model}) ≤ {value}"),
            Kind::Superiority { against, margin } => {
                format!("{m}({model}) − {m}({against}) ≤ {margin}")
            }
            Kind::NonInferiority { against, margin } => {
                format!("{m}({model}) − {m}({against}) ≤ −{margin}")
            }
        }
    }

    /// The test's method in words.
    pub fn method(&self, metric: &str) -> String {
        let alpha = self.alpha;
        let how = match (&self.kind, metric) {
            (Kind::Goal { .. }, "auc") => {
                "z = (AUC − goal)/SE with DeLong's standard error".to_string()
            }
            (Kind::Goal { .. }, _) => {
                "exact binomial test, p = P(X ≥ x | n, goal)".to_string()
            }
            (_, "auc") => "paired DeLong test, z = (ΔAUC − θ0)/SE(ΔAUC) with the covariance of the two AUCs; difference interval ΔAUC ± z·SE".to_string(),
            (Kind::Superiority { margin, .. }, _) if *margin == 0.0 => "exact one-sided McNemar test on the discordant cases; difference interval by Tango's score method".to_string(),
            _ => "Tango's score test for paired proportions; difference interval by Tango's score method".to_string(),
        };
        let ci = if self.against().is_some() {
            format!(
                ", interval of the difference at {}",
                super::super::evidence::percent(1.0 - 2.0 * alpha)
            )
        } else {
            String::new()
        };
        format!("one-sided {how}, alpha = {alpha}{ci}")
    }

    /// Runs the test on a measurement's cases and stores the outcome in it.
    pub fn run(
        &self,
        metric: &str,
        threshold: Option<f64>,
        model: &str,
        cases: &[&Case],
        m: &mut Measurement,
    ) {
        let mut r = TestResult {
            kind: self.kind_name().to_string(),
            null_hypothesis: self.null_hypothesis(metric, model),
            method: self.method(metric),
            alpha: self.alpha,
            against: self.against().map(str::to_string),
            against_estimate: None,
            difference: None,
            difference_ci_low: None,
            difference_ci_high: None,
            statistic: None,
            p_value: None,
            p_adjusted: None,
            rejected: None,
        };
        match (&self.kind, metric) {
            (Kind::Goal { value }, "auc") => {
                let (pos, neg) = split(cases);
                if let Some(a) = roc::auc_delong(&pos, &neg).filter(|a| a.variance > 0.0) {
                    let z = (a.auc - value) / a.variance.sqrt();
                    r.statistic = Some(z);
                    r.p_value = hypothesis::normal_upper_p(z);
                }
            }
            (Kind::Goal { value }, _) => {
                if let Some(c) = &m.confusion {
                    let (x, n) = proportion_of(metric, c);
                    if n > 0 {
                        r.statistic = Some(x as f64);
                        r.p_value = proportion::binomial_upper_tail(x, n, *value);
                    }
                }
            }
            (Kind::Superiority { margin, .. } | Kind::NonInferiority { margin, .. }, _) => {
                let theta0 = match self.kind {
                    Kind::NonInferiority { .. } => -margin,
                    _ => *margin,
                };
                let Some(other): Option<Vec<f64>> = cases.iter().map(|c| c.other).collect() else {
                    m.test = Some(r);
                    return;
                };
                let z_ci = crate::stats::z_two_sided(1.0 - 2.0 * self.alpha);
                if metric == "auc" {
                    let (pos, neg) = split(cases);
                    let (mut opos, mut oneg) = (Vec::new(), Vec::new());
                    for (c, o) in cases.iter().zip(&other) {
                        if c.label {
                            opos.push(*o);
                        } else {
                            oneg.push(*o);
                        }
                    }
                    if let Some(t) = roc::delong_paired(&pos, &neg, &opos, &oneg) {
                        let se = t.variance.sqrt();
                        r.against_estimate = Some(t.auc_b);
                        r.difference = Some(t.difference);
                        r.difference_ci_low = Some(t.difference - z_ci * se);
                        r.difference_ci_high = Some(t.difference + z_ci * se);
                        let z = (t.difference - theta0) / se;
                        r.statistic = Some(z);
                        r.p_value = hypothesis::normal_upper_p(z);
                    } else if let (Some(a), Some(b)) =
                        (roc::auc_delong(&pos, &neg), roc::auc_delong(&opos, &oneg))
                    {
                        r.against_estimate = Some(b.auc);
                        r.difference = Some(a.auc - b.auc);
                    }
                } else {
                    let t_new = threshold.unwrap_or(f64::INFINITY);
                    let t_old = self.threshold.unwrap_or(t_new);
                    let (mut b, mut c, mut n, mut old_right) = (0u64, 0u64, 0u64, 0u64);
                    for (case, o) in cases.iter().zip(&other) {
                        let counts = match metric {
                            "sensitivity" => case.label,
                            "specificity" => !case.label,
                            _ => true,
                        };
                        if !counts {
                            continue;
                        }
                        n += 1;
                        let new_ok = (case.score >= t_new) == case.label;
                        let old_ok = (*o >= t_old) == case.label;
                        old_right += u64::from(old_ok);
                        match (new_ok, old_ok) {
                            (true, false) => b += 1,
                            (false, true) => c += 1,
                            _ => {}
                        }
                    }
                    if n > 0 {
                        r.against_estimate = Some(old_right as f64 / n as f64);
                        r.difference = Some((b as f64 - c as f64) / n as f64);
                        if let Some(ci) = hypothesis::tango_ci(b, c, n, 1.0 - 2.0 * self.alpha) {
                            r.difference_ci_low = Some(ci.low);
                            r.difference_ci_high = Some(ci.high);
                        }
                        if theta0 == 0.0 {
                            r.statistic = Some(b as f64);
                            r.p_value = Some(hypothesis::mcnemar_exact_greater(b, c));
                        } else if let Some(t) = hypothesis::tango_test(b, c, n, theta0) {
                            r.statistic = Some(t.z);
                            r.p_value = Some(t.p_value);
                        }
                    }
                }
            }
        }
        r.rejected = r.p_value.map(|p| p <= self.alpha);
        m.p_value = r.p_value;
        m.test = Some(r);
    }
}

/// The Holm family: the subgroup measurements with a stated test, and their p-values (NaN,
/// counted as 1, where the test could not be computed).
fn family(measurements: &[Measurement]) -> (Vec<usize>, Vec<f64>) {
    let idx: Vec<usize> = measurements
        .iter()
        .enumerate()
        .filter(|(_, m)| m.group.is_some() && m.test.is_some())
        .map(|(i, _)| i)
        .collect();
    let p = idx
        .iter()
        .map(|&i| {
            measurements[i]
                .test
                .as_ref()
                .and_then(|t| t.p_value)
                .unwrap_or(f64::NAN)
        })
        .collect();
    (idx, p)
}

/// Holm's adjustment across the subgroup measurements (the overall measurement is tested on
/// its own at alpha). A subgroup whose test could not be computed stays in the family with
/// p = 1, so the family's size never shrinks; it gets no adjusted p-value.
pub fn adjust_holm(measurements: &mut [Measurement], alpha: f64) {
    let (idx, p) = family(measurements);
    for (&i, adj) in idx.iter().zip(hypothesis::holm(&p)) {
        if let Some(t) = measurements[i]
            .test
            .as_mut()
            .filter(|t| t.p_value.is_some())
        {
            t.p_adjusted = Some(adj);
            t.rejected = Some(adj <= alpha);
        }
    }
}

/// Holm's adjustment for the best cases: each subgroup's best-case p-value adjusted within the
/// family of the observed p-values of the other subgroups, so that "too small to decide" means
/// too small even after the adjustment.
pub fn adjust_holm_best(
    measurements: &[Measurement],
    best: &mut [Option<Measurement>],
    alpha: f64,
) {
    let (idx, observed) = family(measurements);
    for (k, &i) in idx.iter().enumerate() {
        let Some(t) = best[i].as_mut().and_then(|b| b.test.as_mut()) else {
            continue;
        };
        let Some(p) = t.p_value else { continue };
        let mut family = observed.clone();
        family[k] = p;
        let adj = hypothesis::holm(&family)[k];
        t.p_adjusted = Some(adj);
        t.rejected = Some(adj <= alpha);
    }
}

fn metric_name(metric: &str) -> &str {
    match metric {
        "auc" => "AUC",
        other => other,
    }
}
