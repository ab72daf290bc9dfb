//! The command line both executables share: the global flag, the commands without
//! libtorch, how a command's error becomes an exit code, and how `esmc` hands every
//! other command to `esmc-torch`, the executable beside it.

use crate::{build, cluster, error, import, logging, simulate, sql};
use clap::Subcommand;
use std::ffi::OsString;
use std::path::PathBuf;
use std::process::ExitCode;

/// The executable of the commands that need libtorch, installed beside `esmc`.
pub const TORCH_EXE: &str = "esmc-torch";

/// Flags of every command.
#[derive(clap::Args)]
pub struct Global {
    /// No progress bars (they are also hidden when stderr is not a terminal).
    #[arg(long, short, global = true)]
    pub quiet: bool,
}

/// The commands that need no libtorch.
#[derive(Subcommand)]
pub enum Local {
    /// Simulate a shop and write its raw behaviour logs into a warehouse.
    Simulate(simulate::Args),
    /// Build sample partitions from the logs (one row per rec exposure, every label).
    Build(build::Args),
    /// Query the warehouse in SQL: logs, samples, quarantine, manifests, named queries.
    Sql(sql::Args),
    /// Daily health of a day's samples: flag label rates that moved from the trailing week
    /// (exit code 3 when flagged).
    Stats(sql::StatsArgs),
    /// Import a public dataset: taobao (UserBehavior raw logs) or ali-ccp (samples).
    Import(import::Args),
    /// Run a node of an Apache Ballista cluster that builds samples: `scheduler` or
    /// `executor` (until stopped).
    Cluster(cluster::Args),
}

impl Local {
    pub fn run(self, quiet: bool) -> ExitCode {
        logging::init(match self {
            Local::Cluster(_) => log::LevelFilter::Warn,
            _ => log::LevelFilter::Off,
        });
        exit_code(match self {
            Local::Simulate(args) => simulate::run(args, quiet),
            Local::Build(args) => build::run(args, quiet),
            Local::Sql(args) => sql::run(args),
            Local::Stats(args) => return sql::stats(args),
            Local::Import(args) => import::run(args, quiet),
            Local::Cluster(args) => cluster::run(args),
        })
    }
}

/// Prints a command's error with its causes; the exit code: 0, 1, or 75 when another
/// job holds a lock the command needs.
pub fn exit_code(result: anyhow::Result<()>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", error::Causes(&e));
            if build::is_busy(&e) {
                ExitCode::from(build::exit::BUSY)
            } else {
                ExitCode::FAILURE
            }
        }
    }
}

/// Whether `args` (the whole command line) names a command of [`Local`]: its first
/// argument after the global flags. Anything else (another command, `--help`,
/// `--version`, nothing, a typo) is `esmc-torch`'s, whose command line has every command.
pub fn is_local(args: &[OsString]) -> bool {
    for arg in args.iter().skip(1) {
        let Some(arg) = arg.to_str() else {
            return false;
        };
        match arg {
            "-q" | "--quiet" => continue,
            _ if arg.starts_with('-') => return false,
            _ => return Local::has_subcommand(arg),
        }
    }
    false
}

/// Where `esmc-torch` is: beside the running executable.
fn torch_exe() -> std::io::Result<PathBuf> {
    Ok(std::env::current_exe()?.with_file_name(TORCH_EXE))
}

/// Runs `esmc-torch` with `args` (the whole command line, the program's name first) in
/// place of this process (same process id, signals and exit code); returns only if it
/// cannot.
pub fn exec_torch(args: &[OsString]) -> ExitCode {
    let exe = match torch_exe() {
        Ok(exe) => exe,
        Err(e) => {
            eprintln!("error: cannot find the running executable's directory: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mut command = std::process::Command::new(&exe);
    command.args(&args[1..]);
    #[cfg(unix)]
    let failure = {
        use std::os::unix::process::CommandExt;
        command.exec()
    };
    #[cfg(not(unix))]
    let failure = match command.status() {
        Ok(status) => return ExitCode::from(status.code().unwrap_or(1) as u8),
        Err(e) => e,
    };
    eprintln!(
        "error: cannot run {} ({failure}): the commands that train, evaluate or load models \
         are in `{TORCH_EXE}`, installed beside `esmc` (`cargo install --path .` installs both)",
        exe.display()
    );
    ExitCode::FAILURE
}

#[cfg(test)]
mod tests {
    use super::is_local;

    fn local(line: &str) -> bool {
        let args: Vec<std::ffi::OsString> = line.split(' ').map(Into::into).collect();
        is_local(&args)
    }

    #[test]
    fn the_first_argument_after_the_global_flags_decides() {
        assert!(local("esmc build --dt 2026-11-01"));
        assert!(local("esmc -q sql --root W select"));
        assert!(local("esmc --quiet cluster executor"));
        assert!(local("esmc import taobao --help"));
        assert!(!local("esmc train --root W"));
        assert!(!local("esmc -q nightly --run x build"));
        assert!(!local("esmc"));
        assert!(!local("esmc --help build"));
        assert!(!local("esmc --version"));
        assert!(!local("esmc biuld"));
    }
}
