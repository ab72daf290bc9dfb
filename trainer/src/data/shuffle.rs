//! The reading thread: files read and converted in order, rows held in a bounded shuffle
//! buffer (a SplitMix permutation of it per emission), cut into batches and sent over a
//! channel of 4 so that decoding overlaps the training step.

use super::read::for_each_rows;
use super::{Batch, NormStats, Rows};
use crate::error::Result;
use crate::spec::Resolved;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::mpsc::{Receiver, sync_channel};
use std::time::{Duration, Instant};

/// How batches are cut from the files.
#[derive(Debug, Clone, Copy)]
pub struct LoaderConfig {
    pub batch_size: usize,
    /// Rows held for shuffling (0 = keep file order, for evaluation).
    pub shuffle_rows: usize,
    pub seed: u64,
}

/// Time the reading thread spent decoding and converting, and the time the consumer
/// waited for batches.
#[derive(Debug, Clone, Copy, Default)]
pub struct LoadTimes {
    pub decode: Duration,
    pub wait: Duration,
}

/// Batches of a set of files, produced on a reading thread.
pub struct Loader {
    rx: Receiver<Result<Batch>>,
    handle: Option<std::thread::JoinHandle<Duration>>,
    pub times: LoadTimes,
}

impl Loader {
    /// Starts reading `files`.
    pub fn start(
        files: Vec<PathBuf>,
        spec: Arc<Resolved>,
        norm: Arc<NormStats>,
        cfg: LoaderConfig,
    ) -> Self {
        let (tx, rx) = sync_channel::<Result<Batch>>(4);
        let handle = std::thread::spawn(move || {
            let mut busy = Duration::ZERO;
            let mut rng = crate::rng::SplitMix::new(cfg.seed);
            let mut buffer = Rows::empty(&spec);
            let cap = cfg.shuffle_rows.max(cfg.batch_size);
            let mut t = Instant::now();
            let mut emit =
                |buffer: &mut Rows, all: bool, busy: &mut Duration, t: &mut Instant| -> bool {
                    let perm: Option<Vec<u32>> =
                        (cfg.shuffle_rows > 0).then(|| rng.permutation(buffer.len));
                    let full = buffer.len / cfg.batch_size * cfg.batch_size;
                    let end = if all { buffer.len } else { full };
                    let mut start = 0;
                    while start < end {
                        let stop = (start + cfg.batch_size).min(end);
                        let mut rows = Rows::empty(&spec);
                        rows.gather_from(buffer, start..stop, perm.as_deref());
                        let batch = rows.into_batch(&spec);
                        *busy += t.elapsed();
                        if tx.send(Ok(batch)).is_err() {
                            return false;
                        }
                        *t = Instant::now();
                        start = stop;
                    }
                    let mut rest = Rows::empty(&spec);
                    rest.gather_from(buffer, end..buffer.len, perm.as_deref());
                    *buffer = rest;
                    true
                };
            let read_rows = cfg.batch_size.clamp(1024, 65536);
            let result = for_each_rows(&files, &spec, &norm, read_rows, |rows| {
                buffer.append(&rows);
                if buffer.len >= cap {
                    return Ok(emit(&mut buffer, false, &mut busy, &mut t));
                }
                Ok(true)
            });
            match result {
                Ok(()) => {
                    emit(&mut buffer, true, &mut busy, &mut t);
                }
                Err(e) => {
                    let _ = tx.send(Err(e));
                }
            }
            busy + t.elapsed()
        });
        Loader {
            rx,
            handle: Some(handle),
            times: LoadTimes::default(),
        }
    }

    /// The next batch, or None at the end.
    pub fn next_batch(&mut self) -> Option<Result<Batch>> {
        let t = Instant::now();
        let b = self.rx.recv().ok();
        self.times.wait += t.elapsed();
        if b.is_none()
            && let Some(h) = self.handle.take()
        {
            self.times.decode = h.join().unwrap_or_default();
        }
        b
    }
}
