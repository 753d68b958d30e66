"""Writes N synthetic cases (label ~ Bernoulli(0.3), score = logistic of a shifted normal) as
cases.csv and predictions.csv, plus an attest spec over them. Usage: make_data.py DIR N SEED"""
import math
import random
import sys

out, n, seed = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
rng = random.Random(seed)
with open(f"{out}/cases.csv", "w") as c, open(f"{out}/predictions.csv", "w") as p:
    c.write("case_id,label\n")
    p.write("case_id,score\n")
    for i in range(n):
        label = 1 if rng.random() < 0.3 else 0
        z = rng.gauss(1.5 * label, 1.0)
        c.write(f"c{i},{label}\n")
        p.write(f"c{i},{1 / (1 + math.exp(-z)):.6f}\n")
with open(f"{out}/spec.yaml", "w") as s:
    s.write("""attest: 1
id: bench-auc
version: "1"
title: AUC with DeLong CI, benchmark
data:
  cases: { table: cases.csv }
models:
  m: { predictions: predictions.csv }
requirements:
  - id: AUC
    title: AUC
    check: classification
    model: m
    truth: cases
    metric: auc
    ci: { method: delong, level: 0.95 }
    pass: ci_low >= 0.5
""")
