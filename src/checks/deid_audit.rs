//! `deid.audit`: a dataset was de-identified per DICOM PS3.15 Annex E with a declared profile
//! and options. Table E.1-1 ships as data (`standard/ps3.15-e1-1.json`).
//!
//! Documentation for users is in `deid_audit.md`.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, OnceLock};

use dicom_core::header::Header;
use dicom_core::{DicomValue, Tag, VR};
use dicom_dictionary_std::tags;
use dicom_object::mem::InMemDicomObject;
use dicom_object::DefaultDicomObject;
use regex::Regex;
use serde::Deserialize;

use super::evidence::{Evidence, Finding};
use super::{Check, Context, Names, Uses};
use crate::data::dicom_index::InstanceAudit;
use crate::data::dictionary::keyword;
use crate::data::pseudonym::PseudonymKey;
use crate::spec::diag::Diagnostic;
use crate::spec::schema::{Field, Ty};
use crate::spec::yaml::Node;

pub const DOC: &str = include_str!("deid_audit.md");

/// The options of PS3.15 E.3 with their codes in CID 7050 (De-identification Method).
pub const OPTIONS: &[(&str, &str)] = &[
    ("clean_pixel_data", "113101"),
    ("clean_recognizable_visual_features", "113102"),
    ("clean_graphics", "113103"),
    ("clean_structured_content", "113104"),
    ("clean_descriptors", "113105"),
    ("retain_longitudinal_full_dates", "113106"),
    ("retain_longitudinal_modified_dates", "113107"),
    ("retain_patient_characteristics", "113108"),
    ("retain_device_identity", "113109"),
    ("retain_uids", "113110"),
    ("retain_safe_private", "113111"),
    ("retain_institution_identity", "113112"),
];
const OPTION_NAMES: &[&str] = &[
    "clean_pixel_data",
    "clean_recognizable_visual_features",
    "clean_graphics",
    "clean_structured_content",
    "clean_descriptors",
    "retain_longitudinal_full_dates",
    "retain_longitudinal_modified_dates",
    "retain_patient_characteristics",
    "retain_device_identity",
    "retain_uids",
    "retain_safe_private",
    "retain_institution_identity",
];
/// CID 7050 code of the Basic Application Level Confidentiality Profile.
const BASIC_PROFILE_CODE: &str = "113100";

pub const PARAMS: &[Field] = &[
    Field::req("data", Ty::Str, "a DICOM data source in `data:`"),
    Field::opt("profile", Ty::Enum(&["basic"]), "the declared profile, default `basic`"),
    Field::opt("options", Ty::List(&Ty::Enum(OPTION_NAMES)), "the declared options (PS3.15 E.3)"),
    Field::opt(
        "forbidden",
        Ty::Path,
        "file of keyed hashes (`attest forbid`) of values that must not appear anywhere",
    ),
    Field::opt(
        "pixels_reviewed",
        Ty::Bool,
        "burned-in text in high-risk images was reviewed outside attest (a waiver, stated in the report)",
    ),
];

/// One row of Table E.1-1.
#[derive(Debug, Deserialize)]
struct Row {
    tag: String,
    name: String,
    basic: String,
    options: BTreeMap<String, String>,
}

#[derive(Debug, Deserialize)]
struct Table {
    source: String,
    attributes: Vec<Row>,
}

/// Table E.1-1 indexed by tag: exact tags, and masked ones such as (50xx,xxxx).
struct Rules {
    source: String,
    exact: HashMap<u32, usize>,
    masked: Vec<(u32, u32, usize)>,
    rows: Vec<Row>,
}

fn rules() -> &'static Rules {
    static R: OnceLock<Rules> = OnceLock::new();
    R.get_or_init(|| {
        let t: Table = serde_json::from_str(include_str!("../../standard/ps3.15-e1-1.json"))
            .expect("the shipped Table E.1-1 is valid JSON (tested)");
        let mut exact = HashMap::new();
        let mut masked = Vec::new();
        for (i, r) in t.attributes.iter().enumerate() {
            // "(gggg,eeee)", with x for any hex digit; the private-attribute row has prose.
            let hex: String = r
                .tag
                .chars()
                .filter(|c| c.is_ascii_hexdigit() || *c == 'x' || *c == 'X')
                .collect();
            if hex.len() != 8 || r.tag.contains("WHERE") {
                continue;
            }
            let (mut value, mut mask) = (0u32, 0u32);
            for c in hex.chars() {
                value <<= 4;
                mask <<= 4;
                if let Some(d) = c.to_digit(16).filter(|_| c != 'x' && c != 'X') {
                    value |= d;
                    mask |= 0xF;
                }
            }
            if mask == u32::MAX {
                exact.insert(value, i);
            } else {
                masked.push((value, mask, i));
            }
        }
        Rules {
            source: t.source,
            exact,
            masked,
            rows: t.attributes,
        }
    })
}

impl Rules {
    fn row(&self, tag: Tag) -> Option<&Row> {
        let v = (u32::from(tag.group()) << 16) | u32::from(tag.element());
        self.exact
            .get(&v)
            .or_else(|| {
                self.masked
                    .iter()
                    .find(|(val, mask, _)| v & mask == *val)
                    .map(|(_, _, i)| i)
            })
            .map(|&i| &self.rows[i])
    }
}

#[derive(Debug)]
struct Audit {
    options: BTreeSet<String>,
    forbidden: BTreeSet<String>,
    pixels_reviewed: bool,
    patterns: Vec<(&'static str, Regex)>,
}

#[derive(Debug)]
pub struct DeidAudit {
    data: String,
    audit: Arc<dyn InstanceAudit>,
    options: Vec<String>,
    forbidden: Option<std::path::PathBuf>,
    pixels_reviewed: bool,
}

pub fn build(node: &Node, names: &Names, out: &mut Vec<Diagnostic>) -> Option<Box<dyn Check>> {
    let before = out.len();
    let data = super::dicom_common::dicom_source(node, names, out)?;
    let options: Vec<String> = node
        .get("options")
        .and_then(Node::as_seq)
        .map(|s| {
            s.iter()
                .filter_map(|n| n.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    if options
        .iter()
        .any(|o| o == "retain_longitudinal_full_dates")
        && options
            .iter()
            .any(|o| o == "retain_longitudinal_modified_dates")
    {
        out.push(
            Diagnostic::new(
                "conflicting-options",
                "the two longitudinal date options exclude each other (PS3.15 E.3.6)",
                &node.get("options")?.pos,
            )
            .label("keep full dates or modified dates, not both"),
        );
    }
    let mut hashes = BTreeSet::new();
    let forbidden = node.get("forbidden").and_then(|n| Some((n, n.as_str()?)));
    if let Some((n, rel)) = forbidden {
        let path = names.dir.join(rel);
        match std::fs::read_to_string(&path) {
            Err(e) => out.push(
                Diagnostic::new(
                    "missing-path",
                    format!("cannot read {}: {e}", path.display()),
                    &n.pos,
                )
                .label("a file written by `attest forbid`"),
            ),
            Ok(text) => {
                for (i, line) in text.lines().enumerate().map(|(i, l)| (i, l.trim())) {
                    if line.is_empty() || line.starts_with('#') {
                        continue;
                    }
                    if line.len() == 64 && line.bytes().all(|b| b.is_ascii_hexdigit()) {
                        hashes.insert(line.to_ascii_lowercase());
                    } else {
                        out.push(
                            Diagnostic::new(
                                "invalid-forbidden",
                                format!(
                                    "{}:{}: not a keyed hash (64 hex digits)",
                                    path.display(),
                                    i + 1
                                ),
                                &n.pos,
                            )
                            .label(
                                "values are listed as hashes, never in clear: use `attest forbid`",
                            ),
                        );
                        break;
                    }
                }
            }
        }
    }
    let pixels_reviewed = matches!(
        node.get("pixels_reviewed").map(|n| &n.value),
        Some(crate::spec::yaml::Value::Bool(true))
    );
    if out.len() > before {
        return None;
    }
    Some(Box::new(DeidAudit {
        data,
        audit: Arc::new(Audit::new(&options, hashes, pixels_reviewed)),
        options,
        forbidden: forbidden.map(|(_, rel)| names.dir.join(rel)),
        pixels_reviewed,
    }))
}

impl Audit {
    fn new(options: &[String], forbidden: BTreeSet<String>, pixels_reviewed: bool) -> Self {
        let re = |p: &str| Regex::new(p).expect("fixed pattern");
        Audit {
            options: options.iter().cloned().collect(),
            forbidden,
            pixels_reviewed,
            patterns: vec![
                (
                    "a person name (Family^Given)",
                    re(r"\b[A-Za-z][A-Za-z'-]+\^[A-Za-z][A-Za-z'-]+"),
                ),
                (
                    "a date",
                    re(
                        r"\b(19|20)\d\d(0[1-9]|1[0-2])(0[1-9]|[12]\d|3[01])\b|\b(19|20)\d\d-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])\b|\b(0?[1-9]|[12]\d|3[01])[/.](0?[1-9]|1[0-2])[/.](19|20)\d\d\b",
                    ),
                ),
                ("an identifier (six or more digits)", re(r"\b\d{6,}\b")),
            ],
        }
    }

    /// The action Table E.1-1 requires for a row under the declared options: an option that
    /// covers the attribute overrides the Basic Profile (PS3.15 E.3).
    fn action<'a>(&self, row: &'a Row) -> &'a str {
        row.options
            .iter()
            .filter(|(o, _)| self.options.contains(*o))
            .map(|(_, a)| a.as_str())
            // K (keep) is the most permissive, then C (clean), then the others.
            .min_by_key(|a| match *a {
                "K" => 0,
                "C" => 1,
                _ => 2,
            })
            .unwrap_or(&row.basic)
    }

    fn check_set(
        &self,
        set: &InMemDicomObject,
        path: &str,
        file: &str,
        key: &PseudonymKey,
        out: &mut Vec<Finding>,
    ) {
        let r = rules();
        for e in set.iter() {
            let tag = e.tag();
            // Private tags are named by their number: their meaning depends on the creator.
            let name = keyword(tag).filter(|_| tag.group() % 2 == 0).map_or_else(
                || format!("{:04X},{:04X}", tag.group(), tag.element()),
                str::to_string,
            );
            let at = || {
                if path.is_empty() {
                    format!("{file} ({name})")
                } else {
                    format!("{file} ({path}/{name})")
                }
            };
            // The action Table E.1-1 gives this attribute under the declared options (private
            // attributes have no row: they are handled here).
            let mut action = None;
            if tag.group() % 2 == 1 {
                if self.options.contains("retain_safe_private") {
                    // E.3.10 keeps only attributes on a safe list (creator and element); no
                    // such list is declared here, so keeping them cannot be verified.
                    out.push(Finding::warning(
                        "private-not-verified",
                        format!("private attribute {tag} is kept under Retain Safe Private, which needs a safe list that attest cannot check yet: review it"),
                        at(),
                    ));
                } else {
                    out.push(Finding::error(
                        "private-attribute",
                        format!("private attribute {tag} is present; the Basic Profile removes private attributes unless Retain Safe Private is declared"),
                        at(),
                    ));
                }
            }
            let empty = match e.value() {
                DicomValue::Sequence(s) => s.items().is_empty(),
                v => v
                    .to_bytes()
                    .map(|b| b.iter().all(|&c| c == b' ' || c == 0))
                    .unwrap_or(true),
            };
            if let Some(row) = r.row(tag).filter(|_| tag.group() % 2 == 0) {
                let a = self.action(row);
                action = Some(a);
                let rule = || format!("Table E.1-1: {} → {a}", row.name);
                match (a, empty) {
                    ("X", _) => out.push(Finding::error(
                        "attribute-not-removed",
                        format!("{name} is present; {} (remove)", rule()),
                        at(),
                    )),
                    ("X/Z", false) => out.push(Finding::error(
                        "attribute-not-removed",
                        format!("{name} has a value; {} (remove or empty)", rule()),
                        at(),
                    )),
                    ("D", true) => out.push(Finding::error(
                        "dummy-missing",
                        format!(
                            "{name} is empty; {} (replace with a non-empty dummy)",
                            rule()
                        ),
                        at(),
                    )),
                    _ => {}
                }
                // A removed sequence is not looked into: its finding covers its content.
                if a == "X" {
                    continue;
                }
            }
            match e.value() {
                DicomValue::Sequence(s) => {
                    let sub = if path.is_empty() {
                        name.clone()
                    } else {
                        format!("{path}/{name}")
                    };
                    for item in s.items() {
                        self.check_set(item, &sub, file, key, out);
                    }
                }
                _ => self.scan_text(e, &name, &at(), action, key, out),
            }
        }
    }

    /// Residual-PHI patterns in free text, and forbidden values anywhere in text.
    fn scan_text(
        &self,
        e: &dicom_object::mem::InMemElement,
        name: &str,
        at: &str,
        action: Option<&str>,
        key: &PseudonymKey,
        out: &mut Vec<Finding>,
    ) {
        let (vr, v) = (e.vr(), e.value());
        let textual = matches!(
            vr,
            VR::PN | VR::LO | VR::SH | VR::LT | VR::ST | VR::UT | VR::UC | VR::CS | VR::DA | VR::AE
        );
        if !textual {
            return;
        }
        let Ok(text) = v.to_str() else { return };
        let text = text.trim_matches([' ', '\0']);
        if text.is_empty() {
            return;
        }
        // What a de-identifier may have left in place: free text anywhere, and any value of
        // an attribute Table E.1-1 names (a name, ID or date under Z, D, U, C) unless an
        // option keeps it. SH values elsewhere are mostly codes (Code Value 113100 is not an
        // identifier) and are not scanned.
        let tabled = action.is_some_and(|a| a != "K");
        let free_text = matches!(vr, VR::LO | VR::LT | VR::ST | VR::UT | VR::UC);
        if matches!(vr, VR::DA | VR::DT) && tabled {
            // A date the profile empties or replaces: a dummy cannot be told from a real date.
            out.push(Finding::warning(
                "possible-phi",
                format!("{name} holds a date that Table E.1-1 requires emptied or replaced (value withheld; confirm it is a dummy)"),
                at.to_string(),
            ));
        } else if free_text || (tabled && matches!(vr, VR::PN | VR::SH | VR::LO)) {
            if let Some((what, _)) = self.patterns.iter().find(|(_, re)| re.is_match(text)) {
                out.push(Finding::warning(
                    "possible-phi",
                    format!("{name} holds what looks like {what} (value withheld; review it)"),
                    at.to_string(),
                ));
            }
        }
        if !self.forbidden.is_empty() {
            let mut candidates: BTreeSet<String> = BTreeSet::new();
            for value in text.split('\\') {
                candidates.insert(normalise(value));
                for part in value.split(['^', ' ', ',', '=']) {
                    candidates.insert(normalise(part));
                }
            }
            if candidates
                .iter()
                .filter(|c| !c.is_empty())
                .any(|c| self.forbidden.contains(&forbidden_hash(key, c)))
            {
                out.push(Finding::error(
                    "forbidden-value",
                    format!("{name} holds a value on the forbidden list (value withheld)"),
                    at.to_string(),
                ));
            }
        }
    }
}

/// Values are compared case- and padding-insensitively.
pub fn normalise(v: &str) -> String {
    v.trim().to_uppercase()
}

/// The keyed hash of a forbidden value, as `attest forbid` prints it: HMAC-SHA256 with the
/// pseudonym key, of the normalised value, in hex.
pub fn forbidden_hash(key: &PseudonymKey, value: &str) -> String {
    key.digest_hex(&normalise(value))
}

fn text_of(obj: &InMemDicomObject, tag: Tag) -> Option<String> {
    obj.get(tag)
        .and_then(|e| e.to_str().ok())
        .map(|s| s.trim_matches([' ', '\0']).to_string())
}

/// SOP classes whose pixels often carry burned-in identifying text (PS3.15 E.1.1 and the
/// domain notes): ultrasound, secondary capture, visible light (endoscopy, photography).
fn high_risk(sop_class: &str) -> bool {
    sop_class.starts_with("1.2.840.10008.5.1.4.1.1.6.")
        || sop_class == "1.2.840.10008.5.1.4.1.1.3.1"
        || sop_class == "1.2.840.10008.5.1.4.1.1.7"
        || sop_class.starts_with("1.2.840.10008.5.1.4.1.1.7.")
        || sop_class.starts_with("1.2.840.10008.5.1.4.1.1.77.1.1")
        || sop_class.starts_with("1.2.840.10008.5.1.4.1.1.77.1.4")
}

impl InstanceAudit for Audit {
    fn audit(&self, obj: &DefaultDicomObject, path: &str, key: &PseudonymKey) -> Vec<Finding> {
        let mut out = Vec::new();
        // E.1.1 (6): Patient Identity Removed = YES.
        match text_of(obj, tags::PATIENT_IDENTITY_REMOVED).as_deref() {
            Some("YES") => {}
            other => out.push(Finding::error(
                "identity-removed-flag",
                format!(
                    "PatientIdentityRemoved is {}; PS3.15 E.1.1 requires YES",
                    other.map_or("absent".to_string(), |v| format!("`{v}`"))
                ),
                path.to_string(),
            )),
        }
        // E.1.1 (6): De-identification Method Code Sequence holds 113100 and every option used.
        let mut codes = BTreeSet::new();
        if let Some(e) = obj.get(tags::DEIDENTIFICATION_METHOD_CODE_SEQUENCE) {
            if let DicomValue::Sequence(s) = e.value() {
                for item in s.items() {
                    if text_of(item, tags::CODING_SCHEME_DESIGNATOR).as_deref() == Some("DCM") {
                        codes.extend(text_of(item, tags::CODE_VALUE));
                    }
                }
            }
        }
        let mut required = vec![(BASIC_PROFILE_CODE, "the Basic Profile")];
        required.extend(
            OPTIONS
                .iter()
                .filter(|(o, _)| self.options.contains(*o))
                .map(|(o, c)| (*c, *o)),
        );
        for (code, what) in required {
            if !codes.contains(code) {
                out.push(Finding::error(
                    "method-code-missing",
                    format!("DeidentificationMethodCodeSequence lacks ({code}, DCM) for {what} (CID 7050)"),
                    path.to_string(),
                ));
            }
        }
        for (option, code) in OPTIONS
            .iter()
            .filter(|(o, c)| codes.contains(*c) && !self.options.contains(*o))
        {
            out.push(Finding::warning(
                "undeclared-option",
                format!("the file claims {option} ({code}, DCM), which the spec does not declare: the audit applied the declared options only"),
                path.to_string(),
            ));
        }
        // E.2 / E.3.6: Longitudinal Temporal Information Modified agrees with the date options.
        let expected = if self.options.contains("retain_longitudinal_full_dates") {
            "UNMODIFIED"
        } else if self.options.contains("retain_longitudinal_modified_dates") {
            "MODIFIED"
        } else {
            "REMOVED"
        };
        match text_of(obj, tags::LONGITUDINAL_TEMPORAL_INFORMATION_MODIFIED) {
            Some(v) if v == expected => {}
            Some(v) => out.push(Finding::error(
                "temporal-flag",
                format!("LongitudinalTemporalInformationModified is `{v}`; with the declared options it should be {expected} (PS3.15 E.3.6)"),
                path.to_string(),
            )),
            None => out.push(Finding::warning(
                "temporal-flag",
                format!("LongitudinalTemporalInformationModified is absent; with the declared options it would be {expected} (PS3.15 E.3.6)"),
                path.to_string(),
            )),
        }
        // Burned-in text.
        let clean_pixels = self.options.contains("clean_pixel_data");
        if text_of(obj, tags::BURNED_IN_ANNOTATION).as_deref() == Some("YES") && !clean_pixels {
            out.push(Finding::error(
                "burned-in-annotation",
                "BurnedInAnnotation is YES and Clean Pixel Data is not declared: identifying text may be in the pixels",
                path.to_string(),
            ));
        }
        let sop = text_of(obj, tags::SOP_CLASS_UID).unwrap_or_default();
        if high_risk(&sop) && !clean_pixels && !self.pixels_reviewed {
            out.push(Finding::error(
                "high-risk-pixels",
                format!("SOP class {sop} often carries burned-in text; declare clean_pixel_data or state pixels_reviewed"),
                path.to_string(),
            ));
        }
        self.check_set(obj, "", path, key, &mut out);
        out
    }
}

impl Check for DeidAudit {
    fn uses(&self) -> Uses {
        Uses {
            data: vec![self.data.clone()],
            audits: vec![(self.data.clone(), self.audit.clone())],
            files: self.forbidden.iter().cloned().collect(),
            ..Uses::default()
        }
    }

    fn evaluate(&self, cx: &Context) -> Evidence {
        let method = format!(
            "each instance against {} with the Basic Profile{}; Patient Identity Removed, De-identification Method Code Sequence (CID 7050), Longitudinal Temporal Information Modified, private attributes, burned-in text, and a residual-PHI scan of free text{}",
            rules().source,
            if self.options.is_empty() { String::new() } else { format!(" and options {}", self.options.join(", ")) },
            if self.pixels_reviewed { "; burned-in text in high-risk images waived as reviewed outside attest" } else { "" }
        );
        let index = match super::dicom_common::index(cx, &self.data, &method) {
            Ok(i) => i,
            Err(e) => return e,
        };
        let audit = index.audit_findings(&self.audit).unwrap_or(&[]);
        // Free text that looks identifying needs a person's review: never a pass.
        let review = audit
            .iter()
            .any(|f| f.code == "possible-phi" || f.code == "private-not-verified");
        super::dicom_common::audit_evidence(
            index,
            audit,
            &self.data,
            method,
            "deidentified_fraction",
            review,
        )
    }
}
