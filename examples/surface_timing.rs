//! Times HD95 in-process on two NIfTI masks, for `bench/surface/run.sh` (the peer,
//! surface-distance, is timed in-process too, so neither side counts file reading). Prints one
//! JSON line: best of three.

use std::time::Instant;

use attest::data::masks::read_mask;
use attest::stats::surface::{hausdorff95, surface_distances};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [a, b] = args.as_slice() else {
        panic!("usage: surface_timing A.nii.gz B.nii.gz");
    };
    let (a, b) = (
        read_mask(a.as_ref()).unwrap(),
        read_mask(b.as_ref()).unwrap(),
    );
    let mut best = f64::INFINITY;
    let mut hd = f64::NAN;
    for _ in 0..3 {
        let t = Instant::now();
        let sd = surface_distances(&a.voxels, &b.voxels, a.dims, a.spacing);
        hd = hausdorff95(&sd);
        best = best.min(t.elapsed().as_secs_f64());
    }
    println!(
        "{{\"hd95\": {hd}, \"seconds\": {best:.4}, \"threads\": {}}}",
        rayon::current_num_threads()
    );
}
