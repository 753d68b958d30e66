//! Small DICOM fixtures for the image pipeline (`model::pipeline`): single images that exercise
//! each pixel step (a rescale that is not the identity, signed stored values, MONOCHROME1,
//! anisotropic pixel spacing, a multi-valued window) and two five-slice series, one oblique with
//! its files named out of position order and one with a missing slice.
//!
//! The files are [`CtInstance`]s with a few header values changed after
//! [`CtInstance::to_object`] (Photometric Interpretation, Window Center/Width), so they carry the
//! same pattern as every other synthetic CT. `tests/fixtures/pipeline/gen.py` reads them with
//! pydicom and writes the expected pipeline outputs; `tests/pipeline.rs` checks the files
//! regenerate byte for byte.

use std::path::{Path, PathBuf};

use dicom_core::value::PrimitiveValue;
use dicom_core::{DataElement, VR};
use dicom_dictionary_std::tags;

use super::ct::{ds, encode, write_bytes, CtInstance, Nodule};
use super::uid::synthetic_uid;
use super::SynthError;

/// Seed of every UID in the pipeline fixtures.
pub const PIPELINE_SEED: u64 = 6;

/// Slice spacing of the two pipeline series, in mm.
pub const PIPELINE_SLICE_SPACING: f64 = 2.5;

/// Writes the pipeline fixtures into `dir` (created if needed) and returns the paths written,
/// relative to `dir`:
///
/// - `mono2.dcm`: 12 × 20, pixel spacing 0.8 × 0.5 mm, unsigned, Rescale Slope 0.5 and
///   Intercept −1024, Window Center `40\-600` and Width `400\1500` (two alternative windows);
/// - `signed.dcm`: 16 × 16, signed stored values, slope 1.5, intercept −10.25;
/// - `mono1.dcm`: 14 × 10, MONOCHROME1, pixel spacing 0.6 × 0.9 mm, slope 2, intercept −1024;
/// - `series/a.dcm` … `series/e.dcm`: five 10 × 12 slices of one series, oblique (rows along
///   +x, columns tilted 30° out of the axial plane), 2.5 mm apart along the slice normal, the
///   files holding slices 3, 0, 4, 1, 2 (so name order is not position order) with Instance
///   Numbers counting down along the normal, and slope 1 or 0.5 alternating between slices;
/// - `gap/a.dcm` … `gap/e.dcm`: five axial slices at 0, 2.5, 5, 10 and 12.5 mm (one missing).
pub fn write_pipeline_fixtures(dir: &Path) -> Result<Vec<PathBuf>, SynthError> {
    let mut written = Vec::new();
    let mut write =
        |rel: &str, inst: &CtInstance, edit: &dyn Fn(&mut dicom_object::InMemDicomObject)| {
            let mut obj = inst.to_object()?;
            edit(&mut obj);
            let bytes = encode(&obj)?;
            write_bytes(&dir.join(rel), &bytes)?;
            written.push(PathBuf::from(rel));
            Ok::<(), SynthError>(())
        };
    let put_str = |obj: &mut dicom_object::InMemDicomObject, tag, vr, value: &str| {
        obj.put(DataElement::new(tag, vr, PrimitiveValue::from(value)));
    };

    let mono2 = CtInstance {
        rows: 12,
        columns: 20,
        pixel_spacing: Some([0.8, 0.5]),
        rescale_slope: 0.5,
        rescale_intercept: -1024.0,
        texture_seed: 11,
        nodule: Some(Nodule {
            row: 5.0,
            col: 13.0,
            sigma: 1.5,
            contrast_hu: 600.0,
        }),
        ..CtInstance::new(PIPELINE_SEED, "pipeline/mono2")
    };
    write("mono2.dcm", &mono2, &|obj| {
        put_str(obj, tags::WINDOW_CENTER, VR::DS, "40\\-600");
        put_str(obj, tags::WINDOW_WIDTH, VR::DS, "400\\1500");
    })?;

    let signed = CtInstance {
        pixel_representation: 1,
        rescale_slope: 1.5,
        rescale_intercept: -10.25,
        texture_seed: 12,
        ..CtInstance::new(PIPELINE_SEED, "pipeline/signed")
    };
    write("signed.dcm", &signed, &|_| {})?;

    let mono1 = CtInstance {
        rows: 14,
        columns: 10,
        pixel_spacing: Some([0.6, 0.9]),
        rescale_slope: 2.0,
        rescale_intercept: -1024.0,
        texture_seed: 13,
        ..CtInstance::new(PIPELINE_SEED, "pipeline/mono1")
    };
    write("mono1.dcm", &mono1, &|obj| {
        put_str(obj, tags::PHOTOMETRIC_INTERPRETATION, VR::CS, "MONOCHROME1");
    })?;

    // Oblique series: rows along +x, columns (0, cos 30°, −sin 30°); the normal row × column is
    // (0, sin 30°, cos 30°).
    let (s, c) = (30f64.to_radians().sin(), 30f64.to_radians().cos());
    let orientation = [1.0, 0.0, 0.0, 0.0, c, -s];
    let normal = [0.0, s, c];
    let origin = [-3.3, -4.1, -60.0];
    let names = ["a", "b", "c", "d", "e"];
    let slice_of_file = [3usize, 0, 4, 1, 2];
    for (name, &k) in names.iter().zip(&slice_of_file) {
        let offset = k as f64 * PIPELINE_SLICE_SPACING;
        let inst = CtInstance {
            sop_instance_uid: synthetic_uid(PIPELINE_SEED, &format!("pipeline/series/sop/{k}")),
            rows: 10,
            columns: 12,
            pixel_spacing: Some([0.75, 0.6]),
            slice_thickness: Some(PIPELINE_SLICE_SPACING),
            image_orientation_patient: orientation,
            image_position_patient: [0, 1, 2].map(|i| round6(origin[i] + offset * normal[i])),
            instance_number: 5 - k as u32,
            rescale_slope: if k % 2 == 0 { 1.0 } else { 0.5 },
            rescale_intercept: -1024.0,
            texture_seed: 20 + k as u64,
            nodule: (k == 2).then_some(Nodule {
                row: 4.0,
                col: 6.0,
                sigma: 1.2,
                contrast_hu: 500.0,
            }),
            ..CtInstance::new(PIPELINE_SEED, "pipeline/series")
        };
        write(&format!("series/{name}.dcm"), &inst, &|_| {})?;
    }

    for (name, k) in names.iter().zip([0u32, 1, 2, 4, 5]) {
        let inst = CtInstance {
            sop_instance_uid: synthetic_uid(PIPELINE_SEED, &format!("pipeline/gap/sop/{k}")),
            rows: 8,
            columns: 8,
            image_position_patient: [-2.8, -2.8, -100.0 + f64::from(k) * PIPELINE_SLICE_SPACING],
            instance_number: k + 1,
            texture_seed: 40 + u64::from(k),
            ..CtInstance::new(PIPELINE_SEED, "pipeline/gap")
        };
        write(&format!("gap/{name}.dcm"), &inst, &|_| {})?;
    }
    Ok(written)
}

/// Rounds to the six decimals a Decimal String carries ([`ds`]), so the positions the files
/// hold are the positions computed here.
fn round6(x: f64) -> f64 {
    ds(x).parse().unwrap_or(x)
}
