//! The Arrow schemas of every table esmc reads or writes, defined once.
//!
//! ```text
//!   raw logs (exposure, click, micro, cart, wish, purchase) ─┐
//!   dimensions (user, item) ─────────────────────────────────┼─> samples ─> trainer
//! ```
//!
//! Each column is a [`ColumnSpec`]: name, [`ColumnKind`] (what types are accepted and the
//! canonical one esmc writes), whether the contract requires it, and its meaning. The
//! table list follows the label contract, `docs/labels.md` (raw tables, samples).
//! [`validate_schema`] checks a file's or batch's schema against a table and names every
//! offending column with its expected and found type. [`Warehouse`] is the directory
//! layout of docs/labels.md. [`id_from_str`] is the one mapping of a string ID to the `Int64` esmc
//! carries. [`names`] defines once every name the crates share (labels, psc cases,
//! SQL tables); [`time`] the microsecond day; [`Progress`] the libraries' one progress
//! abstraction.

mod column;
pub mod durable;
mod id;
pub mod lock;
pub mod names;
mod progress;
mod tables;
pub mod time;
mod validate;
mod warehouse;

pub use column::{ColumnKind, ColumnSpec};
pub use id::{fnv1a64, hashed_id, id_from_str, mix64};
pub use names::{BAD_CASE, Label, PSC_CASE, PscCase, SqlTable};
pub use progress::{NoProgress, Progress};
pub use tables::{DMI_ACTIONS, LABEL_COLUMNS, SAMPLES, Table, TableSpec};
pub use validate::{ColumnProblem, SchemaError, validate_batch, validate_schema};
pub use warehouse::{Warehouse, WarehouseError, dt_name, parse_dt_name};
