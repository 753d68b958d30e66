//! Specs: YAML → positioned tree → validated plan.
//!
//! `load` reads a spec file, validates it against the declared shape (`schema`) and each
//! requirement against its check kind's parameter table, builds the configured checks, and
//! returns either the plan or *every* problem found, each with file, line and column.

pub mod diag;
pub mod expr;
pub mod models;
pub mod schema;
pub mod yaml;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use crate::checks::registry::{self, Kind};
use crate::checks::{Check, Names};
use crate::data::hash::sha256_hex;
use diag::{Diagnostic, SpecErrors};
use models::MODEL_FIELDS;
pub use models::{Engine, ModelDecl, RunDecl};
use schema::{validate_fields, Field, Ty};
use yaml::Node;

/// The spec format version this tool reads.
pub const FORMAT: i64 = 1;

const DATA_FIELDS: &[Field] = &[
    Field::opt(
        "dicom",
        Ty::Path,
        "folder of DICOM files, indexed recursively",
    ),
    Field::opt("table", Ty::Path, "CSV case table, one row per case"),
    Field::opt(
        "id_column",
        Ty::Str,
        "the table's case identifier column, default `case_id`",
    ),
    Field::opt(
        "labels",
        Ty::Path,
        "label set: annotation events, CSV or JSON Lines (.jsonl), one row per event",
    ),
    Field::opt(
        "lesions",
        Ty::Path,
        "reference lesions, LUNA16 format: seriesuid,coordX,coordY,coordZ,diameter_mm (mm)",
    ),
    Field::opt(
        "masks",
        Ty::Path,
        "folder of reference segmentation masks, one file per case: <case_id>.nii[.gz] (NIfTI) or <case_id>.dcm (DICOM SEG)",
    ),
    Field::opt(
        "structures",
        Ty::MapOf(&STRUCTURE_VALUE),
        "with `masks`: structure name → label value (NIfTI) or segment number (DICOM SEG), for `structure:` of `segmentation`",
    ),
    Field::opt(
        "excluded",
        Ty::Path,
        "with `lesions`: findings to ignore (LUNA16 annotations_excluded.csv), same format",
    ),
    Field::opt(
        "registry",
        Ty::Path,
        "with `labels`: the annotator registry, YAML (`annotators:`) or CSV",
    ),
    Field::opt(
        "reference",
        Ty::Str,
        "the name of a label-set source to derive a reference standard from (usable as `truth:`)",
    ),
    Field::opt(
        "task",
        Ty::Str,
        "with `reference`: the task whose answers are the reference, default `default`",
    ),
    Field::opt(
        "rule",
        Ty::Enum(crate::data::labels::reference::Rule::NAMES),
        "with `reference`: majority, arbitrator or consensus",
    ),
    Field::opt(
        "positive",
        Ty::List(&Ty::Str),
        "with `reference`: the classes that are label 1 (others 0)",
    ),
    Field::opt(
        "positive_at",
        Ty::Num {
            min: f64::NEG_INFINITY,
            max: f64::INFINITY,
        },
        "with `reference`: a grade or value at or above this is label 1",
    ),
];

/// A structure's label value or segment number: 0 is background in both formats.
const STRUCTURE_VALUE: Ty = Ty::Int { min: 1 };

pub const TOP: &[Field] = &[
    Field::req("attest", Ty::Int { min: 1 }, "spec format version: 1"),
    Field::req("id", Ty::Str, "identifier of this spec"),
    Field::req("version", Ty::Str, "version of this spec, e.g. \"1.0.0\""),
    Field::req("title", Ty::Str, "title"),
    Field::opt("description", Ty::Str, "free text"),
    Field::opt(
        "references",
        Ty::MapOf(&Ty::Str),
        "short name → full citation, for `clause:`",
    ),
    Field::opt(
        "data",
        Ty::MapOf(&Ty::Obj(DATA_FIELDS)),
        "reference data sources by name",
    ),
    Field::opt(
        "models",
        Ty::MapOf(&Ty::Obj(MODEL_FIELDS)),
        "candidate models by name",
    ),
    Field::req(
        "requirements",
        Ty::Requirements,
        "the requirements, checked in this order",
    ),
];

/// Keys every requirement has, whatever its check.
pub const COMMON: &[Field] = &[
    Field::req("id", Ty::Str, "unique identifier, e.g. PERF-AUC"),
    Field::req("title", Ty::Str, "what is required, in words"),
    Field::opt(
        "clause",
        Ty::Str,
        "the clause of the standard it implements (a `references` key or free text)",
    ),
    Field::req(
        "check",
        Ty::Str,
        "the check kind (`attest explain` lists them)",
    ),
    Field::opt("description", Ty::Str, "free text"),
];

/// The keys of a requirement of a given kind: the common ones, then the kind's parameters.
pub fn requirement_fields(kind: &Kind) -> Vec<Field> {
    COMMON.iter().chain(kind.params).copied().collect()
}

/// A declared data source.
#[derive(Debug, Clone, PartialEq)]
pub enum Source {
    Dicom {
        path: PathBuf,
    },
    Table {
        path: PathBuf,
        id_column: String,
    },
    Labels {
        path: PathBuf,
        registry: PathBuf,
    },
    /// A folder of reference masks, one NIfTI or DICOM SEG file per case, with the label
    /// value or segment number of each named structure.
    Masks {
        path: PathBuf,
        structures: BTreeMap<String, u32>,
    },
    /// Reference lesions (LUNA16), with the findings to ignore.
    Lesions {
        path: PathBuf,
        excluded: Option<PathBuf>,
    },
    /// A reference standard derived from the label-set source `from`.
    Reference {
        from: String,
        task: String,
        rule: crate::data::labels::reference::Rule,
        positive: crate::data::labels::reference::Positive,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub struct DataDecl {
    pub name: String,
    pub source: Source,
}

#[derive(Debug)]
pub struct Requirement {
    pub id: String,
    pub title: String,
    pub clause: Option<String>,
    /// The full citation when `clause` names a `references` entry.
    pub reference: Option<String>,
    pub check: &'static str,
    /// The pass criterion as written in the spec (`pass:`), when the requirement has one.
    pub pass: Option<String>,
    pub run: Box<dyn Check>,
}

/// A validated spec, ready to run.
#[derive(Debug)]
pub struct Spec {
    pub path: PathBuf,
    pub sha256: String,
    pub id: String,
    pub version: String,
    pub title: String,
    pub description: Option<String>,
    pub references: Vec<(String, String)>,
    pub data: Vec<DataDecl>,
    pub models: Vec<ModelDecl>,
    pub requirements: Vec<Requirement>,
}

/// Reads and validates a spec file.
pub fn load(path: &Path) -> Result<Spec, SpecErrors> {
    let text = match std::fs::read(path) {
        Ok(bytes) => match String::from_utf8(bytes) {
            Ok(t) => t,
            Err(_) => {
                return Err(SpecErrors::new(
                    path,
                    "",
                    vec![Diagnostic::whole_file(
                        "not-utf8",
                        "the spec is not UTF-8 text",
                    )],
                ))
            }
        },
        Err(e) => {
            return Err(SpecErrors::new(
                path,
                "",
                vec![Diagnostic::whole_file(
                    "unreadable-spec",
                    format!("cannot read the spec: {e}"),
                )],
            ))
        }
    };
    parse(path, &text)
}

/// Validates spec text read from `path` (paths inside are relative to its folder).
pub fn parse(path: &Path, text: &str) -> Result<Spec, SpecErrors> {
    let fail = |d: Vec<Diagnostic>| SpecErrors::new(path, text, d);
    let root = match yaml::parse(text) {
        Ok(r) => r,
        Err(e) => {
            let d = match e.pos {
                Some(p) => Diagnostic::new("invalid-yaml", e.message, &p).label("here"),
                None => Diagnostic::whole_file("invalid-yaml", e.message),
            };
            return Err(fail(vec![d]));
        }
    };
    let mut out = Vec::new();
    validate_fields(&root, TOP, "the spec", &mut out);
    if root.as_map().is_none() {
        return Err(fail(out));
    }
    if let Some(v) = root.get("attest") {
        if v.as_f64().is_some_and(|x| x != FORMAT as f64) {
            out.push(
                Diagnostic::new(
                    "unsupported-format",
                    format!("this attest reads spec format {FORMAT}"),
                    &v.pos,
                )
                .label(format!("expected {FORMAT}")),
            );
        }
    }
    if let Some(id) = root
        .get("id")
        .filter(|n| n.as_str().is_some_and(|s| !valid_id(s)))
    {
        out.push(
            Diagnostic::new("invalid-id", "the spec id must be a plain name", &id.pos)
                .label("letters, digits, `.`, `_` and `-`, starting with a letter or digit (it names the output folder)"),
        );
    }
    let dir = path.parent().unwrap_or(Path::new("")).to_path_buf();
    let s = |k: &str| root.get(k).and_then(Node::as_str).map(str::to_string);

    let references: Vec<(String, String)> = root
        .get("references")
        .and_then(Node::as_map)
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| Some((k.name.clone(), v.as_str()?.to_string())))
                .collect()
        })
        .unwrap_or_default();

    let (data, models) = sources(&root, &dir, &mut out);
    let mut names = Names {
        dir: dir.clone(),
        dicom: data
            .iter()
            .filter(|d| matches!(d.source, Source::Dicom { .. }))
            .map(|d| d.name.clone())
            .collect(),
        tables: data
            .iter()
            .filter(|d| matches!(d.source, Source::Table { .. } | Source::Reference { .. }))
            .map(|d| d.name.clone())
            .collect(),
        labels: data
            .iter()
            .filter(|d| matches!(d.source, Source::Labels { .. }))
            .map(|d| d.name.clone())
            .collect(),
        references: data
            .iter()
            .filter(|d| matches!(d.source, Source::Reference { .. }))
            .map(|d| d.name.clone())
            .collect(),
        models: models
            .iter()
            .filter(|m| !m.detections && !m.masks)
            .map(|m| m.name.clone())
            .collect(),
        detection_models: models
            .iter()
            .filter(|m| m.detections)
            .map(|m| m.name.clone())
            .collect(),
        mask_models: models
            .iter()
            .filter(|m| m.masks)
            .map(|m| m.name.clone())
            .collect(),
        run_models: models
            .iter()
            .filter(|m| m.run.is_some() && !m.masks)
            .map(|m| m.name.clone())
            .collect(),
        burn_models: models
            .iter()
            .filter(|m| !m.masks)
            .filter_map(|m| {
                let b = m.run.as_ref()?.burn()?;
                Some((m.name.clone(), b.pipeline.window.is_some()))
            })
            .collect(),
        masks: data
            .iter()
            .filter(|d| matches!(d.source, Source::Masks { .. }))
            .map(|d| d.name.clone())
            .collect(),
        lesions: data
            .iter()
            .filter(|d| matches!(d.source, Source::Lesions { .. }))
            .map(|d| d.name.clone())
            .collect(),
        mask_structures: data
            .iter()
            .filter_map(|d| match &d.source {
                Source::Masks { structures, .. } => {
                    Some((d.name.clone(), structures.keys().cloned().collect()))
                }
                _ => None,
            })
            .collect(),
        mask_model_structures: models
            .iter()
            .filter(|m| m.masks)
            .map(|m| (m.name.clone(), m.structures.keys().cloned().collect()))
            .collect(),
    };
    // A model declared with a mistake has been reported where it is; requirements naming it
    // must not add an "unknown model" error for each use (its kind is not known, so it counts
    // as every kind).
    for (k, _) in root.get("models").and_then(Node::as_map).unwrap_or(&[]) {
        if models.iter().all(|m| m.name != k.name) {
            for list in [
                &mut names.models,
                &mut names.detection_models,
                &mut names.mask_models,
                &mut names.run_models,
            ] {
                list.push(k.name.clone());
            }
            names.burn_models.insert(k.name.clone(), true);
        }
    }

    let mut requirements = Vec::new();
    let mut seen = BTreeSet::new();
    for (i, r) in root
        .get("requirements")
        .and_then(Node::as_seq)
        .unwrap_or(&[])
        .iter()
        .enumerate()
    {
        if let Some(req) = requirement(r, i, &names, &references, &mut seen, &mut out) {
            requirements.push(req);
        }
    }
    if root
        .get("requirements")
        .and_then(Node::as_seq)
        .is_some_and(<[_]>::is_empty)
    {
        let n = root.get("requirements").expect("checked");
        out.push(
            Diagnostic::new("no-requirements", "the spec states no requirement", &n.pos)
                .label("a spec with nothing to check would pass vacuously"),
        );
    }
    if !out.is_empty() {
        return Err(fail(out));
    }
    Ok(Spec {
        path: path.to_path_buf(),
        sha256: sha256_hex(text.as_bytes()),
        id: s("id").unwrap_or_default(),
        version: s("version").unwrap_or_default(),
        title: s("title").unwrap_or_default(),
        description: s("description"),
        references,
        data,
        models,
        requirements,
    })
}

/// A spec id usable as a folder name: `[A-Za-z0-9][A-Za-z0-9._-]*`.
pub fn valid_id(id: &str) -> bool {
    id.bytes().next().is_some_and(|b| b.is_ascii_alphanumeric())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// Reads `data:` and `models:`, checking that every path exists.
fn sources(root: &Node, dir: &Path, out: &mut Vec<Diagnostic>) -> (Vec<DataDecl>, Vec<ModelDecl>) {
    let mut data = Vec::new();
    for (k, v) in root.get("data").and_then(Node::as_map).unwrap_or(&[]) {
        let dicom = v.get("dicom");
        let table = v.get("table");
        let id_column = v
            .get("id_column")
            .and_then(Node::as_str)
            .unwrap_or("case_id")
            .to_string();
        let labels = v.get("labels");
        let reference = v.get("reference");
        let lesions = v.get("lesions");
        let mask_dir = v.get("masks");
        let kinds = [dicom, table, labels, reference, lesions, mask_dir]
            .iter()
            .filter(|n| n.is_some())
            .count();
        if mask_dir.is_none() {
            structures(v, false, &k.name, out);
        }
        let source = match (dicom, table, labels, reference) {
            _ if kinds == 1 && mask_dir.is_some() => {
                existing(mask_dir.expect("checked"), dir, true, out).map(|path| Source::Masks {
                    path,
                    structures: structures(v, true, &k.name, out),
                })
            }
            _ if kinds == 1 && lesions.is_some() => {
                let excluded = v.get("excluded").and_then(|e| existing(e, dir, false, out));
                existing(lesions.expect("checked"), dir, false, out)
                    .map(|path| Source::Lesions { path, excluded })
            }
            _ if kinds != 1 => {
                out.push(
                    Diagnostic::new(
                        "invalid-source",
                        format!(
                            "data source `{}` must have exactly one of `dicom`, `table`, `labels`, `reference`, `lesions` or `masks`",
                            k.name
                        ),
                        &v.pos,
                    )
                    .label("e.g. `{ dicom: ../data/dicom }`, `{ table: cases.csv }` or `{ labels: events.csv, registry: annotators.yaml }`"),
                );
                None
            }
            (Some(d), ..) => existing(d, dir, true, out).map(|path| Source::Dicom { path }),
            (_, Some(t), ..) => {
                existing(t, dir, false, out).map(|path| Source::Table { path, id_column })
            }
            (_, _, Some(l), _) => {
                let registry = match v.get("registry") {
                    Some(r) => existing(r, dir, false, out),
                    None => {
                        out.push(
                            Diagnostic::new(
                                "missing-key",
                                format!("label set `{}` needs its annotator `registry`", k.name),
                                &v.pos,
                            )
                            .label("add `registry: annotators.yaml` (who may label, with role and experience)"),
                        );
                        None
                    }
                };
                match (existing(l, dir, false, out), registry) {
                    (Some(path), Some(registry)) => Some(Source::Labels { path, registry }),
                    _ => None,
                }
            }
            (.., Some(r)) => reference_source(v, r, out),
            _ => None,
        };
        if let Some(source) = source {
            data.push(DataDecl {
                name: k.name.clone(),
                source,
            });
        }
    }
    // A reference derives from a label-set source declared in the same `data:`.
    let label_sets: Vec<String> = data
        .iter()
        .filter(|d| matches!(d.source, Source::Labels { .. }))
        .map(|d| d.name.clone())
        .collect();
    for (_, v) in root.get("data").and_then(Node::as_map).unwrap_or(&[]) {
        if let Some(from) = v.get("reference").and_then(Node::as_str) {
            crate::checks::reference(
                v,
                "reference",
                from,
                &label_sets,
                "a label-set source (`labels:`) in `data:`",
                out,
            );
        }
    }
    let models = models::models(root, dir, &data, out);
    (data, models)
}

/// The `structures:` map of a mask source or model (`masks` says whether it is one): names to
/// label values or segment numbers. The schema has checked the type and the minimum; this
/// reports a map on anything else, and values beyond the 32-bit range labels have.
fn structures(
    v: &Node,
    masks: bool,
    name: &str,
    out: &mut Vec<Diagnostic>,
) -> BTreeMap<String, u32> {
    let Some(node) = v.get("structures") else {
        return BTreeMap::new();
    };
    if !masks {
        out.push(
            Diagnostic::new(
                "unused-parameter",
                format!("`structures` applies to mask folders (`masks:`) only, not to `{name}`"),
                &v.key("structures")
                    .map_or(node.pos.clone(), |k| k.pos.clone()),
            )
            .label("remove this, or make this a `masks:` source"),
        );
        return BTreeMap::new();
    }
    let mut map = BTreeMap::new();
    for (key, value) in node.as_map().unwrap_or(&[]) {
        let Some(x) = value.as_f64() else { continue };
        match u32::try_from(x as i64) {
            Ok(n) if n >= 1 && x.fract() == 0.0 => {
                map.insert(key.name.clone(), n);
            }
            _ if x < 1.0 || x.fract() != 0.0 => {} // reported by the schema
            _ => out.push(
                Diagnostic::new(
                    "out-of-range",
                    format!(
                        "structure `{}`: {x} is beyond the largest label value",
                        key.name
                    ),
                    &value.pos,
                )
                .label(format!("at most {}", u32::MAX)),
            ),
        }
    }
    map
}

/// A `reference:` source: the label set it derives from is checked once all sources are read.
fn reference_source(v: &Node, from: &Node, out: &mut Vec<Diagnostic>) -> Option<Source> {
    use crate::data::labels::reference::{Positive, Rule};
    let rule = match v.get("rule") {
        None => {
            out.push(
                Diagnostic::new("missing-key", "a reference needs its `rule`", &v.pos)
                    .label(format!("add `rule:` one of {}", Rule::NAMES.join(", "))),
            );
            return None;
        }
        Some(r) => Rule::parse(r.as_str()?)?, // a bad value is reported by the schema
    };
    let classes: Option<Vec<String>> = v.get("positive").and_then(Node::as_seq).map(|s| {
        s.iter()
            .filter_map(|n| n.as_str().map(str::to_string))
            .collect()
    });
    let positive = match (classes, v.get("positive_at").and_then(Node::as_f64)) {
        (Some(c), None) => Positive::Classes(c),
        (None, Some(t)) => Positive::AtLeast(t),
        (None, None) => Positive::AsIs,
        (Some(_), Some(_)) => {
            out.push(
                Diagnostic::new(
                    "invalid-source",
                    "`positive` and `positive_at` exclude each other",
                    &v.pos,
                )
                .label("classes (`positive`) or a threshold on grades and values (`positive_at`)"),
            );
            return None;
        }
    };
    Some(Source::Reference {
        from: from.as_str()?.to_string(),
        task: v
            .get("task")
            .and_then(Node::as_str)
            .unwrap_or("default")
            .to_string(),
        rule,
        positive,
    })
}

/// Resolves a path relative to the spec's folder and checks it exists with the right kind.
/// The path is returned either way, so that references to its source still resolve (one
/// problem, one diagnostic).
fn existing(node: &Node, dir: &Path, folder: bool, out: &mut Vec<Diagnostic>) -> Option<PathBuf> {
    let text = node.as_str()?;
    let path = dir.join(text);
    let what = if folder { "folder" } else { "file" };
    let problem = match std::fs::metadata(&path) {
        Err(_) => Some(format!("no such {what}: {}", path.display())),
        Ok(m) if folder && !m.is_dir() => Some(format!("not a folder: {}", path.display())),
        Ok(m) if !folder && !m.is_file() => Some(format!("not a file: {}", path.display())),
        Ok(_) => None,
    };
    if let Some(p) = problem {
        out.push(Diagnostic::new("missing-path", p, &node.pos).label(format!(
            "paths are relative to the spec's folder ({})",
            shown(dir)
        )));
    }
    Some(path)
}

fn shown(dir: &Path) -> String {
    if dir.as_os_str().is_empty() {
        ".".to_string()
    } else {
        dir.display().to_string()
    }
}

fn requirement(
    r: &Node,
    i: usize,
    names: &Names,
    references: &[(String, String)],
    seen: &mut BTreeSet<String>,
    out: &mut Vec<Diagnostic>,
) -> Option<Requirement> {
    let what = match r.get("id").and_then(Node::as_str) {
        Some(id) => format!("requirement `{id}`"),
        None => format!("requirement #{}", i + 1),
    };
    if r.as_map().is_none() {
        validate_fields(r, COMMON, &what, out);
        return None;
    }
    let Some(check_node) = r.get("check") else {
        validate_fields(r, COMMON, &what, out);
        return None;
    };
    let Some(check) = check_node.as_str() else {
        validate_fields(r, COMMON, &what, out);
        return None;
    };
    let Some(kind) = registry::find(check) else {
        let kinds = registry::names();
        out.push(
            Diagnostic::new(
                "unknown-check",
                format!("unknown check `{check}` in {what}"),
                &check_node.pos,
            )
            .label(format!("expected one of: {}", diag::one_of(&kinds)))
            .did_you_mean(check, kinds.iter().copied()),
        );
        return None;
    };
    let before = out.len();
    validate_fields(r, &requirement_fields(kind), &what, out);
    let id = r.get("id").and_then(Node::as_str)?.to_string();
    if !seen.insert(id.clone()) {
        out.push(
            Diagnostic::new(
                "duplicate-id",
                format!("requirement id `{id}` is used twice"),
                &r.get("id")?.pos,
            )
            .label("ids must be unique: reports refer to requirements by id"),
        );
    }
    // The check's own validation runs even after a problem above, so that every problem is
    // reported at once; its result is used only when there was none.
    let schema_ok = out.len() == before;
    let run = (kind.build)(r, names, out);
    if !schema_ok {
        return None;
    }
    let run = run?;
    let clause = r.get("clause").and_then(Node::as_str).map(str::to_string);
    let reference = clause.as_ref().and_then(|c| {
        references
            .iter()
            .find(|(k, _)| k == c)
            .map(|(_, v)| v.clone())
    });
    Some(Requirement {
        id,
        title: r.get("title").and_then(Node::as_str)?.to_string(),
        clause,
        reference,
        check: kind.name,
        pass: r.get("pass").and_then(Node::as_str).map(str::to_string),
        run,
    })
}

/// The JSON Schema of a spec.
pub fn json_schema() -> serde_json::Value {
    let mut s = schema::object_schema(TOP);
    s["$schema"] = serde_json::json!("https://json-schema.org/draft/2020-12/schema");
    s["title"] = serde_json::json!("attest spec");
    s
}
