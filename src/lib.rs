//! What the two executables share: the commands that need no libtorch (`cli::Local`),
//! run by `esmc` itself, and the pieces `esmc-torch` (the commands that train, evaluate
//! or load models) builds on. This crate does not depend on `esmc-trainer`, so `esmc`
//! does not link libtorch, whose start-up (its operators registering themselves) costs
//! about 0.3 s of CPU at every start (`docs/architecture.md`, "Two executables").

pub mod build;
pub mod cli;
pub mod cluster;
pub mod error;
pub mod import;
pub mod logging;
pub mod progress;
pub mod simulate;
pub mod sql;
