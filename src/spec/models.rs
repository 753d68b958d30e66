//! The spec's `models:` section: models whose outputs are files (`predictions`, `detections`,
//! `masks`), and models attest runs itself on a case table's DICOM images, either a vendor
//! program (`command`) or a network attest implements, with its weights (`architecture`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::Value as Json;

use super::diag::{one_of, Diagnostic};
use super::schema::{Field, Ty};
use super::yaml::{Node, Pos, Value};
use super::{existing, structures, DataDecl, Source, STRUCTURE_VALUE};
use crate::model::burn::declared::{Aggregate, Architecture, BurnModelDecl, Output};
use crate::model::burn::{Backend, KeyMap};
use crate::model::pipeline::PipelineConfig;

pub(super) const MODEL_FIELDS: &[Field] = &[
    Field::opt(
        "predictions",
        Ty::Path,
        "CSV file of the model's outputs, one row per case",
    ),
    Field::opt(
        "detections",
        Ty::Path,
        "CSV of the model's detection candidates, LUNA16 format: seriesuid,coordX,coordY,coordZ,probability",
    ),
    Field::opt(
        "masks",
        Ty::Path,
        "folder of the model's segmentation masks, one file per case: <case_id>.nii[.gz] (NIfTI) or <case_id>.dcm (DICOM SEG)",
    ),
    Field::opt(
        "structures",
        Ty::MapOf(&STRUCTURE_VALUE),
        "with `masks`: structure name → label value (NIfTI) or segment number (DICOM SEG), for `structure:` of `segmentation`",
    ),
    Field::opt(
        "id_column",
        Ty::Str,
        "case identifier column, default `case_id`",
    ),
    Field::opt("score_column", Ty::Str, "score column, default `score`"),
    Field::opt(
        "command",
        Ty::List(&Ty::Str),
        "a program attest runs to score each case (protocol attest-model/1: `attest explain command`), e.g. [python3, vendor/run.py]",
    ),
    Field::opt(
        "architecture",
        Ty::Serde(architecture_schema),
        "a network attest runs itself (`attest explain burn`), e.g. { resnet: { in_channels: 1, num_classes: 2, width: 8, layers: [1, 1, 1, 1] } }",
    ),
    Field::opt(
        "weights",
        Ty::Path,
        "with `architecture`: the weights file (.safetensors, .pt/.pth PyTorch state dict, or .bpk burnpack)",
    ),
    Field::opt(
        "weights_sha256",
        Ty::Str,
        "with `architecture`: the SHA-256 the weights file must have (the locked model); another file is an error",
    ),
    Field::opt(
        "key_map",
        Ty::List(&Ty::Obj(KEY_RULE)),
        "with `architecture`: rules renaming the file's tensors to the network's, applied in order",
    ),
    Field::opt(
        "backend",
        Ty::Enum(Backend::NAMES),
        "with `architecture`: where the network runs, default `flex` (the CPU); others only where compiled in",
    ),
    Field::opt(
        "batch_size",
        Ty::Int { min: 1 },
        "with `architecture`: images per forward pass, default 16 (results do not depend on it)",
    ),
    Field::opt(
        "pipeline",
        Ty::Serde(pipeline_schema),
        "with `architecture`: how DICOM pixels become the network's input (`attest explain pipeline`)",
    ),
    Field::opt(
        "output",
        Ty::Obj(OUTPUT),
        "with `architecture`: which class's probability is an image's score, and how a case's images combine",
    ),
    Field::opt(
        "cases",
        Ty::Str,
        "with `command` or `architecture`: the case table (in `data:`) whose cases are scored",
    ),
    Field::opt(
        "images",
        Ty::Str,
        "with `command` or `architecture`: the DICOM source (in `data:`) the case files come from",
    ),
    Field::opt(
        "image_column",
        Ty::Str,
        "with `command` or `architecture`: the case-table column holding each case's StudyInstanceUID or SeriesInstanceUID, default `study_uid`",
    ),
    Field::opt(
        "timeout_s",
        Ty::Num {
            min: 0.001,
            max: 86400.0,
        },
        "with `command`: seconds one case (and the hello line) may take, default 60",
    ),
];

const KEY_RULE: &[Field] = &[
    Field::req(
        "from",
        Ty::Str,
        "a regular expression matched in each tensor name of the file",
    ),
    Field::req(
        "to",
        Ty::Str,
        "its replacement (`$1` names a capture group)",
    ),
];

const OUTPUT: &[Field] = &[
    Field::opt(
        "class",
        Ty::Int { min: 0 },
        "the class whose softmax probability is an image's score; default 1 with two classes",
    ),
    Field::opt(
        "aggregate",
        Ty::Enum(&["max", "mean"]),
        "how the scores of a case's images combine, default `max`",
    ),
    Field::opt(
        "threshold",
        Ty::Num { min: 0.0, max: 1.0 },
        "UNet with one sigmoid output: foreground where the probability is at least this, default 0.5",
    ),
    Field::opt(
        "structures",
        Ty::MapOf(&STRUCTURE_VALUE),
        "UNet: structure name → label (class index), for `structure:` of `segmentation`",
    ),
];

fn architecture_schema() -> Json {
    super::schema::embedded_schema::<Architecture>()
}

fn pipeline_schema() -> Json {
    super::schema::embedded_schema::<PipelineConfig>()
}

/// A declared model.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelDecl {
    pub name: String,
    /// The model's output: a file of case scores or detection candidates, or a mask folder.
    pub predictions: PathBuf,
    pub detections: bool,
    pub masks: bool,
    /// With `masks`: structure name → label value (NIfTI) or segment number (DICOM SEG).
    pub structures: BTreeMap<String, u32>,
    /// A model attest runs itself (then `predictions` is the spec's folder).
    pub run: Option<RunDecl>,
    pub id_column: String,
    pub score_column: String,
}

/// A model attest runs: where its cases and their files come from, and what runs.
#[derive(Debug, Clone, PartialEq)]
pub struct RunDecl {
    /// The case table's name in `data:`.
    pub cases: String,
    /// The DICOM source's name in `data:`.
    pub images: String,
    /// The column holding each case's StudyInstanceUID or SeriesInstanceUID.
    pub image_column: String,
    pub engine: Engine,
    /// Files the model reads that the spec names (arguments naming files, weights): hashed
    /// as inputs.
    pub files: Vec<PathBuf>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Engine {
    /// A vendor program behind the attest-model/1 line protocol.
    Command { argv: Vec<String>, timeout_s: f64 },
    /// A network attest implements, run in-process with burn.
    Burn(Box<BurnModelDecl>),
}

impl RunDecl {
    /// The burn model, if this is one.
    pub fn burn(&self) -> Option<&BurnModelDecl> {
        match &self.engine {
            Engine::Burn(b) => Some(b),
            Engine::Command { .. } => None,
        }
    }
}

const COMMAND_KEYS: &[&str] = &["command", "timeout_s"];
const BURN_KEYS: &[&str] = &[
    "architecture",
    "weights",
    "weights_sha256",
    "key_map",
    "backend",
    "batch_size",
    "pipeline",
    "output",
];
const RUN_KEYS: &[&str] = &["cases", "images", "image_column"];
const FILE_KEYS: &[&str] = &["predictions", "detections", "masks", "structures"];

/// Reads `models:`, checking that every path exists and every reference resolves.
pub(super) fn models(
    root: &Node,
    dir: &Path,
    data: &[DataDecl],
    out: &mut Vec<Diagnostic>,
) -> Vec<ModelDecl> {
    let mut models = Vec::new();
    for (k, v) in root.get("models").and_then(Node::as_map).unwrap_or(&[]) {
        let command = v.get("command");
        let architecture = v.get("architecture");
        if command.is_some() && architecture.is_some() {
            out.push(
                Diagnostic::new(
                    "invalid-model",
                    format!(
                        "model `{}`: `command` and `architecture` exclude each other",
                        k.name
                    ),
                    &v.pos,
                )
                .label("a model is either a program attest starts or a network it runs"),
            );
            continue;
        }
        if command.is_some() || architecture.is_some() {
            let (own, other, kind) = if command.is_some() {
                (COMMAND_KEYS, BURN_KEYS, "`command`")
            } else {
                (BURN_KEYS, COMMAND_KEYS, "`architecture`")
            };
            for key in FILE_KEYS {
                if let Some(n) = v.key(key) {
                    out.push(
                        Diagnostic::new(
                            "invalid-model",
                            format!("model `{}`: `{key}` and {kind} exclude each other", k.name),
                            &n.pos,
                        )
                        .label("a model attest runs produces its own scores"),
                    );
                }
            }
            for key in other {
                if let Some(n) = v.key(key) {
                    out.push(
                        Diagnostic::new(
                            "unused-parameter",
                            format!(
                                "model `{}`: `{key}` does not apply to a {kind} model",
                                k.name
                            ),
                            &n.pos,
                        )
                        .label(format!(
                            "{kind} models take: {}",
                            one_of(&[own, RUN_KEYS].concat())
                        )),
                    );
                }
            }
            if let Some(m) = run_model(&k.name, v, dir, data, out) {
                models.push(m);
            }
            continue;
        }
        for key in RUN_KEYS.iter().chain(COMMAND_KEYS).chain(BURN_KEYS) {
            if let Some(n) = v.key(key) {
                out.push(
                    Diagnostic::new(
                        "unused-parameter",
                        format!("`{key}` applies to models attest runs (`command` or `architecture`) only"),
                        &n.pos,
                    )
                    .label("remove this"),
                );
            }
        }
        let (p, detections, masks) = match (
            v.get("predictions"),
            v.get("detections"),
            v.get("masks"),
        ) {
            (Some(p), None, None) => (p, false, false),
            (None, Some(d), None) => (d, true, false),
            (None, None, Some(m)) => (m, false, true),
            _ => {
                out.push(
                    Diagnostic::new(
                        "invalid-model",
                        format!(
                            "model `{}` must have exactly one of `predictions`, `detections`, `masks`, `command` or `architecture`",
                            k.name
                        ),
                        &v.pos,
                    )
                    .label(
                        "e.g. `{ predictions: scores.csv }` or `{ detections: candidates.csv }`",
                    ),
                );
                continue;
            }
        };
        if !masks {
            structures(v, false, &k.name, out);
        }
        if let Some(path) = existing(p, dir, masks, out) {
            let col = |key: &str, default: &str| {
                v.get(key)
                    .and_then(Node::as_str)
                    .unwrap_or(default)
                    .to_string()
            };
            models.push(ModelDecl {
                name: k.name.clone(),
                predictions: path,
                detections,
                masks,
                structures: structures(v, masks, &k.name, out),
                run: None,
                id_column: col("id_column", "case_id"),
                score_column: col("score_column", "score"),
            });
        }
    }
    models
}

/// A model attest runs: its case table and DICOM source (which must be declared in `data:`
/// with those kinds), and the program or the network.
fn run_model(
    name: &str,
    v: &Node,
    dir: &Path,
    data: &[DataDecl],
    out: &mut Vec<Diagnostic>,
) -> Option<ModelDecl> {
    for key in ["id_column", "score_column"] {
        if let Some(n) = v.key(key) {
            out.push(
                Diagnostic::new(
                    "unused-parameter",
                    format!("model `{name}`: `{key}` applies to prediction files only"),
                    &n.pos,
                )
                .label("a model attest runs writes `case_id,score`"),
            );
        }
    }
    let mut source = |key: &str, is_kind: fn(&Source) -> bool, what: &str| -> Option<String> {
        let Some(n) = v.get(key) else {
            out.push(
                Diagnostic::new(
                    "missing-key",
                    format!("model `{name}` needs `{key}`: {what}"),
                    &v.pos,
                )
                .label(format!("add `{key}:`")),
            );
            return None;
        };
        let value = n.as_str()?.to_string();
        let known: Vec<String> = data
            .iter()
            .filter(|d| is_kind(&d.source))
            .map(|d| d.name.clone())
            .collect();
        crate::checks::reference(v, key, &value, &known, what, out);
        Some(value)
    };
    let cases = source(
        "cases",
        |s| matches!(s, Source::Table { .. }),
        "a case table (`table:`) in `data:`",
    );
    let images = source(
        "images",
        |s| matches!(s, Source::Dicom { .. }),
        "a DICOM source (`dicom:`) in `data:`",
    );
    let (engine, files) = match v.get("command") {
        Some(cmd) => command(cmd, v, dir, out),
        None => burn(name, v, dir, out)?,
    };
    let segments = matches!(&engine, Engine::Burn(b) if b.architecture.segments());
    let structures = match &engine {
        Engine::Burn(b) if segments => mask_structures(v, b.architecture.classes(), name, out),
        _ => BTreeMap::new(),
    };
    Some(ModelDecl {
        name: name.to_string(),
        predictions: dir.to_path_buf(),
        detections: false,
        masks: segments,
        structures,
        run: Some(RunDecl {
            cases: cases?,
            images: images?,
            image_column: v
                .get("image_column")
                .and_then(Node::as_str)
                .unwrap_or("study_uid")
                .to_string(),
            engine,
            files,
        }),
        id_column: "case_id".to_string(),
        score_column: "score".to_string(),
    })
}

/// A `command:` model: the program, and the files its arguments name.
fn command(cmd: &Node, v: &Node, dir: &Path, out: &mut Vec<Diagnostic>) -> (Engine, Vec<PathBuf>) {
    let argv: Vec<String> = cmd
        .as_seq()
        .unwrap_or(&[])
        .iter()
        .filter_map(|n| n.as_str().map(str::to_string))
        .collect();
    if argv.is_empty() {
        out.push(
            Diagnostic::new("invalid-model", "`command` is empty", &cmd.pos)
                .label("e.g. `[python3, vendor/run.py]`"),
        );
    }
    let files = argv
        .iter()
        .map(|a| dir.join(a))
        .filter(|p| p.is_file())
        .collect();
    let timeout_s = v.get("timeout_s").and_then(Node::as_f64).unwrap_or(60.0);
    (Engine::Command { argv, timeout_s }, files)
}

/// An `architecture:` model: the network, its weights, the pipeline and the output rule, each
/// checked against the others (channels, classes, images rather than volumes).
fn burn(
    name: &str,
    v: &Node,
    dir: &Path,
    out: &mut Vec<Diagnostic>,
) -> Option<(Engine, Vec<PathBuf>)> {
    let arch_node = v.get("architecture")?;
    let architecture: Option<Architecture> = from_node(arch_node, "architecture", out);
    if let Some(a) = &architecture {
        for (field, message) in a.problems() {
            out.push(
                Diagnostic::new(
                    "invalid-architecture",
                    format!("model `{name}`: architecture.{field} {message}"),
                    &locate(arch_node, &field),
                )
                .label("here"),
            );
        }
    }
    let weights = match v.get("weights") {
        Some(n) => {
            let path = existing(n, dir, false, out);
            if let Some(p) = &path {
                if let Err(e) = crate::model::burn::WeightsFormat::from_path(p) {
                    out.push(Diagnostic::new("invalid-model", e.to_string(), &n.pos).label(
                        "expected .safetensors, .pt or .pth (PyTorch state dict) or .bpk (burnpack)",
                    ));
                }
            }
            path
        }
        None => {
            out.push(
                Diagnostic::new(
                    "missing-key",
                    format!(
                        "model `{name}` needs `weights`: the file its parameters are read from"
                    ),
                    &v.pos,
                )
                .label("add `weights: path/to/weights.safetensors`"),
            );
            None
        }
    };
    let weights_sha256 = v.get("weights_sha256").and_then(|n| {
        let s = n.as_str()?;
        if s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit()) {
            Some(s.to_ascii_lowercase())
        } else {
            out.push(
                Diagnostic::new(
                    "invalid-value",
                    format!(
                        "`weights_sha256` must be 64 hexadecimal digits, found {} characters",
                        s.len()
                    ),
                    &n.pos,
                )
                .label("e.g. the output of `sha256sum weights.safetensors`"),
            );
            None
        }
    });
    let mut key_map = KeyMap::identity();
    for rule in v.get("key_map").and_then(Node::as_seq).unwrap_or(&[]) {
        let (Some(from), Some(to)) = (
            rule.get("from").and_then(Node::as_str),
            rule.get("to").and_then(Node::as_str),
        ) else {
            continue; // the schema reports it
        };
        if let Err(e) = regex::Regex::new(from) {
            out.push(
                Diagnostic::new(
                    "invalid-value",
                    format!("`from` is not a valid regular expression: {e}"),
                    &rule.get("from").expect("read above").pos,
                )
                .label("a regular expression (Rust regex syntax)"),
            );
        }
        key_map = key_map.rule(from, to);
    }
    let backend = match v.get("backend").and_then(Node::as_str) {
        None => Some(Backend::default()),
        Some(b) => {
            let found = Backend::from_name(b);
            if found.is_none() && Backend::NAMES.contains(&b) {
                out.push(unavailable_backend(
                    b,
                    &v.get("backend").expect("read above").pos,
                ));
            }
            found
        }
    };
    let batch_size = v
        .get("batch_size")
        .and_then(Node::as_f64)
        .map_or(16, |x| x.max(1.0) as usize);
    let pipeline: Option<PipelineConfig> = match v.get("pipeline") {
        Some(n) => {
            let p: Option<PipelineConfig> = from_node(n, "pipeline", out);
            if let Some(p) = &p {
                for problem in p.validate() {
                    out.push(
                        Diagnostic::new(
                            "invalid-pipeline",
                            format!(
                                "model `{name}`: pipeline.{} {}",
                                problem.field, problem.message
                            ),
                            &locate(n, problem.field),
                        )
                        .label("here"),
                    );
                }
            }
            p
        }
        None => Some(PipelineConfig::default()),
    };
    if let (Some(a), Some(p)) = (&architecture, &pipeline) {
        let pipeline_pos = v.get("pipeline").map_or(&v.pos, |n| &n.pos);
        if usize::from(p.channels) != a.in_channels() {
            out.push(
                Diagnostic::new(
                    "invalid-model",
                    format!(
                        "model `{name}`: the pipeline gives {} channel(s), the network takes {}",
                        p.channels,
                        a.in_channels()
                    ),
                    pipeline_pos,
                )
                .label(format!(
                    "set `channels: {}` here, or `in_channels` in the architecture",
                    a.in_channels()
                )),
            );
        }
        if p.volume && !a.segments() {
            out.push(
                Diagnostic::new(
                    "invalid-model",
                    format!("model `{name}`: a ResNet classifier takes single images, but the pipeline assembles volumes"),
                    pipeline_pos,
                )
                .label("remove `volume: true`: each DICOM file is one image, and a case's images combine by `output.aggregate`"),
            );
        }
        if let (Architecture::Unet(u), Some([r, c])) = (a, p.resample.as_ref().and_then(|r| r.size))
        {
            let multiple = 1u64 << u.depth.min(16);
            if u64::from(r) % multiple != 0 || u64::from(c) % multiple != 0 {
                out.push(
                    Diagnostic::new(
                        "invalid-model",
                        format!("model `{name}`: a UNet of depth {} needs images a multiple of {multiple} pixels on each side; the pipeline resamples to {r} x {c}", u.depth),
                        pipeline_pos,
                    )
                    .label(format!("resample to a multiple of {multiple}")),
                );
            }
        }
        if !p.volume && a.segments() {
            out.push(
                Diagnostic::new(
                    "invalid-model",
                    format!("model `{name}`: a UNet segments a case's series slice by slice, so the pipeline must assemble it"),
                    pipeline_pos,
                )
                .label("add `volume: true` (a single image is a one-slice series)"),
            );
        }
    }
    let output = match &architecture {
        Some(Architecture::Unet(u)) => Some(mask_output(name, u, v.get("output"), out)),
        Some(a) => score_output(name, a, v, out),
        None => None,
    };
    let weights = weights?;
    let decl = BurnModelDecl {
        architecture: architecture?,
        weights: weights.clone(),
        weights_sha256,
        key_map,
        backend: backend?,
        batch_size,
        pipeline: pipeline?,
        output: output?,
    };
    Some((Engine::Burn(Box::new(decl)), vec![weights]))
}

/// A classifier's output rule: the class whose probability is an image's score (default 1
/// with two classes) and how a case's images combine; `threshold` and `structures` are for
/// segmentation networks.
fn score_output(
    name: &str,
    a: &Architecture,
    v: &Node,
    out: &mut Vec<Diagnostic>,
) -> Option<Output> {
    let output = v.get("output");
    for key in ["threshold", "structures"] {
        if let Some(k) = output.and_then(|o| o.key(key)) {
            out.push(
                Diagnostic::new(
                    "unused-parameter",
                    format!("model `{name}`: `output.{key}` applies to segmentation networks (`unet`) only"),
                    &k.pos,
                )
                .label("remove this"),
            );
        }
    }
    let aggregate = match output
        .and_then(|o| o.get("aggregate"))
        .and_then(Node::as_str)
    {
        Some("mean") => Aggregate::Mean,
        _ => Aggregate::Max,
    };
    let class = match output.and_then(|o| o.get("class")) {
        Some(n) => {
            let c = n.as_f64().unwrap_or(0.0).max(0.0) as usize;
            if c >= a.classes() {
                out.push(
                    Diagnostic::new(
                        "out-of-range",
                        format!("model `{name}`: class {c} does not exist; the network has {} classes (0 to {})", a.classes(), a.classes().saturating_sub(1)),
                        &n.pos,
                    )
                    .label(format!("at most {}", a.classes().saturating_sub(1))),
                );
            }
            c
        }
        None if a.classes() == 2 => 1,
        None => {
            out.push(
                Diagnostic::new(
                    "missing-key",
                    format!(
                        "model `{name}` has {} classes: say which class's probability is the score",
                        a.classes()
                    ),
                    output.map_or(&v.pos, |o| &o.pos),
                )
                .label("add `output: { class: N }`"),
            );
            return None;
        }
    };
    Some(Output::Score { class, aggregate })
}

/// A UNet's output rule: a threshold for a single sigmoid output (default 0.5); `class` and
/// `aggregate` are for classifiers.
fn mask_output(
    name: &str,
    u: &crate::model::burn::UNetConfig,
    output: Option<&Node>,
    out: &mut Vec<Diagnostic>,
) -> Output {
    for key in ["class", "aggregate"] {
        if let Some(k) = output.and_then(|o| o.key(key)) {
            out.push(
                Diagnostic::new(
                    "unused-parameter",
                    format!("model `{name}`: `output.{key}` applies to classifiers; a UNet gives a label map per case"),
                    &k.pos,
                )
                .label("remove this"),
            );
        }
    }
    let threshold = output.and_then(|o| o.get("threshold"));
    if let (Some(t), true) = (threshold, u.out_channels > 1) {
        out.push(
            Diagnostic::new(
                "unused-parameter",
                format!("model `{name}`: with {} output channels each pixel takes its most probable class; `threshold` applies to one sigmoid output", u.out_channels),
                &t.pos,
            )
            .label("remove this"),
        );
    }
    Output::Mask {
        threshold: threshold.and_then(Node::as_f64).unwrap_or(0.5),
    }
}

/// The structures a segmentation network's labels stand for (`output.structures`), checked
/// against its classes.
pub(super) fn mask_structures(
    v: &Node,
    classes: usize,
    name: &str,
    out: &mut Vec<Diagnostic>,
) -> BTreeMap<String, u32> {
    let mut map = BTreeMap::new();
    let Some(node) = v.get("output").and_then(|o| o.get("structures")) else {
        return map;
    };
    for (key, value) in node.as_map().unwrap_or(&[]) {
        let Some(x) = value.as_f64() else { continue };
        if x.fract() == 0.0 && x >= 1.0 && (x as usize) < classes {
            map.insert(key.name.clone(), x as u32);
        } else if x.fract() == 0.0 && x >= 1.0 {
            out.push(
                Diagnostic::new(
                    "out-of-range",
                    format!(
                        "model `{name}`: structure `{}` is label {x}, but the network's labels are 0 (background) to {}",
                        key.name,
                        classes - 1
                    ),
                    &value.pos,
                )
                .label(format!("at most {}", classes - 1)),
            );
        }
    }
    map
}

/// A backend the spec names that this build of attest lacks.
pub fn unavailable_backend(name: &str, pos: &Pos) -> Diagnostic {
    let names: Vec<&str> = Backend::available().iter().map(|b| b.name()).collect();
    Diagnostic::new(
        "unavailable-backend",
        format!("backend `{name}` is not compiled into this attest"),
        pos,
    )
    .label(format!("available: {}", one_of(&names)))
    .help(format!("build attest with `--features {name}` to use it"))
}

/// Deserialises a section into `T`; a problem (unknown key, wrong type) is a diagnostic at the
/// key it names when it can be found.
fn from_node<T: serde::de::DeserializeOwned>(
    n: &Node,
    what: &str,
    out: &mut Vec<Diagnostic>,
) -> Option<T> {
    match serde_json::from_value::<T>(n.to_json()) {
        Ok(t) => Some(t),
        Err(e) => {
            let message = e.to_string();
            // serde names the offending key or variant in backticks first.
            let named = message.split('`').nth(1).unwrap_or("");
            let pos = find_key(n, named).unwrap_or_else(|| n.pos.clone());
            out.push(
                Diagnostic::new("invalid-value", format!("`{what}`: {message}"), &pos)
                    .label("here"),
            );
            None
        }
    }
}

/// The position of the key `name` anywhere under `n` (first in document order).
fn find_key(n: &Node, name: &str) -> Option<Pos> {
    match &n.value {
        Value::Map(entries) => entries.iter().find_map(|(k, v)| {
            if k.name == name {
                Some(k.pos.clone())
            } else {
                find_key(v, name)
            }
        }),
        Value::Seq(items) => items.iter().find_map(|v| find_key(v, name)),
        _ => None,
    }
}

/// The node at a dotted path under `n` (e.g. `resample.size`), or the deepest one found.
fn locate(n: &Node, dotted: &str) -> Pos {
    let mut at = n;
    for part in dotted.split('.') {
        match at.get(part) {
            Some(next) => at = next,
            None => break,
        }
    }
    at.pos.clone()
}
