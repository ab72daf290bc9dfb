//! `esmc stats`: the daily health of a day's samples, each label rate against its
//! trailing-week mean, flagged past a threshold (exit code 3).

use super::{Session, explain};
use anyhow::Result;
use chrono::NaiveDate;
use esmc_sql::output::Format;
use esmc_sql::stats;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct StatsArgs {
    /// Warehouse root.
    #[arg(long)]
    root: PathBuf,
    /// The day to check (YYYY-MM-DD); its samples must be built.
    #[arg(long)]
    dt: NaiveDate,
    /// Flag a label rate that moved more than this (relative) from the trailing-week mean.
    #[arg(long, default_value_t = 0.2, value_parser = parse_threshold)]
    threshold: f64,
    /// Engine threads (0 = all cores).
    #[arg(long, default_value_t = 0)]
    threads: usize,
}

fn parse_threshold(s: &str) -> std::result::Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v.is_finite() && v >= 0.0 => Ok(v),
        _ => Err(format!("`{s}` is not a number >= 0")),
    }
}

/// `esmc stats`: exit 0 when healthy, 3 when a label rate is flagged, 1 on error.
pub fn stats(args: StatsArgs) -> ExitCode {
    match stats_inner(&args) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(3),
        Err(e) => {
            eprintln!("error: {}", crate::error::Causes(&e));
            ExitCode::FAILURE
        }
    }
}

/// Prints the health report; `Ok(false)` when something is flagged.
fn stats_inner(args: &StatsArgs) -> Result<bool> {
    let session = Session::open(&args.root, args.threads, None)?;
    let health = session
        .rt
        .block_on(stats::daily_health(
            &session.ctx,
            &session.catalogue,
            args.dt,
            args.threshold,
        ))
        .map_err(explain)?;
    let mut out = std::io::stdout().lock();
    let trailing = match (health.trailing_days.first(), health.trailing_days.last()) {
        (Some(a), Some(b)) => format!("{a}..{b} ({} days)", health.trailing_days.len()),
        _ => "none".into(),
    };
    writeln!(
        out,
        "daily health of {}: {} samples; trailing days with samples: {trailing}",
        health.dt, health.samples
    )?;
    writeln!(
        out,
        "{:<16} {:>9} {:>14} {:>9}",
        "label", "rate", "trailing mean", "change"
    )?;
    for c in &health.checks {
        let mean = c.trailing_mean.map_or("-".into(), |m| format!("{m:.5}"));
        let change = c
            .change
            .map_or("-".into(), |v| format!("{:+.1}%", 100.0 * v));
        let flag = if c.flagged { "  FLAGGED" } else { "" };
        writeln!(
            out,
            "{:<16} {:>9.5} {:>14} {:>9}{flag}",
            c.label, c.rate, mean, change
        )?;
    }
    let flagged: Vec<String> = health
        .flagged()
        .map(|c| {
            let change = c.change.unwrap_or(0.0);
            format!("{} ({:+.1}%)", c.label, 100.0 * change)
        })
        .collect();
    if flagged.is_empty() {
        writeln!(
            out,
            "no label rate moved more than {:.0}% from the trailing mean",
            100.0 * args.threshold
        )?;
    } else {
        writeln!(
            out,
            "FLAGGED: {} moved more than {:.0}% from the trailing mean",
            flagged.join(", "),
            100.0 * args.threshold
        )?;
    }
    let first = args.dt - chrono::Days::new(stats::TRAILING_DAYS);
    for (name, batches) in &health.sections {
        writeln!(out, "\n== {name} ({first} .. {}) ==", args.dt)?;
        let Some(schema) = batches.first().map(|b| b.schema()) else {
            writeln!(out, "(no rows)")?;
            continue;
        };
        let bytes = esmc_sql::output::to_bytes(Format::Table, schema, batches)?;
        out.write_all(&bytes)?;
    }
    Ok(flagged.is_empty())
}
