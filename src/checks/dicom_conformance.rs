//! `dicom.conformance`: each instance against its IOD (PS3.3 tables shipped as data) and the
//! value representation rules (PS3.5).
//!
//! Documentation for users is in `dicom_conformance.md`.

use std::sync::Arc;

use dicom_core::header::Header;
use dicom_core::{DicomValue, VR};
use dicom_dictionary_std::tags;
use dicom_object::mem::InMemDicomObject;
use dicom_object::DefaultDicomObject;

use super::evidence::{Evidence, Finding, Severity};
use super::{Check, Context, Names, Uses};
use crate::data::dicom_index::InstanceAudit;
use crate::data::dictionary::{check_keyword, quotable};
use crate::data::iod::{self, has_multiplicity, multiplicity};
use crate::data::pseudonym::PseudonymKey;
use crate::spec::diag::Diagnostic;
use crate::spec::schema::{Field, Ty};
use crate::spec::yaml::Node;

pub const DOC: &str = include_str!("dicom_conformance.md");

pub const PARAMS: &[Field] = &[
    Field::req("data", Ty::Str, "a DICOM data source in `data:`"),
    Field::opt(
        "vr",
        Ty::Bool,
        "check values against their value representation, default true",
    ),
    Field::opt(
        "ignore",
        Ty::List(&Ty::Str),
        "keywords whose findings are waived (stated in the report)",
    ),
];

#[derive(Debug)]
struct Audit {
    vr: bool,
    ignore: Vec<String>,
}

#[derive(Debug)]
pub struct Conformance {
    data: String,
    audit: Arc<dyn InstanceAudit>,
    ignore: Vec<String>,
}

pub fn build(node: &Node, names: &Names, out: &mut Vec<Diagnostic>) -> Option<Box<dyn Check>> {
    let before = out.len();
    let data = super::dicom_common::dicom_source(node, names, out)?;
    let mut ignore = Vec::new();
    for n in node.get("ignore").and_then(Node::as_seq).unwrap_or(&[]) {
        if let Some(k) = n.as_str() {
            if let Err(d) = check_keyword(k, &n.pos) {
                out.push(*d);
            }
            ignore.push(k.to_string());
        }
    }
    if out.len() > before {
        return None;
    }
    let vr = !matches!(
        node.get("vr").map(|n| &n.value),
        Some(crate::spec::yaml::Value::Bool(false))
    );
    Some(Box::new(Conformance {
        data,
        audit: Arc::new(Audit {
            vr,
            ignore: ignore.clone(),
        }),
        ignore,
    }))
}

/// The text values of a primitive element, padding removed; None for binary VRs.
fn values(
    vr: VR,
    v: &DicomValue<InMemDicomObject, dicom_object::mem::InMemFragment>,
) -> Option<Vec<String>> {
    let text = matches!(
        vr,
        VR::AE
            | VR::AS
            | VR::CS
            | VR::DA
            | VR::DS
            | VR::DT
            | VR::IS
            | VR::LO
            | VR::LT
            | VR::PN
            | VR::SH
            | VR::ST
            | VR::TM
            | VR::UC
            | VR::UI
            | VR::UR
            | VR::UT
    );
    if !text {
        return None;
    }
    let s = v.to_str().ok()?;
    let single = matches!(vr, VR::LT | VR::ST | VR::UR | VR::UT);
    let parts: Vec<String> = if single {
        vec![s.to_string()]
    } else {
        s.split('\\').map(str::to_string).collect()
    };
    Some(
        parts
            .into_iter()
            .map(|p| {
                // Leading spaces are significant only in LT, ST, UT (UR has none); NUL pads UIDs.
                let p = p.trim_end_matches([' ', '\0']);
                if single {
                    p.to_string()
                } else {
                    p.trim_start().to_string()
                }
            })
            .collect(),
    )
}

impl Audit {
    /// Checks one data set (top level or a sequence item) at `path`, recursing into items.
    fn check_set(
        &self,
        set: &InMemDicomObject,
        iod: &str,
        path: &str,
        file: &str,
        out: &mut Vec<Finding>,
    ) {
        let req = iod::requirements(iod);
        let at = |kw: &str| {
            if path.is_empty() {
                format!("{file} ({kw})")
            } else {
                format!("{file} ({path}/{kw})")
            }
        };
        for r in req.get(path).into_iter().flatten() {
            if self.ignore.contains(&r.keyword) {
                continue;
            }
            let e = set.get(r.tag);
            let empty = e.is_some_and(|e| match e.value() {
                DicomValue::Sequence(s) => s.items().is_empty(),
                v => v
                    .to_str()
                    .map(|s| s.trim_matches([' ', '\0', '\\']).is_empty())
                    .unwrap_or(false),
            });
            // Built only when a finding is made: this runs for every attribute of every file.
            let where_ = || format!("Type {} in the {} module (PS3.3)", r.kind, r.module);
            match (r.kind.as_str(), e.is_some(), empty) {
                ("1", false, _) => out.push(Finding::error(
                    "missing-type1",
                    format!("{} is absent; {}", r.keyword, where_()),
                    at(&r.keyword),
                )),
                ("1", true, true) => out.push(Finding::error(
                    "empty-type1",
                    format!("{} is empty; {}", r.keyword, where_()),
                    at(&r.keyword),
                )),
                ("1C", true, true) => out.push(Finding::error(
                    "empty-type1",
                    format!(
                        "{} is present but empty; {} requires a value when present",
                        r.keyword,
                        where_()
                    ),
                    at(&r.keyword),
                )),
                ("2", false, _) => out.push(Finding::error(
                    "missing-type2",
                    format!(
                        "{} is absent; {} (it may be empty, not absent)",
                        r.keyword,
                        where_()
                    ),
                    at(&r.keyword),
                )),
                _ => {}
            }
            match e {
                None if matches!(r.kind.as_str(), "1C" | "2C") => {
                    self.conditional(r, set, &at, out);
                }
                Some(e) if !empty => self.enumerated(r, e, &at, out),
                _ => {}
            }
        }
        for e in set.iter() {
            let tag = e.tag();
            let keyword = crate::data::dictionary::keyword(tag);
            if let DicomValue::Sequence(s) = e.value() {
                let Some(kw) = keyword else { continue };
                let sub = if path.is_empty() {
                    kw.to_string()
                } else {
                    format!("{path}/{kw}")
                };
                for item in s.items() {
                    self.check_set(item, iod, &sub, file, out);
                }
                continue;
            }
            if !self.vr
                || tag.group() % 2 == 1
                || keyword.is_some_and(|k| self.ignore.iter().any(|i| i == k))
            {
                continue;
            }
            if let Some(k) = keyword {
                self.multiplicity(k, e, &at, out);
            }
            let Some(vals) = values(e.vr(), e.value()) else {
                continue;
            };
            for v in vals.iter().filter(|v| !v.is_empty()) {
                if let Some(why) = crate::data::vr::invalid(e.vr(), v) {
                    let name = keyword.map_or_else(|| tag.to_string(), str::to_string);
                    let shown = if quotable(&name, tag) {
                        format!("`{v}`")
                    } else {
                        "its value (withheld: it may identify a person)".to_string()
                    };
                    out.push(Finding::error(
                        "invalid-value",
                        format!(
                            "{name} ({}) {shown}: {why} (PS3.5 Table 6.2-1)",
                            e.vr().to_string()
                        ),
                        at(&name),
                    ));
                }
            }
        }
    }
}

type Element = dicom_core::DataElement<InMemDicomObject>;

impl Audit {
    /// A Type 1C or 2C attribute is absent: a finding when a module's condition for it is
    /// decidable from the header and holds.
    fn conditional(
        &self,
        r: &iod::Requirement,
        set: &InMemDicomObject,
        at: &dyn Fn(&str) -> String,
        out: &mut Vec<Finding>,
    ) {
        let Some((rule, cond)) = r.rules.iter().find_map(|rule| {
            let c = rule.required_if.as_ref()?;
            (matches!(rule.kind.as_str(), "1C" | "2C") && c.holds(set)).then_some((rule, c))
        }) else {
            return;
        };
        let code = if rule.kind == "1C" {
            "missing-type1c"
        } else {
            "missing-type2c"
        };
        out.push(Finding::error(
            code,
            format!(
                "{} is absent; Type {} in the {} module (PS3.3), required because {cond}",
                r.keyword, rule.kind, rule.module
            ),
            at(&r.keyword),
        ));
    }

    /// Every value of a present attribute is among the Enumerated Values each mandatory module
    /// fixes for it (numbers compared as numbers).
    fn enumerated(
        &self,
        r: &iod::Requirement,
        e: &Element,
        at: &dyn Fn(&str) -> String,
        out: &mut Vec<Finding>,
    ) {
        let Ok(values) = e.value().to_multi_str() else {
            return;
        };
        let numeric = matches!(
            e.vr(),
            VR::DS | VR::IS | VR::US | VR::SS | VR::UL | VR::SL | VR::FL | VR::FD
        );
        let same = |a: &str, b: &str| {
            if numeric {
                matches!((a.parse::<f64>(), b.parse::<f64>()), (Ok(x), Ok(y)) if x == y)
            } else {
                a == b
            }
        };
        let mut seen: Vec<&[String]> = Vec::new();
        for rule in &r.rules {
            let Some(allowed) = rule.enumerated.as_deref() else {
                continue;
            };
            if seen.contains(&allowed) {
                continue;
            }
            seen.push(allowed);
            for v in values.iter() {
                let v = v.trim_matches([' ', '\0']);
                if v.is_empty() || allowed.iter().any(|a| same(v, a)) {
                    continue;
                }
                let shown = if quotable(&r.keyword, r.tag) {
                    format!("value `{v}`")
                } else {
                    "a value (withheld: it may identify a person)".to_string()
                };
                out.push(Finding::error(
                    "invalid-enumerated",
                    format!(
                        "{} has {shown}, not among the Enumerated Values of the {} module (PS3.3): {}",
                        r.keyword,
                        rule.module,
                        allowed.join(", ")
                    ),
                    at(&r.keyword),
                ));
            }
        }
    }

    /// The number of values against the data element's value multiplicity (PS3.6).
    fn multiplicity(
        &self,
        keyword: &str,
        e: &Element,
        at: &dyn Fn(&str) -> String,
        out: &mut Vec<Finding>,
    ) {
        if !has_multiplicity(e.vr()) {
            return;
        }
        let Some(vm) = multiplicity(keyword) else {
            return;
        };
        let count = e.value().multiplicity();
        let blank = e
            .value()
            .to_str()
            .is_ok_and(|s| s.trim_matches([' ', '\0', '\\']).is_empty());
        if count == 0 || blank || vm.allows(count) {
            return;
        }
        out.push(Finding::error(
            "invalid-multiplicity",
            format!(
                "{keyword} has {count} value{}; its value multiplicity is {vm} (PS3.6 Table 6-1)",
                if count == 1 { "" } else { "s" }
            ),
            at(keyword),
        ));
    }
}

impl InstanceAudit for Audit {
    fn audit(&self, obj: &DefaultDicomObject, path: &str, _key: &PseudonymKey) -> Vec<Finding> {
        let mut out = Vec::new();
        let sop = obj
            .get(tags::SOP_CLASS_UID)
            .and_then(|e| e.to_str().ok())
            .map(|s| s.trim_end_matches(['\0', ' ']).to_string())
            .unwrap_or_default();
        match iod::iod_of(&sop) {
            Some(iod) => self.check_set(obj, iod, "", path, &mut out),
            None => out.push(Finding::new(
                "unsupported-sop-class",
                Severity::Warning,
                format!("SOP class `{sop}` is not among the IODs audited (CT, MR, CR, DX, MG, US, secondary capture, ophthalmic photography): not checked"),
                Some(path.to_string()),
            )),
        }
        out
    }
}

impl Check for Conformance {
    fn uses(&self) -> Uses {
        Uses {
            data: vec![self.data.clone()],
            audits: vec![(self.data.clone(), self.audit.clone())],
            ..Uses::default()
        }
    }

    fn evaluate(&self, cx: &Context) -> Evidence {
        let mut method = "each instance against the mandatory modules of its IOD (PS3.3 tables shipped as data: Type 1 present and non-empty, Type 2 present, Type 1C/2C when a condition decidable from the header holds, Type 1C non-empty when present, Enumerated Values, sequence items included), each data element's value multiplicity (PS3.6) and each value against its VR (PS3.5 Table 6.2-1)".to_string();
        // What a pass does not cover, stated where the verdict is read.
        method.push_str("; not checked: conditions the standard states in prose that a header cannot decide, conditional modules, defined terms");
        if !self.ignore.is_empty() {
            method.push_str(&format!("; waived: {}", self.ignore.join(", ")));
        }
        let index = match super::dicom_common::index(cx, &self.data, &method) {
            Ok(i) => i,
            Err(e) => return e,
        };
        let audit = index.audit_findings(&self.audit).unwrap_or(&[]);
        let unsupported = audit.iter().any(|f| f.code == "unsupported-sop-class");
        super::dicom_common::audit_evidence(
            index,
            audit,
            &self.data,
            method,
            "conforming_fraction",
            unsupported,
        )
    }
}
