//! Declared image perturbations for `model.robustness`: what a model sees when the
//! acquisition is noisier, the contrast lower, the image compressed or slightly rotated.
//!
//! Each perturbation acts inside the image pipeline at the stage where it physically happens
//! (`pipeline::image_perturbed`):
//!
//! | kind       | stage                                             | parameter            |
//! |------------|---------------------------------------------------|----------------------|
//! | `noise`    | modality values (HU), before the window           | `sigma` (> 0)        |
//! | `contrast` | modality values, about the window centre          | `factor` (> 0)       |
//! | `rotation` | the plane after the window, before resampling     | `degrees` (±45)      |
//! | `jpeg`     | the windowed plane as 8 bits, before resampling   | `quality` (1 to 100) |
//!
//! Everything is seeded: the noise of one file is drawn from ChaCha8 seeded with the run's
//! seed and the file's name relative to its DICOM folder ([`file_seed`]), so two runs, or two
//! machines, perturb identically. Documentation for users: `attest explain model.robustness`.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// One declared perturbation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Perturbation {
    /// Gaussian noise of standard deviation `sigma`, in modality units (HU for CT), added to
    /// every pixel after the modality LUT.
    Noise { sigma: f64 },
    /// Contrast scaled by `factor` about the window centre (about the image's mean modality
    /// value when the pipeline has no window): `x → c + factor · (x − c)`.
    Contrast { factor: f64 },
    /// Rotation by `degrees` (counter-clockwise as displayed) about the image centre, bilinear;
    /// pixels from outside the image take the image's smallest value.
    Rotation { degrees: f64 },
    /// JPEG baseline compression at `quality` of the windowed image quantised to 8 bits
    /// (jpeg-encoder), decoded again (jpeg-decoder). Needs a window.
    Jpeg { quality: u8 },
}

impl Perturbation {
    /// A short label for reports: `noise sigma=20`, `jpeg quality=30`.
    pub fn label(&self) -> String {
        match self {
            Perturbation::Noise { sigma } => format!("noise sigma={sigma}"),
            Perturbation::Contrast { factor } => format!("contrast factor={factor}"),
            Perturbation::Rotation { degrees } => format!("rotation degrees={degrees}"),
            Perturbation::Jpeg { quality } => format!("jpeg quality={quality}"),
        }
    }

    /// The label as part of a file name (`noise_sigma_20`): letters, digits, `.` and `-` kept,
    /// anything else `_`.
    pub fn file_stem(&self) -> String {
        self.label()
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                    c
                } else {
                    '_'
                }
            })
            .collect()
    }

    /// What is wrong with the parameter, if anything (`(field, message)`).
    pub fn problem(&self) -> Option<(&'static str, String)> {
        match *self {
            Perturbation::Noise { sigma } if !(sigma.is_finite() && sigma > 0.0) => {
                Some(("sigma", format!("must be a positive number, found {sigma}")))
            }
            Perturbation::Contrast { factor } if !(factor.is_finite() && factor > 0.0) => Some((
                "factor",
                format!("must be a positive number, found {factor}"),
            )),
            Perturbation::Rotation { degrees }
                if !(degrees.is_finite() && degrees.abs() <= 45.0 && degrees != 0.0) =>
            {
                Some((
                    "degrees",
                    format!("must be within [-45, 45] and not 0, found {degrees}"),
                ))
            }
            Perturbation::Jpeg { quality } if !(1..=100).contains(&quality) => Some((
                "quality",
                format!("must be within 1 to 100, found {quality}"),
            )),
            _ => None,
        }
    }

    /// Whether it needs the pipeline to have a window (its values in [0, 1]).
    pub fn needs_window(&self) -> bool {
        matches!(self, Perturbation::Jpeg { .. })
    }
}

/// The seed of one file's perturbation: the first 8 bytes of SHA-256(`seed` as little-endian
/// bytes, then the file's relative name).
pub fn file_seed(seed: u64, name: &str) -> u64 {
    let mut h = Sha256::new();
    h.update(seed.to_le_bytes());
    h.update(name.as_bytes());
    let d = h.finalize();
    u64::from_le_bytes(d[..8].try_into().expect("8 bytes"))
}

/// Applies a modality-stage perturbation (`noise`, `contrast`) to the modality values `x` of
/// one image; `centre` is the window centre, if the pipeline has a window. Others are left.
pub fn modality_stage(p: &Perturbation, x: &mut [f64], centre: Option<f64>, seed: u64) {
    match *p {
        Perturbation::Noise { sigma } => {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            let mut pending = None;
            for v in x.iter_mut() {
                let z = match pending.take() {
                    Some(z) => z,
                    None => {
                        let (a, b) = standard_normal_pair(&mut rng);
                        pending = Some(b);
                        a
                    }
                };
                *v += sigma * z;
            }
        }
        Perturbation::Contrast { factor } => {
            let c = centre.unwrap_or_else(|| {
                if x.is_empty() {
                    0.0
                } else {
                    x.iter().sum::<f64>() / x.len() as f64
                }
            });
            for v in x.iter_mut() {
                *v = c + factor * (*v - c);
            }
        }
        Perturbation::Rotation { .. } | Perturbation::Jpeg { .. } => {}
    }
}

/// Applies a plane-stage perturbation (`rotation`, `jpeg`) to one `rows × cols` plane.
/// `jpeg` needs values in [0, 1] (a window); otherwise it is an error.
pub fn plane_stage(
    p: &Perturbation,
    plane: &mut Vec<f64>,
    rows: usize,
    cols: usize,
) -> Result<(), String> {
    match *p {
        Perturbation::Rotation { degrees } => {
            *plane = rotate(plane, rows, cols, degrees);
            Ok(())
        }
        Perturbation::Jpeg { quality } => {
            *plane = jpeg_round_trip(plane, rows, cols, quality)?;
            Ok(())
        }
        Perturbation::Noise { .. } | Perturbation::Contrast { .. } => Ok(()),
    }
}

/// Two independent standard normal values (Box–Muller, from two uniforms in (0, 1]).
fn standard_normal_pair(rng: &mut ChaCha8Rng) -> (f64, f64) {
    use rand::RngExt;
    // 1 − U with U in [0, 1) lies in (0, 1], so the logarithm is finite.
    let u1 = 1.0 - rng.random::<f64>();
    let u2 = rng.random::<f64>();
    let r = (-2.0 * u1.ln()).sqrt();
    let t = std::f64::consts::TAU * u2;
    (r * t.cos(), r * t.sin())
}

/// Rotates a plane by `degrees` counter-clockwise (as displayed, rows downwards) about its
/// centre `((rows − 1)/2, (cols − 1)/2)`: output pixel `(r, c)` samples the input bilinearly at
///
/// ```text
/// x = cx + cos θ · (c − cx) − sin θ · (r − cy)
/// y = cy + sin θ · (c − cx) + cos θ · (r − cy)
/// ```
///
/// and a sample outside `[0, cols − 1] × [0, rows − 1]` takes the plane's smallest value.
///
/// # Example
/// ```
/// use attest::model::perturb::rotate;
/// // A quarter turn counter-clockwise: the top row becomes the left column, read upwards.
/// let out = rotate(&[1.0, 2.0, 3.0, 4.0], 2, 2, 90.0);
/// let want = [2.0, 4.0, 1.0, 3.0];
/// assert!(out.iter().zip(want).all(|(a, b)| (a - b).abs() < 1e-9));
/// ```
pub fn rotate(plane: &[f64], rows: usize, cols: usize, degrees: f64) -> Vec<f64> {
    let fill = plane.iter().copied().fold(f64::INFINITY, f64::min);
    let (sin, cos) = degrees.to_radians().sin_cos();
    let (cy, cx) = ((rows as f64 - 1.0) / 2.0, (cols as f64 - 1.0) / 2.0);
    let at = |r: usize, c: usize| plane[r * cols + c];
    // Within 1e-9 of an edge counts as on it, so quarter turns are exact.
    const EPS: f64 = 1e-9;
    let mut out = Vec::with_capacity(rows * cols);
    for r in 0..rows {
        for c in 0..cols {
            let (dy, dx) = (r as f64 - cy, c as f64 - cx);
            let x = cx + cos * dx - sin * dy;
            let y = cy + sin * dx + cos * dy;
            if x < -EPS || y < -EPS || x > cols as f64 - 1.0 + EPS || y > rows as f64 - 1.0 + EPS {
                out.push(fill);
                continue;
            }
            let (x, y) = (
                x.clamp(0.0, cols as f64 - 1.0),
                y.clamp(0.0, rows as f64 - 1.0),
            );
            let (x0, y0) = (x.floor() as usize, y.floor() as usize);
            let (x1, y1) = ((x0 + 1).min(cols - 1), (y0 + 1).min(rows - 1));
            let (fx, fy) = (x - x0 as f64, y - y0 as f64);
            let top = at(y0, x0) * (1.0 - fx) + at(y0, x1) * fx;
            let bottom = at(y1, x0) * (1.0 - fx) + at(y1, x1) * fx;
            out.push(top * (1.0 - fy) + bottom * fy);
        }
    }
    out
}

/// Quantises a [0, 1] plane to 8 bits (`round(255 · y)`), compresses it as baseline JPEG at
/// `quality` and decodes it again, returning values in [0, 1].
pub fn jpeg_round_trip(
    plane: &[f64],
    rows: usize,
    cols: usize,
    quality: u8,
) -> Result<Vec<f64>, String> {
    if plane.iter().any(|y| !(0.0..=1.0).contains(y)) {
        return Err(
            "a JPEG perturbation needs windowed values in [0, 1]; declare a `window` in the pipeline"
                .to_string(),
        );
    }
    let (w, h) = (
        u16::try_from(cols).map_err(|_| format!("{cols} columns exceed JPEG's 65535"))?,
        u16::try_from(rows).map_err(|_| format!("{rows} rows exceed JPEG's 65535"))?,
    );
    let bytes: Vec<u8> = plane.iter().map(|y| (y * 255.0).round() as u8).collect();
    let mut encoded = Vec::new();
    jpeg_encoder::Encoder::new(&mut encoded, quality)
        .encode(&bytes, w, h, jpeg_encoder::ColorType::Luma)
        .map_err(|e| format!("JPEG encoding failed: {e}"))?;
    let mut decoder = jpeg_decoder::Decoder::new(encoded.as_slice());
    let decoded = decoder
        .decode()
        .map_err(|e| format!("JPEG decoding failed: {e}"))?;
    if decoded.len() != rows * cols {
        return Err(format!(
            "the decoded JPEG holds {} values, not {}",
            decoded.len(),
            rows * cols
        ));
    }
    Ok(decoded.iter().map(|&b| f64::from(b) / 255.0).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ramp(rows: usize, cols: usize) -> Vec<f64> {
        (0..rows * cols).map(|i| i as f64).collect()
    }

    /// NumPy's `np.rot90(a)` (a quarter turn counter-clockwise as displayed) is
    /// `out[r][c] = a[c][n − 1 − r]` for an n × n array.
    #[test]
    fn quarter_turns_are_numpy_rot90() {
        let n = 5;
        let a = ramp(n, n);
        let once = rotate(&a, n, n, 90.0);
        let twice = rotate(&a, n, n, 180.0);
        for r in 0..n {
            for c in 0..n {
                assert!((once[r * n + c] - a[c * n + (n - 1 - r)]).abs() < 1e-9);
                assert!((twice[r * n + c] - a[(n - 1 - r) * n + (n - 1 - c)]).abs() < 1e-9);
            }
        }
        let back = rotate(&once, n, n, -90.0);
        assert!(back.iter().zip(&a).all(|(x, y)| (x - y).abs() < 1e-9));
    }

    /// Bilinear interpolation reproduces a linear field exactly, so rotating f(r, c) = c gives,
    /// wherever the sample lies inside the image, the rotated coordinate itself:
    /// x = cx + cos θ (c − cx) − sin θ (r − cy); outside, the field's minimum (0).
    #[test]
    fn a_linear_field_rotates_to_its_rotated_coordinate() {
        let (rows, cols) = (7, 9);
        let field: Vec<f64> = (0..rows * cols).map(|i| (i % cols) as f64).collect();
        let deg: f64 = 12.5;
        let out = rotate(&field, rows, cols, deg);
        let (s, c) = deg.to_radians().sin_cos();
        let (cy, cx) = (3.0, 4.0);
        let (mut inside, mut outside) = (0, 0);
        for r in 0..rows {
            for k in 0..cols {
                let (dy, dx) = (r as f64 - cy, k as f64 - cx);
                let x = cx + c * dx - s * dy;
                let y = cy + s * dx + c * dy;
                let got = out[r * cols + k];
                if (0.0..=8.0).contains(&x) && (0.0..=6.0).contains(&y) {
                    assert!((got - x).abs() < 1e-12, "({r},{k}): {got} vs {x}");
                    inside += 1;
                } else {
                    assert_eq!(got, 0.0);
                    outside += 1;
                }
            }
        }
        assert!(inside > 40 && outside > 0, "{inside} {outside}");
    }

    /// The noise of one seed is fixed, another seed's differs, and its sample moments fit
    /// N(0, σ²): over n = 40000 pixels the mean's standard error is σ/√n = 0.1 and the sample
    /// standard deviation's is about σ/√(2n) = 0.071 (σ = 20); 5 standard errors allowed.
    #[test]
    fn noise_is_seeded_and_normal() {
        let n = 40_000;
        let p = Perturbation::Noise { sigma: 20.0 };
        let mut a = vec![100.0; n];
        let mut b = vec![100.0; n];
        let mut c = vec![100.0; n];
        modality_stage(&p, &mut a, None, 7);
        modality_stage(&p, &mut b, None, 7);
        modality_stage(&p, &mut c, None, 8);
        assert!(a.iter().zip(&b).all(|(x, y)| x.to_bits() == y.to_bits()));
        assert!(a.iter().zip(&c).filter(|(x, y)| x != y).count() > n - 10);
        let mean = a.iter().map(|x| x - 100.0).sum::<f64>() / n as f64;
        let sd =
            (a.iter().map(|x| (x - 100.0 - mean).powi(2)).sum::<f64>() / (n - 1) as f64).sqrt();
        assert!(mean.abs() < 0.5, "mean {mean}");
        assert!((sd - 20.0).abs() < 0.36, "sd {sd}");
    }

    /// By hand: about the window centre 40 with factor 0.5, 140 → 40 + 0.5 · 100 = 90 and
    /// −60 → −10; without a window about the mean of {0, 100} = 50: 0 → 25, 100 → 75.
    #[test]
    fn contrast_scales_about_the_window_centre_or_the_mean() {
        let p = Perturbation::Contrast { factor: 0.5 };
        let mut x = vec![140.0, -60.0];
        modality_stage(&p, &mut x, Some(40.0), 0);
        assert_eq!(x, vec![90.0, -10.0]);
        let mut y = vec![0.0, 100.0];
        modality_stage(&p, &mut y, None, 0);
        assert_eq!(y, vec![25.0, 75.0]);
    }

    /// JPEG at quality 100 keeps a smooth gradient within a few grey levels (the 8-bit
    /// quantisation alone costs up to half a level); lower quality loses more; values outside
    /// [0, 1] are refused rather than clipped.
    #[test]
    fn jpeg_round_trip_degrades_with_quality() {
        let (rows, cols) = (32, 48);
        let plane: Vec<f64> = (0..rows * cols)
            .map(|i| {
                let (r, c) = ((i / cols) as f64, (i % cols) as f64);
                0.5 + 0.3 * (r / 5.0).sin() * (c / 7.0).cos()
            })
            .collect();
        let err = |q: u8| {
            let out = jpeg_round_trip(&plane, rows, cols, q).unwrap();
            assert_eq!(out.len(), plane.len());
            out.iter()
                .zip(&plane)
                .map(|(a, b)| (a - b).abs())
                .sum::<f64>()
                / plane.len() as f64
        };
        let (e100, e50, e5) = (err(100), err(50), err(5));
        assert!(e100 < 3.0 / 255.0, "quality 100: mean error {e100}");
        assert!(e100 < e50 && e50 < e5, "{e100} {e50} {e5}");
        assert!(jpeg_round_trip(&[1.5], 1, 1, 50).is_err());
    }

    #[test]
    fn labels_and_problems() {
        assert_eq!(
            Perturbation::Noise { sigma: 20.0 }.label(),
            "noise sigma=20"
        );
        assert!(Perturbation::Rotation { degrees: 50.0 }.problem().is_some());
        assert!(Perturbation::Rotation { degrees: 0.0 }.problem().is_some());
        assert!(Perturbation::Jpeg { quality: 0 }.problem().is_some());
        assert!(Perturbation::Contrast { factor: -1.0 }.problem().is_some());
        assert!(Perturbation::Noise { sigma: 1.0 }.problem().is_none());
        assert_ne!(file_seed(1, "a/b.dcm"), file_seed(1, "a/c.dcm"));
        assert_ne!(file_seed(1, "a/b.dcm"), file_seed(2, "a/b.dcm"));
    }
}
