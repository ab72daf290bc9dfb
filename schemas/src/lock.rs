//! Job locks: one per (warehouse, day) for builds, one per run for training, one per
//! warehouse for `esmc nightly`, held by the OS (`flock` through std's `File::lock`), so a
//! job that dies releases its lock and no stale lock ever needs cleaning.
//!
//! ```text
//! <root>/.locks/build-dt=D.lock    a build of day D (esmc build, esmc nightly)
//! <root>/.locks/run-<R>.lock       a training of run R (esmc train, esmc nightly --run)
//! <root>/.locks/nightly.lock       esmc nightly
//! ```
//!
//! The holder writes its pid, start time and command line into the file, so that a job
//! refused (or waiting) can say who holds it. Tests make a holder keep its lock a while
//! with `ESMC_HOLD_LOCK_MS=<ms>` (it sleeps right after taking it).

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

/// Exit code of a job refused because another holds its lock (`EX_TEMPFAIL`: try again
/// later).
pub const EXIT_BUSY: u8 = 75;

/// Why a lock was not taken.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    /// Another job holds it (run again later, or with `--wait`).
    #[error(
        "busy: {what} is locked by another job ({holder}); lock file {lock}; \
         wait for it with --wait"
    )]
    Busy {
        what: String,
        holder: String,
        lock: PathBuf,
    },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// A held lock, released when dropped (or when the process dies).
#[derive(Debug)]
pub struct JobLock {
    _file: File,
    path: PathBuf,
}

/// The lock file of the build of `day` in the warehouse at `root`.
pub fn build_lock_path(root: &Path, day: chrono::NaiveDate) -> PathBuf {
    root.join(".locks").join(format!("build-dt={day}.lock"))
}

/// The lock file of training run `run` in the warehouse at `root`.
pub fn run_lock_path(root: &Path, run: &str) -> PathBuf {
    root.join(".locks").join(format!("run-{run}.lock"))
}

/// The lock file of `esmc nightly` in the warehouse at `root`.
pub fn nightly_lock_path(root: &Path) -> PathBuf {
    root.join(".locks").join("nightly.lock")
}

impl JobLock {
    /// Takes the lock at `path` for `what` (e.g. "the build of 2026-11-02"). With
    /// `wait`, blocks until the holder is gone; without, fails at once with
    /// [`LockError::Busy`] naming the holder. `on_wait` is called once, with the holder,
    /// before blocking.
    pub fn acquire(
        path: &Path,
        what: &str,
        wait: bool,
        on_wait: &dyn Fn(&str),
    ) -> Result<JobLock, LockError> {
        let io = |source| LockError::Io {
            path: path.to_path_buf(),
            source,
        };
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(io)?;
        }
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .map_err(io)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                let holder = read_holder(&mut file);
                if !wait {
                    return Err(LockError::Busy {
                        what: what.to_string(),
                        holder,
                        lock: path.to_path_buf(),
                    });
                }
                on_wait(&holder);
                file.lock().map_err(io)?;
            }
            Err(TryLockError::Error(e)) => return Err(io(e)),
        }
        let stamp = format!(
            "pid {} started {} command: {}\n",
            std::process::id(),
            chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ"),
            std::env::args().collect::<Vec<_>>().join(" ")
        );
        file.set_len(0)
            .and_then(|_| file.rewind())
            .and_then(|_| file.write_all(stamp.as_bytes()))
            .map_err(io)?;
        // tests only: hold the job's first lock a while, so that a second job surely meets
        // it (not the nested ones, e.g. the feature history's per-day locks: holding each
        // of those too made a build with 30 history days sleep 31 times)
        static HELD: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
        if let Some(ms) = std::env::var("ESMC_HOLD_LOCK_MS")
            .ok()
            .and_then(|v| v.parse().ok())
            .filter(|_| !HELD.swap(true, std::sync::atomic::Ordering::SeqCst))
        {
            std::thread::sleep(std::time::Duration::from_millis(ms));
        }
        Ok(JobLock {
            _file: file,
            path: path.to_path_buf(),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

fn read_holder(file: &mut File) -> String {
    let mut text = String::new();
    let _ = file.rewind().and_then(|_| file.read_to_string(&mut text));
    let text = text.trim();
    if text.is_empty() {
        "holder not yet recorded".into()
    } else {
        text.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_taker_is_refused_with_the_holder_and_gets_it_once_released() {
        let root = tempfile::tempdir().unwrap();
        let path = build_lock_path(root.path(), "2026-11-02".parse().unwrap());
        let held = JobLock::acquire(&path, "the build of 2026-11-02", false, &|_| {}).unwrap();
        let e = JobLock::acquire(&path, "the build of 2026-11-02", false, &|_| {}).unwrap_err();
        let msg = e.to_string();
        assert!(matches!(e, LockError::Busy { .. }), "{msg}");
        assert!(
            msg.contains(&format!("pid {}", std::process::id())),
            "{msg}"
        );
        assert!(msg.contains("started 20"), "{msg}");
        drop(held);
        JobLock::acquire(&path, "the build of 2026-11-02", false, &|_| {}).unwrap();
    }

    #[test]
    fn a_waiting_taker_gets_the_lock_when_the_holder_lets_go() {
        let root = tempfile::tempdir().unwrap();
        let path = run_lock_path(root.path(), "r1");
        let held = JobLock::acquire(&path, "run r1", false, &|_| {}).unwrap();
        let waited = std::sync::atomic::AtomicBool::new(false);
        std::thread::scope(|s| {
            let t = s.spawn(|| {
                JobLock::acquire(&path, "run r1", true, &|_| {
                    waited.store(true, std::sync::atomic::Ordering::SeqCst)
                })
                .unwrap()
            });
            std::thread::sleep(std::time::Duration::from_millis(200));
            drop(held);
            t.join().unwrap();
        });
        assert!(waited.load(std::sync::atomic::Ordering::SeqCst));
    }
}
