//! `esmc nightly`: the build of the attribution window, then (with `--run`) the training
//! of every newly matured day. It lives in `esmc-torch` because it trains; its options,
//! locks and summary table are `esmc build`'s (`esmc::build`).

use anyhow::Result;
use chrono::NaiveDate;
use esmc::build::{Common, HEADER, exit, lock, row, runtime};

#[derive(clap::Args)]
pub struct NightlyArgs {
    #[command(flatten)]
    common: Common,
    /// The night's day: partitions of [dt - attribution window, dt] are checked.
    #[arg(long)]
    dt: NaiveDate,
    /// After the build, train this run on every newly matured day (test-then-train,
    /// checkpoint per day); a new run starts at the first day with samples.
    #[arg(long)]
    run: Option<String>,
    /// Model of a new run (default esmc; an existing run keeps its model).
    #[arg(long, requires = "run")]
    model: Option<String>,
    #[command(flatten)]
    model_opts: crate::train::ModelOpts,
}

/// `esmc nightly`: the build, then (with `--run`) the training; returns the exit code.
pub fn nightly(args: NightlyArgs, quiet: bool) -> std::process::ExitCode {
    match nightly_inner(args, quiet) {
        Ok(code) => std::process::ExitCode::from(code),
        // exit::FAILED or exit::BUSY, printed as every command's error
        Err(e) => esmc::cli::exit_code(Err(e)),
    }
}

fn nightly_inner(args: NightlyArgs, quiet: bool) -> Result<u8> {
    let root = &args.common.root;
    let _nightly = lock(
        &esmc_schemas::lock::nightly_lock_path(root),
        "the nightly of this warehouse",
        args.common.wait,
    )?;
    // the run's lock before any work, so a busy run stops the night before it builds
    let _run = match &args.run {
        Some(run) => Some(lock(
            &esmc_schemas::lock::run_lock_path(root, run),
            &format!("run '{run}'"),
            args.common.wait,
        )?),
        None => None,
    };
    let builder = args.common.builder()?;
    let runtime = runtime()?;
    let progress = crate::progress::Stages::new(quiet);
    let days = runtime.block_on(builder.nightly(args.dt, &progress))?;
    progress.finish();
    for d in &days {
        let action = if d.decision.rebuild() {
            "rebuilt"
        } else {
            "kept"
        };
        println!("{}  {action:<8} {}", d.day, d.decision.reason());
    }
    println!("{HEADER}");
    for d in &days {
        if let Some(m) = &d.manifest {
            println!("{}", row(m));
        }
    }
    let rebuilt = days.iter().filter(|d| d.decision.rebuild()).count();
    println!("{rebuilt} of {} partitions rebuilt", days.len());
    let mut trained = false;
    if let Some(run) = &args.run {
        let model = args.model.as_deref().map(str::parse).transpose()?;
        let wh = esmc_schemas::Warehouse::new(&args.common.root);
        trained = crate::train::nightly_train(&wh, run, model, &args.model_opts, quiet)?;
    }
    let tonight = days.iter().find(|d| d.day == args.dt);
    Ok(
        if tonight.is_some_and(|d| matches!(d.decision, esmc_pipeline::Decision::NoInput)) {
            println!("no exposure logs for {}: input missing", args.dt);
            exit::INPUT_MISSING
        } else if rebuilt == 0 && !trained {
            exit::NOTHING_TO_DO
        } else {
            exit::DONE
        },
    )
}
