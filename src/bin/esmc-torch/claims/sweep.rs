//! `esmc claims --sweep-constraint`: ESMC's constraint weight w4 swept under Adam and
//! AdagradDecay, for both readings of the constraint (softmax, gaussian), in the default
//! world with the cart-elsewhere mechanism; each run reports the entire-space CVR E-AUC
//! and the tower gap Σ_l ||W_car − W_cvr||² after its last day.
//!
//! ```text
//! 8 w4 × 2 optimizers × 2 readings = 32 configs, each `seeds` ESMC runs (compare's
//! workers, `jobs` configs at a time) ─▶ OUT/sweep.{md,csv}
//! ```

use super::catalog::{Scale, World};
use super::{build_world, run_group};
use crate::compare::run_file;
use crate::compare::table::mean_std;
use anyhow::{Result, bail};
use esmc_sim::Mechanism;
use esmc_trainer::ModelKind;
use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

/// The swept constraint weights.
pub const W4: [f64; 8] = [0.0, 0.01, 0.05, 0.1, 0.5, 1.0, 10.0, 100.0];

/// The optimizers: name and TOML block.
const OPTIMIZERS: [(&str, &str); 2] = [
    ("adam", "[optimizer]\nkind = \"adam\"\nlr = 0.003\n"),
    (
        "adagrad-decay",
        "[optimizer]\nkind = \"adagrad\"\ninitial_accumulator = 0.0\naccumulator_decay = 0.9999\n\
         eps = 1e-10\nlr = 0.005\n",
    ),
];

const READINGS: [&str; 2] = ["softmax", "gaussian"];

/// One config of the sweep and its results.
struct Point {
    reading: &'static str,
    optimizer: &'static str,
    w4: f64,
    eauc: Vec<f64>,
    gap: Vec<f64>,
}

pub fn run(
    out: &Path,
    scale: &Scale,
    jobs: Option<u64>,
    quiet: bool,
    started: Instant,
) -> Result<()> {
    let built = build_world(World::With(Mechanism::CartElsewhere), scale, quiet)?;
    let mut points = Vec::new();
    for reading in READINGS {
        for (optimizer, block) in OPTIMIZERS {
            for w4 in W4 {
                points.push((reading, optimizer, block, w4));
            }
        }
    }
    let dir = out.join("sweep");
    std::fs::create_dir_all(&dir)?;
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let jobs = jobs.map_or(cores, |j| j as usize).max(1);
    eprintln!(
        "constraint sweep ({} scale): {} configs × {} seed(s), {jobs} at a time -> {}",
        scale.name,
        points.len(),
        scale.seeds,
        dir.display()
    );
    let next = AtomicUsize::new(0);
    let results = Mutex::new(Vec::new());
    let errors = Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..jobs {
            s.spawn(|| {
                while let Some(&(reading, optimizer, block, w4)) =
                    points.get(next.fetch_add(1, Ordering::Relaxed))
                {
                    let name = format!("{reading}-{optimizer}-w4-{w4}");
                    let run = run_config(&built, &dir, &name, scale.seeds, reading, block, w4);
                    match run.and_then(|d| read_point(&d, scale.seeds)) {
                        Ok((eauc, gap)) => results.lock().unwrap().push(Point {
                            reading,
                            optimizer,
                            w4,
                            eauc,
                            gap,
                        }),
                        Err(e) => errors.lock().unwrap().push(format!("{name}: {e:#}")),
                    }
                }
            });
        }
    });
    let errors = errors.into_inner().unwrap();
    let mut results = results.into_inner().unwrap();
    results.sort_by(|a, b| {
        (a.reading, a.optimizer)
            .cmp(&(b.reading, b.optimizer))
            .then(a.w4.total_cmp(&b.w4))
    });
    let wall = started.elapsed().as_secs_f64();
    let md = markdown(&results, scale, wall);
    std::fs::write(out.join("sweep.md"), &md)?;
    std::fs::write(out.join("sweep.csv"), csv(&results))?;
    println!("{md}");
    println!(
        "wrote {0}/sweep.md and sweep.csv ({wall:.0}s)",
        out.display()
    );
    if !errors.is_empty() {
        bail!(
            "{} sweep configs failed: {}",
            errors.len(),
            errors.join("; ")
        );
    }
    Ok(())
}

/// Runs ESMC under one config of the sweep (written to `dir/<name>.toml`) into
/// `dir/<name>`; returns that directory.
fn run_config(
    built: &super::Built,
    dir: &Path,
    name: &str,
    seeds: u64,
    reading: &str,
    optimizer_block: &str,
    w4: f64,
) -> Result<std::path::PathBuf> {
    let cfg = dir.join(format!("{name}.toml"));
    let text = format!(
        "embedding_dim = 8\nhidden = [64, 32]\nbatch_size = 512\n\
         constraint = \"{reading}\"\nconstraint_weight = {w4:?}\n{optimizer_block}"
    );
    std::fs::write(&cfg, text)?;
    let models = vec![ModelKind::Esmc];
    run_group(built, models, seeds, &cfg, dir.join(name), Some(1), true)
}

/// The entire-space CVR E-AUC and tower gap of each seed's run.
fn read_point(dir: &Path, seeds: u64) -> Result<(Vec<f64>, Vec<f64>)> {
    let (mut eauc, mut gap) = (Vec::new(), Vec::new());
    for s in 1..=seeds {
        let file = run_file(dir, ModelKind::Esmc, s);
        let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&file)?)?;
        if v["status"] != "ok" {
            bail!("{}: {}", file.display(), v["error"]);
        }
        let m = &v["metrics"];
        eauc.extend(m["es_cvr_eauc"].as_f64());
        gap.extend(m["tower_gap"].as_f64());
    }
    Ok((eauc, gap))
}

fn markdown(points: &[Point], scale: &Scale, wall: f64) -> String {
    let mut out = String::from(
        "| reading | optimizer | w4 | CVR E-AUC entire-space | tower gap |\n| --- | --- | ---: | ---: | ---: |\n",
    );
    for p in points {
        let cell = |xs: &[f64], d: usize| match mean_std(xs) {
            None => "-".to_string(),
            Some(s) => match s.std {
                Some(sd) => format!("{:.d$} ± {sd:.d$}", s.mean),
                None => format!("{:.d$}", s.mean),
            },
        };
        out += &format!(
            "| {} | {} | {} | {} | {} |\n",
            p.reading,
            p.optimizer,
            p.w4,
            cell(&p.eauc, 4),
            cell(&p.gap, 2)
        );
    }
    out += &format!(
        "\nESMC in the eleme world with carts bought in another visit, {} rec exposures a day, \
         {} train days, 1 test day, {} seed(s) (mean ± sd), small towers; tower gap: \
         Σ_l ||W_car − W_cvr||² after the last day learnt; {wall:.0} s.\n",
        scale.exposures, scale.train_days, scale.seeds
    );
    out
}

fn csv(points: &[Point]) -> String {
    let mut out = String::from("reading,optimizer,w4,seed,es_cvr_eauc,tower_gap\n");
    for p in points {
        for (i, (e, g)) in p.eauc.iter().zip(&p.gap).enumerate() {
            out += &format!("{},{},{},{},{e},{g}\n", p.reading, p.optimizer, p.w4, i + 1);
        }
    }
    out
}
