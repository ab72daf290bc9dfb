//! `esmc`: entire-space samples and CVR models from e-commerce behaviour logs.
//!
//! The binary owns the command line, progress display and printing; the work lives in
//! the library crates (`esmc-sim`, `esmc-schemas`, `esmc-trainer`, ...).

mod build;
mod chart;
mod claims;
mod cluster;
mod compare;
mod doctor;
mod error;
mod import;
mod logging;
mod progress;
mod report;
mod simulate;
mod sql;
mod train;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

#[derive(Parser)]
#[command(name = "esmc", version, about, propagate_version = true)]
struct Cli {
    /// No progress bars (they are also hidden when stderr is not a terminal).
    #[arg(long, short, global = true)]
    quiet: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Simulate a shop and write its raw behaviour logs into a warehouse.
    Simulate(simulate::Args),
    /// Build sample partitions from the logs (one row per rec exposure, every label).
    Build(build::Args),
    /// Rebuild the partitions of the last attribution window whose inputs or config
    /// changed, then (with --run) train every newly matured day. Exit codes: 0 done,
    /// 3 nothing to do, 4 input missing, 1 failure.
    Nightly(build::NightlyArgs),
    /// Check the installation: libtorch linked and training, threads.
    Doctor(doctor::Args),
    /// Query the warehouse in SQL: logs, samples, quarantine, manifests, named queries.
    Sql(sql::Args),
    /// Daily health of a day's samples: flag label rates that moved from the trailing week
    /// (exit code 3 when flagged).
    Stats(sql::StatsArgs),
    /// Train a model day by day (test-then-train), checkpointing each day.
    Train(train::TrainArgs),
    /// Evaluate a run's checkpoint on a day of samples (every metric of the spec).
    Eval(train::EvalArgs),
    /// Score a day of samples with a run's checkpoint and write the scores as Parquet.
    Predict(train::PredictArgs),
    /// Markdown report and SVG charts of runs' daily metrics (AUCs, log loss,
    /// calibration, oracle ceiling), comparing several runs.
    Report(report::Args),
    /// Train and evaluate models over seeds on the same days and features; a table of
    /// mean ± std (markdown, CSV, SVG). Without --root, on a simulated `eleme` world.
    Compare(compare::Args),
    /// Test each claim of the papers in a simulated world with its mechanism and one
    /// without: paired differences with 95% intervals and a verdict (markdown, CSV).
    Claims(claims::Args),
    /// Import a public dataset: taobao (UserBehavior raw logs) or ali-ccp (samples).
    Import(import::Args),
    /// Run a node of an Apache Ballista cluster that builds samples: `scheduler` or
    /// `executor` (until stopped).
    Cluster(cluster::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    logging::init(match cli.command {
        Command::Cluster(_) => log::LevelFilter::Warn,
        _ => log::LevelFilter::Off,
    });
    let result = match cli.command {
        Command::Simulate(args) => simulate::run(args, cli.quiet),
        Command::Build(args) => build::run(args, cli.quiet),
        Command::Nightly(args) => return build::nightly(args, cli.quiet),
        Command::Doctor(args) => doctor::run(args),
        Command::Sql(args) => sql::run(args),
        Command::Stats(args) => return sql::stats(args),
        Command::Train(args) => train::train(args, cli.quiet),
        Command::Eval(args) => train::eval(args, cli.quiet),
        Command::Predict(args) => train::predict(args, cli.quiet),
        Command::Report(args) => report::run(args, cli.quiet),
        Command::Compare(args) => compare::run(args, cli.quiet),
        Command::Claims(args) => claims::run(args, cli.quiet),
        Command::Import(args) => import::run(args, cli.quiet),
        Command::Cluster(args) => cluster::run(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", error::Causes(&e));
            if build::is_busy(&e) {
                // another job holds the lock (EX_TEMPFAIL)
                ExitCode::from(build::exit::BUSY)
            } else {
                ExitCode::FAILURE
            }
        }
    }
}
