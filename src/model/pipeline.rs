//! The image pipeline of models attest executes itself: from DICOM pixel data to the tensor a
//! model takes. A [`PipelineConfig`] declares the steps (it is part of the spec's model section
//! and its [`sha256`](PipelineConfig::sha256) goes in the manifest); [`image`], [`series`] and
//! [`batch`] run it. Every failure is a typed [`PipelineError`] naming the file, never a panic.
//!
#![doc = include_str!("pipeline.md")]

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};

use dicom_core::Tag;
use dicom_dictionary_std::tags;
use dicom_encoding::transfer_syntax::TransferSyntaxIndex;
use dicom_object::DefaultDicomObject;
use dicom_pixeldata::PixelDecoder;
use dicom_transfer_syntax_registry::TransferSyntaxRegistry;
use rayon::prelude::*;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::data::dicom_index::{error_chain, parse_full, part10_body};
use crate::data::masks::Geometry;
use crate::model::perturb::{self, Perturbation};

/// The pipeline's documentation for users (`attest explain pipeline`).
pub const DOC: &str = include_str!("pipeline.md");

/// Version of the pipeline's definition, part of the canonical JSON: a change to what any step
/// computes bumps it, so an old manifest's hash never names the new behaviour.
pub const PIPELINE_VERSION: u32 = 1;

/// The largest output side (rows or columns after resampling) the pipeline accepts.
pub const MAX_SIDE: u32 = 16_384;

/// The largest number of output values (channels × slices × rows × columns): 2^30 `f32`, 4 GiB.
pub const MAX_OUTPUT_VALUES: u64 = 1 << 30;

/// Orientation cosines of two slices agree when no component differs by more than this.
pub const ORIENTATION_TOLERANCE: f64 = 1e-4;

/// Pixel spacings of two slices agree when neither value differs by more than this, in mm.
pub const PIXEL_SPACING_TOLERANCE_MM: f64 = 1e-4;

/// Two slices closer than this along the normal, in mm, are at the same position.
pub const DUPLICATE_TOLERANCE_MM: f64 = 1e-3;

/// A slice step deviates from the series' median step when it differs by more than
/// `GAP_RELATIVE × median + GAP_ABSOLUTE_MM`.
pub const GAP_RELATIVE: f64 = 0.01;
/// See [`GAP_RELATIVE`].
pub const GAP_ABSOLUTE_MM: f64 = 0.01;

// ---------------------------------------------------------------------------------------------
// Configuration
// ---------------------------------------------------------------------------------------------

/// The declared preprocessing of a model's input images. Every step's definition is in the
/// module documentation; the steps run in a fixed order whatever the order of the keys.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PipelineConfig {
    /// VOI window to [0, 1] (PS3.3 C.11.2.1.2.1); none: modality values pass unchanged.
    #[serde(default)]
    pub window: Option<Window>,
    /// Bilinear resampling to a size or a pixel spacing (in-plane for volumes).
    #[serde(default)]
    pub resample: Option<Resample>,
    /// `(x − mean[c]) / std[c]` per output channel, after channel replication.
    #[serde(default)]
    pub normalise: Option<Normalise>,
    /// 1 (grey) or 3 (grey replicated to three identical channels).
    #[serde(default = "one_channel")]
    pub channels: u8,
    /// Assemble a series (a folder of single-frame files) into a volume instead of reading one
    /// image per file.
    #[serde(default)]
    pub volume: bool,
    /// Which frame of a multi-frame file is the image (0-based; single images only).
    #[serde(default)]
    pub frame: u32,
}

fn one_channel() -> u8 {
    1
}

impl Default for PipelineConfig {
    /// The modality LUT alone, one channel, single images, frame 0.
    fn default() -> Self {
        PipelineConfig {
            window: None,
            resample: None,
            normalise: None,
            channels: 1,
            volume: false,
            frame: 0,
        }
    }
}

/// `{center, width}` given explicitly, or `{from_file: true}` for each file's first Window
/// Center and Window Width values.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Window {
    /// Window Center in modality units (HU for CT).
    #[serde(default)]
    pub center: Option<f64>,
    /// Window Width in modality units, at least 1.
    #[serde(default)]
    pub width: Option<f64>,
    /// Take center and width from (0028,1050) and (0028,1051), first value of each.
    #[serde(default)]
    pub from_file: bool,
}

/// `{size: [rows, columns]}` or `{spacing_mm: [row spacing, column spacing]}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Resample {
    /// Output rows and columns.
    #[serde(default)]
    pub size: Option<[u32; 2]>,
    /// Output pixel spacing in mm, in Pixel Spacing's order: between rows, between columns.
    #[serde(default)]
    pub spacing_mm: Option<[f64; 2]>,
}

/// Per-channel mean and standard deviation: one value for every channel or one per channel.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Normalise {
    /// Subtracted from each output channel.
    #[serde(deserialize_with = "one_or_many")]
    #[schemars(with = "OneOrMany")]
    pub mean: Vec<f64>,
    /// Divides each output channel; every value > 0.
    #[serde(deserialize_with = "one_or_many")]
    #[schemars(with = "OneOrMany")]
    pub std: Vec<f64>,
}

/// A number or a list of numbers.
#[derive(Deserialize, JsonSchema)]
#[serde(untagged)]
#[allow(dead_code)] // only its schema and its deserialisation are used
enum OneOrMany {
    One(f64),
    Many(Vec<f64>),
}

fn one_or_many<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<f64>, D::Error> {
    Ok(match OneOrMany::deserialize(d)? {
        OneOrMany::One(x) => vec![x],
        OneOrMany::Many(v) => v,
    })
}

/// One problem with a pipeline configuration: the field (dotted path) and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigProblem {
    pub field: &'static str,
    pub message: String,
}

impl std::fmt::Display for ConfigProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "`{}`: {}", self.field, self.message)
    }
}

impl PipelineConfig {
    /// Every problem with the configuration (empty when it can run), all at once.
    pub fn validate(&self) -> Vec<ConfigProblem> {
        let mut out = Vec::new();
        let mut bad = |field, message: String| out.push(ConfigProblem { field, message });
        if let Some(w) = &self.window {
            match (w.from_file, w.center, w.width) {
                (true, None, None) => {}
                (true, _, _) => bad(
                    "window.from_file",
                    "give `center` and `width`, or `from_file: true`, not both".into(),
                ),
                (false, c, wd) => {
                    match c {
                        None => bad("window.center", "missing (or set `from_file: true`)".into()),
                        Some(c) if !c.is_finite() => bad("window.center", "not a number".into()),
                        Some(_) => {}
                    }
                    match wd {
                        None => bad("window.width", "missing (or set `from_file: true`)".into()),
                        Some(x) if !(x >= 1.0 && x.is_finite()) => bad(
                            "window.width",
                            format!("{x} is below 1 (PS3.3 C.11.2.1.2.1 requires width >= 1)"),
                        ),
                        Some(_) => {}
                    }
                }
            }
        }
        if let Some(r) = &self.resample {
            match (r.size, r.spacing_mm) {
                (Some(_), Some(_)) | (None, None) => bad(
                    "resample",
                    "give exactly one of `size: [rows, columns]` or `spacing_mm: [dy, dx]`".into(),
                ),
                (Some(size), None) => {
                    if size.iter().any(|&n| n == 0 || n > MAX_SIDE) {
                        bad(
                            "resample.size",
                            format!("{size:?}: each side must be 1 to {MAX_SIDE}"),
                        );
                    }
                }
                (None, Some(sp)) => {
                    if sp.iter().any(|&x| !(x > 0.0 && x.is_finite())) {
                        bad(
                            "resample.spacing_mm",
                            format!("{sp:?}: each spacing must be > 0"),
                        );
                    }
                }
            }
        }
        if !matches!(self.channels, 1 | 3) {
            bad("channels", format!("{}: must be 1 or 3", self.channels));
        }
        if let Some(n) = &self.normalise {
            let c = usize::from(self.channels);
            for (field, v) in [("normalise.mean", &n.mean), ("normalise.std", &n.std)] {
                if v.len() != 1 && v.len() != c {
                    bad(
                        field,
                        format!("{} values: give one, or one per channel ({c})", v.len()),
                    );
                }
                if v.iter().any(|x| !x.is_finite()) {
                    bad(field, "not a number".into());
                }
            }
            if n.std.iter().any(|&x| x <= 0.0) {
                bad(
                    "normalise.std",
                    format!("{:?}: every value must be > 0", n.std),
                );
            }
        }
        if self.volume && self.frame != 0 {
            bad(
                "frame",
                "applies to single images; a volume is assembled from single-frame files".into(),
            );
        }
        out
    }

    /// The configuration as canonical JSON: every field present (absent options as `null`),
    /// keys sorted, numbers as serde_json writes `f64` (shortest round-trip form, `-0` as `0`),
    /// no whitespace, with `pipeline_version` ([`PIPELINE_VERSION`]). Two configurations that
    /// run the same pipeline have the same canonical JSON, however they were written
    /// (`40` or `40.0`, a scalar `mean` or a list of one, keys in any order).
    pub fn canonical_json(&self) -> String {
        // Built by hand, keys inserted in sorted order, so the text does not depend on
        // serde_json's map type (a BTreeMap, or an IndexMap under `preserve_order`).
        let num = |x: f64| {
            let x = if x == 0.0 { 0.0 } else { x };
            serde_json::Number::from_f64(x).map_or(Value::Null, Value::Number)
        };
        let opt = |x: Option<f64>| x.map_or(Value::Null, num);
        let list = |v: &[f64]| Value::Array(v.iter().map(|&x| num(x)).collect());
        let object = |pairs: Vec<(&str, Value)>| {
            let mut m = Map::new();
            for (k, v) in pairs {
                m.insert(k.to_string(), v);
            }
            Value::Object(m)
        };
        let window = self.window.as_ref().map_or(Value::Null, |w| {
            object(vec![
                ("center", opt(w.center)),
                ("from_file", Value::Bool(w.from_file)),
                ("width", opt(w.width)),
            ])
        });
        let resample = self.resample.as_ref().map_or(Value::Null, |r| {
            object(vec![
                (
                    "size",
                    r.size.map_or(Value::Null, |s| {
                        Value::Array(s.iter().map(|&n| Value::from(n)).collect())
                    }),
                ),
                ("spacing_mm", r.spacing_mm.map_or(Value::Null, |s| list(&s))),
            ])
        });
        let normalise = self.normalise.as_ref().map_or(Value::Null, |n| {
            object(vec![("mean", list(&n.mean)), ("std", list(&n.std))])
        });
        let v = object(vec![
            ("channels", Value::from(self.channels)),
            ("frame", Value::from(self.frame)),
            ("normalise", normalise),
            ("pipeline_version", Value::from(PIPELINE_VERSION)),
            ("resample", resample),
            ("volume", Value::Bool(self.volume)),
            ("window", window),
        ]);
        v.to_string()
    }

    /// SHA-256 of [`canonical_json`](Self::canonical_json), lower-case hex: the value the
    /// manifest records for the pipeline.
    pub fn sha256(&self) -> String {
        hex::encode(Sha256::digest(self.canonical_json().as_bytes()))
    }
}

// ---------------------------------------------------------------------------------------------
// Output and errors
// ---------------------------------------------------------------------------------------------

/// A prepared model input.
#[derive(Debug, Clone, PartialEq)]
pub struct Prepared {
    /// Values in row-major order of `shape` (columns fastest).
    pub data: Vec<f32>,
    /// `[channels, rows, columns]` for an image, `[channels, slices, rows, columns]` for a
    /// volume.
    pub shape: Vec<usize>,
    /// Spacing of the output grid in mm along the spatial axes of `shape` (`[dy, dx]` or
    /// `[dz, dy, dx]`), after resampling; `None` when the files do not say (no Pixel Spacing,
    /// or a one-slice volume without Slice Thickness).
    pub spacing_mm: Option<Vec<f64>>,
    /// The files read, in slice order for a volume.
    pub source_files: Vec<PathBuf>,
    /// Where the output grid lies in the patient (LPS, mm): the centre of the first output
    /// pixel, and the unit vectors along columns, rows and (ascending) slices, after
    /// resampling; `None` when the file lacks Image Position or Image Orientation (Patient),
    /// or Pixel Spacing where resampling moves the grid.
    pub grid: Option<Geometry>,
}

/// Why an image or a series could not be prepared. Each names its file (or series folder);
/// [`code`](Self::code) is the finding code.
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    #[error("invalid pipeline: {}", join(problems))]
    Config { problems: Vec<ConfigProblem> },
    #[error("cannot read {}: {message}", path.display())]
    Unreadable { path: PathBuf, message: String },
    #[error(
        "{}: transfer syntax {uid} ({name}) is not supported for pixel decoding",
        path.display()
    )]
    UnsupportedTransferSyntax {
        path: PathBuf,
        uid: String,
        name: String,
    },
    #[error(
        "{}: cannot decode the pixel data (transfer syntax {uid}): {message}",
        path.display()
    )]
    Undecodable {
        path: PathBuf,
        uid: String,
        message: String,
    },
    #[error("{}: no Pixel Data (7FE0,0010)", path.display())]
    NoPixelData { path: PathBuf },
    #[error("{}: {attribute} is missing", path.display())]
    MissingAttribute {
        path: PathBuf,
        attribute: &'static str,
    },
    #[error("{}: {attribute} {message}", path.display())]
    InvalidAttribute {
        path: PathBuf,
        attribute: &'static str,
        message: String,
    },
    #[error("{}: {what} is not supported", path.display())]
    Unsupported { path: PathBuf, what: String },
    #[error("{}: frame {frame} requested, the file holds {frames}", path.display())]
    FrameOutOfRange {
        path: PathBuf,
        frame: u32,
        frames: u32,
    },
    #[error(
        "{}: `window: {{from_file: true}}` but Window Center (0028,1050) and Window Width \
         (0028,1051) are not both present",
        path.display()
    )]
    NoWindow { path: PathBuf },
    #[error(
        "{}: the output would hold {values} values, more than the limit of {limit}",
        path.display()
    )]
    TooLarge {
        path: PathBuf,
        values: u64,
        limit: u64,
    },
    #[error("{}: no files to assemble into a volume", path.display())]
    EmptySeries { path: PathBuf },
    #[error("{}: cannot perturb the image: {message}", path.display())]
    Perturbation { path: PathBuf, message: String },
    #[error("series {} cannot be assembled: {}", path.display(), join(findings))]
    Series {
        path: PathBuf,
        findings: Vec<SeriesFinding>,
    },
}

impl PipelineError {
    /// The finding code naming the defect.
    pub fn code(&self) -> &'static str {
        match self {
            PipelineError::Config { .. } => "invalid-pipeline",
            PipelineError::Unreadable { .. } => "unreadable-dicom",
            PipelineError::UnsupportedTransferSyntax { .. } => "unsupported-transfer-syntax",
            PipelineError::Undecodable { .. } => "undecodable-pixel-data",
            PipelineError::NoPixelData { .. } => "no-pixel-data",
            PipelineError::MissingAttribute { .. } => "missing-attribute",
            PipelineError::InvalidAttribute { .. } => "invalid-attribute",
            PipelineError::Unsupported { .. } => "unsupported-image",
            PipelineError::FrameOutOfRange { .. } => "frame-out-of-range",
            PipelineError::NoWindow { .. } => "no-window",
            PipelineError::TooLarge { .. } => "output-too-large",
            PipelineError::EmptySeries { .. } => "empty-series",
            PipelineError::Perturbation { .. } => "perturbation-failed",
            PipelineError::Series { .. } => "series-not-assembled",
        }
    }

    /// The file or folder the error is about (`None` for a configuration error).
    pub fn path(&self) -> Option<&Path> {
        match self {
            PipelineError::Config { .. } => None,
            PipelineError::Unreadable { path, .. }
            | PipelineError::UnsupportedTransferSyntax { path, .. }
            | PipelineError::Undecodable { path, .. }
            | PipelineError::NoPixelData { path }
            | PipelineError::MissingAttribute { path, .. }
            | PipelineError::InvalidAttribute { path, .. }
            | PipelineError::Unsupported { path, .. }
            | PipelineError::FrameOutOfRange { path, .. }
            | PipelineError::NoWindow { path }
            | PipelineError::TooLarge { path, .. }
            | PipelineError::EmptySeries { path }
            | PipelineError::Perturbation { path, .. }
            | PipelineError::Series { path, .. } => Some(path),
        }
    }
}

/// Why a series cannot be assembled into a volume: one finding per defect and file.
#[derive(Debug, thiserror::Error)]
pub enum SeriesFinding {
    /// A file of the series cannot be read or prepared.
    #[error("{error}")]
    File { error: Box<PipelineError> },
    #[error("{}: Image Position (Patient) (0020,0032) is missing or malformed", path.display())]
    MissingPosition { path: PathBuf },
    #[error(
        "{}: Image Orientation (Patient) (0020,0037) is missing or malformed",
        path.display()
    )]
    MissingOrientation { path: PathBuf },
    #[error("{}: Pixel Spacing (0028,0030) is missing or malformed", path.display())]
    MissingPixelSpacing { path: PathBuf },
    #[error("{}: {frames} frames; a volume is assembled from single-frame files", path.display())]
    MultiFrame { path: PathBuf, frames: u32 },
    #[error("{}: Series Instance UID {found}, the series is {expected}", path.display())]
    MixedSeries {
        path: PathBuf,
        found: String,
        expected: String,
    },
    #[error("{}: orientation {found:?}, the series has {expected:?}", path.display())]
    MixedOrientation {
        path: PathBuf,
        found: [f64; 6],
        expected: [f64; 6],
    },
    #[error("{}: {}x{} pixels, the series has {}x{}", path.display(), found[0], found[1], expected[0], expected[1])]
    MixedSize {
        path: PathBuf,
        found: [usize; 2],
        expected: [usize; 2],
    },
    #[error("{}: pixel spacing {found:?} mm, the series has {expected:?}", path.display())]
    MixedPixelSpacing {
        path: PathBuf,
        found: [f64; 2],
        expected: [f64; 2],
    },
    #[error(
        "{} and {}: both at {position_mm:.3} mm along the slice normal",
        path.display(),
        other.display()
    )]
    DuplicatePosition {
        path: PathBuf,
        other: PathBuf,
        position_mm: f64,
    },
    #[error(
        "{} to {}: {step_mm:.3} mm between slices, the median step is {median_mm:.3} mm",
        previous.display(),
        path.display()
    )]
    Gap {
        previous: PathBuf,
        path: PathBuf,
        step_mm: f64,
        median_mm: f64,
    },
}

impl SeriesFinding {
    /// The finding code naming the defect.
    pub fn code(&self) -> &'static str {
        match self {
            SeriesFinding::File { error } => error.code(),
            SeriesFinding::MissingPosition { .. } => "missing-position",
            SeriesFinding::MissingOrientation { .. } => "missing-orientation",
            SeriesFinding::MissingPixelSpacing { .. } => "missing-pixel-spacing",
            SeriesFinding::MultiFrame { .. } => "multi-frame-slice",
            SeriesFinding::MixedSeries { .. } => "mixed-series",
            SeriesFinding::MixedOrientation { .. } => "mixed-orientation",
            SeriesFinding::MixedSize { .. } => "mixed-size",
            SeriesFinding::MixedPixelSpacing { .. } => "mixed-pixel-spacing",
            SeriesFinding::DuplicatePosition { .. } => "duplicate-position",
            SeriesFinding::Gap { .. } => "slice-gap",
        }
    }

    /// The file the finding is about.
    pub fn path(&self) -> Option<&Path> {
        match self {
            SeriesFinding::File { error } => error.path(),
            SeriesFinding::MissingPosition { path }
            | SeriesFinding::MissingOrientation { path }
            | SeriesFinding::MissingPixelSpacing { path }
            | SeriesFinding::MultiFrame { path, .. }
            | SeriesFinding::MixedSeries { path, .. }
            | SeriesFinding::MixedOrientation { path, .. }
            | SeriesFinding::MixedSize { path, .. }
            | SeriesFinding::MixedPixelSpacing { path, .. }
            | SeriesFinding::DuplicatePosition { path, .. }
            | SeriesFinding::Gap { path, .. } => Some(path),
        }
    }
}

fn join<T: std::fmt::Display>(items: &[T]) -> String {
    items
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

// ---------------------------------------------------------------------------------------------
// Entry points
// ---------------------------------------------------------------------------------------------

/// Prepares one input: the image in the file `path`, or with `volume: true` the series held by
/// the folder `path` (see [`series`]).
pub fn image(path: &Path, cfg: &PipelineConfig) -> Result<Prepared, PipelineError> {
    check(cfg)?;
    if cfg.volume {
        let files = folder_files(path)?;
        return assemble(path, &files, cfg);
    }
    single(path, cfg, None)
}

/// [`image`] of a single image (not a volume) under a declared perturbation
/// ([`crate::model::perturb`]): `noise` and `contrast` act on the modality values, `rotation`
/// and `jpeg` on the plane after the window and before resampling. `seed` seeds the noise
/// (see [`crate::model::perturb::file_seed`]).
pub fn image_perturbed(
    path: &Path,
    cfg: &PipelineConfig,
    perturbation: &Perturbation,
    seed: u64,
) -> Result<Prepared, PipelineError> {
    check(cfg)?;
    if cfg.volume {
        return Err(PipelineError::Perturbation {
            path: path.to_path_buf(),
            message: "perturbations apply to single images, not to volumes".to_string(),
        });
    }
    single(path, cfg, Some((perturbation, seed)))
}

/// One image file through every step.
fn single(
    path: &Path,
    cfg: &PipelineConfig,
    perturbation: Option<(&Perturbation, u64)>,
) -> Result<Prepared, PipelineError> {
    let (obj, header) = open(path)?;
    if cfg.frame >= header.frames {
        return Err(PipelineError::FrameOutOfRange {
            path: path.to_path_buf(),
            frame: cfg.frame,
            frames: header.frames,
        });
    }
    let values = pixel_values(path, &obj, &header, cfg, perturbation)?;
    let plane = Plane {
        rows: header.rows,
        cols: header.cols,
        spacing: header.pixel_spacing,
    };
    let grid = header.position.zip(header.orientation);
    finish(
        path,
        vec![values],
        plane,
        (None, grid),
        vec![path.to_path_buf()],
        cfg,
    )
}

/// Assembles the single-frame files `paths` (in any order) into one volume, `[c, z, y, x]`,
/// slices ascending along the slice normal, and prepares it. Any defect of the series is a
/// finding in [`PipelineError::Series`], all of them at once.
pub fn series(paths: &[PathBuf], cfg: &PipelineConfig) -> Result<Prepared, PipelineError> {
    check(cfg)?;
    let name = common_parent(paths);
    assemble(&name, paths, cfg)
}

/// Prepares each input in parallel (rayon); the results are in the order of `paths`. Each is
/// a file, or with `volume: true` a series folder.
pub fn batch(paths: &[PathBuf], cfg: &PipelineConfig) -> Vec<Result<Prepared, PipelineError>> {
    paths.par_iter().map(|p| image(p, cfg)).collect()
}

fn check(cfg: &PipelineConfig) -> Result<(), PipelineError> {
    let problems = cfg.validate();
    if problems.is_empty() {
        Ok(())
    } else {
        Err(PipelineError::Config { problems })
    }
}

/// The regular files directly in `dir` whose names do not start with `.`, sorted by name.
fn folder_files(dir: &Path) -> Result<Vec<PathBuf>, PipelineError> {
    let unreadable = |message: String| PipelineError::Unreadable {
        path: dir.to_path_buf(),
        message,
    };
    let entries = std::fs::read_dir(dir).map_err(|e| {
        unreadable(format!(
            "a volume is read from a folder holding its series: {e}"
        ))
    })?;
    let mut files = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| unreadable(e.to_string()))?;
        let hidden = entry.file_name().to_string_lossy().starts_with('.');
        if !hidden && entry.file_type().is_ok_and(|t| t.is_file()) {
            files.push(entry.path());
        }
    }
    files.sort();
    Ok(files)
}

fn common_parent(paths: &[PathBuf]) -> PathBuf {
    let mut parents = paths.iter().filter_map(|p| p.parent());
    match parents.next() {
        Some(first) if parents.all(|p| p == first) => first.to_path_buf(),
        _ => PathBuf::from("(series)"),
    }
}

// ---------------------------------------------------------------------------------------------
// Reading one file
// ---------------------------------------------------------------------------------------------

/// What the pipeline needs from a file's header, checked.
#[derive(Debug, Clone)]
struct Header {
    transfer_syntax: String,
    rows: usize,
    cols: usize,
    frames: u32,
    bits_allocated: u16,
    bits_stored: u16,
    high_bit: u16,
    signed: bool,
    monochrome1: bool,
    slope: f64,
    intercept: f64,
    /// First values of Window Center and Window Width, when both are present.
    window: Option<(f64, f64)>,
    /// Missing or malformed geometry is `None`: only volumes and `spacing_mm` need it.
    pixel_spacing: Option<[f64; 2]>,
    position: Option<[f64; 3]>,
    orientation: Option<[f64; 6]>,
    slice_thickness: Option<f64>,
    series_uid: Option<String>,
}

/// Reads and parses the whole file, then its header.
fn open(path: &Path) -> Result<(DefaultDicomObject, Header), PipelineError> {
    let unreadable = |message: String| PipelineError::Unreadable {
        path: path.to_path_buf(),
        message,
    };
    let bytes = std::fs::read(path).map_err(|e| unreadable(e.to_string()))?;
    crate::data::lengths::lengths_fit(&bytes).map_err(unreadable)?;
    // dicom-object reports malformed input as errors; a panic in the parser would be a bug
    // there and must still not take the run down (as in data::dicom_index).
    let obj = match catch_unwind(AssertUnwindSafe(|| parse_full(&bytes))) {
        Ok(Ok(obj)) => obj,
        Ok(Err(message)) => {
            // A transfer syntax the registry does not know stops the parser before the data
            // set; say so rather than "cannot read".
            if let Some(uid) = meta_transfer_syntax(&bytes) {
                if TransferSyntaxRegistry.get(&uid).is_none() {
                    return Err(PipelineError::UnsupportedTransferSyntax {
                        path: path.to_path_buf(),
                        uid,
                        name: "unknown to dicom-rs".to_string(),
                    });
                }
            }
            return Err(unreadable(message));
        }
        Err(_) => return Err(unreadable("the DICOM parser failed on this file".into())),
    };
    let header = Header::read(&obj, path)?;
    Ok((obj, header))
}

/// The Transfer Syntax UID of the file meta group, when that much of the file parses.
fn meta_transfer_syntax(bytes: &[u8]) -> Option<String> {
    let body = part10_body(bytes).ok()?;
    let meta = catch_unwind(AssertUnwindSafe(|| {
        dicom_object::meta::FileMetaTable::from_reader(body)
    }))
    .ok()?
    .ok()?;
    Some(
        meta.transfer_syntax()
            .trim_end_matches(['\0', ' '])
            .to_string(),
    )
}

impl Header {
    fn read(obj: &DefaultDicomObject, path: &Path) -> Result<Header, PipelineError> {
        let p = || path.to_path_buf();
        let invalid = |attribute: &'static str, message: String| PipelineError::InvalidAttribute {
            path: p(),
            attribute,
            message,
        };
        let required = |tag: Tag, attribute: &'static str| -> Result<u32, PipelineError> {
            match obj.get(tag) {
                None => Err(PipelineError::MissingAttribute {
                    path: p(),
                    attribute,
                }),
                Some(e) => e
                    .to_int::<u32>()
                    .map_err(|e| invalid(attribute, format!("is not a number: {e}"))),
            }
        };
        if obj.get(tags::PIXEL_DATA).is_none() {
            return Err(PipelineError::NoPixelData { path: p() });
        }
        let photometric = match text(obj, tags::PHOTOMETRIC_INTERPRETATION) {
            None => {
                return Err(PipelineError::MissingAttribute {
                    path: p(),
                    attribute: "Photometric Interpretation (0028,0004)",
                })
            }
            Some(v) => v,
        };
        let samples = required(tags::SAMPLES_PER_PIXEL, "Samples per Pixel (0028,0002)")?;
        let monochrome1 = match photometric.as_str() {
            "MONOCHROME1" => true,
            "MONOCHROME2" => false,
            other => {
                return Err(PipelineError::Unsupported {
                    path: p(),
                    what: format!(
                        "Photometric Interpretation {other} (the pipeline reads MONOCHROME1 \
                         and MONOCHROME2 images)"
                    ),
                })
            }
        };
        if samples != 1 {
            return Err(PipelineError::Unsupported {
                path: p(),
                what: format!("Samples per Pixel {samples} (the pipeline reads grey images)"),
            });
        }
        let rows = required(tags::ROWS, "Rows (0028,0010)")?;
        let cols = required(tags::COLUMNS, "Columns (0028,0011)")?;
        if rows == 0 {
            return Err(invalid("Rows (0028,0010)", "is 0".into()));
        }
        if cols == 0 {
            return Err(invalid("Columns (0028,0011)", "is 0".into()));
        }
        let bits_allocated = required(tags::BITS_ALLOCATED, "Bits Allocated (0028,0100)")?;
        if !matches!(bits_allocated, 8 | 16 | 32) {
            return Err(PipelineError::Unsupported {
                path: p(),
                what: format!("Bits Allocated {bits_allocated} (the pipeline reads 8, 16 or 32)"),
            });
        }
        let bits_stored = required(tags::BITS_STORED, "Bits Stored (0028,0101)")?;
        if bits_stored == 0 || bits_stored > bits_allocated {
            return Err(invalid(
                "Bits Stored (0028,0101)",
                format!("is {bits_stored}, not 1 to Bits Allocated ({bits_allocated})"),
            ));
        }
        let high_bit = required(tags::HIGH_BIT, "High Bit (0028,0102)")?;
        if high_bit + 1 < bits_stored || high_bit >= bits_allocated {
            return Err(invalid(
                "High Bit (0028,0102)",
                format!(
                    "is {high_bit}, not {} to {} for Bits Stored {bits_stored} and Bits \
                     Allocated {bits_allocated}",
                    bits_stored - 1,
                    bits_allocated - 1
                ),
            ));
        }
        let signed = match required(
            tags::PIXEL_REPRESENTATION,
            "Pixel Representation (0028,0103)",
        )? {
            0 => false,
            1 => true,
            other => {
                return Err(invalid(
                    "Pixel Representation (0028,0103)",
                    format!("is {other}, not 0 or 1"),
                ))
            }
        };
        let frames = match obj.get(tags::NUMBER_OF_FRAMES) {
            None => 1,
            Some(e) => match e.to_int::<u32>() {
                Ok(n) if n >= 1 => n,
                Ok(n) => return Err(invalid("Number of Frames (0028,0008)", format!("is {n}"))),
                Err(e) => {
                    return Err(invalid(
                        "Number of Frames (0028,0008)",
                        format!("is not a number: {e}"),
                    ))
                }
            },
        };
        if obj.get(tags::MODALITY_LUT_SEQUENCE).is_some() {
            return Err(PipelineError::Unsupported {
                path: p(),
                what: "a Modality LUT Sequence (0028,3000) (the pipeline applies Rescale Slope \
                       and Intercept)"
                    .into(),
            });
        }
        let first = |tag: Tag, attribute: &'static str| -> Result<Option<f64>, PipelineError> {
            match floats(obj, tag) {
                None => Ok(None),
                Some(Ok(v)) if v.first().is_some_and(|x| x.is_finite()) => Ok(Some(v[0])),
                Some(Ok(_)) => Err(invalid(attribute, "is not a finite number".into())),
                Some(Err(e)) => Err(invalid(attribute, format!("is not a number: {e}"))),
            }
        };
        // PS3.3 C.11.1: absent Rescale Slope and Intercept mean the identity (an MR image).
        let slope = first(tags::RESCALE_SLOPE, "Rescale Slope (0028,1053)")?.unwrap_or(1.0);
        let intercept =
            first(tags::RESCALE_INTERCEPT, "Rescale Intercept (0028,1052)")?.unwrap_or(0.0);
        if slope == 0.0 {
            return Err(invalid("Rescale Slope (0028,1053)", "is 0".into()));
        }
        // The window is checked where it is used (`from_file`); malformed values are absent.
        let window = match (
            first_lenient(obj, tags::WINDOW_CENTER),
            first_lenient(obj, tags::WINDOW_WIDTH),
        ) {
            (Some(c), Some(w)) => Some((c, w)),
            _ => None,
        };
        let fixed = |tag: Tag, n: usize| -> Option<Vec<f64>> {
            match floats(obj, tag) {
                Some(Ok(v)) if v.len() == n && v.iter().all(|x| x.is_finite()) => Some(v),
                _ => None,
            }
        };
        let pixel_spacing = fixed(tags::PIXEL_SPACING, 2)
            .filter(|v| v.iter().all(|&x| x > 0.0))
            .map(|v| [v[0], v[1]]);
        let position = fixed(tags::IMAGE_POSITION_PATIENT, 3).map(|v| [v[0], v[1], v[2]]);
        let orientation =
            fixed(tags::IMAGE_ORIENTATION_PATIENT, 6).map(|v| [v[0], v[1], v[2], v[3], v[4], v[5]]);
        Ok(Header {
            transfer_syntax: obj
                .meta()
                .transfer_syntax()
                .trim_end_matches(['\0', ' '])
                .to_string(),
            rows: rows as usize,
            cols: cols as usize,
            frames,
            bits_allocated: bits_allocated as u16,
            bits_stored: bits_stored as u16,
            high_bit: high_bit as u16,
            signed,
            monochrome1,
            slope,
            intercept,
            window,
            pixel_spacing,
            position,
            orientation,
            slice_thickness: first_lenient(obj, tags::SLICE_THICKNESS).filter(|&x| x > 0.0),
            series_uid: text(obj, tags::SERIES_INSTANCE_UID),
        })
    }
}

fn text(obj: &DefaultDicomObject, tag: Tag) -> Option<String> {
    let s = obj.get(tag)?.to_str().ok()?;
    let s = s.trim_matches(|c: char| c == ' ' || c == '\0');
    (!s.is_empty()).then(|| s.to_string())
}

/// All values of a numeric attribute; `None` when absent or empty.
fn floats(obj: &DefaultDicomObject, tag: Tag) -> Option<Result<Vec<f64>, String>> {
    let e = obj.get(tag)?;
    match e.to_multi_float64() {
        Ok(v) if v.is_empty() => None,
        Ok(v) => Some(Ok(v)),
        Err(err) => Some(Err(err.to_string())),
    }
}

fn first_lenient(obj: &DefaultDicomObject, tag: Tag) -> Option<f64> {
    match floats(obj, tag)? {
        Ok(v) => v.first().copied().filter(|x| x.is_finite()),
        Err(_) => None,
    }
}

/// Decodes frame `cfg.frame` and runs the per-pixel steps (modality LUT, window, MONOCHROME1
/// inversion): the frame's values, row by row, in f64.
fn pixel_values(
    path: &Path,
    obj: &DefaultDicomObject,
    h: &Header,
    cfg: &PipelineConfig,
    perturbation: Option<(&Perturbation, u64)>,
) -> Result<Vec<f64>, PipelineError> {
    let window = match &cfg.window {
        None => None,
        Some(w) if w.from_file => match h.window {
            None => return Err(PipelineError::NoWindow { path: path.into() }),
            Some((_, width)) if width < 1.0 => {
                return Err(PipelineError::InvalidAttribute {
                    path: path.into(),
                    attribute: "Window Width (0028,1051)",
                    message: format!("is {width}, below 1 (PS3.3 C.11.2.1.2.1)"),
                })
            }
            Some(cw) => Some(cw),
        },
        // validate() has checked both are present.
        Some(w) => Some((w.center.unwrap_or(0.0), w.width.unwrap_or(1.0))),
    };
    let mut values = stored_values(path, obj, h, cfg.frame)?;
    // Bounds of the stored range after the modality LUT, for MONOCHROME1 without a window.
    let (smin, smax) = stored_range(h.bits_stored, h.signed);
    let range_sum = (h.slope * smin + h.intercept) + (h.slope * smax + h.intercept);
    for v in &mut values {
        *v = h.slope * *v + h.intercept;
    }
    if let Some((p, seed)) = perturbation {
        perturb::modality_stage(p, &mut values, window.map(|(c, _)| c), seed);
    }
    for v in &mut values {
        let x = *v;
        let y = match window {
            Some((c, w)) => voi_linear(x, c, w),
            None => x,
        };
        *v = match (h.monochrome1, window.is_some()) {
            (false, _) => y,
            (true, true) => 1.0 - y,
            (true, false) => range_sum - y,
        };
    }
    if let Some((p, _)) = perturbation {
        perturb::plane_stage(p, &mut values, h.rows, h.cols).map_err(|message| {
            PipelineError::Perturbation {
                path: path.to_path_buf(),
                message,
            }
        })?;
    }
    Ok(values)
}

/// The smallest and largest stored value `bits_stored` bits can hold (PS3.5 8.1.1).
fn stored_range(bits_stored: u16, signed: bool) -> (f64, f64) {
    let n = f64::from(bits_stored);
    if signed {
        (-(2f64.powf(n - 1.0)), 2f64.powf(n - 1.0) - 1.0)
    } else {
        (0.0, 2f64.powf(n) - 1.0)
    }
}

/// The stored values of one frame (PS3.5 8.1.1: the `bits_stored` bits ending at `high_bit`
/// of each `bits_allocated`-bit word, two's complement when signed), as f64 (exact).
fn stored_values(
    path: &Path,
    obj: &DefaultDicomObject,
    h: &Header,
    frame: u32,
) -> Result<Vec<f64>, PipelineError> {
    let uid = h.transfer_syntax.clone();
    let ts = match TransferSyntaxRegistry.get(&uid) {
        None => {
            return Err(PipelineError::UnsupportedTransferSyntax {
                path: path.into(),
                uid,
                name: "unknown to dicom-rs".into(),
            })
        }
        Some(ts) => ts,
    };
    if !ts.can_decode_all() {
        return Err(PipelineError::UnsupportedTransferSyntax {
            path: path.into(),
            name: ts.name().to_string(),
            uid,
        });
    }
    let undecodable = |message: String| PipelineError::Undecodable {
        path: path.into(),
        uid: h.transfer_syntax.clone(),
        message,
    };
    // Third-party image decoders (JPEG) run on untrusted bytes: a panic is a decoding failure.
    let decoded = catch_unwind(AssertUnwindSafe(|| obj.decode_pixel_data_frame(frame)))
        .map_err(|_| undecodable("the pixel decoder failed on this file".into()))?
        .map_err(|e| undecodable(error_chain(&e)))?;
    let data = decoded.data();
    let bytes = usize::from(h.bits_allocated / 8);
    let n = h.rows * h.cols;
    if data.len() < n * bytes {
        return Err(undecodable(format!(
            "frame {frame} holds {} bytes, fewer than {} rows x {} columns x {bytes}",
            data.len(),
            h.rows,
            h.cols
        )));
    }
    let shift = u32::from(h.high_bit + 1 - h.bits_stored);
    let bits = u32::from(h.bits_stored);
    let mask: u64 = (1u64 << bits) - 1;
    let out = data[..n * bytes]
        .chunks_exact(bytes)
        .map(|w| {
            // Decoded samples are in native byte order (dicom-pixeldata's convention).
            let word = match w {
                [a] => u64::from(*a),
                [a, b] => u64::from(u16::from_ne_bytes([*a, *b])),
                [a, b, c, d] => u64::from(u32::from_ne_bytes([*a, *b, *c, *d])),
                _ => 0,
            };
            let v = (word >> shift) & mask;
            if h.signed && (v >> (bits - 1)) & 1 == 1 {
                (v as i64 - (1i64 << bits)) as f64
            } else {
                v as f64
            }
        })
        .collect();
    Ok(out)
}

// ---------------------------------------------------------------------------------------------
// The steps
// ---------------------------------------------------------------------------------------------

/// The linear VOI function of PS3.3 C.11.2.1.2.1 with output range [0, 1]:
/// 0 for `x <= c − 0.5 − (w − 1)/2`, 1 for `x > c − 0.5 + (w − 1)/2`, else
/// `(x − (c − 0.5)) / (w − 1) + 0.5`. `w` must be at least 1 (at 1 the middle branch is
/// empty, so there is no division by zero).
///
/// ```
/// use attest::model::pipeline::voi_linear;
/// assert_eq!(voi_linear(-1000.0, 40.0, 400.0), 0.0);
/// assert_eq!(voi_linear(39.5, 40.0, 401.0), 0.5);
/// assert_eq!(voi_linear(500.0, 40.0, 400.0), 1.0);
/// ```
pub fn voi_linear(x: f64, center: f64, width: f64) -> f64 {
    let c = center - 0.5;
    let half = (width - 1.0) / 2.0;
    if x <= c - half {
        0.0
    } else if x > c + half {
        1.0
    } else {
        (x - c) / (width - 1.0) + 0.5
    }
}

/// Bilinear resize of a `rows × cols` plane (row-major) to `out_rows × out_cols`, with the
/// pixel-centre convention of PyTorch's `F.interpolate(mode="bilinear", align_corners=False,
/// antialias=False)` given an output size: output index `o` samples input coordinate
/// `max(0, (o + 0.5) · in/out − 0.5)`, between the two nearest input pixels (the last one
/// repeated past the edge). No antialiasing: downsampling by more than 2 skips pixels, as
/// PyTorch does.
///
/// ```
/// use attest::model::pipeline::resize_bilinear;
/// // 1 × 2 → 1 × 4: input coordinates 0 (clamped from −0.25), 0.25, 0.75, 1.25.
/// assert_eq!(resize_bilinear(&[0.0, 4.0], 1, 2, 1, 4), vec![0.0, 1.0, 3.0, 4.0]);
/// ```
pub fn resize_bilinear(
    src: &[f64],
    rows: usize,
    cols: usize,
    out_rows: usize,
    out_cols: usize,
) -> Vec<f64> {
    if rows == 0 || cols == 0 || src.len() < rows * cols {
        return vec![0.0; out_rows * out_cols];
    }
    let ys = axis_weights(rows, out_rows);
    let xs = axis_weights(cols, out_cols);
    let mut out = Vec::with_capacity(out_rows * out_cols);
    for &(y0, y1, ly) in &ys {
        let (r0, r1) = (&src[y0 * cols..][..cols], &src[y1 * cols..][..cols]);
        for &(x0, x1, lx) in &xs {
            // PyTorch's order of operations (upsample_bilinear2d, CPU).
            let top = (1.0 - lx) * r0[x0] + lx * r0[x1];
            let bottom = (1.0 - lx) * r1[x0] + lx * r1[x1];
            out.push((1.0 - ly) * top + ly * bottom);
        }
    }
    out
}

/// For each output index: the two input indices and the weight of the second
/// (PyTorch `area_pixel_compute_source_index` with `align_corners=False`).
fn axis_weights(n_in: usize, n_out: usize) -> Vec<(usize, usize, f64)> {
    let scale = n_in as f64 / n_out as f64;
    (0..n_out)
        .map(|o| {
            let src = (scale * (o as f64 + 0.5) - 0.5).max(0.0);
            let i0 = (src.floor() as usize).min(n_in - 1);
            let i1 = if i0 + 1 < n_in { i0 + 1 } else { i0 };
            let lambda = (src - i0 as f64).clamp(0.0, 1.0);
            (i0, i1, lambda)
        })
        .collect()
}

/// The in-plane grid of the image or of every slice.
#[derive(Debug, Clone, Copy)]
struct Plane {
    rows: usize,
    cols: usize,
    /// Pixel Spacing: between rows, between columns, mm.
    spacing: Option<[f64; 2]>,
}

/// The output size for `resample`, and the output spacing (the input extent over the output
/// size, so `spacing_mm` is met up to the rounding of the size).
fn target(
    path: &Path,
    plane: Plane,
    cfg: &PipelineConfig,
) -> Result<(usize, usize, Option<[f64; 2]>), PipelineError> {
    let (rows, cols) = match cfg.resample.as_ref() {
        None => (plane.rows, plane.cols),
        Some(Resample {
            size: Some([r, c]), ..
        }) => (*r as usize, *c as usize),
        Some(Resample {
            spacing_mm: Some([dy, dx]),
            ..
        }) => {
            let [sy, sx] = plane
                .spacing
                .ok_or_else(|| PipelineError::MissingAttribute {
                    path: path.into(),
                    attribute: "Pixel Spacing (0028,0030), which `resample: {spacing_mm}` needs,",
                })?;
            // Round half away from zero, at least one pixel.
            let side = |n: usize, from: f64, to: f64| ((n as f64 * from / to).round()).max(1.0);
            let (r, c) = (side(plane.rows, sy, *dy), side(plane.cols, sx, *dx));
            let limit = f64::from(MAX_SIDE);
            if r > limit || c > limit {
                return Err(PipelineError::TooLarge {
                    path: path.into(),
                    values: (r * c).min(u64::MAX as f64) as u64,
                    limit: u64::from(MAX_SIDE) * u64::from(MAX_SIDE),
                });
            }
            (r as usize, c as usize)
        }
        Some(_) => (plane.rows, plane.cols), // excluded by validate()
    };
    let spacing = plane.spacing.map(|[sy, sx]| {
        [
            sy * plane.rows as f64 / rows as f64,
            sx * plane.cols as f64 / cols as f64,
        ]
    });
    Ok((rows, cols, spacing))
}

/// Image Position (Patient) and Image Orientation (Patient) of a file.
type PositionOrientation = ([f64; 3], [f64; 6]);

/// Resamples every slice, replicates channels, normalises, and lays out `[c, (z,) y, x]` in
/// f32. `place` is, for a volume, its slice step (`Some(step)`), and the first slice's Image
/// Position and Image Orientation (Patient).
fn finish(
    path: &Path,
    slices: Vec<Vec<f64>>,
    plane: Plane,
    place: (Option<Option<f64>>, Option<PositionOrientation>),
    source_files: Vec<PathBuf>,
    cfg: &PipelineConfig,
) -> Result<Prepared, PipelineError> {
    let (volume, position) = place;
    let (rows, cols, spacing) = target(path, plane, cfg)?;
    let grid = position.and_then(|(p, o)| output_grid(p, o, plane, rows, cols));
    let channels = usize::from(cfg.channels);
    let depth = slices.len();
    let values = (channels as u64)
        .saturating_mul(depth as u64)
        .saturating_mul(rows as u64)
        .saturating_mul(cols as u64);
    if values > MAX_OUTPUT_VALUES {
        return Err(PipelineError::TooLarge {
            path: path.into(),
            values,
            limit: MAX_OUTPUT_VALUES,
        });
    }
    let resampled: Vec<Vec<f64>> = slices
        .into_par_iter()
        .map(|s| {
            if (rows, cols) == (plane.rows, plane.cols) {
                s
            } else {
                resize_bilinear(&s, plane.rows, plane.cols, rows, cols)
            }
        })
        .collect();
    let plane_len = rows * cols;
    let mut data = Vec::with_capacity(channels * depth * plane_len);
    for c in 0..channels {
        let (mean, std) = match &cfg.normalise {
            None => (0.0, 1.0),
            Some(n) => (
                n.mean.get(c).or(n.mean.first()).copied().unwrap_or(0.0),
                n.std.get(c).or(n.std.first()).copied().unwrap_or(1.0),
            ),
        };
        for s in &resampled {
            data.extend(s.iter().map(|&x| ((x - mean) / std) as f32));
        }
    }
    let (shape, spacing_mm) = match volume {
        None => (vec![channels, rows, cols], spacing.map(|s| s.to_vec())),
        Some(step) => (
            vec![channels, depth, rows, cols],
            spacing.zip(step).map(|([sy, sx], dz)| vec![dz, sy, sx]),
        ),
    };
    Ok(Prepared {
        data,
        shape,
        spacing_mm,
        source_files,
        grid,
    })
}

/// The output grid's place in the patient. With `align_corners=False` resampling, output
/// pixel `o` of an axis samples input coordinate `(o + 0.5) · n_in / n_out − 0.5`, so the
/// first output pixel's centre lies `0.5 · n_in / n_out − 0.5` input pixels along each in-plane
/// axis from the first input pixel's (the clamp at 0 the sampling applies is an edge rule,
/// not a move of the grid). Needs Pixel Spacing when the size changes.
fn output_grid(
    position: [f64; 3],
    orientation: [f64; 6],
    plane: Plane,
    rows: usize,
    cols: usize,
) -> Option<Geometry> {
    // Image Orientation is stored as decimal strings, so its cosines are unit and orthogonal
    // only to a few decimals: the row cosine is normalised and the column cosine made
    // orthogonal to it (Gram–Schmidt), so the grid's axes are orthonormal as a mask's
    // transform must be.
    let unit = |v: [f64; 3]| -> Option<[f64; 3]> {
        let n = v.iter().map(|x| x * x).sum::<f64>().sqrt();
        (n > 0.5).then(|| v.map(|x| x / n))
    };
    let row_dir = unit([orientation[0], orientation[1], orientation[2]])?;
    let col = [orientation[3], orientation[4], orientation[5]];
    let along: f64 = (0..3).map(|i| col[i] * row_dir[i]).sum();
    let col_dir = unit([
        col[0] - along * row_dir[0],
        col[1] - along * row_dir[1],
        col[2] - along * row_dir[2],
    ])?;
    let normal = cross(row_dir, col_dir);
    let norm = normal.iter().map(|x| x * x).sum::<f64>().sqrt();
    if norm <= 0.5 {
        return None;
    }
    let mut origin = position;
    if (rows, cols) != (plane.rows, plane.cols) {
        let [sy, sx] = plane.spacing?;
        let shift_x = (0.5 * plane.cols as f64 / cols as f64 - 0.5) * sx;
        let shift_y = (0.5 * plane.rows as f64 / rows as f64 - 0.5) * sy;
        for i in 0..3 {
            origin[i] += row_dir[i] * shift_x + col_dir[i] * shift_y;
        }
    }
    Some(Geometry {
        origin,
        axes: [row_dir, col_dir, normal.map(|x| x / norm)],
    })
}

// ---------------------------------------------------------------------------------------------
// Volumes
// ---------------------------------------------------------------------------------------------

/// A slice that opened: its object, header, and position along the normal (filled in later).
struct Opened {
    path: PathBuf,
    obj: DefaultDicomObject,
    header: Header,
}

fn assemble(
    name: &Path,
    paths: &[PathBuf],
    cfg: &PipelineConfig,
) -> Result<Prepared, PipelineError> {
    if paths.is_empty() {
        return Err(PipelineError::EmptySeries { path: name.into() });
    }
    let opened: Vec<Result<Opened, PipelineError>> = paths
        .par_iter()
        .map(|p| {
            open(p).map(|(obj, header)| Opened {
                path: p.clone(),
                obj,
                header,
            })
        })
        .collect();
    let mut findings = Vec::new();
    let mut slices = Vec::new();
    for r in opened {
        match r {
            Ok(o) => slices.push(o),
            Err(error) => findings.push(SeriesFinding::File {
                error: Box::new(error),
            }),
        }
    }
    let geometry = geometry_findings(&slices, &mut findings);
    if !findings.is_empty() {
        return Err(PipelineError::Series {
            path: name.into(),
            findings,
        });
    }
    let Some((order, step, plane)) = geometry else {
        return Err(PipelineError::EmptySeries { path: name.into() });
    };
    let ordered: Vec<&Opened> = order.iter().map(|&i| &slices[i]).collect();
    let decoded: Vec<Result<Vec<f64>, PipelineError>> = ordered
        .par_iter()
        .map(|o| pixel_values(&o.path, &o.obj, &o.header, cfg, None))
        .collect();
    let mut values = Vec::with_capacity(decoded.len());
    for d in decoded {
        match d {
            Ok(v) => values.push(v),
            Err(error) => findings.push(SeriesFinding::File {
                error: Box::new(error),
            }),
        }
    }
    if !findings.is_empty() {
        return Err(PipelineError::Series {
            path: name.into(),
            findings,
        });
    }
    let files = ordered.iter().map(|o| o.path.clone()).collect();
    let first = &ordered[0].header;
    let grid = first.position.zip(first.orientation);
    finish(name, values, plane, (Some(step), grid), files, cfg)
}

/// Checks the slices form one regular stack. Returns the slice order (ascending along the
/// normal), the slice step and the common plane, or pushes findings (then the order is
/// `None`). The first slice in path order is the reference for orientation, size, spacing
/// and series.
#[allow(clippy::type_complexity)]
fn geometry_findings(
    slices: &[Opened],
    findings: &mut Vec<SeriesFinding>,
) -> Option<(Vec<usize>, Option<f64>, Plane)> {
    let first = slices.first()?;
    let reference = &first.header;
    let before = findings.len();
    for s in slices {
        let h = &s.header;
        let path = || s.path.clone();
        if h.frames > 1 {
            findings.push(SeriesFinding::MultiFrame {
                path: path(),
                frames: h.frames,
            });
        }
        if h.position.is_none() {
            findings.push(SeriesFinding::MissingPosition { path: path() });
        }
        if h.orientation.is_none() {
            findings.push(SeriesFinding::MissingOrientation { path: path() });
        }
        if h.pixel_spacing.is_none() {
            findings.push(SeriesFinding::MissingPixelSpacing { path: path() });
        }
        if let (Some(found), Some(expected)) = (&h.series_uid, &reference.series_uid) {
            if found != expected {
                findings.push(SeriesFinding::MixedSeries {
                    path: path(),
                    found: found.clone(),
                    expected: expected.clone(),
                });
            }
        }
        if let (Some(found), Some(expected)) = (h.orientation, reference.orientation) {
            if found
                .iter()
                .zip(&expected)
                .any(|(a, b)| (a - b).abs() > ORIENTATION_TOLERANCE)
            {
                findings.push(SeriesFinding::MixedOrientation {
                    path: path(),
                    found,
                    expected,
                });
            }
        }
        if (h.rows, h.cols) != (reference.rows, reference.cols) {
            findings.push(SeriesFinding::MixedSize {
                path: path(),
                found: [h.rows, h.cols],
                expected: [reference.rows, reference.cols],
            });
        }
        if let (Some(found), Some(expected)) = (h.pixel_spacing, reference.pixel_spacing) {
            if found
                .iter()
                .zip(&expected)
                .any(|(a, b)| (a - b).abs() > PIXEL_SPACING_TOLERANCE_MM)
            {
                findings.push(SeriesFinding::MixedPixelSpacing {
                    path: path(),
                    found,
                    expected,
                });
            }
        }
    }
    if findings.len() > before {
        return None;
    }
    // Every slice has a position and the common orientation from here on.
    let o = reference.orientation?;
    let normal = cross([o[0], o[1], o[2]], [o[3], o[4], o[5]]);
    let norm = normal.iter().map(|x| x * x).sum::<f64>().sqrt();
    if norm <= 0.5 {
        // Row and column cosines (anti)parallel or not unit vectors: no normal to sort on.
        for s in slices {
            findings.push(SeriesFinding::MissingOrientation {
                path: s.path.clone(),
            });
        }
        return None;
    }
    let normal = normal.map(|x| x / norm);
    let along: Vec<f64> = slices
        .iter()
        .map(|s| {
            let p = s.header.position.unwrap_or_default();
            p[0] * normal[0] + p[1] * normal[1] + p[2] * normal[2]
        })
        .collect();
    let mut order: Vec<usize> = (0..slices.len()).collect();
    order.sort_by(|&a, &b| along[a].total_cmp(&along[b]).then(a.cmp(&b)));
    let steps: Vec<f64> = order
        .windows(2)
        .map(|w| along[w[1]] - along[w[0]])
        .collect();
    for (w, &step) in order.windows(2).zip(&steps) {
        if step < DUPLICATE_TOLERANCE_MM {
            findings.push(SeriesFinding::DuplicatePosition {
                path: slices[w[1]].path.clone(),
                other: slices[w[0]].path.clone(),
                position_mm: along[w[1]],
            });
        }
    }
    if findings.len() > before {
        return None;
    }
    let median = median(&steps);
    if let Some(m) = median {
        for (w, &step) in order.windows(2).zip(&steps) {
            if (step - m).abs() > GAP_RELATIVE * m + GAP_ABSOLUTE_MM {
                findings.push(SeriesFinding::Gap {
                    previous: slices[w[0]].path.clone(),
                    path: slices[w[1]].path.clone(),
                    step_mm: step,
                    median_mm: m,
                });
            }
        }
    }
    if findings.len() > before {
        return None;
    }
    let step = median.or(reference.slice_thickness);
    let plane = Plane {
        rows: reference.rows,
        cols: reference.cols,
        spacing: reference.pixel_spacing,
    };
    Some((order, step, plane))
}

fn cross(a: [f64; 3], b: [f64; 3]) -> [f64; 3] {
    [
        a[1] * b[2] - a[2] * b[1],
        a[2] * b[0] - a[0] * b[2],
        a[0] * b[1] - a[1] * b[0],
    ]
}

/// The median (mean of the two middle values for an even count); `None` when empty.
fn median(values: &[f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    Some(if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn voi_linear_follows_the_standard_at_its_breakpoints() {
        // PS3.3 C.11.2.1.2.1 with c = 40, w = 400: 0 at or below −160.5 + 0.5 − ... exactly
        // x <= 39.5 − 199.5 = −160, 1 above 39.5 + 199.5 = 239.
        assert_eq!(voi_linear(-160.0, 40.0, 400.0), 0.0);
        assert!(voi_linear(-159.9, 40.0, 400.0) > 0.0);
        assert_eq!(voi_linear(239.0, 40.0, 400.0), 1.0);
        assert_eq!(voi_linear(239.1, 40.0, 400.0), 1.0);
        assert!((voi_linear(238.0, 40.0, 400.0) - (1.0 - 1.0 / 399.0)).abs() < 1e-15);
        // Width 1: a threshold at c − 0.5.
        assert_eq!(voi_linear(9.5, 10.0, 1.0), 0.0);
        assert_eq!(voi_linear(9.6, 10.0, 1.0), 1.0);
    }

    #[test]
    fn resize_to_the_same_size_is_the_identity_and_upsampling_interpolates() {
        let src: Vec<f64> = (0..12).map(f64::from).collect();
        assert_eq!(resize_bilinear(&src, 3, 4, 3, 4), src);
        // 2 × 2 → 4 × 4 (hand derivation): input coordinates 0, 0.25, 0.75, 1 on each axis.
        let out = resize_bilinear(&[0.0, 1.0, 2.0, 3.0], 2, 2, 4, 4);
        assert_eq!(&out[..4], &[0.0, 0.25, 0.75, 1.0]);
        assert_eq!(&out[12..], &[2.0, 2.25, 2.75, 3.0]);
        // Downsampling 4 → 2 averages pairs (coordinates 0.5 and 2.5).
        assert_eq!(
            resize_bilinear(&[0.0, 2.0, 4.0, 6.0], 1, 4, 1, 2),
            vec![1.0, 5.0]
        );
    }

    #[test]
    fn median_of_odd_and_even_counts() {
        assert_eq!(median(&[]), None);
        assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), Some(2.5));
    }

    #[test]
    fn stored_ranges() {
        assert_eq!(stored_range(12, false), (0.0, 4095.0));
        assert_eq!(stored_range(12, true), (-2048.0, 2047.0));
        assert_eq!(stored_range(1, false), (0.0, 1.0));
    }
}
