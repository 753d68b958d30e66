#!/usr/bin/env bash
# deid.audit on the output of an independent de-identifier: KitwareMedical's dicom-anonymizer
# (which implements the Basic Profile of PS3.15 Table E.1-1, 2026c edition) run over generated
# CT files. Prints what attest reports, and keeps one de-identified file as the fixture
# tests/deid.rs checks (tests/fixtures/deid/dicom-anonymizer-out.dcm).
# Needs: pip install dicom-anonymizer==2.1.0. Usage: bench/deid/dicom_anonymizer.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
dir=bench/out/dicom-anonymizer
rm -rf "$dir" && mkdir -p "$dir/generated" "$dir/flat" "$dir/out"
cargo build --release -q --bin attest --example gen_testdata
./target/release/examples/gen_testdata bulk "$dir/generated" --count 20 > /dev/null
# dicom-anonymizer reads one folder level only.
i=0
for f in $(find "$dir/generated" -type f | sort); do i=$((i + 1)); cp "$f" "$dir/flat/$i.dcm"; done
dicom-anonymizer "$dir/flat" "$dir/out" > /dev/null 2>&1
cp "$dir/out/1.dcm" tests/fixtures/deid/dicom-anonymizer-out.dcm
printf 'attest: 1\nid: dicom-anonymizer\nversion: "1"\ntitle: D\ndata:\n  images: { dicom: out }\nrequirements:\n  - id: DEID\n    title: Basic Profile\n    check: deid.audit\n    data: images\n    profile: basic\n' > "$dir/spec.yaml"
ATTEST_PSEUDONYM_KEY=bench ./target/release/attest run "$dir/spec.yaml" --quiet --out "$dir/report" || true
echo "dicom-anonymizer $(pip show dicom-anonymizer 2>/dev/null | sed -n 's/^Version: //p') on $i files; attest's findings (code, attribute, files):"
python3 - "$dir/report/report.json" <<'PY'
import collections, json, sys
r = json.load(open(sys.argv[1]))["requirements"][0]
c = collections.Counter((f["code"], (f["subject"].split(" ", 1) + [""])[1]) for f in r["findings"])
print("status:", r["status"])
for (code, attribute), n in sorted(c.items()):
    print(f"| `{code}` | {attribute.strip('()') or '—'} | {n} |")
PY
