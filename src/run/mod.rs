//! Executes a validated spec: loads each data source and model once, runs the requirements,
//! and assembles the report; `write` then renders it and writes the manifest.
//!
//! A source that cannot be loaded does not stop the run: the requirements that use it are
//! `error`, with the reason as a finding, and the others still run.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use rayon::prelude::*;

use crate::checks::evidence::{Finding, Status};
use crate::checks::{Context, DataSet, Loaded};
use crate::data::dicom_index::{index_folder, IndexOptions};
use crate::data::hash::sha256_hex;
use crate::data::predictions::parse_predictions;
use crate::data::pseudonym::PseudonymKey;
use crate::data::table::parse_table;
use crate::report::manifest::{record, relative_path, slashed, Manifest};
use crate::report::model::{
    DataSummary, FileRecord, Report, RequirementResult, SpecInfo, Summary, Verdict,
};
use crate::report::render::{self, RenderError, Templates};
use crate::spec::{Source, Spec};

mod models;
pub mod plan;

pub const VERSION: &str = env!("CARGO_PKG_VERSION");

#[derive(Debug, Clone)]
pub struct RunOptions {
    pub seed: u64,
    pub key: PseudonymKey,
    /// Show progress bars (drawn only on a terminal).
    pub progress: bool,
}

/// Runs every requirement of `spec`.
pub fn execute(spec: &Spec, opts: &RunOptions) -> Report {
    let spec_dir = spec.path.parent().unwrap_or(Path::new("")).to_path_buf();
    let uses: Vec<_> = spec.requirements.iter().map(|r| r.run.uses()).collect();
    let mut used_data: BTreeSet<&str> = uses
        .iter()
        .flat_map(|u| u.data.iter().map(String::as_str))
        .collect();
    // A derived reference needs the label set it derives from.
    for d in &spec.data {
        if let Source::Reference { from, .. } = &d.source {
            if used_data.contains(d.name.as_str()) {
                used_data.insert(from.as_str());
            }
        }
    }
    let used_models: BTreeSet<&str> = uses
        .iter()
        .flat_map(|u| u.models.iter().map(String::as_str))
        .collect();
    // A model attest runs reads its case table and DICOM source.
    for m in spec
        .models
        .iter()
        .filter(|m| used_models.contains(m.name.as_str()))
    {
        if let Some(r) = &m.run {
            used_data.insert(r.cases.as_str());
            used_data.insert(r.images.as_str());
        }
    }

    // Each source is read once (hashed and parsed from the same bytes), all in parallel;
    // results are put back in the spec's order.
    let jobs: Vec<Job> = spec
        .data
        .iter()
        .filter(|d| used_data.contains(d.name.as_str()))
        .filter(|d| !matches!(d.source, Source::Reference { .. }))
        .map(Job::Data)
        .chain(
            spec.models
                .iter()
                .filter(|m| used_models.contains(m.name.as_str()) && m.run.is_none())
                .map(Job::Model),
        )
        .collect();
    let loaded: Vec<Load> = jobs
        .par_iter()
        .map(|job| load(job, &spec_dir, &uses, opts))
        .collect();
    let mut cx = Context {
        seed: opts.seed,
        key: Some(opts.key.clone()),
        ..Context::default()
    };
    let mut inputs: Vec<FileRecord> = Vec::new();
    let mut data = Vec::new();
    for l in loaded {
        inputs.extend(l.files);
        data.extend(l.summary);
        match l.item {
            Item::Data(name, set) => {
                cx.data.insert(name, set);
            }
            Item::Model(name, p) => {
                cx.models.insert(name, p);
            }
            Item::Detections(name, p) => {
                cx.detections.insert(name, p);
            }
            Item::Masks(name, m) => {
                cx.masks.insert(name, m);
            }
        }
    }

    // Folders holding model outputs the checks read as files (segmentation masks), kept
    // until the requirements are evaluated.
    let mut scratch: Vec<tempfile::TempDir> = Vec::new();
    // Models attest runs, once their cases and images are loaded; one after the other (each
    // program sees one case at a time).
    let mut model_runs = Vec::new();
    for m in spec
        .models
        .iter()
        .filter(|m| used_models.contains(m.name.as_str()))
    {
        if let Some(r) = &m.run {
            // One second run per backend asked for, of the largest sample asked on it.
            let mut repeat: Vec<(Option<String>, usize)> = Vec::new();
            for (_, n, backend) in uses
                .iter()
                .flat_map(|u| u.repeats.iter())
                .filter(|(name, ..)| *name == m.name)
            {
                match repeat.iter_mut().find(|(b, _)| b == backend) {
                    Some(r) => r.1 = r.1.max(*n),
                    None => repeat.push((backend.clone(), *n)),
                }
            }
            // Each perturbation once, however many requirements ask for it.
            let mut perturbations: Vec<crate::model::perturb::Perturbation> = Vec::new();
            for (_, p) in uses
                .iter()
                .flat_map(|u| u.perturbations.iter())
                .filter(|(name, _)| *name == m.name)
            {
                if !perturbations.iter().any(|q| q.label() == p.label()) {
                    perturbations.push(p.clone());
                }
            }
            let asked = models::Asked {
                progress: opts.progress,
                repeat,
                perturbations: &perturbations,
            };
            let outcome = models::run_model(&m.name, r, &spec_dir, &cx, &asked);
            for (backend, again) in outcome.again {
                let key = crate::checks::repeat_key(&m.name, backend.as_deref());
                cx.repeats.insert(key, again);
            }
            if !outcome.perturbed.is_empty() {
                cx.perturbed.insert(m.name.clone(), outcome.perturbed);
            }
            match outcome.masks {
                Some((mut masks, folder)) => {
                    if let Some(set) = &mut masks.value {
                        set.structures = m.structures.clone();
                    }
                    cx.masks.insert(m.name.clone(), masks);
                    scratch.push(folder);
                }
                // A segmentation network that could not run: why, where its masks are read.
                None if m.masks => {
                    let why = Loaded {
                        value: None,
                        findings: outcome.loaded.findings.clone(),
                    };
                    cx.masks.insert(m.name.clone(), why);
                }
                None => {}
            }
            for f in &r.files {
                if let Ok(rec) = record(f, &slashed(&relative_path(&spec_dir, f))) {
                    inputs.push(rec);
                }
            }
            cx.models.insert(m.name.clone(), outcome.loaded);
            model_runs.extend(outcome.run);
        }
    }

    // References are derived from their label sets once those are read.
    for d in spec
        .data
        .iter()
        .filter(|d| used_data.contains(d.name.as_str()))
    {
        if let Source::Reference {
            from,
            task,
            rule,
            positive,
        } = &d.source
        {
            let (set, summary, reference) =
                derive_reference(&d.name, from, task, *rule, positive, &cx);
            data.extend(summary);
            cx.data.insert(d.name.clone(), DataSet::Table(set));
            if let Some(r) = reference {
                cx.references.insert(d.name.clone(), r);
            }
        }
    }

    // Requirements are independent; results keep the spec's order.
    let requirements: Vec<RequirementResult> = spec
        .requirements
        .par_iter()
        .map(|r| {
            let ev = r.run.evaluate(&cx);
            RequirementResult {
                id: r.id.clone(),
                title: r.title.clone(),
                clause: r.clause.clone(),
                reference: r.reference.clone(),
                check: r.check.to_string(),
                pass: r.run.criterion().or_else(|| r.pass.clone()),
                status: ev.status,
                method: ev.method,
                measurements: ev.measurements,
                findings: ev.findings,
            }
        })
        .collect();

    let mut summary = Summary::default();
    for r in &requirements {
        match r.status {
            Status::Pass => summary.pass += 1,
            Status::Fail => summary.fail += 1,
            Status::Inconclusive => summary.inconclusive += 1,
            Status::Error => summary.error += 1,
        }
    }
    // Further files checks read (e.g. a list of forbidden values).
    for path in uses.iter().flat_map(|u| u.files.iter()) {
        if let Ok(r) = record(path, &slashed(&relative_path(&spec_dir, path))) {
            inputs.push(r);
        }
    }
    drop(scratch);
    inputs.sort_by(|a, b| a.path.cmp(&b.path));
    inputs.dedup_by(|a, b| a.path == b.path);
    Report {
        attest_version: VERSION.to_string(),
        generated_at: now_rfc3339(),
        spec: SpecInfo {
            id: spec.id.clone(),
            version: spec.version.clone(),
            title: spec.title.clone(),
            path: spec
                .path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            sha256: spec.sha256.clone(),
        },
        seed: opts.seed,
        verdict: Verdict::from_statuses(requirements.iter().map(|r| r.status)),
        summary,
        requirements,
        data,
        inputs,
        models: model_runs,
        pseudonym_key: opts.key.fingerprint(),
    }
}

enum Job<'a> {
    Data(&'a crate::spec::DataDecl),
    Model(&'a crate::spec::ModelDecl),
}

enum Item {
    Data(String, DataSet),
    Model(String, Loaded<crate::data::predictions::Predictions>),
    Detections(String, Loaded<crate::data::detections::Points>),
    Masks(String, Loaded<crate::data::masks::MaskSet>),
}

struct Load {
    item: Item,
    summary: Option<DataSummary>,
    files: Vec<FileRecord>,
}

/// Reads a whole file, hashing it for the manifest while it is parsed.
fn read_hashed(path: &Path, shown: &str) -> Result<(Vec<u8>, FileRecord), String> {
    let bytes = std::fs::read(path).map_err(|e| format!("{shown}: cannot read: {e}"))?;
    let record = FileRecord {
        path: shown.to_string(),
        sha256: sha256_hex(&bytes),
        bytes: bytes.len() as u64,
    };
    Ok((bytes, record))
}

/// A source that could not be loaded: the reason, as a finding about it.
fn failed<T>(shown: String, reason: String) -> Loaded<T> {
    Loaded {
        value: None,
        findings: vec![Finding::error("unreadable-data", reason, shown)],
    }
}

fn load(job: &Job, spec_dir: &Path, uses: &[crate::checks::Uses], opts: &RunOptions) -> Load {
    let rel = |p: &Path| slashed(&relative_path(spec_dir, p));
    match job {
        Job::Data(d) => match &d.source {
            Source::Dicom { path } => {
                let mut extra: Vec<_> = uses
                    .iter()
                    .flat_map(|u| u.dicom_attributes.iter())
                    .filter(|(name, _)| *name == d.name)
                    .map(|(_, tag)| *tag)
                    .collect();
                extra.sort();
                extra.dedup();
                let io = IndexOptions {
                    extra,
                    progress: opts.progress,
                    pixels: uses.iter().any(|u| u.pixels.contains(&d.name)),
                    audits: uses
                        .iter()
                        .flat_map(|u| u.audits.iter())
                        .filter(|(name, _)| *name == d.name)
                        .map(|(_, a)| a.clone())
                        .collect(),
                };
                let base = rel(path);
                match index_folder(path, &opts.key, &io) {
                    Ok(ix) => Load {
                        files: ix
                            .files
                            .iter()
                            .map(|f| FileRecord {
                                path: format!("{base}/{}", f.path),
                                sha256: f.sha256.clone(),
                                bytes: f.bytes,
                            })
                            .collect(),
                        summary: Some(DataSummary {
                            name: d.name.clone(),
                            kind: "dicom".into(),
                            path: base,
                            records: ix.instances.len() as u64,
                            unreadable: ix.failures.len() as u64,
                            inventory: Some({
                                let mut inv = crate::data::inventory::Inventory::of(&ix);
                                inv.unreadable.clear();
                                inv
                            }),
                            labels: None,
                        }),
                        item: Item::Data(
                            d.name.clone(),
                            DataSet::Dicom(Loaded {
                                value: Some(ix),
                                findings: Vec::new(),
                            }),
                        ),
                    },
                    Err(e) => Load {
                        files: Vec::new(),
                        summary: None,
                        item: Item::Data(
                            d.name.clone(),
                            DataSet::Dicom(failed(base, e.to_string())),
                        ),
                    },
                }
            }
            Source::Reference { .. } => unreachable!("derived after loading, not a job"),
            Source::Labels { path, registry } => load_labels(&d.name, path, registry, &rel),
            Source::Masks { path, structures } => load_masks(&d.name, path, structures, &rel, true),
            Source::Lesions { path, excluded } => {
                load_lesions(&d.name, path, excluded.as_deref(), &rel)
            }
            Source::Table { path, id_column } => {
                let shown = rel(path);
                let (item, summary, files) = match read_hashed(path, &shown) {
                    Err(reason) => (failed(shown, reason), None, Vec::new()),
                    Ok((bytes, record)) => match parse_table(&bytes, &shown, id_column) {
                        Ok((t, findings)) => (
                            Loaded {
                                findings,
                                value: Some(t),
                            },
                            None,
                            vec![record],
                        ),
                        Err(e) => (failed(shown, e.reason), None, vec![record]),
                    },
                };
                let summary = summary.or_else(|| {
                    item.value.as_ref().map(|t| DataSummary {
                        name: d.name.clone(),
                        kind: "table".into(),
                        path: rel(path),
                        records: t.len() as u64,
                        unreadable: 0,
                        inventory: None,
                        labels: None,
                    })
                });
                Load {
                    item: Item::Data(d.name.clone(), DataSet::Table(item)),
                    summary,
                    files,
                }
            }
        },
        Job::Model(m) if m.masks => load_masks(&m.name, &m.predictions, &m.structures, &rel, false),
        Job::Model(m) if m.detections => {
            use crate::data::detections::{parse_points, Kind};
            let shown = rel(&m.predictions);
            let (item, files) = match read_hashed(&m.predictions, &shown) {
                Err(reason) => (failed(shown.clone(), reason), Vec::new()),
                Ok((bytes, record)) => match parse_points(&bytes, &shown, Kind::Candidates) {
                    Ok((p, findings)) => (
                        Loaded {
                            findings,
                            value: Some(p),
                        },
                        vec![record],
                    ),
                    Err(e) => (failed(shown.clone(), e), vec![record]),
                },
            };
            let summary = item.value.as_ref().map(|p| DataSummary {
                name: m.name.clone(),
                kind: "detections".into(),
                path: shown,
                records: p.rows.len() as u64,
                unreadable: item.findings.len() as u64,
                inventory: None,
                labels: None,
            });
            Load {
                item: Item::Detections(m.name.clone(), item),
                summary,
                files,
            }
        }
        Job::Model(m) => {
            let shown = rel(&m.predictions);
            let (item, files) = match read_hashed(&m.predictions, &shown) {
                Err(reason) => (failed(shown, reason), Vec::new()),
                Ok((bytes, record)) => {
                    match parse_predictions(&bytes, &shown, &m.id_column, &m.score_column) {
                        Ok((p, findings)) => (
                            Loaded {
                                findings,
                                value: Some(p),
                            },
                            vec![record],
                        ),
                        Err(e) => (failed(shown, e.reason), vec![record]),
                    }
                }
            };
            let summary = item.value.as_ref().map(|p| DataSummary {
                name: m.name.clone(),
                kind: "predictions".into(),
                path: rel(&m.predictions),
                records: p.len() as u64,
                unreadable: 0,
                inventory: None,
                labels: None,
            });
            Load {
                item: Item::Model(m.name.clone(), item),
                summary,
                files,
            }
        }
    }
}

/// Lists a mask folder: one NIfTI or DICOM SEG file per case, each hashed; other files are
/// findings, and so are two files for one case (`C1.nii.gz` and `C1.dcm`: the first in name
/// order is used). The structures the spec names travel with the set.
fn load_masks(
    name: &str,
    path: &Path,
    structures: &std::collections::BTreeMap<String, u32>,
    rel: &dyn Fn(&Path) -> String,
    reference: bool,
) -> Load {
    use crate::data::masks::{case_of, MaskSet};
    let shown = rel(path);
    let mut set = MaskSet {
        display: shown.clone(),
        structures: structures.clone(),
        ..MaskSet::default()
    };
    let mut findings = Vec::new();
    let mut listed: Vec<PathBuf> = walkdir::WalkDir::new(path)
        .max_depth(1)
        .sort_by_file_name()
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file())
        .map(|e| e.into_path())
        .collect();
    listed.sort();
    for p in listed {
        let file = p
            .file_name()
            .map(|f| f.to_string_lossy().into_owned())
            .unwrap_or_default();
        match case_of(&file) {
            Some(case) if set.files.contains_key(case) => findings.push(Finding::warning(
                "duplicate-mask",
                format!(
                    "`{file}` is a second mask for case `{case}`; `{}` is used",
                    rel(&set.files[case])
                ),
                rel(&p),
            )),
            Some(case) => {
                set.files.insert(case.to_string(), p.clone());
            }
            None => findings.push(Finding::warning(
                "not-a-mask",
                format!("`{file}` is not a mask (<case_id>.nii, .nii.gz or .dcm); ignored"),
                rel(&p),
            )),
        }
    }
    let named: Vec<(PathBuf, String)> = set.files.values().map(|p| (p.clone(), rel(p))).collect();
    let files: Vec<FileRecord> = named
        .par_iter()
        .filter_map(|(p, s)| record(p, s).ok())
        .collect();
    let summary = DataSummary {
        name: name.to_string(),
        kind: "masks".into(),
        path: shown,
        records: set.files.len() as u64,
        unreadable: 0,
        inventory: None,
        labels: None,
    };
    let loaded = Loaded {
        value: Some(set),
        findings,
    };
    Load {
        item: if reference {
            Item::Data(name.to_string(), DataSet::Masks(loaded))
        } else {
            Item::Masks(name.to_string(), loaded)
        },
        summary: Some(summary),
        files,
    }
}

/// Reads reference lesions and the findings to ignore (LUNA16 CSVs, hashed for the manifest).
fn load_lesions(
    name: &str,
    path: &Path,
    excluded: Option<&Path>,
    rel: &dyn Fn(&Path) -> String,
) -> Load {
    use crate::checks::Lesions;
    use crate::data::detections::{parse_points, Kind};
    let mut files = Vec::new();
    let mut findings = Vec::new();
    let mut read = |p: &Path| -> Result<crate::data::detections::Points, String> {
        let shown = rel(p);
        let (bytes, rec) = read_hashed(p, &shown)?;
        files.push(rec);
        let (points, f) = parse_points(&bytes, &shown, Kind::Lesions)?;
        findings.extend(f);
        Ok(points)
    };
    let result = read(path).and_then(|lesions| {
        let excluded = excluded.map(&mut read).transpose()?;
        Ok(Lesions { lesions, excluded })
    });
    let (item, summary) = match result {
        Ok(l) => {
            let summary = DataSummary {
                name: name.to_string(),
                kind: "lesions".into(),
                path: rel(path),
                records: l.lesions.rows.len() as u64,
                unreadable: findings.len() as u64,
                inventory: None,
                labels: None,
            };
            (
                Loaded {
                    value: Some(l),
                    findings,
                },
                Some(summary),
            )
        }
        Err(reason) => (failed(rel(path), reason), None),
    };
    Load {
        item: Item::Data(name.to_string(), DataSet::Lesions(item)),
        summary,
        files,
    }
}

/// Reads a label set and its registry (both hashed for the manifest).
fn load_labels(name: &str, path: &Path, registry: &Path, rel: &dyn Fn(&Path) -> String) -> Load {
    use crate::data::labels::{parse_labels, registry::parse_registry, Labels};
    let (shown, shown_reg) = (rel(path), rel(registry));
    let ext = |p: &Path| {
        p.extension()
            .map(|e| e.to_string_lossy().to_ascii_lowercase())
            .unwrap_or_default()
    };
    let mut files = Vec::new();
    let result: Result<Labels, String> = (|| {
        let (bytes, rec) = read_hashed(path, &shown)?;
        files.push(rec);
        let (reg_bytes, reg_rec) = read_hashed(registry, &shown_reg)?;
        files.push(reg_rec);
        let mut set = parse_labels(
            &bytes,
            &shown,
            matches!(ext(path).as_str(), "jsonl" | "ndjson"),
        )?;
        let registry = parse_registry(&reg_bytes, &shown_reg, ext(registry) == "csv")?;
        // Mask files the events name are inputs too: hashed here, read by the checks. A
        // missing one is the checks' finding (`unreadable-mask`).
        let dir = path.parent().unwrap_or(Path::new(""));
        let mut masks: Vec<&str> = set
            .events
            .iter()
            .filter_map(|e| match &e.answer {
                crate::data::labels::Answer::Mask(m) => Some(m.as_str()),
                _ => None,
            })
            .collect();
        masks.sort_unstable();
        masks.dedup();
        let named: Vec<(PathBuf, String)> = masks
            .iter()
            .map(|m| {
                let p = dir.join(m);
                let shown = rel(&p);
                (p, shown)
            })
            .collect();
        let hashed: Vec<Result<FileRecord, String>> = named
            .par_iter()
            .map(|(p, shown)| record(p, shown).map_err(|e| format!("{shown}: {e}")))
            .collect();
        for (h, m) in hashed.into_iter().zip(&masks) {
            match h {
                Ok(r) => files.push(r),
                // A mask an event names but nobody can read: a defect of the label set.
                Err(why) => {
                    let e = set
                        .events
                        .iter()
                        .find(
                            |e| matches!(&e.answer, crate::data::labels::Answer::Mask(x) if x == m),
                        )
                        .expect("the mask came from an event");
                    let subject = format!("{}:{} (event {})", set.display, e.line, e.id);
                    set.problems.push(Finding::error(
                        "missing-mask",
                        format!("the mask this event names cannot be read: {why}"),
                        subject,
                    ));
                }
            }
        }
        Ok(Labels {
            set,
            registry,
            registry_display: shown_reg.clone(),
            dir: path.parent().unwrap_or(Path::new("")).to_path_buf(),
        })
    })();
    let (item, summary) = match result {
        Ok(l) => {
            let summary = DataSummary {
                name: name.to_string(),
                kind: "labels".into(),
                path: shown.clone(),
                records: l.set.events.len() as u64,
                unreadable: l
                    .set
                    .problems
                    .iter()
                    .filter(|f| f.code != "unknown-field")
                    .count() as u64,
                inventory: None,
                labels: Some(crate::checks::labels_common::summary(&l)),
            };
            (
                Loaded {
                    value: Some(l),
                    findings: Vec::new(),
                },
                Some(summary),
            )
        }
        Err(reason) => (failed(shown, reason), None),
    };
    Load {
        item: Item::Data(name.to_string(), DataSet::Labels(item)),
        summary,
        files,
    }
}

/// Derives a reference standard from a loaded label set, as a case table.
fn derive_reference(
    name: &str,
    from: &str,
    task: &str,
    rule: crate::data::labels::reference::Rule,
    positive: &crate::data::labels::reference::Positive,
    cx: &Context,
) -> (
    Loaded<crate::data::table::CaseTable>,
    Option<DataSummary>,
    Option<crate::data::labels::reference::Reference>,
) {
    use crate::data::labels::{graph::Graph, reference};
    let shown = format!(
        "reference `{name}` (from `{from}`, task `{task}`, rule {})",
        rule.as_str()
    );
    let labels = match cx.data.get(from) {
        Some(DataSet::Labels(l)) => l,
        _ => {
            return (
                failed(shown, format!("label set `{from}` was not loaded")),
                None,
                None,
            )
        }
    };
    let Some(l) = &labels.value else {
        return (
            Loaded {
                value: None,
                findings: labels.findings.clone(),
            },
            None,
            None,
        );
    };
    let g = Graph::new(&l.set);
    let may_confirm = |who: &str| l.registry.get(who).is_some_and(|a| !a.is_model());
    let derived = reference::derive(&g, task, rule, &may_confirm);
    let csv = reference::to_csv(&derived, positive);
    match parse_table(csv.as_bytes(), &shown, "case_id") {
        Ok((t, mut findings)) => {
            // What the table cannot show: rows of the label set set aside, and cases left out
            // because their reference is unresolved. Checks using it as truth report both.
            let lost = l
                .set
                .problems
                .iter()
                .filter(|f| matches!(f.code.as_str(), "invalid-event" | "conflicting-event"))
                .count();
            if lost > 0 {
                findings.push(Finding::warning(
                    "label-rows-set-aside",
                    format!("{lost} row(s) of label set `{from}` could not be read; the reference may differ from what they said (see labels.provenance)"),
                    shown.clone(),
                ));
            }
            let unresolved = derived.iter().filter(|d| d.answer.is_none()).count();
            if unresolved > 0 {
                findings.push(Finding::warning(
                    "unresolved-references",
                    format!("{unresolved} case(s) of task `{task}` have no reference and are left out (see labels.reference)"),
                    shown.clone(),
                ));
            }
            let summary = DataSummary {
                name: name.to_string(),
                kind: "reference".into(),
                path: shown,
                records: t.len() as u64,
                unreadable: derived.iter().filter(|d| d.answer.is_none()).count() as u64,
                inventory: None,
                labels: None,
            };
            (
                Loaded {
                    value: Some(t),
                    findings,
                },
                Some(summary),
                Some(reference::Reference {
                    from: from.to_string(),
                    task: task.to_string(),
                    rule,
                    positive: positive.clone(),
                    derived,
                }),
            )
        }
        Err(e) => (failed(shown, e.reason), None, None),
    }
}

fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc()
        .replace_nanosecond(0)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default()
}

#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error("cannot write {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error(transparent)]
    Render(#[from] RenderError),
}

/// Writes report.json, report.html, report.md and manifest.json into `out`; returns the paths.
pub fn write(
    report: &Report,
    spec: &Spec,
    out: &Path,
    templates: &Templates,
) -> Result<Vec<PathBuf>, WriteError> {
    let io = |path: &Path| {
        let path = path.display().to_string();
        move |source| WriteError::Io { path, source }
    };
    std::fs::create_dir_all(out).map_err(io(out))?;
    // report.json is the evidence: it is written even when a template fails to render (a
    // bug, or a user's `--templates`), and the failure is returned after the manifest.
    let mut failure = None;
    let mut files: Vec<(&str, Vec<u8>)> = vec![("report.json", render::json(report).into_bytes())];
    for (name, rendered) in [
        ("report.html", templates.html(report)),
        ("report.md", templates.markdown(report)),
    ] {
        match rendered {
            Ok(text) => files.push((name, text.into_bytes())),
            Err(e) => {
                failure.get_or_insert(e);
            }
        }
    }
    for m in &report.models {
        files.push((m.output.as_str(), m.output_csv.clone().into_bytes()));
        for p in &m.perturbed {
            files.push((p.output.as_str(), p.output_csv.clone().into_bytes()));
        }
        for k in &m.masks {
            files.push((k.output.as_str(), k.bytes.clone()));
        }
    }
    let mut outputs = Vec::new();
    let mut written = Vec::new();
    for (name, text) in &files {
        let p = out.join(name);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).map_err(io(parent))?;
        }
        std::fs::write(&p, text).map_err(io(&p))?;
        outputs.push(record(&p, name).map_err(io(&p))?);
        written.push(p);
    }
    let spec_dir = spec.path.parent().unwrap_or(Path::new(""));
    let spec_dir = if spec_dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        spec_dir
    };
    let m = Manifest {
        attest_version: report.attest_version.clone(),
        generated_at: report.generated_at.clone(),
        spec: FileRecord {
            path: report.spec.path.clone(),
            sha256: spec.sha256.clone(),
            bytes: std::fs::metadata(&spec.path).map_or(0, |m| m.len()),
        },
        seed: report.seed,
        input_root: slashed(&relative_path(out, spec_dir)),
        pseudonym_key: report.pseudonym_key.clone(),
        inputs: report.inputs.clone(),
        folders: report
            .data
            .iter()
            .filter(|d| d.kind == "dicom")
            .map(|d| d.path.clone())
            .collect(),
        templates: templates
            .files
            .iter()
            .map(|p| record(p, &p.display().to_string()))
            .collect::<Result<_, _>>()
            .map_err(io(out))?,
        models: report
            .models
            .iter()
            .map(|m| {
                serde_json::json!({
                    "name": m.name,
                    "kind": m.kind,
                    "command": m.command,
                    "announced": m.model.as_ref().map(|n| format!("{n} {}", m.version.clone().unwrap_or_default())),
                    "network": m.network,
                })
            })
            .collect(),
        outputs,
    };
    let p = out.join("manifest.json");
    let mut text = serde_json::to_string_pretty(&m).expect("the manifest always serialises");
    text.push('\n');
    std::fs::write(&p, text).map_err(io(&p))?;
    written.push(p);
    match failure {
        Some(e) => Err(e.into()),
        None => Ok(written),
    }
}
