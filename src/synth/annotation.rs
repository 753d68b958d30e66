//! The demo label set (`testdata/demo/labels/`): the annotation programme of the demo cases as
//! events, an annotator registry, reader masks, and the defects planted in it.
//!
//! The programme, in the manner of YY/T 1833.3: cases C0001–C0060 are read by hand (R01 and
//! R02, and the resident R05 on the first 20), disagreements adjudicated by A01, and the quality
//! evaluator Q01 re-reviews a little over a tenth of each reader's reads. A model (M1, "nodule-net" 1.3.0)
//! pre-annotates C0061–C0200; R03 reviews carefully (accepting correct proposals, editing wrong
//! ones), R04 accepts everything a few seconds apart. Three readers also grade suspicion 1–5 on
//! the hand-read cases, with a few reads missing; the positive hand-read cases get nodule masks
//! from R01 and R02, and ten positive pre-annotated cases an AI mask that R03 edits.
//!
//! Planted defects, each listed in `labels/DEFECTS.md` with the finding it must cause: a
//! revision of an event that does not exist, a pre-annotation nobody reviewed, a reviewer
//! reviewing their own read, an edit dated before what it edits, and an adjudication by the
//! resident. Everything else is clean. Uses its own random stream, so the demo's DICOM and CSVs
//! do not change with it.

use std::fmt::Write as _;
use std::path::Path;

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use time::format_description::well_known::Rfc3339;
use time::{OffsetDateTime, UtcOffset};

use super::nifti::write_mask;
use super::SynthError;

/// What the label generator needs of a demo case.
#[derive(Debug, Clone)]
pub struct LabelCase {
    pub case_id: String,
    pub positive: bool,
    /// The nodule's centre (row, column) and size (sigma) in pixels, for positives.
    pub nodule: Option<(f64, f64, f64)>,
    /// Voxel spacing (column, row, slice) in mm.
    pub spacing: [f64; 3],
}

/// What was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabelSummary {
    /// Rows of `events.csv`.
    pub events: usize,
    /// Events per task, in the order `malignancy`, `suspicion`, `nodule_mask`.
    pub per_task: Vec<(&'static str, usize)>,
    /// Mask files under `masks/`.
    pub masks: usize,
    /// Events with source `ai_preannotation` (classes and masks).
    pub ai_preannotations: usize,
    /// (finding code, event id) of each planted defect.
    pub defects: Vec<(&'static str, String)>,
}

/// The tasks of the demo label set, in the order [`LabelSummary::per_task`] lists them.
const TASKS: [&str; 3] = ["malignancy", "suspicion", "nodule_mask"];

const REGISTRY: &str = "# The annotators of the demo label set (pseudonymous ids; no names).
annotators:
  - id: R01
    role: radiologist
    years_experience: 6
    qualification: attending chest radiologist
    training: [{ course: nodule annotation protocol v2, date: 2025-02-10 }]
    assessments: [{ date: 2025-02-20, passed: true, score: 0.94 }]
  - id: R02
    role: radiologist
    years_experience: 9
    qualification: attending chest radiologist
    training: [{ course: nodule annotation protocol v2, date: 2025-02-10 }]
    assessments: [{ date: 2025-02-20, passed: true, score: 0.91 }]
  - id: R03
    role: radiologist
    years_experience: 12
    training: [{ course: nodule annotation protocol v2, date: 2025-02-10 }]
    assessments: [{ date: 2025-02-21, passed: true, score: 0.96 }]
  - id: R04
    role: radiologist
    years_experience: 4
    training: [{ course: nodule annotation protocol v2, date: 2025-02-11 }]
    assessments: [{ date: 2025-02-21, passed: true, score: 0.88 }]
  - id: R05
    role: resident
    years_experience: 1
    training: [{ course: nodule annotation protocol v2, date: 2025-02-11 }]
    assessments: [{ date: 2025-02-21, passed: false, score: 0.62 }]
  - id: A01
    role: arbitrator
    years_experience: 15
    training: [{ course: nodule annotation protocol v2, date: 2025-02-10 }]
    assessments: [{ date: 2025-02-20, passed: true, score: 0.98 }]
  - id: Q01
    role: quality_evaluator
    years_experience: 8
    training: [{ course: annotation quality control, date: 2025-02-12 }]
  - id: M1
    role: model
    version: 1.3.0
    qualification: nodule-net pre-annotation model
";

/// 2025-03-03T09:00:00+08:00, the first reading session.
const START: i64 = 1_740_963_600;

fn stamp(t: i64) -> String {
    OffsetDateTime::from_unix_timestamp(t)
        .expect("in range")
        .to_offset(UtcOffset::from_hms(8, 0, 0).expect("valid offset"))
        .format(&Rfc3339)
        .expect("formats")
}

#[derive(Default)]
struct Row {
    /// `#k` (generation order) until the rows are sorted, then `E00001`… in file order.
    id: String,
    case: String,
    task: &'static str,
    label: String,
    grade: String,
    mask: String,
    annotator: &'static str,
    created: i64,
    tool: &'static str,
    version: &'static str,
    source: &'static str,
    revises: String,
    round: String,
    reviewed_by: &'static str,
    reviewed_at: Option<i64>,
    decision: &'static str,
}

fn class(positive: bool) -> String {
    if positive { "nodule" } else { "no_nodule" }.to_string()
}

/// The nodule's mask on the 16 × 16 × 2 grid: pixels within `scale` · 1.5 σ of its centre
/// (shifted by `shift` pixels in columns), in both slices.
fn mask(nodule: (f64, f64, f64), scale: f64, shift: f64) -> Vec<bool> {
    let (row, col, sigma) = nodule;
    let r = 1.5 * sigma * scale;
    let mut v = Vec::with_capacity(512);
    for _z in 0..2 {
        for y in 0..16 {
            for x in 0..16 {
                let (dy, dx) = (y as f64 - row, x as f64 - col - shift);
                v.push(dx * dx + dy * dy <= r * r);
            }
        }
    }
    v
}

/// Writes `dir/labels/` for the demo cases: `events.csv` (rows in time order, `E00001`… in
/// file order), `annotators.yaml`, `masks/*.nii.gz` and `DEFECTS.md`. `cases` are the demo
/// generator's cases (truth, nodule, spacing), so the labels agree with `cases.csv`; the
/// random stream is this function's own, seeded from `seed`.
pub fn write_demo_labels(
    dir: &Path,
    cases: &[LabelCase],
    seed: u64,
) -> Result<LabelSummary, SynthError> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x1abe_15e7);
    let out = dir.join("labels");
    let mut rows: Vec<Row> = Vec::new();
    let mut masks = 0;
    let tool = "viewer";
    let tool_version = "4.2.1";
    let human = |case: &str, task: &'static str, who: &'static str, t: i64| Row {
        case: case.to_string(),
        task,
        annotator: who,
        created: t,
        tool,
        version: tool_version,
        source: "human",
        round: "1".into(),
        ..Row::default()
    };
    let read = |p: bool, accuracy: f64, rng: &mut ChaCha8Rng| {
        if rng.random::<f64>() < accuracy {
            p
        } else {
            !p
        }
    };

    // Phase 1: hand reads of C0001–C0060, a case every 4 minutes per reader.
    let hand = &cases[..60.min(cases.len())];
    let mut resident_adjudicated = false;
    for (i, c) in hand.iter().enumerate() {
        let t = START + 240 * i as i64;
        let mut reads = Vec::new();
        for (who, offset) in [("R01", 0), ("R02", 90)] {
            let answer = read(c.positive, 0.92, &mut rng);
            reads.push(answer);
            rows.push(Row {
                label: class(answer),
                ..human(&c.case_id, "malignancy", who, t + offset)
            });
        }
        if i < 20 {
            let answer = read(c.positive, 0.8, &mut rng);
            reads.push(answer);
            rows.push(Row {
                label: class(answer),
                ..human(&c.case_id, "malignancy", "R05", t + 150)
            });
        }
        if reads.iter().any(|r| *r != reads[0]) {
            // The resident adjudicates one disagreement (the first on a case they did not read).
            let who = if i >= 20 && !resident_adjudicated {
                resident_adjudicated = true;
                "R05"
            } else {
                "A01"
            };
            rows.push(Row {
                label: class(c.positive),
                source: "adjudication",
                round: String::new(),
                ..human(&c.case_id, "malignancy", who, t + 86_400)
            });
        }
        // Suspicion 1–5 from three readers, about 5% of reads missing.
        for (who, offset) in [("R01", 20), ("R02", 110), ("R03", 200)] {
            if rng.random::<f64>() < 0.05 {
                continue;
            }
            let base: i64 = if c.positive {
                4 + i64::from(rng.random::<f64>() < 0.5)
            } else {
                1 + i64::from(rng.random::<f64>() < 0.4)
            };
            let noise = match rng.random::<f64>() {
                x if x < 0.1 => -1,
                x if x < 0.2 => 1,
                _ => 0,
            };
            rows.push(Row {
                grade: (base + noise).clamp(1, 5).to_string(),
                ..human(&c.case_id, "suspicion", who, t + offset)
            });
        }
        // Nodule masks of the positive cases from R01 and R02.
        if let Some(n) = c.nodule {
            for (who, shift, offset) in [("R01", 0.0, 40), ("R02", 0.4, 130)] {
                let file = format!("masks/{}_{who}.nii.gz", c.case_id);
                write_mask(
                    &out.join(&file),
                    [16, 16, 2],
                    c.spacing,
                    &mask(n, 1.0, shift),
                )?;
                masks += 1;
                rows.push(Row {
                    mask: file,
                    ..human(&c.case_id, "nodule_mask", who, t + offset)
                });
            }
        }
    }

    // Phase 2: AI pre-annotations of C0061–C0200, reviewed by R03 (odd) and R04 (even).
    let mut ai_masks = 0;
    let mut ai = 0;
    let review_start = START + 7 * 86_400;
    let (mut t3, mut t4) = (review_start, review_start);
    for (i, c) in cases.iter().enumerate().skip(60) {
        let proposal = read(c.positive, 0.9, &mut rng);
        let created = START + 6 * 86_400 + 30 * i as i64;
        let careful = i % 2 == 0;
        let (reviewer, when) = if careful {
            t3 += rng.random_range(30..=120);
            ("R03", t3)
        } else {
            t4 += rng.random_range(2..=4);
            ("R04", t4)
        };
        let correct = proposal == c.positive;
        let decision = if careful && !correct {
            "edit"
        } else {
            "accept"
        };
        ai += 1;
        rows.push(Row {
            case: c.case_id.clone(),
            task: "malignancy",
            label: class(proposal),
            annotator: "M1",
            created,
            tool: "nodule-net",
            version: "1.3.0",
            source: "ai_preannotation",
            reviewed_by: reviewer,
            reviewed_at: Some(when),
            decision,
            ..Row::default()
        });
        if decision == "edit" {
            rows.push(Row {
                label: class(c.positive),
                round: String::new(),
                revises: "(previous)".into(),
                ..human(&c.case_id, "malignancy", "R03", when + 20)
            });
        }
        // Ten positive cases also get an AI mask, which R03 corrects.
        if let (Some(n), true) = (c.nodule, careful && ai_masks < 10) {
            ai_masks += 1;
            let file = format!("masks/{}_M1.nii.gz", c.case_id);
            write_mask(&out.join(&file), [16, 16, 2], c.spacing, &mask(n, 0.7, 0.0))?;
            let edited = format!("masks/{}_R03.nii.gz", c.case_id);
            write_mask(
                &out.join(&edited),
                [16, 16, 2],
                c.spacing,
                &mask(n, 1.0, 0.0),
            )?;
            masks += 2;
            rows.push(Row {
                case: c.case_id.clone(),
                task: "nodule_mask",
                mask: file,
                annotator: "M1",
                created,
                tool: "nodule-net",
                version: "1.3.0",
                source: "ai_preannotation",
                reviewed_by: "R03",
                reviewed_at: Some(when + 5),
                decision: "edit",
                ..Row::default()
            });
            rows.push(Row {
                mask: edited,
                round: String::new(),
                revises: "(previous)".into(),
                ..human(&c.case_id, "nodule_mask", "R03", when + 60)
            });
        }
    }

    // Quality control: Q01 re-reviews a little over a tenth of each reader's hand reads.
    for who in ["R01", "R02", "R05"] {
        let reads: Vec<usize> = (0..rows.len())
            .filter(|&r| {
                rows[r].annotator == who
                    && rows[r].task == "malignancy"
                    && rows[r].source == "human"
                    && rows[r].revises.is_empty()
            })
            .collect();
        let n = reads.len() / 10 + 1;
        for k in 0..n {
            let r = reads[k * reads.len() / n];
            let truth = hand
                .iter()
                .find(|c| c.case_id == rows[r].case)
                .map(|c| c.positive);
            let right = truth.map(class) == Some(rows[r].label.clone());
            rows[r].reviewed_by = "Q01";
            rows[r].reviewed_at = Some(rows[r].created + 10 * 86_400);
            rows[r].decision = if right { "accept" } else { "edit" };
        }
    }

    // Give every event a provisional id in generation order and resolve `revises`. Each
    // phase's rows are in time order already, so "first" and "last" below are in time.
    for (k, r) in rows.iter_mut().enumerate() {
        if r.revises == "(previous)" {
            r.revises = format!("#{}", k - 1);
        }
        r.id = format!("#{k}");
    }

    // Planted defects.
    let mut defects: Vec<(&'static str, String)> = Vec::new();
    let find = |rows: &[Row], f: &dyn Fn(&Row) -> bool| {
        rows.iter().position(f).expect("the programme has one")
    };
    // 1. A correction revising an event that does not exist.
    let id = format!("#{}", rows.len());
    rows.push(Row {
        id: id.clone(),
        label: class(hand[4].positive),
        revises: "E99999".into(),
        round: String::new(),
        ..human(&hand[4].case_id, "malignancy", "R01", START + 2 * 86_400)
    });
    defects.push(("broken-chain", id));
    // 2. A pre-annotation nobody reviewed (R04's last).
    let i = rows
        .iter()
        .rposition(|r| r.source == "ai_preannotation" && r.reviewed_by == "R04")
        .expect("R04 reviews");
    rows[i].reviewed_by = "";
    rows[i].reviewed_at = None;
    rows[i].decision = "";
    defects.push(("unconfirmed-ai-label", rows[i].id.clone()));
    // 3. A reader reviewing their own read.
    let i = find(&rows, &|r| r.reviewed_by == "Q01" && r.annotator == "R02");
    rows[i].reviewed_by = "R02";
    defects.push(("self-review", rows[i].id.clone()));
    // 4. An edit dated before the pre-annotation it edits.
    let i = rows
        .iter()
        .rposition(|r| {
            r.source == "human"
                && !r.revises.is_empty()
                && r.revises != "E99999"
                && r.task == "malignancy"
        })
        .expect("edits");
    rows[i].created = START + 5 * 86_400;
    defects.push(("time-order", rows[i].id.clone()));
    // 5. The resident's adjudication (planted above).
    let i = find(&rows, &|r| {
        r.source == "adjudication" && r.annotator == "R05"
    });
    defects.push(("unqualified-arbitrator", rows[i].id.clone()));

    // File order is time order, the defects included (ties by case, task, then generation
    // order; the sort is stable). Number the events in that order and carry the numbers into
    // `revises` and the defect list; the dangling `E99999` stays as it is.
    rows.sort_by(|a, b| (a.created, &a.case, a.task).cmp(&(b.created, &b.case, b.task)));
    let numbers: std::collections::HashMap<String, String> = rows
        .iter()
        .enumerate()
        .map(|(i, r)| (r.id.clone(), format!("E{:05}", i + 1)))
        .collect();
    for r in &mut rows {
        r.id = numbers[&r.id].clone();
        if let Some(n) = numbers.get(&r.revises) {
            r.revises = n.clone();
        }
    }
    for (_, id) in &mut defects {
        *id = numbers[id.as_str()].clone();
    }

    let mut csv = String::from("event_id,case_id,task,label,grade,mask,annotator_id,created_at,tool,tool_version,source,revises,round,reviewed_by,reviewed_at,decision\n");
    for r in &rows {
        let _ = writeln!(
            csv,
            "{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{}",
            r.id,
            r.case,
            r.task,
            r.label,
            r.grade,
            r.mask,
            r.annotator,
            stamp(r.created),
            r.tool,
            r.version,
            r.source,
            r.revises,
            r.round,
            r.reviewed_by,
            r.reviewed_at.map(stamp).unwrap_or_default(),
            r.decision
        );
    }
    super::ct::write_bytes(&out.join("events.csv"), csv.as_bytes())?;
    super::ct::write_bytes(&out.join("annotators.yaml"), REGISTRY.as_bytes())?;
    let mut md = String::from(
        "# Deliberate defects in the demo label set\n\nWritten by the demo generator \
         (`src/synth/annotation.rs`); `specs/labels.yaml` must report each one.\n\n\
         | event | defect | finding |\n|---|---|---|\n",
    );
    let what = |code: &str| match code {
        "broken-chain" => "an edit revising an event that does not exist",
        "unconfirmed-ai-label" => {
            "an AI pre-annotation nobody reviewed, standing as the final label"
        }
        "self-review" => "a reader's read reviewed by that reader",
        "time-order" => "an edit dated before the pre-annotation it edits",
        _ => "a disagreement adjudicated by the resident R05, not an arbitrator",
    };
    for (code, id) in &defects {
        let _ = writeln!(md, "| {id} | {} | `{code}` |", what(code));
    }
    md.push_str(
        "\nBy design, not defects: R04 accepts every AI pre-annotation a few seconds apart \
         (`labels.ai_assist` flags `rubber-stamping`), and R05 is a resident whose assessment \
         failed (`labels.qualification` reports `unqualified`).\n",
    );
    super::ct::write_bytes(&out.join("DEFECTS.md"), md.as_bytes())?;
    Ok(LabelSummary {
        events: rows.len(),
        per_task: TASKS
            .iter()
            .map(|t| (*t, rows.iter().filter(|r| r.task == *t).count()))
            .collect(),
        masks,
        ai_preannotations: ai + ai_masks,
        defects,
    })
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, HashMap};
    use std::fs;

    use crate::data::labels::registry::parse_registry;
    use crate::data::labels::{parse_labels, Answer, Decision, Event, Source, COLUMNS};

    #[test]
    fn the_demo_label_set_parses_cleanly_and_holds_exactly_the_planted_defects() {
        let dir = tempfile::tempdir().unwrap();
        let demo = super::super::write_demo(dir.path(), super::super::DEMO_SEED).unwrap();
        let summary = demo.labels.expect("write_demo writes the label set");
        let labels = dir.path().join("labels");
        let csv = fs::read(labels.join("events.csv")).unwrap();
        let set = parse_labels(&csv, "events.csv", false).unwrap();
        assert!(set.problems.is_empty(), "{:?}", set.problems);
        let reg = parse_registry(
            &fs::read(labels.join("annotators.yaml")).unwrap(),
            "annotators.yaml",
            false,
        )
        .unwrap();
        let ev = &set.events;

        // The header is the columns of the format that are used, in the format's order.
        let header = String::from_utf8_lossy(&csv)
            .lines()
            .next()
            .unwrap()
            .to_string();
        let used: Vec<&str> = header.split(',').collect();
        let order: Vec<&str> = COLUMNS
            .iter()
            .map(|c| c.0)
            .filter(|c| used.contains(c))
            .collect();
        assert_eq!(used, order);
        assert_eq!(used.len(), COLUMNS.len() - 2, "all but `value` and `box`");

        // Counts, ids in file order, file order is time order.
        assert_eq!(ev.len(), summary.events);
        for (task, n) in &summary.per_task {
            assert_eq!(ev.iter().filter(|e| e.task == *task).count(), *n, "{task}");
        }
        assert_eq!(
            summary.per_task.iter().map(|t| t.1).sum::<usize>(),
            ev.len()
        );
        let ai: Vec<&Event> = ev
            .iter()
            .filter(|e| e.source == Source::AiPreannotation)
            .collect();
        assert_eq!(ai.len(), summary.ai_preannotations);
        for (i, e) in ev.iter().enumerate() {
            assert_eq!(e.id, format!("E{:05}", i + 1));
        }
        assert!(ev.windows(2).all(|w| w[0].created_at <= w[1].created_at));

        // Everyone registered, qualified before their first event (but the resident), every
        // tool version recorded, the model's matching its registration.
        let first: BTreeMap<&str, f64> = ev.iter().rev().fold(BTreeMap::new(), |mut m, e| {
            m.insert(e.annotator.as_str(), e.created_at.0);
            m
        });
        for (who, t) in &first {
            let a = reg
                .get(who)
                .unwrap_or_else(|| panic!("{who} not registered"));
            let when = crate::data::labels::Instant(*t);
            assert!(a.is_model() || a.trained_by(when), "{who}");
            assert_eq!(
                a.is_model() || a.role == "quality_evaluator" || a.assessed_by(when),
                *who != "R05",
                "{who}"
            );
        }
        for e in ev {
            assert!(!e.tool.is_empty() && !e.tool_version.is_empty(), "{}", e.id);
            if let Some(r) = &e.reviewed_by {
                assert!(reg.get(r).is_some(), "{r}");
                assert!(e.reviewed_at.unwrap() >= e.created_at, "{}", e.id);
            }
        }
        assert!(ai
            .iter()
            .all(|e| e.annotator == "M1" && e.tool_version == "1.3.0"));
        assert_eq!(reg.get("M1").unwrap().version.as_deref(), Some("1.3.0"));

        // Consistent with cases.csv: adjudicators and R03's corrections give the truth, masks
        // are drawn on positive cases only.
        let truth: HashMap<String, bool> = fs::read_to_string(dir.path().join("cases.csv"))
            .unwrap()
            .lines()
            .skip(1)
            .map(|l| {
                let mut f = l.split(',');
                (f.next().unwrap().to_string(), f.next().unwrap() == "1")
            })
            .collect();
        let class = |e: &Event| match &e.answer {
            Answer::Class(c) => Some(c == "nodule"),
            _ => None,
        };
        for e in ev {
            if e.source == Source::Adjudication || (e.annotator == "R03" && e.revises.is_some()) {
                if let Some(c) = class(e) {
                    assert_eq!(c, truth[&e.case_id], "{}", e.id);
                }
            }
            if let Answer::Mask(m) = &e.answer {
                assert!(truth[&e.case_id], "{}", e.id);
                let mask = crate::data::masks::read_mask(&labels.join(m)).unwrap();
                assert_eq!(mask.dims, [16, 16, 2]);
                assert!(mask.voxels.iter().any(|&v| v), "{m} is empty");
            }
        }
        let mask_files = fs::read_dir(labels.join("masks")).unwrap().count();
        assert_eq!(mask_files, summary.masks);
        assert_eq!(
            ev.iter()
                .filter(|e| matches!(e.answer, Answer::Mask(_)))
                .count(),
            mask_files
        );

        // The programme: R01 and R02 read C0001–C0060, R05 twenty of them; every R01/R02
        // disagreement is adjudicated once; R04 reviews a few seconds apart, R03 30 s or more.
        let reads = |who: &str| -> BTreeMap<&str, bool> {
            ev.iter()
                .filter(|e| {
                    e.annotator == who
                        && e.task == "malignancy"
                        && e.source == Source::Human
                        && e.revises.is_none()
                })
                .map(|e| (e.case_id.as_str(), class(e).unwrap()))
                .collect()
        };
        let (r01, r02) = (reads("R01"), reads("R02"));
        assert_eq!((r01.len(), r02.len(), reads("R05").len()), (60, 60, 20));
        let adjudicated: Vec<&str> = ev
            .iter()
            .filter(|e| e.source == Source::Adjudication)
            .map(|e| e.case_id.as_str())
            .collect();
        for (case, a) in &r01 {
            let n = adjudicated.iter().filter(|c| *c == case).count();
            if *a != r02[case] {
                assert_eq!(n, 1, "{case}");
            }
        }
        let review_times = |who: &str| -> Vec<f64> {
            ai.iter()
                .filter(|e| e.reviewed_by.as_deref() == Some(who) && e.task == "malignancy")
                .map(|e| e.reviewed_at.unwrap().0)
                .collect()
        };
        assert!(review_times("R04")
            .windows(2)
            .all(|w| (2.0..=4.0).contains(&(w[1] - w[0]))));
        assert!(review_times("R03").windows(2).all(|w| w[1] - w[0] >= 30.0));
        // Q01 re-reviews at least 10% (and at least 2) of each reader's hand reads.
        for who in ["R01", "R02", "R05"] {
            let n = reads(who).len();
            let qc = ev
                .iter()
                .filter(|e| {
                    e.annotator == who
                        && e.task == "malignancy"
                        && e.reviewed_by.as_deref() == Some("Q01")
                })
                .count();
            assert!(qc * 10 >= n && qc >= 2, "{who}: {qc} of {n}");
        }
        // Suspicion grades 1–5 from three readers, about 5% missing.
        let grades: Vec<i64> = ev
            .iter()
            .filter_map(|e| match e.answer {
                Answer::Grade(g) => Some(g),
                _ => None,
            })
            .collect();
        assert!(grades.iter().all(|g| (1..=5).contains(g)));
        assert!((160..180).contains(&grades.len()), "{}", grades.len());

        // The five planted defects, each found structurally exactly once.
        let by_id: HashMap<&str, &Event> = ev.iter().map(|e| (e.id.as_str(), e)).collect();
        let only = |what: &str, f: &dyn Fn(&Event) -> bool| -> String {
            let hits: Vec<&str> = ev.iter().filter(|e| f(e)).map(|e| e.id.as_str()).collect();
            assert_eq!(hits.len(), 1, "{what}: {hits:?}");
            hits[0].to_string()
        };
        let found = vec![
            (
                "broken-chain",
                only("revises a missing event", &|e| {
                    e.revises.as_deref().is_some_and(|r| !by_id.contains_key(r))
                }),
            ),
            (
                "unconfirmed-ai-label",
                only("AI label never reviewed", &|e| {
                    e.source == Source::AiPreannotation && e.reviewed_by.is_none()
                }),
            ),
            (
                "self-review",
                only("reviewed by its own annotator", &|e| {
                    e.reviewed_by.as_deref() == Some(e.annotator.as_str())
                }),
            ),
            (
                "time-order",
                only("dated before what it revises", &|e| {
                    e.revises
                        .as_deref()
                        .and_then(|r| by_id.get(r))
                        .is_some_and(|t| e.created_at < t.created_at)
                }),
            ),
            (
                "unqualified-arbitrator",
                only("adjudicated by a non-arbitrator", &|e| {
                    e.source == Source::Adjudication
                        && reg.get(&e.annotator).unwrap().role != "arbitrator"
                }),
            ),
        ];
        let mut expected = summary.defects.clone();
        expected.sort();
        let mut found = found;
        found.sort();
        assert_eq!(found, expected);
        // The resident adjudicated a genuine R01/R02 disagreement.
        let resident = by_id[expected[4].1.as_str()];
        assert_eq!(expected[4].0, "unqualified-arbitrator");
        assert_ne!(
            r01[resident.case_id.as_str()],
            r02[resident.case_id.as_str()]
        );
        // Nothing else is wrong: no chain loops back on itself, edits decide `edit`.
        for e in ev {
            let mut seen = vec![e.id.as_str()];
            let mut at = e;
            while let Some(next) = at.revises.as_deref().and_then(|r| by_id.get(r)) {
                assert!(!seen.contains(&next.id.as_str()), "cycle through {}", e.id);
                seen.push(&next.id);
                at = next;
            }
            if e.revises.is_some() && by_id.contains_key(e.revises.as_deref().unwrap()) {
                let target = by_id[e.revises.as_deref().unwrap()];
                assert_eq!(target.decision, Some(Decision::Edit), "{}", e.id);
            }
        }

        // The committed demo (`testdata/demo/labels/`) is this output.
        let committed =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/demo/labels");
        for name in ["events.csv", "annotators.yaml", "DEFECTS.md"] {
            assert!(
                fs::read(committed.join(name)).ok() == fs::read(labels.join(name)).ok(),
                "testdata/demo/labels/{name} is stale: regenerate with \
                 `cargo run --release --example gen_testdata -- demo testdata/demo`"
            );
        }
        for f in fs::read_dir(labels.join("masks")).unwrap() {
            let f = f.unwrap();
            assert_eq!(
                fs::read(committed.join("masks").join(f.file_name())).ok(),
                fs::read(f.path()).ok(),
                "{:?} is stale",
                f.file_name()
            );
        }
    }
}
