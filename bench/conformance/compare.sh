#!/usr/bin/env bash
# dicom.conformance against dciodvfy (dicom3tools) on generated files with one planted defect
# each. Writes tests/fixtures/dciodvfy/results.txt (dciodvfy's errors per file, with its
# version), which tests/conformance.rs compares attest's findings with.
# Needs: apt-get install dicom3tools. Usage: bench/conformance/compare.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
dir=bench/out/conformance
rm -rf "$dir" && mkdir -p "$dir/dicom"
cargo build --release -q --bin attest --example gen_testdata
./target/release/examples/gen_testdata conformance "$dir/dicom" > /dev/null
out=tests/fixtures/dciodvfy/results.txt
{
  echo "# dciodvfy -new, dicom3tools $(dpkg-query -W -f='${Version}' dicom3tools); Error lines per file"
  echo "# written by bench/conformance/compare.sh on files from: gen_testdata conformance DIR"
  for f in "$dir"/dicom/*.dcm; do
    dciodvfy -new "$f" 2>&1 | grep '^Error' | sort -u | sed "s|^|$(basename "$f")\t|" || true
  done
} > "$out"
printf 'attest: 1\nid: conformance\nversion: "1"\ntitle: Conformance\ndata:\n  images: { dicom: dicom }\nrequirements:\n  - id: CONF\n    title: IOD and VR conformance\n    check: dicom.conformance\n    data: images\n' > "$dir/spec.yaml"
ATTEST_PSEUDONYM_KEY=bench ./target/release/attest run "$dir/spec.yaml" --quiet --out "$dir/out" || true
python3 - "$dir/out/report.json" "$out" <<'PY'
import json, sys, collections
r = json.load(open(sys.argv[1]))["requirements"][0]["findings"]
attest = collections.defaultdict(list)
for f in r:
    attest[f["subject"].split(" (")[0]].append(f["code"] + " " + f["subject"].split(" ", 1)[1])
dciodvfy = collections.defaultdict(list)
for line in open(sys.argv[2]):
    if not line.startswith("#"):
        name, msg = line.rstrip("\n").split("\t", 1)
        dciodvfy[name].append(msg)
print("| file | attest | dciodvfy |\n|---|---|---|")
for name in sorted(set(attest) | set(dciodvfy) | {"00-conformant.dcm"}):
    a = "; ".join(attest.get(name, [])) or "—"
    d = "; ".join(m.split(" - ", 2)[1] + " " + m.split(" - ", 2)[2][:60] for m in dciodvfy.get(name, [])) or "—"
    print(f"| {name} | {a} | {d} |")
PY
