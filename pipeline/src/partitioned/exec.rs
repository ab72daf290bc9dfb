//! [`AttributeExec`]: the attributor as a DataFusion operator. Each partition's input is
//! the events of a set of users sorted by (user, ts, kind, …); the partition labels them,
//! writes its samples to its own Parquet file and returns one summary row.

use super::{AttributeJob, PartSummary};
use crate::BuildError;
use crate::attribute::Attributor;
use crate::build::event_rows::normalize;
use crate::build::label::{Labeller, Labels};
use crate::build::sink::LabelledSink;
use arrow::array::{AsArray, RecordBatch, StringArray};
use arrow::datatypes::{
    DataType, Field, Int8Type, Int64Type, Schema, SchemaRef, TimestampMicrosecondType,
};
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::TaskContext;
use datafusion::physical_expr::{
    EquivalenceProperties, LexOrdering, OrderingRequirements, PhysicalExpr,
};
use datafusion::physical_plan::execution_plan::{Boundedness, EmissionType};
use datafusion::physical_plan::metrics::{
    Count, ExecutionPlanMetricsSet, MetricBuilder, MetricsSet,
};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{
    DisplayAs, DisplayFormatType, Distribution, ExecutionPlan, ExecutionPlanProperties,
    Partitioning, PlanProperties, SendableRecordBatchStream,
};
use esmc_schemas::mix64;
use futures::StreamExt;
use std::sync::Arc;

/// The one column of the summary rows: a [`PartSummary`] as JSON.
pub const SUMMARY_COLUMN: &str = "summary";

/// The metric counting the events a partition has attributed so far (read while the
/// plan runs, for progress).
pub const EVENTS_METRIC: &str = "events_attributed";

/// The schema of the summary rows.
pub fn summary_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![Field::new(
        SUMMARY_COLUMN,
        DataType::Utf8,
        false,
    )]))
}

/// Labels hash partitions of users, sorted within each partition (see the module map).
#[derive(Debug)]
pub struct AttributeExec {
    input: Arc<dyn ExecutionPlan>,
    /// The order each partition's input has (events.sql's ORDER BY), when known: the
    /// planner's plan has it; on an executor nothing is planned any more.
    ordering: Option<LexOrdering>,
    job: AttributeJob,
    props: Arc<PlanProperties>,
    metrics: ExecutionPlanMetricsSet,
}

impl AttributeExec {
    /// Over `input`, hash partitioned by user and sorted within partitions.
    pub fn new(input: Arc<dyn ExecutionPlan>, job: AttributeJob) -> Self {
        let partitions = input.output_partitioning().partition_count();
        let props = PlanProperties::new(
            EquivalenceProperties::new(summary_schema()),
            Partitioning::UnknownPartitioning(partitions),
            EmissionType::Final,
            Boundedness::Bounded,
        );
        AttributeExec {
            ordering: input.output_ordering().cloned(),
            input,
            job,
            props: Arc::new(props),
            metrics: ExecutionPlanMetricsSet::new(),
        }
    }

    pub fn job(&self) -> &AttributeJob {
        &self.job
    }

    /// The user id: the first key of the ordering.
    fn user(&self) -> Option<Arc<dyn PhysicalExpr>> {
        self.ordering.as_ref().map(|o| o.first().expr.clone())
    }
}

impl DisplayAs for AttributeExec {
    fn fmt_as(&self, _t: DisplayFormatType, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        write!(
            f,
            "AttributeExec: day_start_us={}, out={}",
            self.job.day_start_us,
            self.job.out_dir.display()
        )
    }
}

impl ExecutionPlan for AttributeExec {
    fn name(&self) -> &'static str {
        "AttributeExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        &self.props
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![&self.input]
    }

    fn required_input_distribution(&self) -> Vec<Distribution> {
        match self.user() {
            Some(user) => vec![Distribution::KeyPartitioned(vec![user])],
            None => vec![Distribution::UnspecifiedDistribution],
        }
    }

    fn required_input_ordering(&self) -> Vec<Option<OrderingRequirements>> {
        vec![self.ordering.clone().map(OrderingRequirements::from)]
    }

    fn maintains_input_order(&self) -> Vec<bool> {
        vec![false]
    }

    fn metrics(&self) -> Option<MetricsSet> {
        Some(self.metrics.clone_inner())
    }

    fn apply_expressions(
        &self,
        _f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> Result<TreeNodeRecursion>,
    ) -> Result<TreeNodeRecursion> {
        Ok(TreeNodeRecursion::Continue)
    }

    fn with_new_children(
        self: Arc<Self>,
        mut children: Vec<Arc<dyn ExecutionPlan>>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        if children.len() != 1 {
            return Err(DataFusionError::Internal(
                "AttributeExec has one input".into(),
            ));
        }
        Ok(Arc::new(AttributeExec::new(
            children.swap_remove(0),
            self.job.clone(),
        )))
    }

    fn execute(
        &self,
        partition: usize,
        context: Arc<TaskContext>,
    ) -> Result<SendableRecordBatchStream> {
        let input = self.input.execute(partition, context)?;
        let job = self.job.clone();
        let events = MetricBuilder::new(&self.metrics).counter(EVENTS_METRIC, partition);
        let summary = async move {
            let s = label_partition(&job, partition, input, &events)
                .await
                .map_err(|e| DataFusionError::External(Box::new(e)))?;
            let json = serde_json::to_string(&s)
                .map_err(|e| DataFusionError::Internal(format!("summary: {e}")))?;
            Ok(RecordBatch::try_new(
                summary_schema(),
                vec![Arc::new(StringArray::from(vec![json]))],
            )?)
        };
        Ok(Box::pin(RecordBatchStreamAdapter::new(
            summary_schema(),
            futures::stream::once(summary),
        )))
    }
}

/// Labels one partition's sorted events into `job.part_path(partition)`: written under
/// a name of its own, renamed into place when complete, so a retried or duplicated task
/// leaves one whole file.
async fn label_partition(
    job: &AttributeJob,
    partition: usize,
    mut input: SendableRecordBatchStream,
    events: &Count,
) -> Result<PartSummary, BuildError> {
    let attributor = Attributor::new(&job.cfg, job.day_start_us);
    let tmp = job.out_dir.join(format!(
        ".labelled-{partition:05}.{}.{}.tmp",
        std::process::id(),
        unique()
    ));
    let mut labeller = Labeller::new(&attributor, LabelledSink::new(&tmp)?);
    // the fingerprint of the task's input: its events' users, times and kinds in order
    let mut fingerprint = 0u64;
    while let Some(batch) = input.next().await {
        let batch = normalize(&batch?)?;
        let users = batch.column(0).as_primitive::<Int64Type>().values();
        let ts = batch
            .column(1)
            .as_primitive::<TimestampMicrosecondType>()
            .values();
        let kinds = batch.column(2).as_primitive::<Int8Type>().values();
        for i in 0..batch.num_rows() {
            fingerprint =
                mix64(fingerprint ^ mix64(users[i] as u64 ^ mix64(ts[i] as u64 ^ kinds[i] as u64)));
        }
        events.add(batch.num_rows());
        labeller.push(batch)?;
    }
    let Labels {
        sink,
        counts,
        kinds,
    } = labeller.finish()?;
    hold_for_tests().await;
    let target = job.part_path(fingerprint);
    std::fs::rename(&tmp, &target).map_err(|e| BuildError::io(&target, e))?;
    let (ones, psc) = sink.counts();
    Ok(PartSummary {
        file: target
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        rows: sink.rows(),
        ones: ones.clone(),
        psc: psc.clone(),
        clicks_to_samples: counts.clicks_to_samples,
        purchases_to_samples: counts.purchases_to_samples,
        seen: kinds.seen,
        distinct: kinds.distinct,
    })
}

/// A number no other task of this process has drawn.
fn unique() -> u64 {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
}

/// `ESMC_HOLD_ATTRIBUTE_MS`: sleep that long before a partition's file is renamed into
/// place, so that fault tests can kill an executor in the middle of the stage.
async fn hold_for_tests() {
    if let Some(ms) = std::env::var("ESMC_HOLD_ATTRIBUTE_MS")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
    {
        tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
    }
}
