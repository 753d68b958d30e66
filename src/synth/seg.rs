//! A synthetic DICOM Segmentation writer: a multi-frame BINARY Segmentation object (PS3.3
//! §A.51) for masks on a grid with a known place in the patient, written with dicom-object in
//! Explicit VR Little Endian.
//!
//! One frame per segment and slice, empty frames included (so a reader knows the whole grid
//! from the file alone), segment-major then slice by slice along the grid's third axis. The
//! pixel data packs one bit per pixel, least significant bit first, continuing across frame
//! boundaries (PS3.5 §8.1.1), padded to an even length. Geometry goes into the functional
//! groups: PixelMeasuresSequence and PlaneOrientationSequence shared, PlanePositionSequence,
//! FrameContentSequence and SegmentIdentificationSequence per frame, with a two-dimensional
//! index (segment, position) in the Multi-frame Dimension module (§C.7.6.17).
//!
//! There are no source images: the object is not derived from stored instances, so the
//! Common Instance Reference, DerivationImageSequence and ReferencedSeriesSequence are left
//! out. `dciodvfy` (dicom3tools) reports neither an error nor a warning on the output
//! (`tests/seg.rs` checks for errors when it is installed).

use std::path::Path;

use dicom_core::value::{DataSetSequence, PrimitiveValue};
use dicom_core::{DataElement, Tag, VR};
use dicom_dictionary_std::{tags, uids};
use dicom_object::{FileDicomObject, FileMetaTableBuilder, InMemDicomObject};

use super::uid::{synthetic_uid, IMPLEMENTATION_CLASS_UID, IMPLEMENTATION_VERSION_NAME};
use super::SynthError;
use crate::data::masks::Geometry;

/// A coded concept (PS3.3 §8.8): code value, coding scheme designator, code meaning.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Code {
    pub value: &'static str,
    pub scheme: &'static str,
    pub meaning: &'static str,
}

/// SNOMED CT "Anatomical Structure" (CID 7150 segmentation property categories).
pub const ANATOMICAL_STRUCTURE: Code = Code {
    value: "91723000",
    scheme: "SCT",
    meaning: "Anatomical Structure",
};
/// SNOMED CT "Morphologically Altered Structure" (CID 7150).
pub const ALTERED_STRUCTURE: Code = Code {
    value: "49755003",
    scheme: "SCT",
    meaning: "Morphologically Altered Structure",
};
/// SNOMED CT "Liver".
pub const LIVER: Code = Code {
    value: "10200004",
    scheme: "SCT",
    meaning: "Liver",
};
/// SNOMED CT "Lesion".
pub const LESION: Code = Code {
    value: "52988006",
    scheme: "SCT",
    meaning: "Lesion",
};

/// One segment: its number (from 1), label, what it is, and its voxels (x fastest).
#[derive(Debug, Clone, PartialEq)]
pub struct SegSegment {
    pub number: u16,
    pub label: String,
    pub category: Code,
    pub kind: Code,
    pub voxels: Vec<bool>,
}

/// The values of one synthetic Segmentation object.
#[derive(Debug, Clone, PartialEq)]
pub struct SegInstance {
    /// Columns, rows, slices.
    pub dims: [usize; 3],
    /// Column spacing, row spacing, slice spacing, in mm.
    pub spacing: [f64; 3],
    /// LPS; `axes[0]` and `axes[1]` become ImageOrientationPatient, slice k lies at
    /// `origin + k · spacing[2] · axes[2]`.
    pub geometry: Geometry,
    pub segments: Vec<SegSegment>,
    pub sop_instance_uid: String,
    pub study_instance_uid: String,
    pub series_instance_uid: String,
    pub frame_of_reference_uid: String,
    pub patient_id: String,
    pub patient_name: String,
    /// The algorithm named in every segment (SegmentAlgorithmName).
    pub algorithm: String,
}

impl SegInstance {
    /// A Segmentation of `segments` on a grid, with UIDs derived from `seed` and `key`
    /// (`<key>/seg/study`, `<key>/seg/series`, `<key>/seg/sop`, `<key>/frame-of-reference`).
    pub fn new(
        seed: u64,
        key: &str,
        dims: [usize; 3],
        spacing: [f64; 3],
        geometry: Geometry,
        segments: Vec<SegSegment>,
    ) -> Self {
        SegInstance {
            dims,
            spacing,
            geometry,
            segments,
            sop_instance_uid: synthetic_uid(seed, &format!("{key}/seg/sop")),
            study_instance_uid: synthetic_uid(seed, &format!("{key}/study")),
            series_instance_uid: synthetic_uid(seed, &format!("{key}/seg/series")),
            frame_of_reference_uid: synthetic_uid(seed, &format!("{key}/frame-of-reference")),
            patient_id: format!("SYN{key}"),
            patient_name: format!("SYNTH^{key}"),
            algorithm: "ATTEST SYNTHETIC MODEL".to_string(),
        }
    }

    /// The pixel data: every segment's slices in turn, one bit per pixel, LSB first, packed
    /// across frame boundaries, padded with zero bits to an even number of bytes.
    pub fn packed_frames(&self) -> Vec<u8> {
        let bits: usize = self.segments.len() * self.dims.iter().product::<usize>();
        let mut out = vec![0u8; bits.div_ceil(8).next_multiple_of(2)];
        let mut b = 0;
        for s in &self.segments {
            for &v in &s.voxels {
                if v {
                    out[b / 8] |= 1 << (b % 8);
                }
                b += 1;
            }
        }
        out
    }

    /// Builds the object with its file meta group (Explicit VR Little Endian).
    ///
    /// # Panics
    /// When a segment does not hold one value per voxel, or a dimension exceeds 65535 (Rows
    /// and Columns are US): programming errors of the generator.
    pub fn to_object(&self) -> Result<FileDicomObject<InMemDicomObject>, SynthError> {
        let [cols, rows, slices] = self.dims;
        let n = cols * rows * slices;
        assert!(
            self.segments.iter().all(|s| s.voxels.len() == n),
            "one value per voxel"
        );
        let mut obj = InMemDicomObject::new_empty();
        let put = |o: &mut InMemDicomObject, tag: Tag, vr: VR, v: PrimitiveValue| {
            o.put(DataElement::new(tag, vr, v));
        };
        let s = |v: &str| PrimitiveValue::from(v);
        let g = &self.geometry;

        // SOP Common (§C.12.1), Patient (§C.7.1.1), General Study (§C.7.2.1)
        put(
            &mut obj,
            tags::SPECIFIC_CHARACTER_SET,
            VR::CS,
            s("ISO_IR 100"),
        );
        put(
            &mut obj,
            tags::SOP_CLASS_UID,
            VR::UI,
            s(uids::SEGMENTATION_STORAGE),
        );
        put(
            &mut obj,
            tags::SOP_INSTANCE_UID,
            VR::UI,
            s(&self.sop_instance_uid),
        );
        put(&mut obj, tags::STUDY_DATE, VR::DA, s("20240612"));
        put(&mut obj, tags::CONTENT_DATE, VR::DA, s("20240612"));
        put(&mut obj, tags::STUDY_TIME, VR::TM, s("093000"));
        put(&mut obj, tags::CONTENT_TIME, VR::TM, s("101500"));
        put(&mut obj, tags::ACCESSION_NUMBER, VR::SH, s(""));
        put(&mut obj, tags::MODALITY, VR::CS, s("SEG"));
        put(&mut obj, tags::MANUFACTURER, VR::LO, s("ATTEST"));
        put(&mut obj, tags::REFERRING_PHYSICIAN_NAME, VR::PN, s(""));
        put(
            &mut obj,
            tags::SERIES_DESCRIPTION,
            VR::LO,
            s("SYNTHETIC SEGMENTATION"),
        );
        put(&mut obj, tags::MANUFACTURER_MODEL_NAME, VR::LO, s("SYNTH"));
        put(&mut obj, tags::PATIENT_NAME, VR::PN, s(&self.patient_name));
        put(&mut obj, tags::PATIENT_ID, VR::LO, s(&self.patient_id));
        put(&mut obj, tags::PATIENT_BIRTH_DATE, VR::DA, s(""));
        put(&mut obj, tags::PATIENT_SEX, VR::CS, s(""));
        put(&mut obj, tags::DEVICE_SERIAL_NUMBER, VR::LO, s("0001"));
        put(&mut obj, tags::SOFTWARE_VERSIONS, VR::LO, s("1"));
        put(
            &mut obj,
            tags::STUDY_INSTANCE_UID,
            VR::UI,
            s(&self.study_instance_uid),
        );
        put(
            &mut obj,
            tags::SERIES_INSTANCE_UID,
            VR::UI,
            s(&self.series_instance_uid),
        );
        put(&mut obj, tags::STUDY_ID, VR::SH, s("S0001"));
        put(&mut obj, tags::SERIES_NUMBER, VR::IS, s("300"));
        put(&mut obj, tags::INSTANCE_NUMBER, VR::IS, s("1"));
        // Frame of Reference (§C.7.4.1)
        put(
            &mut obj,
            tags::FRAME_OF_REFERENCE_UID,
            VR::UI,
            s(&self.frame_of_reference_uid),
        );
        put(&mut obj, tags::POSITION_REFERENCE_INDICATOR, VR::LO, s(""));
        // Segmentation Image (§C.8.20.2) with the Image Pixel constraints it sets.
        put(
            &mut obj,
            tags::IMAGE_TYPE,
            VR::CS,
            strs(["DERIVED", "PRIMARY"]),
        );
        put(
            &mut obj,
            tags::SAMPLES_PER_PIXEL,
            VR::US,
            PrimitiveValue::from(1_u16),
        );
        put(
            &mut obj,
            tags::PHOTOMETRIC_INTERPRETATION,
            VR::CS,
            s("MONOCHROME2"),
        );
        put(
            &mut obj,
            tags::NUMBER_OF_FRAMES,
            VR::IS,
            s(&(self.segments.len() * slices).to_string()),
        );
        put(
            &mut obj,
            tags::ROWS,
            VR::US,
            PrimitiveValue::from(u16::try_from(rows).expect("rows fit US")),
        );
        put(
            &mut obj,
            tags::COLUMNS,
            VR::US,
            PrimitiveValue::from(u16::try_from(cols).expect("columns fit US")),
        );
        put(
            &mut obj,
            tags::BITS_ALLOCATED,
            VR::US,
            PrimitiveValue::from(1_u16),
        );
        put(
            &mut obj,
            tags::BITS_STORED,
            VR::US,
            PrimitiveValue::from(1_u16),
        );
        put(
            &mut obj,
            tags::HIGH_BIT,
            VR::US,
            PrimitiveValue::from(0_u16),
        );
        put(
            &mut obj,
            tags::PIXEL_REPRESENTATION,
            VR::US,
            PrimitiveValue::from(0_u16),
        );
        put(&mut obj, tags::LOSSY_IMAGE_COMPRESSION, VR::CS, s("00"));
        put(&mut obj, tags::SEGMENTATION_TYPE, VR::CS, s("BINARY"));
        put(&mut obj, tags::CONTENT_LABEL, VR::CS, s("SEGMENTATION"));
        put(&mut obj, tags::CONTENT_DESCRIPTION, VR::LO, s(""));
        put(&mut obj, tags::CONTENT_CREATOR_NAME, VR::PN, s(""));
        let segments = self
            .segments
            .iter()
            .map(|seg| {
                let mut item = InMemDicomObject::new_empty();
                put(
                    &mut item,
                    tags::SEGMENT_NUMBER,
                    VR::US,
                    PrimitiveValue::from(seg.number),
                );
                put(&mut item, tags::SEGMENT_LABEL, VR::LO, s(&seg.label));
                put(
                    &mut item,
                    tags::SEGMENT_ALGORITHM_TYPE,
                    VR::CS,
                    s("AUTOMATIC"),
                );
                put(
                    &mut item,
                    tags::SEGMENT_ALGORITHM_NAME,
                    VR::LO,
                    s(&self.algorithm),
                );
                sequence(
                    &mut item,
                    tags::SEGMENTED_PROPERTY_CATEGORY_CODE_SEQUENCE,
                    vec![code(seg.category)],
                );
                sequence(
                    &mut item,
                    tags::SEGMENTED_PROPERTY_TYPE_CODE_SEQUENCE,
                    vec![code(seg.kind)],
                );
                item
            })
            .collect();
        sequence(&mut obj, tags::SEGMENT_SEQUENCE, segments);

        // Multi-frame Dimension (§C.7.6.17): frames indexed by segment, then position.
        let dimension_uid = synthetic_uid(0, &format!("{}/dimension", self.sop_instance_uid));
        let mut organization = InMemDicomObject::new_empty();
        put(
            &mut organization,
            tags::DIMENSION_ORGANIZATION_UID,
            VR::UI,
            s(&dimension_uid),
        );
        sequence(
            &mut obj,
            tags::DIMENSION_ORGANIZATION_SEQUENCE,
            vec![organization],
        );
        let index = |pointer: Tag, group: Tag, label: &str| {
            let mut item = InMemDicomObject::new_empty();
            put(
                &mut item,
                tags::DIMENSION_ORGANIZATION_UID,
                VR::UI,
                s(&dimension_uid),
            );
            put(
                &mut item,
                tags::DIMENSION_INDEX_POINTER,
                VR::AT,
                PrimitiveValue::Tags(vec![pointer].into()),
            );
            put(
                &mut item,
                tags::FUNCTIONAL_GROUP_POINTER,
                VR::AT,
                PrimitiveValue::Tags(vec![group].into()),
            );
            put(
                &mut item,
                tags::DIMENSION_DESCRIPTION_LABEL,
                VR::LO,
                s(label),
            );
            item
        };
        sequence(
            &mut obj,
            tags::DIMENSION_INDEX_SEQUENCE,
            vec![
                index(
                    tags::REFERENCED_SEGMENT_NUMBER,
                    tags::SEGMENT_IDENTIFICATION_SEQUENCE,
                    "ReferencedSegmentNumber",
                ),
                index(
                    tags::IMAGE_POSITION_PATIENT,
                    tags::PLANE_POSITION_SEQUENCE,
                    "ImagePositionPatient",
                ),
            ],
        );

        // Multi-frame Functional Groups (§C.7.6.16)
        let mut shared = InMemDicomObject::new_empty();
        let mut measures = InMemDicomObject::new_empty();
        put(
            &mut measures,
            tags::PIXEL_SPACING,
            VR::DS,
            strs([ds16(self.spacing[1]), ds16(self.spacing[0])]),
        );
        put(
            &mut measures,
            tags::SLICE_THICKNESS,
            VR::DS,
            s(&ds16(self.spacing[2])),
        );
        put(
            &mut measures,
            tags::SPACING_BETWEEN_SLICES,
            VR::DS,
            s(&ds16(self.spacing[2])),
        );
        sequence(&mut shared, tags::PIXEL_MEASURES_SEQUENCE, vec![measures]);
        let mut orientation = InMemDicomObject::new_empty();
        put(
            &mut orientation,
            tags::IMAGE_ORIENTATION_PATIENT,
            VR::DS,
            strs(g.axes[0].iter().chain(&g.axes[1]).map(|&v| ds16(v))),
        );
        sequence(
            &mut shared,
            tags::PLANE_ORIENTATION_SEQUENCE,
            vec![orientation],
        );
        sequence(
            &mut obj,
            tags::SHARED_FUNCTIONAL_GROUPS_SEQUENCE,
            vec![shared],
        );
        let mut frames = Vec::with_capacity(self.segments.len() * slices);
        for seg in &self.segments {
            for k in 0..slices {
                let mut frame = InMemDicomObject::new_empty();
                let mut content = InMemDicomObject::new_empty();
                put(
                    &mut content,
                    tags::DIMENSION_INDEX_VALUES,
                    VR::UL,
                    PrimitiveValue::U32(vec![u32::from(seg.number), k as u32 + 1].into()),
                );
                sequence(&mut frame, tags::FRAME_CONTENT_SEQUENCE, vec![content]);
                let mut position = InMemDicomObject::new_empty();
                let p = g.position(self.spacing, [0.0, 0.0, k as f64]);
                put(
                    &mut position,
                    tags::IMAGE_POSITION_PATIENT,
                    VR::DS,
                    strs(p.map(ds16)),
                );
                sequence(&mut frame, tags::PLANE_POSITION_SEQUENCE, vec![position]);
                let mut ident = InMemDicomObject::new_empty();
                put(
                    &mut ident,
                    tags::REFERENCED_SEGMENT_NUMBER,
                    VR::US,
                    PrimitiveValue::from(seg.number),
                );
                sequence(
                    &mut frame,
                    tags::SEGMENT_IDENTIFICATION_SEQUENCE,
                    vec![ident],
                );
                frames.push(frame);
            }
        }
        sequence(&mut obj, tags::PER_FRAME_FUNCTIONAL_GROUPS_SEQUENCE, frames);
        put(
            &mut obj,
            tags::PIXEL_DATA,
            VR::OB,
            PrimitiveValue::from(self.packed_frames()),
        );

        let meta = FileMetaTableBuilder::new()
            .transfer_syntax(uids::EXPLICIT_VR_LITTLE_ENDIAN)
            .implementation_class_uid(IMPLEMENTATION_CLASS_UID)
            .implementation_version_name(IMPLEMENTATION_VERSION_NAME);
        obj.with_meta(meta).map_err(|source| SynthError::Build {
            uid: self.sop_instance_uid.clone(),
            source: Box::new(source),
        })
    }
}

/// Builds, encodes and writes a Segmentation to `path` (parent folders are created); returns
/// the number of bytes written.
pub fn write_seg(inst: &SegInstance, path: &Path) -> Result<u64, SynthError> {
    let bytes = super::ct::encode(&inst.to_object()?)?;
    super::ct::write_bytes(path, &bytes)?;
    Ok(bytes.len() as u64)
}

fn sequence(obj: &mut InMemDicomObject, tag: Tag, items: Vec<InMemDicomObject>) {
    obj.put(DataElement::new(tag, VR::SQ, DataSetSequence::from(items)));
}

fn code(c: Code) -> InMemDicomObject {
    let mut item = InMemDicomObject::new_empty();
    item.put(DataElement::new(
        tags::CODE_VALUE,
        VR::SH,
        PrimitiveValue::from(c.value),
    ));
    item.put(DataElement::new(
        tags::CODING_SCHEME_DESIGNATOR,
        VR::SH,
        PrimitiveValue::from(c.scheme),
    ));
    item.put(DataElement::new(
        tags::CODE_MEANING,
        VR::LO,
        PrimitiveValue::from(c.meaning),
    ));
    item
}

fn strs<I, S>(values: I) -> PrimitiveValue
where
    I: IntoIterator<Item = S>,
    S: Into<String>,
{
    PrimitiveValue::Strs(values.into_iter().map(Into::into).collect())
}

/// A Decimal String (PS3.5 §6.2: at most 16 characters) as precise as 16 characters allow:
/// the shortest representation that reads back exactly when it fits, else fewer decimals.
pub fn ds16(value: f64) -> String {
    let clean = |mut s: String| {
        if s.contains('.') {
            let keep = s.trim_end_matches('0').trim_end_matches('.').len();
            s.truncate(keep);
        }
        if s == "-0" {
            s = "0".to_string();
        }
        s
    };
    let shortest = clean(format!("{value}"));
    if shortest.len() <= 16 {
        return shortest;
    }
    (0..=15)
        .rev()
        .map(|d| clean(format!("{value:.d$}")))
        .find(|s| s.len() <= 16)
        .unwrap_or_else(|| "0".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_strings_fit_sixteen_characters() {
        assert_eq!(ds16(0.8), "0.8");
        assert_eq!(ds16(-0.0), "0");
        assert_eq!(ds16(2.0), "2");
        let v = -123.456_789_012_345_67;
        let s = ds16(v);
        assert!(
            s.len() <= 16 && (s.parse::<f64>().unwrap() - v).abs() < 1e-11,
            "{s}"
        );
        let c = (15f64).to_radians().cos();
        assert!((ds16(c).parse::<f64>().unwrap() - c).abs() < 1e-14);
    }

    #[test]
    fn bits_are_packed_across_frames() {
        // Two segments of a 3 × 1 × 1 grid: 6 bits, 101 then 011, in one byte (LSB first),
        // padded to two bytes.
        let seg = |number, voxels: Vec<bool>| SegSegment {
            number,
            label: format!("s{number}"),
            category: ANATOMICAL_STRUCTURE,
            kind: LIVER,
            voxels,
        };
        let inst = SegInstance::new(
            1,
            "t",
            [3, 1, 1],
            [1.0; 3],
            Geometry::AXIAL,
            vec![
                seg(1, vec![true, false, true]),
                seg(2, vec![false, true, true]),
            ],
        );
        assert_eq!(inst.packed_frames(), vec![0b0011_0101, 0]);
    }
}
