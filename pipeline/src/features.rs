//! Leak-free behaviour features (spec §8): trailing-window statistics of items,
//! categories, users and user × category, the item-in-cart flag, times since the user
//! last clicked or carted the item, and the user's last clicked items and categories.
//!
//! Every value of a sample is computed from events strictly before the sample's exposure
//! time `t`: the complete log partitions of the days before D (aggregated by DataFusion)
//! plus the events of D's own partition with `ts < t` (as-of joins in Polars). Nothing
//! of the exposure itself or after it can reach its features.
//!
//! ```text
//!  logs/{exposure,click,cart,purchase}/dt=D-H..D ── DataFusion: clean, dedupe, join the
//!       │                                         item snapshot (category), tag each row
//!       │                                         with its partition's age (D = 0)
//!       ├─ age >= 1: GROUPING SETS (item), (category), (user), (user, category)
//!       │            → counts per trailing window          (sql/builder/features_prior.sql)
//!       └─ age = 0, and clicks/carts/purchases of every age → Arrow batches
//!                       │ Arrow C data interface (no copy)
//!                       v
//!  Polars: as-of joins (backward, strictly before t) of the samples against
//!          - per-key running counts of D's events           → today's part of each window
//!          - (user, item) clicks, carts, purchases           → in-cart flag, recency
//!          - the user's clicks (row index)                   → last N clicked items
//!          hash joins of the samples against the prior-day counts
//!       v
//!  feature columns in sample_id order, zipped onto the samples as they are written
//! ```
//!
//! A window of `w` days at exposure time `t` on day D covers the partitions D-w..D-1 and
//! the events of D before `t`. Feature history is the logs as they are when D is built:
//! a later change to an older partition does not rebuild D (the manifest fingerprints the
//! label window, not the feature history). `esmc build --dt D` recomputes on demand.

use crate::BuildError;
use crate::build::DAY_US;
use arrow::array::{
    Array, ArrayRef, AsArray, Float32Array, Int8Array, Int32Array, Int64Array, ListArray,
    RecordBatch,
};
use arrow::buffer::OffsetBuffer;
use arrow::datatypes::{DataType, Field, FieldRef, Int64Type, SchemaRef};
use polars::prelude::{
    AsofJoinBy, AsofStrategy, ChunkCompareEq, Column, DataFrame, DataFrameJoinOps, IntoColumn,
    JoinArgs, JoinType, MaintainOrderJoin, NamedFrom, Series,
};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::time::Instant;

/// Event kinds as the feature SQL tags them (the same codes as `events.sql`).
pub(crate) const EXPOSURE: i32 = 0;
pub(crate) const CLICK: i32 = 1;
pub(crate) const CART: i32 = 3;
pub(crate) const PURCHASE: i32 = 5;

/// The feature stage's knobs (`[features]` of the build config).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FeatureConfig {
    /// Compute the features and write them with the samples (default true).
    pub enabled: bool,
    /// Trailing windows in days (default 1, 7, 30).
    pub windows_days: Vec<u32>,
    /// Pseudo-counts of the smoothed rates: CTR = (clicks + m·p) / (exposures + m),
    /// CVR = (purchases + m·q) / (clicks + m), with p and q the shop's rates over the
    /// history before D (default m = 20).
    pub smoothing: f64,
    /// A cart counts as "in the cart" this many days after the add, unless bought since
    /// (default 3).
    pub cart_ttl_days: u32,
    /// Length of the click sequences (default 50).
    pub sequence_len: usize,
}

impl Default for FeatureConfig {
    fn default() -> Self {
        FeatureConfig {
            enabled: true,
            windows_days: vec![1, 7, 30],
            smoothing: 20.0,
            cart_ttl_days: 3,
            sequence_len: 50,
        }
    }
}

/// Fallback rates for the smoothing when there is no history at all.
const DEFAULT_CTR: f64 = 0.05;
const DEFAULT_CVR: f64 = 0.1;

impl FeatureConfig {
    /// Days of logs before D that the stage reads.
    pub fn history_days(&self) -> u32 {
        self.windows_days
            .iter()
            .copied()
            .max()
            .unwrap_or(1)
            .max(self.cart_ttl_days)
    }

    pub(crate) fn check(&self) -> Result<(), BuildError> {
        let bad = |m: String| Err(BuildError::Config(format!("features: {m}")));
        if self.windows_days.is_empty() {
            return bad("windows_days is empty".into());
        }
        if let Some(w) = self.windows_days.iter().find(|&&w| w == 0 || w > 366) {
            return bad(format!("window of {w} days (1..=366)"));
        }
        let mut sorted = self.windows_days.clone();
        sorted.sort_unstable();
        sorted.dedup();
        if sorted.len() != self.windows_days.len() {
            return bad("windows_days repeats a window".into());
        }
        if !(self.smoothing.is_finite() && self.smoothing >= 0.0) {
            return bad(format!("smoothing {} (must be >= 0)", self.smoothing));
        }
        if self.sequence_len == 0 {
            return bad("sequence_len must be positive".into());
        }
        Ok(())
    }

    /// The feature columns this config writes, in order.
    pub fn columns(&self) -> Vec<FieldRef> {
        let mut f = Vec::new();
        let int = |n: String| Arc::new(Field::new(n, DataType::Int32, false));
        let float = |n: String| Arc::new(Field::new(n, DataType::Float32, false));
        for e in ["item", "cat", "user"] {
            for &w in &self.windows_days {
                for x in ["exp", "clk", "cart", "buy"] {
                    f.push(int(format!("{e}_{x}_{w}d")));
                }
                f.push(float(format!("{e}_ctr_{w}d")));
                f.push(float(format!("{e}_cvr_{w}d")));
            }
        }
        for &w in &self.windows_days {
            f.push(int(format!("uc_clk_{w}d")));
            f.push(int(format!("uc_buy_{w}d")));
            f.push(float(format!("uc_affinity_{w}d")));
        }
        f.push(Arc::new(Field::new("item_in_cart", DataType::Int8, false)));
        f.push(Arc::new(Field::new(
            "secs_since_click",
            DataType::Float32,
            true,
        )));
        f.push(Arc::new(Field::new(
            "secs_since_cart",
            DataType::Float32,
            true,
        )));
        let list = |n: &str, null: bool| {
            Arc::new(Field::new(
                n,
                DataType::List(Arc::new(Field::new_list_field(DataType::Int64, null))),
                false,
            ))
        };
        f.push(list("seq_click_items", false));
        f.push(list("seq_click_cats", true));
        f
    }
}

/// What DataFusion hands the stage (`Builder::feature_inputs`).
pub(crate) struct FeatureInputs {
    /// `sample_id, ts, user_id, item_id, category_id` of every sample.
    pub targets: (SchemaRef, Vec<RecordBatch>),
    /// `kind, ts, user_id, item_id, category_id, age`: every event of D (age 0) and the
    /// clicks, carts and purchases of the days before.
    pub events: (SchemaRef, Vec<RecordBatch>),
    /// `g_item, g_cat, g_user, item_id, category_id, user_id, {exp,clk,cart,buy}_{w}d`:
    /// counts over the days before D per grouping set.
    pub prior: (SchemaRef, Vec<RecordBatch>),
}

/// The features of a partition, in sample_id order.
pub(crate) struct FeatureTable {
    sample_ids: Int64Array,
    /// Every feature field: the scalar columns', then the two click sequences'.
    fields: Vec<FieldRef>,
    /// The scalar columns, whole.
    columns: Vec<ArrayRef>,
    /// The click sequences, as ranges of the users' clicks: built batch by batch as the
    /// samples are written (whole, they would be the largest thing the build holds).
    sequences: Sequences,
    /// Seconds: Arrow → Polars hand-over, Polars compute, assembling the columns.
    pub handover_secs: f64,
    pub compute_secs: f64,
}

/// The click sequences of every sample: each is the range `[from, to)` of `items` /
/// `cats` (every user's clicks, users' runs in time order).
struct Sequences {
    items: Vec<Option<i64>>,
    cats: Vec<Option<i64>>,
    /// Per sample, in sample_id order.
    from: Vec<u32>,
    to: Vec<u32>,
}

impl Sequences {
    /// The list column of rows `[offset, offset + n)` over `source`.
    fn column(
        &self,
        source: &[Option<i64>],
        field: &FieldRef,
        offset: usize,
        n: usize,
    ) -> Result<ArrayRef, BuildError> {
        let (from, to) = (&self.from[offset..offset + n], &self.to[offset..offset + n]);
        let mut offsets = Vec::with_capacity(n + 1);
        offsets.push(0i32);
        let mut values = arrow::array::Int64Builder::new();
        for (&a, &b) in from.iter().zip(to) {
            for v in &source[a as usize..b as usize] {
                values.append_option(*v);
            }
            offsets.push(i32::try_from(values.values_slice().len()).map_err(|_| {
                BuildError::Features(format!("{}: more than 2^31 values", field.name()))
            })?);
        }
        let DataType::List(inner) = field.data_type() else {
            unreachable!("list field")
        };
        Ok(Arc::new(
            ListArray::try_new(
                inner.clone(),
                OffsetBuffer::new(offsets.into()),
                Arc::new(values.finish()),
                None,
            )
            .map_err(|e| BuildError::Internal(format!("{}: {e}", field.name())))?,
        ))
    }
}

impl FeatureTable {
    pub fn fields(&self) -> &[FieldRef] {
        &self.fields
    }

    pub fn len(&self) -> usize {
        self.sample_ids.len()
    }

    /// `batch` (samples sorted by sample_id, starting at row `offset` of the partition)
    /// with the feature columns appended. The sample ids must line up.
    pub fn append(&self, batch: &RecordBatch, offset: usize) -> Result<RecordBatch, BuildError> {
        let n = batch.num_rows();
        let ids = batch
            .column_by_name("sample_id")
            .and_then(|c| c.as_primitive_opt::<Int64Type>())
            .ok_or_else(|| BuildError::Internal("samples without sample_id".into()))?;
        if offset + n > self.len()
            || ids.values()[..] != self.sample_ids.values()[offset..offset + n]
        {
            return Err(BuildError::Internal(format!(
                "feature rows do not line up with the samples at row {offset}"
            )));
        }
        let mut fields: Vec<FieldRef> = batch.schema().fields().iter().cloned().collect();
        fields.extend(self.fields.iter().cloned());
        let mut columns = batch.columns().to_vec();
        columns.extend(self.columns.iter().map(|c| c.slice(offset, n)));
        let seq = &self.sequences;
        let k = self.fields.len();
        columns.push(seq.column(&seq.items, &self.fields[k - 2], offset, n)?);
        columns.push(seq.column(&seq.cats, &self.fields[k - 1], offset, n)?);
        RecordBatch::try_new(Arc::new(arrow::datatypes::Schema::new(fields)), columns)
            .map_err(|e| BuildError::Internal(format!("feature columns: {e}")))
    }
}

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

fn pl_err(e: polars::prelude::PolarsError) -> BuildError {
    BuildError::Features(e.to_string())
}

/// One Arrow array handed to Polars through the C data interface: the buffers are
/// shared, not copied.
fn to_polars_array(array: &ArrayRef) -> Result<Box<dyn polars_arrow::array::Array>, BuildError> {
    let (ffi_array, ffi_schema) = arrow::ffi::to_ffi(&array.to_data())
        .map_err(|e| BuildError::Features(format!("export to the C data interface: {e}")))?;
    // SAFETY: arrow-rs and polars-arrow both define these two structs as the
    // `#[repr(C)]` ArrowArray / ArrowSchema of the Arrow C data interface (same fields,
    // same order); ownership (the release callbacks) moves with the value.
    let (c_array, c_schema): (
        polars_arrow::ffi::ArrowArray,
        polars_arrow::ffi::ArrowSchema,
    ) = unsafe {
        (
            std::mem::transmute::<arrow::ffi::FFI_ArrowArray, polars_arrow::ffi::ArrowArray>(
                ffi_array,
            ),
            std::mem::transmute::<arrow::ffi::FFI_ArrowSchema, polars_arrow::ffi::ArrowSchema>(
                ffi_schema,
            ),
        )
    };
    // SAFETY: the schema and array were just exported by arrow-rs and are valid.
    unsafe {
        let field = polars_arrow::ffi::import_field_from_c(&c_schema).map_err(pl_err)?;
        polars_arrow::ffi::import_array_from_c(c_array, field.dtype().clone()).map_err(pl_err)
    }
}

/// Record batches (one schema) as a Polars frame, column by column, without copying.
pub(crate) fn to_polars(
    schema: &SchemaRef,
    batches: &[RecordBatch],
) -> Result<DataFrame, BuildError> {
    let empty;
    let batches = if batches.is_empty() {
        empty = [RecordBatch::new_empty(schema.clone())];
        &empty[..]
    } else {
        batches
    };
    let height: usize = batches.iter().map(|b| b.num_rows()).sum();
    let mut columns = Vec::with_capacity(schema.fields().len());
    for (i, f) in schema.fields().iter().enumerate() {
        let chunks = batches
            .iter()
            .map(|b| to_polars_array(b.column(i)))
            .collect::<Result<Vec<_>, _>>()?;
        let name = polars::prelude::PlSmallStr::from_str(f.name().as_str());
        let s = Series::try_from((name, chunks)).map_err(pl_err)?;
        columns.push(s.into_column());
    }
    DataFrame::new(height, columns).map_err(pl_err)
}

fn i64s(df: &DataFrame, name: &str) -> Result<Vec<Option<i64>>, BuildError> {
    let c = df.column(name).map_err(pl_err)?;
    let s = c.as_materialized_series();
    Ok(s.i64().map_err(pl_err)?.iter().collect())
}

fn i32s(df: &DataFrame, name: &str) -> Result<Vec<Option<i32>>, BuildError> {
    let c = df.column(name).map_err(pl_err)?;
    Ok(c.as_materialized_series()
        .i32()
        .map_err(pl_err)?
        .iter()
        .collect())
}

/// `df` sorted by the i64 columns `by` (nulls first), ties in input order. The
/// permutation is computed here, in parallel, and applied with one Polars `take`:
/// Polars 0.55's multi-column sort took 6 s for 2.5M rows of two i64 keys.
fn sorted(df: &DataFrame, by: &[&str]) -> Result<DataFrame, BuildError> {
    use rayon::slice::ParallelSliceMut;
    let cols: Vec<Vec<i64>> = by
        .iter()
        .map(|c| {
            Ok(i64s(df, c)?
                .into_iter()
                .map(|v| v.unwrap_or(i64::MIN))
                .collect())
        })
        .collect::<Result<_, BuildError>>()?;
    let n = df.height() as u32;
    let mut idx: Vec<u32> = (0..n).collect();
    let key = |i: &u32| -> [i64; 4] {
        let i = *i as usize;
        let k = |c: usize| cols.get(c).map_or(0, |v| v[i]);
        [k(0), k(1), k(2), i as i64]
    };
    debug_assert!(by.len() <= 3);
    idx.par_sort_unstable_by_key(key);
    let idx = polars::prelude::IdxCa::from_vec("".into(), idx);
    df.take(&idx).map_err(pl_err)
}

/// Rows of `events` (any column set) whose i32 column `name` equals `v`.
fn where_eq(events: &DataFrame, name: &str, v: i32) -> Result<DataFrame, BuildError> {
    let mask = events
        .column(name)
        .map_err(pl_err)?
        .as_materialized_series()
        .i32()
        .map_err(pl_err)?
        .equal(v);
    events.filter(&mask).map_err(pl_err)
}

/// `left` (sorted by `ts`) as-of joined on (`by`, `ts`) to the latest row of `right`
/// (sorted by `by`, then `right_on`) strictly before `ts`; returns the `take` columns.
fn asof_before(
    left: &DataFrame,
    right: &DataFrame,
    right_on: &str,
    by: &[&str],
    take: &[&str],
) -> Result<Vec<Vec<Option<i64>>>, BuildError> {
    let mut cols: Vec<&str> = by.to_vec();
    cols.push("ts");
    let left = left.select(cols).map_err(pl_err)?;
    let joined = left
        .join_asof_by(
            right,
            "ts",
            right_on,
            by.iter().copied(),
            by.iter().copied(),
            AsofStrategy::Backward,
            None,
            false, // strictly before: an event at the exposure's own time is not history
            false,
        )
        .map_err(pl_err)?;
    take.iter().map(|c| i64s(&joined, c)).collect()
}

struct Entity {
    name: &'static str,
    keys: &'static [&'static str],
    /// (grouping flags g_item, g_cat, g_user) of its grouping set.
    set: (i32, i32, i32),
}

const ENTITIES: [Entity; 4] = [
    Entity {
        name: "item",
        keys: &["item_id"],
        set: (0, 1, 1),
    },
    Entity {
        name: "cat",
        keys: &["category_id"],
        set: (1, 0, 1),
    },
    Entity {
        name: "user",
        keys: &["user_id"],
        set: (1, 1, 0),
    },
    Entity {
        name: "uc",
        keys: &["user_id", "category_id"],
        set: (1, 0, 0),
    },
];

const COUNTERS: [(&str, i32); 4] = [
    ("exp", EXPOSURE),
    ("clk", CLICK),
    ("cart", CART),
    ("buy", PURCHASE),
];

/// Per sample (in `targets` order): each counter's events of D strictly before the
/// sample's time with the entity's key.
fn today_counts(
    targets: &DataFrame,
    today: &DataFrame,
    keys: &[&str],
) -> Result<Vec<Vec<i32>>, BuildError> {
    let mut cols: Vec<&str> = keys.to_vec();
    cols.extend(["ts", "kind"]);
    let ev = today.select(cols).map_err(pl_err)?;
    let ev = ev.drop_nulls(Some(keys)).map_err(pl_err)?;
    let mut by: Vec<&str> = keys.to_vec();
    by.push("ts");
    let t0 = Instant::now();
    let ev = sorted(&ev, &by)?;
    trace("  sort events", t0);
    let key_cols: Vec<Vec<i64>> = keys
        .iter()
        .map(|k| Ok(i64s(&ev, k)?.into_iter().map(|v| v.unwrap_or(0)).collect()))
        .collect::<Result<_, BuildError>>()?;
    let ts = i64s(&ev, "ts")?;
    let kind = i32s(&ev, "kind")?;
    drop(ev);
    // Running counts per key, one row per (key, ts): the counts up to and including it.
    let n = ts.len();
    let same_key = |a: usize, b: usize| key_cols.iter().all(|k| k[a] == k[b]);
    let mut out_keys: Vec<Vec<i64>> = vec![Vec::new(); keys.len()];
    let mut out_ts = Vec::new();
    let mut out_counts: Vec<Vec<i64>> = vec![Vec::new(); COUNTERS.len()];
    let mut run = [0i64; 4];
    for r in 0..n {
        if r > 0 && !same_key(r, r - 1) {
            run = [0; 4];
        }
        if let Some(j) = COUNTERS.iter().position(|c| Some(c.1) == kind[r]) {
            run[j] += 1;
        }
        if r + 1 == n || ts[r + 1] != ts[r] || !same_key(r + 1, r) {
            for (o, k) in out_keys.iter_mut().zip(&key_cols) {
                o.push(k[r]);
            }
            out_ts.push(ts[r].unwrap_or(0));
            for (o, v) in out_counts.iter_mut().zip(run) {
                o.push(v);
            }
        }
    }
    drop(key_cols);
    let names: Vec<String> = COUNTERS.iter().map(|c| format!("run_{}", c.0)).collect();
    let mut columns: Vec<Column> = keys
        .iter()
        .zip(out_keys)
        .map(|(k, v)| Series::new((*k).into(), v).into_column())
        .collect();
    columns.push(Series::new("t_event".into(), out_ts).into_column());
    for (name, v) in names.iter().zip(out_counts) {
        columns.push(Series::new(name.as_str().into(), v).into_column());
    }
    let height = columns[0].len();
    let right = DataFrame::new(height, columns).map_err(pl_err)?;
    let take: Vec<&str> = names.iter().map(String::as_str).collect();
    trace("  running counts", t0);
    let got = asof_before(targets, &right, "t_event", keys, &take)?;
    trace("  as-of join", t0);
    Ok(got.into_iter().map(counts).collect())
}

/// Counts as i32 (saturating), missing = 0.
fn counts(v: Vec<Option<i64>>) -> Vec<i32> {
    v.into_iter()
        .map(|v| v.unwrap_or(0).min(i32::MAX as i64) as i32)
        .collect()
}

/// Per sample (in `targets` order): the prior-day counts `{counter}_{w}d` of its key.
fn prior_counts(
    targets: &DataFrame,
    prior: &DataFrame,
    entity: &Entity,
    names: &[String],
) -> Result<Vec<Vec<i32>>, BuildError> {
    let (gi, gc, gu) = entity.set;
    let g = |n: &str, v: i32| -> Result<_, BuildError> {
        Ok(prior
            .column(n)
            .map_err(pl_err)?
            .as_materialized_series()
            .i32()
            .map_err(pl_err)?
            .equal(v))
    };
    let mask = &(&g("g_item", gi)? & &g("g_cat", gc)?) & &g("g_user", gu)?;
    let mut cols: Vec<&str> = entity.keys.to_vec();
    cols.extend(names.iter().map(String::as_str));
    let set = prior
        .filter(&mask)
        .map_err(pl_err)?
        .select(cols)
        .map_err(pl_err)?;
    let left = targets
        .select(entity.keys.iter().copied())
        .map_err(pl_err)?;
    let args = JoinArgs {
        maintain_order: MaintainOrderJoin::Left,
        ..JoinArgs::new(JoinType::Left)
    };
    let joined = left
        .join(
            &set,
            entity.keys.iter().copied(),
            entity.keys.iter().copied(),
            args,
            None,
        )
        .map_err(pl_err)?;
    if joined.height() != targets.height() {
        return Err(BuildError::Internal(format!(
            "prior {} counts are not unique per key",
            entity.name
        )));
    }
    names
        .iter()
        .map(|n| {
            Ok(i32s(&joined, n)?
                .into_iter()
                .map(|v| v.unwrap_or(0))
                .collect())
        })
        .collect()
}

/// `(hits + m·prior) / (trials + m)`; the prior itself without trials or pseudo-counts.
fn smoothed(hits: i32, trials: i32, m: f64, prior: f64) -> f32 {
    if trials as f64 + m > 0.0 {
        ((hits as f64 + m * prior) / (trials as f64 + m)) as f32
    } else {
        prior as f32
    }
}

/// Output columns, built in sample_id order as they are computed (in time order).
struct Out<'a> {
    /// `order[j]`: the time-order row of the j-th sample by sample_id.
    order: &'a [usize],
    arrays: Vec<ArrayRef>,
}

impl Out<'_> {
    fn count(&mut self, v: &[i32]) {
        self.arrays.push(Arc::new(Int32Array::from_iter_values(
            self.order.iter().map(|&i| v[i]),
        )));
    }
    fn rate(&mut self, v: impl Fn(usize) -> f32) {
        self.arrays.push(Arc::new(Float32Array::from_iter_values(
            self.order.iter().map(|&i| v(i)),
        )));
    }
}

/// Computes the feature columns (see the module docs).
pub(crate) fn compute(
    cfg: &FeatureConfig,
    inputs: FeatureInputs,
) -> Result<FeatureTable, BuildError> {
    let started = Instant::now();
    let FeatureInputs {
        targets: (t_schema, t_batches),
        events: (e_schema, e_batches),
        prior: (p_schema, p_batches),
    } = inputs;
    let targets = to_polars(&t_schema, &t_batches)?;
    drop(t_batches);
    let events = to_polars(&e_schema, &e_batches)?;
    drop(e_batches);
    let prior = to_polars(&p_schema, &p_batches)?;
    drop(p_batches);
    let handover_secs = started.elapsed().as_secs_f64();
    let started = Instant::now();

    let targets = sorted(&targets, &["ts", "sample_id"])?;
    let n = targets.height();
    let ts: Vec<i64> = i64s(&targets, "ts")?
        .into_iter()
        .map(|v| v.unwrap_or(0))
        .collect();
    let sample_ids: Vec<i64> = i64s(&targets, "sample_id")?
        .into_iter()
        .map(|v| v.unwrap_or(0))
        .collect();
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by_key(|&i| sample_ids[i]);
    let fields = cfg.columns();
    let mut out = Out {
        order: &order,
        arrays: Vec::with_capacity(fields.len()),
    };
    let today = where_eq(&events, "age", 0)?;
    trace("sort samples", started);

    // Shop-wide rates over the history, for the smoothing.
    let longest = *cfg.windows_days.iter().max().expect("checked");
    let items = where_eq(&prior, "g_item", 0)?;
    let total = |x: &str| -> Result<i64, BuildError> {
        Ok(i32s(&items, &format!("{x}_{longest}d"))?
            .into_iter()
            .flatten()
            .map(i64::from)
            .sum())
    };
    let (exp_all, clk_all, buy_all) = (total("exp")?, total("clk")?, total("buy")?);
    drop(items);
    let p_ctr = if exp_all > 0 {
        clk_all as f64 / exp_all as f64
    } else {
        DEFAULT_CTR
    };
    let p_cvr = if clk_all > 0 {
        buy_all as f64 / clk_all as f64
    } else {
        DEFAULT_CVR
    };
    let m = cfg.smoothing;

    let nw = cfg.windows_days.len();
    let mut user_clicks: Vec<Vec<i32>> = Vec::new(); // per window, for the affinity
    for entity in &ENTITIES {
        let today = today_counts(&targets, &today, entity.keys)?;
        let counters: &[usize] = if entity.name == "uc" {
            &[1, 3]
        } else {
            &[0, 1, 2, 3]
        };
        let names: Vec<String> = counters
            .iter()
            .flat_map(|&j| {
                cfg.windows_days
                    .iter()
                    .map(move |w| format!("{}_{w}d", COUNTERS[j].0))
            })
            .collect();
        trace(&format!("{} today", entity.name), started);
        let prior = prior_counts(&targets, &prior, entity, &names)?;
        trace(&format!("{} prior", entity.name), started);
        for wi in 0..nw {
            let total = |ci: usize| -> Vec<i32> {
                let j = counters[ci];
                prior[ci * nw + wi]
                    .iter()
                    .zip(&today[j])
                    .map(|(a, b)| a.saturating_add(*b))
                    .collect()
            };
            if entity.name == "uc" {
                let (clk, buy) = (total(0), total(1));
                let user = &user_clicks[wi];
                out.count(&clk);
                out.count(&buy);
                out.rate(|i| {
                    if user[i] > 0 {
                        clk[i] as f32 / user[i] as f32
                    } else {
                        0.0
                    }
                });
            } else {
                let [exp, clk, cart, buy] = [total(0), total(1), total(2), total(3)];
                for v in [&exp, &clk, &cart, &buy] {
                    out.count(v);
                }
                out.rate(|i| smoothed(clk[i], exp[i], m, p_ctr));
                out.rate(|i| smoothed(buy[i], clk[i], m, p_cvr));
                if entity.name == "user" {
                    user_clicks.push(clk);
                }
            }
        }
    }
    drop(user_clicks);
    drop(today);

    // (user, item) recency: the latest click, cart and purchase strictly before t.
    let latest = |kind: i32| -> Result<Vec<Option<i64>>, BuildError> {
        let ev = where_eq(&events, "kind", kind)?
            .select(["user_id", "item_id", "ts"])
            .map_err(pl_err)?;
        let mut ev = sorted(&ev, &["user_id", "item_id", "ts"])?;
        ev.rename("ts", "t_last".into()).map_err(pl_err)?;
        Ok(asof_before(
            &targets,
            &ev,
            "t_last",
            &["user_id", "item_id"],
            &["t_last"],
        )?
        .pop()
        .expect("one column"))
    };
    trace("entity columns", started);
    let last_click = latest(CLICK)?;
    let last_cart = latest(CART)?;
    let last_buy = latest(PURCHASE)?;
    trace("recency", started);
    let ttl = cfg.cart_ttl_days as i64 * DAY_US;
    out.arrays
        .push(Arc::new(Int8Array::from_iter_values(order.iter().map(
            |&i| match last_cart[i] {
                Some(c) if ts[i] - c <= ttl => last_buy[i].is_none_or(|b| b < c) as i8,
                _ => 0,
            },
        ))));
    drop(last_buy);
    for last in [last_click, last_cart] {
        out.arrays.push(Arc::new(Float32Array::from_iter(
            order
                .iter()
                .map(|&i| last[i].map(|t| ((ts[i] - t) as f64 / 1e6) as f32)),
        )));
    }

    // The user's clicks in time order, each with its row and the row where its user's
    // clicks start: the sequence before t is rows [max(start, last - N + 1), last].
    let clicks = where_eq(&events, "kind", CLICK)?
        .select(["user_id", "ts", "item_id", "category_id"])
        .map_err(pl_err)?;
    drop(events);
    let clicks = sorted(&clicks, &["user_id", "ts", "item_id"])?;
    let c_user = i64s(&clicks, "user_id")?;
    let c_item = i64s(&clicks, "item_id")?;
    let c_cat = i64s(&clicks, "category_id")?;
    let mut start = Vec::with_capacity(c_user.len());
    for r in 0..c_user.len() {
        start.push(if r > 0 && c_user[r] == c_user[r - 1] {
            start[r - 1]
        } else {
            r as i64
        });
    }
    let right = DataFrame::new(
        c_user.len(),
        vec![
            Series::new("user_id".into(), c_user).into_column(),
            clicks
                .column("ts")
                .map_err(pl_err)?
                .clone()
                .with_name("t_click".into()),
            Series::new("row".into(), (0..start.len() as i64).collect::<Vec<_>>()).into_column(),
            Series::new("first_row".into(), start).into_column(),
        ],
    )
    .map_err(pl_err)?;
    drop(clicks);
    let mut got = asof_before(
        &targets,
        &right,
        "t_click",
        &["user_id"],
        &["row", "first_row"],
    )?;
    let first_row = got.pop().expect("two columns");
    let last_row = got.pop().expect("two columns");
    // per sample (sample_id order), its sequence's rows [from, to)
    let u32_row = |r: i64| {
        u32::try_from(r)
            .map_err(|_| BuildError::Features("more than 2^32 clicks in the history".into()))
    };
    let mut from = Vec::with_capacity(n);
    let mut to = Vec::with_capacity(n);
    for &i in &order {
        let (a, b) = match (last_row[i], first_row[i]) {
            (Some(last), Some(first)) => (first.max(last + 1 - cfg.sequence_len as i64), last + 1),
            _ => (0, 0),
        };
        from.push(u32_row(a)?);
        to.push(u32_row(b)?);
    }
    let sequences = Sequences {
        items: c_item,
        cats: c_cat,
        from,
        to,
    };
    trace("sequences", started);
    let compute_secs = started.elapsed().as_secs_f64();
    let arrays = out.arrays;
    debug_assert_eq!(arrays.len() + 2, fields.len());
    let sample_ids = Int64Array::from_iter_values(order.iter().map(|&i| sample_ids[i]));
    Ok(FeatureTable {
        sample_ids,
        fields,
        columns: arrays,
        sequences,
        handover_secs,
        compute_secs,
    })
}
