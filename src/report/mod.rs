//! Reports: the model (single source of truth), its renderers, and the manifest.
pub mod manifest;
pub mod model;
pub mod render;

pub use model::Report;
