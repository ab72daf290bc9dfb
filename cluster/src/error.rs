//! Why a cluster command failed.

/// Why a cluster command failed. Variants name whose fault it is.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    /// A cluster address that is not `df://HOST:PORT` (the caller's fault).
    #[error("`{url}` is not a cluster address (expected df://HOST:PORT): {why}")]
    BadUrl { url: String, why: String },
    /// No scheduler answers at the address (the environment's fault).
    #[error("cannot reach the Ballista scheduler at {url} ({addr}): {source}")]
    Unreachable {
        url: String,
        addr: String,
        #[source]
        source: std::io::Error,
    },
    /// Ballista refused to start or serve (the environment's, or a bug).
    #[error("Ballista: {0}")]
    Ballista(String),
}

impl ClusterError {
    pub(crate) fn ballista(e: impl std::fmt::Display) -> Self {
        ClusterError::Ballista(e.to_string())
    }
}
