//! `esmc build`: one day's sample partition from the logs of its window, with DataFusion
//! doing the reading, cleaning, sorting and joining, and `attribute.rs` the labelling.

use crate::attribute::{AttributionCounts, Attributor, Event, Kind, PscCase, Sample};
use crate::config::BuildConfig;
use crate::features::{self, FeatureTable};
use crate::formats::{Format, check_text_file, read_schema, text_table};
use crate::ids::{ESMC_ID, esmc_id_udf};
use crate::manifest::{InputFile, Manifest};
use crate::write::{StagedDir, failpoint, write_file_atomic};
use crate::{BuildError, Progress};
use arrow::array::{
    Array, ArrayRef, AsArray, Float64Array, Int8Array, Int32Array, Int64Array, RecordBatch,
    StringArray, TimestampMicrosecondArray,
};
use arrow::compute::{cast, concat_batches};
use arrow::datatypes::{
    DataType, Float64Type, Int8Type, Int32Type, Int64Type, Schema, SchemaRef, TimeUnit,
    TimestampMicrosecondType,
};
use chrono::NaiveDate;
use datafusion::datasource::MemTable;
use datafusion::datasource::file_format::options::ReadOptions;
use datafusion::datasource::listing::{ListingTable, ListingTableConfig, ListingTableUrl};
use datafusion::execution::memory_pool::FairSpillPool;
use datafusion::execution::runtime_env::RuntimeEnvBuilder;
use datafusion::prelude::{ParquetReadOptions, SessionConfig, SessionContext};
use esmc_schemas::{ColumnKind, SAMPLES, Table, Warehouse, validate_schema};
use futures::StreamExt;
use parquet::arrow::ArrowWriter;
use parquet::file::properties::WriterProperties;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

pub(crate) const DAY_US: i64 = 86_400_000_000;
/// Rows per record batch written, fixed so that file bytes do not depend on how the
/// engine happened to batch its output.
const WRITE_ROWS: usize = 64 * 1024;
/// The tables the feature stage reads over its history.
const FEATURE_TABLES: [Table; 4] = [Table::Exposure, Table::Click, Table::Cart, Table::Purchase];

/// Knobs of a run that do not change its output.
#[derive(Debug, Clone)]
pub struct BuildOptions {
    /// Engine threads (target partitions); 0 = all cores.
    pub threads: usize,
    /// Memory the engine may hold before spilling to disk, bytes.
    pub memory_limit: usize,
    /// Memory the feature stage's sorts and as-of merges may hold, bytes, beside the
    /// engine's pool; `None`: half of `memory_limit`.
    pub feature_memory: Option<usize>,
}

impl Default for BuildOptions {
    fn default() -> Self {
        BuildOptions {
            threads: 0,
            memory_limit: 2 << 30,
            feature_memory: None,
        }
    }
}

/// What one build did.
#[derive(Debug, Clone)]
pub struct BuildReport {
    pub manifest: Manifest,
    pub partition: PathBuf,
    /// Seconds of the stages that are timed: `features` (its parts `features_gather`:
    /// DataFusion streaming the inputs into the stage's sorts and spill files, and
    /// `features_compute`: the as-of merges) and `total`.
    pub stage_secs: BTreeMap<String, f64>,
}

/// Builds sample partitions of one warehouse.
pub struct Builder {
    warehouse: Warehouse,
    cfg: BuildConfig,
    opts: BuildOptions,
    /// Content hashes of input files by (path, size, mtime): the windows of neighbouring
    /// days overlap, so a nightly run would otherwise hash most files five times.
    hashes:
        std::sync::Mutex<std::collections::HashMap<(PathBuf, u64, std::time::SystemTime), String>>,
}

fn day_start(day: NaiveDate) -> i64 {
    day.and_hms_opt(0, 0, 0)
        .expect("midnight")
        .and_utc()
        .timestamp_micros()
}

fn sha256_hex(bytes: &[u8]) -> String {
    format!("{:x}", Sha256::digest(bytes))
}

/// Parquet settings of sample partitions.
fn writer_properties() -> WriterProperties {
    use parquet::basic::{Compression, ZstdLevel};
    WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::try_new(1).expect("valid")))
        .set_max_row_group_row_count(Some(1 << 20))
        .build()
}

impl Builder {
    pub fn new(root: impl Into<PathBuf>, cfg: BuildConfig, opts: BuildOptions) -> Self {
        Builder {
            warehouse: Warehouse::new(root),
            cfg,
            opts,
            hashes: Default::default(),
        }
    }

    pub fn warehouse(&self) -> &Warehouse {
        &self.warehouse
    }

    pub fn config(&self) -> &BuildConfig {
        &self.cfg
    }

    pub(crate) fn has_exposures(&self, day: NaiveDate) -> Result<bool, BuildError> {
        let dir = self.warehouse.log_dir(Table::Exposure, day);
        Ok(!self
            .warehouse
            .partition_files(&dir)
            .map_err(warehouse_err)?
            .is_empty())
    }

    /// Every input file of `day`'s window, with size and content hash.
    pub(crate) fn input_files(&self, day: NaiveDate) -> Result<Vec<InputFile>, BuildError> {
        let mut files = Vec::new();
        for table in Table::ALL {
            for path in self.window_files(table, day)? {
                let meta = std::fs::metadata(&path).map_err(|e| BuildError::io(&path, e))?;
                let modified = meta.modified().map_err(|e| BuildError::io(&path, e))?;
                let key = (path.clone(), meta.len(), modified);
                let cached = self.hashes.lock().expect("hash cache").get(&key).cloned();
                let sha256 = match cached {
                    Some(h) => h,
                    None => {
                        let bytes = std::fs::read(&path).map_err(|e| BuildError::io(&path, e))?;
                        let h = sha256_hex(&bytes);
                        self.hashes
                            .lock()
                            .expect("hash cache")
                            .insert(key, h.clone());
                        h
                    }
                };
                files.push(InputFile {
                    path: path
                        .strip_prefix(self.warehouse.root())
                        .unwrap_or(&path)
                        .to_string_lossy()
                        .into_owned(),
                    bytes: meta.len(),
                    sha256,
                });
            }
        }
        Ok(files)
    }

    /// The files of `table` in `day`'s window, unchecked.
    fn window_files(&self, table: Table, day: NaiveDate) -> Result<Vec<PathBuf>, BuildError> {
        let (first, last) = self.window(day);
        let mut files = Vec::new();
        for d in self.warehouse.log_days(table).map_err(warehouse_err)? {
            if d >= first && d <= last {
                let dir = self.warehouse.log_dir(table, d);
                files.extend(
                    self.warehouse
                        .partition_files(&dir)
                        .map_err(warehouse_err)?,
                );
            }
        }
        Ok(files)
    }

    fn context(&self) -> Result<SessionContext, BuildError> {
        let threads = if self.opts.threads == 0 {
            std::thread::available_parallelism().map_or(2, |n| n.get())
        } else {
            self.opts.threads
        };
        let runtime = RuntimeEnvBuilder::new()
            .with_memory_pool(Arc::new(FairSpillPool::new(self.opts.memory_limit)))
            .build_arc()?;
        let config = SessionConfig::new()
            .with_target_partitions(threads)
            .with_batch_size(8192)
            .set_bool(
                "datafusion.execution.parquet.schema_force_view_types",
                false,
            );
        let ctx = SessionContext::new_with_config_rt(config, runtime);
        ctx.register_udf(esmc_id_udf());
        Ok(ctx)
    }

    /// The days read to build `day`: [day - 1, day + attribution window].
    pub fn window(&self, day: NaiveDate) -> (NaiveDate, NaiveDate) {
        (
            day - chrono::Days::new(1),
            day + chrono::Days::new(self.cfg.attribution_window_days as u64),
        )
    }

    /// The first day of the feature stage's history for `day`.
    fn feature_first(&self, day: NaiveDate) -> NaiveDate {
        day - chrono::Days::new(self.cfg.features.history_days() as u64)
    }

    /// Checks every input file that building `day` reads (the window, the feature
    /// history, the dimension snapshots) against its table's contract, reporting files
    /// checked.
    fn check_inputs(&self, day: NaiveDate, progress: &dyn Progress) -> Result<(), BuildError> {
        let mut files = Vec::new();
        for table in Table::ALL {
            for d in self.read_days(table, day)? {
                let dir = self.warehouse.log_dir(table, d);
                let listed = self
                    .warehouse
                    .partition_files(&dir)
                    .map_err(warehouse_err)?;
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

    /// The days of `table` that building `day` reads: the window, and for a dimension
    /// also its snapshot (see [`Builder::snapshot`]).
    fn read_days(&self, table: Table, day: NaiveDate) -> Result<Vec<NaiveDate>, BuildError> {
        let (mut first, last) = self.window(day);
        if self.cfg.features.enabled && FEATURE_TABLES.contains(&table) {
            first = first.min(self.feature_first(day));
        }
        let snapshot = if table.is_event() {
            None
        } else {
            self.snapshot(table, day)?
        };
        Ok(self
            .warehouse
            .log_days(table)
            .map_err(warehouse_err)?
            .into_iter()
            .filter(|&d| (d >= first && d <= last) || Some(d) == snapshot)
            .collect())
    }

    /// The snapshot of a dimension table used for `day`: the latest before it, else the
    /// day's own.
    fn snapshot(&self, table: Table, day: NaiveDate) -> Result<Option<NaiveDate>, BuildError> {
        let days = self.warehouse.log_days(table).map_err(warehouse_err)?;
        Ok(days
            .iter()
            .rev()
            .find(|&&d| d < day)
            .or_else(|| days.iter().find(|&&d| d == day))
            .copied())
    }

    /// Registers `log_<table>` (schema [`read_schema`]: the contract's columns, the
    /// partition `dt` and `parse_error`) over the days `day` reads:
    ///
    /// ```text
    ///  logs/<table>/dt=*/ *.parquet ── listing table, canonical schema ──┐ UNION ALL
    ///  logs/<table>/dt=*/ *.csv|*.ndjson|*.jsonl ── formats.rs streams ──┴──> log_<table>
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
    async fn register_log(
        &self,
        ctx: &SessionContext,
        table: Table,
        day: NaiveDate,
    ) -> Result<(), BuildError> {
        let name = format!("log_{}", table.name());
        // (day, has string ids) → files
        let mut parquet: BTreeMap<(NaiveDate, bool), Vec<PathBuf>> = BTreeMap::new();
        let mut text = Vec::new();
        for d in self.read_days(table, day)? {
            let dir = self.warehouse.log_dir(table, d);
            for path in self
                .warehouse
                .partition_files(&dir)
                .map_err(warehouse_err)?
            {
                match Format::of(&path)? {
                    Format::Parquet => {
                        let strings = has_string_ids(table, &path)?;
                        parquet.entry((d, strings)).or_default().push(path);
                    }
                    format => text.push((path, format, d)),
                }
            }
        }
        let columns: Vec<&str> = table.spec().columns.iter().map(|c| c.name).collect();
        let columns = columns.join(", ");
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
        } else {
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
                let cols = if has_strings { &mapped } else { &columns };
                branches.push(format!(
                    "SELECT {cols}, '{d}' AS dt, arrow_cast(NULL, 'Utf8') AS parse_error FROM {part}"
                ));
            }
        }
        if !text.is_empty() {
            ctx.register_table(format!("{name}_text"), Arc::new(text_table(table, text)?))?;
            branches.push(format!(
                "SELECT {columns}, dt, parse_error FROM {name}_text"
            ));
        }
        if branches.is_empty() {
            let empty = MemTable::try_new(read_schema(table), vec![vec![]])?;
            ctx.register_table(&name, Arc::new(empty))?;
        } else {
            let view = ctx.sql(&branches.join(" UNION ALL ")).await?.into_view();
            ctx.register_table(&name, view)?;
        }
        Ok(())
    }

    /// Builds the sample partition of `day`.
    pub async fn build(
        &self,
        day: NaiveDate,
        progress: &dyn Progress,
    ) -> Result<BuildReport, BuildError> {
        let started = Instant::now();
        if !self.has_exposures(day)? {
            return Err(BuildError::NoInput {
                day,
                dir: self.warehouse.log_dir(Table::Exposure, day),
            });
        }
        self.cfg.features.check()?;
        progress.stage(day, "checking inputs");
        let (first, last) = self.window(day);
        self.check_inputs(day, progress)?;
        let ctx = self.context()?;
        for table in Table::ALL {
            self.register_log(&ctx, table, day).await?;
        }

        progress.stage(day, "cleaning");
        let mut quarantined = BTreeMap::new();
        let mut good = Vec::new();
        let tables = Table::EVENTS.len() as u64;
        progress.position(day, 0, tables, "tables");
        for (i, table) in Table::EVENTS.into_iter().enumerate() {
            let cleaned = self.clean(&ctx, table, day, first, last).await?;
            quarantined.insert(table.name().to_string(), cleaned.rejected);
            good.push(cleaned.good);
            progress.position(day, i as u64 + 1, tables, "tables");
        }
        let events_total: u64 = good.iter().sum();

        progress.stage(day, "attributing");
        let target = self.warehouse.samples_dir(day);
        let staged = StagedDir::new(&target)?;
        // the build's spill files (labelled samples, feature columns), removed before
        // the partition is swapped in
        let spill = staged.tmp.join(".spill");
        std::fs::create_dir_all(&spill).map_err(|e| BuildError::io(&spill, e))?;
        let labelled_path = spill.join("labelled.parquet");
        let attributor = Attributor::new(&self.cfg, day_start(day));
        let events = ctx
            .sql(include_str!("../../sql/builder/events.sql"))
            .await?;
        let mut stream = events.execute_stream().await?;
        let mut labeller = Labeller::new(&attributor, LabelledSink::new(&labelled_path)?);
        // the union holds the good rows of cleaning less their duplicates: the bar runs
        // over the good rows and is completed when the stream ends; the distinct rows
        // of each table (kind = its index in Table::EVENTS) are counted as they pass
        let mut attributed = 0;
        let mut distinct = vec![0u64; good.len()];
        progress.position(day, 0, events_total, "events");
        while let Some(batch) = stream.next().await {
            let batch = normalize(&batch?)?;
            attributed += batch.num_rows() as u64;
            let kinds = batch.column(2).as_primitive::<Int8Type>();
            for &k in kinds.values() {
                if let Some(n) = distinct.get_mut(k as usize) {
                    *n += 1;
                }
            }
            labeller.push(batch)?;
            progress.position(day, attributed.min(events_total), events_total, "events");
        }
        progress.position(day, events_total, events_total, "events");
        let (labelled, counts) = labeller.finish()?;
        let (rows, stats) = (labelled.rows, labelled.stats());
        let duplicates: BTreeMap<String, u64> = Table::EVENTS
            .iter()
            .zip(good.iter().zip(&distinct))
            .map(|(t, (&g, &d))| {
                let dups = g.checked_sub(d).ok_or_else(|| {
                    BuildError::Internal(format!(
                        "{}: {d} distinct events from {g} good rows",
                        t.name()
                    ))
                })?;
                Ok((t.name().to_string(), dups))
            })
            .collect::<Result<_, BuildError>>()?;

        // read back from the spill file: its footer gives DataFusion the row count, so
        // the dimension joins build on the (smaller) dimension side
        let samples_schema = SAMPLES.arrow_schema();
        ctx.register_parquet(
            "labelled",
            labelled_path.to_string_lossy(),
            ParquetReadOptions::default().schema(&samples_schema),
        )
        .await?;
        self.register_dims(&ctx, day).await?;
        let mut stage_secs = BTreeMap::new();
        let mut features = if self.cfg.features.enabled {
            progress.stage(day, "features");
            progress.position(day, 0, 2, "steps");
            let t = Instant::now();
            let table = self.features(&ctx, day, &spill).await?;
            progress.position(day, 2, 2, "steps");
            stage_secs.insert("features_gather".to_string(), table.gather_secs);
            stage_secs.insert("features_compute".to_string(), table.compute_secs);
            stage_secs.insert("features".to_string(), t.elapsed().as_secs_f64());
            Some(table)
        } else {
            None
        };
        progress.stage(day, "writing");
        let out = ctx
            .sql(include_str!("../../sql/builder/samples.sql"))
            .await?;
        progress.position(day, 0, rows, "rows");
        write_stream(
            out.execute_stream().await?,
            &staged.tmp.join("part-00000.parquet"),
            features.as_mut(),
            &|written| progress.position(day, written, rows.max(written), "rows"),
        )
        .await?;
        drop(features);
        drop(ctx);
        std::fs::remove_dir_all(&spill).map_err(|e| BuildError::io(&spill, e))?;

        let manifest = self.manifest(day, rows, stats, quarantined, duplicates, counts, started)?;
        let json = serde_json::to_vec_pretty(&manifest)
            .map_err(|e| BuildError::Internal(format!("manifest: {e}")))?;
        write_file_atomic(&staged.tmp.join("_manifest.json"), &json)?;
        staged.commit()?;
        write_file_atomic(&self.warehouse.manifest_path(day), &json)?;
        stage_secs.insert("total".to_string(), started.elapsed().as_secs_f64());
        Ok(BuildReport {
            manifest,
            partition: target,
            stage_secs,
        })
    }

    /// Cleans one table over the window: rejected rows of the day's own partition go to
    /// quarantine, good rows are deduplicated into `good_<table>`.
    async fn clean(
        &self,
        ctx: &SessionContext,
        table: Table,
        day: NaiveDate,
        first: NaiveDate,
        last: NaiveDate,
    ) -> Result<Cleaned, BuildError> {
        let columns: Vec<&str> = table.spec().columns.iter().map(|c| c.name).collect();
        let clean = ctx.sql(&self.clean_sql(table, first, last)).await?;
        ctx.register_table(format!("clean_{}", table.name()), clean.into_view())?;

        // one pass for every count: the day's rows, its rejects, the good rows of the window
        let dt = day.to_string();
        let counts = ctx
            .sql(&format!(
                "SELECT count(*) FILTER (WHERE dt = '{dt}'), \
                 count(*) FILTER (WHERE dt = '{dt}' AND reject_reason IS NOT NULL), \
                 count(*) FILTER (WHERE reject_reason IS NULL) FROM clean_{}",
                table.name()
            ))
            .await?
            .collect()
            .await?;
        let value = |c: usize| -> Result<u64, BuildError> {
            counts
                .first()
                .and_then(|b| b.column(c).as_primitive_opt::<Int64Type>())
                .map(|a| a.value(0) as u64)
                .ok_or_else(|| BuildError::Internal("count query returned no row".into()))
        };
        let (day_rows, rejected, good) = (value(0)?, value(1)?, value(2)?);
        let quarantine = self.warehouse.quarantine_dir(table, day);
        if rejected > 0 {
            let rejects = ctx
                .sql(&format!(
                    "SELECT * FROM clean_{0} WHERE reject_reason IS NOT NULL AND dt = '{dt}'",
                    table.name()
                ))
                .await?
                .collect()
                .await?;
            let staged = StagedDir::new(&quarantine)?;
            write_batches(&rejects, &staged.tmp.join("part-00000.parquet"))?;
            staged.commit()?;
        } else if quarantine.exists() {
            std::fs::remove_dir_all(&quarantine).map_err(|e| BuildError::io(&quarantine, e))?;
        }
        if day_rows > 0 && rejected as f64 > self.cfg.max_reject_rate * day_rows as f64 {
            return Err(BuildError::TooManyRejects {
                table: table.name(),
                day,
                rejected,
                rows: day_rows,
                max_rate: self.cfg.max_reject_rate,
                quarantine,
            });
        }

        // deduplicated where the event union reads it; the distinct rows are counted as
        // they stream through the attribution pass (no DISTINCT run just to count)
        let cols = columns.join(", ");
        let good_view = ctx
            .sql(&format!(
                "SELECT DISTINCT {cols} FROM clean_{} WHERE reject_reason IS NULL",
                table.name()
            ))
            .await?;
        ctx.register_table(format!("good_{}", table.name()), good_view.into_view())?;
        Ok(Cleaned { rejected, good })
    }

    /// The feature stage: DataFusion cleans and deduplicates the history of the feature
    /// tables and streams out the events the as-of merges need, the prior-day counts
    /// and the samples' keys (`sql/builder/features_*.sql`); `features.rs` sorts them
    /// (spilling into `spill`) and computes the columns.
    async fn features(
        &self,
        ctx: &SessionContext,
        day: NaiveDate,
        spill: &Path,
    ) -> Result<FeatureTable, BuildError> {
        let first = self.feature_first(day);
        for table in FEATURE_TABLES {
            let columns: Vec<&str> = table.spec().columns.iter().map(|c| c.name).collect();
            let cols = columns.join(", ");
            let clean = ctx.sql(&self.clean_sql(table, first, day)).await?;
            ctx.register_table(format!("feat_clean_{}", table.name()), clean.into_view())?;
            let good = ctx
                .sql(&format!(
                    "SELECT DISTINCT {cols}, dt FROM feat_clean_{} WHERE reject_reason IS NULL",
                    table.name()
                ))
                .await?;
            ctx.register_table(format!("feat_good_{}", table.name()), good.into_view())?;
        }
        let mut age = String::from("CASE e.dt");
        let mut d = first;
        while d <= day {
            age.push_str(&format!(" WHEN '{d}' THEN {}", (day - d).num_days()));
            d = d.succ_opt().expect("valid day");
        }
        age.push_str(" END");
        let events = ctx
            .sql(&include_str!("../../sql/builder/features_events.sql").replace("{age}", &age))
            .await?;
        ctx.register_table("feat_events", events.into_view())?;

        let mut counts = Vec::new();
        for (name, kind) in [
            ("exp", features::EXPOSURE),
            ("clk", features::CLICK),
            ("cart", features::CART),
            ("buy", features::PURCHASE),
        ] {
            for w in &self.cfg.features.windows_days {
                counts.push(format!(
                    "CAST(SUM(CASE WHEN kind = {kind} AND age <= {w} THEN 1 ELSE 0 END) AS INT) AS {name}_{w}d"
                ));
            }
        }
        // each input streams out of DataFusion straight into the stage (sorted, or
        // spilled to `spill`): nothing here holds a whole day of rows
        let stream = |sql: String| async move {
            Ok::<_, BuildError>(ctx.sql(&sql).await?.execute_stream().await?)
        };
        let budget = self
            .opts
            .feature_memory
            .unwrap_or(self.opts.memory_limit / 2);
        let t = Instant::now();
        let events = features::sort_events(
            stream(format!(
                "SELECT kind, ts, user_id, item_id, category_id, age FROM feat_events \
                 WHERE age = 0 OR kind <> {}",
                features::EXPOSURE
            ))
            .await?,
            spill,
            budget,
        )
        .await?;
        features::trace("events (SQL, sorted)", t);
        let prior = features::split_prior(
            stream(
                include_str!("../../sql/builder/features_prior.sql")
                    .replace("{counts}", &counts.join(",\n       ")),
            )
            .await?,
            &self.cfg.features,
            spill,
        )
        .await?;
        features::trace("prior counts (SQL)", t);
        let targets = features::spill_targets(
            stream(
                "SELECT s.sample_id, arrow_cast(s.ts, 'Int64') AS ts, CAST(s.user_id AS BIGINT) AS user_id, \
                 CAST(s.item_id AS BIGINT) AS item_id, CAST(i.category_id AS BIGINT) AS category_id \
                 FROM labelled s LEFT JOIN dim_item i ON s.item_id = i.item_id ORDER BY s.sample_id"
                    .to_string(),
            )
            .await?,
            spill,
        )
        .await?;
        features::trace("samples (SQL)", t);
        let gather_secs = t.elapsed().as_secs_f64();
        let mut table =
            features::compute(&self.cfg.features, events, prior, targets, spill, budget)?;
        table.gather_secs = gather_secs;
        Ok(table)
    }

    /// `clean.sql` for `table` over the partitions [first, last]: every row with the
    /// rule it breaks, if any.
    fn clean_sql(&self, table: Table, first: NaiveDate, last: NaiveDate) -> String {
        let columns: Vec<&str> = table.spec().columns.iter().map(|c| c.name).collect();
        include_str!("../../sql/builder/clean.sql")
            .replace("{table}", table.name())
            .replace("{columns}", &columns.join(", "))
            .replace("{first_dt}", &first.to_string())
            .replace("{last_dt}", &last.to_string())
            .replace("{reject_reason}", &self.reject_reason(table, first, last))
    }

    /// The SQL CASE naming the first rule a row of `table` breaks (NULL when none).
    fn reject_reason(&self, table: Table, first: NaiveDate, last: NaiveDate) -> String {
        let mut rules: Vec<String> = table
            .spec()
            .required()
            .map(|c| format!("WHEN {0} IS NULL THEN 'null {0}'", c.name))
            .collect();
        // a CSV/NDJSON value that did not parse (its column is null now): named first
        rules.insert(0, "WHEN parse_error IS NOT NULL THEN parse_error".into());
        // event time within [partition day - late tolerance, partition day end)
        let mut lo = String::from("CASE dt");
        let mut hi = String::from("CASE dt");
        let mut d = first;
        while d <= last {
            let start = day_start(d);
            let tol = self.cfg.late_tolerance_days as i64 * DAY_US;
            lo.push_str(&format!(" WHEN '{d}' THEN {}", start - tol));
            hi.push_str(&format!(" WHEN '{d}' THEN {}", start + DAY_US));
            d = d.succ_opt().expect("valid day");
        }
        lo.push_str(" END");
        hi.push_str(" END");
        let micros = "arrow_cast(ts, 'Int64')";
        rules.push(format!(
            "WHEN {micros} < {lo} THEN 'event time before its partition beyond the late tolerance'"
        ));
        rules.push(format!(
            "WHEN {micros} >= {hi} THEN 'event time after its partition'"
        ));
        if table == Table::Purchase {
            rules.push("WHEN amount < 0 THEN 'negative amount'".into());
        }
        format!("CASE {} END", rules.join(" "))
    }

    /// `dim_user` and `dim_item`: the latest snapshot before `day`, else the day's own.
    async fn register_dims(&self, ctx: &SessionContext, day: NaiveDate) -> Result<(), BuildError> {
        for (table, name) in [(Table::User, "dim_user"), (Table::Item, "dim_item")] {
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
            ctx.register_table(name, df.into_view())?;
        }
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    fn manifest(
        &self,
        day: NaiveDate,
        rows: u64,
        (label_rates, psc_case_counts): (BTreeMap<String, f64>, BTreeMap<String, u64>),
        quarantined: BTreeMap<String, u64>,
        duplicates_dropped: BTreeMap<String, u64>,
        counts: AttributionCounts,
        started: Instant,
    ) -> Result<Manifest, BuildError> {
        let files = self.input_files(day)?;
        let inputs_hash = sha256_hex(
            files
                .iter()
                .map(|f| format!("{} {}\n", f.path, f.sha256))
                .collect::<String>()
                .as_bytes(),
        );
        let config_json = serde_json::to_vec(&self.cfg)
            .map_err(|e| BuildError::Internal(format!("config json: {e}")))?;
        Ok(Manifest {
            dt: day,
            maturity: if self.is_mature(day)? {
                "mature"
            } else {
                "provisional"
            }
            .into(),
            window: self.window(day),
            config: self.cfg.clone(),
            config_hash: sha256_hex(&config_json),
            inputs: files,
            inputs_hash,
            rows,
            label_rates,
            psc_case_counts,
            quarantined,
            duplicates_dropped,
            purchases_attributed: counts.purchases_to_samples,
            clicks_attributed: counts.clicks_to_samples,
            esmc_version: env!("CARGO_PKG_VERSION").into(),
            built_at: chrono::Utc::now().to_rfc3339(),
            build_secs: started.elapsed().as_secs_f64(),
        })
    }

    /// Labels of `day` are mature once the exposure and purchase logs of day + window
    /// exist.
    pub fn is_mature(&self, day: NaiveDate) -> Result<bool, BuildError> {
        let (_, last) = self.window(day);
        for table in [Table::Exposure, Table::Purchase] {
            let dir = self.warehouse.log_dir(table, last);
            if self
                .warehouse
                .partition_files(&dir)
                .map_err(warehouse_err)?
                .is_empty()
            {
                return Ok(false);
            }
        }
        Ok(true)
    }
}

fn warehouse_err(e: esmc_schemas::WarehouseError) -> BuildError {
    match e {
        esmc_schemas::WarehouseError::Io { path, source } => BuildError::Io { path, source },
    }
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

/// What cleaning one table over the window found.
struct Cleaned {
    /// Rows of the day's own partition rejected (quarantined).
    rejected: u64,
    /// Good rows over the window, duplicates included (the distinct ones are counted in
    /// the event union: the difference is the duplicates dropped).
    good: u64,
}

/// The event stream's columns in the types the labeller reads.
fn normalize(batch: &RecordBatch) -> Result<RecordBatch, BuildError> {
    let want = [
        DataType::Int64,
        DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
        DataType::Int8,
        DataType::Int64,
        DataType::Int64,
        DataType::Utf8,
        DataType::Int64,
        DataType::Int32,
        DataType::Float64,
        DataType::Float64,
        DataType::Float64,
    ];
    if batch.num_columns() != want.len() {
        return Err(BuildError::Internal(format!(
            "event stream has {} columns",
            batch.num_columns()
        )));
    }
    let cols: Vec<ArrayRef> = batch
        .columns()
        .iter()
        .zip(&want)
        .map(|(c, t)| {
            if c.data_type() == t {
                Ok(c.clone())
            } else {
                cast(c, t)
            }
        })
        .collect::<Result<_, _>>()
        .map_err(|e| BuildError::Internal(format!("event stream types: {e}")))?;
    let fields: Vec<_> = batch
        .schema()
        .fields()
        .iter()
        .zip(&want)
        .map(|(f, t)| f.as_ref().clone().with_data_type(t.clone()))
        .collect();
    RecordBatch::try_new(Arc::new(Schema::new(fields)), cols)
        .map_err(|e| BuildError::Internal(format!("event stream batch: {e}")))
}

/// Typed views of one event batch.
struct Cols<'a> {
    user: &'a Int64Array,
    ts: &'a TimestampMicrosecondArray,
    kind: &'a Int8Array,
    item: &'a Int64Array,
    exposure: &'a Int64Array,
    tag: &'a StringArray,
    client: &'a Int64Array,
    position: &'a Int32Array,
    truth: [&'a Float64Array; 3],
}

impl<'a> Cols<'a> {
    fn new(b: &'a RecordBatch) -> Self {
        Cols {
            user: b.column(0).as_primitive::<Int64Type>(),
            ts: b.column(1).as_primitive::<TimestampMicrosecondType>(),
            kind: b.column(2).as_primitive::<Int8Type>(),
            item: b.column(3).as_primitive::<Int64Type>(),
            exposure: b.column(4).as_primitive::<Int64Type>(),
            tag: b.column(5).as_string::<i32>(),
            client: b.column(6).as_primitive::<Int64Type>(),
            position: b.column(7).as_primitive::<Int32Type>(),
            truth: [
                b.column(8).as_primitive::<Float64Type>(),
                b.column(9).as_primitive::<Float64Type>(),
                b.column(10).as_primitive::<Float64Type>(),
            ],
        }
    }

    fn event(&self, i: usize) -> Event<'a> {
        let opt_i64 = |a: &'a Int64Array| a.is_valid(i).then(|| a.value(i));
        let opt_f64 = |a: &'a Float64Array| a.is_valid(i).then(|| a.value(i));
        Event {
            ts: self.ts.value(i),
            kind: Kind::from_code(self.kind.value(i)).expect("kinds 0-5"),
            item: self.item.value(i),
            exposure_id: opt_i64(self.exposure),
            tag: self.tag.is_valid(i).then(|| self.tag.value(i)),
            client_session: opt_i64(self.client),
            position: self.position.is_valid(i).then(|| self.position.value(i)),
            truth: self.truth.map(opt_f64),
        }
    }
}

/// Feeds the sorted event stream to the attributor user by user (a user's events may
/// span batches) and collects the samples as record batches.
struct Labeller<'a> {
    attributor: &'a Attributor,
    /// Rows of the current user seen so far (batch slices).
    pending: Vec<RecordBatch>,
    out: SampleBatches,
    counts: AttributionCounts,
}

impl<'a> Labeller<'a> {
    fn new(attributor: &'a Attributor, sink: LabelledSink) -> Self {
        Labeller {
            attributor,
            pending: Vec::new(),
            out: SampleBatches {
                rows: Vec::new(),
                sink,
            },
            counts: AttributionCounts::default(),
        }
    }

    fn push(&mut self, batch: RecordBatch) -> Result<(), BuildError> {
        let n = batch.num_rows();
        if n == 0 {
            return Ok(());
        }
        let users = Cols::new(&batch).user.clone();
        let mut start = 0;
        if let Some(current) = self.pending_user() {
            let end = (0..n).find(|&i| users.value(i) != current).unwrap_or(n);
            self.pending.push(batch.slice(0, end));
            if end == n {
                return Ok(());
            }
            self.flush_pending()?;
            start = end;
        }
        let mut group = start;
        for i in start + 1..=n {
            if i == n || users.value(i) != users.value(group) {
                if i == n {
                    self.pending.push(batch.slice(group, n - group));
                } else {
                    let slice = batch.slice(group, i - group);
                    self.label(&[slice])?;
                }
                group = i;
            }
        }
        Ok(())
    }

    fn pending_user(&self) -> Option<i64> {
        self.pending.first().map(|b| Cols::new(b).user.value(0))
    }

    fn flush_pending(&mut self) -> Result<(), BuildError> {
        let pending = std::mem::take(&mut self.pending);
        self.label(&pending)
    }

    /// Labels one user whose rows are `parts`, in order.
    fn label(&mut self, parts: &[RecordBatch]) -> Result<(), BuildError> {
        let cols: Vec<Cols<'_>> = parts.iter().map(Cols::new).collect();
        let Some(user) = cols
            .iter()
            .find(|c| !c.user.is_empty())
            .map(|c| c.user.value(0))
        else {
            return Ok(());
        };
        let events: Vec<Event<'_>> = cols
            .iter()
            .flat_map(|c| (0..c.user.len()).map(move |i| c.event(i)))
            .collect();
        for s in self.attributor.user(user, &events, &mut self.counts) {
            if let Some(label) = s.labels.violation() {
                return Err(BuildError::Invariant {
                    sample_id: s.exposure_id,
                    label,
                });
            }
            self.out.push(s)?;
        }
        Ok(())
    }

    fn finish(mut self) -> Result<(LabelledSink, AttributionCounts), BuildError> {
        self.flush_pending()?;
        Ok((self.out.finish()?, self.counts))
    }
}

/// Samples gathered column-wise into batches of the sample table's schema, written to
/// the sink batch by batch.
struct SampleBatches {
    rows: Vec<Sample>,
    sink: LabelledSink,
}

impl SampleBatches {
    fn push(&mut self, s: Sample) -> Result<(), BuildError> {
        self.rows.push(s);
        if self.rows.len() == WRITE_ROWS {
            self.sink.write(&samples_batch(&self.rows)?)?;
            self.rows.clear();
        }
        Ok(())
    }

    fn finish(mut self) -> Result<LabelledSink, BuildError> {
        if !self.rows.is_empty() {
            self.sink.write(&samples_batch(&self.rows)?)?;
        }
        self.sink.close()?;
        Ok(self.sink)
    }
}

/// The labelled samples, in the order they are labelled, spilled to a Parquet file (the
/// build never holds a whole day of them); counts their labels as they pass.
struct LabelledSink {
    path: PathBuf,
    writer: Option<ArrowWriter<std::fs::File>>,
    rows: u64,
    /// Ones per label column, in the sample table's order.
    ones: BTreeMap<String, u64>,
    psc: BTreeMap<String, u64>,
}

impl LabelledSink {
    fn new(path: &Path) -> Result<Self, BuildError> {
        let file = std::fs::File::create(path).map_err(|e| BuildError::io(path, e))?;
        // fast to write and read back: no compression, small row groups
        let props = WriterProperties::builder()
            .set_max_row_group_row_count(Some(4 * WRITE_ROWS))
            .build();
        let writer =
            ArrowWriter::try_new(file, SAMPLES.arrow_schema(), Some(props)).map_err(|source| {
                BuildError::BadFile {
                    path: path.to_path_buf(),
                    source,
                }
            })?;
        Ok(LabelledSink {
            path: path.to_path_buf(),
            writer: Some(writer),
            rows: 0,
            ones: SAMPLES
                .columns
                .iter()
                .filter(|c| c.kind == ColumnKind::Label)
                .map(|c| (c.name.to_string(), 0))
                .collect(),
            psc: PscCase::ALL
                .iter()
                .map(|c| (c.name().to_string(), 0))
                .collect(),
        })
    }

    fn write(&mut self, b: &RecordBatch) -> Result<(), BuildError> {
        self.rows += b.num_rows() as u64;
        for c in SAMPLES
            .columns
            .iter()
            .filter(|c| c.kind == ColumnKind::Label)
        {
            let ones: u64 = b
                .column_by_name(c.name)
                .expect("sample column")
                .as_primitive::<Int8Type>()
                .values()
                .iter()
                .map(|&v| v as u64)
                .sum();
            *self.ones.get_mut(c.name).expect("label column") += ones;
        }
        for v in b
            .column_by_name("psc_case")
            .expect("psc")
            .as_string::<i32>()
            .iter()
            .flatten()
        {
            *self.psc.get_mut(v).expect("known case") += 1;
        }
        let path = &self.path;
        self.writer
            .as_mut()
            .expect("open until closed")
            .write(b)
            .map_err(|source| BuildError::BadFile {
                path: path.clone(),
                source,
            })
    }

    fn close(&mut self) -> Result<(), BuildError> {
        if let Some(w) = self.writer.take() {
            w.close().map_err(|source| BuildError::BadFile {
                path: self.path.clone(),
                source,
            })?;
        }
        Ok(())
    }

    /// Label rates and psc case counts.
    fn stats(&self) -> (BTreeMap<String, f64>, BTreeMap<String, u64>) {
        let rates = self
            .ones
            .iter()
            .map(|(k, &v)| (k.clone(), v as f64 / self.rows.max(1) as f64))
            .collect();
        (rates, self.psc.clone())
    }
}

fn samples_batch(rows: &[Sample]) -> Result<RecordBatch, BuildError> {
    let id = |f: fn(&Sample) -> i64| -> ArrayRef {
        Arc::new(Int64Array::from_iter_values(rows.iter().map(f)))
    };
    let label = |f: fn(&Sample) -> bool| -> ArrayRef {
        Arc::new(Int8Array::from_iter_values(rows.iter().map(|s| f(s) as i8)))
    };
    let truth = |k: usize| -> ArrayRef {
        Arc::new(Float64Array::from_iter(rows.iter().map(|s| s.truth[k])))
    };
    let columns: Vec<ArrayRef> = vec![
        id(|s| s.exposure_id),
        id(|s| s.exposure_id),
        Arc::new(
            TimestampMicrosecondArray::from_iter_values(rows.iter().map(|s| s.ts))
                .with_timezone("UTC"),
        ),
        id(|s| s.user),
        id(|s| s.item),
        Arc::new(Int32Array::from_iter(rows.iter().map(|s| s.position))),
        id(|s| s.session_id),
        label(|s| s.labels.click),
        label(|s| s.labels.dmi),
        label(|s| s.labels.cart),
        label(|s| s.labels.wish),
        label(|s| s.labels.dma()),
        label(|s| s.labels.purchase),
        label(|s| s.labels.cart_cal),
        label(|s| s.labels.cart_global_cal),
        Arc::new(StringArray::from_iter_values(
            rows.iter().map(|s| s.labels.psc_case.name()),
        )),
        label(|s| s.labels.psc_case.is_bad()),
        truth(0),
        truth(1),
        truth(2),
    ];
    RecordBatch::try_new(SAMPLES.arrow_schema(), columns)
        .map_err(|e| BuildError::Internal(format!("sample batch: {e}")))
}

/// Writes a stream into one Parquet file in fixed-size batches, calling `on_written`
/// with the rows written so far after each.
/// With `features`, their columns are appended to the rows as they go (sample ids line
/// up: both sides are sorted by sample_id).
async fn write_stream(
    mut stream: datafusion::physical_plan::SendableRecordBatchStream,
    path: &Path,
    mut features: Option<&mut FeatureTable>,
    on_written: &(dyn Fn(u64) + Sync),
) -> Result<(), BuildError> {
    let schema: SchemaRef = stream.schema();
    let out_schema: SchemaRef = match &features {
        Some(f) => {
            let mut fields: Vec<_> = schema.fields().iter().cloned().collect();
            fields.extend(f.fields().iter().cloned());
            Arc::new(Schema::new(fields))
        }
        None => schema.clone(),
    };
    let mut written = 0usize;
    let mut with_features = |batch: RecordBatch| -> Result<RecordBatch, BuildError> {
        let Some(f) = features.as_deref_mut() else {
            return Ok(batch);
        };
        let out = f.append(&batch, written)?;
        written += batch.num_rows();
        Ok(out)
    };
    let file = std::fs::File::create(path).map_err(|e| BuildError::io(path, e))?;
    let mut writer =
        ArrowWriter::try_new(file, out_schema, Some(writer_properties())).map_err(|source| {
            BuildError::BadFile {
                path: path.to_path_buf(),
                source,
            }
        })?;
    let mut buffer: Vec<RecordBatch> = Vec::new();
    let mut buffered = 0;
    let parquet_err = |source| BuildError::BadFile {
        path: path.to_path_buf(),
        source,
    };
    let mut rows = 0u64;
    while let Some(batch) = stream.next().await {
        let batch = batch?;
        buffered += batch.num_rows();
        buffer.push(batch);
        while buffered >= WRITE_ROWS {
            let all = concat_batches(&schema, &buffer)
                .map_err(|e| BuildError::Internal(format!("concat: {e}")))?;
            writer
                .write(&with_features(all.slice(0, WRITE_ROWS))?)
                .map_err(parquet_err)?;
            failpoint("mid-write");
            rows += WRITE_ROWS as u64;
            on_written(rows);
            let rest = all.slice(WRITE_ROWS, all.num_rows() - WRITE_ROWS);
            buffered = rest.num_rows();
            buffer = vec![rest];
        }
    }
    if buffered > 0 {
        let all = concat_batches(&schema, &buffer)
            .map_err(|e| BuildError::Internal(format!("concat: {e}")))?;
        writer.write(&with_features(all)?).map_err(parquet_err)?;
        failpoint("mid-write");
        rows += buffered as u64;
        on_written(rows);
    }
    if let Some(f) = &features
        && written != f.len()
    {
        return Err(BuildError::Internal(format!(
            "{} samples written, {} feature rows",
            written,
            f.len()
        )));
    }
    writer.close().map_err(parquet_err)?;
    Ok(())
}

/// Writes batches (possibly empty) into one Parquet file.
fn write_batches(batches: &[RecordBatch], path: &Path) -> Result<(), BuildError> {
    let Some(first) = batches.first() else {
        return Ok(());
    };
    let file = std::fs::File::create(path).map_err(|e| BuildError::io(path, e))?;
    let parquet_err = |source| BuildError::BadFile {
        path: path.to_path_buf(),
        source,
    };
    let mut writer = ArrowWriter::try_new(file, first.schema(), Some(writer_properties()))
        .map_err(parquet_err)?;
    for b in batches {
        writer.write(b).map_err(parquet_err)?;
    }
    writer.close().map_err(parquet_err)?;
    Ok(())
}
