//! Log lines of the engines esmc embeds (Ballista's scheduler and executors, DataFusion)
//! on stderr, at the level `ESMC_LOG` names (error, warn, info, debug, trace; default
//! warn for cluster nodes, off for other commands).

use log::{Level, LevelFilter, Log, Metadata, Record};

struct Stderr;

impl Log for Stderr {
    fn enabled(&self, m: &Metadata) -> bool {
        m.level() <= log::max_level()
    }

    fn log(&self, r: &Record) {
        if self.enabled(r.metadata()) {
            let now = chrono::Utc::now().format("%H:%M:%S%.3f");
            eprintln!("{now} {:<5} {}: {}", r.level(), r.target(), r.args());
        }
    }

    fn flush(&self) {}
}

/// Installs the stderr logger at `ESMC_LOG`'s level, else at `default`.
pub fn init(default: LevelFilter) {
    let level = std::env::var("ESMC_LOG")
        .ok()
        .and_then(|v| v.parse::<Level>().ok())
        .map_or(default, |l| l.to_level_filter());
    if log::set_logger(&Stderr).is_ok() {
        log::set_max_level(level);
    }
}
