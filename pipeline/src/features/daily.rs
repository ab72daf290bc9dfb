//! The prior counts from the daily aggregates (`store.rs`): the counts files of the
//! days within the longest window, read front to back and summed per entity and key in
//! memory (a few rows per active key and day), written as the same per-entity files,
//! sorted by key, that `split_prior` makes of `features_prior.sql`'s stream. No engine
//! plan, no re-read of the raw history.

use super::prior::{ENTITIES, Prior, rates};
use super::spill::SpillWriter;
use super::{COUNTERS, column};
use crate::BuildError;
use crate::config::FeatureConfig;
use arrow::array::{Array, ArrayRef, Int32Array, Int64Array};
use arrow::datatypes::{DataType, Field, Int32Type, Int64Type, Schema};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// One entity's sums: each key's row in a flat arena of counts (per window and
/// counter, window-major, as the prior files' columns).
#[derive(Default)]
struct Sums {
    rows: HashMap<[i64; 2], usize, foldhash::fast::FixedState>,
    counts: Vec<i64>,
}

impl Sums {
    /// The counts of `key`, zeros when new.
    fn row(&mut self, key: [i64; 2], width: usize) -> &mut [i64] {
        let next = self.rows.len();
        let r = *self.rows.entry(key).or_insert(next);
        if r == next {
            self.counts.resize((r + 1) * width, 0);
        }
        &mut self.counts[r * width..(r + 1) * width]
    }

    /// The keys in order, each with its row, and the arena.
    fn sorted(self) -> (Vec<([i64; 2], usize)>, Vec<i64>) {
        let mut rows: Vec<([i64; 2], usize)> = self.rows.into_iter().collect();
        rows.sort_unstable_by_key(|r| r.0);
        (rows, self.counts)
    }
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
            let acc = sums[e].row([a, b], width);
            for &w in &inside {
                for (j, c) in counts.iter().enumerate() {
                    acc[w * COUNTERS.len() + j] += c[r];
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
    for ((name, _, keys), sums) in ENTITIES.iter().zip(sums) {
        let width = COUNTERS.len() * cfg.windows_days.len();
        let (rows, counts) = sums.sorted();
        let at = |r: &([i64; 2], usize), i: usize| counts[r.1 * width + i];
        let as_i32 = |v: i64| {
            i32::try_from(v)
                .map_err(|_| BuildError::Internal(format!("feature count {v} overflows Int32")))
        };
        if *name == "item" {
            for r in &rows {
                // exp, clk, buy of the longest window, as the Int32 columns hold them
                for (t, j) in [0, 1, 3].into_iter().enumerate() {
                    totals[t] += i64::from(as_i32(at(r, lw * COUNTERS.len() + j))?);
                }
            }
        }
        let mut fields: Vec<Field> = keys
            .iter()
            .map(|k| Field::new(*k, DataType::Int64, true))
            .collect();
        let mut columns: Vec<ArrayRef> = (0..keys.len())
            .map(|j| {
                Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.0[j]))) as ArrayRef
            })
            .collect();
        for (w, win) in cfg.windows_days.iter().enumerate() {
            for (j, (x, _)) in COUNTERS.iter().enumerate() {
                fields.push(Field::new(format!("{x}_{win}d"), DataType::Int32, true));
                let v = rows
                    .iter()
                    .map(|r| as_i32(at(r, w * COUNTERS.len() + j)))
                    .collect::<Result<Vec<i32>, _>>()?;
                columns.push(Arc::new(Int32Array::from(v)));
            }
        }
        let mut writer = SpillWriter::create(
            dir.join(format!("prior_{name}.arrow")),
            Arc::new(Schema::new(fields)),
        )?;
        writer.write(&columns)?;
        files.push(writer.finish()?);
    }
    let (p_ctr, p_cvr) = rates(totals[0], totals[1], totals[2]);
    Ok(Prior {
        files,
        p_ctr,
        p_cvr,
    })
}
