//! The claims table: per claim, A's improvement over B with its paired 95% interval in
//! the world with the claim's mechanism and in the world without, and the verdict from
//! the world with it: `confirmed` (interval above 0), `refuted` (below 0),
//! `inconclusive` (it contains 0), `no result` (a run failed).

use super::catalog::{Claim, Config, World};
use crate::chart::{IntervalFigure, IntervalRow};
use crate::compare::paired::{Arm, bootstrap, improvement, interval_cell, spread_cell};
use crate::compare::run_file;
use anyhow::Result;
use esmc_trainer::metrics::intervals::PairedInterval;
use std::collections::BTreeMap;
use std::path::PathBuf;

/// One claim's result.
pub struct Row {
    pub claim: Claim,
    /// In the world with the mechanism, then without.
    pub with: Option<PairedInterval>,
    pub without: Option<PairedInterval>,
}

impl Row {
    pub fn verdict(&self) -> &'static str {
        match self.with.as_ref().map(PairedInterval::sign) {
            None => "no result",
            Some(1) => "confirmed",
            Some(-1) => "refuted",
            Some(_) => "inconclusive",
        }
    }
}

/// The improvement of A over B in `world`, or None if a run is missing or failed.
fn interval(
    c: &Claim,
    world: World,
    dirs: &BTreeMap<(World, Config), PathBuf>,
    seeds: u64,
) -> Option<PairedInterval> {
    let arm = |side: super::catalog::Side| -> Result<Arm> {
        let dir = &dirs[&(world, side.config)];
        let files: Vec<PathBuf> = (1..=seeds).map(|s| run_file(dir, side.model, s)).collect();
        Arm::load(&side.label(), &files)
    };
    let (a, b) = match (arm(c.a), arm(c.b)) {
        (Ok(a), Ok(b)) => (a, b),
        (Err(e), _) | (_, Err(e)) => {
            eprintln!("claim '{}' in {}: {e:#}", c.text, world.name());
            return None;
        }
    };
    let boot = match bootstrap(&[&a, &b]) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("claim '{}' in {}: {e:#}", c.text, world.name());
            return None;
        }
    };
    improvement(
        &a.replicate(c.metric, &boot),
        &b.replicate(c.metric, &boot),
        c.metric,
    )
}

/// Every claim's intervals.
pub fn evaluate(
    claims: &[Claim],
    dirs: &BTreeMap<(World, Config), PathBuf>,
    seeds: u64,
) -> Result<Vec<Row>> {
    Ok(claims
        .iter()
        .map(|c| Row {
            claim: c.clone(),
            with: interval(c, World::With(c.mechanism), dirs, seeds),
            without: interval(c, World::Default, dirs, seeds),
        })
        .collect())
}

/// The table in markdown with a caption.
pub fn markdown(rows: &[Row], caption: &str) -> String {
    let mut out = String::from(
        "| claim | metric | world with | A − B with [95%] | seeds | world without | A − B without [95%] | verdict |\n\
         | --- | --- | --- | ---: | ---: | --- | ---: | --- |\n",
    );
    for r in rows {
        out += &format!(
            "| {} | {} | {} | {} | {} | default | {} | {} |\n",
            r.claim.text,
            r.claim.metric.label(),
            World::With(r.claim.mechanism).name(),
            interval_cell(r.with.as_ref()),
            spread_cell(r.with.as_ref()),
            interval_cell(r.without.as_ref()),
            r.verdict()
        );
    }
    let count = |v: &str| rows.iter().filter(|r| r.verdict() == v).count();
    out += &format!(
        "\n{caption} A − B: A's improvement over B (for the calibration error, B's error minus \
         A's), mean over seeds; [95%]: paired bootstrap over the test users and the seeds; \
         seeds: the range of the seeds' own differences. Verdict from the world with the \
         mechanism: {} confirmed, {} refuted, {} inconclusive, {} without a result.\n",
        count("confirmed"),
        count("refuted"),
        count("inconclusive"),
        count("no result")
    );
    out
}

/// The table as CSV, numbers in full.
pub fn csv(rows: &[Row]) -> String {
    let mut out = String::from(
        "claim,a,b,metric,mechanism,with_diff,with_lo,with_hi,without_diff,without_lo,without_hi,verdict\n",
    );
    let nums = |i: &Option<PairedInterval>| match i {
        Some(i) => format!("{},{},{}", i.diff, i.lo, i.hi),
        None => ",,".into(),
    };
    for r in rows {
        out += &format!(
            "\"{}\",{},{},{},{},{},{},{}\n",
            r.claim.text,
            r.claim.a.label(),
            r.claim.b.label(),
            r.claim.metric.key(),
            r.claim.mechanism,
            nums(&r.with),
            nums(&r.without),
            r.verdict()
        );
    }
    out
}

/// Each claim's intervals in the world with its mechanism, then without (those that have
/// a result): (claim, world, interval).
fn intervals(rows: &[Row]) -> Vec<(&str, String, &PairedInterval)> {
    let mut out = Vec::new();
    for r in rows {
        for (world, i) in [
            (World::With(r.claim.mechanism).name(), &r.with),
            ("default".to_string(), &r.without),
        ] {
            if let Some(i) = i {
                out.push((r.claim.text, world, i));
            }
        }
    }
    out
}

/// The interval chart's data: one line per claim and world.
pub fn chart_data(rows: &[Row]) -> String {
    let mut out = String::from("claim,world,diff,lo,hi\n");
    for (claim, world, i) in intervals(rows) {
        out += &format!("\"{claim}\",{world},{},{},{}\n", i.diff, i.lo, i.hi);
    }
    out
}

/// The interval chart: the rows of [`chart_data`], coloured by the verdict each interval
/// would give.
pub fn chart(rows: &[Row], title: &str) -> IntervalFigure {
    IntervalFigure {
        title: title.into(),
        x_caption: "A − B (A's improvement over B), 95% interval".into(),
        rows: intervals(rows)
            .into_iter()
            .map(|(claim, world, i)| IntervalRow {
                label: claim.into(),
                note: world,
                diff: i.diff,
                lo: i.lo,
                hi: i.hi,
            })
            .collect(),
    }
}
