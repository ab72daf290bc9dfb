//! The attribution stage: DataFusion's sorted union of the good events
//! (`sql/builder/events.sql`) streamed through the [`Attributor`] user by user, its
//! samples into the labelled sink, the exact duplicates dropped on the way and the
//! distinct events of each table counted (the duplicates are the good rows less those).

use super::Builder;
use super::clean::CleanedTables;
use super::event_rows::{Cols, KindCounts, distinct_events, normalize};
use super::sink::{LabelledSink, SampleBatches};
use crate::attribute::{AttributionCounts, Attributor};
use crate::{BuildError, Progress};
use arrow::array::RecordBatch;
use chrono::NaiveDate;
use datafusion::prelude::SessionContext;
use esmc_schemas::Table;
use esmc_schemas::time::day_start_us;
use futures::StreamExt;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// What the attribution stage produced: the labelled samples' spill file and what the
/// manifest records of them.
pub(super) struct Labelled {
    pub(super) path: PathBuf,
    pub(super) rows: u64,
    /// Label rates and psc case counts.
    pub(super) stats: (BTreeMap<String, f64>, BTreeMap<String, u64>),
    pub(super) counts: AttributionCounts,
    /// Exact duplicate events dropped over the window, per table.
    pub(super) duplicates: BTreeMap<String, u64>,
}

impl Builder {
    /// Labels `day`'s samples into the Parquet spill file at `path`, reporting events.
    pub(super) async fn label(
        &self,
        ctx: &SessionContext,
        day: NaiveDate,
        path: &Path,
        cleaned: &CleanedTables,
        progress: &dyn Progress,
    ) -> Result<Labelled, BuildError> {
        let good = &cleaned.good;
        let events_total: u64 = good.iter().sum();
        let attributor = Attributor::new(&self.cfg, day_start_us(day));
        let events = ctx
            .sql(include_str!("../../../sql/builder/events.sql"))
            .await?;
        let mut stream = events.execute_stream().await?;
        let mut labeller = Labeller::new(&attributor, LabelledSink::new(path)?);
        // the union holds the good rows of cleaning, duplicates and all but purchases'
        // (the labeller drops them): the bar runs over the good rows
        let mut attributed = 0;
        progress.position(day, 0, events_total, "events");
        while let Some(batch) = stream.next().await {
            let batch = normalize(&batch?)?;
            attributed += batch.num_rows() as u64;
            labeller.push(batch)?;
            progress.position(day, attributed.min(events_total), events_total, "events");
        }
        progress.position(day, events_total, events_total, "events");
        let labels = labeller.finish()?;
        Ok(Labelled {
            path: path.to_path_buf(),
            rows: labels.sink.rows(),
            stats: labels.sink.stats(),
            counts: labels.counts,
            duplicates: duplicates(good, &labels.kinds.distinct)?,
        })
    }
}

/// Duplicates dropped per table: its good rows less its distinct events.
pub(super) fn duplicates(
    good: &[u64],
    distinct: &[u64],
) -> Result<BTreeMap<String, u64>, BuildError> {
    Table::EVENTS
        .iter()
        .zip(good.iter().zip(distinct))
        .map(|(t, (&g, &d))| {
            let dups = g.checked_sub(d).ok_or_else(|| {
                BuildError::Internal(format!(
                    "{}: {d} distinct events from {g} good rows",
                    t.name()
                ))
            })?;
            Ok((t.name().to_string(), dups))
        })
        .collect()
}

/// Feeds the sorted event stream to the attributor user by user (a user's events may
/// span batches) and collects the samples as record batches.
pub(crate) struct Labeller<'a> {
    attributor: &'a Attributor,
    /// Rows of the current user seen so far (batch slices).
    pending: Vec<RecordBatch>,
    out: SampleBatches,
    counts: AttributionCounts,
    /// Rows read and distinct events per table (kind = its index in `Table::EVENTS`).
    kinds: KindCounts,
}

/// What a labeller produced: its samples, the attribution's counts, the rows read and
/// the distinct events per table.
pub(crate) struct Labels {
    pub(crate) sink: LabelledSink,
    pub(crate) counts: AttributionCounts,
    pub(crate) kinds: KindCounts,
}

impl<'a> Labeller<'a> {
    pub(crate) fn new(attributor: &'a Attributor, sink: LabelledSink) -> Self {
        Labeller {
            attributor,
            pending: Vec::new(),
            out: SampleBatches::new(sink),
            counts: AttributionCounts::default(),
            kinds: KindCounts::new(),
        }
    }

    pub(crate) fn push(&mut self, batch: RecordBatch) -> Result<(), BuildError> {
        let n = batch.num_rows();
        if n == 0 {
            return Ok(());
        }
        let users = Cols::new(&batch).user.clone();
        let mut start = 0;
        if let Some(current) = self.pending_user() {
            let end = (0..n).find(|&i| users.value(i) != current).unwrap_or(n);
            self.pending.push(batch.slice(0, end));
            if end == n {
                return Ok(());
            }
            self.flush_pending()?;
            start = end;
        }
        let mut group = start;
        for i in start + 1..=n {
            if i == n || users.value(i) != users.value(group) {
                if i == n {
                    self.pending.push(batch.slice(group, n - group));
                } else {
                    let slice = batch.slice(group, i - group);
                    self.label(&[slice])?;
                }
                group = i;
            }
        }
        Ok(())
    }

    fn pending_user(&self) -> Option<i64> {
        self.pending.first().map(|b| Cols::new(b).user.value(0))
    }

    fn flush_pending(&mut self) -> Result<(), BuildError> {
        let pending = std::mem::take(&mut self.pending);
        self.label(&pending)
    }

    /// Labels one user whose rows are `parts`, in order.
    fn label(&mut self, parts: &[RecordBatch]) -> Result<(), BuildError> {
        let cols: Vec<Cols<'_>> = parts.iter().map(Cols::new).collect();
        let Some(user) = cols
            .iter()
            .find(|c| !c.user.is_empty())
            .map(|c| c.user.value(0))
        else {
            return Ok(());
        };
        let events = distinct_events(&cols, &mut self.kinds);
        for s in self.attributor.user(user, &events, &mut self.counts) {
            if let Some(label) = s.labels.violation() {
                return Err(BuildError::Invariant {
                    sample_id: s.exposure_id,
                    label,
                });
            }
            self.out.push(s)?;
        }
        Ok(())
    }

    pub(crate) fn finish(mut self) -> Result<Labels, BuildError> {
        self.flush_pending()?;
        Ok(Labels {
            sink: self.out.finish()?,
            counts: self.counts,
            kinds: self.kinds,
        })
    }
}
