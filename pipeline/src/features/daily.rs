//! The prior counts from the daily aggregates (`store.rs`): the counts files of the
//! days within the longest window, read front to back and summed per entity and key in
//! memory (a few rows per active key and day), written as the same per-entity files,
//! sorted by key, that `split_prior` makes of `features_prior.sql`'s stream, plus a
//! `days` column for the rolled state ([`PriorFile`], `rolled.rs`). No engine plan, no
//! re-read of the raw history.

use super::prior::{ENTITIES, Prior, rates};
use super::spill::{SPILL_ROWS, SpillWriter};
use super::{COUNTERS, column};
use crate::BuildError;
use crate::config::FeatureConfig;
use arrow::array::{Array, ArrayRef, Int32Array, Int64Array};
use arrow::datatypes::{DataType, Field, Int32Type, Int64Type, Schema};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Rows per block of a [`Sums`] arena.
const BLOCK: usize = 1 << 16;

/// One entity's sums: each key's row in an arena of counts (per window and counter,
/// window-major, as the prior files' columns, then `days`), Int32 as those columns are. Held for
/// every key of the longest window at once, so kept small: 16 bytes of key, 4 of row
/// number in the map and 4 per count (a 20M-exposure day's history holds millions of
/// user-category keys), in blocks of [`BLOCK`] rows, so that growing never copies.
#[derive(Default)]
struct Sums {
    rows: HashMap<[i64; 2], u32, foldhash::fast::FixedState>,
    keys: Vec<Vec<[i64; 2]>>,
    counts: Vec<Vec<i32>>,
    len: usize,
}

impl Sums {
    /// The counts of `key`, zeros when new.
    fn row(&mut self, key: [i64; 2], width: usize) -> Result<&mut [i32], BuildError> {
        let next = u32::try_from(self.len)
            .map_err(|_| BuildError::Internal("over 2^32 feature keys".into()))?;
        let r = *self.rows.entry(key).or_insert(next) as usize;
        if r == self.len {
            if r % BLOCK == 0 {
                self.keys.push(Vec::with_capacity(BLOCK));
                self.counts.push(vec![0; BLOCK * width]);
            }
            self.keys[r / BLOCK].push(key);
            self.len += 1;
        }
        let at = (r % BLOCK) * width;
        Ok(&mut self.counts[r / BLOCK][at..at + width])
    }

    /// The counts of row `r`.
    fn counts(&self, r: u32, width: usize) -> &[i32] {
        let at = (r as usize % BLOCK) * width;
        &self.counts[r as usize / BLOCK][at..at + width]
    }

    /// The keys in order, each with its row: the map is dropped first and the key
    /// blocks as they are copied, so the pairs sort contiguously in the space they freed.
    fn order(&mut self) -> Vec<([i64; 2], u32)> {
        self.rows = HashMap::default();
        let keys = std::mem::take(&mut self.keys);
        let mut order: Vec<([i64; 2], u32)> = Vec::with_capacity(self.len);
        for k in keys.into_iter().flatten() {
            order.push((k, order.len() as u32));
        }
        order.sort_unstable_by_key(|r| r.0);
        order
    }
}

/// `a + b` as the Int32 the prior files hold.
fn add_i32(a: i32, b: i64) -> Result<i32, BuildError> {
    i32::try_from(i64::from(a) + b)
        .map_err(|_| BuildError::Internal(format!("feature count {a} + {b} overflows Int32")))
}

/// Calls `f(entity, key, counts)` (entity in `ENTITIES` order, counts in `COUNTERS`
/// order) for each row of one counts file whose key is complete.
pub(super) fn for_each_row(
    path: &Path,
    mut f: impl FnMut(usize, [i64; 2], [i64; 4]) -> Result<(), BuildError>,
) -> Result<(), BuildError> {
    let reader = super::parquet_reader(path)?;
    for batch in reader {
        let batch = batch.map_err(|e| BuildError::Internal(format!("{}: {e}", path.display())))?;
        let flag = |n| column::<Int32Type>(&batch, "daily", n);
        let flags = [flag("g_item")?, flag("g_cat")?, flag("g_user")?];
        let key = |n| column::<Int64Type>(&batch, "daily", n);
        let (item, cat, user) = (key("item_id")?, key("category_id")?, key("user_id")?);
        let counts: Vec<&[i64]> = COUNTERS
            .iter()
            .map(|(n, _)| column::<Int64Type>(&batch, "daily", n).map(|c| c.values().as_ref()))
            .collect::<Result<_, _>>()?;
        for r in 0..batch.num_rows() {
            let set = (flags[0].value(r), flags[1].value(r), flags[2].value(r));
            let Some(e) = ENTITIES.iter().position(|x| x.1 == set) else {
                continue;
            };
            let k = match e {
                0 => [item.is_valid(r).then(|| item.value(r)), Some(0)],
                1 => [cat.is_valid(r).then(|| cat.value(r)), Some(0)],
                2 => [user.is_valid(r).then(|| user.value(r)), Some(0)],
                _ => [
                    user.is_valid(r).then(|| user.value(r)),
                    cat.is_valid(r).then(|| cat.value(r)),
                ],
            };
            let (Some(a), Some(b)) = (k[0], k[1]) else {
                continue;
            };
            f(e, [a, b], std::array::from_fn(|j| counts[j][r]))?;
        }
    }
    Ok(())
}

/// Adds one counts file of a day `age` days before D into `sums` (one per entity, in
/// `ENTITIES` order), for the windows that hold the day, and counts the day in each
/// key's `days` (the last count).
fn add_day(path: &Path, age: u32, windows: &[u32], sums: &mut [Sums; 4]) -> Result<(), BuildError> {
    let inside: Vec<usize> = (0..windows.len()).filter(|&w| age <= windows[w]).collect();
    let width = windows.len() * COUNTERS.len() + 1;
    for_each_row(path, |e, key, counts| {
        let acc = sums[e].row(key, width)?;
        for &w in &inside {
            for (j, c) in counts.iter().enumerate() {
                let at = &mut acc[w * COUNTERS.len() + j];
                *at = add_i32(*at, *c)?;
            }
        }
        acc[width - 1] += 1;
        Ok(())
    })
}

/// One entity's prior file being written, rows in increasing key order: its key
/// columns, the counts (window-major, `{counter}_{w}d`) and `days`, the number of days
/// of the longest window whose counts file holds the key (what the rolled state needs
/// to know when a key leaves). The item file also sums the shop's totals.
pub(super) struct PriorFile {
    keys: usize,
    writer: SpillWriter,
    columns: Vec<Vec<i64>>,
    counts: Vec<Vec<i32>>,
    /// Offset of the longest window's counts, and the totals (exp, clk, buy) when the
    /// item file.
    totals: Option<(usize, [i64; 3])>,
}

impl PriorFile {
    /// The file of entity `e` (in `ENTITIES` order) in `dir`.
    pub(super) fn create(cfg: &FeatureConfig, e: usize, dir: &Path) -> Result<Self, BuildError> {
        let (name, _, keys) = ENTITIES[e];
        let mut fields: Vec<Field> = keys
            .iter()
            .map(|k| Field::new(*k, DataType::Int64, true))
            .collect();
        for win in &cfg.windows_days {
            for (x, _) in COUNTERS {
                fields.push(Field::new(format!("{x}_{win}d"), DataType::Int32, true));
            }
        }
        fields.push(Field::new(DAYS, DataType::Int32, false));
        let longest = *cfg.windows_days.iter().max().expect("checked");
        let lw = cfg
            .windows_days
            .iter()
            .position(|&w| w == longest)
            .expect("the longest is a window");
        let width = fields.len() - keys.len();
        Ok(PriorFile {
            keys: keys.len(),
            writer: SpillWriter::create(
                dir.join(format!("prior_{name}.arrow")),
                Arc::new(Schema::new(fields)),
            )?,
            columns: vec![Vec::new(); keys.len()],
            counts: vec![Vec::new(); width],
            totals: (e == 0).then_some((lw * COUNTERS.len(), [0; 3])),
        })
    }

    /// Appends the row of `key` (greater than the last) with `counts` (and `days` last).
    pub(super) fn push(&mut self, key: [i64; 2], counts: &[i32]) -> Result<(), BuildError> {
        for (j, c) in self.columns.iter_mut().enumerate() {
            c.push(key[j]);
        }
        for (j, c) in self.counts.iter_mut().enumerate() {
            c.push(counts[j]);
        }
        if let Some((lw, t)) = &mut self.totals {
            // exp, clk, buy of the longest window, as the Int32 columns hold them
            for (i, j) in [0, 1, 3].into_iter().enumerate() {
                t[i] += i64::from(counts[*lw + j]);
            }
        }
        if self.columns[0].len() == SPILL_ROWS {
            self.flush()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<(), BuildError> {
        let mut out: Vec<ArrayRef> = Vec::new();
        for c in &mut self.columns {
            out.push(Arc::new(Int64Array::from(std::mem::take(c))));
        }
        for c in &mut self.counts {
            out.push(Arc::new(Int32Array::from(std::mem::take(c))));
        }
        self.writer.write(&out)
    }

    /// Closes the file: its path and the totals (zeros but for the item file).
    pub(super) fn finish(mut self) -> Result<(PathBuf, [i64; 3]), BuildError> {
        if !self.columns[0].is_empty() {
            self.flush()?;
        }
        debug_assert!(self.keys == self.columns.len());
        Ok((self.writer.finish()?, self.totals.map_or([0; 3], |t| t.1)))
    }
}

/// The name of the prior files' last column (see [`PriorFile`]).
pub(super) const DAYS: &str = "days";

/// The prior counts of D (see the module docs) from the counts files of its history
/// (`(age, path)`), one file per entity in `dir`, and the shop's rates.
pub(crate) fn sum_prior(
    cfg: &FeatureConfig,
    days: &[(u32, PathBuf)],
    dir: &Path,
) -> Result<Prior, BuildError> {
    let longest = *cfg.windows_days.iter().max().expect("checked");
    let mut sums: [Sums; 4] = Default::default();
    for (age, path) in days.iter().filter(|(a, _)| *a >= 1 && *a <= longest) {
        add_day(path, *age, &cfg.windows_days, &mut sums)?;
    }
    let width = COUNTERS.len() * cfg.windows_days.len() + 1;
    let mut files = Vec::new();
    for (e, mut sums) in sums.into_iter().enumerate() {
        let order = sums.order();
        let mut file = PriorFile::create(cfg, e, dir)?;
        for &(key, r) in &order {
            file.push(key, sums.counts(r, width))?;
        }
        files.push(file);
    }
    close_prior(files)
}

/// Closes the entity files (in `ENTITIES` order) into D's prior counts, with the shop's
/// rates from the item file's totals.
pub(super) fn close_prior(files: Vec<PriorFile>) -> Result<Prior, BuildError> {
    let mut paths = Vec::new();
    let mut totals = [0i64; 3];
    for f in files {
        let (path, t) = f.finish()?;
        paths.push(path);
        for (a, b) in totals.iter_mut().zip(t) {
            *a += b;
        }
    }
    let (p_ctr, p_cvr) = rates(totals[0], totals[1], totals[2]);
    Ok(Prior {
        files: paths,
        p_ctr,
        p_cvr,
    })
}
