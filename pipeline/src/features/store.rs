//! The feature stage's derived state: per complete day X, the counts of the day's
//! cleaned, deduplicated events per item, category, user and (user, category), and the
//! day's clicks, carts and purchases, kept under `features/daily/dt=X/` with a manifest
//! of what they came from (`build/daily.rs` computes them; a build of D sums them over
//! its windows instead of re-reading the raw logs of D-H..D-1).
//!
//! ```text
//!  features/daily/dt=X/counts.parquet   g_item, g_cat, g_user, item_id, category_id,
//!                                       user_id, exp, clk, cart, buy (Int64)
//!  features/daily/dt=X/acts.parquet     kind, ts, user_id, item_id (user not null)
//!  features/daily/dt=X/categories.parquet  item_id, category_id: the day's items
//!                                       with the categories its counts used
//!  features/daily/dt=X/_manifest.json   DailyManifest
//! ```
//!
//! A day's directory is written staged and swapped in whole (`write.rs`), manifest
//! included, under the day's lock: a reader sees a complete aggregate or none. It is
//! used only while it is *fresh*: the same format and cleaning config, the same
//! categories for the day's items in the build's item snapshot (`categories.rs`: a new
//! price or a new item changes nothing), the same raw files (path, size and
//! SHA-256; a file whose size and mtime match the manifest keeps its recorded hash, as
//! `git`'s index does) and its own files intact (size and mtime, else SHA-256). Anything
//! else (late data, a changed config, a truncated or missing file) recomputes the day.
//! The SQL that computes a day's two files from its cleaned events is here too.

use super::categories::{CATEGORIES, CategoryMap};
use super::{CART, CLICK, COUNTERS, EXPOSURE, PURCHASE};
use crate::BuildError;
use chrono::NaiveDate;
use esmc_schemas::Table;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Bumped whenever what a daily aggregate holds changes.
pub(crate) const FORMAT: u32 = 2;

/// The counts file and the events file of a day's directory.
pub(crate) const COUNTS: &str = "counts.parquet";
pub(crate) const ACTS: &str = "acts.parquet";
const MANIFEST: &str = "_manifest.json";

/// One file a daily aggregate came from or consists of.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct FileStamp {
    /// Relative to the warehouse root (sources) or to the day's directory (outputs).
    pub(crate) path: String,
    pub(crate) bytes: u64,
    /// Modification time, nanoseconds since the epoch.
    pub(crate) mtime_ns: u64,
    pub(crate) sha256: String,
}

/// What a day's aggregate was computed from, and its files.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct DailyManifest {
    pub(crate) format: u32,
    pub(crate) dt: NaiveDate,
    /// SHA-256 of the config that shapes the aggregate (see `config_key`).
    pub(crate) config_hash: String,
    pub(crate) sources: Vec<FileStamp>,
    pub(crate) outputs: Vec<FileStamp>,
    /// Rows per output file.
    pub(crate) rows: BTreeMap<String, u64>,
}

/// `features/daily/dt=X` under the warehouse root.
pub(crate) fn day_dir(root: &Path, day: NaiveDate) -> PathBuf {
    root.join("features")
        .join("daily")
        .join(esmc_schemas::dt_name(day))
}

/// The lock file guarding `day_dir(root, day)`.
pub(crate) fn lock_path(root: &Path, day: NaiveDate) -> PathBuf {
    root.join(".locks")
        .join(format!("features-daily-dt={day}.lock"))
}

pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    format!("{:x}", Sha256::digest(bytes))
}

/// SHA-256 of the file at `path`, streamed (input files run to tens of MB).
pub(crate) fn hash_file(path: &Path) -> Result<String, BuildError> {
    let mut file = std::fs::File::open(path).map_err(|e| BuildError::io(path, e))?;
    let mut hasher = Sha256::new();
    std::io::copy(&mut file, &mut hasher).map_err(|e| BuildError::io(path, e))?;
    Ok(format!("{:x}", hasher.finalize()))
}

/// Size and mtime (ns) of the file at `path`.
pub(crate) fn stat(path: &Path) -> Result<(u64, u64), BuildError> {
    let meta = std::fs::metadata(path).map_err(|e| BuildError::io(path, e))?;
    let mtime = meta.modified().map_err(|e| BuildError::io(path, e))?;
    let ns = mtime
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    Ok((meta.len(), ns))
}

/// The stamp of `path` (named `name`), its hash taken from `known` when the size and
/// mtime match it, else read.
pub(crate) fn stamp(
    path: &Path,
    name: String,
    known: Option<&FileStamp>,
) -> Result<FileStamp, BuildError> {
    let (bytes, mtime_ns) = stat(path)?;
    let sha256 = match known {
        Some(k) if k.bytes == bytes && k.mtime_ns == mtime_ns => k.sha256.clone(),
        _ => hash_file(path)?,
    };
    Ok(FileStamp {
        path: name,
        bytes,
        mtime_ns,
        sha256,
    })
}

/// The manifest of the aggregate in `dir`, if there is a readable one.
pub(crate) fn read_manifest(dir: &Path) -> Option<DailyManifest> {
    let bytes = std::fs::read(dir.join(MANIFEST)).ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// Writes `manifest` into the staged directory `dir`.
pub(crate) fn write_manifest(dir: &Path, manifest: &DailyManifest) -> Result<(), BuildError> {
    let json = serde_json::to_vec_pretty(manifest)
        .map_err(|e| BuildError::Internal(format!("daily manifest: {e}")))?;
    let path = dir.join(MANIFEST);
    std::fs::write(&path, json).map_err(|e| BuildError::io(&path, e))
}

/// The SHA-256 `manifest` records for its counts file.
pub(crate) fn counts_sha256(manifest: &DailyManifest) -> Result<String, BuildError> {
    manifest
        .outputs
        .iter()
        .find(|o| o.path == COUNTS)
        .map(|o| o.sha256.clone())
        .ok_or_else(|| {
            BuildError::Internal(format!(
                "the daily aggregate of {}: no {COUNTS}",
                manifest.dt
            ))
        })
}

/// Whether every output file of `manifest` in `dir` is the one it recorded.
pub(crate) fn outputs_intact(dir: &Path, manifest: &DailyManifest) -> bool {
    let names = [COUNTS, ACTS, CATEGORIES];
    if manifest.outputs.len() != names.len()
        || names
            .iter()
            .any(|n| !manifest.outputs.iter().any(|o| o.path == *n))
    {
        return false;
    }
    manifest.outputs.iter().all(|o| {
        let path = dir.join(&o.path);
        match stat(&path) {
            Ok((bytes, mtime)) if bytes == o.bytes && mtime == o.mtime_ns => true,
            Ok((bytes, _)) if bytes == o.bytes => hash_file(&path).is_ok_and(|h| h == o.sha256),
            _ => false,
        }
    })
}

/// What a fresh aggregate of a day must match.
pub(crate) struct Expected<'a> {
    pub(crate) config_hash: &'a str,
    /// The item categories of the build's snapshot.
    pub(crate) categories: &'a CategoryMap,
    pub(crate) sources: &'a [FileStamp],
}

/// Whether the aggregate in `dir` (its manifest `m`) is fresh for `want` (see the module
/// docs). Sources compare by path, size and hash (not mtime: a touched file is the same).
pub(crate) fn is_fresh(dir: &Path, m: &DailyManifest, want: &Expected) -> bool {
    let key = |s: &[FileStamp]| {
        let mut v: Vec<(String, u64, String)> = s
            .iter()
            .map(|f| (f.path.clone(), f.bytes, f.sha256.clone()))
            .collect();
        v.sort();
        v
    };
    m.format == FORMAT
        && m.config_hash == want.config_hash
        && key(&m.sources) == key(want.sources)
        && outputs_intact(dir, m)
        && want.categories.agrees(&dir.join(CATEGORIES))
}

/// The event tables with their kind codes (the attribution's, as `features_events.sql`).
const KINDS: [(Table, i32); 4] = [
    (Table::Exposure, EXPOSURE),
    (Table::Click, CLICK),
    (Table::Cart, CART),
    (Table::Purchase, PURCHASE),
];

/// Day X's counts per grouping set (item, category, user, user × category), from the
/// `fd_good_<table>` views of its cleaned, deduplicated events and `dim_item`.
pub(crate) fn day_counts_sql() -> String {
    let events: Vec<String> = KINDS
        .iter()
        .map(|(t, k)| {
            format!(
                "SELECT CAST({k} AS INT) AS kind, user_id, item_id FROM fd_good_{}",
                t.name()
            )
        })
        .collect();
    let counts: Vec<String> = COUNTERS
        .iter()
        .map(|(name, k)| {
            format!("CAST(SUM(CASE WHEN kind = {k} THEN 1 ELSE 0 END) AS BIGINT) AS {name}")
        })
        .collect();
    format!(
        "SELECT CAST(grouping(item_id) AS INT) AS g_item, \
         CAST(grouping(category_id) AS INT) AS g_cat, \
         CAST(grouping(user_id) AS INT) AS g_user, item_id, category_id, user_id, {} \
         FROM (SELECT e.kind, CAST(e.user_id AS BIGINT) AS user_id, \
               CAST(e.item_id AS BIGINT) AS item_id, CAST(i.category_id AS BIGINT) AS category_id \
               FROM ({}) e LEFT JOIN dim_item i ON e.item_id = i.item_id) ev \
         GROUP BY GROUPING SETS ((item_id), (category_id), (user_id), (user_id, category_id))",
        counts.join(", "),
        events.join(" UNION ALL ")
    )
}

/// Day X's clicks, carts and purchases with a user (the only ones the stage's
/// (user, item) and click sorts keep), as `features_events.sql` types them.
pub(crate) fn day_acts_sql() -> String {
    KINDS[1..]
        .iter()
        .map(|(t, k)| {
            format!(
                "SELECT CAST({k} AS INT) AS kind, arrow_cast(ts, 'Int64') AS ts, \
                 CAST(user_id AS BIGINT) AS user_id, CAST(item_id AS BIGINT) AS item_id \
                 FROM fd_good_{} WHERE user_id IS NOT NULL",
                t.name()
            )
        })
        .collect::<Vec<_>>()
        .join(" UNION ALL ")
}
