//! The burn models (src/model/burn) against an independent truth: the NumPy reference forward
//! passes in tests/fixtures/burn/reference.py (float64, itself checked against PyTorch 2.15
//! there), on seeded weights that the script writes as safetensors and as a PyTorch state
//! dict. Then the strict weights policy on every kind of bad file, and bit-identity across
//! thread counts.
//!
//! Tolerance, one for every comparison with the reference: each float32 output differs from
//! the float64 reference by at most 1e-5 times the largest magnitude of that output (logits
//! or probabilities). burn's float32 rounding is the only source of difference; the observed
//! errors are printed (`cargo test --test burn_models -- --nocapture`) and are below 1e-6.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use attest::model::burn::weights::Mismatch;
use attest::model::burn::{
    ClassifierModel, ConvKernel, InputError, KeyMap, ResNetConfig, SegmenterModel, UNetConfig,
    WeightsError, WeightsFormat,
};
use safetensors::{Dtype, SafeTensors, View};

const REL_TOL: f64 = 1e-5;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/burn")
        .join(name)
}

/// A tensor held in memory, as read from or written to safetensors.
#[derive(Clone)]
struct Owned {
    dtype: Dtype,
    shape: Vec<usize>,
    data: Vec<u8>,
}

impl View for &Owned {
    fn dtype(&self) -> Dtype {
        self.dtype
    }
    fn shape(&self) -> &[usize] {
        &self.shape
    }
    fn data(&self) -> Cow<'_, [u8]> {
        Cow::Borrowed(&self.data)
    }
    fn data_len(&self) -> usize {
        self.data.len()
    }
}

impl Owned {
    fn f32(shape: Vec<usize>, values: &[f32]) -> Owned {
        Owned {
            dtype: Dtype::F32,
            shape,
            data: values.iter().flat_map(|v| v.to_le_bytes()).collect(),
        }
    }

    fn to_f32(&self) -> Vec<f32> {
        assert_eq!(self.dtype, Dtype::F32);
        self.data
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes(b.try_into().unwrap()))
            .collect()
    }

    fn to_f64(&self) -> Vec<f64> {
        assert_eq!(self.dtype, Dtype::F64);
        self.data
            .chunks_exact(8)
            .map(|b| f64::from_le_bytes(b.try_into().unwrap()))
            .collect()
    }
}

fn read_tensors(path: &Path) -> BTreeMap<String, Owned> {
    let bytes = std::fs::read(path).unwrap();
    let st = SafeTensors::deserialize(&bytes).unwrap();
    st.iter()
        .map(|(name, view)| {
            (
                name.to_string(),
                Owned {
                    dtype: view.dtype(),
                    shape: view.shape().to_vec(),
                    data: view.data().to_vec(),
                },
            )
        })
        .collect()
}

fn write_tensors(path: &Path, tensors: &BTreeMap<String, Owned>) {
    let bytes = safetensors::serialize(tensors.iter(), None).unwrap();
    std::fs::write(path, bytes).unwrap();
}

/// The reference input and outputs of one fixture model.
struct Reference {
    input: Vec<f32>,
    shape: [usize; 4],
    logits: Vec<f64>,
    probs: Vec<f64>,
}

fn reference(name: &str) -> Reference {
    let io = read_tensors(&fixture("io.safetensors"));
    let input = &io[&format!("{name}.input")];
    Reference {
        input: input.to_f32(),
        shape: input.shape.clone().try_into().unwrap(),
        logits: io[&format!("{name}.logits")].to_f64(),
        probs: io[&format!("{name}.probs")].to_f64(),
    }
}

/// Asserts the stated tolerance and returns the observed relative error.
fn assert_close(what: &str, actual: &[Vec<f32>], expected: &[f64]) -> f64 {
    let actual: Vec<f32> = actual.concat();
    assert_eq!(actual.len(), expected.len(), "{what}: length");
    let scale = expected.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    let err = actual
        .iter()
        .zip(expected)
        .map(|(a, e)| (f64::from(*a) - e).abs())
        .fold(0.0f64, f64::max)
        / scale;
    println!("{what}: max error / max |reference| = {err:.2e}");
    assert!(
        err <= REL_TOL,
        "{what}: relative error {err:e} > {REL_TOL:e}"
    );
    err
}

fn resnet18_w3() -> ResNetConfig {
    ResNetConfig {
        in_channels: 3,
        num_classes: 3,
        width: 3,
        layers: [2, 2, 2, 2],
    }
}

fn resnet_tiny() -> ResNetConfig {
    ResNetConfig {
        in_channels: 1,
        num_classes: 2,
        width: 2,
        layers: [1, 1, 1, 1],
    }
}

fn unet_d2b4() -> UNetConfig {
    UNetConfig {
        in_channels: 1,
        out_channels: 2,
        depth: 2,
        base_channels: 4,
    }
}

fn unet_d1() -> UNetConfig {
    UNetConfig {
        in_channels: 1,
        out_channels: 1,
        depth: 1,
        base_channels: 2,
    }
}

fn load_resnet18_w3() -> ClassifierModel {
    ClassifierModel::load(
        &resnet18_w3(),
        &fixture("resnet18_w3.safetensors"),
        &KeyMap::torchvision_resnet(),
    )
    .unwrap()
}

/// Both convolution kernels: attest's CPU kernel (the default) and burn-flex's own.
const KERNELS: [ConvKernel; 2] = [ConvKernel::Auto, ConvKernel::Burn];

#[test]
fn resnet18_layout_from_safetensors_matches_numpy() {
    let r = reference("resnet18_w3");
    for kernel in KERNELS {
        let model = load_resnet18_w3().with_conv_kernel(kernel);
        assert_close(
            &format!("resnet18_w3 logits ({kernel:?})"),
            &model.logits(&r.input, r.shape).unwrap(),
            &r.logits,
        );
        assert_close(
            &format!("resnet18_w3 probs ({kernel:?})"),
            &model.predict(&r.input, r.shape).unwrap(),
            &r.probs,
        );
    }
    let model = load_resnet18_w3();
    let info = model.weights();
    assert_eq!(info.format, WeightsFormat::Safetensors);
    // 20 convolutions and batch norms of ResNet-18 (17 + 3 shortcuts): 20 conv weights,
    // 4 tensors per batch norm, fc weight and bias.
    assert_eq!(info.tensors, 20 + 20 * 4 + 2);
    assert_eq!(
        info.ignored.len(),
        20,
        "num_batches_tracked of every batch norm"
    );
    assert!(info
        .ignored
        .contains(&"layer2.0.downsample.1.num_batches_tracked".to_string()));
    let bytes = std::fs::read(fixture("resnet18_w3.safetensors")).unwrap();
    use sha2::Digest;
    assert_eq!(info.sha256, hex::encode(sha2::Sha256::digest(&bytes)));
}

#[test]
fn batches_do_not_change_results() {
    let r = reference("resnet18_w3");
    let whole = load_resnet18_w3().with_batch_size(8);
    let expected = whole.predict(&r.input, r.shape).unwrap();
    for batch in [1, 2] {
        let got = whole
            .clone()
            .with_batch_size(batch)
            .predict(&r.input, r.shape)
            .unwrap();
        assert_eq!(bits(&got), bits(&expected), "batch size {batch}");
    }
    // An empty batch is no error and no output.
    assert!(whole.predict(&[], [0, 3, 16, 24]).unwrap().is_empty());
}

fn bits(v: &[Vec<f32>]) -> Vec<u32> {
    v.iter().flatten().map(|x| x.to_bits()).collect()
}

#[test]
fn pytorch_state_dict_loads_and_matches_numpy() {
    let model = ClassifierModel::load(
        &resnet_tiny(),
        &fixture("resnet_tiny.pt"),
        &KeyMap::torchvision_resnet(),
    )
    .unwrap();
    let r = reference("resnet_tiny");
    for kernel in KERNELS {
        let model = model.clone().with_conv_kernel(kernel);
        assert_close(
            &format!("resnet_tiny.pt logits ({kernel:?})"),
            &model.logits(&r.input, r.shape).unwrap(),
            &r.logits,
        );
        assert_close(
            &format!("resnet_tiny.pt probs ({kernel:?})"),
            &model.predict(&r.input, r.shape).unwrap(),
            &r.probs,
        );
    }
    assert_eq!(model.weights().format, WeightsFormat::Pytorch);
    // torch.save wrote num_batches_tracked for each of the 12 batch norms (stem, two per
    // block, three shortcuts).
    assert_eq!(model.weights().ignored.len(), 12);
}

#[test]
fn unet_matches_numpy_softmax_and_sigmoid() {
    for (name, config) in [("unet_d2b4", unet_d2b4()), ("unet_d1", unet_d1())] {
        let r = reference(name);
        for kernel in KERNELS {
            let model = SegmenterModel::load(
                &config,
                &fixture(&format!("{name}.safetensors")),
                &KeyMap::identity(),
            )
            .unwrap()
            .with_conv_kernel(kernel);
            let logits = model.logits(&r.input, r.shape).unwrap();
            assert_eq!(logits.len(), r.shape[0]);
            assert_eq!(
                logits[0].len(),
                config.out_channels * r.shape[2] * r.shape[3]
            );
            assert_close(&format!("{name} logits ({kernel:?})"), &logits, &r.logits);
            let probs = model.with_batch_size(1).predict(&r.input, r.shape).unwrap();
            assert_close(&format!("{name} probs ({kernel:?})"), &probs, &r.probs);
        }
    }
}

#[test]
fn safetensors_written_here_load_through_a_declared_key_map() {
    // The reference weights as another exporter might write them: under a `model.` prefix
    // (as Lightning checkpoints do), without num_batches_tracked.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("prefixed.safetensors");
    let tensors: BTreeMap<String, Owned> = read_tensors(&fixture("resnet18_w3.safetensors"))
        .into_iter()
        .filter(|(k, _)| !k.ends_with("num_batches_tracked"))
        .map(|(k, v)| (format!("model.{k}"), v))
        .collect();
    write_tensors(&path, &tensors);

    let key_map = KeyMap::identity()
        .rule(r"^model\.", "")
        .rule(r"\.downsample\.0\.", ".downsample.conv.")
        .rule(r"\.downsample\.1\.", ".downsample.bn.");
    let model = ClassifierModel::load(&resnet18_w3(), &path, &key_map).unwrap();
    let r = reference("resnet18_w3");
    let got = model.predict(&r.input, r.shape).unwrap();
    assert_close("resnet18_w3 via key map", &got, &r.probs);
    assert_eq!(
        bits(&got),
        bits(&load_resnet18_w3().predict(&r.input, r.shape).unwrap())
    );
    assert!(model.weights().ignored.is_empty());
    assert_eq!(model.weights().key_map, key_map);

    // Without the prefix rule nothing matches, and the error says so name by name.
    let err =
        ClassifierModel::load(&resnet18_w3(), &path, &KeyMap::torchvision_resnet()).unwrap_err();
    let m = mismatch(&err);
    assert_eq!(m.missing.len(), 102);
    assert_eq!(m.unexpected.len(), 102);
    let text = err.to_string();
    assert!(
        text.contains("`fc.weight` [3, 24]; the file has `model.fc.weight` [3, 24]"),
        "{text}"
    );
    assert!(
        text.contains("a key-map rule from `^model\\.` to `` would match them"),
        "{text}"
    );
    assert!(text.contains("... and 72 more"), "{text}");
}

#[test]
fn burnpack_round_trip_is_bit_identical() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("resnet.bpk");
    let model = load_resnet18_w3();
    model.save_burnpack(&path).unwrap();
    let again = ClassifierModel::load(&resnet18_w3(), &path, &KeyMap::identity()).unwrap();
    assert_eq!(again.weights().format, WeightsFormat::Burnpack);
    let r = reference("resnet18_w3");
    assert_eq!(
        bits(&again.predict(&r.input, r.shape).unwrap()),
        bits(&model.predict(&r.input, r.shape).unwrap())
    );

    let dir_u = dir.path().join("unet.bpk");
    let unet = SegmenterModel::load(
        &unet_d2b4(),
        &fixture("unet_d2b4.safetensors"),
        &KeyMap::identity(),
    )
    .unwrap();
    unet.save_burnpack(&dir_u).unwrap();
    let again = SegmenterModel::load(&unet_d2b4(), &dir_u, &KeyMap::identity()).unwrap();
    let r = reference("unet_d2b4");
    assert_eq!(
        bits(&again.predict(&r.input, r.shape).unwrap()),
        bits(&unet.predict(&r.input, r.shape).unwrap())
    );
}

// ------------------------------------------------------------------ bad weights files

fn mismatch(err: &WeightsError) -> &Mismatch {
    match err {
        WeightsError::Mismatch { mismatch, .. } => mismatch,
        other => panic!("expected a mismatch, got {other:?}"),
    }
}

/// The fixture's tensors, changed by `edit`, written to a temporary safetensors file and
/// loaded as ResNet-18 width 3.
fn load_edited(edit: impl FnOnce(&mut BTreeMap<String, Owned>)) -> WeightsError {
    let mut tensors = read_tensors(&fixture("resnet18_w3.safetensors"));
    edit(&mut tensors);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("edited.safetensors");
    write_tensors(&path, &tensors);
    ClassifierModel::load(&resnet18_w3(), &path, &KeyMap::torchvision_resnet()).unwrap_err()
}

#[test]
fn missing_tensor_is_named_with_its_shape() {
    let err = load_edited(|t| {
        t.remove("layer3.1.bn2.running_var");
    });
    let m = mismatch(&err);
    assert_eq!(m.missing.len(), 1);
    assert_eq!(m.missing[0].name, "layer3.1.bn2.running_var");
    assert_eq!(m.missing[0].shape, vec![12]);
    assert!(m.unexpected.is_empty() && m.wrong_shape.is_empty());
    let text = err.to_string();
    assert!(text.contains("missing from the file (1):"), "{text}");
    assert!(text.contains("`layer3.1.bn2.running_var` [12]"), "{text}");
}

#[test]
fn misspelt_tensor_is_missing_and_unexpected_with_a_suggestion() {
    let err = load_edited(|t| {
        let v = t.remove("layer1.0.conv2.weight").unwrap();
        t.insert("layer1.0.conv_2.weight".to_string(), v);
    });
    let m = mismatch(&err);
    assert_eq!(m.missing.len(), 1);
    assert_eq!(m.unexpected.len(), 1);
    assert!(err.to_string().contains(
        "`layer1.0.conv2.weight` [3, 3, 3, 3]; the file has `layer1.0.conv_2.weight` [3, 3, 3, 3]"
    ));
}

#[test]
fn extra_tensor_is_rejected() {
    let err = load_edited(|t| {
        t.insert("fc2.weight".to_string(), Owned::f32(vec![2, 2], &[0.0; 4]));
    });
    let m = mismatch(&err);
    assert!(m.missing.is_empty());
    assert_eq!(m.unexpected.len(), 1);
    assert_eq!(m.unexpected[0].name, "fc2.weight");
    assert!(err
        .to_string()
        .contains("in the file but not in the model (1):"));
}

#[test]
fn wrong_shape_names_expected_and_found() {
    let err = load_edited(|t| {
        // A 10-class head where the model has 3 classes.
        t.insert(
            "fc.weight".to_string(),
            Owned::f32(vec![10, 24], &[0.0; 240]),
        );
        // Input and output channels swapped: same element count, other shape.
        let w = t["layer4.0.conv1.weight"].clone();
        assert_eq!(w.shape, vec![24, 12, 3, 3]);
        t.insert(
            "layer4.0.conv1.weight".to_string(),
            Owned {
                shape: vec![12, 24, 3, 3],
                ..w
            },
        );
    });
    let m = mismatch(&err);
    assert_eq!(m.wrong_shape.len(), 2);
    assert!(m.missing.is_empty() && m.unexpected.is_empty());
    let text = err.to_string();
    assert!(
        text.contains("`fc.weight`: the model expects [3, 24], the file has [10, 24]"),
        "{text}"
    );
    assert!(
        text.contains(
            "`layer4.0.conv1.weight`: the model expects [24, 12, 3, 3], the file has [12, 24, 3, 3]"
        ),
        "{text}"
    );
}

#[test]
fn non_float32_tensors_are_rejected() {
    let err = load_edited(|t| {
        let w = &t["conv1.weight"];
        let doubles: Vec<u8> = w
            .to_f32()
            .iter()
            .flat_map(|v| f64::from(*v).to_le_bytes())
            .collect();
        t.insert(
            "conv1.weight".to_string(),
            Owned {
                dtype: Dtype::F64,
                shape: w.shape.clone(),
                data: doubles,
            },
        );
        let halves = vec![0u8; 2 * 3];
        t.insert(
            "fc.bias".to_string(),
            Owned {
                dtype: Dtype::F16,
                shape: vec![3],
                data: halves,
            },
        );
    });
    let m = mismatch(&err);
    let names: Vec<_> = m
        .wrong_dtype
        .iter()
        .map(|f| (f.name.as_str(), f.dtype.as_str()))
        .collect();
    assert_eq!(names, vec![("conv1.weight", "F64"), ("fc.bias", "F16")]);
    assert!(err.to_string().contains("`conv1.weight` is F64"));
}

#[test]
fn key_map_collisions_and_bad_rules_are_errors() {
    let err = ClassifierModel::load(
        &resnet18_w3(),
        &fixture("resnet18_w3.safetensors"),
        &KeyMap::torchvision_resnet().rule(r"running_(mean|var)", "running_stat"),
    )
    .unwrap_err();
    assert!(!mismatch(&err).collisions.is_empty());
    assert!(err
        .to_string()
        .contains("the key map sends 2 file tensors to"));

    let err = ClassifierModel::load(
        &resnet18_w3(),
        &fixture("resnet18_w3.safetensors"),
        &KeyMap::identity().rule("(unclosed", ""),
    )
    .unwrap_err();
    assert!(matches!(err, WeightsError::KeyMap { .. }), "{err:?}");
}

#[test]
fn corrupt_unknown_and_absent_files_are_errors_not_panics() {
    let dir = tempfile::tempdir().unwrap();
    let good = std::fs::read(fixture("resnet18_w3.safetensors")).unwrap();
    let good_pt = std::fs::read(fixture("resnet_tiny.pt")).unwrap();
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("truncated.safetensors", good[..good.len() / 2].to_vec()),
        ("header-only.safetensors", good[..16].to_vec()),
        ("empty.safetensors", Vec::new()),
        (
            "garbage.safetensors",
            b"not a safetensors file at all".to_vec(),
        ),
        ("huge-header.safetensors", {
            let mut v = u64::MAX.to_le_bytes().to_vec();
            v.extend_from_slice(b"{}");
            v
        }),
        ("truncated.pt", good_pt[..good_pt.len() / 2].to_vec()),
        ("garbage.pt", b"PK\x03\x04 not really a zip".to_vec()),
        ("empty.pt", Vec::new()),
        ("garbage.bpk", b"not burnpack".to_vec()),
    ];
    for (name, bytes) in cases {
        let path = dir.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        let err = ClassifierModel::load(&resnet18_w3(), &path, &KeyMap::torchvision_resnet())
            .unwrap_err();
        assert!(
            matches!(err, WeightsError::Corrupt { .. }),
            "{name}: expected Corrupt, got {err:?}"
        );
        assert!(err.to_string().contains(name), "{name}: {err}");
    }

    let err = ClassifierModel::load(
        &resnet18_w3(),
        &dir.path().join("absent.safetensors"),
        &KeyMap::identity(),
    )
    .unwrap_err();
    assert!(matches!(err, WeightsError::Io { .. }), "{err:?}");
    assert!(err.to_string().contains("absent.safetensors"));

    let onnx = dir.path().join("model.onnx");
    std::fs::write(&onnx, b"").unwrap();
    let err = ClassifierModel::load(&resnet18_w3(), &onnx, &KeyMap::identity()).unwrap_err();
    assert!(matches!(err, WeightsError::UnknownFormat { .. }), "{err:?}");
}

#[test]
fn right_file_for_the_wrong_architecture_lists_everything() {
    // The UNet's weights offered to the ResNet: every name missing, every tensor unexpected.
    let err = ClassifierModel::load(
        &resnet18_w3(),
        &fixture("unet_d2b4.safetensors"),
        &KeyMap::torchvision_resnet(),
    )
    .unwrap_err();
    let m = mismatch(&err);
    assert_eq!(m.expected_count, 102);
    assert_eq!(m.missing.len(), 102);
    assert_eq!(m.unexpected.len(), m.found_count);
    // ResNet-18 at width 3 offered to a model configured with width 4: shapes differ.
    let err = ClassifierModel::load(
        &ResNetConfig {
            width: 4,
            ..resnet18_w3()
        },
        &fixture("resnet18_w3.safetensors"),
        &KeyMap::torchvision_resnet(),
    )
    .unwrap_err();
    let m = mismatch(&err);
    // Every tensor but the head's bias, whose shape is the class count.
    assert_eq!(m.wrong_shape.len(), 101);
    assert!(m.missing.is_empty() && m.unexpected.is_empty());
}

#[test]
fn bad_input_is_an_error() {
    let model = load_resnet18_w3();
    assert!(matches!(
        model.predict(&[0.0; 10], [1, 3, 16, 24]),
        Err(InputError::Length {
            expected: 1152,
            found: 10,
            ..
        })
    ));
    assert!(matches!(
        model.predict(&[0.0; 16 * 24], [1, 1, 16, 24]),
        Err(InputError::Channels {
            expected: 3,
            found: 1
        })
    ));
    let unet = SegmenterModel::load(
        &unet_d2b4(),
        &fixture("unet_d2b4.safetensors"),
        &KeyMap::identity(),
    )
    .unwrap();
    let err = unet.predict(&[0.0; 10 * 16], [1, 1, 10, 16]).unwrap_err();
    assert!(err.to_string().contains("multiple of 4"), "{err}");
}

// ------------------------------------------------------------------ determinism

/// A full-width ResNet-18 (64 channels, 1000 classes) on one 3x224x224 image is large enough
/// that burn-flex's gemm runs in parallel (it does above m·n·k = 192³); the tiny fixtures
/// never are. Weights are seeded and written as safetensors by this test.
#[test]
fn results_are_bit_identical_on_one_and_two_threads() {
    use rand::{RngExt, SeedableRng};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("resnet18.safetensors");
    let config = ResNetConfig::resnet18(1000);
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
    let mut tensors = BTreeMap::new();
    // He-uniform convolutions, batch norm scales and variances in [0.5, 1.5), shifts and
    // means in [-0.1, 0.1).
    for (name, shape) in resnet18_layout(&config) {
        let n: usize = shape.iter().product();
        let (lo, hi) = if shape.len() > 1 {
            let bound = (6.0 / (n / shape[0]) as f32).sqrt();
            (-bound, bound)
        } else if name.ends_with("weight") || name.ends_with("running_var") {
            (0.5, 1.5)
        } else {
            (-0.1, 0.1)
        };
        let values: Vec<f32> = (0..n).map(|_| rng.random_range(lo..hi)).collect();
        tensors.insert(name, Owned::f32(shape, &values));
    }
    write_tensors(&path, &tensors);
    let images: Vec<f32> = (0..2 * 3 * 224 * 224)
        .map(|_| rng.random_range(-2.0f32..2.0))
        .collect();

    let model = ClassifierModel::load(&config, &path, &KeyMap::torchvision_resnet()).unwrap();
    let run = |kernel: ConvKernel, n: usize, threads: usize| {
        let model = model.clone().with_conv_kernel(kernel);
        let input = &images[..n * 3 * 224 * 224];
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap()
            .install(|| model.logits(input, [n, 3, 224, 224]).unwrap())
    };
    // attest's kernel: one image per thread with two images, a product split over both
    // threads with one image. burn-flex's: its own tiling.
    for (kernel, n) in [
        (ConvKernel::Auto, 2),
        (ConvKernel::Auto, 1),
        (ConvKernel::Burn, 1),
    ] {
        let one = run(kernel, n, 1);
        let two = run(kernel, n, 2);
        assert_eq!(
            bits(&one),
            bits(&two),
            "{kernel:?}, {n} images: 1 vs 2 threads"
        );
        assert!(one.iter().flatten().all(|v| v.is_finite()));
    }
}

/// torchvision ResNet names and shapes for `config`, as a PyTorch export holds them.
fn resnet18_layout(c: &ResNetConfig) -> Vec<(String, Vec<usize>)> {
    let mut out = vec![(
        "conv1.weight".to_string(),
        vec![c.width, c.in_channels, 7, 7],
    )];
    let bn = |out: &mut Vec<(String, Vec<usize>)>, p: &str, ch: usize| {
        for s in ["weight", "bias", "running_mean", "running_var"] {
            out.push((format!("{p}.{s}"), vec![ch]));
        }
    };
    bn(&mut out, "bn1", c.width);
    let mut cin = c.width;
    for (s, &blocks) in c.layers.iter().enumerate() {
        let cout = c.width << s;
        for b in 0..blocks {
            let p = format!("layer{}.{b}", s + 1);
            let c_in = if b == 0 { cin } else { cout };
            out.push((format!("{p}.conv1.weight"), vec![cout, c_in, 3, 3]));
            bn(&mut out, &format!("{p}.bn1"), cout);
            out.push((format!("{p}.conv2.weight"), vec![cout, cout, 3, 3]));
            bn(&mut out, &format!("{p}.bn2"), cout);
            if b == 0 && (s > 0 || c_in != cout) {
                out.push((format!("{p}.downsample.0.weight"), vec![cout, c_in, 1, 1]));
                bn(&mut out, &format!("{p}.downsample.1"), cout);
            }
        }
        cin = cout;
    }
    out.push(("fc.weight".to_string(), vec![c.num_classes, cin]));
    out.push(("fc.bias".to_string(), vec![c.num_classes]));
    out
}
