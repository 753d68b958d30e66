//! Synthetic, seeded test data: DICOM written with dicom-object, case tables, predictions.
//!
//! Nothing here comes from a patient. Every value derives from a seed through ChaCha8, so the
//! same seed writes byte-identical files on any machine; the demo data in `testdata/demo/` and
//! the benchmark data are both written by this module (`examples/gen_testdata.rs`).

mod ct;
mod demo;

pub use ct::{
    synthetic_uid, write_empty, write_not_dicom, write_truncated, CtInstance, CT_IMAGE_STORAGE,
    MR_IMAGE_STORAGE,
};
pub use demo::{write_bulk, write_demo, DemoSummary, DEMO_SEED};
