//! Conformance fixtures: one conformant CT instance and copies of it, each carrying exactly one
//! known defect, for testing `dicom.conformance` and comparing it with dciodvfy.

use std::path::Path;

use dicom_core::value::PrimitiveValue;
use dicom_core::{DataElement, Tag, VR};
use dicom_dictionary_std::tags;

use super::ct::{encode, CtInstance, HeaderProfile};
use super::SynthError;

/// A planted defect: the file name, what was done, and the finding it must cause.
#[derive(Debug, Clone, Copy)]
pub struct Planted {
    pub file: &'static str,
    pub description: &'static str,
    /// `code (Keyword)` as attest reports it; empty for the conformant file.
    pub expected: &'static str,
}

enum Edit {
    None,
    Remove(Tag),
    Set(Tag, VR, &'static str),
    SetFloat(Tag, f64),
}

const DEFECTS: &[(Planted, Edit)] = &[
    (
        Planted {
            file: "00-conformant.dcm",
            description: "conformant CT image",
            expected: "",
        },
        Edit::None,
    ),
    (
        Planted {
            file: "01-no-image-type.dcm",
            description: "Image Type (Type 1, CT Image) removed",
            expected: "missing-type1 (ImageType)",
        },
        Edit::Remove(tags::IMAGE_TYPE),
    ),
    (
        Planted {
            file: "02-empty-modality.dcm",
            description: "Modality (Type 1, General Series) empty",
            expected: "empty-type1 (Modality)",
        },
        Edit::Set(tags::MODALITY, VR::CS, ""),
    ),
    (
        Planted {
            file: "03-no-patient-name.dcm",
            description: "Patient's Name (Type 2, Patient) removed",
            expected: "missing-type2 (PatientName)",
        },
        Edit::Remove(tags::PATIENT_NAME),
    ),
    (
        Planted {
            file: "04-bad-date.dcm",
            description: "Study Date written 2026-01-01",
            expected: "invalid-value (StudyDate)",
        },
        Edit::Set(tags::STUDY_DATE, VR::DA, "2026-01-01"),
    ),
    (
        Planted {
            file: "05-bad-uid.dcm",
            description: "Frame of Reference UID with a leading zero",
            expected: "invalid-value (FrameOfReferenceUID)",
        },
        Edit::Set(tags::FRAME_OF_REFERENCE_UID, VR::UI, "1.2.826.0.1.03"),
    ),
    (
        Planted {
            file: "06-bad-ds.dcm",
            description: "Slice Thickness written 1,25",
            expected: "invalid-value (SliceThickness)",
        },
        Edit::Set(tags::SLICE_THICKNESS, VR::DS, "1,25"),
    ),
    (
        Planted {
            file: "07-lowercase-cs.dcm",
            description: "Patient Position written ffs",
            expected: "invalid-value (PatientPosition)",
        },
        Edit::Set(tags::PATIENT_POSITION, VR::CS, "ffs"),
    ),
    (
        Planted {
            file: "08-bad-time.dcm",
            description: "Study Time written 256000",
            expected: "invalid-value (StudyTime)",
        },
        Edit::Set(tags::STUDY_TIME, VR::TM, "256000"),
    ),
    (
        Planted {
            file: "09-bad-is.dcm",
            description: "Instance Number written 1.5",
            expected: "invalid-value (InstanceNumber)",
        },
        Edit::Set(tags::INSTANCE_NUMBER, VR::IS, "1.5"),
    ),
    (
        Planted {
            file: "10-no-pixel-spacing.dcm",
            description: "Pixel Spacing (Type 1, Image Plane) removed",
            expected: "missing-type1 (PixelSpacing)",
        },
        Edit::Remove(tags::PIXEL_SPACING),
    ),
    (
        Planted {
            file: "11-one-pixel-spacing.dcm",
            description: "Pixel Spacing (VM 2) with one value",
            expected: "invalid-multiplicity (PixelSpacing)",
        },
        Edit::Set(tags::PIXEL_SPACING, VR::DS, "0.7"),
    ),
    (
        Planted {
            file: "12-bad-sex.dcm",
            description: "Patient's Sex written X (Enumerated Values M, F, O)",
            expected: "invalid-enumerated (PatientSex)",
        },
        Edit::Set(tags::PATIENT_SEX, VR::CS, "X"),
    ),
    (
        Planted {
            file: "13-wed-without-method.dcm",
            description: "Water Equivalent Diameter present without its Type 1C calculation method",
            expected: "missing-type1c (WaterEquivalentDiameterCalculationMethodCodeSequence)",
        },
        Edit::SetFloat(tags::WATER_EQUIVALENT_DIAMETER, 301.5),
    ),
];

/// The planted defects, in file order.
pub fn planted() -> Vec<Planted> {
    DEFECTS.iter().map(|(p, _)| *p).collect()
}

/// Writes the conformant instance and one copy per defect into `dir`.
pub fn write_conformance_fixtures(dir: &Path) -> Result<Vec<Planted>, SynthError> {
    let base = CtInstance {
        profile: HeaderProfile::Full,
        ..CtInstance::new(77, "conformance")
    };
    for (i, (p, edit)) in DEFECTS.iter().enumerate() {
        let mut inst = base.clone();
        inst.sop_instance_uid = super::synthetic_uid(77, &format!("conformance/{i}"));
        inst.instance_number = 1;
        let mut obj = inst.to_object()?;
        match edit {
            Edit::None => {}
            Edit::Remove(tag) => {
                obj.remove_element(*tag);
            }
            Edit::Set(tag, vr, value) => {
                obj.put(DataElement::new(*tag, *vr, PrimitiveValue::from(*value)));
            }
            Edit::SetFloat(tag, value) => {
                obj.put(DataElement::new(*tag, VR::FD, PrimitiveValue::from(*value)));
            }
        }
        super::ct::write_bytes(&dir.join(p.file), &encode(&obj)?)?;
    }
    Ok(planted())
}
