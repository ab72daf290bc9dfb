//! The builder on simulated worlds: invariants, reconciliation with the logs,
//! agreement with what the simulator generated, determinism across runs and threads.

mod common;

use arrow::array::AsArray;
use arrow::datatypes::{Int8Type, Int64Type};
use common::read_dir;
use esmc_pipeline::{BuildConfig, BuildOptions, Builder, NoProgress};
use esmc_schemas::{Table, Warehouse};
use esmc_sim::{NoProgress as SimQuiet, Preset, RunOptions, SimConfig};
use std::collections::HashSet;
use std::path::Path;

fn world(root: &Path, exposures_per_day: u64, days: u32) -> SimConfig {
    let mut cfg = SimConfig::sized(Preset::Eleme, exposures_per_day, days, 11);
    cfg.shards = 2;
    esmc_sim::simulate(
        &cfg,
        root,
        RunOptions {
            threads: 2,
            overwrite: true,
        },
        &SimQuiet,
    )
    .unwrap();
    cfg
}

fn read_table(root: &Path, table: Table, day: chrono::NaiveDate) -> Vec<arrow::array::RecordBatch> {
    read_dir(&Warehouse::new(root).log_dir(table, day))
}

fn sum_label(batches: &[arrow::array::RecordBatch], name: &str) -> u64 {
    batches
        .iter()
        .map(|b| {
            b.column_by_name(name)
                .unwrap()
                .as_primitive::<Int8Type>()
                .values()
                .iter()
                .map(|&v| v as u64)
                .sum::<u64>()
        })
        .sum()
}

// Long because: one world built once, then samples, agreement, reconciliation, invariants.
#[test]
fn simulated_days_build_reconcile_and_agree_with_the_simulator() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = world(dir.path(), 20_000, 6);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let builder = Builder::new(dir.path(), BuildConfig::default(), BuildOptions::default());
    let d = cfg.start + chrono::Days::new(1);
    let report = rt.block_on(builder.build(d, &NoProgress)).unwrap();
    let m = &report.manifest;
    assert_eq!(m.maturity, "mature");
    let samples = read_dir(&report.partition);

    // every rec exposure of D is a sample, exactly once
    let mut rec = HashSet::new();
    for b in read_table(dir.path(), Table::Exposure, d) {
        let ids = b
            .column_by_name("exposure_id")
            .unwrap()
            .as_primitive::<Int64Type>();
        let domain = b.column_by_name("domain").unwrap().as_string::<i32>();
        for i in 0..b.num_rows() {
            if domain.value(i) == "rec" {
                assert!(rec.insert(ids.value(i)));
            }
        }
    }
    let mut sample_ids = HashSet::new();
    let mut clicked = HashSet::new();
    for b in &samples {
        let ids = b
            .column_by_name("exposure_id")
            .unwrap()
            .as_primitive::<Int64Type>();
        let click = b
            .column_by_name("click")
            .unwrap()
            .as_primitive::<Int8Type>();
        for i in 0..b.num_rows() {
            assert!(sample_ids.insert(ids.value(i)));
            if click.value(i) == 1 {
                clicked.insert(ids.value(i));
            }
        }
    }
    assert_eq!(sample_ids, rec);
    assert_eq!(m.rows as usize, rec.len());

    // agreement: in a clean world every click names its exposure, so the click labels
    // are exactly the rec exposures of D that the simulator's clicks point at
    let mut truth_clicked = HashSet::new();
    for day in [d, d + chrono::Days::new(1)] {
        for b in read_table(dir.path(), Table::Click, day) {
            let ids = b
                .column_by_name("exposure_id")
                .unwrap()
                .as_primitive::<Int64Type>();
            truth_clicked.extend(ids.iter().flatten().filter(|id| rec.contains(id)));
        }
    }
    assert_eq!(clicked, truth_clicked);

    // reconciliation: labels = attributed events
    assert_eq!(sum_label(&samples, "click"), m.clicks_attributed);
    let purchases = sum_label(&samples, "purchase");
    assert!(purchases <= m.purchases_attributed && purchases > 0);
    // invariants (the build checks them too)
    for b in &samples {
        let click = b
            .column_by_name("click")
            .unwrap()
            .as_primitive::<Int8Type>();
        for name in &common::LABELS[1..] {
            let l = b.column_by_name(name).unwrap().as_primitive::<Int8Type>();
            for i in 0..b.num_rows() {
                assert!(l.value(i) <= click.value(i), "{name} without click");
            }
        }
    }
    // the eleme world has every psc case
    for case in [
        "no_purchase",
        "no_cart",
        "same_visit",
        "later_visit",
        "other_visit",
    ] {
        assert!(
            m.psc_case_counts[case] > 0,
            "{case}: {:?}",
            m.psc_case_counts
        );
    }
}

#[test]
fn rebuilds_are_byte_identical_at_any_thread_count() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = world(dir.path(), 15_000, 5);
    let d = cfg.start + chrono::Days::new(1);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut files = Vec::new();
    for threads in [1, 2, 2] {
        let opts = BuildOptions {
            threads,
            ..BuildOptions::default()
        };
        let builder = Builder::new(dir.path(), BuildConfig::default(), opts);
        let report = rt.block_on(builder.build(d, &NoProgress)).unwrap();
        files.push(std::fs::read(report.partition.join("part-00000.parquet")).unwrap());
    }
    assert!(files[0].len() > 1000);
    assert!(
        files[0] == files[1] && files[1] == files[2],
        "rebuild changed bytes"
    );
}

#[test]
fn nightly_rebuilds_exactly_what_changed() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = world(dir.path(), 8_000, 8);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let day = |n: u64| cfg.start + chrono::Days::new(n);
    let run = |bc: BuildConfig| {
        let builder = Builder::new(dir.path(), bc, BuildOptions::default());
        rt.block_on(builder.nightly(day(4), &NoProgress))
            .unwrap()
            .into_iter()
            .map(|d| (d.day, d.decision.rebuild()))
            .collect::<Vec<_>>()
    };
    let first = run(BuildConfig::default());
    assert_eq!(first, (1..=4).map(|n| (day(n), true)).collect::<Vec<_>>());
    // nothing changed: nothing rebuilt
    let second = run(BuildConfig::default());
    assert!(second.iter().all(|(_, rebuilt)| !rebuilt), "{second:?}");
    // a late file lands in day 5: only the days whose window reads day 5 (2, 3, 4)
    let w = Warehouse::new(dir.path());
    let src = w
        .log_dir(Table::Purchase, day(5))
        .join("part-00000.parquet");
    std::fs::copy(
        &src,
        w.log_dir(Table::Purchase, day(5)).join("late-0.parquet"),
    )
    .unwrap();
    let third = run(BuildConfig::default());
    assert_eq!(
        third,
        vec![
            (day(1), false),
            (day(2), true),
            (day(3), true),
            (day(4), true)
        ]
    );
    // a config change rebuilds every day of the window
    let copy = BuildConfig {
        calibration: esmc_pipeline::Calibration::Copy,
        ..BuildConfig::default()
    };
    assert!(run(copy).iter().all(|(_, rebuilt)| *rebuilt));
}

/// One stage as reported: its name and its (pos, len, unit)s in order.
type StageReport = (String, Vec<(u64, u64, String)>);

/// Every progress report of a build, stage by stage.
#[derive(Default)]
struct Recorder(std::sync::Mutex<Vec<StageReport>>);

impl esmc_pipeline::Progress for Recorder {
    fn stage(&self, _: chrono::NaiveDate, stage: &str) {
        self.0.lock().unwrap().push((stage.to_string(), Vec::new()));
    }

    fn position(&self, _: chrono::NaiveDate, pos: u64, len: u64, unit: &str) {
        let mut stages = self.0.lock().unwrap();
        let (_, positions) = stages.last_mut().expect("a position before any stage");
        positions.push((pos, len, unit.to_string()));
    }
}

#[test]
fn progress_reports_every_stage_from_zero_up_to_its_length() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = world(dir.path(), 10_000, 5);
    let d = cfg.start + chrono::Days::new(1);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let builder = Builder::new(dir.path(), BuildConfig::default(), BuildOptions::default());
    let recorder = Recorder::default();
    let report = rt.block_on(builder.build(d, &recorder)).unwrap();
    let stages = recorder.0.into_inner().unwrap();

    let names: Vec<&str> = stages.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "checking inputs",
            "cleaning",
            "attributing",
            "features",
            "writing"
        ]
    );
    let mut lengths = Vec::new();
    for (name, positions) in &stages {
        let (_, len, unit) = positions.first().unwrap_or_else(|| panic!("{name}: none"));
        assert_eq!(positions[0].0, 0, "{name} starts at 0");
        assert!(*len > 0, "{name}");
        for pair in positions.windows(2) {
            assert!(pair[0].0 <= pair[1].0, "{name}: {positions:?}");
        }
        for (pos, l, u) in positions {
            assert!(l == len && u == unit && pos <= len, "{name}: {positions:?}");
        }
        assert_eq!(
            positions.last().unwrap().0,
            *len,
            "{name} ends at its length"
        );
        lengths.push((name.as_str(), *len, unit.as_str(), positions.len()));
    }
    // the units, and lengths that are the real counts
    let files = (0..5)
        .map(|k| cfg.start + chrono::Days::new(k))
        .flat_map(|day| Table::ALL.map(|t| Warehouse::new(dir.path()).log_dir(t, day)))
        .map(|dir| std::fs::read_dir(dir).map_or(0, |e| e.count() as u64))
        .sum::<u64>();
    assert_eq!(
        lengths[0].1, files,
        "every log file of the 5 days is checked"
    );
    assert_eq!(lengths[0].2, "files");
    assert_eq!(lengths[0].3 as u64, files + 1, "one report per file");
    assert_eq!((lengths[1].1, lengths[1].2), (6, "tables"));
    assert_eq!((lengths[2].2, lengths[3].2), ("events", "steps"));
    assert!(lengths[2].1 > report.manifest.rows);
    assert!(
        lengths[2].3 > 4,
        "events reported batch by batch: {:?}",
        lengths[2]
    );
    assert_eq!((lengths[4].1, lengths[4].2), (report.manifest.rows, "rows"));
}
