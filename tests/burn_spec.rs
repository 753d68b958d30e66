//! Networks declared in a spec (`architecture:`), end to end through `attest run`: on the demo
//! DICOM data with the tiny ResNet fixture (`tests/fixtures/burn/resnet_tiny.pt`, whose forward
//! pass `tests/burn_models.rs` checks against the NumPy reference), the scores the run writes
//! are exactly the library's pipeline and forward pass composed by hand here; the report
//! identifies the weights, pipeline and backend; repeatability, robustness and thread-count
//! independence hold; and every mistake is a clear spec error or finding.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use attest::model::burn::{ClassifierModel, KeyMap, ResNetConfig};
use attest::model::pipeline::{self, PipelineConfig, Resample, Window};
use serde_json::Value;
use sha2::{Digest, Sha256};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn tiny() -> ResNetConfig {
    ResNetConfig {
        in_channels: 1,
        num_classes: 2,
        width: 2,
        layers: [1, 1, 1, 1],
    }
}

fn pipeline_config() -> PipelineConfig {
    PipelineConfig {
        window: Some(Window {
            center: Some(-600.0),
            width: Some(1500.0),
            from_file: false,
        }),
        resample: Some(Resample {
            size: Some([32, 32]),
            spacing_mm: None,
        }),
        ..PipelineConfig::default()
    }
}

/// A spec over the demo data with the tiny ResNet as `cnn`; `extra_model` lines are added to
/// the model, `requirements` replace the default AUC requirement.
fn spec(extra_model: &str, requirements: &str) -> String {
    let r = root();
    format!(
        "attest: 1\nid: b\nversion: '1'\ntitle: B\n\
         data:\n  images: {{ dicom: {dicom} }}\n  cases: {{ table: {cases} }}\n\
         models:\n  cnn:\n    architecture: {{ resnet: {{ in_channels: 1, num_classes: 2, width: 2, layers: [1, 1, 1, 1] }} }}\n\
         \x20   weights: {weights}\n\
         \x20   key_map: [{{ from: '\\.downsample\\.0\\.', to: .downsample.conv. }}, {{ from: '\\.downsample\\.1\\.', to: .downsample.bn. }}]\n\
         \x20   pipeline: {{ window: {{ center: -600, width: 1500 }}, resample: {{ size: [32, 32] }} }}\n\
         \x20   cases: cases\n    images: images\n    image_column: study_instance_uid\n{extra_model}\
         requirements:\n{requirements}",
        dicom = r.join("testdata/demo/dicom").display(),
        cases = r.join("testdata/demo/cases.csv").display(),
        weights = r.join("tests/fixtures/burn/resnet_tiny.pt").display(),
    )
}

const AUC: &str = "  - id: AUC\n    title: AUC\n    check: classification\n    model: cnn\n    truth: cases\n    metric: auc\n    pass: ci_low >= 0.0\n";

fn scores(csv: &str) -> BTreeMap<String, f64> {
    csv.lines()
        .skip(1)
        .map(|l| {
            let (id, s) = l.split_once(',').unwrap();
            (id.to_string(), s.parse().unwrap())
        })
        .collect()
}

/// The readable DICOM files of the demo by StudyInstanceUID.
fn files_by_study(dir: &Path) -> BTreeMap<String, Vec<PathBuf>> {
    let mut out: BTreeMap<String, Vec<PathBuf>> = BTreeMap::new();
    for e in walkdir::WalkDir::new(dir).sort_by_file_name() {
        let e = e.unwrap();
        if !e.file_type().is_file() {
            continue;
        }
        let Ok(obj) = dicom_object::OpenFileOptions::new()
            .read_until(dicom_dictionary_std::tags::PIXEL_DATA)
            .open_file(e.path())
        else {
            continue;
        };
        if let Some(uid) = obj
            .element(dicom_dictionary_std::tags::STUDY_INSTANCE_UID)
            .ok()
            .and_then(|v| v.to_str().ok())
            .map(|s| s.trim_end_matches('\0').trim().to_string())
        {
            out.entry(uid).or_default().push(e.path().to_path_buf());
        }
    }
    out
}

#[test]
fn scores_are_the_pipeline_and_forward_pass_composed_and_the_run_is_identified() {
    let dir = tempfile::tempdir().unwrap();
    let (code, _, req) = common::run_spec(dir.path(), &spec("", AUC));
    let report: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("out/report.json")).unwrap())
            .unwrap();
    // Three cases are not scored (below): under the default policy a missing prediction is
    // an error of the requirement.
    assert_eq!(code, 2, "{req:#}");
    let csv = std::fs::read_to_string(dir.path().join("out/models/cnn.csv")).unwrap();
    let got = scores(&csv);

    // The truth: each case's files through the library's pipeline and network, by hand.
    let model = ClassifierModel::load(
        &tiny(),
        &root().join("tests/fixtures/burn/resnet_tiny.pt"),
        &KeyMap::torchvision_resnet(),
    )
    .unwrap();
    let by_study = files_by_study(&root().join("testdata/demo/dicom"));
    let table = std::fs::read_to_string(root().join("testdata/demo/cases.csv")).unwrap();
    let mut header = table.lines().next().unwrap().split(',');
    let uid_col = header.position(|c| c == "study_instance_uid").unwrap();
    let (mut compared, mut unscored) = (0, Vec::new());
    for line in table.lines().skip(1) {
        let fields: Vec<&str> = line.split(',').collect();
        let (id, uid) = (fields[0], fields[uid_col]);
        let files = by_study.get(uid).cloned().unwrap_or_default();
        let prepared: Result<Vec<_>, _> = files
            .iter()
            .map(|f| pipeline::image(f, &pipeline_config()))
            .collect();
        match (prepared, got.get(id)) {
            (Ok(images), Some(&score)) if !images.is_empty() => {
                let data: Vec<f32> = images.iter().flat_map(|p| p.data.clone()).collect();
                let probs = model.predict(&data, [images.len(), 1, 32, 32]).unwrap();
                let expected = probs
                    .iter()
                    .map(|p| f64::from(p[1]))
                    .fold(f64::NEG_INFINITY, f64::max);
                assert_eq!(score.to_bits(), expected.to_bits(), "case {id}");
                compared += 1;
            }
            (_, None) => unscored.push(id.to_string()),
            (prepared, Some(s)) => panic!(
                "case {id} scored {s} although its files do not all prepare: {:?}",
                prepared.err()
            ),
        }
    }
    // The pipeline prepares every readable demo image (the MR series too); the cases left
    // unscored are the three whose series folder also holds a file that is not readable DICOM
    // (testdata/demo/DEFECTS.md), each a `model-input` finding naming that file.
    assert_eq!(
        (compared, unscored.len()),
        (197, 3),
        "unscored: {unscored:?}"
    );
    let defects = std::fs::read_to_string(root().join("testdata/demo/DEFECTS.md")).unwrap();
    let unreadable: Vec<&str> = defects
        .lines()
        .filter(|l| l.contains("`unreadable-dicom`"))
        .map(|l| {
            l.split('|')
                .nth(1)
                .unwrap()
                .trim()
                .trim_start_matches("dicom/")
        })
        .collect();
    assert_eq!(unreadable.len(), 3);
    for (id, file) in unscored.iter().zip(&unreadable) {
        let f = req["findings"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["code"] == "model-input" && f["subject"] == format!("case {id}").as_str())
            .unwrap_or_else(|| panic!("{id}: {req:#}"));
        assert!(f["message"].as_str().unwrap().contains(file), "{f}");
    }

    // The identity of what ran.
    let m = &report["models"][0];
    assert_eq!(m["kind"], "burn");
    let n = &m["network"];
    assert_eq!(n["backend"], "flex");
    assert_eq!(n["precision"], "float32");
    assert_eq!(n["architecture"]["resnet"]["width"], 2);
    assert_eq!(n["weights"]["format"], "pytorch");
    let bytes = std::fs::read(root().join("tests/fixtures/burn/resnet_tiny.pt")).unwrap();
    let sha = hex::encode(Sha256::digest(&bytes));
    assert_eq!(n["weights"]["sha256"], sha.as_str());
    assert_eq!(n["pipeline_sha256"], pipeline_config().sha256().as_str());
    assert_eq!(m["scored"].as_u64().unwrap() as usize, got.len());
    assert_eq!(
        m["output_sha256"],
        hex::encode(Sha256::digest(csv.as_bytes())).as_str()
    );
    // The manifest lists the weights file as an input, and the network's identity.
    let manifest: Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("out/manifest.json")).unwrap(),
    )
    .unwrap();
    assert!(manifest["inputs"]
        .as_array()
        .unwrap()
        .iter()
        .any(|f| f["sha256"] == sha.as_str()
            && f["path"].as_str().unwrap().ends_with("resnet_tiny.pt")));
    let id = &manifest["models"][0]["network"];
    assert_eq!(id["weights"]["sha256"], sha.as_str());
    assert_eq!(id["pipeline_sha256"], pipeline_config().sha256().as_str());
    assert_eq!(
        (id["backend"].as_str(), id["precision"].as_str()),
        (Some("flex"), Some("float32"))
    );
    assert_eq!(id["architecture"], n["architecture"]);
}

#[test]
fn repeatability_and_robustness_on_a_network() {
    let dir = tempfile::tempdir().unwrap();
    let reqs = "  - id: REP\n    title: R\n    check: model.repeatability\n    model: cnn\n    cases: 12\n\
                \x20 - id: REP2\n    title: R\n    check: model.repeatability\n    model: cnn\n    cases: 5\n    backend: flex\n\
                \x20 - id: ROB\n    title: R\n    check: model.robustness\n    model: cnn\n    truth: cases\n\
                \x20   perturbations:\n      - { kind: noise, sigma: 200 }\n      - { kind: jpeg, quality: 5 }\n\
                \x20     - { kind: contrast, factor: 0.5 }\n      - { kind: rotation, degrees: 10 }\n\
                \x20   pass: ci_high <= 1.0\n";
    common::run_spec(dir.path(), &spec("", reqs));
    let report: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("out/report.json")).unwrap())
            .unwrap();
    let rep = &report["requirements"][0];
    assert_eq!(rep["status"], "pass", "{rep:#}");
    assert_eq!(rep["measurements"][0]["n"], 12);
    assert_eq!(rep["measurements"][0]["estimate"], 1.0);

    let rep2 = &report["requirements"][1];
    assert_eq!(rep2["status"], "pass", "{rep2:#}");
    assert_eq!(rep2["measurements"][0]["n"], 5);
    assert!(rep2["method"]
        .as_str()
        .unwrap()
        .contains("on the flex backend"));

    let rob = &report["requirements"][2];
    let ms = rob["measurements"].as_array().unwrap();
    assert_eq!(ms.len(), 4);
    let clean = scores(&std::fs::read_to_string(dir.path().join("out/models/cnn.csv")).unwrap());
    let labels: BTreeMap<String, bool> =
        std::fs::read_to_string(root().join("testdata/demo/cases.csv"))
            .unwrap()
            .lines()
            .skip(1)
            .map(|l| {
                let f: Vec<&str> = l.split(',').collect();
                (f[0].to_string(), f[1] == "1")
            })
            .collect();
    let auc = |s: &BTreeMap<String, f64>| -> f64 {
        // Mann–Whitney by counting pairs (ties one half), over the cases scored in both runs.
        let (mut wins, mut pairs) = (0.0, 0.0);
        for (a, sa) in s.iter().filter(|(id, _)| labels[*id]) {
            for (b, sb) in s.iter().filter(|(id, _)| !labels[*id]) {
                let _ = (a, b);
                pairs += 1.0;
                wins += if sa > sb {
                    1.0
                } else if sa == sb {
                    0.5
                } else {
                    0.0
                };
            }
        }
        wins / pairs
    };
    for (m, p) in ms
        .iter()
        .zip(report["models"][0]["perturbed"].as_array().unwrap())
    {
        let label = m["group"]["perturbation"].as_str().unwrap();
        assert_eq!(p["perturbation"], label);
        let path = dir.path().join("out").join(p["output"].as_str().unwrap());
        let perturbed = scores(&std::fs::read_to_string(path).unwrap());
        assert_eq!(
            perturbed.len(),
            clean.len(),
            "{label}: every clean case scored"
        );
        assert_ne!(perturbed, clean, "{label} changed no score");
        let drop = auc(&clean) - auc(&perturbed);
        let est = m["estimate"].as_f64().unwrap();
        assert!((est - drop).abs() < 1e-12, "{label}: {est} against {drop}");
        let (lo, hi) = (
            m["ci_low"].as_f64().unwrap(),
            m["ci_high"].as_f64().unwrap(),
        );
        assert!(lo <= est && est <= hi, "{label}: {lo} {est} {hi}");
    }
}

#[test]
fn reports_do_not_depend_on_the_thread_count() {
    let reqs = "  - id: ROB\n    title: R\n    check: model.robustness\n    model: cnn\n    truth: cases\n\
                \x20   perturbations: [{ kind: noise, sigma: 100 }]\n    pass: ci_high <= 0.5\n";
    let run = |threads: &str| {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("spec.yaml"), spec("", reqs)).unwrap();
        assert_cmd::Command::cargo_bin("attest")
            .unwrap()
            .env("ATTEST_PSEUDONYM_KEY", common::KEY)
            .env("RAYON_NUM_THREADS", threads)
            .current_dir(dir.path())
            .args(["run", "spec.yaml", "--quiet", "--out", "out"])
            .output()
            .unwrap();
        let text = std::fs::read_to_string(dir.path().join("out/report.json")).unwrap();
        let mut v: Value = serde_json::from_str(&text).unwrap();
        v["generated_at"] = Value::Null;
        v
    };
    assert_eq!(run("1"), run("2"));
}

fn lint(dir: &Path, text: &str) -> String {
    std::fs::write(dir.join("spec.yaml"), text).unwrap();
    let out = assert_cmd::Command::cargo_bin("attest")
        .unwrap()
        .current_dir(dir)
        .args(["lint", "spec.yaml"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{text}");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn network_mistakes_are_spec_errors_at_their_line() {
    let dir = tempfile::tempdir().unwrap();
    let base = spec("", AUC);
    let swap = |from: &str, to: &str| {
        assert!(base.contains(from), "{from}");
        base.replace(from, to)
    };
    let e = lint(dir.path(), &swap("width: 2,", "widht: 2,"));
    assert!(e.contains("unknown field `widht`"), "{e}");
    assert!(e.contains("spec.yaml:10:"), "points at the key's line: {e}");
    // One mistake, one error: the requirement naming the model does not add "unknown model".
    assert!(e.contains("error: 1 problem(s)"), "{e}");
    let e = lint(dir.path(), &swap("resnet:", "vgg:"));
    assert!(
        e.contains("unknown variant `vgg`, expected `resnet`"),
        "{e}"
    );
    let e = lint(dir.path(), &swap("num_classes: 2", "num_classes: 1"));
    assert!(e.contains("needs at least 2 classes"), "{e}");
    let e = lint(
        dir.path(),
        &swap("layers: [1, 1, 1, 1]", "layers: [1, 0, 1, 1]"),
    );
    assert!(e.contains("every stage needs at least one block"), "{e}");
    let e = lint(
        dir.path(),
        &swap("size: [32, 32] }", "size: [32, 32] }, channels: 3"),
    );
    assert!(
        e.contains("the pipeline gives 3 channel(s), the network takes 1"),
        "{e}"
    );
    let e = lint(
        dir.path(),
        &swap("size: [32, 32] }", "size: [32, 32] }, volume: true"),
    );
    assert!(e.contains("takes single images"), "{e}");
    let e = lint(dir.path(), &swap("center: -600,", "centre: -600,"));
    assert!(e.contains("unknown field `centre`"), "{e}");
    let e = lint(dir.path(), &swap("resnet_tiny.pt", "resnet_tiny.onnx"));
    assert!(e.contains("no such file"), "{e}");
    let e = lint(
        dir.path(),
        &swap(
            "    cases: cases\n    images",
            "    output: { class: 2 }\n    cases: cases\n    images",
        ),
    );
    assert!(
        e.contains("class 2 does not exist; the network has 2 classes"),
        "{e}"
    );
    let e = lint(
        dir.path(),
        &swap(
            "    cases: cases\n    images",
            "    backend: wgpu\n    cases: cases\n    images",
        ),
    );
    if !cfg!(feature = "wgpu") {
        assert!(
            e.contains("backend `wgpu` is not compiled into this attest"),
            "{e}"
        );
    }
    let e = lint(
        dir.path(),
        &swap(
            "    cases: cases\n    images",
            "    weights_sha256: abc\n    cases: cases\n    images",
        ),
    );
    assert!(e.contains("64 hexadecimal digits"), "{e}");
    let keyed = base
        .lines()
        .map(|l| {
            if l.trim_start().starts_with("key_map:") {
                "    key_map: [{ from: '(', to: x }]"
            } else {
                l
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    let e = lint(dir.path(), &keyed);
    assert!(e.contains("not a valid regular expression"), "{e}");
    let e = lint(
        dir.path(),
        &swap(
            "    cases: cases\n    images",
            "    timeout_s: 5\n    cases: cases\n    images",
        ),
    );
    assert!(
        e.contains("`timeout_s` does not apply to a `architecture` model")
            || e.contains("does not apply"),
        "{e}"
    );

    // model.repeatability on another backend: only one compiled in.
    let rep = "  - id: R\n    title: R\n    check: model.repeatability\n    model: cnn\n    backend: cuda\n";
    if !cfg!(feature = "cuda") {
        let e = lint(dir.path(), &spec("", rep));
        assert!(
            e.contains("backend `cuda` is not compiled into this attest"),
            "{e}"
        );
    }

    // model.robustness: only networks; JPEG needs a window; no empty list.
    let preds = root().join("testdata/demo/predictions.csv");
    let rob = |model: &str, perturbations: &str| {
        format!(
            "  - id: ROB\n    title: R\n    check: model.robustness\n    model: {model}\n    truth: cases\n    perturbations: {perturbations}\n    pass: ci_high <= 0.05\n"
        )
    };
    let with_file_model = spec(
        &format!("  file: {{ predictions: {} }}\n", preds.display()),
        &rob("file", "[{ kind: noise, sigma: 10 }]"),
    );
    let e = lint(dir.path(), &with_file_model);
    assert!(e.contains("`file` is not a network attest runs"), "{e}");
    let no_window = spec("", &rob("cnn", "[{ kind: jpeg, quality: 30 }]"))
        .replace("window: { center: -600, width: 1500 }, ", "");
    let e = lint(dir.path(), &no_window);
    assert!(e.contains("needs a window"), "{e}");
    let e = lint(dir.path(), &spec("", &rob("cnn", "[]")));
    assert!(e.contains("no perturbation is declared"), "{e}");
    let e = lint(
        dir.path(),
        &spec("", &rob("cnn", "[{ kind: jpeg, quality: 0 }]")),
    );
    assert!(e.contains("`quality` must be within 1 to 100"), "{e}");
    let e = lint(
        dir.path(),
        &spec("", &rob("cnn", "[{ kind: blur, sigma: 1 }]")),
    );
    assert!(e.contains("unknown variant `blur`"), "{e}");
}

#[test]
fn weights_that_do_not_fit_or_are_not_the_locked_ones_stop_the_model() {
    let dir = tempfile::tempdir().unwrap();
    // ResNet-18 layout weights of width 3 for a network of width 2.
    let wrong = spec("", AUC).replace("resnet_tiny.pt", "resnet18_w3.safetensors");
    let (code, _, req) = common::run_spec(dir.path(), &wrong);
    assert_eq!(code, 2);
    assert_eq!(req["status"], "error");
    let message = req["findings"][0]["message"].as_str().unwrap().to_string();
    assert_eq!(req["findings"][0]["code"], "model-unavailable");
    assert!(
        message.contains("conv1.weight")
            && message.contains("[2, 1, 7, 7]")
            && message.contains("[3, 3, 7, 7]"),
        "names the tensor with both shapes: {message}"
    );

    // Quoted: 64 digits would be a YAML number.
    let pinned = spec(&format!("    weights_sha256: '{}'\n", "0".repeat(64)), AUC);
    let (code, _, req) = common::run_spec(dir.path(), &pinned);
    assert_eq!(code, 2);
    let message = req["findings"][0]["message"].as_str().unwrap();
    assert!(
        message.contains("this is not the locked model"),
        "{message}"
    );
}

/// A case one of whose files the pipeline cannot prepare is not scored: a finding names the
/// file and the defect, and the other cases are scored as before.
#[test]
fn a_case_with_an_image_that_cannot_be_prepared_is_a_finding_not_a_partial_score() {
    use dicom_core::{DataElement, PrimitiveValue, VR};
    let dir = tempfile::tempdir().unwrap();
    let data = copy_demo_dicom(dir.path());
    // Case C0001's first file now says 17 rows for 16 rows of pixel data.
    let uid = first_case_study_uid();
    let victim = files_by_study(&data)[&uid][0].clone();
    let mut obj = dicom_object::open_file(&victim).unwrap();
    obj.put(DataElement::new(
        dicom_dictionary_std::tags::ROWS,
        VR::US,
        PrimitiveValue::from(17_u16),
    ));
    obj.write_to_file(&victim).unwrap();

    let text = spec("", AUC).replace(
        &root().join("testdata/demo/dicom").display().to_string(),
        &data.display().to_string(),
    );
    let (code, _, req) = common::run_spec(dir.path(), &text);
    assert_eq!(
        code, 2,
        "a missing case is an error under the default policy"
    );
    let f = req["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["code"] == "model-input" && f["subject"] == "case C0001")
        .unwrap_or_else(|| panic!("{req:#}"));
    let message = f["message"].as_str().unwrap();
    let shown = victim.strip_prefix(&data).unwrap().display().to_string();
    assert!(message.contains(&shown), "names the file: {message}");
    assert!(message.contains("not scored"), "{message}");
    let csv = std::fs::read_to_string(dir.path().join("out/models/cnn.csv")).unwrap();
    let got = scores(&csv);
    assert_eq!(
        got.len(),
        196,
        "C0001 and the three cases beside unreadable files"
    );
    assert!(!got.contains_key("C0001"));
}

/// A UNet declared in a spec segments each case's series slice by slice; the label maps it
/// writes are the library's pipeline and forward pass composed by hand here (the sigmoid
/// output at the declared threshold, chosen as the first case's median probability so both
/// labels occur), on the grid the DICOM headers state (read here with dicom-object), so the
/// `segmentation` check reads them like a mask folder: Dice 1 against a reference equal to
/// them, 0 against an empty reference.
#[test]
fn a_unet_in_a_spec_gives_masks_the_segmentation_check_reads() {
    use attest::data::masks::{read_structure, Foreground, Geometry};
    use attest::model::burn::{SegmenterModel, UNetConfig};
    let dir = tempfile::tempdir().unwrap();
    let unet = SegmenterModel::load(
        &UNetConfig {
            in_channels: 1,
            out_channels: 1,
            depth: 1,
            base_channels: 2,
        },
        &root().join("tests/fixtures/burn/unet_d1.safetensors"),
        &KeyMap::identity(),
    )
    .unwrap();
    let volume = PipelineConfig {
        volume: true,
        resample: None,
        ..pipeline_config()
    };
    let by_study = files_by_study(&root().join("testdata/demo/dicom"));
    let table = std::fs::read_to_string(root().join("testdata/demo/cases.csv")).unwrap();
    let refs = dir.path().join("reference");
    let mut expected: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    let mut threshold = None;
    for (n, line) in table.lines().skip(1).take(4).enumerate() {
        let f: Vec<&str> = line.split(',').collect();
        let (id, uid) = (f[0].to_string(), f[6]);
        let files = &by_study[uid];
        // The truth by hand: slices ascending in z, foreground at or above the threshold.
        let v = pipeline::series(files, &volume).unwrap();
        let (z, h, w) = (v.shape[1], v.shape[2], v.shape[3]);
        let probs = unet.predict(&v.data, [z, 1, h, w]).unwrap();
        let t = *threshold.get_or_insert_with(|| {
            let mut all: Vec<f64> = probs.iter().flatten().map(|&p| f64::from(p)).collect();
            all.sort_by(f64::total_cmp);
            all[all.len() / 2]
        });
        let labels: Vec<u8> = probs
            .iter()
            .flatten()
            .map(|&p| u8::from(f64::from(p) >= t))
            .collect();
        assert!(labels.contains(&1) && labels.contains(&0));
        // The grid from the headers: identity orientation, origin the lowest slice's position.
        let mut positions = Vec::new();
        let mut spacing = [0.0; 2];
        for file in files {
            let obj = dicom_object::open_file(file).unwrap();
            let num = |tag| -> Vec<f64> {
                obj.element(tag)
                    .unwrap()
                    .to_multi_float64()
                    .unwrap()
                    .to_vec()
            };
            positions.push(num(dicom_dictionary_std::tags::IMAGE_POSITION_PATIENT));
            let ps = num(dicom_dictionary_std::tags::PIXEL_SPACING);
            spacing = [ps[1], ps[0]];
        }
        positions.sort_by(|a, b| a[2].total_cmp(&b[2]));
        let step = positions[1][2] - positions[0][2];
        let grid = Geometry {
            origin: [positions[0][0], positions[0][1], positions[0][2]],
            axes: Geometry::AXIAL.axes,
        };
        // Cases 1 and 2: the reference is the expected map; 3 and 4: empty.
        let reference = if n < 2 {
            labels.clone()
        } else {
            vec![0; labels.len()]
        };
        attest::synth::write_label_nifti(
            &refs.join(format!("{id}.nii.gz")),
            [w, h, z],
            [spacing[0], spacing[1], step],
            &grid,
            &reference,
        )
        .unwrap();
        expected.insert(id, labels);
    }

    let r = root();
    let text = format!(
        "attest: 1\nid: s\nversion: '1'\ntitle: S\n\
         data:\n  images: {{ dicom: {dicom} }}\n  cases: {{ table: {cases} }}\n  reference: {{ masks: reference, structures: {{ nodule: 1 }} }}\n\
         models:\n  seg:\n    architecture: {{ unet: {{ in_channels: 1, out_channels: 1, depth: 1, base_channels: 2 }} }}\n\
         \x20   weights: {weights}\n\
         \x20   pipeline: {{ window: {{ center: -600, width: 1500 }}, volume: true }}\n\
         \x20   output: {{ threshold: {threshold:?}, structures: {{ nodule: 1 }} }}\n\
         \x20   cases: cases\n    images: images\n    image_column: study_instance_uid\n\
         requirements:\n  - id: DICE\n    title: D\n    check: segmentation\n    model: seg\n    truth: reference\n    structure: nodule\n    metric: dice\n    pass: ci_low >= 0.0\n",
        dicom = r.join("testdata/demo/dicom").display(),
        cases = r.join("testdata/demo/cases.csv").display(),
        weights = r.join("tests/fixtures/burn/unet_d1.safetensors").display(),
        threshold = threshold.unwrap(),
    );
    let (_, _, req) = common::run_spec(dir.path(), &text);
    let per_case: BTreeMap<String, f64> = req["measurements"][0]["per_case"]
        .as_array()
        .unwrap_or_else(|| panic!("{req:#}"))
        .iter()
        .map(|c| {
            (
                c["case"].as_str().unwrap().to_string(),
                c["value"].as_f64().unwrap(),
            )
        })
        .collect();
    let ids: Vec<&String> = expected.keys().collect();
    assert_eq!(per_case[ids[0]], 1.0);
    assert_eq!(per_case[ids[1]], 1.0);
    assert_eq!(
        per_case[ids[2]], 0.0,
        "an empty reference against a predicted structure"
    );
    assert_eq!(per_case[ids[3]], 0.0);

    // The written masks: the expected labels, hashed in SHA256SUMS and the report.
    let report: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("out/report.json")).unwrap())
            .unwrap();
    let m = &report["models"][0];
    assert_eq!(m["network"]["architecture"]["unet"]["depth"], 1);
    let failed: Vec<String> = req["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["code"] != "unknown-case")
        .map(|f| format!("{} {} {}", f["code"], f["subject"], f["message"]))
        .collect();
    // The demo's one instance without Pixel Spacing (testdata/demo/DEFECTS.md) keeps its
    // series from being assembled: that case has no mask, and says why.
    assert_eq!(m["scored"], 196, "{failed:#?}");
    assert!(
        failed.iter().any(|f| f.contains("model-input")
            && f.contains("series-not-assembled")
            && f.contains("Pixel Spacing (0028,0030) is missing")),
        "{failed:#?}"
    );
    let sums = std::fs::read_to_string(dir.path().join("out/models/seg/SHA256SUMS")).unwrap();
    for (id, labels) in &expected {
        let path = dir.path().join(format!("out/models/seg/{id}.nii.gz"));
        let bytes = std::fs::read(&path).unwrap();
        assert!(sums.contains(&format!(
            "{}  {id}.nii.gz",
            hex::encode(Sha256::digest(&bytes))
        )));
        let got = read_structure(&path, Foreground::Label(1)).unwrap();
        let want: Vec<bool> = labels.iter().map(|&l| l == 1).collect();
        assert_eq!(got.voxels, want, "{id}");
    }
}

/// A UNet's declaration is checked against what a segmenter is: it assembles series, its
/// output has no class or aggregate (and a threshold only with one sigmoid output), its
/// structures are labels it can give, and repeatability and robustness (which compare case
/// scores) do not take it.
#[test]
fn unet_mistakes_are_spec_errors() {
    let dir = tempfile::tempdir().unwrap();
    let r = root();
    let text = |arch: &str, pipeline: &str, output: &str, requirement: &str| {
        format!(
            "attest: 1\nid: s\nversion: '1'\ntitle: S\n\
             data:\n  images: {{ dicom: {dicom} }}\n  cases: {{ table: {cases} }}\n  reference: {{ masks: {refs} }}\n\
             models:\n  seg:\n    architecture: {{ unet: {{ {arch} }} }}\n    weights: {weights}\n\
             \x20   pipeline: {pipeline}\n    output: {output}\n\
             \x20   cases: cases\n    images: images\n    image_column: study_instance_uid\n\
             requirements:\n{requirement}",
            dicom = r.join("testdata/demo/dicom").display(),
            cases = r.join("testdata/demo/cases.csv").display(),
            refs = r.join("testdata/segmentation/reference").display(),
            weights = r.join("tests/fixtures/burn/unet_d2b4.safetensors").display(),
        )
    };
    let arch = "in_channels: 1, out_channels: 2, depth: 2, base_channels: 4";
    let seg = "  - id: D\n    title: D\n    check: segmentation\n    model: seg\n    truth: reference\n    metric: dice\n    pass: ci_low >= 0.5\n";
    let e = lint(dir.path(), &text(arch, "{ }", "{ }", seg));
    assert!(e.contains("the pipeline must assemble it"), "{e}");
    let e = lint(
        dir.path(),
        &text(arch, "{ volume: true }", "{ class: 1 }", seg),
    );
    assert!(e.contains("`output.class` applies to classifiers"), "{e}");
    let e = lint(
        dir.path(),
        &text(arch, "{ volume: true }", "{ threshold: 0.3 }", seg),
    );
    assert!(
        e.contains("`threshold` applies to one sigmoid output"),
        "{e}"
    );
    let e = lint(
        dir.path(),
        &text(
            arch,
            "{ volume: true }",
            "{ structures: { lesion: 2 } }",
            seg,
        ),
    );
    assert!(
        e.contains("the network's labels are 0 (background) to 1"),
        "{e}"
    );
    let e = lint(
        dir.path(),
        &text(
            arch.replace("out_channels: 2", "out_channels: 0").as_str(),
            "{ volume: true }",
            "{ }",
            seg,
        ),
    );
    assert!(
        e.contains("architecture.unet.out_channels must be at least 1"),
        "{e}"
    );
    let rep = "  - id: R\n    title: R\n    check: model.repeatability\n    model: seg\n";
    let e = lint(dir.path(), &text(arch, "{ volume: true }", "{ }", rep));
    assert!(e.contains("`seg` is not a model attest runs"), "{e}");
    let auc = "  - id: A\n    title: A\n    check: classification\n    model: seg\n    truth: cases\n    metric: auc\n    pass: ci_low >= 0.5\n";
    let e = lint(dir.path(), &text(arch, "{ volume: true }", "{ }", auc));
    assert!(e.contains("`seg` is not"), "{e}");
}

/// With the deprecated ndarray backend compiled in (`cargo test --features ndarray`), the
/// network's scores rerun on ndarray agree with flex's within 1e-5 (different summation
/// orders: not bit for bit).
#[cfg(feature = "ndarray")]
#[test]
fn scores_agree_across_cpu_backends_within_a_stated_tolerance() {
    let dir = tempfile::tempdir().unwrap();
    let reqs = "  - id: X\n    title: X\n    check: model.repeatability\n    model: cnn\n    cases: 30\n    backend: ndarray\n    tolerance: 1e-5\n";
    let (code, _, req) = common::run_spec(dir.path(), &spec("", reqs));
    assert_eq!(code, 0, "{req:#}");
    assert_eq!(req["measurements"][0]["n"], 30);
}

/// What the review of the model runner found, each now held by a test:
/// a robustness drop whose DeLong variance is zero (both runs separate the classes) has no
/// interval and cannot pass; two repeatability requirements with different samples each
/// compare their own; a segmentation network that cannot load says why in the segmentation
/// requirement; a case id that cannot name a file gets no mask file and a finding.
#[test]
fn review_findings_hold() {
    let r = root();
    let dir = tempfile::tempdir().unwrap();
    // The demo network separates every case it scores (AUC 1); contrast 0.999 leaves that so.
    let demo = std::fs::read_to_string(r.join("specs/demo.yaml")).unwrap();
    let models = &demo[demo.find("models:").unwrap()..demo.find("requirements:").unwrap()];
    let text = format!(
        "attest: 1\nid: v\nversion: '1'\ntitle: V\ndata:\n  images: {{ dicom: {} }}\n  cases: {{ table: {} }}\n{}requirements:\n\
         \x20 - id: ROB\n    title: R\n    check: model.robustness\n    model: cnn\n    truth: cases\n    perturbations: [{{ kind: contrast, factor: 0.999 }}]\n    pass: ci_high <= 0.05\n\
         \x20 - id: R3\n    title: R\n    check: model.repeatability\n    model: cnn\n    cases: 3\n\
         \x20 - id: R7\n    title: R\n    check: model.repeatability\n    model: cnn\n    cases: 7\n",
        r.join("testdata/demo/dicom").display(),
        r.join("testdata/demo/cases.csv").display(),
        models.replace("../", &format!("{}/", r.display())),
    );
    let (_, _, rob) = common::run_spec(dir.path(), &text);
    let m = &rob["measurements"][0];
    assert_eq!(m["estimate"], 0.0, "{rob:#}");
    assert!(m["ci_low"].is_null() && m["ci_high"].is_null(), "{m}");
    assert_eq!(rob["status"], "inconclusive");
    assert!(common::findings(&rob)
        .iter()
        .any(|f| f.starts_with("zero-variance")));
    let report: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("out/report.json")).unwrap())
            .unwrap();
    assert_eq!(report["requirements"][1]["measurements"][0]["n"], 3);
    assert_eq!(report["requirements"][2]["measurements"][0]["n"], 7);

    // A UNet whose weights are not the pinned ones: the segmentation requirement says so.
    let seg = |pin: &str, cases: &Path| {
        format!(
            "attest: 1\nid: s\nversion: '1'\ntitle: S\n\
             data:\n  images: {{ dicom: {dicom} }}\n  cases: {{ table: {cases} }}\n  reference: {{ masks: {refs} }}\n\
             models:\n  seg:\n    architecture: {{ unet: {{ in_channels: 1, out_channels: 1, depth: 1, base_channels: 2 }} }}\n\
             \x20   weights: {weights}\n{pin}\
             \x20   pipeline: {{ window: {{ center: -600, width: 1500 }}, volume: true }}\n\
             \x20   cases: cases\n    images: images\n    image_column: study_instance_uid\n\
             requirements:\n  - id: D\n    title: D\n    check: segmentation\n    model: seg\n    truth: reference\n    metric: dice\n    pass: ci_low >= 0.0\n",
            dicom = r.join("testdata/demo/dicom").display(),
            cases = cases.display(),
            refs = r.join("testdata/segmentation/reference").display(),
            weights = r.join("tests/fixtures/burn/unet_d1.safetensors").display(),
        )
    };
    let demo_cases = r.join("testdata/demo/cases.csv");
    let pinned = seg(
        &format!("    weights_sha256: '{}'\n", "1".repeat(64)),
        &demo_cases,
    );
    let (code, _, req) = common::run_spec(dir.path(), &pinned);
    assert_eq!(code, 2);
    let text = req.to_string();
    assert!(text.contains("this is not the locked model"), "{req:#}");

    // A case id with a path separator, and two differing only in letter case.
    let table = std::fs::read_to_string(&demo_cases).unwrap();
    let mut lines: Vec<String> = table.lines().map(str::to_string).collect();
    lines[1] = lines[1].replacen("C0001", "../escape", 1);
    lines[2] = lines[2].replacen("C0002", "c0003", 1);
    let odd = dir.path().join("odd.csv");
    std::fs::write(&odd, lines.join("\n") + "\n").unwrap();
    let (_, _, req) = common::run_spec(dir.path(), &seg("", &odd));
    let found = common::findings(&req);
    assert!(
        found.contains(&"model-output case ../escape".to_string()),
        "{found:?}"
    );
    assert!(
        found
            .iter()
            .filter(|f| f.starts_with("model-output case c0003")
                || f.starts_with("model-output case C0003"))
            .count()
            == 1,
        "{found:?}"
    );
    assert!(!dir.path().join("out/models/escape.nii.gz").exists());
    assert!(!dir.path().join("out/escape.nii.gz").exists());
}

/// The demo's DICOM folder copied to `dir/dicom`, to be changed by a test.
fn copy_demo_dicom(dir: &Path) -> PathBuf {
    let from = root().join("testdata/demo/dicom");
    let data = dir.join("dicom");
    for e in walkdir::WalkDir::new(&from) {
        let e = e.unwrap();
        let to = data.join(e.path().strip_prefix(&from).unwrap());
        if e.file_type().is_dir() {
            std::fs::create_dir_all(&to).unwrap();
        } else {
            std::fs::copy(e.path(), &to).unwrap();
        }
    }
    data
}

/// A DICOM Segmentation object in a case's study (modality SEG, 1-bit frames) is not an image
/// for a network: it stays out of the case, whose score is what it is without it.
#[test]
fn objects_without_images_stay_out_of_a_networks_cases() {
    use attest::data::masks::Geometry;
    use attest::synth::{write_seg, SegInstance, SegSegment};
    let dir = tempfile::tempdir().unwrap();
    let clean = tempfile::tempdir().unwrap();
    common::run_spec(clean.path(), &spec("", AUC));
    let before = scores(&std::fs::read_to_string(clean.path().join("out/models/cnn.csv")).unwrap());

    let data = copy_demo_dicom(dir.path());
    let uid = first_case_study_uid();
    let folder = files_by_study(&data)[&uid][0]
        .parent()
        .unwrap()
        .to_path_buf();
    let mut seg = SegInstance::new(
        7,
        "extra",
        [16, 16, 2],
        [0.7, 0.7, 1.0],
        Geometry::AXIAL,
        vec![SegSegment {
            number: 1,
            label: "lesion".to_string(),
            category: attest::synth::ANATOMICAL_STRUCTURE,
            kind: attest::synth::LIVER,
            voxels: (0..512).map(|i| i % 5 == 0).collect(),
        }],
    );
    seg.study_instance_uid = uid.clone();
    write_seg(&seg, &folder.join("seg.dcm")).unwrap();
    assert!(files_by_study(&data)[&uid]
        .iter()
        .any(|f| f.ends_with("seg.dcm")));

    let text = spec("", AUC).replace(
        &root().join("testdata/demo/dicom").display().to_string(),
        &data.display().to_string(),
    );
    common::run_spec(dir.path(), &text);
    let after = scores(&std::fs::read_to_string(dir.path().join("out/models/cnn.csv")).unwrap());
    assert_eq!(after.len(), before.len());
    assert_eq!(after["C0001"].to_bits(), before["C0001"].to_bits());
}

/// The StudyInstanceUID of the demo's first case (C0001), from its case table.
fn first_case_study_uid() -> String {
    let table = std::fs::read_to_string(root().join("testdata/demo/cases.csv")).unwrap();
    let mut lines = table.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let col = header
        .iter()
        .position(|c| *c == "study_instance_uid")
        .unwrap();
    lines
        .next()
        .unwrap()
        .split(',')
        .nth(col)
        .unwrap()
        .to_string()
}
