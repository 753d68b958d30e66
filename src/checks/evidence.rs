//! What a check returns: measurements with their method and interval, findings naming each
//! defect, and a status. These types are serialised into `report.json` exactly as they are.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::stats::calibration::Bin;
use crate::stats::froc::FrocPoint;
use crate::stats::roc::RocPoint;

/// The outcome of a requirement. Ordered by severity: combining takes the maximum.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Pass,
    Inconclusive,
    Fail,
    Error,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pass => "pass",
            Status::Inconclusive => "inconclusive",
            Status::Fail => "fail",
            Status::Error => "error",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Info,
    Warning,
    Error,
}

/// One defect or notable fact, with what it is about.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Finding {
    /// Kebab-case name of the defect, e.g. `missing-prediction`.
    pub code: String,
    pub severity: Severity,
    pub message: String,
    /// What it is about: a file, a case, a row, a group, an attribute.
    pub subject: Option<String>,
}

impl Finding {
    pub fn new(
        code: &str,
        severity: Severity,
        message: impl Into<String>,
        subject: Option<String>,
    ) -> Self {
        Finding {
            code: code.to_string(),
            severity,
            message: message.into(),
            subject,
        }
    }

    pub fn error(code: &str, message: impl Into<String>, subject: impl Into<String>) -> Self {
        Finding::new(code, Severity::Error, message, Some(subject.into()))
    }

    pub fn warning(code: &str, message: impl Into<String>, subject: impl Into<String>) -> Self {
        Finding::new(code, Severity::Warning, message, Some(subject.into()))
    }
}

/// The 2x2 table at a threshold (score >= threshold counts as positive).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Default)]
pub struct Confusion {
    pub tp: u64,
    pub fp: u64,
    pub tn: u64,
    #[serde(rename = "fn")]
    pub fn_: u64,
}

/// One number with its method, interval and sample size, overall or for one group.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Measurement {
    pub metric: String,
    /// `None` for the overall measurement; otherwise the group's column values.
    pub group: Option<BTreeMap<String, String>>,
    pub estimate: Option<f64>,
    pub ci_low: Option<f64>,
    pub ci_high: Option<f64>,
    pub ci_method: Option<String>,
    pub ci_level: Option<f64>,
    pub n: u64,
    pub p_value: Option<f64>,
    /// The estimate's standard error, where the method gives one (e.g. Cohen's kappa's
    /// asymptotic standard error).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub std_error: Option<f64>,
    /// The outcome of the pass criterion for this measurement alone.
    pub status: Status,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub threshold: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub confusion: Option<Confusion>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub n_pos: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub n_neg: Option<u64>,
    /// ROC operating points (thinned for plotting), for AUC measurements.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub roc: Option<Vec<RocPoint>>,
    /// FROC operating points (thinned for plotting), for detection measurements.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub froc: Option<Vec<FrocPoint>>,
    /// Reliability-diagram bins, for calibration measurements.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub calibration: Option<Vec<Bin>>,
    /// The per-case values behind a mean over cases (segmentation), in case order.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub per_case: Option<Vec<CaseValue>>,
    /// The stated hypothesis test (against a goal or a second model) and its outcome.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub test: Option<TestResult>,
}

/// One case's value of a per-case metric.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CaseValue {
    pub case: String,
    /// None when the metric is undefined for the case (reported, never dropped silently).
    pub value: Option<f64>,
}

/// A one-sided hypothesis test stated in the spec, and its outcome for one measurement.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TestResult {
    /// `goal`, `superiority` or `noninferiority`.
    pub kind: String,
    /// The null hypothesis in words, e.g. `AUC(model) − AUC(predicate) ≤ −0.05`.
    pub null_hypothesis: String,
    /// The test's method in words.
    pub method: String,
    /// The one-sided significance level stated in the spec.
    pub alpha: f64,
    /// The model compared against, for paired tests.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub against: Option<String>,
    /// The compared model's estimate on the same cases.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub against_estimate: Option<f64>,
    /// This model's estimate minus the other's (paired tests).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub difference: Option<f64>,
    /// Two-sided (1 − 2·alpha) interval of the difference, matching the one-sided test.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub difference_ci_low: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub difference_ci_high: Option<f64>,
    /// The test statistic (z, or the discordant count of an exact test).
    pub statistic: Option<f64>,
    /// One-sided p-value.
    pub p_value: Option<f64>,
    /// Holm-adjusted p-value, when the requirement declares `multiplicity: holm`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub p_adjusted: Option<f64>,
    /// Whether the null hypothesis is rejected at alpha (after adjustment); None when the test
    /// could not be computed.
    pub rejected: Option<bool>,
}

impl Measurement {
    /// A measurement with only a metric and group; fields are filled by the check.
    pub fn new(metric: &str, group: Option<BTreeMap<String, String>>) -> Self {
        Measurement {
            metric: metric.to_string(),
            group,
            estimate: None,
            ci_low: None,
            ci_high: None,
            ci_method: None,
            ci_level: None,
            n: 0,
            p_value: None,
            std_error: None,
            status: Status::Inconclusive,
            threshold: None,
            confusion: None,
            n_pos: None,
            n_neg: None,
            roc: None,
            froc: None,
            calibration: None,
            per_case: None,
            test: None,
        }
    }

    /// The value of a field a pass expression may name.
    pub fn field(&self, name: &str) -> Option<f64> {
        match name {
            "estimate" => self.estimate,
            "ci_low" => self.ci_low,
            "ci_high" => self.ci_high,
            "n" => Some(self.n as f64),
            "p_value" => self.p_value,
            "p_adjusted" => self.test.as_ref().and_then(|t| t.p_adjusted.or(t.p_value)),
            "difference" => self.test.as_ref().and_then(|t| t.difference),
            "difference_ci_low" => self.test.as_ref().and_then(|t| t.difference_ci_low),
            "difference_ci_high" => self.test.as_ref().and_then(|t| t.difference_ci_high),
            _ => None,
        }
    }
}

/// Everything a check found out about one requirement.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Evidence {
    pub status: Status,
    /// How the numbers were obtained, in words (shown next to them in the report).
    pub method: String,
    pub measurements: Vec<Measurement>,
    pub findings: Vec<Finding>,
}

impl Evidence {
    /// Evidence for a requirement that could not be evaluated at all.
    pub fn error(method: String, findings: Vec<Finding>) -> Self {
        Evidence {
            status: Status::Error,
            method,
            measurements: Vec::new(),
            findings,
        }
    }
}

/// A level as a percentage without float noise: 0.95 → "95%", 0.975 → "97.5%".
pub fn percent(level: f64) -> String {
    let s = format!("{:.4}", level * 100.0);
    let s = s.trim_end_matches('0').trim_end_matches('.');
    format!("{s}%")
}
