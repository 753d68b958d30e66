//! `dicom.acquisition` end to end on generated series with known geometry defects; every
//! expected finding below is derived by hand from the positions written.

use std::path::Path;

use assert_cmd::Command;
use attest::synth::{write_ct, CtInstance};
use common::findings;
use serde_json::Value;

mod common;

/// Writes one series: slice `i` at z = `zs[i]`, with per-slice edits.
fn series(dir: &Path, name: &str, zs: &[f64], edit: impl Fn(usize, &mut CtInstance)) {
    for (i, z) in zs.iter().enumerate() {
        let mut inst = CtInstance::new(1, name);
        inst.sop_instance_uid = attest::synth::synthetic_uid(1, &format!("{name}/{i}"));
        inst.instance_number = i as u32 + 1;
        inst.image_position_patient = [-5.6, -5.6, *z];
        edit(i, &mut inst);
        write_ct(&inst, &dir.join(name).join(format!("{}.dcm", i + 1))).unwrap();
    }
}

fn run(spec_tail: &str, dir: &Path) -> (i32, Value) {
    let spec = format!(
        "attest: 1\nid: acq\nversion: '1'\ntitle: Acq\ndata:\n  images: {{ dicom: dicom }}\n\
         requirements:\n  - id: ACQ\n    title: Envelope\n    check: dicom.acquisition\n    data: images\n{spec_tail}"
    );
    let (code, _, req) = common::run_spec(dir, &spec);
    (code, req)
}

#[test]
fn geometry_defects_are_found_and_named() {
    let d = tempfile::tempdir().unwrap();
    let dicom = d.path().join("dicom");
    // Regular: spacing 1.25 mm, slices out of file order on purpose.
    series(&dicom, "s1-good", &[2.5, 0.0, 3.75, 1.25], |_, _| {});
    // 0, 1.25, 3.75, 5.0: the 2.5 mm gap is twice the spacing, so one slice is missing.
    series(&dicom, "s2-gap", &[0.0, 1.25, 3.75, 5.0], |_, _| {});
    // 0, 1.0, 2.5: gaps 1.0 and 1.5; 1.5 is not a whole multiple of 1.0.
    series(&dicom, "s3-uneven", &[0.0, 1.0, 2.5], |_, _| {});
    // The second slice is tilted: its row cosines differ by far more than 1e-4.
    series(&dicom, "s4-tilt", &[0.0, 1.25], |i, inst| {
        if i == 1 {
            inst.image_orientation_patient = [0.9998, 0.02, 0.0, 0.0, 1.0, 0.0];
        }
    });
    // Two slices at the same position.
    series(&dicom, "s5-dup", &[0.0, 0.0, 1.25], |_, _| {});
    let (code, req) = run("    geometry: {}\n", d.path());
    assert_eq!(code, 1);
    assert_eq!(req["status"], "fail");
    assert_eq!(
        findings(&req),
        vec![
            "missing-slice series of s2-gap/1.dcm (4 instances)",
            "spacing-varies series of s3-uneven/1.dcm (3 instances)",
            "orientation-varies series of s4-tilt/1.dcm (2 instances)",
            "duplicate-position series of s5-dup/1.dcm (3 instances)",
        ]
    );
    let msg = req["findings"][0]["message"].as_str().unwrap();
    assert!(
        msg.starts_with("1 slice(s) missing between s2-gap/2.dcm and s2-gap/3.dcm"),
        "{msg}"
    );
    // 1 of 5 series is sound.
    assert_eq!(req["measurements"][1]["estimate"], 0.2);
    assert_eq!(req["measurements"][1]["n"], 5);
}

#[test]
fn envelope_violations_name_instance_and_attribute() {
    let d = tempfile::tempdir().unwrap();
    let dicom = d.path().join("dicom");
    series(&dicom, "a", &[0.0, 1.25, 2.5], |i, inst| match i {
        1 => inst.slice_thickness = Some(5.0),
        2 => inst.convolution_kernel = Some("BONE".into()),
        _ => {}
    });
    let tail = "    slice_thickness: { max: 2.5 }\n    kernels: [lung, STANDARD]\n    \
                manufacturers: [GE MEDICAL SYSTEMS]\n    geometry: { tolerance_mm: 0.01 }\n";
    let (code, req) = run(tail, d.path());
    assert_eq!(code, 1);
    assert_eq!(
        findings(&req),
        vec!["outside-envelope a/2.dcm", "not-allowed a/3.dcm"]
    );
    assert_eq!(
        req["measurements"][0]["estimate"].as_f64().unwrap(),
        1.0 / 3.0
    );
    // Only the envelope failed; the series itself is sound.
    assert_eq!(req["measurements"][1]["estimate"], 1.0);

    // The same data within a wider envelope passes.
    let (code, req) = run(
        "    slice_thickness: { max: 5 }\n    kernels: [LUNG, BONE]\n    geometry: {}\n",
        d.path(),
    );
    assert_eq!((code, req["status"].as_str()), (0, Some("pass")));
}

#[test]
fn a_requirement_without_constraint_is_refused() {
    let d = tempfile::tempdir().unwrap();
    std::fs::create_dir(d.path().join("dicom")).unwrap();
    std::fs::write(
        d.path().join("spec.yaml"),
        "attest: 1\nid: a\nversion: '1'\ntitle: A\ndata:\n  images: { dicom: dicom }\nrequirements:\n  - id: ACQ\n    title: A\n    check: dicom.acquisition\n    data: images\n",
    )
    .unwrap();
    Command::cargo_bin("attest")
        .unwrap()
        .current_dir(d.path())
        .args(["lint", "spec.yaml"])
        .assert()
        .code(2)
        .stderr(predicates::str::contains("error[no-constraint]"));
}

#[test]
fn echoes_at_the_same_positions_are_separate_stacks() {
    // A two-echo series: every position holds one slice per echo. Per echo the stack is
    // regular (0, 1.25, 2.5); taken together every position would look duplicated.
    let d = tempfile::tempdir().unwrap();
    let dicom = d.path().join("dicom");
    for (i, (z, echo)) in [
        (0.0, "1"),
        (1.25, "1"),
        (2.5, "1"),
        (0.0, "2"),
        (1.25, "2"),
        (2.5, "2"),
    ]
    .iter()
    .enumerate()
    {
        let mut inst = CtInstance::new(1, "me");
        inst.sop_instance_uid = attest::synth::synthetic_uid(1, &format!("me/{i}"));
        inst.image_position_patient = [-5.6, -5.6, *z];
        let mut obj = inst.to_object().unwrap();
        obj.put(dicom_core::DataElement::new(
            dicom_dictionary_std::tags::ECHO_NUMBERS,
            dicom_core::VR::IS,
            dicom_core::PrimitiveValue::from(*echo),
        ));
        std::fs::create_dir_all(dicom.join("me")).unwrap();
        std::fs::write(
            dicom.join("me").join(format!("{}.dcm", i + 1)),
            attest::synth::encode(&obj).unwrap(),
        )
        .unwrap();
    }
    let (code, req) = run("    geometry: {}\n", d.path());
    assert_eq!(
        (code, req["status"].as_str()),
        (0, Some("pass")),
        "{:?}",
        findings(&req)
    );
    // Two stacks, both sound.
    assert_eq!(req["measurements"][1]["n"], 2);
    assert_eq!(req["measurements"][1]["estimate"], 1.0);
}
