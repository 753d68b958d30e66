//! The awkward files a real archive holds, audited together by every data check: each becomes
//! a finding or is read correctly, nothing panics, and the rest of the folder is still audited.

use std::path::Path;

use assert_cmd::Command;
use attest::synth::{encode, CtInstance};
use dicom_core::value::{PixelFragmentSequence, PrimitiveValue};
use dicom_core::{DataElement, Tag, VR};
use dicom_dictionary_std::tags;
use dicom_encoding::TransferSyntaxIndex;
use dicom_object::{FileDicomObject, InMemDicomObject};
use dicom_transfer_syntax_registry::TransferSyntaxRegistry;
use serde_json::Value;

fn instance(key: &str) -> FileDicomObject<InMemDicomObject> {
    CtInstance::new(3, key).to_object().unwrap()
}

fn with_syntax(mut obj: FileDicomObject<InMemDicomObject>, uid: &str) -> Vec<u8> {
    obj.meta_mut()
        .set_transfer_syntax(TransferSyntaxRegistry.get(uid).unwrap());
    let mut bytes = Vec::new();
    obj.write_all(&mut bytes).unwrap();
    bytes
}

fn write(dir: &Path, name: &str, bytes: &[u8]) {
    std::fs::write(dir.join(name), bytes).unwrap();
}

#[test]
fn awkward_files_become_findings_and_the_rest_is_audited() {
    let d = tempfile::tempdir().unwrap();
    let dicom = d.path().join("dicom");
    std::fs::create_dir(&dicom).unwrap();
    // Readable in every transfer syntax attest supports.
    write(
        &dicom,
        "01-explicit-le.dcm",
        &encode(&instance("a")).unwrap(),
    );
    write(
        &dicom,
        "02-implicit-le.dcm",
        &with_syntax(instance("b"), "1.2.840.10008.1.2"),
    );
    write(
        &dicom,
        "03-explicit-be.dcm",
        &with_syntax(instance("c"), "1.2.840.10008.1.2.2"),
    );
    write(
        &dicom,
        "04-deflated.dcm",
        &with_syntax(instance("d"), "1.2.840.10008.1.2.1.99"),
    );
    // JPEG baseline whose only fragment is not a JPEG stream: the header reads, the pixels do not.
    let mut jpeg = instance("e");
    jpeg.put(DataElement::new(
        tags::PIXEL_DATA,
        VR::OB,
        PixelFragmentSequence::new(vec![], vec![vec![0xFF, 0xD8, 0x00, 0x01]]),
    ));
    write(
        &dicom,
        "05-jpeg-garbage.dcm",
        &with_syntax(jpeg, "1.2.840.10008.1.2.4.50"),
    );
    // A multi-frame object: three frames of the same size.
    let mut multi = instance("f");
    let px = CtInstance::new(3, "f").stored_pixels();
    let three: Vec<u16> = px.iter().chain(&px).chain(&px).copied().collect();
    multi.put(DataElement::new(
        tags::NUMBER_OF_FRAMES,
        VR::IS,
        PrimitiveValue::from("3"),
    ));
    multi.put(DataElement::new(
        tags::PIXEL_DATA,
        VR::OW,
        PrimitiveValue::U16(three.into()),
    ));
    write(&dicom, "06-multiframe.dcm", &encode(&multi).unwrap());
    // Private attributes with odd VRs.
    let mut private = instance("g");
    private.put(DataElement::new(
        Tag(0x0029, 0x0010),
        VR::LO,
        PrimitiveValue::from("ACME 1.0"),
    ));
    private.put(DataElement::new(
        Tag(0x0029, 0x1001),
        VR::UN,
        PrimitiveValue::from(vec![1u8, 2, 3, 4]),
    ));
    private.put(DataElement::new(
        Tag(0x0029, 0x1002),
        VR::DS,
        PrimitiveValue::from("not a number"),
    ));
    write(&dicom, "07-private.dcm", &encode(&private).unwrap());
    // A data set without preamble or file meta information (raw ACR-NEMA style).
    let mut raw = Vec::new();
    instance("h")
        .into_inner()
        .write_dataset_with_ts(
            &mut raw,
            TransferSyntaxRegistry.get("1.2.840.10008.1.2").unwrap(),
        )
        .unwrap();
    write(&dicom, "08-no-meta.dcm", &raw);
    write(&dicom, "09-empty.dcm", b"");

    std::fs::write(
        d.path().join("s.yaml"),
        "attest: 1\nid: bad\nversion: '1'\ntitle: Bad\ndata:\n  images: { dicom: dicom }\n\
         requirements:\n\
         \x20 - { id: CONF, title: C, check: dicom.conformance, data: images }\n\
         \x20 - { id: DEID, title: D, check: deid.audit, data: images }\n\
         \x20 - { id: ACQ, title: A, check: dicom.acquisition, data: images, geometry: {} }\n\
         \x20 - { id: COMP, title: M, check: dataset.composition, data: images, by: [Modality], min_count: 1 }\n",
    )
    .unwrap();
    let out = Command::cargo_bin("attest")
        .unwrap()
        .env("ATTEST_PSEUDONYM_KEY", "k")
        .current_dir(d.path())
        .args(["run", "s.yaml", "--quiet", "--out", "out"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    let r: Value =
        serde_json::from_str(&std::fs::read_to_string(d.path().join("out/report.json")).unwrap())
            .unwrap();
    let req = |id: &str| {
        r["requirements"]
            .as_array()
            .unwrap()
            .iter()
            .find(|q| q["id"] == id)
            .unwrap()
            .clone()
    };
    // Seven of the nine files are readable instances, in four transfer syntaxes and more.
    let comp = req("COMP");
    let ct = comp["measurements"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["group"]["Modality"] == "CT")
        .unwrap();
    assert_eq!(ct["n"], 7);
    let conf = req("CONF");
    let unreadable: Vec<&str> = conf["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["code"] == "unreadable-dicom")
        .map(|f| f["subject"].as_str().unwrap())
        .collect();
    assert_eq!(unreadable, vec!["08-no-meta.dcm", "09-empty.dcm"]);
    // Header attributes read alike in every syntax: the conformance audit has no complaint about
    // the readable files but the private DS it leaves alone.
    let conf_codes: Vec<String> = conf["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["code"] != "unreadable-dicom")
        .map(|f| {
            format!(
                "{} {}",
                f["code"].as_str().unwrap(),
                f["subject"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(conf_codes, Vec::<String>::new());
    // The de-identification audit reports the private block.
    let deid = req("DEID");
    assert!(deid["findings"]
        .as_array()
        .unwrap()
        .iter()
        .any(|f| f["code"] == "private-attribute"
            && f["subject"].as_str().unwrap().starts_with("07-private.dcm")));
}
