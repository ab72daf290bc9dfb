//! Why a build failed: [`BuildError`], whose variants name whose fault it is, and the
//! conversions from the errors of the log reader, the warehouse and the engine.

use esmc_logs::{LogError, TextFileError};
use std::path::{Path, PathBuf};

/// Why a build failed. Variants name whose fault it is.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// An input file does not match its table's contract (the input's fault).
    #[error("{path}: {source}")]
    Schema {
        path: PathBuf,
        #[source]
        source: esmc_schemas::SchemaError,
    },
    /// An input file cannot be read as Parquet: empty, truncated, not Parquet.
    #[error("{path}: not a readable Parquet file: {source}")]
    BadFile {
        path: PathBuf,
        #[source]
        source: parquet::errors::ParquetError,
    },
    /// An input file whose extension is none of the accepted formats (the input's fault):
    /// never skipped silently.
    #[error("{path}: unsupported log file format (expected .parquet, .csv, .ndjson or .jsonl)")]
    UnknownFormat { path: PathBuf },
    /// A CSV or NDJSON input file that cannot be read: empty CSV, malformed line (the
    /// input's fault). Values that do not parse are not file errors: their rows go to
    /// quarantine.
    #[error(transparent)]
    BadTextFile(#[from] TextFileError),
    /// Too many rows of a table were rejected (the input's fault).
    #[error(
        "table `{table}` of {day}: {rejected} of {rows} rows rejected ({:.2}%, max {:.2}%); see {quarantine}",
        100.0 * *rejected as f64 / *rows as f64, 100.0 * max_rate
    )]
    TooManyRejects {
        table: &'static str,
        day: chrono::NaiveDate,
        rejected: u64,
        rows: u64,
        max_rate: f64,
        quarantine: PathBuf,
    },
    /// There is nothing to build: no exposures for the day (the caller's fault).
    #[error("no exposure logs for {day} under {dir}")]
    NoInput {
        day: chrono::NaiveDate,
        dir: PathBuf,
    },
    /// A label invariant broke: a bug in esmc, never written out.
    #[error(
        "label invariant broken (a bug in esmc): sample {sample_id} has {label}=1 without a click"
    )]
    Invariant { sample_id: i64, label: &'static str },
    /// Another job builds the same day (run again later, or with `--wait`).
    #[error(transparent)]
    Busy(esmc_schemas::lock::LockError),
    /// An entry of a log table's directory that is not a `dt=YYYY-MM-DD` partition (the
    /// input's fault): never skipped silently.
    #[error("{path}: not a partition directory of the table (expected dt=YYYY-MM-DD)")]
    BadPartition { path: PathBuf },
    /// The file system refused (the environment's fault).
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The query engine failed.
    #[error("query engine: {0}")]
    Engine(datafusion::error::DataFusionError),
    /// The cluster a build runs on cannot be reached or refused the work (the
    /// environment's fault).
    #[error("on the cluster")]
    Cluster(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// The build config is invalid (the caller's fault).
    #[error("build config: {0}")]
    Config(String),
    /// The feature stage cannot represent the day (a limit of its formats).
    #[error("feature stage: {0}")]
    Features(String),
    /// A bug in esmc.
    #[error("internal error (a bug in esmc): {0}")]
    Internal(String),
}

impl BuildError {
    pub(crate) fn io(path: &Path, source: std::io::Error) -> Self {
        BuildError::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}

/// The log reader's errors keep the builder's variants (and messages).
impl From<LogError> for BuildError {
    fn from(e: LogError) -> Self {
        match e {
            LogError::UnknownFormat { path } => BuildError::UnknownFormat { path },
            LogError::Schema { path, source } => BuildError::Schema { path, source },
            LogError::TextFile(text) => BuildError::BadTextFile(text),
            LogError::Internal(message) => BuildError::Internal(message),
        }
    }
}

impl From<esmc_schemas::WarehouseError> for BuildError {
    fn from(e: esmc_schemas::WarehouseError) -> Self {
        match e {
            esmc_schemas::WarehouseError::Io { path, source } => BuildError::Io { path, source },
        }
    }
}

impl From<datafusion::error::DataFusionError> for BuildError {
    /// Unwraps the input errors raised inside the engine (by the CSV/NDJSON readers), so
    /// that they keep naming the file and line.
    fn from(e: datafusion::error::DataFusionError) -> Self {
        let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(&e);
        while let Some(c) = cause {
            if let Some(text) = c.downcast_ref::<TextFileError>() {
                return BuildError::BadTextFile(text.clone());
            }
            cause = c.source();
        }
        BuildError::Engine(e)
    }
}
