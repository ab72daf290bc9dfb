//! The day's events sorted for the as-of merges: DataFusion streams them once, and each
//! goes into the external sorts (`external.rs`) of the keys it counts for.

use super::prior::counter;
use super::{column, opt, trace};
use crate::BuildError;
use crate::external::{Record, Sorted, Sorter};
use arrow::array::{Array, RecordBatch};
use arrow::datatypes::{Int32Type, Int64Type};
use datafusion::physical_plan::SendableRecordBatchStream;
use futures::StreamExt;
use std::path::Path;
use std::time::Instant;

/// `(key, ts, counter)` of an event.
pub(super) type Event<const N: usize> = ([i64; N], i64, u8);

/// A click for the click sequences, sorted by (user, ts, item with null first); clicks
/// that tie on all of these are identical (the category is the item's).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) struct Click {
    pub(super) user: i64,
    pub(super) ts: i64,
    item_key: i64,
    pub(super) item: Option<i64>,
    pub(super) cat: Option<i64>,
}

impl Record for Click {
    const SIZE: usize = 8 * 3 + 2 * 9;
    fn encode(&self, out: &mut Vec<u8>) {
        for v in [self.user, self.ts, self.item_key] {
            out.extend_from_slice(&v.to_le_bytes());
        }
        for v in [self.item, self.cat] {
            out.push(v.is_some() as u8);
            out.extend_from_slice(&v.unwrap_or(0).to_le_bytes());
        }
    }
    fn decode(b: &[u8]) -> Self {
        let i = |at: usize| i64::from_le_bytes(b[at..at + 8].try_into().expect("8 bytes"));
        let o = |at: usize| (b[at] == 1).then(|| i(at + 1));
        Click {
            user: i(0),
            ts: i(8),
            item_key: i(16),
            item: o(24),
            cat: o(33),
        }
    }
}

/// The events of the feature stage, sorted (in memory or on disk, see `external`):
/// the day's events (every counter) per item, category, user and (user, category);
/// the clicks, carts and purchases of every age per (user, item); the clicks of every
/// age per user.
pub(crate) struct Events {
    pub(super) item: Sorted<Event<1>>,
    pub(super) cat: Sorted<Event<1>>,
    pub(super) user: Sorted<Event<1>>,
    pub(super) uc: Sorted<Event<2>>,
    pub(super) acts: Sorted<Event<2>>,
    pub(super) clicks: Sorted<Click>,
}

/// The sorts the events go into while DataFusion streams them.
struct Sorters {
    item: Sorter<Event<1>>,
    cat: Sorter<Event<1>>,
    user: Sorter<Event<1>>,
    uc: Sorter<Event<2>>,
    acts: Sorter<Event<2>>,
    clicks: Sorter<Click>,
}

impl Sorters {
    /// Six sorts in `dir`, each holding at most `each` bytes in memory.
    fn new(dir: &Path, each: usize) -> Self {
        let sorter = |name: &str| dir.join(format!("events_{name}.bin"));
        Sorters {
            item: Sorter::new(sorter("item"), each),
            cat: Sorter::new(sorter("cat"), each),
            user: Sorter::new(sorter("user"), each),
            uc: Sorter::new(sorter("uc"), each),
            acts: Sorter::new(sorter("acts"), each),
            clicks: Sorter::new(sorter("clicks"), each),
        }
    }

    /// Every row of one batch of the events stream into the sorts of its keys.
    fn push_batch(&mut self, batch: &RecordBatch) -> Result<(), BuildError> {
        let kind = column::<Int32Type>(batch, "events", "kind")?;
        let age = column::<Int32Type>(batch, "events", "age")?;
        let ts = column::<Int64Type>(batch, "events", "ts")?;
        let users = column::<Int64Type>(batch, "events", "user_id")?;
        let items = column::<Int64Type>(batch, "events", "item_id")?;
        let cats = column::<Int64Type>(batch, "events", "category_id")?;
        if ts.null_count() + age.null_count() + kind.null_count() > 0 {
            return Err(BuildError::Internal(
                "feature events without kind, ts or age".into(),
            ));
        }
        for r in 0..batch.num_rows() {
            let c = counter(kind.value(r)).ok_or_else(|| {
                BuildError::Internal(format!("feature event of kind {}", kind.value(r)))
            })? as u8;
            let keys = (opt(users, r), opt(items, r), opt(cats, r));
            self.push(c, ts.value(r), keys, age.value(r) == 0)?;
        }
        Ok(())
    }

    /// One event of counter `c` at `t` with its (user, item, category): the day's
    /// (`today`) into the entities' sorts, clicks, carts and purchases of every age
    /// into the (user, item) sort, clicks into the user's.
    fn push(
        &mut self,
        c: u8,
        t: i64,
        (u, i, k): (Option<i64>, Option<i64>, Option<i64>),
        today: bool,
    ) -> Result<(), BuildError> {
        if today {
            if let Some(i) = i {
                self.item.push(([i], t, c))?;
            }
            if let Some(k) = k {
                self.cat.push(([k], t, c))?;
            }
            if let Some(u) = u {
                self.user.push(([u], t, c))?;
                if let Some(k) = k {
                    self.uc.push(([u, k], t, c))?;
                }
            }
        }
        if c != 0
            && let (Some(u), Some(i)) = (u, i)
        {
            self.acts.push(([u, i], t, c))?;
        }
        if c == 1
            && let Some(u) = u
        {
            self.clicks.push(Click {
                user: u,
                ts: t,
                item_key: i.unwrap_or(i64::MIN),
                item: i,
                cat: k,
            })?;
        }
        Ok(())
    }

    fn finish(self) -> Result<Events, BuildError> {
        Ok(Events {
            item: self.item.finish()?,
            cat: self.cat.finish()?,
            user: self.user.finish()?,
            uc: self.uc.finish()?,
            acts: self.acts.finish()?,
            clicks: self.clicks.finish()?,
        })
    }
}

/// Sorts the events DataFusion streams (`kind, ts, user_id, item_id, category_id,
/// age`: every event of D, age 0, and the clicks, carts and purchases of the days
/// before) into `Events`, holding at most about `budget` bytes of them.
pub(crate) async fn sort_events(
    mut stream: SendableRecordBatchStream,
    dir: &Path,
    budget: usize,
) -> Result<Events, BuildError> {
    // half the budget; the other half is the merges' chunk
    let started = Instant::now();
    let mut sorters = Sorters::new(dir, budget / 12);
    while let Some(batch) = stream.next().await {
        sorters.push_batch(&batch?)?;
    }
    let events = sorters.finish()?;
    let disk = [
        events.item.on_disk(),
        events.cat.on_disk(),
        events.user.on_disk(),
        events.uc.on_disk(),
        events.acts.on_disk(),
        events.clicks.on_disk(),
    ];
    trace(&format!("events sorted, on disk: {disk:?}"), started);
    Ok(events)
}
