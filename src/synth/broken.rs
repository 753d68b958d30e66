//! Deliberately broken files for testing how readers fail: a Part 10 file cut off inside its
//! data set, a text file named `.dcm`, and a zero-length `.dcm`.
//!
//! These are the three ways an export folder most often holds an unreadable "DICOM" file: an
//! interrupted transfer, a log or note saved with the wrong extension, and a file created but
//! never written. A reader that stops at Pixel Data must still fail on the truncated file, so
//! the cut falls inside an element of the header, before Pixel Data, never on an element
//! boundary (where a lenient parser could take it for the end of the data set).

use std::path::Path;

use dicom_dictionary_std::tags;
use dicom_object::InMemDicomObject;

use super::ct::{encode, write_bytes, CtInstance};
use super::SynthError;

/// The text written by [`write_not_dicom`].
pub const NOT_DICOM_TEXT: &str = "Export log (synthetic)\n\
2024-06-12 09:30:00 export started: 2 instances\n\
2024-06-12 09:30:01 export failed: destination full\n";

/// The Part 10 bytes of `inst` cut in the middle of the element found halfway through the
/// header part of its data set (the elements before Pixel Data).
///
/// The result keeps the preamble, `DICM` and the whole file meta group, so a reader recognises
/// the file as DICOM and fails only while parsing the data set.
pub fn truncated_bytes(inst: &CtInstance) -> Result<Vec<u8>, SynthError> {
    let full = inst.to_object()?;
    let bytes = encode(&full)?;
    // Byte offset where the element with `tag` starts: the length of the file holding only
    // the elements before it (elements are written in ascending tag order, PS3.5 §7.1).
    let prefix_len = |stop: dicom_core::Tag| -> Result<usize, SynthError> {
        let elements = full.iter().filter(|e| e.header().tag < stop).cloned();
        let part =
            InMemDicomObject::from_element_iter(elements).with_exact_meta(full.meta().clone());
        Ok(encode(&part)?.len())
    };
    let dataset_start = prefix_len(dicom_core::Tag(0x0000, 0x0000))?;
    let pixel_start = prefix_len(tags::PIXEL_DATA)?;
    let middle = dataset_start + (pixel_start - dataset_start) / 2;
    // The element that spans `middle`: the last whose start is at or before it.
    let mut cut = middle;
    let mut previous_start = dataset_start;
    for element in full.iter() {
        let tag = element.header().tag;
        let start = prefix_len(tag)?;
        if start > middle {
            let end = start;
            // Halfway into the element, never at its first byte or its end: at least past
            // the tag (4 bytes), so the reader has started the element and cannot finish it.
            cut = previous_start + ((end - previous_start) / 2).max(5);
            break;
        }
        previous_start = start;
    }
    debug_assert!(dataset_start < cut && cut < pixel_start);
    Ok(bytes[..cut].to_vec())
}

/// Writes [`truncated_bytes`] of `inst` to `path`; returns the number of bytes written.
pub fn write_truncated(inst: &CtInstance, path: &Path) -> Result<u64, SynthError> {
    let bytes = truncated_bytes(inst)?;
    write_bytes(path, &bytes)?;
    Ok(bytes.len() as u64)
}

/// Writes a short plain-text file (not DICOM, no preamble or `DICM`) to `path`.
pub fn write_not_dicom(path: &Path) -> Result<u64, SynthError> {
    write_bytes(path, NOT_DICOM_TEXT.as_bytes())?;
    Ok(NOT_DICOM_TEXT.len() as u64)
}

/// Writes a zero-length file to `path`.
pub fn write_empty(path: &Path) -> Result<u64, SynthError> {
    write_bytes(path, &[])?;
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use dicom_object::OpenFileOptions;

    #[test]
    fn truncated_file_keeps_its_meta_and_fails_in_the_header() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cut.dcm");
        let inst = CtInstance::default();
        let written = write_truncated(&inst, &path).unwrap();
        let full = encode(&inst.to_object().unwrap()).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        assert_eq!(bytes.len() as u64, written);
        assert!(bytes.len() < full.len() - 512, "cut before pixel data");
        assert_eq!(&bytes[..], &full[..bytes.len()]);
        assert_eq!(&bytes[128..132], b"DICM");
        // Neither a full read nor a header-only read succeeds.
        assert!(dicom_object::open_file(&path).is_err());
        let header_only = OpenFileOptions::new()
            .read_until(tags::PIXEL_DATA)
            .open_file(&path);
        assert!(header_only.is_err());
    }

    #[test]
    fn truncation_is_inside_an_element_for_full_headers_too() {
        let inst = CtInstance {
            profile: super::super::ct::HeaderProfile::Full,
            ..CtInstance::default()
        };
        let bytes = truncated_bytes(&inst).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cut.dcm");
        std::fs::write(&path, &bytes).unwrap();
        let header_only = OpenFileOptions::new()
            .read_until(tags::PIXEL_DATA)
            .open_file(&path);
        assert!(header_only.is_err());
    }

    #[test]
    fn text_and_empty_files_are_not_dicom() {
        let dir = tempfile::tempdir().unwrap();
        let text = dir.path().join("log.dcm");
        let empty = dir.path().join("empty.dcm");
        write_not_dicom(&text).unwrap();
        write_empty(&empty).unwrap();
        assert_eq!(std::fs::metadata(&empty).unwrap().len(), 0);
        assert!(std::fs::read_to_string(&text)
            .unwrap()
            .starts_with("Export log"));
        assert!(dicom_object::open_file(&text).is_err());
        assert!(dicom_object::open_file(&empty).is_err());
    }
}
