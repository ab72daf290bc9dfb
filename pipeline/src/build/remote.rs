//! The build's stages on a cluster ([`ClusterSessions`]): the session its cleaning and
//! attribution run in, and the attribution as one partitioned plan
//! ([`crate::partitioned`]) whose summaries add up to what the local stage reports.

use super::Builder;
use super::clean::CleanedTables;
use super::label::{Labelled, duplicates};
use crate::attribute::AttributionCounts;
use crate::partitioned::{AttributeJob, AttributeNode, PartSummary};
use crate::{BuildError, Progress};
use arrow::array::{AsArray, RecordBatch};
use chrono::NaiveDate;
use datafusion::prelude::{DataFrame, SessionContext};
use esmc_schemas::Table;
use esmc_schemas::time::day_start_us;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

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

    /// The attribution stage on the cluster: events.sql under an [`AttributeNode`],
    /// one samples file per hash partition of users in `dir` (which every executor
    /// must be able to write by this path).
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
        progress.position(day, 0, job.partitions as u64, "partitions");
        let job_run = DataFrame::new(ctx.state(), plan).collect();
        let timeout = self.cluster.as_ref().and_then(|c| c.job_timeout());
        let batches = match timeout {
            None => job_run.await?,
            Some(limit) => tokio::time::timeout(limit, job_run).await.map_err(|_| {
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
        check_events(&cleaned.good, &total.distinct)?;
        progress.position(
            day,
            job.partitions as u64,
            job.partitions as u64,
            "partitions",
        );
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

/// A table's events reach the attribution at most once each: more than its good rows
/// means a task read shuffle data twice (seen with Ballista 55 after an executor was
/// lost mid-job). The samples would hold duplicates, so the build stops here.
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
