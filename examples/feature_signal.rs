//! Do the behaviour features carry signal? Simulates an `eleme` shop, builds one day and
//! prints each single feature's AUC against the labels: CTR-AUC over every sample
//! (feature vs click) and CVR-AUC over the clicked samples (feature vs purchase), the
//! way the trainer's metrics compute them (exact, ties half). Recency features count
//! as "more recent = higher" (their negation is scored); a missing one scores lowest.
//!
//! `cargo run --example feature_signal -- [--exposures N] [--days K] [--seed S] [--root DIR]`
//! (defaults 100000 rec exposures a day, 9 days, seed 42; the day built is the last one
//! whose 3-day attribution window is complete). The world is simulated into a temporary
//! directory unless `--root` names one.

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::datatypes::{Float32Type, Int8Type, Int32Type};
use esmc_pipeline::{BuildConfig, BuildOptions, Builder, NoProgress};
use esmc_sim::{NoProgress as SimQuiet, Preset, RunOptions, SimConfig};
use esmc_trainer::metrics::auc;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

// Long because: an example script: simulate, build, score each feature, print the table.
fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let opt = |name: &str, default: &str| -> String {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .cloned()
            .unwrap_or_else(|| default.to_string())
    };
    let exposures: u64 = opt("--exposures", "100000").parse()?;
    let days: u32 = opt("--days", "9").parse()?;
    let seed: u64 = opt("--seed", "42").parse()?;
    let tmp = tempfile::tempdir()?;
    let root = match args.iter().position(|a| a == "--root") {
        Some(i) => std::path::PathBuf::from(&args[i + 1]),
        None => tmp.path().to_path_buf(),
    };
    let sim = SimConfig::sized(Preset::Eleme, exposures, days, seed);
    esmc_sim::simulate(
        &sim,
        &root,
        RunOptions {
            threads: 0,
            overwrite: true,
        },
        &SimQuiet,
    )?;
    let cfg = BuildConfig::default();
    let d = sim.start + chrono::Days::new((days - 1 - cfg.attribution_window_days) as u64);
    let builder = Builder::new(&root, cfg, BuildOptions::default());
    let rt = tokio::runtime::Runtime::new()?;
    let report = rt.block_on(builder.build(d, &NoProgress))?;
    let mut batches = Vec::new();
    for e in std::fs::read_dir(&report.partition)? {
        let p = e?.path();
        if p.extension().is_some_and(|x| x == "parquet") {
            let r = ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(&p)?)?.build()?;
            for b in r {
                batches.push(b?);
            }
        }
    }
    let b: RecordBatch = arrow::compute::concat_batches(&batches[0].schema(), &batches)?;
    let label = |name: &str| -> Vec<f32> {
        b.column_by_name(name)
            .unwrap()
            .as_primitive::<Int8Type>()
            .values()
            .iter()
            .map(|&v| v as f32)
            .collect()
    };
    let click = label("click");
    let purchase = label("purchase");
    let clicked: Vec<usize> = (0..b.num_rows()).filter(|&r| click[r] == 1.0).collect();
    println!(
        "eleme, {exposures} rec exposures/day x {days} days, seed {seed}; day {d}: {} samples, {} clicks, {} purchases, features {:.2} s of a {:.2} s build",
        b.num_rows(),
        clicked.len(),
        purchase.iter().sum::<f32>(),
        report.stage_secs.get("features").copied().unwrap_or(0.0),
        report.stage_secs.get("total").copied().unwrap_or(0.0),
    );
    println!("{:<22} {:>9} {:>9}", "feature", "CTR-AUC", "CVR-AUC");
    let features = [
        "item_in_cart",
        "secs_since_click",
        "secs_since_cart",
        "item_ctr_1d",
        "item_ctr_7d",
        "item_ctr_30d",
        "item_cvr_7d",
        "item_cvr_30d",
        "item_buy_7d",
        "cat_ctr_7d",
        "cat_cvr_7d",
        "user_ctr_7d",
        "user_cvr_7d",
        "user_clk_7d",
        "user_buy_30d",
        "uc_affinity_7d",
        "uc_buy_30d",
    ];
    for name in features {
        let c = b.column_by_name(name).expect("feature column");
        let score: Vec<f32> = (0..b.num_rows())
            .map(|r| {
                if c.is_null(r) {
                    return f32::MIN;
                }
                if let Some(a) = c.as_primitive_opt::<Float32Type>() {
                    let v = a.value(r);
                    if name.starts_with("secs_since") {
                        -v
                    } else {
                        v
                    }
                } else if let Some(a) = c.as_primitive_opt::<Int32Type>() {
                    a.value(r) as f32
                } else {
                    c.as_primitive::<Int8Type>().value(r) as f32
                }
            })
            .collect();
        let ctr = auc(&score, &click);
        let s: Vec<f32> = clicked.iter().map(|&r| score[r]).collect();
        let l: Vec<f32> = clicked.iter().map(|&r| purchase[r]).collect();
        let cvr = auc(&s, &l);
        let f = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{v:.4}"));
        println!("{name:<22} {:>9} {:>9}", f(ctr), f(cvr));
    }
    Ok(())
}
