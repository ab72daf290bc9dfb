//! `esmc build`: one day's sample partition from the logs of its window, with DataFusion
//! doing the reading, cleaning, sorting and joining, and `attribute.rs` the labelling.
//!
//! ```text
//!  plan.rs           the days and files a build reads (Builder::window, the feature
//!                    history, the dimension snapshots), their content hashes
//!  read.rs           the engine session; every input file checked against its
//!                    contract; log_<table> over Parquet, CSV and NDJSON files
//!  clean.rs          per table: rejects to quarantine, good rows to the union
//!  label.rs          the sorted event union fed to the attributor user by user
//!  event_rows.rs     its rows as the labeller reads them, exact duplicates dropped
//!  sink.rs           the labelled samples, spilled to Parquet and counted
//!  feature_stage.rs  the feature stage's inputs streamed out of DataFusion
//!  output.rs         the partition's Parquet file and its manifest
//!  encode.rs         its columns encoded by a thread team
//!  remote.rs         on a cluster: the session cleaning and attribution run in, and
//!                    the attribution as one plan partitioned by user
//! ```
//!
//! [`Builder::build`] runs these stages in order, reporting each to a [`Progress`].

mod clean;
mod daily;
mod encode;
pub(crate) mod event_rows;
mod feature_stage;
pub(crate) mod label;
mod output;
mod plan;
mod prior_state;
mod read;
mod remote;
pub(crate) mod sink;

use crate::config::BuildConfig;
use crate::features::FeatureTable;
use crate::manifest::Manifest;
use crate::partitioned::ClusterSessions;
use crate::write::{StagedDir, write_file_atomic};
use crate::{BuildError, Progress};
use chrono::NaiveDate;
use datafusion::prelude::{ParquetReadOptions, SessionContext};
use esmc_schemas::{SAMPLES, Table, Warehouse};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Instant;

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

/// Called with what a build waits for and who holds it.
type OnWait = Arc<dyn Fn(&str, &str) + Send + Sync>;

/// Builds sample partitions of one warehouse.
pub struct Builder {
    warehouse: Warehouse,
    cfg: BuildConfig,
    opts: BuildOptions,
    /// Content hashes of input files by (path, size, mtime): the windows of neighbouring
    /// days overlap, so a nightly run would otherwise hash most files five times.
    hashes: Mutex<HashMap<plan::HashKey, String>>,
    /// Whether a build waits for the day's lock held by another job (else fails Busy),
    /// and what it calls (with what it waits for, and the holder) before waiting.
    wait_locks: Option<OnWait>,
    /// Whether the feature stage sums daily aggregates (`build/daily.rs`) instead of
    /// re-reading the raw history; same bytes either way.
    daily_features: bool,
    /// Per day being built, what it decided about its feature history (the days whose
    /// raw logs it reads, its item categories; `build/daily.rs`).
    history_plans: Mutex<HashMap<NaiveDate, daily::HistoryPlan>>,
    /// Where cleaning and attribution run when not in this process (`--cluster`).
    cluster: Option<Arc<dyn ClusterSessions>>,
}

impl Builder {
    pub fn new(root: impl Into<PathBuf>, cfg: BuildConfig, opts: BuildOptions) -> Self {
        Builder {
            warehouse: Warehouse::new(root),
            cfg,
            opts,
            hashes: Default::default(),
            wait_locks: None,
            daily_features: true,
            history_plans: Default::default(),
            cluster: None,
        }
    }

    /// Runs the cleaning and the attribution of every build on `cluster`; the feature
    /// stage and the writing stay in this process (docs/scale-out.md says why).
    pub fn on_cluster(mut self, cluster: Arc<dyn ClusterSessions>) -> Self {
        self.cluster = Some(cluster);
        self
    }

    /// Makes the feature stage re-read the raw logs of the whole history (the path
    /// before daily aggregates), e.g. to compare the two.
    pub fn features_from_scratch(mut self) -> Self {
        self.daily_features = false;
        self
    }

    /// Makes builds wait for a day's lock held by another job instead of failing with
    /// [`BuildError::Busy`]; `on_wait(what, holder)` is called before each wait.
    pub fn wait_for_locks(mut self, on_wait: impl Fn(&str, &str) + Send + Sync + 'static) -> Self {
        self.wait_locks = Some(Arc::new(on_wait));
        self
    }

    pub fn warehouse(&self) -> &Warehouse {
        &self.warehouse
    }

    pub fn config(&self) -> &BuildConfig {
        &self.cfg
    }

    /// Builds the sample partition of `day`: checks and registers its inputs, cleans
    /// them, labels the samples, computes their features and writes the partition and
    /// its manifest (staged, then swapped in).
    pub async fn build(
        &self,
        day: NaiveDate,
        progress: &dyn Progress,
    ) -> Result<BuildReport, BuildError> {
        let started = Instant::now();
        // one build of a day at a time, held until the partition and manifest are out
        let what = format!("the build of {day}");
        let _lock = esmc_schemas::lock::JobLock::acquire(
            &esmc_schemas::lock::build_lock_path(self.warehouse.root(), day),
            &what,
            self.wait_locks.is_some(),
            &|holder| self.wait_locks.iter().for_each(|f| f(&what, holder)),
        )
        .map_err(BuildError::Busy)?;
        if !self.has_exposures(day)? {
            return Err(BuildError::NoInput {
                day,
                dir: self.warehouse.log_dir(Table::Exposure, day),
            });
        }
        self.cfg.features.check()?;
        self.plan_history(day).await?;
        progress.stage(day, "checking inputs");
        self.check_inputs(day, progress)?;
        let ctx = self.context()?;
        let mut present = BTreeSet::new();
        for table in Table::ALL {
            if self.register_log(&ctx, table, day, false).await? {
                present.insert(table);
            }
        }
        let remote = self.remote_context(day).await?;
        let cleaned = match &remote {
            Some((rctx, rpresent)) => self.clean_all(rctx, day, rpresent, progress).await?,
            None => self.clean_all(&ctx, day, &present, progress).await?,
        };

        progress.stage(day, "attributing");
        let target = self.warehouse.samples_dir(day);
        let staged = StagedDir::new(&target)?;
        // the build's spill files (labelled samples, feature columns), removed before
        // the partition is swapped in
        let spill = staged.tmp.join(".spill");
        std::fs::create_dir_all(&spill).map_err(|e| BuildError::io(&spill, e))?;
        let labelled = match &remote {
            Some((rctx, _)) => {
                self.label_partitioned(rctx, day, &spill.join("labelled"), &cleaned, progress)
                    .await?
            }
            // several engine threads: users hash-partitioned, one attribution pass per
            // partition in parallel (the cluster's plan, run here); the same bytes
            None if self.threads() > 1
                && std::env::var_os("ESMC_ATTRIBUTE_SEQUENTIAL").is_none() =>
            {
                self.label_partitioned(&ctx, day, &spill.join("labelled"), &cleaned, progress)
                    .await?
            }
            None => {
                self.label(
                    &ctx,
                    day,
                    &spill.join("labelled.parquet"),
                    &cleaned,
                    progress,
                )
                .await?
            }
        };
        drop(remote);
        self.register_labelled(&ctx, &labelled.path).await?;
        self.register_dims(&ctx, day).await?;
        let mut stage_secs = BTreeMap::new();
        let mut features = self
            .timed_features(&ctx, day, &spill, &mut stage_secs, progress)
            .await?;
        let prehash = self.prehash(day)?;
        self.write_part(
            &ctx,
            day,
            &staged.tmp,
            labelled.rows,
            features.as_mut(),
            progress,
        )
        .await?;
        drop(features);
        drop(ctx);
        std::fs::remove_dir_all(&spill).map_err(|e| BuildError::io(&spill, e))?;

        self.finish_prehash(prehash);
        let manifest = self.manifest(day, labelled, cleaned.quarantined, started)?;
        let json = serde_json::to_vec_pretty(&manifest)
            .map_err(|e| BuildError::Internal(format!("manifest: {e}")))?;
        write_file_atomic(&staged.tmp.join("_manifest.json"), &json)?;
        staged.commit()?;
        write_file_atomic(&self.warehouse.manifest_path(day), &json)?;
        self.forget_plan(day);
        stage_secs.insert("total".to_string(), started.elapsed().as_secs_f64());
        Ok(BuildReport {
            manifest,
            partition: target,
            stage_secs,
        })
    }

    /// Registers the labelled samples' spill file as `labelled`, read back from it: its
    /// footer gives DataFusion the row count, so the dimension joins build on the
    /// (smaller) dimension side.
    async fn register_labelled(&self, ctx: &SessionContext, path: &Path) -> Result<(), BuildError> {
        let samples_schema = SAMPLES.arrow_schema();
        ctx.register_parquet(
            "labelled",
            path.to_string_lossy(),
            ParquetReadOptions::default().schema(&samples_schema),
        )
        .await?;
        Ok(())
    }

    /// The feature stage when features are on, its times in `stage_secs`.
    async fn timed_features(
        &self,
        ctx: &SessionContext,
        day: NaiveDate,
        spill: &Path,
        stage_secs: &mut BTreeMap<String, f64>,
        progress: &dyn Progress,
    ) -> Result<Option<FeatureTable>, BuildError> {
        if !self.cfg.features.enabled {
            return Ok(None);
        }
        progress.stage(day, "features");
        progress.position(day, 0, 2, "steps");
        let t = Instant::now();
        let table = self.features(ctx, day, spill).await?;
        progress.position(day, 2, 2, "steps");
        stage_secs.insert("features_gather".to_string(), table.gather_secs);
        stage_secs.insert("features_compute".to_string(), table.compute_secs);
        stage_secs.insert("features".to_string(), t.elapsed().as_secs_f64());
        Ok(Some(table))
    }
}
