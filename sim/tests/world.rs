//! The simulated world, read back from the files it wrote: schemas, determinism across
//! thread counts, preset rates, every purchase path of the `eleme` preset, and what each
//! messiness switch claims.

use arrow::array::{Array, AsArray};
use arrow::datatypes::{DataType, Int64Type, TimestampMicrosecondType};
use arrow::record_batch::RecordBatch;
use esmc_schemas::{Table, Warehouse, parse_dt_name, validate_schema};
use esmc_sim::{
    Messiness, NoProgress, Preset, PurchasePath, RunOptions, SimConfig, SimSummary, simulate,
};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

const DAY_US: i64 = 86_400_000_000;

fn run(cfg: &SimConfig, root: &Path, threads: usize) -> SimSummary {
    simulate(
        cfg,
        root,
        RunOptions {
            threads,
            overwrite: true,
        },
        &NoProgress,
    )
    .unwrap()
}

fn small(preset: Preset, exposures_per_day: u64, days: u32) -> SimConfig {
    let mut cfg = SimConfig::sized(preset, exposures_per_day, days, 7);
    cfg.shards = 3;
    cfg
}

/// Every data file under `root`, relative path → sha256.
fn checksums(root: &Path) -> BTreeMap<PathBuf, String> {
    fn walk(dir: &Path, root: &Path, out: &mut BTreeMap<PathBuf, String>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, root, out);
            } else if path.extension().is_some_and(|e| e == "parquet") {
                let digest = Sha256::digest(std::fs::read(&path).unwrap());
                out.insert(
                    path.strip_prefix(root).unwrap().to_path_buf(),
                    format!("{digest:x}"),
                );
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(root, root, &mut out);
    out
}

/// The batches of one table, with the day of the partition each came from.
fn read_table(root: &Path, table: Table) -> Vec<(chrono::NaiveDate, RecordBatch)> {
    let w = Warehouse::new(root);
    let mut out = Vec::new();
    for day in w.log_days(table).unwrap() {
        for file in w.partition_files(&w.log_dir(table, day)).unwrap() {
            let reader =
                ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(&file).unwrap())
                    .unwrap()
                    .build()
                    .unwrap();
            for batch in reader {
                out.push((day, batch.unwrap()));
            }
        }
    }
    out
}

fn rows(batches: &[(chrono::NaiveDate, RecordBatch)]) -> usize {
    batches.iter().map(|(_, b)| b.num_rows()).sum()
}

fn i64_col<'a>(b: &'a RecordBatch, name: &str) -> &'a arrow::array::PrimitiveArray<Int64Type> {
    b.column_by_name(name).unwrap().as_primitive::<Int64Type>()
}

fn ts_col<'a>(b: &'a RecordBatch) -> &'a arrow::array::PrimitiveArray<TimestampMicrosecondType> {
    b.column_by_name("ts")
        .unwrap()
        .as_primitive::<TimestampMicrosecondType>()
}

fn day_us(day: chrono::NaiveDate) -> i64 {
    day.and_hms_opt(0, 0, 0)
        .unwrap()
        .and_utc()
        .timestamp_micros()
}

#[test]
fn files_follow_the_layout_and_validate_against_their_tables() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = small(Preset::Eleme, 20_000, 2);
    let summary = run(&cfg, dir.path(), 2);
    for table in Table::ALL {
        let w = Warehouse::new(dir.path());
        let days = w.log_days(table).unwrap();
        assert_eq!(
            days,
            vec![cfg.start, cfg.start.succ_opt().unwrap()],
            "{table}"
        );
        let batches = read_table(dir.path(), table);
        for (_, b) in &batches {
            validate_schema(table.spec(), &b.schema()).unwrap();
        }
        assert_eq!(rows(&batches) as u64, summary.table_rows(table), "{table}");
        assert!(summary.table_rows(table) > 0, "{table} is empty");
    }
    // one file per shard for sharded tables, partitions named dt=YYYY-MM-DD
    let click_day = dir.path().join("logs/click/dt=2026-11-01");
    let names: Vec<String> = std::fs::read_dir(&click_day)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(names.len(), 3, "{names:?}");
    assert!(parse_dt_name("dt=2026-11-01").is_some());
    // the resolved config is written beside the logs
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("logs/_simulation.json")).unwrap())
            .unwrap();
    assert_eq!(json["config"]["seed"], 7);
    assert_eq!(json["config"]["preset"], "eleme");
}

#[test]
fn same_seed_gives_identical_bytes_at_any_thread_count() {
    let cfg = small(Preset::Eleme, 15_000, 3);
    let one = tempfile::tempdir().unwrap();
    let two = tempfile::tempdir().unwrap();
    let again = tempfile::tempdir().unwrap();
    run(&cfg, one.path(), 1);
    run(&cfg, two.path(), 2);
    run(&cfg, again.path(), 2);
    let a = checksums(one.path());
    assert!(a.len() >= 8 * 3, "only {} files", a.len());
    assert_eq!(a, checksums(two.path()));
    assert_eq!(a, checksums(again.path()));
    // and another seed gives another world
    let other = tempfile::tempdir().unwrap();
    let mut cfg2 = cfg.clone();
    cfg2.seed += 1;
    run(&cfg2, other.path(), 2);
    assert_ne!(a, checksums(other.path()));
}

#[test]
fn existing_logs_are_kept_unless_overwrite_is_asked() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = small(Preset::Taobao, 5_000, 1);
    run(&cfg, dir.path(), 1);
    let before = checksums(dir.path());
    let err = simulate(
        &cfg,
        dir.path(),
        RunOptions {
            threads: 1,
            overwrite: false,
        },
        &NoProgress,
    )
    .unwrap_err();
    assert!(err.to_string().contains("already holds logs"), "{err}");
    assert_eq!(before, checksums(dir.path()));
}

/// Rates of a mid-size world against the preset's stated targets and tolerances (see
/// the README's table of presets).
#[test]
fn preset_rates_are_within_stated_tolerances() {
    for (preset, ctr, cart, buy_click, buy_exp, bought) in [
        // preset, CTR, cart/click, purchase/click, purchase/exposure, bought/cart
        (
            Preset::Taobao,
            (0.05, 0.07),
            (0.08, 0.12),
            (0.007, 0.015),
            None,
            None,
        ),
        (
            Preset::Eleme,
            (0.05, 0.07),
            (0.15, 0.25),
            (0.15, 0.22),
            Some((0.008, 0.014)),
            Some(0.8),
        ),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let s = run(&small(preset, 300_000, 3), dir.path(), 2).stats;
        let within = |name: &str, v: f64, (lo, hi): (f64, f64)| {
            assert!(
                (lo..=hi).contains(&v),
                "{preset}: {name} = {v:.4}, expected [{lo}, {hi}]"
            )
        };
        within("CTR", s.ctr(), ctr);
        within("cart/click", s.cart_per_click(), cart);
        within("purchase/click", s.purchase_per_click(), buy_click);
        if let Some(range) = buy_exp {
            within("purchase/exposure", s.purchase_per_exposure(), range);
        }
        if let Some(min) = bought {
            assert!(
                s.bought_per_cart() > min,
                "{preset}: carts bought {}",
                s.bought_per_cart()
            );
        }
        // the world's own counts agree with its files
        let clicks = read_table(dir.path(), Table::Click);
        assert!(rows(&clicks) as u64 >= s.rec_clicks);
    }
}

#[test]
fn eleme_has_every_purchase_path() {
    let dir = tempfile::tempdir().unwrap();
    let s = run(&small(Preset::Eleme, 100_000, 4), dir.path(), 2).stats;
    for path in PurchasePath::ALL {
        let n = s.purchases[path as usize];
        assert!(n >= 10, "{}: only {n} purchases", path.name());
    }
    // ESMC's observation: carts and purchases often fall in different visits
    let bad = s.path_share(PurchasePath::LaterVisit)
        + s.path_share(PurchasePath::OtherVisitRec)
        + s.path_share(PurchasePath::OtherVisitSearch);
    assert!((0.15..0.6).contains(&bad), "bad-case share {bad}");
}

#[test]
fn truth_columns_are_probabilities_and_track_clicks() {
    let dir = tempfile::tempdir().unwrap();
    run(&small(Preset::Eleme, 50_000, 2), dir.path(), 2);
    let exposures = read_table(dir.path(), Table::Exposure);
    let clicks = read_table(dir.path(), Table::Click);
    let clicked: std::collections::HashSet<i64> = clicks
        .iter()
        .flat_map(|(_, b)| {
            i64_col(b, "exposure_id")
                .iter()
                .flatten()
                .collect::<Vec<_>>()
        })
        .collect();
    let (mut sum_p, mut n, mut hits) = (0.0, 0usize, 0usize);
    for (_, b) in &exposures {
        let ids = i64_col(b, "exposure_id");
        for name in ["truth_p_click", "truth_p_cart", "truth_p_cvr"] {
            let p = b
                .column_by_name(name)
                .unwrap()
                .as_primitive::<arrow::datatypes::Float64Type>();
            assert_eq!(p.null_count(), 0);
            assert!(p.values().iter().all(|v| (0.0..=1.0).contains(v)), "{name}");
        }
        let p = b
            .column_by_name("truth_p_click")
            .unwrap()
            .as_primitive::<arrow::datatypes::Float64Type>();
        for i in 0..b.num_rows() {
            sum_p += p.value(i);
            n += 1;
            hits += clicked.contains(&ids.value(i)) as usize;
        }
    }
    // the realised click rate matches the mean true probability (calibrated truth)
    let (expected, observed) = (sum_p / n as f64, hits as f64 / n as f64);
    assert!(
        (expected - observed).abs() < 0.004,
        "{expected} vs {observed}"
    );
}

#[test]
fn string_ids_write_the_same_world_as_text() {
    let ints = tempfile::tempdir().unwrap();
    let strings = tempfile::tempdir().unwrap();
    let cfg = small(Preset::Taobao, 5_000, 1);
    let mut scfg = cfg.clone();
    scfg.id_type = esmc_sim::IdType::String;
    run(&cfg, ints.path(), 2);
    run(&scfg, strings.path(), 2);
    let a = read_table(ints.path(), Table::Purchase);
    let b = read_table(strings.path(), Table::Purchase);
    assert_eq!(rows(&a), rows(&b));
    let (_, first) = &b[0];
    validate_schema(Table::Purchase.spec(), &first.schema()).unwrap();
    assert_eq!(
        first
            .schema()
            .field_with_name("order_id")
            .unwrap()
            .data_type(),
        &DataType::Utf8
    );
    let int_orders: Vec<String> = a
        .iter()
        .flat_map(|(_, b)| {
            i64_col(b, "order_id")
                .values()
                .iter()
                .map(|v| v.to_string())
                .collect::<Vec<_>>()
        })
        .collect();
    let str_orders: Vec<String> = b
        .iter()
        .flat_map(|(_, b)| {
            b.column_by_name("order_id")
                .unwrap()
                .as_string::<i32>()
                .iter()
                .map(|v| v.unwrap().to_string())
                .collect::<Vec<_>>()
        })
        .collect();
    assert_eq!(int_orders, str_orders);
}

/// Rows of a table as comparable tuples (partition day, ts, user, item), and whether the
/// row carries a negative amount (purchases).
type Keyed = (chrono::NaiveDate, i64, Option<i64>, i64, bool);

fn keyed(root: &Path, table: Table) -> Vec<Keyed> {
    read_table(root, table)
        .iter()
        .flat_map(|(day, b)| {
            let ts = ts_col(b);
            let user = i64_col(b, "user_id");
            let item = i64_col(b, "item_id");
            let amount = b
                .column_by_name("amount")
                .map(|a| a.as_primitive::<arrow::datatypes::Float64Type>().clone());
            (0..b.num_rows())
                .map(|i| {
                    let negative = amount.as_ref().is_some_and(|a| a.value(i) < 0.0);
                    let user = user.is_valid(i).then(|| user.value(i));
                    (*day, ts.value(i), user, item.value(i), negative)
                })
                .collect::<Vec<_>>()
        })
        .collect()
}

#[test]
fn messiness_switches_do_what_they_claim_and_leave_the_world_alone() {
    let clean_dir = tempfile::tempdir().unwrap();
    let messy_dir = tempfile::tempdir().unwrap();
    let cfg = small(Preset::Eleme, 30_000, 3);
    let mut messy = cfg.clone();
    messy.messiness = Messiness {
        duplicate_rate: 0.02,
        late_rate: 0.01,
        missing_exposure_id_rate: 0.1,
        malformed_rate: 0.005,
    };
    run(&cfg, clean_dir.path(), 2);
    let m = run(&messy, messy_dir.path(), 2).messiness;
    assert!(
        m.duplicates > 0 && m.late > 0 && m.malformed > 0 && m.missing_exposure_id > 0,
        "{m:?}"
    );

    let (mut dups, mut late, mut malformed) = (0u64, 0u64, 0u64);
    for table in Table::EVENTS {
        let clean_rows = keyed(clean_dir.path(), table);
        let messy_rows = keyed(messy_dir.path(), table);
        // a clean world has no duplicates, no late rows, nothing malformed
        let mut seen = HashMap::new();
        for r in &clean_rows {
            *seen.entry(*r).or_insert(0) += 1;
            assert!(r.2.is_some() && !r.4);
            assert_eq!(
                (r.1 - day_us(r.0)).div_euclid(DAY_US),
                0,
                "{table}: clean row outside its day"
            );
        }
        assert!(
            seen.values().all(|&c| c == 1),
            "{table}: clean world has duplicates"
        );

        let mut good: HashMap<(i64, i64, i64), u64> = HashMap::new();
        for &(day, ts, user, item, negative) in &messy_rows {
            let offset = (ts - day_us(day)).div_euclid(DAY_US);
            match (user, offset) {
                (None, _) => malformed += 1,
                _ if negative => malformed += 1,
                (_, o) if o <= -5 => malformed += 1,
                (Some(u), 0) => *good.entry((ts, u, item)).or_insert(0) += 1,
                (Some(u), -1) => {
                    late += 1;
                    *good.entry((ts, u, item)).or_insert(0) += 1;
                }
                _ => panic!("{table}: row {offset} days off its partition"),
            }
        }
        dups += good.values().map(|&c| c - 1).sum::<u64>();
        // removing the mess gives back exactly the clean world's rows
        let mut restored: Vec<_> = good.keys().copied().collect();
        let mut expected: Vec<_> = clean_rows
            .iter()
            .map(|r| (r.1, r.2.unwrap(), r.3))
            .collect();
        restored.sort_unstable();
        expected.sort_unstable();
        assert_eq!(restored, expected, "{table}: messiness changed the world");
    }
    // late duplicates of late rows count once per copy; duplicates of malformed rows none
    assert_eq!(malformed, m.malformed);
    assert!(late >= m.late, "{late} < {}", m.late);
    assert_eq!(dups, m.duplicates);
    let nulls: usize = read_table(messy_dir.path(), Table::Click)
        .iter()
        .map(|(_, b)| b.column_by_name("exposure_id").unwrap().null_count())
        .sum();
    assert!(nulls as u64 >= m.missing_exposure_id);
    // negative amounts appear only in the messy world
    let negative = |root: &Path| keyed(root, Table::Purchase).iter().filter(|r| r.4).count();
    assert_eq!(negative(clean_dir.path()), 0);
    assert!(negative(messy_dir.path()) > 0);
}
