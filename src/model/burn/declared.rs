//! A burn model as a spec declares it, and how it scores cases: each case's DICOM files go
//! through the declared image pipeline, the network runs on the prepared images in batches,
//! and the declared output rule turns the images' class probabilities into the case's score.
//!
//! The spec loader builds a [`BurnModelDecl`]; the runner calls [`load`] and then
//! [`score_cases`] (once for the run, again for a repeatability sample, and once per declared
//! perturbation for `model.robustness`). Documentation for users: `attest explain burn`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use rayon::prelude::*;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{
    Backend, ClassifierModel, KeyMap, ResNetConfig, SegmenterModel, UNetConfig, WeightsError,
    WeightsInfo,
};
use crate::data::masks::Geometry;
use crate::model::command::{Outcome, Request};
use crate::model::perturb::Perturbation;
use crate::model::pipeline::{self, PipelineConfig, Prepared};

/// Documentation for users (`attest explain burn`).
pub const DOC: &str = include_str!("burn.md");

/// The network, as the spec's `architecture:` names it: `{ resnet: { .. } }`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Architecture {
    /// A ResNet classifier with basic blocks (`attest explain burn`).
    Resnet(ResNetConfig),
    /// A 2D UNet segmenting each slice (`attest explain burn`).
    Unet(UNetConfig),
}

impl Architecture {
    /// The channels the network takes.
    pub fn in_channels(&self) -> usize {
        match self {
            Architecture::Resnet(c) => c.in_channels,
            Architecture::Unet(c) => c.in_channels,
        }
    }

    /// Whether the network gives masks (else case scores).
    pub fn segments(&self) -> bool {
        matches!(self, Architecture::Unet(_))
    }

    /// Problems with the configuration itself, as `(field, message)`.
    pub fn problems(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        match self {
            Architecture::Resnet(c) => {
                if c.num_classes < 2 {
                    out.push((
                        "resnet.num_classes".to_string(),
                        format!(
                            "is {}; a classifier's score is a softmax probability, which needs at least 2 classes",
                            c.num_classes
                        ),
                    ));
                }
                for (field, value) in [("in_channels", c.in_channels), ("width", c.width)] {
                    if value == 0 {
                        out.push((format!("resnet.{field}"), "must be at least 1".to_string()));
                    }
                }
                if c.layers.contains(&0) {
                    out.push((
                        "resnet.layers".to_string(),
                        format!(
                            "{:?}: every stage needs at least one block (a stage without blocks would not change the channel count the next stage expects)",
                            c.layers
                        ),
                    ));
                }
            }
            Architecture::Unet(c) => {
                for (field, value) in [
                    ("in_channels", c.in_channels),
                    ("out_channels", c.out_channels),
                    ("base_channels", c.base_channels),
                ] {
                    if value == 0 {
                        out.push((format!("unet.{field}"), "must be at least 1".to_string()));
                    }
                }
                if c.out_channels > 255 {
                    out.push((
                        "unet.out_channels".to_string(),
                        format!(
                            "is {}; a label map holds at most 255 classes",
                            c.out_channels
                        ),
                    ));
                }
                if c.depth > 8 {
                    out.push((
                        "unet.depth".to_string(),
                        format!(
                            "is {}; at most 8 poolings (images a multiple of 256 pixels)",
                            c.depth
                        ),
                    ));
                }
            }
        }
        out
    }

    /// The class count: the softmax's outputs, or 2 (background, foreground) for a UNet with
    /// one sigmoid output.
    pub fn classes(&self) -> usize {
        match self {
            Architecture::Resnet(c) => c.num_classes,
            Architecture::Unet(c) => c.out_channels.max(2),
        }
    }
}

/// How several images of one case combine into its score.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Aggregate {
    /// The largest image probability (a case is positive if any image is).
    Max,
    /// The mean of the image probabilities.
    Mean,
}

impl Aggregate {
    pub fn name(self) -> &'static str {
        match self {
            Aggregate::Max => "max",
            Aggregate::Mean => "mean",
        }
    }

    /// Combines `values` (not empty). The mean sums in input order, so it is deterministic.
    pub fn apply(self, values: &[f64]) -> f64 {
        match self {
            Aggregate::Max => values.iter().copied().fold(f64::NEG_INFINITY, f64::max),
            Aggregate::Mean => values.iter().sum::<f64>() / values.len() as f64,
        }
    }
}

/// A burn model declared in a spec: everything that decides its scores.
#[derive(Debug, Clone, PartialEq)]
pub struct BurnModelDecl {
    pub architecture: Architecture,
    pub weights: PathBuf,
    /// The SHA-256 the weights file must have (a locked model), when the spec pins one.
    pub weights_sha256: Option<String>,
    pub key_map: KeyMap,
    pub backend: Backend,
    pub batch_size: usize,
    pub pipeline: PipelineConfig,
    pub output: Output,
}

/// What the network's probabilities become.
#[derive(Debug, Clone, PartialEq)]
pub enum Output {
    /// A case score: the probability of `class` in each image, combined by `aggregate`.
    Score { class: usize, aggregate: Aggregate },
    /// A label map per case: each pixel's most probable class, or with one sigmoid output,
    /// 1 where the probability is at least `threshold`.
    Mask { threshold: f64 },
}

/// A loaded burn model, ready to score or segment cases.
#[derive(Debug)]
pub struct Loaded {
    net: Net,
    decl: BurnModelDecl,
}

#[derive(Debug)]
enum Net {
    Classifier(Box<ClassifierModel>),
    Segmenter(Box<SegmenterModel>),
}

/// Why a declared model could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error(transparent)]
    Weights(#[from] WeightsError),
    #[error(
        "the weights file {} has SHA-256 {found}, but the spec pins {expected}: this is not the locked model",
        path.display()
    )]
    Pin {
        path: PathBuf,
        expected: String,
        found: String,
    },
}

/// Builds the network and loads its weights under the strict policy; checks the pinned hash.
pub fn load(decl: &BurnModelDecl) -> Result<Loaded, LoadError> {
    let net = match &decl.architecture {
        Architecture::Resnet(config) => Net::Classifier(Box::new(
            ClassifierModel::load_on(config, &decl.weights, &decl.key_map, decl.backend)?
                .with_batch_size(decl.batch_size),
        )),
        Architecture::Unet(config) => Net::Segmenter(Box::new(
            SegmenterModel::load_on(config, &decl.weights, &decl.key_map, decl.backend)?
                .with_batch_size(decl.batch_size),
        )),
    };
    if let Some(expected) = &decl.weights_sha256 {
        let found = &net.weights().sha256;
        if !found.eq_ignore_ascii_case(expected) {
            return Err(LoadError::Pin {
                path: decl.weights.clone(),
                expected: expected.clone(),
                found: found.clone(),
            });
        }
    }
    Ok(Loaded {
        net,
        decl: decl.clone(),
    })
}

impl Net {
    fn weights(&self) -> &WeightsInfo {
        match self {
            Net::Classifier(m) => m.weights(),
            Net::Segmenter(m) => m.weights(),
        }
    }

    fn backend(&self) -> Backend {
        match self {
            Net::Classifier(m) => m.backend(),
            Net::Segmenter(m) => m.backend(),
        }
    }
}

/// A case's segmentation: class labels on the series' grid (x fastest).
#[derive(Debug, Clone, PartialEq)]
pub struct LabelMap {
    /// Columns, rows, slices.
    pub dims: [usize; 3],
    /// Column spacing, row spacing, slice step, mm.
    pub spacing: [f64; 3],
    /// The grid's place in the patient (LPS).
    pub geometry: Option<Geometry>,
    pub labels: Vec<u8>,
}

/// What identifies a model run, for the manifest and the report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Identity {
    /// The architecture as declared, defaults filled in.
    pub architecture: Architecture,
    pub weights: WeightsInfo,
    /// The pipeline's canonical JSON and its SHA-256.
    pub pipeline: serde_json::Value,
    pub pipeline_sha256: String,
    pub backend: &'static str,
    /// The arithmetic the network runs in.
    pub precision: &'static str,
    pub batch_size: usize,
    /// The output rule: which class's probability, and how images combine per case
    /// (`score`); or the threshold of a one-output segmenter (`mask`).
    pub output: serde_json::Value,
}

impl Loaded {
    pub fn identity(&self) -> Identity {
        let canonical = self.decl.pipeline.canonical_json();
        Identity {
            architecture: self.decl.architecture.clone(),
            weights: self.net.weights().clone(),
            pipeline: serde_json::from_str(&canonical).unwrap_or(serde_json::Value::Null),
            pipeline_sha256: self.decl.pipeline.sha256(),
            backend: self.net.backend().name(),
            precision: "float32",
            batch_size: self.decl.batch_size,
            output: match self.decl.output {
                Output::Score { class, aggregate } => serde_json::json!({
                    "kind": "score", "class": class, "aggregate": aggregate.name()
                }),
                Output::Mask { threshold } => serde_json::json!({
                    "kind": "mask",
                    "rule": if self.decl.architecture.classes() == 2 && matches!(&self.decl.architecture, Architecture::Unet(c) if c.out_channels == 1) {
                        format!("foreground where the sigmoid probability is at least {threshold}")
                    } else {
                        "each pixel's most probable class (the lowest index on a tie)".to_string()
                    }
                }),
            },
        }
    }

    /// Whether this network gives masks (else case scores).
    pub fn segments(&self) -> bool {
        matches!(self.net, Net::Segmenter(_))
    }

    /// Scores each request's case (one outcome per request, in order): its files are prepared
    /// (in parallel), run through the network in batches of images of one size, and their
    /// class probabilities combined. A case any of whose files cannot be prepared is not
    /// scored: a score from part of its images could miss what the rest show.
    ///
    /// With `perturbation`, each prepared image is perturbed first (`perturb`), seeded by
    /// `seed` and the file's name relative to `root`, so a rerun perturbs identically.
    pub fn score_cases(
        &self,
        requests: &[Request],
        root: &Path,
        perturbation: Option<(&Perturbation, u64)>,
        progress: &dyn Fn(usize),
    ) -> Vec<Outcome> {
        let (Net::Classifier(classifier), Output::Score { class, aggregate }) =
            (&self.net, &self.decl.output)
        else {
            let why = "a segmentation network gives masks, not case scores";
            return requests
                .iter()
                .map(|_| Outcome::Failed {
                    code: "model-unavailable",
                    message: why.to_string(),
                })
                .collect();
        };
        let (class, aggregate) = (*class, *aggregate);
        let files: Vec<PathBuf> = requests
            .iter()
            .flat_map(|r| r.files.iter().map(PathBuf::from))
            .collect();
        let prepared: Vec<Result<Prepared, String>> = files
            .par_iter()
            .map(|path| self.prepare(path, root, perturbation))
            .collect();
        // Images of one shape run together; results go back to their file's slot.
        let mut probability: Vec<Option<Result<f64, String>>> = vec![None; files.len()];
        let mut by_shape: BTreeMap<Vec<usize>, Vec<usize>> = BTreeMap::new();
        for (i, p) in prepared.iter().enumerate() {
            match p {
                Ok(p) => by_shape.entry(p.shape.clone()).or_default().push(i),
                Err(e) => probability[i] = Some(Err(e.clone())),
            }
        }
        let mut done = 0;
        for (shape, members) in &by_shape {
            for chunk in members.chunks(CHUNK) {
                let [c, h, w] = [shape[0], shape[1], shape[2]];
                let mut data = Vec::with_capacity(chunk.len() * c * h * w);
                for &i in chunk {
                    if let Ok(p) = &prepared[i] {
                        data.extend_from_slice(&p.data);
                    }
                }
                match classifier.predict(&data, [chunk.len(), c, h, w]) {
                    Ok(out) => {
                        for (&i, probs) in chunk.iter().zip(out) {
                            probability[i] = Some(match probs.get(class) {
                                Some(&x) if x.is_finite() => Ok(f64::from(x)),
                                Some(&x) => Err(format!("the network gave {x} for class {class}")),
                                None => Err(format!("the network gave {} classes", probs.len())),
                            });
                        }
                    }
                    Err(e) => {
                        for &i in chunk {
                            probability[i] = Some(Err(e.to_string()));
                        }
                    }
                }
                done += chunk.len();
                progress(done);
            }
        }
        let mut next = 0;
        requests
            .iter()
            .map(|r| {
                let mine = &probability[next..next + r.files.len()];
                next += r.files.len();
                combine(mine, aggregate)
            })
            .collect()
    }

    /// Segments each request's case: its files are assembled into one series by the pipeline
    /// (`volume: true`), every slice runs through the UNet, and each pixel gets its label
    /// (the output rule). A case whose series cannot be assembled, or which the network
    /// cannot take, is an error naming the reason; `progress` hears the cases done.
    pub fn segment_cases(
        &self,
        requests: &[Request],
        root: &Path,
        progress: &dyn Fn(usize),
    ) -> Vec<Result<LabelMap, (&'static str, String)>> {
        let (Net::Segmenter(unet), Output::Mask { threshold }) = (&self.net, &self.decl.output)
        else {
            let why = "a classifier gives case scores, not masks".to_string();
            return requests
                .iter()
                .map(|_| Err(("model-unavailable", why.clone())))
                .collect();
        };
        let mut out = Vec::with_capacity(requests.len());
        for (done, r) in requests.iter().enumerate() {
            out.push(self.segment(unet, *threshold, r, root));
            progress(done + 1);
        }
        out
    }

    fn segment(
        &self,
        unet: &SegmenterModel,
        threshold: f64,
        r: &Request,
        root: &Path,
    ) -> Result<LabelMap, (&'static str, String)> {
        let paths: Vec<PathBuf> = r.files.iter().map(PathBuf::from).collect();
        let v = pipeline::series(&paths, &self.decl.pipeline)
            .map_err(|e| ("model-input", described(&e, root)))?;
        let [c, z, h, w] = match v.shape[..] {
            [c, z, h, w] => [c, z, h, w],
            _ => {
                return Err((
                    "model-input",
                    "the pipeline did not give a volume".to_string(),
                ))
            }
        };
        let Some([dz, dy, dx]) = v
            .spacing_mm
            .as_deref()
            .and_then(|s| <[f64; 3]>::try_from(s).ok())
        else {
            return Err((
                "model-input",
                "the series states no Pixel Spacing or slice step; a mask needs its grid"
                    .to_string(),
            ));
        };
        // [C, Z, H, W] to batches of images [C, H, W]; each batch's probabilities become
        // labels before the next runs, so a long series never holds every slice's
        // probabilities at once.
        let plane = h * w;
        let per_batch = self.decl.batch_size.max(1);
        let mut labels = Vec::with_capacity(z * plane);
        for first in (0..z).step_by(per_batch) {
            let slices = per_batch.min(z - first);
            let mut batch = Vec::with_capacity(slices * c * plane);
            for k in first..first + slices {
                for ch in 0..c {
                    let at = (ch * z + k) * plane;
                    batch.extend_from_slice(&v.data[at..at + plane]);
                }
            }
            let probs = unet
                .predict(&batch, [slices, c, h, w])
                .map_err(|e| ("model-input", e.to_string()))?;
            for (offset, p) in probs.iter().enumerate() {
                label_slice(p, plane, threshold, first + offset, &mut labels)?;
            }
        }
        Ok(LabelMap {
            dims: [w, h, z],
            spacing: [dx, dy, dz],
            geometry: v.grid,
            labels,
        })
    }

    /// One file through the pipeline (and the perturbation), as a `[C, H, W]` image.
    fn prepare(
        &self,
        path: &Path,
        root: &Path,
        perturbation: Option<(&Perturbation, u64)>,
    ) -> Result<Prepared, String> {
        let shown = path.strip_prefix(root).unwrap_or(path);
        let prepared = match perturbation {
            None => pipeline::image(path, &self.decl.pipeline),
            Some((p, seed)) => {
                // `/`-separated, as the manifest names files, so every OS draws the same noise.
                let name = shown.to_string_lossy().replace('\\', "/");
                let file_seed = crate::model::perturb::file_seed(seed, &name);
                pipeline::image_perturbed(path, &self.decl.pipeline, p, file_seed)
            }
        };
        let prepared = prepared.map_err(|e| described(&e, root))?;
        if prepared.shape.len() != 3 {
            return Err(format!(
                "{}: the pipeline gave a {}-dimensional input; the classifier takes images",
                shown.display(),
                prepared.shape.len()
            ));
        }
        Ok(prepared)
    }
}

/// Appends one slice's labels from its `[classes, H, W]` probabilities: the most probable
/// class (the lowest index on a tie), or with one sigmoid output 1 where it is at least
/// `threshold`. A non-finite probability is an error naming the slice.
fn label_slice(
    p: &[f32],
    plane: usize,
    threshold: f64,
    slice: usize,
    labels: &mut Vec<u8>,
) -> Result<(), (&'static str, String)> {
    let classes = p.len() / plane.max(1);
    for i in 0..plane {
        let label = if classes == 1 {
            let x = p[i];
            if !x.is_finite() {
                return Err((
                    "model-input",
                    format!("slice {slice}: the network gave {x}"),
                ));
            }
            u8::from(f64::from(x) >= threshold)
        } else {
            let mut best = (0usize, f32::NEG_INFINITY);
            for ch in 0..classes {
                let x = p[ch * plane + i];
                if !x.is_finite() {
                    return Err((
                        "model-input",
                        format!("slice {slice}: the network gave {x} for class {ch}"),
                    ));
                }
                if x > best.1 {
                    best = (ch, x);
                }
            }
            best.0 as u8
        };
        labels.push(label);
    }
    Ok(())
}

/// A pipeline error for a finding: its code, and its message with file names relative to the
/// DICOM folder (as the manifest shows them), so the report does not depend on where the
/// data lie.
fn described(e: &crate::model::pipeline::PipelineError, root: &Path) -> String {
    let root = format!("{}/", root.display());
    format!("{}: {}", e.code(), e.to_string().replace(&root, ""))
}

/// A case's outcome from its images' probabilities (all present by now).
fn combine(images: &[Option<Result<f64, String>>], aggregate: Aggregate) -> Outcome {
    let mut values = Vec::with_capacity(images.len());
    for p in images {
        match p {
                Some(Ok(x)) => values.push(*x),
                Some(Err(e)) => {
                    return Outcome::Failed {
                        code: "model-input",
                        message: format!(
                            "{e}; the case is not scored (a score from part of its images could miss what the rest show)"
                        ),
                    }
                }
                None => {
                    return Outcome::Failed {
                        code: "model-input",
                        message: "an image was not run".to_string(),
                    }
                }
            }
    }
    if values.is_empty() {
        return Outcome::Failed {
            code: "no-images",
            message: "the case has no images".to_string(),
        };
    }
    Outcome::Score(aggregate.apply(&values))
}

/// Images per forward call between progress updates (the model batches within it).
const CHUNK: usize = 64;
