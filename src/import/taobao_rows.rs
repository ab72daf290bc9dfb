//! The Taobao UserBehavior row and its mapping onto esmc's raw tables.
//!
//! ```text
//!  line n: user,item,category,pv,t    -> exposure(exposure_id n, ts t-1s, domain rec)
//!                                        + click(ts t, exposure_id n)
//!  line n: user,item,category,cart,t  -> cart(ts t, domain rec)
//!  line n: user,item,category,fav,t   -> wish(ts t, domain rec)
//!  line n: user,item,category,buy,t   -> purchase(ts t, order_id n)
//! ```
//! Each event goes to the partition of its own UTC day; one Parquet file per table and
//! day, opened when its first row arrives.

use super::out::{Cell, TableWriter};
use anyhow::{Result, bail};
use chrono::NaiveDate;
use esmc_schemas::{Table, dt_name};
use std::path::Path;

const SECOND_US: i64 = 1_000_000;
const DAY_US: i64 = 86_400 * SECOND_US;

/// 2017-11-25 00:00 China time (UTC+8), the documented start, unix seconds.
pub const FIRST_TS: i64 = 1_511_539_200;
/// 2017-12-04 00:00 China time, the documented end (exclusive).
pub const END_TS: i64 = 1_512_316_800;
/// UTC days that events of the documented range (and exposures 1 s before them) fall on:
/// 2017-11-24 (from 16:00 UTC) to 2017-12-03 (until 16:00 UTC).
pub const DAYS: usize = 10;

/// The first UTC day of the documented range.
pub fn first_day() -> NaiveDate {
    NaiveDate::from_ymd_opt(2017, 11, 24).expect("valid date")
}

/// The behaviour types of the source file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Behavior {
    Pv,
    Cart,
    Fav,
    Buy,
}

impl Behavior {
    pub const ALL: [Behavior; 4] = [Behavior::Pv, Behavior::Cart, Behavior::Fav, Behavior::Buy];

    pub fn name(self) -> &'static str {
        match self {
            Behavior::Pv => "pv",
            Behavior::Cart => "cart",
            Behavior::Fav => "fav",
            Behavior::Buy => "buy",
        }
    }

    fn parse(s: &[u8]) -> Option<Behavior> {
        Some(match s {
            b"pv" => Behavior::Pv,
            b"cart" => Behavior::Cart,
            b"fav" => Behavior::Fav,
            b"buy" => Behavior::Buy,
            _ => return None,
        })
    }
}

/// One source row without its user (rows come in blocks of one user).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Row {
    pub item: i64,
    pub category: i64,
    pub behavior: Behavior,
    /// Unix seconds.
    pub ts: i64,
}

/// A non-negative decimal integer of at most 18 digits.
fn int(s: &[u8]) -> Option<i64> {
    if s.is_empty() || s.len() > 18 {
        return None;
    }
    let mut v = 0i64;
    for &b in s {
        if !b.is_ascii_digit() {
            return None;
        }
        v = v * 10 + (b - b'0') as i64;
    }
    Some(v)
}

/// Parses `user,item,category,behavior,timestamp` (line end already stripped).
pub fn parse(line: &[u8]) -> Option<(i64, Row)> {
    let mut fields = line.split(|&b| b == b',');
    let user = int(fields.next()?)?;
    let item = int(fields.next()?)?;
    let category = int(fields.next()?)?;
    let behavior = Behavior::parse(fields.next()?)?;
    let ts = int(fields.next()?)?;
    if fields.next().is_some() {
        return None;
    }
    Some((
        user,
        Row {
            item,
            category,
            behavior,
            ts,
        },
    ))
}

/// Where each column of a table's row comes from.
#[derive(Debug, Clone, Copy)]
enum Src {
    /// The source line number (exposure_id, order_id).
    Line,
    /// The event time, microseconds.
    Ts,
    User,
    Item,
    /// The literal domain `rec`.
    Rec,
    Null,
}

/// The event tables written, in the order of [`Events::writers`].
pub const EVENT_TABLES: [Table; 5] = [
    Table::Exposure,
    Table::Click,
    Table::Cart,
    Table::Wish,
    Table::Purchase,
];

fn sources(table: Table) -> Result<Vec<Src>> {
    table
        .spec()
        .columns
        .iter()
        .map(|c| {
            Ok(match (table, c.name) {
                (_, "ts") => Src::Ts,
                (_, "user_id") => Src::User,
                (_, "item_id") => Src::Item,
                (Table::Exposure | Table::Click, "exposure_id") => Src::Line,
                (Table::Purchase, "order_id") => Src::Line,
                (Table::Exposure | Table::Cart | Table::Wish, "domain") => Src::Rec,
                (_, name) if !c.required => {
                    let _ = name;
                    Src::Null
                }
                (_, name) => bail!("internal: no source for required {table}.{name}"),
            })
        })
        .collect()
}

/// The open writers of every event table and day.
pub struct Events {
    sources: Vec<Vec<Src>>,
    /// writers[table][day]
    writers: Vec<Vec<TableWriter>>,
    first_epoch_day: i64,
}

impl Events {
    /// Writers under `<logs>/<table>/dt=D/part-00000.parquet`.
    pub fn new(logs: &Path) -> Result<Self> {
        let mut writers = Vec::new();
        let mut srcs = Vec::new();
        for table in EVENT_TABLES {
            srcs.push(sources(table)?);
            let mut per_day = Vec::new();
            for d in 0..DAYS {
                let day = first_day() + chrono::Days::new(d as u64);
                let path = logs
                    .join(table.name())
                    .join(dt_name(day))
                    .join("part-00000.parquet");
                per_day.push(TableWriter::new(table.spec().arrow_schema(), path)?);
            }
            writers.push(per_day);
        }
        Ok(Events {
            sources: srcs,
            writers,
            first_epoch_day: first_day().to_epoch_days() as i64,
        })
    }

    fn write(&mut self, t: usize, ts_us: i64, line: u64, user: i64, item: i64) -> Result<()> {
        let day = ts_us.div_euclid(DAY_US) - self.first_epoch_day;
        if !(0..DAYS as i64).contains(&day) {
            bail!("internal: event time {ts_us} outside the documented days");
        }
        let mut row = [Cell::Null; 16];
        let srcs = &self.sources[t];
        for (cell, src) in row.iter_mut().zip(srcs) {
            *cell = match src {
                Src::Line => Cell::I(line as i64),
                Src::Ts => Cell::I(ts_us),
                Src::User => Cell::I(user),
                Src::Item => Cell::I(item),
                Src::Rec => Cell::S("rec"),
                Src::Null => Cell::Null,
            };
        }
        self.writers[t][day as usize].push(&row[..srcs.len()])
    }

    /// Writes the events of source line `line`.
    pub fn emit(&mut self, line: u64, user: i64, row: &Row) -> Result<()> {
        let ts = row.ts * SECOND_US;
        match row.behavior {
            Behavior::Pv => {
                self.write(0, ts - SECOND_US, line, user, row.item)?;
                self.write(1, ts, line, user, row.item)
            }
            Behavior::Cart => self.write(2, ts, line, user, row.item),
            Behavior::Fav => self.write(3, ts, line, user, row.item),
            Behavior::Buy => self.write(4, ts, line, user, row.item),
        }
    }

    /// Closes every file; returns rows per (table, day) with at least one row.
    pub fn finish(self) -> Result<Vec<(Table, NaiveDate, u64)>> {
        let mut out = Vec::new();
        for (t, per_day) in self.writers.into_iter().enumerate() {
            for (d, w) in per_day.into_iter().enumerate() {
                let rows = w.finish()?;
                if rows > 0 {
                    out.push((
                        EVENT_TABLES[t],
                        first_day() + chrono::Days::new(d as u64),
                        rows,
                    ));
                }
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_rows_and_rejects_malformed_ones() {
        let (user, row) = parse(b"1,2268318,2520377,pv,1511544070").unwrap();
        assert_eq!(user, 1);
        assert_eq!(row.item, 2268318);
        assert_eq!(row.category, 2520377);
        assert_eq!(row.behavior, Behavior::Pv);
        assert_eq!(row.ts, 1511544070);
        for bad in [
            &b"1,2,3,pv"[..],
            b"1,2,3,pv,15115440,7",
            b"1,2,3,click,1511544070",
            b"1,2,x,pv,1511544070",
            b"1,2,3,buy,",
            b"",
        ] {
            assert_eq!(parse(bad), None, "{}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn documented_range_is_china_time() {
        let start = chrono::DateTime::from_timestamp(FIRST_TS, 0).unwrap();
        assert_eq!(start.to_rfc3339(), "2017-11-24T16:00:00+00:00");
        let end = chrono::DateTime::from_timestamp(END_TS, 0).unwrap();
        assert_eq!(end.to_rfc3339(), "2017-12-03T16:00:00+00:00");
        assert_eq!(start.date_naive() - chrono::Days::new(0), first_day());
    }
}
