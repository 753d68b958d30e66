//! The DICOM index: one compact record per instance, read from headers only.
//!
//! Folders are walked with walkdir in sorted order; each file is read once, hashed (for the
//! manifest) and parsed up to, not including, Pixel Data (7FE0,0010) by dicom-object, in
//! parallel with rayon. Results keep the walk order, so the index is the same whatever the
//! thread count. A file that cannot be parsed becomes a `ReadFailure` with the reason; the
//! rest of the folder is still indexed. Patient IDs are replaced by keyed pseudonyms at
//! read time and never kept.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use dicom_core::Tag;
use dicom_dictionary_std::tags;
use dicom_object::file::ReadPreamble;
use dicom_object::{DefaultDicomObject, OpenFileOptions};
use rayon::prelude::*;

use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use super::hash::sha256_hex;
use super::pseudonym::PseudonymKey;
use crate::checks::evidence::Finding;

/// One instance's header fields that attest uses.
#[derive(Debug, Clone, PartialEq)]
pub struct Instance {
    /// Path relative to the indexed folder, with `/` separators.
    pub path: String,
    pub transfer_syntax: String,
    pub sop_class_uid: String,
    pub sop_instance_uid: String,
    pub study_uid: String,
    pub series_uid: String,
    /// Keyed pseudonym of PatientID (never the ID itself).
    pub patient: String,
    pub modality: String,
    pub manufacturer: String,
    pub model: String,
    pub institution: String,
    pub slice_thickness: Option<f64>,
    pub kvp: Option<f64>,
    /// Values of the extra attributes requested in `IndexOptions::extra`, in that order;
    /// `None` when absent. Multiple values are joined with `\` as in the file.
    pub extra: Vec<Option<String>>,
    /// Pixel fingerprints, when requested (`IndexOptions::pixels`), or why there are none.
    pub pixels: Option<Result<super::pixels::PixelPrint, String>>,
}

/// A file that could not be indexed.
#[derive(Debug, Clone, PartialEq)]
pub struct ReadFailure {
    pub path: String,
    pub reason: String,
}

/// A file read, for the manifest.
#[derive(Debug, Clone, PartialEq)]
pub struct FileEntry {
    pub path: String,
    pub sha256: String,
    pub bytes: u64,
}

/// A per-instance audit that needs the whole header (every attribute, nested sequences
/// included): run while the folder is indexed, so that only its findings are kept, never the
/// headers themselves.
pub trait InstanceAudit: Send + Sync + std::fmt::Debug {
    /// The findings about one instance; `path` is relative to the indexed folder.
    fn audit(&self, obj: &DefaultDicomObject, path: &str, key: &PseudonymKey) -> Vec<Finding>;
}

/// An audit and the findings it made, in walk order.
#[derive(Debug, Clone)]
pub struct AuditResult {
    pub audit: Arc<dyn InstanceAudit>,
    pub findings: Vec<Finding>,
}

#[derive(Debug, Clone, Default)]
pub struct IndexOptions {
    /// Attributes whose values are kept per instance (beyond the fixed fields).
    pub extra: Vec<Tag>,
    /// Show a progress bar (only drawn when stderr is a terminal).
    pub progress: bool,
    /// Decode the first frame of each instance and keep its fingerprints.
    pub pixels: bool,
    /// Audits to run on every readable instance.
    pub audits: Vec<Arc<dyn InstanceAudit>>,
}

#[derive(Debug, Clone)]
pub struct DicomIndex {
    pub root: PathBuf,
    pub extra: Vec<Tag>,
    pub instances: Vec<Instance>,
    pub failures: Vec<ReadFailure>,
    /// Every file read, indexed or not, in walk order.
    pub files: Vec<FileEntry>,
    /// The findings of each audit of `IndexOptions::audits`, in that order.
    pub audits: Vec<AuditResult>,
}

impl DicomIndex {
    /// The findings of `audit` (the same object that was passed in `IndexOptions::audits`).
    pub fn audit_findings(&self, audit: &Arc<dyn InstanceAudit>) -> Option<&[Finding]> {
        self.audits
            .iter()
            .find(|r| Arc::ptr_eq(&r.audit, audit))
            .map(|r| r.findings.as_slice())
    }

    /// The position of an extra attribute in `Instance::extra`.
    pub fn extra_slot(&self, tag: Tag) -> Option<usize> {
        self.extra.iter().position(|t| *t == tag)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum IndexError {
    #[error("{path}: no such folder")]
    NotFound { path: String },
    #[error("{path}: not a folder")]
    NotADirectory { path: String },
    #[error("{path}: cannot list: {source}")]
    Walk {
        path: String,
        source: walkdir::Error,
    },
}

/// Indexes every file under `root`.
pub fn index_folder(
    root: &Path,
    key: &PseudonymKey,
    opts: &IndexOptions,
) -> Result<DicomIndex, IndexError> {
    let shown = root.display().to_string();
    if !root.exists() {
        return Err(IndexError::NotFound { path: shown });
    }
    if !root.is_dir() {
        return Err(IndexError::NotADirectory { path: shown });
    }
    let mut paths = Vec::new();
    // A subfolder that cannot be listed is a failure of its own; the rest is still indexed.
    let mut walk_failures = Vec::new();
    for entry in walkdir::WalkDir::new(root).sort_by_file_name() {
        match entry {
            Ok(e) if e.file_type().is_file() => paths.push(e.into_path()),
            Ok(_) => {}
            Err(source) if source.depth() == 0 => {
                return Err(IndexError::Walk {
                    path: shown.clone(),
                    source,
                })
            }
            Err(source) => walk_failures.push(ReadFailure {
                path: source
                    .path()
                    .map_or_else(|| shown.clone(), |p| relative(root, p)),
                reason: format!(
                    "cannot be listed: {}",
                    source
                        .io_error()
                        .map_or_else(|| source.to_string(), ToString::to_string)
                ),
            }),
        }
    }
    let bar = if opts.progress && std::io::stderr().is_terminal() {
        let b = indicatif::ProgressBar::new(paths.len() as u64);
        b.set_style(
            indicatif::ProgressStyle::with_template(
                "indexing {pos}/{len} files {wide_bar} {per_sec} eta {eta}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        Some(b)
    } else {
        None
    };
    let results: Vec<FileResult> = paths
        .par_iter()
        .map(|p| {
            let rel = relative(root, p);
            let r = read_one(p, &rel, key, opts);
            if let Some(b) = &bar {
                b.inc(1);
            }
            r
        })
        .collect();
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    let mut index = DicomIndex {
        root: root.to_path_buf(),
        extra: opts.extra.clone(),
        instances: Vec::with_capacity(results.len()),
        failures: walk_failures,
        files: Vec::with_capacity(results.len()),
        audits: Vec::new(),
    };
    let mut audits: Vec<AuditResult> = opts
        .audits
        .iter()
        .map(|a| AuditResult {
            audit: a.clone(),
            findings: Vec::new(),
        })
        .collect();
    for (file, r, found) in results {
        for (slot, f) in audits.iter_mut().zip(found) {
            slot.findings.extend(f);
        }
        match r {
            Ok(inst) => index.instances.push(inst),
            Err(reason) => index.failures.push(ReadFailure {
                path: file.path.clone(),
                reason,
            }),
        }
        index.files.push(file);
    }
    index.audits = audits;
    Ok(index)
}

fn relative(root: &Path, p: &Path) -> String {
    let rel = p.strip_prefix(root).unwrap_or(p);
    rel.components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}

fn read_one(path: &Path, rel: &str, key: &PseudonymKey, opts: &IndexOptions) -> FileResult {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) => {
            let entry = FileEntry {
                path: rel.to_string(),
                sha256: String::new(),
                bytes: 0,
            };
            return (entry, Err(format!("cannot read: {e}")), Vec::new());
        }
    };
    let entry = FileEntry {
        path: rel.to_string(),
        sha256: sha256_hex(&bytes),
        bytes: bytes.len() as u64,
    };
    // dicom-object reports malformed input as errors; a panic inside the parser would be a bug
    // there, and must still not take the whole audit down.
    let result = std::panic::catch_unwind(AssertUnwindSafe(|| read_fields(&bytes, &opts.extra)))
        .unwrap_or_else(|_| Err("the DICOM parser failed on this file".to_string()))
        .map(|(ts, values)| {
            let mut inst = instance(ts, &values, rel, key);
            if opts.pixels {
                inst.pixels = Some(
                    std::panic::catch_unwind(AssertUnwindSafe(|| {
                        super::pixels::fingerprint(&bytes)
                    }))
                    .unwrap_or_else(|_| Err("the pixel decoder failed on this file".to_string())),
                );
            }
            inst
        });
    // Audits see the whole file, parsed once more as a complete object (only when asked):
    // attributes after Pixel Data (trailing private blocks, padding) are audited too.
    let found = if opts.audits.is_empty() || result.is_err() {
        Vec::new()
    } else {
        match std::panic::catch_unwind(AssertUnwindSafe(|| parse_full(&bytes))) {
            Ok(Ok(obj)) => opts
                .audits
                .iter()
                .map(|a| a.audit(&obj, rel, key))
                .collect(),
            Ok(Err(e)) => vec![
                vec![Finding::error("unreadable-dicom", e, rel.to_string())];
                opts.audits.len()
            ],
            Err(_) => vec![
                vec![Finding::error(
                    "unreadable-dicom",
                    "the DICOM parser failed on this file",
                    rel.to_string()
                )];
                opts.audits.len()
            ],
        }
    };
    (entry, result, found)
}

/// The attributes every instance record holds, in the order of `Instance`'s fields.
const FIXED: [Tag; 11] = [
    tags::SOP_CLASS_UID,
    tags::SOP_INSTANCE_UID,
    tags::STUDY_INSTANCE_UID,
    tags::SERIES_INSTANCE_UID,
    tags::PATIENT_ID,
    tags::MODALITY,
    tags::MANUFACTURER,
    tags::MANUFACTURER_MODEL_NAME,
    tags::INSTITUTION_NAME,
    tags::SLICE_THICKNESS,
    tags::KVP,
];

/// Reads the transfer syntax and the text of the `FIXED` attributes followed by `extra`
/// (None where absent) from a Part 10 file's bytes.
///
/// Native and encapsulated transfer syntaxes are read token by token, decoding only the wanted
/// top-level values and skipping all others (the Specific Character Set is decoded too, so the
/// wanted text values use the right character set); this is several times faster than
/// building the whole object. Deflated data sets go through dicom-object, which inflates them.
pub fn read_fields(bytes: &[u8], extra: &[Tag]) -> Result<(String, Vec<Option<String>>), String> {
    use dicom_encoding::TransferSyntaxIndex;
    use dicom_parser::dataset::lazy_read::LazyDataSetReader;
    use dicom_parser::dataset::read::ValueReadStrategy;
    use dicom_parser::dataset::LazyDataToken;

    let wanted: Vec<Tag> = FIXED.iter().chain(extra).copied().collect();
    let mut body = part10_body(bytes)?;
    let meta = dicom_object::FileMetaTable::from_reader(&mut body).map_err(|e| error_chain(&e))?;
    let ts_uid = meta.transfer_syntax().to_string();
    let ts = dicom_transfer_syntax_registry::TransferSyntaxRegistry
        .get(&ts_uid)
        .ok_or_else(|| format!("unknown transfer syntax `{ts_uid}`"))?;
    if !(ts.is_codec_free() || ts.is_encapsulated_pixel_data()) {
        let obj = parse_header(bytes)?;
        let values = wanted.iter().map(|t| text(&obj, *t)).collect();
        return Ok((ts_uid, values));
    }
    let mut out: Vec<Option<String>> = vec![None; wanted.len()];
    // The top-level sequence being read, if it is wanted: it gets a value once it has an item.
    let mut open_sequence: Option<Tag> = None;
    let mut reader = LazyDataSetReader::new_with_ts(std::io::Cursor::new(body), ts)
        .map_err(|e| error_chain(&e))?;
    let mut depth = 0usize;
    while let Some(token) = reader.advance() {
        let token = token.map_err(|e| error_chain(&e))?;
        match token {
            LazyDataToken::ElementHeader(h) if depth == 0 && h.tag == tags::PIXEL_DATA => break,
            LazyDataToken::PixelSequenceStart if depth == 0 => break,
            LazyDataToken::SequenceStart { tag, .. } => {
                if depth == 0 && wanted.contains(&tag) {
                    // Present but empty until an item is seen.
                    set(&mut out, &wanted, tag, String::new());
                    open_sequence = Some(tag);
                }
                depth += 1;
            }
            LazyDataToken::ItemStart { .. } if depth == 1 => {
                if let Some(tag) = open_sequence.take() {
                    set(&mut out, &wanted, tag, SEQUENCE_WITH_ITEMS.to_string());
                }
            }
            LazyDataToken::PixelSequenceStart => depth += 1,
            LazyDataToken::SequenceEnd => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    open_sequence = None;
                }
            }
            LazyDataToken::LazyValue { header, .. } => {
                // A tag may be wanted twice (a fixed field also named by a check).
                let wanted_here = depth == 0 && wanted.contains(&header.tag);
                if wanted_here || (depth == 0 && header.tag == tags::SPECIFIC_CHARACTER_SET) {
                    // A corrupt length must not make the reader allocate gigabytes: a value
                    // can never be longer than the file.
                    if header.len.get().is_some_and(|n| n as usize > bytes.len()) {
                        return Err(format!(
                            "element {} claims {} bytes, more than the whole file ({} bytes)",
                            header.tag,
                            header.len.0,
                            bytes.len()
                        ));
                    }
                    let v = token
                        .into_value_with_strategy(ValueReadStrategy::Preserved)
                        .map_err(|e| error_chain(&e))?;
                    set(&mut out, &wanted, header.tag, trim_padding(&v.to_str()));
                } else {
                    token.skip().map_err(|e| error_chain(&e))?;
                }
            }
            other => other.skip().map_err(|e| error_chain(&e))?,
        }
    }
    Ok((ts_uid, out))
}

/// The value recorded for a sequence attribute that holds at least one item; a sequence with
/// no item is present but empty (PS3.5 §7.5).
pub const SEQUENCE_WITH_ITEMS: &str = "(sequence)";

/// Stores `value` in every slot that wants `tag` (a tag may be wanted twice: a fixed field
/// also named by a check).
fn set(out: &mut [Option<String>], wanted: &[Tag], tag: Tag, value: String) {
    for (slot, t) in out.iter_mut().zip(wanted) {
        if *t == tag {
            *slot = Some(value.clone());
        }
    }
}

fn trim_padding(s: &str) -> String {
    s.trim_matches(|c: char| c == ' ' || c == '\0').to_string()
}

/// The bytes from the `DICM` prefix on, after checking there is one (PS3.10 §7.1).
pub(crate) fn part10_body(bytes: &[u8]) -> Result<&[u8], String> {
    if bytes.is_empty() {
        return Err("empty file (0 bytes)".to_string());
    }
    let body = if bytes.len() >= 132 && &bytes[128..132] == b"DICM" {
        &bytes[128..]
    } else if bytes.starts_with(b"DICM") {
        bytes
    } else {
        return Err(
            "not a DICOM Part 10 file: no `DICM` prefix after the 128-byte preamble (PS3.10 §7.1)"
                .to_string(),
        );
    };
    Ok(body)
}

/// What reading one file gives: its manifest entry, its record (or why there is none), and
/// the findings of each audit.
type FileResult = (FileEntry, Result<Instance, String>, Vec<Vec<Finding>>);

/// Parses a whole Part 10 file as an object, Pixel Data and what follows it included.
pub fn parse_full(bytes: &[u8]) -> Result<DefaultDicomObject, String> {
    let body = part10_body(bytes)?;
    OpenFileOptions::new()
        .read_preamble(ReadPreamble::Never)
        .read_all()
        .from_reader(body)
        .map_err(|e| error_chain(&e))
}

/// Parses a Part 10 file's meta group and data set up to Pixel Data, as a whole object.
pub fn parse_header(bytes: &[u8]) -> Result<DefaultDicomObject, String> {
    let body = part10_body(bytes)?;
    OpenFileOptions::new()
        .read_preamble(ReadPreamble::Never)
        .read_until(tags::PIXEL_DATA)
        .from_reader(body)
        .map_err(|e| error_chain(&e))
}

/// An error and its sources as one line, each cause added once.
pub(crate) fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        let next = c.to_string();
        if !s.contains(&next) {
            s.push_str(": ");
            s.push_str(&next);
        }
        cur = c.source();
    }
    s
}

/// The text value of an attribute, trimmed of DICOM padding; None when absent.
pub fn text(obj: &DefaultDicomObject, tag: Tag) -> Option<String> {
    let e = obj.get(tag)?;
    match e.value() {
        dicom_core::DicomValue::Sequence(s) if s.items().is_empty() => Some(String::new()),
        dicom_core::DicomValue::Sequence(_) => Some(SEQUENCE_WITH_ITEMS.to_string()),
        _ => Some(trim_padding(&e.to_str().ok()?)),
    }
}

fn number(v: &Option<String>) -> Option<f64> {
    v.as_deref()?.split('\\').next()?.trim().parse().ok()
}

/// Builds the record from the values `read_fields` returned (`FIXED`, then the extras).
fn instance(
    transfer_syntax: String,
    values: &[Option<String>],
    rel: &str,
    key: &PseudonymKey,
) -> Instance {
    let s = |i: usize| values[i].clone().unwrap_or_default();
    let patient_id = s(4);
    Instance {
        path: rel.to_string(),
        transfer_syntax,
        sop_class_uid: s(0),
        sop_instance_uid: s(1),
        study_uid: s(2),
        series_uid: s(3),
        patient: if patient_id.is_empty() {
            String::new()
        } else {
            key.pseudonym(&patient_id)
        },
        modality: s(5),
        manufacturer: s(6),
        model: s(7),
        institution: s(8),
        slice_thickness: number(&values[9]),
        kvp: number(&values[10]),
        extra: values[FIXED.len()..].to_vec(),
        pixels: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::synth::{CtInstance, HeaderProfile};
    use dicom_encoding::TransferSyntaxIndex;
    use dicom_transfer_syntax_registry::TransferSyntaxRegistry;

    /// Every attribute the fast reader returns, as dicom-object reads the whole object.
    fn slow(bytes: &[u8], wanted: &[Tag]) -> Result<Vec<Option<String>>, String> {
        let obj = parse_header(bytes)?;
        Ok(FIXED.iter().chain(wanted).map(|t| text(&obj, *t)).collect())
    }

    const EXTRA: [Tag; 6] = [
        tags::MODALITY,
        tags::PIXEL_SPACING,
        tags::ROWS,
        tags::IMAGE_POSITION_PATIENT,
        tags::PATIENT_NAME,
        tags::REFERENCED_IMAGE_SEQUENCE,
    ];

    #[test]
    fn fast_reader_agrees_with_dicom_object_on_the_demo_files() {
        // Independent reading: dicom-object builds the whole object; the fast reader skips.
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/demo/dicom");
        let (mut same, mut failed_both) = (0, 0);
        for e in walkdir::WalkDir::new(root) {
            let e = e.unwrap();
            if !e.file_type().is_file() {
                continue;
            }
            let bytes = std::fs::read(e.path()).unwrap();
            match (read_fields(&bytes, &EXTRA), slow(&bytes, &EXTRA)) {
                (Ok((_, fast)), Ok(slow)) => {
                    assert_eq!(fast, slow, "{}", e.path().display());
                    same += 1;
                }
                (Err(_), Err(_)) => failed_both += 1,
                (a, b) => panic!("{}: fast {a:?} vs dicom-object {b:?}", e.path().display()),
            }
        }
        assert_eq!((same, failed_both), (400, 3));
    }

    #[test]
    fn other_transfer_syntaxes_read_the_same() {
        // Implicit VR little endian, explicit VR big endian (retired, still met in archives)
        // and deflated explicit VR little endian (read through dicom-object's inflater).
        let inst = CtInstance {
            profile: HeaderProfile::Full,
            ..CtInstance::new(3, "ts")
        };
        let reference = {
            let bytes = crate::synth::encode(&inst.to_object().unwrap()).unwrap();
            read_fields(&bytes, &EXTRA).unwrap().1
        };
        assert_eq!(reference[5].as_deref(), Some("CT"));
        for uid in [
            "1.2.840.10008.1.2",
            "1.2.840.10008.1.2.2",
            "1.2.840.10008.1.2.1.99",
        ] {
            let mut obj = inst.to_object().unwrap();
            let ts = TransferSyntaxRegistry.get(uid).unwrap();
            obj.meta_mut().set_transfer_syntax(ts);
            let mut bytes = Vec::new();
            obj.write_all(&mut bytes).unwrap();
            let (found_ts, values) = read_fields(&bytes, &EXTRA).unwrap();
            assert_eq!(found_ts, uid);
            assert_eq!(values, reference, "{uid}");
        }
    }

    #[test]
    fn a_corrupt_length_is_an_error_not_a_huge_allocation() {
        // Implicit VR: every length is 4 bytes (PS3.5 §7.1.3). Patch Modality's to 0xFFFFFFF0.
        let mut obj = CtInstance::new(9, "len").to_object().unwrap();
        let ts = TransferSyntaxRegistry.get("1.2.840.10008.1.2").unwrap();
        obj.meta_mut().set_transfer_syntax(ts);
        let mut bytes = Vec::new();
        obj.write_all(&mut bytes).unwrap();
        let tag = [0x08, 0x00, 0x60, 0x00];
        let at = bytes.windows(4).rposition(|w| w == tag).unwrap();
        bytes[at + 4..at + 8].copy_from_slice(&0xFFFF_FFF0u32.to_le_bytes());
        let err = read_fields(&bytes, &[]).unwrap_err();
        assert!(err.contains("more than the whole file"), "{err}");
    }

    #[test]
    fn sequences_are_present_only_with_an_item() {
        use dicom_core::value::DataSetSequence;
        use dicom_core::{DataElement, VR};
        use dicom_object::InMemDicomObject;
        let mut obj = CtInstance::new(9, "seq").to_object().unwrap();
        let item = InMemDicomObject::from_element_iter([DataElement::new(
            tags::REFERENCED_SOP_CLASS_UID,
            VR::UI,
            dicom_core::PrimitiveValue::from("1.2.840.10008.5.1.4.1.1.2"),
        )]);
        obj.put(DataElement::new(
            tags::REFERENCED_IMAGE_SEQUENCE,
            VR::SQ,
            DataSetSequence::from(vec![item]),
        ));
        obj.put(DataElement::new(
            tags::SOURCE_IMAGE_SEQUENCE,
            VR::SQ,
            DataSetSequence::<InMemDicomObject>::from(Vec::new()),
        ));
        let mut bytes = Vec::new();
        obj.write_all(&mut bytes).unwrap();
        let wanted = [tags::REFERENCED_IMAGE_SEQUENCE, tags::SOURCE_IMAGE_SEQUENCE];
        let (_, v) = read_fields(&bytes, &wanted).unwrap();
        let n = FIXED.len();
        assert_eq!(v[n].as_deref(), Some(SEQUENCE_WITH_ITEMS));
        assert_eq!(v[n + 1].as_deref(), Some(""));
        assert_eq!(v, slow(&bytes, &wanted).unwrap());
    }
}
