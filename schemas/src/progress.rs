//! The one progress abstraction of esmc's libraries. Libraries never print: the CLI
//! implements [`Progress`] (progress bars), tests and benchmarks pass [`NoProgress`].
//!
//! ```text
//!  simulation, training, evaluation   start(total) ─> advance(n)… ─> finish()
//!  a build of day D                   stage(D, name) ─> position(D, pos, len, unit)…
//!                                     per stage, stages in order
//! ```
//!
//! Every method has a default that ignores the report, so an implementation names only
//! what it shows. Called from worker threads, hence `Sync`.

use chrono::NaiveDate;

/// Receives the progress of a long job.
pub trait Progress: Sync {
    /// A pass over `total` units begins (simulation: users; training: samples).
    fn start(&self, total: u64) {
        let _ = total;
    }

    /// `n` more units of the pass are done.
    fn advance(&self, n: u64) {
        let _ = n;
    }

    /// The pass ended.
    fn finish(&self) {}

    /// A new stage of the build of `day` starts. The builder's stages, in order:
    /// `checking inputs` (files), `cleaning` (event tables), `attributing` (events of
    /// the sorted union), `features` (steps; only when features are on), `writing`
    /// (sample rows); `esmc nightly` reports `checking` before deciding a day.
    fn stage(&self, day: NaiveDate, stage: &str) {
        let _ = (day, stage);
    }

    /// How far the current stage of `day` is: `pos` of `len` `unit`s (`files`,
    /// `tables`, `events`, `steps`, `rows`). Every stage reports `pos` 0 first and `pos`
    /// = `len` last (a build that fails stops where it is); within a stage `pos` never
    /// decreases and never exceeds `len`, which is the stage's real count known up
    /// front. Reported per file, table or batch, never per row.
    fn position(&self, day: NaiveDate, pos: u64, len: u64, unit: &str) {
        let _ = (day, pos, len, unit);
    }
}

/// A [`Progress`] that reports nothing.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoProgress;

impl Progress for NoProgress {}
