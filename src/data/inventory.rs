//! The inventory of an indexed DICOM folder (`attest scan`): counts by modality, manufacturer,
//! institution and SOP class, and the files that could not be read.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;

use serde::Serialize;

use super::dicom_index::{DicomIndex, ReadFailure};

#[derive(Debug, Clone, Serialize)]
pub struct Inventory {
    pub files: usize,
    pub instances: usize,
    pub patients: usize,
    pub studies: usize,
    pub series: usize,
    pub by_modality: BTreeMap<String, usize>,
    pub by_manufacturer: BTreeMap<String, usize>,
    pub by_institution: BTreeMap<String, usize>,
    pub by_sop_class: BTreeMap<String, usize>,
    pub unreadable: Vec<Unreadable>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Unreadable {
    pub path: String,
    pub reason: String,
}

impl From<&ReadFailure> for Unreadable {
    fn from(f: &ReadFailure) -> Self {
        Unreadable {
            path: f.path.clone(),
            reason: f.reason.clone(),
        }
    }
}

fn label(s: &str) -> String {
    if s.is_empty() {
        "(absent)".to_string()
    } else {
        s.to_string()
    }
}

impl Inventory {
    pub fn of(index: &DicomIndex) -> Self {
        let mut inv = Inventory {
            files: index.files.len(),
            instances: index.instances.len(),
            patients: 0,
            studies: 0,
            series: 0,
            by_modality: BTreeMap::new(),
            by_manufacturer: BTreeMap::new(),
            by_institution: BTreeMap::new(),
            by_sop_class: BTreeMap::new(),
            unreadable: index.failures.iter().map(Unreadable::from).collect(),
        };
        let mut patients = BTreeSet::new();
        let mut studies = BTreeSet::new();
        let mut series = BTreeSet::new();
        for i in &index.instances {
            *inv.by_modality.entry(label(&i.modality)).or_default() += 1;
            *inv.by_manufacturer
                .entry(label(&i.manufacturer))
                .or_default() += 1;
            *inv.by_institution.entry(label(&i.institution)).or_default() += 1;
            *inv.by_sop_class.entry(label(&i.sop_class_uid)).or_default() += 1;
            patients.insert(i.patient.as_str());
            studies.insert(i.study_uid.as_str());
            series.insert(i.series_uid.as_str());
        }
        inv.patients = patients.len();
        inv.studies = studies.len();
        inv.series = series.len();
        inv
    }

    /// Plain-text tables for the terminal.
    pub fn to_text(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "{} files: {} instances, {} unreadable; {} patients, {} studies, {} series",
            self.files,
            self.instances,
            self.unreadable.len(),
            self.patients,
            self.studies,
            self.series
        );
        for (title, map) in [
            ("modality", &self.by_modality),
            ("manufacturer", &self.by_manufacturer),
            ("institution", &self.by_institution),
            ("SOP class", &self.by_sop_class),
        ] {
            let _ = writeln!(s, "\nby {title}:");
            let width = map.keys().map(String::len).max().unwrap_or(0);
            for (k, n) in map {
                let _ = writeln!(s, "  {k:<width$}  {n:>7}");
            }
        }
        if !self.unreadable.is_empty() {
            let _ = writeln!(s, "\nunreadable files:");
            for u in &self.unreadable {
                let _ = writeln!(s, "  {}: {}", u.path, u.reason);
            }
        }
        s
    }
}
