//! `esmc`: entire-space samples and CVR models from e-commerce behaviour logs.
//!
//! This executable runs the commands that need no libtorch (simulate, build, sql, stats,
//! import, cluster); every other command line is `esmc-torch`'s, run in this process's
//! place, so a build or a query does not pay libtorch's start-up. The work lives in the
//! library crates (`esmc-sim`, `esmc-pipeline`, `esmc-sql`, ...).

use clap::Parser;
use esmc::cli::{Global, Local};
use std::process::ExitCode;

#[derive(Parser)]
#[command(name = "esmc", version, about, propagate_version = true)]
struct Cli {
    #[command(flatten)]
    global: Global,
    #[command(subcommand)]
    command: Local,
}

fn main() -> ExitCode {
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    if !esmc::cli::is_local(&args) {
        return esmc::cli::exec_torch(&args);
    }
    let cli = Cli::parse_from(args);
    cli.command.run(cli.global.quiet)
}
