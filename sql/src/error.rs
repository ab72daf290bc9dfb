//! The one error type of the crate. Variants say whose fault it is: the query's
//! (`Query`, `UnknownQuery`, the parameter variants), the warehouse's (`Io`, `Manifest`,
//! `LogFile`) or ours (`Internal`).

use crate::position::Position;
use datafusion::error::DataFusionError;
use esmc_logs::LogError;
use std::path::PathBuf;

pub type Result<T, E = SqlError> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum SqlError {
    /// The query failed to parse, plan or run; `position` points into `sql` when the
    /// engine said where.
    #[error("{message}")]
    Query {
        message: String,
        sql: String,
        position: Option<Position>,
        #[source]
        source: DataFusionError,
    },
    /// `--query NAME` names no catalogue query.
    #[error("unknown query `{name}` (queries: {known})")]
    UnknownQuery { name: String, known: String },
    /// A `--param` the query does not declare.
    #[error("query `{query}` has no parameter `{param}` (parameters: {known})")]
    UnknownParam {
        query: String,
        param: String,
        known: String,
    },
    /// A parameter without a default was not given.
    #[error("query `{query}` needs parameter `{param}` ({doc})")]
    MissingParam {
        query: String,
        param: String,
        doc: String,
    },
    /// A parameter value that does not parse as its kind.
    #[error("parameter `{param}` of query `{query}`: `{value}` is not {expected}")]
    BadParam {
        query: String,
        param: String,
        value: String,
        expected: &'static str,
    },
    /// A `--param` not written as `name=value`.
    #[error("parameter `{0}` is not of the form name=value")]
    ParamSyntax(String),
    /// `esmc stats` on a day without built samples.
    #[error("no samples for dt {dt}: build the day first (esmc build --dt {dt})")]
    NoSamples { dt: chrono::NaiveDate },
    /// The file system refused (wrong root, permissions).
    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A log file the query reads cannot be read: a CSV/NDJSON file without a required
    /// column or with a malformed line (`TextFile`), a file of no known format
    /// (`UnknownFormat`). The log reader's own error (shared with the builder), naming
    /// the file (and line).
    #[error(transparent)]
    LogFile(esmc_logs::LogError),
    /// A manifest file that is not the JSON the builder writes.
    #[error("manifest {path}: {message}")]
    Manifest { path: PathBuf, message: String },
    /// Writing results failed (closed pipe, full disk).
    #[error("cannot write results: {0}")]
    Output(String),
    /// The engine failed outside a query: registering a table over a directory whose
    /// files it cannot read.
    #[error("{0}")]
    Engine(#[from] DataFusionError),
    /// Our bug: a catalogue file with a malformed header.
    #[error("internal error: {0}")]
    Internal(String),
}

impl SqlError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        SqlError::Io {
            path: path.into(),
            source,
        }
    }

    /// An engine error while running `sql`, located in it when the engine says where;
    /// a log file's error raised inside the engine becomes [`SqlError::LogFile`].
    pub(crate) fn query(source: DataFusionError, sql: &str) -> Self {
        if let Some(e) = log_file_error(&source) {
            return SqlError::LogFile(e);
        }
        let position = crate::position::locate(&source, sql);
        SqlError::Query {
            message: source.to_string(),
            sql: sql.to_string(),
            position,
            source,
        }
    }

    /// The query text with a caret under the error position, when there is one.
    pub fn snippet(&self) -> Option<String> {
        match self {
            SqlError::Query {
                sql,
                position: Some(p),
                ..
            } => Some(p.render(sql)),
            _ => None,
        }
    }
}

/// The log file error (the CSV/NDJSON reader's, or the format check in `logs.rs`)
/// somewhere in `e`'s chain of causes, if there is one.
fn log_file_error(e: &DataFusionError) -> Option<LogError> {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(c) = cause {
        if let Some(text) = c.downcast_ref::<esmc_logs::TextFileError>() {
            return Some(LogError::TextFile(text.clone()));
        }
        if let Some(LogError::UnknownFormat { path }) = c.downcast_ref::<LogError>() {
            return Some(LogError::UnknownFormat { path: path.clone() });
        }
        cause = c.source();
    }
    None
}

impl From<arrow::error::ArrowError> for SqlError {
    fn from(e: arrow::error::ArrowError) -> Self {
        SqlError::Output(e.to_string())
    }
}
