//! The trainer: the ESMM / ESM² / HM³ / ESMC model family on libtorch (tch 0.26,
//! libtorch 2.13), following `docs/models.md`.
//!
//! ```text
//! spec (TOML) --resolve--> Resolved (tables, regions, fields)
//! samples/*.parquet --data::Loader--> Batch --models::Model::forward--> Pass (heads, loss)
//!        --optim: dense step + row-wise embedding step-->  checkpoint::save
//! predictions --train::evaluate / metrics--> Evaluation (AUC, GAUC, log loss, ...)
//! ```

pub mod checkpoint;
pub mod config;
pub mod data;
mod doctor;
pub mod embed;
pub mod error;
pub mod history;
mod hugepage;
pub mod metrics;
pub mod models;
pub mod nn;
pub mod optim;
mod rng;
pub mod spec;
pub mod team;
pub mod train;

pub use config::{Constraint, ModelKind, TrainConfig};
pub use doctor::{TorchReport, torch_report};
pub use error::{Result, TrainerError};
pub use spec::FeatureSpec;
/// The tch version the trainer is built on, for benchmarks and tools that drive it.
pub use tch;
pub use train::{Evaluation, Predictions, Trainer, evaluate};
