//! The daily feature aggregates (`features/store.rs`) from the build's side: which days
//! of D's history have one, computing a missing or stale one from the day's logs with
//! the build's own cleaning SQL, the SQL that sums them over D's windows and unions the
//! days' clicks, carts and purchases with D's events, and the history's raw files as
//! inputs of D's manifest (so a late file of an older day rebuilds the days whose
//! windows hold it).
//!
//! A day X's aggregate is the build's `feat_events` for X alone, grouped: the same
//! cleaned rows (`clean.sql` over [X, X]: every rule is per row and per partition), the
//! same deduplication (DISTINCT over the columns and `dt`), the same item snapshot join.
//! Summed over X in D-w..D-1 they give exactly the prior counts of
//! `features_prior.sql` over those days, so the feature columns are the same bytes.

use super::Builder;
use super::output::writer_properties;
use super::plan::FEATURE_TABLES;
use crate::BuildError;
use crate::features::categories::{self, CATEGORIES, CategoryMap};
use crate::features::store::{self, ACTS, COUNTS, DailyManifest, Expected, FileStamp};
use crate::manifest::InputFile;
use crate::write::StagedDir;
use chrono::NaiveDate;
use datafusion::prelude::{ParquetReadOptions, SessionContext};
use esmc_schemas::Table;
use esmc_schemas::lock::JobLock;
use futures::StreamExt;
use parquet::arrow::ArrowWriter;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// What a build of D decided about its feature history before reading anything
/// (`Builder::plan_history`).
#[derive(Clone)]
pub(super) struct HistoryPlan {
    /// The days (of D-H..D) whose raw logs the build registers.
    raw: Vec<NaiveDate>,
    /// The item categories of D's snapshot, which a fresh aggregate must agree with.
    categories: Arc<CategoryMap>,
}

/// A day of D's feature history with a fresh aggregate: days before D, and its directory.
pub(super) struct HistoryDay {
    pub(super) age: u32,
    pub(super) dir: PathBuf,
    /// SHA-256 of its counts file, as its (fresh) manifest records it.
    pub(super) counts_sha256: String,
    /// The day's aggregate lock, held while the stage reads its files (a concurrent
    /// build using another item snapshot would otherwise swap them underneath).
    _lock: JobLock,
}

impl HistoryDay {
    /// The day's counts file.
    pub(super) fn counts(&self) -> PathBuf {
        self.dir.join(COUNTS)
    }
}

impl Builder {
    /// Whether the feature stage reads daily aggregates (the default) rather than
    /// re-reading the raw history; `ESMC_FEATURES_FROM_SCRATCH=1` forces the latter.
    pub(super) fn use_daily(&self) -> bool {
        self.daily_features && std::env::var_os("ESMC_FEATURES_FROM_SCRATCH").is_none()
    }

    /// SHA-256 of what shapes a daily aggregate besides its logs and item snapshot.
    fn daily_config_hash(&self) -> String {
        store::sha256_hex(
            format!(
                "format {} late_tolerance_days {}",
                store::FORMAT,
                self.cfg.late_tolerance_days
            )
            .as_bytes(),
        )
    }

    /// Stamps of day `x`'s raw files of the feature tables, hashes reused from `known`
    /// where size and mtime match.
    fn day_sources(
        &self,
        x: NaiveDate,
        known: Option<&DailyManifest>,
    ) -> Result<Vec<FileStamp>, BuildError> {
        let root = self.warehouse.root();
        let mut out = Vec::new();
        for table in FEATURE_TABLES {
            let dir = self.warehouse.log_dir(table, x);
            for path in self.warehouse.partition_files(&dir)? {
                let name = path
                    .strip_prefix(root)
                    .unwrap_or(&path)
                    .to_string_lossy()
                    .into_owned();
                let k = known.and_then(|m| m.sources.iter().find(|s| s.path == name));
                out.push(store::stamp(&path, name, k)?);
            }
        }
        Ok(out)
    }

    /// Decides, before `day`'s build reads anything, which days of its feature history
    /// it reads raw (`raw_history_days`): every one from scratch; else `day` and the days
    /// without a fresh aggregate for the categories of `day`'s item snapshot, which is
    /// read here.
    pub(super) async fn plan_history(&self, day: NaiveDate) -> Result<(), BuildError> {
        if !self.cfg.features.enabled {
            return Ok(());
        }
        let days: Vec<NaiveDate> = self
            .feature_first(day)
            .iter_days()
            .take_while(|&x| x <= day)
            .collect();
        let plan = if !self.use_daily() {
            HistoryPlan {
                raw: days,
                categories: Arc::default(),
            }
        } else {
            let ctx = self.context()?;
            self.register_log(&ctx, Table::Item, day, false).await?;
            self.register_dim(&ctx, Table::Item, day).await?;
            let batches = ctx.sql(categories::SNAPSHOT_SQL).await?.collect().await?;
            let categories = Arc::new(CategoryMap::from_batches(&batches)?);
            let config_hash = self.daily_config_hash();
            let mut raw = Vec::new();
            for x in days {
                if x == day || !self.day_is_fresh(x, &config_hash, &categories)? {
                    raw.push(x);
                }
            }
            HistoryPlan { raw, categories }
        };
        self.history_plans
            .lock()
            .expect("history plans")
            .insert(day, plan);
        Ok(())
    }

    /// The days of `day`'s feature history (and `day`) whose raw logs the build reads, as
    /// `plan_history` decided.
    pub(super) fn raw_history_days(&self, day: NaiveDate) -> Result<Vec<NaiveDate>, BuildError> {
        if !self.cfg.features.enabled {
            return Ok(Vec::new());
        }
        self.plan(day).map(|p| p.raw)
    }

    /// `day`'s history plan.
    fn plan(&self, day: NaiveDate) -> Result<HistoryPlan, BuildError> {
        self.history_plans
            .lock()
            .expect("history plans")
            .get(&day)
            .cloned()
            .ok_or_else(|| BuildError::Internal(format!("no feature history planned for {day}")))
    }

    /// Forgets `day`'s history plan (its category map can be large).
    pub(super) fn forget_plan(&self, day: NaiveDate) {
        self.history_plans
            .lock()
            .expect("history plans")
            .remove(&day);
    }

    /// Whether day `x` has no logs or a fresh aggregate (read without its lock: a
    /// writer swaps in a whole directory).
    fn day_is_fresh(
        &self,
        x: NaiveDate,
        config_hash: &str,
        categories: &CategoryMap,
    ) -> Result<bool, BuildError> {
        let dir = store::day_dir(self.warehouse.root(), x);
        let old = store::read_manifest(&dir);
        let sources = self.day_sources(x, old.as_ref())?;
        let want = Expected {
            config_hash,
            categories,
            sources: &sources,
        };
        Ok(sources.is_empty() || old.is_some_and(|m| store::is_fresh(&dir, &m, &want)))
    }

    /// A fresh aggregate for every day of `day`'s feature history (D-H..D-1) that has
    /// logs, computing the missing and stale ones in `ctx` (the build's session: the
    /// logs of the history and `dim_item` registered).
    pub(super) async fn daily_history(
        &self,
        ctx: &SessionContext,
        day: NaiveDate,
    ) -> Result<Vec<HistoryDay>, BuildError> {
        let config_hash = self.daily_config_hash();
        let plan = self.plan(day)?;
        let mut out = Vec::new();
        let mut x = self.feature_first(day);
        while x < day {
            if let Some((dir, counts_sha256, lock)) =
                self.ensure_day(ctx, &plan, x, &config_hash).await?
            {
                let age = (day - x).num_days() as u32;
                out.push(HistoryDay {
                    age,
                    dir,
                    counts_sha256,
                    _lock: lock,
                });
            }
            x = x.succ_opt().expect("valid day");
        }
        Ok(out)
    }

    /// Day `x`'s aggregate directory and its counts file's SHA-256, computed unless
    /// fresh; `None` when the day has no logs. Under the day's aggregate lock, returned to
    /// be held while its files are read.
    async fn ensure_day(
        &self,
        ctx: &SessionContext,
        plan: &HistoryPlan,
        x: NaiveDate,
        config_hash: &str,
    ) -> Result<Option<(PathBuf, String, JobLock)>, BuildError> {
        let root = self.warehouse.root();
        let dir = store::day_dir(root, x);
        let what = format!("the feature aggregate of {x}");
        let lock = JobLock::acquire(&store::lock_path(root, x), &what, true, &|_| {})
            .map_err(BuildError::Busy)?;
        // a dead job's half-written aggregate of the day is never read; removed here
        esmc_schemas::durable::remove_stale(&dir).map_err(crate::write::durable_err)?;
        let old = store::read_manifest(&dir);
        let sources = self.day_sources(x, old.as_ref())?;
        if sources.is_empty() {
            return Ok(None);
        }
        let want = Expected {
            config_hash,
            categories: &plan.categories,
            sources: &sources,
        };
        let fresh = old.filter(|m| store::is_fresh(&dir, m, &want));
        let manifest = match fresh {
            Some(m) => m,
            None => {
                // its raw logs must be in the session: plan_history listed it as stale
                if !plan.raw.contains(&x) {
                    return Err(BuildError::Internal(format!(
                        "the feature logs or item categories of {x} changed while a build was \
                     reading them; build it again"
                    )));
                }
                self.compute_day(ctx, x, &dir, &want).await?
            }
        };
        Ok(Some((dir, store::counts_sha256(&manifest)?, lock)))
    }

    /// Computes day `x`'s aggregate into `dir` (staged, swapped in with its manifest,
    /// which it returns).
    async fn compute_day(
        &self,
        ctx: &SessionContext,
        x: NaiveDate,
        dir: &Path,
        want: &Expected<'_>,
    ) -> Result<DailyManifest, BuildError> {
        let staged = StagedDir::new(dir)?;
        for table in FEATURE_TABLES {
            let cols: Vec<&str> = table.spec().columns.iter().map(|c| c.name).collect();
            let clean = ctx.sql(&self.clean_sql(table, x, x)).await?;
            let (c, g) = (
                format!("fd_clean_{}", table.name()),
                format!("fd_good_{}", table.name()),
            );
            ctx.deregister_table(&c)?;
            ctx.register_table(&c, clean.into_view())?;
            let good = ctx
                .sql(&format!(
                    "SELECT DISTINCT {}, dt FROM {c} WHERE reject_reason IS NULL",
                    cols.join(", ")
                ))
                .await?;
            ctx.deregister_table(&g)?;
            ctx.register_table(&g, good.into_view())?;
        }
        let mut rows = std::collections::BTreeMap::new();
        let mut outputs = Vec::new();
        let tables: Vec<&str> = FEATURE_TABLES.iter().map(|t| t.name()).collect();
        for (name, sql) in [
            (COUNTS, store::day_counts_sql()),
            (ACTS, store::day_acts_sql()),
            (CATEGORIES, categories::day_categories_sql(&tables)),
        ] {
            let path = staged.tmp.join(name);
            let n = write_parquet(ctx, &sql, &path).await?;
            rows.insert(name.to_string(), n);
            outputs.push(store::stamp(&path, name.to_string(), None)?);
        }
        let manifest = DailyManifest {
            format: store::FORMAT,
            dt: x,
            config_hash: want.config_hash.to_string(),
            sources: want.sources.to_vec(),
            outputs,
            rows,
        };
        store::write_manifest(&staged.tmp, &manifest)?;
        staged.commit()?;
        Ok(manifest)
    }

    /// Registers the history's clicks, carts and purchases (`fh_acts_<age>`) in `ctx`.
    pub(super) async fn register_history(
        &self,
        ctx: &SessionContext,
        history: &[HistoryDay],
    ) -> Result<(), BuildError> {
        for h in history {
            let path = h.dir.join(ACTS);
            ctx.register_parquet(
                format!("fh_acts_{}", h.age),
                path.to_string_lossy().as_ref(),
                ParquetReadOptions::default(),
            )
            .await?;
        }
        Ok(())
    }

    /// The days' clicks, carts and purchases with their age and category (from D's item
    /// snapshot), as the events stream's rows; `None` without history.
    pub(super) fn history_acts_sql(&self, history: &[HistoryDay]) -> Option<String> {
        let parts: Vec<String> = history
            .iter()
            .map(|h| {
                format!(
                    "SELECT kind, ts, user_id, item_id, CAST({0} AS INT) AS age FROM fh_acts_{0}",
                    h.age
                )
            })
            .collect();
        (!parts.is_empty()).then(|| {
            format!(
                "SELECT a.kind, a.ts, a.user_id, a.item_id, \
                 CAST(i.category_id AS BIGINT) AS category_id, a.age FROM ({}) a \
                 LEFT JOIN dim_item i ON a.item_id = i.item_id",
                parts.join(" UNION ALL ")
            )
        })
    }

    /// The raw files of `day`'s feature history outside its label window (those inside
    /// are inputs already), with their hashes: part of the manifest's inputs, so that a
    /// late file of an older day rebuilds exactly the days whose history holds it.
    pub(crate) fn feature_inputs(&self, day: NaiveDate) -> Result<Vec<InputFile>, BuildError> {
        if !self.cfg.features.enabled {
            return Ok(Vec::new());
        }
        let (label_first, _) = self.window(day);
        let mut out = Vec::new();
        let mut x = self.feature_first(day);
        while x < label_first {
            let known = store::read_manifest(&store::day_dir(self.warehouse.root(), x));
            for s in self.day_sources(x, known.as_ref())? {
                out.push(InputFile {
                    path: s.path,
                    bytes: s.bytes,
                    sha256: s.sha256,
                });
            }
            x = x.succ_opt().expect("valid day");
        }
        Ok(out)
    }
}

/// Runs `sql` in `ctx` into one Parquet file at `path`, fsynced; its rows.
async fn write_parquet(ctx: &SessionContext, sql: &str, path: &Path) -> Result<u64, BuildError> {
    let mut stream = ctx.sql(sql).await?.execute_stream().await?;
    let file = std::fs::File::create(path).map_err(|e| BuildError::io(path, e))?;
    let parquet_err = |source| BuildError::BadFile {
        path: path.to_path_buf(),
        source,
    };
    let mut writer = ArrowWriter::try_new(file, stream.schema(), Some(writer_properties()))
        .map_err(parquet_err)?;
    let mut rows = 0;
    while let Some(batch) = stream.next().await {
        let batch = batch?;
        rows += batch.num_rows() as u64;
        writer.write(&batch).map_err(parquet_err)?;
    }
    writer.close().map_err(parquet_err)?;
    Ok(rows)
}
