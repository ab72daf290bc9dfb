//! The feature stage (spec §8, issue 4): hand-computed values for each feature family on
//! a fixture whose windows cross midnight and day boundaries, and the leakage test:
//! perturbing every event at or after an exposure's time leaves its features unchanged.
//! Every case goes through the real build: Parquet logs in, DataFusion and the as-of merges,
//! Parquet samples out.

mod common;

use arrow::array::{Array, ArrayRef, AsArray, Float64Array, Int64Array, RecordBatch};
use arrow::compute::{concat_batches, filter_record_batch};
use arrow::datatypes::{Float32Type, Int8Type, Int32Type, Int64Type, TimestampMicrosecondType};
use common::{LogFormat, Logs, build_with, day, read_dir, write_file};
use esmc_pipeline::{BuildConfig, BuildOptions, FeatureConfig};
use esmc_schemas::{Table, Warehouse};
use esmc_sim::{NoProgress as SimQuiet, Preset, RunOptions, SimConfig};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

const D: &str = "2026-11-10";

fn config(windows: &[u32], ttl: u32, seq: usize, smoothing: f64) -> BuildConfig {
    BuildConfig {
        features: FeatureConfig {
            windows_days: windows.to_vec(),
            cart_ttl_days: ttl,
            sequence_len: seq,
            smoothing,
            ..FeatureConfig::default()
        },
        ..BuildConfig::default()
    }
}

/// One partition of the item dimension: (item, category).
fn write_items(root: &Path, d: chrono::NaiveDate, items: &[(i64, i64)]) {
    let n = items.len();
    let columns: Vec<ArrayRef> = vec![
        Arc::new(Int64Array::from_iter_values(items.iter().map(|r| r.0))),
        Arc::new(Int64Array::from_iter_values(items.iter().map(|r| r.1))),
        Arc::new(Int64Array::from(vec![None::<i64>; n])),
        Arc::new(Int64Array::from(vec![None::<i64>; n])),
        Arc::new(Float64Array::from(vec![None::<f64>; n])),
    ];
    write_file(
        &Warehouse::new(root),
        Table::Item,
        d,
        columns,
        LogFormat::Parquet,
    );
}

/// The samples as one batch.
fn one(batches: &[RecordBatch]) -> RecordBatch {
    concat_batches(&batches[0].schema(), batches).unwrap()
}

/// Feature values of sample `id` as text, by column name.
fn row(b: &RecordBatch, id: i64) -> BTreeMap<String, String> {
    let ids = b
        .column_by_name("sample_id")
        .unwrap()
        .as_primitive::<Int64Type>();
    let r = (0..b.num_rows())
        .find(|&r| ids.value(r) == id)
        .expect("sample");
    let mut out = BTreeMap::new();
    for (f, c) in b.schema().fields().iter().zip(b.columns()) {
        let v = if c.is_null(r) {
            "null".to_string()
        } else if let Some(a) = c.as_primitive_opt::<Int32Type>() {
            a.value(r).to_string()
        } else if let Some(a) = c.as_primitive_opt::<Float32Type>() {
            format!("{:.4}", a.value(r))
        } else if let Some(a) = c.as_primitive_opt::<Int8Type>() {
            a.value(r).to_string()
        } else if let Some(a) = c.as_list_opt::<i32>() {
            let v = a.value(r);
            let v = v.as_primitive::<Int64Type>();
            format!(
                "{:?}",
                v.iter().map(|x| x.map_or(-1, |x| x)).collect::<Vec<_>>()
            )
        } else {
            continue;
        };
        out.insert(f.name().clone(), v);
    }
    out
}

fn expect(got: &BTreeMap<String, String>, want: &[(&str, &str)], what: &str) {
    for (k, v) in want {
        assert_eq!(got.get(*k).map(String::as_str), Some(*v), "{what}: {k}");
    }
}

/// Items 100 and 101 are in category 7, item 200 in category 8. User 1 looks at item
/// 100 three days before D, clicks and carts it; late on D-1 clicks item 101 (the 1-day
/// window crosses midnight into it); on D clicks and buys item 100. Events at exactly a
/// sample's time, the sample's own click and purchase, and everything after never count.
fn fixture() -> Logs {
    let mut l = Logs::default();
    l.expose(90, "2026-11-06 09:00", 2, 100, "rec"); // D-4: outside every window
    l.click("2026-11-06 09:01", 2, 100, Some(90));
    l.expose(1, "2026-11-07 10:00", 1, 100, "rec"); // D-3
    l.click("2026-11-07 10:01", 1, 100, Some(1));
    l.cart("2026-11-07 10:02", 1, 100, "rec");
    l.expose(2, "2026-11-09 23:50", 1, 101, "rec"); // D-1, ten minutes before midnight
    l.click("2026-11-09 23:55", 1, 101, Some(2));
    l.expose(3, "2026-11-10 00:05", 1, 100, "rec"); // D: sample 3
    l.expose(5, "2026-11-10 00:05", 3, 100, "rec"); // same time, another user: sample 5
    l.click("2026-11-10 00:10", 1, 100, Some(3));
    l.buy("2026-11-10 00:20", 1, 100);
    l.expose(4, "2026-11-10 00:30", 1, 100, "rec"); // D: sample 4
    l.expose(6, "2026-11-10 01:00", 1, 200, "search"); // not a sample, but an exposure
    l.expose(7, "2026-11-10 02:00", 1, 200, "rec"); // sample 7
    l.click("2026-11-11 09:00", 1, 200, Some(7)); // D+1: labels only
    l
}

fn build_fixture(cfg: BuildConfig) -> RecordBatch {
    let dir = tempfile::tempdir().unwrap();
    fixture().write(dir.path(), day("2026-11-05"), day("2026-11-13"));
    write_items(
        dir.path(),
        day("2026-11-05"),
        &[(100, 7), (101, 7), (200, 8)],
    );
    one(&build_with(
        dir.path(),
        day(D),
        cfg,
        BuildOptions::default(),
    ))
}

#[test]
fn each_feature_family_matches_hand_computed_values() {
    // windows 1 and 3 days, cart TTL 3 days, sequences of 3, no smoothing
    let b = build_fixture(config(&[1, 3], 3, 3, 0.0));
    assert_eq!(b.num_rows(), 4, "samples 3, 4, 5, 7");

    // Sample 3: user 1, item 100 at D 00:05. Nothing of D before it (sample 5 shares its
    // time). 1-day window = D-1 + D before t: the exposure and click of item 101 (cat 7).
    // 3-day window adds D-3: exposure, click, cart of item 100.
    expect(
        &row(&b, 3),
        &[
            ("item_exp_1d", "0"),
            ("item_clk_1d", "0"),
            ("item_exp_3d", "1"),
            ("item_clk_3d", "1"),
            ("item_cart_3d", "1"),
            ("item_buy_3d", "0"),
            ("item_ctr_3d", "1.0000"),
            ("item_cvr_3d", "0.0000"),
            ("cat_exp_1d", "1"),
            ("cat_clk_1d", "1"),
            ("cat_exp_3d", "2"),
            ("cat_clk_3d", "2"),
            ("cat_cart_3d", "1"),
            ("user_exp_1d", "1"),
            ("user_clk_1d", "1"),
            ("user_exp_3d", "2"),
            ("user_cart_3d", "1"),
            ("uc_clk_1d", "1"),
            ("uc_clk_3d", "2"),
            ("uc_buy_3d", "0"),
            ("uc_affinity_3d", "1.0000"),
            // carted at D-3 10:02, 2 days 14:03 ago, within the 3-day TTL, not bought
            ("item_in_cart", "1"),
            ("secs_since_click", "223440.0000"),
            ("secs_since_cart", "223380.0000"),
            ("seq_click_items", "[100, 101]"),
            ("seq_click_cats", "[7, 7]"),
        ],
        "sample 3",
    );
    // The 0/0 rates fall back to the shop's rates over the history: 2 clicks on 2
    // exposures (D-4 is outside the history), no purchase.
    expect(
        &row(&b, 3),
        &[("item_ctr_1d", "1.0000"), ("item_cvr_1d", "0.0000")],
        "sample 3 priors",
    );

    // Sample 4: user 1, item 100 at D 00:30: now D holds exposures 3 and 5, the click at
    // 00:10 and the purchase at 00:20 before it.
    expect(
        &row(&b, 4),
        &[
            ("item_exp_1d", "2"),
            ("item_clk_1d", "1"),
            ("item_buy_1d", "1"),
            ("item_exp_3d", "3"),
            ("item_clk_3d", "2"),
            ("item_buy_3d", "1"),
            ("item_ctr_1d", "0.5000"),
            ("item_cvr_1d", "1.0000"),
            ("item_cvr_3d", "0.5000"),
            ("user_exp_1d", "2"),
            ("user_clk_1d", "2"),
            ("user_buy_1d", "1"),
            ("cat_exp_1d", "3"),
            ("uc_clk_1d", "2"),
            ("uc_buy_1d", "1"),
            // bought after the cart: no longer in it
            ("item_in_cart", "0"),
            ("secs_since_click", "1200.0000"),
            ("seq_click_items", "[100, 101, 100]"),
        ],
        "sample 4",
    );

    // Sample 5: user 3 has no history; at the same time as sample 3, which it must not
    // see. Item 100 as for sample 3.
    expect(
        &row(&b, 5),
        &[
            ("item_exp_1d", "0"),
            ("item_exp_3d", "1"),
            ("user_exp_3d", "0"),
            ("user_ctr_3d", "1.0000"),
            ("uc_affinity_3d", "0.0000"),
            ("item_in_cart", "0"),
            ("secs_since_click", "null"),
            ("secs_since_cart", "null"),
            ("seq_click_items", "[]"),
        ],
        "sample 5",
    );

    // Sample 7: item 200 (category 8) at D 02:00; its search exposure at 01:00 counts.
    expect(
        &row(&b, 7),
        &[
            ("item_exp_1d", "1"),
            ("item_exp_3d", "1"),
            ("cat_exp_1d", "1"),
            ("cat_clk_3d", "0"),
            ("user_exp_1d", "4"),
            ("uc_clk_3d", "0"),
            ("seq_click_items", "[100, 101, 100]"),
            ("seq_click_cats", "[7, 7, 7]"),
        ],
        "sample 7",
    );
}

#[test]
fn smoothing_ttl_and_sequence_length_follow_the_config() {
    // m = 20: item 100's 3-day CTR for sample 3 is (1 + 20·1) / (1 + 20) = 1; its CVR
    // (0 + 20·0) / (1 + 20) = 0. TTL 2 days: the cart of D-3 10:02 expired.
    let b = build_fixture(config(&[3], 2, 1, 20.0));
    expect(
        &row(&b, 3),
        &[
            ("item_ctr_3d", "1.0000"),
            ("item_in_cart", "0"),
            ("seq_click_items", "[101]"),
        ],
        "sample 3",
    );
    assert!(b.column_by_name("item_exp_1d").is_none());
    // Sample 4 with m = 20: CTR (2 + 20) / (3 + 20), CVR (1 + 0) / (2 + 20).
    expect(
        &row(&b, 4),
        &[("item_ctr_3d", "0.9565"), ("item_cvr_3d", "0.0455")],
        "sample 4",
    );
}

#[test]
fn features_can_be_switched_off_and_bad_configs_are_refused() {
    let mut cfg = config(&[1], 1, 5, 1.0);
    cfg.features.enabled = false;
    let b = build_fixture(cfg);
    assert!(b.column_by_name("item_ctr_1d").is_none());
    assert!(b.column_by_name("seq_click_items").is_none());

    let dir = tempfile::tempdir().unwrap();
    fixture().write(dir.path(), day("2026-11-05"), day("2026-11-13"));
    let rt = tokio::runtime::Runtime::new().unwrap();
    for (cfg, msg) in [
        (config(&[], 1, 5, 1.0), "windows_days is empty"),
        (config(&[7, 0], 1, 5, 1.0), "window of 0 days"),
        (config(&[7], 1, 0, 1.0), "sequence_len must be positive"),
        (config(&[7], 1, 5, -1.0), "smoothing -1"),
    ] {
        let builder = esmc_pipeline::Builder::new(dir.path(), cfg, BuildOptions::default());
        let err = rt
            .block_on(builder.build(day(D), &esmc_pipeline::NoProgress))
            .unwrap_err()
            .to_string();
        assert!(err.contains(msg), "{err}");
    }
}

// ---- leakage -------------------------------------------------------------------------

/// Rewrites every log file of `from` into `to`, with each event at or after `cut`
/// dropped (`duplicate` false) or duplicated one microsecond later under new ids
/// (`duplicate` true: an extra exposure, click, cart or order that a leaking feature
/// would count). Dimension tables are copied as they are.
fn perturb(from: &Path, to: &Path, cut: i64, duplicate: bool) {
    for table in Table::ALL {
        let w = Warehouse::new(from);
        for d in w.log_days(table).unwrap() {
            let dir = w.log_dir(table, d);
            let out_dir = Warehouse::new(to).log_dir(table, d);
            std::fs::create_dir_all(&out_dir).unwrap();
            let batches = read_dir(&dir);
            let Some(first) = batches.first() else {
                continue;
            };
            let mut b = concat_batches(&first.schema(), &batches).unwrap();
            if table.is_event() {
                let ts = b
                    .column_by_name("ts")
                    .unwrap()
                    .as_primitive::<TimestampMicrosecondType>();
                let keep = arrow::array::BooleanArray::from_iter(
                    ts.iter().map(|t| Some(t.unwrap() < cut)),
                );
                let after = arrow::compute::not(&keep).unwrap();
                let before = filter_record_batch(&b, &keep).unwrap();
                b = if duplicate {
                    let late = filter_record_batch(&b, &after).unwrap();
                    let mut cols = late.columns().to_vec();
                    for (i, f) in late.schema().fields().iter().enumerate() {
                        if f.name() == "ts" {
                            let t = cols[i].as_primitive::<TimestampMicrosecondType>();
                            cols[i] = Arc::new(
                                t.unary::<_, TimestampMicrosecondType>(|v| v + 1)
                                    .with_timezone("UTC"),
                            );
                        } else if f.name() == "exposure_id" || f.name() == "order_id" {
                            let v = cols[i].as_primitive::<Int64Type>();
                            cols[i] = Arc::new(v.unary::<_, Int64Type>(|v| v + 1_000_000_000_000));
                        }
                    }
                    let copies = RecordBatch::try_new(late.schema(), cols).unwrap();
                    concat_batches(&b.schema(), &[b.clone(), copies]).unwrap()
                } else {
                    before
                };
            }
            let file = std::fs::File::create(out_dir.join("part-0.parquet")).unwrap();
            let mut wr = parquet::arrow::ArrowWriter::try_new(file, b.schema(), None).unwrap();
            wr.write(&b).unwrap();
            wr.close().unwrap();
        }
    }
}

/// The feature columns of every sample with ts < `cut`, by sample id.
fn features_before(b: &RecordBatch, cut: i64, features: &[String]) -> BTreeMap<i64, Vec<String>> {
    let ids = b
        .column_by_name("sample_id")
        .unwrap()
        .as_primitive::<Int64Type>();
    let ts = b
        .column_by_name("ts")
        .unwrap()
        .as_primitive::<TimestampMicrosecondType>();
    let mut out = BTreeMap::new();
    for r in 0..b.num_rows() {
        if ts.value(r) < cut {
            let v: Vec<String> = features
                .iter()
                .map(|f| {
                    let c = b.column_by_name(f).unwrap();
                    arrow::util::display::array_value_to_string(c, r).unwrap()
                })
                .collect();
            out.insert(ids.value(r), v);
        }
    }
    out
}

/// A simulated eleme world of `exposures` rec exposures a day (one shard).
fn simulated(exposures: u64, days: u32, seed: u64) -> (tempfile::TempDir, SimConfig) {
    let world = tempfile::tempdir().unwrap();
    let mut sim = SimConfig::sized(Preset::Eleme, exposures, days, seed);
    sim.shards = 1;
    esmc_sim::simulate(
        &sim,
        world.path(),
        RunOptions {
            threads: 2,
            overwrite: true,
        },
        &SimQuiet,
    )
    .unwrap();
    (world, sim)
}

#[test]
fn perturbing_events_at_or_after_an_exposure_never_changes_its_features() {
    let (world, sim) = simulated(4_000, 5, 5);
    let d = sim.start + chrono::Days::new(2);
    let cfg = config(&[1, 2], 2, 10, 5.0);
    let names: Vec<String> = cfg
        .features
        .columns()
        .iter()
        .map(|f| f.name().clone())
        .collect();
    let base = one(&build_with(
        world.path(),
        d,
        cfg.clone(),
        BuildOptions::default(),
    ));
    let start = d.and_hms_opt(0, 0, 0).unwrap().and_utc().timestamp_micros();
    let mut compared = 0;
    // Cuts through the morning, midday and the evening of D.
    for hours in [8, 12, 20] {
        let cut = start + hours * 3_600_000_000;
        let want = features_before(&base, cut, &names);
        assert!(want.len() > 100, "{} samples before {hours}:00", want.len());
        for duplicate in [false, true] {
            let dir = tempfile::tempdir().unwrap();
            perturb(world.path(), dir.path(), cut, duplicate);
            let got = one(&build_with(
                dir.path(),
                d,
                cfg.clone(),
                BuildOptions::default(),
            ));
            let got = features_before(&got, cut, &names);
            assert_eq!(got.len(), want.len());
            for (id, v) in &want {
                assert_eq!(
                    &got[id], v,
                    "sample {id}, cut {hours}:00, duplicate {duplicate}"
                );
            }
            compared += want.len();
        }
    }
    // The perturbations do reach the features of later samples (the test can fail).
    let cut = start + 11 * 3_600_000_000;
    let dir = tempfile::tempdir().unwrap();
    perturb(world.path(), dir.path(), cut, true);
    let got = one(&build_with(
        dir.path(),
        d,
        cfg.clone(),
        BuildOptions::default(),
    ));
    let later = |b: &RecordBatch| {
        let all = features_before(b, i64::MAX, &names);
        let early = features_before(b, cut + 3_600_000_000, &names);
        all.into_iter()
            .filter(|(id, _)| !early.contains_key(id))
            .collect::<BTreeMap<_, _>>()
    };
    let (a, b) = (later(&base), later(&got));
    let changed = a.iter().filter(|(id, v)| b.get(id) != Some(v)).count();
    assert!(
        changed > a.len() / 2,
        "{changed} of {} later samples changed",
        a.len()
    );
    assert!(compared > 1000);
}

#[test]
fn a_small_feature_budget_sorts_the_events_on_disk_in_chunks_and_writes_the_same_bytes() {
    // 20k exposures a day with 2 MiB for the feature stage: its sorts hold about 7k of
    // one entity's events per run (so the day's item, category, user and (user,
    // category) events spill into runs merged on disk) and it does the as-of merges in
    // chunks of 2048 samples; by default it does it all in memory in one chunk.
    let (world, sim) = simulated(20_000, 3, 9);
    let d = sim.start + chrono::Days::new(1);
    let bytes = |feature_memory: Option<usize>| {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .unwrap();
        let opts = BuildOptions {
            feature_memory,
            ..BuildOptions::default()
        };
        let builder = esmc_pipeline::Builder::new(world.path(), config(&[1, 2], 2, 10, 5.0), opts);
        let report = rt
            .block_on(builder.build(d, &esmc_pipeline::NoProgress))
            .unwrap();
        assert!(
            report.manifest.rows > 4 * 2048,
            "{} rows",
            report.manifest.rows
        );
        std::fs::read(report.partition.join("part-00000.parquet")).unwrap()
    };
    let small = bytes(Some(2 << 20));
    let large = bytes(None);
    assert!(small == large, "the chunked build wrote different bytes");
}
