//! A 2D UNet for segmentation (Ronneberger et al. 2015, "U-Net: Convolutional Networks for
//! Biomedical Image Segmentation", MICCAI), in the padded form most implementations use:
//! each level is two 3x3 convolutions (padding 1, no bias) with batch norm and ReLU; the
//! encoder halves the size with 2x2 max pooling and doubles the channels; the decoder
//! doubles the size with a 2x2 transposed convolution of stride 2, concatenates the skip
//! connection before the upsampled features (`cat([skip, up], 1)`), and a 1x1 convolution
//! gives the per-pixel logits. Configurable depth (number of poolings), base channels, and
//! input and output channels.
//!
//! Parameter names (PyTorch layout, as written by `tests/fixtures/burn/reference.py`):
//! `down.{i}.{conv1,bn1,conv2,bn2}` for encoder level `i` (the last is the bottleneck),
//! `up.{j}` for the transposed convolutions, `dec.{j}.{conv1,bn1,conv2,bn2}` for the decoder
//! levels from the deepest up, `head` for the 1x1 convolution.
//!
//! Probabilities: a sigmoid per pixel with one output channel (foreground probability),
//! otherwise a softmax over the channels.

use std::path::Path;

use burn::module::Initializer;
use burn::nn::conv::{Conv2d, Conv2dConfig, ConvTranspose2d, ConvTranspose2dConfig};
use burn::nn::pool::{MaxPool2d, MaxPool2dConfig};
use burn::nn::{BatchNorm, BatchNormConfig, PaddingConfig2d, Relu};
use burn::prelude::*;
use burn::tensor::activation::{sigmoid, softmax};
use serde::{Deserialize, Serialize};

use super::cpu_conv::{conv2d, max_pool2d, Conv, ConvKernel, HostWeights};
use super::weights::{self, KeyMap, WeightsError, WeightsInfo};
use super::{check_input, run_batched, Backend, InputError};

/// A UNet's shape.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UNetConfig {
    /// Image channels.
    #[serde(default = "default_in_channels")]
    pub in_channels: usize,
    /// Output channels: 1 for a sigmoid foreground map, otherwise one per class (softmax).
    pub out_channels: usize,
    /// Number of 2x poolings; height and width must be multiples of `2^depth`.
    #[serde(default = "default_depth")]
    pub depth: usize,
    /// Channels of the first level; each deeper level doubles them.
    #[serde(default = "default_base_channels")]
    pub base_channels: usize,
}

fn default_in_channels() -> usize {
    1
}
fn default_depth() -> usize {
    4
}
fn default_base_channels() -> usize {
    64
}

impl UNetConfig {
    /// The module with placeholder parameters, to be filled by [`SegmenterModel::load`].
    pub fn init(&self, device: &Device) -> UNet {
        let ch = |level: usize| self.base_channels << level;
        let down = (0..=self.depth)
            .map(|i| {
                let cin = if i == 0 { self.in_channels } else { ch(i - 1) };
                DoubleConv::new(cin, ch(i), device)
            })
            .collect();
        let up = (0..self.depth)
            .map(|j| {
                let level = self.depth - j;
                ConvTranspose2dConfig::new([ch(level), ch(level - 1)], [2, 2])
                    .with_stride([2, 2])
                    .with_initializer(Initializer::Zeros)
                    .init(device)
            })
            .collect();
        let dec = (0..self.depth)
            .map(|j| {
                let level = self.depth - j - 1;
                DoubleConv::new(2 * ch(level), ch(level), device)
            })
            .collect();
        UNet {
            down,
            up,
            dec,
            head: Conv2dConfig::new([ch(0), self.out_channels], [1, 1])
                .with_initializer(Initializer::Zeros)
                .init(device),
            pool: MaxPool2dConfig::new([2, 2]).init(),
        }
    }
}

/// Two (3x3 convolution, batch norm, ReLU) in a row.
#[derive(Module, Debug)]
pub struct DoubleConv {
    pub conv1: Conv2d,
    pub bn1: BatchNorm,
    pub conv2: Conv2d,
    pub bn2: BatchNorm,
    pub relu: Relu,
}

impl DoubleConv {
    fn new(cin: usize, cout: usize, device: &Device) -> DoubleConv {
        let conv3 = |cin, cout| {
            Conv2dConfig::new([cin, cout], [3, 3])
                .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
                .with_bias(false)
                .with_initializer(Initializer::Zeros)
                .init(device)
        };
        DoubleConv {
            conv1: conv3(cin, cout),
            bn1: BatchNormConfig::new(cout).init(device),
            conv2: conv3(cout, cout),
            bn2: BatchNormConfig::new(cout).init(device),
            relu: Relu::new(),
        }
    }

    fn forward(&self, x: Tensor<4>, k: Conv<'_>) -> Tensor<4> {
        let x = self
            .relu
            .forward(self.bn1.forward(conv2d(&self.conv1, x, k)));
        self.relu
            .forward(self.bn2.forward(conv2d(&self.conv2, x, k)))
    }
}

/// The network.
#[derive(Module, Debug)]
pub struct UNet {
    pub down: Vec<DoubleConv>,
    pub up: Vec<ConvTranspose2d>,
    pub dec: Vec<DoubleConv>,
    pub head: Conv2d,
    pub pool: MaxPool2d,
}

impl UNet {
    /// Logits `[N, out_channels, H, W]` for images `[N, C, H, W]`, with burn's operations
    /// only; [`SegmenterModel`] runs the CPU convolutions with attest's kernel.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        self.forward_with(x, ConvKernel::Burn, &HostWeights::default())
    }

    /// [`UNet::forward`] with a chosen convolution kernel and the host copies of the weights
    /// it needs (the transposed convolutions are always burn's).
    pub(crate) fn forward_with(
        &self,
        x: Tensor<4>,
        kernel: ConvKernel,
        weights: &HostWeights,
    ) -> Tensor<4> {
        let k = Conv { kernel, weights };
        let depth = self.up.len();
        let mut skips = Vec::with_capacity(depth);
        let mut x = x;
        for level in &self.down[..depth] {
            let y = level.forward(x, k);
            x = max_pool2d(&self.pool, y.clone(), k);
            skips.push(y);
        }
        x = self.down[depth].forward(x, k);
        for (up, dec) in self.up.iter().zip(&self.dec) {
            let skip = skips.pop().expect("one skip per level");
            x = dec.forward(Tensor::cat(vec![skip, up.forward(x)], 1), k);
        }
        conv2d(&self.head, x, k)
    }
}

/// A UNet with its weights loaded, ready for batched inference.
#[derive(Debug, Clone)]
pub struct SegmenterModel {
    config: UNetConfig,
    net: UNet,
    device: Device,
    backend: Backend,
    weights: WeightsInfo,
    batch_size: usize,
    kernel: ConvKernel,
    host: HostWeights,
}

impl SegmenterModel {
    /// Builds the UNet described by `config` on the default CPU backend (flex) and loads its
    /// weights from `path` with the same strict policy as [`super::ClassifierModel::load`].
    pub fn load(
        config: &UNetConfig,
        path: &Path,
        key_map: &KeyMap,
    ) -> Result<SegmenterModel, WeightsError> {
        SegmenterModel::load_on(config, path, key_map, Backend::default())
    }

    /// [`SegmenterModel::load`] on a chosen backend.
    pub fn load_on(
        config: &UNetConfig,
        path: &Path,
        key_map: &KeyMap,
        backend: Backend,
    ) -> Result<SegmenterModel, WeightsError> {
        let device = backend.device();
        let mut net = config.init(&device);
        let weights = weights::load_into(&mut net, path, key_map)?;
        let host = HostWeights::of(&net, &device);
        Ok(SegmenterModel {
            config: config.clone(),
            device,
            backend,
            weights,
            batch_size: 4,
            kernel: ConvKernel::default(),
            host,
            net,
        })
    }

    /// The convolution kernel: attest's on the CPU (default) or burn's everywhere.
    pub fn with_conv_kernel(mut self, kernel: ConvKernel) -> SegmenterModel {
        self.kernel = kernel;
        self
    }

    /// Images per forward pass in [`SegmenterModel::predict`] (default 4). Results do not
    /// depend on it.
    pub fn with_batch_size(mut self, batch_size: usize) -> SegmenterModel {
        self.batch_size = batch_size.max(1);
        self
    }

    pub fn config(&self) -> &UNetConfig {
        &self.config
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The loaded file: path, format, SHA-256, tensor count, key map.
    pub fn weights(&self) -> &WeightsInfo {
        &self.weights
    }

    pub fn net(&self) -> &UNet {
        &self.net
    }

    /// Per-pixel probabilities, one `[out_channels, H, W]` row-major vector per image:
    /// the sigmoid of the logit with one output channel, else the softmax over channels.
    pub fn predict(&self, images: &[f32], shape: [usize; 4]) -> Result<Vec<Vec<f32>>, InputError> {
        self.run(images, shape, true)
    }

    /// The logits, one `[out_channels, H, W]` vector per image.
    pub fn logits(&self, images: &[f32], shape: [usize; 4]) -> Result<Vec<Vec<f32>>, InputError> {
        self.run(images, shape, false)
    }

    fn run(
        &self,
        images: &[f32],
        shape: [usize; 4],
        probabilities: bool,
    ) -> Result<Vec<Vec<f32>>, InputError> {
        check_input(images, shape, self.config.in_channels)?;
        let [_, _, h, w] = shape;
        let multiple = 1usize << self.config.depth;
        if h == 0 || w == 0 || h % multiple != 0 || w % multiple != 0 {
            return Err(InputError::Size {
                height: h,
                width: w,
                reason: format!(
                    "a UNet of depth {} needs a positive multiple of {multiple} in each dimension",
                    self.config.depth
                ),
            });
        }
        let single = self.config.out_channels == 1;
        Ok(run_batched(
            &self.device,
            images,
            shape,
            self.batch_size,
            |x| {
                let logits = self.net.forward_with(x, self.kernel, &self.host);
                match (probabilities, single) {
                    (false, _) => logits,
                    (true, true) => sigmoid(logits),
                    (true, false) => softmax(logits, 1),
                }
            },
        ))
    }

    /// Writes the loaded weights as burnpack (`.bpk`).
    pub fn save_burnpack(&self, path: &Path) -> Result<(), WeightsError> {
        weights::save_burnpack(&self.net, path)
    }
}
