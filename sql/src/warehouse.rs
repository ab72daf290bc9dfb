//! The session over a warehouse: one DataFusion table per directory of it.
//!
//! ```text
//!  logs/<table>/dt=D/*.parquet        -> <table>            (exposure, click, ..., item)
//!                  *.csv, *.ndjson, *.jsonl (logs.rs)
//!  samples/dt=D/*.parquet             -> samples
//!  quarantine/<table>/dt=D/*.parquet  -> quarantine_<table> (+ reject_reason)
//!                                     -> quarantine         (every table, common columns)
//!  samples/_manifests/dt=D.json       -> manifests          (flattened, one row a day)
//!  models/<run>/metrics.parquet       -> model_metrics      (every run, one row a trained day)
//! ```
//!
//! Each directory is a listing table with the contract's canonical schema and `dt`
//! (`Utf8`, `YYYY-MM-DD`) as its partition column, so `WHERE dt = '...'` opens only that
//! day's files. Files are read through the canonical schema, every column nullable:
//! extra columns are not shown, IDs read as `Int64` (a Parquet log with text IDs through
//! `esmc_id`, the builder's mapping), and rows
//! that break the contract (null IDs) are shown rather than failing the query. A
//! directory that does not exist yet (no samples built, nothing quarantined) is an empty
//! table, not an error. A log table with CSV or NDJSON files reads them through the
//! builder's readers into the same schema, its `dt` filters pruning them too (`logs.rs`).
//! The session is read-only: statements that write (INSERT, COPY) are refused.

use crate::error::{Result, SqlError};
use crate::manifests;
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use arrow::record_batch::RecordBatch;
use datafusion::dataframe::DataFrame;
use datafusion::datasource::MemTable;
use datafusion::execution::context::SQLOptions;
use datafusion::execution::memory_pool::FairSpillPool;
use datafusion::execution::runtime_env::RuntimeEnvBuilder;
use datafusion::prelude::{ParquetReadOptions, SessionConfig, SessionContext};
use esmc_schemas::{SAMPLES, SqlTable, Table, Warehouse};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Knobs of a session that do not change results.
#[derive(Debug, Clone, Default)]
pub struct OpenOptions {
    /// Engine threads (target partitions); 0 (the default) = all cores.
    pub threads: usize,
    /// Memory the engine may hold before spilling, bytes; `None` (default) = unbounded.
    pub memory_limit: Option<usize>,
}

/// A registered table and its columns: (name, type, nullable, doc).
#[derive(Debug, Clone, PartialEq)]
pub struct TableInfo {
    pub name: String,
    pub columns: Vec<(String, DataType, bool, String)>,
}

/// The partition column of every directory table.
fn dt_field() -> Field {
    Field::new("dt", DataType::Utf8, false)
}

/// `schema` with every field nullable: raw logs may break their contract (a null
/// required ID is what quarantine is for), and a query should show such rows, not fail.
fn nullable(schema: &Schema) -> SchemaRef {
    Arc::new(Schema::new(
        schema
            .fields()
            .iter()
            .map(|f| f.as_ref().clone().with_nullable(true))
            .collect::<Vec<_>>(),
    ))
}

/// Samples as the builder writes them: the contract's columns, then the user and item
/// dimension columns it joins (`sql/builder/samples.sql`).
pub(crate) fn samples_schema() -> SchemaRef {
    let mut fields: Vec<Field> = SAMPLES
        .columns
        .iter()
        .map(|c| c.field().with_nullable(true))
        .collect();
    for (table, key) in [(Table::User, "user_id"), (Table::Item, "item_id")] {
        fields.extend(
            table
                .spec()
                .columns
                .iter()
                .filter(|c| c.name != key)
                .map(|c| c.field().with_nullable(true)),
        );
    }
    Arc::new(Schema::new(fields))
}

/// The samples' schema extended by the feature columns (issue 4) of the newest
/// partition: which features exist depends on the build config. Older partitions
/// without a column read it as null.
fn with_feature_columns(base: SchemaRef, samples: &Path) -> Result<SchemaRef> {
    let mut days: Vec<PathBuf> = match std::fs::read_dir(samples) {
        Ok(entries) => entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| {
                p.is_dir()
                    && p.file_name()
                        .and_then(|n| n.to_str())
                        .is_some_and(|n| n.starts_with("dt="))
            })
            .collect(),
        Err(_) => return Ok(base),
    };
    days.sort();
    let Some(newest) = days.last() else {
        return Ok(base);
    };
    let mut files: Vec<PathBuf> = std::fs::read_dir(newest)
        .map_err(|e| SqlError::io(newest, e))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "parquet"))
        .collect();
    files.sort();
    let Some(file) = files.first() else {
        return Ok(base);
    };
    let reader = std::fs::File::open(file).map_err(|e| SqlError::io(file, e))?;
    let builder = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(reader)
        .map_err(|e| {
            SqlError::io(
                file,
                std::io::Error::new(std::io::ErrorKind::InvalidData, e.to_string()),
            )
        })?;
    let mut fields: Vec<Field> = base.fields().iter().map(|f| f.as_ref().clone()).collect();
    for f in builder.schema().fields() {
        if base.field_with_name(f.name()).is_err() {
            fields.push(f.as_ref().clone().with_nullable(true));
        }
    }
    Ok(Arc::new(Schema::new(fields)))
}

/// Quarantined rows of `table`: its columns and the rule they broke.
fn quarantine_schema(table: Table) -> SchemaRef {
    let mut fields = table.spec().nullable_fields();
    fields.push(Field::new("reject_reason", DataType::Utf8, true));
    Arc::new(Schema::new(fields))
}

/// A session over the warehouse at `root` with every table registered (module docs).
pub async fn open(root: &Path, opts: &OpenOptions) -> Result<SessionContext> {
    let threads = match opts.threads {
        0 => std::thread::available_parallelism().map_or(2, |n| n.get()),
        n => n,
    };
    let mut runtime = RuntimeEnvBuilder::new();
    if let Some(limit) = opts.memory_limit {
        runtime = runtime.with_memory_pool(Arc::new(FairSpillPool::new(limit)));
    }
    let mut config = SessionConfig::new()
        .with_target_partitions(threads)
        .with_information_schema(true)
        .set_bool(
            "datafusion.execution.parquet.schema_force_view_types",
            false,
        )
        .set_bool("datafusion.sql_parser.map_string_types_to_utf8view", false)
        .set_bool("datafusion.sql_parser.collect_spans", true);
    config.options_mut().execution.time_zone = Some("UTC".into());
    let ctx = SessionContext::new_with_config_rt(config, runtime.build_arc()?);
    // esmc_id('u_8f3a'): a user's ID as the samples carry it (logs/src/id_udf.rs)
    ctx.register_udf(esmc_logs::esmc_id_udf());

    let warehouse = Warehouse::new(root);
    for table in Table::ALL {
        let schema = nullable(&table.spec().arrow_schema());
        if crate::logs::all_parquet(&warehouse, table)? {
            register_log_parquet(&ctx, table.name(), table, &warehouse, &schema).await?;
        } else {
            // the same listing table for its Parquet files, under the CSV/NDJSON reader
            let hidden = format!("__parquet_{}", table.name());
            register_log_parquet(&ctx, &hidden, table, &warehouse, &schema).await?;
            let parquet = ctx.deregister_table(hidden.as_str())?.ok_or_else(|| {
                SqlError::Internal(format!("table `{hidden}` registered but not found"))
            })?;
            crate::logs::register(&ctx, table, &warehouse, parquet)?;
        }
    }
    let samples = with_feature_columns(samples_schema(), &root.join("samples"))?;
    register_dir(
        &ctx,
        SqlTable::Samples.as_str(),
        &root.join("samples"),
        &samples,
    )
    .await?;
    let mut union = Vec::new();
    for table in Table::EVENTS {
        let name = format!("quarantine_{}", table.name());
        let dir = root.join("quarantine").join(table.name());
        register_dir(&ctx, &name, &dir, &quarantine_schema(table)).await?;
        union.push(format!(
            "SELECT '{}' AS table_name, dt, reject_reason, ts, user_id, item_id FROM {name}",
            table.name()
        ));
    }
    let view = ctx.sql(&union.join("\nUNION ALL\n")).await?;
    ctx.register_table(SqlTable::Quarantine.as_str(), view.into_view())?;
    let batch = manifests::read(&warehouse)?;
    ctx.register_table(
        SqlTable::Manifests.as_str(),
        Arc::new(MemTable::try_new(batch.schema(), vec![vec![batch]])?),
    )?;
    let (schema, batches) = crate::model_metrics::read(root)?;
    ctx.register_table(
        SqlTable::ModelMetrics.as_str(),
        Arc::new(MemTable::try_new(schema, vec![batches])?),
    )?;
    Ok(ctx)
}

/// Registers the Parquet files of log `table` as `name`. When one of them has a text ID
/// column (`u_8f3a`), the files are read with their ID columns as text (an integer ID
/// is cast to its digits) and every ID goes through `esmc_id`, as the builder reads
/// them: the table has the same `Int64` IDs the samples carry, and its `dt` filters
/// still prune files.
async fn register_log_parquet(
    ctx: &SessionContext,
    name: &str,
    table: Table,
    warehouse: &Warehouse,
    schema: &SchemaRef,
) -> Result<()> {
    let dir = warehouse.table_dir(table);
    let ids: Vec<&str> = table
        .spec()
        .columns
        .iter()
        .filter(|c| c.kind == esmc_schemas::ColumnKind::Id)
        .map(|c| c.name)
        .collect();
    if !has_text_ids(warehouse, table, &ids)? {
        return register_dir(ctx, name, &dir, schema).await;
    }
    let text_schema = Arc::new(Schema::new(
        schema
            .fields()
            .iter()
            .map(|f| match ids.contains(&f.name().as_str()) {
                true => f.as_ref().clone().with_data_type(DataType::Utf8),
                false => f.as_ref().clone(),
            })
            .collect::<Vec<_>>(),
    ));
    let hidden = format!("__text_ids_{name}");
    register_dir(ctx, &hidden, &dir, &text_schema).await?;
    let columns: Vec<String> = schema
        .fields()
        .iter()
        .map(|f| match ids.contains(&f.name().as_str()) {
            true => format!("esmc_id(\"{0}\") AS \"{0}\"", f.name()),
            false => format!("\"{}\"", f.name()),
        })
        .collect();
    let view = ctx
        .sql(&format!("SELECT {}, dt FROM {hidden}", columns.join(", ")))
        .await?
        .into_view();
    ctx.deregister_table(hidden.as_str())?;
    ctx.register_table(name, view)?;
    Ok(())
}

/// Whether an ID column of any Parquet file of log `table` is text (footers only).
fn has_text_ids(warehouse: &Warehouse, table: Table, ids: &[&str]) -> Result<bool> {
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
    let days = warehouse
        .log_days(table)
        .map_err(|esmc_schemas::WarehouseError::Io { path, source }| SqlError::io(path, source))?;
    for day in days {
        let dir = warehouse.log_dir(table, day);
        let files = warehouse.partition_files(&dir).map_err(
            |esmc_schemas::WarehouseError::Io { path, source }| SqlError::io(path, source),
        )?;
        for path in files {
            if !matches!(esmc_logs::Format::of(&path), Ok(esmc_logs::Format::Parquet)) {
                continue;
            }
            // an unreadable file fails the query that reads it, naming it
            let Ok(file) = std::fs::File::open(&path) else {
                continue;
            };
            let Ok(reader) = ParquetRecordBatchReaderBuilder::try_new(file) else {
                continue;
            };
            let text = ids.iter().any(|id| {
                reader.schema().field_with_name(id).is_ok_and(|f| {
                    matches!(
                        f.data_type(),
                        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View
                    )
                })
            });
            if text {
                return Ok(true);
            }
        }
    }
    Ok(false)
}

/// Registers the partitioned Parquet files under `dir` as `name`; an absent directory is
/// an empty table of the same schema.
async fn register_dir(
    ctx: &SessionContext,
    name: &str,
    dir: &Path,
    schema: &SchemaRef,
) -> Result<()> {
    if dir.is_dir() {
        let options = ParquetReadOptions::default()
            .schema(schema)
            .table_partition_cols(vec![("dt".to_string(), DataType::Utf8)]);
        let path = dir.to_str().ok_or_else(|| {
            SqlError::io(
                dir,
                std::io::Error::new(std::io::ErrorKind::InvalidInput, "path is not UTF-8"),
            )
        })?;
        ctx.register_parquet(name, path, options).await?;
    } else {
        let mut fields: Vec<_> = schema.fields().iter().cloned().collect();
        fields.push(Arc::new(dt_field()));
        let empty = MemTable::try_new(Arc::new(Schema::new(fields)), vec![vec![]])?;
        ctx.register_table(name, Arc::new(empty))?;
    }
    Ok(())
}

/// Plans one SQL statement; parse and plan errors carry their position in `sql`.
/// Statements that would write (INSERT, COPY ... TO) are refused.
pub async fn plan_sql(ctx: &SessionContext, sql: &str) -> Result<DataFrame> {
    let options = SQLOptions::new().with_allow_dml(false);
    ctx.sql_with_options(sql, options)
        .await
        .map_err(|e| SqlError::query(e, sql))
}

/// Runs a statement planned by [`plan_sql`] from `sql`, returning every batch.
pub async fn collect(df: DataFrame, sql: &str) -> Result<Vec<RecordBatch>> {
    df.collect().await.map_err(|e| SqlError::query(e, sql))
}

/// Plans and runs one SQL statement, returning every batch.
pub async fn run_sql(ctx: &SessionContext, sql: &str) -> Result<Vec<RecordBatch>> {
    collect(plan_sql(ctx, sql).await?, sql).await
}

/// Every registered table with its columns, by name; `only` restricts to one table.
pub async fn describe(ctx: &SessionContext, only: Option<&str>) -> Result<Vec<TableInfo>> {
    let mut names: Vec<String> = ctx
        .catalog("datafusion")
        .and_then(|c| c.schema("public"))
        .map(|s| s.table_names())
        .unwrap_or_default();
    names.sort();
    if let Some(only) = only {
        names.retain(|n| n == only);
        if names.is_empty() {
            let sql = format!("SELECT * FROM {only}");
            return Err(plan_sql(ctx, &sql).await.err().unwrap_or_else(|| {
                SqlError::Internal(format!("table `{only}` is listed but not found"))
            }));
        }
    }
    let mut out = Vec::new();
    for name in names {
        let Some(table) = ctx.table_provider(name.as_str()).await.ok() else {
            continue;
        };
        let schema = table.schema();
        let columns = schema
            .fields()
            .iter()
            .map(|f| {
                let doc = f.metadata().get("doc").cloned().unwrap_or_else(|| {
                    if f.name() == "dt" {
                        "Partition day, YYYY-MM-DD (filters on it prune files).".into()
                    } else {
                        String::new()
                    }
                });
                (
                    f.name().clone(),
                    f.data_type().clone(),
                    f.is_nullable(),
                    doc,
                )
            })
            .collect();
        out.push(TableInfo { name, columns });
    }
    Ok(out)
}
