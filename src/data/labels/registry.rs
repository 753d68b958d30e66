//! The annotator registry: who may label, with which role, experience, training and
//! assessments. YAML (`annotators:` list) or CSV (one row per annotator). Pre-annotation
//! models are registered too, with role `model` and their version.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::Instant;

/// A training or assessment record.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Training {
    pub course: String,
    /// `YYYY-MM-DD`.
    pub date: String,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Assessment {
    /// `YYYY-MM-DD`.
    pub date: String,
    pub passed: bool,
    #[serde(default)]
    pub score: Option<f64>,
}

/// One registered annotator (or model).
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Annotator {
    /// The pseudonymous identifier used in the label set; never a name.
    pub id: String,
    /// e.g. radiologist, resident, technician, arbitrator, quality_evaluator; `model` for a
    /// pre-annotation model.
    pub role: String,
    #[serde(default)]
    pub years_experience: Option<f64>,
    #[serde(default)]
    pub qualification: Option<String>,
    /// For models: the version registered.
    #[serde(default)]
    pub version: Option<String>,
    #[serde(default)]
    pub training: Vec<Training>,
    #[serde(default)]
    pub assessments: Vec<Assessment>,
}

impl Annotator {
    pub fn is_model(&self) -> bool {
        self.role == "model"
    }

    /// The date of the first training, when one is recorded with a valid date.
    pub fn trained_by(&self, when: Instant) -> bool {
        self.training
            .iter()
            .any(|t| parse_date(&t.date).is_ok_and(|d| d <= when))
    }

    /// A passed assessment dated no later than `when`.
    pub fn assessed_by(&self, when: Instant) -> bool {
        self.assessments
            .iter()
            .any(|a| a.passed && parse_date(&a.date).is_ok_and(|d| d <= when))
    }
}

#[derive(Debug, Clone, Default)]
pub struct Registry {
    pub annotators: BTreeMap<String, Annotator>,
}

impl Registry {
    pub fn get(&self, id: &str) -> Option<&Annotator> {
        self.annotators.get(id)
    }
}

/// `YYYY-MM-DD` as the instant it starts (UTC).
pub fn parse_date(s: &str) -> Result<Instant, String> {
    let bad = || format!("`{s}` is not a date YYYY-MM-DD");
    let mut it = s.splitn(3, '-');
    let mut part = |len: usize| {
        it.next()
            .filter(|p| p.len() == len && p.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|p| p.parse::<i32>().ok())
            .ok_or_else(bad)
    };
    let (y, m, d) = (part(4)?, part(2)?, part(2)?);
    let month = time::Month::try_from(m as u8).map_err(|_| bad())?;
    let date = time::Date::from_calendar_date(y, month, d as u8).map_err(|_| bad())?;
    Ok(Instant(date.midnight().assume_utc().unix_timestamp() as f64))
}

/// Parses a registry: YAML (`annotators:` list) or, when `csv` is true, a CSV with the columns
/// `id, role, years_experience, qualification, version, trained_on, assessed_on,
/// assessment_passed`. Any problem makes the whole registry unusable, with a reason that
/// names the line.
pub fn parse_registry(bytes: &[u8], display: &str, csv: bool) -> Result<Registry, String> {
    let list: Vec<Annotator> = if csv {
        from_csv(bytes, display)?
    } else {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct File {
            annotators: Vec<Annotator>,
        }
        let text = std::str::from_utf8(bytes).map_err(|e| format!("{display}: not UTF-8: {e}"))?;
        serde_saphyr::from_str::<File>(text)
            .map_err(|e| format!("{display}: {e}"))?
            .annotators
    };
    let mut reg = Registry::default();
    for a in list {
        for d in a
            .training
            .iter()
            .map(|t| &t.date)
            .chain(a.assessments.iter().map(|x| &x.date))
        {
            parse_date(d).map_err(|e| format!("{display}: annotator `{}`: {e}", a.id))?;
        }
        if a.years_experience.is_some_and(|y| y.is_nan() || y < 0.0) {
            return Err(format!(
                "{display}: annotator `{}`: years_experience must be a number >= 0",
                a.id
            ));
        }
        if reg.annotators.contains_key(&a.id) {
            return Err(format!(
                "{display}: annotator `{}` is registered twice",
                a.id
            ));
        }
        reg.annotators.insert(a.id.clone(), a);
    }
    Ok(reg)
}

fn from_csv(bytes: &[u8], display: &str) -> Result<Vec<Annotator>, String> {
    let mut reader = csv::Reader::from_reader(bytes);
    let header: Vec<String> = reader
        .headers()
        .map_err(|e| format!("{display}: {e}"))?
        .iter()
        .map(|h| h.trim().to_string())
        .collect();
    const KNOWN: &[&str] = &[
        "id",
        "role",
        "years_experience",
        "qualification",
        "version",
        "trained_on",
        "assessed_on",
        "assessment_passed",
    ];
    if let Some(h) = header.iter().find(|h| !KNOWN.contains(&h.as_str())) {
        return Err(format!(
            "{display}: unknown column `{h}`; expected: {}",
            KNOWN.join(", ")
        ));
    }
    let mut out = Vec::new();
    for (i, rec) in reader.records().enumerate() {
        let line = i + 2;
        let rec = rec.map_err(|e| format!("{display}:{line}: {e}"))?;
        let get = |k: &str| {
            header
                .iter()
                .position(|h| h == k)
                .and_then(|p| rec.get(p))
                .map(str::trim)
                .filter(|v| !v.is_empty())
        };
        let need = |k: &str| get(k).ok_or_else(|| format!("{display}:{line}: `{k}` is empty"));
        let years = get("years_experience")
            .map(|y| {
                y.parse::<f64>().map_err(|_| {
                    format!("{display}:{line}: years_experience `{y}` is not a number")
                })
            })
            .transpose()?;
        let passed = match get("assessment_passed") {
            None => None,
            Some("true" | "yes" | "1") => Some(true),
            Some("false" | "no" | "0") => Some(false),
            Some(x) => {
                return Err(format!(
                    "{display}:{line}: assessment_passed `{x}` is not true or false"
                ))
            }
        };
        out.push(Annotator {
            id: need("id")?.to_string(),
            role: need("role")?.to_string(),
            years_experience: years,
            qualification: get("qualification").map(str::to_string),
            version: get("version").map(str::to_string),
            training: get("trained_on")
                .map(|d| Training {
                    course: "(not named)".into(),
                    date: d.to_string(),
                })
                .into_iter()
                .collect(),
            assessments: match (get("assessed_on"), passed) {
                (Some(d), Some(p)) => vec![Assessment {
                    date: d.to_string(),
                    passed: p,
                    score: None,
                }],
                (None, None) => vec![],
                _ => {
                    return Err(format!(
                        "{display}:{line}: assessed_on and assessment_passed go together"
                    ))
                }
            },
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yaml_and_csv_registries() {
        let yaml = "annotators:\n  - id: R01\n    role: radiologist\n    years_experience: 12\n    training: [{ course: protocol v2, date: 2024-01-10 }]\n    assessments: [{ date: 2024-01-20, passed: true, score: 0.92 }]\n  - id: M1\n    role: model\n    version: 1.3.0\n";
        let r = parse_registry(yaml.as_bytes(), "a.yaml", false).unwrap();
        let a = r.get("R01").unwrap();
        assert_eq!(a.years_experience, Some(12.0));
        // 2024-01-20T00:00:00Z = 1705708800 (date -u -d 2024-01-20 +%s).
        assert!(a.assessed_by(Instant(1_705_708_800.0)));
        assert!(!a.assessed_by(Instant(1_705_708_799.0)));
        assert!(r.get("M1").unwrap().is_model());
        let err =
            parse_registry(b"annotators:\n  - id: R01\n    rol: x\n", "a.yaml", false).unwrap_err();
        assert!(err.contains("a.yaml") && err.contains("rol"), "{err}");
        let csv = "id,role,years_experience,trained_on,assessed_on,assessment_passed\nR01,radiologist,7,2024-01-10,2024-01-20,yes\nR02,resident,2,,,\n";
        let r = parse_registry(csv.as_bytes(), "a.csv", true).unwrap();
        assert_eq!(r.annotators.len(), 2);
        assert!(r.get("R01").unwrap().trained_by(Instant(1_705_708_800.0)));
        let err =
            parse_registry(b"id,role\nR01,radiologist\nR01,resident\n", "a.csv", true).unwrap_err();
        assert!(err.contains("registered twice"), "{err}");
        assert!(parse_date("2024-02-30").is_err());
    }
}
