//! The raw log tables (`exposure` … `item`) in whatever format their files are: Parquet,
//! CSV or NDJSON, mixed within a table and within a partition, read by the readers the
//! builder uses too (`esmc_logs::text_stream`).
//!
//! ```text
//!  every file of logs/<table>/ is .parquet ──> register_parquet: listing table
//!                                              (the fast path: dt pruning, statistics)
//!  otherwise, LogTable:
//!  logs/<table>/dt=D/*.parquet ──────── the same listing table ──────────────┐
//!  logs/<table>/dt=D/*.csv|.ndjson|.jsonl ── one text_stream per file of the  ├─ UnionExec ─> <table>
//!                            days the dt filters keep (a header check, then   │
//!                            text → canonical columns, batch by batch) ───────┘
//!  logs/<table>/dt=D/<other extension> ── an error naming the file, when a query reads D
//! ```
//!
//! Both branches have the contract's columns (canonical types, all nullable) and `dt`,
//! so a table reads the same whatever its files' format. A CSV/NDJSON value that does
//! not parse (`ts` = `yesterday`) is null in its row, as the builder reads it; the
//! builder's parse-error marker is not a column here (the build quarantines such rows,
//! `quarantine_<table>` shows them with their reason). A text file without a required
//! column, a malformed line and a file of no known format fail the query that reads its
//! day, naming the file (and line); other days stay queryable.

use crate::error::{Result, SqlError};
use arrow::array::{Array, AsArray, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, SchemaRef};
use async_trait::async_trait;
use chrono::NaiveDate;
use datafusion::catalog::{Session, TableProvider};
use datafusion::common::DFSchema;
use datafusion::error::DataFusionError;
use datafusion::logical_expr::expr_rewriter::unnormalize_col;
use datafusion::logical_expr::utils::conjunction;
use datafusion::logical_expr::{Expr, TableProviderFilterPushDown, TableType};
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_plan::streaming::StreamingTableExec;
use datafusion::physical_plan::union::UnionExec;
use datafusion::prelude::SessionContext;
use esmc_logs::{Format, LogError, read_schema, text_stream};
use esmc_schemas::{Table, Warehouse};
use std::sync::Arc;

/// Whether every file in every partition of `table` is Parquet (or there is none): then
/// the plain listing table serves it.
pub(crate) fn all_parquet(warehouse: &Warehouse, table: Table) -> Result<bool> {
    for day in warehouse.log_days(table).map_err(warehouse_err)? {
        let dir = warehouse.log_dir(table, day);
        for path in warehouse.partition_files(&dir).map_err(warehouse_err)? {
            if !matches!(Format::of(&path), Ok(Format::Parquet)) {
                return Ok(false);
            }
        }
    }
    Ok(true)
}

fn warehouse_err(e: esmc_schemas::WarehouseError) -> SqlError {
    match e {
        esmc_schemas::WarehouseError::Io { path, source } => SqlError::io(path, source),
    }
}

/// Registers `table` as a [`LogTable`] over `parquet`, the listing table of its Parquet
/// files (registered and taken back by the caller, so it is built exactly as the fast
/// path's).
pub(crate) fn register(
    ctx: &SessionContext,
    table: Table,
    warehouse: &Warehouse,
    parquet: Arc<dyn TableProvider>,
) -> Result<()> {
    let provider = LogTable {
        table,
        warehouse: warehouse.clone(),
        parquet,
    };
    ctx.register_table(table.name(), Arc::new(provider))?;
    Ok(())
}

/// A log table with files that are not Parquet (module docs): its Parquet files through
/// the listing table, its CSV/NDJSON files through the builder's readers. Files are
/// listed at scan time, only in the days the query's `dt` filters keep.
#[derive(Debug)]
struct LogTable {
    table: Table,
    warehouse: Warehouse,
    /// The listing table of the Parquet files; its schema is this table's (the contract's
    /// columns, nullable, then `dt`).
    parquet: Arc<dyn TableProvider>,
}

impl LogTable {
    /// The days of the table for which every `dt` filter holds (`filters` reference `dt`
    /// alone; none keeps every day).
    fn days(
        &self,
        state: &dyn Session,
        filters: &[Expr],
    ) -> Result<Vec<NaiveDate>, DataFusionError> {
        let days = self
            .warehouse
            .log_days(self.table)
            .map_err(|e| DataFusionError::External(Box::new(e)))?;
        let Some(filter) = conjunction(filters.iter().cloned().map(unnormalize_col)) else {
            return Ok(days);
        };
        let schema = DFSchema::from_unqualified_fields(
            vec![Field::new("dt", DataType::Utf8, false)].into(),
            Default::default(),
        )?;
        let values = StringArray::from_iter_values(days.iter().map(|d| d.to_string()));
        let batch = RecordBatch::try_new(Arc::clone(schema.inner()), vec![Arc::new(values)])?;
        let keep = state
            .create_physical_expr(filter, &schema)?
            .evaluate(&batch)?
            .into_array(days.len())?;
        let keep = keep.as_boolean();
        Ok(days
            .into_iter()
            .enumerate()
            .filter(|&(i, _)| keep.is_valid(i) && keep.value(i))
            .map(|(_, d)| d)
            .collect())
    }
}

#[async_trait]
impl TableProvider for LogTable {
    fn schema(&self) -> SchemaRef {
        self.parquet.schema()
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    /// The listing table's answer: filters on `dt` alone are exact (both branches prune
    /// by them exactly), the rest inexact (row groups pruned, rows filtered above).
    fn supports_filters_pushdown(
        &self,
        filters: &[&Expr],
    ) -> datafusion::error::Result<Vec<TableProviderFilterPushDown>> {
        self.parquet.supports_filters_pushdown(filters)
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> datafusion::error::Result<Arc<dyn ExecutionPlan>> {
        let refs: Vec<&Expr> = filters.iter().collect();
        let pushdown = self.parquet.supports_filters_pushdown(&refs)?;
        let on_dt: Vec<Expr> = filters
            .iter()
            .zip(&pushdown)
            .filter(|(_, p)| **p == TableProviderFilterPushDown::Exact)
            .map(|(f, _)| f.clone())
            .collect();
        let mut text = Vec::new();
        for day in self.days(state, &on_dt)? {
            let dir = self.warehouse.log_dir(self.table, day);
            let files = self
                .warehouse
                .partition_files(&dir)
                .map_err(|e| DataFusionError::External(Box::new(e)))?;
            for path in files {
                let format = Format::of(&path).map_err(external)?;
                if format != Format::Parquet {
                    text.push(text_stream(self.table, path, format, day).map_err(external)?);
                }
            }
        }
        let parquet = self.parquet.scan(state, projection, filters, limit).await?;
        if text.is_empty() {
            return Ok(parquet);
        }
        // read_schema = the table's columns, then dt, then parse_error: project it away
        let columns = self.table.spec().columns.len();
        let projection = projection
            .cloned()
            .unwrap_or_else(|| (0..=columns).collect());
        let text = StreamingTableExec::try_new(
            read_schema(self.table),
            text,
            Some(&projection),
            [],
            false,
            limit,
        )?;
        UnionExec::try_new(vec![parquet, Arc::new(text)])
    }
}

fn external(e: LogError) -> DataFusionError {
    DataFusionError::External(Box::new(e))
}
