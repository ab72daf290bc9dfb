//! The Arrow schemas of every table esmc reads or writes, defined once.
//!
//! ```text
//!   raw logs (exposure, click, micro, cart, wish, purchase) ─┐
//!   dimensions (user, item) ─────────────────────────────────┼─> samples ─> trainer
//! ```
//!
//! Each column is a [`ColumnSpec`]: name, [`ColumnKind`] (what types are accepted and the
//! canonical one esmc writes), whether the contract requires it, and its meaning. The
//! table list follows `shared/spec/semantics.md` §2 (raw tables) and §4-5 (samples).
//! [`validate_schema`] checks a file's or batch's schema against a table and names every
//! offending column with its expected and found type. [`Warehouse`] is the directory
//! layout of §1. [`id_from_str`] is the one mapping of a string ID to the `Int64` esmc
//! carries.

mod column;
pub mod durable;
mod id;
pub mod lock;
mod tables;
mod validate;
mod warehouse;

pub use column::{ColumnKind, ColumnSpec};
pub use id::{hashed_id, id_from_str};
pub use tables::{DMI_ACTIONS, LABEL_COLUMNS, SAMPLES, Table, TableSpec};
pub use validate::{ColumnProblem, SchemaError, validate_batch, validate_schema};
pub use warehouse::{Warehouse, WarehouseError, dt_name, parse_dt_name};
