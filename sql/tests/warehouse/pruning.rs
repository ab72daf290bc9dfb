//! Partition pruning: a query filtered on `dt` opens only that day's files.
//!
//! The physical plan's Parquet scans list the files they will open (their file groups);
//! the test compares them with the files on disk, day by day, for a raw log and for the
//! samples, and checks the control: without the filter every day's files are listed.
//! (The queries read a column: a bare `count(*)` is answered from the Parquet footers'
//! statistics and plans no scan at all.)

use crate::fixture;
use datafusion::arrow::array::AsArray;
use datafusion::arrow::datatypes::Int64Type;
use datafusion::datasource::physical_plan::{FileScanConfig, ParquetSource};
use datafusion::datasource::source::DataSourceExec;
use datafusion::physical_plan::ExecutionPlan;
use esmc_schemas::Warehouse;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Every file the Parquet scans of `plan` will open.
pub(crate) fn scanned_files(plan: &Arc<dyn ExecutionPlan>) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Some(exec) = plan.downcast_ref::<DataSourceExec>()
        && let Some((config, _)) = exec.downcast_to_file_source::<ParquetSource>()
    {
        let config: &FileScanConfig = config;
        for group in &config.file_groups {
            for file in group.files() {
                out.push(PathBuf::from(format!("/{}", file.object_meta.location)));
            }
        }
    }
    for child in plan.children() {
        out.extend(scanned_files(child));
    }
    out.sort();
    out
}

fn files_of(dir: &Path) -> Vec<PathBuf> {
    let w = Warehouse::new(fixture::warehouse());
    let mut files: Vec<PathBuf> = w
        .partition_files(dir)
        .unwrap()
        .into_iter()
        .map(|p| p.canonicalize().unwrap())
        .collect();
    files.sort();
    files
}

#[test]
fn dt_filter_opens_only_that_days_files() {
    let (rt, ctx) = fixture::session();
    let root = fixture::warehouse();
    let w = Warehouse::new(root);
    let day = chrono::NaiveDate::parse_from_str("2026-11-03", "%Y-%m-%d").unwrap();
    let plan = |sql: &str| {
        rt.block_on(async {
            let df = esmc_sql::plan_sql(&ctx, sql).await.unwrap();
            df.create_physical_plan().await.unwrap()
        })
    };
    let canon = |files: Vec<PathBuf>| -> Vec<PathBuf> {
        let mut v: Vec<PathBuf> = files
            .into_iter()
            .map(|p| p.canonicalize().unwrap())
            .collect();
        v.sort();
        v
    };

    let exposure_day = files_of(&w.log_dir(esmc_schemas::Table::Exposure, day));
    assert_eq!(exposure_day.len(), 2, "two shards a day");
    let one_day = canon(scanned_files(&plan(
        "SELECT count(*) FROM exposure WHERE dt = '2026-11-03' AND domain = 'rec'",
    )));
    assert_eq!(one_day, exposure_day);

    let samples_day = files_of(&w.samples_dir(day));
    let one_day = canon(scanned_files(&plan(
        "SELECT avg(click) FROM samples WHERE dt = '2026-11-03' AND position = 1",
    )));
    assert_eq!(one_day, samples_day);

    // a range keeps exactly its days
    let range = canon(scanned_files(&plan(
        "SELECT sum(item_id) FROM exposure WHERE dt BETWEEN '2026-11-02' AND '2026-11-03'",
    )));
    assert_eq!(range.len(), 4);
    assert!(range.iter().all(|p| {
        let s = p.to_string_lossy();
        s.contains("dt=2026-11-02") || s.contains("dt=2026-11-03")
    }));

    // control: no filter, every day's files
    let all = scanned_files(&plan("SELECT sum(item_id) FROM exposure"));
    assert_eq!(all.len(), 2 * fixture::DAYS as usize);
}

#[test]
fn pruned_scan_returns_exactly_the_days_rows() {
    let (rt, ctx) = fixture::session();
    let count = |sql: &str| {
        let batches = rt.block_on(esmc_sql::run_sql(&ctx, sql)).unwrap();
        batches[0].column(0).as_primitive::<Int64Type>().value(0)
    };
    let pruned = count("SELECT count(*) FROM exposure WHERE dt = '2026-11-03'");
    // the same day's count from a scan of every file, grouped
    let grouped = count(
        "SELECT n FROM (SELECT dt, count(*) AS n FROM exposure GROUP BY dt) \
         WHERE dt = '2026-11-03'",
    );
    let total = count("SELECT count(*) FROM exposure");
    assert_eq!(pruned, grouped);
    assert!(pruned > 0 && pruned < total);
}

#[test]
fn samples_expose_the_feature_columns_the_builder_wrote() {
    let (rt, ctx) = fixture::session();
    let batches = rt.block_on(async {
        let sql = "SELECT count(*) AS n, count(item_ctr_7d) AS ctr, \
                   sum(CASE WHEN item_in_cart = 1 THEN 1 ELSE 0 END) AS in_cart, \
                   max(array_length(seq_click_items)) AS longest \
                   FROM samples";
        let df = esmc_sql::plan_sql(&ctx, sql).await.unwrap();
        esmc_sql::collect(df, sql).await.unwrap()
    });
    let b = &batches[0];
    let n = b.column(0).as_primitive::<Int64Type>().value(0);
    assert!(n > 0);
    assert_eq!(b.column(1).as_primitive::<Int64Type>().value(0), n);
    assert!(
        b.column(3)
            .as_primitive::<datafusion::arrow::datatypes::UInt64Type>()
            .value(0)
            > 0
    );
}
