#!/usr/bin/env bash
# ResNet-18 inference on 2 CPU threads: attest (burn 0.22.1, flex backend; ndarray too, for the
# backend choice) against PyTorch CPU with the same weights and the same batch.
# Weights: seeded ResNet-18 (width 64, 1000 classes) written as safetensors by
# torch_resnet.py; input: 8 seeded 3x224x224 images. Each side loads the weights, runs one
# warm-up pass and ITERS timed passes of the whole batch in-process (best and median).
# attest: examples/burn_timing.rs with RAYON_NUM_THREADS=2; PyTorch: torch.set_num_threads(2),
# eval(), inference_mode(). The logits are compared at the end.
# Needs: numpy, torch (CPU). Usage: bench/burn/run.sh [ITERS]   (default 10)
set -euo pipefail
cd "$(dirname "$0")/../.."
iters=${1:-10}
dir=bench/out/burn
rm -rf "$dir" && mkdir -p "$dir"
cargo build --release -q --features ndarray --example burn_timing
python3 bench/burn/torch_resnet.py make "$dir"
nproc_note="$(nproc) cores on this machine; load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "# $nproc_note"
python3 bench/burn/torch_resnet.py time "$dir" "$iters"
for backend in flex flex-burnconv ndarray; do
  RAYON_NUM_THREADS=2 "${CARGO_TARGET_DIR:-target}"/release/examples/burn_timing \
    "$dir/resnet18.safetensors" "$dir/input.safetensors" "$backend" "$iters" "$dir/$backend.f32"
  python3 bench/burn/torch_resnet.py compare "$dir" "$dir/$backend.f32"
done
