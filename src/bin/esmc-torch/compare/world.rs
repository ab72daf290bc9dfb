//! The world `esmc compare` uses without `--root`: the embedded `eleme` preset, simulated
//! and built once into the cache and reused while its config is unchanged.
//!
//! ```text
//! $ESMC_CACHE/compare-world/        (ESMC_CACHE default: ~/.cache/esmc)
//!   logs/   10 days × 100k rec exposures, seed 42, from the preset's start day
//!   samples/ days 1..7 (mature: the logs of day + 3 exist)
//!   _compare_world.json   the sim config and built days; a mismatch rebuilds
//! train days 1..6, test day 7
//! ```

use super::DayRange;
use anyhow::{Context, Result};
use esmc_pipeline::{BuildConfig, BuildOptions, Builder};
use esmc_sim::{Preset, RunOptions, SimConfig};
use std::path::PathBuf;

/// Rec exposures per day of the default world.
pub const EXPOSURES_PER_DAY: u64 = 100_000;
/// Days simulated: the train and test days plus the attribution window after them.
pub const DAYS: u32 = 10;
/// Train days; the day after them is the test day.
pub const TRAIN_DAYS: u64 = 6;
pub const SEED: u64 = 42;

/// esmc's cache: $ESMC_CACHE, else ~/.cache/esmc, else the system's temp dir.
pub fn cache_dir() -> PathBuf {
    std::env::var_os("ESMC_CACHE")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/esmc")))
        .unwrap_or_else(std::env::temp_dir)
}

/// Where the default world lives: <cache>/compare-world.
fn world_dir() -> PathBuf {
    cache_dir().join("compare-world")
}

/// The default world's root and its train and test days, simulated and built if the
/// cache does not hold them yet.
pub fn default_world(quiet: bool) -> Result<(PathBuf, DayRange, DayRange)> {
    let cfg = SimConfig::sized(Preset::Eleme, EXPOSURES_PER_DAY, DAYS, SEED);
    eprintln!(
        "default world: `eleme`, {EXPOSURES_PER_DAY} rec exposures a day, {DAYS} days, seed {SEED}"
    );
    let (train, test) = prepare(&cfg, &world_dir(), TRAIN_DAYS, quiet)?;
    Ok((world_dir(), train, test))
}

/// Simulates `cfg` into `root` and builds the samples of its first `train_days` days and
/// of the test day after them, unless `root` already holds exactly that (a marker file
/// records the sim config and the built days; a mismatch rebuilds from scratch). The
/// config must simulate at least 3 days past the test day, so that the test day is mature.
pub fn prepare(
    cfg: &SimConfig,
    root: &std::path::Path,
    train_days: u64,
    quiet: bool,
) -> Result<(DayRange, DayRange)> {
    let train = DayRange {
        first: cfg.start,
        last: cfg.start + chrono::Days::new(train_days - 1),
    };
    let test_day = cfg.start + chrono::Days::new(train_days);
    let test = DayRange {
        first: test_day,
        last: test_day,
    };
    let marker = root.join("_compare_world.json");
    let want = serde_json::json!({
        "sim": cfg,
        "built": train.first.iter_days().take_while(|d| *d <= test_day)
            .map(|d| d.to_string()).collect::<Vec<_>>(),
        "esmc_version": env!("CARGO_PKG_VERSION"),
    });
    let have: Option<serde_json::Value> = std::fs::read_to_string(&marker)
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok());
    if have.as_ref() == Some(&want) {
        eprintln!("world {} (cached)", root.display());
        return Ok((train, test));
    }
    eprintln!(
        "world {}: simulating and building its samples",
        root.display()
    );
    if root.exists() {
        std::fs::remove_dir_all(root)
            .with_context(|| format!("cannot clear {}", root.display()))?;
    }
    std::fs::create_dir_all(root).with_context(|| format!("cannot create {}", root.display()))?;
    let bar = crate::progress::Bar::new("simulate", "users", quiet);
    esmc_sim::simulate(
        cfg,
        root,
        RunOptions {
            threads: 0,
            overwrite: true,
        },
        &bar,
    )?;
    let builder = Builder::new(root, BuildConfig::default(), BuildOptions::default());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let stages = crate::progress::Stages::new(quiet);
    for day in train.first.iter_days().take_while(|d| *d <= test_day) {
        runtime.block_on(builder.build(day, &stages))?;
    }
    stages.finish();
    std::fs::write(&marker, serde_json::to_string_pretty(&want)?)?;
    Ok((train, test))
}
