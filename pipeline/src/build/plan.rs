//! What a build reads: the window of days ([`Builder::window`]), the feature history,
//! the dimension snapshots, the input files with their content hashes (the manifest's
//! fingerprint of the inputs) and the maturity of a day's labels.

use super::Builder;
use crate::BuildError;
use crate::features::store::hash_file;
use crate::manifest::InputFile;
use chrono::NaiveDate;
use esmc_schemas::Table;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

/// The tables the feature stage reads over its history.
pub(super) const FEATURE_TABLES: [Table; 4] =
    [Table::Exposure, Table::Click, Table::Cart, Table::Purchase];

/// The content hash cache's key of a file: its path, size and mtime.
pub(super) type HashKey = (PathBuf, u64, SystemTime);

fn cache_key(path: &Path, meta: &std::fs::Metadata) -> Result<HashKey, BuildError> {
    let modified = meta.modified().map_err(|e| BuildError::io(path, e))?;
    Ok((path.to_path_buf(), meta.len(), modified))
}

/// Window files being hashed ahead of the manifest ([`Builder::prehash`]).
pub(super) struct Prehash(std::thread::JoinHandle<Vec<(HashKey, String)>>);

impl Builder {
    /// The days read to build `day`: [day - attribution window, day + attribution
    /// window]. A purchase's cart may lie up to the window before the purchase, so carts
    /// up to the window before `day` decide the psc cases of `day`'s purchases; the days
    /// after hold the purchases of `day`'s clicks.
    pub fn window(&self, day: NaiveDate) -> (NaiveDate, NaiveDate) {
        let w = chrono::Days::new(self.cfg.attribution_window_days as u64);
        (day - w, day + w)
    }

    /// The first day of the feature stage's history for `day`.
    pub(super) fn feature_first(&self, day: NaiveDate) -> NaiveDate {
        day - chrono::Days::new(self.cfg.features.history_days() as u64)
    }

    /// The days of `table` that building `day` reads: the window, and for a dimension
    /// also its snapshot (see [`Builder::snapshot`]).
    pub(super) fn read_days(
        &self,
        table: Table,
        day: NaiveDate,
    ) -> Result<Vec<NaiveDate>, BuildError> {
        let (first, last) = self.window(day);
        // the feature history's days whose raw logs the feature stage reads (build/daily.rs)
        let history = if FEATURE_TABLES.contains(&table) {
            self.raw_history_days(day)?
        } else {
            Vec::new()
        };
        let snapshot = if table.is_event() {
            None
        } else {
            self.snapshot(table, day)?
        };
        Ok(self
            .warehouse
            .log_days(table)?
            .into_iter()
            .filter(|&d| (d >= first && d <= last) || Some(d) == snapshot || history.contains(&d))
            .collect())
    }

    /// The snapshot of a dimension table used for `day`: the latest before it, else the
    /// day's own.
    pub(super) fn snapshot(
        &self,
        table: Table,
        day: NaiveDate,
    ) -> Result<Option<NaiveDate>, BuildError> {
        let days = self.warehouse.log_days(table)?;
        Ok(days
            .iter()
            .rev()
            .find(|&&d| d < day)
            .or_else(|| days.iter().find(|&&d| d == day))
            .copied())
    }

    pub(crate) fn has_exposures(&self, day: NaiveDate) -> Result<bool, BuildError> {
        let dir = self.warehouse.log_dir(Table::Exposure, day);
        Ok(!self.warehouse.partition_files(&dir)?.is_empty())
    }

    /// Every input file of `day`'s window, with size and content hash.
    pub(crate) fn input_files(&self, day: NaiveDate) -> Result<Vec<InputFile>, BuildError> {
        let mut files = Vec::new();
        for table in Table::ALL {
            for path in self.window_files(table, day)? {
                let meta = std::fs::metadata(&path).map_err(|e| BuildError::io(&path, e))?;
                let sha256 = self.content_hash(&path, &meta)?;
                files.push(InputFile {
                    path: path
                        .strip_prefix(self.warehouse.root())
                        .unwrap_or(&path)
                        .to_string_lossy()
                        .into_owned(),
                    bytes: meta.len(),
                    sha256,
                });
            }
        }
        files.extend(self.feature_inputs(day)?);
        Ok(files)
    }

    /// Starts hashing the window files of `day` that the cache lacks on a thread of
    /// their own, for [`Builder::input_files`] to find in the cache: hashing the window
    /// at the end of the build was a serial ~4% of it at 2.5M exposures a day, measured
    /// when the writing stage still encoded on one thread (it now encodes on the build's
    /// threads, `encode.rs`, so the hashing shares the cores with it). A file that
    /// changes or fails to read here is left out, and hashed (or reported) by
    /// `input_files` as before.
    pub(super) fn prehash(&self, day: NaiveDate) -> Result<Prehash, BuildError> {
        let mut todo = Vec::new();
        for table in Table::ALL {
            for path in self.window_files(table, day)? {
                let meta = std::fs::metadata(&path).map_err(|e| BuildError::io(&path, e))?;
                let key = cache_key(&path, &meta)?;
                if !self.hashes.lock().expect("hash cache").contains_key(&key) {
                    todo.push(key);
                }
            }
        }
        let thread = std::thread::spawn(move || {
            todo.into_iter()
                .filter_map(|key| {
                    let hash = hash_file(&key.0).ok()?;
                    let meta = std::fs::metadata(&key.0).ok()?;
                    (cache_key(&key.0, &meta).ok()? == key).then_some((key, hash))
                })
                .collect()
        });
        Ok(Prehash(thread))
    }

    /// Waits for `prehash`'s thread and puts its hashes into the cache.
    pub(super) fn finish_prehash(&self, prehash: Prehash) {
        if let Ok(hashed) = prehash.0.join() {
            self.hashes.lock().expect("hash cache").extend(hashed);
        }
    }

    /// The SHA-256 of the file at `path`, cached by (path, size, mtime).
    fn content_hash(&self, path: &PathBuf, meta: &std::fs::Metadata) -> Result<String, BuildError> {
        let key = cache_key(path, meta)?;
        let cached = self.hashes.lock().expect("hash cache").get(&key).cloned();
        if let Some(h) = cached {
            return Ok(h);
        }
        let h = hash_file(path)?;
        self.hashes
            .lock()
            .expect("hash cache")
            .insert(key, h.clone());
        Ok(h)
    }

    /// The files of `table` in `day`'s window, unchecked.
    fn window_files(&self, table: Table, day: NaiveDate) -> Result<Vec<PathBuf>, BuildError> {
        let (first, last) = self.window(day);
        let mut files = Vec::new();
        for d in self.warehouse.log_days(table)? {
            if d >= first && d <= last {
                let dir = self.warehouse.log_dir(table, d);
                files.extend(self.warehouse.partition_files(&dir)?);
            }
        }
        Ok(files)
    }

    /// Labels of `day` are mature once the exposure and purchase logs of day + window
    /// exist.
    pub fn is_mature(&self, day: NaiveDate) -> Result<bool, BuildError> {
        let (_, last) = self.window(day);
        for table in [Table::Exposure, Table::Purchase] {
            let dir = self.warehouse.log_dir(table, last);
            if self.warehouse.partition_files(&dir)?.is_empty() {
                return Ok(false);
            }
        }
        Ok(true)
    }
}
