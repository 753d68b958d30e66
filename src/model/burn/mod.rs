//! Models that attest runs in-process with burn 0.22: a ResNet-family classifier
//! ([`resnet`]) and a 2D UNet ([`unet`]), their weights read at run time from safetensors,
//! PyTorch state-dict or burnpack files with a declared key map and a strict policy
//! ([`weights`]), and batched inference returning probabilities; [`train`] trains the
//! classifier on the CPU (the committed `models/nodule-cnn`).
//!
//! Convolutions and max pooling on the CPU run attest's own kernels (`cpu_conv`: ResNet-18
//! inference 1.7x faster than with burn-flex's, README); everything else, and every other
//! device, is burn's.
//!
//! The backend is chosen here and only here. burn 0.22 tensors carry no backend type; the
//! [`Device`] a tensor lives on decides. The CPU default is burn-flex (pure Rust, gemm
//! kernels, SIMD, rayon), built into every attest binary. burn-ndarray (deprecated
//! upstream), wgpu and cuda are cargo features that no test needs. The device is always
//! constructed explicitly: `Device::default()` would move to a GPU as soon as a GPU feature
//! is compiled in, and would obey the `BURN_DEVICE` environment variable, so a report could
//! silently change backend.

mod cpu_conv;
pub mod declared;
pub mod resnet;
pub mod train;
pub mod unet;
pub mod weights;

pub use cpu_conv::ConvKernel;
pub use resnet::{ClassifierModel, ResNet, ResNetConfig};
pub use unet::{SegmenterModel, UNet, UNetConfig};
pub use weights::{KeyMap, WeightsError, WeightsFormat, WeightsInfo};

use burn::prelude::*;

/// Where a model's tensors live and its kernels run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Backend {
    /// burn-flex on the CPU: the default, and the only backend the tests use.
    #[default]
    Flex,
    /// burn-ndarray on the CPU: deprecated upstream since burn 0.22; kept behind the
    /// `ndarray` feature only to measure it against flex (`bench/burn`).
    #[cfg(feature = "ndarray")]
    NdArray,
    /// The first wgpu adapter (Vulkan, Metal, DX12 or WebGPU), behind the `wgpu` feature.
    #[cfg(feature = "wgpu")]
    Wgpu,
    /// CUDA device 0, behind the `cuda` feature.
    #[cfg(feature = "cuda")]
    Cuda,
}

impl Backend {
    /// The name of every backend attest knows, compiled in or not (specs may name any; naming
    /// one this build lacks is a spec error).
    pub const NAMES: &'static [&'static str] = &["flex", "ndarray", "wgpu", "cuda"];

    /// Every backend compiled into this binary, the default first.
    pub fn available() -> Vec<Backend> {
        vec![
            Backend::Flex,
            #[cfg(feature = "ndarray")]
            Backend::NdArray,
            #[cfg(feature = "wgpu")]
            Backend::Wgpu,
            #[cfg(feature = "cuda")]
            Backend::Cuda,
        ]
    }

    /// The name used in specs, reports and `bench/burn` (`flex`, `ndarray`, `wgpu`, `cuda`).
    pub fn name(self) -> &'static str {
        match self {
            Backend::Flex => "flex",
            #[cfg(feature = "ndarray")]
            Backend::NdArray => "ndarray",
            #[cfg(feature = "wgpu")]
            Backend::Wgpu => "wgpu",
            #[cfg(feature = "cuda")]
            Backend::Cuda => "cuda",
        }
    }

    /// The backend with this name, if it is compiled in.
    pub fn from_name(name: &str) -> Option<Backend> {
        Backend::available().into_iter().find(|b| b.name() == name)
    }

    /// The device to build a model on.
    pub fn device(self) -> Device {
        match self {
            Backend::Flex => Device::flex(),
            #[cfg(feature = "ndarray")]
            #[allow(deprecated)] // measured against flex on purpose (bench/burn)
            Backend::NdArray => Device::ndarray(),
            #[cfg(feature = "wgpu")]
            Backend::Wgpu => Device::wgpu(DeviceKind::default()),
            #[cfg(feature = "cuda")]
            Backend::Cuda => Device::cuda(0),
        }
    }
}

/// An input batch that does not fit the model; nothing was run.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum InputError {
    /// The slice holds a different number of values than `shape` says.
    #[error("input holds {found} values, but shape {shape:?} needs {expected}")]
    Length {
        shape: [usize; 4],
        expected: usize,
        found: usize,
    },
    /// The channel count differs from the model's `in_channels`.
    #[error("input has {found} channels, the model expects {expected}")]
    Channels { expected: usize, found: usize },
    /// Height or width is unusable for this architecture.
    #[error("input of {height}x{width} pixels: {reason}")]
    Size {
        height: usize,
        width: usize,
        reason: String,
    },
}

/// Checks a `[N, C, H, W]` batch against its slice and the model's channel count.
fn check_input(images: &[f32], shape: [usize; 4], in_channels: usize) -> Result<(), InputError> {
    let expected = shape.iter().product::<usize>();
    if images.len() != expected {
        return Err(InputError::Length {
            shape,
            expected,
            found: images.len(),
        });
    }
    if shape[1] != in_channels {
        return Err(InputError::Channels {
            expected: in_channels,
            found: shape[1],
        });
    }
    Ok(())
}

/// Runs `forward` over `images` (`[N, C, H, W]`, row-major) `batch_size` images at a time and
/// returns one output vector per image, in input order.
///
/// Batches are independent: each image's result is the same whatever else shares its batch
/// (eval-mode batch norm uses running statistics; `tests/burn_models.rs` checks this).
fn run_batched<const D: usize>(
    device: &Device,
    images: &[f32],
    shape: [usize; 4],
    batch_size: usize,
    forward: impl Fn(Tensor<4>) -> Tensor<D>,
) -> Vec<Vec<f32>> {
    let [n, c, h, w] = shape;
    let per_image = c * h * w;
    let mut out = Vec::with_capacity(n);
    let mut start = 0;
    while start < n {
        let take = batch_size.max(1).min(n - start);
        let slice = &images[start * per_image..(start + take) * per_image];
        let x = Tensor::<4>::from_data(TensorData::new(slice.to_vec(), [take, c, h, w]), device);
        let y = forward(x);
        let per_out = y.shape().num_elements() / take;
        let values = y
            .into_data()
            .try_into_vec_as::<f32>()
            .expect("a float tensor converts to f32");
        out.extend(values.chunks(per_out).map(<[f32]>::to_vec));
        start += take;
    }
    out
}
