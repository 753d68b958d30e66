//! A minimal NIfTI-1 writer for synthetic masks: one `.nii` or `.nii.gz` file, uint8 voxels,
//! no transform (qform and sform codes 0), spacing in mm. Deterministic bytes: the gzip
//! header carries no time stamp (MTIME 0) or file name.
//!
//! Checked against nibabel 5.4.2 on the 68 masks of `testdata/demo/labels/masks/`:
//! `Nifti1Header.diagnose_binaryblock` reports nothing, `nib.load` gives shape (16, 16, 2),
//! zooms equal to the spacing written (e.g. 0.7421875, 0.7421875, 1.0), units mm, dtype uint8
//! and data equal to the voxels written (x fastest). The unit tests read files back with
//! `data::masks`.

use std::path::Path;

use super::SynthError;

/// The 348-byte NIfTI-1 header plus the 4-byte extension flag of a single-file image.
fn header(dims: [usize; 3], spacing: [f64; 3]) -> Vec<u8> {
    let mut h = vec![0u8; 352];
    let put_i16 =
        |h: &mut Vec<u8>, at: usize, v: i16| h[at..at + 2].copy_from_slice(&v.to_le_bytes());
    let put_f32 =
        |h: &mut Vec<u8>, at: usize, v: f32| h[at..at + 4].copy_from_slice(&v.to_le_bytes());
    h[0..4].copy_from_slice(&348i32.to_le_bytes()); // sizeof_hdr
    let dim = [3, dims[0], dims[1], dims[2], 1, 1, 1, 1];
    for (i, d) in dim.iter().enumerate() {
        put_i16(&mut h, 40 + 2 * i, *d as i16);
    }
    put_i16(&mut h, 70, 2); // datatype: DT_UINT8
    put_i16(&mut h, 72, 8); // bitpix
    let pixdim = [1.0, spacing[0], spacing[1], spacing[2], 0.0, 0.0, 0.0, 0.0];
    for (i, p) in pixdim.iter().enumerate() {
        put_f32(&mut h, 76 + 4 * i, *p as f32);
    }
    put_f32(&mut h, 108, 352.0); // vox_offset
    put_f32(&mut h, 112, 1.0); // scl_slope
    h[123] = 2; // xyzt_units: mm
    h[344..348].copy_from_slice(b"n+1\0");
    h
}

/// Writes a binary mask (`voxels` x fastest) as NIfTI-1, gzip-compressed when the path ends in
/// `.gz`; the parent folder is created.
///
/// # Panics
/// When `voxels` does not hold one value per voxel, or an extent is 0 or above 32767 (NIfTI-1
/// stores extents as 16-bit signed integers): programming errors of the generator.
pub fn write_mask(
    path: &Path,
    dims: [usize; 3],
    spacing: [f64; 3],
    voxels: &[bool],
) -> Result<(), SynthError> {
    assert!(
        dims.iter().all(|&d| (1..=i16::MAX as usize).contains(&d)),
        "NIfTI-1 extents are 1 to 32767, got {dims:?}"
    );
    assert_eq!(
        voxels.len(),
        dims.iter().product::<usize>(),
        "one value per voxel"
    );
    let mut bytes = header(dims, spacing);
    bytes.extend(voxels.iter().map(|&v| u8::from(v)));
    if path.extension().is_some_and(|e| e == "gz") {
        bytes = crate::data::gzip::gzip_best(&bytes);
    }
    super::ct::write_bytes(path, &bytes)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_read_back() {
        let d = tempfile::tempdir().unwrap();
        let voxels: Vec<bool> = (0..16 * 16 * 2).map(|i| i % 7 == 0).collect();
        for name in ["m.nii", "m.nii.gz"] {
            let p = d.path().join(name);
            write_mask(&p, [16, 16, 2], [0.7, 0.7, 1.25], &voxels).unwrap();
            let m = crate::data::masks::read_mask(&p).unwrap();
            assert_eq!(m.dims, [16, 16, 2]);
            assert!((m.spacing[2] - 1.25).abs() < 1e-6);
            assert_eq!(m.voxels, voxels);
        }
        // Deterministic bytes: gzip (RFC 1952 §2.3) with MTIME 0 and no FNAME flag.
        let a = std::fs::read(d.path().join("m.nii.gz")).unwrap();
        assert_eq!(&a[..3], &[0x1f, 0x8b, 8]);
        assert_eq!((a[3] & 0x08, &a[4..8]), (0, &[0u8; 4][..]));
        write_mask(
            &d.path().join("m.nii.gz"),
            [16, 16, 2],
            [0.7, 0.7, 1.25],
            &voxels,
        )
        .unwrap();
        assert_eq!(a, std::fs::read(d.path().join("m.nii.gz")).unwrap());
        // A different grid is named.
        let other = crate::data::masks::Mask {
            dims: [16, 16, 1],
            spacing: [0.7, 0.7, 1.25],
            geometry: None,
            voxels: vec![false; 256],
        };
        let m = crate::data::masks::read_mask(&d.path().join("m.nii")).unwrap();
        assert!(m.same_grid(&other).unwrap_err().contains("dimensions"));
        assert!(crate::data::masks::read_mask(&d.path().join("missing.nii")).is_err());
    }
}
