//! [`LocalCluster`]: a Ballista scheduler and executors inside this process, on
//! ephemeral ports, speaking gRPC and Arrow Flight to each other as a real cluster does.
//! What the tests build on; a single machine can use it too.

use crate::ClusterError;
use crate::codec::{LogicalCodec, PhysicalCodec};
use crate::executor::function_registry;
use crate::session::{Cluster, esmc_state};
use ballista_core::serde::BallistaCodec;
use ballista_core::serde::protobuf::scheduler_grpc_client::SchedulerGrpcClient;
use ballista_core::utils::default_config_producer;
use ballista_executor::new_standalone_executor_from_builder;
use ballista_scheduler::standalone::new_standalone_scheduler_with_builder;
use datafusion::execution::runtime_env::RuntimeEnvBuilder;
use std::sync::Arc;
use std::time::Duration;

/// A scheduler and `executors` executors of `vcores` task slots each, in this process.
pub struct LocalCluster {
    cluster: Cluster,
}

impl LocalCluster {
    pub async fn start(executors: usize, vcores: usize) -> Result<Self, ClusterError> {
        let codec = || {
            BallistaCodec::new(
                Arc::new(LogicalCodec::default()),
                Arc::new(PhysicalCodec::default()),
            )
        };
        let addr = new_standalone_scheduler_with_builder(
            Arc::new(esmc_state),
            Arc::new(default_config_producer),
            codec(),
        )
        .await
        .map_err(ClusterError::ballista)?;
        let http = format!("http://localhost:{}", addr.port());
        for _ in 0..executors {
            let client = connect(&http).await?;
            new_standalone_executor_from_builder(
                client,
                vcores,
                Arc::new(default_config_producer),
                Arc::new(|_| RuntimeEnvBuilder::new().build_arc()),
                codec(),
                function_registry(),
            )
            .await
            .map_err(ClusterError::ballista)?;
        }
        Ok(LocalCluster {
            cluster: Cluster::parse(&format!("df://localhost:{}", addr.port()))?,
        })
    }

    /// The scheduler's address, as builds take it.
    pub fn cluster(&self) -> &Cluster {
        &self.cluster
    }
}

/// A client of the scheduler at `http`, retried for a few seconds while it starts.
async fn connect(
    http: &str,
) -> Result<SchedulerGrpcClient<tonic::transport::Channel>, ClusterError> {
    let mut last = String::new();
    for _ in 0..50 {
        match SchedulerGrpcClient::connect(http.to_string()).await {
            Ok(c) => return Ok(c),
            Err(e) => last = e.to_string(),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Err(ClusterError::Ballista(format!(
        "scheduler at {http}: {last}"
    )))
}
