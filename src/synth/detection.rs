//! The nodule-detection example (`testdata/detection/`): LUNA16-format reference nodules,
//! excluded findings, a CAD model's candidates and the scan list, seeded.
//!
//! 120 scans; about half hold one to three nodules of 3–25 mm (a few under 3 mm, which the
//! example spec's size filter ignores), and a few hold an excluded finding. The model finds a
//! nodule with a probability that rises with its size (most found, small ones less often) and
//! places a few false positives per scan with low probabilities; some candidates land on
//! excluded findings. The spec `specs/detection.yaml` judges it.

use std::fmt::Write as _;
use std::path::Path;

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::SynthError;

/// What was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DetectionSummary {
    pub scans: usize,
    pub nodules: usize,
    pub candidates: usize,
}

/// Writes `annotations.csv`, `annotations_excluded.csv`, `candidates.csv` and `scans.csv` into
/// `dir`.
pub fn write_detection(dir: &Path, seed: u64) -> Result<DetectionSummary, SynthError> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x0d37_ec70);
    let header = "seriesuid,coordX,coordY,coordZ,";
    let mut ann = format!("{header}diameter_mm\n");
    let mut excl = format!("{header}diameter_mm\n");
    let mut cand = format!("{header}probability\n");
    let mut scans = String::from("seriesuid\n");
    let (mut nodules, mut candidates) = (0, 0);
    let mm = |rng: &mut ChaCha8Rng, lo: f64, hi: f64| lo + (hi - lo) * rng.random::<f64>();
    for s in 0..120 {
        let uid = format!("1.3.6.1.4.1.99999.{}", 1000 + s);
        let _ = writeln!(scans, "{uid}");
        let n = if rng.random::<f64>() < 0.5 {
            0
        } else {
            rng.random_range(1..=3)
        };
        for _ in 0..n {
            let centre = [
                mm(&mut rng, -150.0, 150.0),
                mm(&mut rng, -150.0, 150.0),
                mm(&mut rng, -300.0, -50.0),
            ];
            let d = if rng.random::<f64>() < 0.1 {
                mm(&mut rng, 2.0, 3.0)
            } else {
                mm(&mut rng, 3.0, 25.0)
            };
            let _ = writeln!(
                ann,
                "{uid},{:.2},{:.2},{:.2},{d:.2}",
                centre[0], centre[1], centre[2]
            );
            nodules += 1;
            // Found more often, and more confidently, the larger it is.
            let found = rng.random::<f64>() < 0.55 + 0.4 * (d / 25.0).min(1.0);
            if found {
                let off = d / 2.0 * 0.6;
                let p = (0.5 + 0.45 * rng.random::<f64>() * (0.5 + d / 50.0)).min(0.999);
                let _ = writeln!(
                    cand,
                    "{uid},{:.2},{:.2},{:.2},{p:.4}",
                    centre[0] + mm(&mut rng, -off, off) / 1.8,
                    centre[1] + mm(&mut rng, -off, off) / 1.8,
                    centre[2] + mm(&mut rng, -off, off) / 1.8
                );
                candidates += 1;
            }
        }
        if rng.random::<f64>() < 0.1 {
            let c = [
                mm(&mut rng, -150.0, 150.0),
                mm(&mut rng, -150.0, 150.0),
                mm(&mut rng, -300.0, -50.0),
            ];
            let _ = writeln!(
                excl,
                "{uid},{:.2},{:.2},{:.2},{:.2}",
                c[0],
                c[1],
                c[2],
                mm(&mut rng, 4.0, 10.0)
            );
            let _ = writeln!(
                cand,
                "{uid},{:.2},{:.2},{:.2},{:.4}",
                c[0] + 0.5,
                c[1],
                c[2],
                mm(&mut rng, 0.3, 0.9)
            );
            candidates += 1;
        }
        for _ in 0..rng.random_range(0..=6) {
            let p = rng.random::<f64>().powi(3) * 0.9;
            let _ = writeln!(
                cand,
                "{uid},{:.2},{:.2},{:.2},{p:.4}",
                mm(&mut rng, -150.0, 150.0),
                mm(&mut rng, -150.0, 150.0),
                mm(&mut rng, -300.0, -50.0)
            );
            candidates += 1;
        }
    }
    for (name, text) in [
        ("annotations.csv", &ann),
        ("annotations_excluded.csv", &excl),
        ("candidates.csv", &cand),
        ("scans.csv", &scans),
    ] {
        super::ct::write_bytes(&dir.join(name), text.as_bytes())?;
    }
    Ok(DetectionSummary {
        scans: 120,
        nodules,
        candidates,
    })
}
