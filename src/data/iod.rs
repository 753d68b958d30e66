//! The DICOM standard's rules for an instance, shipped as data (see standard/README.md):
//! IODs and their modules (PS3.3 Annex A), module attributes with their types (Annex C), the
//! Enumerated Values and decidable Type 1C/2C conditions read from the attribute descriptions,
//! and every data element's value multiplicity (PS3.6 Table 6-1).
//!
//! Nothing here is written attribute by attribute: it is all read from `standard/*.json`.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::OnceLock;

use dicom_core::{DicomValue, Tag, VR};
use dicom_object::mem::InMemDicomObject;
use serde::Deserialize;

use super::dictionary::tag_of;

/// The PS3.3 IOD tables.
#[derive(Debug, Deserialize)]
struct Tables {
    sop_classes: BTreeMap<String, SopClass>,
    /// IOD → [module, usage, information entity].
    iods: BTreeMap<String, Vec<(String, String, String)>>,
    /// Module → [sequence path, keyword, type].
    modules: BTreeMap<String, Vec<(String, String, String)>>,
}

#[derive(Debug, Deserialize)]
struct SopClass {
    iod: String,
}

/// The PS3.3 rules read from attribute descriptions, by module and `path|keyword`.
#[derive(Debug, Deserialize)]
struct Rules {
    modules: BTreeMap<String, BTreeMap<String, RuleEntry>>,
}

#[derive(Debug, Deserialize)]
struct RuleEntry {
    #[serde(default)]
    enumerated: Option<Vec<String>>,
    #[serde(default)]
    required_if: Option<Vec<RawClause>>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "snake_case")]
enum RawClause {
    AnyPresent(Vec<String>),
    Absent(String),
    Valued(String),
    Equals(String, Vec<String>),
    Greater(String, i64),
}

fn tables() -> &'static Tables {
    static T: OnceLock<Tables> = OnceLock::new();
    T.get_or_init(|| {
        serde_json::from_str(include_str!("../../standard/ps3.3-iods.json"))
            .expect("the shipped PS3.3 tables are valid JSON (tested)")
    })
}

fn rules() -> &'static Rules {
    static R: OnceLock<Rules> = OnceLock::new();
    R.get_or_init(|| {
        serde_json::from_str(include_str!("../../standard/ps3.3-rules.json"))
            .expect("the shipped PS3.3 rules are valid JSON (tested)")
    })
}

/// The IOD (PS3.3 key, e.g. `ct-image`) of a SOP class UID, when it is among those shipped.
pub fn iod_of(sop_class_uid: &str) -> Option<&'static str> {
    tables()
        .sop_classes
        .get(sop_class_uid)
        .map(|c| c.iod.as_str())
}

/// One clause of a decidable condition, evaluated on the data set holding the attribute.
#[derive(Debug, Clone, PartialEq)]
pub enum Clause {
    /// At least one of these is present with a value.
    AnyPresent(Vec<(String, Tag)>),
    /// Not present at all.
    Absent(String, Tag),
    /// Present with a value.
    Valued(String, Tag),
    /// Its first value is one of these.
    Equals(String, Tag, Vec<String>),
    /// Its first value is a number greater than this.
    Greater(String, Tag, i64),
}

/// A condition: every clause holds.
#[derive(Debug, Clone, PartialEq)]
pub struct Condition(pub Vec<Clause>);

/// The text value of `tag` in `set`, trimmed of padding; None when absent or empty.
fn first_value(set: &InMemDicomObject, tag: Tag) -> Option<String> {
    let e = set.get(tag)?;
    match e.value() {
        DicomValue::Sequence(s) => (!s.items().is_empty()).then(String::new),
        DicomValue::PixelSequence(_) => Some(String::new()),
        v => {
            let s = v.to_str().ok()?;
            if s.trim_matches([' ', '\0', '\\']).is_empty() {
                return None;
            }
            let first = s.split('\\').next().unwrap_or("");
            Some(first.trim_matches([' ', '\0']).to_string())
        }
    }
}

impl Condition {
    /// True when the condition holds on `set`. "Present" means present with a value and
    /// "absent" means not there at all, so that an empty attribute never makes another one
    /// required: a condition that may be in doubt is not taken as met.
    pub fn holds(&self, set: &InMemDicomObject) -> bool {
        self.0.iter().all(|c| match c {
            Clause::AnyPresent(tags) => tags.iter().any(|(_, t)| first_value(set, *t).is_some()),
            Clause::Absent(_, t) => set.get(*t).is_none(),
            Clause::Valued(_, t) => first_value(set, *t).is_some(),
            Clause::Equals(_, t, values) => {
                first_value(set, *t).is_some_and(|v| values.contains(&v))
            }
            Clause::Greater(_, t, n) => first_value(set, *t)
                .and_then(|v| v.parse::<f64>().ok())
                .is_some_and(|v| v > *n as f64),
        })
    }
}

impl fmt::Display for Condition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, c) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(" and ")?;
            }
            match c {
                Clause::AnyPresent(tags) => {
                    let names: Vec<&str> = tags.iter().map(|(k, _)| k.as_str()).collect();
                    write!(f, "{} is present", names.join(" or "))?
                }
                Clause::Absent(k, _) => write!(f, "{k} is absent")?,
                Clause::Valued(k, _) => write!(f, "{k} has a value")?,
                Clause::Equals(k, _, v) => write!(f, "{k} is {}", v.join(" or "))?,
                Clause::Greater(k, _, n) => write!(f, "{k} is greater than {n}")?,
            }
        }
        Ok(())
    }
}

/// What one module requires of one attribute.
#[derive(Debug, Clone)]
pub struct Rule {
    pub module: String,
    /// `1`, `1C`, `2`, `2C` or `3` (PS3.3 §7.4).
    pub kind: String,
    /// For 1C and 2C: the condition, when the standard's prose could be read as one.
    pub required_if: Option<Condition>,
    /// The Enumerated Values the module fixes, when it does.
    pub enumerated: Option<Vec<String>>,
}

/// One attribute of an IOD at one sequence path, with what each module asks of it.
#[derive(Debug, Clone)]
pub struct Requirement {
    pub keyword: String,
    pub tag: Tag,
    /// The strictest type over the modules (1 > 1C > 2 > 2C > 3), and the module giving it.
    pub kind: String,
    pub module: String,
    pub rules: Vec<Rule>,
}

fn rank(kind: &str) -> u8 {
    match kind {
        "1" => 5,
        "1C" => 4,
        "2" => 3,
        "2C" => 2,
        _ => 1,
    }
}

fn condition(raw: &[RawClause]) -> Option<Condition> {
    let tag = |k: &String| tag_of(k).map(|t| (k.clone(), t));
    raw.iter()
        .map(|c| {
            Some(match c {
                RawClause::AnyPresent(ks) => {
                    Clause::AnyPresent(ks.iter().map(tag).collect::<Option<_>>()?)
                }
                RawClause::Absent(k) => Clause::Absent(k.clone(), tag(k)?.1),
                RawClause::Valued(k) => Clause::Valued(k.clone(), tag(k)?.1),
                RawClause::Equals(k, v) => Clause::Equals(k.clone(), tag(k)?.1, v.clone()),
                RawClause::Greater(k, n) => Clause::Greater(k.clone(), tag(k)?.1, *n),
            })
        })
        .collect::<Option<Vec<_>>>()
        .map(Condition)
}

/// The requirements of an IOD's mandatory modules, by sequence path (`""` at top level,
/// sequence keywords joined by `/` inside items). Empty for an unknown IOD.
pub fn requirements(iod: &str) -> &'static BTreeMap<String, Vec<Requirement>> {
    static CACHE: OnceLock<BTreeMap<String, BTreeMap<String, Vec<Requirement>>>> = OnceLock::new();
    let all = CACHE.get_or_init(|| {
        let t = tables();
        let r = rules();
        t.iods
            .iter()
            .map(|(iod, modules)| {
                let mut by_path: BTreeMap<String, Vec<Requirement>> = BTreeMap::new();
                for (module, _, _) in modules.iter().filter(|(_, u, _)| u == "M") {
                    for (path, keyword, kind) in t.modules.get(module).into_iter().flatten() {
                        // Keywords the dictionary lacks (retired or newer than it) are skipped.
                        let Some(tag) = tag_of(keyword) else { continue };
                        let key = if path.is_empty() {
                            keyword.clone()
                        } else {
                            format!("{path}|{keyword}")
                        };
                        let entry = r.modules.get(module).and_then(|m| m.get(&key));
                        let rule = Rule {
                            module: module.clone(),
                            kind: kind.clone(),
                            required_if: entry
                                .and_then(|e| e.required_if.as_deref())
                                .filter(|_| matches!(kind.as_str(), "1C" | "2C"))
                                .and_then(condition),
                            enumerated: entry.and_then(|e| e.enumerated.clone()),
                        };
                        let list = by_path.entry(path.clone()).or_default();
                        match list.iter_mut().find(|r| r.keyword == *keyword) {
                            Some(req) => {
                                if rank(kind) > rank(&req.kind) {
                                    req.kind = kind.clone();
                                    req.module = module.clone();
                                }
                                req.rules.push(rule);
                            }
                            None => list.push(Requirement {
                                keyword: keyword.clone(),
                                tag,
                                kind: kind.clone(),
                                module: module.clone(),
                                rules: vec![rule],
                            }),
                        }
                    }
                }
                (iod.clone(), by_path)
            })
            .collect()
    });
    static EMPTY: OnceLock<BTreeMap<String, Vec<Requirement>>> = OnceLock::new();
    all.get(iod)
        .unwrap_or_else(|| EMPTY.get_or_init(BTreeMap::new))
}

/// A value multiplicity from PS3.6: `min`, `max` (None for `n`), and `step` (2 for `2-2n`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Multiplicity {
    pub min: u32,
    pub max: Option<u32>,
    pub step: u32,
}

impl Multiplicity {
    /// Parses PS3.6 notation: `1`, `2`, `1-3`, `1-n`, `2-n`, `2-2n`, `3-3n`.
    pub fn parse(s: &str) -> Option<Self> {
        let (lo, hi) = match s.split_once('-') {
            None => {
                let n = s.parse().ok()?;
                return Some(Self {
                    min: n,
                    max: Some(n),
                    step: 1,
                });
            }
            Some(p) => p,
        };
        let min: u32 = lo.parse().ok()?;
        if hi == "n" {
            return Some(Self {
                min,
                max: None,
                step: 1,
            });
        }
        if let Some(k) = hi.strip_suffix('n') {
            let step: u32 = k.parse().ok()?;
            return (step == min && step > 0).then_some(Self {
                min,
                max: None,
                step,
            });
        }
        Some(Self {
            min,
            max: Some(hi.parse().ok()?),
            step: 1,
        })
    }

    /// True when `count` values (at least one) satisfy this multiplicity.
    pub fn allows(&self, count: u32) -> bool {
        count >= self.min && self.max.is_none_or(|m| count <= m) && count.is_multiple_of(self.step)
    }
}

impl fmt::Display for Multiplicity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.max, self.step) {
            (Some(m), _) if m == self.min => write!(f, "{m}"),
            (Some(m), _) => write!(f, "{}-{m}", self.min),
            (None, 1) => write!(f, "{}-n", self.min),
            (None, s) => write!(f, "{}-{s}n", self.min),
        }
    }
}

/// The value multiplicity PS3.6 gives a data element, by keyword.
pub fn multiplicity(keyword: &str) -> Option<Multiplicity> {
    #[derive(Deserialize)]
    struct Vm {
        vm: BTreeMap<String, String>,
    }
    static VM: OnceLock<BTreeMap<String, Multiplicity>> = OnceLock::new();
    VM.get_or_init(|| {
        let raw: Vm = serde_json::from_str(include_str!("../../standard/ps3.6-vm.json"))
            .expect("the shipped PS3.6 table is valid JSON (tested)");
        raw.vm
            .into_iter()
            .filter_map(|(k, v)| Some((k, Multiplicity::parse(&v)?)))
            .collect()
    })
    .get(keyword)
    .copied()
}

/// True for value representations whose multiplicity the data element's VM governs: not the
/// single-valued long texts, not the bulk binary ones, not sequences, not unknown.
pub fn has_multiplicity(vr: VR) -> bool {
    !matches!(
        vr,
        VR::LT
            | VR::ST
            | VR::UT
            | VR::UR
            | VR::OB
            | VR::OD
            | VR::OF
            | VR::OL
            | VR::OV
            | VR::OW
            | VR::SQ
            | VR::UN
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use dicom_core::value::PrimitiveValue;
    use dicom_core::DataElement;
    use dicom_dictionary_std::tags;

    #[test]
    fn mandatory_requirements_of_the_ct_iod() {
        // PS3.3 Table C.8-3 and Table C.7-10: KVP is Type 2 (CT Image), PixelSpacing Type 1
        // (Image Plane); both modules are M in the CT Image IOD (Table A.3-1).
        let r = &requirements("ct-image")[""];
        let find = |k: &str| r.iter().find(|x| x.keyword == k);
        let kind = |k: &str| find(k).map(|x| x.kind.as_str());
        assert_eq!(kind("KVP"), Some("2"));
        assert_eq!(kind("PixelSpacing"), Some("1"));
        assert_eq!(kind("SOPInstanceUID"), Some("1"));
        // Type 3 attributes impose nothing, so they are kept but never reported.
        assert_eq!(kind("ConvolutionKernel"), Some("3"));
        // PS3.3 C.7.1.1 (Patient Module): Patient's Sex, Enumerated Values M, F, O.
        let sex = find("PatientSex").unwrap();
        assert_eq!(
            sex.rules[0].enumerated.as_deref(),
            Some(&["M".to_string(), "F".to_string(), "O".to_string()][..])
        );
        // PS3.3 C.7.6.3 (Image Pixel Module): Planar Configuration, Type 1C, "Required if
        // Samples per Pixel (0028,0002) has a value greater than 1."
        let planar = find("PlanarConfiguration").unwrap();
        assert_eq!(planar.kind, "1C");
        let cond = planar.rules[0].required_if.as_ref().unwrap();
        assert_eq!(cond.to_string(), "SamplesPerPixel is greater than 1");
    }

    #[test]
    fn conditions_decide_on_the_data_set() {
        let cond = Condition(vec![
            Clause::Equals(
                "PatientIdentityRemoved".into(),
                tags::PATIENT_IDENTITY_REMOVED,
                vec!["YES".into()],
            ),
            Clause::Absent(
                "DeidentificationMethod".into(),
                tags::DEIDENTIFICATION_METHOD,
            ),
        ]);
        let mut set = InMemDicomObject::new_empty();
        assert!(!cond.holds(&set));
        set.put(DataElement::new(
            tags::PATIENT_IDENTITY_REMOVED,
            VR::CS,
            PrimitiveValue::from("YES "),
        ));
        assert!(cond.holds(&set));
        // Present but empty is not "absent": the condition is not taken as met.
        set.put(DataElement::new(
            tags::DEIDENTIFICATION_METHOD,
            VR::LO,
            PrimitiveValue::Empty,
        ));
        assert!(!cond.holds(&set));
        let greater = Condition(vec![Clause::Greater(
            "SamplesPerPixel".into(),
            tags::SAMPLES_PER_PIXEL,
            1,
        )]);
        let mut rgb = InMemDicomObject::new_empty();
        rgb.put(DataElement::new(
            tags::SAMPLES_PER_PIXEL,
            VR::US,
            PrimitiveValue::from(3_u16),
        ));
        assert!(greater.holds(&rgb));
        rgb.put(DataElement::new(
            tags::SAMPLES_PER_PIXEL,
            VR::US,
            PrimitiveValue::from(1_u16),
        ));
        assert!(!greater.holds(&rgb));
    }

    #[test]
    fn multiplicities_follow_ps3_6_notation() {
        // PS3.6 §6: "2-2n" means a multiple of 2, "1-n" one or more.
        let m = |s| Multiplicity::parse(s).unwrap();
        assert!(m("2").allows(2) && !m("2").allows(1) && !m("2").allows(3));
        assert!(m("1-n").allows(1) && m("1-n").allows(40));
        assert!(m("2-2n").allows(4) && !m("2-2n").allows(3));
        assert!(m("1-3").allows(3) && !m("1-3").allows(4));
        assert!(Multiplicity::parse("1-n or 1").is_none());
        assert_eq!(m("3-3n").to_string(), "3-3n");
        // PS3.6 Table 6-1: Pixel Spacing (0028,0030) VM 2; Image Type (0008,0008) VM 2-n;
        // Image Orientation (Patient) (0020,0037) VM 6.
        assert_eq!(multiplicity("PixelSpacing"), Some(m("2")));
        assert_eq!(multiplicity("ImageType"), Some(m("2-n")));
        assert_eq!(multiplicity("ImageOrientationPatient"), Some(m("6")));
    }
}
