//! `esmc`: entire-space samples and CVR models from e-commerce behaviour logs.
//!
//! The binary owns the command line, progress display and printing; the work lives in
//! the library crates (`esmc-sim`, `esmc-schemas`, `esmc-trainer`, ...).

mod build;
mod doctor;
mod progress;
mod simulate;

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
    /// Rebuild the partitions of the last attribution window whose inputs or config changed.
    Nightly(build::NightlyArgs),
    /// Check the installation: libtorch linked and training, threads.
    Doctor(doctor::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Simulate(args) => simulate::run(args, cli.quiet),
        Command::Build(args) => build::run(args, cli.quiet),
        Command::Nightly(args) => build::nightly(args, cli.quiet),
        Command::Doctor(args) => doctor::run(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
