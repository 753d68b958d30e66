//! Pixel fingerprints for finding duplicated images: a hash of the decoded pixel values
//! (identical content, whatever the transfer syntax) and a 64-bit difference hash of a
//! downsampled frame (near-identical content: re-encoded, slightly shifted or re-windowed).
//!
//! Pixel data is decoded by dicom-pixeldata (native, RLE, JPEG and deflate); the first frame of
//! a multi-frame object stands for the object.

use dicom_object::file::ReadPreamble;
use dicom_object::OpenFileOptions;
use dicom_pixeldata::PixelDecoder;
use sha2::{Digest, Sha256};

/// The fingerprints of one instance's first frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PixelPrint {
    /// SHA-256 of the frame's size and its values after the Modality LUT (as f64, little endian).
    pub sha256: [u8; 32],
    /// Difference hash (Krawetz 2013): bit r*8+c is 1 when the mean of cell (r, c) of a 9x8
    /// grid over the frame exceeds the mean of cell (r, c+1).
    pub dhash: u64,
}

/// Decodes the first frame of a Part 10 file and fingerprints it.
pub fn fingerprint(bytes: &[u8]) -> Result<PixelPrint, String> {
    let body = crate::data::dicom_index::part10_body(bytes)?;
    let obj = OpenFileOptions::new()
        .read_preamble(ReadPreamble::Never)
        .from_reader(body)
        .map_err(|e| format!("cannot read: {e}"))?;
    let decoded = obj
        .decode_pixel_data_frame(0)
        .map_err(|e| format!("cannot decode the pixel data: {e}"))?;
    let (rows, cols) = (decoded.rows() as usize, decoded.columns() as usize);
    let spp = usize::from(decoded.samples_per_pixel()).max(1);
    let values: Vec<f64> = decoded
        .to_vec_frame(0)
        .map_err(|e| format!("cannot convert the pixel data: {e}"))?;
    if rows == 0 || cols == 0 || values.len() < rows * cols * spp {
        return Err(format!(
            "pixel data holds {} values, fewer than {rows} x {cols} x {spp}",
            values.len()
        ));
    }
    let mut h = Sha256::new();
    h.update((rows as u64).to_le_bytes());
    h.update((cols as u64).to_le_bytes());
    h.update((spp as u64).to_le_bytes());
    for v in &values[..rows * cols * spp] {
        h.update(v.to_le_bytes());
    }
    // Grey level per pixel: the mean of its samples (colour-by-pixel layout).
    let grey = |r: usize, c: usize| -> f64 {
        let i = (r * cols + c) * spp;
        values[i..i + spp].iter().sum::<f64>() / spp as f64
    };
    Ok(PixelPrint {
        sha256: h.finalize().into(),
        dhash: dhash(rows, cols, grey),
    })
}

/// The 64-bit difference hash of a `rows` x `cols` image given by `grey`.
pub fn dhash(rows: usize, cols: usize, grey: impl Fn(usize, usize) -> f64) -> u64 {
    // Mean of each cell of a 9 (wide) x 8 (high) grid; every pixel belongs to exactly one
    // cell, and a small image gives cells of one pixel or more by repetition.
    let mut cells = [[0.0f64; 9]; 8];
    for (r, row) in cells.iter_mut().enumerate() {
        let (r0, r1) = (
            r * rows / 8,
            ((r + 1) * rows / 8).max(r * rows / 8 + 1).min(rows),
        );
        for (c, cell) in row.iter_mut().enumerate() {
            let (c0, c1) = (
                c * cols / 9,
                ((c + 1) * cols / 9).max(c * cols / 9 + 1).min(cols),
            );
            let mut sum = 0.0;
            let mut n = 0.0;
            for y in r0.min(rows - 1)..r1 {
                for x in c0.min(cols - 1)..c1 {
                    sum += grey(y, x);
                    n += 1.0;
                }
            }
            *cell = if n > 0.0 { sum / n } else { 0.0 };
        }
    }
    let mut bits = 0u64;
    for (r, row) in cells.iter().enumerate() {
        for c in 0..8 {
            if row[c] > row[c + 1] {
                bits |= 1 << (r * 8 + c);
            }
        }
    }
    bits
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dhash_of_a_horizontal_ramp_and_its_mirror() {
        // Hand derivation: a left-to-right increasing ramp never has a cell brighter than its
        // right neighbour (hash 0); its mirror always does (all 64 bits set).
        assert_eq!(dhash(16, 18, |_, c| c as f64), 0);
        assert_eq!(dhash(16, 18, |_, c| (17 - c) as f64), u64::MAX);
        // A uniform image has no differences either.
        assert_eq!(dhash(5, 5, |_, _| 7.0), 0);
    }

    #[test]
    fn identical_frames_share_fingerprints_and_a_changed_one_does_not() {
        use crate::synth::{encode, CtInstance};
        let a = CtInstance::new(1, "a");
        let mut b = CtInstance::new(2, "b");
        b.texture_seed = a.texture_seed;
        b.nodule = a.nodule;
        let fa = fingerprint(&encode(&a.to_object().unwrap()).unwrap()).unwrap();
        let fb = fingerprint(&encode(&b.to_object().unwrap()).unwrap()).unwrap();
        // Different UIDs, same pixels.
        assert_eq!(fa, fb);
        let mut c = CtInstance::new(1, "a");
        c.texture_seed = a.texture_seed.wrapping_add(1);
        let fc = fingerprint(&encode(&c.to_object().unwrap()).unwrap()).unwrap();
        assert_ne!(fa.sha256, fc.sha256);
    }
}
