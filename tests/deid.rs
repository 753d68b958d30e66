//! `deid.audit` on instances de-identified by hand in the test, following PS3.15 Table E.1-1
//! as read in the standard (each action cited beside the attribute), then broken one rule at
//! a time.

use std::path::Path;

use assert_cmd::Command;
use attest::synth::{CtInstance, HeaderProfile};
use common::findings;
use dicom_core::value::{DataSetSequence, PrimitiveValue};
use dicom_core::{DataElement, Tag, VR};
use dicom_dictionary_std::tags;
use dicom_object::{FileDicomObject, InMemDicomObject};
use serde_json::Value;

mod common;

/// A synthetic instance de-identified per the Basic Profile (see `attest::synth::deidentify`,
/// whose removals cite PS3.15 Table E.1-1), with the given method codes.
fn deidentified(codes: &[&str]) -> FileDicomObject<InMemDicomObject> {
    let inst = CtInstance {
        profile: HeaderProfile::Full,
        ..CtInstance::new(5, "deid")
    };
    let mut obj = inst.to_object().unwrap();
    attest::synth::deidentify(&mut obj, codes);
    obj
}

fn run(
    dir: &Path,
    objects: &[(&str, FileDicomObject<InMemDicomObject>)],
    params: &str,
) -> (i32, Value) {
    for (name, obj) in objects {
        let p = dir.join("dicom").join(name);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        obj.write_to_file(&p).unwrap();
    }
    let spec = format!(
        "attest: 1\nid: d\nversion: '1'\ntitle: D\ndata:\n  images: {{ dicom: dicom }}\nrequirements:\n\
         \x20 - id: DEID\n    title: De-identified\n    check: deid.audit\n    data: images\n{params}"
    );
    let (code, _, req) = common::run_spec(dir, &spec);
    (code, req)
}

#[test]
fn a_correctly_deidentified_instance_passes() {
    let d = tempfile::tempdir().unwrap();
    let (code, req) = run(d.path(), &[("a.dcm", deidentified(&["113100"]))], "");
    assert_eq!(findings(&req), Vec::<String>::new());
    assert_eq!((code, req["status"].as_str()), (0, Some("pass")));
}

#[test]
fn each_broken_rule_is_one_finding() {
    let d = tempfile::tempdir().unwrap();
    let mut kept_age = deidentified(&["113100"]);
    kept_age.put(DataElement::new(
        tags::PATIENT_AGE,
        VR::AS,
        PrimitiveValue::from("045Y"),
    ));
    let mut flag = deidentified(&["113100"]);
    flag.put(DataElement::new(
        tags::PATIENT_IDENTITY_REMOVED,
        VR::CS,
        PrimitiveValue::from("NO"),
    ));
    let no_code = deidentified(&[]);
    let mut private = deidentified(&["113100"]);
    private.put(DataElement::new(
        Tag(0x0011, 0x0010),
        VR::LO,
        PrimitiveValue::from("ACME"),
    ));
    let mut nested = deidentified(&["113100"]);
    // Institution Address (X) inside an item of a sequence the table does not name.
    nested.put(DataElement::new(
        tags::ANATOMIC_REGION_SEQUENCE,
        VR::SQ,
        DataSetSequence::from(vec![InMemDicomObject::from_element_iter([
            DataElement::new(
                tags::INSTITUTION_ADDRESS,
                VR::ST,
                PrimitiveValue::from("1 Hospital Road"),
            ),
        ])]),
    ));
    let objects = [
        ("1-age.dcm", kept_age),
        ("2-flag.dcm", flag),
        ("3-code.dcm", no_code),
        ("4-private.dcm", private),
        ("5-nested.dcm", nested),
    ];
    let (code, req) = run(d.path(), &objects, "");
    assert_eq!(code, 1);
    assert_eq!(
        findings(&req),
        vec![
            "attribute-not-removed 1-age.dcm (PatientAge)",
            "identity-removed-flag 2-flag.dcm",
            "method-code-missing 3-code.dcm",
            "private-attribute 4-private.dcm (0011,0010)",
            "attribute-not-removed 5-nested.dcm (AnatomicRegionSequence/InstitutionAddress)",
        ]
    );
    // No finding quotes a value.
    let text = req.to_string();
    assert!(!text.contains("045Y") && !text.contains("Hospital Road") && !text.contains("ACME"));
}

#[test]
fn options_override_the_profile_and_need_their_codes() {
    let d = tempfile::tempdir().unwrap();
    let mut obj = deidentified(&["113100", "113108"]);
    obj.put(DataElement::new(
        tags::PATIENT_AGE,
        VR::AS,
        PrimitiveValue::from("045Y"),
    ));
    obj.put(DataElement::new(
        tags::PATIENT_WEIGHT,
        VR::DS,
        PrimitiveValue::from("70"),
    ));
    // Retain Patient Characteristics keeps Patient's Age and Weight (Table E.1-1, K).
    let (code, req) = run(
        d.path(),
        &[("a.dcm", obj.clone())],
        "    options: [retain_patient_characteristics]\n",
    );
    assert_eq!((code, findings(&req)), (0, vec![]));
    // Declaring Retain Device Identity too, without its code 113109, is a finding.
    let (_, req) = run(
        d.path(),
        &[("a.dcm", obj)],
        "    options: [retain_patient_characteristics, retain_device_identity]\n",
    );
    assert_eq!(findings(&req), vec!["method-code-missing a.dcm"]);
    assert!(req["findings"][0]["message"]
        .as_str()
        .unwrap()
        .contains("113109"));
}

#[test]
fn forbidden_values_and_residual_phi_in_free_text() {
    let d = tempfile::tempdir().unwrap();
    // The forbidden list holds keyed hashes only, written by `attest forbid`.
    let out = Command::cargo_bin("attest")
        .unwrap()
        .env("ATTEST_PSEUDONYM_KEY", common::KEY)
        .arg("forbid")
        .write_stdin("Smith\nSYN99999\n")
        .output()
        .unwrap();
    let list = String::from_utf8(out.stdout).unwrap();
    assert!(!list.to_uppercase().contains("SMITH"));
    std::fs::write(d.path().join("forbidden.txt"), &list).unwrap();
    let mut named = deidentified(&["113100", "113105"]);
    // Clean Descriptors keeps descriptions, cleaned (C): this one was not cleaned.
    named.put(DataElement::new(
        tags::STUDY_DESCRIPTION,
        VR::LO,
        PrimitiveValue::from("CT chest smith"),
    ));
    let mut dated = deidentified(&["113100", "113105"]);
    dated.put(DataElement::new(
        tags::SERIES_DESCRIPTION,
        VR::LO,
        PrimitiveValue::from("follow-up 2024-01-05"),
    ));
    let params = "    options: [clean_descriptors]\n    forbidden: forbidden.txt\n";
    let (code, req) = run(
        d.path(),
        &[("named.dcm", named), ("dated.dcm", dated)],
        params,
    );
    assert_eq!(code, 1);
    assert_eq!(
        findings(&req),
        vec![
            "possible-phi dated.dcm (SeriesDescription)",
            "forbidden-value named.dcm (StudyDescription)",
        ]
    );
    assert!(!req.to_string().to_lowercase().contains("smith"));
}

#[test]
fn identities_left_under_z_never_pass() {
    // Z allows a dummy, so the audit cannot prove a kept value is one; a person-name-shaped
    // name, an ID of six digits or more and a date kept under Z are flagged for review, and
    // the requirement is inconclusive, never pass.
    let d = tempfile::tempdir().unwrap();
    let mut obj = deidentified(&["113100"]);
    obj.put(DataElement::new(
        tags::PATIENT_NAME,
        VR::PN,
        PrimitiveValue::from("DOE^JOHN"),
    ));
    obj.put(DataElement::new(
        tags::PATIENT_ID,
        VR::LO,
        PrimitiveValue::from("7781234"),
    ));
    obj.put(DataElement::new(
        tags::PATIENT_BIRTH_DATE,
        VR::DA,
        PrimitiveValue::from("19700101"),
    ));
    let (code, req) = run(d.path(), &[("a.dcm", obj)], "");
    assert_eq!((code, req["status"].as_str()), (1, Some("inconclusive")));
    assert_eq!(
        findings(&req),
        vec![
            "possible-phi a.dcm (PatientName)",
            "possible-phi a.dcm (PatientID)",
            "possible-phi a.dcm (PatientBirthDate)",
        ]
    );
    let text = req.to_string();
    assert!(!text.contains("DOE") && !text.contains("7781234") && !text.contains("19700101"));
}

#[test]
fn attributes_after_pixel_data_are_audited() {
    // A private block after Pixel Data (group 7FE1) holding a name: still found.
    let d = tempfile::tempdir().unwrap();
    let mut obj = deidentified(&["113100"]);
    obj.put(DataElement::new(
        Tag(0x7FE1, 0x0010),
        VR::LO,
        PrimitiveValue::from("VENDOR"),
    ));
    obj.put(DataElement::new(
        Tag(0x7FE1, 0x1001),
        VR::LO,
        PrimitiveValue::from("Doe^John"),
    ));
    let (code, req) = run(d.path(), &[("a.dcm", obj)], "");
    assert_eq!(code, 1);
    assert_eq!(
        findings(&req),
        vec![
            "private-attribute a.dcm (7FE1,0010)",
            "private-attribute a.dcm (7FE1,1001)",
            "possible-phi a.dcm (7FE1,1001)",
        ]
    );
}

#[test]
fn the_deviations_of_an_independent_deidentifier_are_found() {
    // tests/fixtures/deid/dicom-anonymizer-out.dcm: a generated CT instance de-identified by
    // KitwareMedical's dicom-anonymizer 2.1.0 (bench/deid/dicom_anonymizer.sh). What it did to
    // each attribute was read with pydicom and set against Table E.1-1 (2026c, as that tool
    // itself lists it, tests/fixtures/deid/dicom-anonymizer-2026c.json):
    //   X   Performed Procedure Step Start Date: dummy date 00010101 (X: remove)   → finding
    //   X/Z Acquisition Date, Acquisition Time: dummy values (X/Z: remove or empty) → findings
    //   Z   Study Date, Patient's Birth Date; Z/D Content Date; X/D Series Date: dummy dates,
    //       allowed only if they are dummies, which a header cannot tell        → review
    //   X/Z/D Institution Name, Station Name, Operators' Name, Device Serial Number and
    //       X/D Protocol Name: "ANONYMIZED" (a dummy is allowed)                → nothing
    //   Z   Patient's Name, Patient ID, Accession Number, Study ID...: emptied   → nothing
    //   U   UIDs replaced by 2.25 UIDs                                           → nothing
    // It does not add Patient Identity Removed YES, the method code sequence or the
    // longitudinal temporal flag (PS3.15 E.1.1, E.3.6)                          → findings
    let d = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(d.path().join("dicom")).unwrap();
    std::fs::copy(
        concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/deid/dicom-anonymizer-out.dcm"
        ),
        d.path().join("dicom/1.dcm"),
    )
    .unwrap();
    let spec = "attest: 1\nid: d\nversion: '1'\ntitle: D\ndata:\n  images: { dicom: dicom }\n\
                requirements:\n  - id: DEID\n    title: De-identified\n    check: deid.audit\n\
                \x20   data: images\n    profile: basic\n";
    let (code, _, req) = common::run_spec(d.path(), spec);
    assert_eq!(code, 1);
    let mut got = findings(&req);
    got.sort();
    assert_eq!(
        got,
        [
            "attribute-not-removed 1.dcm (AcquisitionDate)",
            "attribute-not-removed 1.dcm (AcquisitionTime)",
            "attribute-not-removed 1.dcm (PerformedProcedureStepStartDate)",
            "identity-removed-flag 1.dcm",
            "method-code-missing 1.dcm",
            "possible-phi 1.dcm (AcquisitionDate)",
            "possible-phi 1.dcm (ContentDate)",
            "possible-phi 1.dcm (PatientBirthDate)",
            "possible-phi 1.dcm (SeriesDate)",
            "possible-phi 1.dcm (StudyDate)",
            "temporal-flag 1.dcm",
        ]
    );
}
