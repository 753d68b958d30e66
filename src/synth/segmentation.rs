//! The segmentation example (`testdata/segmentation/`): liver and liver-lesion masks on small
//! anisotropic CT-like grids, the reference as NIfTI label maps, a model's output as DICOM
//! Segmentation objects, seeded.
//!
//! Twelve cases of 48 × 48 × 16 voxels of 0.8 × 0.8 × 2.5 mm, each at its own origin (one
//! rotated 12° about the patient's z axis). The reference (`reference/<case>.nii.gz`, written
//! by [`write_label_nifti`] with sform and qform) labels the liver 1 and a lesion inside it 2;
//! three cases have no lesion. The model (`model/<case>.dcm`, BINARY SEG by
//! [`super::SegInstance`]) numbers its segments the other way round (1 lesion, 2 liver), so a
//! spec must map structures per source. Its errors are those of a plausible model: every
//! boundary a little off (centres shifted by up to a millimetre, radii within ±6 % for the
//! liver and ±15 % for lesions), one
//! liver under-segmented by 15 %, one lesion missed, one lesion found where the reference has
//! none. `ERRORS.md` lists them; `specs/segmentation.yaml` judges the model.

use std::fmt::Write as _;
use std::path::Path;

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::seg::{SegInstance, SegSegment, ALTERED_STRUCTURE, ANATOMICAL_STRUCTURE, LESION, LIVER};
use super::SynthError;
use crate::data::masks::Geometry;

/// The grid of every case: columns, rows, slices.
pub const SEGMENTATION_DIMS: [usize; 3] = [48, 48, 16];
/// The voxel size of every case, in mm.
pub const SEGMENTATION_SPACING: [f64; 3] = [0.8, 0.8, 2.5];
/// The cases written.
pub const SEGMENTATION_CASES: usize = 12;

/// What was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SegmentationSummary {
    pub cases: usize,
    /// Cases whose reference holds a lesion.
    pub lesions: usize,
    pub bytes: u64,
}

/// An ellipsoid in mm, in the grid's own axes (voxel centre i at i × spacing).
#[derive(Debug, Clone, Copy)]
struct Ellipsoid {
    centre: [f64; 3],
    radii: [f64; 3],
}

impl Ellipsoid {
    fn voxels(&self) -> Vec<bool> {
        let [nx, ny, nz] = SEGMENTATION_DIMS;
        let mut out = Vec::with_capacity(nx * ny * nz);
        for k in 0..nz {
            for j in 0..ny {
                for i in 0..nx {
                    let q: f64 = [i, j, k]
                        .iter()
                        .enumerate()
                        .map(|(a, &n)| {
                            ((n as f64 * SEGMENTATION_SPACING[a] - self.centre[a]) / self.radii[a])
                                .powi(2)
                        })
                        .sum();
                    out.push(q <= 1.0);
                }
            }
        }
        out
    }

    /// The same ellipsoid with its centre moved and its radii scaled.
    fn perturbed(&self, shift: [f64; 3], scale: f64) -> Ellipsoid {
        Ellipsoid {
            centre: [0, 1, 2].map(|a| self.centre[a] + shift[a]),
            radii: self.radii.map(|r| r * scale),
        }
    }
}

/// Writes `reference/<case>.nii.gz`, `model/<case>.dcm` and `ERRORS.md` into `dir`.
pub fn write_segmentation(dir: &Path, seed: u64) -> Result<SegmentationSummary, SynthError> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x5e91_7a71);
    let u = |rng: &mut ChaCha8Rng, lo: f64, hi: f64| lo + (hi - lo) * rng.random::<f64>();
    let extent = [0, 1, 2].map(|a| (SEGMENTATION_DIMS[a] - 1) as f64 * SEGMENTATION_SPACING[a]);
    let mut errors = String::from(
        "# Planted model errors (written by `gen_testdata segmentation`)\n\n\
         Every case: boundaries a little off (liver centre shifted up to 0.9 mm per axis and\n\
         radii within ±6 %; lesion centre up to 1 mm and radii within ±15 %). Besides:\n\n",
    );
    let (mut lesions, mut bytes) = (0, 0);
    for c in 0..SEGMENTATION_CASES {
        let case = format!("S{:02}", c + 1);
        let liver = Ellipsoid {
            centre: [0, 1, 2].map(|a| extent[a] / 2.0 + u(&mut rng, -2.0, 2.0)),
            radii: [
                u(&mut rng, 11.0, 14.0),
                u(&mut rng, 9.0, 12.0),
                u(&mut rng, 12.0, 16.0),
            ],
        };
        // Three cases without a lesion: 3, 7 and 10.
        let has_lesion = !matches!(c + 1, 3 | 7 | 10);
        let lesion = Ellipsoid {
            centre: [0, 1, 2].map(|a| liver.centre[a] + u(&mut rng, -4.0, 4.0)),
            radii: [u(&mut rng, 3.0, 5.0); 3],
        };
        let shift = |rng: &mut ChaCha8Rng, sd: f64| [0; 3].map(|_| u(rng, -sd, sd));
        let liver_scale = if c + 1 == 8 {
            let _ = writeln!(errors, "- {case}: liver under-segmented (radii 15 % short)");
            0.85
        } else {
            u(&mut rng, 0.94, 1.06)
        };
        let pred_liver = liver.perturbed(shift(&mut rng, 0.9), liver_scale);
        let lesion_shift = shift(&mut rng, 1.0);
        let lesion_scale = u(&mut rng, 0.85, 1.15);
        let pred_lesion = match (c + 1, has_lesion) {
            (5, _) => {
                let _ = writeln!(
                    errors,
                    "- {case}: lesion missed (no lesion voxel predicted)"
                );
                None
            }
            (10, _) => {
                let _ = writeln!(
                    errors,
                    "- {case}: lesion predicted where the reference has none (spurious)"
                );
                Some(lesion)
            }
            (_, true) => Some(lesion.perturbed(lesion_shift, lesion_scale)),
            (_, false) => None,
        };

        // Reference label map: liver 1, lesion 2 (the lesion lies inside the liver).
        let ref_liver = liver.voxels();
        let ref_lesion = if has_lesion {
            lesions += 1;
            lesion.voxels()
        } else {
            vec![false; ref_liver.len()]
        };
        let labels: Vec<u8> = ref_liver
            .iter()
            .zip(&ref_lesion)
            .map(|(&l, &t)| if t { 2 } else { u8::from(l) })
            .collect();
        let geometry = Geometry {
            origin: [
                -19.2 + u(&mut rng, -30.0, 30.0),
                -19.2 + u(&mut rng, -30.0, 30.0),
                -120.0 + 2.5 * c as f64,
            ]
            .map(|v| (v * 1000.0).round() / 1000.0),
            axes: if c + 1 == 7 {
                let (cos, sin) = (12f64.to_radians().cos(), 12f64.to_radians().sin());
                [[cos, sin, 0.0], [-sin, cos, 0.0], [0.0, 0.0, 1.0]]
            } else {
                Geometry::AXIAL.axes
            },
        };
        let reference = dir.join("reference").join(format!("{case}.nii.gz"));
        bytes += write_label_nifti(
            &reference,
            SEGMENTATION_DIMS,
            SEGMENTATION_SPACING,
            &geometry,
            &labels,
        )?;

        // Model: segment 1 lesion, segment 2 liver (without the lesion, as in the label map).
        let model_lesion = pred_lesion.map_or_else(|| vec![false; ref_liver.len()], |e| e.voxels());
        let model_liver: Vec<bool> = pred_liver
            .voxels()
            .iter()
            .zip(&model_lesion)
            .map(|(&l, &t)| l && !t)
            .collect();
        let segment = |number, label: &str, category, kind, voxels| SegSegment {
            number,
            label: label.to_string(),
            category,
            kind,
            voxels,
        };
        let inst = SegInstance::new(
            seed,
            &case,
            SEGMENTATION_DIMS,
            SEGMENTATION_SPACING,
            geometry,
            vec![
                segment(1, "lesion", ALTERED_STRUCTURE, LESION, model_lesion),
                segment(2, "liver", ANATOMICAL_STRUCTURE, LIVER, model_liver),
            ],
        );
        bytes += super::write_seg(&inst, &dir.join("model").join(format!("{case}.dcm")))?;
    }
    let _ = writeln!(
        errors,
        "\nS07 lies rotated 12° about the patient's z axis (reference and model alike).\n\
         Reference lesions: {lesions} of {SEGMENTATION_CASES} cases (none in S03, S07, S10)."
    );
    super::ct::write_bytes(&dir.join("ERRORS.md"), errors.as_bytes())?;
    Ok(SegmentationSummary {
        cases: SEGMENTATION_CASES,
        lesions,
        bytes: bytes + errors.len() as u64,
    })
}

/// Writes a label map (`labels` x fastest) as NIfTI-1 with its place in the patient (see
/// [`crate::data::nifti_out::label_map`]), gzip-compressed when the path ends in `.gz`.
/// Returns the bytes written.
///
/// # Panics
/// When the label map cannot be written as NIfTI-1 (a programming error of the generator).
pub fn write_label_nifti(
    path: &Path,
    dims: [usize; 3],
    spacing: [f64; 3],
    geometry: &Geometry,
    labels: &[u8],
) -> Result<u64, SynthError> {
    let gzip = path.extension().is_some_and(|e| e == "gz");
    let bytes = crate::data::nifti_out::label_map(dims, spacing, Some(geometry), labels, gzip)
        .unwrap_or_else(|e| panic!("{e}"));
    super::ct::write_bytes(path, &bytes)?;
    Ok(bytes.len() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::masks::{read_mask, read_structure, Foreground};

    #[test]
    fn label_maps_read_back_through_sform_and_qform() {
        let d = tempfile::tempdir().unwrap();
        let labels: Vec<u8> = (0..4 * 3 * 2).map(|i| (i % 3) as u8).collect();
        // Axial (a 180° rotation about z in RAS), a rotation about z, and a flipped slice axis
        // (qfac −1).
        let (cos, sin) = (0.6, 0.8);
        for (n, axes) in [
            Geometry::AXIAL.axes,
            [[cos, sin, 0.0], [-sin, cos, 0.0], [0.0, 0.0, 1.0]],
            [[0.0, 1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]],
        ]
        .into_iter()
        .enumerate()
        {
            let g = Geometry {
                origin: [-12.5, 30.25, -101.0],
                axes,
            };
            let p = d.path().join(format!("m{n}.nii"));
            write_label_nifti(&p, [4, 3, 2], [0.8, 0.6, 2.5], &g, &labels).unwrap();
            let mut bytes = std::fs::read(&p).unwrap();
            // The same file with the sform cleared: read through the qform.
            bytes[254..256].copy_from_slice(&0i16.to_le_bytes());
            let q = d.path().join(format!("q{n}.nii"));
            std::fs::write(&q, bytes).unwrap();
            for path in [&p, &q] {
                let m = read_structure(path, Foreground::Label(2)).unwrap();
                let got = m.geometry.unwrap();
                for (a, b) in got.axes.iter().flatten().zip(g.axes.iter().flatten()) {
                    assert!((a - b).abs() < 1e-6, "{n}: {got} vs {g}");
                }
                for (a, b) in got.origin.iter().zip(g.origin) {
                    assert!((a - b).abs() < 1e-5, "{n}: {got}");
                }
                let want: Vec<bool> = labels.iter().map(|&l| l == 2).collect();
                assert_eq!(m.voxels, want);
            }
        }
    }

    #[test]
    fn the_example_is_seeded_and_small() {
        let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let s = write_segmentation(a.path(), 7).unwrap();
        assert_eq!((s.cases, s.lesions), (12, 9));
        assert!(s.bytes < 1_000_000, "{s:?}");
        write_segmentation(b.path(), 7).unwrap();
        for f in ["reference/S01.nii.gz", "model/S12.dcm", "ERRORS.md"] {
            assert_eq!(
                std::fs::read(a.path().join(f)).unwrap(),
                std::fs::read(b.path().join(f)).unwrap(),
                "{f}"
            );
        }
        // The model's SEG and the reference NIfTI of a case lie on the same grid.
        for c in ["S01", "S07"] {
            let r = read_mask(&a.path().join(format!("reference/{c}.nii.gz"))).unwrap();
            let m = read_mask(&a.path().join(format!("model/{c}.dcm"))).unwrap();
            assert_eq!(r.same_grid(&m), Ok(()), "{c}");
        }
    }
}
