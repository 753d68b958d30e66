//! Bulk synthetic CT data for header-indexing benchmarks: many series of instances whose
//! headers have the size and variety of clinical CT headers, with tiny pixel data.
//!
//! Instances use [`HeaderProfile::Full`] (about 2.5 KB of header: acquisition, dose, timing, a
//! code sequence and a private block) so a reader's cost per file is that of real data, while
//! 20 000 files still fit in about 60 MB. Studies are spread over the demo's four sites and
//! manufacturers; each holds one to three series of 40 to 160 slices. All files are
//! conforming and readable; the layout is that of the demo,
//! `site-<S>/<StudyID>/SE<n>/<InstanceNumber>.dcm` under the chosen folder.

use std::collections::BTreeSet;
use std::fs;
use std::path::Path;

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::ct::{write_ct, HeaderProfile};
use super::demo::{draw_series, pick, series_dir, slice_of, unique, Patient, SITES};
use super::SynthError;

/// What [`write_bulk`] wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BulkSummary {
    pub files: usize,
    pub series: usize,
    pub studies: usize,
    pub bytes: u64,
}

/// Writes `count` CT instances under `dir`, which must not exist yet or be empty; with
/// `deidentified`, each as a Basic Profile de-identifier would leave it (`super::deidentify`).
pub fn write_bulk(
    dir: &Path,
    count: usize,
    seed: u64,
    deidentified: bool,
) -> Result<BulkSummary, SynthError> {
    let not_empty = fs::read_dir(dir)
        .map(|mut entries| entries.next().is_some())
        .unwrap_or(false);
    if not_empty {
        return Err(SynthError::NotEmpty {
            path: dir.to_path_buf(),
        });
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut studies = BTreeSet::new();
    let mut summary = BulkSummary {
        files: 0,
        series: 0,
        studies: 0,
        bytes: 0,
    };
    while summary.files < count {
        summary.studies += 1;
        let n = summary.studies;
        let site = &SITES[rng.random_range(0..SITES.len() as u32) as usize];
        // One patient per study, numbered in order (the demo's four-digit IDs would run out).
        let mut patient = Patient::draw(&mut rng, &mut BTreeSet::new(), n);
        patient.id = format!("SYNB{n:07}");
        let study_number = unique(&mut rng, &mut studies, 100_000, 999_999);
        let series_count = pick(&mut rng, &[1_u32, 2, 2, 3]);
        let mut series_numbers = BTreeSet::new();
        for s in 0..series_count {
            if summary.files >= count {
                break;
            }
            let key = format!("bulk/{n}/{s}");
            let label = rng.random_bool(0.3);
            let mut base = draw_series(&mut rng, seed, &key, site, &patient, study_number, label);
            if !series_numbers.insert(base.series_number) {
                base.series_number = series_numbers.last().copied().unwrap_or(1) + 1;
                series_numbers.insert(base.series_number);
            }
            base.profile = HeaderProfile::Full;
            let dir_rel = series_dir(site, &base);
            let slices = rng
                .random_range(40..=160_u32)
                .min((count - summary.files) as u32);
            for k in 1..=slices {
                let slice = slice_of(seed, &key, &base, k, rng.random::<u64>());
                let path = dir.join(format!("{dir_rel}/{k}.dcm"));
                summary.bytes += if deidentified {
                    let mut obj = slice.to_object()?;
                    super::deidentify(&mut obj, &["113100"]);
                    let bytes = super::ct::encode(&obj)?;
                    super::ct::write_bytes(&path, &bytes)?;
                    bytes.len() as u64
                } else {
                    write_ct(&slice, &path)?
                };
                summary.files += 1;
            }
            summary.series += 1;
        }
    }
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;
    use dicom_dictionary_std::tags;
    use walkdir::WalkDir;

    #[test]
    fn bulk_writes_count_readable_files_deterministically() {
        let a = tempfile::tempdir().unwrap();
        let b = tempfile::tempdir().unwrap();
        let sa = write_bulk(a.path(), 250, 9, false).unwrap();
        let sb = write_bulk(b.path(), 250, 9, false).unwrap();
        assert_eq!(sa, sb);
        assert_eq!(sa.files, 250);
        assert!(sa.series >= 2);
        let mut n = 0;
        let mut uids = BTreeSet::new();
        for e in WalkDir::new(a.path()).sort_by_file_name() {
            let e = e.unwrap();
            if !e.file_type().is_file() {
                continue;
            }
            let rel = e.path().strip_prefix(a.path()).unwrap();
            assert_eq!(
                fs::read(e.path()).unwrap(),
                fs::read(b.path().join(rel)).unwrap()
            );
            let obj = dicom_object::open_file(e.path()).unwrap();
            let uid = obj
                .element(tags::SOP_INSTANCE_UID)
                .unwrap()
                .to_str()
                .unwrap();
            uids.insert(uid.to_string());
            n += 1;
        }
        assert_eq!(n, 250);
        assert_eq!(uids.len(), 250);
        let average = sa.bytes / 250;
        assert!((2000..=3700).contains(&average), "{average} bytes per file");
    }

    #[test]
    fn bulk_refuses_a_folder_with_files() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("x"), b"x").unwrap();
        assert!(matches!(
            write_bulk(dir.path(), 1, 1, false),
            Err(SynthError::NotEmpty { .. })
        ));
    }
}
