#!/usr/bin/env bash
# dicom.conformance's conditional, enumerated-value and value-multiplicity findings against
# dciodvfy's on the test files pydicom ships (86 files from many writers: dcmtk, GDCM, vendors).
# Prints, for each rule class, the files where attest, dciodvfy or both report it.
# Needs: apt-get install dicom3tools; pip install pydicom. Usage: bench/conformance/pydicom_files.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
dir=bench/out/pydicom-files
rm -rf "$dir" && mkdir -p "$dir/dicom"
src=$(python3 -c "import pydicom, os; print(os.path.join(os.path.dirname(pydicom.__file__), 'data', 'test_files'))")
cp "$src"/*.dcm "$dir/dicom/"
cargo build --release -q --bin attest
printf 'attest: 1\nid: pydicom-files\nversion: "1"\ntitle: Conformance\ndata:\n  images: { dicom: dicom }\nrequirements:\n  - id: CONF\n    title: IOD and VR conformance\n    check: dicom.conformance\n    data: images\n' > "$dir/spec.yaml"
ATTEST_PSEUDONYM_KEY=bench ./target/release/attest run "$dir/spec.yaml" --quiet --out "$dir/out" || true
for f in "$dir"/dicom/*.dcm; do
  dciodvfy -new "$f" 2>&1 | grep '^Error' | sed "s|^|$(basename "$f")\t|" || true
done > "$dir/dciodvfy.txt"
python3 - "$dir/out/report.json" "$dir/dciodvfy.txt" <<'PY'
import collections, json, re, sys
classes = {
    "missing-type1c": "Type 1C Conditional", "missing-type2c": "Type 2C Conditional",
    "invalid-enumerated": "Unrecognized enumerated value", "invalid-multiplicity": "Value Multiplicity",
}
attest, dciodvfy = collections.defaultdict(set), collections.defaultdict(set)
for f in json.load(open(sys.argv[1]))["requirements"][0]["findings"]:
    if f["code"] in classes:
        name, what = f["subject"].split(" ", 1)
        attest[f["code"]].add((name, what.strip("()").split("/")[-1]))
for line in open(sys.argv[2]):
    name, msg = line.rstrip("\n").split("\t", 1)
    for code, text in classes.items():
        if text in msg and not (code == "missing-type1c" and "Missing attribute" not in msg):
            m = re.search(r"/(\w+)\([0-9a-fA-F]{4},[0-9a-fA-F]{4}\)(\[\d+\])?> ", msg)
            if m and ("Missing" in msg or code != "missing-type1c"):
                dciodvfy[code].add((name, m.group(1)))
for code in classes:
    a, d = attest[code], dciodvfy[code]
    print(f"{code}: both {len(a & d)}, attest only {len(a - d)}, dciodvfy only {len(d - a)}")
    for name, kw in sorted(a - d):
        print(f"  attest only: {name} {kw}")
    for name, kw in sorted(d - a):
        print(f"  dciodvfy only: {name} {kw}")
PY
