//! Candidate models that attest runs itself, rather than reading their outputs from a file:
//! vendor programs behind a documented line protocol (`command`). Their outputs feed the
//! checks exactly as prediction files do.

pub mod command;
pub mod pipeline;
