//! The rolled prior state: D's prior counts made from D-1's (its prior files, kept under
//! `features/prior/dt=D-1/`) plus the counts file of D-1 and minus, per window, the day
//! that leaves it, instead of summing every day of the longest window again
//! (`daily.rs`). A night then reads one day's worth of counts files besides the state,
//! whatever the windows; the state is a by-product of every build with daily aggregates.
//!
//! ```text
//!  features/prior/dt=D/prior_{item,cat,user,uc}.arrow  D's prior files (`PriorFile`)
//!  features/prior/dt=D/_manifest.json                   StateManifest
//! ```
//!
//! A state is used only when it was summed from exactly the counts files the roll would
//! add to and subtract from: its manifest lists each day's counts file by SHA-256, and
//! D's fresh daily aggregates must carry the same hashes (the day leaving the longest
//! window is checked against its own aggregate). Late data, a recomputed aggregate, other
//! windows or a damaged state make the build sum the days instead and write a new
//! state. The `days` column tells when a key has left every window, so a rolled file has
//! exactly the keys, and the counts, of a summed one.

use super::daily::{DAYS, PriorFile, close_prior, for_each_row};
use super::prior::{ENTITIES, Prior};
use super::spill::ipc_reader;
use super::store::stat;
use super::{COUNTERS, column};
use crate::BuildError;
use crate::config::FeatureConfig;
use arrow::array::{Array, AsArray};
use arrow::datatypes::{Int32Type, Int64Type};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

/// Bumped whenever what a state holds changes.
pub(crate) const STATE_FORMAT: u32 = 1;
const MANIFEST: &str = "_manifest.json";

/// What a state's prior files were made from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct StateManifest {
    pub(crate) format: u32,
    /// The day whose prior counts these are.
    pub(crate) dt: NaiveDate,
    pub(crate) windows_days: Vec<u32>,
    /// Each day of the longest window with a counts file, and its SHA-256.
    pub(crate) days: BTreeMap<NaiveDate, String>,
    /// The state it was rolled from (`None`: summed).
    pub(crate) rolled_from: Option<NaiveDate>,
    /// Size and mtime (ns) of each prior file, by name: a state whose files moved is
    /// not used.
    pub(crate) files: BTreeMap<String, (u64, u64)>,
}

impl StateManifest {
    /// Whether the state's files in `dir` are the ones it recorded.
    pub(crate) fn intact(&self, dir: &Path) -> bool {
        self.files.len() == ENTITIES.len()
            && ENTITIES.iter().all(|(name, _, _)| {
                let file = format!("prior_{name}.arrow");
                self.files.get(&file).is_some_and(|&(bytes, mtime)| {
                    stat(&dir.join(&file)).is_ok_and(|s| s == (bytes, mtime))
                })
            })
    }
}

/// `features/prior/dt=D` under the warehouse root.
pub(crate) fn state_dir(root: &Path, day: NaiveDate) -> PathBuf {
    root.join("features")
        .join("prior")
        .join(esmc_schemas::dt_name(day))
}

/// The lock file guarding `state_dir(root, day)`.
pub(crate) fn state_lock(root: &Path, day: NaiveDate) -> PathBuf {
    root.join(".locks")
        .join(format!("features-prior-dt={day}.lock"))
}

/// The manifest of the state in `dir`, if there is a readable one.
pub(crate) fn read_state(dir: &Path) -> Option<StateManifest> {
    let bytes = std::fs::read(dir.join(MANIFEST)).ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// Writes `m` into the staged state directory `dir`, with hard links (copies where the
/// file system has none) of `prior`'s files, recording their sizes and mtimes.
pub(crate) fn write_state(
    dir: &Path,
    prior: &Prior,
    mut m: StateManifest,
) -> Result<(), BuildError> {
    for f in &prior.files {
        let name = f.file_name().expect("a prior file");
        let to = dir.join(name);
        if std::fs::hard_link(f, &to).is_err() {
            std::fs::copy(f, &to).map_err(|e| BuildError::io(&to, e))?;
        }
        m.files
            .insert(name.to_string_lossy().into_owned(), stat(&to)?);
    }
    let json = serde_json::to_vec_pretty(&m)
        .map_err(|e| BuildError::Internal(format!("prior state manifest: {e}")))?;
    let path = dir.join(MANIFEST);
    std::fs::write(&path, json).map_err(|e| BuildError::io(&path, e))
}

/// What one counts file does to the state: the day entering every window (age 1), or
/// the day leaving window `windows_days[w]` (and, with `days`, the longest window: the
/// keys' `days`).
#[derive(Clone, Copy, Debug)]
pub(crate) enum Delta {
    Enter,
    Leave { w: usize, days: bool },
}

/// D's prior counts, one file per entity in `dir`: the state's files in `state` (D-1's)
/// with the `deltas`' counts files applied. Fails on a state that does not add up (a
/// count or `days` below zero, a new key that no day brought); the caller sums instead.
pub(crate) fn roll(
    cfg: &FeatureConfig,
    state: &Path,
    deltas: &[(PathBuf, Delta)],
    dir: &Path,
) -> Result<Prior, BuildError> {
    let n = COUNTERS.len();
    let width = cfg.windows_days.len() * n + 1;
    let mut change: [HashMap<[i64; 2], Vec<i64>, foldhash::fast::FixedState>; 4] =
        Default::default();
    for (path, delta) in deltas {
        for_each_row(path, |e, key, counts| {
            let acc = change[e].entry(key).or_insert_with(|| vec![0; width]);
            match *delta {
                Delta::Enter => {
                    for w in 0..cfg.windows_days.len() {
                        for j in 0..n {
                            acc[w * n + j] += counts[j];
                        }
                    }
                    acc[width - 1] += 1;
                }
                Delta::Leave { w, days } => {
                    for j in 0..n {
                        acc[w * n + j] -= counts[j];
                    }
                    if days {
                        acc[width - 1] -= 1;
                    }
                }
            }
            Ok(())
        })?;
    }
    let bad =
        |what: String| BuildError::Internal(format!("prior state {}: {what}", state.display()));
    let mut files = Vec::new();
    for (e, change) in change.into_iter().enumerate() {
        let (name, _, keys) = ENTITIES[e];
        let mut change: Vec<([i64; 2], Vec<i64>)> = change.into_iter().collect();
        change.sort_unstable_by_key(|c| c.0);
        let mut change = change.into_iter().peekable();
        let mut out = PriorFile::create(cfg, e, dir)?;
        let mut row = vec![0i32; width];
        let mut last = None;
        // writes `key` with `old + add` unless its days are down to zero
        let mut emit = |key: [i64; 2], old: &[i32], add: Option<&[i64]>| {
            if last.is_some_and(|l| l >= key) {
                return Err(bad(format!("{name} keys are not increasing at {key:?}")));
            }
            last = Some(key);
            for (j, r) in row.iter_mut().enumerate() {
                let v = i64::from(old.get(j).copied().unwrap_or(0)) + add.map_or(0, |a| a[j]);
                *r = i32::try_from(v)
                    .ok()
                    .filter(|v| *v >= 0)
                    .ok_or_else(|| bad(format!("{name} {key:?}: count {j} is {v}")))?;
            }
            if row[width - 1] > 0 {
                out.push(key, &row)?;
            } else if row.iter().any(|&v| v != 0) {
                return Err(bad(format!("{name} {key:?} left every window with counts")));
            }
            Ok::<(), BuildError>(())
        };
        let path = state.join(format!("prior_{name}.arrow"));
        let mut old = vec![0i32; width];
        for batch in ipc_reader(&path)? {
            let batch = batch.map_err(|e| bad(format!("{}: {e}", path.display())))?;
            if batch.num_columns() != keys.len() + width
                || batch.schema().field(batch.num_columns() - 1).name() != DAYS
            {
                return Err(bad(format!("{} has other columns", path.display())));
            }
            let key_cols: Vec<_> = (0..keys.len())
                .map(|j| column::<Int64Type>(&batch, "prior state", keys[j]))
                .collect::<Result<_, _>>()?;
            let counts: Vec<_> = (0..width)
                .map(|j| {
                    batch
                        .column(keys.len() + j)
                        .as_primitive_opt::<Int32Type>()
                        .ok_or_else(|| bad(format!("{}: count {j} is not Int32", path.display())))
                })
                .collect::<Result<_, _>>()?;
            for r in 0..batch.num_rows() {
                let key: [i64; 2] =
                    std::array::from_fn(|j| key_cols.get(j).map_or(0, |c| c.value(r)));
                while let Some((k, add)) = change.next_if(|c| c.0 < key) {
                    emit(k, &[], Some(&add))?;
                }
                for (j, c) in counts.iter().enumerate() {
                    old[j] = if c.is_valid(r) { c.value(r) } else { 0 };
                }
                match change.next_if(|c| c.0 == key) {
                    Some((_, add)) => emit(key, &old, Some(&add))?,
                    None => emit(key, &old, None)?,
                }
            }
        }
        for (k, add) in change {
            emit(k, &[], Some(&add))?;
        }
        files.push(out);
    }
    close_prior(files)
}
