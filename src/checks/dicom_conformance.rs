//! `dicom.conformance`: each instance against its IOD (PS3.3 tables shipped as data) and the
//! value representation rules (PS3.5).
//!
//! Documentation for users is in `dicom_conformance.md`.

use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};

use dicom_core::header::Header;
use dicom_core::{DicomValue, Tag, VR};
use dicom_dictionary_std::tags;
use dicom_object::mem::InMemDicomObject;
use dicom_object::DefaultDicomObject;
use serde::Deserialize;

use super::evidence::{Evidence, Finding, Severity};
use super::{Check, Context, Names, Uses};
use crate::data::dicom_index::InstanceAudit;
use crate::data::dictionary::{check_keyword, quotable, tag_of};
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

/// The PS3.3 tables (see standard/README.md).
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

fn tables() -> &'static Tables {
    static T: OnceLock<Tables> = OnceLock::new();
    T.get_or_init(|| {
        serde_json::from_str(include_str!("../../standard/ps3.3-iods.json"))
            .expect("the shipped PS3.3 tables are valid JSON (tested)")
    })
}

/// One attribute requirement: where, what, which type, from which module.
#[derive(Debug, Clone)]
struct Requirement {
    keyword: String,
    tag: Tag,
    kind: String,
    module: String,
}

/// The requirements of an IOD's mandatory modules, by sequence path.
fn requirements(iod: &str) -> &'static BTreeMap<String, Vec<Requirement>> {
    static CACHE: OnceLock<BTreeMap<String, BTreeMap<String, Vec<Requirement>>>> = OnceLock::new();
    let all = CACHE.get_or_init(|| {
        let t = tables();
        t.iods
            .iter()
            .map(|(iod, modules)| {
                let mut by_path: BTreeMap<String, Vec<Requirement>> = BTreeMap::new();
                for (module, _, _) in modules.iter().filter(|(_, u, _)| u == "M") {
                    for (path, keyword, kind) in t.modules.get(module).into_iter().flatten() {
                        // Keywords the dictionary lacks (retired or newer than it) are skipped.
                        let Some(tag) = tag_of(keyword) else { continue };
                        let list = by_path.entry(path.clone()).or_default();
                        // The same attribute may come from two modules: keep the strictest type.
                        match list.iter_mut().find(|r| r.keyword == *keyword) {
                            Some(r) if rank(kind) > rank(&r.kind) => {
                                r.kind = kind.clone();
                                r.module = module.clone();
                            }
                            Some(_) => {}
                            None => list.push(Requirement {
                                keyword: keyword.clone(),
                                tag,
                                kind: kind.clone(),
                                module: module.clone(),
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

fn rank(kind: &str) -> u8 {
    match kind {
        "1" => 5,
        "1C" => 4,
        "2" => 3,
        "2C" => 2,
        _ => 1,
    }
}

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
            | VR::UI
    );
    if !text {
        return None;
    }
    let s = v.to_str().ok()?;
    let single = matches!(vr, VR::LT | VR::ST);
    let parts: Vec<String> = if single {
        vec![s.to_string()]
    } else {
        s.split('\\').map(str::to_string).collect()
    };
    Some(
        parts
            .into_iter()
            .map(|p| {
                // Leading spaces are significant only in LT, ST, UT; NUL pads UIDs.
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
        let req = requirements(iod);
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

impl InstanceAudit for Audit {
    fn audit(&self, obj: &DefaultDicomObject, path: &str, _key: &PseudonymKey) -> Vec<Finding> {
        let mut out = Vec::new();
        let sop = obj
            .get(tags::SOP_CLASS_UID)
            .and_then(|e| e.to_str().ok())
            .map(|s| s.trim_end_matches(['\0', ' ']).to_string())
            .unwrap_or_default();
        match tables().sop_classes.get(&sop) {
            Some(c) => self.check_set(obj, &c.iod, "", path, &mut out),
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
        let mut method = "each instance against the mandatory modules of its IOD (PS3.3 tables shipped as data: Type 1 present and non-empty, Type 2 present, Type 1C non-empty when present, sequence items included) and each value against its VR (PS3.5 Table 6.2-1)".to_string();
        // What a pass does not cover yet, stated where the verdict is read.
        method.push_str("; not checked: conditional modules and Type 1C/2C conditions, enumerated values and defined terms, value multiplicity");
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mandatory_requirements_of_the_ct_iod() {
        // PS3.3 Table C.8-3 and Table C.7-10: KVP is Type 2 (CT Image), PixelSpacing Type 1
        // (Image Plane); both modules are M in the CT Image IOD (Table A.3-1).
        let r = &requirements("ct-image")[""];
        let kind = |k: &str| r.iter().find(|x| x.keyword == k).map(|x| x.kind.as_str());
        assert_eq!(kind("KVP"), Some("2"));
        assert_eq!(kind("PixelSpacing"), Some("1"));
        assert_eq!(kind("SOPInstanceUID"), Some("1"));
        // Type 3 attributes impose nothing, so they are kept but never reported.
        assert_eq!(kind("ConvolutionKernel"), Some("3"));
    }
}
