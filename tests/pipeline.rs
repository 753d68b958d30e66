//! The image pipeline (`model::pipeline`) against an independent implementation, and on bad
//! input.
//!
//! `tests/fixtures/pipeline/*.dcm` are written by the project's generator
//! (`gen_testdata pipeline`, checked here to regenerate byte for byte); `expected.json` holds
//! what pydicom 3.0.2 (modality LUT, LINEAR window), numpy 2.4.6 and torch 2.15.0
//! (`F.interpolate`, bilinear, `align_corners=False`) compute for each case
//! (`tests/fixtures/pipeline/gen.py`). Tolerance: `|actual − expected| <= 1e-6 · max(1,
//! |expected|)`, the f32 rounding of the output (relative 6e-8) plus the 10 significant digits
//! of the file, with margin. Every bad input gives its typed error, never a panic.

use std::path::{Path, PathBuf};

use attest::model::pipeline::{
    batch, image, series, PipelineConfig, PipelineError, Prepared, SeriesFinding,
};
use attest::synth::{
    encode, write_ct, write_empty, write_not_dicom, write_pipeline_fixtures, write_truncated,
    CtInstance, IMPLEMENTATION_CLASS_UID,
};
use dicom_core::value::{DataSetSequence, PixelFragmentSequence, PrimitiveValue};
use dicom_core::{DataElement, VR};
use dicom_dictionary_std::tags;
use dicom_object::{FileDicomObject, FileMetaTableBuilder, InMemDicomObject};
use serde_json::Value;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/pipeline")
}

fn cfg(json: &str) -> PipelineConfig {
    serde_json::from_str(json).unwrap()
}

fn close(actual: f64, expected: f64) -> bool {
    (actual - expected).abs() <= 1e-6 * expected.abs().max(1.0)
}

fn expected_cases() -> Vec<Value> {
    let text = std::fs::read_to_string(fixtures().join("expected.json")).unwrap();
    let v: Value = serde_json::from_str(&text).unwrap();
    v["cases"].as_array().unwrap().clone()
}

fn relative(p: &Path) -> String {
    p.strip_prefix(fixtures())
        .unwrap()
        .to_string_lossy()
        .replace('\\', "/")
}

fn check_case(case: &Value, got: &Result<Prepared, PipelineError>) {
    let name = case["name"].as_str().unwrap();
    if let Some(err) = case.get("error") {
        let Err(PipelineError::Series { findings, .. }) = got else {
            panic!("{name}: expected a series error, got {got:?}");
        };
        assert_eq!(err["code"], "series-not-assembled");
        let want = err["findings"].as_array().unwrap();
        assert_eq!(findings.len(), want.len(), "{name}: {findings:?}");
        for (f, w) in findings.iter().zip(want) {
            assert_eq!(f.code(), w["code"], "{name}");
            let SeriesFinding::Gap { previous, path, .. } = f else {
                panic!("{name}: {f:?}");
            };
            assert_eq!(relative(previous), w["previous"], "{name}");
            assert_eq!(relative(path), w["path"], "{name}");
        }
        return;
    }
    let p = got
        .as_ref()
        .unwrap_or_else(|e| panic!("{name}: {e} ({})", e.code()));
    let shape: Vec<usize> = serde_json::from_value(case["shape"].clone()).unwrap();
    assert_eq!(p.shape, shape, "{name}");
    let spacing: Vec<f64> = serde_json::from_value(case["spacing_mm"].clone()).unwrap();
    let got_spacing = p.spacing_mm.as_ref().expect("spacing");
    assert_eq!(got_spacing.len(), spacing.len(), "{name}");
    for (a, e) in got_spacing.iter().zip(&spacing) {
        assert!(
            (a - e).abs() <= 1e-9 * e.abs(),
            "{name}: spacing {a} vs {e}"
        );
    }
    let files: Vec<String> = p.source_files.iter().map(|f| relative(f)).collect();
    assert_eq!(
        files,
        case["source_files"].as_array().unwrap().clone(),
        "{name}"
    );
    let data = case["data"].as_array().unwrap();
    assert_eq!(p.data.len(), data.len(), "{name}");
    let mut worst = 0.0f64;
    for (i, (a, e)) in p.data.iter().zip(data).enumerate() {
        let e = e.as_f64().unwrap();
        let a = f64::from(*a);
        assert!(
            close(a, e),
            "{name}[{i}]: {a} vs {e} (pydicom/torch, gen.py)"
        );
        worst = worst.max((a - e).abs() / e.abs().max(1.0));
    }
    eprintln!(
        "{name}: {} values, worst scaled error {worst:.1e}",
        data.len()
    );
}

#[test]
fn every_case_matches_pydicom_and_torch() {
    let cases = expected_cases();
    assert_eq!(cases.len(), 13);
    for case in &cases {
        let config: PipelineConfig = serde_json::from_value(case["config"].clone()).unwrap();
        assert!(config.validate().is_empty());
        let input = fixtures().join(case["input"].as_str().unwrap());
        check_case(case, &image(&input, &config));
    }
}

#[test]
fn batch_keeps_the_input_order_and_equals_one_at_a_time() {
    let config = cfg(r#"{"window": {"center": 40, "width": 400}, "resample": {"size": [8, 8]}}"#);
    let inputs: Vec<PathBuf> = [
        "mono2.dcm",
        "signed.dcm",
        "missing.dcm",
        "mono1.dcm",
        "mono2.dcm",
    ]
    .iter()
    .map(|n| fixtures().join(n))
    .collect();
    let out = batch(&inputs, &config);
    assert_eq!(out.len(), 5);
    for (input, got) in inputs.iter().zip(&out) {
        match (got, image(input, &config)) {
            (Ok(a), Ok(b)) => assert_eq!(a, &b),
            (Err(a), Err(b)) => assert_eq!(a.to_string(), b.to_string()),
            (a, b) => panic!("{a:?} vs {b:?}"),
        }
    }
    assert_eq!(out[2].as_ref().unwrap_err().code(), "unreadable-dicom");
    assert_eq!(out[0].as_ref().unwrap(), out[4].as_ref().unwrap());
    // Volumes in a batch: one folder per input.
    let volumes = batch(
        &[fixtures().join("series"), fixtures().join("gap")],
        &cfg(r#"{"volume": true}"#),
    );
    assert_eq!(volumes[0].as_ref().unwrap().shape, vec![1, 5, 10, 12]);
    assert_eq!(
        volumes[1].as_ref().unwrap_err().code(),
        "series-not-assembled"
    );
}

#[test]
fn series_of_shuffled_paths_equals_the_folder() {
    let config = cfg(r#"{"volume": true}"#);
    let folder = image(&fixtures().join("series"), &config).unwrap();
    let mut paths: Vec<PathBuf> = ["e", "c", "a", "d", "b"]
        .iter()
        .map(|n| fixtures().join(format!("series/{n}.dcm")))
        .collect();
    let listed = series(&paths, &config).unwrap();
    assert_eq!(listed, folder);
    paths.reverse();
    assert_eq!(series(&paths, &config).unwrap(), folder);
}

#[test]
fn fixtures_regenerate_byte_for_byte() {
    let dir = tempfile::tempdir().unwrap();
    let written = write_pipeline_fixtures(dir.path()).unwrap();
    assert_eq!(written.len(), 13);
    let mut total = 0;
    for rel in &written {
        let fresh = std::fs::read(dir.path().join(rel)).unwrap();
        let committed = std::fs::read(fixtures().join(rel)).unwrap();
        assert!(fresh == committed, "{} differs", rel.display());
        total += committed.len();
    }
    total += std::fs::metadata(fixtures().join("expected.json"))
        .unwrap()
        .len() as usize;
    assert!(total < 200_000, "{total} bytes of fixtures");
}

// ---------------------------------------------------------------------------------------------
// Configuration
// ---------------------------------------------------------------------------------------------

#[test]
fn yaml_and_json_spellings_hash_alike() {
    let yaml = "window: { center: -600, width: 1500 }\nresample: { size: [256, 256] }\n\
                channels: 3\nnormalise: { mean: 0.5, std: [0.25] }\n";
    let a: PipelineConfig = serde_saphyr::from_str(yaml).unwrap();
    let b = cfg(
        r#"{"normalise": {"std": 0.25, "mean": [0.5]}, "channels": 3,
                   "resample": {"size": [256, 256]}, "window": {"width": 1500.0, "center": -600.0}}"#,
    );
    assert_eq!(a, b);
    assert_eq!(a.canonical_json(), b.canonical_json());
    assert_eq!(a.sha256(), b.sha256());
    assert_eq!(
        a.canonical_json(),
        r#"{"channels":3,"frame":0,"normalise":{"mean":[0.5],"std":[0.25]},"pipeline_version":1,"resample":{"size":[256,256],"spacing_mm":null},"volume":false,"window":{"center":-600.0,"from_file":false,"width":1500.0}}"#
    );
    // Golden: a change to the canonical form changes every manifest, so it must be deliberate.
    assert_eq!(
        PipelineConfig::default().canonical_json(),
        r#"{"channels":1,"frame":0,"normalise":null,"pipeline_version":1,"resample":null,"volume":false,"window":null}"#
    );
    assert_eq!(
        PipelineConfig::default().sha256(),
        sha256_hex(PipelineConfig::default().canonical_json().as_bytes())
    );
    assert_eq!(cfg("{}"), PipelineConfig::default());
    // A different pipeline hashes differently.
    assert_ne!(
        cfg(r#"{"channels": 3}"#).sha256(),
        PipelineConfig::default().sha256()
    );
    let zero = cfg(r#"{"window": {"center": -0.0, "width": 1}}"#);
    assert!(zero.canonical_json().contains(r#""center":0.0"#));
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(Sha256::digest(bytes))
}

#[test]
fn unknown_keys_are_rejected() {
    for text in [
        r#"{"windw": {"center": 1, "width": 2}}"#,
        r#"{"window": {"center": 1, "width": 2, "function": "SIGMOID"}}"#,
        r#"{"resample": {"size": [2, 2], "mode": "nearest"}}"#,
        r#"{"normalise": {"mean": 0, "std": 1, "eps": 0}}"#,
    ] {
        let e = serde_json::from_str::<PipelineConfig>(text).unwrap_err();
        assert!(e.to_string().contains("unknown field"), "{text}: {e}");
    }
    assert!(serde_saphyr::from_str::<PipelineConfig>("volume: true\nspacing: 1\n").is_err());
}

#[test]
fn every_configuration_problem_is_reported_at_once() {
    let bad = cfg(r#"{"window": {"center": 40, "width": 0.5},
                      "resample": {"size": [0, 4], "spacing_mm": [1, 1]},
                      "channels": 2,
                      "normalise": {"mean": [0, 0, 0, 0], "std": [1, 0, 1]},
                      "volume": true, "frame": 2}"#);
    let fields: Vec<&str> = bad.validate().iter().map(|p| p.field).collect();
    assert_eq!(
        fields,
        [
            "window.width",
            "resample",
            "channels",
            "normalise.mean",
            "normalise.std",
            "normalise.std",
            "frame"
        ]
    );
    let e = image(&fixtures().join("mono2.dcm"), &bad).unwrap_err();
    assert_eq!(e.code(), "invalid-pipeline");
    assert!(
        e.to_string().contains("`channels`: 2: must be 1 or 3"),
        "{e}"
    );
    for (text, field) in [
        (r#"{"window": {"center": 40}}"#, "window.width"),
        (
            r#"{"window": {"from_file": true, "width": 3}}"#,
            "window.from_file",
        ),
        (r#"{"resample": {}}"#, "resample"),
        (
            r#"{"resample": {"spacing_mm": [0, 1]}}"#,
            "resample.spacing_mm",
        ),
        (r#"{"resample": {"size": [16385, 1]}}"#, "resample.size"),
    ] {
        let problems = cfg(text).validate();
        assert_eq!(problems.len(), 1, "{text}: {problems:?}");
        assert_eq!(problems[0].field, field, "{text}");
    }
}

// ---------------------------------------------------------------------------------------------
// Bad input: one typed error each, never a panic
// ---------------------------------------------------------------------------------------------

fn write_obj(dir: &Path, name: &str, obj: &FileDicomObject<InMemDicomObject>) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, encode(obj).unwrap()).unwrap();
    path
}

fn edited(
    name: &str,
    dir: &Path,
    edit: impl FnOnce(&mut FileDicomObject<InMemDicomObject>),
) -> PathBuf {
    let mut obj = CtInstance::new(9, name).to_object().unwrap();
    edit(&mut obj);
    write_obj(dir, &format!("{name}.dcm"), &obj)
}

fn error_of(path: &Path, config: &PipelineConfig) -> PipelineError {
    image(path, config).expect_err("an error")
}

/// An object whose pixel data are encapsulated in `transfer_syntax`, one fragment of `fragment`.
fn encapsulated(transfer_syntax: &str, fragment: Vec<u8>) -> FileDicomObject<InMemDicomObject> {
    let obj = CtInstance::new(9, "encapsulated").to_object().unwrap();
    let mut data = obj.into_inner();
    data.put(DataElement::new(
        tags::PIXEL_DATA,
        VR::OB,
        PixelFragmentSequence::new(Vec::<u32>::new(), vec![fragment]),
    ));
    with_transfer_syntax(data, transfer_syntax)
}

/// The data set with a fresh file meta group naming `transfer_syntax` (the group length
/// recomputed).
fn with_transfer_syntax(
    data: InMemDicomObject,
    transfer_syntax: &str,
) -> FileDicomObject<InMemDicomObject> {
    data.with_meta(
        FileMetaTableBuilder::new()
            .transfer_syntax(transfer_syntax)
            .implementation_class_uid(IMPLEMENTATION_CLASS_UID),
    )
    .unwrap()
}

#[test]
fn unreadable_files_are_typed_errors() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let plain = PipelineConfig::default();
    let truncated = d.join("truncated.dcm");
    write_truncated(&CtInstance::default(), &truncated).unwrap();
    let text = d.join("notes.dcm");
    write_not_dicom(&text).unwrap();
    let empty = d.join("empty.dcm");
    write_empty(&empty).unwrap();
    for path in [truncated, text, empty, d.join("absent.dcm")] {
        let e = error_of(&path, &plain);
        assert_eq!(e.code(), "unreadable-dicom", "{e}");
        assert_eq!(e.path(), Some(path.as_path()));
        assert!(e.to_string().contains(&path.display().to_string()), "{e}");
    }
}

#[test]
fn missing_or_impossible_pixel_attributes() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let plain = PipelineConfig::default();
    let cases: Vec<(&str, PathBuf)> = vec![
        (
            "no-pixel-data",
            edited("no-pixels", d, |o| {
                o.remove_element(tags::PIXEL_DATA);
            }),
        ),
        (
            "invalid-attribute",
            write_obj(
                d,
                "rows0.dcm",
                &CtInstance {
                    rows: 0,
                    ..CtInstance::new(9, "rows0")
                }
                .to_object()
                .unwrap(),
            ),
        ),
        (
            "invalid-attribute",
            edited("columns0", d, |o| {
                o.put(DataElement::new(
                    tags::COLUMNS,
                    VR::US,
                    PrimitiveValue::from(0u16),
                ));
            }),
        ),
        (
            "missing-attribute",
            edited("no-bits-stored", d, |o| {
                o.remove_element(tags::BITS_STORED);
            }),
        ),
        (
            "invalid-attribute",
            edited("high-bit", d, |o| {
                o.put(DataElement::new(
                    tags::HIGH_BIT,
                    VR::US,
                    PrimitiveValue::from(16u16),
                ));
            }),
        ),
        (
            "invalid-attribute",
            edited("slope0", d, |o| {
                o.put(DataElement::new(
                    tags::RESCALE_SLOPE,
                    VR::DS,
                    PrimitiveValue::from("0"),
                ));
            }),
        ),
        (
            "unsupported-image",
            edited("rgb", d, |o| {
                o.put(DataElement::new(
                    tags::PHOTOMETRIC_INTERPRETATION,
                    VR::CS,
                    PrimitiveValue::from("RGB"),
                ));
                o.put(DataElement::new(
                    tags::SAMPLES_PER_PIXEL,
                    VR::US,
                    PrimitiveValue::from(3u16),
                ));
            }),
        ),
        (
            "unsupported-image",
            edited("one-bit", d, |o| {
                o.put(DataElement::new(
                    tags::BITS_ALLOCATED,
                    VR::US,
                    PrimitiveValue::from(1u16),
                ));
            }),
        ),
        (
            "unsupported-image",
            edited("modality-lut", d, |o| {
                o.put(DataElement::new(
                    tags::MODALITY_LUT_SEQUENCE,
                    VR::SQ,
                    DataSetSequence::from(vec![InMemDicomObject::new_empty()]),
                ));
            }),
        ),
        (
            // Pixel Data shorter than Rows × Columns.
            "undecodable-pixel-data",
            edited("short", d, |o| {
                o.put(DataElement::new(
                    tags::PIXEL_DATA,
                    VR::OW,
                    PrimitiveValue::U16(vec![7u16; 10].into()),
                ));
            }),
        ),
    ];
    for (code, path) in &cases {
        let e = error_of(path, &plain);
        assert_eq!(e.code(), *code, "{}: {e}", path.display());
        assert!(e.to_string().contains(&path.display().to_string()), "{e}");
    }
}

#[test]
fn transfer_syntaxes_that_cannot_be_decoded_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let plain = PipelineConfig::default();
    // JPEG 2000 Lossless: known to dicom-rs, no decoder in this build.
    let j2k = write_obj(
        d,
        "j2k.dcm",
        &encapsulated("1.2.840.10008.1.2.4.90", vec![0xFF, 0x4F, 0xFF, 0x51]),
    );
    let e = error_of(&j2k, &plain);
    assert_eq!(e.code(), "unsupported-transfer-syntax", "{e}");
    assert!(e.to_string().contains("1.2.840.10008.1.2.4.90"), "{e}");
    assert!(e.to_string().contains("JPEG 2000"), "{e}");
    // A UID no registry knows: the data set cannot even be parsed, and the error says why.
    // dicom-object refuses to write an unknown transfer syntax, so the UID is patched into the
    // bytes (same length, so the group length holds).
    let mut bytes = encode(&CtInstance::new(9, "unknown-ts").to_object().unwrap()).unwrap();
    let (from, to) = (b"1.2.840.10008.1.2.1\0", b"1.2.826.0.1.3680043");
    let at = bytes.windows(from.len()).position(|w| w == from).unwrap();
    bytes[at..at + to.len()].copy_from_slice(to);
    let unknown = d.join("unknown.dcm");
    std::fs::write(&unknown, bytes).unwrap();
    let e = error_of(&unknown, &plain);
    assert_eq!(e.code(), "unsupported-transfer-syntax", "{e}");
    assert!(
        e.to_string().contains("1.2.826.0.1.3680043 (unknown"),
        "{e}"
    );
    // JPEG Baseline with a fragment that is not a JPEG stream: the decoder fails.
    let jpeg = write_obj(
        d,
        "jpeg.dcm",
        &encapsulated("1.2.840.10008.1.2.4.50", vec![0xFF, 0xD8, 0x00, 0x13, 0x37]),
    );
    let e = error_of(&jpeg, &plain);
    assert_eq!(e.code(), "undecodable-pixel-data", "{e}");
    assert!(e.to_string().contains("1.2.840.10008.1.2.4.50"), "{e}");
}

#[test]
fn frames_windows_and_spacing_the_file_lacks() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let mono2 = fixtures().join("mono2.dcm");
    let e = error_of(&mono2, &cfg(r#"{"frame": 1}"#));
    assert_eq!(e.code(), "frame-out-of-range");
    assert!(
        e.to_string()
            .contains("frame 1 requested, the file holds 1"),
        "{e}"
    );
    let no_window = edited("no-window", d, |o| {
        o.remove_element(tags::WINDOW_WIDTH);
    });
    let from_file = cfg(r#"{"window": {"from_file": true}}"#);
    assert_eq!(error_of(&no_window, &from_file).code(), "no-window");
    let narrow = edited("narrow", d, |o| {
        o.put(DataElement::new(
            tags::WINDOW_WIDTH,
            VR::DS,
            PrimitiveValue::from("0.5"),
        ));
    });
    assert_eq!(error_of(&narrow, &from_file).code(), "invalid-attribute");
    let no_spacing = write_obj(
        d,
        "no-spacing.dcm",
        &CtInstance {
            pixel_spacing: None,
            ..CtInstance::new(9, "no-spacing")
        }
        .to_object()
        .unwrap(),
    );
    let by_spacing = cfg(r#"{"resample": {"spacing_mm": [1, 1]}}"#);
    assert_eq!(
        error_of(&no_spacing, &by_spacing).code(),
        "missing-attribute"
    );
    // Without resampling by spacing the image is fine, its spacing unknown.
    let p = image(&no_spacing, &PipelineConfig::default()).unwrap();
    assert_eq!(p.spacing_mm, None);
    // A spacing so fine the output would be enormous.
    let tiny = cfg(r#"{"resample": {"spacing_mm": [0.0001, 0.0001]}}"#);
    assert_eq!(error_of(&mono2, &tiny).code(), "output-too-large");
    // Without Rescale Slope and Intercept the stored values pass unchanged.
    let bare = edited("no-rescale", d, |o| {
        o.remove_element(tags::RESCALE_SLOPE);
        o.remove_element(tags::RESCALE_INTERCEPT);
    });
    let p = image(&bare, &PipelineConfig::default()).unwrap();
    let stored = CtInstance::new(9, "no-rescale").stored_pixels();
    assert!(p.data.iter().zip(&stored).all(|(a, &s)| *a == f32::from(s)));
}

#[test]
fn the_declared_frame_of_a_multi_frame_file_is_read() {
    let dir = tempfile::tempdir().unwrap();
    let first = CtInstance::new(9, "frames");
    let second = CtInstance {
        texture_seed: 77,
        ..first.clone()
    };
    let mut both = first.stored_pixels();
    both.extend(second.stored_pixels());
    let path = edited("frames", dir.path(), |o| {
        o.put(DataElement::new(
            tags::NUMBER_OF_FRAMES,
            VR::IS,
            PrimitiveValue::from("2"),
        ));
        o.put(DataElement::new(
            tags::PIXEL_DATA,
            VR::OW,
            PrimitiveValue::U16(both.into()),
        ));
    });
    let single = |inst: &CtInstance, name: &str| {
        let p = dir.path().join(name);
        write_ct(inst, &p).unwrap();
        image(&p, &PipelineConfig::default()).unwrap().data
    };
    let frame = |n: u32| image(&path, &cfg(&format!(r#"{{"frame": {n}}}"#)));
    assert_eq!(frame(0).unwrap().data, single(&first, "first.dcm"));
    assert_eq!(frame(1).unwrap().data, single(&second, "second.dcm"));
    assert_ne!(frame(0).unwrap().data, frame(1).unwrap().data);
    assert_eq!(frame(2).unwrap_err().code(), "frame-out-of-range");
}

#[test]
fn truncation_at_every_byte_and_flipped_bytes_never_panic() {
    let bytes = std::fs::read(fixtures().join("mono2.dcm")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cut.dcm");
    let plain = PipelineConfig::default();
    let mut ok = 0;
    for len in 0..bytes.len() {
        std::fs::write(&path, &bytes[..len]).unwrap();
        if image(&path, &plain).is_ok() {
            ok += 1;
        }
    }
    // Pixel Data is the last element, so every cut loses part of the file and fails.
    assert_eq!(ok, 0);
    // Seeded single-byte corruptions anywhere in the file: an image or an error, no panic.
    let mut state = 0x2545_F491_4F6C_DD1Du64;
    let windowed = cfg(r#"{"window": {"from_file": true}, "resample": {"size": [5, 7]}}"#);
    for _ in 0..400 {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let mut b = bytes.clone();
        let at = (state % b.len() as u64) as usize;
        b[at] ^= (state >> 32) as u8 | 1;
        std::fs::write(&path, &b).unwrap();
        let _ = image(&path, &windowed);
    }
}

// ---------------------------------------------------------------------------------------------
// Series that cannot be assembled
// ---------------------------------------------------------------------------------------------

/// Four axial slices 2 mm apart, written into `dir/<name>/`, each passed through `edit`.
fn write_series(dir: &Path, name: &str, edit: impl Fn(usize, &mut CtInstance)) -> PathBuf {
    let folder = dir.join(name);
    for k in 0..4 {
        let mut inst = CtInstance {
            sop_instance_uid: format!("2.25.{}", 1000 + k),
            image_position_patient: [-5.6, -5.6, -100.0 + 2.0 * k as f64],
            instance_number: k as u32 + 1,
            texture_seed: k as u64,
            ..CtInstance::new(9, name)
        };
        edit(k, &mut inst);
        write_ct(&inst, &folder.join(format!("{k}.dcm"))).unwrap();
    }
    folder
}

fn findings_of(folder: &Path) -> Vec<(String, String)> {
    match image(folder, &cfg(r#"{"volume": true}"#)) {
        Err(PipelineError::Series { findings, path }) => {
            assert_eq!(path, folder);
            findings
                .iter()
                .map(|f| {
                    let file = f.path().and_then(Path::file_name).unwrap();
                    (f.code().to_string(), file.to_string_lossy().into_owned())
                })
                .collect()
        }
        other => panic!("{}: {other:?}", folder.display()),
    }
}

fn pairs(v: &[(&str, &str)]) -> Vec<(String, String)> {
    v.iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

#[test]
fn a_sound_series_assembles_ascending_along_the_normal() {
    let dir = tempfile::tempdir().unwrap();
    // Feet-first order in the files: z descending with the file names.
    let folder = write_series(dir.path(), "sound", |k, i| {
        i.image_position_patient[2] = -100.0 - 2.0 * k as f64;
    });
    let p = image(&folder, &cfg(r#"{"volume": true}"#)).unwrap();
    assert_eq!(p.shape, vec![1, 4, 16, 16]);
    assert_eq!(p.spacing_mm, Some(vec![2.0, 0.7, 0.7]));
    let names: Vec<_> = p
        .source_files
        .iter()
        .map(|f| f.file_name().unwrap().to_owned())
        .collect();
    assert_eq!(names, ["3.dcm", "2.dcm", "1.dcm", "0.dcm"]);
    // A one-slice volume takes Slice Thickness as its step.
    let one = dir.path().join("one");
    write_ct(&CtInstance::new(9, "one"), &one.join("0.dcm")).unwrap();
    let p = image(&one, &cfg(r#"{"volume": true}"#)).unwrap();
    assert_eq!(p.spacing_mm, Some(vec![1.25, 0.7, 0.7]));
}

#[test]
fn each_geometry_defect_is_a_finding() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let tilted = write_series(d, "tilted", |k, i| {
        if k == 2 {
            i.image_orientation_patient = [1.0, 0.0, 0.0, 0.0, 0.995, -0.0998];
        }
    });
    assert_eq!(
        findings_of(&tilted),
        pairs(&[("mixed-orientation", "2.dcm")])
    );
    let sizes = write_series(d, "sizes", |k, i| {
        if k == 1 {
            i.rows = 12;
        }
    });
    assert_eq!(findings_of(&sizes), pairs(&[("mixed-size", "1.dcm")]));
    let spacing = write_series(d, "spacing", |k, i| {
        if k == 3 {
            i.pixel_spacing = Some([0.7, 0.75]);
        }
    });
    assert_eq!(
        findings_of(&spacing),
        pairs(&[("mixed-pixel-spacing", "3.dcm")])
    );
    let duplicate = write_series(d, "duplicate", |k, i| {
        if k == 3 {
            i.image_position_patient[2] = -100.0 + 2.0;
        }
    });
    assert_eq!(
        findings_of(&duplicate),
        pairs(&[("duplicate-position", "3.dcm")])
    );
    let gap = write_series(d, "gap", |k, i| {
        if k == 3 {
            i.image_position_patient[2] = -100.0 + 2.0 * 2.0 + 2.05;
        }
    });
    // 2.05 mm against a median of 2: within 1 % + 0.01 mm is 2.03, so a gap.
    assert_eq!(findings_of(&gap), pairs(&[("slice-gap", "3.dcm")]));
    let within = write_series(d, "within", |k, i| {
        if k == 3 {
            i.image_position_patient[2] = -100.0 + 2.0 * 2.0 + 2.025;
        }
    });
    assert!(image(&within, &cfg(r#"{"volume": true}"#)).is_ok());
    let mixed = write_series(d, "mixed", |k, i| {
        if k == 0 {
            i.series_instance_uid = "2.25.42".into();
        }
    });
    let f = findings_of(&mixed);
    assert_eq!(f.len(), 3, "{f:?}"); // slices 1 to 3 differ from the first file's series
    assert!(f.iter().all(|(code, _)| code == "mixed-series"));
}

#[test]
fn missing_geometry_and_unreadable_slices_are_all_reported() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let folder = write_series(d, "broken", |k, i| {
        if k == 1 {
            i.pixel_spacing = None;
        }
        if k == 2 {
            i.rows = 8;
        }
    });
    // Remove position and orientation from slice 3 and add an unreadable file.
    let mut obj = dicom_object::open_file(folder.join("3.dcm")).unwrap();
    obj.remove_element(tags::IMAGE_POSITION_PATIENT);
    obj.remove_element(tags::IMAGE_ORIENTATION_PATIENT);
    write_obj(&folder, "3.dcm", &obj);
    write_not_dicom(&folder.join("4.txt")).unwrap();
    // Files that do not open come first, then the geometry of the others in path order.
    assert_eq!(
        findings_of(&folder),
        pairs(&[
            ("unreadable-dicom", "4.txt"),
            ("missing-pixel-spacing", "1.dcm"),
            ("mixed-size", "2.dcm"),
            ("missing-position", "3.dcm"),
            ("missing-orientation", "3.dcm"),
        ])
    );
}

#[test]
fn empty_and_multi_frame_series() {
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let e = image(&empty, &cfg(r#"{"volume": true}"#)).unwrap_err();
    assert_eq!(e.code(), "empty-series");
    assert_eq!(
        series(&[], &cfg(r#"{"volume": true}"#)).unwrap_err().code(),
        "empty-series"
    );
    let e = image(&fixtures().join("mono2.dcm"), &cfg(r#"{"volume": true}"#)).unwrap_err();
    assert_eq!(e.code(), "unreadable-dicom", "{e}");
    let folder = write_series(dir.path(), "frames", |_, _| {});
    let mut obj = dicom_object::open_file(folder.join("0.dcm")).unwrap();
    obj.put(DataElement::new(
        tags::NUMBER_OF_FRAMES,
        VR::IS,
        PrimitiveValue::from("2"),
    ));
    write_obj(&folder, "0.dcm", &obj);
    assert_eq!(
        findings_of(&folder),
        pairs(&[("multi-frame-slice", "0.dcm")])
    );
}

/// Perturbations inside the pipeline: an identity perturbation changes nothing, bit for bit;
/// noise without a window is the clean image plus the noise (the modality LUT and everything
/// after it are linear here); a rotation of a windowed image is the rotation of the clean
/// plane; JPEG without a window, and any perturbation of a volume, are errors.
#[test]
fn perturbations_act_at_their_stage() {
    use attest::model::perturb::{rotate, Perturbation};
    use attest::model::pipeline::image_perturbed;
    let file = fixtures().join("mono2.dcm");
    let windowed = cfg(r#"{"window": {"center": 40, "width": 400}}"#);
    let clean = image(&file, &windowed).unwrap();
    let same =
        image_perturbed(&file, &windowed, &Perturbation::Contrast { factor: 1.0 }, 1).unwrap();
    assert_eq!(same, clean);

    let [_, rows, cols] = [clean.shape[0], clean.shape[1], clean.shape[2]];
    let turned = image_perturbed(
        &file,
        &windowed,
        &Perturbation::Rotation { degrees: 7.0 },
        1,
    )
    .unwrap();
    let plane: Vec<f64> = clean.data.iter().map(|&x| f64::from(x)).collect();
    let expected = rotate(&plane, rows, cols, 7.0);
    for (a, b) in turned.data.iter().zip(&expected) {
        assert!((f64::from(*a) - b).abs() < 1e-6, "{a} vs {b}");
    }

    let raw = cfg("{}");
    let base = image(&file, &raw).unwrap();
    let sigma = 30.0;
    let noisy = image_perturbed(&file, &raw, &Perturbation::Noise { sigma }, 42).unwrap();
    let again = image_perturbed(&file, &raw, &Perturbation::Noise { sigma }, 42).unwrap();
    assert_eq!(noisy, again, "seeded");
    let d: Vec<f64> = noisy
        .data
        .iter()
        .zip(&base.data)
        .map(|(a, b)| f64::from(*a) - f64::from(*b))
        .collect();
    let n = d.len() as f64;
    let sd = (d.iter().map(|x| x * x).sum::<f64>() / n).sqrt();
    // n pixels of N(0, σ²): the root mean square is within 5 σ/√(2n) of σ.
    assert!(
        (sd - sigma).abs() < 5.0 * sigma / (2.0 * n).sqrt(),
        "{sd} over {n}"
    );

    let e = image_perturbed(&file, &raw, &Perturbation::Jpeg { quality: 50 }, 1).unwrap_err();
    assert_eq!(e.code(), "perturbation-failed");
    let e = image_perturbed(
        &fixtures().join("series"),
        &cfg(r#"{"volume": true}"#),
        &Perturbation::Noise { sigma },
        1,
    )
    .unwrap_err();
    assert_eq!(e.code(), "perturbation-failed");
}
