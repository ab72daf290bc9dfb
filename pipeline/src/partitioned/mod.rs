//! Attribution as a DataFusion plan partitioned by user, for engines that run plans on
//! many machines (Apache Ballista through `esmc-cluster`).
//!
//! ```text
//!  events (events.sql, its ORDER BY kept as the per-partition order)
//!    ─> AlignExec        every batch in the union's declared schema (align.rs)
//!    ─> RepartitionExec  hash(user_id) into N partitions      (a shuffle on a cluster)
//!    ─> SortExec         (user, ts, kind, item, exposure, tag) within each partition
//!    ─> AttributeExec    per partition: the attributor over its users' sorted events,
//!                        the samples written to <out>/labelled-<fingerprint of the
//!                        task's input>.parquet (written to a private name, then
//!                        renamed: a retried task replaces its first attempt's file),
//!                        one summary row out (rows, label counts, psc cases, events)
//! ```
//!
//! Sessions, attribution and calibration only ever look at one user's events, so hash
//! partitions by user give the same samples as the single sorted stream of the local
//! build; the final sort by sample_id (samples.sql) makes the partition's bytes equal.
//!
//! `node.rs` the logical node and the planner that turns it into the plan above,
//! `exec.rs` the operator. Both serialise to bytes ([`AttributeJob`] as JSON) so that a
//! codec can ship them to a scheduler and executors.

mod align;
mod exec;
mod node;

pub use align::AlignExec;
pub use exec::{AttributeExec, EVENTS_METRIC};
pub use node::{AttributeNode, EsmcQueryPlanner};

use crate::BuildError;
use crate::config::BuildConfig;
use async_trait::async_trait;
use datafusion::prelude::{SessionConfig, SessionContext};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::PathBuf;

/// What an [`AttributeExec`] needs to label its partitions: the build's rules, the day,
/// where the samples go (a directory every executor can write), how many partitions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AttributeJob {
    pub cfg: BuildConfig,
    pub day_start_us: i64,
    pub out_dir: PathBuf,
    pub partitions: usize,
}

impl AttributeJob {
    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("a job serialises")
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<Self, BuildError> {
        serde_json::from_slice(bytes)
            .map_err(|e| BuildError::Internal(format!("attribute job: {e}")))
    }

    /// The samples' file of the task whose input has fingerprint `input` (see
    /// [`AttributeExec`]): named by its input, not by a partition number, since the
    /// engine may number the tasks of a stage as it likes; a retried task has the same
    /// input and so replaces the file of its first attempt.
    pub fn part_path(&self, input: u64) -> PathBuf {
        self.out_dir.join(format!("labelled-{input:016x}.parquet"))
    }
}

/// What one partition of the attribution produced, summed over partitions by the
/// build: every figure is a count, so the sum does not depend on the partitioning.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PartSummary {
    /// The task's samples file, named by its input (see [`AttributeJob::part_path`]).
    pub file: String,
    pub rows: u64,
    /// Ones per label column.
    pub ones: BTreeMap<String, u64>,
    /// Samples per psc case.
    pub psc: BTreeMap<String, u64>,
    pub clicks_to_samples: u64,
    pub purchases_to_samples: u64,
    /// Rows of the event stream read per kind (the index in `Table::EVENTS`), exact
    /// duplicates included.
    pub seen: Vec<u64>,
    /// Distinct events per kind: the rows read less the exact duplicates dropped.
    pub distinct: Vec<u64>,
}

impl PartSummary {
    pub fn add(&mut self, other: &PartSummary) {
        self.rows += other.rows;
        for (k, v) in &other.ones {
            *self.ones.entry(k.clone()).or_default() += v;
        }
        for (k, v) in &other.psc {
            *self.psc.entry(k.clone()).or_default() += v;
        }
        self.clicks_to_samples += other.clicks_to_samples;
        self.purchases_to_samples += other.purchases_to_samples;
        add_each(&mut self.seen, &other.seen);
        add_each(&mut self.distinct, &other.distinct);
    }
}

/// `a[k] += b[k]` for every k of `b`, `a` grown to `b`'s length.
fn add_each(a: &mut Vec<u64>, b: &[u64]) {
    if a.len() < b.len() {
        a.resize(b.len(), 0);
    }
    for (x, y) in a.iter_mut().zip(b) {
        *x += y;
    }
}

/// Where a build's distributed stages run: a session whose plans execute elsewhere
/// (`esmc-cluster` implements it for a Ballista scheduler). Its executors must be able
/// to read the warehouse's logs and write into its staging directories by the same
/// paths as this process.
#[async_trait]
pub trait ClusterSessions: Send + Sync {
    /// A session with `config` whose queries run on the cluster, and which plans
    /// [`AttributeNode`]s ([`EsmcQueryPlanner`] on the planning side).
    async fn session(&self, config: SessionConfig) -> Result<SessionContext, BuildError>;

    /// How long a build waits for the attribution job before failing; `None`: no limit.
    /// (A lost executor can leave a Ballista 55 job waiting for good.)
    fn job_timeout(&self) -> Option<std::time::Duration> {
        None
    }
}
