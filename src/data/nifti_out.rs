//! Label maps written as NIfTI-1: a model's segmentation output (`models/<name>/<case>.nii.gz`
//! in the output folder) and the generator's synthetic reference masks. uint8 voxels, x
//! fastest; the place in the patient (LPS) converted to RAS and stored both as the sform
//! (code 2, aligned) and as a quaternion qform (code 1, scanner), so readers that prefer
//! either agree; deterministic bytes (gzip without a time stamp).
//!
//! Read back by `data::masks` (both transforms) and checked against nibabel 5.4.2 on the
//! generator's example data (`testdata/segmentation`, `tests/segmentation.rs`).

use super::masks::Geometry;

/// A label map as the bytes of a single-file NIfTI-1 image (`.nii`), gzip-compressed when
/// `gzip`. `geometry` None writes no transform (qform and sform codes 0).
///
/// Errors: a label count that is not one per voxel, an extent outside 1 to 32767 (NIfTI-1
/// stores extents as 16-bit integers), or axes that are not orthonormal within 1e-6.
pub fn label_map(
    dims: [usize; 3],
    spacing: [f64; 3],
    geometry: Option<&Geometry>,
    labels: &[u8],
    gzip: bool,
) -> Result<Vec<u8>, String> {
    if !dims.iter().all(|&d| (1..=i16::MAX as usize).contains(&d)) {
        return Err(format!(
            "NIfTI-1 extents are 1 to 32767, the grid is {dims:?}"
        ));
    }
    if labels.len() != dims.iter().product::<usize>() {
        return Err(format!(
            "{} labels for a grid of {dims:?} voxels",
            labels.len()
        ));
    }
    let mut h = header(dims, spacing, geometry)?;
    h.extend_from_slice(labels);
    Ok(if gzip { super::gzip::gzip_best(&h) } else { h })
}

/// The 348-byte header and the 4-byte extension flag.
fn header(
    dims: [usize; 3],
    spacing: [f64; 3],
    geometry: Option<&Geometry>,
) -> Result<Vec<u8>, String> {
    let mut h = vec![0u8; 352];
    let i16_at =
        |h: &mut Vec<u8>, at: usize, v: i16| h[at..at + 2].copy_from_slice(&v.to_le_bytes());
    let f32_at = |h: &mut Vec<u8>, at: usize, v: f64| {
        h[at..at + 4].copy_from_slice(&(v as f32).to_le_bytes());
    };
    h[0..4].copy_from_slice(&348i32.to_le_bytes()); // sizeof_hdr
    for (i, d) in [3, dims[0], dims[1], dims[2], 1, 1, 1, 1]
        .iter()
        .enumerate()
    {
        i16_at(&mut h, 40 + 2 * i, *d as i16);
    }
    i16_at(&mut h, 70, 2); // datatype: DT_UINT8
    i16_at(&mut h, 72, 8); // bitpix

    // RAS columns (x and y of LPS negated) and the rotation's handedness.
    let ras = |v: [f64; 3]| [-v[0], -v[1], v[2]];
    let axes = geometry.map_or(Geometry::AXIAL.axes, |g| g.axes);
    let cols = axes.map(ras);
    let det = cols[0][0] * (cols[1][1] * cols[2][2] - cols[2][1] * cols[1][2])
        - cols[1][0] * (cols[0][1] * cols[2][2] - cols[2][1] * cols[0][2])
        + cols[2][0] * (cols[0][1] * cols[1][2] - cols[1][1] * cols[0][2]);
    let qfac = if det < 0.0 { -1.0 } else { 1.0 };
    for (i, p) in [qfac, spacing[0], spacing[1], spacing[2]]
        .iter()
        .enumerate()
    {
        f32_at(&mut h, 76 + 4 * i, *p);
    }
    f32_at(&mut h, 108, 352.0); // vox_offset
    f32_at(&mut h, 112, 1.0); // scl_slope
    h[123] = 2; // xyzt_units: mm
    let Some(geometry) = geometry else {
        // No stated place: qform_code and sform_code 0 (NIfTI-1 "method 1").
        h[344..348].copy_from_slice(b"n+1\0");
        return Ok(h);
    };
    for (a, b) in [(0, 1), (0, 2), (1, 2)] {
        let dot: f64 = (0..3).map(|i| cols[a][i] * cols[b][i]).sum();
        if dot.abs() > 1e-6 {
            return Err(format!(
                "the grid's axes are not orthonormal (dot product {dot:e}); a NIfTI qform cannot state them"
            ));
        }
    }
    i16_at(&mut h, 252, 1); // qform_code: scanner
    i16_at(&mut h, 254, 2); // sform_code: aligned
    let [b, c, d] = quaternion([cols[0], cols[1], cols[2].map(|x| x * qfac)]);
    let origin = ras(geometry.origin);
    for (i, v) in [b, c, d, origin[0], origin[1], origin[2]]
        .iter()
        .enumerate()
    {
        f32_at(&mut h, 256 + 4 * i, *v);
    }
    for r in 0..3 {
        for k in 0..3 {
            f32_at(&mut h, 280 + 16 * r + 4 * k, cols[k][r] * spacing[k]);
        }
        f32_at(&mut h, 280 + 16 * r + 12, origin[r]);
    }
    h[344..348].copy_from_slice(b"n+1\0");
    Ok(h)
}

/// The quaternion (b, c, d; a ≥ 0 implied) of a proper rotation given by its columns, as
/// nifti1_io's `nifti_mat44_to_quatern` computes it.
fn quaternion(cols: [[f64; 3]; 3]) -> [f64; 3] {
    let r = |i: usize, j: usize| cols[j][i];
    let trace = r(0, 0) + r(1, 1) + r(2, 2) + 1.0;
    let (a, b, c, d);
    if trace > 0.5 {
        a = 0.5 * trace.sqrt();
        b = 0.25 * (r(2, 1) - r(1, 2)) / a;
        c = 0.25 * (r(0, 2) - r(2, 0)) / a;
        d = 0.25 * (r(1, 0) - r(0, 1)) / a;
    } else {
        let xd = 1.0 + r(0, 0) - (r(1, 1) + r(2, 2));
        let yd = 1.0 + r(1, 1) - (r(0, 0) + r(2, 2));
        let zd = 1.0 + r(2, 2) - (r(0, 0) + r(1, 1));
        if xd > 1.0 {
            b = 0.5 * xd.sqrt();
            c = 0.25 * (r(0, 1) + r(1, 0)) / b;
            d = 0.25 * (r(0, 2) + r(2, 0)) / b;
            a = 0.25 * (r(2, 1) - r(1, 2)) / b;
        } else if yd > 1.0 {
            c = 0.5 * yd.sqrt();
            b = 0.25 * (r(0, 1) + r(1, 0)) / c;
            d = 0.25 * (r(1, 2) + r(2, 1)) / c;
            a = 0.25 * (r(0, 2) - r(2, 0)) / c;
        } else {
            d = 0.5 * zd.sqrt();
            b = 0.25 * (r(0, 2) + r(2, 0)) / d;
            c = 0.25 * (r(1, 2) + r(2, 1)) / d;
            a = 0.25 * (r(1, 0) - r(0, 1)) / d;
        }
    }
    if a < 0.0 {
        [-b, -c, -d]
    } else {
        [b, c, d]
    }
}
