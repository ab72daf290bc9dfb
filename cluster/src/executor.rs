//! `esmc cluster executor`: Ballista's executor, decoding esmc's operators, until the
//! process is stopped.

use crate::ClusterError;
use crate::codec::{LogicalCodec, PhysicalCodec};
use crate::session::Cluster;
use ballista_core::registry::BallistaFunctionRegistry;
use ballista_executor::executor_process::{ExecutorProcessConfig, start_executor_process};
use esmc_pipeline::esmc_id_udf;
use std::path::PathBuf;
use std::sync::Arc;

/// Where the executor listens, which scheduler it serves, how many tasks at once.
#[derive(Debug, Clone)]
pub struct ExecutorOptions {
    pub scheduler: Cluster,
    pub bind_host: String,
    /// The host name other executors and the client fetch results from.
    pub external_host: String,
    /// Arrow Flight (results and shuffle data) and gRPC ports.
    pub port: u16,
    pub grpc_port: u16,
    /// Tasks run at once; 0 = every core.
    pub vcores: usize,
    /// Where shuffle files go; `None`: a directory under the system's temp dir.
    pub work_dir: Option<PathBuf>,
    pub heartbeat_secs: u64,
}

/// The functions an executor resolves by name: DataFusion's, and `esmc_id`.
pub(crate) fn function_registry() -> BallistaFunctionRegistry {
    let mut registry = BallistaFunctionRegistry::default();
    let udf = esmc_id_udf();
    registry
        .scalar_functions
        .insert(udf.name().to_string(), Arc::new(udf));
    registry
}

/// Runs an executor until the process ends.
pub async fn run_executor(opts: ExecutorOptions) -> Result<(), ClusterError> {
    let vcores = match opts.vcores {
        0 => std::thread::available_parallelism().map_or(2, |n| n.get()),
        n => n,
    };
    let config = ExecutorProcessConfig {
        bind_host: opts.bind_host.clone(),
        external_host: Some(opts.external_host.clone()),
        port: opts.port,
        grpc_port: opts.grpc_port,
        scheduler_host: opts.scheduler.host().to_string(),
        scheduler_port: opts.scheduler.port(),
        scheduler_connect_timeout_seconds: 10,
        vcores,
        work_dir: opts
            .work_dir
            .as_ref()
            .map(|p| p.to_string_lossy().into_owned()),
        print_thread_info: false,
        executor_heartbeat_interval_seconds: opts.heartbeat_secs,
        override_logical_codec: Some(Arc::new(LogicalCodec::default())),
        override_physical_codec: Some(Arc::new(PhysicalCodec::default())),
        override_function_registry: Some(Arc::new(function_registry())),
        ..ExecutorProcessConfig::default()
    };
    start_executor_process(Arc::new(config))
        .await
        .map_err(ClusterError::ballista)
}
