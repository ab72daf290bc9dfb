//! The sample builder: raw logs → sessionized, attributed, calibrated entire-space
//! samples, one partition per day (`shared/spec/semantics.md` §3-§7).
//!
//! ```text
//!  logs/<table>/dt=D-1..D+W ──validate files──> DataFusion: clean (quarantine, dedupe)
//!        │                                        └─> union + sort by (user, ts, kind)
//!        v                                               (sql/builder/events.sql)
//!  attribute.rs: sessions, clicks, post-click events, purchases, psc, calibration
//!        v
//!        v  labelled samples spilled to a Parquet file in the staged partition
//!  DataFusion: join user/item snapshots, sort by sample_id (sql/builder/samples.sql)
//!        v  <── feature columns (features.rs: DataFusion + as-of merges over the logs
//!        v       of D-H..D, strictly before each exposure; spec §8; the events sorted
//!        v       on disk when they outgrow the stage's budget, external.rs), spilled
//!        v       to an Arrow IPC file and read back as the samples are written
//!  samples/dt=D/ (staged, swapped in atomically) + samples/_manifests/dt=D.json
//! ```

pub mod attribute;
mod build;
mod config;
mod external;
mod features;
mod formats;
mod ids;
mod manifest;
mod nightly;
mod write;

pub use build::{BuildOptions, BuildReport, Builder};
pub use config::{BuildConfig, Calibration};
pub use features::FeatureConfig;

pub use formats::{Format, TextFileError, read_schema, text_stream};
pub use ids::{ESMC_ID, esmc_id_udf};
pub use manifest::{InputFile, Manifest};
pub use nightly::{Decision, NightlyDay};

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

/// Progress of a build, reported stage by stage. Libraries never print: the CLI shows it.
///
/// Stages, in order: `checking inputs` (files), `cleaning` (event tables), `attributing`
/// (events of the sorted union), `features` (steps; only when features are on),
/// `writing` (sample rows).
pub trait Progress: Sync {
    /// A new stage of the build of `day` starts.
    fn stage(&self, day: chrono::NaiveDate, stage: &str);

    /// How far the current stage of `day` is: `pos` of `len` `unit`s (`files`, `tables`,
    /// `events`, `steps`, `rows`). Every stage reports `pos` 0 first and `pos` = `len`
    /// last (a build that fails stops where it is); within a stage `pos` never decreases
    /// and never exceeds `len`, which is the stage's real count known up front. Reported
    /// per file, table or batch, never per row. Default: ignored (a caller showing only
    /// the stage names needs nothing more).
    fn position(&self, day: chrono::NaiveDate, pos: u64, len: u64, unit: &str) {
        let _ = (day, pos, len, unit);
    }
}

/// A [`Progress`] that reports nothing.
pub struct NoProgress;

impl Progress for NoProgress {
    fn stage(&self, _: chrono::NaiveDate, _: &str) {}
}
