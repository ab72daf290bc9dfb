//! Atomic partition writes: a partition is written into a hidden temporary directory
//! beside its final place, then swapped in with one `renameat2(RENAME_EXCHANGE)` (or a
//! plain rename when there was none). A reader sees the old partition or the new one,
//! never a mix; a crash at any point leaves the old one intact and at worst a hidden
//! `.dt=...tmp-*` directory that the next build removes.

use crate::BuildError;
use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// A partition directory being written.
pub struct StagedDir {
    pub tmp: PathBuf,
    target: PathBuf,
}

impl StagedDir {
    /// Stages `target` (e.g. `samples/dt=D`): removes leftovers of crashed builds and
    /// creates a fresh temporary directory beside it.
    pub fn new(target: &Path) -> Result<Self, BuildError> {
        let parent = target.parent().expect("partition has a parent");
        std::fs::create_dir_all(parent).map_err(|e| BuildError::io(parent, e))?;
        let name = target
            .file_name()
            .expect("named")
            .to_string_lossy()
            .into_owned();
        let prefix = format!(".{name}.tmp-");
        for entry in std::fs::read_dir(parent).map_err(|e| BuildError::io(parent, e))? {
            let path = entry.map_err(|e| BuildError::io(parent, e))?.path();
            if path
                .file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with(&prefix))
            {
                std::fs::remove_dir_all(&path).map_err(|e| BuildError::io(&path, e))?;
            }
        }
        let tmp = parent.join(format!("{prefix}{}", std::process::id()));
        std::fs::create_dir_all(&tmp).map_err(|e| BuildError::io(&tmp, e))?;
        Ok(StagedDir {
            tmp,
            target: target.to_path_buf(),
        })
    }

    /// Makes the staged directory the partition, atomically.
    pub fn commit(self) -> Result<(), BuildError> {
        failpoint("before-swap");
        sync_dir(&self.tmp)?;
        if self.target.exists() {
            exchange(&self.tmp, &self.target)?;
            // self.tmp now holds the previous partition
            std::fs::remove_dir_all(&self.tmp).map_err(|e| BuildError::io(&self.tmp, e))?;
        } else {
            std::fs::rename(&self.tmp, &self.target)
                .map_err(|e| BuildError::io(&self.target, e))?;
        }
        if let Some(parent) = self.target.parent() {
            sync_dir(parent)?;
        }
        Ok(())
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

fn sync_dir(dir: &Path) -> Result<(), BuildError> {
    std::fs::File::open(dir)
        .and_then(|f| f.sync_all())
        .map_err(|e| BuildError::io(dir, e))
}

/// Swaps two paths atomically (Linux `renameat2` with `RENAME_EXCHANGE`).
fn exchange(a: &Path, b: &Path) -> Result<(), BuildError> {
    let ca = CString::new(a.as_os_str().as_bytes()).expect("no NUL in paths");
    let cb = CString::new(b.as_os_str().as_bytes()).expect("no NUL in paths");
    // SAFETY: both are valid NUL-terminated paths; AT_FDCWD resolves them as given.
    let rc = unsafe {
        libc::renameat2(
            libc::AT_FDCWD,
            ca.as_ptr(),
            libc::AT_FDCWD,
            cb.as_ptr(),
            libc::RENAME_EXCHANGE,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(BuildError::io(b, std::io::Error::last_os_error()))
    }
}

/// Writes `bytes` to `path` atomically (temporary file, fsync, rename).
pub fn write_file_atomic(path: &Path, bytes: &[u8]) -> Result<(), BuildError> {
    use std::io::Write;
    let parent = path.parent().expect("file has a parent");
    std::fs::create_dir_all(parent).map_err(|e| BuildError::io(parent, e))?;
    let tmp = parent.join(format!(
        ".{}.tmp-{}",
        path.file_name().expect("named").to_string_lossy(),
        std::process::id()
    ));
    let mut f = std::fs::File::create(&tmp).map_err(|e| BuildError::io(&tmp, e))?;
    f.write_all(bytes)
        .and_then(|_| f.sync_all())
        .map_err(|e| BuildError::io(&tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| BuildError::io(path, e))
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
