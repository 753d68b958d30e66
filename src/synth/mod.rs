//! Synthetic, seeded test data: CT instances written with dicom-object, deliberately broken
//! files, the demo dataset (DICOM, case table, predictions) and bulk data for benchmarks.
//!
//! Nothing here comes from a patient. Every value derives from a seed: UIDs through
//! [`synthetic_uid`], everything else through one ChaCha8 stream per dataset, so the same seed
//! writes byte-identical files on any machine (no clock, no hash-map order, no thread count).
//! Tests build fixtures with [`CtInstance`] (one field changed from the default) and write them
//! with [`write_ct`]; `examples/gen_testdata.rs` calls [`write_demo`], [`write_bulk`],
//! [`write_detection`] and [`write_segmentation`];
//! `examples/train_nodule_cnn.rs` calls [`write_nodule_slices`]. Masks are written as NIfTI
//! ([`write_mask`], [`write_label_nifti`]) and as DICOM Segmentations ([`SegInstance`]).

mod annotation;
mod broken;
mod bulk;
mod ct;
mod defects;
mod deid;
mod demo;
mod detection;

mod nifti;
mod pipeline;
mod seg;
mod segmentation;
mod training;
mod uid;

use std::path::PathBuf;

pub use annotation::{write_demo_labels, LabelCase, LabelSummary};
pub use broken::{truncated_bytes, write_empty, write_not_dicom, write_truncated, NOT_DICOM_TEXT};
pub use bulk::{write_bulk, BulkSummary};
pub use ct::{
    ds, encode, write_ct, CtInstance, HeaderProfile, Nodule, CT_IMAGE_STORAGE, MR_IMAGE_STORAGE,
};
pub use defects::{planted, write_conformance_fixtures, Planted};
pub use deid::{deidentify, method_code, BASIC_PROFILE_REMOVALS};
pub use demo::{
    remove_demo, write_demo, Defect, DefectKind, DemoSummary, SiteSummary, DEFECTS_FILE, DEMO_SEED,
};
pub use detection::{write_detection, DetectionSummary};
pub use nifti::write_mask;
pub use pipeline::{write_pipeline_fixtures, PIPELINE_SEED, PIPELINE_SLICE_SPACING};
pub use seg::{
    ds16, write_seg, Code, SegInstance, SegSegment, ALTERED_STRUCTURE, ANATOMICAL_STRUCTURE,
    LESION, LIVER,
};
pub use segmentation::{
    write_label_nifti, write_segmentation, SegmentationSummary, SEGMENTATION_CASES,
    SEGMENTATION_DIMS, SEGMENTATION_SPACING,
};
pub use training::{write_nodule_slices, LabelledSlice, HELDOUT_SEED, LABELS_FILE, TRAINING_SEED};
pub use uid::{synthetic_uid, IMPLEMENTATION_CLASS_UID, IMPLEMENTATION_VERSION_NAME, UID_ROOT};

/// Why synthetic data could not be written.
#[derive(Debug, thiserror::Error)]
pub enum SynthError {
    /// dicom-object refused the file meta group (never expected with the values set here).
    #[error("cannot build the DICOM object for SOP instance {uid}")]
    Build {
        uid: String,
        source: Box<dicom_object::WithMetaError>,
    },
    /// dicom-object could not encode the object.
    #[error("cannot encode SOP instance {uid}")]
    Encode {
        uid: String,
        source: Box<dicom_object::WriteError>,
    },
    #[error("cannot write {}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The output folder is not empty (and holds no previous demo output to replace);
    /// nothing was changed.
    #[error("{} is not empty; choose an empty folder", path.display())]
    NotEmpty { path: PathBuf },
}
