//! The warehouse directory layout (docs/labels.md):
//!
//! ```text
//! <root>/logs/<table>/dt=YYYY-MM-DD/*.parquet     raw logs (CSV and NDJSON also accepted)
//! <root>/samples/dt=YYYY-MM-DD/*.parquet          built samples
//! <root>/samples/_manifests/dt=YYYY-MM-DD.json    what built that partition
//! <root>/quarantine/<table>/dt=YYYY-MM-DD/        rejected input rows with a reason
//! <root>/models/<run>/dt=YYYY-MM-DD/              trainer checkpoints
//! ```

use crate::tables::Table;
use chrono::NaiveDate;
use std::path::{Path, PathBuf};

/// Listing a warehouse failed.
#[derive(Debug, thiserror::Error)]
pub enum WarehouseError {
    /// The file system refused (the environment's fault, or a wrong root).
    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// `dt=YYYY-MM-DD`, the partition directory name of a day.
pub fn dt_name(day: NaiveDate) -> String {
    format!("dt={}", day.format("%Y-%m-%d"))
}

/// The day of a `dt=YYYY-MM-DD` name (also with a `.json` suffix, as manifests have).
pub fn parse_dt_name(name: &str) -> Option<NaiveDate> {
    let day = name.strip_prefix("dt=")?;
    let day = day.strip_suffix(".json").unwrap_or(day);
    NaiveDate::parse_from_str(day, "%Y-%m-%d").ok()
}

/// A warehouse rooted at a directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warehouse {
    root: PathBuf,
}

impl Warehouse {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Warehouse { root: root.into() }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// `logs/<table>/`
    pub fn table_dir(&self, table: Table) -> PathBuf {
        self.root.join("logs").join(table.name())
    }

    /// `logs/<table>/dt=D/`
    pub fn log_dir(&self, table: Table, day: NaiveDate) -> PathBuf {
        self.table_dir(table).join(dt_name(day))
    }

    /// `samples/dt=D/`
    pub fn samples_dir(&self, day: NaiveDate) -> PathBuf {
        self.root.join("samples").join(dt_name(day))
    }

    /// `samples/_manifests/dt=D.json`
    pub fn manifest_path(&self, day: NaiveDate) -> PathBuf {
        self.root
            .join("samples")
            .join("_manifests")
            .join(format!("{}.json", dt_name(day)))
    }

    /// `quarantine/<table>/dt=D/`
    pub fn quarantine_dir(&self, table: Table, day: NaiveDate) -> PathBuf {
        self.root
            .join("quarantine")
            .join(table.name())
            .join(dt_name(day))
    }

    /// `models/<run>/dt=D/`
    pub fn model_dir(&self, run: &str, day: NaiveDate) -> PathBuf {
        self.root.join("models").join(run).join(dt_name(day))
    }

    /// The days that have a partition of `table`, ascending. A missing table is empty.
    pub fn log_days(&self, table: Table) -> Result<Vec<NaiveDate>, WarehouseError> {
        let dir = self.table_dir(table);
        let entries = match std::fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(source) => return Err(WarehouseError::Io { path: dir, source }),
        };
        let mut days = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|source| WarehouseError::Io {
                path: dir.clone(),
                source,
            })?;
            if let Some(day) = entry.file_name().to_str().and_then(parse_dt_name) {
                days.push(day);
            }
        }
        days.sort();
        Ok(days)
    }

    /// The data files of one partition, sorted by name (hidden and `_` files skipped).
    pub fn partition_files(&self, dir: &Path) -> Result<Vec<PathBuf>, WarehouseError> {
        let entries = match std::fs::read_dir(dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(source) => {
                return Err(WarehouseError::Io {
                    path: dir.to_path_buf(),
                    source,
                });
            }
        };
        let mut files = Vec::new();
        for entry in entries {
            let path = entry
                .map_err(|source| WarehouseError::Io {
                    path: dir.to_path_buf(),
                    source,
                })?
                .path();
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
            if path.is_file() && !name.starts_with('.') && !name.starts_with('_') {
                files.push(path);
            }
        }
        files.sort();
        Ok(files)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dt_names_round_trip() {
        let d = NaiveDate::from_ymd_opt(2026, 3, 9).unwrap();
        assert_eq!(dt_name(d), "dt=2026-03-09");
        assert_eq!(parse_dt_name("dt=2026-03-09"), Some(d));
        assert_eq!(parse_dt_name("dt=2026-03-09.json"), Some(d));
        assert_eq!(parse_dt_name("2026-03-09"), None);
        assert_eq!(parse_dt_name("dt=2026-13-09"), None);
    }

    #[test]
    fn layout_matches_spec() {
        let w = Warehouse::new("/w");
        let d = NaiveDate::from_ymd_opt(2026, 1, 2).unwrap();
        assert_eq!(
            w.log_dir(Table::Click, d),
            Path::new("/w/logs/click/dt=2026-01-02")
        );
        assert_eq!(w.samples_dir(d), Path::new("/w/samples/dt=2026-01-02"));
        assert_eq!(
            w.manifest_path(d),
            Path::new("/w/samples/_manifests/dt=2026-01-02.json")
        );
        assert_eq!(
            w.quarantine_dir(Table::Purchase, d),
            Path::new("/w/quarantine/purchase/dt=2026-01-02")
        );
        assert_eq!(
            w.model_dir("r1", d),
            Path::new("/w/models/r1/dt=2026-01-02")
        );
    }
}
