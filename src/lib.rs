//! attest: turns medical-imaging AI requirements into checkable, audit-ready evidence.
//!
//! The library holds everything testable without a process; `main.rs` only parses arguments,
//! prints and maps outcomes to exit codes. Arrows point one way:
//! `run → checks → stats`, `checks → data`, `run → report`; `stats` imports nothing of ours.

pub mod checks;
pub mod data;
pub mod model;
pub mod report;
pub mod run;
pub mod spec;
pub mod stats;
pub mod synth;
