//! [`AttributeNode`], the logical node "label these events", and [`EsmcQueryPlanner`],
//! which plans it as hash partitions by user, sorted, then [`AttributeExec`].

use super::AttributeJob;
use super::align::AlignExec;
use super::exec::{AttributeExec, summary_schema};
use async_trait::async_trait;
use datafusion::catalog::Session;
use datafusion::common::{DFSchema, DFSchemaRef};
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::context::QueryPlanner;
use datafusion::logical_expr::physical_planning_context::PhysicalPlanningContext;
use datafusion::logical_expr::{
    Expr, Extension, LogicalPlan, UserDefinedLogicalNode, UserDefinedLogicalNodeCore,
};
use datafusion::physical_plan::repartition::RepartitionExec;
use datafusion::physical_plan::sorts::sort::SortExec;
use datafusion::physical_plan::{ExecutionPlan, Partitioning};
use datafusion::physical_planner::{DefaultPhysicalPlanner, ExtensionPlanner, PhysicalPlanner};
use std::cmp::Ordering;
use std::sync::Arc;

/// Labels the events of `input` (events.sql, with its ORDER BY) as the `job` says;
/// its output is one summary row per partition.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AttributeNode {
    input: LogicalPlan,
    /// The job as JSON: the node must be `Eq` and `Hash`, the job's config holds floats.
    job: String,
    schema: DFSchemaRef,
}

impl AttributeNode {
    pub fn new(input: LogicalPlan, job: &AttributeJob) -> Result<Self> {
        Self::from_json(
            input,
            String::from_utf8(job.to_bytes()).expect("JSON is UTF-8"),
        )
    }

    fn from_json(input: LogicalPlan, job: String) -> Result<Self> {
        let schema = Arc::new(DFSchema::try_from(summary_schema().as_ref().clone())?);
        Ok(AttributeNode { input, job, schema })
    }

    /// The plan that runs it.
    pub fn into_plan(self) -> LogicalPlan {
        LogicalPlan::Extension(Extension {
            node: Arc::new(self),
        })
    }

    pub fn job_bytes(&self) -> &[u8] {
        self.job.as_bytes()
    }

    /// The node of `bytes` (from [`AttributeNode::job_bytes`]) over `input`.
    pub fn from_bytes(input: LogicalPlan, bytes: &[u8]) -> Result<Self> {
        let job =
            AttributeJob::from_bytes(bytes).map_err(|e| DataFusionError::External(Box::new(e)))?;
        Self::new(input, &job)
    }
}

impl PartialOrd for AttributeNode {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        match self.job.cmp(&other.job) {
            Ordering::Equal => self.input.partial_cmp(&other.input),
            o => Some(o),
        }
    }
}

impl UserDefinedLogicalNodeCore for AttributeNode {
    fn name(&self) -> &str {
        "EsmcAttribute"
    }

    fn inputs(&self) -> Vec<&LogicalPlan> {
        vec![&self.input]
    }

    fn schema(&self) -> &DFSchemaRef {
        &self.schema
    }

    fn expressions(&self) -> Vec<Expr> {
        vec![]
    }

    fn fmt_for_explain(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        write!(f, "EsmcAttribute")
    }

    fn with_exprs_and_inputs(
        &self,
        _exprs: Vec<Expr>,
        mut inputs: Vec<LogicalPlan>,
    ) -> Result<Self> {
        if inputs.len() != 1 {
            return Err(DataFusionError::Internal(
                "EsmcAttribute has one input".into(),
            ));
        }
        Self::from_json(inputs.swap_remove(0), self.job.clone())
    }
}

/// DataFusion's planner, with [`AttributeNode`] planned as the module map says.
#[derive(Debug, Default)]
pub struct EsmcQueryPlanner;

#[async_trait]
impl QueryPlanner for EsmcQueryPlanner {
    async fn create_physical_plan(
        &self,
        logical_plan: &LogicalPlan,
        session: &dyn Session,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        DefaultPhysicalPlanner::with_extension_planners(vec![Arc::new(AttributePlanner)])
            .create_physical_plan(logical_plan, session)
            .await
    }
}

struct AttributePlanner;

#[async_trait]
impl ExtensionPlanner for AttributePlanner {
    async fn plan_extension(
        &self,
        _planner: &dyn PhysicalPlanner,
        node: &dyn UserDefinedLogicalNode,
        _logical_inputs: &[&LogicalPlan],
        physical_inputs: &[Arc<dyn ExecutionPlan>],
        _session: &dyn Session,
        _planning_ctx: &PhysicalPlanningContext,
    ) -> Result<Option<Arc<dyn ExecutionPlan>>> {
        let Some(node) = node.as_any().downcast_ref::<AttributeNode>() else {
            return Ok(None);
        };
        let job = AttributeJob::from_bytes(node.job_bytes())
            .map_err(|e| DataFusionError::External(Box::new(e)))?;
        // the input's global sort gives the order; each hash partition is sorted by it
        let Some(sort) = physical_inputs
            .first()
            .and_then(|p| p.downcast_ref::<SortExec>())
        else {
            return Err(DataFusionError::Internal(
                "EsmcAttribute expects its input sorted by user (events.sql)".into(),
            ));
        };
        let ordering = sort.expr().clone();
        let user = ordering.first().expr.clone();
        let shuffled = RepartitionExec::try_new(
            Arc::new(AlignExec::new(sort.input().clone())),
            Partitioning::Hash(vec![user.clone()], job.partitions.max(1)),
        )?;
        let sorted = SortExec::new(ordering, Arc::new(shuffled)).with_preserve_partitioning(true);
        Ok(Some(Arc::new(AttributeExec::new(Arc::new(sorted), job))))
    }
}
