//! The user and item dimension snapshots of a Taobao import.
//!
//! The source has no profile columns and no catalogue, only a category per row. Every
//! imported row counts its (item, category); each day's item snapshot is the whole
//! catalogue of the file with each item's most frequent category (ties: the smallest
//! category id), and each day's user snapshot is every user of the file (profile columns
//! null). The builder joins the snapshot of the day before a sample's day, so every day
//! carries every item and user, including those first seen later.

use super::out::{Cell, TableWriter};
use super::taobao_rows::{DAYS, first_day};
use anyhow::Result;
use esmc_schemas::{Table, dt_name};
use std::collections::{HashMap, HashSet};
use std::path::Path;

/// Category counts of one item: almost every item has a single category.
enum Cats {
    One(i64, u32),
    Many(Vec<(i64, u32)>),
}

impl Cats {
    fn add(&mut self, category: i64) {
        match self {
            Cats::One(c, n) if *c == category => *n += 1,
            Cats::One(c, n) => *self = Cats::Many(vec![(*c, *n), (category, 1)]),
            Cats::Many(v) => match v.iter_mut().find(|(c, _)| *c == category) {
                Some((_, n)) => *n += 1,
                None => v.push((category, 1)),
            },
        }
    }

    /// The most frequent category, the smallest id among equals.
    fn mode(&self) -> i64 {
        match self {
            Cats::One(c, _) => *c,
            Cats::Many(v) => {
                v.iter()
                    .max_by_key(|(c, n)| (*n, std::cmp::Reverse(*c)))
                    .expect("non-empty")
                    .0
            }
        }
    }
}

/// Users and items seen in the imported rows.
#[derive(Default)]
pub struct Dims {
    users: HashSet<i64>,
    items: HashMap<i64, Cats>,
}

impl Dims {
    /// Whether a user was already seen (a block of the user opened before).
    pub fn has_user(&self, user: i64) -> bool {
        self.users.contains(&user)
    }

    pub fn add(&mut self, user: i64, item: i64, category: i64) {
        self.users.insert(user);
        self.items
            .entry(item)
            .and_modify(|c| c.add(category))
            .or_insert(Cats::One(category, 1));
    }

    pub fn users(&self) -> usize {
        self.users.len()
    }

    pub fn items(&self) -> usize {
        self.items.len()
    }

    /// Items seen with more than one category.
    pub fn items_with_several_categories(&self) -> usize {
        self.items
            .values()
            .filter(|c| matches!(c, Cats::Many(_)))
            .count()
    }

    /// The most frequent category of an item, if seen.
    #[cfg(test)]
    fn category(&self, item: i64) -> Option<i64> {
        self.items.get(&item).map(Cats::mode)
    }

    /// Writes `<logs>/user/dt=D/` and `<logs>/item/dt=D/` for every documented day.
    pub fn write(self, logs: &Path) -> Result<()> {
        let mut users: Vec<i64> = self.users.into_iter().collect();
        users.sort_unstable();
        let mut items: Vec<(i64, i64)> = self.items.iter().map(|(&i, c)| (i, c.mode())).collect();
        drop(self.items);
        items.sort_unstable();
        for d in 0..DAYS {
            let dt = dt_name(first_day() + chrono::Days::new(d as u64));
            let file = |t: Table| logs.join(t.name()).join(&dt).join("part-00000.parquet");
            let spec = Table::User.spec();
            let mut w = TableWriter::new(spec.arrow_schema(), file(Table::User))?;
            let mut row = vec![Cell::Null; spec.columns.len()];
            let user_col = column(Table::User, "user_id");
            for &u in &users {
                row[user_col] = Cell::I(u);
                w.push(&row)?;
            }
            w.finish()?;
            let spec = Table::Item.spec();
            let mut w = TableWriter::new(spec.arrow_schema(), file(Table::Item))?;
            let mut row = vec![Cell::Null; spec.columns.len()];
            let (item_col, cat_col) = (
                column(Table::Item, "item_id"),
                column(Table::Item, "category_id"),
            );
            for &(i, c) in &items {
                row[item_col] = Cell::I(i);
                row[cat_col] = Cell::I(c);
                w.push(&row)?;
            }
            w.finish()?;
        }
        Ok(())
    }
}

fn column(table: Table, name: &str) -> usize {
    table
        .spec()
        .columns
        .iter()
        .position(|c| c.name == name)
        .expect("contract column")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn most_frequent_category_wins_ties_to_the_smallest() {
        let mut d = Dims::default();
        for (item, cat) in [(1, 7), (1, 5), (1, 7), (2, 9), (2, 4), (3, 3)] {
            d.add(10, item, cat);
        }
        assert_eq!(d.category(1), Some(7));
        assert_eq!(d.category(2), Some(4));
        assert_eq!(d.category(3), Some(3));
        assert_eq!(d.items_with_several_categories(), 2);
        assert_eq!(d.users(), 1);
    }
}
