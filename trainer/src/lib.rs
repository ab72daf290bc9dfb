//! The trainer: the ESMM / ESM² / HM³ / ESMC model family on libtorch (tch 0.26,
//! libtorch 2.13), following `shared/spec/models.md`.
//!
//! Today it holds the libtorch health check that `esmc doctor` and the test suite run to
//! prove the set-up (libtorch found at build and at run time, autograd and an optimizer
//! working). The models come with issue 6, incremental training with issue 7.

mod doctor;

pub use doctor::{TorchReport, TrainerError, torch_report};
