//! The ResNet family with basic blocks (He et al. 2016, "Deep Residual Learning for Image
//! Recognition", CVPR, Table 1): ResNet-18 is `layers: [2, 2, 2, 2]`, ResNet-34
//! `[3, 4, 6, 3]`; the input channels, the class count and the width (channels of the first
//! stage, 64 in the paper) are configurable, so a grayscale two-class model or a tiny test
//! model is the same code.
//!
//! The layout and the parameter names are torchvision's (`torchvision/models/resnet.py`,
//! v0.2 "ResNet V1.5": the stride sits in the 3x3 convolution), so a torchvision state dict
//! loads with [`KeyMap::torchvision_resnet`], which only renames the shortcut's
//! `downsample.0`/`.1` to `downsample.conv`/`.bn`. The forward pass is inference only:
//! batch norm uses its running statistics.

use std::path::Path;

use burn::module::Initializer;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::pool::{AdaptiveAvgPool2d, AdaptiveAvgPool2dConfig, MaxPool2d, MaxPool2dConfig};
use burn::nn::{BatchNorm, BatchNormConfig, Linear, LinearConfig, PaddingConfig2d, Relu};
use burn::prelude::*;
use burn::tensor::activation::softmax;
use serde::{Deserialize, Serialize};

use super::cpu_conv::{conv2d, max_pool2d, Conv, ConvKernel, HostWeights};
use super::weights::{self, KeyMap, WeightsError, WeightsInfo};
use super::{check_input, run_batched, Backend, InputError};

/// A ResNet with basic blocks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ResNetConfig {
    /// Image channels (3 for RGB, 1 for a CT or X-ray window).
    #[serde(default = "default_in_channels")]
    pub in_channels: usize,
    /// Output classes; probabilities are a softmax over them.
    pub num_classes: usize,
    /// Channels of the first stage; stages double it (64 in ResNet-18).
    #[serde(default = "default_width")]
    pub width: usize,
    /// Basic blocks per stage ([2, 2, 2, 2] is ResNet-18).
    #[serde(default = "default_layers")]
    pub layers: [usize; 4],
}

fn default_in_channels() -> usize {
    3
}
fn default_width() -> usize {
    64
}
fn default_layers() -> [usize; 4] {
    [2, 2, 2, 2]
}

impl ResNetConfig {
    /// torchvision's `resnet18(num_classes=...)`.
    pub fn resnet18(num_classes: usize) -> ResNetConfig {
        ResNetConfig {
            in_channels: default_in_channels(),
            num_classes,
            width: default_width(),
            layers: default_layers(),
        }
    }

    /// The module with placeholder parameters, to be filled by [`ClassifierModel::load`].
    pub fn init(&self, device: &Device) -> ResNet {
        let w = self.width;
        let stage = |cin: usize, cout: usize, blocks: usize, stride: usize| -> Vec<BasicBlock> {
            (0..blocks)
                .map(|i| {
                    if i == 0 {
                        BasicBlock::new(cin, cout, stride, device)
                    } else {
                        BasicBlock::new(cout, cout, 1, device)
                    }
                })
                .collect()
        };
        ResNet {
            conv1: conv(self.in_channels, w, 7, 2, 3, device),
            bn1: BatchNormConfig::new(w).init(device),
            relu: Relu::new(),
            maxpool: MaxPool2dConfig::new([3, 3])
                .with_strides([2, 2])
                .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
                .init(),
            layer1: stage(w, w, self.layers[0], 1),
            layer2: stage(w, 2 * w, self.layers[1], 2),
            layer3: stage(2 * w, 4 * w, self.layers[2], 2),
            layer4: stage(4 * w, 8 * w, self.layers[3], 2),
            avgpool: AdaptiveAvgPool2dConfig::new([1, 1]).init(),
            fc: LinearConfig::new(8 * w, self.num_classes)
                .with_initializer(Initializer::Zeros)
                .init(device),
        }
    }
}

/// A square convolution without bias (every one in a ResNet is followed by batch norm).
/// Zero placeholders: the weights always come from a file.
fn conv(cin: usize, cout: usize, k: usize, stride: usize, pad: usize, device: &Device) -> Conv2d {
    Conv2dConfig::new([cin, cout], [k, k])
        .with_stride([stride, stride])
        .with_padding(PaddingConfig2d::Explicit(pad, pad, pad, pad))
        .with_bias(false)
        .with_initializer(Initializer::Zeros)
        .init(device)
}

/// The projection shortcut: 1x1 convolution with the block's stride, then batch norm.
#[derive(Module, Debug)]
pub struct Downsample {
    pub conv: Conv2d,
    pub bn: BatchNorm,
}

/// Two 3x3 convolutions with batch norm, added to the (projected) input.
#[derive(Module, Debug)]
pub struct BasicBlock {
    pub conv1: Conv2d,
    pub bn1: BatchNorm,
    pub conv2: Conv2d,
    pub bn2: BatchNorm,
    pub relu: Relu,
    pub downsample: Option<Downsample>,
}

impl BasicBlock {
    fn new(cin: usize, cout: usize, stride: usize, device: &Device) -> BasicBlock {
        let downsample = (stride != 1 || cin != cout).then(|| Downsample {
            conv: conv(cin, cout, 1, stride, 0, device),
            bn: BatchNormConfig::new(cout).init(device),
        });
        BasicBlock {
            conv1: conv(cin, cout, 3, stride, 1, device),
            bn1: BatchNormConfig::new(cout).init(device),
            conv2: conv(cout, cout, 3, 1, 1, device),
            bn2: BatchNormConfig::new(cout).init(device),
            relu: Relu::new(),
            downsample,
        }
    }

    fn forward(&self, x: Tensor<4>, k: Conv<'_>) -> Tensor<4> {
        let identity = match &self.downsample {
            Some(d) => d.bn.forward(conv2d(&d.conv, x.clone(), k)),
            None => x.clone(),
        };
        let out = self
            .relu
            .forward(self.bn1.forward(conv2d(&self.conv1, x, k)));
        let out = self.bn2.forward(conv2d(&self.conv2, out, k));
        self.relu.forward(out + identity)
    }
}

/// The network; field names are torchvision's.
#[derive(Module, Debug)]
pub struct ResNet {
    pub conv1: Conv2d,
    pub bn1: BatchNorm,
    pub relu: Relu,
    pub maxpool: MaxPool2d,
    pub layer1: Vec<BasicBlock>,
    pub layer2: Vec<BasicBlock>,
    pub layer3: Vec<BasicBlock>,
    pub layer4: Vec<BasicBlock>,
    pub avgpool: AdaptiveAvgPool2d,
    pub fc: Linear,
}

impl ResNet {
    /// Logits `[N, num_classes]` for images `[N, C, H, W]`, with burn's operations only (on
    /// any backend); [`ClassifierModel`] runs the CPU convolutions with attest's kernel.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<2> {
        self.forward_with(x, ConvKernel::Burn, &HostWeights::default())
    }

    /// [`ResNet::forward`] with a chosen convolution kernel and the host copies of the
    /// weights it needs.
    pub(crate) fn forward_with(
        &self,
        x: Tensor<4>,
        kernel: ConvKernel,
        weights: &HostWeights,
    ) -> Tensor<2> {
        let k = Conv { kernel, weights };
        let x = conv2d(&self.conv1, x, k);
        let x = self.relu.forward(self.bn1.forward(x));
        let mut x = max_pool2d(&self.maxpool, x, k);
        for block in self
            .layer1
            .iter()
            .chain(&self.layer2)
            .chain(&self.layer3)
            .chain(&self.layer4)
        {
            x = block.forward(x, k);
        }
        let x: Tensor<2> = self.avgpool.forward(x).flatten(1, 3);
        self.fc.forward(x)
    }
}

/// A ResNet classifier with its weights loaded, ready for batched inference.
#[derive(Debug, Clone)]
pub struct ClassifierModel {
    config: ResNetConfig,
    net: ResNet,
    device: Device,
    backend: Backend,
    weights: WeightsInfo,
    batch_size: usize,
    kernel: ConvKernel,
    host: HostWeights,
}

impl ClassifierModel {
    /// Builds the network described by `config` on the default CPU backend (flex) and loads
    /// its weights from `path` (safetensors, PyTorch state dict or burnpack), renaming the
    /// file's tensors with `key_map`. Every expected tensor must be present with its shape,
    /// as float32, and nothing else may be in the file.
    pub fn load(
        config: &ResNetConfig,
        path: &Path,
        key_map: &KeyMap,
    ) -> Result<ClassifierModel, WeightsError> {
        ClassifierModel::load_on(config, path, key_map, Backend::default())
    }

    /// [`ClassifierModel::load`] on a chosen backend.
    pub fn load_on(
        config: &ResNetConfig,
        path: &Path,
        key_map: &KeyMap,
        backend: Backend,
    ) -> Result<ClassifierModel, WeightsError> {
        let device = backend.device();
        let mut net = config.init(&device);
        let weights = weights::load_into(&mut net, path, key_map)?;
        let host = HostWeights::of(&net, &device);
        Ok(ClassifierModel {
            config: config.clone(),
            device,
            backend,
            weights,
            batch_size: 8,
            kernel: ConvKernel::default(),
            host,
            net,
        })
    }

    /// The convolution kernel: attest's on the CPU (default) or burn's everywhere.
    pub fn with_conv_kernel(mut self, kernel: ConvKernel) -> ClassifierModel {
        self.kernel = kernel;
        self
    }

    /// Images per forward pass in [`ClassifierModel::predict`] (default 8). Results do not
    /// depend on it.
    pub fn with_batch_size(mut self, batch_size: usize) -> ClassifierModel {
        self.batch_size = batch_size.max(1);
        self
    }

    pub fn config(&self) -> &ResNetConfig {
        &self.config
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The loaded file: path, format, SHA-256, tensor count, key map.
    pub fn weights(&self) -> &WeightsInfo {
        &self.weights
    }

    /// The network, for callers that work with tensors directly.
    pub fn net(&self) -> &ResNet {
        &self.net
    }

    /// Class probabilities (softmax of the logits), one vector of `num_classes` per image.
    /// `images` is `[N, C, H, W]` row-major, already normalised as the model was trained.
    pub fn predict(&self, images: &[f32], shape: [usize; 4]) -> Result<Vec<Vec<f32>>, InputError> {
        self.run(images, shape, true)
    }

    /// The logits before the softmax, one vector of `num_classes` per image.
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
        // Every strided layer is padded so that one pixel stays one pixel; only an empty
        // image cannot run.
        if h == 0 || w == 0 {
            return Err(InputError::Size {
                height: h,
                width: w,
                reason: "an image needs at least one pixel".to_string(),
            });
        }
        Ok(run_batched(
            &self.device,
            images,
            shape,
            self.batch_size,
            |x| {
                let logits = self.net.forward_with(x, self.kernel, &self.host);
                if probabilities {
                    softmax(logits, 1)
                } else {
                    logits
                }
            },
        ))
    }

    /// Writes the loaded weights as burnpack (`.bpk`), burn's own format, which
    /// [`ClassifierModel::load`] reads back with an identity key map.
    pub fn save_burnpack(&self, path: &Path) -> Result<(), WeightsError> {
        weights::save_burnpack(&self.net, path)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use burn::store::{BurnToPyTorchAdapter, ModuleSnapshot};
    use safetensors::tensor::TensorView;

    use super::*;

    /// Hand-set weights whose output follows by hand: every convolution is zero, so each
    /// batch norm (running mean 0, variance 1, scale 1) outputs its shift everywhere, and only
    /// the shifts, the residual additions, the ReLUs and the head remain. Width 1, one block
    /// per stage:
    /// - stem: relu(1.0) = 1.0 (max pooling a constant keeps it);
    /// - layer1 (no projection): relu(bn2 shift 0.5 + identity 1.0) = 1.5;
    /// - layer2..4 (projection, shift 0.25): relu(0.5 + 0.25) = 0.75, on 2, 4, 8 channels;
    /// - average pooling: 0.75 on each of 8 channels;
    /// - head [2, 8] (PyTorch layout) with rows of 1 and of -0.5, bias (0.1, 0.2): logits
    ///   8 * 0.75 + 0.1 = 6.1 and -0.5 * 8 * 0.75 + 0.2 = -2.8, exact in float32 (every
    ///   partial sum is a multiple of 0.375); probabilities 1 / (1 + e^-8.9) and the rest.
    #[test]
    fn hand_set_weights_give_the_hand_computed_output() {
        let config = ResNetConfig {
            in_channels: 1,
            num_classes: 2,
            width: 1,
            layers: [1, 1, 1, 1],
        };
        // The names and shapes a torchvision export of this model has.
        let layout =
            config
                .init(&Device::flex())
                .collect(None, Some(Box::new(BurnToPyTorchAdapter)), false);
        let mut tensors: BTreeMap<String, (Vec<usize>, Vec<f32>)> = BTreeMap::new();
        for t in layout {
            let shape = t.shape.to_vec();
            let name = t
                .name
                .replace("downsample.conv", "downsample.0")
                .replace("downsample.bn", "downsample.1");
            let value = if shape.len() > 1 {
                0.0 // convolutions
            } else if name.ends_with(".weight")
                || name.ends_with(".running_var")
                || name == "bn1.bias"
            {
                1.0
            } else if name.ends_with("downsample.1.bias") {
                0.25
            } else if name.ends_with("bn2.bias") {
                0.5
            } else {
                0.0
            };
            let n = shape.iter().product();
            tensors.insert(name, (shape, vec![value; n]));
        }
        let head = [[1.0f32; 8], [-0.5; 8]].concat();
        tensors.insert("fc.weight".into(), (vec![2, 8], head));
        tensors.insert("fc.bias".into(), (vec![2], vec![0.1, 0.2]));

        let bytes: BTreeMap<&String, Vec<u8>> = tensors
            .iter()
            .map(|(k, (_, v))| (k, v.iter().flat_map(|x| x.to_le_bytes()).collect()))
            .collect();
        let views = tensors.iter().map(|(k, (shape, _))| {
            let view = TensorView::new(safetensors::Dtype::F32, shape.clone(), &bytes[k]);
            (k.clone(), view.unwrap())
        });
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hand.safetensors");
        std::fs::write(&path, safetensors::serialize(views, None).unwrap()).unwrap();

        let image: Vec<f32> = (0..40).map(|i| i as f32 - 20.0).collect();
        let p0 = 1.0 / (1.0 + (-8.9f64).exp());
        for kernel in [ConvKernel::Auto, ConvKernel::Burn] {
            let model = ClassifierModel::load(&config, &path, &KeyMap::torchvision_resnet())
                .unwrap()
                .with_conv_kernel(kernel);
            assert_eq!(
                model.logits(&image, [1, 1, 5, 8]).unwrap(),
                vec![vec![6.1, -2.8]],
                "{kernel:?}"
            );
            let p = model.predict(&image, [1, 1, 5, 8]).unwrap();
            assert!((f64::from(p[0][0]) - p0).abs() < 1e-7, "{p:?}");
            assert!((f64::from(p[0][1]) - (1.0 - p0)).abs() < 1e-7, "{p:?}");
        }
    }
}
