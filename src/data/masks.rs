//! Binary masks from NIfTI-1 files (`.nii`, `.nii.gz`), read with the nifti crate: a voxel is
//! foreground when its stored value is non-zero. Segmentation agreement (`labels.agreement`
//! with `dice`) and AI-assist edits read reader and model masks through [`read_mask`]; the
//! overlap statistics themselves live in `stats::overlap`.

use std::path::Path;

use nifti::{Endianness, NiftiObject, NiftiType, NiftiVolume, ReaderOptions};

/// A binary mask on a voxel grid (x fastest, as stored; 2D images have `dims[2] == 1`).
#[derive(Debug, Clone, PartialEq)]
pub struct Mask {
    pub dims: [usize; 3],
    /// Voxel size in mm along x, y, z (NIfTI-1 `pixdim[1..=3]`).
    pub spacing: [f64; 3],
    pub voxels: Vec<bool>,
}

impl Mask {
    /// Both masks lie on the same grid: equal dimensions and spacing (within 1e-6, relative).
    /// The message names both grids.
    pub fn same_grid(&self, other: &Mask) -> Result<(), String> {
        let close = |a: f64, b: f64| (a - b).abs() <= 1e-6 * a.abs().max(b.abs());
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
        Ok(())
    }
}

/// A folder of masks, one NIfTI file per case (`<case_id>.nii` or `<case_id>.nii.gz`): the
/// files by case, hashed when listed; the voxels are read by the checks, one pair at a time.
#[derive(Debug, Clone, Default)]
pub struct MaskSet {
    /// Where the folder is shown in findings.
    pub display: String,
    pub files: std::collections::BTreeMap<String, std::path::PathBuf>,
}

/// The case id a mask file stands for, or None for other files.
pub fn case_of(file_name: &str) -> Option<&str> {
    file_name
        .strip_suffix(".nii.gz")
        .or_else(|| file_name.strip_suffix(".nii"))
        .filter(|c| !c.is_empty())
}

/// Reads a NIfTI-1 mask. Errors name the file: missing, not NIfTI, more than three spatial
/// dimensions in use (a 4th to 7th dimension of extent > 1), a spacing that is not a positive
/// finite number (NIfTI-1 `pixdim[1..=3]`, also for an axis of extent 1), data shorter than
/// the header says, a non-finite value (NaN, infinity) or a data type that is neither integer
/// nor real.
///
/// Foreground is decided on the stored value (`scl_slope`/`scl_inter` are not applied: a mask
/// is 0 and non-zero as written, and `-0.0` is background). Never panics on a malformed file.
pub fn read_mask(path: &Path) -> Result<Mask, String> {
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
    let endianness = h.endianness;
    let volume = obj.into_volume();
    let kind = volume.data_type();
    let n = dims.iter().product::<usize>();
    let size = kind.size_of();
    let raw = volume.raw_data();
    let integer = matches!(
        kind,
        NiftiType::Uint8
            | NiftiType::Int8
            | NiftiType::Int16
            | NiftiType::Uint16
            | NiftiType::Int32
            | NiftiType::Uint32
            | NiftiType::Int64
            | NiftiType::Uint64
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
    let words = raw[..n * size].chunks_exact(size);
    let voxels = if integer {
        // An integer is non-zero exactly when one of its bytes is, whatever the byte order.
        words.map(|c| c.iter().any(|&b| b != 0)).collect()
    } else {
        let value = |c: &[u8]| -> f64 {
            let mut b = [0u8; 8];
            b[..size].copy_from_slice(c);
            if endianness == Endianness::Big {
                b[..size].reverse();
            }
            // `b` now holds the value little-endian.
            if size == 4 {
                f64::from(f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            } else {
                f64::from_le_bytes(b)
            }
        };
        let mut out = Vec::with_capacity(n);
        for c in words {
            let v = value(c);
            if !v.is_finite() {
                return Err(format!(
                    "{shown}: voxel {} holds {v}, not a finite number",
                    out.len()
                ));
            }
            out.push(v != 0.0);
        }
        out
    };
    Ok(Mask {
        dims,
        spacing,
        voxels,
    })
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
