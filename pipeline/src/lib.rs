//! The sample builder: raw logs → sessionized, attributed, calibrated entire-space
//! samples, one partition per day.
//!
//! ```text
//!  logs/<table>/dt=D-1..D+W ──validate files──> DataFusion: clean (quarantine, dedupe)
//!        │                   (build/plan.rs,     └─> union + sort by (user, ts, kind)
//!        │                    build/read.rs,         (sql/builder/events.sql)
//!        v                    build/clean.rs)
//!  attribute.rs: sessions, clicks, post-click events, purchases, psc, calibration
//!        v  (build/label.rs feeds it user by user)
//!        v  labelled samples spilled to a Parquet file in the staged partition
//!        v  (build/sink.rs)
//!  DataFusion: join user/item snapshots, sort by sample_id (sql/builder/samples.sql)
//!        v  <── feature columns (features/: DataFusion + as-of merges over the logs
//!        v       of D-H..D, strictly before each exposure; the events sorted on disk
//!        v       when they outgrow the stage's budget, external.rs), spilled to an
//!        v       Arrow IPC file and read back as the samples are written
//!  samples/dt=D/ (staged, swapped in atomically; build/output.rs, write.rs)
//!        + samples/_manifests/dt=D.json (manifest.rs)
//! ```
//!
//! Log files are read by `esmc-logs` (Parquet, CSV, NDJSON), as `esmc sql` reads them.
//! Progress is reported through [`esmc_schemas::Progress`], re-exported here.

pub mod attribute;
mod build;
mod config;
mod error;
mod external;
mod features;
mod manifest;
mod nightly;
pub mod partitioned;
mod write;

pub use build::{BuildOptions, BuildReport, Builder};
pub use config::{BuildConfig, Calibration, FeatureConfig};
pub use error::BuildError;
pub use esmc_logs::{ESMC_ID, Format, TextFileError, esmc_id_udf, read_schema, text_stream};
pub use esmc_schemas::{NoProgress, Progress};
pub use manifest::{InputFile, Manifest};
pub use nightly::{Decision, NightlyDay};
