"""The peer for attest's DICOM header index: walk a folder and read every file with pydicom,
stopping before pixel data, keeping the same fields attest keeps. Prints one JSON line.

Usage: python3 bench/index/pydicom_index.py DIR [--processes N] [--records FILE]

With --processes N the files are split over N worker processes (pydicom itself is
single-threaded), so the comparison with attest on the same cores is fair. With --records FILE
the extracted values are also written as CSV (path relative to DIR, then one column per field,
multiple values joined by a backslash as DICOM writes them, absent as empty), sorted by path,
so another indexer's output can be compared value for value. pydicom is a benchmark peer only,
never a dependency of attest (pip install pydicom==3.0.2)."""
import csv
import json
import os
import sys
import time
from multiprocessing import Pool

import pydicom
from pydicom.multival import MultiValue

FIELDS = ["SOPInstanceUID", "SOPClassUID", "StudyInstanceUID", "SeriesInstanceUID", "PatientID",
          "Modality", "Manufacturer", "ManufacturerModelName", "InstitutionName", "SliceThickness",
          "KVP", "PixelSpacing"]


def text(value):
    """A value as DICOM writes it: multiple values joined by a backslash, absent as ''."""
    if value is None:
        return ""
    if isinstance(value, MultiValue):
        return "\\".join(str(v) for v in value)
    return str(value)


def read(path):
    try:
        ds = pydicom.dcmread(path, stop_before_pixels=True)
        return ("ok", tuple(text(ds.get(k)) for k in FIELDS))
    except Exception as e:  # an unreadable file is counted, as attest counts it
        return ("error", f"{type(e).__name__}: {e}")


def option(name, default=None):
    if name not in sys.argv:
        return default
    i = sys.argv.index(name)
    if i + 1 >= len(sys.argv):
        sys.exit(f"{name} needs a value")
    return sys.argv[i + 1]


def main():
    if len(sys.argv) < 2 or sys.argv[1].startswith("--"):
        sys.exit(__doc__)
    root = sys.argv[1]
    if not os.path.isdir(root):
        sys.exit(f"{root}: no such folder")
    procs = int(option("--processes", 1))
    records_path = option("--records")
    t0 = time.perf_counter()
    paths = sorted(os.path.join(d, f) for d, _, fs in os.walk(root) for f in fs)
    if procs > 1:
        with Pool(procs) as pool:
            records = pool.map(read, paths, chunksize=256)
    else:
        records = [read(p) for p in paths]
    dt = time.perf_counter() - t0
    errors = sum(1 for status, _ in records if status == "error")
    if records_path:
        with open(records_path, "w", newline="") as f:
            w = csv.writer(f, lineterminator="\n")
            w.writerow(["path"] + FIELDS)
            for path, (status, values) in zip(paths, records):
                if status == "ok":
                    w.writerow([os.path.relpath(path, root).replace(os.sep, "/"), *values])
    print(json.dumps({"tool": f"pydicom {pydicom.__version__}", "processes": procs, "files": len(paths),
                      "indexed": len(paths) - errors, "errors": errors, "seconds": round(dt, 3),
                      "files_per_second": round(len(paths) / dt)}))


if __name__ == "__main__":
    main()
