#!/usr/bin/env bash
# DICOM header index on N generated CT files (realistic ~2.5 KB headers, tiny pixel data):
# `attest scan` (walk, read, SHA-256 of every file, parse to Pixel Data, inventory) against
# pydicom dcmread(stop_before_pixels=True) in 1 process and in as many processes as cores.
# Needs: pip install pydicom. Usage: bench/index/run.sh [N]
set -euo pipefail
cd "$(dirname "$0")/../.."
n=${1:-20000}
dir=bench/out/index-$n
cargo build --release -q --bin attest --example gen_testdata
if [ ! -d "$dir" ]; then
  ./target/release/examples/gen_testdata bulk "$dir" --count "$n"
fi
export ATTEST_PSEUDONYM_KEY=bench
cores=$(nproc)
# Warm the page cache once so every tool reads from memory.
cat $(find "$dir" -type f) > /dev/null
for i in 1 2 3; do
  s=$(date +%s.%N)
  ./target/release/attest scan "$dir" --json > /dev/null
  e=$(date +%s.%N)
  echo "{\"tool\": \"attest scan\", \"threads\": $cores, \"files\": $n, \"seconds\": $(echo "$e - $s" | bc -l)}"
done
python3 bench/index/pydicom_index.py "$dir"
python3 bench/index/pydicom_index.py "$dir" --processes "$cores"
