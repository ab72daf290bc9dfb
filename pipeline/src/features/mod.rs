//! Leak-free behaviour features: trailing-window statistics of items,
//! categories, users and user × category, the item-in-cart flag, times since the user
//! last clicked or carted the item, and the user's last clicked items and categories.
//!
//! Every value of a sample is computed from events strictly before the sample's exposure
//! time `t`: the complete log partitions of the days before D (aggregated by DataFusion)
//! plus the events of D's own partition with `ts < t` (as-of merges here). Nothing of
//! the exposure itself or after it can reach its features.
//!
//! ```text
//!  logs/{exposure,click,cart,purchase}/dt=D-H..D ── DataFusion: clean, dedupe, join the
//!       │                                         item snapshot (category), tag each row
//!       │                                         with its partition's age (D = 0)
//!       ├─ age >= 1: GROUPING SETS (item), (category), (user), (user, category)
//!       │            → counts per trailing window, sorted by key, one Arrow IPC file
//!       │              per grouping set                (sql/builder/features_prior.sql)
//!       └─ age = 0, and clicks/carts/purchases of every age, streamed into external
//!          sorts (`external.rs`: bounded runs, merged on disk when the day outgrows
//!          them) by (key, ts) per entity, (user, item) and the user's clicks
//!          (events.rs; the prior counts: prior.rs)
//!                       v
//!  the samples' keys in sample_id order (spilled), then chunk by chunk of samples:
//!  per entity, one as-of merge (backward, strictly before t) of the chunk sorted by
//!  (key, ts) with a pass over the sorted events and the prior rows
//!          - item, category, user, (user, category): D's running counts + prior counts
//!                                                       (windows.rs)
//!          - (user, item) clicks, carts, purchases    → in-cart flag, recency
//!                                                       (recency.rs)
//!          - the user's clicks                        → last N clicked items
//!                                                       (sequences.rs)
//!       v
//!  the chunk's feature columns, in sample_id order, appended to one Arrow IPC spill
//!  file (the click sequences as ranges of the chunk's arena, in a second one), read
//!  back and zipped onto the samples as they are written (compute.rs, spill.rs)
//! ```
//!
//! Memory is bounded by a budget (`BuildOptions::feature_memory`, by default half the
//! engine's pool), not by the day: the sorts hold at most half of it in runs, and a
//! chunk of the merges gets 1 KiB of it per sample. A day larger than one chunk costs
//! one more pass over the sorted events per chunk (sequential reads of files the page
//! cache mostly holds).

//! A window of `w` days at exposure time `t` on day D covers the partitions D-w..D-1 and
//! the events of D before `t`.
//!
//! The days before D come from daily aggregates (`store.rs`, kept under
//! `features/daily/dt=X/` and computed once per day by `build/daily.rs`): per day the
//! counts per entity key and the clicks, carts and purchases. A build of D rolls the
//! prior state the build of D-1 kept (`rolled.rs`: D-1's counts in, the days leaving the
//! windows out), or sums the counts of the days in each window (`daily.rs`), and streams
//! the days' clicks, carts and purchases into the sorts with D's events, so only D's own raw logs are read and the
//! history costs a few small files per day; the columns are the same bytes as the
//! from-scratch path above (`Builder::features_from_scratch`,
//! `ESMC_FEATURES_FROM_SCRATCH=1`). The history's raw files are inputs in D's manifest:
//! a late file of an older day recomputes that day's aggregate and rebuilds the days
//! whose history holds it.

pub(crate) mod categories;
mod compute;
mod daily;
mod events;
mod prior;
mod recency;
pub(crate) mod rolled;
mod sequences;
mod spill;
pub(crate) mod store;
mod windows;

pub(crate) use compute::compute;
pub(crate) use daily::sum_prior;
pub(crate) use events::sort_events;
pub(crate) use prior::{COUNTERS, Prior, split_prior};
pub(crate) use spill::{FeatureTable, spill_targets};

use crate::BuildError;
use crate::attribute::Kind;
use arrow::array::{Array, AsArray, Int64Array, RecordBatch};
use std::time::Instant;

/// Event kinds as the feature SQL tags them: the attribution's codes, as `events.sql`
/// tags the event union.
pub(crate) const EXPOSURE: i32 = Kind::Exposure as i32;
pub(crate) const CLICK: i32 = Kind::Click as i32;
pub(crate) const CART: i32 = Kind::Cart as i32;
pub(crate) const PURCHASE: i32 = Kind::Purchase as i32;

/// `ESMC_TRACE_FEATURES=1`: prints the time of each step to stderr.
pub(crate) fn trace(what: &str, since: Instant) {
    if std::env::var_os("ESMC_TRACE_FEATURES").is_some() {
        let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
        let kib = |key: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(key))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
                .unwrap_or(0)
        };
        eprintln!(
            "features: {what:<28} {:>8.3} s  rss {:>6} MiB  peak {:>6} MiB",
            since.elapsed().as_secs_f64(),
            kib("VmRSS:") / 1024,
            kib("VmHWM:") / 1024
        );
    }
}

/// Column `name` of a batch of input `what`, as `T`.
fn column<'b, T: arrow::datatypes::ArrowPrimitiveType>(
    batch: &'b RecordBatch,
    what: &str,
    name: &str,
) -> Result<&'b arrow::array::PrimitiveArray<T>, BuildError> {
    let c = batch
        .column_by_name(name)
        .ok_or_else(|| BuildError::Internal(format!("feature {what}: no column {name}")))?;
    c.as_primitive_opt::<T>()
        .ok_or_else(|| BuildError::Internal(format!("feature {what}: {name} is {}", c.data_type())))
}

/// The value of row `r`, `None` when null.
fn opt(a: &Int64Array, r: usize) -> Option<i64> {
    a.is_valid(r).then(|| a.value(r))
}

/// A reader of the Parquet file at `path` (a daily aggregate's file).
fn parquet_reader(
    path: &std::path::Path,
) -> Result<parquet::arrow::arrow_reader::ParquetRecordBatchReader, BuildError> {
    let file = std::fs::File::open(path).map_err(|e| BuildError::io(path, e))?;
    let bad = |e| BuildError::BadFile {
        path: path.to_path_buf(),
        source: e,
    };
    parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file)
        .map_err(bad)?
        .build()
        .map_err(bad)
}
