"""The peer for attest's DICOM header index: walk a folder and read every file with pydicom,
stopping before pixel data, keeping the same fields attest keeps. Prints one JSON line.

Usage: python3 pydicom_index.py DIR [--processes N]
With --processes N the files are split over N worker processes (pydicom itself is
single-threaded), so the comparison with attest on the same cores is fair."""
import json
import os
import sys
import time
from multiprocessing import Pool

import pydicom

FIELDS = ["SOPInstanceUID", "SOPClassUID", "StudyInstanceUID", "SeriesInstanceUID", "PatientID",
          "Modality", "Manufacturer", "ManufacturerModelName", "InstitutionName", "SliceThickness",
          "KVP", "PixelSpacing"]


def read(path):
    try:
        ds = pydicom.dcmread(path, stop_before_pixels=True)
        return tuple(str(ds.get(k, "")) for k in FIELDS)
    except Exception as e:  # an unreadable file is counted, as attest counts it
        return ("error", str(e))


def main():
    root = sys.argv[1]
    procs = int(sys.argv[sys.argv.index("--processes") + 1]) if "--processes" in sys.argv else 1
    t0 = time.perf_counter()
    paths = sorted(os.path.join(d, f) for d, _, fs in os.walk(root) for f in fs)
    if procs > 1:
        with Pool(procs) as pool:
            records = pool.map(read, paths, chunksize=256)
    else:
        records = [read(p) for p in paths]
    dt = time.perf_counter() - t0
    errors = sum(1 for r in records if r[0] == "error")
    print(json.dumps({"tool": f"pydicom {pydicom.__version__}", "processes": procs, "files": len(paths),
                      "errors": errors, "seconds": round(dt, 3), "files_per_second": round(len(paths) / dt)}))


if __name__ == "__main__":
    main()
