//! The demo dataset (`testdata/demo/`) and bulk benchmark data.
//!
//! Demo: 200 cases from four sites (one patient, study and series of two slices each), a case
//! table with labels at about 40% prevalence, and the scores of a plausible model that is
//! weaker at one site. A few instances deliberately break the demo spec's acquisition
//! requirement and three files are not readable DICOM; `DEFECTS.md` lists each.

use std::fmt::Write as _;
use std::path::Path;

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::ct::{write_empty, write_not_dicom, write_truncated, CtInstance, MR_IMAGE_STORAGE};

/// The seed the committed demo data was written with.
pub const DEMO_SEED: u64 = 20261126;

struct Site {
    code: &'static str,
    cases: usize,
    manufacturer: &'static str,
    model: &'static str,
    institution: &'static str,
    kernel: &'static str,
    /// Mean of the positives' latent score (negatives have mean 0, both sd 1).
    separation: f64,
}

const SITES: &[Site] = &[
    Site {
        code: "A",
        cases: 60,
        manufacturer: "GE MEDICAL SYSTEMS",
        model: "Revolution CT",
        institution: "Synthetic Hospital A",
        kernel: "LUNG",
        separation: 3.0,
    },
    Site {
        code: "B",
        cases: 60,
        manufacturer: "SIEMENS",
        model: "SOMATOM Force",
        institution: "Synthetic Hospital B",
        kernel: "Br64",
        separation: 3.0,
    },
    Site {
        code: "C",
        cases: 50,
        manufacturer: "Philips",
        model: "IQon Spectral CT",
        institution: "Synthetic Hospital C",
        kernel: "YC",
        separation: 2.8,
    },
    Site {
        code: "D",
        cases: 30,
        manufacturer: "Canon Medical Systems",
        model: "Aquilion ONE",
        institution: "Synthetic Hospital D",
        kernel: "FC52",
        separation: 1.6,
    },
];

/// Counts of what `write_demo` wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DemoSummary {
    pub cases: usize,
    pub positives: usize,
    pub instances: usize,
    pub broken_files: usize,
}

fn normal(rng: &mut ChaCha8Rng) -> f64 {
    // Box-Muller; u1 in (0, 1] so the logarithm is finite.
    let u1: f64 = 1.0 - rng.random::<f64>();
    let u2: f64 = rng.random::<f64>();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

/// Writes the demo dataset into `dir` (dicom/, cases.csv, predictions.csv, DEFECTS.md).
pub fn write_demo(dir: &Path, seed: u64) -> std::io::Result<DemoSummary> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let dicom = dir.join("dicom");
    if dicom.exists() {
        std::fs::remove_dir_all(&dicom)?;
    }
    std::fs::create_dir_all(&dicom)?;
    let mut cases = String::from("case_id,label,patient_id,site,sex,age,study_instance_uid\n");
    let mut preds = String::from("case_id,score\n");
    let mut defects = String::from(
        "# Deliberate defects in the demo data\n\n\
         Written by `cargo run --release --example gen_testdata -- demo testdata/demo`.\n\
         The demo spec's `DATA-CT` requirement (CT only, SliceThickness <= 2.5, PixelSpacing\n\
         present) must report exactly these, and nothing else.\n\n\
         | file | defect | expected finding |\n|---|---|---|\n",
    );
    let mut summary = DemoSummary {
        cases: 0,
        positives: 0,
        instances: 0,
        broken_files: 0,
    };
    let mut n = 0usize;
    for site in SITES {
        for _ in 0..site.cases {
            n += 1;
            let case_id = format!("C{n:04}");
            let patient_id = format!("SYN{:05}", 10000 + n * 7);
            let label = rng.random_bool(0.4);
            let sex = if rng.random_bool(0.5) { "F" } else { "M" };
            let age: u32 = rng.random_range(40..80);
            let latent = normal(&mut rng) + if label { site.separation } else { 0.0 };
            // The model's score: a logistic of the latent value, centred between the classes.
            let score = 1.0 / (1.0 + (-(latent - 1.2) * 1.5).exp());
            let label_text = format!("{case_id}-{}", site.code);
            let mut inst = CtInstance::new(seed, &label_text);
            inst.patient_name = format!("SYNTH^P{n:04}");
            inst.patient_id = patient_id.clone();
            inst.patient_sex = sex.to_string();
            inst.patient_age = format!("{age:03}Y");
            inst.patient_birth_date = format!("{}0101", 2026 - age);
            inst.study_date = format!("2025{:02}{:02}", 1 + n % 12, 1 + n % 28);
            inst.manufacturer = site.manufacturer.to_string();
            inst.model_name = site.model.to_string();
            inst.institution = site.institution.to_string();
            inst.station_name = format!("CT{}01", site.code);
            inst.kernel = site.kernel.to_string();
            inst.slice_thickness = Some([1.0, 1.25, 1.5, 2.0][n % 4]);
            inst.blob = label;
            inst.full_header = true;
            let folder = dicom.join(format!("site-{}", site.code)).join(&case_id);
            for slice in 0..2 {
                let mut s = inst.clone();
                s.sop_instance_uid =
                    super::ct::synthetic_uid(seed, &format!("{label_text}/{slice}"));
                s.instance_number = slice + 1;
                s.slice_location = f64::from(slice) * s.slice_thickness.unwrap_or(1.0);
                let file = folder.join(format!("{:03}.dcm", slice + 1));
                let rel = format!("dicom/site-{}/{case_id}/{:03}.dcm", site.code, slice + 1);
                // Deliberate acquisition defects, at fixed cases.
                match (n, slice) {
                    (17 | 18, _) => {
                        s.modality = "MR".to_string();
                        s.sop_class_uid = MR_IMAGE_STORAGE.to_string();
                        let _ = writeln!(defects, "| {rel} | Modality MR in a CT dataset | `value-not-allowed` (Modality) |");
                    }
                    (131 | 132, _) => {
                        s.slice_thickness = Some(5.0);
                        let _ = writeln!(defects, "| {rel} | SliceThickness 5.0 mm | `value-out-of-range` (SliceThickness) |");
                    }
                    (77, 1) => {
                        s.pixel_spacing = None;
                        let _ = writeln!(
                            defects,
                            "| {rel} | PixelSpacing absent | `missing-attribute` (PixelSpacing) |"
                        );
                    }
                    _ => {}
                }
                s.write(&file)?;
                summary.instances += 1;
            }
            let _ = writeln!(
                cases,
                "{case_id},{},{patient_id},{},{sex},{age},{}",
                u8::from(label),
                site.code,
                inst.study_uid
            );
            let _ = writeln!(preds, "{case_id},{score:.4}");
            summary.cases += 1;
            summary.positives += usize::from(label);
        }
    }
    // Files that are not readable DICOM, in an "incoming" folder as exports often have.
    let incoming = dicom.join("incoming");
    std::fs::create_dir_all(&incoming)?;
    write_truncated(
        &CtInstance::new(seed, "truncated"),
        &incoming.join("truncated.dcm"),
    )?;
    write_not_dicom(&incoming.join("export-log.dcm"))?;
    write_empty(&incoming.join("empty.dcm"))?;
    for (f, what) in [
        (
            "truncated.dcm",
            "a valid instance cut off a third of the way into its data set",
        ),
        ("export-log.dcm", "a text file named .dcm"),
        ("empty.dcm", "a zero-length file"),
    ] {
        let _ = writeln!(
            defects,
            "| dicom/incoming/{f} | {what} | `unreadable-dicom` |"
        );
    }
    summary.broken_files = 3;
    std::fs::write(dir.join("cases.csv"), cases)?;
    std::fs::write(dir.join("predictions.csv"), preds)?;
    std::fs::write(dir.join("DEFECTS.md"), defects)?;
    Ok(summary)
}

/// Writes `count` conforming instances with full-size headers for benchmarks, 100 per series.
pub fn write_bulk(dir: &Path, count: usize, seed: u64) -> std::io::Result<()> {
    for i in 0..count {
        let series = i / 100;
        let mut inst = CtInstance::new(seed, &format!("bulk-{series}"));
        inst.sop_instance_uid = super::ct::synthetic_uid(seed, &format!("bulk/{i}"));
        inst.patient_id = format!("BULK{:06}", series);
        inst.patient_name = format!("SYNTH^B{series:06}");
        inst.instance_number = (i % 100) as i32 + 1;
        inst.slice_location = (i % 100) as f64 * 1.25;
        inst.full_header = true;
        inst.write(
            &dir.join(format!("s{series:05}"))
                .join(format!("{:03}.dcm", i % 100)),
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demo_is_deterministic() {
        let a = tempfile::tempdir().unwrap();
        let b = tempfile::tempdir().unwrap();
        let sa = write_demo(a.path(), 5).unwrap();
        let sb = write_demo(b.path(), 5).unwrap();
        assert_eq!(sa, sb);
        for f in [
            "cases.csv",
            "predictions.csv",
            "DEFECTS.md",
            "dicom/site-A/C0001/001.dcm",
        ] {
            assert_eq!(
                std::fs::read(a.path().join(f)).unwrap(),
                std::fs::read(b.path().join(f)).unwrap(),
                "{f}"
            );
        }
        assert_eq!(sa.instances, 400);
    }
}
