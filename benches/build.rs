//! Benchmark of `esmc build`: exposures per second and peak RSS for building one
//! `eleme` day, at several day sizes (2.5M, 5M, 10M, 20M rec exposures by default) to
//! show how time and memory grow with the day.
//!
//! `cargo bench --bench build -- [--exposures 2500000,5000000] [--runs R] [--threads T]
//! [--memory-mib M]`. Each size simulates D-1..D+3 once (untimed), then builds D in a
//! child process per run so that peak RSS (VmHWM) is the build's own.
//!
//! Not here yet: the same work done by DuckDB from the same Parquet (issue 3).

use esmc_pipeline::{BuildConfig, BuildOptions, Builder, NoProgress};
use esmc_sim::{NoProgress as SimQuiet, Preset, RunOptions, SimConfig};
use std::path::Path;
use std::time::Instant;

mod common;
use common::{measure, median, peak_rss_mib};

fn world(exposures: u64) -> SimConfig {
    SimConfig::sized(Preset::Eleme, exposures, 5, 42)
}

/// Child: builds day 2 of the world at `root`; prints `samples secs peak_mib`.
fn child_build(root: &Path, threads: usize, memory_mib: usize) {
    let cfg = world(1);
    let day = cfg.start + chrono::Days::new(1);
    let builder = Builder::new(
        root,
        BuildConfig::default(),
        BuildOptions {
            threads,
            memory_limit: memory_mib << 20,
        },
    );
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let started = Instant::now();
    let report = rt
        .block_on(builder.build(day, &NoProgress))
        .expect("build runs");
    let secs = started.elapsed().as_secs_f64();
    println!("{} {secs} {}", report.manifest.rows, peak_rss_mib());
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    let opt = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let threads: usize = opt("--threads").map_or(0, |v| v.parse().unwrap());
    let memory_mib: usize = opt("--memory-mib").map_or(2048, |v| v.parse().unwrap());
    if args.first().map(String::as_str) == Some("--child-build") {
        return child_build(Path::new(&args[1]), threads, memory_mib);
    }
    let sizes: Vec<u64> = opt("--exposures")
        .unwrap_or_else(|| "2500000,5000000,10000000,20000000".into())
        .split(',')
        .map(|v| v.parse().unwrap())
        .collect();
    let runs: usize = opt("--runs").map_or(1, |v| v.parse().unwrap());
    println!(
        "esmc build, eleme, one day (D-1..D+3 read), threads {}, memory pool {memory_mib} MiB, {runs} run(s), medians",
        if threads == 0 {
            "all".to_string()
        } else {
            threads.to_string()
        }
    );
    println!(
        "{:>12} {:>10} {:>9} {:>14} {:>12}",
        "exposures/day", "samples", "secs", "exposures/s", "peak RSS MiB"
    );
    for size in sizes {
        let dir = tempfile::tempdir().unwrap();
        esmc_sim::simulate(
            &world(size),
            dir.path(),
            RunOptions {
                threads,
                overwrite: true,
            },
            &SimQuiet,
        )
        .unwrap();
        let (mut secs, mut rss, mut rows) = (vec![], vec![], 0.0);
        for _ in 0..runs {
            let (r, s, m) = measure(&[
                "--child-build".into(),
                dir.path().display().to_string(),
                "--threads".into(),
                threads.to_string(),
                "--memory-mib".into(),
                memory_mib.to_string(),
            ]);
            rows = r;
            secs.push(s);
            rss.push(m);
        }
        let s = median(secs);
        println!(
            "{size:>12} {rows:>10.0} {s:>9.2} {:>14.0} {:>12.0}",
            rows / s,
            median(rss)
        );
    }
}
