//! The build's stages on a cluster ([`ClusterSessions`]): the session its cleaning and
//! attribution run in, and the attribution as one partitioned plan
//! ([`crate::partitioned`]) whose summaries add up to what the single pass reports (a
//! local build with several engine threads runs the same plan in its own session).

use super::Builder;
use super::clean::CleanedTables;
use super::label::{Labelled, duplicates};
use crate::attribute::AttributionCounts;
use crate::partitioned::{AttributeExec, AttributeJob, AttributeNode, EVENTS_METRIC, PartSummary};
use crate::{BuildError, Progress};
use arrow::array::{AsArray, RecordBatch};
use chrono::NaiveDate;
use datafusion::physical_plan::{ExecutionPlan, collect};
use datafusion::prelude::{DataFrame, SessionContext};
use esmc_schemas::Table;
use esmc_schemas::time::day_start_us;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::Arc;

impl Builder {
    /// The cluster's session with every log of `day`'s build registered, and the tables
    /// with files; `None` for a local build.
    pub(super) async fn remote_context(
        &self,
        day: NaiveDate,
    ) -> Result<Option<(SessionContext, BTreeSet<Table>)>, BuildError> {
        let Some(cluster) = &self.cluster else {
            return Ok(None);
        };
        let ctx = cluster.session(self.session_config()).await?;
        ctx.register_udf(esmc_logs::esmc_id_udf());
        let mut present = BTreeSet::new();
        for table in Table::ALL {
            if self.register_log(&ctx, table, day, true).await? {
                present.insert(table);
            }
        }
        Ok(Some((ctx, present)))
    }

    /// The attribution stage as one partitioned plan: events.sql under an
    /// [`AttributeNode`], one samples file per hash partition of users in `dir` (which
    /// every executor must be able to write by this path). It runs on the cluster, and
    /// in a local build with more than one engine thread (the partitions' passes in
    /// parallel; `ESMC_ATTRIBUTE_SEQUENTIAL=1` keeps the single pass of `label.rs`).
    pub(super) async fn label_partitioned(
        &self,
        ctx: &SessionContext,
        day: NaiveDate,
        dir: &Path,
        cleaned: &CleanedTables,
        progress: &dyn Progress,
    ) -> Result<Labelled, BuildError> {
        std::fs::create_dir_all(dir).map_err(|e| BuildError::io(dir, e))?;
        let dir = std::path::absolute(dir).map_err(|e| BuildError::io(dir, e))?;
        let events = ctx
            .sql(include_str!("../../../sql/builder/events.sql"))
            .await?;
        let job = AttributeJob {
            cfg: self.cfg.clone(),
            day_start_us: day_start_us(day),
            out_dir: dir.clone(),
            partitions: self.threads(),
        };
        let plan = AttributeNode::new(events.into_unoptimized_plan(), &job)?.into_plan();
        // the bar runs over cleaning's good rows, as the single pass's does; locally the
        // operator's counter is read while the partitions run
        let events_total: u64 = cleaned.good.iter().sum();
        progress.position(day, 0, events_total, "events");
        let frame = DataFrame::new(ctx.state(), plan);
        let task = Arc::new(frame.task_ctx());
        let physical = frame.create_physical_plan().await?;
        let attribute = find_attribute(&physical);
        let mut job_run = std::pin::pin!(collect(physical, task));
        let run = async {
            let mut tick = tokio::time::interval(std::time::Duration::from_millis(25));
            loop {
                tokio::select! {
                    batches = &mut job_run => break batches,
                    _ = tick.tick() => {
                        if let Some(exec) = &attribute {
                            let done = exec
                                .metrics()
                                .and_then(|m| m.sum_by_name(EVENTS_METRIC))
                                .map_or(0, |v| v.as_usize() as u64);
                            progress.position(day, done.min(events_total), events_total, "events");
                        }
                    }
                }
            }
        };
        let timeout = self.cluster.as_ref().and_then(|c| c.job_timeout());
        let batches = match timeout {
            None => run.await?,
            Some(limit) => tokio::time::timeout(limit, run).await.map_err(|_| {
                BuildError::Cluster(
                    format!(
                        "the attribution job did not finish within {} s (an executor \
                             lost mid-job can leave it waiting; see the scheduler's log)",
                        limit.as_secs()
                    )
                    .into(),
                )
            })??,
        };
        let total = reconcile(&dir, &batches)?;
        check_events(&cleaned.good, &total.seen)?;
        progress.position(day, events_total, events_total, "events");
        let rates = total
            .ones
            .iter()
            .map(|(k, &v)| (k.clone(), v as f64 / total.rows.max(1) as f64))
            .collect();
        Ok(Labelled {
            path: dir,
            rows: total.rows,
            stats: (rates, total.psc.clone()),
            counts: AttributionCounts {
                purchases_to_samples: total.purchases_to_samples,
                clicks_to_samples: total.clicks_to_samples,
            },
            duplicates: duplicates(&cleaned.good, &total.distinct)?,
        })
    }
}

/// The attribution operator of a plan run in this process (a cluster's plan holds
/// it on the executors, not here).
fn find_attribute(plan: &Arc<dyn ExecutionPlan>) -> Option<Arc<dyn ExecutionPlan>> {
    if plan.downcast_ref::<AttributeExec>().is_some() {
        return Some(plan.clone());
    }
    plan.children().into_iter().find_map(find_attribute)
}

/// The sum of the tasks' summaries, checked against the files in `dir`.
///
/// Files are named by their task's input, so a retried task replaced its first
/// attempt's file and two reports of one task name one file: summaries are counted once
/// per file. A file no summary names is an attempt the engine discarded (its task ran
/// again elsewhere, e.g. after a lost executor) and is removed. Every named file must
/// hold the rows its summary counts.
fn reconcile(dir: &Path, batches: &[RecordBatch]) -> Result<PartSummary, BuildError> {
    let mut tasks: BTreeMap<String, PartSummary> = BTreeMap::new();
    for b in batches {
        for json in b.column(0).as_string::<i32>().iter().flatten() {
            let s: PartSummary = serde_json::from_str(json)
                .map_err(|e| BuildError::Internal(format!("partition summary: {e}")))?;
            tasks.insert(s.file.clone(), s);
        }
    }
    let files = rows_in(dir)?;
    for (name, _) in files.iter().filter(|(n, _)| !tasks.contains_key(*n)) {
        let path = dir.join(name);
        std::fs::remove_file(&path).map_err(|e| BuildError::io(&path, e))?;
    }
    let mut total = PartSummary::default();
    for (name, s) in &tasks {
        match files.get(name) {
            Some(&rows) if rows == s.rows => total.add(s),
            found => {
                return Err(BuildError::Cluster(
                    format!(
                        "attribution task file {} in {}: the task reported {} samples, \
                         the file holds {found:?}",
                        name,
                        dir.display(),
                        s.rows
                    )
                    .into(),
                ));
            }
        }
    }
    Ok(total)
}

/// A table's good rows reach the attribution once each: more rows read than cleaning
/// kept means a task read shuffle data twice (seen with Ballista 55 after an executor
/// was lost mid-job). The pass drops exact copies, but a doubled purchase would count
/// twice and the duplicates in the manifest would be wrong, so the build stops here.
fn check_events(good: &[u64], streamed: &[u64]) -> Result<(), BuildError> {
    for ((table, &g), &n) in Table::EVENTS.iter().zip(good).zip(streamed) {
        if n > g {
            return Err(BuildError::Cluster(
                format!(
                    "the attribution read {n} {} events where cleaning kept {g}: the \
                     cluster delivered duplicated shuffle data (seen after an executor was \
                     lost mid-job); nothing was published, build the day again",
                    table.name()
                )
                .into(),
            ));
        }
    }
    Ok(())
}

/// Rows of the Parquet files in `dir` by name, from their footers.
fn rows_in(dir: &Path) -> Result<BTreeMap<String, u64>, BuildError> {
    let mut rows = BTreeMap::new();
    for e in std::fs::read_dir(dir).map_err(|e| BuildError::io(dir, e))? {
        let path = e.map_err(|e| BuildError::io(dir, e))?.path();
        if path.extension().is_some_and(|x| x == "parquet") {
            let file = std::fs::File::open(&path).map_err(|e| BuildError::io(&path, e))?;
            let reader = parquet::file::serialized_reader::SerializedFileReader::new(file)
                .map_err(|source| BuildError::BadFile {
                    path: path.clone(),
                    source,
                })?;
            use parquet::file::reader::FileReader;
            let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
            rows.insert(
                name.unwrap_or_default(),
                reader.metadata().file_metadata().num_rows() as u64,
            );
        }
    }
    Ok(rows)
}
