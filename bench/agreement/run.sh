#!/usr/bin/env bash
# Agreement at scale: 100,000 cases x 5 readers (ordinal grades 1-5, ~5% missing reads).
# attest: one `attest run` of a spec with Krippendorff's alpha (ordinal) with a 1,000-resample
# bootstrap CI, and Fleiss' kappa with a 1,000-resample bootstrap CI; the whole process timed
# (reading and hashing the 500,000-row label set included).
# In-process: examples/agreement_timing.rs times ReliabilityData::from_ratings + alpha
# (ordinal) on the same f64 matrix (NaN = missing), best of 5, on all cores and on one, and a
# 1,000-resample bootstrap. Peer: the krippendorff package's alpha (ordinal) on the same
# matrix, timed inside Python (best of 5), without a CI (the package has none; a bootstrap
# with it would cost about 1,000 times one alpha).
# Needs: pip install krippendorff numpy. Usage: bench/agreement/run.sh [CASES]
set -euo pipefail
cd "$(dirname "$0")/../.."
cases=${1:-100000}
dir=bench/out/agreement
rm -rf "$dir" && mkdir -p "$dir"
cargo build --release -q --bin attest --example agreement_timing
python3 - "$dir" "$cases" <<'PY'
import sys, numpy as np
d, n = sys.argv[1], int(sys.argv[2])
rng = np.random.default_rng(20261127)
truth = rng.integers(1, 6, n)
grades = np.clip(truth[None, :] + rng.integers(-1, 2, (5, n)) * (rng.random((5, n)) < 0.3), 1, 5).astype(float)
grades[rng.random((5, n)) < 0.05] = np.nan
np.save(f"{d}/matrix.npy", grades)
with open(f"{d}/matrix.csv", "w") as f:
    for row in grades:
        f.write(",".join("" if np.isnan(g) else str(int(g)) for g in row) + "\n")
with open(f"{d}/events.csv", "w") as f:
    f.write("event_id,case_id,task,grade,annotator_id,created_at,tool,tool_version,source,round\n")
    e = 0
    for r in range(5):
        for c in range(n):
            g = grades[r, c]
            if not np.isnan(g):
                e += 1
                f.write(f"E{e},C{c:06d},grade,{int(g)},R{r},2025-02-01T09:00:00Z,viewer,2.1,human,1\n")
with open(f"{d}/annotators.csv", "w") as f:
    f.write("id,role,years_experience\n" + "".join(f"R{r},radiologist,5\n" for r in range(5)))
PY
cat > "$dir/spec.yaml" <<'YAML'
attest: 1
id: agreement-bench
version: "1"
title: Agreement at scale
data:
  reads: { labels: events.csv, registry: annotators.csv }
requirements:
  - id: ALPHA
    title: Krippendorff's alpha, ordinal
    check: labels.agreement
    labels: reads
    task: grade
    statistic: krippendorff_alpha
    metric: ordinal
    ci: { resamples: 1000 }
    pass: ci_low >= 0.6
  - id: FLEISS
    title: Fleiss' kappa
    check: labels.agreement
    labels: reads
    task: grade
    statistic: fleiss_kappa
    ci: { resamples: 1000 }
    pass: ci_low >= 0.4
YAML
best() { sort -g | head -1; }
attest_s=$(for i in 1 2 3; do s=$(date +%s.%N); ATTEST_PSEUDONYM_KEY=bench ./target/release/attest run "$dir/spec.yaml" --quiet --out "$dir/out" >/dev/null || true; e=$(date +%s.%N); echo "$e - $s" | bc; done | best)
inproc=$(./target/release/examples/agreement_timing "$dir/matrix.csv")
inproc1=$(RAYON_NUM_THREADS=1 ./target/release/examples/agreement_timing "$dir/matrix.csv")
python3 - "$dir" "$attest_s" "$inproc" "$cases" "$inproc1" <<'PY'
import sys, time, json, numpy as np, krippendorff
from importlib.metadata import version
d, attest_s, inproc, n = sys.argv[1], float(sys.argv[2]), json.loads(sys.argv[3]), int(sys.argv[4])
one = json.loads(sys.argv[5])
m = np.load(f"{d}/matrix.npy")
times = []
for _ in range(5):
    t = time.perf_counter(); a = krippendorff.alpha(reliability_data=m, level_of_measurement="ordinal"); times.append(time.perf_counter() - t)
peer = min(times)
print(json.dumps({"cases": n, "readers": 5,
    "attest_alpha": inproc["alpha"], "krippendorff_alpha": a,
    "attest_alpha_s": inproc["alpha_s"], "krippendorff_alpha_s": round(peer, 4),
    "attest_threads": inproc["threads"], "ratio_alpha": round(peer / inproc["alpha_s"], 1),
    "attest_alpha_1_thread_s": one["alpha_s"], "ratio_alpha_per_core": round(peer / one["alpha_s"], 1),
    "attest_bootstrap_1000_s": inproc["bootstrap_1000_s"], "attest_ci": inproc["ci"],
    "krippendorff_x1000_s": round(peer * 1000, 1),
    "attest_whole_run_s": round(attest_s, 3),
    "krippendorff_version": version("krippendorff"), "numpy_version": np.__version__}))
PY
