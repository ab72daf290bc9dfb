//! `esmc import taobao`: Alibaba's Taobao UserBehavior CSV into a warehouse of raw logs,
//! streamed line by line in bounded memory.
//!
//! ```text
//!  CSV line ──parse──> malformed? ──> in documented range? ──> user block (the file is
//!    grouped by user): exact duplicate within the block? ──> when the next user starts,
//!    the block's rows go to the per-(table, day) Parquet writers and the dimension counts
//!  end: last block (dropped with --drop-last-user), user/item snapshots, summary,
//!       staging renamed to <root>/logs
//! ```
//! Memory: one user's block, the open writers' buffers, and one entry per user and item
//! for the dimension snapshots.

use super::stage::{Staging, is_empty};
use super::taobao_dims::Dims;
use super::taobao_rows::{Behavior, END_TS, Events, FIRST_TS, Row, parse};
use crate::progress::Bar;
use anyhow::{Context, Result, bail};
use esmc_sim::Progress;
use serde_json::json;
use std::collections::{BTreeMap, HashSet};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::time::Instant;

#[derive(clap::Args)]
pub struct Args {
    /// The UserBehavior CSV (user_id,item_id,category_id,behavior_type,timestamp).
    #[arg(long)]
    input: PathBuf,
    /// Warehouse root; logs go to <root>/logs/<table>/dt=YYYY-MM-DD/.
    #[arg(long)]
    root: PathBuf,
    /// Drop the file's last user: a head-of-file sample cuts that user's rows short.
    #[arg(long)]
    drop_last_user: bool,
    /// Replace the logs of a non-empty warehouse (its samples and quarantine, built from
    /// the old logs, are removed).
    #[arg(long)]
    overwrite: bool,
}

/// What an import read, wrote and dropped.
#[derive(Debug, Default)]
struct Counts {
    lines: u64,
    /// Well-formed lines per behaviour type, before any drop.
    source: [u64; 4],
    /// Imported rows per behaviour type.
    imported: [u64; 4],
    malformed: u64,
    out_of_range: u64,
    duplicate: u64,
    last_user_rows: u64,
    last_user: Option<i64>,
    blocks_reopened: u64,
}

/// The rows of the current user, deduplicated.
#[derive(Default)]
struct Block {
    user: Option<i64>,
    rows: Vec<(u64, Row)>,
    seen: HashSet<Row>,
}

struct Import {
    events: Events,
    dims: Dims,
    block: Block,
    counts: Counts,
}

impl Import {
    /// Sends the current block to the writers and the dimension counts.
    fn close_block(&mut self) -> Result<()> {
        let Some(user) = self.block.user else {
            return Ok(());
        };
        for (line, row) in self.block.rows.drain(..) {
            self.events.emit(line, user, &row)?;
            self.dims.add(user, row.item, row.category);
            self.counts.imported[row.behavior as usize] += 1;
        }
        self.block.seen.clear();
        Ok(())
    }

    fn line(&mut self, n: u64, line: &[u8]) -> Result<()> {
        self.counts.lines += 1;
        let Some((user, row)) = parse(line) else {
            self.counts.malformed += 1;
            return Ok(());
        };
        self.counts.source[row.behavior as usize] += 1;
        if !(FIRST_TS..END_TS).contains(&row.ts) {
            self.counts.out_of_range += 1;
            return Ok(());
        }
        if self.block.user != Some(user) {
            self.close_block()?;
            if self.dims.has_user(user) {
                self.counts.blocks_reopened += 1;
            }
            self.block.user = Some(user);
        }
        if self.block.seen.insert(row) {
            self.block.rows.push((n, row));
        } else {
            self.counts.duplicate += 1;
        }
        Ok(())
    }
}

/// Strips `\n` and `\r\n`.
fn trim_end(mut line: &[u8]) -> &[u8] {
    while let [rest @ .., b'\n' | b'\r'] = line {
        line = rest;
    }
    line
}

pub fn run(args: Args, quiet: bool) -> Result<()> {
    if !args.overwrite && !is_empty(&args.root)? {
        bail!(
            "{} is not empty; pass --overwrite to replace its logs",
            args.root.display()
        );
    }
    let started = Instant::now();
    let file = std::fs::File::open(&args.input)
        .with_context(|| format!("cannot open {}", args.input.display()))?;
    let bytes = file.metadata()?.len();
    let staging = Staging::begin(&args.root)?;
    let logs = staging.path().join("logs");
    let mut import = Import {
        events: Events::new(&logs)?,
        dims: Dims::default(),
        block: Block::default(),
        counts: Counts::default(),
    };
    let bar = Bar::new("import", "bytes", quiet);
    bar.start(bytes);
    let mut reader = BufReader::with_capacity(1 << 20, file);
    let mut buf = Vec::with_capacity(256);
    let (mut n, mut pending) = (0u64, 0u64);
    loop {
        buf.clear();
        let read = reader
            .read_until(b'\n', &mut buf)
            .with_context(|| format!("reading {}", args.input.display()))?;
        if read == 0 {
            break;
        }
        n += 1;
        import.line(n, trim_end(&buf))?;
        pending += read as u64;
        if pending >= 1 << 22 {
            bar.advance(pending);
            pending = 0;
        }
    }
    if args.drop_last_user {
        import.counts.last_user = import.block.user;
        import.counts.last_user_rows = import.block.rows.len() as u64;
        import.block = Block::default();
    }
    import.close_block()?;
    bar.finish();
    let Import {
        events,
        dims,
        counts,
        ..
    } = import;
    let written = events.finish()?;
    let summary = summary(&args, bytes, &counts, &dims, &written, started);
    dims.write(&logs)?;
    let json = serde_json::to_vec_pretty(&summary)?;
    std::fs::write(logs.join("_import.json"), json)?;
    staging.commit(&["logs"], &["samples", "quarantine"])?;
    print_summary(&summary, &args.root);
    Ok(())
}

fn summary(
    args: &Args,
    bytes: u64,
    c: &Counts,
    dims: &Dims,
    written: &[(esmc_schemas::Table, chrono::NaiveDate, u64)],
    started: Instant,
) -> serde_json::Value {
    let per_behavior = |v: &[u64; 4]| -> BTreeMap<&str, u64> {
        Behavior::ALL
            .iter()
            .map(|b| (b.name(), v[*b as usize]))
            .collect()
    };
    let mut tables: BTreeMap<&str, BTreeMap<String, u64>> = BTreeMap::new();
    for (t, d, rows) in written {
        tables
            .entry(t.name())
            .or_default()
            .insert(d.to_string(), *rows);
    }
    let imported: u64 = c.imported.iter().sum();
    let secs = started.elapsed().as_secs_f64();
    json!({
        "source": "taobao-userbehavior",
        "input": args.input.display().to_string(),
        "input_bytes": bytes,
        "documented_range": ["2017-11-25T00:00:00+08:00", "2017-12-04T00:00:00+08:00"],
        "lines": c.lines,
        "source_rows_by_behavior": per_behavior(&c.source),
        "imported_rows": imported,
        "imported_rows_by_behavior": per_behavior(&c.imported),
        "dropped": {
            "malformed": c.malformed,
            "out_of_range": c.out_of_range,
            "duplicate": c.duplicate,
            "last_user": c.last_user_rows,
        },
        "last_user_dropped": c.last_user,
        "duplicates_detected_within": "one user's block of consecutive lines",
        "user_blocks_reopened": c.blocks_reopened,
        "users": dims.users(),
        "items": dims.items(),
        "items_with_several_categories": dims.items_with_several_categories(),
        "event_rows": tables,
        "seconds": secs,
        "lines_per_second": c.lines as f64 / secs.max(1e-9),
    })
}

fn print_summary(s: &serde_json::Value, root: &Path) {
    let d = &s["dropped"];
    println!(
        "imported {} of {} lines ({} malformed, {} outside the documented range, {} exact \
         duplicates, {} of the last user dropped) in {:.1}s ({:.0} lines/s)",
        s["imported_rows"],
        s["lines"],
        d["malformed"],
        d["out_of_range"],
        d["duplicate"],
        d["last_user"],
        s["seconds"].as_f64().unwrap_or(0.0),
        s["lines_per_second"].as_f64().unwrap_or(0.0),
    );
    println!(
        "source rows by behaviour: {}; imported: {}",
        s["source_rows_by_behavior"], s["imported_rows_by_behavior"]
    );
    println!(
        "{} users, {} items ({} with several categories); {} user blocks reopened",
        s["users"], s["items"], s["items_with_several_categories"], s["user_blocks_reopened"]
    );
    if let Some(tables) = s["event_rows"].as_object() {
        for (table, days) in tables {
            let total: u64 = days
                .as_object()
                .map_or(0, |d| d.values().filter_map(|v| v.as_u64()).sum());
            println!(
                "{table:<10} {total:>12} rows over {} days",
                days.as_object().map_or(0, |d| d.len())
            );
        }
    }
    println!(
        "wrote {}/logs (summary: {}/logs/_import.json)",
        root.display(),
        root.display()
    );
}
