//! The item categories a daily aggregate depends on. A day's counts per category and per
//! (user, category) come from the item snapshot of the build that computed them; a
//! later build of another day uses another snapshot, and in a shop that snapshot is
//! rewritten every day (prices, new items, stock). So the aggregate does not record the
//! snapshot's content but `categories.parquet`: every item of the day's events with the
//! categories the snapshot gave it. A build of D keeps the aggregate while D's snapshot
//! gives those items the same categories ([`CategoryMap::agrees`]); a new price or a new
//! item leaves it alone, a moved item recomputes exactly the days that saw that item.
//!
//! Categories come through a LEFT JOIN on `item_id`, so an item the snapshot lacks and
//! an item whose category is null both count as one null category, and an item with two
//! snapshot rows counts twice (the join duplicates its events): the map keeps every row.

use super::column;
use crate::BuildError;
use arrow::array::{Array, RecordBatch};
use arrow::datatypes::Int64Type;
use std::collections::HashMap;
use std::path::Path;

/// The categories file of a day's aggregate directory.
pub(crate) const CATEGORIES: &str = "categories.parquet";

/// The rows of D's item snapshot (`dim_item`) as the feature SQL joins them.
pub(crate) const SNAPSHOT_SQL: &str = "SELECT CAST(item_id AS BIGINT) AS item_id, \
    CAST(category_id AS BIGINT) AS category_id FROM dim_item";

/// The category of no row: what the LEFT JOIN gives an item the snapshot lacks.
const NONE: [Option<i64>; 1] = [None];

/// Item → the categories of its snapshot rows, sorted (see the module docs).
#[derive(Debug, Default)]
pub(crate) struct CategoryMap(HashMap<i64, Vec<Option<i64>>>);

impl CategoryMap {
    /// The map of batches with Int64 columns `item_id` and `category_id` (rows without an
    /// item id join nothing and are skipped).
    pub(crate) fn from_batches(batches: &[RecordBatch]) -> Result<Self, BuildError> {
        let mut map: HashMap<i64, Vec<Option<i64>>> = HashMap::new();
        for b in batches {
            let item = column::<Int64Type>(b, "item categories", "item_id")?;
            let cat = column::<Int64Type>(b, "item categories", "category_id")?;
            for r in 0..b.num_rows() {
                if item.is_valid(r) {
                    let c = cat.is_valid(r).then(|| cat.value(r));
                    map.entry(item.value(r)).or_default().push(c);
                }
            }
        }
        map.values_mut().for_each(|v| v.sort_unstable());
        Ok(CategoryMap(map))
    }

    /// The categories the join gives `item`.
    fn of(&self, item: i64) -> &[Option<i64>] {
        self.0.get(&item).map_or(&NONE, Vec::as_slice)
    }

    /// Whether the categories file at `path` (a day's items with the categories its
    /// aggregate was computed with) agrees with this map item for item. An unreadable
    /// file does not: the day is recomputed.
    pub(crate) fn agrees(&self, path: &Path) -> bool {
        match read_file(path) {
            Ok(day) => day
                .0
                .iter()
                .all(|(item, cats)| self.of(*item) == cats.as_slice()),
            Err(_) => false,
        }
    }
}

/// The map of a categories file.
fn read_file(path: &Path) -> Result<CategoryMap, BuildError> {
    let batches = super::parquet_reader(path)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| BuildError::Internal(format!("{}: {e}", path.display())))?;
    CategoryMap::from_batches(&batches)
}

/// Day X's items (of its cleaned, deduplicated events, the `fd_good_<table>` views) with
/// the categories `dim_item` joins to them, one row per joined snapshot row.
pub(crate) fn day_categories_sql(tables: &[&str]) -> String {
    let items: Vec<String> = tables
        .iter()
        .map(|t| format!("SELECT item_id FROM fd_good_{t}"))
        .collect();
    format!(
        "SELECT CAST(e.item_id AS BIGINT) AS item_id, CAST(i.category_id AS BIGINT) AS category_id \
         FROM (SELECT DISTINCT item_id FROM ({}) u WHERE item_id IS NOT NULL) e \
         LEFT JOIN dim_item i ON e.item_id = i.item_id ORDER BY 1, 2",
        items.join(" UNION ALL ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::Int64Array;
    use arrow::datatypes::{DataType, Field, Schema};
    use std::sync::Arc;

    fn map(rows: &[(i64, Option<i64>)]) -> CategoryMap {
        let schema = Arc::new(Schema::new(vec![
            Field::new("item_id", DataType::Int64, true),
            Field::new("category_id", DataType::Int64, true),
        ]));
        let b = RecordBatch::try_new(
            schema,
            vec![
                Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.0))),
                Arc::new(Int64Array::from_iter(rows.iter().map(|r| r.1))),
            ],
        )
        .unwrap();
        CategoryMap::from_batches(&[b]).unwrap()
    }

    #[test]
    fn a_missing_item_and_a_null_category_join_alike_and_duplicates_count() {
        let m = map(&[(1, Some(10)), (2, None), (3, Some(7)), (3, Some(5))]);
        assert_eq!(m.of(1), &[Some(10)]);
        assert_eq!(m.of(2), &[None]);
        assert_eq!(m.of(99), &[None]);
        assert_eq!(m.of(3), &[Some(5), Some(7)]);
        let dup = map(&[(2, None), (2, None)]);
        assert_eq!(dup.of(2), &[None, None]);
    }
}
