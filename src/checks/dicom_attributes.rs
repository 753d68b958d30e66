//! `dicom.attributes`: per-instance constraints on header attributes named by DICOM keyword.
//!
//! Documentation for users is in `dicom_attributes.md` (`attest explain dicom.attributes`).

use dicom_core::Tag;

use super::evidence::{Evidence, Finding, Measurement, Status};
use super::{Check, Context, Names, Uses};
use crate::data::dictionary::check_keyword;
use crate::spec::diag::Diagnostic;
use crate::spec::schema::{Field, Ty};
use crate::spec::yaml::{Key, Node, Value};

pub const DOC: &str = include_str!("dicom_attributes.md");

const NUM: Ty = Ty::Num {
    min: f64::NEG_INFINITY,
    max: f64::INFINITY,
};

const CONSTRAINT_FIELDS: &[Field] = &[
    Field::opt(
        "present",
        Ty::Bool,
        "true: present with a value; false: absent or empty",
    ),
    Field::opt(
        "equals",
        Ty::Scalar,
        "the value (numbers compare numerically)",
    ),
    Field::opt("in", Ty::List(&Ty::Scalar), "allowed values"),
    Field::opt(
        "min",
        NUM,
        "smallest allowed number (each value of a multi-valued attribute)",
    ),
    Field::opt(
        "max",
        NUM,
        "largest allowed number (each value of a multi-valued attribute)",
    ),
    Field::opt(
        "regex",
        Ty::Str,
        "a regular expression the whole value must match",
    ),
];

pub const PARAMS: &[Field] = &[
    Field::req("data", Ty::Str, "name of a DICOM data source in `data:`"),
    Field::req(
        "expect",
        Ty::KeywordMap(&Ty::Obj(CONSTRAINT_FIELDS)),
        "DICOM keyword → constraints every instance must meet",
    ),
];

#[derive(Debug, Clone)]
enum Want {
    Text(String),
    Number(f64),
}

#[derive(Debug)]
struct Rule {
    keyword: String,
    tag: Tag,
    present: Option<bool>,
    equals: Option<Want>,
    one_of: Option<Vec<Want>>,
    min: Option<f64>,
    max: Option<f64>,
    regex: Option<(String, regex::Regex)>,
}

#[derive(Debug)]
pub struct DicomAttributes {
    data: String,
    rules: Vec<Rule>,
}

fn want(n: &Node) -> Option<Want> {
    match &n.value {
        Value::Str(s) => Some(Want::Text(s.clone())),
        Value::Int(i) => Some(Want::Number(*i as f64)),
        Value::Float(f) => Some(Want::Number(*f)),
        _ => None,
    }
}

pub fn build(node: &Node, names: &Names, out: &mut Vec<Diagnostic>) -> Option<Box<dyn Check>> {
    let before = out.len();
    let data = super::dicom_common::dicom_source(node, names, out)?;
    let expect = node.get("expect")?;
    if expect.as_map().is_some_and(<[_]>::is_empty) {
        out.push(
            Diagnostic::new(
                "empty-expect",
                "`expect` names no attribute, so nothing would be checked",
                &expect.pos,
            )
            .label("name at least one keyword, e.g. `Modality: { in: [CT] }`"),
        );
    }
    let rules = expect
        .as_map()?
        .iter()
        .filter_map(|(k, c)| parse_rule(k, c, out))
        .collect();
    if out.len() > before {
        return None;
    }
    Some(Box::new(DicomAttributes { data, rules }))
}

/// One keyword's constraints; None (with a diagnostic where schema validation gave none)
/// when they cannot be used.
fn parse_rule(k: &Key, c: &Node, out: &mut Vec<Diagnostic>) -> Option<Rule> {
    // An unknown keyword was already reported by schema validation.
    let tag = check_keyword(&k.name, &k.pos).ok()?;
    if let Err(d) = crate::data::dictionary::indexable(&k.name, tag, &k.pos) {
        out.push(*d);
        return None;
    }
    if c.as_map().is_some_and(<[_]>::is_empty) {
        out.push(
            Diagnostic::new(
                "empty-constraint",
                format!("no constraint for `{}`", k.name),
                &c.pos,
            )
            .label("expected at least one of: present, equals, in, min, max, regex"),
        );
    }
    let regex = match c.get("regex") {
        Some(r) => {
            let text = r.as_str()?.to_string();
            match regex::Regex::new(&format!("^(?:{text})$")) {
                Ok(re) => Some((text, re)),
                Err(e) => {
                    out.push(
                        Diagnostic::new("invalid-regex", "invalid regular expression", &r.pos)
                            .label(e.to_string().lines().last().unwrap_or("").to_string()),
                    );
                    return None;
                }
            }
        }
        None => None,
    };
    Some(Rule {
        keyword: k.name.clone(),
        tag,
        present: c.get("present").and_then(|p| match p.value {
            Value::Bool(b) => Some(b),
            _ => None,
        }),
        equals: c.get("equals").and_then(want),
        one_of: c
            .get("in")
            .and_then(Node::as_seq)
            .map(|items| items.iter().filter_map(want).collect()),
        min: c.get("min").and_then(Node::as_f64),
        max: c.get("max").and_then(Node::as_f64),
        regex,
    })
}

impl Rule {
    /// The violations of this rule by one value (None = attribute absent).
    fn violations(&self, value: Option<&str>) -> Vec<(&'static str, String)> {
        let shown = |v: &str| {
            if crate::data::dictionary::quotable(&self.keyword, self.tag) {
                format!("`{v}`")
            } else {
                "a value (withheld: it may identify a person)".to_string()
            }
        };
        let value = value.filter(|v| !v.is_empty());
        let mut out = Vec::new();
        match (self.present, value) {
            (Some(false), Some(v)) => {
                out.push((
                    "unexpected-attribute",
                    format!(
                        "{} is present with {}; expected absent or empty",
                        self.keyword,
                        shown(v)
                    ),
                ));
                return out;
            }
            (Some(false), None) => return out,
            (_, None) => {
                out.push((
                    "missing-attribute",
                    format!("{} is absent or empty", self.keyword),
                ));
                return out;
            }
            (_, Some(_)) => {}
        }
        let v = value.unwrap_or_default();
        let matches = |w: &Want| match w {
            Want::Text(t) => v == t.trim(),
            Want::Number(x) => v.trim().parse::<f64>().is_ok_and(|y| y == *x),
        };
        let show_want = |w: &Want| match w {
            Want::Text(t) => format!("`{t}`"),
            Want::Number(x) => format!("{x}"),
        };
        if let Some(w) = &self.equals {
            if !matches(w) {
                out.push((
                    "value-not-allowed",
                    format!(
                        "{} is {}; expected {}",
                        self.keyword,
                        shown(v),
                        show_want(w)
                    ),
                ));
            }
        }
        if let Some(ws) = &self.one_of {
            if !ws.iter().any(matches) {
                let list: Vec<String> = ws.iter().map(show_want).collect();
                out.push((
                    "value-not-allowed",
                    format!(
                        "{} is {}; expected one of {}",
                        self.keyword,
                        shown(v),
                        list.join(", ")
                    ),
                ));
            }
        }
        if self.min.is_some() || self.max.is_some() {
            for part in v.split('\\') {
                match part.trim().parse::<f64>() {
                    Ok(x) if x.is_finite() => {
                        if let Some(min) = self.min.filter(|m| x < *m) {
                            out.push((
                                "value-out-of-range",
                                format!(
                                    "{} is {}, below the minimum {min}",
                                    self.keyword,
                                    shown(part.trim())
                                ),
                            ));
                        }
                        if let Some(max) = self.max.filter(|m| x > *m) {
                            out.push((
                                "value-out-of-range",
                                format!(
                                    "{} is {}, above the maximum {max}",
                                    self.keyword,
                                    shown(part.trim())
                                ),
                            ));
                        }
                    }
                    _ => out.push((
                        "value-not-numeric",
                        format!("{} is {}, not a number", self.keyword, shown(part.trim())),
                    )),
                }
            }
        }
        if let Some((text, re)) = &self.regex {
            if !re.is_match(v) {
                out.push((
                    "value-pattern-mismatch",
                    format!(
                        "{} is {}; expected to match `{text}`",
                        self.keyword,
                        shown(v)
                    ),
                ));
            }
        }
        out
    }
}

impl Check for DicomAttributes {
    fn uses(&self) -> Uses {
        Uses {
            data: vec![self.data.clone()],
            dicom_attributes: self
                .rules
                .iter()
                .map(|r| (self.data.clone(), r.tag))
                .collect(),
            ..Uses::default()
        }
    }

    fn evaluate(&self, cx: &Context) -> Evidence {
        let method = format!(
            "every instance's header checked against {} attribute constraint(s)",
            self.rules.len()
        );
        let index = match super::dicom_common::index(cx, &self.data, &method) {
            Ok(i) => i,
            Err(e) => return e,
        };
        let mut findings = super::dicom_common::unreadable(index);
        let slots: Vec<usize> = self
            .rules
            .iter()
            .map(|r| {
                index
                    .extra_slot(r.tag)
                    .expect("the runner indexes every attribute a check uses")
            })
            .collect();
        let mut conforming = 0u64;
        for inst in &index.instances {
            let mut ok = true;
            for (rule, &slot) in self.rules.iter().zip(&slots) {
                for (code, message) in rule.violations(inst.extra[slot].as_deref()) {
                    ok = false;
                    findings.push(Finding::error(
                        code,
                        message,
                        format!("{} ({})", inst.path, rule.keyword),
                    ));
                }
            }
            conforming += u64::from(ok);
        }
        let n = index.instances.len() as u64;
        let violations = conforming < n;
        if n == 0 {
            findings.push(Finding::error(
                "no-instances",
                "no readable DICOM instance was found, so nothing could be checked",
                self.data.clone(),
            ));
        }
        let status = if violations {
            Status::Fail
        } else if n == 0 || !index.failures.is_empty() {
            Status::Inconclusive
        } else {
            Status::Pass
        };
        let mut m = Measurement::new("conforming_fraction", None);
        m.n = n;
        m.estimate = (n > 0).then(|| conforming as f64 / n as f64);
        m.status = status;
        Evidence {
            status,
            method,
            measurements: vec![m],
            findings,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(yaml: &str) -> Rule {
        let node = crate::spec::yaml::parse(yaml).unwrap();
        let (k, c) = &node.as_map().unwrap()[0];
        let mut out = Vec::new();
        let r = parse_rule(k, c, &mut out).expect("a rule");
        assert!(out.is_empty(), "{out:?}");
        r
    }

    fn codes(r: &Rule, v: Option<&str>) -> Vec<&'static str> {
        r.violations(v).into_iter().map(|(c, _)| c).collect()
    }

    #[test]
    fn range_applies_to_every_value_and_numbers_compare_numerically() {
        let r = rule("PixelSpacing: { min: 0.5, max: 1.0 }");
        assert!(codes(&r, Some("0.7\\0.7")).is_empty());
        assert_eq!(codes(&r, Some("0.7\\1.2")), vec!["value-out-of-range"]);
        assert_eq!(codes(&r, Some("abc")), vec!["value-not-numeric"]);
        assert_eq!(codes(&r, None), vec!["missing-attribute"]);
        let r = rule("SliceThickness: { equals: 2.5 }");
        assert!(codes(&r, Some("2.50")).is_empty());
        assert_eq!(codes(&r, Some("2.6")), vec!["value-not-allowed"]);
    }

    #[test]
    fn in_regex_and_absence() {
        let r = rule("Modality: { in: [CT, MR] }");
        assert!(codes(&r, Some("CT")).is_empty());
        assert_eq!(codes(&r, Some("US")), vec!["value-not-allowed"]);
        let r = rule("StudyDate: { regex: '\\d{8}' }");
        assert!(codes(&r, Some("20260101")).is_empty());
        assert_eq!(
            codes(&r, Some("2026-01-01")),
            vec!["value-pattern-mismatch"]
        );
        let r = rule("PatientName: { present: false }");
        assert!(codes(&r, None).is_empty());
        let v = r.violations(Some("DOE^JOHN"));
        assert_eq!(v[0].0, "unexpected-attribute");
        assert!(
            !v[0].1.contains("DOE"),
            "identifying values are never quoted"
        );
    }

    #[test]
    fn invalid_regex_is_a_diagnostic() {
        let node = crate::spec::yaml::parse("StudyDate: { regex: '(' }").unwrap();
        let (k, c) = &node.as_map().unwrap()[0];
        let mut out = Vec::new();
        assert!(parse_rule(k, c, &mut out).is_none());
        assert_eq!(out[0].code, "invalid-regex");
    }
}
