//! `esmc cluster scheduler`: Ballista's scheduler, planning with esmc's session state
//! and codec, until the process is stopped.

use crate::ClusterError;
use crate::codec::{LogicalCodec, PhysicalCodec};
use crate::session::esmc_state;
use ballista_scheduler::cluster::BallistaCluster;
use ballista_scheduler::config::SchedulerConfig;
use ballista_scheduler::scheduler_process::start_server;
use std::net::SocketAddr;
use std::sync::Arc;

/// Where the scheduler listens and how soon it gives up on a silent executor.
#[derive(Debug, Clone)]
pub struct SchedulerOptions {
    pub bind_host: String,
    pub port: u16,
    /// The host name executors and clients reach this scheduler by.
    pub external_host: String,
    /// An executor without a heartbeat for this long is dead: its tasks run elsewhere.
    pub executor_timeout_secs: u64,
}

impl Default for SchedulerOptions {
    fn default() -> Self {
        SchedulerOptions {
            bind_host: "127.0.0.1".into(),
            port: 50050,
            external_host: "localhost".into(),
            executor_timeout_secs: 30,
        }
    }
}

/// Runs a scheduler until the process ends.
pub async fn run_scheduler(opts: SchedulerOptions) -> Result<(), ClusterError> {
    let config = SchedulerConfig {
        bind_host: opts.bind_host.clone(),
        bind_port: opts.port,
        external_host: opts.external_host.clone(),
        executor_timeout_seconds: opts.executor_timeout_secs,
        expire_dead_executor_interval_seconds: (opts.executor_timeout_secs / 3).max(1),
        no_executors_grace_period_seconds: opts.executor_timeout_secs,
        override_logical_codec: Some(Arc::new(LogicalCodec::default())),
        override_physical_codec: Some(Arc::new(PhysicalCodec::default())),
        override_session_builder: Some(Arc::new(esmc_state)),
        ..SchedulerConfig::default()
    };
    let addr: SocketAddr = format!("{}:{}", opts.bind_host, opts.port)
        .parse()
        .map_err(|e| ClusterError::ballista(format!("bind address: {e}")))?;
    let cluster = BallistaCluster::new_from_config(&config)
        .await
        .map_err(ClusterError::ballista)?;
    start_server(cluster, addr, Arc::new(config))
        .await
        .map_err(ClusterError::ballista)
}
