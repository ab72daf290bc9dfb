//! `esmc cluster scheduler` and `esmc cluster executor`: the nodes of an Apache Ballista
//! cluster that runs esmc's builds (`esmc build --cluster df://HOST:PORT`). Each runs
//! until the process is stopped; see docs/scale-out.md.

use anyhow::Result;
use esmc_cluster::{Cluster, ExecutorOptions, SchedulerOptions};
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    node: Node,
}

#[derive(clap::Subcommand)]
enum Node {
    /// A scheduler: plans builds' jobs and hands their tasks to executors.
    Scheduler {
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1")]
        bind: String,
        #[arg(long, default_value_t = 50050)]
        port: u16,
        /// The host name clients and executors reach this scheduler by.
        #[arg(long, default_value = "localhost")]
        external_host: String,
        /// Seconds without a heartbeat after which an executor is dead and its tasks
        /// run elsewhere.
        #[arg(long, default_value_t = 30)]
        executor_timeout_secs: u64,
    },
    /// An executor: runs the tasks of builds, reading and writing the warehouse.
    Executor {
        /// The scheduler, df://HOST:PORT.
        #[arg(long, default_value = "df://localhost:50050")]
        scheduler: String,
        #[arg(long, default_value = "127.0.0.1")]
        bind: String,
        /// The host name others fetch this executor's results by.
        #[arg(long, default_value = "localhost")]
        external_host: String,
        /// Arrow Flight port (results and shuffle data).
        #[arg(long, default_value_t = 50051)]
        port: u16,
        /// gRPC port.
        #[arg(long, default_value_t = 50052)]
        grpc_port: u16,
        /// Tasks at once (0 = every core).
        #[arg(long, default_value_t = 0)]
        concurrent_tasks: usize,
        /// Directory of the shuffle files (default: under the system's temp dir).
        #[arg(long)]
        work_dir: Option<PathBuf>,
        /// Seconds between heartbeats to the scheduler.
        #[arg(long, default_value_t = 5)]
        heartbeat_secs: u64,
    },
}

pub fn run(args: Args) -> Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    match args.node {
        Node::Scheduler {
            bind,
            port,
            external_host,
            executor_timeout_secs,
        } => {
            eprintln!(
                "esmc cluster scheduler: listening on {bind}:{port} (pid {})",
                std::process::id()
            );
            runtime.block_on(esmc_cluster::run_scheduler(SchedulerOptions {
                bind_host: bind,
                port,
                external_host,
                executor_timeout_secs,
            }))?
        }
        Node::Executor {
            scheduler,
            bind,
            external_host,
            port,
            grpc_port,
            concurrent_tasks,
            work_dir,
            heartbeat_secs,
        } => {
            let scheduler = Cluster::parse(&scheduler)?;
            scheduler.check_reachable()?;
            eprintln!(
                "esmc cluster executor: ports {port}/{grpc_port}, scheduler {} (pid {})",
                scheduler.url(),
                std::process::id()
            );
            runtime.block_on(esmc_cluster::run_executor(ExecutorOptions {
                scheduler,
                bind_host: bind,
                external_host,
                port,
                grpc_port,
                vcores: concurrent_tasks,
                work_dir,
                heartbeat_secs,
            }))?
        }
    }
    Ok(())
}
