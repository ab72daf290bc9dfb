//! esmc on an Apache Ballista cluster: the sample build's cleaning and attribution run
//! as Ballista jobs, with esmc's attribution operator shipped to the executors.
//!
//! ```text
//!  codec.rs      esmc's plan nodes as bytes, around Ballista's own codecs
//!  session.rs    the state every side plans with (EsmcQueryPlanner, esmc_id);
//!                `Cluster`, the client side: a scheduler's address and its sessions
//!  scheduler.rs  `esmc cluster scheduler`: Ballista's scheduler with esmc's codec
//!  executor.rs   `esmc cluster executor`: Ballista's executor with esmc's codec
//!  local.rs      a scheduler and executors inside this process (tests, one machine)
//! ```
//!
//! The warehouse must be on a path every executor reads and writes by the same name
//! (one machine: any directory; many: a shared filesystem mounted at the same path).

mod codec;
mod error;
mod executor;
mod local;
mod scheduler;
mod session;

pub use codec::{LogicalCodec, PhysicalCodec};
pub use error::ClusterError;
pub use executor::{ExecutorOptions, run_executor};
pub use local::LocalCluster;
pub use scheduler::{SchedulerOptions, run_scheduler};
pub use session::{Cluster, esmc_state};
