//! The feature stage (docs/labels.md, "Features"): hand-computed values for each feature family on
//! a fixture whose windows cross midnight and day boundaries, and the leakage test:
//! perturbing every event at or after an exposure's time leaves its features unchanged.
//! Every case goes through the real build: Parquet logs in, DataFusion and the as-of merges,
//! Parquet samples out.

#[path = "../common/mod.rs"]
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

mod leakage;
