//! Why a log file cannot be read. Every variant is the input's fault but `Internal`.

use std::path::{Path, PathBuf};

/// A log file that cannot be read as its table.
#[derive(Debug, thiserror::Error)]
pub enum LogError {
    /// A file whose extension is none of the accepted formats: never skipped silently.
    #[error("{path}: unsupported log file format (expected .parquet, .csv, .ndjson or .jsonl)")]
    UnknownFormat { path: PathBuf },
    /// A CSV or NDJSON file that does not declare its table's required columns.
    #[error("{path}: {source}")]
    Schema {
        path: PathBuf,
        #[source]
        source: esmc_schemas::SchemaError,
    },
    /// A CSV or NDJSON file that cannot be read: empty CSV, malformed line.
    #[error(transparent)]
    TextFile(#[from] TextFileError),
    /// A bug in esmc.
    #[error("internal error (a bug in esmc): {0}")]
    Internal(String),
}

/// A CSV or NDJSON file that cannot be read: the input's fault. Cloneable, so that it
/// survives the engine's error wrapping on its way back from a reader thread.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}: {}{message}", path.display(), line.map(|l| format!("line {l}: ")).unwrap_or_default())]
pub struct TextFileError {
    pub path: PathBuf,
    /// 1-based line of the problem, when it has one.
    pub line: Option<u64>,
    pub message: String,
}

pub(crate) fn text_err(path: &Path, line: Option<u64>, message: impl ToString) -> TextFileError {
    TextFileError {
        path: path.to_path_buf(),
        line,
        message: message.to_string(),
    }
}
