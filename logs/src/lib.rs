//! Raw log files as esmc reads them, shared by the sample builder (`esmc-pipeline`) and
//! `esmc sql` (`esmc-sql`), so that both read a log file alike.
//!
//! ```text
//!  logs/<table>/dt=D/part-0.parquet ── Format::Parquet: the engine's listing tables
//!  logs/<table>/dt=D/part-0.csv     ─┐ Format::Csv / Format::NdJson: header check,
//!  logs/<table>/dt=D/part-0.ndjson  ─┴─> text_stream: canonical batches of read_schema
//!  any other extension ──────────────── LogError::UnknownFormat (never skipped)
//!  string IDs, in any format ────────── id_from_str, in SQL as esmc_id(x)
//! ```
//!
//! [`Format::of`] decides how a file is read from its extension; [`check_text_file`]
//! checks a CSV/NDJSON file's declared columns against its table's contract;
//! [`read_schema`] is a raw table's schema as read (contract columns, nullable, then
//! `dt` and `parse_error`); [`text_stream`] streams one CSV/NDJSON file in it;
//! [`esmc_id_udf`] is `esmc_id(x)` for DataFusion. Errors are [`LogError`]; a file that
//! cannot be read is a [`TextFileError`], naming the file and line.

mod csv;
mod error;
mod format;
mod id_udf;
mod ndjson;
mod parse;
mod schema;
mod stream;

pub use error::{LogError, TextFileError};
pub use format::Format;
pub use id_udf::{ESMC_ID, esmc_id_udf};
pub use parse::parse_timestamp;
pub use schema::{check_text_file, read_schema};
pub use stream::text_stream;
