//! The click sequences: per sample, the user's last N clicked items and their
//! categories strictly before the sample's time, as two list columns.

use super::events::Click;
use super::windows::by_key;
use crate::BuildError;
use crate::config::FeatureConfig;
use crate::external::Sorted;
use arrow::array::{ArrayRef, Int64Array, ListArray};
use arrow::buffer::OffsetBuffer;
use arrow::datatypes::{DataType, FieldRef};
use std::sync::Arc;

/// The click sequences of a chunk: per row, the last N clicks of its user strictly
/// before t, in time order, as the two list columns (items, categories). One merge of
/// the chunk sorted by (user, ts) and the clicks sorted by (user, ts); the user's last N
/// clicks are kept in a ring and copied into a chunk-local arena when a row needs them.
pub(super) fn sequences(
    cfg: &FeatureConfig,
    user: &Int64Array,
    ts: &Int64Array,
    clicks: &Sorted<Click>,
    fields: [&FieldRef; 2],
) -> Result<Vec<ArrayRef>, BuildError> {
    let n = ts.len();
    let len = cfg.sequence_len;
    let samples = by_key([user], ts);
    let mut ranges = vec![(0usize, 0usize); n];
    // (item, category) of the clicks copied for the chunk's rows
    type Seen = (Option<i64>, Option<i64>);
    let mut arena: Vec<Seen> = Vec::new();
    let mut ring = std::collections::VecDeque::with_capacity(len + 1);
    let (mut ring_user, mut user_start) = (None, 0);
    let mut c = clicks.cursor()?;
    for &([u], t, i) in &samples {
        while let Some(click) = c.peek() {
            if (click.user, click.ts) >= (u, t) {
                break;
            }
            if ring_user != Some(click.user) {
                ring_user = Some(click.user);
                ring.clear();
                user_start = arena.len();
            }
            ring.push_back((click.item, click.cat));
            if ring.len() > len {
                ring.pop_front();
            }
            c.advance()?;
        }
        if ring_user != Some(u) {
            continue;
        }
        // the arena holds this user's clicks from `user_start` on, contiguous with the
        // ring unless the ring dropped some (then the ring alone is the last N)
        if ring.len() == len {
            user_start = arena.len();
        }
        arena.extend(ring.drain(..));
        ranges[i as usize] = (user_start.max(arena.len().saturating_sub(len)), arena.len());
    }
    let list = |field: &FieldRef, value: fn(&Seen) -> Option<i64>| {
        let mut offsets = Vec::with_capacity(n + 1);
        offsets.push(0i32);
        let mut values = arrow::array::Int64Builder::new();
        for &(a, b) in &ranges {
            values.extend(arena[a..b].iter().map(value));
            offsets.push(i32::try_from(values.values_slice().len()).map_err(|_| {
                BuildError::Features(format!("{}: more than 2^31 values", field.name()))
            })?);
        }
        let DataType::List(inner) = field.data_type() else {
            unreachable!("list field")
        };
        Ok::<ArrayRef, BuildError>(Arc::new(
            ListArray::try_new(
                inner.clone(),
                OffsetBuffer::new(offsets.into()),
                Arc::new(values.finish()),
                None,
            )
            .map_err(|e| BuildError::Internal(format!("{}: {e}", field.name())))?,
        ))
    };
    Ok(vec![list(fields[0], |v| v.0)?, list(fields[1], |v| v.1)?])
}
