//! esmc's plan nodes as bytes: [`AttributeNode`] (logical, client → scheduler) and
//! [`AttributeExec`] (physical, scheduler → executors), each a tag and the job's JSON,
//! and [`AlignExec`] (a tag alone).
//! Every other node goes to Ballista's own codecs, which also carry the file formats
//! and Ballista's shuffle operators.

use ballista_core::serde::{BallistaLogicalExtensionCodec, BallistaPhysicalExtensionCodec};
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::catalog::TableProvider;
use datafusion::common::TableReference;
use datafusion::datasource::file_format::FileFormatFactory;
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::TaskContext;
use datafusion::logical_expr::{Extension, LogicalPlan};
use datafusion::physical_plan::ExecutionPlan;
use datafusion_proto::logical_plan::LogicalExtensionCodec;
use datafusion_proto::physical_plan::{PhysicalExtensionCodec, PhysicalProtoConverterExtension};
use esmc_pipeline::partitioned::{AlignExec, AttributeExec, AttributeJob, AttributeNode};
use std::sync::Arc;

/// The tag in front of an esmc node's bytes.
const TAG: &[u8] = b"esmc.attribute/1\n";
/// The bytes of an [`AlignExec`] (it has no state of its own).
const ALIGN: &[u8] = b"esmc.align/1\n";

/// Ballista's logical codec, and [`AttributeNode`].
#[derive(Debug, Default)]
pub struct LogicalCodec {
    inner: BallistaLogicalExtensionCodec,
}

impl LogicalExtensionCodec for LogicalCodec {
    fn try_decode(
        &self,
        buf: &[u8],
        inputs: &[LogicalPlan],
        ctx: &TaskContext,
    ) -> Result<Extension> {
        let Some(job) = buf.strip_prefix(TAG) else {
            return self.inner.try_decode(buf, inputs, ctx);
        };
        let input = one(inputs, "EsmcAttribute")?;
        Ok(Extension {
            node: Arc::new(AttributeNode::from_bytes(input.clone(), job)?),
        })
    }

    fn try_encode(&self, node: &Extension, buf: &mut Vec<u8>) -> Result<()> {
        match node.node.as_any().downcast_ref::<AttributeNode>() {
            Some(n) => {
                buf.extend_from_slice(TAG);
                buf.extend_from_slice(n.job_bytes());
                Ok(())
            }
            None => self.inner.try_encode(node, buf),
        }
    }

    fn try_decode_table_provider(
        &self,
        buf: &[u8],
        table_ref: &TableReference,
        schema: SchemaRef,
        ctx: &TaskContext,
    ) -> Result<Arc<dyn TableProvider>> {
        self.inner
            .try_decode_table_provider(buf, table_ref, schema, ctx)
    }

    fn try_encode_table_provider(
        &self,
        table_ref: &TableReference,
        node: Arc<dyn TableProvider>,
        buf: &mut Vec<u8>,
    ) -> Result<()> {
        self.inner.try_encode_table_provider(table_ref, node, buf)
    }

    fn try_decode_file_format(
        &self,
        buf: &[u8],
        ctx: &TaskContext,
    ) -> Result<Arc<dyn FileFormatFactory>> {
        self.inner.try_decode_file_format(buf, ctx)
    }

    fn try_encode_file_format(
        &self,
        buf: &mut Vec<u8>,
        node: Arc<dyn FileFormatFactory>,
    ) -> Result<()> {
        self.inner.try_encode_file_format(buf, node)
    }
}

/// Ballista's physical codec, and [`AttributeExec`].
#[derive(Debug, Default)]
pub struct PhysicalCodec {
    inner: BallistaPhysicalExtensionCodec,
}

impl PhysicalExtensionCodec for PhysicalCodec {
    fn try_decode(
        &self,
        buf: &[u8],
        inputs: &[Arc<dyn ExecutionPlan>],
        ctx: &TaskContext,
        proto_converter: &dyn PhysicalProtoConverterExtension,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        if buf == ALIGN {
            return Ok(Arc::new(AlignExec::new(one(inputs, "AlignExec")?.clone())));
        }
        let Some(job) = buf.strip_prefix(TAG) else {
            return self.inner.try_decode(buf, inputs, ctx, proto_converter);
        };
        let job =
            AttributeJob::from_bytes(job).map_err(|e| DataFusionError::External(Box::new(e)))?;
        let input = one(inputs, "AttributeExec")?;
        Ok(Arc::new(AttributeExec::new(input.clone(), job)))
    }

    fn try_encode(
        &self,
        node: Arc<dyn ExecutionPlan>,
        buf: &mut Vec<u8>,
        proto_converter: &dyn PhysicalProtoConverterExtension,
    ) -> Result<()> {
        if node.downcast_ref::<AlignExec>().is_some() {
            buf.extend_from_slice(ALIGN);
            return Ok(());
        }
        match node.downcast_ref::<AttributeExec>() {
            Some(exec) => {
                buf.extend_from_slice(TAG);
                buf.extend_from_slice(&exec.job().to_bytes());
                Ok(())
            }
            None => self.inner.try_encode(node, buf, proto_converter),
        }
    }
}

fn one<'a, T>(inputs: &'a [T], what: &str) -> Result<&'a T> {
    match inputs {
        [input] => Ok(input),
        _ => Err(DataFusionError::Internal(format!(
            "{what} has one input, got {}",
            inputs.len()
        ))),
    }
}
