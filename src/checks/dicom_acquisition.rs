//! `dicom.acquisition`: the acquisition envelope a product claims, and series geometry.
//!
//! Documentation for users is in `dicom_acquisition.md`.

use std::collections::BTreeMap;

use dicom_core::Tag;
use dicom_dictionary_std::tags;

use super::evidence::{Evidence, Finding, Measurement, Severity, Status};
use super::{Check, Context, Names, Uses};
use crate::data::dicom_index::Instance;
use crate::spec::diag::Diagnostic;
use crate::spec::schema::{Field, Ty};
use crate::spec::yaml::Node;

pub const DOC: &str = include_str!("dicom_acquisition.md");

const MM: Ty = Ty::Num {
    min: 0.0,
    max: f64::INFINITY,
};
const RANGE: &[Field] = &[
    Field::opt("min", MM, "smallest allowed value"),
    Field::opt("max", MM, "largest allowed value"),
];
const GEOMETRY: &[Field] = &[
    Field::opt(
        "tolerance_mm",
        MM,
        "allowed deviation of slice positions and spacings, default 0.01 mm",
    ),
    Field::opt(
        "orientation_tolerance",
        Ty::Num { min: 0.0, max: 1.0 },
        "allowed deviation of direction cosines within a series, default 1e-4",
    ),
];

pub const PARAMS: &[Field] = &[
    Field::req("data", Ty::Str, "a DICOM data source in `data:`"),
    Field::opt(
        "slice_thickness",
        Ty::Obj(RANGE),
        "SliceThickness range, mm",
    ),
    Field::opt(
        "pixel_spacing",
        Ty::Obj(RANGE),
        "PixelSpacing range (both values), mm",
    ),
    Field::opt("kvp", Ty::Obj(RANGE), "KVP range, kV"),
    Field::opt(
        "kernels",
        Ty::List(&Ty::Str),
        "allowed ConvolutionKernel values",
    ),
    Field::opt(
        "manufacturers",
        Ty::List(&Ty::Str),
        "allowed Manufacturer values",
    ),
    Field::opt(
        "models",
        Ty::List(&Ty::Str),
        "allowed ManufacturerModelName values",
    ),
    Field::opt(
        "geometry",
        Ty::Obj(GEOMETRY),
        "check series geometry: one orientation, even spacing, no missing slice",
    ),
];

/// Extra attributes read per instance, in this order.
const EXTRA: [Tag; 7] = [
    tags::PIXEL_SPACING,
    tags::CONVOLUTION_KERNEL,
    tags::IMAGE_POSITION_PATIENT,
    tags::IMAGE_ORIENTATION_PATIENT,
    // A series may hold several stacks at the same positions (echoes, b-values, phases):
    // geometry is checked per stack. Acquisition Number is not used: sequential CT scanners
    // number every rotation, which would split a series into stacks of one and hide gaps.
    tags::ECHO_NUMBERS,
    tags::DIFFUSION_B_VALUE,
    tags::TEMPORAL_POSITION_IDENTIFIER,
];
/// Names of the stack attributes of `EXTRA` (slots 4 to 6), for messages.
const STACK: [&str; 3] = [
    "EchoNumbers",
    "DiffusionBValue",
    "TemporalPositionIdentifier",
];

#[derive(Debug, Clone, Copy, PartialEq)]
struct Range {
    min: Option<f64>,
    max: Option<f64>,
}

#[derive(Debug)]
pub struct Acquisition {
    data: String,
    slice_thickness: Option<Range>,
    pixel_spacing: Option<Range>,
    kvp: Option<Range>,
    kernels: Option<Vec<String>>,
    manufacturers: Option<Vec<String>>,
    models: Option<Vec<String>>,
    /// (position tolerance mm, orientation tolerance) when geometry is checked.
    geometry: Option<(f64, f64)>,
}

pub fn build(node: &Node, names: &Names, out: &mut Vec<Diagnostic>) -> Option<Box<dyn Check>> {
    let before = out.len();
    let data = super::dicom_common::dicom_source(node, names, out)?;
    let range = |k: &str| -> Option<Range> {
        let n = node.get(k)?;
        Some(Range {
            min: n.get("min").and_then(Node::as_f64),
            max: n.get("max").and_then(Node::as_f64),
        })
    };
    let list = |k: &str| -> Option<Vec<String>> {
        Some(
            node.get(k)?
                .as_seq()?
                .iter()
                .filter_map(|n| n.as_str().map(|s| s.trim().to_string()))
                .collect(),
        )
    };
    for k in ["slice_thickness", "pixel_spacing", "kvp"] {
        if let (Some(n), Some(r)) = (node.get(k), range(k)) {
            if r.min.is_none() && r.max.is_none() {
                out.push(
                    Diagnostic::new("empty-constraint", format!("`{k}` states no bound"), &n.pos)
                        .label("give `min`, `max` or both"),
                );
            }
            if let (Some(lo), Some(hi)) = (r.min, r.max) {
                if lo > hi {
                    out.push(
                        Diagnostic::new(
                            "invalid-range",
                            format!("`{k}`: min {lo} is above max {hi}"),
                            &n.pos,
                        )
                        .label("min must not exceed max"),
                    );
                }
            }
        }
    }
    let geometry = node.get("geometry").map(|g| {
        (
            g.get("tolerance_mm").and_then(Node::as_f64).unwrap_or(0.01),
            g.get("orientation_tolerance")
                .and_then(Node::as_f64)
                .unwrap_or(1e-4),
        )
    });
    let check = Acquisition {
        data,
        slice_thickness: range("slice_thickness"),
        pixel_spacing: range("pixel_spacing"),
        kvp: range("kvp"),
        kernels: list("kernels"),
        manufacturers: list("manufacturers"),
        models: list("models"),
        geometry,
    };
    if check.slice_thickness.is_none()
        && check.pixel_spacing.is_none()
        && check.kvp.is_none()
        && check.kernels.is_none()
        && check.manufacturers.is_none()
        && check.models.is_none()
        && check.geometry.is_none()
    {
        out.push(
            Diagnostic::new("no-constraint", "this requirement states no constraint, so it could only pass vacuously", &node.pos)
                .label("add at least one of: slice_thickness, pixel_spacing, kvp, kernels, manufacturers, models, geometry"),
        );
    }
    if out.len() > before {
        return None;
    }
    Some(Box::new(check))
}

/// The numbers of a multi-valued decimal string (`0.7\0.7`); None if any is not a number.
fn numbers(v: Option<&str>) -> Option<Vec<f64>> {
    v?.split('\\')
        .map(|p| p.trim().parse::<f64>().ok())
        .collect()
}

impl Range {
    fn violated_by(&self, x: f64) -> Option<String> {
        match (self.min, self.max) {
            (Some(lo), _) if x < lo => Some(format!("below the minimum {lo}")),
            (_, Some(hi)) if x > hi => Some(format!("above the maximum {hi}")),
            _ => None,
        }
    }
}

impl Acquisition {
    /// Envelope violations of one instance: (code, message).
    fn envelope(&self, inst: &Instance, slot: &[usize]) -> Vec<(&'static str, String)> {
        let mut out = Vec::new();
        let mut range = |name: &str, r: &Option<Range>, values: Option<Vec<f64>>| {
            let Some(r) = r else { return };
            match values {
                None => out.push((
                    "missing-attribute",
                    format!("{name} is absent or not a number"),
                )),
                Some(vs) => {
                    for x in vs {
                        if let Some(why) = r.violated_by(x) {
                            out.push(("outside-envelope", format!("{name} {x} is {why}")));
                        }
                    }
                }
            }
        };
        range(
            "SliceThickness",
            &self.slice_thickness,
            inst.slice_thickness.map(|x| vec![x]),
        );
        range(
            "PixelSpacing",
            &self.pixel_spacing,
            numbers(inst.extra[slot[0]].as_deref()),
        );
        // kVp exists for X-ray modalities only (an MR instance has none to check).
        if matches!(
            inst.modality.as_str(),
            "CT" | "CR" | "DX" | "MG" | "XA" | "RF" | "IO" | "PX"
        ) {
            range("KVP", &self.kvp, inst.kvp.map(|x| vec![x]));
        }
        let mut allowed = |name: &str, list: &Option<Vec<String>>, value: Option<&str>| {
            let Some(list) = list else { return };
            match value.filter(|v| !v.is_empty()) {
                None => out.push(("missing-attribute", format!("{name} is absent or empty"))),
                Some(v) if list.iter().any(|a| a.eq_ignore_ascii_case(v)) => {}
                Some(v) => out.push((
                    "not-allowed",
                    format!("{name} `{v}` is not in the allowed list"),
                )),
            }
        };
        allowed(
            "ConvolutionKernel",
            &self.kernels,
            inst.extra[slot[1]].as_deref(),
        );
        allowed(
            "Manufacturer",
            &self.manufacturers,
            Some(inst.manufacturer.as_str()),
        );
        allowed(
            "ManufacturerModelName",
            &self.models,
            Some(inst.model.as_str()),
        );
        out
    }

    /// Geometry findings of one series (instances in walk order).
    fn series_geometry(
        &self,
        members: &[&Instance],
        slot: &[usize],
        (tol, otol): (f64, f64),
    ) -> Vec<Finding> {
        let mut findings = Vec::new();
        let subject = series_subject(members, slot);
        let mut points = Vec::new();
        for inst in members {
            let ipp = numbers(inst.extra[slot[2]].as_deref()).filter(|v| v.len() == 3);
            let iop = numbers(inst.extra[slot[3]].as_deref()).filter(|v| v.len() == 6);
            match (ipp, iop) {
                (Some(p), Some(o)) => points.push((p, o, inst.path.as_str())),
                _ => {
                    findings.push(Finding::new(
                        "geometry-unavailable",
                        Severity::Warning,
                        "ImagePositionPatient or ImageOrientationPatient absent or malformed (multi-frame objects keep them per frame): geometry not checked",
                        Some(inst.path.clone()),
                    ));
                    return findings;
                }
            }
        }
        if points.len() < 2 {
            return findings;
        }
        let o0 = points[0].1.clone();
        if let Some((_, _, path)) = points
            .iter()
            .find(|(_, o, _)| o.iter().zip(&o0).any(|(a, b)| (a - b).abs() > otol))
        {
            findings.push(Finding::error(
                "orientation-varies",
                format!("{path} has a different ImageOrientationPatient from the first instance of the series"),
                subject,
            ));
            return findings;
        }
        // Distance along the slice normal (row × column direction), PS3.3 C.7.6.2.1.1.
        let n = [
            o0[1] * o0[5] - o0[2] * o0[4],
            o0[2] * o0[3] - o0[0] * o0[5],
            o0[0] * o0[4] - o0[1] * o0[3],
        ];
        let mut d: Vec<(f64, &str)> = points
            .iter()
            .map(|(p, _, path)| (p[0] * n[0] + p[1] * n[1] + p[2] * n[2], *path))
            .collect();
        d.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(b.1)));
        let gaps: Vec<f64> = d.windows(2).map(|w| w[1].0 - w[0].0).collect();
        for (w, g) in d.windows(2).zip(&gaps) {
            if *g <= tol {
                findings.push(Finding::error(
                    "duplicate-position",
                    format!(
                        "{} and {} lie at the same position along the normal",
                        w[0].1, w[1].1
                    ),
                    subject.clone(),
                ));
            }
        }
        if !findings.is_empty() {
            return findings;
        }
        // The regular spacing is the smallest gap; larger gaps that are whole multiples of it
        // are missing slices, others are uneven spacing.
        let step = gaps.iter().copied().fold(f64::INFINITY, f64::min);
        for (w, g) in d.windows(2).zip(&gaps) {
            if (g - step).abs() <= tol {
                continue;
            }
            let k = (g / step).round();
            if k >= 2.0 && (g - k * step).abs() <= tol {
                findings.push(Finding::error(
                    "missing-slice",
                    format!(
                        "{} slice(s) missing between {} and {} (gap {g:.3} mm, spacing {step:.3} mm)",
                        k as u64 - 1,
                        w[0].1,
                        w[1].1
                    ),
                    subject.clone(),
                ));
            } else {
                findings.push(Finding::error(
                    "spacing-varies",
                    format!(
                        "gap {g:.3} mm between {} and {}, where the series spacing is {step:.3} mm",
                        w[0].1, w[1].1
                    ),
                    subject.clone(),
                ));
            }
        }
        findings
    }
}

/// A series named by its folder and first file (UIDs are not shown in reports).
fn series_subject(members: &[&Instance], slot: &[usize]) -> String {
    let first = members.first().map_or("", |i| i.path.as_str());
    // The stack within the series, when the series has one (e.g. "EchoNumbers=2").
    let stack: Vec<String> = members
        .first()
        .map(|i| {
            (4..7)
                .filter_map(|k| {
                    let v = i.extra[slot[k]].as_deref().filter(|v| !v.is_empty())?;
                    Some(format!("{}={v}", STACK[k - 4]))
                })
                .collect()
        })
        .unwrap_or_default();
    if stack.is_empty() {
        format!("series of {first} ({} instances)", members.len())
    } else {
        format!(
            "series of {first}, {} ({} instances)",
            stack.join(", "),
            members.len()
        )
    }
}

impl Check for Acquisition {
    fn uses(&self) -> Uses {
        Uses {
            data: vec![self.data.clone()],
            dicom_attributes: EXTRA.iter().map(|t| (self.data.clone(), *t)).collect(),
            ..Uses::default()
        }
    }

    fn evaluate(&self, cx: &Context) -> Evidence {
        let method = format!(
            "every instance's acquisition attributes against the stated envelope{}",
            match self.geometry {
                Some((tol, _)) =>
                    format!("; series geometry along the slice normal with tolerance {tol} mm"),
                None => String::new(),
            }
        );
        let index = match super::dicom_common::index(cx, &self.data, &method) {
            Ok(i) => i,
            Err(e) => return e,
        };
        let slot: Vec<usize> = EXTRA
            .iter()
            .map(|t| {
                index
                    .extra_slot(*t)
                    .expect("the runner indexes every attribute a check uses")
            })
            .collect();
        let mut findings = super::dicom_common::unreadable(index);
        let mut conforming = 0u64;
        for inst in &index.instances {
            let v = self.envelope(inst, &slot);
            conforming += u64::from(v.is_empty());
            for (code, message) in v {
                findings.push(Finding::error(code, message, inst.path.clone()));
            }
        }
        let n = index.instances.len() as u64;
        let mut m = Measurement::new("conforming_fraction", None);
        m.n = n;
        m.estimate = (n > 0).then(|| conforming as f64 / n as f64);
        let mut measurements = vec![m];
        let mut unchecked = 0;
        if let Some(tol) = self.geometry {
            // One stack per series and combination of echo, b-value, phase and acquisition.
            let mut series: BTreeMap<(&str, Vec<&str>), Vec<&Instance>> = BTreeMap::new();
            for inst in &index.instances {
                let stack: Vec<&str> = (4..7)
                    .map(|i| inst.extra[slot[i]].as_deref().unwrap_or(""))
                    .collect();
                series
                    .entry((inst.series_uid.as_str(), stack))
                    .or_default()
                    .push(inst);
            }
            let mut ok = 0u64;
            // Report series in the order of their first file, not of their UIDs.
            let mut ordered: Vec<&Vec<&Instance>> = series.values().collect();
            ordered.sort_by_key(|m| m.first().map(|i| i.path.as_str()));
            for members in ordered {
                let f = self.series_geometry(members, &slot, tol);
                unchecked += usize::from(f.iter().any(|f| f.code == "geometry-unavailable"));
                ok += u64::from(f.is_empty());
                findings.extend(f);
            }
            let mut g = Measurement::new("series_geometry_ok", None);
            g.n = series.len() as u64;
            g.estimate = (!series.is_empty()).then(|| ok as f64 / series.len() as f64);
            measurements.push(g);
        }
        if n == 0 {
            findings.push(Finding::error(
                "no-instances",
                "no readable DICOM instance was found, so nothing could be checked",
                self.data.clone(),
            ));
        }
        let violations = findings.iter().any(|f| {
            f.severity == Severity::Error
                && !matches!(f.code.as_str(), "unreadable-dicom" | "no-instances")
        });
        let status = if violations {
            Status::Fail
        } else if n == 0 || !index.failures.is_empty() || unchecked > 0 {
            Status::Inconclusive
        } else {
            Status::Pass
        };
        for m in &mut measurements {
            m.status = status;
        }
        Evidence {
            status,
            method,
            measurements,
            findings,
        }
    }
}
