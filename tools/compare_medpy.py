#!/usr/bin/env python3
"""Where MedPy's surface metrics differ from DeepMind surface-distance's (which attest follows),
measured on the generated mask pairs of tests/fixtures/surface/peer_values.json.

Run: pip install medpy numpy scipy; python3 tools/compare_medpy.py  (prints a Markdown table)

MedPy (medpy.metric.binary, 0.5.2) takes as the surface the foreground voxels that one binary
erosion removes (voxel centres, 6-connectivity in 3D), measures distances between voxel centres
with SciPy's EDT, pools both directions' per-voxel distances unweighted, and takes HD95 as
numpy.percentile(pooled, 95) (linear interpolation) and ASSD as the mean of the pooled
distances; an empty mask raises an error. surface-distance takes surfels (faces between
foreground and background, at voxel corners, weighted by their area), pools both directions and
takes the first distance whose cumulative area reaches 95%.
"""
import json
import os
from importlib.metadata import version

import numpy as np
from medpy.metric import binary

root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
data = json.load(open(os.path.join(root, "tests/fixtures/surface/peer_values.json")))


def decode(runs, dims):
    flat = np.zeros(int(np.prod(dims)), dtype=bool)
    pos, fg = 0, False
    for r in runs:
        if fg:
            flat[pos:pos + r] = True
        pos += r
        fg = not fg
    # x fastest: flat index x + nx*(y + ny*z) -> array [x, y, z]
    return flat.reshape(dims[::-1]).transpose(2, 1, 0)


print(f"MedPy {version('medpy')} against surface-distance (values in mm)\n")
print("| case | HD (sd / MedPy) | HD95 (sd / MedPy) | ASSD (sd / MedPy) |")
print("|---|---|---|---|")
for c in data["cases"]:
    a, b = decode(c["a_runs"], c["dims"]), decode(c["b_runs"], c["dims"])
    if not a.any() or not b.any():
        print(f"| {c['name']} | empty mask: MedPy raises | | |")
        continue
    sp = tuple(c["spacing"])
    hd = binary.hd(a, b, voxelspacing=sp)
    hd95 = binary.hd95(a, b, voxelspacing=sp)
    assd = binary.assd(a, b, voxelspacing=sp)
    f = lambda x: "—" if x is None else f"{x:.3f}"
    print(f"| {c['name']} | {f(c['hausdorff'])} / {hd:.3f} | {f(c['hausdorff95'])} / {hd95:.3f} | {f(c['assd_pooled'])} / {assd:.3f} |")
