//! Check kinds: each turns a requirement's parameters and the loaded data into evidence.
//!
//! One file per kind, with its user documentation beside it (`<kind>.md`, shown by
//! `attest explain`); `registry.rs` is the only table of kinds. Checks never print and never
//! read files themselves: the runner loads each data source once into a `Context`.

use std::collections::BTreeMap;

use dicom_core::Tag;

pub mod classification;
pub mod dataset_composition;
pub mod dataset_independence;
pub mod deid_audit;
pub mod detection;
pub mod dicom_acquisition;
pub mod dicom_attributes;
pub mod dicom_common;
pub mod dicom_conformance;
pub mod evidence;
pub mod judge;
pub mod labels_agreement;
pub mod labels_ai_assist;
pub mod labels_common;
pub mod labels_provenance;
pub mod labels_qc;
pub mod labels_qualification;
pub mod labels_reads;
pub mod labels_reference;
pub mod model_repeatability;
pub mod model_robustness;
pub mod params;
pub mod registry;
pub mod segmentation;

use crate::data::dicom_index::DicomIndex;
use crate::data::predictions::Predictions;
use crate::data::table::CaseTable;
use crate::spec::diag::{one_of, Diagnostic};
use crate::spec::yaml::Node;
use evidence::{Evidence, Finding};

/// A data source or model as loaded: the value if it could be used, and what loading found.
#[derive(Debug, Clone)]
pub struct Loaded<T> {
    pub value: Option<T>,
    pub findings: Vec<Finding>,
}

/// A loaded data source.
#[derive(Debug, Clone)]
pub enum DataSet {
    Dicom(Loaded<DicomIndex>),
    Table(Loaded<CaseTable>),
    Labels(Loaded<crate::data::labels::Labels>),
    /// Reference lesions and the findings to ignore.
    Lesions(Loaded<Lesions>),
    /// A folder of reference masks.
    Masks(Loaded<crate::data::masks::MaskSet>),
}

/// A reference lesion source as loaded.
#[derive(Debug, Clone)]
pub struct Lesions {
    pub lesions: crate::data::detections::Points,
    pub excluded: Option<crate::data::detections::Points>,
}

/// A model's second run: each sampled case and its outcome (a score, or why it failed).
pub type Rerun = Vec<(String, Result<f64, String>)>;

/// Everything the checks may read, loaded once per run.
#[derive(Debug, Default)]
pub struct Context {
    pub data: BTreeMap<String, DataSet>,
    pub models: BTreeMap<String, Loaded<Predictions>>,
    /// Detection candidates, by model name.
    pub detections: BTreeMap<String, Loaded<crate::data::detections::Points>>,
    /// Segmentation masks, by model name.
    pub masks: BTreeMap<String, Loaded<crate::data::masks::MaskSet>>,
    pub seed: u64,
    /// Reference standards derived from label sets, by data source name.
    pub references: BTreeMap<String, crate::data::labels::reference::Reference>,
    /// Second runs of models on a seeded sample of cases, by [`repeat_key`]: each sampled case
    /// and its second outcome (a score, or why it failed).
    pub repeats: BTreeMap<String, Loaded<Rerun>>,
    /// Whole runs of models under declared perturbations: by model name, then by the
    /// perturbation's label (`noise sigma=20`).
    pub perturbed: BTreeMap<String, BTreeMap<String, Loaded<Predictions>>>,
    /// The key of patient pseudonyms, for identifiers read from case tables.
    pub key: Option<crate::data::pseudonym::PseudonymKey>,
}

/// What a check reads, so the runner loads only that (and indexes the attributes it needs).
#[derive(Debug, Clone, Default)]
pub struct Uses {
    pub data: Vec<String>,
    pub models: Vec<String>,
    /// DICOM attributes whose values the index must keep, per data source name.
    pub dicom_attributes: Vec<(String, Tag)>,
    /// DICOM sources whose pixel data must be fingerprinted.
    pub pixels: Vec<String>,
    /// Per-instance audits to run while a DICOM source is indexed, by source name.
    pub audits: Vec<(
        String,
        std::sync::Arc<dyn crate::data::dicom_index::InstanceAudit>,
    )>,
    /// Further files the check reads (hashed into the manifest like every input).
    pub files: Vec<std::path::PathBuf>,
    /// Models to run a second time on a seeded sample of this many cases (repeatability), on
    /// the same backend (`None`) or on another one (a network's, by name).
    pub repeats: Vec<(String, usize, Option<String>)>,
    /// Models to run again under each of these perturbations (robustness).
    pub perturbations: Vec<(String, crate::model::perturb::Perturbation)>,
}

/// The names a spec declares, so checks can validate their references while being built.
#[derive(Debug, Clone, Default)]
pub struct Names {
    /// The spec's folder, against which paths in parameters are resolved.
    pub dir: std::path::PathBuf,
    pub dicom: Vec<String>,
    pub tables: Vec<String>,
    /// Label-set sources.
    pub labels: Vec<String>,
    /// Reference standards derived from label sets (also usable as tables).
    pub references: Vec<String>,
    /// Reference lesion sources (LUNA16).
    pub lesions: Vec<String>,
    /// Models with case scores (`predictions`).
    pub models: Vec<String>,
    /// Models with detection candidates (`detections`).
    pub detection_models: Vec<String>,
    /// Models with segmentation masks (`masks`).
    pub mask_models: Vec<String>,
    /// Models attest runs itself that give case scores (`command:`, or an `architecture:`
    /// classifier).
    pub run_models: Vec<String>,
    /// Of those, the networks attest runs in-process (`architecture:`), with whether their
    /// pipeline has a window (JPEG perturbations need one).
    pub burn_models: BTreeMap<String, bool>,
    /// Reference mask folders.
    pub masks: Vec<String>,
    /// The structures each reference mask folder names (`structures:`), by source name.
    pub mask_structures: BTreeMap<String, Vec<String>>,
    /// The structures each mask model names (`structures:`), by model name.
    pub mask_model_structures: BTreeMap<String, Vec<String>>,
}

/// The case table `name` as loaded: its loading findings go to `findings`; None (with a
/// `missing-data` finding when nothing was loaded under that name) when there is no table.
pub fn case_table<'a>(
    cx: &'a Context,
    name: &str,
    findings: &mut Vec<Finding>,
) -> Option<&'a crate::data::table::CaseTable> {
    match cx.data.get(name) {
        Some(DataSet::Table(t)) => {
            findings.extend(t.findings.iter().cloned());
            t.value.as_ref()
        }
        _ => {
            findings.push(Finding::error(
                "missing-data",
                format!("no case table `{name}` was loaded"),
                name.to_string(),
            ));
            None
        }
    }
}

/// The index of the label column `name` of the truth table `truth`; None with an
/// `unknown-column` finding listing the columns there are.
pub fn label_column(
    table: &crate::data::table::CaseTable,
    truth: &str,
    name: &str,
    findings: &mut Vec<Finding>,
) -> Option<usize> {
    let column = table.column(name);
    if column.is_none() {
        findings.push(Finding::error(
            "unknown-column",
            format!(
                "the truth table has no `{name}` column (columns are: {})",
                table.columns.join(", ")
            ),
            truth.to_string(),
        ));
    }
    column
}

/// The 0/1 label of a truth-table row; anything else is an `invalid-label` finding (subject
/// `<table>:<line>`) and None, so the case is left out rather than guessed.
pub fn binary_label(
    table: &crate::data::table::CaseTable,
    table_name: &str,
    row: usize,
    column: (usize, &str),
    findings: &mut Vec<Finding>,
) -> Option<bool> {
    match table.get(row, column.0) {
        "1" => Some(true),
        "0" => Some(false),
        other => {
            findings.push(Finding::error(
                "invalid-label",
                format!(
                    "case `{}`: label `{other}` in `{}` is not 0 or 1",
                    table.id(row),
                    column.1
                ),
                format!("{table_name}:{}", table.lines[row]),
            ));
            None
        }
    }
}

/// The key of a model's second run in [`Context::repeats`]: the model's name, and the backend
/// it ran on when a check asked for another one (`cnn@ndarray`).
pub fn repeat_key(model: &str, backend: Option<&str>) -> String {
    match backend {
        Some(b) => format!("{model}@{b}"),
        None => model.to_string(),
    }
}

/// A configured check, ready to evaluate.
pub trait Check: Send + Sync + std::fmt::Debug {
    /// The data sources and models this check reads.
    fn uses(&self) -> Uses;
    /// Evaluates the requirement. Never panics on bad data: defects become findings.
    fn evaluate(&self, cx: &Context) -> Evidence;
    /// What `attest lint` can tell before a run: the sample a goal needs (default: nothing).
    fn plan(&self) -> Option<Plan> {
        None
    }
    /// The criterion the requirement is judged by, when it differs from its `pass:` text (e.g.
    /// a stated test adds `p_adjusted <= alpha`).
    fn criterion(&self) -> Option<String> {
        None
    }
}

/// A sample-size question a requirement raises: does `table` hold enough cases of `class` to
/// show the proportion's lower bound exceeds `goal`, if the true proportion is `expected`?
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub metric: String,
    pub table: String,
    pub label_column: String,
    /// The label value of the cases that count (1 for sensitivity, 0 for specificity).
    pub class: &'static str,
    pub by: Vec<String>,
    pub goal: f64,
    pub expected: f64,
    pub power: f64,
    /// One-sided level: (1 − CI level) / 2.
    pub alpha: f64,
}

/// Checks that `name` (the value of `key`) is one of `known`.
pub fn reference(
    node: &Node,
    key: &str,
    name: &str,
    known: &[String],
    what: &str,
    out: &mut Vec<Diagnostic>,
) {
    if known.iter().any(|k| k == name) {
        return;
    }
    let pos = node.get(key).map_or(node.pos.clone(), |n| n.pos.clone());
    let names: Vec<&str> = known.iter().map(String::as_str).collect();
    out.push(
        Diagnostic::new("unknown-reference", format!("`{name}` is not {what}"), &pos)
            .label(if names.is_empty() {
                "none is declared".to_string()
            } else {
                format!("expected one of: {}", one_of(&names))
            })
            .did_you_mean(name, names.iter().copied()),
    );
}
