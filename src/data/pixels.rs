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
    /// The same on a 17x16 grid (256 bits): confirms a near match of the coarse hash, which
    /// flat or low-detail images share by chance.
    pub dhash256: [u64; 4],
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
    let fine = dhash_bits(rows, cols, &grey, 16);
    Ok(PixelPrint {
        sha256: h.finalize().into(),
        dhash: dhash(rows, cols, grey),
        dhash256: [fine[0], fine[1], fine[2], fine[3]],
    })
}

/// The 64-bit difference hash of a `rows` x `cols` image given by `grey` (a 9x8 grid).
pub fn dhash(rows: usize, cols: usize, grey: impl Fn(usize, usize) -> f64) -> u64 {
    dhash_bits(rows, cols, &grey, 8)[0]
}

/// The difference hash on a (`side` + 1) x `side` grid of cell means: bit r*side+c is set when
/// cell (r, c) is brighter than cell (r, c+1). Every pixel belongs to one cell; a small image
/// gives cells of one pixel or more by repetition. `side`^2 bits, packed in u64 words.
pub fn dhash_bits(
    rows: usize,
    cols: usize,
    grey: &dyn Fn(usize, usize) -> f64,
    side: usize,
) -> Vec<u64> {
    let (w, h) = (side + 1, side);
    let mut cells = vec![0.0f64; w * h];
    for r in 0..h {
        let (r0, r1) = (
            r * rows / h,
            ((r + 1) * rows / h).max(r * rows / h + 1).min(rows),
        );
        for c in 0..w {
            let (c0, c1) = (
                c * cols / w,
                ((c + 1) * cols / w).max(c * cols / w + 1).min(cols),
            );
            let mut sum = 0.0;
            let mut n = 0.0;
            for y in r0.min(rows - 1)..r1 {
                for x in c0.min(cols - 1)..c1 {
                    sum += grey(y, x);
                    n += 1.0;
                }
            }
            cells[r * w + c] = if n > 0.0 { sum / n } else { 0.0 };
        }
    }
    let mut bits = vec![0u64; (side * side).div_ceil(64)];
    for r in 0..h {
        for c in 0..side {
            if cells[r * w + c] > cells[r * w + c + 1] {
                let i = r * side + c;
                bits[i / 64] |= 1 << (i % 64);
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
