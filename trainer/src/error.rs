//! The trainer's error type: whose fault it is (the user's spec, the data, libtorch, I/O).
//!
//! A variant that wraps another error names only its own context (the file, `libtorch`)
//! and returns the wrapped error as its `source()`: printing the chain (`{:#}` of
//! anyhow, the binary's error printer) shows each cause once.

use std::path::PathBuf;

/// Errors of the trainer crate.
#[derive(Debug, thiserror::Error)]
pub enum TrainerError {
    /// libtorch itself failed (the environment's fault or ours).
    #[error("libtorch")]
    Torch(#[from] tch::TchError),
    /// The feature spec is wrong: the message names the field and what is wrong with it.
    #[error("feature spec: {0}")]
    Spec(String),
    /// The training config (model name, preset, options) is wrong.
    #[error("config: {0}")]
    Config(String),
    /// A sample file does not fit the spec (missing column, wrong type).
    #[error("{path}: {message}")]
    Data { path: PathBuf, message: String },
    /// Reading Parquet failed.
    #[error("{path}")]
    Parquet {
        path: PathBuf,
        #[source]
        source: parquet::errors::ParquetError,
    },
    /// A file could not be read or written.
    #[error("{path}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// Nothing to train or evaluate on (no sample partitions in the range).
    #[error("no samples: {0}")]
    NoSamples(String),
}

impl TrainerError {
    pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.into();
        move |source| TrainerError::Io { path, source }
    }
}

/// Result alias of the trainer crate.
pub type Result<T, E = TrainerError> = std::result::Result<T, E>;
