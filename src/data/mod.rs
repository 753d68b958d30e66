//! Reference data: the DICOM index, case tables, predictions, and the DICOM dictionary.
pub mod detections;
pub mod dicom_index;
pub mod dictionary;
pub mod gzip;
pub mod hash;
pub mod inventory;
pub mod iod;
pub mod labels;
pub mod lengths;
pub mod masks;
pub mod nifti_out;
pub mod pixels;
pub mod predictions;
pub mod pseudonym;
pub mod seg;
pub mod table;
pub mod vr;
