//! Synthetic CT image instances (CT Image IOD, PS3.3 A.3) with realistic headers and tiny
//! pixel arrays, and deliberately broken files.

use std::io::Write;
use std::path::Path;

use dicom_core::value::PrimitiveValue;
use dicom_core::{dicom_value, DataElement, Tag, VR};
use dicom_dictionary_std::{tags, uids};
use dicom_object::{FileDicomObject, FileMetaTableBuilder, InMemDicomObject};
use sha2::{Digest, Sha256};

pub const CT_IMAGE_STORAGE: &str = "1.2.840.10008.5.1.4.1.1.2";
pub const MR_IMAGE_STORAGE: &str = "1.2.840.10008.5.1.4.1.1.4";

/// A UID under the `2.25` root (PS3.5 B.2: a UUID as one decimal integer), derived from a
/// seed and a label so it is unique per label and stable per seed.
pub fn synthetic_uid(seed: u64, label: &str) -> String {
    let mut h = Sha256::new();
    h.update(seed.to_le_bytes());
    h.update(label.as_bytes());
    let d = h.finalize();
    let mut b = [0u8; 16];
    b.copy_from_slice(&d[..16]);
    // RFC 9562 version 4 / variant bits, as a UUID-derived UID should carry.
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    format!("2.25.{}", u128::from_be_bytes(b))
}

/// The header and pixel content of one synthetic instance. Fields set to `None` are left out
/// of the file, so a test can make an instance that lacks exactly one attribute.
#[derive(Debug, Clone)]
pub struct CtInstance {
    pub sop_class_uid: String,
    pub sop_instance_uid: String,
    pub study_uid: String,
    pub series_uid: String,
    pub frame_of_reference_uid: String,
    pub patient_name: String,
    pub patient_id: String,
    pub patient_sex: String,
    pub patient_age: String,
    pub patient_birth_date: String,
    pub study_date: String,
    pub modality: String,
    pub manufacturer: String,
    pub model_name: String,
    pub institution: String,
    pub station_name: String,
    pub slice_thickness: Option<f64>,
    pub pixel_spacing: Option<[f64; 2]>,
    pub kvp: Option<f64>,
    pub kernel: String,
    pub series_number: i32,
    pub instance_number: i32,
    pub slice_location: f64,
    pub rows: u16,
    pub columns: u16,
    /// Draw a faint round blob (a "nodule") in the middle of the image.
    pub blob: bool,
    /// Add some three dozen further attributes a scanner writes, for realistic header sizes.
    pub full_header: bool,
}

impl CtInstance {
    /// A conforming 16x16 CT slice with UIDs derived from `seed` and `label`.
    pub fn new(seed: u64, label: &str) -> Self {
        CtInstance {
            sop_class_uid: CT_IMAGE_STORAGE.to_string(),
            sop_instance_uid: synthetic_uid(seed, &format!("{label}/sop")),
            study_uid: synthetic_uid(seed, &format!("{label}/study")),
            series_uid: synthetic_uid(seed, &format!("{label}/series")),
            frame_of_reference_uid: synthetic_uid(seed, &format!("{label}/for")),
            patient_name: "SYNTH^PATIENT".to_string(),
            patient_id: "SYN0000".to_string(),
            patient_sex: "O".to_string(),
            patient_age: "050Y".to_string(),
            patient_birth_date: "19760101".to_string(),
            study_date: "20260101".to_string(),
            modality: "CT".to_string(),
            manufacturer: "SYNTHETIC".to_string(),
            model_name: "SYNTH CT".to_string(),
            institution: "Synthetic Hospital".to_string(),
            station_name: "SYNCT01".to_string(),
            slice_thickness: Some(1.25),
            pixel_spacing: Some([0.703125, 0.703125]),
            kvp: Some(120.0),
            kernel: "STANDARD".to_string(),
            series_number: 1,
            instance_number: 1,
            slice_location: 0.0,
            rows: 16,
            columns: 16,
            blob: false,
            full_header: false,
        }
    }

    /// The data set (without file meta).
    pub fn dataset(&self) -> InMemDicomObject {
        let mut o = InMemDicomObject::new_empty();
        let mut put = |tag: Tag, vr: VR, v: PrimitiveValue| {
            o.put(DataElement::new(tag, vr, v));
        };
        let s = |v: &str| PrimitiveValue::from(v.to_string());
        let ds = |x: f64| PrimitiveValue::from(fmt_ds(x));
        put(tags::SPECIFIC_CHARACTER_SET, VR::CS, s("ISO_IR 100"));
        put(
            tags::IMAGE_TYPE,
            VR::CS,
            dicom_value!(Strs, ["ORIGINAL", "PRIMARY", "AXIAL"]),
        );
        put(tags::SOP_CLASS_UID, VR::UI, s(&self.sop_class_uid));
        put(tags::SOP_INSTANCE_UID, VR::UI, s(&self.sop_instance_uid));
        put(tags::STUDY_DATE, VR::DA, s(&self.study_date));
        put(tags::SERIES_DATE, VR::DA, s(&self.study_date));
        put(tags::STUDY_TIME, VR::TM, s("093000"));
        put(tags::ACCESSION_NUMBER, VR::SH, s(""));
        put(tags::MODALITY, VR::CS, s(&self.modality));
        put(tags::MANUFACTURER, VR::LO, s(&self.manufacturer));
        put(tags::INSTITUTION_NAME, VR::LO, s(&self.institution));
        put(tags::REFERRING_PHYSICIAN_NAME, VR::PN, s(""));
        put(tags::STATION_NAME, VR::SH, s(&self.station_name));
        put(tags::MANUFACTURER_MODEL_NAME, VR::LO, s(&self.model_name));
        put(tags::PATIENT_NAME, VR::PN, s(&self.patient_name));
        put(tags::PATIENT_ID, VR::LO, s(&self.patient_id));
        put(
            tags::PATIENT_BIRTH_DATE,
            VR::DA,
            s(&self.patient_birth_date),
        );
        put(tags::PATIENT_SEX, VR::CS, s(&self.patient_sex));
        put(tags::PATIENT_AGE, VR::AS, s(&self.patient_age));
        if let Some(t) = self.slice_thickness {
            put(tags::SLICE_THICKNESS, VR::DS, ds(t));
        }
        if let Some(k) = self.kvp {
            put(tags::KVP, VR::DS, ds(k));
        }
        put(tags::CONVOLUTION_KERNEL, VR::SH, s(&self.kernel));
        put(tags::PATIENT_POSITION, VR::CS, s("FFS"));
        put(tags::STUDY_INSTANCE_UID, VR::UI, s(&self.study_uid));
        put(tags::SERIES_INSTANCE_UID, VR::UI, s(&self.series_uid));
        put(tags::STUDY_ID, VR::SH, s("1"));
        put(
            tags::SERIES_NUMBER,
            VR::IS,
            s(&self.series_number.to_string()),
        );
        put(
            tags::INSTANCE_NUMBER,
            VR::IS,
            s(&self.instance_number.to_string()),
        );
        let z = fmt_ds(self.slice_location);
        put(
            tags::IMAGE_POSITION_PATIENT,
            VR::DS,
            dicom_value!(
                Strs,
                ["-5.625".to_string(), "-5.625".to_string(), z.clone()]
            ),
        );
        put(
            tags::IMAGE_ORIENTATION_PATIENT,
            VR::DS,
            dicom_value!(Strs, ["1", "0", "0", "0", "1", "0"]),
        );
        put(
            tags::FRAME_OF_REFERENCE_UID,
            VR::UI,
            s(&self.frame_of_reference_uid),
        );
        put(tags::POSITION_REFERENCE_INDICATOR, VR::LO, s(""));
        put(tags::SLICE_LOCATION, VR::DS, PrimitiveValue::from(z));
        if self.full_header {
            self.extra_attributes(&mut put);
        }
        put(tags::SAMPLES_PER_PIXEL, VR::US, PrimitiveValue::from(1_u16));
        put(tags::PHOTOMETRIC_INTERPRETATION, VR::CS, s("MONOCHROME2"));
        put(tags::ROWS, VR::US, PrimitiveValue::from(self.rows));
        put(tags::COLUMNS, VR::US, PrimitiveValue::from(self.columns));
        if let Some([r, c]) = self.pixel_spacing {
            put(
                tags::PIXEL_SPACING,
                VR::DS,
                dicom_value!(Strs, [fmt_ds(r), fmt_ds(c)]),
            );
        }
        put(tags::BITS_ALLOCATED, VR::US, PrimitiveValue::from(16_u16));
        put(tags::BITS_STORED, VR::US, PrimitiveValue::from(12_u16));
        put(tags::HIGH_BIT, VR::US, PrimitiveValue::from(11_u16));
        put(
            tags::PIXEL_REPRESENTATION,
            VR::US,
            PrimitiveValue::from(0_u16),
        );
        put(tags::RESCALE_INTERCEPT, VR::DS, s("-1024"));
        put(tags::RESCALE_SLOPE, VR::DS, s("1"));
        put(tags::RESCALE_TYPE, VR::LO, s("HU"));
        put(tags::WINDOW_CENTER, VR::DS, s("-600"));
        put(tags::WINDOW_WIDTH, VR::DS, s("1500"));
        put(
            tags::PIXEL_DATA,
            VR::OW,
            PrimitiveValue::U16(self.pixels().into()),
        );
        o
    }

    fn extra_attributes(&self, put: &mut impl FnMut(Tag, VR, PrimitiveValue)) {
        let s = |v: &str| PrimitiveValue::from(v.to_string());
        let fields: &[(Tag, VR, &str)] = &[
            (tags::INSTANCE_CREATION_DATE, VR::DA, "20260101"),
            (tags::INSTANCE_CREATION_TIME, VR::TM, "093512"),
            (tags::ACQUISITION_DATE, VR::DA, "20260101"),
            (tags::CONTENT_DATE, VR::DA, "20260101"),
            (tags::SERIES_TIME, VR::TM, "093210"),
            (tags::ACQUISITION_TIME, VR::TM, "093305"),
            (tags::CONTENT_TIME, VR::TM, "093305"),
            (
                tags::STUDY_DESCRIPTION,
                VR::LO,
                "CT CHEST LOW DOSE SCREENING",
            ),
            (tags::SERIES_DESCRIPTION, VR::LO, "LUNG 1.25MM"),
            (tags::INSTITUTIONAL_DEPARTMENT_NAME, VR::LO, "RADIOLOGY"),
            (tags::OPERATORS_NAME, VR::PN, "SYNTH^OPERATOR"),
            (tags::BODY_PART_EXAMINED, VR::CS, "CHEST"),
            (tags::SCAN_OPTIONS, VR::CS, "HELICAL MODE"),
            (tags::DATA_COLLECTION_DIAMETER, VR::DS, "500"),
            (tags::DEVICE_SERIAL_NUMBER, VR::LO, "SYN-0001"),
            (tags::SOFTWARE_VERSIONS, VR::LO, "SYNTH 1.0"),
            (tags::PROTOCOL_NAME, VR::LO, "LDCT CHEST"),
            (tags::RECONSTRUCTION_DIAMETER, VR::DS, "360"),
            (tags::DISTANCE_SOURCE_TO_DETECTOR, VR::DS, "1085.6"),
            (tags::DISTANCE_SOURCE_TO_PATIENT, VR::DS, "595"),
            (tags::GANTRY_DETECTOR_TILT, VR::DS, "0"),
            (tags::TABLE_HEIGHT, VR::DS, "160"),
            (tags::ROTATION_DIRECTION, VR::CS, "CW"),
            (tags::EXPOSURE_TIME, VR::IS, "500"),
            (tags::X_RAY_TUBE_CURRENT, VR::IS, "40"),
            (tags::EXPOSURE, VR::IS, "20"),
            (tags::FILTER_TYPE, VR::SH, "BODY FILTER"),
            (tags::GENERATOR_POWER, VR::IS, "48000"),
            (tags::FOCAL_SPOTS, VR::DS, "0.7"),
            (tags::SPIRAL_PITCH_FACTOR, VR::FD, ""),
            (tags::ACQUISITION_NUMBER, VR::IS, "1"),
            (tags::PATIENT_WEIGHT, VR::DS, "70"),
            (tags::PATIENT_SIZE, VR::DS, "1.7"),
            (tags::PATIENT_IDENTITY_REMOVED, VR::CS, "YES"),
            (tags::LOSSY_IMAGE_COMPRESSION, VR::CS, "00"),
            (tags::IRRADIATION_EVENT_UID, VR::UI, &self.series_uid),
        ];
        for (tag, vr, v) in fields {
            if *vr == VR::FD {
                put(*tag, *vr, PrimitiveValue::from(0.984375_f64));
            } else {
                put(*tag, *vr, s(v));
            }
        }
    }

    /// Stored pixel values: air-like background (stored 24 = -1000 HU) with a soft blob.
    pub fn pixels(&self) -> Vec<u16> {
        let (r, c) = (f64::from(self.rows), f64::from(self.columns));
        let mut px = Vec::with_capacity(usize::from(self.rows) * usize::from(self.columns));
        for y in 0..self.rows {
            for x in 0..self.columns {
                let (dy, dx) = (f64::from(y) - r / 2.0 + 0.5, f64::from(x) - c / 2.0 + 0.5);
                let d2 = (dx * dx + dy * dy) / (r * c / 16.0);
                let background = 24 + ((u32::from(x) * 7 + u32::from(y) * 13) % 5) as u16;
                let v = if self.blob {
                    background + (1000.0 * (-d2).exp()) as u16
                } else {
                    background
                };
                px.push(v);
            }
        }
        px
    }

    /// The Part 10 file object (explicit VR little endian).
    pub fn file_object(&self) -> FileDicomObject<InMemDicomObject> {
        self.dataset()
            .with_meta(
                FileMetaTableBuilder::new()
                    .transfer_syntax(uids::EXPLICIT_VR_LITTLE_ENDIAN)
                    .media_storage_sop_class_uid(self.sop_class_uid.as_str())
                    .media_storage_sop_instance_uid(self.sop_instance_uid.as_str())
                    .implementation_class_uid("2.25.255031424112125911287327925536347133")
                    .implementation_version_name("ATTEST_SYNTH"),
            )
            .expect("a synthetic instance always has the meta fields it needs")
    }

    /// Writes the instance as a Part 10 file (creating parent folders).
    pub fn write(&self, path: &Path) -> std::io::Result<()> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        self.file_object()
            .write_to_file(path)
            .map_err(std::io::Error::other)
    }
}

/// DS values as DICOM writes them: shortest exact decimal, at most 16 characters.
fn fmt_ds(x: f64) -> String {
    let s = format!("{x}");
    if s.len() <= 16 {
        s
    } else {
        format!("{x:.10}")
    }
}

/// A valid instance cut off in the middle of its data set.
pub fn write_truncated(instance: &CtInstance, path: &Path) -> std::io::Result<()> {
    let mut bytes = Vec::new();
    instance
        .file_object()
        .write_all(&mut bytes)
        .map_err(std::io::Error::other)?;
    let cut = 132 + (bytes.len() - 132) / 3;
    // Cut inside an element's value, not on a boundary.
    std::fs::write(path, &bytes[..cut | 1])
}

/// A text file that merely carries the .dcm extension.
pub fn write_not_dicom(path: &Path) -> std::io::Result<()> {
    let mut f = std::fs::File::create(path)?;
    f.write_all(b"This is a scanner export log, not a DICOM file.\nexported 412 images\n")
}

/// A zero-length file.
pub fn write_empty(path: &Path) -> std::io::Result<()> {
    std::fs::write(path, b"")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instance_round_trips_through_dicom_object() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.dcm");
        let mut inst = CtInstance::new(7, "case-1");
        inst.slice_thickness = Some(2.5);
        inst.full_header = true;
        inst.write(&p).unwrap();
        let obj = dicom_object::open_file(&p).unwrap();
        let text = |t| obj.element(t).unwrap().to_str().unwrap().to_string();
        assert_eq!(text(tags::MODALITY), "CT");
        assert_eq!(text(tags::SLICE_THICKNESS).trim(), "2.5");
        assert_eq!(text(tags::PIXEL_SPACING).trim(), "0.703125\\0.703125");
        assert_eq!(text(tags::SOP_INSTANCE_UID), inst.sop_instance_uid);
        assert_eq!(obj.meta().media_storage_sop_class_uid(), CT_IMAGE_STORAGE);
        let px = obj.element(tags::PIXEL_DATA).unwrap().to_bytes().unwrap();
        assert_eq!(px.len(), 16 * 16 * 2);
    }

    #[test]
    fn absent_fields_are_left_out() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.dcm");
        let mut inst = CtInstance::new(7, "x");
        inst.pixel_spacing = None;
        inst.write(&p).unwrap();
        let obj = dicom_object::open_file(&p).unwrap();
        assert!(obj.element_opt(tags::PIXEL_SPACING).unwrap().is_none());
    }

    #[test]
    fn uids_are_valid_and_stable() {
        let a = synthetic_uid(1, "x");
        assert_eq!(a, synthetic_uid(1, "x"));
        assert_ne!(a, synthetic_uid(2, "x"));
        // PS3.5 §9.1: digits and dots, no component with a leading zero, at most 64 chars.
        assert!(a.len() <= 64);
        assert!(a.split('.').all(|c| !c.is_empty()
            && c.bytes().all(|b| b.is_ascii_digit())
            && (c == "0" || !c.starts_with('0'))));
    }
}
