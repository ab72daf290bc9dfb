//! The click sequences: per sample, the user's last N clicked items and their
//! categories strictly before the sample's time, as two list columns.
//!
//! A chunk's sequences are kept as an arena that holds each user's clicks once, in time
//! order, and a range of it per row ([`Sequences`]); the lists are only materialized
//! as the samples are written ([`lists`]). With 30 days of history nearly every row's
//! sequence is full, and the materialized lists, N values per row and column, were most
//! of the feature spill (302 MB of it for a 300k-exposure day, with N = 50).

use super::events::Click;
use super::windows::by_key;
use crate::BuildError;
use crate::config::FeatureConfig;
use crate::external::Sorted;
use arrow::array::{ArrayRef, Int64Array, ListArray, UInt32Array};
use arrow::buffer::OffsetBuffer;
use arrow::datatypes::{DataType, FieldRef};
use std::sync::Arc;

/// A chunk's click sequences: the arena (clicked items and their categories) and, per
/// row in the chunk's order, the range `from[r]..to[r]` of it that is the row's sequence.
pub(super) struct Sequences {
    pub(super) items: Int64Array,
    pub(super) cats: Int64Array,
    pub(super) from: UInt32Array,
    pub(super) to: UInt32Array,
}

/// The click sequences of a chunk: per row, the last N clicks of its user strictly
/// before t, in time order. One merge of the chunk sorted by (user, ts) and the clicks
/// sorted by (user, ts); the user's last N clicks are kept in a ring and moved into the
/// chunk's arena when a row needs them.
pub(super) fn sequences(
    cfg: &FeatureConfig,
    user: &Int64Array,
    ts: &Int64Array,
    clicks: &Sorted<Click>,
) -> Result<Sequences, BuildError> {
    let n = ts.len();
    let len = cfg.sequence_len;
    let samples = by_key([user], ts);
    let (mut from, mut to) = (vec![0u32; n], vec![0u32; n]);
    // (item, category) of the clicks moved into the arena for the chunk's rows
    let mut arena: Vec<(Option<i64>, Option<i64>)> = Vec::new();
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
        let at = |v: usize| {
            u32::try_from(v).map_err(|_| {
                BuildError::Features("over 2^32 clicks in one chunk's sequences".into())
            })
        };
        from[i as usize] = at(user_start.max(arena.len().saturating_sub(len)))?;
        to[i as usize] = at(arena.len())?;
    }
    Ok(Sequences {
        items: arena.iter().map(|v| v.0).collect(),
        cats: arena.iter().map(|v| v.1).collect(),
        from: from.into(),
        to: to.into(),
    })
}

/// The two list columns (items, categories: `fields`) of rows whose ranges are
/// `from[r]..to[r]` of the arena `items`, `cats`.
pub(super) fn lists(
    items: &Int64Array,
    cats: &Int64Array,
    from: &UInt32Array,
    to: &UInt32Array,
    fields: [&FieldRef; 2],
) -> Result<[ArrayRef; 2], BuildError> {
    let mut offsets = Vec::with_capacity(from.len() + 1);
    offsets.push(0i32);
    let mut take = Vec::new();
    for (&a, &b) in from.values().iter().zip(to.values()) {
        take.extend(a..b);
        offsets.push(i32::try_from(take.len()).map_err(|_| {
            BuildError::Features(format!("{}: more than 2^31 values", fields[0].name()))
        })?);
    }
    let take = UInt32Array::from(take);
    let offsets = OffsetBuffer::new(offsets.into());
    let list = |field: &FieldRef, arena: &Int64Array| {
        let err =
            |e: arrow::error::ArrowError| BuildError::Internal(format!("{}: {e}", field.name()));
        let values = arrow::compute::take(arena, &take, None).map_err(err)?;
        let DataType::List(inner) = field.data_type() else {
            unreachable!("list field")
        };
        Ok::<ArrayRef, BuildError>(Arc::new(
            ListArray::try_new(inner.clone(), offsets.clone(), values, None).map_err(err)?,
        ))
    };
    Ok([list(fields[0], items)?, list(fields[1], cats)?])
}
