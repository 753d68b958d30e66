#!/usr/bin/env bash
# A data audit at scale: N generated CT files checked in one attest run by dicom.conformance,
# deid.audit and dataset.composition, against dciodvfy (dicom3tools) on a sample of the same
# files (dciodvfy takes one file per process). Prints JSON lines; /usr/bin/time gives peak
# memory. Needs: apt-get install dicom3tools. Usage: bench/audit/run.sh [N] [SAMPLE]
set -euo pipefail
cd "$(dirname "$0")/../.."
n=${1:-100000}
sample=${2:-500}
dir=bench/out/audit-$n
cargo build --release -q --bin attest --example gen_testdata
if [ ! -d "$dir/dicom" ]; then
  ./target/release/examples/gen_testdata bulk "$dir/dicom" --count "$n" --deidentified > /dev/null
fi
cat > "$dir/spec.yaml" <<'YAML'
attest: 1
id: bench-audit
version: "1"
title: Data audit benchmark
data:
  images: { dicom: dicom }
requirements:
  - id: CONFORMANCE
    title: IOD and VR conformance
    check: dicom.conformance
    data: images
  - id: DEID
    title: De-identified per the Basic Profile
    check: deid.audit
    data: images
  - id: COMPOSITION
    title: Manufacturers
    check: dataset.composition
    data: images
    by: [Manufacturer]
    count: studies
    max_share: 0.6
YAML
export ATTEST_PSEUDONYM_KEY=bench
cat $(find "$dir/dicom" -type f | head -1) > /dev/null
for threads in 1 2; do
  /usr/bin/time -f "%e %M" -o /tmp/attest-audit-time env RAYON_NUM_THREADS=$threads \
    ./target/release/attest run "$dir/spec.yaml" --quiet --out "$dir/out" || true
  read -r secs kb < <(tail -n 1 /tmp/attest-audit-time)
  echo "{\"tool\": \"attest run (conformance + deid + composition)\", \"threads\": $threads, \"files\": $n, \"seconds\": $secs, \"files_per_second_per_core\": $(echo "$n / $secs / $threads" | bc), \"peak_rss_kb\": $kb}"
done
files=$(find "$dir/dicom" -type f | sort | head -n "$sample" || true)
s=$(date +%s.%N)
for f in $files; do dciodvfy -new "$f" > /dev/null 2>&1 || true; done
e=$(date +%s.%N)
echo "{\"tool\": \"dciodvfy (dicom3tools $(dpkg-query -W -f='${Version}' dicom3tools))\", \"files\": $sample, \"seconds\": $(echo "$e - $s" | bc -l), \"files_per_second_per_core\": $(echo "$sample / ($e - $s)" | bc -l)}"
