//! [`AlignExec`]: passes its input's batches on under its input's declared schema.
//!
//! A union's batches keep the schema of the branch they come from (field names,
//! nullability, metadata), which DataFusion's own operators accept. Ballista's
//! sort-based shuffle writer asserts that every batch has exactly the declared schema
//! (it panicked in debug builds on the event union); this operator, placed between the
//! union and the shuffle, makes that true, casting a column whose type differs.

use arrow::array::RecordBatch;
use arrow::compute::cast;
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::TaskContext;
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{
    DisplayAs, DisplayFormatType, ExecutionPlan, PlanProperties, SendableRecordBatchStream,
};
use futures::StreamExt;
use std::sync::Arc;

#[derive(Debug)]
pub struct AlignExec {
    input: Arc<dyn ExecutionPlan>,
    props: Arc<PlanProperties>,
}

impl AlignExec {
    pub fn new(input: Arc<dyn ExecutionPlan>) -> Self {
        let props = input.properties().clone();
        AlignExec { input, props }
    }
}

impl DisplayAs for AlignExec {
    fn fmt_as(&self, _t: DisplayFormatType, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        write!(f, "AlignExec")
    }
}

impl ExecutionPlan for AlignExec {
    fn name(&self) -> &'static str {
        "AlignExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        &self.props
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![&self.input]
    }

    fn maintains_input_order(&self) -> Vec<bool> {
        vec![true]
    }

    fn benefits_from_input_partitioning(&self) -> Vec<bool> {
        vec![false]
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
        match children.len() {
            1 => Ok(Arc::new(AlignExec::new(children.swap_remove(0)))),
            n => Err(DataFusionError::Internal(format!(
                "AlignExec has one input, got {n}"
            ))),
        }
    }

    fn execute(
        &self,
        partition: usize,
        context: Arc<TaskContext>,
    ) -> Result<SendableRecordBatchStream> {
        let schema = self.input.schema();
        let input = self.input.execute(partition, context)?;
        let out = schema.clone();
        let aligned = input.map(move |batch| {
            let batch = batch?;
            if batch.schema() == out {
                return Ok(batch);
            }
            let columns = batch
                .columns()
                .iter()
                .zip(out.fields())
                .map(|(c, f)| match c.data_type() == f.data_type() {
                    true => Ok(c.clone()),
                    false => cast(c, f.data_type()),
                })
                .collect::<Result<Vec<_>, _>>()?;
            Ok(RecordBatch::try_new(out.clone(), columns)?)
        });
        Ok(Box::pin(RecordBatchStreamAdapter::new(schema, aligned)))
    }
}
