//! attest's own 2D convolution and max pooling for CPU (burn-flex) tensors: im2col in NCHW
//! order (Chellapilla, Puri and Simard 2006, the Caffe layout) and one matrix product per
//! image with the `gemm` crate, the same kernels burn-flex calls.
//!
//! Why it exists: burn-flex 0.22.1's convolution converts the input to NHWC, re-flattens the
//! weights and builds im2col tiles of 512 pixels on every call, then scatters each tile's
//! product back to NCHW one channel at a time, and its max pooling is scalar. On ResNet-18
//! (batch 8, 224x224, 2 threads) that made the classifier 2.0x slower than PyTorch; with
//! these kernels it is 1.2x slower (README, bench/burn). Here each im2col row is a single
//! contiguous copy from the image's zero-padded phase planes, and the product is written
//! straight into the NCHW output.
//!
//! Only what the models use: groups 1, dilation 1, square kernels and strides, symmetric
//! explicit or no padding. Anything else, and every non-CPU device, goes through burn's own
//! `Conv2d::forward` / `MaxPool2d::forward`; `ConvKernel::Burn` forces burn's everywhere.
//!
//! Determinism: images are spread over rayon's threads, one image per task, each product
//! single-threaded, so a result never depends on the thread count. A batch smaller than the
//! thread pool lets `gemm` split each product's columns instead; its reduction order over the
//! inner dimension does not change with that split (tests/burn_models.rs checks 1 against 2
//! threads bit for bit).

use std::cell::RefCell;
use std::collections::HashMap;
use std::mem::MaybeUninit;
use std::sync::Arc;

use burn::module::{ModuleVisitor, Param, ParamId};
use burn::nn::conv::Conv2d;
use burn::nn::pool::MaxPool2d;
use burn::nn::PaddingConfig2d;
use burn::prelude::*;
use rayon::prelude::*;

/// Which convolution a forward pass uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ConvKernel {
    /// attest's im2col + gemm on CPU tensors, burn's elsewhere.
    #[default]
    Auto,
    /// burn's `Conv2d::forward` everywhere (the reference; what a GPU backend runs).
    Burn,
}

/// Host copies of a model's convolution weights, made once after loading: reading a shared
/// parameter tensor back from burn copies it, which on ResNet-18 is 47 MB per forward pass.
/// Empty for a model that is not on the CPU, which turns attest's kernels off.
#[derive(Debug, Clone, Default)]
pub(crate) struct HostWeights(Arc<HashMap<ParamId, Vec<f32>>>);

impl HostWeights {
    /// Every 4-dimensional float parameter of `module` (the convolution weights), if the
    /// module lives on the CPU; empty (burn's convolution everywhere) otherwise.
    pub(crate) fn of<M: Module>(module: &M, device: &Device) -> HostWeights {
        struct Collect(HashMap<ParamId, Vec<f32>>);
        impl ModuleVisitor for Collect {
            fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
                if D == 4 {
                    if let Ok(v) = param.val().into_data().try_into_vec_as::<f32>() {
                        self.0.insert(param.id, v);
                    }
                }
            }
        }
        if *device != Device::flex() {
            return HostWeights::default();
        }
        let mut c = Collect(HashMap::new());
        module.visit(&mut c);
        HostWeights(Arc::new(c.0))
    }

    /// Whether the model these weights belong to runs on the CPU.
    fn on_cpu(&self) -> bool {
        !self.0.is_empty()
    }
}

/// How a forward pass runs its convolutions.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Conv<'a> {
    pub kernel: ConvKernel,
    pub weights: &'a HostWeights,
}

/// `conv.forward(x)`, computed by [`conv2d_nchw`] when `kernel` allows, the layer is
/// supported and its weights are in `weights` (so on the CPU).
pub(crate) fn conv2d(conv: &Conv2d, x: Tensor<4>, cx: Conv<'_>) -> Tensor<4> {
    let pad = match conv.padding {
        PaddingConfig2d::Valid => Some(0),
        PaddingConfig2d::Explicit(t, l, b, r) if t == l && t == b && t == r => Some(t),
        _ => None,
    };
    let [kh, kw] = conv.kernel_size;
    let host = cx.weights.0.get(&conv.weight.id);
    let xs: [usize; 4] = x.dims();
    let supported = cx.kernel == ConvKernel::Auto
        && conv.groups == 1
        && conv.dilation == [1, 1]
        && conv.stride[0] == conv.stride[1]
        && kh == kw
        && pad.is_some_and(|p| xs[2] + 2 * p >= kh && xs[3] + 2 * p >= kw);
    let (Some(pad), Some(w), true) = (pad, host, supported) else {
        return conv.forward(x);
    };
    let device = x.device();
    let ws: [usize; 4] = conv.weight.shape().dims();
    let x = x.into_data();
    let bias = conv.bias.as_ref().map(|b| b.val().into_data());
    let (out, shape) = conv2d_nchw(
        x.as_slice::<f32>().expect("float32 activations"),
        xs,
        w,
        ws,
        conv.stride[0],
        pad,
        bias.as_ref()
            .map(|b| b.as_slice::<f32>().expect("float32 bias")),
    );
    Tensor::from_data(TensorData::new(out, shape), &device)
}

/// Cross-correlation of `x` (`[N, C, H, W]`) with `w` (`[O, C, K, K]`), stride `stride`,
/// `pad` zeros on every side, plus `bias` per output channel: torch.nn.Conv2d's definition.
pub(crate) fn conv2d_nchw(
    x: &[f32],
    [n, c, h, wd]: [usize; 4],
    w: &[f32],
    [o, wc, k, _]: [usize; 4],
    stride: usize,
    pad: usize,
    bias: Option<&[f32]>,
) -> (Vec<f32>, [usize; 4]) {
    assert_eq!(c, wc, "input channels");
    let oh = (h + 2 * pad - k) / stride + 1;
    let ow = (wd + 2 * pad - k) / stride + 1;
    let (plane, col_rows, in_image) = (oh * ow, c * k * k, c * h * wd);
    if n == 0 || plane == 0 || o == 0 {
        return (Vec::new(), [n, o, oh, ow]);
    }
    // Every element is written below (by a product, or copied from one), so the buffer is
    // not zeroed first.
    let mut out: Vec<MaybeUninit<f32>> = Vec::with_capacity(n * o * plane);
    // SAFETY: MaybeUninit needs no initialisation.
    unsafe { out.set_len(n * o * plane) };
    let parallelism = if n < rayon::current_num_threads() {
        gemm::Parallelism::Rayon(0)
    } else {
        gemm::Parallelism::None
    };
    // dst (o x cols, row-major) = bias + w (o x col_rows) * rhs (col_rows x cols).
    let product = |dst: &mut [MaybeUninit<f32>], rhs: &[f32], cols: usize| {
        if let Some(b) = bias {
            for (row, v) in dst.chunks_exact_mut(cols).zip(b) {
                row.fill(MaybeUninit::new(*v));
            }
        }
        assert!(dst.len() == o * cols && w.len() == o * col_rows && rhs.len() == col_rows * cols);
        // SAFETY: the three matrices are contiguous, row-major, of exactly the lengths
        // asserted above, and dst aliases neither operand.
        unsafe {
            gemm::gemm(
                o,
                cols,
                col_rows,
                dst.as_mut_ptr().cast::<f32>(),
                1,
                cols as isize,
                bias.is_some(),
                w.as_ptr(),
                1,
                col_rows as isize,
                rhs.as_ptr(),
                1,
                cols as isize,
                1.0,
                1.0,
                false,
                false,
                false,
                parallelism,
            );
        }
    };
    let one = |(image, dst): (&[f32], &mut [MaybeUninit<f32>])| {
        if k == 1 && stride == 1 && pad == 0 {
            // A 1x1 convolution multiplies the image as it is.
            return product(dst, image, plane);
        }
        // The thread's buffer is taken, not borrowed: a parallel product may run another
        // image's task on this thread meanwhile, which then allocates its own.
        let mut scratch = SCRATCH.with_borrow_mut(std::mem::take);
        // Phase-plane im2col. Zero-pad the image to hp x wp and split it into stride x stride
        // phase planes, phase (a, b) holding padded[u * stride + a][v * stride + b] on a
        // grid of hq x wq. The input under tap (i, j) for output pixel (y, x) is then
        // phase (i % stride, j % stride) at (y + i / stride, x + j / stride): every im2col
        // row is one contiguous copy of oh * wq values, read at a fixed offset. The product
        // has wq - ow extra columns per output row, dropped when it is copied out.
        let (hp, wp) = (h + 2 * pad, wd + 2 * pad);
        let (hq, wq) = (hp.div_ceil(stride), wp.div_ceil(stride));
        let phases = stride.min(k);
        let phase_len = c * hq * wq;
        let cols = oh * wq;
        // The last taps' rows read up to (k - 1) / stride values past their plane.
        let planes_len = phases * phases * phase_len + k;
        grow(&mut scratch, planes_len + col_rows * cols + o * cols);
        let (planes, rest) = scratch.split_at_mut(planes_len);
        let (col, wide) = rest.split_at_mut(col_rows * cols);
        let wide = &mut wide[..o * cols];
        phase_planes(image, [c, h, wd], pad, stride, phases, [hq, wq], planes);
        for ci in 0..c {
            for i in 0..k {
                for j in 0..k {
                    let row = (ci * k + i) * k + j;
                    let phase = (i % stride) * phases + j % stride;
                    let from = phase * phase_len + ci * hq * wq + (i / stride) * wq + j / stride;
                    col[row * cols..(row + 1) * cols].copy_from_slice(&planes[from..from + cols]);
                }
            }
        }
        // SAFETY: f32 and MaybeUninit<f32> have the same layout; the product writes it.
        let wide_uninit: &mut [MaybeUninit<f32>] =
            unsafe { std::slice::from_raw_parts_mut(wide.as_mut_ptr().cast(), wide.len()) };
        product(wide_uninit, col, cols);
        for (dst_row, src_row) in dst.chunks_exact_mut(ow).zip(wide.chunks_exact(wq)) {
            for (d, s) in dst_row.iter_mut().zip(src_row) {
                *d = MaybeUninit::new(*s);
            }
        }
        SCRATCH.with_borrow_mut(|s| {
            if s.len() < scratch.len() {
                *s = scratch;
            }
        });
    };
    x.par_chunks_exact(in_image)
        .zip(out.par_chunks_exact_mut(o * plane))
        .for_each(one);
    // SAFETY: every element was written above.
    let out = unsafe {
        let mut out = std::mem::ManuallyDrop::new(out);
        Vec::from_raw_parts(out.as_mut_ptr().cast::<f32>(), out.len(), out.capacity())
    };
    (out, [n, o, oh, ow])
}

thread_local! {
    /// Each rayon thread's working memory (padded image, im2col matrix, wide product),
    /// reused across calls; about 9 MB for ResNet-18 at 224x224.
    static SCRATCH: RefCell<Vec<f32>> = const { RefCell::new(Vec::new()) };
}

/// Grows `v` to at least `len` values. New values are zero, old ones are left as they are:
/// every caller writes what it then reads.
fn grow(v: &mut Vec<f32>, len: usize) {
    if v.len() < len {
        v.resize(len, 0.0);
    }
}

/// Writes the `phases` x `phases` phase planes of `image` (`[c, h, w]`) zero-padded by
/// `pad`: plane (a, b), channel ci, at (u, v) holds padded[u * stride + a][v * stride + b],
/// zero outside the padded image; planes are `[c, hq, wq]`, one after the other, and the
/// tail of `out` after them is zeroed.
fn phase_planes(
    image: &[f32],
    [c, h, w]: [usize; 3],
    pad: usize,
    stride: usize,
    phases: usize,
    [hq, wq]: [usize; 2],
    out: &mut [f32],
) {
    let plane = hq * wq;
    for a in 0..phases {
        for b in 0..phases {
            let base = (a * phases + b) * c * plane;
            for ci in 0..c {
                let dst = &mut out[base + ci * plane..base + (ci + 1) * plane];
                let src = &image[ci * h * w..(ci + 1) * h * w];
                for u in 0..hq {
                    let row = &mut dst[u * wq..(u + 1) * wq];
                    // Padded row u * stride + a is image row u * stride + a - pad.
                    let y = (u * stride + a).wrapping_sub(pad);
                    if y >= h {
                        row.fill(0.0);
                        continue;
                    }
                    let src_row = &src[y * w..(y + 1) * w];
                    // Padded column v * stride + b is image column v * stride + b - pad,
                    // inside the image for v in v_lo..v_hi.
                    let v_lo = pad.saturating_sub(b).div_ceil(stride).min(wq);
                    let v_hi = if w + pad > b {
                        ((w + pad - b - 1) / stride + 1).min(wq)
                    } else {
                        0
                    }
                    .max(v_lo);
                    row[..v_lo].fill(0.0);
                    row[v_hi..].fill(0.0);
                    if v_lo < v_hi {
                        let first = v_lo * stride + b - pad;
                        if stride == 1 {
                            row[v_lo..v_hi].copy_from_slice(&src_row[first..first + v_hi - v_lo]);
                        } else {
                            for (d, s) in row[v_lo..v_hi]
                                .iter_mut()
                                .zip(src_row[first..].iter().step_by(stride))
                            {
                                *d = *s;
                            }
                        }
                    }
                }
            }
        }
    }
    out[phases * phases * c * plane..].fill(0.0);
}

/// `pool.forward(x)` computed here on the CPU (burn-flex 0.22.1's max pooling is scalar and
/// took 14% of a ResNet-18 forward pass), burn's elsewhere. Supported: no dilation, floor
/// mode, symmetric padding of at most half the kernel, which counts as minus infinity
/// (PyTorch's definition); NaN propagates as in PyTorch.
pub(crate) fn max_pool2d(pool: &MaxPool2d, x: Tensor<4>, cx: Conv<'_>) -> Tensor<4> {
    let pad = match pool.padding {
        PaddingConfig2d::Valid => Some(0),
        PaddingConfig2d::Explicit(t, l, b, r) if t == l && t == b && t == r => Some(t),
        _ => None,
    };
    let [k, kw] = pool.kernel_size;
    let [s, sw] = pool.stride;
    let supported = cx.kernel == ConvKernel::Auto
        && cx.weights.on_cpu()
        && k == kw
        && s == sw
        && pool.dilation == [1, 1]
        && !pool.ceil_mode;
    let (Some(pad), true) = (pad, supported) else {
        return pool.forward(x);
    };
    let [n, c, h, w] = x.dims();
    if h + 2 * pad < k || w + 2 * pad < k || pad > k / 2 {
        return pool.forward(x);
    }
    let (oh, ow) = ((h + 2 * pad - k) / s + 1, (w + 2 * pad - k) / s + 1);
    let device = x.device();
    let data = x.into_data();
    let input = data.as_slice::<f32>().expect("float32 activations");
    let mut out = vec![0.0f32; n * c * oh * ow];
    let nan_max = |a: f32, b: f32| if b > a || b.is_nan() { b } else { a };
    input
        .par_chunks_exact(h * w)
        .zip(out.par_chunks_exact_mut(oh * ow))
        .for_each(|(src, dst)| {
            let mut rows = vec![f32::NEG_INFINITY; w];
            for y in 0..oh {
                // Column-wise maximum over the window's rows, then over each window's columns.
                rows.fill(f32::NEG_INFINITY);
                let y0 = (y * s).saturating_sub(pad);
                let y1 = (y * s + k - pad).min(h);
                for iy in y0..y1 {
                    for (m, v) in rows.iter_mut().zip(&src[iy * w..(iy + 1) * w]) {
                        *m = nan_max(*m, *v);
                    }
                }
                for (x, d) in dst[y * ow..(y + 1) * ow].iter_mut().enumerate() {
                    let x0 = (x * s).saturating_sub(pad);
                    let x1 = (x * s + k - pad).min(w);
                    *d = rows[x0..x1]
                        .iter()
                        .fold(f32::NEG_INFINITY, |m, v| nan_max(m, *v));
                }
            }
        });
    Tensor::from_data(TensorData::new(out, [n, c, oh, ow]), &device)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Direct evaluation of the definition, in f64.
    fn naive(
        x: &[f32],
        [n, c, h, w]: [usize; 4],
        wt: &[f32],
        [o, _, k, _]: [usize; 4],
        stride: usize,
        pad: usize,
    ) -> Vec<f64> {
        let oh = (h + 2 * pad - k) / stride + 1;
        let ow = (w + 2 * pad - k) / stride + 1;
        let mut out = vec![0.0; n * o * oh * ow];
        for b in 0..n {
            for oc in 0..o {
                for y in 0..oh {
                    for xo in 0..ow {
                        let mut s = 0.0f64;
                        for ci in 0..c {
                            for i in 0..k {
                                for j in 0..k {
                                    let iy = (y * stride + i) as isize - pad as isize;
                                    let ix = (xo * stride + j) as isize - pad as isize;
                                    if iy < 0 || ix < 0 || iy >= h as isize || ix >= w as isize {
                                        continue;
                                    }
                                    let xv = x[((b * c + ci) * h + iy as usize) * w + ix as usize];
                                    let wv = wt[((oc * c + ci) * k + i) * k + j];
                                    s += f64::from(xv) * f64::from(wv);
                                }
                            }
                        }
                        out[((b * o + oc) * oh + y) * ow + xo] = s;
                    }
                }
            }
        }
        out
    }

    #[test]
    fn matches_the_definition_for_every_stride_padding_and_kernel() {
        let values = |n: usize, seed: u32| -> Vec<f32> {
            (0..n)
                .map(|i| {
                    ((i as u32).wrapping_mul(2654435761).wrapping_add(seed) % 1000) as f32 / 500.0
                        - 1.0
                })
                .collect()
        };
        for (k, stride, pad, h, w) in [
            (3, 1, 1, 7, 5),
            (3, 2, 1, 7, 6),
            (7, 2, 3, 11, 9),
            (1, 1, 0, 4, 3),
            (1, 2, 0, 5, 5),
            (3, 1, 0, 3, 3),
            (3, 3, 2, 4, 8),
            (5, 1, 4, 2, 3),
        ] {
            let (n, c, o) = (3, 2, 4);
            let xs = [n, c, h, w];
            let ws = [o, c, k, k];
            let x = values(n * c * h * w, 1);
            let wt = values(o * c * k * k, 7);
            let (got, shape) = conv2d_nchw(&x, xs, &wt, ws, stride, pad, None);
            let want = naive(&x, xs, &wt, ws, stride, pad);
            assert_eq!(got.len(), want.len(), "k{k} s{stride} p{pad}");
            assert_eq!(shape[0] * shape[1] * shape[2] * shape[3], want.len());
            for (g, e) in got.iter().zip(&want) {
                assert!(
                    (f64::from(*g) - e).abs() < 1e-5,
                    "k{k} s{stride} p{pad}: {g} vs {e}"
                );
            }
        }
    }

    #[test]
    fn max_pooling_equals_burns() {
        use burn::nn::pool::MaxPool2dConfig;
        let on_cpu = HostWeights(Arc::new(HashMap::from([(ParamId::new(), Vec::new())])));
        let cx = Conv {
            kernel: ConvKernel::Auto,
            weights: &on_cpu,
        };
        let device = Device::flex();
        for (k, s, p, h, w) in [
            (3, 2, 1, 9, 8),
            (2, 2, 0, 8, 6),
            (3, 1, 1, 5, 7),
            (3, 2, 1, 1, 1),
        ] {
            let pool = MaxPool2dConfig::new([k, k])
                .with_strides([s, s])
                .with_padding(PaddingConfig2d::Explicit(p, p, p, p))
                .init();
            let n = 2 * 3 * h * w;
            let values: Vec<f32> = (0..n)
                .map(|i| ((i as u32).wrapping_mul(2654435761) % 997) as f32 - 498.0)
                .collect();
            let x = Tensor::<4>::from_data(TensorData::new(values, [2, 3, h, w]), &device);
            let ours = max_pool2d(&pool, x.clone(), cx).into_data();
            let theirs = pool.forward(x).into_data();
            assert_eq!(ours.shape(), theirs.shape(), "k{k} s{s} p{p}");
            assert_eq!(
                ours.as_slice::<f32>().unwrap(),
                theirs.as_slice::<f32>().unwrap(),
                "k{k} s{s} p{p}"
            );
        }
    }
}
