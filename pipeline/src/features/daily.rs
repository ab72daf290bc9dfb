//! The prior counts from the daily aggregates (`store.rs`): the counts files of the
//! days within the longest window, read front to back and summed per entity and key in
//! memory (a few rows per active key and day), written as the same per-entity files,
//! sorted by key, that `split_prior` makes of `features_prior.sql`'s stream. No engine
//! plan, no re-read of the raw history.

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
/// window-major, as the prior files' columns), Int32 as those columns are. Held for
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

    /// Count `i` of row `r`.
    fn count(&self, r: u32, i: usize, width: usize) -> i32 {
        let r = r as usize;
        self.counts[r / BLOCK][(r % BLOCK) * width + i]
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

/// Adds one counts file of a day `age` days before D into `sums` (one per entity, in
/// `ENTITIES` order), for the windows that hold the day.
fn add_day(path: &Path, age: u32, windows: &[u32], sums: &mut [Sums; 4]) -> Result<(), BuildError> {
    let reader = super::parquet_reader(path)?;
    let inside: Vec<usize> = (0..windows.len()).filter(|&w| age <= windows[w]).collect();
    let width = windows.len() * COUNTERS.len();
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
            let acc = sums[e].row([a, b], width)?;
            for &w in &inside {
                for (j, c) in counts.iter().enumerate() {
                    let at = &mut acc[w * COUNTERS.len() + j];
                    *at = add_i32(*at, c[r])?;
                }
            }
        }
    }
    Ok(())
}

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
    let lw = cfg
        .windows_days
        .iter()
        .position(|&w| w == longest)
        .expect("the longest is a window");
    let mut totals = [0i64; 3];
    let mut files = Vec::new();
    let width = COUNTERS.len() * cfg.windows_days.len();
    for ((name, _, keys), mut sums) in ENTITIES.iter().zip(sums) {
        let order = sums.order();
        let at = |r: u32, i: usize| sums.count(r, i, width);
        if *name == "item" {
            for &(_, r) in &order {
                // exp, clk, buy of the longest window, as the Int32 columns hold them
                for (t, j) in [0, 1, 3].into_iter().enumerate() {
                    totals[t] += i64::from(at(r, lw * COUNTERS.len() + j));
                }
            }
        }
        let mut fields: Vec<Field> = keys
            .iter()
            .map(|k| Field::new(*k, DataType::Int64, true))
            .collect();
        for win in &cfg.windows_days {
            for (x, _) in COUNTERS {
                fields.push(Field::new(format!("{x}_{win}d"), DataType::Int32, true));
            }
        }
        let mut writer = SpillWriter::create(
            dir.join(format!("prior_{name}.arrow")),
            Arc::new(Schema::new(fields)),
        )?;
        // one spill batch of columns at a time, not the whole entity's
        for part in order.chunks(SPILL_ROWS) {
            let mut columns: Vec<ArrayRef> = (0..keys.len())
                .map(|j| {
                    let v = part.iter().map(|r| r.0[j]);
                    Arc::new(Int64Array::from_iter_values(v)) as ArrayRef
                })
                .collect();
            for i in 0..width {
                let v = part.iter().map(|r| at(r.1, i));
                columns.push(Arc::new(Int32Array::from_iter_values(v)));
            }
            writer.write(&columns)?;
        }
        files.push(writer.finish()?);
    }
    let (p_ctr, p_cvr) = rates(totals[0], totals[1], totals[2]);
    Ok(Prior {
        files,
        p_ctr,
        p_cvr,
    })
}
