//! esmc-sql against a fixed small simulated warehouse (built once per run, see
//! `fixture`): the `.slt` files, partition pruning and the daily health check.

mod fixture;
mod pruning;
mod slt;
mod stats;
