//! Atomic partition writes: a partition is written into a hidden temporary directory
//! private to this job (`.dt=D.tmp-<pid>-<nanos>`) beside its final place, every file in
//! it fsynced, then swapped in with one `renameat2(RENAME_EXCHANGE)` (or a plain rename
//! when there was none) and the parent fsynced (`esmc_schemas::durable`). A reader sees
//! the old partition or the new one, never a mix; a crash at any point leaves the old
//! one intact and at worst a hidden temporary that the next build of the day removes
//! under the day's lock. A job never removes the temporary of a live process.

use crate::BuildError;
use esmc_schemas::durable;
use std::path::{Path, PathBuf};

/// A partition directory being written.
pub struct StagedDir {
    pub tmp: PathBuf,
    target: PathBuf,
}

pub(crate) fn durable_err(e: durable::IoError) -> BuildError {
    BuildError::Io {
        path: e.path,
        source: e.source,
    }
}

impl StagedDir {
    /// Stages `target` (e.g. `samples/dt=D`): removes leftovers of dead builds (the
    /// caller holds the day's lock) and creates a fresh private temporary beside it.
    pub fn new(target: &Path) -> Result<Self, BuildError> {
        let parent = target.parent().expect("partition has a parent");
        std::fs::create_dir_all(parent).map_err(|e| BuildError::io(parent, e))?;
        durable::remove_stale(target).map_err(durable_err)?;
        let tmp = durable::private_tmp(target);
        std::fs::create_dir_all(&tmp).map_err(|e| BuildError::io(&tmp, e))?;
        Ok(StagedDir {
            tmp,
            target: target.to_path_buf(),
        })
    }

    /// Makes the staged directory the partition, atomically and durably.
    pub fn commit(self) -> Result<(), BuildError> {
        failpoint("before-swap");
        durable::publish_dir(&self.tmp, &self.target).map_err(durable_err)
        // on error, Drop removes the temporary; the old partition is untouched
    }
}

/// A build that fails before `commit` leaves no staged directory behind (its spill files
/// can be large); a crash leaves one, removed by the next build of the partition.
impl Drop for StagedDir {
    fn drop(&mut self) {
        if self.tmp.exists() {
            let _ = std::fs::remove_dir_all(&self.tmp);
        }
    }
}

/// Writes `bytes` to `path` atomically and durably (private temporary, fsync, rename,
/// fsync of the directory).
pub fn write_file_atomic(path: &Path, bytes: &[u8]) -> Result<(), BuildError> {
    durable::write_file(path, bytes).map_err(durable_err)
}

/// Crash-test hook: aborts the process at the named point when `ESMC_FAILPOINT` names it,
/// so that tests can prove a crash there leaves the previous partition intact.
pub(crate) fn failpoint(name: &str) {
    if std::env::var_os("ESMC_FAILPOINT").is_some_and(|v| v == name) {
        std::process::abort();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_staged_dir_dropped_before_commit_is_removed_and_the_partition_kept() {
        let root = tempfile::tempdir().unwrap();
        let target = root.path().join("dt=2026-11-02");
        std::fs::create_dir_all(&target).unwrap();
        std::fs::write(target.join("part-00000.parquet"), b"old").unwrap();
        let staged = StagedDir::new(&target).unwrap();
        let tmp = staged.tmp.clone();
        std::fs::create_dir_all(tmp.join(".spill")).unwrap();
        std::fs::write(tmp.join(".spill/labelled.parquet"), b"spill").unwrap();
        drop(staged); // a build that failed after staging
        assert!(!tmp.exists());
        assert_eq!(
            std::fs::read(target.join("part-00000.parquet")).unwrap(),
            b"old"
        );

        let staged = StagedDir::new(&target).unwrap();
        std::fs::write(staged.tmp.join("part-00000.parquet"), b"new").unwrap();
        staged.commit().unwrap();
        assert_eq!(
            std::fs::read(target.join("part-00000.parquet")).unwrap(),
            b"new"
        );
        let names: Vec<_> = std::fs::read_dir(root.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["dt=2026-11-02"]);
    }
}
