//! De-identifying synthetic instances the way a de-identifier following the Basic Profile
//! would, for benchmark data and for `deid.audit`'s tests. The removals are read off PS3.15
//! Table E.1-1 for the attributes the synthetic full header carries (each action cited), not
//! derived from attest's own copy of the table, so tests built on them stay independent.

use dicom_core::value::{DataSetSequence, PrimitiveValue};
use dicom_core::{DataElement, Tag, VR};
use dicom_dictionary_std::tags;
use dicom_object::{FileDicomObject, InMemDicomObject};

/// Attributes of the synthetic full header that the Basic Profile removes (X) or removes or
/// empties (X/Z), per PS3.15 Table E.1-1.
pub const BASIC_PROFILE_REMOVALS: &[Tag] = &[
    tags::ACQUISITION_DATE,                     // X/Z
    tags::ACQUISITION_TIME,                     // X/Z
    tags::INSTITUTION_ADDRESS,                  // X
    tags::TIMEZONE_OFFSET_FROM_UTC,             // X
    tags::STUDY_DESCRIPTION,                    // X (C with Clean Descriptors)
    tags::SERIES_DESCRIPTION,                   // X (C with Clean Descriptors)
    tags::INSTITUTIONAL_DEPARTMENT_NAME,        // X
    tags::PATIENT_AGE,                          // X (K with Retain Patient Characteristics)
    tags::PATIENT_SIZE,                         // X (K with Retain Patient Characteristics)
    tags::PATIENT_WEIGHT,                       // X (K with Retain Patient Characteristics)
    tags::REQUESTED_PROCEDURE_DESCRIPTION,      // X/Z
    tags::PERFORMED_PROCEDURE_STEP_START_DATE,  // X
    tags::PERFORMED_PROCEDURE_STEP_START_TIME,  // X
    tags::PERFORMED_PROCEDURE_STEP_ID,          // X
    tags::PERFORMED_PROCEDURE_STEP_DESCRIPTION, // X
];

/// A De-identification Method Code Sequence item for a CID 7050 code.
pub fn method_code(value: &str) -> InMemDicomObject {
    InMemDicomObject::from_element_iter([
        DataElement::new(tags::CODE_VALUE, VR::SH, PrimitiveValue::from(value)),
        DataElement::new(
            tags::CODING_SCHEME_DESIGNATOR,
            VR::SH,
            PrimitiveValue::from("DCM"),
        ),
        DataElement::new(
            tags::CODE_MEANING,
            VR::LO,
            PrimitiveValue::from("de-identification"),
        ),
    ])
}

/// Applies the Basic Profile to a synthetic instance: the removals above, private attributes
/// removed (E.3.10 without Retain Safe Private), Z attributes given dummies or emptied, and
/// the E.1.1 (6) and E.3.6 flags and method codes (`codes`, e.g. `["113100"]`) set.
pub fn deidentify(obj: &mut FileDicomObject<InMemDicomObject>, codes: &[&str]) {
    for t in BASIC_PROFILE_REMOVALS {
        obj.remove_element(*t);
    }
    let private: Vec<Tag> = obj
        .iter()
        .map(|e| e.header().tag)
        .filter(|t| t.group() % 2 == 1)
        .collect();
    for t in private {
        obj.remove_element(t);
    }
    // Dates (Z, X/D, Z/D in Table E.1-1 without a date option) emptied; Operators' Name
    // (X/Z/D) removed.
    let dates: Vec<(Tag, VR)> = obj
        .iter()
        .filter(|e| matches!(e.vr(), VR::DA | VR::DT))
        .map(|e| (e.header().tag, e.vr()))
        .collect();
    for (t, vr) in dates {
        obj.put(DataElement::new(t, vr, PrimitiveValue::from("")));
    }
    obj.remove_element(tags::OPERATORS_NAME);
    // Z: zero length or a dummy.
    obj.put(DataElement::new(
        tags::PATIENT_NAME,
        VR::PN,
        PrimitiveValue::from("ANONYMOUS"),
    ));
    obj.put(DataElement::new(
        tags::PATIENT_BIRTH_DATE,
        VR::DA,
        PrimitiveValue::from(""),
    ));
    obj.put(DataElement::new(
        tags::PATIENT_IDENTITY_REMOVED,
        VR::CS,
        PrimitiveValue::from("YES"),
    ));
    obj.put(DataElement::new(
        tags::LONGITUDINAL_TEMPORAL_INFORMATION_MODIFIED,
        VR::CS,
        PrimitiveValue::from("REMOVED"),
    ));
    obj.put(DataElement::new(
        tags::DEIDENTIFICATION_METHOD_CODE_SEQUENCE,
        VR::SQ,
        DataSetSequence::from(codes.iter().map(|c| method_code(c)).collect::<Vec<_>>()),
    ));
}
