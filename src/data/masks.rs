//! Masks for segmentation checks: NIfTI-1 files (`.nii`, `.nii.gz`, read with the nifti crate)
//! and DICOM Segmentation objects (`.dcm`, read by [`super::seg`]), each as a binary mask on a
//! voxel grid with its place in the patient. Segmentation agreement (`labels.agreement` with
//! `dice`), AI-assist edits and the `segmentation` check read masks through [`read_mask`]
//! (foreground: any non-zero value, any segment) or [`read_structure`] (one label value or one
//! segment); the overlap statistics themselves live in `stats::overlap`.
//!
//! Geometry is kept in DICOM's patient coordinate system, LPS (PS3.3 §C.7.6.2.1.1: +x towards
//! the patient's left, +y posterior, +z head), in mm. NIfTI-1 stores RAS (+x right, +y
//! anterior), so its x and y rows are negated on reading.

use std::path::Path;

use nifti::{Endianness, NiftiHeader, NiftiObject, NiftiType, NiftiVolume, ReaderOptions};

/// Two grids' voxel sizes agree when they differ by at most this share of the larger one.
pub const SPACING_TOLERANCE: f64 = 1e-5;
/// Two grids' axes agree when every direction cosine differs by at most this much (1e-4 is
/// 0.006°, 0.05 mm across a 500 mm field of view; NIfTI stores float32, DICOM decimal strings).
pub const COSINE_TOLERANCE: f64 = 1e-4;
/// Two grids' origins (the centre of the first voxel) agree within this distance per
/// coordinate, in mm.
pub const ORIGIN_TOLERANCE_MM: f64 = 1e-3;

/// Where a grid lies in the patient, LPS, mm: voxel (i, j, k) has its centre at
/// `origin + i·spacing[0]·axes[0] + j·spacing[1]·axes[1] + k·spacing[2]·axes[2]`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Geometry {
    /// The centre of voxel (0, 0, 0).
    pub origin: [f64; 3],
    /// The unit vector of each voxel axis (i fastest, then j, then k).
    pub axes: [[f64; 3]; 3],
}

impl Geometry {
    /// Identity axes at the origin (LPS): what a test or a generator starts from.
    pub const AXIAL: Geometry = Geometry {
        origin: [0.0; 3],
        axes: [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]],
    };

    /// The patient position of voxel `(i, j, k)`'s centre on a grid of `spacing`.
    pub fn position(&self, spacing: [f64; 3], ijk: [f64; 3]) -> [f64; 3] {
        let mut p = self.origin;
        for (axis, (s, n)) in self.axes.iter().zip(spacing.iter().zip(ijk)) {
            for (pc, a) in p.iter_mut().zip(axis) {
                *pc += a * s * n;
            }
        }
        p
    }
}

impl std::fmt::Display for Geometry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let v = |x: &[f64; 3]| format!("({:.4}, {:.4}, {:.4})", x[0], x[1], x[2]);
        write!(
            f,
            "origin {} mm, axes {} {} {} (LPS)",
            v(&self.origin),
            v(&self.axes[0]),
            v(&self.axes[1]),
            v(&self.axes[2])
        )
    }
}

/// A binary mask on a voxel grid (x fastest, as stored; 2D images have `dims[2] == 1`).
#[derive(Debug, Clone, PartialEq)]
pub struct Mask {
    pub dims: [usize; 3],
    /// Voxel size in mm along the grid's axes (NIfTI-1 `pixdim[1..=3]`; DICOM PixelSpacing
    /// column then row spacing, and the distance between slice positions).
    pub spacing: [f64; 3],
    /// The grid's place in the patient; `None` for a NIfTI file whose `qform_code` and
    /// `sform_code` are both 0 (NIfTI-1 "method 1": no orientation is stated).
    pub geometry: Option<Geometry>,
    pub voxels: Vec<bool>,
}

impl Mask {
    /// Both masks lie on the same grid: equal dimensions, voxel sizes within
    /// [`SPACING_TOLERANCE`] (relative), and, where both state one, the same geometry (axes
    /// within [`COSINE_TOLERANCE`], origins within [`ORIGIN_TOLERANCE_MM`]). A mask without a
    /// stated orientation matches only another without one: nothing can be said about how its
    /// voxels lie against the other's. The message names both grids, this one first.
    pub fn same_grid(&self, other: &Mask) -> Result<(), String> {
        let close = |a: f64, b: f64| (a - b).abs() <= SPACING_TOLERANCE * a.abs().max(b.abs());
        if self.dims != other.dims {
            return Err(format!(
                "different dimensions: {:?} and {:?}",
                self.dims, other.dims
            ));
        }
        if !self
            .spacing
            .iter()
            .zip(&other.spacing)
            .all(|(a, b)| close(*a, *b))
        {
            return Err(format!(
                "different voxel spacing: {:?} mm and {:?} mm",
                self.spacing, other.spacing
            ));
        }
        match (&self.geometry, &other.geometry) {
            (None, None) => Ok(()),
            (Some(a), None) => Err(format!(
                "orientation stated in one mask only: {a} and none (NIfTI qform_code and sform_code 0)"
            )),
            (None, Some(b)) => Err(format!(
                "orientation stated in one mask only: none (NIfTI qform_code and sform_code 0) and {b}"
            )),
            (Some(a), Some(b)) => {
                let axes_agree = a
                    .axes
                    .iter()
                    .flatten()
                    .zip(b.axes.iter().flatten())
                    .all(|(x, y)| (x - y).abs() <= COSINE_TOLERANCE);
                if !axes_agree {
                    return Err(format!("different orientation: {a} and {b}"));
                }
                if !a
                    .origin
                    .iter()
                    .zip(&b.origin)
                    .all(|(x, y)| (x - y).abs() <= ORIGIN_TOLERANCE_MM)
                {
                    return Err(format!("different origin: {a} and {b}"));
                }
                Ok(())
            }
        }
    }
}

/// Which voxels of a mask file are foreground.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Foreground {
    /// Any non-zero value (NIfTI), any segment (DICOM SEG).
    Any,
    /// Voxels holding this value (NIfTI), or this segment number (DICOM SEG).
    Label(u32),
}

impl std::fmt::Display for Foreground {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Foreground::Any => write!(f, "any non-zero value or segment"),
            Foreground::Label(v) => write!(f, "label or segment {v}"),
        }
    }
}

/// Why a mask could not be read.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum MaskError {
    /// The file is missing, malformed or unsupported; the message names the file.
    #[error("{0}")]
    Unreadable(String),
    /// A DICOM Segmentation that does not define the segment asked for.
    #[error(
        "{path}: segment {segment} is not defined in its SegmentSequence (segments: {present:?})"
    )]
    MissingSegment {
        path: String,
        segment: u32,
        present: Vec<u16>,
    },
}

/// A folder of masks, one file per case (`<case_id>.nii`, `<case_id>.nii.gz` or
/// `<case_id>.dcm`): the files by case, hashed when listed, and the structures the spec names
/// in them; the voxels are read by the checks, one pair at a time.
#[derive(Debug, Clone, Default)]
pub struct MaskSet {
    /// Where the folder is shown in findings.
    pub display: String,
    pub files: std::collections::BTreeMap<String, std::path::PathBuf>,
    /// Structure name → label value (NIfTI) or segment number (DICOM SEG), from the spec's
    /// `structures:`.
    pub structures: std::collections::BTreeMap<String, u32>,
}

/// The case id a mask file stands for, or None for other files.
pub fn case_of(file_name: &str) -> Option<&str> {
    file_name
        .strip_suffix(".nii.gz")
        .or_else(|| file_name.strip_suffix(".nii"))
        .or_else(|| file_name.strip_suffix(".dcm"))
        .filter(|c| !c.is_empty())
}

/// Reads a mask, foreground any non-zero value (NIfTI) or any segment (DICOM SEG, a `.dcm`
/// file). Errors name the file.
pub fn read_mask(path: &Path) -> Result<Mask, String> {
    read_structure(path, Foreground::Any).map_err(|e| e.to_string())
}

/// Reads one structure of a mask file: a NIfTI-1 file, or a DICOM Segmentation when the name
/// ends in `.dcm` (see [`super::seg::read_seg`]). Never panics on a malformed file.
pub fn read_structure(path: &Path, which: Foreground) -> Result<Mask, MaskError> {
    if path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("dcm"))
    {
        super::seg::read_seg(path, which)
    } else {
        read_nifti(path, which).map_err(MaskError::Unreadable)
    }
}

/// Reads a NIfTI-1 mask. Errors name the file: missing, not NIfTI, more than three spatial
/// dimensions in use (a 4th to 7th dimension of extent > 1), a spacing that is not a positive
/// finite number (NIfTI-1 `pixdim[1..=3]`, also for an axis of extent 1), data shorter than
/// the header says, a non-finite value (NaN, infinity), a data type that is neither integer
/// nor real, or a stated transform that is not finite or has a degenerate axis.
///
/// Foreground is decided on the stored value (`scl_slope`/`scl_inter` are not applied: a mask
/// is 0 and labels as written, and `-0.0` is background). Never panics on a malformed file.
///
/// Geometry: the sform when `sform_code > 0`, else the qform when `qform_code > 0` (NIfTI-1
/// header, "methods 3 and 2"), else none. Each axis is the transform's column divided by its
/// length; the spacing stays `pixdim[1..=3]`.
fn read_nifti(path: &Path, which: Foreground) -> Result<Mask, String> {
    let shown = path.display();
    let obj = ReaderOptions::new()
        .read_file(path)
        .map_err(|e| format!("{shown}: cannot be read as NIfTI-1: {e}"))?;
    let h = obj.header();
    let rank = usize::from(h.dim[0]);
    if !(1..=7).contains(&rank) {
        return Err(format!("{shown}: invalid dimension count {rank}"));
    }
    if h.dim[4..=rank.max(3)].iter().any(|&d| d > 1) {
        return Err(format!(
            "{shown}: {rank} dimensions in use ({:?}); a mask has at most three",
            &h.dim[1..=rank]
        ));
    }
    let dim = |i: usize| {
        if i <= rank {
            usize::from(h.dim[i]).max(1)
        } else {
            1
        }
    };
    let dims = [dim(1), dim(2), dim(3)];
    let space = |i: usize| {
        if i <= rank {
            f64::from(h.pixdim[i])
        } else {
            1.0
        }
    };
    let spacing = [space(1), space(2), space(3)];
    if spacing.iter().any(|s| !s.is_finite() || *s <= 0.0) {
        return Err(format!(
            "{shown}: voxel spacing {spacing:?} is not positive and finite"
        ));
    }
    let geometry = nifti_geometry(h).map_err(|why| format!("{shown}: {why}"))?;
    let endianness = h.endianness;
    let volume = obj.into_volume();
    let kind = volume.data_type();
    let n = dims.iter().product::<usize>();
    let size = kind.size_of();
    let raw = volume.raw_data();
    let signed = matches!(
        kind,
        NiftiType::Int8 | NiftiType::Int16 | NiftiType::Int32 | NiftiType::Int64
    );
    let integer = signed
        || matches!(
            kind,
            NiftiType::Uint8 | NiftiType::Uint16 | NiftiType::Uint32 | NiftiType::Uint64
        );
    let real = matches!(kind, NiftiType::Float32 | NiftiType::Float64);
    if !integer && !real {
        return Err(format!(
            "{shown}: data type {kind:?} is not an integer or real mask"
        ));
    }
    if raw.len() < n * size {
        return Err(format!(
            "{shown}: the volume holds fewer voxels than its header says ({} bytes for {n} voxels of {size} bytes)",
            raw.len()
        ));
    }
    // One stored value as little-endian bytes, zero-extended (sign-extended when signed).
    let le = |c: &[u8]| -> [u8; 8] {
        let mut b = [0u8; 8];
        b[..size].copy_from_slice(c);
        if endianness == Endianness::Big {
            b[..size].reverse();
        }
        if signed && b[size - 1] & 0x80 != 0 {
            b[size..].fill(0xFF);
        }
        b
    };
    let words = raw[..n * size].chunks_exact(size);
    let voxels = if integer {
        match which {
            // An integer is non-zero exactly when one of its bytes is, whatever the byte order.
            Foreground::Any => words.map(|c| c.iter().any(|&b| b != 0)).collect(),
            Foreground::Label(v) => {
                let v = u64::from(v);
                words.map(|c| u64::from_le_bytes(le(c)) == v).collect()
            }
        }
    } else {
        let mut out = Vec::with_capacity(n);
        for c in words {
            let b = le(c);
            let v = if size == 4 {
                f64::from(f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            } else {
                f64::from_le_bytes(b)
            };
            if !v.is_finite() {
                return Err(format!(
                    "{shown}: voxel {} holds {v}, not a finite number",
                    out.len()
                ));
            }
            out.push(match which {
                Foreground::Any => v != 0.0,
                Foreground::Label(l) => v == f64::from(l),
            });
        }
        out
    };
    Ok(Mask {
        dims,
        spacing,
        geometry,
        voxels,
    })
}

/// The grid's geometry in LPS from a NIfTI-1 header: sform, else qform, else none.
fn nifti_geometry(h: &NiftiHeader) -> Result<Option<Geometry>, String> {
    // Columns of the 3×3 part (RAS) and the offset, in f64.
    let (columns, offset, what) = if h.sform_code > 0 {
        let rows = [h.srow_x, h.srow_y, h.srow_z].map(|r| r.map(f64::from));
        let columns: [[f64; 3]; 3] = [0, 1, 2].map(|c| [rows[0][c], rows[1][c], rows[2][c]]);
        (columns, [rows[0][3], rows[1][3], rows[2][3]], "sform")
    } else if h.qform_code > 0 {
        // NIfTI-1 header (nifti1.h, method 2): the rotation from the quaternion (b, c, d),
        // a = sqrt(1 − b² − c² − d²), the third column times qfac = pixdim[0] (−1 or 1). As
        // nifti1_io's quatern_to_mat44 does, a² below 1e-7 means a = 0 with (b, c, d)
        // renormalised: float32 storage of a 180° rotation leaves a² ≈ 6e-8, which would
        // otherwise tilt the axes by 3e-4 (nibabel 5.4.2 also takes a = 0 below 3 float32
        // epsilons, without renormalising).
        let [mut b, mut c, mut d] = [h.quatern_b, h.quatern_c, h.quatern_d].map(f64::from);
        let a2 = 1.0 - (b * b + c * c + d * d);
        let a = if a2 < 1e-7 {
            let n = (b * b + c * c + d * d).sqrt();
            if n > 0.0 {
                [b, c, d] = [b / n, c / n, d / n];
            }
            0.0
        } else {
            a2.sqrt()
        };
        let qfac = if h.pixdim[0] < 0.0 { -1.0 } else { 1.0 };
        let r = [
            [
                a * a + b * b - c * c - d * d,
                2.0 * (b * c - a * d),
                2.0 * (b * d + a * c),
            ],
            [
                2.0 * (b * c + a * d),
                a * a + c * c - b * b - d * d,
                2.0 * (c * d - a * b),
            ],
            [
                2.0 * (b * d - a * c),
                2.0 * (c * d + a * b),
                a * a + d * d - c * c - b * b,
            ],
        ];
        let columns = [0, 1, 2].map(|k| {
            let s = if k == 2 { qfac } else { 1.0 };
            [r[0][k] * s, r[1][k] * s, r[2][k] * s]
        });
        let offset = [h.quatern_x, h.quatern_y, h.quatern_z].map(f64::from);
        (columns, offset, "qform")
    } else {
        return Ok(None);
    };
    if columns
        .iter()
        .flatten()
        .chain(&offset)
        .any(|v| !v.is_finite())
    {
        return Err(format!("the {what} holds a value that is not finite"));
    }
    let lps = |v: [f64; 3]| [-v[0], -v[1], v[2]];
    let mut axes = [[0.0; 3]; 3];
    for (axis, col) in axes.iter_mut().zip(columns) {
        let norm = col.iter().map(|x| x * x).sum::<f64>().sqrt();
        if norm == 0.0 {
            return Err(format!("the {what} has an axis of length 0"));
        }
        *axis = lps(col.map(|x| x / norm));
    }
    Ok(Some(Geometry {
        origin: lps(offset),
        axes,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::synth::write_mask;

    /// A single-file NIfTI-1 image built field by field (NIfTI-1 header layout: `dim` at 40,
    /// `datatype` 70, `bitpix` 72, `pixdim` 76, `vox_offset` 108, `magic` 344), for the data
    /// types and byte orders the synthetic writer does not produce.
    fn nii(dim: &[i16], datatype: i16, pixdim: [f32; 3], data: &[u8], big: bool) -> Vec<u8> {
        let mut h = vec![0u8; 352];
        let i16b = |v: i16| {
            if big {
                v.to_be_bytes()
            } else {
                v.to_le_bytes()
            }
        };
        let f32b = |v: f32| {
            if big {
                v.to_be_bytes()
            } else {
                v.to_le_bytes()
            }
        };
        let i32b = if big {
            348i32.to_be_bytes()
        } else {
            348i32.to_le_bytes()
        };
        h[0..4].copy_from_slice(&i32b);
        h[40..42].copy_from_slice(&i16b(dim.len() as i16));
        for (i, d) in dim.iter().enumerate() {
            h[42 + 2 * i..44 + 2 * i].copy_from_slice(&i16b(*d));
        }
        let bitpix = match datatype {
            2 => 8,
            4 => 16,
            16 => 32,
            64 => 64,
            128 => 24,
            _ => 8,
        };
        h[70..72].copy_from_slice(&i16b(datatype));
        h[72..74].copy_from_slice(&i16b(bitpix));
        for (i, p) in [1.0, pixdim[0], pixdim[1], pixdim[2]].iter().enumerate() {
            h[76 + 4 * i..80 + 4 * i].copy_from_slice(&f32b(*p));
        }
        h[108..112].copy_from_slice(&f32b(352.0));
        h[112..116].copy_from_slice(&f32b(1.0));
        h[344..348].copy_from_slice(b"n+1\0");
        h.extend_from_slice(data);
        h
    }

    fn put(dir: &Path, name: &str, bytes: &[u8]) -> std::path::PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, bytes).unwrap();
        p
    }

    #[test]
    fn masks_written_by_the_synthetic_writer_read_back() {
        let d = tempfile::tempdir().unwrap();
        // 3D, gzip-compressed and not, and a 2D mask (third extent 1).
        let v3: Vec<bool> = (0..4 * 3 * 2).map(|i| i % 5 == 1).collect();
        for name in ["a.nii", "a.nii.gz"] {
            let p = d.path().join(name);
            write_mask(&p, [4, 3, 2], [0.5, 0.75, 2.5], &v3).unwrap();
            let m = read_mask(&p).unwrap();
            assert_eq!(m.dims, [4, 3, 2]);
            assert_eq!(m.spacing, [0.5, 0.75, 2.5]);
            assert_eq!(m.voxels, v3);
        }
        let v2 = [true, false, false, true, true, false];
        let p = d.path().join("flat.nii.gz");
        write_mask(&p, [3, 2, 1], [0.7, 0.7, 1.0], &v2).unwrap();
        let flat = read_mask(&p).unwrap();
        assert_eq!((flat.dims, flat.voxels.as_slice()), ([3, 2, 1], &v2[..]));
        // Grids: the same, a different spacing (both named), different dimensions.
        let a = read_mask(&d.path().join("a.nii")).unwrap();
        assert_eq!(
            a.same_grid(&read_mask(&d.path().join("a.nii.gz")).unwrap()),
            Ok(())
        );
        let mut b = a.clone();
        b.spacing[2] = 2.5 * (1.0 + 1e-7);
        assert_eq!(a.same_grid(&b), Ok(()), "within 1e-6 relative");
        b.spacing[2] = 3.0;
        let e = a.same_grid(&b).unwrap_err();
        assert!(e.contains("2.5") && e.contains("3.0"), "{e}");
        let e = a.same_grid(&flat).unwrap_err();
        assert!(e.contains("[4, 3, 2]") && e.contains("[3, 2, 1]"), "{e}");
    }

    #[test]
    fn other_types_and_byte_orders() {
        let d = tempfile::tempdir().unwrap();
        // int16 big-endian 0, 256, -1, 0: the low byte of 256 is 0, the value is not.
        let data: Vec<u8> = [0i16, 256, -1, 0]
            .iter()
            .flat_map(|v| v.to_be_bytes())
            .collect();
        let p = put(d.path(), "i16.nii", &nii(&[2, 2], 4, [1.0; 3], &data, true));
        let m = read_mask(&p).unwrap();
        assert_eq!(m.dims, [2, 2, 1]);
        assert_eq!(m.voxels, [false, true, true, false]);
        // float32 little-endian: -0.0 is background, 0.5 foreground.
        let data: Vec<u8> = [0.0f32, 0.5, -0.0, 1.0]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        let p = put(d.path(), "f32.nii", &nii(&[4], 16, [1.0; 3], &data, false));
        assert_eq!(read_mask(&p).unwrap().voxels, [false, true, false, true]);
        // float64 big-endian.
        let data: Vec<u8> = [2.0f64, 0.0].iter().flat_map(|v| v.to_be_bytes()).collect();
        let p = put(
            d.path(),
            "f64.nii",
            &nii(&[1, 2, 1], 64, [1.0; 3], &data, true),
        );
        assert_eq!(read_mask(&p).unwrap().voxels, [true, false]);
        // A fourth dimension of extent 1 is still a 3D mask.
        let p = put(
            d.path(),
            "4d1.nii",
            &nii(&[2, 1, 1, 1], 2, [1.0, 1.0, 2.0], &[1, 0], false),
        );
        let m = read_mask(&p).unwrap();
        assert_eq!((m.dims, m.spacing), ([2, 1, 1], [1.0, 1.0, 2.0]));
    }

    #[test]
    fn bad_files_are_errors_naming_the_file() {
        let d = tempfile::tempdir().unwrap();
        let err = |p: &Path, expect: &str| {
            let e = read_mask(p).unwrap_err();
            assert!(
                e.contains(&p.display().to_string()) && e.contains(expect),
                "{e}"
            );
        };
        err(&d.path().join("missing.nii.gz"), "cannot be read");
        err(
            &put(d.path(), "text.nii", b"case_id,label\nC0001,1\n"),
            "cannot be read",
        );
        err(
            &put(
                d.path(),
                "4d.nii",
                &nii(&[2, 1, 1, 2], 2, [1.0; 3], &[1; 4], false),
            ),
            "at most three",
        );
        for (name, pixdim) in [
            ("nan.nii", [f32::NAN, 1.0, 1.0]),
            ("zero.nii", [1.0, 0.0, 1.0]),
            ("neg.nii", [1.0, 1.0, -2.0]),
        ] {
            err(
                &put(d.path(), name, &nii(&[1, 1, 1], 2, pixdim, &[1], false)),
                "not positive and finite",
            );
        }
        let data: Vec<u8> = [0.0f32, f32::NAN]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        err(
            &put(
                d.path(),
                "nanvalue.nii",
                &nii(&[2], 16, [1.0; 3], &data, false),
            ),
            "not a finite number",
        );
        let data: Vec<u8> = [f32::INFINITY]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        err(
            &put(d.path(), "inf.nii", &nii(&[1], 16, [1.0; 3], &data, false)),
            "not a finite number",
        );
        err(
            &put(
                d.path(),
                "short.nii",
                &nii(&[4, 4], 2, [1.0; 3], &[1; 10], false),
            ),
            "cannot be read",
        );
        err(
            &put(
                d.path(),
                "rgb.nii",
                &nii(&[1], 128, [1.0; 3], &[1, 2, 3], false),
            ),
            "not an integer or real mask",
        );
    }

    /// Sets the qform (code, quaternion b c d, offset, qfac) and sform (code, rows) of a
    /// little-endian header built by `nii` (NIfTI-1 offsets: qform_code 252, sform_code 254,
    /// quatern_b 256, qoffset_x 268, srow_x 280, srow_y 296, srow_z 312, pixdim[0] 76).
    fn transform(h: &mut [u8], q: (i16, [f32; 3], [f32; 3], f32), s: (i16, [[f32; 4]; 3])) {
        h[252..254].copy_from_slice(&q.0.to_le_bytes());
        h[254..256].copy_from_slice(&s.0.to_le_bytes());
        for (i, v) in q.1.iter().chain(&q.2).enumerate() {
            h[256 + 4 * i..260 + 4 * i].copy_from_slice(&v.to_le_bytes());
        }
        h[76..80].copy_from_slice(&q.3.to_le_bytes());
        for (r, row) in s.1.iter().enumerate() {
            for (c, v) in row.iter().enumerate() {
                let at = 280 + 16 * r + 4 * c;
                h[at..at + 4].copy_from_slice(&v.to_le_bytes());
            }
        }
    }

    #[test]
    fn sform_then_qform_in_lps() {
        // Worked by hand. sform: i along RAS +y (2 mm), j along RAS −x, k along +z; in LPS
        // (x and y negated) i is (0, −1, 0), j (1, 0, 0), k (0, 0, 1), origin (−10, −20, 30).
        let d = tempfile::tempdir().unwrap();
        let mut h = nii(
            &[2, 2, 2],
            2,
            [2.0, 1.0, 3.0],
            &[0, 1, 2, 0, 0, 0, 2, 1],
            false,
        );
        let sform = [
            [0.0, -1.0, 0.0, 10.0],
            [2.0, 0.0, 0.0, 20.0],
            [0.0, 0.0, 3.0, 30.0],
        ];
        // A qform that must be ignored while the sform is stated.
        transform(&mut h, (1, [0.0; 3], [1.0, 2.0, 3.0], 1.0), (2, sform));
        let p = put(d.path(), "s.nii", &h);
        let g = read_mask(&p).unwrap().geometry.unwrap();
        assert_eq!(g.axes, [[0.0, -1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]]);
        assert_eq!(g.origin, [-10.0, -20.0, 30.0]);
        // qform alone: 90° about z (a = cos 45°, d = sin 45°), qfac −1 flips k. RAS columns
        // (0, 1, 0), (−1, 0, 0), (0, 0, −1); LPS (0, −1, 0), (1, 0, 0), (0, 0, −1).
        let half = std::f32::consts::FRAC_1_SQRT_2;
        transform(
            &mut h,
            (1, [0.0, 0.0, half], [5.0, 6.0, 7.0], -1.0),
            (0, sform),
        );
        let p = put(d.path(), "q.nii", &h);
        let g = read_mask(&p).unwrap().geometry.unwrap();
        let want = [[0.0, -1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, -1.0]];
        for (a, b) in g.axes.iter().flatten().zip(want.iter().flatten()) {
            assert!((a - b).abs() < 1e-7, "{g}");
        }
        assert_eq!(g.origin, [-5.0, -6.0, 7.0]);
        // Neither: no geometry. A degenerate or non-finite sform is an error naming it.
        transform(&mut h, (0, [0.0; 3], [0.0; 3], 1.0), (0, sform));
        assert_eq!(
            read_mask(&put(d.path(), "n.nii", &h)).unwrap().geometry,
            None
        );
        transform(&mut h, (0, [0.0; 3], [0.0; 3], 1.0), (1, [[0.0; 4]; 3]));
        let e = read_mask(&put(d.path(), "z.nii", &h)).unwrap_err();
        assert!(
            e.contains("z.nii") && e.contains("sform has an axis of length 0"),
            "{e}"
        );
        transform(
            &mut h,
            (0, [0.0; 3], [0.0; 3], 1.0),
            (1, [[f32::NAN; 4]; 3]),
        );
        let e = read_mask(&put(d.path(), "nan.nii", &h)).unwrap_err();
        assert!(e.contains("sform holds a value that is not finite"), "{e}");
    }

    #[test]
    fn labels_select_one_value() {
        // uint8 labels 0 1 2 0 1 2 0 2 and int16 big-endian −1 (never a label) and 2.
        let d = tempfile::tempdir().unwrap();
        let p = put(
            d.path(),
            "l.nii",
            &nii(&[8], 2, [1.0; 3], &[0, 1, 2, 0, 1, 2, 0, 2], false),
        );
        let pick = |p: &Path, l| read_structure(p, Foreground::Label(l)).unwrap().voxels;
        let b = |s: &str| s.bytes().map(|c| c == b'1').collect::<Vec<_>>();
        assert_eq!(pick(&p, 1), b("01001000"));
        assert_eq!(pick(&p, 2), b("00100101"));
        assert_eq!(pick(&p, 3), b("00000000"));
        let data: Vec<u8> = [-1i16, 2, 0].iter().flat_map(|v| v.to_be_bytes()).collect();
        let p = put(d.path(), "s.nii", &nii(&[3], 4, [1.0; 3], &data, true));
        assert_eq!(pick(&p, 2), b("010"));
        assert_eq!(read_mask(&p).unwrap().voxels, b("110"));
        let data: Vec<u8> = [2.0f32, 2.5, 0.0]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        let p = put(d.path(), "f.nii", &nii(&[3], 16, [1.0; 3], &data, false));
        assert_eq!(pick(&p, 2), b("100"));
    }

    #[test]
    fn grids_compare_orientation_and_origin() {
        let a = Mask {
            dims: [2, 2, 2],
            spacing: [1.0, 1.0, 2.0],
            geometry: Some(Geometry::AXIAL),
            voxels: vec![false; 8],
        };
        let mut b = a.clone();
        // Within the tolerances: equal.
        let g = b.geometry.as_mut().unwrap();
        g.axes[0][1] = 0.9 * COSINE_TOLERANCE;
        g.origin[2] = 0.9 * ORIGIN_TOLERANCE_MM;
        assert_eq!(a.same_grid(&b), Ok(()));
        // Beyond: named with both geometries.
        let mut c = a.clone();
        c.geometry.as_mut().unwrap().axes[2] = [0.0, 0.0, -1.0];
        let e = a.same_grid(&c).unwrap_err();
        assert!(
            e.starts_with("different orientation") && e.contains("(0.0000, 0.0000, -1.0000)"),
            "{e}"
        );
        let mut c = a.clone();
        c.geometry.as_mut().unwrap().origin = [0.0, 0.0, 2.0 * ORIGIN_TOLERANCE_MM];
        let e = a.same_grid(&c).unwrap_err();
        assert!(
            e.starts_with("different origin") && e.contains("(0.0000, 0.0000, 0.0020)"),
            "{e}"
        );
        // Stated in one only: named, in order.
        let mut c = a.clone();
        c.geometry = None;
        let e = a.same_grid(&c).unwrap_err();
        assert!(
            e.contains("stated in one mask only")
                && e.ends_with("and none (NIfTI qform_code and sform_code 0)"),
            "{e}"
        );
        assert!(c.same_grid(&a).unwrap_err().contains("only: none"));
        assert_eq!(c.same_grid(&c.clone()), Ok(()));
    }

    #[test]
    fn corrupt_headers_never_panic() {
        // Every header byte of a valid file set in turn to 0xFF and to 0x7F: each read is an
        // error or a mask, never a panic (nor an attempt to allocate what the header claims).
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("m.nii");
        write_mask(&p, [4, 4, 2], [0.5, 0.5, 1.0], &[true; 32]).unwrap();
        let good = std::fs::read(&p).unwrap();
        let q = d.path().join("c.nii");
        for i in 0..352 {
            for b in [0xFF, 0x7F] {
                let mut bytes = good.clone();
                bytes[i] = b;
                std::fs::write(&q, &bytes).unwrap();
                if let Ok(m) = read_mask(&q) {
                    assert_eq!(m.voxels.len(), m.dims.iter().product::<usize>());
                }
            }
        }
    }
}
