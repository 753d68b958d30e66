//! `dataset.composition`: counts and shares of a dataset's strata, with constraints.
//!
//! Documentation for users is in `dataset_composition.md`.

use std::collections::{BTreeMap, BTreeSet};

use dicom_core::Tag;

use super::evidence::{Evidence, Finding, Measurement, Status};
use super::{reference, Check, Context, DataSet, Names, Uses};
use crate::data::dictionary::check_keyword;
use crate::spec::diag::Diagnostic;
use crate::spec::schema::{Field, Ty};
use crate::spec::yaml::Node;
use crate::stats::proportion;

pub const DOC: &str = include_str!("dataset_composition.md");

pub const UNITS: &[&str] = &["instances", "series", "studies", "patients"];

const SHARE: Ty = Ty::Num { min: 0.0, max: 1.0 };

pub const PARAMS: &[Field] = &[
    Field::req(
        "data",
        Ty::Str,
        "a DICOM data source or a case table in `data:`",
    ),
    Field::req(
        "by",
        Ty::List(&Ty::Str),
        "DICOM keywords (for a DICOM source) or column names (for a table) defining the strata",
    ),
    Field::opt(
        "count",
        Ty::Enum(UNITS),
        "DICOM only: what is counted, default `instances`",
    ),
    Field::opt(
        "bins",
        Ty::List(&Ty::Num {
            min: f64::NEG_INFINITY,
            max: f64::INFINITY,
        }),
        "cut points turning a numeric field (e.g. age, PatientAge) into bands",
    ),
    Field::opt(
        "min_count",
        Ty::Int { min: 0 },
        "every stratum has at least this many",
    ),
    Field::opt(
        "min_distinct",
        Ty::Int { min: 0 },
        "at least this many strata",
    ),
    Field::opt("max_share", SHARE, "no stratum holds more than this share"),
    Field::opt(
        "require",
        Ty::List(&Ty::Scalar),
        "strata that must be present (one field only)",
    ),
    Field::opt(
        "target",
        Ty::MapOf(&SHARE),
        "target share per stratum, for `max_abs_diff`",
    ),
    Field::opt(
        "max_abs_diff",
        SHARE,
        "largest allowed |share - target share| over the strata",
    ),
];

#[derive(Debug)]
pub struct Composition {
    data: String,
    by: Vec<String>,
    /// Tags of `by` when the source is DICOM.
    tags: Vec<Tag>,
    count: String,
    bins: Vec<f64>,
    min_count: Option<u64>,
    min_distinct: Option<u64>,
    max_share: Option<f64>,
    require: Vec<String>,
    target: Vec<(String, f64)>,
    max_abs_diff: Option<f64>,
}

pub fn build(node: &Node, names: &Names, out: &mut Vec<Diagnostic>) -> Option<Box<dyn Check>> {
    let before = out.len();
    let data = node.get("data")?.as_str()?.to_string();
    let known: Vec<String> = names.dicom.iter().chain(&names.tables).cloned().collect();
    reference(node, "data", &data, &known, "a data source in `data:`", out);
    let is_dicom = names.dicom.contains(&data);
    let by_node = node.get("by")?;
    let by: Vec<String> = by_node
        .as_seq()?
        .iter()
        .filter_map(|n| n.as_str().map(str::to_string))
        .collect();
    if by.is_empty() {
        out.push(
            Diagnostic::new("empty-value", "`by` names no field", &by_node.pos)
                .label("name at least one"),
        );
    }
    let mut tags = Vec::new();
    if is_dicom {
        for n in by_node.as_seq()? {
            let keyword = n.as_str()?;
            match check_keyword(keyword, &n.pos)
                .and_then(|t| crate::data::dictionary::indexable(keyword, t, &n.pos).map(|()| t))
            {
                Ok(t) if crate::data::dictionary::identifying(keyword, t) => {
                    out.push(identifying_group(keyword, &n.pos));
                }
                Ok(t) => tags.push(t),
                Err(d) => out.push(*d),
            }
        }
    } else {
        for n in by_node.as_seq()? {
            if n.as_str()
                .is_some_and(crate::data::dictionary::identifying_column)
            {
                out.push(identifying_group(n.as_str()?, &n.pos));
            }
        }
    }
    if let (false, Some(k)) = (is_dicom, node.key("count")) {
        out.push(
            Diagnostic::new(
                "irrelevant-key",
                "`count` applies to DICOM sources; a table counts its rows",
                &k.pos,
            )
            .label("remove this"),
        );
    }
    let num = |k: &str| node.get(k).and_then(Node::as_f64);
    let list = |k: &str| -> Vec<String> {
        node.get(k)
            .and_then(Node::as_seq)
            .map(|s| s.iter().filter_map(scalar_text).collect())
            .unwrap_or_default()
    };
    let mut bins: Vec<f64> = node
        .get("bins")
        .and_then(Node::as_seq)
        .map(|s| s.iter().filter_map(Node::as_f64).collect())
        .unwrap_or_default();
    if bins.windows(2).any(|w| w[0] >= w[1]) {
        let pos = &node.get("bins")?.pos;
        out.push(
            Diagnostic::new("invalid-bins", "`bins` must increase strictly", pos)
                .label("e.g. [18, 40, 65]"),
        );
    }
    bins.dedup();
    let require = list("require");
    if !require.is_empty() && by.len() != 1 {
        let k = node.key("require")?;
        out.push(
            Diagnostic::new(
                "invalid-require",
                "`require` needs exactly one `by` field",
                &k.pos,
            )
            .label("strata of several fields cannot be listed this way"),
        );
    }
    let target: Vec<(String, f64)> = node
        .get("target")
        .and_then(Node::as_map)
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| Some((k.name.clone(), v.as_f64()?)))
                .collect()
        })
        .unwrap_or_default();
    if num("max_abs_diff").is_some() && target.is_empty() {
        let k = node.key("max_abs_diff")?;
        out.push(
            Diagnostic::new(
                "missing-key",
                "`max_abs_diff` needs a `target` distribution",
                &k.pos,
            )
            .label("add `target: { A: 0.5, B: 0.5 }`"),
        );
    }
    if !target.is_empty() {
        let total: f64 = target.iter().map(|(_, v)| v).sum();
        if (total - 1.0).abs() > 1e-6 {
            let pos = &node.get("target")?.pos;
            out.push(
                Diagnostic::new(
                    "invalid-target",
                    format!("target shares sum to {total}, not 1"),
                    pos,
                )
                .label("shares must sum to 1"),
            );
        }
    }
    let checks_something = [
        "min_count",
        "min_distinct",
        "max_share",
        "require",
        "max_abs_diff",
    ]
    .iter()
    .any(|k| node.get(k).is_some());
    if !checks_something {
        out.push(
            Diagnostic::new(
                "no-constraint",
                "this requirement states no constraint, so it could only pass vacuously",
                &node.pos,
            )
            .label(
                "add at least one of: min_count, min_distinct, max_share, require, max_abs_diff",
            ),
        );
    }
    if out.len() > before {
        return None;
    }
    Some(Box::new(Composition {
        data,
        by,
        tags,
        count: node
            .get("count")
            .and_then(Node::as_str)
            .unwrap_or("instances")
            .to_string(),
        bins,
        min_count: num("min_count").map(|x| x as u64),
        min_distinct: num("min_distinct").map(|x| x as u64),
        max_share: num("max_share"),
        require,
        target,
        max_abs_diff: num("max_abs_diff"),
    }))
}

/// Strata and groups are shown in the report, so identifiers of people cannot be one.
pub fn identifying_group(name: &str, pos: &crate::spec::yaml::Pos) -> Diagnostic {
    Diagnostic::new(
        "identifying-group",
        format!("grouping by `{name}` would put identifiers of people into the report"),
        pos,
    )
    .label("group by a non-identifying field (site, sex, age band, manufacturer)")
}

fn scalar_text(n: &Node) -> Option<String> {
    n.as_str()
        .map(str::to_string)
        .or_else(|| n.as_f64().map(|x| x.to_string()))
}

/// A stratum's name: the values joined with ` / ` (`(absent)` for an empty value).
fn stratum_name(values: &[String]) -> String {
    values
        .iter()
        .map(|v| if v.is_empty() { "(absent)" } else { v.as_str() })
        .collect::<Vec<_>>()
        .join(" / ")
}

impl Composition {
    /// A value put into its band when bins are declared: `<18`, `18–40`, `>=65`. DICOM ages
    /// (`045Y`, `006M`) are read in years.
    fn band(&self, value: &str) -> String {
        if self.bins.is_empty() || value.is_empty() {
            return value.to_string();
        }
        let Some(x) = parse_number(value) else {
            return format!("(not a number: {value})");
        };
        let fmt = |b: f64| b.to_string();
        match self.bins.iter().position(|&b| x < b) {
            Some(0) => format!("<{}", fmt(self.bins[0])),
            Some(i) => format!("{}–{}", fmt(self.bins[i - 1]), fmt(self.bins[i])),
            None => format!(">={}", fmt(self.bins[self.bins.len() - 1])),
        }
    }

    /// Count of units per stratum, and the number of units.
    fn strata(&self, cx: &Context) -> Result<(BTreeMap<String, u64>, u64), Vec<Finding>> {
        let mut counts: BTreeMap<String, u64> = BTreeMap::new();
        match cx.data.get(&self.data) {
            Some(DataSet::Dicom(d)) => {
                let ix = d.value.as_ref().ok_or_else(|| d.findings.clone())?;
                let slots: Vec<usize> = self
                    .tags
                    .iter()
                    .map(|t| {
                        ix.extra_slot(*t)
                            .expect("the runner indexes every attribute a check uses")
                    })
                    .collect();
                // Each unit counts once in each stratum it appears in.
                let mut seen: BTreeSet<(String, &str)> = BTreeSet::new();
                let mut units: BTreeSet<&str> = BTreeSet::new();
                for inst in &ix.instances {
                    let unit = match self.count.as_str() {
                        "patients" => inst.patient.as_str(),
                        "studies" => inst.study_uid.as_str(),
                        "series" => inst.series_uid.as_str(),
                        _ => inst.path.as_str(),
                    };
                    let values: Vec<String> = slots
                        .iter()
                        .map(|&s| self.band(inst.extra[s].as_deref().unwrap_or("")))
                        .collect();
                    let name = stratum_name(&values);
                    units.insert(unit);
                    if seen.insert((name.clone(), unit)) {
                        *counts.entry(name).or_default() += 1;
                    }
                }
                Ok((counts, units.len() as u64))
            }
            Some(DataSet::Table(t)) => {
                let table = t.value.as_ref().ok_or_else(|| t.findings.clone())?;
                let mut cols = Vec::new();
                for c in &self.by {
                    match table.column(c) {
                        Some(i) => cols.push(i),
                        None => {
                            return Err(vec![Finding::error(
                                "unknown-column",
                                format!(
                                    "`by: {c}`: the table has no such column (columns are: {})",
                                    table.columns.join(", ")
                                ),
                                self.data.clone(),
                            )])
                        }
                    }
                }
                for row in 0..table.len() {
                    let values: Vec<String> =
                        cols.iter().map(|&c| self.band(table.get(row, c))).collect();
                    *counts.entry(stratum_name(&values)).or_default() += 1;
                }
                Ok((counts, table.len() as u64))
            }
            Some(DataSet::Labels(_) | DataSet::Lesions(_) | DataSet::Masks(_)) | None => {
                Err(vec![Finding::error(
                    "missing-data",
                    format!(
                        "data source `{}` was not loaded as DICOM or a table",
                        self.data
                    ),
                    self.data.clone(),
                )])
            }
        }
    }
}

/// A number, or a DICOM Age String (PS3.5 6.2: nnnD, nnnW, nnnM, nnnY) in years.
fn parse_number(v: &str) -> Option<f64> {
    let v = v.trim();
    if let Ok(x) = v.parse::<f64>() {
        return x.is_finite().then_some(x);
    }
    // Any other text (including non-ASCII such as `45岁`) is not a number.
    let per_year = [('Y', 1.0), ('M', 12.0), ('W', 365.25 / 7.0), ('D', 365.25)];
    per_year.iter().find_map(|&(unit, div)| {
        let n: f64 = v.strip_suffix(unit)?.parse().ok()?;
        n.is_finite().then_some(n / div)
    })
}

impl Check for Composition {
    fn uses(&self) -> Uses {
        Uses {
            data: vec![self.data.clone()],
            dicom_attributes: self.tags.iter().map(|t| (self.data.clone(), *t)).collect(),
            ..Uses::default()
        }
    }

    fn evaluate(&self, cx: &Context) -> Evidence {
        let unit = if self.tags.is_empty() {
            "cases"
        } else {
            self.count.as_str()
        };
        let method = format!(
            "{unit} counted by {}{}; shares with 95% Wilson intervals",
            self.by.join(" × "),
            if self.bins.is_empty() {
                String::new()
            } else {
                format!(" (bands cut at {:?})", self.bins)
            }
        );
        let (counts, total) = match self.strata(cx) {
            Ok(c) => c,
            Err(findings) => return Evidence::error(method, findings),
        };
        let mut findings = Vec::new();
        let mut measurements = Vec::new();
        let group_key = self.by.join(" / ");
        let target: BTreeMap<&str, f64> =
            self.target.iter().map(|(k, v)| (k.as_str(), *v)).collect();
        for (name, &n) in &counts {
            let mut m = Measurement::new(
                "share",
                Some(BTreeMap::from([(group_key.clone(), name.clone())])),
            );
            m.n = n;
            m.estimate = Some(n as f64 / total as f64);
            if let Some(ci) = proportion::wilson(n, total, 0.95) {
                m.ci_low = Some(ci.low);
                m.ci_high = Some(ci.high);
                m.ci_method = Some("wilson".into());
                m.ci_level = Some(0.95);
            }
            m.status = Status::Pass;
            let mut fail = |code: &str, message: String| {
                m.status = Status::Fail;
                findings.push(Finding::error(code, message, format!("{group_key}={name}")));
            };
            if let Some(min) = self.min_count.filter(|&min| n < min) {
                fail(
                    "stratum-too-small",
                    format!("{n} {unit}, fewer than the minimum {min}"),
                );
            }
            let share = n as f64 / total as f64;
            if let Some(max) = self.max_share.filter(|&max| share > max) {
                fail(
                    "stratum-dominates",
                    format!(
                        "holds {:.1}% of {unit}, more than {:.1}%",
                        share * 100.0,
                        max * 100.0
                    ),
                );
            }
            if let Some(max) = self.max_abs_diff {
                let t = target.get(name.as_str()).copied().unwrap_or(0.0);
                if (share - t).abs() > max {
                    fail(
                        "distribution-mismatch",
                        format!(
                            "share {share:.3} differs from the target {t:.3} by more than {max}"
                        ),
                    );
                }
            }
            measurements.push(m);
        }
        if let Some(max) = self.max_abs_diff {
            // Target strata with no unit at all are as far off as their target share.
            for (name, &t) in &target {
                if !counts.contains_key(*name) && t > max {
                    findings.push(Finding::error(
                        "distribution-mismatch",
                        format!("no {unit} at all, against a target share of {t:.3}"),
                        format!("{group_key}={name}"),
                    ));
                }
            }
        }
        for r in &self.require {
            if !counts.contains_key(r) {
                findings.push(Finding::error(
                    "missing-stratum",
                    format!("no {unit} with {group_key} = {r}"),
                    format!("{group_key}={r}"),
                ));
            }
        }
        // Missing or unreadable values are shown as strata but are not distinct values.
        let real = counts
            .keys()
            .filter(|k| {
                !k.split(" / ")
                    .any(|v| v == "(absent)" || v.starts_with("(not a number"))
            })
            .count();
        let mut distinct = Measurement::new("distinct_strata", None);
        distinct.n = total;
        distinct.estimate = Some(real as f64);
        distinct.status = Status::Pass;
        if let Some(min) = self.min_distinct.filter(|&min| (real as u64) < min) {
            distinct.status = Status::Fail;
            findings.push(Finding::error(
                "too-few-strata",
                format!("{real} distinct values of {group_key}, fewer than the minimum {min}"),
                group_key.clone(),
            ));
        }
        measurements.insert(0, distinct);
        let status = if total == 0 {
            findings.push(Finding::error(
                "no-records",
                format!("no {unit} to count"),
                self.data.clone(),
            ));
            Status::Inconclusive
        } else if findings
            .iter()
            .any(|f| f.severity == super::evidence::Severity::Error)
        {
            Status::Fail
        } else {
            Status::Pass
        };
        Evidence {
            status,
            method,
            measurements,
            findings,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dicom_ages_and_numbers_fall_into_bands() {
        // PS3.5 Table 6.2-1, AS: "018M" is 18 months = 1.5 years.
        assert_eq!(parse_number("045Y"), Some(45.0));
        assert_eq!(parse_number("018M"), Some(1.5));
        assert_eq!(parse_number("62"), Some(62.0));
        assert_eq!(parse_number("abc"), None);
        // Anything else is not a number, and never a panic.
        assert_eq!(parse_number("45岁"), None);
        assert_eq!(parse_number("NaN"), None);
        assert_eq!(parse_number("Y"), None);
        let c = Composition {
            data: String::new(),
            by: vec![],
            tags: vec![],
            count: "instances".into(),
            bins: vec![18.0, 40.0, 65.0],
            min_count: None,
            min_distinct: None,
            max_share: None,
            require: vec![],
            target: vec![],
            max_abs_diff: None,
        };
        assert_eq!(c.band("10"), "<18");
        assert_eq!(c.band("018Y"), "18–40");
        assert_eq!(c.band("64"), "40–65");
        assert_eq!(c.band("065Y"), ">=65");
        assert_eq!(c.band(""), "");
    }
}
