//! Weights read at run time into a burn module, with a declared key map and a strict policy:
//! every tensor the model expects must be in the file with its exact shape and as float32,
//! and every tensor in the file must be used, or loading fails with a typed error that names
//! what was expected and what was found. Nothing is loaded partially and nothing panics.
//!
//! Three formats, told apart by the file extension:
//! - safetensors (`.safetensors`), in PyTorch's layout and naming (`Linear` weights
//!   `[out, in]`, batch norm `weight`/`bias`);
//! - PyTorch state dicts written by `torch.save(model.state_dict(), ..)` (`.pt`, `.pth`),
//!   read by burn-store's pickle reader without Python;
//! - burnpack (`.bpk`), burn's own format, in burn's layout and naming.
//!
//! How it works: burn-store reads the file's tensor descriptors (names, dtypes, shapes; no
//! data yet); the key map renames them; they are compared with what the module declares
//! (`ModuleSnapshot::collect`, translated to PyTorch's layout for the two PyTorch formats);
//! only if everything matches is the data applied (`ModuleSnapshot::apply`, which reports
//! its own `ApplyResult`, checked again: nothing missing, unused or in error). PyTorch's
//! integer `num_batches_tracked` buffers have no counterpart in burn's batch norm and are
//! ignored by name, and listed as ignored in [`WeightsInfo`].
//!
//! The SHA-256 is computed over the very bytes that are parsed (safetensors and burnpack are
//! parsed from memory, not re-opened), so the hash in a manifest is the hash of the weights
//! that ran. The PyTorch reader opens the file itself; its hash is of a read made just before.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use burn::module::Module;
use burn::store::burn_pack::Tensor as PackTensor;
use burn::store::{
    ApplyError, BurnToPyTorchAdapter, BurnpackStore, ModuleAdapter, ModuleSnapshot, ModuleStore,
    PyTorchToBurnAdapter, PytorchStore, SafetensorsStore,
};
use burn::tensor::{Bytes, DType};
use regex::Regex;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// A weights file format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WeightsFormat {
    /// `.safetensors`, PyTorch layout and naming.
    Safetensors,
    /// `.pt` / `.pth`, a PyTorch state dict (`torch.save(model.state_dict())`).
    Pytorch,
    /// `.bpk`, burn's own format, burn layout and naming.
    Burnpack,
}

impl WeightsFormat {
    /// The format named by `path`'s extension.
    pub fn from_path(path: &Path) -> Result<WeightsFormat, WeightsError> {
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase);
        match ext.as_deref() {
            Some("safetensors") => Ok(WeightsFormat::Safetensors),
            Some("pt" | "pth") => Ok(WeightsFormat::Pytorch),
            Some("bpk") => Ok(WeightsFormat::Burnpack),
            _ => Err(WeightsError::UnknownFormat {
                path: path.to_path_buf(),
            }),
        }
    }

    /// Whether files of this format use PyTorch's layout and parameter names.
    fn pytorch_layout(self) -> bool {
        !matches!(self, WeightsFormat::Burnpack)
    }
}

impl fmt::Display for WeightsFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            WeightsFormat::Safetensors => "safetensors",
            WeightsFormat::Pytorch => "PyTorch state dict",
            WeightsFormat::Burnpack => "burnpack",
        })
    }
}

/// One renaming rule: every match of the regular expression `from` in a tensor name is
/// replaced by `to` (`$1` names a capture group).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyRule {
    pub from: String,
    pub to: String,
}

/// How the names in a weights file become the model's names: rules applied in order, each to
/// the previous one's output (burn-store's `KeyRemapper` semantics). Declared, not guessed:
/// the rules travel into [`WeightsInfo`] and so into the manifest.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct KeyMap {
    rules: Vec<KeyRule>,
}

impl KeyMap {
    /// Names are used as they are in the file.
    pub fn identity() -> KeyMap {
        KeyMap::default()
    }

    /// Adds a rule after the existing ones.
    pub fn rule(mut self, from: impl Into<String>, to: impl Into<String>) -> KeyMap {
        self.rules.push(KeyRule {
            from: from.into(),
            to: to.into(),
        });
        self
    }

    /// torchvision's ResNet names the projection shortcut `downsample.0` (conv) and
    /// `downsample.1` (batch norm), positions in an `nn.Sequential`; [`super::ResNet`] names
    /// them `downsample.conv` and `downsample.bn`. Every other name is torchvision's.
    pub fn torchvision_resnet() -> KeyMap {
        KeyMap::identity()
            .rule(r"\.downsample\.0\.", ".downsample.conv.")
            .rule(r"\.downsample\.1\.", ".downsample.bn.")
    }

    /// The rules, in order.
    pub fn rules(&self) -> &[KeyRule] {
        &self.rules
    }

    fn compile(&self) -> Result<Vec<(Regex, &str)>, WeightsError> {
        self.rules
            .iter()
            .map(|r| {
                Regex::new(&r.from)
                    .map(|re| (re, r.to.as_str()))
                    .map_err(|e| WeightsError::KeyMap {
                        pattern: r.from.clone(),
                        message: e.to_string(),
                    })
            })
            .collect()
    }
}

fn apply_rules(rules: &[(Regex, &str)], name: &str) -> String {
    rules.iter().fold(name.to_string(), |n, (re, to)| {
        re.replace_all(&n, *to).into_owned()
    })
}

/// What was loaded: for the manifest and the report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WeightsInfo {
    pub path: PathBuf,
    pub format: WeightsFormat,
    /// SHA-256 of the file's bytes, lowercase hex.
    pub sha256: String,
    /// Tensors loaded into the model.
    pub tensors: usize,
    /// Tensors in the file deliberately not loaded (`num_batches_tracked`), by file name.
    pub ignored: Vec<String>,
    pub key_map: KeyMap,
}

/// A tensor as the model expects it (names after the key map, in the file's convention).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expected {
    pub name: String,
    pub shape: Vec<usize>,
}

/// A tensor as the file holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    /// The name after the key map.
    pub name: String,
    /// The name in the file, before the key map.
    pub file_name: String,
    pub shape: Vec<usize>,
    pub dtype: String,
}

/// Everything that keeps a weights file from fitting a model, found in one pass.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Mismatch {
    /// Expected by the model, absent from the file.
    pub missing: Vec<Expected>,
    /// In the file, not part of the model.
    pub unexpected: Vec<Found>,
    /// In both, with different shapes.
    pub wrong_shape: Vec<(Expected, Found)>,
    /// In both, stored as something other than float32.
    pub wrong_dtype: Vec<Found>,
    /// Several file tensors that the key map sends to one name.
    pub collisions: Vec<(String, Vec<String>)>,
    /// Problems burn-store reported while applying data that passed the checks above.
    pub apply_errors: Vec<String>,
    /// How many tensors the model expects and the file holds (after ignoring).
    pub expected_count: usize,
    pub found_count: usize,
}

impl Mismatch {
    fn is_empty(&self) -> bool {
        self.missing.is_empty()
            && self.unexpected.is_empty()
            && self.wrong_shape.is_empty()
            && self.wrong_dtype.is_empty()
            && self.collisions.is_empty()
            && self.apply_errors.is_empty()
    }
}

fn file_name_note(f: &Found) -> String {
    if f.name == f.file_name {
        String::new()
    } else {
        format!(" (`{}` in the file)", f.file_name)
    }
}

impl fmt::Display for Mismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "the model expects {} tensors, the file holds {} (names after the key map)",
            self.expected_count, self.found_count
        )?;
        if let Some(prefix) = self.common_prefix() {
            writeln!(
                f,
                "every missing name is in the file behind the prefix `{prefix}`: \
                 a key-map rule from `^{}` to `` would match them",
                regex::escape(&prefix)
            )?;
        }
        if !self.missing.is_empty() {
            writeln!(f, "missing from the file ({}):", self.missing.len())?;
            for m in self.missing.iter().take(LISTED) {
                write!(f, "  `{}` {:?}", m.name, m.shape)?;
                if let Some(near) = self.closest_unexpected(&m.name, &m.shape) {
                    write!(f, "; the file has `{}` {:?}", near.name, near.shape)?;
                }
                writeln!(f)?;
            }
            more(f, self.missing.len())?;
        }
        if !self.unexpected.is_empty() {
            writeln!(
                f,
                "in the file but not in the model ({}):",
                self.unexpected.len()
            )?;
            for u in self.unexpected.iter().take(LISTED) {
                writeln!(
                    f,
                    "  `{}` {:?} {}{}",
                    u.name,
                    u.shape,
                    u.dtype,
                    file_name_note(u)
                )?;
            }
            more(f, self.unexpected.len())?;
        }
        if !self.wrong_shape.is_empty() {
            writeln!(f, "wrong shape ({}):", self.wrong_shape.len())?;
            for (e, found) in self.wrong_shape.iter().take(LISTED) {
                writeln!(
                    f,
                    "  `{}`: the model expects {:?}, the file has {:?}{}",
                    e.name,
                    e.shape,
                    found.shape,
                    file_name_note(found)
                )?;
            }
            more(f, self.wrong_shape.len())?;
        }
        if !self.wrong_dtype.is_empty() {
            writeln!(
                f,
                "not float32 ({}; convert the checkpoint, e.g. `model.float()` before saving):",
                self.wrong_dtype.len()
            )?;
            for d in self.wrong_dtype.iter().take(LISTED) {
                writeln!(f, "  `{}` is {}{}", d.name, d.dtype, file_name_note(d))?;
            }
            more(f, self.wrong_dtype.len())?;
        }
        for (name, sources) in &self.collisions {
            writeln!(
                f,
                "the key map sends {} file tensors to `{name}`: {}",
                sources.len(),
                sources.join(", ")
            )?;
        }
        for e in &self.apply_errors {
            writeln!(f, "{e}")?;
        }
        Ok(())
    }
}

impl Mismatch {
    /// The unexpected tensor most likely meant as `name`: one whose name is `name` behind an
    /// extra prefix (or the other way round), else the nearest by normalised Levenshtein
    /// similarity of at least 0.8, preferring the same shape.
    fn closest_unexpected(&self, name: &str, shape: &[usize]) -> Option<&Found> {
        let dotted = |long: &str, short: &str| {
            long.len() > short.len()
                && long.ends_with(short)
                && long.as_bytes()[long.len() - short.len() - 1] == b'.'
        };
        if let Some(u) = self
            .unexpected
            .iter()
            .find(|u| dotted(&u.name, name) || dotted(name, &u.name))
        {
            return Some(u);
        }
        self.unexpected
            .iter()
            .map(|u| {
                let score = strsim::normalized_levenshtein(name, &u.name);
                (score, u.shape == shape, u)
            })
            .filter(|(score, _, _)| *score >= 0.8)
            .max_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)))
            .map(|(_, _, u)| u)
    }

    /// A prefix that every unexpected name carries in front of a missing name, if one does:
    /// the usual reason nothing matches (`model.`, `module.`, `backbone.`).
    fn common_prefix(&self) -> Option<String> {
        let mut prefix: Option<String> = None;
        for m in &self.missing {
            let u = self.closest_unexpected(&m.name, &m.shape)?;
            let p = u.name.strip_suffix(m.name.as_str())?;
            if p.is_empty() || prefix.as_deref().is_some_and(|q| q != p) {
                return None;
            }
            prefix = Some(p.to_string());
        }
        prefix
    }
}

/// Entries listed per section of a [`Mismatch`] message; the error value holds them all.
const LISTED: usize = 30;

fn more(f: &mut fmt::Formatter<'_>, total: usize) -> fmt::Result {
    if total > LISTED {
        writeln!(f, "  ... and {} more", total - LISTED)?;
    }
    Ok(())
}

/// Why weights could not be loaded. Every variant names the file.
#[derive(Debug, thiserror::Error)]
pub enum WeightsError {
    #[error("cannot read weights file {}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "{}: unknown weights format (expected .safetensors, .pt, .pth or .bpk)",
        path.display()
    )]
    UnknownFormat { path: PathBuf },
    #[error("{}: not a readable {format} file: {message}", path.display())]
    Corrupt {
        path: PathBuf,
        format: WeightsFormat,
        message: String,
    },
    #[error("invalid key map rule `{pattern}`: {message}")]
    KeyMap { pattern: String, message: String },
    #[error("{}: the weights do not fit the model: {mismatch}", path.display())]
    Mismatch {
        path: PathBuf,
        mismatch: Box<Mismatch>,
    },
}

/// Loads the weights at `path` into `model`, all or nothing (the module is only changed when
/// every tensor fits).
pub(crate) fn load_into<M: Module>(
    model: &mut M,
    path: &Path,
    key_map: &KeyMap,
) -> Result<WeightsInfo, WeightsError> {
    let format = WeightsFormat::from_path(path)?;
    let rules = key_map.compile()?;
    let bytes = std::fs::read(path).map_err(|source| WeightsError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let sha256 = hex::encode(Sha256::digest(&bytes));
    let corrupt = |message: String| WeightsError::Corrupt {
        path: path.to_path_buf(),
        format,
        message,
    };

    // Descriptors only: burn-store's tensors read their data lazily. Remapping and index
    // renumbering are left to us so that every name can be reported as the file spells it.
    let tensors = match format {
        WeightsFormat::Safetensors => read_descriptors(
            SafetensorsStore::from_bytes(Some(bytes)).map_indices_contiguous(false),
        ),
        WeightsFormat::Pytorch => {
            drop(bytes);
            read_descriptors(PytorchStore::from_file(path).map_indices_contiguous(false))
        }
        WeightsFormat::Burnpack => read_descriptors(BurnpackStore::from_bytes(Some(
            Bytes::from_bytes_vec(bytes),
        ))),
    }
    .map_err(corrupt)?;

    let expected: BTreeMap<String, Vec<usize>> = model
        .collect(
            None,
            format
                .pytorch_layout()
                .then(|| Box::new(BurnToPyTorchAdapter) as Box<dyn ModuleAdapter>),
            false,
        )
        .into_iter()
        .map(|t| (t.name, t.shape.to_vec()))
        .collect();

    let mut ignored = Vec::new();
    let mut by_name: BTreeMap<String, Vec<(PackTensor, String)>> = BTreeMap::new();
    for mut t in tensors {
        let name = apply_rules(&rules, &t.name);
        if !expected.contains_key(&name) && is_num_batches_tracked(&name) {
            ignored.push(t.name);
            continue;
        }
        let file_name = std::mem::replace(&mut t.name, name.clone());
        by_name.entry(name).or_default().push((t, file_name));
    }

    let mut mismatch = Mismatch {
        expected_count: expected.len(),
        found_count: by_name.values().map(Vec::len).sum(),
        ..Mismatch::default()
    };
    let mut to_apply = Vec::with_capacity(by_name.len());
    for (name, mut group) in by_name {
        if group.len() > 1 {
            mismatch
                .collisions
                .push((name, group.iter().map(|(_, file)| file.clone()).collect()));
            continue;
        }
        let (tensor, file_name) = group.pop().expect("groups are never empty");
        let found = Found {
            name: name.clone(),
            file_name,
            shape: tensor.shape.to_vec(),
            dtype: format!("{:?}", tensor.dtype),
        };
        match expected.get(&name) {
            None => mismatch.unexpected.push(found),
            Some(shape) if *shape != found.shape => mismatch.wrong_shape.push((
                Expected {
                    name,
                    shape: shape.clone(),
                },
                found,
            )),
            Some(_) if tensor.dtype != DType::F32 => mismatch.wrong_dtype.push(found),
            Some(_) => to_apply.push(tensor),
        }
    }
    for (name, shape) in &expected {
        let present = mismatch.wrong_shape.iter().any(|(e, _)| &e.name == name)
            || mismatch.wrong_dtype.iter().any(|f| &f.name == name)
            || mismatch.collisions.iter().any(|(n, _)| n == name)
            || to_apply.iter().any(|t| &t.name == name);
        if !present {
            mismatch.missing.push(Expected {
                name: name.clone(),
                shape: shape.clone(),
            });
        }
    }
    if !mismatch.is_empty() {
        return Err(WeightsError::Mismatch {
            path: path.to_path_buf(),
            mismatch: Box::new(mismatch),
        });
    }

    // Everything fits: apply to a copy, so that a failure while reading the data (a file
    // truncated after its header was read) leaves `model` untouched. Module clones share
    // their parameter buffers, so the copy costs no tensor data.
    let count = to_apply.len();
    let adapter: Option<Box<dyn ModuleAdapter>> = format
        .pytorch_layout()
        .then(|| Box::new(PyTorchToBurnAdapter) as Box<dyn ModuleAdapter>);
    let mut loaded = model.clone();
    let result = loaded.apply(to_apply, None, adapter, false);
    let mut after = Mismatch {
        expected_count: expected.len(),
        found_count: count,
        ..Mismatch::default()
    };
    for e in &result.errors {
        match e {
            ApplyError::LoadError { path: p, message } => {
                return Err(corrupt(format!("tensor `{p}`: {message}")));
            }
            other => after.apply_errors.push(other.to_string()),
        }
    }
    after.apply_errors.extend(
        result
            .missing
            .iter()
            .map(|(p, _)| format!("not applied: `{p}`")),
    );
    after
        .apply_errors
        .extend(result.unused.iter().map(|p| format!("not used: `{p}`")));
    if !after.is_empty() || result.applied.len() != count {
        return Err(WeightsError::Mismatch {
            path: path.to_path_buf(),
            mismatch: Box::new(after),
        });
    }
    *model = loaded;
    ignored.sort();
    Ok(WeightsInfo {
        path: path.to_path_buf(),
        format,
        sha256,
        tensors: count,
        ignored,
        key_map: key_map.clone(),
    })
}

/// Writes `model` as burnpack (`.bpk`) at `path`, replacing any file there.
pub(crate) fn save_burnpack<M: Module>(model: &M, path: &Path) -> Result<(), WeightsError> {
    let mut store = BurnpackStore::from_file(path)
        .auto_extension(false)
        .overwrite(true);
    model.save_into(&mut store).map_err(|e| WeightsError::Io {
        path: path.to_path_buf(),
        source: std::io::Error::other(e.to_string()),
    })
}

/// Writes `model` as safetensors at `path` in PyTorch's layout (`Linear` weights
/// `[out, in]`, batch norm `weight`/`bias`) under burn's module names, replacing any file
/// there. The header's metadata is the single entry `format: pt` (the Hugging Face
/// convention for PyTorch-layout files): burn-store's default metadata has three entries, and
/// the safetensors crate writes metadata from a `HashMap`, so with more than one entry the
/// bytes, and the SHA-256, would change from run to run with the same weights.
pub(crate) fn save_safetensors<M: Module>(model: &M, path: &Path) -> Result<(), WeightsError> {
    let mut store = SafetensorsStore::from_file(path)
        .with_to_adapter(BurnToPyTorchAdapter)
        .clear_metadata()
        .metadata("format", "pt")
        .overwrite(true);
    model.save_into(&mut store).map_err(|e| WeightsError::Io {
        path: path.to_path_buf(),
        source: std::io::Error::other(e.to_string()),
    })
}

fn is_num_batches_tracked(name: &str) -> bool {
    name == "num_batches_tracked" || name.ends_with(".num_batches_tracked")
}

/// The tensor descriptors in a store, or the store's own message; a panic in a reader (a
/// malformed pickle, say) is caught and reported like any other unreadable file.
fn read_descriptors<S: ModuleStore>(mut store: S) -> Result<Vec<PackTensor>, String> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || {
        store
            .get_all_tensors()
            .map(|m| m.values().cloned().collect::<Vec<_>>())
            .map_err(|e| e.to_string())
    }))
    .unwrap_or_else(|payload| {
        Err(payload
            .downcast_ref::<&str>()
            .map(|s| (*s).to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "the reader panicked".to_string()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_apply_in_order_to_every_match() {
        let map = KeyMap::identity()
            .rule(r"^module\.", "")
            .rule(r"\.downsample\.(\d)\.", ".ds$1.");
        let rules = map.compile().unwrap();
        assert_eq!(
            apply_rules(&rules, "module.layer1.downsample.0.weight"),
            "layer1.ds0.weight"
        );
        // Every match, not only the first (regex replace_all, as burn-store's KeyRemapper).
        let map = KeyMap::identity().rule("a", "b");
        let twice = map.compile().unwrap();
        assert_eq!(apply_rules(&twice, "a.a"), "b.b");
    }

    #[test]
    fn format_follows_the_extension() {
        let f = |p: &str| WeightsFormat::from_path(Path::new(p)).ok();
        assert_eq!(f("m.safetensors"), Some(WeightsFormat::Safetensors));
        assert_eq!(f("m.PT"), Some(WeightsFormat::Pytorch));
        assert_eq!(f("m.pth"), Some(WeightsFormat::Pytorch));
        assert_eq!(f("m.bpk"), Some(WeightsFormat::Burnpack));
        assert_eq!(f("m.onnx"), None);
        assert_eq!(f("model"), None);
    }

    #[test]
    fn suggestions_prefer_a_prefix_then_a_near_spelling() {
        let found = |name: &str, shape: Vec<usize>| Found {
            name: name.into(),
            file_name: name.into(),
            shape,
            dtype: "F32".into(),
        };
        let m = Mismatch {
            unexpected: vec![
                found("backbone.fc.weight", vec![3, 8]),
                found("layer1.0.conv_2.weight", vec![4, 4, 3, 3]),
            ],
            ..Mismatch::default()
        };
        let near = |n: &str| m.closest_unexpected(n, &[]).map(|f| f.name.as_str());
        assert_eq!(near("fc.weight"), Some("backbone.fc.weight"));
        assert_eq!(
            near("layer1.0.conv2.weight"),
            Some("layer1.0.conv_2.weight")
        );
        assert_eq!(near("bn1.running_var"), None);
    }
}
