//! The rows of the event stream (`sql/builder/events.sql`) as the labeller reads them:
//! the columns in the types it reads, typed views of a batch, and one user's events
//! without their exact duplicates.
//!
//! Exact duplicates (every column equal) share every sort key of the stream, so they
//! arrive inside one run of rows with equal (ts, kind, item, exposure, tag); within such
//! a run (almost always one row long) each row is compared with the rows kept before it.
//! A row between two copies that differs only in a column outside the keys (another
//! request or position) is kept and does not hide the second copy. Purchases are the
//! exception: the stream does not carry their order, amount and quantity, so cleaning
//! deduplicates them ([`DISTINCT_BEFORE`]) and the pass keeps every purchase row.

use crate::BuildError;
use crate::attribute::{Event, Kind};
use arrow::array::{
    Array, ArrayRef, AsArray, Float64Array, Int8Array, Int32Array, Int64Array, RecordBatch,
    StringArray, TimestampMicrosecondArray,
};
use arrow::compute::cast;
use arrow::datatypes::{
    DataType, Float64Type, Int8Type, Int32Type, Int64Type, Schema, TimeUnit,
    TimestampMicrosecondType,
};
use esmc_schemas::Table;
use std::sync::Arc;

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
        DataType::Int64,
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

/// The event kind whose table cleaning deduplicates with a DISTINCT before the union
/// (`Table::EVENTS[kind]`): the stream does not carry the columns the attribution does
/// not read of it (order, amount, quantity), so its rows cannot be compared whole here.
/// A small table.
pub(crate) const DISTINCT_BEFORE: Kind = Kind::Purchase;

/// The column of an event row that the attribution does not read, compared only to find
/// exact duplicates: the exposure's request.
type Rest = Option<i64>;

/// Typed views of one (normalized) event batch.
pub(super) struct Cols<'a> {
    pub(super) user: &'a Int64Array,
    ts: &'a TimestampMicrosecondArray,
    kind: &'a Int8Array,
    item: &'a Int64Array,
    exposure: &'a Int64Array,
    tag: &'a StringArray,
    client: &'a Int64Array,
    position: &'a Int32Array,
    truth: [&'a Float64Array; 3],
    request: &'a Int64Array,
}

impl<'a> Cols<'a> {
    pub(super) fn new(b: &'a RecordBatch) -> Self {
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
            request: b.column(11).as_primitive::<Int64Type>(),
        }
    }

    /// Row `i` as the attribution reads it, with the rest of its columns.
    fn row(&self, i: usize) -> (Event<'a>, Rest) {
        let opt_i64 = |a: &'a Int64Array| a.is_valid(i).then(|| a.value(i));
        let opt_f64 = |a: &'a Float64Array| a.is_valid(i).then(|| a.value(i));
        let event = Event {
            ts: self.ts.value(i),
            kind: Kind::from_code(self.kind.value(i)).expect("kinds 0-5"),
            item: self.item.value(i),
            exposure_id: opt_i64(self.exposure),
            tag: self.tag.is_valid(i).then(|| self.tag.value(i)),
            client_session: opt_i64(self.client),
            position: self.position.is_valid(i).then(|| self.position.value(i)),
            truth: self.truth.map(opt_f64),
        };
        (event, opt_i64(self.request))
    }
}

/// Rows of the stream per kind: every row read (`seen`), and the events kept (`distinct`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct KindCounts {
    pub(crate) seen: Vec<u64>,
    pub(crate) distinct: Vec<u64>,
}

impl KindCounts {
    pub(crate) fn new() -> Self {
        KindCounts {
            seen: vec![0; Table::EVENTS.len()],
            distinct: vec![0; Table::EVENTS.len()],
        }
    }
}

/// One user's events from the rows of `parts` (in stream order) with the exact
/// duplicates dropped, counted per kind into `counts`.
pub(super) fn distinct_events<'a>(parts: &[Cols<'a>], counts: &mut KindCounts) -> Vec<Event<'a>> {
    let rows = parts
        .iter()
        .flat_map(|c| (0..c.user.len()).map(|i| c.row(i)));
    let mut events: Vec<Event<'a>> = Vec::new();
    let mut rests: Vec<Rest> = Vec::new();
    // the first kept row of the current run of equal sort keys
    let mut run = 0;
    for (e, r) in rows {
        if let Some(n) = counts.seen.get_mut(e.kind as usize) {
            *n += 1;
        }
        if run < events.len() && !same_keys(&events[run], &e) {
            run = events.len();
        }
        let copy = e.kind != DISTINCT_BEFORE
            && (run..events.len()).any(|k| rests[k] == r && same_row(&events[k], &e));
        if copy {
            continue;
        }
        if let Some(n) = counts.distinct.get_mut(e.kind as usize) {
            *n += 1;
        }
        events.push(e);
        rests.push(r);
    }
    events
}

/// Equal sort keys after the user: time, kind, item, exposure and tag.
fn same_keys(a: &Event<'_>, b: &Event<'_>) -> bool {
    a.ts == b.ts
        && a.kind == b.kind
        && a.item == b.item
        && a.exposure_id == b.exposure_id
        && a.tag == b.tag
}

/// Every column of the attribution's view equal, the truth bit for bit.
fn same_row(a: &Event<'_>, b: &Event<'_>) -> bool {
    let bits = |e: &Event<'_>| e.truth.map(|t| t.map(f64::to_bits));
    same_keys(a, b)
        && a.client_session == b.client_session
        && a.position == b.position
        && bits(a) == bits(b)
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{Int8Array, StringArray};

    /// A normalized event batch of one user: (kind, request, position) per row, every
    /// sort key equal.
    fn batch(rows: &[(i8, Option<i64>, i32)]) -> RecordBatch {
        let n = rows.len();
        let schema_batch = |cols: Vec<ArrayRef>| {
            let fields: Vec<_> = cols
                .iter()
                .enumerate()
                .map(|(i, c)| {
                    arrow::datatypes::Field::new(format!("c{i}"), c.data_type().clone(), true)
                })
                .collect();
            RecordBatch::try_new(Arc::new(Schema::new(fields)), cols).unwrap()
        };
        let i64s = |v: i64| Arc::new(Int64Array::from(vec![v; n])) as ArrayRef;
        let f64s = || Arc::new(Float64Array::from(vec![0.5; n])) as ArrayRef;
        schema_batch(vec![
            i64s(7),
            Arc::new(TimestampMicrosecondArray::from(vec![1_000; n]).with_timezone("UTC")),
            Arc::new(Int8Array::from_iter_values(rows.iter().map(|r| r.0))),
            i64s(100),
            i64s(5),
            Arc::new(StringArray::from(vec!["rec"; n])),
            i64s(3),
            Arc::new(Int32Array::from_iter_values(rows.iter().map(|r| r.2))),
            f64s(),
            f64s(),
            f64s(),
            Arc::new(Int64Array::from_iter(rows.iter().map(|r| r.1))),
        ])
    }

    fn kept(b: &RecordBatch) -> (usize, Vec<u64>) {
        let b = normalize(b).unwrap();
        let mut counts = KindCounts::new();
        let n = distinct_events(&[Cols::new(&b)], &mut counts).len();
        assert_eq!(counts.seen.iter().sum::<u64>(), b.num_rows() as u64);
        (n, counts.distinct)
    }

    #[test]
    fn a_copy_is_dropped_when_a_row_differing_outside_the_keys_sorts_between() {
        // exposure, the same with another request, the first again; then another position
        let (n, distinct) = kept(&batch(&[(0, Some(1), 1), (0, Some(2), 1), (0, Some(1), 1)]));
        assert_eq!((n, distinct[0]), (2, 2));
        let (n, _) = kept(&batch(&[
            (0, None, 1),
            (0, None, 2),
            (0, None, 2),
            (0, None, 1),
        ]));
        assert_eq!(n, 2);
    }

    #[test]
    fn purchases_are_all_kept_their_copies_went_before_the_stream() {
        let (n, distinct) = kept(&batch(&[(5, None, 1), (5, None, 1)]));
        assert_eq!((n, distinct[5]), (2, 2));
    }
}
