//! Durable, atomic publishing of files and directories: the one place esmc makes output
//! visible (sample partitions, manifests, checkpoints, metrics files, reports).
//!
//! A file is written to a private temporary beside its target (`.<name>.tmp-<pid>-<nanos>`),
//! fsynced, renamed onto the target, and the parent directory fsynced. A directory is
//! staged under such a private name, every file and directory in it fsynced, then swapped
//! with the old one in one `renameat2(RENAME_EXCHANGE)` (Linux only; a plain rename when
//! there is no old one), and the parent fsynced. Readers see the old output or the new
//! one, never a mix; a crash leaves the old one and at worst a hidden temporary, removed
//! by the next job that holds the output's lock ([`remove_stale`]).
//!
//! Fault injection for tests: `ESMC_FAULT_ENOSPC=<text>` makes every publish whose target
//! path contains `<text>` fail with "No space left on device" before anything is swapped.

use std::ffi::CString;
use std::io::Write;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// A file system operation on `path` failed.
#[derive(Debug, thiserror::Error)]
#[error("{path}: {source}")]
pub struct IoError {
    pub path: PathBuf,
    #[source]
    pub source: std::io::Error,
}

fn err(path: &Path) -> impl FnOnce(std::io::Error) -> IoError + '_ {
    move |source| IoError {
        path: path.to_path_buf(),
        source,
    }
}

/// A private temporary name beside `target`: `.<name>.tmp-<pid>-<nanos>`, unique to
/// this job (two jobs never share one, so neither removes the other's).
pub fn private_tmp(target: &Path) -> PathBuf {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    static SEQ: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let seq = SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let parent = target.parent().unwrap_or(Path::new("."));
    parent.join(format!(
        "{}{}-{nanos}-{seq}",
        tmp_prefix(target),
        std::process::id()
    ))
}

/// The prefix of every temporary of `target`: `.<name>.tmp-`.
pub fn tmp_prefix(target: &Path) -> String {
    let name = target
        .file_name()
        .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
    format!(".{name}.tmp-")
}

/// Whether process `pid` is alive (signal 0 reaches it, or it exists but is not ours).
pub fn pid_alive(pid: u32) -> bool {
    // SAFETY: kill with signal 0 sends nothing; it only checks the pid.
    let rc = unsafe { libc::kill(pid as libc::pid_t, 0) };
    rc == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

/// Removes the temporaries of `target` left by dead jobs. Call it only while holding the
/// lock that guards `target`; temporaries of live processes are left alone either way.
pub fn remove_stale(target: &Path) -> Result<usize, IoError> {
    let Some(parent) = target.parent() else {
        return Ok(0);
    };
    let prefix = tmp_prefix(target);
    let entries = match std::fs::read_dir(parent) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(err(parent)(e)),
    };
    let mut removed = 0;
    for entry in entries {
        let path = entry.map_err(err(parent))?.path();
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
        let Some(rest) = name.as_deref().and_then(|n| n.strip_prefix(&prefix)) else {
            continue;
        };
        let pid: Option<u32> = rest.split('-').next().and_then(|p| p.parse().ok());
        if pid.is_some_and(|p| p == std::process::id() || pid_alive(p)) {
            continue;
        }
        let gone = if path.is_dir() {
            std::fs::remove_dir_all(&path)
        } else {
            std::fs::remove_file(&path)
        };
        gone.map_err(err(&path))?;
        removed += 1;
    }
    Ok(removed)
}

/// Fails with ENOSPC when `ESMC_FAULT_ENOSPC` names part of `target` (tests only).
pub fn injected_fault(target: &Path) -> Result<(), IoError> {
    match std::env::var("ESMC_FAULT_ENOSPC") {
        Ok(t) if !t.is_empty() && target.to_string_lossy().contains(&t) => Err(IoError {
            path: target.to_path_buf(),
            source: std::io::Error::from_raw_os_error(libc::ENOSPC),
        }),
        _ => Ok(()),
    }
}

/// Fsyncs a directory (its entries: names created, renamed or removed in it).
pub fn sync_dir(dir: &Path) -> Result<(), IoError> {
    std::fs::File::open(dir)
        .and_then(|f| f.sync_all())
        .map_err(err(dir))
}

/// Fsyncs every file and directory under `dir`, and `dir` itself.
pub fn sync_tree(dir: &Path) -> Result<(), IoError> {
    for entry in std::fs::read_dir(dir).map_err(err(dir))? {
        let entry = entry.map_err(err(dir))?;
        let path = entry.path();
        if entry.file_type().map_err(err(&path))?.is_dir() {
            sync_tree(&path)?;
        } else {
            std::fs::File::open(&path)
                .and_then(|f| f.sync_all())
                .map_err(err(&path))?;
        }
    }
    sync_dir(dir)
}

/// Writes `bytes` to `path` durably and atomically.
pub fn write_file(path: &Path, bytes: &[u8]) -> Result<(), IoError> {
    let parent = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent).map_err(err(parent))?;
    let tmp = private_tmp(path);
    let result = (|| {
        let mut f = std::fs::File::create(&tmp).map_err(err(&tmp))?;
        f.write_all(bytes).map_err(err(&tmp))?;
        drop(f);
        publish_file(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// Makes the file `tmp` (written in full by the caller, beside `path`) the file `path`:
/// fsync, rename, fsync of the directory.
pub fn publish_file(tmp: &Path, path: &Path) -> Result<(), IoError> {
    injected_fault(path)?;
    std::fs::File::open(tmp)
        .and_then(|f| f.sync_all())
        .map_err(err(tmp))?;
    std::fs::rename(tmp, path).map_err(err(path))?;
    sync_dir(path.parent().unwrap_or(Path::new(".")))
}

/// Makes the directory `tmp` (complete, beside `target`) the directory `target` in one
/// atomic step, durably; the previous `target`, if any, is removed afterwards.
pub fn publish_dir(tmp: &Path, target: &Path) -> Result<(), IoError> {
    injected_fault(target)?;
    sync_tree(tmp)?;
    let parent = target.parent().unwrap_or(Path::new("."));
    if target.exists() {
        exchange(tmp, target)?;
        // `tmp` now holds the previous directory
        sync_dir(parent)?;
        std::fs::remove_dir_all(tmp).map_err(err(tmp))?;
    } else {
        std::fs::rename(tmp, target).map_err(err(target))?;
    }
    sync_dir(parent)
}

/// Swaps two paths atomically (Linux `renameat2` with `RENAME_EXCHANGE`).
pub fn exchange(a: &Path, b: &Path) -> Result<(), IoError> {
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
        Err(err(b)(std::io::Error::last_os_error()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_published_dir_replaces_the_old_one_and_no_temporary_is_left() {
        let root = tempfile::tempdir().unwrap();
        let target = root.path().join("dt=2026-11-02");
        std::fs::create_dir_all(&target).unwrap();
        std::fs::write(target.join("a"), b"old").unwrap();
        let tmp = private_tmp(&target);
        std::fs::create_dir_all(&tmp).unwrap();
        write_file(&tmp.join("a"), b"new").unwrap();
        publish_dir(&tmp, &target).unwrap();
        assert_eq!(std::fs::read(target.join("a")).unwrap(), b"new");
        let names: Vec<_> = std::fs::read_dir(root.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["dt=2026-11-02"]);
    }

    #[test]
    fn stale_temporaries_of_dead_jobs_go_and_live_ones_stay() {
        let root = tempfile::tempdir().unwrap();
        let target = root.path().join("dt=2026-11-02");
        let mine = private_tmp(&target);
        std::fs::create_dir_all(&mine).unwrap();
        // pid 0x7ffffffe is above any pid_max: no such process
        let dead = root
            .path()
            .join(format!("{}2147483646-1-0", tmp_prefix(&target)));
        std::fs::create_dir_all(&dead).unwrap();
        assert_eq!(remove_stale(&target).unwrap(), 1);
        assert!(mine.exists() && !dead.exists());
    }

    #[test]
    fn an_injected_full_disk_names_the_path_and_keeps_the_old_file() {
        let root = tempfile::tempdir().unwrap();
        let path = root.path().join("metrics.parquet");
        write_file(&path, b"old").unwrap();
        // SAFETY: this test's process reads the variable only in this test's thread
        unsafe { std::env::set_var("ESMC_FAULT_ENOSPC", "metrics.parquet") };
        let e = write_file(&path, b"new").unwrap_err();
        unsafe { std::env::remove_var("ESMC_FAULT_ENOSPC") };
        assert_eq!(e.source.raw_os_error(), Some(libc::ENOSPC));
        assert!(e.to_string().contains("metrics.parquet"), "{e}");
        assert_eq!(std::fs::read(&path).unwrap(), b"old");
        assert_eq!(std::fs::read_dir(root.path()).unwrap().count(), 1);
    }
}
