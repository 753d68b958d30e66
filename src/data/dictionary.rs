//! DICOM keywords ↔ tags, from the standard data dictionary (PS3.6, via dicom-dictionary-std).

use std::sync::OnceLock;

use dicom_core::dictionary::{DataDictionary, DataDictionaryEntry};
use dicom_core::{Tag, VR};
use dicom_dictionary_std::StandardDataDictionary;

use crate::spec::diag::Diagnostic;
use crate::spec::yaml::Pos;

/// The tag of a standard keyword such as `SliceThickness`.
pub fn tag_of(keyword: &str) -> Option<Tag> {
    StandardDataDictionary
        .by_name(keyword)
        .map(|e| e.tag_range().inner())
}

/// The keyword of a standard tag, if the dictionary has one.
pub fn keyword(tag: Tag) -> Option<&'static str> {
    StandardDataDictionary.by_tag(tag).map(|e| e.alias)
}

/// The value representation the dictionary gives a tag (the first one where it allows several).
pub fn vr_of(tag: Tag) -> Option<dicom_core::VR> {
    StandardDataDictionary.by_tag(tag).map(|e| e.vr.relaxed())
}

/// Values of these VRs are codes and numbers, and may be quoted in findings (UIDs are not:
/// Annex E replaces them because they can link data to a person); other
/// values may identify a person (PS3.15 Annex E) and are withheld unless listed as safe.
pub fn quotable(keyword: &str, tag: Tag) -> bool {
    const SAFE_TEXT: &[&str] = &[
        "Manufacturer",
        "ManufacturerModelName",
        "ConvolutionKernel",
        "BodyPartExamined",
        "SoftwareVersions",
    ];
    matches!(
        vr_of(tag),
        Some(VR::CS | VR::DS | VR::IS | VR::US | VR::UL | VR::SS | VR::SL | VR::FL | VR::FD)
    ) || SAFE_TEXT.contains(&keyword)
}

/// Checks that `keyword` names a standard attribute; otherwise a diagnostic with a suggestion.
pub fn check_keyword(keyword: &str, pos: &Pos) -> Result<Tag, Box<Diagnostic>> {
    tag_of(keyword).ok_or_else(|| {
        let d = Diagnostic::new(
            "unknown-keyword",
            format!("`{keyword}` is not a DICOM keyword"),
            pos,
        )
        .label("expected a keyword from the DICOM data dictionary (PS3.6), e.g. `SliceThickness`");
        Box::new(d.did_you_mean(keyword, all_keywords().iter().copied()))
    })
}

/// Checks that an attribute can be read from the data set: File Meta Information (group 0002,
/// PS3.10 §7.1) is not part of it and has checks of its own.
pub fn indexable(keyword: &str, tag: Tag, pos: &Pos) -> Result<(), Box<Diagnostic>> {
    if tag.group() == 0x0002 {
        return Err(Box::new(
            Diagnostic::new(
                "meta-attribute",
                format!("`{keyword}` is a File Meta Information attribute (group 0002), not part of the data set"),
                pos,
            )
            .label("header constraints apply to the data set; the transfer syntax is checked by dicom.conformance"),
        ));
    }
    Ok(())
}

/// Attributes whose values identify a person (the directly identifying entries of PS3.15
/// Annex E Table E.1-1, and every person name): never shown in a report, so never usable as a
/// stratum or a group.
pub fn identifying(keyword: &str, tag: Tag) -> bool {
    const KEYWORDS: &[&str] = &[
        "PatientID",
        "PatientName",
        "PatientBirthDate",
        "PatientBirthTime",
        "PatientBirthName",
        "PatientAddress",
        "PatientTelephoneNumbers",
        "PatientMotherBirthName",
        "OtherPatientIDs",
        "OtherPatientIDsSequence",
        "OtherPatientNames",
        "IssuerOfPatientID",
        "MedicalRecordLocator",
        "AccessionNumber",
        "StudyID",
        "InstitutionAddress",
        "ReferringPhysicianAddress",
        "ReferringPhysicianTelephoneNumbers",
        "MilitaryRank",
        "BranchOfService",
        "RegionOfResidence",
        "CountryOfResidence",
        "PatientInsurancePlanCodeSequence",
    ];
    KEYWORDS.contains(&keyword)
        || matches!(vr_of(tag), Some(VR::PN | VR::DA | VR::DT | VR::TM | VR::UI))
}

/// Case-table columns that by their name hold identifiers of people.
pub fn identifying_column(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    [
        "patient",
        "name",
        "mrn",
        "birth",
        "address",
        "phone",
        "accession",
    ]
    .iter()
    .any(|w| n.contains(w))
}

/// Every keyword of the standard dictionary. The dictionary crate exposes lookups but no
/// listing, so the list is gathered once (only when a suggestion is needed) by probing the
/// groups that hold standard attributes.
fn all_keywords() -> &'static [&'static str] {
    static KEYWORDS: OnceLock<Vec<&'static str>> = OnceLock::new();
    KEYWORDS.get_or_init(|| {
        const GROUPS: &[u16] = &[
            0x0002, 0x0008, 0x0010, 0x0012, 0x0014, 0x0018, 0x0020, 0x0022, 0x0024, 0x0028, 0x0032,
            0x0038, 0x003A, 0x0040, 0x0042, 0x0044, 0x0046, 0x0048, 0x0050, 0x0052, 0x0054, 0x0060,
            0x0062, 0x0064, 0x0066, 0x0068, 0x0070, 0x0072, 0x0074, 0x0076, 0x0078, 0x007A, 0x007C,
            0x0080, 0x0082, 0x0088, 0x0100, 0x0400, 0x2000, 0x2010, 0x2020, 0x2030, 0x2040, 0x2050,
            0x2100, 0x2110, 0x2120, 0x2130, 0x2200, 0x3002, 0x3004, 0x3006, 0x3008, 0x300A, 0x300C,
            0x300E, 0x4000, 0x4008, 0x4010, 0x4FFE, 0x5200, 0x5400, 0x5600, 0x7FE0,
        ];
        let mut out: Vec<&'static str> = GROUPS
            .iter()
            .flat_map(|&g| (1..=0xFFFFu16).map(move |e| Tag(g, e)))
            .filter_map(|t| StandardDataDictionary.by_tag(t))
            .filter(|e| e.tag_range().inner().element() != 0)
            .map(|e| e.alias)
            .collect();
        out.sort_unstable();
        out.dedup();
        out
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_keywords_resolve_to_their_tags() {
        // PS3.6: SliceThickness is (0018,0050), PixelSpacing (0028,0030).
        assert_eq!(tag_of("SliceThickness"), Some(Tag(0x0018, 0x0050)));
        assert_eq!(tag_of("PixelSpacing"), Some(Tag(0x0028, 0x0030)));
        assert_eq!(tag_of("Modality"), Some(Tag(0x0008, 0x0060)));
    }

    #[test]
    fn misspelt_keyword_gets_a_suggestion() {
        let d = check_keyword("SliceThicknes", &Pos::default()).unwrap_err();
        assert_eq!(d.code, "unknown-keyword");
        assert_eq!(d.help, vec!["did you mean `SliceThickness`?".to_string()]);
    }
}
