//! SQL over a warehouse (`esmc sql`, `esmc stats`) and the catalogue of named queries in
//! `sql/queries/`.
//!
//! ```text
//!  <root>/logs/<table>/dt=D/*.parquet ──┐
//!  <root>/samples/dt=D/*.parquet ───────┼─> open(): one DataFusion SessionContext,
//!  <root>/quarantine/<table>/dt=D/ ─────┤   a listing table per directory (dt = partition
//!  <root>/samples/_manifests/*.json ────┘   column, filters on it prune files) + manifests
//!                                            │
//!  sql/queries/*.sql ─> Catalogue ─> NamedQuery::bind(params) ─> SQL ─┘─> batches
//!                                                                   ─> output::write
//! ```
//!
//! [`open`] registers the tables; [`Catalogue`] holds the named queries (embedded in the
//! binary, so it works from any directory) and binds their `${param}`s to validated SQL
//! literals; [`output`] writes results as an aligned table, CSV, JSON lines or Parquet;
//! [`stats`] is the daily health check behind `esmc stats`. Errors are [`SqlError`];
//! a query error carries the position in the query text ([`position`]). Log partitions
//! may also hold CSV and NDJSON files: they are read by the builder's readers
//! (`esmc-logs`) into the same schema (`logs.rs`).

pub mod catalogue;
mod error;
mod logs;
mod manifests;
mod model_metrics;
pub mod output;
pub mod position;
pub mod stats;
mod warehouse;

pub use catalogue::{Catalogue, NamedQuery, Param, ParamKind};
pub use datafusion::prelude::SessionContext;
pub use error::{Result, SqlError};
pub use manifests::manifest_schema;
pub use warehouse::{OpenOptions, TableInfo, collect, describe, open, plan_sql, run_sql};
