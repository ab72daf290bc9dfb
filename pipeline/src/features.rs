//! Leak-free behaviour features (spec §8): trailing-window statistics of items,
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
//!       │            → counts per trailing window          (sql/builder/features_prior.sql)
//!       └─ age = 0, and clicks/carts/purchases of every age → Arrow batches
//!                       v
//!  per entity, one as-of merge (backward, strictly before t): the samples and the
//!  events, both sorted by (key, ts), and the prior rows sorted by key
//!          - item, category, user, (user, category): D's running counts + prior counts
//!          - (user, item) clicks, carts, purchases    → in-cart flag, recency
//!          - the user's clicks (row index)            → last N clicked items
//!       v
//!  feature columns in sample_id order, spilled to Arrow IPC files a window at a time
//!  (the stage's directory), read back and zipped onto the samples as they are written
//! ```
//!
//! The stage holds the samples' keys, the events and one entity's sorted copies and
//! counts; never a whole day of feature columns.
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
use arrow::datatypes::{DataType, Field, FieldRef, Int32Type, Int64Type, SchemaRef};
use arrow::ipc::reader::FileReader;
use arrow::ipc::writer::FileWriter;
use rayon::slice::ParallelSliceMut;
use serde::{Deserialize, Serialize};
use std::fs::File;
use std::io::{BufReader, BufWriter};
use std::ops::Not;
use std::path::{Path, PathBuf};
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

/// Rows per record batch of the spill files.
const SPILL_ROWS: usize = 64 * 1024;

/// The features of a partition, in sample_id order: the scalar columns spilled to Arrow
/// IPC files as they are computed (a group of columns at a time, so the stage never
/// holds a whole day of them), read back batch by batch as the samples are written.
pub(crate) struct FeatureTable {
    rows: usize,
    /// Every feature field: the scalar columns', then the two click sequences'.
    fields: Vec<FieldRef>,
    /// The sample ids, to check that the rows line up.
    ids: SpillReader,
    /// The scalar columns, in `fields` order, a file per group.
    groups: Vec<SpillReader>,
    /// The click sequences, as ranges of the users' clicks: built batch by batch as the
    /// samples are written (whole, they would be the largest thing the build holds).
    sequences: Sequences,
    /// Seconds: gathering the inputs into columns, and computing the features.
    pub gather_secs: f64,
    pub compute_secs: f64,
}

/// A spill file being read back in order, any number of rows at a time.
struct SpillReader {
    path: PathBuf,
    schema: SchemaRef,
    reader: FileReader<BufReader<File>>,
    pending: Option<RecordBatch>,
}

impl SpillReader {
    fn open(path: PathBuf) -> Result<Self, BuildError> {
        let file = File::open(&path).map_err(|e| BuildError::io(&path, e))?;
        let reader = FileReader::try_new(BufReader::new(file), None)
            .map_err(|e| BuildError::Internal(format!("{}: {e}", path.display())))?;
        Ok(SpillReader {
            schema: reader.schema(),
            path,
            reader,
            pending: None,
        })
    }

    /// The next `n` rows' columns.
    fn take(&mut self, n: usize) -> Result<Vec<ArrayRef>, BuildError> {
        let err = |e: &dyn std::fmt::Display| {
            BuildError::Internal(format!("{}: {e}", self.path.display()))
        };
        let mut parts = Vec::new();
        let mut got = 0;
        while got < n {
            let batch = match self.pending.take() {
                Some(b) => b,
                None => match self.reader.next() {
                    Some(b) => b.map_err(|e| err(&e))?,
                    None => return Err(err(&"fewer feature rows than samples")),
                },
            };
            let need = n - got;
            if batch.num_rows() > need {
                self.pending = Some(batch.slice(need, batch.num_rows() - need));
                parts.push(batch.slice(0, need));
                got = n;
            } else {
                got += batch.num_rows();
                parts.push(batch);
            }
        }
        let batch = arrow::compute::concat_batches(&self.schema, &parts).map_err(|e| err(&e))?;
        Ok(batch.columns().to_vec())
    }
}

/// Writes `columns` (whole, in sample_id order) into the spill file `dir/name.arrow`.
fn spill(
    dir: &Path,
    name: &str,
    fields: &[FieldRef],
    columns: Vec<ArrayRef>,
) -> Result<PathBuf, BuildError> {
    let path = dir.join(format!("{name}.arrow"));
    let err =
        |e: arrow::error::ArrowError| BuildError::Internal(format!("{}: {e}", path.display()));
    let schema = Arc::new(arrow::datatypes::Schema::new(fields.to_vec()));
    let file = File::create(&path).map_err(|e| BuildError::io(&path, e))?;
    let mut writer = FileWriter::try_new(BufWriter::new(file), &schema).map_err(err)?;
    let n = columns.first().map_or(0, |c| c.len());
    for start in (0..n).step_by(SPILL_ROWS) {
        let len = SPILL_ROWS.min(n - start);
        let batch = RecordBatch::try_new(
            schema.clone(),
            columns.iter().map(|c| c.slice(start, len)).collect(),
        )
        .map_err(err)?;
        writer.write(&batch).map_err(err)?;
    }
    writer.finish().map_err(err)?;
    Ok(path)
}

/// The click sequences of every sample: each is the range `[from, to)` of `items` /
/// `cats` (every user's clicks, users' runs in time order).
struct Sequences {
    items: Int64Array,
    cats: Int64Array,
    /// Per sample, in sample_id order.
    from: Vec<u32>,
    to: Vec<u32>,
}

impl Sequences {
    /// The list column of rows `[offset, offset + n)` over `source`.
    fn column(
        &self,
        source: &Int64Array,
        field: &FieldRef,
        offset: usize,
        n: usize,
    ) -> Result<ArrayRef, BuildError> {
        let (from, to) = (&self.from[offset..offset + n], &self.to[offset..offset + n]);
        let mut offsets = Vec::with_capacity(n + 1);
        offsets.push(0i32);
        let mut values = arrow::array::Int64Builder::new();
        for (&a, &b) in from.iter().zip(to) {
            for r in a as usize..b as usize {
                if source.is_null(r) {
                    values.append_null();
                } else {
                    values.append_value(source.value(r));
                }
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
        self.rows
    }

    /// `batch` (the next samples sorted by sample_id, starting at row `offset` of the
    /// partition) with the feature columns appended. The sample ids must line up.
    pub fn append(
        &mut self,
        batch: &RecordBatch,
        offset: usize,
    ) -> Result<RecordBatch, BuildError> {
        let n = batch.num_rows();
        let ids = batch
            .column_by_name("sample_id")
            .and_then(|c| c.as_primitive_opt::<Int64Type>())
            .ok_or_else(|| BuildError::Internal("samples without sample_id".into()))?;
        let misaligned = || {
            BuildError::Internal(format!(
                "feature rows do not line up with the samples at row {offset}"
            ))
        };
        if offset + n > self.rows {
            return Err(misaligned());
        }
        let want = self.ids.take(n)?;
        if want[0].as_primitive::<Int64Type>().values()[..] != ids.values()[..] {
            return Err(misaligned());
        }
        let mut fields: Vec<FieldRef> = batch.schema().fields().iter().cloned().collect();
        fields.extend(self.fields.iter().cloned());
        let mut columns = batch.columns().to_vec();
        for group in &mut self.groups {
            columns.extend(group.take(n)?);
        }
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

/// An input table read in place: its batches as DataFusion collected them, never
/// concatenated (a copy of the day's events would cost as much memory as the events).
/// A row is addressed by (batch, row).
struct Batches {
    name: &'static str,
    schema: SchemaRef,
    batches: Vec<RecordBatch>,
}

impl Batches {
    fn new(name: &'static str, (schema, batches): (SchemaRef, Vec<RecordBatch>)) -> Self {
        Batches {
            name,
            schema,
            batches,
        }
    }

    fn rows(&self) -> usize {
        self.batches.iter().map(|b| b.num_rows()).sum()
    }

    fn parts<T: arrow::datatypes::ArrowPrimitiveType>(
        &self,
        name: &str,
    ) -> Result<Vec<&arrow::array::PrimitiveArray<T>>, BuildError> {
        let i = self.schema.index_of(name).map_err(|_| {
            BuildError::Internal(format!("feature {}: no column {name}", self.name))
        })?;
        self.batches
            .iter()
            .map(|b| {
                b.column(i).as_primitive_opt::<T>().ok_or_else(|| {
                    BuildError::Internal(format!(
                        "feature {}: {name} is {}",
                        self.name,
                        b.column(i).data_type()
                    ))
                })
            })
            .collect()
    }

    /// An Int64 column, one array per batch.
    fn i64(&self, name: &str) -> Result<Vec<&Int64Array>, BuildError> {
        self.parts::<Int64Type>(name)
    }

    /// An Int32 column, one array per batch.
    fn i32(&self, name: &str) -> Result<Vec<&Int32Array>, BuildError> {
        self.parts::<Int32Type>(name)
    }
}

/// The key of row `r` of batch `b` over `cols` (`[part][batch]`); `None` when a part is
/// null (a null key matches nothing).
fn key<const N: usize>(cols: &[&Vec<&Int64Array>; N], b: usize, r: usize) -> Option<[i64; N]> {
    let mut k = [0; N];
    for (part, c) in k.iter_mut().zip(cols) {
        if c[b].is_null(r) {
            return None;
        }
        *part = c[b].value(r);
    }
    Some(k)
}

/// (batch, row) packed into one u64 (`NONE` for no row).
fn pack(b: usize, r: usize) -> u64 {
    ((b as u64) << 32) | r as u64
}
const NONE: u64 = u64::MAX;

/// The samples' rows (numbered in sample_id order) with a key, sorted by (key, ts, row).
fn samples_by_key<const N: usize>(
    keys: &[&Vec<&Int64Array>; N],
    ts: &[&Int64Array],
) -> Vec<([i64; N], i64, u32)> {
    let mut v = Vec::new();
    let mut i = 0u32;
    for (b, t) in ts.iter().enumerate() {
        for r in 0..t.len() {
            if let Some(k) = key(keys, b, r) {
                v.push((k, t.value(r), i));
            }
            i += 1;
        }
    }
    v.par_sort_unstable();
    v
}

/// The day's events (or any events, `today` false) with a key, sorted by (key, ts,
/// counter); `keep` filters on the counter.
fn events_by_key<const N: usize>(
    ev: &EventCols<'_>,
    keys: &[&Vec<&Int64Array>; N],
    today: bool,
    keep: impl Fn(u8) -> bool,
) -> Vec<([i64; N], i64, u8)> {
    let mut v = Vec::new();
    for b in 0..ev.ts.len() {
        for r in 0..ev.ts[b].len() {
            let c = ev.counter(b, r);
            if keep(c)
                && (!today || ev.age[b].value(r) == 0)
                && let Some(k) = key(keys, b, r)
            {
                v.push((k, ev.ts[b].value(r), c));
            }
        }
    }
    v.par_sort_unstable();
    v
}

/// The events' columns, `[batch]` each; kind, age and ts checked non-null.
struct EventCols<'a> {
    kind: Vec<&'a Int32Array>,
    age: Vec<&'a Int32Array>,
    ts: Vec<&'a Int64Array>,
    user: Vec<&'a Int64Array>,
    item: Vec<&'a Int64Array>,
    cat: Vec<&'a Int64Array>,
}

impl EventCols<'_> {
    /// Index in `COUNTERS` of row `r` of batch `b` (checked when the columns were read).
    fn counter(&self, b: usize, r: usize) -> u8 {
        counter(self.kind[b].value(r)).unwrap_or(0) as u8
    }
}

/// `(hits + m·prior) / (trials + m)`; the prior itself without trials or pseudo-counts.
fn smoothed(hits: i32, trials: i32, m: f64, prior: f64) -> f32 {
    if trials as f64 + m > 0.0 {
        ((hits as f64 + m * prior) / (trials as f64 + m)) as f32
    } else {
        prior as f32
    }
}

/// The entities of the trailing-window counts, each with the grouping flags (g_item,
/// g_cat, g_user) of its grouping set in the prior counts.
const ENTITIES: [(&str, (i32, i32, i32)); 4] = [
    ("item", (0, 1, 1)),
    ("cat", (1, 0, 1)),
    ("user", (1, 1, 0)),
    ("uc", (1, 0, 0)),
];

const COUNTERS: [(&str, i32); 4] = [
    ("exp", EXPOSURE),
    ("clk", CLICK),
    ("cart", CART),
    ("buy", PURCHASE),
];

/// Index in `COUNTERS` of an event kind.
fn counter(kind: i32) -> Option<usize> {
    COUNTERS.iter().position(|c| c.1 == kind)
}

/// Per sample (numbered in sample_id order, `n` of them), for one entity:
/// - each counter's events of D strictly before the sample's time with its key;
/// - the (batch, row) of the prior table holding its key's counts over the days before
///   D, `NONE` when there is none.
///
/// One merge of the samples and the day's events, both sorted by (key, ts), and of the
/// entity's prior rows sorted by key.
fn entity_counts<const N: usize>(
    n: usize,
    samples: &[([i64; N], i64, u32)],
    ev: &[([i64; N], i64, u8)],
    prior: &[([i64; N], u64)],
) -> (Vec<[i32; 4]>, Vec<u64>) {
    let mut today = vec![[0i32; 4]; n];
    let mut before = vec![NONE; n];
    let (mut p, mut q) = (0, 0);
    let mut run = [0i32; 4];
    let mut run_key: Option<[i64; N]> = None;
    for &(k, t, i) in samples {
        while p < ev.len() && (ev[p].0, ev[p].1) < (k, t) {
            if run_key != Some(ev[p].0) {
                run = [0; 4];
                run_key = Some(ev[p].0);
            }
            run[ev[p].2 as usize] = run[ev[p].2 as usize].saturating_add(1);
            p += 1;
        }
        if run_key == Some(k) {
            today[i as usize] = run;
        }
        while q < prior.len() && prior[q].0 < k {
            q += 1;
        }
        if q < prior.len() && prior[q].0 == k {
            before[i as usize] = prior[q].1;
        }
    }
    (today, before)
}

/// One entity's counts over its keys (see `entity_counts`).
fn entity<const N: usize>(
    n: usize,
    samples: [&Vec<&Int64Array>; N],
    ts: &[&Int64Array],
    events: [&Vec<&Int64Array>; N],
    ev: &EventCols<'_>,
    prior: [&Vec<&Int64Array>; N],
    prior_rows: &[u64],
) -> (Vec<[i32; 4]>, Vec<u64>) {
    let t0 = Instant::now();
    let s = samples_by_key(&samples, ts);
    let e = events_by_key(ev, &events, true, |_| true);
    let mut p: Vec<([i64; N], u64)> = prior_rows
        .iter()
        .filter_map(|&br| {
            key(&prior, (br >> 32) as usize, (br & 0xffff_ffff) as usize).map(|k| (k, br))
        })
        .collect();
    p.par_sort_unstable();
    trace("  sort", t0);
    let out = entity_counts(n, &s, &e, &p);
    trace("  merge", t0);
    out
}

/// Computes the feature columns (see the module docs), spilling them into `dir`. The
/// samples must come in sample_id order.
pub(crate) fn compute(
    cfg: &FeatureConfig,
    inputs: FeatureInputs,
    dir: &Path,
) -> Result<FeatureTable, BuildError> {
    let started = Instant::now();
    let targets = Batches::new("samples", inputs.targets);
    let events = Batches::new("events", inputs.events);
    let prior = Batches::new("prior", inputs.prior);
    let n = targets.rows();
    let sample_ids = targets.i64("sample_id")?;
    let ts = targets.i64("ts")?;
    if sample_ids.iter().chain(&ts).any(|a| a.null_count() > 0) {
        return Err(BuildError::Internal(
            "samples without sample_id or ts".into(),
        ));
    }
    if sample_ids
        .iter()
        .flat_map(|a| a.values().iter())
        .is_sorted_by(|a, b| a <= b)
        .not()
    {
        return Err(BuildError::Internal(
            "feature samples are not in sample_id order".into(),
        ));
    }
    let (t_user, t_item, t_cat) = (
        targets.i64("user_id")?,
        targets.i64("item_id")?,
        targets.i64("category_id")?,
    );
    let ev = EventCols {
        kind: events.i32("kind")?,
        age: events.i32("age")?,
        ts: events.i64("ts")?,
        user: events.i64("user_id")?,
        item: events.i64("item_id")?,
        cat: events.i64("category_id")?,
    };
    for b in 0..ev.kind.len() {
        if ev.ts[b].null_count() + ev.age[b].null_count() + ev.kind[b].null_count() > 0 {
            return Err(BuildError::Internal(
                "feature events without kind, ts or age".into(),
            ));
        }
        if let Some(k) = ev.kind[b].values().iter().find(|&&k| counter(k).is_none()) {
            return Err(BuildError::Internal(format!("feature event of kind {k}")));
        }
    }
    let gather_secs = started.elapsed().as_secs_f64();
    let started = Instant::now();

    // Shop-wide rates over the history, for the smoothing.
    let longest = *cfg.windows_days.iter().max().expect("checked");
    let flags = [
        prior.i32("g_item")?,
        prior.i32("g_cat")?,
        prior.i32("g_user")?,
    ];
    let rows_of = |set: (i32, i32, i32)| -> Vec<u64> {
        let want = [set.0, set.1, set.2];
        let mut rows = Vec::new();
        for b in 0..flags[0].len() {
            for r in 0..flags[0][b].len() {
                if flags
                    .iter()
                    .zip(want)
                    .all(|(f, w)| f[b].is_valid(r) && f[b].value(r) == w)
                {
                    rows.push(pack(b, r));
                }
            }
        }
        rows
    };
    // a prior count at (batch, row), 0 for none
    let at = |c: &[&Int32Array], br: u64| -> i32 {
        if br == NONE {
            return 0;
        }
        let (b, r) = ((br >> 32) as usize, (br & 0xffff_ffff) as usize);
        if c[b].is_valid(r) { c[b].value(r) } else { 0 }
    };
    let item_rows = rows_of((0, 1, 1));
    let total = |x: &str| -> Result<i64, BuildError> {
        let c = prior.i32(&format!("{x}_{longest}d"))?;
        Ok(item_rows.iter().map(|&br| i64::from(at(&c, br))).sum())
    };
    let (exp_all, clk_all, buy_all) = (total("exp")?, total("clk")?, total("buy")?);
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

    let fields = cfg.columns();
    let mut next_field = 0;
    let mut groups = Vec::new();
    let mut write = |name: String, columns: Vec<ArrayRef>| -> Result<(), BuildError> {
        let k = columns.len();
        let path = spill(dir, &name, &fields[next_field..next_field + k], columns)?;
        next_field += k;
        groups.push(path);
        Ok(())
    };

    let (p_item, p_cat, p_user) = (
        prior.i64("item_id")?,
        prior.i64("category_id")?,
        prior.i64("user_id")?,
    );
    let mut user_clicks: Vec<Vec<i32>> = Vec::new(); // per window, for the affinity
    for (name, set) in ENTITIES {
        let rows = rows_of(set);
        let (today, before) = match name {
            "item" => self::entity(n, [&t_item], &ts, [&ev.item], &ev, [&p_item], &rows),
            "cat" => self::entity(n, [&t_cat], &ts, [&ev.cat], &ev, [&p_cat], &rows),
            "user" => self::entity(n, [&t_user], &ts, [&ev.user], &ev, [&p_user], &rows),
            _ => self::entity(
                n,
                [&t_user, &t_cat],
                &ts,
                [&ev.user, &ev.cat],
                &ev,
                [&p_user, &p_cat],
                &rows,
            ),
        };
        drop(rows);
        trace(&format!("{} counts", name), started);
        let counters: &[usize] = if name == "uc" { &[1, 3] } else { &[0, 1, 2, 3] };
        for &w in &cfg.windows_days {
            // each counter's total over the window: the prior days' plus D's before t
            let total = |j: usize| -> Result<Vec<i32>, BuildError> {
                let c = prior.i32(&format!("{}_{w}d", COUNTERS[j].0))?;
                Ok(today
                    .iter()
                    .zip(&before)
                    .map(|(d, &br)| at(&c, br).saturating_add(d[j]))
                    .collect())
            };
            let mut columns: Vec<ArrayRef> = Vec::new();
            if name == "uc" {
                let (clk, buy) = (total(counters[0])?, total(counters[1])?);
                let user = &user_clicks[columns_window(cfg, w)];
                let affinity = Float32Array::from_iter_values(
                    clk.iter()
                        .zip(user)
                        .map(|(&c, &u)| if u > 0 { c as f32 / u as f32 } else { 0.0 }),
                );
                columns.push(Arc::new(Int32Array::from(clk)));
                columns.push(Arc::new(Int32Array::from(buy)));
                columns.push(Arc::new(affinity));
            } else {
                let [exp, clk, cart, buy] = [total(0)?, total(1)?, total(2)?, total(3)?];
                let ctr = Float32Array::from_iter_values(
                    clk.iter()
                        .zip(&exp)
                        .map(|(&c, &e)| smoothed(c, e, m, p_ctr)),
                );
                let cvr = Float32Array::from_iter_values(
                    buy.iter()
                        .zip(&clk)
                        .map(|(&b, &c)| smoothed(b, c, m, p_cvr)),
                );
                if name == "user" {
                    user_clicks.push(clk.clone());
                }
                for v in [exp, clk, cart, buy] {
                    columns.push(Arc::new(Int32Array::from(v)));
                }
                columns.push(Arc::new(ctr));
                columns.push(Arc::new(cvr));
            }
            write(format!("{}_{w}d", name), columns)?;
        }
        trace(&format!("{} columns", name), started);
    }
    drop(user_clicks);

    // (user, item) recency: the latest click, cart and purchase strictly before t, one
    // merge of the samples and those events (every age), both sorted by (user, item, ts).
    let (in_cart, since_click, since_cart) = {
        let samples = samples_by_key(&[&t_user, &t_item], &ts);
        let acts = events_by_key(&ev, &[&ev.user, &ev.item], false, |c| c != 0);
        let ttl = cfg.cart_ttl_days as i64 * DAY_US;
        let mut in_cart = vec![0i8; n];
        let mut since_click = vec![None; n];
        let mut since_cart = vec![None; n];
        let mut p = 0;
        let mut last: [Option<i64>; 4] = [None; 4];
        let mut last_key = None;
        let secs = |t: i64, e: i64| ((t - e) as f64 / 1e6) as f32;
        for &(k, t, i) in &samples {
            while p < acts.len() && (acts[p].0, acts[p].1) < (k, t) {
                if last_key != Some(acts[p].0) {
                    last = [None; 4];
                    last_key = Some(acts[p].0);
                }
                last[acts[p].2 as usize] = Some(acts[p].1);
                p += 1;
            }
            if last_key != Some(k) {
                continue;
            }
            let i = i as usize;
            let [_, click, cart, buy] = last;
            in_cart[i] = match cart {
                Some(c) if t - c <= ttl => buy.is_none_or(|b| b < c) as i8,
                _ => 0,
            };
            since_click[i] = click.map(|c| secs(t, c));
            since_cart[i] = cart.map(|c| secs(t, c));
        }
        (in_cart, since_click, since_cart)
    };
    write(
        "recency".to_string(),
        vec![
            Arc::new(Int8Array::from(in_cart)),
            Arc::new(Float32Array::from(since_click)),
            Arc::new(Float32Array::from(since_cart)),
        ],
    )?;
    trace("recency", started);
    debug_assert_eq!(next_field + 2, fields.len());

    // The users' clicks (every age) in time order; a sample's sequence is the last N
    // of its user's clicks strictly before t: rows [max(first, last - N + 1), last].
    let sequences = {
        // (user, ts, item, n-th click) to sort by (the item's null first, ties in log
        // order), then the item and category
        type Click = ((i64, i64, i64, u32), Option<i64>, Option<i64>);
        let mut clicks: Vec<Click> = Vec::new();
        for b in 0..ev.ts.len() {
            for r in 0..ev.ts[b].len() {
                if ev.counter(b, r) != 1 || ev.user[b].is_null(r) {
                    continue;
                }
                let item = ev.item[b].is_valid(r).then(|| ev.item[b].value(r));
                let cat = ev.cat[b].is_valid(r).then(|| ev.cat[b].value(r));
                let seq = clicks.len() as u32;
                clicks.push((
                    (
                        ev.user[b].value(r),
                        ev.ts[b].value(r),
                        item.unwrap_or(i64::MIN),
                        seq,
                    ),
                    item,
                    cat,
                ));
            }
        }
        clicks.par_sort_unstable_by_key(|c| c.0);
        let items = Int64Array::from_iter(clicks.iter().map(|c| c.1));
        let cats = Int64Array::from_iter(clicks.iter().map(|c| c.2));
        let click_user: Vec<i64> = clicks.iter().map(|c| c.0.0).collect();
        let click_ts: Vec<i64> = clicks.iter().map(|c| c.0.1).collect();
        drop(clicks);
        let samples = samples_by_key(&[&t_user], &ts);
        let mut from = vec![0u32; n];
        let mut to = vec![0u32; n];
        let (mut p, mut first) = (0usize, 0usize);
        let row = |r: usize| {
            u32::try_from(r)
                .map_err(|_| BuildError::Features("more than 2^32 clicks in the history".into()))
        };
        for &([u], t, i) in &samples {
            while p < click_user.len() && (click_user[p], click_ts[p]) < (u, t) {
                if p == 0 || click_user[p] != click_user[p - 1] {
                    first = p;
                }
                p += 1;
            }
            if p > 0 && click_user[p - 1] == u {
                from[i as usize] = row(first.max(p.saturating_sub(cfg.sequence_len)))?;
                to[i as usize] = row(p)?;
            }
        }
        Sequences {
            items,
            cats,
            from,
            to,
        }
    };
    trace("sequences", started);
    let id_parts: Vec<&dyn Array> = sample_ids.iter().map(|a| *a as &dyn Array).collect();
    let ids: ArrayRef = if id_parts.is_empty() {
        Arc::new(Int64Array::from(Vec::<i64>::new()))
    } else {
        arrow::compute::concat(&id_parts)
            .map_err(|e| BuildError::Internal(format!("feature samples: {e}")))?
    };
    let ids = spill(
        dir,
        "sample_id",
        &[Arc::new(Field::new("sample_id", DataType::Int64, false))],
        vec![ids],
    )?;
    let compute_secs = started.elapsed().as_secs_f64();
    Ok(FeatureTable {
        rows: n,
        fields,
        ids: SpillReader::open(ids)?,
        groups: groups
            .into_iter()
            .map(SpillReader::open)
            .collect::<Result<_, _>>()?,
        sequences,
        gather_secs,
        compute_secs,
    })
}

/// Index of window `w` in the config's windows.
fn columns_window(cfg: &FeatureConfig, w: u32) -> usize {
    cfg.windows_days
        .iter()
        .position(|&x| x == w)
        .expect("a configured window")
}
