//! The report model: the single source of truth. `report.json` is this, serialised; HTML and
//! Markdown are templates over it. Field names are those of the spec where they overlap.

use serde::{Deserialize, Serialize};

use crate::checks::evidence::{Finding, Measurement, Status};

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub attest_version: String,
    /// RFC 3339 UTC time of the run: the only field that differs between identical runs.
    pub generated_at: String,
    pub spec: SpecInfo,
    pub seed: u64,
    pub verdict: Verdict,
    pub summary: Summary,
    pub requirements: Vec<RequirementResult>,
    /// Per data source: what was loaded.
    pub data: Vec<DataSummary>,
    pub inputs: Vec<FileRecord>,
    /// Models attest ran itself (`command:`), with what identifies them and what they gave.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub models: Vec<ModelRun>,
    /// Fingerprint of the key behind patient pseudonyms (tells keys apart, reveals nothing).
    pub pseudonym_key: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct SpecInfo {
    pub id: String,
    pub version: String,
    pub title: String,
    pub path: String,
    pub sha256: String,
}

/// The outcome of the whole run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Every requirement passed.
    Pass,
    /// Some requirement failed, or none failed but some could not be decided.
    Fail,
    /// Some requirement could not be evaluated (bad input or tool failure).
    Error,
}

impl Verdict {
    pub fn from_statuses(statuses: impl IntoIterator<Item = Status>) -> Verdict {
        match statuses.into_iter().max() {
            Some(Status::Error) => Verdict::Error,
            Some(Status::Fail) | Some(Status::Inconclusive) | None => Verdict::Fail,
            Some(Status::Pass) => Verdict::Pass,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Pass => "pass",
            Verdict::Fail => "fail",
            Verdict::Error => "error",
        }
    }

    /// The process exit code: 0 pass, 1 fail, 2 error.
    pub fn exit_code(self) -> i32 {
        match self {
            Verdict::Pass => 0,
            Verdict::Fail => 1,
            Verdict::Error => 2,
        }
    }
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Summary {
    pub pass: usize,
    pub fail: usize,
    pub inconclusive: usize,
    pub error: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct RequirementResult {
    pub id: String,
    pub title: String,
    pub clause: Option<String>,
    /// The full citation of `clause`, when it names an entry of the spec's `references`.
    pub reference: Option<String>,
    pub check: String,
    /// The pass criterion the requirement was judged by, as stated (plus a stated test's rule).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pass: Option<String>,
    pub status: Status,
    pub method: String,
    pub measurements: Vec<Measurement>,
    pub findings: Vec<Finding>,
}

#[derive(Debug, Clone, Serialize)]
pub struct DataSummary {
    pub name: String,
    pub kind: String,
    /// Path relative to the spec's folder.
    pub path: String,
    /// DICOM: instances indexed; table and predictions: rows.
    pub records: u64,
    /// DICOM: files that could not be read as DICOM.
    pub unreadable: u64,
    /// DICOM: counts by modality, manufacturer, institution and SOP class, and of patients,
    /// studies and series (the unreadable files are listed as findings).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub inventory: Option<crate::data::inventory::Inventory>,
    /// Label sets: the provenance summary (annotators, chain counts).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub labels: Option<crate::data::labels::summary::LabelsSummary>,
}

/// A file and its content hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileRecord {
    pub path: String,
    pub sha256: String,
    pub bytes: u64,
}

/// A model attest ran: what identifies it (the program, or the network with its weights,
/// pipeline, backend and precision), and the outputs it gave.
#[derive(Debug, Clone, Serialize)]
pub struct ModelRun {
    pub name: String,
    /// `command` (a vendor program) or `burn` (a network attest runs).
    pub kind: String,
    /// The program and its arguments (`command`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub command: Vec<String>,
    /// The name and version the program announced in its hello line (`command`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timeout_s: Option<f64>,
    /// How often the program was started: 1 plus one restart per stop (`command`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub starts: Option<usize>,
    /// Images sent through the network (`burn`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub images: Option<usize>,
    /// The network: architecture, weights (path, format, SHA-256, key map), pipeline (and its
    /// SHA-256), backend, precision and output rule (`burn`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub network: Option<crate::model::burn::declared::Identity>,
    /// Cases in its case table, those it scored (or segmented), and those without a score
    /// (not sent, or failed: each a finding).
    pub cases: usize,
    pub scored: usize,
    pub failed: usize,
    /// Where its scores are written in the output folder, and their SHA-256.
    pub output: String,
    pub output_sha256: String,
    /// The scores as CSV (`case_id,score`), written to `output`.
    #[serde(skip)]
    pub output_csv: String,
    /// Its scores under each perturbation `model.robustness` asked for (`burn`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub perturbed: Vec<PerturbedRun>,
    /// The label maps of a segmentation network, one NIfTI file per case (then `output` is
    /// their `SHA256SUMS` listing).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub masks: Vec<MaskOutput>,
}

/// One case's label map as written to the output folder.
#[derive(Debug, Clone, Serialize)]
pub struct MaskOutput {
    pub case: String,
    pub output: String,
    pub sha256: String,
    #[serde(skip)]
    pub bytes: Vec<u8>,
}

/// A model's run under one perturbation: its scores, written beside the clean ones.
#[derive(Debug, Clone, Serialize)]
pub struct PerturbedRun {
    /// The perturbation, as `model.robustness` labels it (`noise sigma=20`).
    pub perturbation: String,
    pub scored: usize,
    pub failed: usize,
    pub output: String,
    pub output_sha256: String,
    #[serde(skip)]
    pub output_csv: String,
}
