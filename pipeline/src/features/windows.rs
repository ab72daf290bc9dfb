//! Trailing-window statistics of items, categories, users and user × category: per
//! sample, the counts over the days before D (prior counts) plus those of D strictly
//! before the sample's time, and the smoothed rates built from them.

use super::events::Event;
use super::prior::PriorCursor;
use crate::BuildError;
use crate::external::Sorted;
use arrow::array::{Array, Int64Array};
use rayon::slice::ParallelSliceMut;
use std::path::Path;

/// `(hits + m·prior) / (trials + m)`; the prior itself without trials or pseudo-counts.
pub(super) fn smoothed(hits: i32, trials: i32, m: f64, prior: f64) -> f32 {
    if trials as f64 + m > 0.0 {
        ((hits as f64 + m * prior) / (trials as f64 + m)) as f32
    } else {
        prior as f32
    }
}

/// The rows of a chunk with a key (none of its parts null), sorted by (key, ts, row).
pub(super) fn by_key<const N: usize>(
    keys: [&Int64Array; N],
    ts: &Int64Array,
) -> Vec<([i64; N], i64, u32)> {
    let mut v: Vec<([i64; N], i64, u32)> = (0..ts.len())
        .filter(|&r| keys.iter().all(|k| k.is_valid(r)))
        .map(|r| (keys.map(|k| k.value(r)), ts.value(r), r as u32))
        .collect();
    v.par_sort_unstable();
    v
}

/// One entity's counts for a chunk of samples: per window and counter, per row, the
/// events of its key over the days before D (prior counts) plus those of D strictly
/// before the row's time. One merge of the chunk sorted by (key, ts), the day's events
/// sorted by (key, ts) and the prior rows sorted by key.
pub(super) fn entity<const N: usize>(
    keys: [&Int64Array; N],
    ts: &Int64Array,
    events: &Sorted<Event<N>>,
    prior: &Path,
    windows: usize,
) -> Result<Vec<[Vec<i32>; 4]>, BuildError> {
    let n = ts.len();
    let samples = by_key(keys, ts);
    let mut today = vec![[0i32; 4]; n];
    let mut before = vec![0i32; n * windows * 4];
    let mut ev = events.cursor()?;
    let mut pr = PriorCursor::<N>::open(prior)?;
    let mut run = [0i32; 4];
    let mut run_key: Option<[i64; N]> = None;
    for &(k, t, i) in &samples {
        let i = i as usize;
        while let Some(&(ek, et, c)) = ev.peek() {
            if (ek, et) >= (k, t) {
                break;
            }
            if run_key != Some(ek) {
                run = [0; 4];
                run_key = Some(ek);
            }
            run[c as usize] = run[c as usize].saturating_add(1);
            ev.advance()?;
        }
        if run_key == Some(k) {
            today[i] = run;
        }
        while pr.key().is_some_and(|pk| pk < k) {
            pr.advance()?;
        }
        if pr.key() == Some(k) {
            for (j, b) in before[i * windows * 4..(i + 1) * windows * 4]
                .iter_mut()
                .enumerate()
            {
                *b = pr.count(j);
            }
        }
    }
    Ok((0..windows)
        .map(|w| {
            std::array::from_fn(|j| {
                (0..n)
                    .map(|i| before[(i * windows + w) * 4 + j].saturating_add(today[i][j]))
                    .collect()
            })
        })
        .collect())
}
