//! `manifest.json`: every file read and written, with SHA-256 and size, so that an auditor can
//! re-check a report folder (`attest verify`), also after moving it elsewhere.
//!
//! Outputs are named relative to the report folder. Inputs are named relative to the spec's
//! folder, and `input_root` says where that folder is, relative to the report folder; `verify`
//! follows it unless told where the inputs are (`--inputs`).

use std::path::{Component, Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::model::FileRecord;
use crate::data::hash::sha256_file;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Manifest {
    pub attest_version: String,
    pub generated_at: String,
    pub spec: FileRecord,
    pub seed: u64,
    /// The spec's folder, relative to the report folder (or absolute when no relative path
    /// exists, e.g. another drive).
    pub input_root: String,
    pub pseudonym_key: String,
    pub inputs: Vec<FileRecord>,
    /// DICOM folders read whole (relative to `input_root`): a file added to one changes the
    /// result as surely as a changed file, so `verify` looks for those too.
    #[serde(default)]
    pub folders: Vec<String>,
    /// Templates that replaced the built-in ones (`--templates`), paths as given.
    #[serde(default)]
    pub templates: Vec<FileRecord>,
    /// What identifies each model attest ran: the program and what it announced, or the
    /// network's architecture, weights SHA-256, pipeline (and its SHA-256), backend and
    /// precision (as in `report.json`).
    #[serde(default)]
    pub models: Vec<serde_json::Value>,
    pub outputs: Vec<FileRecord>,
}

/// A file whose content is not what the manifest says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Mismatch {
    /// `input` or `output`.
    pub role: &'static str,
    pub path: String,
    /// The recorded hash; None for a file added to a folder since the run.
    pub expected: Option<String>,
    /// The hash found now, or None when the file is missing or unreadable.
    pub found: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Verification {
    pub checked: usize,
    pub mismatches: Vec<Mismatch>,
}

#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    #[error("{path}: cannot read the manifest: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}: not a valid attest manifest: {source}")]
    Parse {
        path: String,
        source: serde_json::Error,
    },
}

/// Hash and size of a file, as a record named `name`.
pub fn record(path: &Path, name: &str) -> std::io::Result<FileRecord> {
    let (sha256, bytes) = sha256_file(path)?;
    Ok(FileRecord {
        path: name.to_string(),
        sha256,
        bytes,
    })
}

/// Reads `OUT/manifest.json` and re-hashes every file it names.
pub fn verify(out: &Path, inputs: Option<&Path>) -> Result<Verification, ManifestError> {
    let mpath = out.join("manifest.json");
    let shown = mpath.display().to_string();
    let text = std::fs::read_to_string(&mpath).map_err(|source| ManifestError::Read {
        path: shown.clone(),
        source,
    })?;
    let m: Manifest = serde_json::from_str(&text).map_err(|source| ManifestError::Parse {
        path: shown,
        source,
    })?;
    let root = match inputs {
        Some(p) => p.to_path_buf(),
        None => out.join(&m.input_root),
    };
    let mut v = Verification::default();
    let mut check = |role: &'static str, base: &Path, r: &FileRecord| {
        v.checked += 1;
        let found = sha256_file(&base.join(&r.path)).ok().map(|(h, _)| h);
        if found.as_deref() != Some(r.sha256.as_str()) {
            v.mismatches.push(Mismatch {
                role,
                path: r.path.clone(),
                expected: Some(r.sha256.clone()),
                found,
            });
        }
    };
    check("input", &root, &m.spec);
    for r in &m.inputs {
        check("input", &root, r);
    }
    for r in &m.outputs {
        check("output", out, r);
    }
    for r in &m.templates {
        check("template", Path::new(""), r);
    }
    let known: std::collections::HashSet<&str> = m.inputs.iter().map(|r| r.path.as_str()).collect();
    for folder in &m.folders {
        let base = root.join(folder);
        for e in walkdir::WalkDir::new(&base)
            .sort_by_file_name()
            .into_iter()
            .flatten()
        {
            if !e.file_type().is_file() {
                continue;
            }
            let rel = e
                .path()
                .strip_prefix(&base)
                .map(slashed)
                .unwrap_or_default();
            let path = format!("{folder}/{rel}");
            if !known.contains(path.as_str()) {
                v.mismatches.push(Mismatch {
                    role: "input",
                    path,
                    expected: None,
                    found: sha256_file(e.path()).ok().map(|(h, _)| h),
                });
            }
        }
    }
    Ok(v)
}

/// `to` relative to `from` (both made absolute), e.g. `../specs`; absolute if impossible.
pub fn relative_path(from: &Path, to: &Path) -> PathBuf {
    let abs = |p: &Path| {
        std::fs::canonicalize(p).unwrap_or_else(|_| {
            std::env::current_dir()
                .map(|d| d.join(p))
                .unwrap_or_else(|_| p.to_path_buf())
        })
    };
    let (from, to) = (abs(from), abs(to));
    let f: Vec<Component> = from.components().collect();
    let t: Vec<Component> = to.components().collect();
    if f.first() != t.first() {
        return to;
    }
    let common = f.iter().zip(&t).take_while(|(a, b)| a == b).count();
    let mut out = PathBuf::new();
    for _ in common..f.len() {
        out.push("..");
    }
    for c in &t[common..] {
        out.push(c);
    }
    if out.as_os_str().is_empty() {
        out.push(".");
    }
    out
}

/// A path as written in manifests and reports: `/` separators.
pub fn slashed(p: &Path) -> String {
    p.components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_paths_between_folders() {
        let d = tempfile::tempdir().unwrap();
        let a = d.path().join("a/out");
        let b = d.path().join("specs");
        std::fs::create_dir_all(&a).unwrap();
        std::fs::create_dir_all(&b).unwrap();
        assert_eq!(relative_path(&a, &b), PathBuf::from("../../specs"));
        assert_eq!(relative_path(&b, &b), PathBuf::from("."));
    }
}
