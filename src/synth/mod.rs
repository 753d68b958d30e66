//! Synthetic, seeded test data (DICOM written with dicom-object, case tables, predictions).
