//! The DICOM index: one compact record per instance, read from headers only.
//!
//! Folders are walked with walkdir in sorted order; each file is read once, hashed (for the
//! manifest) and parsed up to, not including, Pixel Data (7FE0,0010) by dicom-object, in
//! parallel with rayon. Results keep the walk order, so the index is the same whatever the
//! thread count. A file that cannot be parsed becomes a `ReadFailure` with the reason; the
//! rest of the folder is still indexed. Patient IDs are replaced by keyed pseudonyms at
//! read time and never kept.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use dicom_core::Tag;
use dicom_dictionary_std::tags;
use dicom_object::file::ReadPreamble;
use dicom_object::{DefaultDicomObject, OpenFileOptions};
use rayon::prelude::*;

use super::hash::sha256_hex;
use super::pseudonym::PseudonymKey;

/// One instance's header fields that attest uses.
#[derive(Debug, Clone, PartialEq)]
pub struct Instance {
    /// Path relative to the indexed folder, with `/` separators.
    pub path: String,
    pub transfer_syntax: String,
    pub sop_class_uid: String,
    pub sop_instance_uid: String,
    pub study_uid: String,
    pub series_uid: String,
    /// Keyed pseudonym of PatientID (never the ID itself).
    pub patient: String,
    pub modality: String,
    pub manufacturer: String,
    pub model: String,
    pub institution: String,
    pub slice_thickness: Option<f64>,
    pub kvp: Option<f64>,
    /// Values of the extra attributes requested in `IndexOptions::extra`, in that order;
    /// `None` when absent. Multiple values are joined with `\` as in the file.
    pub extra: Vec<Option<String>>,
}

/// A file that could not be indexed.
#[derive(Debug, Clone, PartialEq)]
pub struct ReadFailure {
    pub path: String,
    pub reason: String,
}

/// A file read, for the manifest.
#[derive(Debug, Clone, PartialEq)]
pub struct FileEntry {
    pub path: String,
    pub sha256: String,
    pub bytes: u64,
}

#[derive(Debug, Clone, Default)]
pub struct IndexOptions {
    /// Attributes whose values are kept per instance (beyond the fixed fields).
    pub extra: Vec<Tag>,
    /// Show a progress bar (only drawn when stderr is a terminal).
    pub progress: bool,
}

#[derive(Debug, Clone)]
pub struct DicomIndex {
    pub root: PathBuf,
    pub extra: Vec<Tag>,
    pub instances: Vec<Instance>,
    pub failures: Vec<ReadFailure>,
    /// Every file read, indexed or not, in walk order.
    pub files: Vec<FileEntry>,
}

impl DicomIndex {
    /// The position of an extra attribute in `Instance::extra`.
    pub fn extra_slot(&self, tag: Tag) -> Option<usize> {
        self.extra.iter().position(|t| *t == tag)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum IndexError {
    #[error("{path}: no such folder")]
    NotFound { path: String },
    #[error("{path}: not a folder")]
    NotADirectory { path: String },
    #[error("{path}: cannot list: {source}")]
    Walk {
        path: String,
        source: walkdir::Error,
    },
}

/// Indexes every file under `root`.
pub fn index_folder(
    root: &Path,
    key: &PseudonymKey,
    opts: &IndexOptions,
) -> Result<DicomIndex, IndexError> {
    let shown = root.display().to_string();
    if !root.exists() {
        return Err(IndexError::NotFound { path: shown });
    }
    if !root.is_dir() {
        return Err(IndexError::NotADirectory { path: shown });
    }
    let mut paths = Vec::new();
    for entry in walkdir::WalkDir::new(root).sort_by_file_name() {
        let entry = entry.map_err(|source| IndexError::Walk {
            path: shown.clone(),
            source,
        })?;
        if entry.file_type().is_file() {
            paths.push(entry.into_path());
        }
    }
    let bar = if opts.progress && std::io::stderr().is_terminal() {
        let b = indicatif::ProgressBar::new(paths.len() as u64);
        b.set_style(
            indicatif::ProgressStyle::with_template(
                "indexing {pos}/{len} files {wide_bar} {per_sec} eta {eta}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        Some(b)
    } else {
        None
    };
    let results: Vec<(FileEntry, Result<Instance, String>)> = paths
        .par_iter()
        .map(|p| {
            let rel = relative(root, p);
            let r = read_one(p, &rel, key, &opts.extra);
            if let Some(b) = &bar {
                b.inc(1);
            }
            r
        })
        .collect();
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    let mut index = DicomIndex {
        root: root.to_path_buf(),
        extra: opts.extra.clone(),
        instances: Vec::with_capacity(results.len()),
        failures: Vec::new(),
        files: Vec::with_capacity(results.len()),
    };
    for (file, r) in results {
        match r {
            Ok(inst) => index.instances.push(inst),
            Err(reason) => index.failures.push(ReadFailure {
                path: file.path.clone(),
                reason,
            }),
        }
        index.files.push(file);
    }
    Ok(index)
}

fn relative(root: &Path, p: &Path) -> String {
    let rel = p.strip_prefix(root).unwrap_or(p);
    rel.components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}

fn read_one(
    path: &Path,
    rel: &str,
    key: &PseudonymKey,
    extra: &[Tag],
) -> (FileEntry, Result<Instance, String>) {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) => {
            let entry = FileEntry {
                path: rel.to_string(),
                sha256: String::new(),
                bytes: 0,
            };
            return (entry, Err(format!("cannot read: {e}")));
        }
    };
    let entry = FileEntry {
        path: rel.to_string(),
        sha256: sha256_hex(&bytes),
        bytes: bytes.len() as u64,
    };
    // dicom-object reports malformed input as errors; a panic inside the parser would be a bug
    // there, and must still not take the whole audit down.
    let parsed = std::panic::catch_unwind(|| parse_header(&bytes))
        .unwrap_or_else(|_| Err("the DICOM parser failed on this file".to_string()));
    let result = parsed.map(|obj| instance(&obj, rel, key, extra));
    (entry, result)
}

/// Parses a Part 10 file's meta group and data set up to Pixel Data.
pub fn parse_header(bytes: &[u8]) -> Result<DefaultDicomObject, String> {
    if bytes.is_empty() {
        return Err("empty file (0 bytes)".to_string());
    }
    let body = if bytes.len() >= 132 && &bytes[128..132] == b"DICM" {
        &bytes[128..]
    } else if bytes.starts_with(b"DICM") {
        bytes
    } else {
        return Err(
            "not a DICOM Part 10 file: no `DICM` prefix after the 128-byte preamble (PS3.10 §7.1)"
                .to_string(),
        );
    };
    OpenFileOptions::new()
        .read_preamble(ReadPreamble::Never)
        .read_until(tags::PIXEL_DATA)
        .from_reader(body)
        .map_err(|e| error_chain(&e))
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        let next = c.to_string();
        if !s.contains(&next) {
            s.push_str(": ");
            s.push_str(&next);
        }
        cur = c.source();
    }
    s
}

/// The text value of an attribute, trimmed of DICOM padding; None when absent.
pub fn text(obj: &DefaultDicomObject, tag: Tag) -> Option<String> {
    let e = obj.element_opt(tag).ok().flatten()?;
    let v = e.to_str().ok()?;
    Some(v.trim_matches(|c: char| c == ' ' || c == '\0').to_string())
}

fn number(obj: &DefaultDicomObject, tag: Tag) -> Option<f64> {
    text(obj, tag)?.split('\\').next()?.trim().parse().ok()
}

fn instance(obj: &DefaultDicomObject, rel: &str, key: &PseudonymKey, extra: &[Tag]) -> Instance {
    let s = |tag| text(obj, tag).unwrap_or_default();
    let patient_id = s(tags::PATIENT_ID);
    Instance {
        path: rel.to_string(),
        transfer_syntax: obj
            .meta()
            .transfer_syntax()
            .trim_end_matches('\0')
            .to_string(),
        sop_class_uid: s(tags::SOP_CLASS_UID),
        sop_instance_uid: s(tags::SOP_INSTANCE_UID),
        study_uid: s(tags::STUDY_INSTANCE_UID),
        series_uid: s(tags::SERIES_INSTANCE_UID),
        patient: if patient_id.is_empty() {
            String::new()
        } else {
            key.pseudonym(&patient_id)
        },
        modality: s(tags::MODALITY),
        manufacturer: s(tags::MANUFACTURER),
        model: s(tags::MANUFACTURER_MODEL_NAME),
        institution: s(tags::INSTITUTION_NAME),
        slice_thickness: number(obj, tags::SLICE_THICKNESS),
        kvp: number(obj, tags::KVP),
        extra: extra.iter().map(|t| text(obj, *t)).collect(),
    }
}
