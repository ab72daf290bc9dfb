//! `esmc-torch`: every `esmc` command, with those that need libtorch (training,
//! evaluation, prediction, reports, comparisons, claims, the nightly, the doctor).
//! `esmc` runs it in its place for these; it can also be run directly.

mod chart;
mod claims;
mod compare;
mod doctor;
mod nightly;
mod report;
mod train;

use clap::{Parser, Subcommand};
use esmc::cli::{Global, Local, exit_code};
// the shared modules, under the names the commands' files use (`crate::progress`, ...)
use esmc::{build, progress};
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "esmc",
    bin_name = "esmc",
    version,
    about,
    propagate_version = true
)]
struct Cli {
    #[command(flatten)]
    global: Global,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    #[command(flatten)]
    Local(Local),
    /// Rebuild the partitions of the last attribution window whose inputs or config
    /// changed, then (with --run) train every newly matured day. Exit codes: 0 done,
    /// 3 nothing to do, 4 input missing, 1 failure.
    Nightly(nightly::NightlyArgs),
    /// Check the installation: libtorch linked and training, threads.
    Doctor(doctor::Args),
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
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let quiet = cli.global.quiet;
    if !matches!(cli.command, Command::Local(_)) {
        esmc::logging::init(log::LevelFilter::Off);
    }
    exit_code(match cli.command {
        Command::Local(local) => return local.run(quiet),
        Command::Nightly(args) => return nightly::nightly(args, quiet),
        Command::Doctor(args) => doctor::run(args),
        Command::Train(args) => train::train(args, quiet),
        Command::Eval(args) => train::eval(args, quiet),
        Command::Predict(args) => train::predict(args, quiet),
        Command::Report(args) => report::run(args, quiet),
        Command::Compare(args) => compare::run(args, quiet),
        Command::Claims(args) => claims::run(args, quiet),
    })
}
