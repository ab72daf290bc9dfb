//! The build's engine session and its inputs: every input file checked against its
//! table's contract, then one `log_<table>` per raw table over the days the build reads
//! (Parquet through listing tables, CSV and NDJSON through `esmc-logs`' streams), and
//! the dimension snapshots as `dim_user` and `dim_item`.

use super::Builder;
use crate::{BuildError, Progress};
use arrow::datatypes::{DataType, Schema, SchemaRef};
use chrono::NaiveDate;
use datafusion::catalog::streaming::StreamingTable;
use datafusion::common::DFSchema;
use datafusion::datasource::MemTable;
use datafusion::datasource::file_format::options::ReadOptions;
use datafusion::datasource::listing::{ListingTable, ListingTableConfig, ListingTableUrl};
use datafusion::execution::memory_pool::FairSpillPool;
use datafusion::execution::runtime_env::RuntimeEnvBuilder;
use datafusion::logical_expr::{EmptyRelation, LogicalPlan};
use datafusion::prelude::{DataFrame, ParquetReadOptions, SessionConfig, SessionContext};
use esmc_logs::{ESMC_ID, Format, check_text_file, esmc_id_udf, read_schema, text_stream};
use esmc_schemas::{ColumnKind, Table, validate_schema};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The files of one raw table that a build reads: Parquet files by (day, whether any
/// ID column is a string), and CSV/NDJSON files with their format and day.
#[derive(Default)]
struct LogFiles {
    parquet: BTreeMap<(NaiveDate, bool), Vec<PathBuf>>,
    text: Vec<(PathBuf, Format, NaiveDate)>,
}

impl Builder {
    /// The build's engine session: the configured threads and memory pool, `esmc_id`.
    pub(super) fn context(&self) -> Result<SessionContext, BuildError> {
        let runtime = RuntimeEnvBuilder::new()
            .with_memory_pool(Arc::new(FairSpillPool::new(self.opts.memory_limit)))
            .build_arc()?;
        let state = datafusion::execution::SessionStateBuilder::new()
            .with_config(self.session_config())
            .with_runtime_env(runtime)
            .with_default_features()
            .with_query_planner(Arc::new(crate::partitioned::EsmcQueryPlanner))
            .build();
        let ctx = SessionContext::new_with_state(state);
        ctx.register_udf(esmc_id_udf());
        Ok(ctx)
    }

    /// The engine settings of every session of a build, local or on a cluster.
    pub(super) fn session_config(&self) -> SessionConfig {
        SessionConfig::new()
            .with_target_partitions(self.threads())
            .with_batch_size(16384)
            .set_bool(
                "datafusion.execution.parquet.schema_force_view_types",
                false,
            )
    }

    /// Engine threads (target partitions): `--threads`, else every core.
    pub(super) fn threads(&self) -> usize {
        if self.opts.threads == 0 {
            std::thread::available_parallelism().map_or(2, |n| n.get())
        } else {
            self.opts.threads
        }
    }

    /// Checks every input file that building `day` reads (the window, the feature
    /// history, the dimension snapshots) against its table's contract, reporting files
    /// checked.
    pub(super) fn check_inputs(
        &self,
        day: NaiveDate,
        progress: &dyn Progress,
    ) -> Result<(), BuildError> {
        let mut files = Vec::new();
        for table in Table::ALL {
            self.check_partition_names(table)?;
            for d in self.read_days(table, day)? {
                let dir = self.warehouse.log_dir(table, d);
                let listed = self.warehouse.partition_files(&dir)?;
                files.extend(listed.into_iter().map(|f| (table, f)));
            }
        }
        let total = files.len() as u64;
        progress.position(day, 0, total, "files");
        for (i, (table, file)) in files.into_iter().enumerate() {
            match Format::of(&file)? {
                Format::Parquet => check_file(table, &file)?,
                format => check_text_file(table, &file, format)?,
            }
            progress.position(day, i as u64 + 1, total, "files");
        }
        Ok(())
    }

    /// Fails on an entry of `table`'s log directory that is not a `dt=YYYY-MM-DD`
    /// partition (`2026-11-02/`, `dt=2026-13-01/`, a stray file): its rows would
    /// otherwise be skipped silently. Hidden entries (a leading `.` or `_`, e.g.
    /// `_SUCCESS`) are left alone.
    fn check_partition_names(&self, table: Table) -> Result<(), BuildError> {
        let dir = self.warehouse.table_dir(table);
        let entries = match std::fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(BuildError::io(&dir, e)),
        };
        for entry in entries {
            let entry = entry.map_err(|e| BuildError::io(&dir, e))?;
            let name = entry.file_name();
            let name = name.to_string_lossy();
            let is_dir = entry.file_type().is_ok_and(|t| t.is_dir());
            if name.starts_with('.')
                || name.starts_with('_')
                || (is_dir && esmc_schemas::parse_dt_name(&name).is_some())
            {
                continue;
            }
            return Err(BuildError::BadPartition { path: entry.path() });
        }
        Ok(())
    }

    /// The files of `table` that building `day` reads, by format.
    fn log_files(&self, table: Table, day: NaiveDate) -> Result<LogFiles, BuildError> {
        let mut files = LogFiles::default();
        for d in self.read_days(table, day)? {
            let dir = self.warehouse.log_dir(table, d);
            for path in self.warehouse.partition_files(&dir)? {
                match Format::of(&path)? {
                    Format::Parquet => {
                        let strings = has_string_ids(table, &path)?;
                        files.parquet.entry((d, strings)).or_default().push(path);
                    }
                    format => files.text.push((path, format, d)),
                }
            }
        }
        Ok(files)
    }

    /// Registers `log_<table>` (schema [`read_schema`]: the contract's columns, the
    /// partition `dt` and `parse_error`) over the days `day` reads:
    ///
    /// ```text
    ///  logs/<table>/dt=*/ *.parquet ── listing table, canonical schema ──┐ UNION ALL
    ///  logs/<table>/dt=*/ *.csv|*.ndjson|*.jsonl ── esmc-logs streams ───┴──> log_<table>
    /// ```
    ///
    /// When a Parquet file of the table has a string ID column, the Parquet branch is
    /// instead one listing table per day and kind of file (IDs all integers, or some
    /// strings): the string files read every ID column as `Utf8` and map it through
    /// `esmc_id` ([`esmc_schemas::id_from_str`]), with `dt` the day; tables whose
    /// Parquet IDs are all integers keep the single listing table.
    ///
    /// Every column is nullable: a null in a required column is a bad row for the
    /// quarantine (clean.sql), not a failed read; an absent table is an empty one.
    /// Returns whether any file of the table was found. On a cluster's session
    /// (`remote`), CSV and NDJSON logs are refused: they are read by esmc's own
    /// streams, which a plan cannot carry to an executor.
    pub(super) async fn register_log(
        &self,
        ctx: &SessionContext,
        table: Table,
        day: NaiveDate,
        remote: bool,
    ) -> Result<bool, BuildError> {
        let name = format!("log_{}", table.name());
        let files = self.log_files(table, day)?;
        if remote && let Some((path, _, _)) = files.text.first() {
            return Err(BuildError::Config(format!(
                "{}: the cluster build reads Parquet logs only (CSV and NDJSON are read by \
                 esmc's own readers, which do not run on executors); build without \
                 --cluster, or convert the file to Parquet",
                path.display()
            )));
        }
        let columns: Vec<&str> = table.spec().columns.iter().map(|c| c.name).collect();
        let columns = columns.join(", ");
        let mut branches = self
            .parquet_branches(ctx, table, &name, &columns, files.parquet)
            .await?;
        if !files.text.is_empty() {
            ctx.register_table(
                format!("{name}_text"),
                Arc::new(text_table(table, files.text)?),
            )?;
            branches.push(format!(
                "SELECT {columns}, dt, parse_error FROM {name}_text"
            ));
        }
        let present = !branches.is_empty();
        if !present && remote {
            // an empty relation, which plans can carry; the optimizer drops its union
            // branches (clean.rs skips counting it)
            let plan = LogicalPlan::EmptyRelation(EmptyRelation {
                produce_one_row: false,
                schema: Arc::new(DFSchema::try_from(read_schema(table).as_ref().clone())?),
            });
            let view = DataFrame::new(ctx.state(), plan).into_view();
            ctx.register_table(&name, view)?;
        } else if !present {
            let empty = MemTable::try_new(read_schema(table), vec![vec![]])?;
            ctx.register_table(&name, Arc::new(empty))?;
        } else {
            let view = ctx.sql(&branches.join(" UNION ALL ")).await?.into_view();
            ctx.register_table(&name, view)?;
        }
        Ok(present)
    }

    /// The Parquet branches of `log_<table>` (`name`): one listing table over the
    /// table's directory when every ID is an integer, else one per day and kind of
    /// file (see [`Builder::register_log`]).
    async fn parquet_branches(
        &self,
        ctx: &SessionContext,
        table: Table,
        name: &str,
        columns: &str,
        parquet: BTreeMap<(NaiveDate, bool), Vec<PathBuf>>,
    ) -> Result<Vec<String>, BuildError> {
        let canonical = read_schema(table);
        let schema = Schema::new(canonical.fields()[..canonical.fields().len() - 2].to_vec());
        let mut branches = Vec::new();
        if parquet.keys().all(|(_, strings)| !strings) {
            if !parquet.is_empty() {
                let options = ParquetReadOptions::default()
                    .schema(&schema)
                    .table_partition_cols(vec![("dt".to_string(), DataType::Utf8)]);
                let dir = self.warehouse.table_dir(table);
                ctx.register_parquet(
                    format!("{name}_parquet"),
                    dir.to_string_lossy().as_ref(),
                    options,
                )
                .await?;
                branches.push(format!(
                    "SELECT {columns}, dt, arrow_cast(NULL, 'Utf8') AS parse_error FROM {name}_parquet"
                ));
            }
            return Ok(branches);
        }
        let strings = string_id_schema(&schema);
        let mapped: Vec<String> = table
            .spec()
            .columns
            .iter()
            .map(|c| match c.kind {
                ColumnKind::Id => format!("{ESMC_ID}({0}) AS {0}", c.name),
                _ => c.name.to_string(),
            })
            .collect();
        let mapped = mapped.join(", ");
        for (i, ((d, has_strings), files)) in parquet.into_iter().enumerate() {
            let part = format!("{name}_parquet_{i}");
            let schema = if has_strings { &strings } else { &schema };
            ctx.register_table(&part, file_list_table(ctx, schema, &files)?)?;
            let cols = if has_strings { &mapped } else { columns };
            branches.push(format!(
                "SELECT {cols}, '{d}' AS dt, arrow_cast(NULL, 'Utf8') AS parse_error FROM {part}"
            ));
        }
        Ok(branches)
    }

    /// `dim_user` and `dim_item`: the latest snapshot before `day`, else the day's own.
    pub(super) async fn register_dims(
        &self,
        ctx: &SessionContext,
        day: NaiveDate,
    ) -> Result<(), BuildError> {
        for table in [Table::User, Table::Item] {
            self.register_dim(ctx, table, day).await?;
        }
        Ok(())
    }

    /// `dim_<table>` (`dim_user`, `dim_item`) over `log_<table>`: its snapshot for `day`.
    pub(super) async fn register_dim(
        &self,
        ctx: &SessionContext,
        table: Table,
        day: NaiveDate,
    ) -> Result<(), BuildError> {
        let snapshot = self.snapshot(table, day)?;
        let cols: Vec<&str> = table.spec().columns.iter().map(|c| c.name).collect();
        let filter = match snapshot {
            Some(d) => format!("dt = '{d}'"),
            None => "false".into(),
        };
        let df = ctx
            .sql(&format!(
                "SELECT {} FROM log_{} WHERE {filter}",
                cols.join(", "),
                table.name()
            ))
            .await?;
        ctx.register_table(format!("dim_{}", table.name()), df.into_view())?;
        Ok(())
    }
}

/// One table over CSV and NDJSON files (`(path, format, partition day)`), streamed file
/// by file in [`read_schema`].
fn text_table(
    table: Table,
    files: Vec<(PathBuf, Format, NaiveDate)>,
) -> Result<StreamingTable, BuildError> {
    let partitions = files
        .into_iter()
        .map(|(path, format, day)| text_stream(table, path, format, day))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(StreamingTable::try_new(read_schema(table), partitions)?)
}

/// The Arrow schema in the footer of the Parquet file at `path`.
fn footer_schema(path: &Path) -> Result<SchemaRef, BuildError> {
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
    let file = std::fs::File::open(path).map_err(|e| BuildError::io(path, e))?;
    let reader =
        ParquetRecordBatchReaderBuilder::try_new(file).map_err(|source| BuildError::BadFile {
            path: path.to_path_buf(),
            source,
        })?;
    Ok(reader.schema().clone())
}

/// Checks one input file's footer against its table's contract.
fn check_file(table: Table, path: &Path) -> Result<(), BuildError> {
    validate_schema(table.spec(), &*footer_schema(path)?).map_err(|source| BuildError::Schema {
        path: path.to_path_buf(),
        source,
    })
}

/// Whether any ID column of `table` in the Parquet file at `path` is a string (then it
/// is read through `esmc_id`, see [`Builder::register_log`]).
fn has_string_ids(table: Table, path: &Path) -> Result<bool, BuildError> {
    let schema = footer_schema(path)?;
    Ok(table
        .spec()
        .columns
        .iter()
        .filter(|c| c.kind == ColumnKind::Id)
        .filter_map(|c| schema.field_with_name(c.name).ok())
        .any(|f| !f.data_type().is_integer() && *f.data_type() != DataType::Null))
}

/// `schema` with every `Int64` ID column as `Utf8`: how a Parquet file with string IDs is
/// read (an integer ID column of such a file is cast to its digits, which `esmc_id`
/// maps back to the same value).
fn string_id_schema(schema: &Schema) -> Schema {
    Schema::new(
        schema
            .fields()
            .iter()
            .map(|f| match f.data_type() {
                DataType::Int64 => f.as_ref().clone().with_data_type(DataType::Utf8),
                _ => f.as_ref().clone(),
            })
            .collect::<Vec<_>>(),
    )
}

/// A listing table over exactly `files` (Parquet, any extension case), read in `schema`,
/// with the session's Parquet options.
fn file_list_table(
    ctx: &SessionContext,
    schema: &Schema,
    files: &[PathBuf],
) -> Result<Arc<ListingTable>, BuildError> {
    let urls = files
        .iter()
        .map(|p| ListingTableUrl::parse(p.to_string_lossy()))
        .collect::<Result<Vec<_>, _>>()?;
    let options = ParquetReadOptions::default()
        .to_listing_options(&ctx.copied_config(), ctx.copied_table_options())
        .with_file_extension("");
    let config = ListingTableConfig::new_with_multi_paths(urls)
        .with_listing_options(options)
        .with_schema(Arc::new(schema.clone()));
    Ok(Arc::new(ListingTable::try_new(config)?))
}
