//! Measuring one metric on a set of cases: the estimate, its interval (closed-form, or a
//! seeded bootstrap over cases or over clusters of cases), and the plot data.

use std::collections::BTreeMap;

use super::{proportion_of, split, Case, Classification};
use crate::checks::evidence::{Confusion, Measurement};
use crate::stats::{self, calibration, proportion, roc};

/// Metrics of calibration (the score read as a probability).
pub const CALIBRATION: &[&str] = &[
    "ece",
    "brier",
    "calibration_slope",
    "calibration_intercept",
    "calibration_in_the_large",
];

impl Classification {
    pub(super) fn measure(
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

    pub(super) fn measure_refs(
        &self,
        cases: &[&Case],
        group: Option<BTreeMap<String, String>>,
        seed: u64,
    ) -> Measurement {
        let mut m = Measurement::new(&self.metric, group);
        m.ci_method = Some(self.ci_method.clone());
        m.ci_level = Some(self.ci_level);
        let labels: Vec<bool> = cases.iter().map(|c| c.label).collect();
        let scores: Vec<f64> = cases.iter().map(|c| c.score).collect();
        let bootstrap = matches!(self.ci_method.as_str(), "bootstrap" | "bca");
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
                let ci = if bootstrap {
                    roc::WeightedAuc::new(&labels, &scores).and_then(|w| {
                        self.bootstrap(
                            cases,
                            a.auc,
                            seed,
                            |weights| w.auc(weights),
                            |units| roc::jackknife_auc_clusters(&labels, &scores, units),
                        )
                    })
                } else {
                    (a.variance > 0.0).then(|| roc::delong_ci(&a, self.ci_level))
                };
                set_ci(&mut m, ci);
            }
        } else if CALIBRATION.contains(&self.metric.as_str()) {
            self.measure_calibration(&mut m, cases, &labels, &scores, seed);
        } else {
            let t = self.threshold.unwrap_or(f64::INFINITY);
            let mut c = Confusion::default();
            // Per case: (in the metric's denominator, a success).
            let mut counted = Vec::with_capacity(cases.len());
            for case in cases {
                let said = case.score >= t;
                match (case.label, said) {
                    (true, true) => c.tp += 1,
                    (true, false) => c.fn_ += 1,
                    (false, true) => c.fp += 1,
                    (false, false) => c.tn += 1,
                }
                counted.push(in_proportion(&self.metric, case.label, said));
            }
            let (x, n) = proportion_of(&self.metric, &c);
            m.threshold = Some(t);
            m.confusion = Some(c);
            m.n = n;
            if n > 0 {
                let p = x as f64 / n as f64;
                m.estimate = Some(p);
                // Wald's interval has zero width at 0/n and n/n: no interval rather than a
                // false one.
                let ci = if bootstrap {
                    self.bootstrap(
                        cases,
                        p,
                        seed,
                        |w| {
                            let (mut xs, mut ns) = (0u64, 0u64);
                            for (&(inn, ok), &wi) in counted.iter().zip(w) {
                                ns += u64::from(inn) * u64::from(wi);
                                xs += u64::from(inn && ok) * u64::from(wi);
                            }
                            (ns > 0).then(|| xs as f64 / ns as f64)
                        },
                        |units| jackknife_proportion(&counted, units),
                    )
                } else {
                    self.interval(x, n)
                };
                set_ci(&mut m, ci);
            }
        }
        if let Some(test) = &self.test {
            test.run(&self.metric, self.threshold, &self.model, cases, &mut m);
        }
        m
    }

    fn measure_calibration(
        &self,
        m: &mut Measurement,
        cases: &[&Case],
        labels: &[bool],
        scores: &[f64],
        seed: u64,
    ) {
        let pos = labels.iter().filter(|&&l| l).count() as u64;
        m.n = cases.len() as u64;
        m.n_pos = Some(pos);
        m.n_neg = Some(m.n - pos);
        m.calibration = calibration::reliability(scores, labels, self.bins);
        let ones = vec![1u32; cases.len()];
        let bins = self.bins;
        let estimate = match self.metric.as_str() {
            "ece" => calibration::ece(scores, labels, bins),
            "brier" => calibration::brier(scores, labels, &ones),
            "calibration_in_the_large" => {
                let fit = calibration::calibration_in_the_large(scores, labels);
                if let (Some((a, se)), "wald") = (fit, self.ci_method.as_str()) {
                    let z = stats::z_two_sided(self.ci_level);
                    m.std_error = Some(se);
                    set_ci(
                        m,
                        Some(stats::Interval {
                            low: a - z * se,
                            high: a + z * se,
                        }),
                    );
                }
                fit.map(|f| f.0)
            }
            _ => {
                let fit = calibration::recalibrate(scores, labels);
                if let (Some(f), "wald") = (fit, self.ci_method.as_str()) {
                    let (est, se) = if self.metric == "calibration_slope" {
                        (f.slope, f.slope_se)
                    } else {
                        (f.intercept, f.intercept_se)
                    };
                    let z = stats::z_two_sided(self.ci_level);
                    m.std_error = Some(se);
                    set_ci(
                        m,
                        Some(stats::Interval {
                            low: est - z * se,
                            high: est + z * se,
                        }),
                    );
                }
                fit.map(|f| {
                    if self.metric == "calibration_slope" {
                        f.slope
                    } else {
                        f.intercept
                    }
                })
            }
        };
        m.estimate = estimate;
        let Some(est) = estimate else { return };
        if self.ci_method == "bootstrap" {
            let metric = self.metric.as_str();
            let ci = self.bootstrap(
                cases,
                est,
                seed,
                |w| match metric {
                    "ece" => calibration::ece_weighted(scores, labels, w, bins),
                    "brier" => calibration::brier(scores, labels, w),
                    _ => {
                        let citl = metric == "calibration_in_the_large";
                        // The fit of the resample: each case repeated by its weight.
                        let (mut p, mut y) = (Vec::new(), Vec::new());
                        for ((&s, &l), &k) in scores.iter().zip(labels).zip(w) {
                            for _ in 0..k {
                                p.push(s);
                                y.push(l);
                            }
                        }
                        if citl {
                            return calibration::calibration_in_the_large(&p, &y).map(|f| f.0);
                        }
                        let f = calibration::recalibrate(&p, &y)?;
                        Some(if metric == "calibration_slope" {
                            f.slope
                        } else {
                            f.intercept
                        })
                    }
                },
                |_| None,
            );
            set_ci(m, ci);
        }
    }

    /// A seeded bootstrap interval (percentile, or BCa when the method is `bca`) over the
    /// sampling units: the cases, or the clusters of `ci.cluster`. `statistic` gets one weight
    /// per case (its unit's multiplicity in the resample); `jackknife` gets each case's unit
    /// and returns the leave-one-unit-out values (BCa's acceleration). Resamples where the
    /// statistic is undefined are left out.
    fn bootstrap<S, J>(
        &self,
        cases: &[&Case],
        estimate: f64,
        seed: u64,
        statistic: S,
        jackknife: J,
    ) -> Option<stats::Interval>
    where
        S: Fn(&[u32]) -> Option<f64> + Sync,
        J: FnOnce(&[usize]) -> Option<Vec<f64>>,
    {
        // Units numbered by first appearance, so the draws depend only on the case order.
        let mut ids: std::collections::HashMap<usize, usize> = Default::default();
        let unit_of: Vec<usize> = cases
            .iter()
            .map(|c| {
                let next = ids.len();
                *ids.entry(c.cluster).or_insert(next)
            })
            .collect();
        let k = ids.len();
        let replicates: Vec<f64> =
            stats::agreement::bootstrap_replicates(k, self.resamples, seed, |unit_w| {
                let w: Vec<u32> = unit_of.iter().map(|&u| unit_w[u]).collect();
                statistic(&w)
            })
            .into_iter()
            .flatten()
            .collect();
        if self.ci_method != "bca" {
            return stats::bca::percentile(&replicates, self.ci_level);
        }
        let jack = jackknife(&unit_of)?;
        stats::bca::bca(estimate, &replicates, &jack, self.ci_level)
    }

    pub(super) fn interval(&self, x: u64, n: u64) -> Option<stats::Interval> {
        match self.ci_method.as_str() {
            "clopper_pearson" => proportion::clopper_pearson(x, n, self.ci_level),
            "wald" => proportion::wald(x, n, self.ci_level),
            _ => proportion::wilson(x, n, self.ci_level),
        }
    }

    /// What a perfect classifier would measure on the same cases; None where "perfect" has
    /// no single value to judge by (calibration metrics). A stated test is run again with the
    /// model right on every case (the compared model as it is), so a group too small for even
    /// a perfect model to show the claim is told apart from a failure.
    pub(super) fn best_case(&self, m: &Measurement, cases: &[&Case]) -> Option<Measurement> {
        if CALIBRATION.contains(&self.metric.as_str()) {
            return None;
        }
        let mut b = m.clone();
        b.estimate = Some(1.0);
        if self.metric == "auc" {
            b.ci_low = Some(1.0);
            b.ci_high = Some(1.0);
        } else {
            let ci = if matches!(self.ci_method.as_str(), "bootstrap" | "bca") {
                // A perfect result has no sampling spread: its bootstrap interval is [1, 1].
                stats::Interval {
                    low: 1.0,
                    high: 1.0,
                }
            } else {
                self.interval(m.n, m.n)?
            };
            b.ci_low = Some(ci.low);
            b.ci_high = Some(ci.high);
        }
        if let Some(test) = &self.test {
            let perfect: Vec<Case> = cases
                .iter()
                .map(|c| Case {
                    label: c.label,
                    score: match (self.metric.as_str(), c.label) {
                        ("auc", true) => 1.0,
                        ("auc", false) => 0.0,
                        (_, true) => f64::MAX,
                        (_, false) => f64::MIN,
                    },
                    other: c.other,
                    cluster: c.cluster,
                    group: BTreeMap::new(),
                })
                .collect();
            let refs: Vec<&Case> = perfect.iter().collect();
            if b.confusion.is_some() {
                let pos = cases.iter().filter(|c| c.label).count() as u64;
                b.confusion = Some(Confusion {
                    tp: pos,
                    fn_: 0,
                    fp: 0,
                    tn: cases.len() as u64 - pos,
                });
            }
            test.run(&self.metric, self.threshold, &self.model, &refs, &mut b);
        } else {
            m.estimate?;
        }
        Some(b)
    }
}

fn set_ci(m: &mut Measurement, ci: Option<stats::Interval>) {
    if let Some(ci) = ci.filter(|ci| ci.high > ci.low) {
        m.ci_low = Some(ci.low);
        m.ci_high = Some(ci.high);
    }
}

/// Whether a case is in a proportion's denominator, and whether it is a success there.
fn in_proportion(metric: &str, label: bool, said: bool) -> (bool, bool) {
    match metric {
        "sensitivity" => (label, said),
        "specificity" => (!label, !said),
        "ppv" => (said, label),
        "npv" => (!said, !label),
        _ => (true, label == said),
    }
}

/// Leave-one-unit-out proportions: (X − x_u)/(N − n_u); None when leaving out some unit
/// empties the denominator.
fn jackknife_proportion(counted: &[(bool, bool)], unit_of: &[usize]) -> Option<Vec<f64>> {
    let k = unit_of.iter().max().map_or(0, |u| u + 1);
    let mut per = vec![(0u64, 0u64); k];
    for (&(inn, ok), &u) in counted.iter().zip(unit_of) {
        per[u].0 += u64::from(inn && ok);
        per[u].1 += u64::from(inn);
    }
    let (x, n) = per.iter().fold((0, 0), |(a, b), (xu, nu)| (a + xu, b + nu));
    per.iter()
        .map(|&(xu, nu)| (n > nu).then(|| (x - xu) as f64 / (n - nu) as f64))
        .collect()
}
