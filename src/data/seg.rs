//! DICOM Segmentation objects (Segmentation Storage, SOP Class 1.2.840.10008.5.1.4.1.1.66.4;
//! PS3.3 §A.51) read as masks: the frames of one segment, or of all, stacked into a volume
//! ordered along the slice normal, with the grid's spacing and place in the patient (LPS, as
//! DICOM states it).
//!
//! Supported: SegmentationType `BINARY` (one bit per pixel, packed least significant bit
//! first and continuing across frame boundaries without padding, PS3.5 §8.1.1 and PS3.3
//! §C.8.20.2.1) and `FRACTIONAL` (8 bits, foreground when the value exceeds half of
//! MaximumFractionalValue, so a probability or occupancy above 0.5), in a native transfer
//! syntax (Implicit or Explicit VR Little Endian, Deflated Explicit VR Little Endian).
//! Encapsulated (compressed) pixel data is refused, naming the transfer syntax.
//!
//! Geometry comes from the functional groups (PS3.3 §C.7.6.16), per frame or shared:
//! PixelMeasuresSequence (PixelSpacing; SpacingBetweenSlices or SliceThickness for a single
//! slice), PlaneOrientationSequence (ImageOrientationPatient, the same for every frame),
//! PlanePositionSequence (ImagePositionPatient per frame) and SegmentIdentificationSequence
//! (ReferencedSegmentNumber per frame). The distinct frame positions must be evenly spaced:
//! the grid's third axis and its spacing are the step between consecutive positions, so a gap
//! (a slice without any frame, as writers that omit empty frames produce) is an error, since
//! the grid could not be known from the file alone. Every malformed file is an error naming
//! the file and the attribute, never a panic.

use std::collections::BTreeMap;
use std::path::Path;

use dicom_core::Tag;
use dicom_dictionary_std::{tags, uids};
use dicom_encoding::transfer_syntax::TransferSyntaxIndex;
use dicom_object::mem::InMemElement;
use dicom_object::InMemDicomObject;
use dicom_transfer_syntax_registry::TransferSyntaxRegistry;

use super::masks::{Foreground, Geometry, Mask, MaskError};

/// Frame positions (and in-plane vectors) agree within this distance, in mm.
pub const POSITION_TOLERANCE_MM: f64 = 1e-3;

/// The transfer syntaxes whose pixel data is read: native, little endian.
const NATIVE: &[&str] = &[
    uids::IMPLICIT_VR_LITTLE_ENDIAN,
    uids::EXPLICIT_VR_LITTLE_ENDIAN,
    uids::DEFLATED_EXPLICIT_VR_LITTLE_ENDIAN,
];

/// One segment a Segmentation defines (SegmentSequence item).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Segment {
    pub number: u16,
    pub label: String,
}

/// Reads the foreground `which` selects (one segment, or any) of a Segmentation object as a
/// mask. A segment the SegmentSequence does not define is [`MaskError::MissingSegment`]; a
/// defined segment without frames is an empty mask.
pub fn read_seg(path: &Path, which: Foreground) -> Result<Mask, MaskError> {
    let shown = path.display().to_string();
    let parsed = parse(path).map_err(|why| MaskError::Unreadable(format!("{shown}: {why}")))?;
    let wanted = match which {
        Foreground::Any => None,
        Foreground::Label(n) => {
            if !parsed.segments.iter().any(|s| u32::from(s.number) == n) {
                return Err(MaskError::MissingSegment {
                    path: shown,
                    segment: n,
                    present: parsed.segments.iter().map(|s| s.number).collect(),
                });
            }
            Some(n)
        }
    };
    Ok(parsed.mask(wanted))
}

/// The segments a Segmentation object defines, in file order.
pub fn segments(path: &Path) -> Result<Vec<Segment>, String> {
    parse(path)
        .map(|p| p.segments)
        .map_err(|why| format!("{}: {why}", path.display()))
}

/// The in-plane geometry every frame shares: PixelSpacing, ImageOrientationPatient, and the
/// stated SpacingBetweenSlices and SliceThickness.
type Plane = ([f64; 2], [f64; 6], (Option<f64>, Option<f64>));

/// A parsed Segmentation: the grid, the segments, and each frame's segment and slice.
struct Parsed {
    dims: [usize; 3],
    spacing: [f64; 3],
    geometry: Geometry,
    segments: Vec<Segment>,
    /// Per frame, in stored order: its segment number and slice index.
    frames: Vec<(u16, usize)>,
    fractional: Option<f64>,
    pixels: Vec<u8>,
}

impl Parsed {
    fn mask(&self, segment: Option<u32>) -> Mask {
        let [cols, rows, slices] = self.dims;
        let plane = rows * cols;
        let mut voxels = vec![false; plane * slices];
        for (f, &(s, k)) in self.frames.iter().enumerate() {
            if segment.is_some_and(|n| n != u32::from(s)) {
                continue;
            }
            let out = &mut voxels[k * plane..(k + 1) * plane];
            match self.fractional {
                None => {
                    // PS3.5 §8.1.1: bit b of the stream is bit b % 8 of byte b / 8.
                    let first = f * plane;
                    for (p, v) in out.iter_mut().enumerate() {
                        let bit = first + p;
                        *v |= (self.pixels[bit / 8] >> (bit % 8)) & 1 == 1;
                    }
                }
                Some(max) => {
                    let frame = &self.pixels[f * plane..(f + 1) * plane];
                    for (v, &x) in out.iter_mut().zip(frame) {
                        *v |= f64::from(x) > max / 2.0;
                    }
                }
            }
        }
        Mask {
            dims: self.dims,
            spacing: self.spacing,
            geometry: Some(self.geometry),
            voxels,
        }
    }
}

/// The attribute's keyword for messages, e.g. `ImagePositionPatient (0020,0032)`.
fn name(tag: Tag) -> String {
    use dicom_core::dictionary::DataDictionary;
    let keyword = dicom_dictionary_std::StandardDataDictionary
        .by_tag(tag)
        .map_or("unknown attribute", |e| e.alias);
    format!("{keyword} ({:04X},{:04X})", tag.0, tag.1)
}

fn element(obj: &InMemDicomObject, tag: Tag) -> Result<&InMemElement, String> {
    obj.get(tag)
        .ok_or_else(|| format!("{} is missing", name(tag)))
}

fn floats(obj: &InMemDicomObject, tag: Tag, count: usize) -> Result<Vec<f64>, String> {
    let v = element(obj, tag)?
        .to_multi_float64()
        .map_err(|_| format!("{} is not numeric", name(tag)))?;
    if v.len() != count {
        return Err(format!(
            "{} holds {} values, not {count}",
            name(tag),
            v.len()
        ));
    }
    if v.iter().any(|x| !x.is_finite()) {
        return Err(format!(
            "{} holds a value that is not finite: {v:?}",
            name(tag)
        ));
    }
    Ok(v)
}

fn unsigned(obj: &InMemDicomObject, tag: Tag) -> Result<u32, String> {
    element(obj, tag)?
        .to_int::<u32>()
        .map_err(|_| format!("{} is not a non-negative integer", name(tag)))
}

fn text(obj: &InMemDicomObject, tag: Tag) -> Result<String, String> {
    Ok(element(obj, tag)?
        .to_str()
        .map_err(|_| format!("{} is not text", name(tag)))?
        .trim()
        .to_string())
}

fn items(obj: &InMemDicomObject, tag: Tag) -> Result<&[InMemDicomObject], String> {
    element(obj, tag)?
        .items()
        .ok_or_else(|| format!("{} is not a sequence", name(tag)))
}

/// The first item of functional group `group` for a frame: its own, else the shared one.
fn group<'a>(
    frame: &'a InMemDicomObject,
    shared: Option<&'a InMemDicomObject>,
    group: Tag,
    number: usize,
) -> Result<&'a InMemDicomObject, String> {
    let first = |o: &'a InMemDicomObject| o.get(group).and_then(|e| e.items()?.first());
    first(frame).or_else(|| shared.and_then(first)).ok_or_else(|| {
        format!(
            "frame {number}: {} is in neither its PerFrameFunctionalGroupsSequence item nor the SharedFunctionalGroupsSequence",
            name(group)
        )
    })
}

fn parse(path: &Path) -> Result<Parsed, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("cannot be read: {e}"))?;
    super::dicom_index::part10_body(&bytes)
        .and_then(|_| super::lengths::lengths_fit(&bytes))
        .map_err(|e| format!("cannot be read as DICOM: {e}"))?;
    let obj = super::dicom_index::parse_full(&bytes)
        .map_err(|e| format!("cannot be read as DICOM: {e}"))?;
    let ts = obj.meta().transfer_syntax().to_string();
    let class = text(&obj, tags::SOP_CLASS_UID)?;
    let class = class.trim_end_matches('\0');
    if class != uids::SEGMENTATION_STORAGE {
        return Err(format!(
            "SOPClassUID (0008,0016) is {class}, not Segmentation Storage ({})",
            uids::SEGMENTATION_STORAGE
        ));
    }
    if !NATIVE.contains(&ts.as_str()) {
        let ts_name = TransferSyntaxRegistry
            .get(&ts)
            .map_or("unknown transfer syntax", |t| t.name());
        return Err(format!(
            "transfer syntax {ts} ({ts_name}) is not supported: only native (uncompressed) little-endian pixel data is read (Implicit VR Little Endian, Explicit VR Little Endian, Deflated Explicit VR Little Endian)"
        ));
    }
    let kind = text(&obj, tags::SEGMENTATION_TYPE)?;
    let bits = unsigned(&obj, tags::BITS_ALLOCATED)?;
    let fractional = match (kind.as_str(), bits) {
        ("BINARY", 1) => None,
        ("FRACTIONAL", 8) => {
            let max = unsigned(&obj, tags::MAXIMUM_FRACTIONAL_VALUE)?;
            if max == 0 {
                return Err(format!("{} is 0", name(tags::MAXIMUM_FRACTIONAL_VALUE)));
            }
            Some(f64::from(max))
        }
        ("BINARY" | "FRACTIONAL", b) => {
            return Err(format!(
                "{} is {b}, but a {kind} segmentation has {}",
                name(tags::BITS_ALLOCATED),
                if kind == "BINARY" { 1 } else { 8 }
            ))
        }
        (other, _) => {
            return Err(format!(
                "{} is `{other}`: only BINARY and FRACTIONAL are read",
                name(tags::SEGMENTATION_TYPE)
            ))
        }
    };
    if obj.get(tags::SAMPLES_PER_PIXEL).is_some() && unsigned(&obj, tags::SAMPLES_PER_PIXEL)? != 1 {
        return Err(format!("{} is not 1", name(tags::SAMPLES_PER_PIXEL)));
    }
    let rows = unsigned(&obj, tags::ROWS)? as usize;
    let cols = unsigned(&obj, tags::COLUMNS)? as usize;
    if rows == 0 || cols == 0 {
        return Err(format!("Rows × Columns is {rows} × {cols}"));
    }
    let count = text(&obj, tags::NUMBER_OF_FRAMES)?
        .parse::<usize>()
        .ok()
        .filter(|&n| n > 0)
        .ok_or_else(|| format!("{} is not a positive integer", name(tags::NUMBER_OF_FRAMES)))?;

    let mut segments = Vec::new();
    for (i, item) in items(&obj, tags::SEGMENT_SEQUENCE)?.iter().enumerate() {
        let number = unsigned(item, tags::SEGMENT_NUMBER)
            .ok()
            .and_then(|n| u16::try_from(n).ok())
            .ok_or_else(|| {
                format!(
                    "{} item {}: {} is missing or not a 16-bit number",
                    name(tags::SEGMENT_SEQUENCE),
                    i + 1,
                    name(tags::SEGMENT_NUMBER)
                )
            })?;
        if segments.iter().any(|s: &Segment| s.number == number) {
            return Err(format!(
                "{} defines segment {number} twice",
                name(tags::SEGMENT_SEQUENCE)
            ));
        }
        let label = text(item, tags::SEGMENT_LABEL).unwrap_or_default();
        segments.push(Segment { number, label });
    }

    let shared = match obj.get(tags::SHARED_FUNCTIONAL_GROUPS_SEQUENCE) {
        None => None,
        Some(_) => items(&obj, tags::SHARED_FUNCTIONAL_GROUPS_SEQUENCE)?.first(),
    };
    let per_frame = items(&obj, tags::PER_FRAME_FUNCTIONAL_GROUPS_SEQUENCE)?;
    if per_frame.len() != count {
        return Err(format!(
            "{} has {} items for {count} frames ({})",
            name(tags::PER_FRAME_FUNCTIONAL_GROUPS_SEQUENCE),
            per_frame.len(),
            name(tags::NUMBER_OF_FRAMES)
        ));
    }

    // Per frame: segment, position; the in-plane geometry once, the same for every frame.
    let mut plane: Option<Plane> = None;
    let mut frames: Vec<(u16, [f64; 3])> = Vec::with_capacity(count);
    for (f, item) in per_frame.iter().enumerate() {
        let number = f + 1;
        let at = |e: String| format!("frame {number}: {e}");
        let measures = group(item, shared, tags::PIXEL_MEASURES_SEQUENCE, number)?;
        let ps = floats(measures, tags::PIXEL_SPACING, 2).map_err(at)?;
        if ps.iter().any(|&s| s <= 0.0) {
            return Err(at(format!(
                "{} is not positive: {ps:?}",
                name(tags::PIXEL_SPACING)
            )));
        }
        let optional = |tag: Tag| match measures.get(tag) {
            Some(_) => floats(measures, tag, 1).map(|v| Some(v[0])),
            None => Ok(None),
        };
        let between = (
            optional(tags::SPACING_BETWEEN_SLICES).map_err(at)?,
            optional(tags::SLICE_THICKNESS).map_err(at)?,
        );
        let orientation = group(item, shared, tags::PLANE_ORIENTATION_SEQUENCE, number)?;
        let iop = floats(orientation, tags::IMAGE_ORIENTATION_PATIENT, 6).map_err(at)?;
        let position = group(item, shared, tags::PLANE_POSITION_SEQUENCE, number)?;
        let ipp = floats(position, tags::IMAGE_POSITION_PATIENT, 3).map_err(at)?;
        let ident = group(item, shared, tags::SEGMENT_IDENTIFICATION_SEQUENCE, number)?;
        let segment = unsigned(ident, tags::REFERENCED_SEGMENT_NUMBER).map_err(at)?;
        let segment = u16::try_from(segment)
            .ok()
            .filter(|s| segments.iter().any(|d| d.number == *s))
            .ok_or_else(|| {
                at(format!(
                    "{} {segment} is not a segment of the SegmentSequence",
                    name(tags::REFERENCED_SEGMENT_NUMBER)
                ))
            })?;
        let this = (
            [ps[0], ps[1]],
            [iop[0], iop[1], iop[2], iop[3], iop[4], iop[5]],
            between,
        );
        match &plane {
            None => plane = Some(this),
            Some(first) => {
                let same = |a: &[f64], b: &[f64], tol: f64| {
                    a.iter().zip(b).all(|(x, y)| (x - y).abs() <= tol)
                };
                if !same(&first.0, &this.0, 1e-6 * first.0[0].max(first.0[1])) {
                    return Err(at(format!(
                        "{} {:?} differs from frame 1's {:?}",
                        name(tags::PIXEL_SPACING),
                        this.0,
                        first.0
                    )));
                }
                if !same(&first.1, &this.1, super::masks::COSINE_TOLERANCE) {
                    return Err(at(format!(
                        "{} {:?} differs from frame 1's {:?}",
                        name(tags::IMAGE_ORIENTATION_PATIENT),
                        this.1,
                        first.1
                    )));
                }
            }
        }
        frames.push((segment, [ipp[0], ipp[1], ipp[2]]));
    }
    let (ps, iop, between) = plane.expect("at least one frame");
    let row = [iop[0], iop[1], iop[2]];
    let col = [iop[3], iop[4], iop[5]];
    let dot = |a: [f64; 3], b: [f64; 3]| a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
    let unit = |v: [f64; 3]| (dot(v, v).sqrt() - 1.0).abs() <= 1e-3;
    if !unit(row) || !unit(col) || dot(row, col).abs() > 1e-3 {
        return Err(format!(
            "{} {iop:?} is not two orthogonal unit vectors",
            name(tags::IMAGE_ORIENTATION_PATIENT)
        ));
    }
    let normal = [
        row[1] * col[2] - row[2] * col[1],
        row[2] * col[0] - row[0] * col[2],
        row[0] * col[1] - row[1] * col[0],
    ];

    // Distinct positions along the normal, ascending; frames at one position must agree.
    let mut order: Vec<usize> = (0..frames.len()).collect();
    order.sort_by(|&a, &b| dot(frames[a].1, normal).total_cmp(&dot(frames[b].1, normal)));
    let mut positions: Vec<[f64; 3]> = Vec::new();
    let mut slice_of = vec![0usize; frames.len()];
    for &f in &order {
        let p = frames[f].1;
        match positions.last() {
            Some(&q) if (dot(p, normal) - dot(q, normal)).abs() <= POSITION_TOLERANCE_MM => {
                if (0..3).any(|i| (p[i] - q[i]).abs() > POSITION_TOLERANCE_MM) {
                    return Err(format!(
                        "frame {}: {} {p:?} lies in the plane of {q:?} but is shifted within it",
                        f + 1,
                        name(tags::IMAGE_POSITION_PATIENT)
                    ));
                }
            }
            _ => positions.push(p),
        }
        slice_of[f] = positions.len() - 1;
    }
    let slices = positions.len();
    let (step, dz) = if slices == 1 {
        let dz = between
            .0
            .or(between.1)
            .filter(|&d| d > 0.0)
            .ok_or_else(|| {
                format!(
                    "a single slice needs a positive {} or {} for its thickness",
                    name(tags::SPACING_BETWEEN_SLICES),
                    name(tags::SLICE_THICKNESS)
                )
            })?;
        (normal, dz)
    } else {
        let diff = |a: [f64; 3], b: [f64; 3]| [b[0] - a[0], b[1] - a[1], b[2] - a[2]];
        let first = diff(positions[0], positions[1]);
        for k in 1..slices - 1 {
            let d = diff(positions[k], positions[k + 1]);
            if (0..3).any(|i| (d[i] - first[i]).abs() > POSITION_TOLERANCE_MM) {
                return Err(format!(
                    "slice positions are not evenly spaced ({}): {:.4} mm from slice 1 to 2, {:.4} mm from slice {} to {} (a gap, or frames of another grid); every slice of the grid needs a frame",
                    name(tags::IMAGE_POSITION_PATIENT),
                    dot(first, first).sqrt(),
                    dot(d, d).sqrt(),
                    k + 1,
                    k + 2
                ));
            }
        }
        let dz = dot(first, first).sqrt();
        if let Some(stated) = between.0.filter(|s| (s - dz).abs() > POSITION_TOLERANCE_MM) {
            return Err(format!(
                "{} is {stated} mm, but the frames' positions are {dz:.4} mm apart",
                name(tags::SPACING_BETWEEN_SLICES)
            ));
        }
        (first.map(|x| x / dz), dz)
    };

    // Pixel data: native, one bit (BINARY) or one byte (FRACTIONAL) per pixel, all frames.
    let pixel = element(&obj, tags::PIXEL_DATA)?;
    if pixel.fragments().is_some() {
        return Err(format!(
            "{} is encapsulated (compressed), which transfer syntax {ts} does not allow",
            name(tags::PIXEL_DATA)
        ));
    }
    let pixels: Vec<u8> = match pixel.value().primitive() {
        Some(dicom_core::PrimitiveValue::U16(words)) => {
            words.iter().flat_map(|w| w.to_le_bytes()).collect()
        }
        Some(p) => p.to_bytes().into_owned(),
        None => return Err(format!("{} holds no pixel values", name(tags::PIXEL_DATA))),
    };
    let plane_px = rows * cols;
    let needed = match fractional {
        None => (count * plane_px).div_ceil(8),
        Some(_) => count * plane_px,
    };
    if pixels.len() < needed {
        return Err(format!(
            "{} holds {} bytes; {count} frames of {rows} × {cols} {} need {needed}",
            name(tags::PIXEL_DATA),
            pixels.len(),
            if fractional.is_none() {
                "bits"
            } else {
                "bytes"
            }
        ));
    }

    let mut seen = BTreeMap::new();
    let mut out = Vec::with_capacity(count);
    for (f, &(segment, _)) in frames.iter().enumerate() {
        if let Some(other) = seen.insert((segment, slice_of[f]), f) {
            return Err(format!(
                "frames {} and {} both hold segment {segment} at slice position {:?}",
                other + 1,
                f + 1,
                positions[slice_of[f]]
            ));
        }
        out.push((segment, slice_of[f]));
    }
    Ok(Parsed {
        dims: [cols, rows, slices],
        spacing: [ps[1], ps[0], dz],
        geometry: Geometry {
            origin: positions[0],
            axes: [row, col, step],
        },
        segments,
        frames: out,
        fractional,
        pixels,
    })
}
