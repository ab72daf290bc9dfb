//! Training throughput of the model family against the PyTorch loop that public ESMM
//! code is written like (`benches/peer/esmm_torch.py`), in the same invocation.
//!
//! `cargo bench --bench train -- [--n 200000] [--runs 3] [--threads 2]
//! [--python PATH] [--no-python]`
//!
//! Data: the peer's synthetic set (20 sparse fields of 100k ids, click 5%, purchase 10% of
//! clicks), written once as Parquet and read through esmc's full data path (hashing,
//! shuffle buffer, tensors); model: the esmm-2018 preset (dim 18, towers 360x200x80,
//! Adam, batch 1024). Each measurement runs in a child process (one epoch), so peak RSS
//! is its own. Reported: median samples/s over `runs`, the time split of the reading
//! thread vs compute, and the "towers only" ceiling (fwd + bwd + Adam of the two towers on
//! a dense input, no embeddings).

use arrow::array::{ArrayRef, Int8Array, Int64Array, RecordBatch};
use esmc_trainer::data;
use esmc_trainer::nn::{Act, Mlp, ParamStore};
use esmc_trainer::optim::Optimizer;
use esmc_trainer::spec::{FeatureSpec, SparseSpec};
use esmc_trainer::tch::{self, Kind, Tensor};
use esmc_trainer::train::Silent;
use esmc_trainer::{ModelKind, TrainConfig, Trainer};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Instant;

mod common;
use common::{measure, median, peak_rss_mib};

const FIELDS: usize = 20;
const VOCAB: u64 = 100_000;

/// The peer's data set as one Parquet file.
fn write_data(path: &Path, n: usize) {
    let mut s = 0x2545_f491_4f6c_dd1du64;
    let mut next = || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        s
    };
    let mut cols: Vec<(String, ArrayRef)> = Vec::new();
    for f in 0..FIELDS {
        let v: Vec<i64> = (0..n).map(|_| (next() % VOCAB) as i64).collect();
        cols.push((format!("f{f}"), Arc::new(Int64Array::from(v))));
    }
    let click: Vec<i8> = (0..n).map(|_| (next() % 1000 < 50) as i8).collect();
    let buy: Vec<i8> = click
        .iter()
        .map(|c| c * ((next() % 1000 < 100) as i8))
        .collect();
    let zeros = || Arc::new(Int8Array::from(vec![0i8; n])) as ArrayRef;
    cols.push((
        "sample_id".into(),
        Arc::new(Int64Array::from((0..n as i64).collect::<Vec<_>>())),
    ));
    cols.push(("user_id".into(), cols[0].1.clone()));
    cols.push(("click".into(), Arc::new(Int8Array::from(click))));
    cols.push(("purchase".into(), Arc::new(Int8Array::from(buy.clone()))));
    cols.push(("cart_cal".into(), Arc::new(Int8Array::from(buy.clone()))));
    cols.push((
        "cart_global_cal".into(),
        Arc::new(Int8Array::from(buy.clone())),
    ));
    cols.push(("cart".into(), Arc::new(Int8Array::from(buy.clone()))));
    cols.push(("dma".into(), Arc::new(Int8Array::from(buy))));
    for l in ["dmi", "wish", "bad_case"] {
        cols.push((l.into(), zeros()));
    }
    let batch = RecordBatch::try_from_iter(cols).unwrap();
    let mut w = parquet::arrow::ArrowWriter::try_new(
        std::fs::File::create(path).unwrap(),
        batch.schema(),
        None,
    )
    .unwrap();
    w.write(&batch).unwrap();
    w.close().unwrap();
}

fn spec() -> FeatureSpec {
    FeatureSpec {
        sparse: (0..FIELDS)
            .map(|f| SparseSpec {
                column: format!("f{f}"),
                name: None,
                buckets: Some(VOCAB),
                dim: None,
                group: None,
            })
            .collect(),
        ..Default::default()
    }
}

/// Child: one epoch of `model` over the file; prints `samples/s decode_s compute_s wait_s peak_mib`.
fn child_train(model: &str, file: &Path, threads: i32) {
    let mut cfg = TrainConfig::for_model(model.parse::<ModelKind>().unwrap());
    cfg.apply_preset("esmm-2018").unwrap();
    cfg.threads = threads;
    let files = vec![file.to_path_buf()];
    let schema = data::file_schema(file).unwrap();
    let norm = data::NormStats::default();
    let mut t = Trainer::new(cfg, spec(), Some(&schema), norm).unwrap();
    let s = t.train_files(&files, 1, &Silent).unwrap();
    println!(
        "{} {} {} {} {}",
        s.samples_per_s(),
        s.load.decode.as_secs_f64(),
        s.compute.as_secs_f64(),
        s.load.wait.as_secs_f64(),
        peak_rss_mib()
    );
}

/// Child: the towers alone (ESMM's two 360x200x80 towers, fwd + bwd + Adam) on a dense
/// random input; prints samples/s. `fused`: the two first layers as one 360x400 matmul
/// (an experiment: slower here, see the README).
fn child_towers(n: usize, threads: i32, fused: bool) {
    tch::set_num_threads(threads);
    tch::manual_seed(1);
    let mut ps = ParamStore::default();
    let width = (FIELDS * 18) as i64;
    let ctr = Mlp::new(&mut ps, "ctr", width, &[200, 80], 1, Act::Relu, 0.0);
    let cvr = Mlp::new(&mut ps, "cvr", width, &[200, 80], 1, Act::Relu, 0.0);
    let cfg = TrainConfig::default().optimizer;
    let mut opt = Optimizer::new(cfg, &ps.tensors, &[]);
    let x = Tensor::randn([n as i64, width], (Kind::Float, tch::Device::Cpu));
    let y = Tensor::rand([n as i64], (Kind::Float, tch::Device::Cpu))
        .lt(0.05)
        .to_kind(Kind::Float);
    // layers 1.. of a tower on its first layer's activations
    let tail = |m: &Mlp, h: &Tensor| {
        m.layers[2]
            .forward(&m.layers[1].forward(h).relu())
            .squeeze_dim(1)
            .sigmoid()
    };
    let started = Instant::now();
    for i in (0..n as i64).step_by(1024) {
        let len = 1024.min(n as i64 - i);
        let xb = x.narrow(0, i, len);
        let yb = y.narrow(0, i, len);
        let (p1, p2) = if fused {
            let w = Tensor::cat(&[&ctr.layers[0].weight, &cvr.layers[0].weight], 0);
            let b = Tensor::cat(&[&ctr.layers[0].bias, &cvr.layers[0].bias], 0);
            let hs = xb.linear(&w, Some(&b)).relu().split(200, 1);
            (tail(&ctr, &hs[0]), tail(&cvr, &hs[1]))
        } else {
            (ctr.prob(&xb, true), cvr.prob(&xb, true))
        };
        let loss =
            esmc_trainer::models::bce(&p1, &yb) + esmc_trainer::models::bce(&(&p1 * &p2), &yb);
        loss.backward();
        opt.step_dense(&mut ps.tensors);
    }
    println!(
        "{} 0 0 0 {}",
        n as f64 / started.elapsed().as_secs_f64(),
        peak_rss_mib()
    );
}

/// FLOPs per sample of ESMM's two towers (360x200x80x1, multiply-add = 2) for forward
/// and backward: without and with the gradient of the towers' input.
fn tower_flops() -> (f64, f64) {
    let dims = [(FIELDS * 18) as f64, 200.0, 80.0, 1.0];
    let mut per_tower = 0.0;
    for (l, w) in dims.windows(2).enumerate() {
        let mac = w[0] * w[1];
        // forward + weight gradient, and the input gradient except for the first layer
        per_tower += 2.0 * mac * if l == 0 { 2.0 } else { 3.0 };
    }
    let input_grad = 2.0 * dims[0] * dims[1];
    (2.0 * per_tower, 2.0 * (per_tower + input_grad))
}

/// Child (ad hoc, `--child profile:<model>`): time of each phase of a training step.
fn child_profile(model: &str, file: &Path, threads: i32) {
    let mut cfg = TrainConfig::for_model(model.parse::<ModelKind>().unwrap());
    cfg.apply_preset("esmm-2018").unwrap();
    cfg.threads = threads;
    let schema = data::file_schema(file).unwrap();
    let mut t = Trainer::new(cfg, spec(), Some(&schema), data::NormStats::default()).unwrap();
    let mut loader = data::Loader::start(
        vec![file.to_path_buf()],
        t.spec.clone(),
        t.norm.clone(),
        data::LoaderConfig {
            batch_size: 1024,
            shuffle_rows: 65536,
            seed: 1,
        },
    );
    let mut phase = [0f64; 4];
    let mut n = 0;
    while let Some(b) = loader.next_batch() {
        let b = b.unwrap();
        let c = Instant::now();
        let pass = t.model.forward(&b, true);
        let _ = pass.loss.double_value(&[]);
        phase[0] += c.elapsed().as_secs_f64();
        let c = Instant::now();
        pass.loss.backward();
        phase[1] += c.elapsed().as_secs_f64();
        let c = Instant::now();
        let net = t.model.net_mut();
        t.optim.step_dense(&mut net.ps.tensors);
        phase[2] += c.elapsed().as_secs_f64();
        let c = Instant::now();
        for (e, touched) in pass.touched.iter().enumerate() {
            t.optim.step_rows(e, &mut net.emb[e].tables, touched);
        }
        phase[3] += c.elapsed().as_secs_f64();
        n += b.len;
    }
    let huge = std::fs::read_to_string("/proc/self/smaps_rollup")
        .unwrap_or_default()
        .lines()
        .find_map(|l| {
            l.strip_prefix("AnonHugePages:")
                .map(|v| v.trim().to_string())
        })
        .unwrap_or_default();
    println!(
        "{n} samples: forward {:.2}s backward {:.2}s dense step {:.2}s row step {:.2}s (huge pages: {huge})",
        phase[0], phase[1], phase[2], phase[3]
    );
    let s = t.train_files(&[file.to_path_buf()], 2, &Silent).unwrap();
    println!(
        "then an epoch through Trainer::train_files: compute {:.2}s, {:.0} samples/s",
        s.compute.as_secs_f64(),
        s.samples_per_s()
    );
}

fn run_python(python: &Path, peer: &Path, n: usize, threads: i32, sparse: bool) -> Option<f64> {
    let mut cmd = Command::new(python);
    cmd.arg(peer)
        .args(["--n", &n.to_string(), "--threads", &threads.to_string()]);
    if sparse {
        cmd.arg("--sparse");
    }
    let out = cmd.output().ok()?;
    if !out.status.success() {
        eprintln!(
            "python peer failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        return None;
    }
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("samples_per_s "))
        .and_then(|v| v.trim().parse().ok())
}

// Long because: a benchmark script: flags, one child per configuration, the table.
fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let get = |flag: &str| {
        args.iter()
            .position(|a| a == flag)
            .map(|i| args[i + 1].clone())
    };
    let threads: i32 = get("--threads").map_or(2, |v| v.parse().unwrap());
    if let Some(model) = get("--child") {
        let n: usize = get("--n").unwrap().parse().unwrap();
        if let Some(m) = model.strip_prefix("profile:") {
            child_profile(m, Path::new(&get("--file").unwrap()), threads);
        } else if model == "towers-fused" {
            child_towers(n, threads, true);
        } else if model == "towers" {
            child_towers(n, threads, false);
        } else {
            child_train(&model, Path::new(&get("--file").unwrap()), threads);
        }
        return;
    }
    let n: usize = get("--n").map_or(200_000, |v| v.parse().unwrap());
    let runs: usize = get("--runs").map_or(3, |v| v.parse().unwrap());
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let peer = root.join("benches/peer/esmm_torch.py");
    let cache = std::env::var("ESMC_CACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|_| {
            PathBuf::from(std::env::var("HOME").unwrap_or_default()).join(".cache/esmc")
        });
    let python = get("--python")
        .map(PathBuf::from)
        .unwrap_or_else(|| cache.join("pyenv/bin/python"));
    let with_python = !args.iter().any(|a| a == "--no-python") && python.exists() && peer.exists();

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("peer.parquet");
    write_data(&file, n);
    // a child's arguments: `--child <kind>` and the shared size, threads and file
    let child_args = |kind: &str| -> Vec<String> {
        vec![
            "--child".into(),
            kind.into(),
            "--n".into(),
            n.to_string(),
            "--threads".into(),
            threads.to_string(),
            "--file".into(),
            file.display().to_string(),
        ]
    };
    if let Some(m) = get("--profile") {
        let out = Command::new(std::env::current_exe().unwrap())
            .args(child_args(&format!("profile:{m}")))
            .output()
            .unwrap();
        print!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        return;
    }
    println!(
        "training throughput, {n} samples/epoch, {threads} threads, median of {runs} runs (one epoch each)"
    );
    println!(
        "{:<34} {:>11} {:>9} {:>9} {:>8} {:>9}",
        "variant", "samples/s", "decode s", "compute s", "wait s", "peak MiB"
    );
    let mut results: Vec<(String, f64)> = Vec::new();
    let mut ours = |label: &str, child: &str| {
        let mut rows = Vec::new();
        for _ in 0..runs {
            rows.push(measure(&child_args(child)));
        }
        let col = |i: usize| median(rows.iter().map(|r| r[i]).collect());
        println!(
            "{:<34} {:>11.0} {:>9.2} {:>9.2} {:>8.2} {:>9.0}",
            label,
            col(0),
            col(1),
            col(2),
            col(3),
            col(4)
        );
        results.push((label.to_string(), col(0)));
    };
    ours("esmc: towers only (ceiling)", "towers");
    if args.iter().any(|a| a == "--fused-towers") {
        ours("esmc: towers only, fused", "towers-fused");
        ours("esmc: towers only (ceiling)", "towers");
        ours("esmc: towers only, fused", "towers-fused");
        return;
    }
    ours("esmc: ESMM esmm-2018, Parquet in", "esmm");
    ours("esmc: ESMC esmm-2018 dims", "esmc");
    ours("esmc: HM3 esmm-2018 dims", "hm3");
    if with_python {
        for (label, sparse, r) in [
            ("pytorch: ESMM --sparse", true, runs),
            ("pytorch: ESMM dense", false, 1),
        ] {
            let v: Vec<f64> = (0..r)
                .filter_map(|_| run_python(&python, &peer, n, threads, sparse))
                .collect();
            if !v.is_empty() {
                let m = median(v);
                println!("{:<34} {:>11.0}   (median of {r})", label, m);
                results.push((label.to_string(), m));
            }
        }
        let esmm = results
            .iter()
            .find(|r| r.0.contains("ESMM esmm-2018"))
            .map(|r| r.1)
            .unwrap();
        if let Some(best) = results
            .iter()
            .filter(|r| r.0.starts_with("pytorch"))
            .map(|r| r.1)
            .reduce(f64::max)
        {
            println!(
                "ratio esmc ESMM / best PyTorch variant: {:.2}x",
                esmm / best
            );
            // ESMM must also compute the gradient of the towers' input (the embeddings),
            // which the towers-only run does not: at the towers' own arithmetic rate, that
            // bounds ESMM from above whatever the embedding path costs.
            let (towers, with_input) = tower_flops();
            let ceiling = results[0].1 * towers / with_input;
            println!(
                "towers: {:.2} MFLOP/sample at {:.0} GFLOP/s; ESMM with the input gradient: {:.2} MFLOP/sample",
                towers / 1e6,
                results[0].1 * towers / 1e9,
                with_input / 1e6
            );
            println!(
                "ESMM bound at the towers' rate: {ceiling:.0} samples/s = {:.2}x the best PyTorch variant",
                ceiling / best
            );
        }
    } else if args.iter().any(|a| a == "--no-python") {
        println!("(PyTorch peer skipped: --no-python)");
    } else {
        println!(
            "(PyTorch peer skipped: no {} or no {})",
            python.display(),
            peer.display()
        );
    }
}
