//! Benchmark of `esmc build`: exposures per second and peak RSS for building one
//! `eleme` day, at several day sizes (2.5M, 5M, 10M, 20M rec exposures by default) to
//! show how time and memory grow with the day; the same day built without the feature
//! stage (what the features add), and by DuckDB running `benches/duckdb/build.sql` (the
//! same labels from the same Parquet, checked equal on simulated worlds), alone and with
//! `benches/duckdb/features.sql` (the same feature columns, `benches/duckdb/check.sh`),
//! in the same invocation.
//!
//! `cargo bench --bench build -- [--exposures 2500000,5000000] [--runs R] [--threads T]
//! [--memory-mib M] [--no-duckdb] [--no-reference] [--no-features] [--worlds DIR]
//! [--one-pass]` (`--one-pass`: also labels without features through the attribution's
//! single pass, `ESMC_ATTRIBUTE_SEQUENTIAL=1`, against the partitioned passes;
//! `--no-features`: labels only, esmc's and DuckDB's).
//! Under each size's rows a `ratios:` line gives DuckDB's seconds over esmc's (labels
//! alone; with the features), the single pass over the partitioned one, and the peak
//! RSS of both with features.
//! Each size simulates D-1..D+3 once (untimed; with `--worlds DIR` into DIR/<exposures>,
//! reused if there), then builds D in a child process per run so that peak RSS (VmHWM)
//! is the build's own. Runs are interleaved: run 1 of every row, then run 2, and so on.
//! DuckDB runs in `$ESMC_CACHE/pyenv` (`scripts/setup-peer.sh` installs it); without it
//! the DuckDB rows are skipped with a note.

use esmc_pipeline::{BuildConfig, BuildOptions, Builder, Progress};
use esmc_sim::{NoProgress as SimQuiet, Preset, RunOptions, SimConfig};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

mod common;
use common::{measure, median, numbers, peak_rss_mib};

/// Seconds of each build stage, from the stage reports (printed to stderr by the child).
#[derive(Default)]
struct StageClock(std::sync::Mutex<Vec<(String, Instant)>>);

impl Progress for StageClock {
    fn stage(&self, _: chrono::NaiveDate, stage: &str) {
        self.0
            .lock()
            .unwrap()
            .push((stage.to_string(), Instant::now()));
    }
}

impl StageClock {
    fn report(&self) -> String {
        let mut v = self.0.lock().unwrap().clone();
        v.push(("end".into(), Instant::now()));
        let parts: Vec<String> = v
            .windows(2)
            .map(|w| format!("{} {:.2} s", w[0].0, (w[1].1 - w[0].1).as_secs_f64()))
            .collect();
        format!("stages: {}", parts.join(", "))
    }
}

/// The table's row names, which the `ratios:` line looks up.
const ESMC: &str = "esmc";
const ESMC_LABELS: &str = "esmc, no features";
const ESMC_ONE_PASS: &str = "esmc labels, 1 pass";
const DUCKDB_LABELS: &str = "DuckDB (labels only)";
const DUCKDB_FEATURES: &str = "DuckDB (features)";

/// How a row's runs are made: an esmc child build, or DuckDB's `build.py`.
#[derive(Clone, Copy)]
enum Runner {
    /// `off`: without the feature stage; `one_pass`: the attribution's single pass.
    Esmc {
        off: bool,
        one_pass: bool,
    },
    DuckDb {
        features: bool,
    },
}

fn world(exposures: u64) -> SimConfig {
    SimConfig::sized(Preset::Eleme, exposures, 5, 42)
}

/// Child: builds day 2 of the world at `root`; prints
/// `samples secs peak_mib features_secs gather_secs compute_secs`.
fn child_build(root: &Path, threads: usize, memory_mib: usize, features: bool) {
    let cfg = world(1);
    let day = cfg.start + chrono::Days::new(1);
    let mut build = BuildConfig::default();
    build.features.enabled = features;
    let builder = Builder::new(
        root,
        build,
        BuildOptions {
            threads,
            memory_limit: memory_mib << 20,
            feature_memory: None,
        },
    );
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let stages = StageClock::default();
    let started = Instant::now();
    let report = rt
        .block_on(builder.build(day, &stages))
        .expect("build runs");
    let secs = started.elapsed().as_secs_f64();
    eprintln!("{}", stages.report());
    let stage = |k: &str| report.stage_secs.get(k).copied().unwrap_or(0.0);
    println!(
        "{} {secs} {} {} {} {}",
        report.manifest.rows,
        peak_rss_mib(),
        stage("features"),
        stage("features_gather"),
        stage("features_compute")
    );
}

/// The DuckDB reference's Python, when installed.
fn duckdb_python() -> Option<PathBuf> {
    let cache = std::env::var_os("ESMC_CACHE")?;
    let py = PathBuf::from(cache).join("pyenv/bin/python");
    let ok = Command::new(&py)
        .args(["-c", "import duckdb"])
        .output()
        .is_ok_and(|o| o.status.success());
    ok.then_some(py)
}

// Long because: a benchmark script: flags, one world per size, builds timed, the table.
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
    let flag = |name: &str| args.iter().any(|a| a == name);
    let threads: usize = opt("--threads").map_or(0, |v| v.parse().unwrap());
    let memory_mib: usize = opt("--memory-mib").map_or(2048, |v| v.parse().unwrap());
    if args.first().is_some_and(|a| a == "--child-build") {
        if flag("--one-pass") {
            // SAFETY: the child's only thread, before the engine's runtime starts
            unsafe { std::env::set_var("ESMC_ATTRIBUTE_SEQUENTIAL", "1") };
        }
        return child_build(Path::new(&args[1]), threads, memory_mib, !flag("--off"));
    }
    let sizes: Vec<u64> = opt("--exposures")
        .unwrap_or_else(|| "2500000,5000000,10000000,20000000".into())
        .split(',')
        .map(|v| v.parse().unwrap())
        .collect();
    let runs: usize = opt("--runs").map_or(1, |v| v.parse().unwrap());
    let reference = !flag("--no-reference");
    let duckdb = if flag("--no-duckdb") {
        println!("DuckDB reference skipped (--no-duckdb)");
        None
    } else {
        let py = duckdb_python();
        if py.is_none() {
            println!(
                "DuckDB reference skipped: no duckdb in $ESMC_CACHE/pyenv (run scripts/setup-peer.sh)"
            );
        }
        py
    };
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/duckdb/build.py");
    println!(
        "esmc build, eleme, one day (D-1..D+3 read), threads {}, memory pool {memory_mib} MiB, {runs} run(s), medians",
        if threads == 0 {
            "all".to_string()
        } else {
            threads.to_string()
        }
    );
    println!(
        "{:>13} {:<20} {:>10} {:>8} {:>12} {:>9} {:>10} {:>10}",
        "exposures/day",
        "run",
        "samples",
        "secs",
        "exposures/s",
        "peak MiB",
        "features s",
        "compute s"
    );
    let keep = opt("--worlds").map(PathBuf::from);
    for size in &sizes {
        let tmp = tempfile::tempdir().unwrap();
        // --worlds DIR: each size's world is kept in DIR/<exposures>, reused when there
        let dir = keep
            .as_ref()
            .map(|k| k.join(size.to_string()))
            .unwrap_or_else(|| tmp.path().to_path_buf());
        if !dir.join("logs").is_dir() {
            esmc_sim::simulate(
                &world(*size),
                &dir,
                RunOptions {
                    threads,
                    overwrite: true,
                },
                &SimQuiet,
            )
            .unwrap();
        }
        let root = dir.display().to_string();
        // the rows: esmc's (without features, the attribution's single pass) and
        // DuckDB's (labels only, then with the feature columns of
        // benches/duckdb/features.sql unless --no-features)
        let mut rows: Vec<(&str, Runner)> = vec![];
        if flag("--one-pass") {
            rows.push((
                ESMC_ONE_PASS,
                Runner::Esmc {
                    off: true,
                    one_pass: true,
                },
            ));
        }
        if reference {
            rows.push((
                ESMC_LABELS,
                Runner::Esmc {
                    off: true,
                    one_pass: false,
                },
            ));
        }
        if !flag("--no-features") {
            rows.push((
                ESMC,
                Runner::Esmc {
                    off: false,
                    one_pass: false,
                },
            ));
        }
        if duckdb.is_some() {
            rows.push((DUCKDB_LABELS, Runner::DuckDb { features: false }));
            if !flag("--no-features") {
                rows.push((DUCKDB_FEATURES, Runner::DuckDb { features: true }));
            }
        }
        // runs interleaved (run 1 of every row, then run 2, ...), so that a slow spell
        // of a shared machine falls on every row alike
        let mut m: Vec<Vec<Vec<f64>>> = vec![Vec::new(); rows.len()];
        for _ in 0..runs {
            for (i, (_, runner)) in rows.iter().enumerate() {
                let one = match *runner {
                    Runner::Esmc { off, one_pass } => {
                        let mut a = vec![
                            "--child-build".to_string(),
                            root.clone(),
                            "--threads".into(),
                            threads.to_string(),
                            "--memory-mib".into(),
                            memory_mib.to_string(),
                        ];
                        if off {
                            a.push("--off".into());
                        }
                        if one_pass {
                            a.push("--one-pass".into());
                        }
                        measure(&a)
                    }
                    Runner::DuckDb { features } => {
                        let py = duckdb.as_ref().expect("DuckDB rows only with DuckDB");
                        let d = world(1).start + chrono::Days::new(1);
                        let out = tmp.path().join("duckdb.parquet");
                        let o = Command::new(py)
                            .arg(&script)
                            .args(["--root", &root, "--dt", &d.to_string()])
                            .arg("--out")
                            .arg(&out)
                            .args([
                                "--threads",
                                &threads.to_string(),
                                "--memory-limit",
                                &format!("{memory_mib}MB"),
                            ])
                            .args(features.then_some("--features"))
                            .output()
                            .expect("python runs");
                        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
                        let _ = std::fs::remove_file(&out);
                        numbers(&o.stdout)
                    }
                };
                m[i].push(one);
            }
        }
        // each row's median (seconds, peak MiB), for the ratios under the size's rows
        let mut rows_of: Vec<(&str, f64, f64)> = Vec::new();
        for ((name, runner), m) in rows.iter().zip(&m) {
            let col = |k: usize| median(m.iter().map(|v| v[k]).collect());
            let (n, s) = (col(0), col(1));
            rows_of.push((name, s, col(2)));
            // esmc's children print the feature stage's and its compute's seconds
            // fourth and sixth; build.py with --features the features.sql seconds fifth
            let (features_s, compute_s) = match *runner {
                Runner::Esmc { off: false, .. } => {
                    (format!("{:.2}", col(3)), format!("{:.2}", col(5)))
                }
                Runner::DuckDb { features: true } => (format!("{:.2}", col(4)), "-".into()),
                _ => ("-".into(), "-".into()),
            };
            println!(
                "{size:>13} {name:<20} {n:>10.0} {s:>8.2} {:>12.0} {:>9.0} {features_s:>10} {compute_s:>10}",
                *size as f64 / s,
                col(2),
            );
        }
        print_ratios(*size, &rows_of);
    }
}

/// The targets at one size, from the rows' medians: DuckDB's seconds over
/// esmc's (labels; with features), the partitioned attribution against the single pass,
/// and the peak RSS with features.
fn print_ratios(size: u64, rows: &[(&str, f64, f64)]) {
    let get = |name: &str| rows.iter().find(|r| r.0 == name).map(|r| (r.1, r.2));
    let mut parts = Vec::new();
    let pairs = [
        ("labels DuckDB/esmc", DUCKDB_LABELS, ESMC_LABELS),
        ("features DuckDB/esmc", DUCKDB_FEATURES, ESMC),
        ("1 pass/partitioned", ESMC_ONE_PASS, ESMC_LABELS),
    ];
    for (label, slow, fast) in pairs {
        if let (Some(a), Some(b)) = (get(slow), get(fast)) {
            parts.push(format!("{label} {:.2}x", a.0 / b.0));
        }
    }
    for (label, name) in [("esmc", ESMC), ("DuckDB", DUCKDB_FEATURES)] {
        if let Some((_, mib)) = get(name) {
            parts.push(format!(
                "peak with features {label} {:.2} GiB",
                mib / 1024.0
            ));
        }
    }
    if !parts.is_empty() {
        println!("{size:>13} ratios: {}", parts.join(", "));
    }
}
