//! Reports: the model (single source of truth), its renderers with the HTML report's inline SVG
//! plots, and the manifest.
pub mod manifest;
pub mod model;
pub mod plots;
pub mod render;

pub use model::Report;
