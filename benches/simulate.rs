//! Benchmark of `esmc simulate`: rows written per second and peak memory for one `eleme`
//! day of 10M rec exposures, against a reference run in the same invocation: encoding
//! the very same rows with the same Parquet settings, without simulating them (the floor
//! that Parquet writing alone sets).
//!
//! `scripts/bench.sh simulate [--exposures N] [--runs R] [--threads T]`. Each measurement runs in a child process so that peak
//! RSS (VmHWM) is its own.

use esmc_sim::{NoProgress, Preset, RunOptions, SimConfig};
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use std::path::{Path, PathBuf};
use std::time::Instant;

mod common;
use common::{measure, median, peak_rss_mib};

fn parquet_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            parquet_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "parquet") {
            out.push(path);
        }
    }
}

/// Child: simulate one day into `root`; prints `rows secs peak_mib`.
fn child_simulate(root: &Path, exposures: u64, threads: usize) {
    let cfg = SimConfig::sized(Preset::Eleme, exposures, 1, 42);
    let started = Instant::now();
    let summary = esmc_sim::simulate(
        &cfg,
        root,
        RunOptions {
            threads,
            overwrite: true,
        },
        &NoProgress,
    )
    .expect("simulation runs");
    let secs = started.elapsed().as_secs_f64();
    let rows: u64 = summary.rows.iter().map(|c| c.rows).sum();
    println!("{rows} {secs} {}", peak_rss_mib());
}

/// Child: re-encode every file under `root` (read first, untimed); prints
/// `rows secs peak_mib`.
fn child_encode(root: &Path, out: &Path, threads: usize) {
    let mut files = Vec::new();
    parquet_files(&root.join("logs"), &mut files);
    files.sort();
    let tables: Vec<_> = files
        .iter()
        .map(|f| {
            let reader = ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(f).unwrap())
                .unwrap()
                .build()
                .unwrap();
            let batches: Vec<_> = reader.map(|b| b.unwrap()).collect();
            (f.clone(), batches)
        })
        .collect();
    let rows: usize = tables
        .iter()
        .flat_map(|(_, b)| b.iter().map(|b| b.num_rows()))
        .sum();
    std::fs::create_dir_all(out).unwrap();
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap();
    let started = Instant::now();
    pool.install(|| {
        use rayon::prelude::*;
        tables.par_iter().enumerate().for_each(|(i, (_, batches))| {
            let file = std::fs::File::create(out.join(format!("{i}.parquet"))).unwrap();
            let schema = batches[0].schema();
            let mut w =
                ArrowWriter::try_new(file, schema, Some(esmc_sim::writer_properties())).unwrap();
            for b in batches {
                w.write(b).unwrap();
            }
            w.close().unwrap();
        })
    });
    let secs = started.elapsed().as_secs_f64();
    println!("{rows} {secs} {}", peak_rss_mib());
}

// Long because: a benchmark script: flags, the timed runs, the files checked, the figures.
fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    let opt = |name: &str, default: u64| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .map_or(default, |v| v.parse().expect("a number"))
    };
    let threads = opt("--threads", 0) as usize;
    match args.first().map(String::as_str) {
        Some("--child-simulate") => {
            return child_simulate(Path::new(&args[1]), opt("--exposures", 0), threads);
        }
        Some("--child-encode") => {
            return child_encode(Path::new(&args[1]), Path::new(&args[2]), threads);
        }
        _ => {}
    }
    let exposures = opt("--exposures", 10_000_000);
    let runs = opt("--runs", 3);
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("w");
    let t = threads.to_string();
    let e = exposures.to_string();
    let (mut sim_rate, mut sim_rss, mut enc_rate, mut enc_secs, mut sim_secs) =
        (vec![], vec![], vec![], vec![], vec![]);
    let mut rows = 0.0;
    for run in 0..runs {
        let v = measure(&[
            "--child-simulate".into(),
            root.display().to_string(),
            "--exposures".into(),
            e.clone(),
            "--threads".into(),
            t.clone(),
        ]);
        let (r, secs, rss) = (v[0], v[1], v[2]);
        rows = r;
        sim_rate.push(r / secs);
        sim_secs.push(secs);
        sim_rss.push(rss);
        let out = dir.path().join(format!("encode-{run}"));
        let v = measure(&[
            "--child-encode".into(),
            root.display().to_string(),
            out.display().to_string(),
            "--threads".into(),
            t.clone(),
        ]);
        let (r2, secs2) = (v[0], v[1]);
        std::fs::remove_dir_all(&out).unwrap();
        enc_rate.push(r2 / secs2);
        enc_secs.push(secs2);
        eprintln!(
            "run {}: simulate {secs:.2}s ({:.2}M rows/s, peak {rss:.0} MiB); encode only {secs2:.2}s",
            run + 1,
            r / secs / 1e6
        );
    }
    let mut bytes = 0u64;
    let mut files = Vec::new();
    parquet_files(&root.join("logs"), &mut files);
    for f in &files {
        bytes += std::fs::metadata(f).unwrap().len();
    }
    println!(
        "simulate eleme, {exposures} rec exposures, 1 day, threads {} ({runs} runs, medians)",
        if threads == 0 { "all".into() } else { t }
    );
    println!(
        "  rows written         {rows:.0} in {} files, {:.0} MiB",
        files.len(),
        bytes as f64 / (1 << 20) as f64
    );
    println!(
        "  simulate             {:.2} s   {:.2} M rows/s   peak RSS {:.0} MiB",
        median(sim_secs),
        median(sim_rate.clone()) / 1e6,
        median(sim_rss)
    );
    println!(
        "  reference: encode    {:.2} s   {:.2} M rows/s   (same rows, same Parquet settings)",
        median(enc_secs),
        median(enc_rate.clone()) / 1e6
    );
    println!(
        "  simulate / encode-only throughput: {:.2}",
        median(sim_rate) / median(enc_rate)
    );
}
