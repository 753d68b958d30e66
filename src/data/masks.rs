//! Binary masks from NIfTI-1 files (`.nii`, `.nii.gz`), read with the nifti crate: a voxel is
//! foreground when its stored value is non-zero.

use std::path::Path;

use nifti::{NiftiObject, NiftiType, NiftiVolume, RandomAccessNiftiVolume, ReaderOptions};

/// A binary mask on a voxel grid (x fastest, as stored; 2D images have `dims[2] == 1`).
#[derive(Debug, Clone, PartialEq)]
pub struct Mask {
    pub dims: [usize; 3],
    /// Voxel size in mm along x, y, z.
    pub spacing: [f64; 3],
    pub voxels: Vec<bool>,
}

impl Mask {
    /// Both masks lie on the same grid: equal dimensions and spacing (within 1e-6, relative).
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

/// Reads a NIfTI-1 mask. Errors name the file: missing, not NIfTI, more than three spatial
/// dimensions in use, a spacing that is not a positive finite number, or a non-finite value.
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
    let volume = obj.into_volume();
    let kind = volume.data_type();
    let n = dims.iter().product::<usize>();
    let voxels = match kind {
        NiftiType::Uint8
        | NiftiType::Int8
        | NiftiType::Int16
        | NiftiType::Uint16
        | NiftiType::Int32
        | NiftiType::Uint32
        | NiftiType::Int64
        | NiftiType::Uint64 => {
            // An integer is non-zero exactly when one of its bytes is, whatever the byte order.
            let size = kind.size_of();
            let raw = volume.raw_data();
            if raw.len() < n * size {
                return Err(format!(
                    "{shown}: the volume holds fewer voxels than its header says"
                ));
            }
            raw[..n * size]
                .chunks_exact(size)
                .map(|c| c.iter().any(|&b| b != 0))
                .collect()
        }
        NiftiType::Float32 | NiftiType::Float64 => {
            let mut out = Vec::with_capacity(n);
            for z in 0..dims[2] {
                for y in 0..dims[1] {
                    for x in 0..dims[0] {
                        let coords: Vec<u16> =
                            [x, y, z][..rank.min(3)].iter().map(|&c| c as u16).collect();
                        let v = volume
                            .get_f64(&coords)
                            .map_err(|e| format!("{shown}: {e}"))?;
                        if !v.is_finite() {
                            return Err(format!("{shown}: a voxel value is not finite"));
                        }
                        out.push(v != 0.0);
                    }
                }
            }
            out
        }
        other => {
            return Err(format!(
                "{shown}: data type {other:?} is not an integer or real mask"
            ))
        }
    };
    Ok(Mask {
        dims,
        spacing,
        voxels,
    })
}
