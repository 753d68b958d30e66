//! Times batched ResNet inference in-process, for `bench/burn/run.sh` (PyTorch is timed
//! in-process too, so neither side counts start-up or file reading). Loads the weights with
//! the torchvision key map, runs one warm-up pass, then `ITERS` timed passes over the batch in
//! `input.safetensors` (tensor `input`, `[N, 3, H, W]`), and prints one JSON line with the
//! best and median pass; the logits of the last pass go to `OUT` as raw little-endian f32.
//!
//! BACKEND is `flex` or `ndarray`; `flex-burnconv` is flex with burn's own convolution
//! instead of attest's (src/model/burn/cpu_conv.rs).
//!
//! Usage: burn_timing WEIGHTS.safetensors INPUT.safetensors BACKEND ITERS OUT

use std::time::Instant;

use attest::model::burn::{Backend, ClassifierModel, ConvKernel, KeyMap, ResNetConfig};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [weights, input, backend, iters, out] = args.as_slice() else {
        panic!("usage: burn_timing WEIGHTS INPUT BACKEND ITERS OUT");
    };
    let name = backend.clone();
    let (backend, kernel) = match backend.strip_suffix("-burnconv") {
        Some(b) => (b, ConvKernel::Burn),
        None => (backend.as_str(), ConvKernel::Auto),
    };
    let backend = Backend::from_name(backend)
        .unwrap_or_else(|| panic!("backend {backend} is not compiled in"));
    let iters: usize = iters.parse().unwrap();

    let bytes = std::fs::read(input).unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let view = st.tensor("input").unwrap();
    let shape: [usize; 4] = view.shape().try_into().unwrap();
    let images: Vec<f32> = view
        .data()
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes(b.try_into().unwrap()))
        .collect();

    let t = Instant::now();
    let model = ClassifierModel::load_on(
        &ResNetConfig::resnet18(1000),
        weights.as_ref(),
        &KeyMap::torchvision_resnet(),
        backend,
    )
    .unwrap()
    .with_batch_size(shape[0])
    .with_conv_kernel(kernel);
    let load = t.elapsed().as_secs_f64();

    let mut logits = model.logits(&images, shape).unwrap();
    let mut times = Vec::with_capacity(iters);
    for _ in 0..iters {
        let t = Instant::now();
        logits = model.logits(&images, shape).unwrap();
        times.push(t.elapsed().as_secs_f64());
    }
    times.sort_by(f64::total_cmp);
    let best = times[0];
    let median = times[times.len() / 2];
    let raw: Vec<u8> = logits
        .concat()
        .iter()
        .flat_map(|v| v.to_le_bytes())
        .collect();
    std::fs::write(out, raw).unwrap();
    println!(
        "{{\"backend\": \"{name}\", \"threads\": {}, \"batch\": {}, \"iters\": {iters}, \
         \"best_s\": {best:.4}, \"median_s\": {median:.4}, \"images_per_s\": {:.2}, \
         \"images_per_s_median\": {:.2}, \"load_s\": {load:.3}}}",
        rayon::current_num_threads(),
        shape[0],
        shape[0] as f64 / best,
        shape[0] as f64 / median,
    );
}
