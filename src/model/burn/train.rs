//! A small, seeded training loop for the [`ResNet`] classifier on the CPU (burn-flex with
//! autodiff): the code behind `models/nodule-cnn/`, which `examples/train_nodule_cnn.rs`
//! regenerates and documents in its model card.
//!
//! What it does, in order:
//! 1. **Initialisation with attest's own RNG** ([`seeded_init`]): burn 0.22 draws random
//!    initial values lazily, at a parameter's first use, from one process-global RNG, so a
//!    burn-initialised model depends on whatever else drew from it first (another test
//!    thread, say). [`ResNetConfig::init`] draws nothing (zero placeholders); here every
//!    tensor's values are drawn from a ChaCha8 stream in name order and applied through
//!    burn-store, as a weights file would be. Convolutions get torchvision's ResNet
//!    initialisation, Kaiming-normal in fan-out mode for ReLU (He et al. 2015, "Delving Deep
//!    into Rectifiers", ICCV, eq. 10 with the backward pass's fan; torchvision
//!    `models/resnet.py`: `kaiming_normal_(mode="fan_out", nonlinearity="relu")`); batch
//!    norm γ = 1, β = 0, running mean 0, variance 1 (torchvision's too); the classifier head
//!    N(0, 0.01²) with zero bias, so the first logits are near zero and the first loss is
//!    near ln 2 for two classes.
//! 2. **Seeded mini-batches** ([`minibatches`]): a Fisher–Yates shuffle per epoch from a
//!    second ChaCha8 stream of the same seed; a last batch smaller than `batch_size` is
//!    dropped (PyTorch's `drop_last`), because a batch-norm batch of one image has no variance
//!    to normalise by.
//! 3. **Adam** (Kingma & Ba 2015, burn's `AdamConfig` defaults: β₁ 0.9, β₂ 0.999, ε 1e-5)
//!    on the mean **cross-entropy** of the softmax (burn's `CrossEntropyLoss`, no smoothing, no
//!    weights).
//! 4. Batch norm **trains in training mode** (batch statistics; running statistics updated
//!    with momentum 0.1) because the parameters live on an autodiff device with training
//!    flags on.
//! 5. **The running statistics are recomputed for the final weights**
//!    ([`recompute_bn_statistics`], "PreciseBN": Wu & Johnson 2021, "Rethinking 'Batch' in
//!    BatchNorm", §3; fvcore's `update_bn_stats`, PyTorch's `swa_utils.update_bn`): one more
//!    pass over the training images in training mode, without updates, each batch norm's
//!    statistics the plain average of the batches' (momentum 1/k for the k-th batch). The
//!    moving average alone lags behind weights that Adam is still moving: on the committed
//!    model it made the eval-mode network call every slice a nodule (AUC near 1, accuracy
//!    0.5, see `models/nodule-cnn/TRAINING.md`).
//! 6. The returned network is [`Module::valid`]'s copy on the plain CPU device, whose batch
//!    norms use the running statistics, as [`super::ClassifierModel`] does at run time.
//!
//! Determinism: the same seed and data give bit-identical losses and weights in one process
//! (`tests/train_demo.rs` checks two runs, and one against two threads). Across machines
//! nothing is promised bit for bit: gemm picks its kernels and block sizes from the CPU
//! (SIMD level, cache sizes), which changes float summation order, so the committed weights
//! file, identified by its SHA-256, is the reference.

use std::path::{Path, PathBuf};

use burn::nn::loss::CrossEntropyLossConfig;
use burn::optim::{AdamConfig, GradientsParams};
use burn::prelude::*;
use burn::store::{bridge, ModuleSnapshot};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::resnet::{ClassifierModel, ResNet, ResNetConfig};
use super::weights::{self, WeightsError};
use super::InputError;
use crate::model::pipeline::{self, PipelineConfig, PipelineError, Resample, Window};
use crate::stats::roc::auc_delong;

/// Standard deviation of the classifier head's initial weights.
pub const FC_INIT_STD: f64 = 0.01;

/// ChaCha8 stream of a seed that draws the initial values ([`seeded_init`]).
const INIT_STREAM: u64 = 1;
/// ChaCha8 stream of a seed that orders the mini-batches ([`minibatches`]).
const SHUFFLE_STREAM: u64 = 2;

/// The architecture of the committed nodule classifier (`models/nodule-cnn/`): a grayscale,
/// two-class ResNet with basic blocks, width 8 and one block per stage (about 78 000
/// parameters). Class 1 is "nodule".
pub fn nodule_resnet() -> ResNetConfig {
    ResNetConfig {
        in_channels: 1,
        num_classes: 2,
        width: 8,
        layers: [1, 1, 1, 1],
    }
}

/// The preprocessing of the committed nodule classifier: a lung window (centre −600 HU,
/// width 1500) to [0, 1], bilinear resampling to 32 × 32, one channel, no normalisation.
/// Training and inference both run it through [`pipeline::batch`].
pub fn nodule_pipeline() -> PipelineConfig {
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
        normalise: None,
        channels: 1,
        volume: false,
        frame: 0,
    }
}

/// Hyperparameters of [`train`].
#[derive(Debug, Clone, PartialEq)]
pub struct TrainConfig {
    /// Passes over the training images.
    pub epochs: usize,
    /// Images per optimisation step (at least 2, for batch norm).
    pub batch_size: usize,
    /// Adam's step size.
    pub learning_rate: f64,
    /// Seeds the initial values and the order of the mini-batches.
    pub seed: u64,
}

/// Labelled images, `[C, H, W]` each, row-major, one after another.
#[derive(Debug, Clone, PartialEq)]
pub struct LabelledImages {
    images: Vec<f32>,
    image_shape: [usize; 3],
    labels: Vec<usize>,
}

impl LabelledImages {
    /// Images and their class indices; the image count is `labels.len()`.
    pub fn new(
        images: Vec<f32>,
        image_shape: [usize; 3],
        labels: Vec<usize>,
    ) -> Result<LabelledImages, TrainError> {
        let per_image: usize = image_shape.iter().product();
        if images.len() != labels.len() * per_image {
            return Err(TrainError::Input(InputError::Length {
                shape: [labels.len(), image_shape[0], image_shape[1], image_shape[2]],
                expected: labels.len() * per_image,
                found: images.len(),
            }));
        }
        Ok(LabelledImages {
            images,
            image_shape,
            labels,
        })
    }

    /// Reads the DICOM files `paths` through `cfg` (in parallel, [`pipeline::batch`]), one
    /// image per file, exactly as inference does; `labels[i]` is the class of `paths[i]`.
    /// Every file must give an image of the same shape.
    pub fn from_files(
        paths: &[PathBuf],
        labels: Vec<usize>,
        cfg: &PipelineConfig,
    ) -> Result<LabelledImages, TrainError> {
        let mut images = Vec::new();
        let mut image_shape: Option<[usize; 3]> = None;
        for (path, prepared) in paths.iter().zip(pipeline::batch(paths, cfg)) {
            let prepared = prepared?;
            let shape: [usize; 3] =
                prepared
                    .shape
                    .as_slice()
                    .try_into()
                    .map_err(|_| TrainError::ImageShape {
                        path: path.clone(),
                        shape: prepared.shape.clone(),
                    })?;
            if image_shape.is_some_and(|s| s != shape) {
                return Err(TrainError::ImageShape {
                    path: path.clone(),
                    shape: prepared.shape,
                });
            }
            image_shape = Some(shape);
            images.extend(prepared.data);
        }
        LabelledImages::new(images, image_shape.unwrap_or([1, 1, 1]), labels)
    }

    pub fn len(&self) -> usize {
        self.labels.len()
    }

    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// `[C, H, W]` of every image.
    pub fn image_shape(&self) -> [usize; 3] {
        self.image_shape
    }

    pub fn labels(&self) -> &[usize] {
        &self.labels
    }

    /// All images, `[N, C, H, W]` row-major.
    pub fn images(&self) -> &[f32] {
        &self.images
    }

    /// `[N, C, H, W]` of all images.
    pub fn shape(&self) -> [usize; 4] {
        let [c, h, w] = self.image_shape;
        [self.len(), c, h, w]
    }

    /// The images at `indices`, in that order, and their labels.
    fn gather(&self, indices: &[usize]) -> (Vec<f32>, Vec<usize>) {
        let per_image: usize = self.image_shape.iter().product();
        let mut images = Vec::with_capacity(indices.len() * per_image);
        for &i in indices {
            images.extend_from_slice(&self.images[i * per_image..(i + 1) * per_image]);
        }
        let labels = indices.iter().map(|&i| self.labels[i]).collect();
        (images, labels)
    }
}

/// One line of the training log.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Epoch {
    /// 1-based.
    pub epoch: usize,
    /// Optimisation steps in this epoch.
    pub steps: usize,
    /// Mean over the epoch's steps of the batch's mean cross-entropy (nats), each computed
    /// before that step's update, in training mode.
    pub loss: f64,
    /// Share of the epoch's images whose largest logit, computed before the step's update in
    /// training mode, was their label's.
    pub accuracy: f64,
}

/// A trained network and how training went.
#[derive(Debug, Clone)]
pub struct Trained {
    /// The network on the plain CPU device, batch norm on the running statistics recomputed
    /// for the final weights ([`recompute_bn_statistics`]).
    pub net: ResNet,
    /// The same weights with the running statistics as training's moving average left them,
    /// before they were recomputed: kept only to show the difference.
    pub moving_average_net: ResNet,
    pub log: Vec<Epoch>,
}

/// Why training could not run.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    #[error(transparent)]
    Pipeline(#[from] PipelineError),
    #[error(transparent)]
    Input(#[from] InputError),
    #[error("{}: the pipeline gave shape {shape:?}, not the [C, H, W] of the others", path.display())]
    ImageShape { path: PathBuf, shape: Vec<usize> },
    #[error("label {label} of image {index} is not a class of a {classes}-class model")]
    Label {
        index: usize,
        label: usize,
        classes: usize,
    },
    #[error("batch size {batch_size} with {images} images: need 2 <= batch size <= images")]
    BatchSize { batch_size: usize, images: usize },
    #[error("no initialisation rule for tensor `{name}` {shape:?}")]
    NoInitRule { name: String, shape: Vec<usize> },
    #[error("initial values did not apply: {0}")]
    Init(String),
}

/// Standard deviation of a convolution's Kaiming-normal initialisation in fan-out mode for
/// ReLU, as torchvision's ResNet: √(2 / fan_out) with fan_out = out_channels × kh × kw
/// (`weight` shape `[out, in, kh, kw]`).
pub fn kaiming_std(shape: [usize; 4]) -> f64 {
    let [out, _, kh, kw] = shape;
    (2.0 / (out * kh * kw) as f64).sqrt()
}

/// A standard normal draw (Box–Muller; `u1` in (0, 1] keeps the logarithm finite).
fn normal(rng: &mut ChaCha8Rng) -> f64 {
    let u1 = 1.0 - rng.random::<f64>();
    let u2 = rng.random::<f64>();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

/// Initial values of the tensor `name` (burn's names and layout), drawn from `rng`; `None`
/// for a name no rule covers.
fn initial_values(name: &str, shape: &[usize], rng: &mut ChaCha8Rng) -> Option<Vec<f32>> {
    let n = shape.iter().product();
    let field = name.rsplit('.').next().unwrap_or(name);
    let constant = |v: f32| Some(vec![v; n]);
    match (shape, field) {
        (&[o, i, kh, kw], "weight") => {
            let std = kaiming_std([o, i, kh, kw]);
            Some((0..n).map(|_| (std * normal(rng)) as f32).collect())
        }
        // burn's Linear weight is [in, out]; the values are i.i.d., so the layout is moot.
        (&[_, _], "weight") => Some((0..n).map(|_| (FC_INIT_STD * normal(rng)) as f32).collect()),
        (&[_], "gamma" | "running_var") => constant(1.0),
        (&[_], "beta" | "running_mean" | "bias") => constant(0.0),
        _ => None,
    }
}

/// The network of `config` on `device`, every tensor set from the ChaCha8 stream of `seed`
/// (see the module documentation), independent of burn's global RNG. Tensors are drawn in
/// name order, so the values do not depend on the order burn visits the module in.
pub fn seeded_init(
    config: &ResNetConfig,
    device: &Device,
    seed: u64,
) -> Result<ResNet, TrainError> {
    let mut net = config.init(device);
    let mut layout: Vec<(String, Vec<usize>)> = net
        .collect(None, None, false)
        .into_iter()
        .map(|t| (t.name, t.shape.to_vec()))
        .collect();
    layout.sort();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(INIT_STREAM);
    let mut tensors = Vec::with_capacity(layout.len());
    for (name, shape) in layout {
        let Some(values) = initial_values(&name, &shape, &mut rng) else {
            return Err(TrainError::NoInitRule { name, shape });
        };
        tensors.push(bridge::from_data(
            TensorData::new(values, shape),
            name,
            None,
        ));
    }
    let count = tensors.len();
    let result = net.apply(tensors, None, None, false);
    if !result.errors.is_empty()
        || !result.missing.is_empty()
        || !result.unused.is_empty()
        || result.applied.len() != count
    {
        return Err(TrainError::Init(result.to_string()));
    }
    Ok(net)
}

/// The mini-batches of one epoch: `0..n` shuffled with `rng` (Fisher–Yates), cut into
/// batches of `batch_size`, a smaller last batch dropped.
pub fn minibatches(n: usize, batch_size: usize, rng: &mut ChaCha8Rng) -> Vec<Vec<usize>> {
    let mut order: Vec<usize> = (0..n).collect();
    for i in (1..n).rev() {
        // u32 draws, so the order does not depend on pointer width.
        let j = rng.random_range(0..=i as u32) as usize;
        order.swap(i, j);
    }
    order
        .chunks_exact(batch_size.max(1))
        .map(<[usize]>::to_vec)
        .collect()
}

/// The mean cross-entropy of `logits` (`[N, classes]`) against class indices `labels`:
/// `−(1/N) Σᵢ log softmax(logitsᵢ)[labelsᵢ]`, with burn's `CrossEntropyLoss` (the loss
/// [`train`] minimises).
pub fn cross_entropy(logits: Tensor<2>, labels: &[usize]) -> Tensor<1> {
    let device = logits.device();
    let targets = Tensor::<1, Int>::from_data(
        TensorData::new(
            labels.iter().map(|&l| l as i64).collect::<Vec<_>>(),
            [labels.len()],
        ),
        &device,
    );
    CrossEntropyLossConfig::new()
        .init(&device)
        .forward(logits, targets)
}

/// Trains a [`ResNet`] of `config` on `data` with `tc` (see the module documentation) and
/// returns the network in inference mode and the per-epoch log.
pub fn train(
    config: &ResNetConfig,
    data: &LabelledImages,
    tc: &TrainConfig,
) -> Result<Trained, TrainError> {
    check(config, data, tc)?;
    let device = Device::flex().autodiff();
    let mut net = seeded_init(config, &device, tc.seed)?;
    let mut optim = AdamConfig::new().init();
    let mut order = ChaCha8Rng::seed_from_u64(tc.seed);
    order.set_stream(SHUFFLE_STREAM);
    let [c, h, w] = data.image_shape;
    let mut log = Vec::with_capacity(tc.epochs);
    for epoch in 1..=tc.epochs {
        let batches = minibatches(data.len(), tc.batch_size, &mut order);
        let (mut loss_sum, mut correct, mut seen) = (0.0, 0, 0);
        for batch in &batches {
            let (images, labels) = data.gather(batch);
            let x =
                Tensor::<4>::from_data(TensorData::new(images, [batch.len(), c, h, w]), &device);
            let logits = net.forward(x);
            correct += count_correct(&logits, &labels);
            seen += batch.len();
            let loss = cross_entropy(logits, &labels);
            loss_sum += f64::from(loss.clone().into_scalar::<f32>());
            let grads = GradientsParams::from_grads(loss.backward(), &net);
            net = optim.step(tc.learning_rate, net, grads);
        }
        log.push(Epoch {
            epoch,
            steps: batches.len(),
            loss: loss_sum / batches.len() as f64,
            accuracy: correct as f64 / seen as f64,
        });
    }
    let moving_average_net = net.valid();
    let net = recompute_bn_statistics(net, data, tc.batch_size);
    Ok(Trained {
        net: net.valid(),
        moving_average_net,
        log,
    })
}

/// Every batch norm of `net` (training flags on, on an autodiff device) gets as running
/// statistics the plain average of the batch statistics of `data`, taken in order in batches
/// of `batch_size` (a smaller remainder left out) in training mode: the mean of the batch
/// means, and the mean of the batch (biased) variances, which is what burn's batch norm
/// records. No parameter changes. The momentum is put back to burn's default, 0.1.
pub fn recompute_bn_statistics(
    mut net: ResNet,
    data: &LabelledImages,
    batch_size: usize,
) -> ResNet {
    let device = net.fc.weight.val().device();
    let [c, h, w] = data.image_shape;
    let per_image = c * h * w;
    for (k, chunk) in data
        .images
        .chunks_exact(batch_size.max(1) * per_image)
        .enumerate()
    {
        // The k-th batch (1-based) weighs 1/k: a cumulative average.
        set_bn_momentum(&mut net, 1.0 / (k + 1) as f64);
        let x = Tensor::<4>::from_data(
            TensorData::new(chunk.to_vec(), [chunk.len() / per_image, c, h, w]),
            &device,
        );
        drop(net.forward(x));
    }
    set_bn_momentum(&mut net, BN_MOMENTUM);
    net
}

/// burn's (and PyTorch's) default batch-norm momentum.
const BN_MOMENTUM: f64 = 0.1;

fn set_bn_momentum(net: &mut ResNet, momentum: f64) {
    net.bn1.momentum = momentum;
    for block in net
        .layer1
        .iter_mut()
        .chain(net.layer2.iter_mut())
        .chain(net.layer3.iter_mut())
        .chain(net.layer4.iter_mut())
    {
        block.bn1.momentum = momentum;
        block.bn2.momentum = momentum;
        if let Some(d) = block.downsample.as_mut() {
            d.bn.momentum = momentum;
        }
    }
}

fn check(config: &ResNetConfig, data: &LabelledImages, tc: &TrainConfig) -> Result<(), TrainError> {
    let [c, h, w] = data.image_shape;
    if c != config.in_channels {
        return Err(InputError::Channels {
            expected: config.in_channels,
            found: c,
        }
        .into());
    }
    if h == 0 || w == 0 {
        return Err(InputError::Size {
            height: h,
            width: w,
            reason: "an image needs at least one pixel".to_string(),
        }
        .into());
    }
    if let Some((index, &label)) = data
        .labels
        .iter()
        .enumerate()
        .find(|(_, &l)| l >= config.num_classes)
    {
        return Err(TrainError::Label {
            index,
            label,
            classes: config.num_classes,
        });
    }
    if tc.batch_size < 2 || tc.batch_size > data.len() {
        return Err(TrainError::BatchSize {
            batch_size: tc.batch_size,
            images: data.len(),
        });
    }
    Ok(())
}

/// How many rows of `logits` have their largest value at the label (ties to the lower
/// class).
fn count_correct(logits: &Tensor<2>, labels: &[usize]) -> usize {
    let [_, classes] = logits.dims();
    let values = logits
        .clone()
        .into_data()
        .try_into_vec_as::<f32>()
        .expect("logits are float");
    values
        .chunks(classes)
        .zip(labels)
        .filter(|(row, &label)| argmax(row) == label)
        .count()
}

fn argmax(row: &[f32]) -> usize {
    row.iter()
        .enumerate()
        .fold(0, |best, (i, &v)| if v > row[best] { i } else { best })
}

/// Writes `net` as safetensors in PyTorch's layout (`Linear` weights `[out, in]`, batch norm
/// `weight`/`bias`) with burn's module names, which [`ClassifierModel::load`] reads with an
/// identity key map. The header's metadata is the single entry `format: pt`: the
/// safetensors crate writes metadata from a `HashMap`, so burn-store's default of three
/// entries would put them in a different order, and change the file's SHA-256, from run to
/// run with the same weights.
pub fn save_weights(net: &ResNet, path: &Path) -> Result<(), WeightsError> {
    weights::save_safetensors(net, path)
}

/// Binary classification of held-out images by a loaded model.
#[derive(Debug, Clone, PartialEq)]
pub struct Evaluation {
    pub positives: usize,
    pub negatives: usize,
    /// Images whose class-1 probability is at least 0.5 and label is 1, or below and 0.
    pub correct: usize,
    pub accuracy: f64,
    /// Mann–Whitney AUC of the class-1 probability ([`auc_delong`]).
    pub auc: f64,
}

/// Runs `model` on `data` (labels 0 and 1) and scores its class-1 probability.
pub fn evaluate(model: &ClassifierModel, data: &LabelledImages) -> Result<Evaluation, InputError> {
    let probs = model.predict(&data.images, data.shape())?;
    let (mut pos, mut neg, mut correct) = (Vec::new(), Vec::new(), 0);
    for (p, &label) in probs.iter().zip(&data.labels) {
        let score = f64::from(p[1]);
        correct += usize::from((score >= 0.5) == (label == 1));
        if label == 1 { &mut pos } else { &mut neg }.push(score);
    }
    Ok(Evaluation {
        positives: pos.len(),
        negatives: neg.len(),
        correct,
        accuracy: correct as f64 / data.len().max(1) as f64,
        auc: auc_delong(&pos, &neg).map_or(f64::NAN, |a| a.auc),
    })
}

#[cfg(test)]
mod tests {
    use burn::module::Param;

    use super::*;

    /// Hand example: logits (0, ln 3) give softmax (1/4, 3/4); label 1 costs −ln(3/4) and
    /// label 0 costs −ln(1/4), so the mean over the two rows below is (ln(4/3) + ln 4) / 2.
    #[test]
    fn cross_entropy_matches_the_hand_computation() {
        let device = Device::flex();
        let l3 = 3f32.ln();
        let logits =
            Tensor::<2>::from_data(TensorData::new(vec![0.0, l3, 0.0, l3], [2, 2]), &device);
        let loss = cross_entropy(logits, &[1, 0]).into_scalar::<f32>();
        let expected = ((4.0f64 / 3.0).ln() + 4f64.ln()) / 2.0;
        assert!(
            (f64::from(loss) - expected).abs() < 1e-6,
            "{loss} vs {expected}"
        );
    }

    /// The sample standard deviation of n i.i.d. normal draws has standard error ≈ σ/√(2n),
    /// and the sample mean σ/√n; both are allowed 5 standard errors (a false alarm about
    /// once in 1.7 million seeds), which at n = 36 864 (layer4's 64 × 64 × 3 × 3) is 1.8 % of
    /// σ for the spread.
    #[test]
    fn seeded_init_has_the_stated_distributions() {
        let config = nodule_resnet();
        let net = seeded_init(&config, &Device::flex(), 7).unwrap();
        let values = |t: &Param<Tensor<4>>| t.val().into_data().try_into_vec_as::<f32>().unwrap();
        for (conv, shape) in [
            (&net.layer4[0].conv2.weight, [64, 64, 3, 3]),
            (&net.layer3[0].conv1.weight, [32, 16, 3, 3]),
            (&net.conv1.weight, [8, 1, 7, 7]),
        ] {
            let v = values(conv);
            let n = v.len() as f64;
            assert_eq!(v.len(), shape.iter().product::<usize>());
            let mean = v.iter().map(|&x| f64::from(x)).sum::<f64>() / n;
            let var = v
                .iter()
                .map(|&x| (f64::from(x) - mean).powi(2))
                .sum::<f64>()
                / (n - 1.0);
            let sigma = kaiming_std(shape);
            assert!(
                mean.abs() < 5.0 * sigma / n.sqrt(),
                "{shape:?}: mean {mean}"
            );
            let tolerance = 5.0 / (2.0 * n).sqrt();
            assert!(
                (var.sqrt() / sigma - 1.0).abs() < tolerance,
                "{shape:?}: std {} vs {sigma} (tolerance {tolerance})",
                var.sqrt()
            );
        }
        // torchvision's figure for layer4's 3x3 convolutions at width 64: sqrt(2 / 576).
        assert!((kaiming_std([64, 64, 3, 3]) - (2.0f64 / 576.0).sqrt()).abs() < 1e-15);
        let bn = &net.layer1[0].bn1;
        let ones = bn.gamma.val().into_data().try_into_vec_as::<f32>().unwrap();
        assert!(ones.iter().all(|&g| g == 1.0));
        let zeros = bn.beta.val().into_data().try_into_vec_as::<f32>().unwrap();
        assert!(zeros.iter().all(|&b| b == 0.0));
        let head = net
            .fc
            .weight
            .val()
            .into_data()
            .try_into_vec_as::<f32>()
            .unwrap();
        assert!(head.iter().all(|&x| x.abs() < 6.0 * FC_INIT_STD as f32));

        // The same seed gives the same values; another seed others.
        let again = seeded_init(&config, &Device::flex(), 7).unwrap();
        assert_eq!(values(&net.conv1.weight), values(&again.conv1.weight));
        let other = seeded_init(&config, &Device::flex(), 8).unwrap();
        assert_ne!(values(&net.conv1.weight), values(&other.conv1.weight));
    }

    /// The stem's batch norm sees the stem convolution's output, which can be computed
    /// directly: after the recomputation its running mean must be the average of the two
    /// batches' per-channel means of that output, and its running variance the average of
    /// their biased variances (float32 sums of 2 × 8 × 16 × 16 values: 1e-5 relative is
    /// ample).
    #[test]
    fn recomputed_statistics_are_the_average_of_the_batches() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let images: Vec<f32> = (0..4 * 32 * 32).map(|_| rng.random::<f32>()).collect();
        let data = LabelledImages::new(images.clone(), [1, 32, 32], vec![0, 1, 0, 1]).unwrap();
        let device = Device::flex().autodiff();
        let net = seeded_init(&nodule_resnet(), &device, 9).unwrap();
        let net = recompute_bn_statistics(net, &data, 2).valid();

        let plain = Device::flex();
        let (mut mean, mut var) = (vec![0.0f64; 8], vec![0.0f64; 8]);
        for batch in images.chunks(2 * 32 * 32) {
            let x = Tensor::<4>::from_data(TensorData::new(batch.to_vec(), [2, 1, 32, 32]), &plain);
            let y = net
                .conv1
                .forward(x)
                .into_data()
                .try_into_vec_as::<f32>()
                .unwrap();
            for ch in 0..8 {
                let values: Vec<f64> = (0..2)
                    .flat_map(|i| &y[(i * 8 + ch) * 256..(i * 8 + ch + 1) * 256])
                    .map(|&v| f64::from(v))
                    .collect();
                let m = values.iter().sum::<f64>() / 512.0;
                let v = values.iter().map(|x| (x - m).powi(2)).sum::<f64>() / 512.0;
                mean[ch] += m / 2.0;
                var[ch] += v / 2.0;
            }
        }
        let running_mean = net
            .bn1
            .running_mean
            .value()
            .into_data()
            .try_into_vec_as::<f32>()
            .unwrap();
        let running_var = net
            .bn1
            .running_var
            .value()
            .into_data()
            .try_into_vec_as::<f32>()
            .unwrap();
        for ch in 0..8 {
            let close = |a: f32, b: f64| (f64::from(a) - b).abs() <= 1e-5 * b.abs().max(1e-3);
            assert!(
                close(running_mean[ch], mean[ch]),
                "mean {ch}: {running_mean:?} vs {mean:?}"
            );
            assert!(
                close(running_var[ch], var[ch]),
                "var {ch}: {running_var:?} vs {var:?}"
            );
        }
        assert!(net.bn1.momentum == BN_MOMENTUM);
    }

    #[test]
    fn minibatches_cover_each_index_once_and_drop_the_remainder() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let batches = minibatches(10, 4, &mut rng);
        assert_eq!(batches.len(), 2);
        let mut seen: Vec<usize> = batches.concat();
        seen.sort();
        seen.dedup();
        assert_eq!(seen.len(), 8);
        let next = minibatches(10, 4, &mut rng);
        assert_ne!(batches, next, "each epoch is shuffled anew");
    }

    #[test]
    fn bad_inputs_are_errors() {
        let data = LabelledImages::new(vec![0.0; 3 * 4], [1, 2, 2], vec![0, 1, 2]).unwrap();
        let tc = TrainConfig {
            epochs: 1,
            batch_size: 2,
            learning_rate: 1e-3,
            seed: 1,
        };
        let config = nodule_resnet();
        assert!(matches!(
            train(&config, &data, &tc),
            Err(TrainError::Label { index: 2, .. })
        ));
        let data = LabelledImages::new(vec![0.0; 2 * 4], [1, 2, 2], vec![0, 1]).unwrap();
        for batch_size in [1, 3] {
            let tc = TrainConfig {
                batch_size,
                ..tc.clone()
            };
            assert!(matches!(
                train(&config, &data, &tc),
                Err(TrainError::BatchSize { .. })
            ));
        }
        assert!(LabelledImages::new(vec![0.0; 5], [1, 2, 2], vec![0]).is_err());
    }
}
