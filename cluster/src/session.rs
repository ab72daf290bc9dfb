//! The session state esmc plans with on every side of a cluster, and [`Cluster`], the
//! client side: a scheduler's address, checked, and sessions whose queries run there.

use crate::ClusterError;
use crate::codec::{LogicalCodec, PhysicalCodec};
use async_trait::async_trait;
use ballista::prelude::{SessionConfigExt, SessionContextExt};
use datafusion::execution::SessionStateBuilder;
use datafusion::execution::context::SessionState;
use datafusion::execution::registry::FunctionRegistry;
use datafusion::prelude::{SessionConfig, SessionContext};
use esmc_pipeline::partitioned::{ClusterSessions, EsmcQueryPlanner};
use esmc_pipeline::{BuildError, esmc_id_udf};
use std::net::{TcpStream, ToSocketAddrs};
use std::sync::Arc;
use std::time::Duration;

/// Ballista's switch between its adaptive planner and its static one.
const ADAPTIVE_PLANNER: &str = "ballista.planner.adaptive.enabled";

/// How long a client waits for a scheduler's port before giving up.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Ballista's session state for `config`, with esmc's codecs, esmc's planner (which
/// plans the attribution node) and `esmc_id`. The scheduler builds its sessions with
/// it; the client starts from it.
pub fn esmc_state(config: SessionConfig) -> datafusion::error::Result<SessionState> {
    let config = config
        .with_ballista_logical_extension_codec(Arc::new(LogicalCodec::default()))
        .with_ballista_physical_extension_codec(Arc::new(PhysicalCodec::default()));
    let base = ballista_core::utils::default_session_builder(config)?;
    let mut state = SessionStateBuilder::new_from_existing(base)
        .with_query_planner(Arc::new(EsmcQueryPlanner))
        .build();
    state.register_udf(Arc::new(esmc_id_udf()))?;
    Ok(state)
}

/// A Ballista scheduler at `df://HOST:PORT`, as builds reach it.
#[derive(Debug, Clone)]
pub struct Cluster {
    url: String,
    host: String,
    port: u16,
    job_timeout: Option<Duration>,
}

impl Cluster {
    /// `df://HOST:PORT` (PORT defaults to Ballista's 50050).
    pub fn parse(url: &str) -> Result<Self, ClusterError> {
        let bad = |why: &str| ClusterError::BadUrl {
            url: url.to_string(),
            why: why.to_string(),
        };
        let rest = url
            .strip_prefix("df://")
            .ok_or_else(|| bad("it must start with df://"))?;
        let rest = rest.trim_end_matches('/');
        let (host, port) = match rest.rsplit_once(':') {
            Some((h, p)) => (
                h,
                p.parse::<u16>()
                    .map_err(|_| bad("the port is not a number"))?,
            ),
            None => (rest, 50050),
        };
        if host.is_empty() {
            return Err(bad("no host"));
        }
        Ok(Cluster {
            url: format!("df://{host}:{port}"),
            host: host.to_string(),
            port,
            job_timeout: None,
        })
    }

    /// Fails a build whose attribution job runs longer than `limit`.
    pub fn with_job_timeout(mut self, limit: Option<Duration>) -> Self {
        self.job_timeout = limit;
        self
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn host(&self) -> &str {
        &self.host
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Fails within seconds when nothing listens at the scheduler's address (Ballista's
    /// client would otherwise retry for much longer).
    pub fn check_reachable(&self) -> Result<(), ClusterError> {
        let addr = format!("{}:{}", self.host, self.port);
        let unreachable = |source| ClusterError::Unreachable {
            url: self.url.clone(),
            addr: addr.clone(),
            source,
        };
        let addrs = addr.to_socket_addrs().map_err(unreachable)?;
        let mut last = std::io::Error::other("the host has no address");
        for a in addrs {
            match TcpStream::connect_timeout(&a, CONNECT_TIMEOUT) {
                Ok(_) => return Ok(()),
                Err(e) => last = e,
            }
        }
        Err(unreachable(last))
    }
}

#[async_trait]
impl ClusterSessions for Cluster {
    async fn session(&self, config: SessionConfig) -> Result<SessionContext, BuildError> {
        self.check_reachable()
            .map_err(|e| BuildError::Cluster(Box::new(e)))?;
        let mut config = config.upgrade_for_ballista();
        // Ballista's adaptive planner hung the job for good when an executor was lost
        // mid-build (docs/scale-out.md); the static planner re-runs the lost tasks
        config
            .options_mut()
            .set(ADAPTIVE_PLANNER, "false")
            .map_err(BuildError::Engine)?;
        let state = esmc_state(config)?;
        Ok(SessionContext::remote_with_state(&self.url, state).await?)
    }

    fn job_timeout(&self) -> Option<Duration> {
        self.job_timeout
    }
}
