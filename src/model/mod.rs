//! Candidate models that attest runs itself, rather than reading their outputs from a file:
//! vendor programs behind a documented line protocol (`command`). Their outputs feed the
//! checks exactly as prediction files do. Models whose architecture attest implements itself
//! (a ResNet classifier, a 2D UNet) run in-process on burn (`burn`), weights read at run time.

pub mod burn;
pub mod command;
pub mod perturb;
pub mod pipeline;
