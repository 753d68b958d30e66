//! `dataset.independence` end to end: a table of cases in splits and their images, with
//! collisions planted on purpose; each expected finding is stated beside its cause.

use std::path::Path;

use attest::synth::{write_ct, CtInstance};
use serde_json::Value;

mod common;

struct Case {
    id: &'static str,
    patient: &'static str,
    site: &'static str,
    split: &'static str,
    /// Pixel texture; equal textures give identical pixel data.
    texture: u64,
    intercept: f64,
}

const CASES: &[Case] = &[
    // a and b: one patient (P1) in train and test.
    Case {
        id: "a",
        patient: "P1",
        site: "X",
        split: "train",
        texture: 1,
        intercept: -1024.0,
    },
    Case {
        id: "b",
        patient: "P1",
        site: "Y",
        split: "test",
        texture: 2,
        intercept: -1024.0,
    },
    // c and d: identical pixel data (same texture) under different UIDs and patients.
    Case {
        id: "c",
        patient: "P3",
        site: "X",
        split: "train",
        texture: 3,
        intercept: -1024.0,
    },
    Case {
        id: "d",
        patient: "P4",
        site: "Y",
        split: "test",
        texture: 3,
        intercept: -1024.0,
    },
    // e and f: the same image with every value shifted by 10 HU (another rescale intercept):
    // different pixel data, the same difference hash (distance 0).
    Case {
        id: "e",
        patient: "P5",
        site: "X",
        split: "train",
        texture: 5,
        intercept: -1024.0,
    },
    Case {
        id: "f",
        patient: "P6",
        site: "Y",
        split: "test",
        texture: 5,
        intercept: -1014.0,
    },
    // g: a test case from site X, which train uses too.
    Case {
        id: "g",
        patient: "P7",
        site: "X",
        split: "test",
        texture: 7,
        intercept: -1024.0,
    },
];

fn fixture() -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    let mut table = String::from("case_id,label,patient_id,site,split,study_instance_uid\n");
    for c in CASES {
        let mut inst = CtInstance::new(11, c.id);
        inst.patient_id = c.patient.to_string();
        inst.texture_seed = c.texture;
        inst.rescale_intercept = c.intercept;
        write_ct(&inst, &d.path().join("dicom").join(c.id).join("1.dcm")).unwrap();
        table.push_str(&format!(
            "{},1,{},{},{},{}\n",
            c.id, c.patient, c.site, c.split, inst.study_instance_uid
        ));
    }
    std::fs::write(d.path().join("cases.csv"), table).unwrap();
    d
}

fn run(dir: &Path, params: &str) -> (i32, Value) {
    let spec = format!(
        "attest: 1\nid: ind\nversion: '1'\ntitle: Ind\ndata:\n  cases: {{ table: cases.csv }}\n\
         \x20 images: {{ dicom: dicom }}\nrequirements:\n  - id: IND\n    title: Independent splits\n\
         \x20   check: dataset.independence\n    data: cases\n{params}"
    );
    let (code, text, req) = common::run_spec(dir, &spec);
    assert!(
        !text.contains("\"P1\""),
        "patient identifiers never reach the report"
    );
    (code, req)
}

fn codes(req: &Value) -> Vec<&str> {
    req["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["code"].as_str().unwrap())
        .collect()
}

#[test]
fn every_planted_collision_is_found_and_names_both_sides() {
    let d = fixture();
    let params = "    patient_column: patient_id\n    images: images\n    pixels: near\n    \
                  external: test\n";
    let (code, req) = run(d.path(), params);
    assert_eq!(code, 1);
    assert_eq!(req["status"], "fail");
    let mut found = codes(&req);
    found.sort();
    assert_eq!(
        found,
        vec![
            "identical-pixels",     // c / d
            "near-duplicate-image", // e / f
            "shared-patient",       // P1 by the table
            "shared-patient",       // P1 by the images' PatientID
            "shared-site",          // X: train (a) and test (g)
        ]
    );
    let messages: Vec<&str> = req["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["message"].as_str().unwrap())
        .collect();
    assert!(messages
        .iter()
        .any(|m| m.contains("test (case b) and train (case a)")));
    assert!(messages
        .iter()
        .any(|m| m.contains("test (d/1.dcm) and train (c/1.dcm)")));
    assert!(messages
        .iter()
        .any(|m| m.starts_with("e/1.dcm (train) and f/1.dcm (test) differ in 0 of 64")));
    assert!(messages
        .iter()
        .any(|m| m.contains("other splits (case a) and test (case g)")));
}

#[test]
fn without_near_matching_the_shifted_image_passes_and_uids_are_distinct() {
    let d = fixture();
    let (_, req) = run(d.path(), "    images: images\n    pixels: identical\n");
    // Only c / d remain: no UID is shared, P1's PatientID is (by the images).
    let mut found = codes(&req);
    found.sort();
    assert_eq!(found, vec!["identical-pixels", "shared-patient"]);
    let m: Vec<(&str, f64)> = req["measurements"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["metric"].as_str().unwrap(),
                m["estimate"].as_f64().unwrap(),
            )
        })
        .collect();
    assert!(m.contains(&("shared_studies", 0.0)) && m.contains(&("identical_images", 1.0)));
}

#[test]
fn a_study_listed_for_two_splits_is_found_in_the_table() {
    let d = tempfile::tempdir().unwrap();
    std::fs::create_dir(d.path().join("dicom")).unwrap();
    // Two cases, one study UID, train and test: a collision even without any image.
    std::fs::write(
        d.path().join("cases.csv"),
        "case_id,label,patient_id,site,split,study_instance_uid\na,1,P1,X,train,1.2.3\nb,1,P2,Y,test,1.2.3\n",
    )
    .unwrap();
    let (code, req) = run(d.path(), "    images: images\n");
    assert_eq!(code, 1);
    assert_eq!(codes(&req), vec!["shared-study"]);
    let f = &req["findings"][0];
    assert!(f["message"]
        .as_str()
        .unwrap()
        .contains("test (case b) and train (case a)"));
    // The UID is named by keyed pseudonym, never in clear.
    assert!(f["subject"].as_str().unwrap().starts_with("U-"));
    assert!(!req.to_string().contains("1.2.3"));
}

#[test]
fn a_single_split_is_inconclusive() {
    let d = tempfile::tempdir().unwrap();
    std::fs::create_dir(d.path().join("dicom")).unwrap();
    std::fs::write(
        d.path().join("cases.csv"),
        "case_id,label,patient_id,site,split,study_instance_uid\na,1,P1,X,train,1.2\n",
    )
    .unwrap();
    let (code, req) = run(d.path(), "    patient_column: patient_id\n");
    assert_eq!((code, req["status"].as_str()), (1, Some("inconclusive")));
    assert_eq!(codes(&req), vec!["one-split"]);
}
