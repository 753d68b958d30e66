//! One synthetic CT image instance: its parameters, the DICOM object built from them, and the
//! Part 10 file written from that object.
//!
//! [`CtInstance`] holds every value that goes into the header as a plain field, so a test makes a
//! fixture with one field changed by struct update syntax
//! (`CtInstance { slice_thickness: Some(5.0), ..CtInstance::default() }`) and a generator sets
//! them all from its own random draws. [`CtInstance::to_object`] builds the object the way a
//! scanner's CT Image IOD would be populated (PS3.3 §A.3: Patient, General Study, General
//! Series, Frame of Reference, General Equipment, General Image, Image Plane, Image Pixel, CT
//! Image, SOP Common); [`encode`] and [`write_ct`] write it as a Part 10 file (PS3.10 §7) in
//! Explicit VR Little Endian. Pixel data are tiny (16 × 16 by default) and follow a fixed
//! pattern: air around a soft-tissue ring around lung, a little texture, and for nodule cases a
//! faint Gaussian blob. Nothing here comes from a real patient.

use std::fs;
use std::path::Path;

use dicom_core::value::{DataSetSequence, PrimitiveValue, C};
use dicom_core::{DataElement, Tag, VR};
use dicom_dictionary_std::{tags, uids};
use dicom_object::{FileDicomObject, FileMetaTableBuilder, InMemDicomObject};

use super::uid::{synthetic_uid, IMPLEMENTATION_CLASS_UID, IMPLEMENTATION_VERSION_NAME};
use super::SynthError;

/// SOP Class UID of CT Image Storage (PS3.4 Annex B.5).
pub const CT_IMAGE_STORAGE: &str = uids::CT_IMAGE_STORAGE;

/// SOP Class UID of MR Image Storage (PS3.4 Annex B.5), for deliberately wrong-modality series.
pub const MR_IMAGE_STORAGE: &str = uids::MR_IMAGE_STORAGE;

/// How many attributes the header carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum HeaderProfile {
    /// The attributes named on [`CtInstance`] and little else (about 1 KB): the demo data.
    #[default]
    Compact,
    /// Also the few dozen further attributes a clinical CT header typically carries
    /// (acquisition, dose, timing, a code sequence and a block of private tags), about 2.5 KB
    /// before pixel data, for realistic header-parsing benchmarks.
    Full,
}

/// A faint round lesion added to the pixel pattern (a "nodule").
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Nodule {
    /// Centre row, in pixels from the top-left pixel's centre.
    pub row: f64,
    /// Centre column, in pixels.
    pub col: f64,
    /// Standard deviation of the Gaussian profile, in pixels.
    pub sigma: f64,
    /// Peak attenuation added at the centre, in HU.
    pub contrast_hu: f64,
}

/// The values of one synthetic CT instance. Every field goes into the header as named; the
/// `Option` fields are left out of the header when `None`.
#[derive(Debug, Clone, PartialEq)]
pub struct CtInstance {
    /// SOP Class UID (0008,0016); [`CT_IMAGE_STORAGE`] unless a test wants otherwise.
    pub sop_class_uid: String,
    pub sop_instance_uid: String,
    pub study_instance_uid: String,
    pub series_instance_uid: String,
    pub frame_of_reference_uid: String,
    /// PN, e.g. `SYNTH^P0001`.
    pub patient_name: String,
    pub patient_id: String,
    /// CS: `M`, `F` or `O`.
    pub patient_sex: String,
    /// AS, e.g. `054Y`.
    pub patient_age: String,
    /// DA, `YYYYMMDD`.
    pub patient_birth_date: String,
    /// DA, `YYYYMMDD`; also Series, Acquisition and Content Date.
    pub study_date: String,
    /// TM, `HHMMSS`; also the base of Series, Acquisition and Content Time.
    pub study_time: String,
    /// Study ID (SH) and the stem of Accession Number.
    pub study_id: String,
    pub modality: String,
    pub manufacturer: String,
    pub manufacturer_model_name: String,
    pub institution_name: String,
    pub station_name: String,
    pub series_description: String,
    /// Slice Thickness (0018,0050) DS, mm.
    pub slice_thickness: Option<f64>,
    /// Pixel Spacing (0028,0030) DS, VM 2: row spacing, column spacing, mm.
    pub pixel_spacing: Option<[f64; 2]>,
    /// KVP (0018,0060) DS.
    pub kvp: Option<f64>,
    /// Convolution Kernel (0018,1210) SH.
    pub convolution_kernel: Option<String>,
    /// Image Position (Patient) (0020,0032), mm.
    pub image_position_patient: [f64; 3],
    /// Image Orientation (Patient) (0020,0037): row then column direction cosines.
    pub image_orientation_patient: [f64; 6],
    pub instance_number: u32,
    pub series_number: u32,
    pub rows: u16,
    pub columns: u16,
    /// 0 unsigned, 1 two's complement (PS3.3 §C.7.6.3); Bits Allocated/Stored/High Bit are
    /// fixed at 16/12/11.
    pub pixel_representation: u16,
    pub rescale_intercept: f64,
    pub rescale_slope: f64,
    /// Seeds the pixel texture, so neighbouring slices differ.
    pub texture_seed: u64,
    pub nodule: Option<Nodule>,
    pub profile: HeaderProfile,
}

impl Default for CtInstance {
    /// A plausible thin-slice chest CT instance with fixed synthetic UIDs (seed 0, index 0).
    fn default() -> Self {
        CtInstance {
            sop_class_uid: CT_IMAGE_STORAGE.to_string(),
            sop_instance_uid: synthetic_uid(0, "sop/default"),
            study_instance_uid: synthetic_uid(0, "study/default"),
            series_instance_uid: synthetic_uid(0, "series/default"),
            frame_of_reference_uid: synthetic_uid(0, "frame-of-reference/default"),
            patient_name: "SYNTH^P0001".to_string(),
            patient_id: "SYNP0001".to_string(),
            patient_sex: "F".to_string(),
            patient_age: "054Y".to_string(),
            patient_birth_date: "19700315".to_string(),
            study_date: "20240612".to_string(),
            study_time: "093000".to_string(),
            study_id: "S0001".to_string(),
            modality: "CT".to_string(),
            manufacturer: "GE MEDICAL SYSTEMS".to_string(),
            manufacturer_model_name: "Revolution CT".to_string(),
            institution_name: "SYNTHETIC NORTH HOSPITAL".to_string(),
            station_name: "SYNCT01".to_string(),
            series_description: "CHEST 1.25MM LUNG".to_string(),
            slice_thickness: Some(1.25),
            pixel_spacing: Some([0.7, 0.7]),
            kvp: Some(120.0),
            convolution_kernel: Some("LUNG".to_string()),
            image_position_patient: [-5.6, -5.6, -100.0],
            image_orientation_patient: [1.0, 0.0, 0.0, 0.0, 1.0, 0.0],
            instance_number: 1,
            series_number: 2,
            rows: 16,
            columns: 16,
            pixel_representation: 0,
            rescale_intercept: -1024.0,
            rescale_slope: 1.0,
            texture_seed: 0,
            nodule: None,
            profile: HeaderProfile::Compact,
        }
    }
}

impl CtInstance {
    /// The [default](CtInstance::default) instance with its UIDs derived from `seed` and `key`
    /// (`<key>/study`, `<key>/series`, `<key>/frame-of-reference`, `<key>/sop/1`), so fixtures
    /// made with different keys never share a study, series or instance.
    pub fn new(seed: u64, key: &str) -> Self {
        CtInstance {
            sop_instance_uid: synthetic_uid(seed, &format!("{key}/sop/1")),
            study_instance_uid: synthetic_uid(seed, &format!("{key}/study")),
            series_instance_uid: synthetic_uid(seed, &format!("{key}/series")),
            frame_of_reference_uid: synthetic_uid(seed, &format!("{key}/frame-of-reference")),
            ..CtInstance::default()
        }
    }

    /// Builds the DICOM object with its file meta group (transfer syntax Explicit VR Little
    /// Endian, Media Storage SOP Class/Instance UID copied from the data set).
    pub fn to_object(&self) -> Result<FileDicomObject<InMemDicomObject>, SynthError> {
        let mut obj = InMemDicomObject::new_empty();
        let mut put = |tag: Tag, vr: VR, value: PrimitiveValue| {
            obj.put(DataElement::new(tag, vr, value));
        };
        let s = |v: &str| PrimitiveValue::from(v);

        // SOP Common (PS3.3 §C.12.1); Image Type is Type 1 in the CT Image Module (C.8.2.1),
        // so every profile has it.
        put(
            tags::IMAGE_TYPE,
            VR::CS,
            strs(["ORIGINAL", "PRIMARY", "AXIAL"]),
        );
        if self.profile == HeaderProfile::Full {
            put(tags::SPECIFIC_CHARACTER_SET, VR::CS, s("ISO_IR 100"));
            put(tags::INSTANCE_CREATION_DATE, VR::DA, s(&self.study_date));
            put(tags::INSTANCE_CREATION_TIME, VR::TM, s(&self.study_time));
        }
        put(tags::SOP_CLASS_UID, VR::UI, s(&self.sop_class_uid));
        put(tags::SOP_INSTANCE_UID, VR::UI, s(&self.sop_instance_uid));
        // General Study, Patient, General Series, General Equipment (PS3.3 §C.7)
        put(tags::STUDY_DATE, VR::DA, s(&self.study_date));
        put(tags::STUDY_TIME, VR::TM, s(&self.study_time));
        put(
            tags::ACCESSION_NUMBER,
            VR::SH,
            s(&format!("A{}", self.study_id)),
        );
        put(tags::MODALITY, VR::CS, s(&self.modality));
        put(tags::MANUFACTURER, VR::LO, s(&self.manufacturer));
        put(tags::INSTITUTION_NAME, VR::LO, s(&self.institution_name));
        put(tags::REFERRING_PHYSICIAN_NAME, VR::PN, s(""));
        put(tags::STATION_NAME, VR::SH, s(&self.station_name));
        put(
            tags::SERIES_DESCRIPTION,
            VR::LO,
            s(&self.series_description),
        );
        put(
            tags::MANUFACTURER_MODEL_NAME,
            VR::LO,
            s(&self.manufacturer_model_name),
        );
        put(tags::PATIENT_NAME, VR::PN, s(&self.patient_name));
        put(tags::PATIENT_ID, VR::LO, s(&self.patient_id));
        put(
            tags::PATIENT_BIRTH_DATE,
            VR::DA,
            s(&self.patient_birth_date),
        );
        put(tags::PATIENT_SEX, VR::CS, s(&self.patient_sex));
        put(tags::PATIENT_AGE, VR::AS, s(&self.patient_age));
        put(tags::BODY_PART_EXAMINED, VR::CS, s("CHEST"));
        // CT Image (PS3.3 §C.8.2.1)
        if let Some(v) = self.slice_thickness {
            put(tags::SLICE_THICKNESS, VR::DS, s(&ds(v)));
        }
        if let Some(v) = self.kvp {
            put(tags::KVP, VR::DS, s(&ds(v)));
        }
        if let Some(v) = &self.convolution_kernel {
            put(tags::CONVOLUTION_KERNEL, VR::SH, s(v));
        }
        put(tags::PATIENT_POSITION, VR::CS, s("FFS"));
        // General Series, Frame of Reference, General Image, Image Plane
        put(
            tags::STUDY_INSTANCE_UID,
            VR::UI,
            s(&self.study_instance_uid),
        );
        put(
            tags::SERIES_INSTANCE_UID,
            VR::UI,
            s(&self.series_instance_uid),
        );
        put(tags::STUDY_ID, VR::SH, s(&self.study_id));
        put(
            tags::SERIES_NUMBER,
            VR::IS,
            s(&self.series_number.to_string()),
        );
        put(tags::ACQUISITION_NUMBER, VR::IS, s("1"));
        put(
            tags::INSTANCE_NUMBER,
            VR::IS,
            s(&self.instance_number.to_string()),
        );
        put(
            tags::IMAGE_POSITION_PATIENT,
            VR::DS,
            strs(self.image_position_patient.map(ds)),
        );
        put(
            tags::IMAGE_ORIENTATION_PATIENT,
            VR::DS,
            strs(self.image_orientation_patient.map(ds)),
        );
        put(
            tags::FRAME_OF_REFERENCE_UID,
            VR::UI,
            s(&self.frame_of_reference_uid),
        );
        put(tags::POSITION_REFERENCE_INDICATOR, VR::LO, s(""));
        put(
            tags::SLICE_LOCATION,
            VR::DS,
            s(&ds(self.image_position_patient[2])),
        );
        // Image Pixel (PS3.3 §C.7.6.3) and CT Image pixel constraints (§C.8.2.1.1)
        put(tags::SAMPLES_PER_PIXEL, VR::US, PrimitiveValue::from(1_u16));
        put(tags::PHOTOMETRIC_INTERPRETATION, VR::CS, s("MONOCHROME2"));
        put(tags::ROWS, VR::US, PrimitiveValue::from(self.rows));
        put(tags::COLUMNS, VR::US, PrimitiveValue::from(self.columns));
        if let Some([r, c]) = self.pixel_spacing {
            put(tags::PIXEL_SPACING, VR::DS, strs([ds(r), ds(c)]));
        }
        put(tags::BITS_ALLOCATED, VR::US, PrimitiveValue::from(16_u16));
        put(tags::BITS_STORED, VR::US, PrimitiveValue::from(12_u16));
        put(tags::HIGH_BIT, VR::US, PrimitiveValue::from(11_u16));
        put(
            tags::PIXEL_REPRESENTATION,
            VR::US,
            PrimitiveValue::from(self.pixel_representation),
        );
        put(tags::WINDOW_CENTER, VR::DS, s("-600"));
        put(tags::WINDOW_WIDTH, VR::DS, s("1500"));
        put(
            tags::RESCALE_INTERCEPT,
            VR::DS,
            s(&ds(self.rescale_intercept)),
        );
        put(tags::RESCALE_SLOPE, VR::DS, s(&ds(self.rescale_slope)));
        put(
            tags::PIXEL_DATA,
            VR::OW,
            PrimitiveValue::U16(C::from_vec(self.stored_pixels())),
        );
        if self.profile == HeaderProfile::Full {
            self.put_full_profile(&mut obj);
        }

        let meta = FileMetaTableBuilder::new()
            .transfer_syntax(uids::EXPLICIT_VR_LITTLE_ENDIAN)
            .implementation_class_uid(IMPLEMENTATION_CLASS_UID)
            .implementation_version_name(IMPLEMENTATION_VERSION_NAME);
        obj.with_meta(meta).map_err(|source| SynthError::Build {
            uid: self.sop_instance_uid.clone(),
            source: Box::new(source),
        })
    }

    /// The attributes [`HeaderProfile::Full`] adds: typical of a helical chest CT (values
    /// plausible, not taken from any device).
    fn put_full_profile(&self, obj: &mut InMemDicomObject) {
        let mut put = |tag: Tag, vr: VR, value: &str| {
            obj.put(DataElement::new(tag, vr, PrimitiveValue::from(value)));
        };
        let t = &self.study_time;
        put(tags::SERIES_DATE, VR::DA, &self.study_date);
        put(tags::ACQUISITION_DATE, VR::DA, &self.study_date);
        put(tags::CONTENT_DATE, VR::DA, &self.study_date);
        put(tags::SERIES_TIME, VR::TM, &format!("{t}.100000"));
        put(tags::ACQUISITION_TIME, VR::TM, &format!("{t}.250000"));
        put(tags::CONTENT_TIME, VR::TM, &format!("{t}.500000"));
        put(tags::TIMEZONE_OFFSET_FROM_UTC, VR::SH, "+0800");
        put(
            tags::INSTITUTION_ADDRESS,
            VR::ST,
            "1 Synthetic Road, Nowhere City",
        );
        put(tags::STUDY_DESCRIPTION, VR::LO, "CT CHEST WITHOUT CONTRAST");
        put(tags::INSTITUTIONAL_DEPARTMENT_NAME, VR::LO, "RADIOLOGY");
        put(tags::OPERATORS_NAME, VR::PN, "SYNTH^OPERATOR");
        put(tags::PATIENT_SIZE, VR::DS, "1.70");
        put(tags::PATIENT_WEIGHT, VR::DS, "68");
        put(tags::PATIENT_IDENTITY_REMOVED, VR::CS, "NO");
        put(tags::SCAN_OPTIONS, VR::CS, "HELICAL MODE");
        put(tags::DATA_COLLECTION_DIAMETER, VR::DS, "500");
        put(tags::DEVICE_SERIAL_NUMBER, VR::LO, "SYN0000001");
        put(tags::SOFTWARE_VERSIONS, VR::LO, "SYNTH 1.0.0");
        put(tags::PROTOCOL_NAME, VR::LO, "CHEST ROUTINE");
        put(tags::RECONSTRUCTION_DIAMETER, VR::DS, "350");
        put(tags::DISTANCE_SOURCE_TO_DETECTOR, VR::DS, "1085.6");
        put(tags::DISTANCE_SOURCE_TO_PATIENT, VR::DS, "595");
        put(tags::GANTRY_DETECTOR_TILT, VR::DS, "0");
        put(tags::TABLE_HEIGHT, VR::DS, "160");
        put(tags::ROTATION_DIRECTION, VR::CS, "CW");
        put(tags::EXPOSURE_TIME, VR::IS, "500");
        put(tags::X_RAY_TUBE_CURRENT, VR::IS, "180");
        put(tags::EXPOSURE, VR::IS, "90");
        put(tags::FILTER_TYPE, VR::SH, "BODY FILTER");
        put(tags::GENERATOR_POWER, VR::IS, "22000");
        put(tags::FOCAL_SPOTS, VR::DS, "0.7");
        put(tags::EXPOSURE_MODULATION_TYPE, VR::CS, "XYZ_EC");
        put(tags::REQUESTED_PROCEDURE_DESCRIPTION, VR::LO, "CT CHEST");
        put(
            tags::PERFORMED_PROCEDURE_STEP_START_DATE,
            VR::DA,
            &self.study_date,
        );
        put(tags::PERFORMED_PROCEDURE_STEP_START_TIME, VR::TM, t);
        put(tags::PERFORMED_PROCEDURE_STEP_ID, VR::SH, &self.study_id);
        put(
            tags::PERFORMED_PROCEDURE_STEP_DESCRIPTION,
            VR::LO,
            "CT CHEST WITHOUT CONTRAST",
        );
        put(tags::RESCALE_TYPE, VR::LO, "HU");
        put(tags::LOSSY_IMAGE_COMPRESSION, VR::CS, "00");
        put(tags::BURNED_IN_ANNOTATION, VR::CS, "NO");
        put(tags::WINDOW_CENTER_WIDTH_EXPLANATION, VR::LO, "WINDOW1");

        // Binary-valued CT acquisition, table and dose attributes (PS3.3 §C.8.15.3 macros).
        for (tag, value) in [
            (tags::REVOLUTION_TIME, 0.5),
            (tags::SINGLE_COLLIMATION_WIDTH, 0.625),
            (tags::TOTAL_COLLIMATION_WIDTH, 40.0),
            (tags::TABLE_SPEED, 78.75),
            (tags::TABLE_FEED_PER_ROTATION, 39.375),
            (tags::SPIRAL_PITCH_FACTOR, 0.984375),
            (tags::CTD_IVOL, 7.42),
        ] {
            obj.put(DataElement::new(tag, VR::FD, PrimitiveValue::from(value)));
        }
        obj.put(DataElement::new(
            tags::RECONSTRUCTION_TARGET_CENTER_PATIENT,
            VR::FD,
            PrimitiveValue::F64(C::from_vec(vec![0.0, -20.0, 0.0])),
        ));
        obj.put(DataElement::new(
            tags::DATA_COLLECTION_CENTER_PATIENT,
            VR::FD,
            PrimitiveValue::F64(C::from_vec(vec![0.0, -20.0, 0.0])),
        ));

        // A coded procedure, as most modalities copy it from the worklist (PS3.3 §C.7.2.1).
        let code = InMemDicomObject::from_element_iter([
            DataElement::new(tags::CODE_VALUE, VR::SH, PrimitiveValue::from("RPID16")),
            DataElement::new(
                tags::CODING_SCHEME_DESIGNATOR,
                VR::SH,
                PrimitiveValue::from("RADLEX"),
            ),
            DataElement::new(
                tags::CODE_MEANING,
                VR::LO,
                PrimitiveValue::from("CT CHEST WO IV CONTRAST"),
            ),
        ]);
        obj.put(DataElement::new(
            tags::PROCEDURE_CODE_SEQUENCE,
            VR::SQ,
            DataSetSequence::from(vec![code]),
        ));

        // A private block, as every vendor writes (PS3.5 §7.8.1): creator then its elements.
        let creator = Tag(0x0009, 0x0010);
        let private = |e: u16| Tag(0x0009, 0x1000 | e);
        obj.put(DataElement::new(
            creator,
            VR::LO,
            PrimitiveValue::from("ATTEST SYNTH PRIVATE"),
        ));
        obj.put(DataElement::new(
            private(0x01),
            VR::LO,
            PrimitiveValue::from("SYNTHETIC RECON PARAMETERS"),
        ));
        obj.put(DataElement::new(
            private(0x02),
            VR::DS,
            strs(["1.0", "0.5", "0.25"]),
        ));
        obj.put(DataElement::new(
            private(0x03),
            VR::SL,
            PrimitiveValue::I32(C::from_vec(vec![1, 2, 3, 4])),
        ));
        let blob: Vec<u8> = (0..384_u32)
            .map(|i| (splitmix64(self.texture_seed ^ u64::from(i)) & 0xFF) as u8)
            .collect();
        obj.put(DataElement::new(
            private(0x04),
            VR::OB,
            PrimitiveValue::from(blob),
        ));
    }

    /// Stored pixel values, row by row: the pattern in HU mapped through the rescale
    /// (stored = (HU − intercept) / slope, PS3.3 §C.11.1) and clipped to 12 bits.
    pub fn stored_pixels(&self) -> Vec<u16> {
        let (rows, cols) = (usize::from(self.rows), usize::from(self.columns));
        let slope = if self.rescale_slope == 0.0 {
            1.0
        } else {
            self.rescale_slope
        };
        let (lo, hi) = if self.pixel_representation == 0 {
            (0.0, 4095.0)
        } else {
            (-2048.0, 2047.0)
        };
        let mut out = Vec::with_capacity(rows * cols);
        for r in 0..rows {
            for c in 0..cols {
                let hu = self.hu_at(r, c);
                let stored = ((hu - self.rescale_intercept) / slope)
                    .round()
                    .clamp(lo, hi);
                // Two's complement bit pattern for signed data, as OW carries it.
                out.push(stored as i32 as u16);
            }
        }
        out
    }

    /// Attenuation at a pixel, in HU.
    fn hu_at(&self, r: usize, c: usize) -> f64 {
        let half = f64::from(self.rows.min(self.columns)) / 2.0;
        let dr = r as f64 - (f64::from(self.rows) - 1.0) / 2.0;
        let dc = c as f64 - (f64::from(self.columns) - 1.0) / 2.0;
        let radius = (dr * dr + dc * dc).sqrt() / half.max(1.0);
        let base = if radius > 0.98 {
            -1000.0
        } else if radius > 0.78 {
            40.0
        } else {
            -850.0
        };
        let cell = ((r as u64) << 32) | c as u64;
        let texture = (splitmix64(self.texture_seed ^ splitmix64(cell)) % 31) as f64 - 15.0;
        let blob = self.nodule.map_or(0.0, |n| {
            let d2 = (r as f64 - n.row).powi(2) + (c as f64 - n.col).powi(2);
            n.contrast_hu * (-d2 / (2.0 * n.sigma * n.sigma)).exp()
        });
        base + texture + blob
    }
}

/// Encodes an object as a Part 10 file: 128-byte preamble, `DICM`, file meta group, data set.
pub fn encode(obj: &FileDicomObject<InMemDicomObject>) -> Result<Vec<u8>, SynthError> {
    let mut bytes = Vec::new();
    obj.write_all(&mut bytes)
        .map_err(|source| SynthError::Encode {
            uid: obj.meta().media_storage_sop_instance_uid().to_string(),
            source: Box::new(source),
        })?;
    Ok(bytes)
}

/// Builds, encodes and writes one instance to `path` (parent folders are created); returns the
/// number of bytes written.
pub fn write_ct(inst: &CtInstance, path: &Path) -> Result<u64, SynthError> {
    let bytes = encode(&inst.to_object()?)?;
    write_bytes(path, &bytes)?;
    Ok(bytes.len() as u64)
}

/// Writes bytes to a file, creating its parent folders, naming the path on failure.
pub(crate) fn write_bytes(path: &Path, bytes: &[u8]) -> Result<(), SynthError> {
    let io = |source| SynthError::Io {
        path: path.to_path_buf(),
        source,
    };
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).map_err(io)?;
    }
    fs::write(path, bytes).map_err(io)
}

/// A Decimal String value (PS3.5 §6.2, at most 16 characters): up to six decimals, trailing
/// zeros removed, so `1.0` is written `1` and `0.703125` as is.
pub fn ds(value: f64) -> String {
    let mut s = format!("{value:.6}");
    if s.contains('.') {
        let trimmed = s.trim_end_matches('0').trim_end_matches('.').len();
        s.truncate(trimmed);
    }
    if s == "-0" {
        s = "0".to_string();
    }
    debug_assert!(s.len() <= 16, "DS value too long: {s}");
    s
}

/// A multi-valued string (VM > 1), written joined by `\`.
fn strs<I, S>(values: I) -> PrimitiveValue
where
    I: IntoIterator<Item = S>,
    S: Into<String>,
{
    PrimitiveValue::Strs(values.into_iter().map(Into::into).collect())
}

/// SplitMix64 finaliser: a fixed, fast mixing of 64 bits for pixel texture.
pub(crate) fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;
    use dicom_object::open_file;

    fn text(obj: &FileDicomObject<InMemDicomObject>, tag: Tag) -> String {
        obj.element(tag)
            .unwrap_or_else(|_| panic!("missing {tag}"))
            .to_str()
            .unwrap()
            .trim_end_matches([' ', '\0'])
            .to_string()
    }

    fn temp_path(name: &str) -> (tempfile::TempDir, std::path::PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a/b").join(name);
        (dir, path)
    }

    #[test]
    fn written_instance_round_trips() {
        let inst = CtInstance {
            nodule: Some(Nodule {
                row: 6.0,
                col: 9.0,
                sigma: 1.2,
                contrast_hu: 250.0,
            }),
            ..CtInstance::default()
        };
        let (_dir, path) = temp_path("1.dcm");
        let bytes = write_ct(&inst, &path).unwrap();
        assert_eq!(bytes, fs::metadata(&path).unwrap().len());
        let obj = open_file(&path).unwrap();

        assert_eq!(
            obj.meta().transfer_syntax(),
            uids::EXPLICIT_VR_LITTLE_ENDIAN
        );
        assert_eq!(
            obj.meta().media_storage_sop_instance_uid(),
            inst.sop_instance_uid
        );
        assert_eq!(obj.meta().media_storage_sop_class_uid(), CT_IMAGE_STORAGE);
        for (tag, want) in [
            (tags::SOP_CLASS_UID, CT_IMAGE_STORAGE),
            (tags::SOP_INSTANCE_UID, inst.sop_instance_uid.as_str()),
            (tags::STUDY_INSTANCE_UID, inst.study_instance_uid.as_str()),
            (tags::SERIES_INSTANCE_UID, inst.series_instance_uid.as_str()),
            (
                tags::FRAME_OF_REFERENCE_UID,
                inst.frame_of_reference_uid.as_str(),
            ),
            (tags::PATIENT_NAME, "SYNTH^P0001"),
            (tags::PATIENT_ID, "SYNP0001"),
            (tags::PATIENT_SEX, "F"),
            (tags::PATIENT_AGE, "054Y"),
            (tags::PATIENT_BIRTH_DATE, "19700315"),
            (tags::STUDY_DATE, "20240612"),
            (tags::MODALITY, "CT"),
            (tags::MANUFACTURER, "GE MEDICAL SYSTEMS"),
            (tags::MANUFACTURER_MODEL_NAME, "Revolution CT"),
            (tags::INSTITUTION_NAME, "SYNTHETIC NORTH HOSPITAL"),
            (tags::STATION_NAME, "SYNCT01"),
            (tags::SLICE_THICKNESS, "1.25"),
            (tags::PIXEL_SPACING, "0.7\\0.7"),
            (tags::KVP, "120"),
            (tags::CONVOLUTION_KERNEL, "LUNG"),
            (tags::IMAGE_POSITION_PATIENT, "-5.6\\-5.6\\-100"),
            (tags::IMAGE_ORIENTATION_PATIENT, "1\\0\\0\\0\\1\\0"),
            (tags::INSTANCE_NUMBER, "1"),
            (tags::SERIES_NUMBER, "2"),
            (tags::PHOTOMETRIC_INTERPRETATION, "MONOCHROME2"),
            (tags::RESCALE_INTERCEPT, "-1024"),
            (tags::RESCALE_SLOPE, "1"),
        ] {
            assert_eq!(text(&obj, tag), want, "{tag}");
        }
        for (tag, want) in [
            (tags::ROWS, 16),
            (tags::COLUMNS, 16),
            (tags::BITS_ALLOCATED, 16),
            (tags::BITS_STORED, 12),
            (tags::HIGH_BIT, 11),
            (tags::PIXEL_REPRESENTATION, 0),
            (tags::SAMPLES_PER_PIXEL, 1),
        ] {
            assert_eq!(
                obj.element(tag).unwrap().to_int::<u16>().unwrap(),
                want,
                "{tag}"
            );
        }
        let pixels = obj.element(tags::PIXEL_DATA).unwrap();
        assert_eq!(pixels.vr(), VR::OW);
        let bytes = pixels.to_bytes().unwrap();
        assert_eq!(bytes.len(), 16 * 16 * 2);
        let stored: Vec<u16> = bytes
            .chunks_exact(2)
            .map(|b| u16::from_le_bytes([b[0], b[1]]))
            .collect();
        assert_eq!(stored, inst.stored_pixels());
        // The blob is brighter than the lung around it.
        let at = |r: usize, c: usize| i32::from(stored[r * 16 + c]) - 1024;
        assert!(at(6, 9) > at(9, 5) + 150, "{} vs {}", at(6, 9), at(9, 5));
        assert!(stored.iter().all(|&v| v <= 4095));
    }

    #[test]
    fn new_derives_distinct_uids_from_the_key() {
        let a = CtInstance::new(3, "case-1");
        let b = CtInstance::new(3, "case-2");
        assert_ne!(a.study_instance_uid, b.study_instance_uid);
        assert_ne!(a.sop_instance_uid, b.sop_instance_uid);
        assert_eq!(a, CtInstance::new(3, "case-1"));
        assert_eq!(a.modality, "CT");
    }

    #[test]
    fn none_fields_are_left_out() {
        let inst = CtInstance {
            pixel_spacing: None,
            slice_thickness: None,
            kvp: None,
            convolution_kernel: None,
            ..CtInstance::default()
        };
        let obj = inst.to_object().unwrap();
        for tag in [
            tags::PIXEL_SPACING,
            tags::SLICE_THICKNESS,
            tags::KVP,
            tags::CONVOLUTION_KERNEL,
        ] {
            assert!(obj.get(tag).is_none(), "{tag}");
        }
        assert!(obj.get(tags::ROWS).is_some());
    }

    #[test]
    fn full_profile_is_a_realistic_size_and_reads_back() {
        let inst = CtInstance {
            profile: HeaderProfile::Full,
            ..CtInstance::default()
        };
        let (_dir, path) = temp_path("full.dcm");
        let size = write_ct(&inst, &path).unwrap() as usize;
        let header = size - 16 * 16 * 2;
        assert!((1500..=3000).contains(&header), "header {header} bytes");
        let obj = open_file(&path).unwrap();
        assert_eq!(text(&obj, tags::SCAN_OPTIONS), "HELICAL MODE");
        assert_eq!(text(&obj, tags::SLICE_THICKNESS), "1.25");
        assert!(obj
            .element(tags::PROCEDURE_CODE_SEQUENCE)
            .unwrap()
            .items()
            .is_some());
    }

    #[test]
    fn every_vr_is_the_dictionary_vr() {
        use dicom_core::dictionary::{DataDictionary, DataDictionaryEntry, VirtualVr};
        use dicom_dictionary_std::StandardDataDictionary;
        let inst = CtInstance {
            profile: HeaderProfile::Full,
            ..CtInstance::default()
        };
        let obj = inst.to_object().unwrap();
        for e in obj.iter() {
            let tag = e.header().tag;
            if tag.group() % 2 == 1 {
                continue; // private
            }
            let entry = StandardDataDictionary.by_tag(tag).expect("known tag");
            let ok = match entry.vr() {
                VirtualVr::Exact(vr) => vr == e.vr(),
                VirtualVr::Xs => matches!(e.vr(), VR::US | VR::SS),
                VirtualVr::Ox => matches!(e.vr(), VR::OB | VR::OW),
                VirtualVr::Px => matches!(e.vr(), VR::OB | VR::OW),
                VirtualVr::Lt => matches!(e.vr(), VR::US | VR::SS | VR::OW),
                _ => false,
            };
            assert!(
                ok,
                "{tag} written as {:?}, dictionary {:?}",
                e.vr(),
                entry.vr()
            );
        }
    }

    #[test]
    fn signed_pixels_keep_their_values() {
        let inst = CtInstance {
            pixel_representation: 1,
            rescale_intercept: 0.0,
            ..CtInstance::default()
        };
        let stored = inst.stored_pixels();
        // Air outside the body: about −1000 HU, stored as two's complement.
        assert!((stored[0] as i16) < -900);
    }

    #[test]
    fn decimal_strings_are_short_and_trimmed() {
        assert_eq!(ds(1.0), "1");
        assert_eq!(ds(0.703125), "0.703125");
        assert_eq!(ds(-1024.0), "-1024");
        assert_eq!(ds(-0.0000001), "0");
        assert_eq!(ds(2.5), "2.5");
    }

    #[test]
    fn encoding_is_deterministic() {
        let a = encode(&CtInstance::default().to_object().unwrap()).unwrap();
        let b = encode(&CtInstance::default().to_object().unwrap()).unwrap();
        assert_eq!(a, b);
        assert_eq!(&a[128..132], b"DICM");
    }
}
