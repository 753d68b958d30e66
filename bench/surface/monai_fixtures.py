#!/usr/bin/env python3
"""HD95 of MONAI against DeepMind surface-distance on the surface fixtures.

Reads tests/fixtures/surface/peer_values.json (the mask pairs and the values DeepMind's
surface-distance 0.1 gives for them; attest's unit tests hold attest to those values) and runs
MONAI's compute_hausdorff_distance(percentile=95, spacing=...) on CPU on the same masks. Prints
one JSON line per case and a summary line. Needs: pip install torch monai numpy scipy.

MONAI's surface is the set of foreground voxels removed by a binary erosion (voxel centres,
each counted once, no areas), its distances come from a KD-tree over those centres in float64
and are returned as float32, and its HD95 is the larger of the two directions' 95th
percentiles, each linearly interpolated (torch.quantile). surface-distance (and attest) use
area-weighted surfels at voxel corners and the first surfel whose cumulative area reaches 95%.
"""

import json
import warnings
from importlib.metadata import version
from pathlib import Path

import numpy as np
import torch
from monai.metrics import compute_hausdorff_distance

warnings.filterwarnings("ignore")  # MONAI warns about empty masks and deprecated arguments
root = Path(__file__).resolve().parents[2]
fixture = json.loads((root / "tests/fixtures/surface/peer_values.json").read_text())


def mask(runs, dims):
    runs = json.loads(runs) if isinstance(runs, str) else runs
    flat = np.zeros(int(np.prod(dims)), bool)
    pos, value = 0, False
    for r in runs:
        flat[pos : pos + r] = value
        pos, value = pos + r, not value
    return flat.reshape(dims, order="F")  # x fastest, indexed [x, y, z]


def out(v):
    """A number for JSON: non-finite values as the strings "inf" and "nan", as the fixture."""
    return v if np.isfinite(v) else str(v)


def monai_hd(a, b, spacing, percentile):
    t = lambda m: torch.from_numpy(m)[None, None]
    v = compute_hausdorff_distance(t(a), t(b), include_background=True, percentile=percentile, spacing=list(spacing))
    return float(v[0, 0])


rows = []
for c in fixture["cases"]:
    a, b = mask(c["a_runs"], c["dims"]), mask(c["b_runs"], c["dims"])
    dm95, dm100 = float(c["hausdorff95"]), float(c["hausdorff"])
    mo95, mo100 = monai_hd(a, b, c["spacing"], 95), monai_hd(a, b, c["spacing"], None)
    row = {"case": c["name"], "dims": c["dims"], "spacing": c["spacing"],
           "surface_distance_hd95": dm95, "monai_hd95": mo95, "hd95_diff": mo95 - dm95,
           "surface_distance_hd": dm100, "monai_hd": mo100}
    rows.append(row)
    print(json.dumps({k: out(v) if isinstance(v, float) else v for k, v in row.items()}))
finite = [r for r in rows if np.isfinite(r["surface_distance_hd95"]) and np.isfinite(r["monai_hd95"])]
diffs = [r["hd95_diff"] for r in finite]
print(json.dumps({
    "monai": version("monai"), "torch": version("torch"), "fixture_generator": fixture["generator"],
    "cases": len(rows), "both_finite": len(finite),
    "hd95_equal_to_1e-6": sum(abs(d) <= 1e-6 for d in diffs),
    "monai_hd95_higher": sum(d > 1e-6 for d in diffs), "monai_hd95_lower": sum(d < -1e-6 for d in diffs),
    "max_abs_hd95_diff_mm": max(abs(d) for d in diffs),
    "hd_equal_to_float32": sum(abs(r["monai_hd"] - r["surface_distance_hd"]) <= 1e-6 * r["surface_distance_hd"] for r in finite),
    "median_abs_hd95_diff_mm": float(np.median(np.abs(diffs))),
}))
