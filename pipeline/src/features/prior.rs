//! The counts over the days before D, per entity of the trailing windows: DataFusion
//! aggregates them by grouping sets (`sql/builder/features_prior.sql`), sorted by key;
//! they are split into one Arrow IPC file per entity and read back front to back by
//! [`PriorCursor`] during the merges.

use super::spill::{SpillWriter, ipc_reader};
use super::{CART, CLICK, EXPOSURE, PURCHASE, column};
use crate::BuildError;
use crate::config::FeatureConfig;
use arrow::array::{Array, AsArray, Int32Array, Int64Array, RecordBatch};
use arrow::datatypes::{Int32Type, Int64Type, SchemaRef};
use arrow::ipc::reader::FileReader;
use datafusion::physical_plan::SendableRecordBatchStream;
use futures::StreamExt;
use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Fallback rates for the smoothing when there is no history at all.
const DEFAULT_CTR: f64 = 0.05;
const DEFAULT_CVR: f64 = 0.1;

/// The entities of the trailing-window counts: the grouping flags (g_item, g_cat,
/// g_user) of each one's grouping set in the prior counts, and its key columns.
pub(super) type Entity = (&'static str, (i32, i32, i32), &'static [&'static str]);
pub(super) const ENTITIES: [Entity; 4] = [
    ("item", (0, 1, 1), &["item_id"]),
    ("cat", (1, 0, 1), &["category_id"]),
    ("user", (1, 1, 0), &["user_id"]),
    ("uc", (1, 0, 0), &["user_id", "category_id"]),
];

/// The counters of every entity, by event kind: their names in the feature columns
/// (`{entity}_{counter}_{w}d`) and the prior counts' columns (`{counter}_{w}d`).
pub(crate) const COUNTERS: [(&str, i32); 4] = [
    ("exp", EXPOSURE),
    ("clk", CLICK),
    ("cart", CART),
    ("buy", PURCHASE),
];

/// Index in `COUNTERS` of an event kind.
pub(super) fn counter(kind: i32) -> Option<usize> {
    COUNTERS.iter().position(|c| c.1 == kind)
}

/// The counts over the days before D: per entity (in `ENTITIES` order) an Arrow IPC
/// file of its rows sorted by key (the key columns, then `{counter}_{w}d` for each
/// window and counter), and the shop's rates for the smoothing.
pub(crate) struct Prior {
    pub(super) files: Vec<PathBuf>,
    pub(super) p_ctr: f64,
    pub(super) p_cvr: f64,
}

/// One entity's output while the prior counts stream: the input columns it keeps (its
/// keys, then the counts), its file and the last key written (keys must increase).
struct EntityFile {
    columns: Vec<usize>,
    writer: SpillWriter,
    last: Option<[i64; 2]>,
}

/// The shop's totals over the longest window (of the item grouping set), for the
/// smoothing's prior rates.
#[derive(Default)]
struct Totals {
    exp: i64,
    clk: i64,
    buy: i64,
}

/// Splits the prior counts DataFusion streams, sorted by grouping set and key
/// (`sql/builder/features_prior.sql`), into one file per entity.
pub(crate) async fn split_prior(
    mut stream: SendableRecordBatchStream,
    cfg: &FeatureConfig,
    dir: &Path,
) -> Result<Prior, BuildError> {
    let mut outputs = entity_files(&stream.schema(), cfg, dir)?;
    let longest = *cfg.windows_days.iter().max().expect("checked");
    let mut totals = Totals::default();
    while let Some(batch) = stream.next().await {
        let batch = batch?;
        let flags = [
            column::<Int32Type>(&batch, "prior", "g_item")?,
            column::<Int32Type>(&batch, "prior", "g_cat")?,
            column::<Int32Type>(&batch, "prior", "g_user")?,
        ];
        for ((_, set, keys), out) in ENTITIES.iter().zip(&mut outputs) {
            let rows = entity_rows(&batch, flags, *set, keys, out)?;
            if *set == ENTITIES[0].1 {
                let sum = |x: &str| -> Result<i64, BuildError> {
                    let c = column::<Int32Type>(&rows, "prior", &format!("{x}_{longest}d"))?;
                    Ok(c.iter().map(|v| i64::from(v.unwrap_or(0))).sum())
                };
                totals.exp += sum("exp")?;
                totals.clk += sum("clk")?;
                totals.buy += sum("buy")?;
            }
            out.writer.write(rows.columns())?;
        }
    }
    let files = outputs
        .into_iter()
        .map(|o| o.writer.finish())
        .collect::<Result<_, _>>()?;
    let (p_ctr, p_cvr) = rates(totals.exp, totals.clk, totals.buy);
    Ok(Prior {
        files,
        p_ctr,
        p_cvr,
    })
}

/// The shop's CTR and CVR for the smoothing from its totals over the longest window,
/// the fallbacks without history.
pub(super) fn rates(exp: i64, clk: i64, buy: i64) -> (f64, f64) {
    (
        if exp > 0 {
            clk as f64 / exp as f64
        } else {
            DEFAULT_CTR
        },
        if clk > 0 {
            buy as f64 / clk as f64
        } else {
            DEFAULT_CVR
        },
    )
}

/// One spill file per entity (in `ENTITIES` order) of the columns it keeps from the
/// prior counts' stream (`in_schema`).
fn entity_files(
    in_schema: &SchemaRef,
    cfg: &FeatureConfig,
    dir: &Path,
) -> Result<Vec<EntityFile>, BuildError> {
    let counts: Vec<String> = cfg
        .windows_days
        .iter()
        .flat_map(|w| COUNTERS.iter().map(move |(x, _)| format!("{x}_{w}d")))
        .collect();
    let index = |name: &str| {
        in_schema
            .index_of(name)
            .map_err(|_| BuildError::Internal(format!("feature prior: no column {name}")))
    };
    let mut outputs = Vec::new();
    for (name, _, keys) in ENTITIES {
        let columns: Vec<usize> = keys
            .iter()
            .copied()
            .chain(counts.iter().map(String::as_str))
            .map(index)
            .collect::<Result<_, _>>()?;
        let schema = Arc::new(
            in_schema
                .project(&columns)
                .map_err(|e| BuildError::Internal(format!("feature prior: {e}")))?,
        );
        let writer = SpillWriter::create(dir.join(format!("prior_{name}.arrow")), schema)?;
        outputs.push(EntityFile {
            columns,
            writer,
            last: None,
        });
    }
    Ok(outputs)
}

/// The rows of `batch` that belong to one entity (its grouping set `set`, every key
/// present), projected to its columns; checks that its keys keep increasing.
fn entity_rows(
    batch: &RecordBatch,
    flags: [&Int32Array; 3],
    set: (i32, i32, i32),
    keys: &[&str],
    out: &mut EntityFile,
) -> Result<RecordBatch, BuildError> {
    let key_cols: Vec<&Int64Array> = keys
        .iter()
        .map(|k| column::<Int64Type>(batch, "prior", k))
        .collect::<Result<_, _>>()?;
    let want = [set.0, set.1, set.2];
    let mask = arrow::array::BooleanArray::from_iter((0..batch.num_rows()).map(|r| {
        Some(
            flags
                .iter()
                .zip(want)
                .all(|(f, w)| f.is_valid(r) && f.value(r) == w)
                && key_cols.iter().all(|c| c.is_valid(r)),
        )
    }));
    let rows = arrow::compute::filter_record_batch(
        &batch
            .project(&out.columns)
            .map_err(|e| BuildError::Internal(format!("feature prior: {e}")))?,
        &mask,
    )
    .map_err(|e| BuildError::Internal(format!("feature prior: {e}")))?;
    let keys: Vec<&Int64Array> = (0..keys.len())
        .map(|j| rows.column(j).as_primitive::<Int64Type>())
        .collect();
    for r in 0..rows.num_rows() {
        let k: [i64; 2] = std::array::from_fn(|j| keys.get(j).map_or(0, |c| c.value(r)));
        if out.last.is_some_and(|l| l >= k) {
            return Err(BuildError::Internal(
                "feature prior counts are not sorted by key".into(),
            ));
        }
        out.last = Some(k);
    }
    Ok(rows)
}

/// A prior counts file (see `Prior`) read front to back.
pub(super) struct PriorCursor<const N: usize> {
    path: PathBuf,
    reader: FileReader<BufReader<File>>,
    batch: Option<RecordBatch>,
    row: usize,
}

impl<const N: usize> PriorCursor<N> {
    pub(super) fn open(path: &Path) -> Result<Self, BuildError> {
        let reader = ipc_reader(path)?;
        let mut c = PriorCursor {
            path: path.to_path_buf(),
            reader,
            batch: None,
            row: 0,
        };
        c.load()?;
        Ok(c)
    }

    /// Moves to the next non-empty batch when the current one is done.
    fn load(&mut self) -> Result<(), BuildError> {
        while self.batch.as_ref().is_none_or(|b| self.row >= b.num_rows()) {
            match self.reader.next() {
                Some(b) => {
                    self.batch = Some(b.map_err(|e| {
                        BuildError::Internal(format!("{}: {e}", self.path.display()))
                    })?);
                    self.row = 0;
                }
                None => {
                    self.batch = None;
                    break;
                }
            }
        }
        Ok(())
    }

    pub(super) fn key(&self) -> Option<[i64; N]> {
        let b = self.batch.as_ref()?;
        Some(std::array::from_fn(|j| {
            b.column(j).as_primitive::<Int64Type>().value(self.row)
        }))
    }

    /// Count `j` (after the key columns) of the current row.
    pub(super) fn count(&self, j: usize) -> i32 {
        let c = self.batch.as_ref().expect("a row").column(N + j);
        let c = c.as_primitive::<Int32Type>();
        if c.is_valid(self.row) {
            c.value(self.row)
        } else {
            0
        }
    }

    pub(super) fn advance(&mut self) -> Result<(), BuildError> {
        self.row += 1;
        self.load()
    }
}
