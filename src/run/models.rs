//! Running the models a spec declares with `command` or `architecture`: each case of the case
//! table gets its DICOM files (its study's or series' readable instances), the model scores
//! it, and the scores become predictions as a file's would; each failed case is a finding.
//!
//! Also the extra runs checks ask for: a seeded sample run again (`model.repeatability`) and
//! whole runs under declared perturbations (`model.robustness`).

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use crate::checks::evidence::Finding;
use crate::checks::{Context, DataSet, Loaded, Rerun};
use crate::data::hash::sha256_hex;
use crate::data::masks::MaskSet;
use crate::data::predictions::{parse_predictions, Predictions};
use crate::model::burn::declared::{self, BurnModelDecl};
use crate::model::command::{CommandModel, Outcome, Request};
use crate::model::perturb::Perturbation;
use crate::report::model::{MaskOutput, ModelRun};
use crate::spec::{Engine, RunDecl};

/// What running one model gave.
pub(super) struct ModelOutcome {
    /// Its scores, as predictions, with a finding per case it could not score.
    pub loaded: Loaded<Predictions>,
    /// What ran, for the report and the manifest (None when nothing could run).
    pub run: Option<ModelRun>,
    /// The repeatability samples' second outcomes, by the backend asked for (None: the
    /// model's own), when a check asked for them.
    pub again: Vec<(Option<String>, Loaded<Rerun>)>,
    /// Scores under each requested perturbation, by its label.
    pub perturbed: BTreeMap<String, Loaded<Predictions>>,
    /// A segmentation network's masks, and the scratch folder holding their files while the
    /// checks read them (the run keeps it until the report is made).
    pub masks: Option<(Loaded<MaskSet>, tempfile::TempDir)>,
}

impl ModelOutcome {
    fn unavailable(name: &str, reason: String) -> ModelOutcome {
        ModelOutcome {
            loaded: Loaded {
                value: None,
                findings: vec![Finding::error(
                    "model-unavailable",
                    reason,
                    name.to_string(),
                )],
            },
            run: None,
            again: Vec::new(),
            perturbed: BTreeMap::new(),
            masks: None,
        }
    }
}

/// The cases to send and the folder their files' names are relative to.
struct Cases {
    requests: Vec<Request>,
    /// Cases of the table without images (`no-images` findings).
    findings: Vec<Finding>,
    total: usize,
    root: PathBuf,
}

/// What the checks ask of a model beyond its run, and how to show progress.
pub(super) struct Asked<'a> {
    /// Draw progress bars (on a terminal only).
    pub progress: bool,
    /// Rerun a seeded sample of this many cases (`model.repeatability`), on the model's own
    /// backend (None) or on the one named.
    pub repeat: Vec<(Option<String>, usize)>,
    /// Run every case under each (`model.robustness`).
    pub perturbations: &'a [Perturbation],
}

/// Runs model `name` on every case of its table, and what the checks ask besides.
pub(super) fn run_model(
    name: &str,
    r: &RunDecl,
    spec_dir: &Path,
    cx: &Context,
    asked: &Asked,
) -> ModelOutcome {
    let cases = match cases(name, r, cx) {
        Ok(c) => c,
        Err(reason) => return ModelOutcome::unavailable(name, reason),
    };
    let samples: Vec<(Option<String>, Vec<usize>)> = asked
        .repeat
        .iter()
        .map(|(b, n)| (b.clone(), sample(cx.seed, cases.requests.len(), *n)))
        .collect();
    match &r.engine {
        Engine::Command { argv, timeout_s } => {
            let model = CommandModel {
                argv: argv.clone(),
                dir: if spec_dir.as_os_str().is_empty() {
                    PathBuf::from(".")
                } else {
                    spec_dir.to_path_buf()
                },
                timeout: std::time::Duration::from_secs_f64(*timeout_s),
            };
            let log = match model.run(&cases.requests) {
                Ok(log) => log,
                Err(e) => return ModelOutcome::unavailable(name, format!("model `{name}`: {e}")),
            };
            let (loaded, mut run) = collect(name, &cases, &log.outcomes);
            run.kind = "command".to_string();
            run.command = argv.clone();
            run.model = log.hello.as_ref().map(|h| h.model.clone());
            run.version = log.hello.as_ref().map(|h| h.version.clone());
            run.timeout_s = Some(*timeout_s);
            run.starts = Some(log.starts);
            let again = samples
                .into_iter()
                .map(|(backend, picked)| {
                    let requests: Vec<Request> =
                        picked.iter().map(|&i| cases.requests[i].clone()).collect();
                    let second = match model.run(&requests) {
                        Ok(log) => rerun(&requests, log.outcomes),
                        Err(e) => again_failed(name, e.to_string()),
                    };
                    (backend, second)
                })
                .collect();
            ModelOutcome {
                loaded,
                run: Some(run),
                again,
                perturbed: BTreeMap::new(),
                masks: None,
            }
        }
        Engine::Burn(decl) if decl.architecture.segments() => {
            run_segmenter(name, decl, &cases, spec_dir, asked)
        }
        Engine::Burn(decl) => run_burn(name, decl, &cases, spec_dir, cx.seed, samples, asked),
    }
}

fn run_burn(
    name: &str,
    decl: &BurnModelDecl,
    cases: &Cases,
    spec_dir: &Path,
    seed: u64,
    samples: Vec<(Option<String>, Vec<usize>)>,
    asked: &Asked,
) -> ModelOutcome {
    let model = match load(name, decl, spec_dir) {
        Ok(m) => m,
        Err(o) => return *o,
    };
    let scored =
        |what: String, requests: &[Request], perturbation: Option<(&Perturbation, u64)>| {
            let total: usize = requests.iter().map(|r| r.files.len()).sum();
            let bar = bar(asked.progress, total, &what);
            let outcomes = model.score_cases(requests, &cases.root, perturbation, &|done| {
                if let Some(b) = &bar {
                    b.set_position(done as u64);
                }
            });
            if let Some(b) = bar {
                b.finish_and_clear();
            }
            outcomes
        };
    let outcomes = scored(format!("model {name}"), &cases.requests, None);
    let (loaded, mut run) = collect(name, cases, &outcomes);
    network_identity(&mut run, &model, decl, spec_dir, cases);
    // The second run loads the weights again into a fresh network (on the backend asked for)
    // and runs one image per batch, so neither a shared state nor the batch composition can
    // make it agree.
    let again = samples
        .into_iter()
        .map(|(backend, picked)| {
            let requests: Vec<Request> =
                picked.iter().map(|&i| cases.requests[i].clone()).collect();
            let fresh = BurnModelDecl {
                batch_size: 1,
                backend: backend
                    .as_deref()
                    .and_then(crate::model::burn::Backend::from_name)
                    .unwrap_or(decl.backend),
                ..decl.clone()
            };
            let second = match declared::load(&fresh) {
                Ok(m) => rerun(
                    &requests,
                    m.score_cases(&requests, &cases.root, None, &|_| {}),
                ),
                Err(e) => again_failed(name, e.to_string()),
            };
            (backend, second)
        })
        .collect();
    let mut perturbed = BTreeMap::new();
    for p in asked.perturbations {
        let label = p.label();
        let p_seed = crate::model::perturb::file_seed(seed, &label);
        let outcomes = scored(
            format!("model {name}, {label}"),
            &cases.requests,
            Some((p, p_seed)),
        );
        let slug = p.file_stem();
        let (loaded, r) = collect(&format!("{name}@{slug}"), cases, &outcomes);
        run.perturbed.push(crate::report::model::PerturbedRun {
            perturbation: label.clone(),
            scored: r.scored,
            failed: r.failed,
            output: r.output,
            output_sha256: r.output_sha256,
            output_csv: r.output_csv,
        });
        perturbed.insert(label, loaded);
    }
    ModelOutcome {
        loaded,
        run: Some(run),
        again,
        perturbed,
        masks: None,
    }
}

/// Runs a segmentation network on every case: each label map is written as NIfTI (with its
/// grid's place in the patient) to a scratch folder the `segmentation` check reads, like a
/// mask folder, and kept for the output folder (`models/<name>/<case>.nii.gz`).
fn run_segmenter(
    name: &str,
    decl: &BurnModelDecl,
    cases: &Cases,
    spec_dir: &Path,
    asked: &Asked,
) -> ModelOutcome {
    let model = match load(name, decl, spec_dir) {
        Ok(m) => m,
        Err(o) => return *o,
    };
    let scratch = match tempfile::Builder::new().prefix("attest-masks-").tempdir() {
        Ok(d) => d,
        Err(e) => {
            return ModelOutcome::unavailable(
                name,
                format!("model `{name}`: cannot make a folder for its masks: {e}"),
            )
        }
    };
    let bar = bar(
        asked.progress,
        cases.requests.len(),
        &format!("model {name} (cases)"),
    );
    let results = model.segment_cases(&cases.requests, &cases.root, &|done| {
        if let Some(b) = &bar {
            b.set_position(done as u64);
        }
    });
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    let mut findings = cases.findings.clone();
    let mut set = MaskSet {
        display: format!("models/{name}"),
        files: BTreeMap::new(),
        structures: BTreeMap::new(),
    };
    let mut masks = Vec::new();
    let mut sums = String::new();
    let mut scored = 0;
    let mut names_used: std::collections::BTreeSet<String> = Default::default();
    for (req, result) in cases.requests.iter().zip(results) {
        let case = &req.case_id;
        let named = file_name_for(case).and_then(|()| {
            if names_used.insert(case.to_lowercase()) {
                Ok(())
            } else {
                Err((
                    "model-output",
                    "another case's id differs from it only in letter case, and a mask file name must not depend on letter case".to_string(),
                ))
            }
        });
        let bytes = named.and(result).and_then(|m| {
            crate::data::nifti_out::label_map(
                m.dims,
                m.spacing,
                m.geometry.as_ref(),
                &m.labels,
                true,
            )
            .map_err(|e| ("model-output", e))
        });
        let file = format!("{case}.nii.gz");
        let written = bytes.and_then(|b| {
            let path = scratch.path().join(&file);
            std::fs::write(&path, &b)
                .map(|()| (b, path))
                .map_err(|e| ("model-output", format!("cannot write its mask: {e}")))
        });
        match written {
            Ok((b, path)) => {
                scored += 1;
                let sha = sha256_hex(&b);
                sums.push_str(&format!("{sha}  {file}\n"));
                set.files.insert(case.clone(), path);
                masks.push(MaskOutput {
                    case: case.clone(),
                    output: format!("models/{name}/{file}"),
                    sha256: sha,
                    bytes: b,
                });
            }
            Err((code, message)) => {
                findings.push(Finding::error(
                    code,
                    format!("case `{case}`: {message}; no mask"),
                    format!("case {case}"),
                ));
            }
        }
    }
    let mut run = run_record(name, cases, scored);
    network_identity(&mut run, &model, decl, spec_dir, cases);
    run.output = format!("models/{name}/SHA256SUMS");
    run.output_sha256 = sha256_hex(sums.as_bytes());
    run.output_csv = sums;
    run.masks = masks;
    ModelOutcome {
        loaded: Loaded {
            value: None,
            findings: Vec::new(),
        },
        run: Some(run),
        again: Vec::new(),
        perturbed: BTreeMap::new(),
        masks: Some((
            Loaded {
                value: Some(set),
                findings,
            },
            scratch,
        )),
    }
}

fn bar(progress: bool, total: usize, what: &str) -> Option<indicatif::ProgressBar> {
    if !progress || !std::io::stderr().is_terminal() {
        return None;
    }
    let b = indicatif::ProgressBar::new(total as u64);
    b.set_style(
        indicatif::ProgressStyle::with_template(&format!(
            "{what}: {{pos}}/{{len}} images {{wide_bar}} {{per_sec}} eta {{eta}}"
        ))
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    Some(b)
}

/// Each case of the table with its DICOM files, found through the image column's study or
/// series UID among the DICOM source's readable instances.
fn cases(name: &str, r: &RunDecl, cx: &Context) -> Result<Cases, String> {
    let table = match cx.data.get(&r.cases) {
        Some(DataSet::Table(Loaded { value: Some(t), .. })) => t,
        _ => return Err(format!("its case table `{}` could not be read", r.cases)),
    };
    let index = match cx.data.get(&r.images) {
        Some(DataSet::Dicom(Loaded {
            value: Some(ix), ..
        })) => ix,
        _ => return Err(format!("its DICOM source `{}` could not be read", r.images)),
    };
    let Some(col) = table.column(&r.image_column) else {
        return Err(format!(
            "the case table `{}` has no column `{}` (columns are: {})",
            r.cases,
            r.image_column,
            table.columns.join(", ")
        ));
    };
    let root = std::fs::canonicalize(&index.root).unwrap_or_else(|_| index.root.clone());
    let mut by_uid: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    // A network takes images: objects without pixels (structured reports, segmentations,
    // presentation states, registrations, RT plans) stay out of its cases. A vendor program
    // gets every readable file of the case, as attest-model/1 says.
    let network = matches!(r.engine, Engine::Burn(_));
    for inst in index
        .instances
        .iter()
        .filter(|i| !network || !NOT_IMAGES.contains(&i.modality.as_str()))
    {
        let path = root.join(&inst.path).display().to_string();
        by_uid
            .entry(&inst.study_uid)
            .or_default()
            .push(path.clone());
        by_uid.entry(&inst.series_uid).or_default().push(path);
    }
    // Folders holding a file the index could not read: it may be one of a case's images, so
    // a case with images there is not scored from the rest.
    let mut unreadable: BTreeMap<PathBuf, Vec<&str>> = BTreeMap::new();
    for f in &index.failures {
        let folder = root.join(&f.path).parent().map(Path::to_path_buf);
        unreadable
            .entry(folder.unwrap_or_default())
            .or_default()
            .push(&f.path);
    }
    let mut findings = Vec::new();
    let mut requests = Vec::new();
    for row in 0..table.len() {
        let id = table.id(row);
        let uid = table.get(row, col);
        match by_uid.get(uid) {
            Some(files) => {
                let mut files = files.clone();
                files.sort();
                files.dedup();
                let beside: Vec<&str> = files
                    .iter()
                    .filter_map(|f| Path::new(f).parent())
                    .filter_map(|d| unreadable.get(d))
                    .flatten()
                    .copied()
                    .collect::<std::collections::BTreeSet<_>>()
                    .into_iter()
                    .collect();
                if !beside.is_empty() {
                    findings.push(Finding::error(
                        "model-input",
                        format!(
                            "case `{id}`: its images' folder also holds {} that could not be read as DICOM ({}); it may be one of the case's images, so the case is not sent to model `{name}` (a score from part of its images could miss what the rest show)",
                            if beside.len() == 1 { "a file" } else { "files" },
                            beside.join(", ")
                        ),
                        format!("case {id}"),
                    ));
                    continue;
                }
                requests.push(Request {
                    case_id: id.to_string(),
                    files,
                });
            }
            None => findings.push(Finding::error(
                "no-images",
                format!(
                    "case `{id}`: no readable DICOM file in `{}` has the study or series UID in `{}`; not sent to model `{name}`",
                    r.images, r.image_column
                ),
                format!("case {id}"),
            )),
        }
    }
    Ok(Cases {
        requests,
        findings,
        total: table.len(),
        root,
    })
}

/// Modalities (PS3.3 C.7.3.1.1.1 defined terms) whose objects hold no image a network could
/// take: documents, reports, segmentations, presentation and registration objects, RT
/// objects other than images and dose, waveforms.
const NOT_IMAGES: &[&str] = &[
    "SEG", "SR", "PR", "KO", "REG", "FID", "RTSTRUCT", "RTPLAN", "RTRECORD", "PLAN", "DOC", "AU",
    "ECG", "HD", "EPS", "RESP", "RWV", "POS", "M3D", "STAIN",
];

/// The outcomes as predictions (via the CSV written to the output folder, so the checks read
/// exactly what is written) and the run's record, its kind-specific fields left to fill.
fn collect(name: &str, cases: &Cases, outcomes: &[Outcome]) -> (Loaded<Predictions>, ModelRun) {
    let mut findings = cases.findings.clone();
    let mut csv = csv::Writer::from_writer(Vec::new());
    let _ = csv.write_record(["case_id", "score"]);
    let mut scored = 0;
    for (req, outcome) in cases.requests.iter().zip(outcomes) {
        match outcome {
            Outcome::Score(x) => {
                scored += 1;
                let _ = csv.write_record([req.case_id.clone(), x.to_string()]);
            }
            Outcome::Failed { code, message } => {
                findings.push(Finding::error(
                    code,
                    format!("case `{}`: {message}", req.case_id),
                    format!("case {}", req.case_id),
                ));
            }
        }
    }
    let csv = String::from_utf8(csv.into_inner().unwrap_or_default()).unwrap_or_default();
    let output = format!("models/{name}.csv");
    let loaded = match parse_predictions(csv.as_bytes(), &output, "case_id", "score") {
        Ok((p, more)) => {
            findings.extend(more);
            Loaded {
                value: Some(p),
                findings,
            }
        }
        Err(e) => {
            findings.push(Finding::error(
                "unreadable-data",
                e.to_string(),
                output.clone(),
            ));
            Loaded {
                value: None,
                findings,
            }
        }
    };
    let mut run = run_record(name, cases, scored);
    run.output_sha256 = sha256_hex(csv.as_bytes());
    run.output = output;
    run.output_csv = csv;
    (loaded, run)
}

/// A run's record with its counts, the kind-specific fields left to fill.
fn run_record(name: &str, cases: &Cases, scored: usize) -> ModelRun {
    ModelRun {
        name: name.to_string(),
        kind: String::new(),
        command: Vec::new(),
        model: None,
        version: None,
        timeout_s: None,
        starts: None,
        images: None,
        network: None,
        cases: cases.total,
        scored,
        // Every case of the table without a score: not sent (no images, an unreadable file
        // beside them) or failed.
        failed: cases.total - scored,
        output: String::new(),
        output_sha256: String::new(),
        output_csv: String::new(),
        perturbed: Vec::new(),
        masks: Vec::new(),
    }
}

/// Fills in what identifies a network that ran: its identity, with the weights file shown
/// relative to the spec as every input is (so the report does not depend on where attest was
/// started), and the images it was sent.
fn network_identity(
    run: &mut ModelRun,
    model: &declared::Loaded,
    decl: &BurnModelDecl,
    spec_dir: &Path,
    cases: &Cases,
) {
    let mut identity = model.identity();
    identity.weights.path = crate::report::manifest::relative_path(spec_dir, &decl.weights);
    run.kind = "burn".to_string();
    run.images = Some(cases.requests.iter().map(|q| q.files.len()).sum());
    run.network = Some(identity);
}

/// Loads a declared network; why it cannot, as the model's finding, names the weights file as
/// the spec does (relative to its folder), whatever folder attest was started in.
fn load(
    name: &str,
    decl: &BurnModelDecl,
    spec_dir: &Path,
) -> Result<declared::Loaded, Box<ModelOutcome>> {
    declared::load(decl).map_err(|e| {
        let shown = crate::report::manifest::relative_path(spec_dir, &decl.weights);
        let message = e.to_string().replace(
            &decl.weights.display().to_string(),
            &shown.display().to_string(),
        );
        Box::new(ModelOutcome::unavailable(
            name,
            format!("model `{name}`: {message}"),
        ))
    })
}

/// Whether a case id can name its mask file (`<case>.nii.gz` in the output folder): not empty,
/// no path separator, no leading dot, no control character.
fn file_name_for(case: &str) -> Result<(), (&'static str, String)> {
    let bad = case.is_empty()
        || case.starts_with('.')
        || case
            .chars()
            .any(|c| c == '/' || c == '\\' || c.is_control());
    if bad {
        Err((
            "model-output",
            "the case id cannot name a file (empty, a leading dot, a path separator or a control character); its mask is not written".to_string(),
        ))
    } else {
        Ok(())
    }
}

/// The repeatability sample: a seeded partial Fisher–Yates shuffle of `len` cases (ChaCha8,
/// stream "repe"), `n` of them, in the shuffle's order: the first `k` of a sample of `n` are
/// the sample of `k`, so one rerun serves every requirement on the model, each comparing its
/// own first cases.
fn sample(seed: u64, len: usize, n: usize) -> Vec<usize> {
    use rand::{RngExt, SeedableRng};
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(0x7265_7065); // "repe"
    let mut order: Vec<usize> = (0..len).collect();
    let n = n.min(len);
    for i in 0..n {
        let j = rng.random_range(i..len);
        order.swap(i, j);
    }
    order.truncate(n);
    order
}

fn rerun(requests: &[Request], outcomes: Vec<Outcome>) -> Loaded<Rerun> {
    Loaded {
        value: Some(
            requests
                .iter()
                .zip(outcomes)
                .map(|(r, o)| {
                    let v = match o {
                        Outcome::Score(x) => Ok(x),
                        Outcome::Failed { code, message } => Err(format!("{code}: {message}")),
                    };
                    (r.case_id.clone(), v)
                })
                .collect(),
        ),
        findings: Vec::new(),
    }
}

fn again_failed(name: &str, reason: String) -> Loaded<Rerun> {
    Loaded {
        value: None,
        findings: vec![Finding::error(
            "model-unavailable",
            format!("model `{name}` could not be run again: {reason}"),
            name.to_string(),
        )],
    }
}
