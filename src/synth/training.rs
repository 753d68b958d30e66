//! Labelled chest-CT slices for training and testing the demo's nodule classifier
//! (`examples/train_nodule_cnn.rs`, `models/nodule-cnn/`): the demo's own generator (the
//! sites, acquisition draws, texture and nodule draws of [`super::demo`]), one slice per drawn
//! series, written as Part 10 files with a table of labels.
//!
//! The demo dataset (`testdata/demo`, seed [`DEMO_SEED`]) is the evaluation set the specs
//! run the model on, so it must never be trained on: training and held-out images come from
//! their own seeds ([`TRAINING_SEED`], [`HELDOUT_SEED`]), and [`write_nodule_slices`] refuses
//! the demo's. A different seed is a different ChaCha8 stream, so no texture seed, nodule
//! position or UID is shared with the demo.

use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::ct::{write_bytes, write_ct};
use super::demo::{draw_series, pick, shuffle, slice_of, Patient, DEMO_SEED, SITES};
use super::SynthError;

/// The seed of the committed nodule classifier's training slices.
pub const TRAINING_SEED: u64 = 20261201;

/// The seed of the held-out slices its model card reports accuracy and AUC on.
pub const HELDOUT_SEED: u64 = 20261202;

/// The label table written beside the slices.
pub const LABELS_FILE: &str = "labels.csv";

/// One written slice and its label.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabelledSlice {
    pub path: PathBuf,
    /// Whether the slice carries a nodule (class 1 of the classifier).
    pub nodule: bool,
    /// The demo site whose equipment and acquisition were drawn (`A` to `D`).
    pub site: String,
}

/// Writes `per_class` slices with a nodule and `per_class` without into `dir` (created if
/// absent; it must hold nothing else), as `NNNNN.dcm` in a random order, plus
/// [`LABELS_FILE`] (`file,nodule,site`). Returns the slices in file order. The same seed
/// always writes the same bytes.
///
/// Each slice is the first slice of a series drawn as the demo draws one
/// (`demo::draw_series`): a site chosen with the demo's case proportions (60:60:50:30), its
/// equipment, field of view, slice thickness and kVp, a texture seed, and for a nodule a
/// centre within 3 pixels of the image centre, σ 1 to 1.6 pixels and 220 to 350 HU. Sites
/// change the header, not the pixel pattern, as in the demo.
///
/// Fails with [`SynthError::NotEmpty`] when `seed` is [`DEMO_SEED`] (those would be the
/// evaluation images) or `dir` already holds files.
pub fn write_nodule_slices(
    dir: &Path,
    seed: u64,
    per_class: usize,
) -> Result<Vec<LabelledSlice>, SynthError> {
    let io = |source| SynthError::Io {
        path: dir.to_path_buf(),
        source,
    };
    let occupied = match fs::read_dir(dir) {
        Ok(mut entries) => entries.next().is_some(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => false,
        Err(e) => return Err(io(e)),
    };
    if occupied || seed == DEMO_SEED {
        return Err(SynthError::NotEmpty {
            path: dir.to_path_buf(),
        });
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut labels: Vec<bool> = (0..2 * per_class).map(|i| i < per_class).collect();
    shuffle(&mut rng, &mut labels);
    // Sites in the demo's proportions: a site index per case of the demo, picked uniformly.
    let site_of_case: Vec<usize> = SITES
        .iter()
        .enumerate()
        .flat_map(|(i, s)| std::iter::repeat_n(i, s.cases))
        .collect();

    let mut out = Vec::with_capacity(labels.len());
    let mut table = String::from("file,nodule,site\n");
    for (i, nodule) in labels.into_iter().enumerate() {
        let n = i + 1;
        let site = &SITES[pick(&mut rng, &site_of_case)];
        // Identifiers from the index: unique without drawing, at any count.
        let patient = Patient {
            id: format!("SYNT{n:06}"),
            name: format!("SYNTH^T{n:06}"),
            sex: if rng.random_bool(0.5) { "F" } else { "M" },
            age: rng.random_range(40..=84),
        };
        let key = format!("nodule-slices/{n:05}");
        let study_number = 100_000 + n as u32;
        let base = draw_series(&mut rng, seed, &key, site, &patient, study_number, nodule);
        let slice = slice_of(seed, &key, &base, 1, rng.random::<u64>());
        let name = format!("{n:05}.dcm");
        let path = dir.join(&name);
        write_ct(&slice, &path)?;
        let _ = writeln!(table, "{name},{},{}", u8::from(nodule), site.code);
        out.push(LabelledSlice {
            path,
            nodule,
            site: site.code.to_string(),
        });
    }
    write_bytes(&dir.join(LABELS_FILE), table.as_bytes())?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_are_balanced_seeded_and_distinct_from_the_demo() {
        let a = tempfile::tempdir().unwrap();
        let b = tempfile::tempdir().unwrap();
        let sa = write_nodule_slices(a.path(), 11, 6).unwrap();
        let sb = write_nodule_slices(b.path(), 11, 6).unwrap();
        assert_eq!(sa.len(), 12);
        assert_eq!(sa.iter().filter(|s| s.nodule).count(), 6);
        for (x, y) in sa.iter().zip(&sb) {
            assert_eq!((x.nodule, &x.site), (y.nodule, &y.site));
            assert_eq!(fs::read(&x.path).unwrap(), fs::read(&y.path).unwrap());
        }
        let table = fs::read_to_string(a.path().join(LABELS_FILE)).unwrap();
        assert_eq!(table.lines().count(), 13);
        assert!(table.starts_with("file,nodule,site\n00001.dcm,"), "{table}");

        // The demo's seed and an occupied folder are refused.
        let c = tempfile::tempdir().unwrap();
        assert!(matches!(
            write_nodule_slices(c.path(), DEMO_SEED, 1),
            Err(SynthError::NotEmpty { .. })
        ));
        assert!(matches!(
            write_nodule_slices(a.path(), 12, 1),
            Err(SynthError::NotEmpty { .. })
        ));
    }
}
