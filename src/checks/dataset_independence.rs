//! `dataset.independence`: splits share no patient, study, series, instance or image.
//!
//! Documentation for users is in `dataset_independence.md`.

use std::collections::{BTreeMap, BTreeSet};

use super::evidence::{Evidence, Finding, Measurement, Severity, Status};
use super::{reference, Check, Context, DataSet, Names, Uses};
use crate::data::dicom_index::Instance;
use crate::data::table::CaseTable;
use crate::spec::diag::Diagnostic;
use crate::spec::schema::{Field, Ty};
use crate::spec::yaml::Node;

pub const DOC: &str = include_str!("dataset_independence.md");

pub const PIXEL_MODES: &[&str] = &["none", "identical", "near"];

pub const PARAMS: &[Field] = &[
    Field::req("data", Ty::Str, "the case table holding the split of each case"),
    Field::opt("split_column", Ty::Str, "column naming each case's split, default `split`"),
    Field::opt("patient_column", Ty::Str, "column of patient identifiers (compared by keyed pseudonym)"),
    Field::opt("images", Ty::Str, "a DICOM data source whose instances belong to the cases"),
    Field::opt("study_column", Ty::Str, "column linking a case to its StudyInstanceUID, default `study_instance_uid`"),
    Field::opt("pixels", Ty::Enum(PIXEL_MODES), "compare images across splits: `identical` pixel data, or also `near`-identical (default `none`)"),
    Field::opt("max_distance", Ty::Int { min: 0 }, "near-identical: at most this many of the 64 difference-hash bits differ, default 4"),
    Field::opt("external", Ty::Str, "a split declared external: it shares no site with any other split"),
    Field::opt("site_column", Ty::Str, "column naming each case's site, default `site`"),
];

#[derive(Debug)]
pub struct Independence {
    data: String,
    split_column: String,
    patient_column: Option<String>,
    images: Option<String>,
    study_column: String,
    pixels: String,
    max_distance: u32,
    external: Option<String>,
    site_column: String,
}

pub fn build(node: &Node, names: &Names, out: &mut Vec<Diagnostic>) -> Option<Box<dyn Check>> {
    let before = out.len();
    let s = |k: &str| node.get(k).and_then(Node::as_str).map(str::to_string);
    let data = s("data")?;
    reference(
        node,
        "data",
        &data,
        &names.tables,
        "a case table (`table:`) in `data:`",
        out,
    );
    if let Some(images) = s("images") {
        reference(
            node,
            "images",
            &images,
            &names.dicom,
            "a DICOM data source (`dicom:`) in `data:`",
            out,
        );
    }
    let pixels = s("pixels").unwrap_or_else(|| "none".into());
    if pixels != "none" && s("images").is_none() {
        let k = node.key("pixels")?;
        out.push(
            Diagnostic::new("missing-key", "comparing pixels needs `images`", &k.pos)
                .label("add `images: <a DICOM data source>`"),
        );
    }
    if out.len() > before {
        return None;
    }
    Some(Box::new(Independence {
        data,
        split_column: s("split_column").unwrap_or_else(|| "split".into()),
        patient_column: s("patient_column"),
        images: s("images"),
        study_column: s("study_column").unwrap_or_else(|| "study_instance_uid".into()),
        pixels,
        max_distance: node
            .get("max_distance")
            .and_then(Node::as_f64)
            .map_or(4, |x| x as u32),
        external: s("external"),
        site_column: s("site_column").unwrap_or_else(|| "site".into()),
    }))
}

/// Collisions of one kind: key → the (split, where) pairs it was seen in, first per split.
#[derive(Default)]
struct Seen<'a> {
    map: BTreeMap<String, BTreeMap<&'a str, String>>,
}

impl<'a> Seen<'a> {
    fn add(&mut self, key: String, split: &'a str, place: impl FnOnce() -> String) {
        if key.is_empty() {
            return;
        }
        let e = self.map.entry(key).or_default();
        if !e.contains_key(split) {
            e.insert(split, place());
        }
    }

    /// One finding per key seen in more than one split, naming every side.
    fn findings(&self, code: &str, what: &str, out: &mut Vec<Finding>) -> u64 {
        self.findings_keyed(code, what, &|k| k.to_string(), out)
    }

    /// As `findings`, with the subject made from the key by `subject` (e.g. a pseudonym).
    fn findings_keyed(
        &self,
        code: &str,
        what: &str,
        subject: &dyn Fn(&str) -> String,
        out: &mut Vec<Finding>,
    ) -> u64 {
        let mut n = 0;
        for (key, sides) in self.map.iter().filter(|(_, s)| s.len() > 1) {
            n += 1;
            let sides: Vec<String> = sides
                .iter()
                .map(|(split, place)| format!("{split} ({place})"))
                .collect();
            out.push(Finding::error(
                code,
                format!("{what} in {}", sides.join(" and ")),
                subject(key),
            ));
        }
        n
    }
}

impl Independence {
    fn col(&self, t: &CaseTable, name: &str, findings: &mut Vec<Finding>) -> Option<usize> {
        let c = t.column(name);
        if c.is_none() {
            findings.push(Finding::error(
                "unknown-column",
                format!(
                    "the table has no `{name}` column (columns are: {})",
                    t.columns.join(", ")
                ),
                self.data.clone(),
            ));
        }
        c
    }
}

impl Check for Independence {
    fn uses(&self) -> Uses {
        let mut data = vec![self.data.clone()];
        data.extend(self.images.clone());
        Uses {
            data,
            pixels: if self.pixels == "none" {
                Vec::new()
            } else {
                self.images.clone().into_iter().collect()
            },
            ..Uses::default()
        }
    }

    fn evaluate(&self, cx: &Context) -> Evidence {
        let method = format!(
            "splits from `{}` compared by{}{}{}{}",
            self.split_column,
            if self.patient_column.is_some() { " patient (keyed pseudonym)," } else { "" },
            if self.images.is_some() { " patient, study, series and SOP instance UID of the images," } else { "" },
            match self.pixels.as_str() {
                "identical" => " identical decoded pixel data,".to_string(),
                "near" => format!(" identical and near-identical pixel data (difference hash, at most {} of 64 bits apart),", self.max_distance),
                _ => String::new(),
            },
            self.external.as_ref().map_or(String::new(), |e| format!(" and sites of the external split `{e}`"))
        );
        let mut findings = Vec::new();
        let table = match cx.data.get(&self.data) {
            Some(DataSet::Table(t)) => match &t.value {
                Some(v) => v,
                None => return Evidence::error(method, t.findings.clone()),
            },
            _ => {
                return Evidence::error(
                    method,
                    vec![Finding::error(
                        "missing-data",
                        format!("no case table `{}` was loaded", self.data),
                        self.data.clone(),
                    )],
                )
            }
        };
        let Some(split_col) = self.col(table, &self.split_column, &mut findings) else {
            return Evidence::error(method, findings);
        };
        let split_of = |row: usize| table.get(row, split_col);
        let mut undecided = false;
        for row in (0..table.len()).filter(|&r| split_of(r).is_empty()) {
            undecided = true;
            findings.push(Finding::warning(
                "no-split",
                format!("case `{}` has no split", table.id(row)),
                format!("{}:{}", self.data, table.lines[row]),
            ));
        }
        let splits: BTreeSet<&str> = (0..table.len())
            .map(split_of)
            .filter(|s| !s.is_empty())
            .collect();
        let mut counts = BTreeMap::new();

        if let Some(pc) = &self.patient_column {
            let Some(c) = self.col(table, pc, &mut findings) else {
                return Evidence::error(method, findings);
            };
            let mut seen = Seen::default();
            for row in 0..table.len() {
                let id = table.get(row, c);
                let key = cx
                    .key
                    .as_ref()
                    .map_or_else(|| "P-?".to_string(), |k| k.pseudonym(id));
                if !id.is_empty() {
                    seen.add(key, split_of(row), || format!("case {}", table.id(row)));
                }
            }
            counts.insert(
                "shared_patients",
                seen.findings("shared-patient", "the same patient", &mut findings),
            );
        }

        if let Some(images) = &self.images {
            let index = match super::dicom_common::index(cx, images, &method) {
                Ok(i) => i,
                Err(e) => return e,
            };
            let Some(sc) = self.col(table, &self.study_column, &mut findings) else {
                return Evidence::error(method, findings);
            };
            // A study listed for cases of two splits is itself a collision, whatever the images.
            let mut table_studies = Seen::default();
            for r in 0..table.len() {
                table_studies.add(table.get(r, sc).to_string(), split_of(r), || {
                    format!("case {}", table.id(r))
                });
            }
            let uid_key = |uid: &str| {
                cx.key.as_ref().map_or_else(
                    || "U-?".to_string(),
                    |k| k.pseudonym(uid).replacen("P-", "U-", 1),
                )
            };
            counts.insert(
                "shared_table_studies",
                table_studies.findings_keyed(
                    "shared-study",
                    "the same StudyInstanceUID listed for cases",
                    &uid_key,
                    &mut findings,
                ),
            );
            let study_split: BTreeMap<&str, &str> = (0..table.len())
                .map(|r| (table.get(r, sc), split_of(r)))
                .collect();
            // An unreadable file may hide a collision: not a failure, but no pass either.
            undecided |= !index.failures.is_empty();
            findings.extend(super::dicom_common::unreadable(index));
            let mut linked: Vec<(&str, &Instance)> = Vec::new();
            let mut unlinked = 0u64;
            for inst in &index.instances {
                match study_split
                    .get(inst.study_uid.as_str())
                    .filter(|s| !s.is_empty())
                {
                    Some(split) => linked.push((split, inst)),
                    None => unlinked += 1,
                }
            }
            if unlinked > 0 {
                findings.push(Finding::warning(
                    "unlinked-instances",
                    format!("{unlinked} instance(s) belong to no case of the table (by `{}`), so they were not compared", self.study_column),
                    images.clone(),
                ));
            }
            let (mut patients, mut studies, mut series, mut sops) = (
                Seen::default(),
                Seen::default(),
                Seen::default(),
                Seen::default(),
            );
            for (split, inst) in &linked {
                patients.add(inst.patient.clone(), split, || inst.path.clone());
                studies.add(inst.study_uid.clone(), split, || inst.path.clone());
                series.add(inst.series_uid.clone(), split, || inst.path.clone());
                sops.add(inst.sop_instance_uid.clone(), split, || inst.path.clone());
            }
            counts.insert(
                "shared_image_patients",
                patients.findings(
                    "shared-patient",
                    "the same patient (PatientID, by keyed pseudonym)",
                    &mut findings,
                ),
            );
            // A study in two splits can only come from two table rows with one study UID.
            // UIDs are named by keyed pseudonym (U-…), never in clear.
            counts.insert(
                "shared_studies",
                studies.findings_keyed(
                    "shared-study",
                    "the same StudyInstanceUID",
                    &uid_key,
                    &mut findings,
                ),
            );
            counts.insert(
                "shared_series",
                series.findings_keyed(
                    "shared-series",
                    "the same SeriesInstanceUID",
                    &uid_key,
                    &mut findings,
                ),
            );
            counts.insert(
                "shared_instances",
                sops.findings_keyed(
                    "shared-instance",
                    "the same SOPInstanceUID",
                    &uid_key,
                    &mut findings,
                ),
            );

            if self.pixels != "none" {
                let mut exact = Seen::default();
                let mut prints: Vec<Print> = Vec::new();
                for (split, inst) in &linked {
                    match &inst.pixels {
                        Some(Ok(p)) => {
                            exact.add(hex::encode(&p.sha256[..8]), split, || inst.path.clone());
                            prints.push((split, inst.path.as_str(), p.dhash, p.sha256, p.dhash256));
                        }
                        Some(Err(e)) => {
                            undecided = true;
                            findings.push(Finding::warning(
                                "pixels-not-compared",
                                e.clone(),
                                inst.path.clone(),
                            ));
                        }
                        None => {}
                    }
                }
                let n = exact.findings("identical-pixels", "identical pixel data", &mut findings);
                // Fingerprint keys are not meaningful to a reader; name the files instead.
                for f in findings.iter_mut().filter(|f| f.code == "identical-pixels") {
                    f.subject = Some("pixel data".into());
                }
                counts.insert("identical_images", n);
                if self.pixels == "near" {
                    counts.insert(
                        "near_identical_images",
                        near_duplicates(&prints, self.max_distance, &mut findings),
                    );
                }
            }
        }

        if let Some(ext) = &self.external {
            if !splits.contains(ext.as_str()) {
                findings.push(Finding::error(
                    "unknown-split",
                    format!("no case is in the external split `{ext}`"),
                    self.split_column.clone(),
                ));
            } else if let Some(c) = self.col(table, &self.site_column, &mut findings) {
                let mut seen = Seen::default();
                for row in 0..table.len() {
                    let side = if split_of(row) == ext {
                        ext.as_str()
                    } else {
                        "other splits"
                    };
                    seen.add(table.get(row, c).to_string(), side, || {
                        format!("case {}", table.id(row))
                    });
                }
                counts.insert(
                    "shared_sites",
                    seen.findings("shared-site", "the same site", &mut findings),
                );
            }
        }

        let measurements: Vec<Measurement> = counts
            .into_iter()
            .map(|(metric, n)| {
                let mut m = Measurement::new(metric, None);
                m.estimate = Some(n as f64);
                m.n = table.len() as u64;
                m.status = if n == 0 { Status::Pass } else { Status::Fail };
                m
            })
            .collect();
        let status = if findings
            .iter()
            .any(|f| f.severity == Severity::Error && f.code != "unreadable-dicom")
        {
            Status::Fail
        } else if undecided || splits.len() < 2 {
            if splits.len() < 2 {
                findings.push(Finding::warning(
                    "one-split",
                    format!("{} split(s) found: nothing to compare", splits.len()),
                    self.split_column.clone(),
                ));
            }
            Status::Inconclusive
        } else {
            Status::Pass
        };
        Evidence {
            status,
            method,
            measurements,
            findings,
        }
    }
}

/// (split, file, 64-bit difference hash, SHA-256 of the pixels, 256-bit difference hash).
type Print<'a> = (&'a str, &'a str, u64, [u8; 32], [u64; 4]);

/// Pairs of images from different splits whose difference hashes are at most `max` bits
/// apart (and whose pixels are not identical, which is reported already). Candidates are
/// found by the pigeonhole principle: two hashes within `max` bits agree exactly on at least
/// one of `max + 1` disjoint bit blocks, so only images sharing a block are compared.
fn near_duplicates(prints: &[Print], max: u32, out: &mut Vec<Finding>) -> u64 {
    // A frame too uniform to have a difference hash (almost all cells equal) matches every
    // other uniform frame: such frames are not compared, and are counted.
    let informative = |p: &Print| p.4.iter().map(|w| w.count_ones()).sum::<u32>() >= 8;
    let skipped = prints.iter().filter(|p| !informative(p)).count();
    if skipped > 0 {
        out.push(Finding::new(
            "uniform-images",
            Severity::Info,
            format!("{skipped} image(s) too uniform for a difference hash were not compared for near duplicates (identical copies are still found)"),
            Some("pixel data".to_string()),
        ));
    }
    let prints: Vec<&Print> = prints.iter().filter(|p| informative(p)).collect();
    let blocks = (max + 1).min(64) as usize;
    let block = |h: u64, b: usize| -> (usize, u64) {
        let (lo, hi) = (b * 64 / blocks, (b + 1) * 64 / blocks);
        let mask = if hi - lo == 64 {
            u64::MAX
        } else {
            ((1u64 << (hi - lo)) - 1) << lo
        };
        (b, h & mask)
    };
    let mut buckets: BTreeMap<(usize, u64), Vec<usize>> = BTreeMap::new();
    for (i, p) in prints.iter().enumerate() {
        for b in 0..blocks {
            buckets.entry(block(p.2, b)).or_default().push(i);
        }
    }
    let mut pairs = BTreeSet::new();
    for members in buckets.values_mut() {
        // Grouped by split, so that only pairs across splits are compared: a large training
        // split whose images share a block (black borders) never meets itself.
        members.sort_by_key(|&i| (prints[i].0, i));
        for (x, &i) in members.iter().enumerate() {
            let rest = &members[x + 1..];
            let same_split = rest.partition_point(|&j| prints[j].0 == prints[i].0);
            for &j in &rest[same_split..] {
                let (a, b) = (prints[i], prints[j]);
                // The coarse hash finds candidates; the fine one (four times the bits, four
                // times the tolerance) confirms them, so flat images do not match by chance.
                let fine: u32 =
                    a.4.iter()
                        .zip(&b.4)
                        .map(|(x, y)| (x ^ y).count_ones())
                        .sum();
                if a.3 != b.3 && (a.2 ^ b.2).count_ones() <= max && fine <= 4 * max {
                    pairs.insert((i.min(j), i.max(j)));
                }
            }
        }
    }
    for &(i, j) in &pairs {
        let (a, b) = (prints[i], prints[j]);
        out.push(Finding::error(
            "near-duplicate-image",
            format!(
                "{} ({}) and {} ({}) differ in {} of 64 difference-hash bits",
                a.1,
                a.0,
                b.1,
                b.0,
                (a.2 ^ b.2).count_ones()
            ),
            "pixel data".to_string(),
        ));
    }
    pairs.len() as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_coarse_match_needs_fine_confirmation() {
        let sha = |b: u8| [b; 32];
        // Same 64-bit hash; fine hashes 0 bits apart, then 32 bits apart (> 4 x 4).
        let prints = [
            ("train", "a", 0xF0F0, sha(1), [0xFFFF, 0, 0, 0]),
            ("test", "b", 0xF0F0, sha(2), [0xFFFF, 0, 0, 0]),
            ("test", "c", 0xF0F1, sha(3), [0xFFFF_FFFF_0000, 0, 0, 0]),
        ];
        let mut out = Vec::new();
        assert_eq!(near_duplicates(&prints, 4, &mut out), 1);
        assert!(out[0]
            .message
            .starts_with("a (train) and b (test) differ in 0"));
        // Identical pixels are reported as such, not again as near duplicates.
        let same = [
            ("train", "a", 1, sha(1), [0xFFFF, 0, 0, 0]),
            ("test", "b", 1, sha(1), [0xFFFF, 0, 0, 0]),
        ];
        assert_eq!(near_duplicates(&same, 4, &mut Vec::new()), 0);
        // Uniform frames (hash all zero) match each other by chance: not compared, counted.
        let flat = [
            ("train", "a", 0, sha(1), [0; 4]),
            ("test", "b", 0, sha(2), [0; 4]),
        ];
        let mut out = Vec::new();
        assert_eq!(near_duplicates(&flat, 4, &mut out), 0);
        assert_eq!(out[0].code, "uniform-images");
    }
}
