//! `esmc import ali-ccp`: the ESMM paper's click-and-conversion set as one day of
//! samples that `esmc train` reads as it reads built ones.
//!
//! ```text
//!  common file ──pass 1──> key hash -> 23 ids (in memory)
//!  skeleton ──pass 2, streamed──> row + its common ids ──> samples/dt=D/part-00000.parquet
//!  + samples/_manifests/dt=D.json (mature), samples/_import/dt=D.json (counts),
//!    <root>/ali_ccp_features.toml (the feature spec for --features)
//! ```
//! Ali-CCP has no raw logs, timestamps, carts or visits: click and purchase (= conversion)
//! are the labels; dmi, cart, wish, dma and the calibrated carts are 0; psc_case is
//! no_purchase, or no_cart for a conversion; ts is the day's midnight; user_id and
//! item_id are fields 101 and 205; session_id is the common feature index's hash.

use super::aliccp_parse::{Common, FIELDS, MISSING, column_name, skeleton_line, trim_end};
use super::out::{Cell, TableWriter};
use super::stage::Staging;
use crate::progress::Bar;
use anyhow::{Context, Result, bail};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use chrono::NaiveDate;
use esmc_pipeline::{BuildConfig, InputFile, Manifest};
use esmc_schemas::{SAMPLES, Warehouse, dt_name};
use esmc_sim::Progress;
use serde_json::json;
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

#[derive(clap::Args)]
pub struct Args {
    /// sample_skeleton_{train,test}.csv
    #[arg(long)]
    skeleton: PathBuf,
    /// common_features_{train,test}.csv
    #[arg(long)]
    common: PathBuf,
    /// Warehouse root; samples go to <root>/samples/dt=<day>/.
    #[arg(long)]
    root: PathBuf,
    /// The partition's day (import the training file as one day and the test file as
    /// the next: test-then-train then scores the test set out of sample).
    #[arg(long, default_value = "2018-01-01")]
    day: NaiveDate,
    /// Replace an existing partition of that day.
    #[arg(long)]
    overwrite: bool,
}

/// The feature spec written beside the samples, buckets sized to each field's id count.
pub fn feature_spec() -> String {
    let mut s = String::from(
        "# Ali-CCP's 23 sparse fields, as imported by `esmc import ali-ccp`.\n\
         # Pass it to training: esmc train --features <root>/ali_ccp_features.toml ...\n",
    );
    for f in FIELDS {
        let buckets: u64 = match f {
            "205" => 1 << 20,
            "101" => 1 << 19,
            "206" | "207" | "216" => 1 << 18,
            "121" | "122" | "124" | "125" | "126" | "127" | "128" | "129" => 1 << 8,
            "301" => 1 << 4,
            _ => 1 << 17,
        };
        s.push_str(&format!(
            "\n[[sparse]]\ncolumn = \"{}\"\nbuckets = {buckets}\n",
            column_name(f)
        ));
    }
    s
}

/// The sample contract's columns (without simulator truth), then the 23 fields.
fn schema() -> SchemaRef {
    let mut fields: Vec<Field> = SAMPLES
        .columns
        .iter()
        .filter(|c| !c.name.starts_with("truth_"))
        .map(|c| c.field().with_nullable(true))
        .collect();
    for f in FIELDS {
        fields.push(Field::new(column_name(f), DataType::Int64, true));
    }
    Arc::new(Schema::new(fields))
}

/// Counts of the skeleton pass.
#[derive(Default)]
struct Counts {
    lines: u64,
    rows: u64,
    malformed: u64,
    missing_common: u64,
    multi_valued: u64,
    clicks: u64,
    conversions: u64,
}

fn id(v: i64) -> Cell<'static> {
    if v == MISSING { Cell::Null } else { Cell::I(v) }
}

/// Streams the skeleton into `w`, joining each row with its common ids.
fn skeleton_pass(
    args: &Args,
    common: &Common,
    midnight_us: i64,
    w: &mut TableWriter,
    bar: &Bar,
) -> Result<Counts> {
    let file = std::fs::File::open(&args.skeleton)
        .with_context(|| format!("cannot open {}", args.skeleton.display()))?;
    let mut reader = BufReader::with_capacity(1 << 20, file);
    let mut buf = Vec::new();
    let mut c = Counts::default();
    let n_cols = w_columns();
    let mut row = vec![Cell::Null; n_cols + FIELDS.len()];
    loop {
        buf.clear();
        let read = reader.read_until(b'\n', &mut buf)?;
        if read == 0 {
            break;
        }
        bar.advance(read as u64);
        c.lines += 1;
        let Some(mut s) = skeleton_line(trim_end(&buf)) else {
            c.malformed += 1;
            continue;
        };
        match common.map.get(&s.key) {
            Some(values) => {
                for (v, cv) in s.values.iter_mut().zip(values) {
                    if *v == MISSING {
                        *v = *cv;
                    }
                }
            }
            None => c.missing_common += 1,
        }
        c.rows += 1;
        c.multi_valued += s.multi as u64;
        c.clicks += s.click as u64;
        c.conversions += s.conversion as u64;
        let (click, buy) = (s.click as i64, s.conversion as i64);
        let psc = if s.conversion {
            "no_cart"
        } else {
            "no_purchase"
        };
        let fixed = [
            Cell::I(s.sample_id),
            Cell::I(s.sample_id),
            Cell::I(midnight_us),
            id(s.values[0]),
            id(s.values[13]),
            Cell::Null,
            Cell::I((s.key >> 1) as i64),
            Cell::I(click),
            Cell::I(0),
            Cell::I(0),
            Cell::I(0),
            Cell::I(0),
            Cell::I(buy),
            Cell::I(0),
            Cell::I(0),
            Cell::S(psc),
            Cell::I(0),
        ];
        row[..n_cols].copy_from_slice(&fixed);
        for (cell, v) in row[n_cols..].iter_mut().zip(s.values) {
            *cell = id(v);
        }
        w.push(&row)?;
    }
    Ok(c)
}

/// The sample contract's columns written (all but the three truth columns).
fn w_columns() -> usize {
    SAMPLES
        .columns
        .iter()
        .filter(|c| !c.name.starts_with("truth_"))
        .count()
}

pub fn run(args: Args, quiet: bool) -> Result<()> {
    let started = Instant::now();
    let wh = Warehouse::new(&args.root);
    let part = wh.samples_dir(args.day);
    if !args.overwrite && !wh.partition_files(&part)?.is_empty() {
        bail!(
            "{} already holds samples; pass --overwrite to replace them",
            part.display()
        );
    }
    debug_assert_eq!(
        w_columns(),
        17,
        "the fixed cells follow the sample contract"
    );
    let size = |p: &Path| {
        std::fs::metadata(p)
            .map(|m| m.len())
            .with_context(|| format!("cannot read {}", p.display()))
    };
    let (common_bytes, skeleton_bytes) = (size(&args.common)?, size(&args.skeleton)?);
    let staging = Staging::begin(&args.root)?;
    let bar = Bar::new("common", "bytes", quiet);
    bar.start(common_bytes);
    let common = Common::load(&args.common, &|n| bar.advance(n))?;
    bar.finish();
    let loaded = started.elapsed().as_secs_f64();
    let rel = format!("samples/{}", dt_name(args.day));
    let mut w = TableWriter::new(
        schema(),
        staging.path().join(&rel).join("part-00000.parquet"),
    )?;
    let bar = Bar::new("skeleton", "bytes", quiet);
    bar.start(skeleton_bytes);
    let midnight_us = args
        .day
        .and_hms_opt(0, 0, 0)
        .expect("midnight")
        .and_utc()
        .timestamp_micros();
    let c = skeleton_pass(&args, &common, midnight_us, &mut w, &bar)?;
    bar.finish();
    if w.finish()? == 0 {
        bail!(
            "{}: no well-formed row ({} lines, all malformed)",
            args.skeleton.display(),
            c.lines
        );
    }
    let secs = started.elapsed().as_secs_f64();
    let summary = json!({
        "source": "ali-ccp",
        "skeleton": args.skeleton.display().to_string(),
        "common": args.common.display().to_string(),
        "day": args.day.to_string(),
        "skeleton_lines": c.lines,
        "rows": c.rows,
        "malformed_dropped": c.malformed,
        "missing_common_key_kept_with_null_user_fields": c.missing_common,
        "skeleton_rows_with_a_multi_valued_field": c.multi_valued,
        "common_lines_with_a_multi_valued_field": common.multi_valued,
        "clicks": c.clicks,
        "conversions": c.conversions,
        "common_lines": common.lines,
        "common_keys": common.map.len(),
        "common_malformed_dropped": common.malformed,
        "common_duplicate_keys": common.duplicate_keys,
        "common_load_seconds": loaded,
        "seconds": secs,
        "rows_per_second": c.lines as f64 / secs.max(1e-9),
    });
    drop(common);
    let manifest = manifest(&args, &c, (skeleton_bytes, common_bytes), secs)?;
    publish(staging, &args, &manifest, &summary)?;
    print_summary(&summary, &args.root);
    Ok(())
}

/// Writes the manifest (inside the partition and under `_manifests/`), the import
/// summary and the feature spec into the staging, then swaps everything into place.
fn publish(
    staging: Staging,
    args: &Args,
    manifest: &Manifest,
    summary: &serde_json::Value,
) -> Result<()> {
    let day = dt_name(args.day);
    let rel = format!("samples/{day}");
    let put = |rel: String, text: Vec<u8>| -> Result<()> {
        let path = staging.path().join(rel);
        std::fs::create_dir_all(path.parent().expect("a parent"))?;
        Ok(std::fs::write(path, text)?)
    };
    let manifest_json = serde_json::to_vec_pretty(manifest)?;
    put(format!("{rel}/_manifest.json"), manifest_json.clone())?;
    put(format!("samples/_manifests/{day}.json"), manifest_json)?;
    put(
        format!("samples/_import/{day}.json"),
        serde_json::to_vec_pretty(summary)?,
    )?;
    put("ali_ccp_features.toml".into(), feature_spec().into_bytes())?;
    staging.commit(
        &[
            &rel,
            &format!("samples/_manifests/{day}.json"),
            &format!("samples/_import/{day}.json"),
            "ali_ccp_features.toml",
        ],
        &[],
    )?;
    Ok(())
}

fn manifest(
    args: &Args,
    c: &Counts,
    (skeleton_bytes, common_bytes): (u64, u64),
    secs: f64,
) -> Result<Manifest> {
    let rate = |n: u64| n as f64 / c.rows.max(1) as f64;
    let mut label_rates = BTreeMap::new();
    for l in [
        "dmi",
        "cart",
        "wish",
        "dma",
        "cart_cal",
        "cart_global_cal",
        "bad_case",
    ] {
        label_rates.insert(l.to_string(), 0.0);
    }
    label_rates.insert("click".into(), rate(c.clicks));
    label_rates.insert("purchase".into(), rate(c.conversions));
    let psc = BTreeMap::from([
        ("no_purchase".to_string(), c.rows - c.conversions),
        ("no_cart".to_string(), c.conversions),
    ]);
    let input = |p: &Path, bytes| InputFile {
        path: p.display().to_string(),
        bytes,
        sha256: String::new(),
    };
    Ok(Manifest {
        dt: args.day,
        maturity: "mature".into(),
        window: (args.day, args.day),
        config: BuildConfig::default(),
        config_hash: String::new(),
        inputs: vec![
            input(&args.skeleton, skeleton_bytes),
            input(&args.common, common_bytes),
        ],
        inputs_hash: String::new(),
        rows: c.rows,
        label_rates,
        psc_case_counts: psc,
        quarantined: BTreeMap::from([("ali_ccp_malformed".to_string(), c.malformed)]),
        duplicates_dropped: BTreeMap::new(),
        purchases_attributed: c.conversions,
        clicks_attributed: c.clicks,
        esmc_version: env!("CARGO_PKG_VERSION").into(),
        built_at: chrono::Utc::now().to_rfc3339(),
        build_secs: secs,
    })
}

fn print_summary(s: &serde_json::Value, root: &Path) {
    println!(
        "imported {} of {} skeleton lines into {}/samples/dt={} ({} malformed dropped, {} without \
         their common features kept with null user fields) in {:.1}s ({:.0} lines/s)",
        s["rows"],
        s["skeleton_lines"],
        root.display(),
        s["day"].as_str().unwrap_or("?"),
        s["malformed_dropped"],
        s["missing_common_key_kept_with_null_user_fields"],
        s["seconds"].as_f64().unwrap_or(0.0),
        s["rows_per_second"].as_f64().unwrap_or(0.0),
    );
    println!(
        "clicks {}, conversions {}; common features: {} keys from {} lines ({} malformed, {} duplicate keys)",
        s["clicks"],
        s["conversions"],
        s["common_keys"],
        s["common_lines"],
        s["common_malformed_dropped"],
        s["common_duplicate_keys"],
    );
    println!(
        "feature spec: {}/ali_ccp_features.toml (esmc train --features ...)",
        root.display()
    );
}
