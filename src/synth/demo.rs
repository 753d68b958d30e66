//! The demo dataset (`testdata/demo/`): 200 chest-CT cases from four sites, a case table, a
//! model's scores, and a list of the defects planted in the DICOM.
//!
//! Each case is one patient with one study holding one series of two 16 × 16 slices, under
//! `dicom/site-<S>/<StudyID>/SE<SeriesNumber>/<InstanceNumber>.dcm`. Folder names are not the
//! link between table and images: `cases.csv` names each case's StudyInstanceUID, as a real
//! submission would. Sites differ in manufacturer, models, institutions, kernels and slice
//! thickness. Labels are exactly 40% positive per site; positives carry a faint blob in both
//! slices. Scores follow a binormal model (latent N(μ, 1) per class, score = logistic(1.5 ×
//! latent), so 0.5 is the latent midpoint): AUC about 0.93 and sensitivity at 0.5 about 0.9
//! at three sites, clearly worse at site D (Hanley & McNeil 1982: AUC = Φ(d′/√2)).
//!
//! Planted non-conformities: three series with SliceThickness 5 mm, one MR series, one
//! instance without PixelSpacing; and three unreadable files (truncated, text, empty) placed
//! beside good ones. `DEFECTS.md` lists every one with the finding attest should report, so
//! tests assert against the file, not against numbers copied by hand.

use std::collections::BTreeSet;
use std::fmt;
use std::fmt::Write as _;
use std::fs;
use std::path::Path;

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::annotation::{write_demo_labels, LabelCase, LabelSummary};
use super::broken::{write_empty, write_not_dicom, write_truncated};
use super::ct::{
    ds, write_bytes, write_ct, CtInstance, HeaderProfile, Nodule, CT_IMAGE_STORAGE,
    MR_IMAGE_STORAGE,
};
use super::uid::synthetic_uid;
use super::SynthError;

/// The seed the committed demo data were written with.
pub const DEMO_SEED: u64 = 20261126;

/// The defect list's file name, inside the demo folder.
pub const DEFECTS_FILE: &str = "DEFECTS.md";

/// The first line of `DEFECTS.md`: marks a folder as written by [`write_demo`], so it may be
/// replaced.
const DEFECTS_TITLE: &str = "# Deliberate defects in the demo data";

/// The outputs of [`write_demo`], relative to its folder.
const OUTPUTS: [&str; 6] = [
    "dicom",
    "cases.csv",
    "predictions.csv",
    "predicate.csv",
    DEFECTS_FILE,
    "labels",
];

pub(super) struct Site {
    pub(super) code: &'static str,
    pub(super) cases: usize,
    positives: usize,
    manufacturer: &'static str,
    models: [&'static str; 2],
    institutions: &'static [&'static str],
    kernels: [&'static str; 2],
    thicknesses: &'static [f64],
    /// Latent mean of positives and of negatives (both sd 1).
    mean_pos: f64,
    mean_neg: f64,
}

pub(super) const SITES: [Site; 4] = [
    Site {
        code: "A",
        cases: 60,
        positives: 24,
        manufacturer: "GE MEDICAL SYSTEMS",
        models: ["Revolution CT", "LightSpeed VCT"],
        institutions: &["SYNTHETIC NORTH HOSPITAL", "SYNTHETIC NORTH CLINIC"],
        kernels: ["LUNG", "STANDARD"],
        thicknesses: &[1.25, 1.25, 1.0],
        mean_pos: 1.6,
        mean_neg: -0.8,
    },
    Site {
        code: "B",
        cases: 60,
        positives: 24,
        manufacturer: "SIEMENS",
        models: ["SOMATOM Force", "SOMATOM Definition AS+"],
        institutions: &["SYNTHETIC EAST MEDICAL CENTRE"],
        kernels: ["Br64", "B70f"],
        thicknesses: &[1.0, 1.5, 1.0],
        mean_pos: 1.6,
        mean_neg: -0.8,
    },
    Site {
        code: "C",
        cases: 50,
        positives: 20,
        manufacturer: "Philips",
        models: ["IQon Spectral CT", "Brilliance 64"],
        institutions: &["SYNTHETIC SOUTH HOSPITAL", "SYNTHETIC SOUTH OUTPATIENTS"],
        kernels: ["YC", "L"],
        thicknesses: &[1.0, 2.0, 1.0],
        mean_pos: 1.6,
        mean_neg: -0.8,
    },
    Site {
        code: "D",
        cases: 30,
        positives: 12,
        manufacturer: "TOSHIBA",
        models: ["Aquilion ONE", "Aquilion PRIME"],
        institutions: &["SYNTHETIC WEST COUNTY HOSPITAL"],
        kernels: ["FC52", "FC07"],
        thicknesses: &[2.0, 1.0, 2.0],
        mean_pos: 0.9,
        mean_neg: -0.5,
    },
];

/// A deliberate defect and its file, relative to the demo folder with `/` separators.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Defect {
    pub kind: DefectKind,
    pub path: String,
}

/// What is wrong with a defective file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum DefectKind {
    /// A readable CT instance with SliceThickness 5 mm (thin-slice requirement: ≤ 2.5 mm).
    ThickSlice,
    /// A readable instance with Modality MR (and MR Image Storage) in a CT dataset.
    WrongModality,
    /// A readable CT instance without PixelSpacing.
    MissingPixelSpacing,
    /// A Part 10 file cut off inside its data set, before Pixel Data.
    Truncated,
    /// A text file named `.dcm`.
    NotDicom,
    /// A zero-length file named `.dcm`.
    EmptyFile,
}

impl DefectKind {
    /// One line for `DEFECTS.md`.
    pub fn description(self) -> &'static str {
        match self {
            DefectKind::ThickSlice => "SliceThickness 5 mm",
            DefectKind::WrongModality => "Modality MR (MR Image Storage) in a CT dataset",
            DefectKind::MissingPixelSpacing => "PixelSpacing absent",
            DefectKind::Truncated => {
                "a valid instance cut off inside its header, before Pixel Data"
            }
            DefectKind::NotDicom => "a text file named .dcm",
            DefectKind::EmptyFile => "a zero-length file",
        }
    }

    /// The finding the demo spec's `DATA-CT` requirement should report: the code in
    /// backticks, then the attribute keyword where there is one.
    pub fn expected_finding(self) -> &'static str {
        match self {
            DefectKind::ThickSlice => "`value-out-of-range` (SliceThickness)",
            DefectKind::WrongModality => "`value-not-allowed` (Modality)",
            DefectKind::MissingPixelSpacing => "`missing-attribute` (PixelSpacing)",
            DefectKind::Truncated | DefectKind::NotDicom | DefectKind::EmptyFile => {
                "`unreadable-dicom`"
            }
        }
    }

    /// Whether the file cannot be read as DICOM at all.
    pub fn is_unreadable(self) -> bool {
        matches!(
            self,
            DefectKind::Truncated | DefectKind::NotDicom | DefectKind::EmptyFile
        )
    }
}

/// Cases, positives and equipment of one site.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SiteSummary {
    pub code: String,
    pub manufacturer: String,
    pub cases: usize,
    pub positives: usize,
}

/// What [`write_demo`] wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DemoSummary {
    pub seed: u64,
    pub cases: usize,
    pub positives: usize,
    pub sites: Vec<SiteSummary>,
    /// Readable DICOM instances under `dicom/` (conforming or not).
    pub instances: usize,
    /// All files under `dicom/`, the unreadable ones included.
    pub files: usize,
    /// Total size of the files under `dicom/`.
    pub dicom_bytes: u64,
    /// Every planted defect, sorted by kind then path.
    pub defects: Vec<Defect>,
    /// The label set written under `labels/`.
    pub labels: Option<LabelSummary>,
}

impl fmt::Display for DemoSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "seed {}: {} cases ({} positive), {} files under dicom/ ({} readable instances, {} bytes)",
            self.seed, self.cases, self.positives, self.files, self.instances, self.dicom_bytes
        )?;
        for s in &self.sites {
            writeln!(
                f,
                "  site {}: {} cases ({} positive), {}",
                s.code, s.cases, s.positives, s.manufacturer
            )?;
        }
        for d in &self.defects {
            writeln!(f, "  defect {:?}: {}", d.kind, d.path)?;
        }
        if let Some(l) = &self.labels {
            writeln!(
                f,
                "labels/: {} events ({} AI pre-annotations), {} masks",
                l.events, l.ai_preannotations, l.masks
            )?;
            for (code, id) in &l.defects {
                writeln!(f, "  label defect {code}: event {id}")?;
            }
        }
        Ok(())
    }
}

/// One case of the plan: its table row, score and files.
struct Case {
    case_id: String,
    label: bool,
    patient_id: String,
    site: usize,
    sex: &'static str,
    age: u32,
    study_uid: String,
    score: f64,
    /// The case's series folder, relative to the demo folder.
    series_dir: String,
    slices: Vec<CtInstance>,
}

/// Writes the demo dataset into `dir`: `dicom/`, `cases.csv`, `predictions.csv` (the
/// candidate model), `predicate.csv` (the predicate device) and `DEFECTS.md`. The same seed always writes the same bytes.
///
/// A previous demo output in `dir` (recognised by its `DEFECTS.md`) is replaced; any other
/// existing output file is left alone and the call fails with [`SynthError::NotEmpty`].
pub fn write_demo(dir: &Path, seed: u64) -> Result<DemoSummary, SynthError> {
    // `remove_demo` runs only when an output exists, and refuses folders it did not write.
    if OUTPUTS.iter().any(|o| dir.join(o).exists()) && !remove_demo(dir)? {
        return Err(SynthError::NotEmpty {
            path: dir.to_path_buf(),
        });
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut cases = plan_cases(seed, &mut rng);
    let defects = plant_defects(&mut rng, &mut cases);

    let mut summary = DemoSummary {
        seed,
        cases: cases.len(),
        positives: cases.iter().filter(|c| c.label).count(),
        sites: SITES
            .iter()
            .enumerate()
            .map(|(i, s)| SiteSummary {
                code: s.code.to_string(),
                manufacturer: s.manufacturer.to_string(),
                cases: cases.iter().filter(|c| c.site == i).count(),
                positives: cases.iter().filter(|c| c.site == i && c.label).count(),
            })
            .collect(),
        instances: 0,
        files: 0,
        dicom_bytes: 0,
        defects: Vec::new(),
        labels: None,
    };
    for case in &cases {
        for slice in &case.slices {
            let rel = format!("{}/{}.dcm", case.series_dir, slice.instance_number);
            summary.dicom_bytes += write_ct(slice, &dir.join(&rel))?;
            summary.instances += 1;
            summary.files += 1;
        }
    }
    for (kind, case_index) in &defects.broken {
        let case = &cases[*case_index];
        let path = match kind {
            DefectKind::NotDicom => format!("{}/export-log.dcm", case.series_dir),
            _ => format!("{}/{}.dcm", case.series_dir, case.slices.len() + 1),
        };
        let target = dir.join(&path);
        summary.dicom_bytes += match kind {
            DefectKind::Truncated => write_truncated(&next_slice(seed, case), &target)?,
            DefectKind::NotDicom => write_not_dicom(&target)?,
            _ => write_empty(&target)?,
        };
        summary.files += 1;
        summary.defects.push(Defect { kind: *kind, path });
    }
    summary.defects.extend(defects.readable);
    summary.defects.sort();

    write_bytes(&dir.join("cases.csv"), &cases_csv(&cases))?;
    write_bytes(&dir.join("predictions.csv"), &predictions_csv(&cases))?;
    write_bytes(&dir.join("predicate.csv"), &predicate_csv(seed, &cases))?;
    write_bytes(
        &dir.join(DEFECTS_FILE),
        defects_md(&summary, seed).as_bytes(),
    )?;
    let label_cases: Vec<LabelCase> = cases
        .iter()
        .map(|c| {
            let s = &c.slices[0];
            let ps = s.pixel_spacing.map_or(1.0, |p| p[0]);
            LabelCase {
                case_id: c.case_id.clone(),
                positive: c.label,
                nodule: s.nodule.map(|n| (n.row, n.col, n.sigma)),
                spacing: [ps, ps, s.slice_thickness.unwrap_or(1.0)],
            }
        })
        .collect();
    summary.labels = Some(write_demo_labels(dir, &label_cases, seed)?);
    Ok(summary)
}

/// Removes a previous demo output from `dir` (`dicom/`, the CSVs, `DEFECTS.md`) if `dir`
/// holds one, recognised by the first line of its `DEFECTS.md`; returns whether it did.
/// Nothing else in `dir` is touched.
pub fn remove_demo(dir: &Path) -> Result<bool, SynthError> {
    let marker = dir.join(DEFECTS_FILE);
    let ours = fs::read_to_string(&marker)
        .map(|text| text.starts_with(DEFECTS_TITLE))
        .unwrap_or(false);
    if !ours {
        return Ok(false);
    }
    for output in OUTPUTS {
        let path = dir.join(output);
        let io = |source| SynthError::Io {
            path: path.clone(),
            source,
        };
        if path.is_dir() {
            fs::remove_dir_all(&path).map_err(io)?;
        } else if path.exists() {
            fs::remove_file(&path).map_err(io)?;
        }
    }
    Ok(true)
}

/// Draws every case: demographics, equipment, acquisition, label, pixels and score.
fn plan_cases(seed: u64, rng: &mut ChaCha8Rng) -> Vec<Case> {
    let mut patient_numbers = BTreeSet::new();
    let mut study_numbers = BTreeSet::new();
    let mut cases = Vec::new();
    for (site_index, site) in SITES.iter().enumerate() {
        // Exactly `positives` labels per site, in random order.
        let mut labels: Vec<bool> = (0..site.cases).map(|i| i < site.positives).collect();
        shuffle(rng, &mut labels);
        for label in labels {
            let n = cases.len() + 1;
            let case_id = format!("C{n:04}");
            let key = format!("demo/{case_id}");
            let patient = Patient::draw(rng, &mut patient_numbers, n);
            let study_number = unique(rng, &mut study_numbers, 100_000, 999_999);
            let base = draw_series(rng, seed, &key, site, &patient, study_number, label);
            let latent = normal(rng) + if label { site.mean_pos } else { site.mean_neg };
            let score = 1.0 / (1.0 + (-1.5 * latent).exp());
            let slices = (1..=2)
                .map(|k| slice_of(seed, &key, &base, k, rng.random::<u64>()))
                .collect();
            cases.push(Case {
                case_id,
                label,
                patient_id: base.patient_id.clone(),
                site: site_index,
                sex: patient.sex,
                age: patient.age,
                study_uid: base.study_instance_uid.clone(),
                score,
                series_dir: format!("dicom/{}", series_dir(site, &base)),
                slices,
            });
        }
    }
    cases
}

/// A synthetic patient: identifiers and demographics.
pub(super) struct Patient {
    /// PatientID, `SYN1` and four digits, unique within a dataset.
    pub id: String,
    /// PatientName, `SYNTH^P` and the patient's sequence number.
    pub name: String,
    pub sex: &'static str,
    /// Age in years at the study date.
    pub age: u32,
}

impl Patient {
    /// Draws the `n`th patient (1-based) of a dataset; `seen` keeps PatientIDs unique.
    pub(super) fn draw(rng: &mut ChaCha8Rng, seen: &mut BTreeSet<u32>, n: usize) -> Patient {
        let number = unique(rng, seen, 0, 9999);
        Patient {
            id: format!("SYN1{number:04}"),
            name: format!("SYNTH^P{n:04}"),
            sex: if rng.random_bool(0.5) { "F" } else { "M" },
            age: rng.random_range(40..=84),
        }
    }
}

/// Draws a chest-CT series of `patient` at `site`, as its first slice: dates, equipment,
/// acquisition and (for a positive case) a nodule. UIDs derive from `seed` and `key`.
pub(super) fn draw_series(
    rng: &mut ChaCha8Rng,
    seed: u64,
    key: &str,
    site: &Site,
    patient: &Patient,
    study_number: u32,
    nodule: bool,
) -> CtInstance {
    let (year, month, day) = (
        rng.random_range(2023..=2025_u32),
        rng.random_range(1..=12_u32),
        rng.random_range(1..=28_u32),
    );
    // Born earlier in the year than the study date, so PatientAge is exact.
    let birth_month = rng.random_range(1..=month);
    let birth_day = if birth_month < month {
        rng.random_range(1..=28_u32)
    } else {
        rng.random_range(1..=day)
    };
    let time = format!(
        "{:02}{:02}{:02}",
        rng.random_range(7..=19_u32),
        rng.random_range(0..=59_u32),
        rng.random_range(0..=59_u32)
    );
    let model = pick(rng, &site.models);
    let institution = pick(rng, site.institutions);
    let kernel = pick(rng, &site.kernels);
    let thickness = pick(rng, site.thicknesses);
    let fov = pick(rng, &[320.0, 340.0, 350.0, 360.0, 380.0, 400.0]);
    // The tiny image stands for a 512 × 512 reconstruction of the field of view: its header
    // carries that reconstruction's spacing, as a real chest CT would.
    let spacing = fov / 512.0;
    let kvp = pick(rng, &[100.0, 120.0, 120.0, 120.0, 140.0]);
    let series_number = rng.random_range(2..=5_u32);
    let station = rng.random_range(1..=3_u32);
    let z0 = -f64::from(rng.random_range(80..=220_u32));
    let nodule = nodule.then(|| {
        let angle = rng.random::<f64>() * std::f64::consts::TAU;
        let radius = rng.random::<f64>() * 3.0;
        Nodule {
            row: 7.5 + radius * angle.sin(),
            col: 7.5 + radius * angle.cos(),
            sigma: rng.random_range(1.0..1.6),
            contrast_hu: rng.random_range(220.0..350.0),
        }
    });
    CtInstance {
        sop_class_uid: CT_IMAGE_STORAGE.to_string(),
        sop_instance_uid: synthetic_uid(seed, &format!("{key}/sop/1")),
        study_instance_uid: synthetic_uid(seed, &format!("{key}/study")),
        series_instance_uid: synthetic_uid(seed, &format!("{key}/series")),
        frame_of_reference_uid: synthetic_uid(seed, &format!("{key}/frame-of-reference")),
        patient_name: patient.name.clone(),
        patient_id: patient.id.clone(),
        patient_sex: patient.sex.to_string(),
        patient_age: format!("{:03}Y", patient.age),
        patient_birth_date: format!("{}{birth_month:02}{birth_day:02}", year - patient.age),
        study_date: format!("{year}{month:02}{day:02}"),
        study_time: time,
        study_id: format!("S{study_number}"),
        modality: "CT".to_string(),
        manufacturer: site.manufacturer.to_string(),
        manufacturer_model_name: model.to_string(),
        institution_name: institution.to_string(),
        station_name: format!("SYN{}CT{station:02}", site.code),
        series_description: format!("CHEST {} {kernel}", ds(thickness)),
        slice_thickness: Some(thickness),
        pixel_spacing: Some([spacing, spacing]),
        kvp: Some(kvp),
        convolution_kernel: Some(kernel.to_string()),
        image_position_patient: [-fov / 2.0, -fov / 2.0, z0],
        image_orientation_patient: [1.0, 0.0, 0.0, 0.0, 1.0, 0.0],
        instance_number: 1,
        series_number,
        rows: 16,
        columns: 16,
        pixel_representation: 0,
        rescale_intercept: -1024.0,
        rescale_slope: 1.0,
        texture_seed: 0,
        nodule,
        profile: HeaderProfile::Compact,
    }
}

/// A series' folder relative to the DICOM root: `site-<S>/<StudyID>/SE<n>`.
pub(super) fn series_dir(site: &Site, series: &CtInstance) -> String {
    format!(
        "site-{}/{}/SE{}",
        site.code, series.study_id, series.series_number
    )
}

/// Slice `k` (1-based) of a series: its own SOP Instance UID, number, position and texture.
pub(super) fn slice_of(
    seed: u64,
    key: &str,
    base: &CtInstance,
    k: u32,
    texture_seed: u64,
) -> CtInstance {
    let thickness = base.slice_thickness.unwrap_or(1.0);
    let mut slice = base.clone();
    slice.sop_instance_uid = synthetic_uid(seed, &format!("{key}/sop/{k}"));
    slice.instance_number = k;
    slice.image_position_patient[2] = base.image_position_patient[2] + f64::from(k - 1) * thickness;
    slice.texture_seed = texture_seed;
    slice
}

/// The slice after a case's last one (the instance a truncated transfer would have carried).
fn next_slice(seed: u64, case: &Case) -> CtInstance {
    let last = case.slices.last().expect("every case has slices");
    let k = last.instance_number + 1;
    let base = &case.slices[0];
    slice_of(
        seed,
        &format!("demo/{}", case.case_id),
        base,
        k,
        last.texture_seed ^ 1,
    )
}

/// Defects planted in the plan.
struct Planted {
    /// Readable instances made non-conforming, with their paths.
    readable: Vec<Defect>,
    /// Unreadable files to write, each beside the series of a case.
    broken: Vec<(DefectKind, usize)>,
}

/// Chooses eight distinct cases and plants the defects: three thick-slice series, one MR
/// series, one instance without PixelSpacing, and three hosts for unreadable files.
fn plant_defects(rng: &mut ChaCha8Rng, cases: &mut [Case]) -> Planted {
    let mut order: Vec<usize> = (0..cases.len()).collect();
    shuffle(rng, &mut order);
    let mut chosen = order.into_iter();
    let mut next = || chosen.next().expect("more cases than defects");
    let mut readable = Vec::new();
    let path = |case: &Case, slice: &CtInstance| {
        format!("{}/{}.dcm", case.series_dir, slice.instance_number)
    };
    for _ in 0..3 {
        let case = &mut cases[next()];
        let z0 = case.slices[0].image_position_patient[2];
        for (k, slice) in case.slices.iter_mut().enumerate() {
            slice.slice_thickness = Some(5.0);
            slice.image_position_patient[2] = z0 + 5.0 * k as f64;
            slice.series_description = "CHEST 5 AXIAL".to_string();
        }
        for slice in &case.slices {
            readable.push(Defect {
                kind: DefectKind::ThickSlice,
                path: path(case, slice),
            });
        }
    }
    {
        let case = &mut cases[next()];
        for slice in case.slices.iter_mut() {
            slice.modality = "MR".to_string();
            slice.sop_class_uid = MR_IMAGE_STORAGE.to_string();
            slice.kvp = None;
            slice.convolution_kernel = None;
            slice.series_description = "AX T2 THORAX".to_string();
        }
        for slice in &case.slices {
            readable.push(Defect {
                kind: DefectKind::WrongModality,
                path: path(case, slice),
            });
        }
    }
    {
        let case = &mut cases[next()];
        let slice = case.slices.last_mut().expect("every case has slices");
        slice.pixel_spacing = None;
        let defect = Defect {
            kind: DefectKind::MissingPixelSpacing,
            path: path(case, case.slices.last().expect("every case has slices")),
        };
        readable.push(defect);
    }
    let broken = [
        DefectKind::Truncated,
        DefectKind::NotDicom,
        DefectKind::EmptyFile,
    ]
    .into_iter()
    .map(|kind| (kind, next()))
    .collect();
    Planted { readable, broken }
}

fn cases_csv(cases: &[Case]) -> Vec<u8> {
    let mut out = String::from("case_id,label,patient_id,site,sex,age,study_instance_uid,split\n");
    for c in cases {
        // The last site is held out as an external test set (see specs/data-audit.yaml).
        let split = if c.site + 1 == SITES.len() {
            "test"
        } else {
            "train"
        };
        let _ = writeln!(
            out,
            "{},{},{},{},{},{},{},{split}",
            c.case_id,
            u8::from(c.label),
            c.patient_id,
            SITES[c.site].code,
            c.sex,
            c.age,
            c.study_uid
        );
    }
    out.into_bytes()
}

fn predictions_csv(cases: &[Case]) -> Vec<u8> {
    let mut out = String::from("case_id,score\n");
    for c in cases {
        let _ = writeln!(out, "{},{:.4}", c.case_id, c.score);
    }
    out.into_bytes()
}

/// The predicate device's scores, for the demo's non-inferiority claim: a weaker model reading
/// the same images, whose latent value is 0.8 × the candidate's plus independent noise of
/// variance 0.36 (so its class separation is 0.8 × the candidate's and the two correlate).
/// Drawn from a stream of its own, so the rest of the demo does not depend on it.
fn predicate_csv(seed: u64, cases: &[Case]) -> Vec<u8> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(0x7072_6564); // "pred"
    let mut out = String::from("case_id,score\n");
    for c in cases {
        let latent = (c.score / (1.0 - c.score)).ln() / 1.5;
        let own = 0.8 * latent + 0.6 * normal(&mut rng);
        let _ = writeln!(out, "{},{:.4}", c.case_id, 1.0 / (1.0 + (-1.5 * own).exp()));
    }
    out.into_bytes()
}

fn defects_md(summary: &DemoSummary, seed: u64) -> String {
    let conforming = summary.instances
        - summary
            .defects
            .iter()
            .filter(|d| !d.kind.is_unreadable())
            .count();
    let mut out = format!(
        "{DEFECTS_TITLE}\n\n\
         Written by `cargo run --release --example gen_testdata -- demo testdata/demo` (seed\n\
         {seed}); do not edit. The demo spec's `DATA-CT` requirement (Modality CT,\n\
         SliceThickness at most 2.5 mm, PixelSpacing present) must report exactly these files,\n\
         each with the finding shown, and nothing else.\n\n\
         {} files under `dicom/`: {} readable instances ({conforming} conforming) and {} unreadable\n\
         files; {} cases ({} positive) from {} sites.\n\n\
         | file | defect | expected finding |\n|---|---|---|\n",
        summary.files,
        summary.instances,
        summary.files - summary.instances,
        summary.cases,
        summary.positives,
        summary.sites.len()
    );
    for d in &summary.defects {
        let _ = writeln!(
            out,
            "| {} | {} | {} |",
            d.path,
            d.kind.description(),
            d.kind.expected_finding()
        );
    }
    out
}

/// A standard normal draw (Box–Muller; `u1` in (0, 1] keeps the logarithm finite).
fn normal(rng: &mut ChaCha8Rng) -> f64 {
    let u1 = 1.0 - rng.random::<f64>();
    let u2 = rng.random::<f64>();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

/// Fisher–Yates, drawing indices as `u32` so the sequence does not depend on pointer width.
pub(crate) fn shuffle<T>(rng: &mut ChaCha8Rng, items: &mut [T]) {
    for i in (1..items.len()).rev() {
        let j = rng.random_range(0..=i as u32) as usize;
        items.swap(i, j);
    }
}

pub(crate) fn pick<T: Copy>(rng: &mut ChaCha8Rng, items: &[T]) -> T {
    items[rng.random_range(0..items.len() as u32) as usize]
}

/// A number in `lo..=hi` not drawn before.
pub(super) fn unique(rng: &mut ChaCha8Rng, seen: &mut BTreeSet<u32>, lo: u32, hi: u32) -> u32 {
    loop {
        let n = rng.random_range(lo..=hi);
        if seen.insert(n) {
            return n;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use dicom_dictionary_std::tags;
    use dicom_object::{open_file, OpenFileOptions};
    use std::path::PathBuf;
    use walkdir::WalkDir;

    fn files(dir: &Path) -> Vec<PathBuf> {
        let mut out: Vec<PathBuf> = WalkDir::new(dir)
            .sort_by_file_name()
            .into_iter()
            .map(|e| e.unwrap())
            .filter(|e| e.file_type().is_file())
            .map(|e| e.path().strip_prefix(dir).unwrap().to_path_buf())
            .collect();
        out.sort();
        out
    }

    /// Mann–Whitney AUC (ties count one half).
    fn auc(pos: &[f64], neg: &[f64]) -> f64 {
        let mut wins = 0.0;
        for p in pos {
            for n in neg {
                wins += if p > n {
                    1.0
                } else if p == n {
                    0.5
                } else {
                    0.0
                };
            }
        }
        wins / (pos.len() * neg.len()) as f64
    }

    fn rows(dir: &Path, name: &str) -> Vec<Vec<String>> {
        fs::read_to_string(dir.join(name))
            .unwrap()
            .lines()
            .skip(1)
            .map(|l| l.split(',').map(str::to_string).collect())
            .collect()
    }

    #[test]
    fn demo_is_byte_identical_for_a_seed_and_differs_across_seeds() {
        let a = tempfile::tempdir().unwrap();
        let b = tempfile::tempdir().unwrap();
        let c = tempfile::tempdir().unwrap();
        let sa = write_demo(a.path(), 5).unwrap();
        let sb = write_demo(b.path(), 5).unwrap();
        write_demo(c.path(), 6).unwrap();
        assert_eq!(sa, sb);
        let fa = files(a.path());
        assert_eq!(fa, files(b.path()));
        for f in &fa {
            assert_eq!(
                fs::read(a.path().join(f)).unwrap(),
                fs::read(b.path().join(f)).unwrap(),
                "{}",
                f.display()
            );
        }
        assert_ne!(
            fs::read(a.path().join("cases.csv")).unwrap(),
            fs::read(c.path().join("cases.csv")).unwrap()
        );
    }

    #[test]
    fn demo_has_the_promised_shape_and_defects() {
        let dir = tempfile::tempdir().unwrap();
        let s = write_demo(dir.path(), DEMO_SEED).unwrap();
        assert_eq!((s.cases, s.positives), (200, 80));
        assert_eq!((s.instances, s.files), (400, 403));
        assert!(s.dicom_bytes < 1_500_000, "{} bytes", s.dicom_bytes);
        let count = |k| s.defects.iter().filter(|d| d.kind == k).count();
        assert_eq!(count(DefectKind::ThickSlice), 6);
        assert_eq!(count(DefectKind::WrongModality), 2);
        assert_eq!(count(DefectKind::MissingPixelSpacing), 1);
        assert_eq!(count(DefectKind::Truncated), 1);
        assert_eq!(count(DefectKind::NotDicom), 1);
        assert_eq!(count(DefectKind::EmptyFile), 1);

        // Every file is read back; exactly the listed defects stand out.
        let defects = fs::read_to_string(dir.path().join(DEFECTS_FILE)).unwrap();
        let listed: Vec<&str> = defects
            .lines()
            .filter(|l| l.starts_with("| dicom/"))
            .map(|l| l.split('|').nth(1).unwrap().trim())
            .collect();
        assert_eq!(listed.len(), s.defects.len());
        let mut patients = BTreeSet::new();
        let mut studies = BTreeSet::new();
        let mut found = Vec::new();
        for f in files(&dir.path().join("dicom")) {
            let rel = format!("dicom/{}", f.to_string_lossy().replace('\\', "/"));
            let obj = match OpenFileOptions::new()
                .read_until(tags::PIXEL_DATA)
                .open_file(dir.path().join(&rel))
            {
                Ok(obj) => obj,
                Err(_) => {
                    found.push(rel);
                    continue;
                }
            };
            let text = |tag| {
                obj.get(tag)
                    .map(|e| e.to_str().unwrap().trim_end().to_string())
            };
            patients.insert(text(tags::PATIENT_ID).unwrap());
            studies.insert(text(tags::STUDY_INSTANCE_UID).unwrap());
            let thick = text(tags::SLICE_THICKNESS).unwrap().parse::<f64>().unwrap() > 2.5;
            let not_ct = text(tags::MODALITY).unwrap() != "CT";
            let no_spacing = text(tags::PIXEL_SPACING).is_none();
            if thick || not_ct || no_spacing {
                found.push(rel);
            }
        }
        found.sort();
        let mut listed: Vec<String> = listed.into_iter().map(str::to_string).collect();
        listed.sort();
        assert_eq!(found, listed);
        assert_eq!(patients.len(), 200);
        assert_eq!(studies.len(), 200);
        // The table links each case to its study by UID.
        let cases = rows(dir.path(), "cases.csv");
        let table_studies: BTreeSet<String> = cases.iter().map(|r| r[6].clone()).collect();
        assert_eq!(table_studies, studies);
        // The text file is text and the empty file is empty.
        for d in &s.defects {
            let len = fs::metadata(dir.path().join(&d.path)).unwrap().len();
            match d.kind {
                DefectKind::EmptyFile => assert_eq!(len, 0),
                DefectKind::NotDicom => {
                    assert!(fs::read_to_string(dir.path().join(&d.path)).is_ok())
                }
                DefectKind::Truncated => {
                    assert!(len > 132 && open_file(dir.path().join(&d.path)).is_err())
                }
                _ => {}
            }
        }
    }

    #[test]
    fn demo_scores_look_like_a_good_model_weaker_at_site_d() {
        let dir = tempfile::tempdir().unwrap();
        write_demo(dir.path(), DEMO_SEED).unwrap();
        let cases = rows(dir.path(), "cases.csv");
        let preds = rows(dir.path(), "predictions.csv");
        assert_eq!(cases.len(), preds.len());
        let measure = |site: Option<&str>| {
            let (mut pos, mut neg) = (Vec::new(), Vec::new());
            for (c, p) in cases.iter().zip(&preds) {
                assert_eq!(c[0], p[0]);
                assert_eq!(p[1].split('.').nth(1).unwrap().len(), 4, "4 decimals");
                if site.is_some_and(|s| s != c[3]) {
                    continue;
                }
                let score: f64 = p[1].parse().unwrap();
                if c[1] == "1" { &mut pos } else { &mut neg }.push(score);
            }
            let sens = pos.iter().filter(|&&s| s >= 0.5).count() as f64 / pos.len() as f64;
            (auc(&pos, &neg), sens)
        };
        let (auc_all, sens_all) = measure(None);
        assert!((0.90..=0.95).contains(&auc_all), "AUC {auc_all}");
        assert!((0.85..=0.95).contains(&sens_all), "sensitivity {sens_all}");
        let (auc_d, sens_d) = measure(Some("D"));
        for site in ["A", "B", "C"] {
            let (auc_s, sens_s) = measure(Some(site));
            assert!(auc_s > auc_d + 0.05, "site {site} {auc_s} vs D {auc_d}");
            assert!(sens_s > sens_d, "site {site} {sens_s} vs D {sens_d}");
        }
    }

    #[test]
    fn rewriting_replaces_a_previous_demo_but_not_foreign_files() {
        let dir = tempfile::tempdir().unwrap();
        write_demo(dir.path(), 1).unwrap();
        let first = fs::read(dir.path().join("cases.csv")).unwrap();
        write_demo(dir.path(), 2).unwrap();
        assert_ne!(first, fs::read(dir.path().join("cases.csv")).unwrap());
        assert_eq!(files(&dir.path().join("dicom")).len(), 403);

        let foreign = tempfile::tempdir().unwrap();
        fs::create_dir(foreign.path().join("dicom")).unwrap();
        fs::write(foreign.path().join("dicom/keep.dcm"), b"x").unwrap();
        assert!(matches!(
            write_demo(foreign.path(), 1),
            Err(SynthError::NotEmpty { .. })
        ));
        assert!(foreign.path().join("dicom/keep.dcm").exists());
    }
}
