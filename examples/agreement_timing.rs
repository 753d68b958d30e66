//! Times Krippendorff's alpha in-process on a readers × cases matrix, for
//! `bench/agreement/run.sh` (the peer, the krippendorff package, is timed in-process too, so
//! neither side counts file reading). Input: a CSV with one row per reader, one column per
//! case, an empty cell for a missing read. Prints one JSON line.

use std::time::Instant;

use attest::stats::agreement::{Metric, ReliabilityData};

fn main() {
    let path = std::env::args()
        .nth(1)
        .expect("usage: agreement_timing MATRIX.csv");
    let text = std::fs::read_to_string(&path).expect("readable matrix");
    // Missing reads as NaN, the layout the krippendorff package is given (an f64 matrix).
    let rows: Vec<Vec<f64>> = text
        .lines()
        .map(|l| {
            l.split(',')
                .map(|c| c.trim().parse::<f64>().unwrap_or(f64::NAN))
                .collect()
        })
        .collect();
    let best = |f: &dyn Fn() -> f64| -> (f64, f64) {
        let mut t = f64::INFINITY;
        let mut v = f64::NAN;
        for _ in 0..5 {
            let s = Instant::now();
            v = f();
            t = t.min(s.elapsed().as_secs_f64());
        }
        (t, v)
    };
    let (alpha_s, alpha) = best(&|| {
        ReliabilityData::from_ratings(&rows)
            .and_then(|d| d.alpha(Metric::Ordinal))
            .map_or(f64::NAN, |a| a.alpha)
    });
    let data = ReliabilityData::from_ratings(&rows).expect("valid matrix");
    let s = Instant::now();
    let boot = data
        .bootstrap(Metric::Ordinal, 1000, 20261127, 0.95)
        .expect("defined");
    let boot_s = s.elapsed().as_secs_f64();
    println!(
        "{{\"alpha\": {alpha}, \"alpha_s\": {alpha_s:.6}, \"bootstrap_1000_s\": {boot_s:.4}, \"ci\": [{}, {}], \"threads\": {}}}",
        boot.ci.map_or(f64::NAN, |i| i.low),
        boot.ci.map_or(f64::NAN, |i| i.high),
        rayon::current_num_threads()
    );
}
