//! The attribution stage: DataFusion's sorted union of the good events
//! (`sql/builder/events.sql`) streamed through the [`Attributor`] user by user, its
//! samples into the labelled sink, the distinct events of each table counted as they
//! pass (the duplicates dropped are the good rows less those).

use super::Builder;
use super::clean::CleanedTables;
use super::sink::{LabelledSink, SampleBatches};
use crate::attribute::{AttributionCounts, Attributor, Event, Kind};
use crate::{BuildError, Progress};
use arrow::array::{
    Array, ArrayRef, AsArray, Float64Array, Int8Array, Int32Array, Int64Array, RecordBatch,
    StringArray, TimestampMicrosecondArray,
};
use arrow::compute::cast;
use arrow::datatypes::{
    DataType, Float64Type, Int8Type, Int32Type, Int64Type, Schema, TimeUnit,
    TimestampMicrosecondType,
};
use chrono::NaiveDate;
use datafusion::prelude::SessionContext;
use esmc_schemas::Table;
use esmc_schemas::time::day_start_us;
use futures::StreamExt;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

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
        // the union holds the good rows of cleaning less their duplicates: the bar runs
        // over the good rows and is completed when the stream ends; the distinct rows
        // of each table (kind = its index in Table::EVENTS) are counted as they pass
        let mut attributed = 0;
        let mut distinct = vec![0u64; good.len()];
        progress.position(day, 0, events_total, "events");
        while let Some(batch) = stream.next().await {
            let batch = normalize(&batch?)?;
            attributed += batch.num_rows() as u64;
            let kinds = batch.column(2).as_primitive::<Int8Type>();
            for &k in kinds.values() {
                if let Some(n) = distinct.get_mut(k as usize) {
                    *n += 1;
                }
            }
            labeller.push(batch)?;
            progress.position(day, attributed.min(events_total), events_total, "events");
        }
        progress.position(day, events_total, events_total, "events");
        let (sink, counts) = labeller.finish()?;
        Ok(Labelled {
            path: path.to_path_buf(),
            rows: sink.rows(),
            stats: sink.stats(),
            counts,
            duplicates: duplicates(good, &distinct)?,
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

/// The event stream's columns in the types the labeller reads.
pub(crate) fn normalize(batch: &RecordBatch) -> Result<RecordBatch, BuildError> {
    let want = [
        DataType::Int64,
        DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
        DataType::Int8,
        DataType::Int64,
        DataType::Int64,
        DataType::Utf8,
        DataType::Int64,
        DataType::Int32,
        DataType::Float64,
        DataType::Float64,
        DataType::Float64,
    ];
    if batch.num_columns() != want.len() {
        return Err(BuildError::Internal(format!(
            "event stream has {} columns",
            batch.num_columns()
        )));
    }
    let cols: Vec<ArrayRef> = batch
        .columns()
        .iter()
        .zip(&want)
        .map(|(c, t)| {
            if c.data_type() == t {
                Ok(c.clone())
            } else {
                cast(c, t)
            }
        })
        .collect::<Result<_, _>>()
        .map_err(|e| BuildError::Internal(format!("event stream types: {e}")))?;
    let fields: Vec<_> = batch
        .schema()
        .fields()
        .iter()
        .zip(&want)
        .map(|(f, t)| f.as_ref().clone().with_data_type(t.clone()))
        .collect();
    RecordBatch::try_new(Arc::new(Schema::new(fields)), cols)
        .map_err(|e| BuildError::Internal(format!("event stream batch: {e}")))
}

/// Typed views of one event batch.
struct Cols<'a> {
    user: &'a Int64Array,
    ts: &'a TimestampMicrosecondArray,
    kind: &'a Int8Array,
    item: &'a Int64Array,
    exposure: &'a Int64Array,
    tag: &'a StringArray,
    client: &'a Int64Array,
    position: &'a Int32Array,
    truth: [&'a Float64Array; 3],
}

impl<'a> Cols<'a> {
    fn new(b: &'a RecordBatch) -> Self {
        Cols {
            user: b.column(0).as_primitive::<Int64Type>(),
            ts: b.column(1).as_primitive::<TimestampMicrosecondType>(),
            kind: b.column(2).as_primitive::<Int8Type>(),
            item: b.column(3).as_primitive::<Int64Type>(),
            exposure: b.column(4).as_primitive::<Int64Type>(),
            tag: b.column(5).as_string::<i32>(),
            client: b.column(6).as_primitive::<Int64Type>(),
            position: b.column(7).as_primitive::<Int32Type>(),
            truth: [
                b.column(8).as_primitive::<Float64Type>(),
                b.column(9).as_primitive::<Float64Type>(),
                b.column(10).as_primitive::<Float64Type>(),
            ],
        }
    }

    fn event(&self, i: usize) -> Event<'a> {
        let opt_i64 = |a: &'a Int64Array| a.is_valid(i).then(|| a.value(i));
        let opt_f64 = |a: &'a Float64Array| a.is_valid(i).then(|| a.value(i));
        Event {
            ts: self.ts.value(i),
            kind: Kind::from_code(self.kind.value(i)).expect("kinds 0-5"),
            item: self.item.value(i),
            exposure_id: opt_i64(self.exposure),
            tag: self.tag.is_valid(i).then(|| self.tag.value(i)),
            client_session: opt_i64(self.client),
            position: self.position.is_valid(i).then(|| self.position.value(i)),
            truth: self.truth.map(opt_f64),
        }
    }
}

/// Feeds the sorted event stream to the attributor user by user (a user's events may
/// span batches) and collects the samples as record batches.
pub(crate) struct Labeller<'a> {
    attributor: &'a Attributor,
    /// Rows of the current user seen so far (batch slices).
    pending: Vec<RecordBatch>,
    out: SampleBatches,
    counts: AttributionCounts,
}

impl<'a> Labeller<'a> {
    pub(crate) fn new(attributor: &'a Attributor, sink: LabelledSink) -> Self {
        Labeller {
            attributor,
            pending: Vec::new(),
            out: SampleBatches::new(sink),
            counts: AttributionCounts::default(),
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
        let events: Vec<Event<'_>> = cols
            .iter()
            .flat_map(|c| (0..c.user.len()).map(move |i| c.event(i)))
            .collect();
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

    pub(crate) fn finish(mut self) -> Result<(LabelledSink, AttributionCounts), BuildError> {
        self.flush_pending()?;
        Ok((self.out.finish()?, self.counts))
    }
}
