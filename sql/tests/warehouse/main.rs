//! esmc-sql against a fixed small simulated warehouse (built once per run, see
//! `fixture`): the `.slt` files, partition pruning and the daily health check; and log
//! tables written as CSV, NDJSON and mixes of formats (`formats`, its own warehouses).

mod fixture;
mod formats;
mod pruning;
mod slt;
mod stats;
mod string_ids;
