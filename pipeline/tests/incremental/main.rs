//! The feature stage's daily aggregates (`features/daily/dt=X/`): a build that sums them
//! writes the same sample bytes as one that re-reads the raw history; a late log of an
//! older day rebuilds exactly the days that depend on it, with the bytes of a
//! from-scratch build on the changed logs; an interrupted or damaged aggregate is
//! detected and recomputed; the prior state each build keeps is rolled into the next
//! day's (`prior_state.rs`). Small simulated worlds with messy logs (duplicates, late
//! rows, malformed rows), real Parquet, real DataFusion.

mod prior_state;

use arrow::array::{ArrayRef, AsArray, Int64Array, RecordBatch};
use arrow::datatypes::Int64Type;
use chrono::NaiveDate;
use esmc_pipeline::{BuildConfig, BuildOptions, Builder, FeatureConfig, NoProgress};
use esmc_schemas::{Table, Warehouse};
use esmc_sim::{Messiness, NoProgress as SimQuiet, Preset, RunOptions, SimConfig};
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::Arc;

/// Windows of 1 and 5 days, carts in the cart 2 days: a history of 5 days, longer than
/// the attribution window (3 days each side).
fn config() -> BuildConfig {
    BuildConfig {
        features: FeatureConfig {
            windows_days: vec![1, 5],
            cart_ttl_days: 2,
            sequence_len: 5,
            ..FeatureConfig::default()
        },
        // the world's malformed rows are quarantined; a small day's share may pass 1%
        max_reject_rate: 0.5,
        ..BuildConfig::default()
    }
}

/// A messy eleme world of `days` days in a new temporary warehouse.
fn world(days: u32) -> tempfile::TempDir {
    let root = tempfile::tempdir().unwrap();
    let mut sim = SimConfig::sized(Preset::Eleme, 3_000, days, 11);
    sim.shards = 2;
    sim.messiness = Messiness {
        duplicate_rate: 0.02,
        late_rate: 0.02,
        missing_exposure_id_rate: 0.02,
        malformed_rate: 0.002,
    };
    let opts = RunOptions {
        threads: 2,
        overwrite: true,
    };
    esmc_sim::simulate(&sim, root.path(), opts, &SimQuiet).unwrap();
    root
}

/// A copy of `from`'s logs in a new warehouse.
fn copy_logs(from: &Path) -> tempfile::TempDir {
    let to = tempfile::tempdir().unwrap();
    copy_tree(&from.join("logs"), &to.path().join("logs"));
    to
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        if e.file_type().unwrap().is_dir() {
            copy_tree(&e.path(), &to.join(e.file_name()));
        } else {
            std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
        }
    }
}

fn days(root: &Path) -> Vec<NaiveDate> {
    Warehouse::new(root).log_days(Table::Exposure).unwrap()
}

fn builder(root: &Path, scratch: bool) -> Builder {
    let b = Builder::new(root, config(), BuildOptions::default());
    if scratch {
        b.features_from_scratch()
    } else {
        b
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// Builds `days` of the warehouse at `root`, oldest first.
fn build_days(root: &Path, days: &[NaiveDate], scratch: bool) {
    let rt = runtime();
    let b = builder(root, scratch);
    for &d in days {
        rt.block_on(b.build(d, &NoProgress)).unwrap();
    }
}

/// The bytes of each day's sample part files (the manifest aside), by day.
fn sample_bytes(root: &Path, days: &[NaiveDate]) -> BTreeMap<NaiveDate, Vec<(String, Vec<u8>)>> {
    let w = Warehouse::new(root);
    days.iter()
        .map(|&d| {
            let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(w.samples_dir(d))
                .unwrap()
                .map(|e| e.unwrap())
                .filter(|e| e.file_name().to_string_lossy().ends_with(".parquet"))
                .map(|e| {
                    (
                        e.file_name().to_string_lossy().into_owned(),
                        std::fs::read(e.path()).unwrap(),
                    )
                })
                .collect();
            files.sort();
            assert!(!files.is_empty(), "no part file for {d}");
            (d, files)
        })
        .collect()
}

/// Cuts the file at `path` to half its length, which it returns.
fn truncate_half(path: &Path) -> u64 {
    let len = std::fs::metadata(path).unwrap().len();
    let f = std::fs::OpenOptions::new().write(true).open(path).unwrap();
    f.set_len(len / 2).unwrap();
    len
}

/// Every day of the world, the first ones with part of their history missing.
fn built_days(root: &Path) -> Vec<NaiveDate> {
    days(root)
}

#[test]
fn summed_daily_aggregates_give_the_bytes_of_a_from_scratch_build() {
    let scratch = world(8);
    let incremental = copy_logs(scratch.path());
    let built = built_days(scratch.path());
    build_days(scratch.path(), &built, true);
    build_days(incremental.path(), &built, false);
    assert!(!scratch.path().join("features").exists());
    // the incremental build kept one aggregate per day before the last built one
    let daily = incremental.path().join("features/daily");
    let kept: BTreeSet<String> = std::fs::read_dir(&daily)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    let want: BTreeSet<String> = days(scratch.path())[..7]
        .iter()
        .map(|d| format!("dt={d}"))
        .collect();
    assert_eq!(kept, want);
    // each night rolled the prior state of the night before; the last five are kept
    prior_state::assert_rolled(incremental.path(), &built[built.len() - 5..]);
    assert_eq!(
        sample_bytes(scratch.path(), &built),
        sample_bytes(incremental.path(), &built)
    );
}

/// Writes a new click file into day `d`'s partition: its first click file's rows with
/// every user id moved by one (new, valid events of that day).
fn late_clicks(root: &Path, d: NaiveDate) {
    let w = Warehouse::new(root);
    let dir = w.log_dir(Table::Click, d);
    let first = w.partition_files(&dir).unwrap().into_iter().next().unwrap();
    let reader = ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(&first).unwrap())
        .unwrap()
        .build()
        .unwrap();
    let batches: Vec<RecordBatch> = reader.map(|b| b.unwrap()).collect();
    let schema = batches[0].schema();
    let out = std::fs::File::create(dir.join("late-00000.parquet")).unwrap();
    let mut writer = ArrowWriter::try_new(out, schema.clone(), None).unwrap();
    let u = schema.index_of("user_id").unwrap();
    for b in batches {
        let users: Int64Array = b.column(u).as_primitive::<Int64Type>().unary(|v| v + 1);
        let mut columns: Vec<ArrayRef> = b.columns().to_vec();
        columns[u] = Arc::new(users);
        writer
            .write(&RecordBatch::try_new(schema.clone(), columns).unwrap())
            .unwrap();
    }
    writer.close().unwrap();
}

#[test]
fn a_late_log_five_days_back_rebuilds_exactly_its_dependents_with_from_scratch_bytes() {
    let root = world(11);
    let built = built_days(root.path());
    build_days(root.path(), &built, false);
    let before = sample_bytes(root.path(), &built);
    let b = builder(root.path(), false);
    assert!(built.iter().all(|&d| !b.decide(d).unwrap().0.rebuild()));

    let last = *built.last().unwrap();
    let late = last - chrono::Days::new(5);
    late_clicks(root.path(), late);
    // D depends on `late` through its label window [D-3, D+3] or its feature history
    // [D-5, D-1]
    let depends = |d: NaiveDate| {
        let back = (d - late).num_days();
        (-3..=5).contains(&back)
    };
    let rebuilt: Vec<NaiveDate> = built
        .iter()
        .copied()
        .filter(|&d| b.decide(d).unwrap().0.rebuild())
        .collect();
    let want: Vec<NaiveDate> = built.iter().copied().filter(|&d| depends(d)).collect();
    assert_eq!(rebuilt, want);
    // a day whose only link to `late` is its feature history is among them
    assert!(rebuilt.contains(&(late + chrono::Days::new(5))));
    assert!(rebuilt.len() < built.len());
    build_days(root.path(), &rebuilt, false);
    // the day after `late` rolled the state of `late` (whose history the late file is
    // not in) with the recomputed counts of `late` entering its windows
    prior_state::assert_rolled(root.path(), &[late + chrono::Days::new(1)]);
    let after = sample_bytes(root.path(), &built);
    for d in &built {
        if !rebuilt.contains(d) {
            assert_eq!(
                before[d], after[d],
                "{d} changed without depending on {late}"
            );
        }
    }
    assert_ne!(
        before[&(late + chrono::Days::new(1))],
        after[&(late + chrono::Days::new(1))]
    );
    // the aggregate of `late` now lists the late file
    let m = std::fs::read_to_string(
        root.path()
            .join(format!("features/daily/dt={late}/_manifest.json")),
    )
    .unwrap();
    assert!(m.contains("late-00000.parquet"), "{m}");

    let scratch = copy_logs(root.path());
    build_days(scratch.path(), &built, true);
    assert_eq!(after, sample_bytes(scratch.path(), &built));
}

#[test]
fn an_interrupted_or_damaged_aggregate_is_detected_and_recomputed() {
    let root = world(7);
    let built = built_days(root.path());
    build_days(root.path(), &built, false);
    let before = sample_bytes(root.path(), &built);
    let last = *built.last().unwrap();
    let daily = root.path().join("features/daily");
    let (x, y, z) = (
        last - chrono::Days::new(1),
        last - chrono::Days::new(2),
        last - chrono::Days::new(3),
    );
    // a dead job's half-written staging directory beside dt=x
    let staged = daily.join(format!(".dt={x}.tmp-999999999-1-0"));
    std::fs::create_dir_all(&staged).unwrap();
    std::fs::write(staged.join("counts.parquet"), b"PAR1 half").unwrap();
    // a truncated counts file in dt=y, a missing manifest in dt=z
    let counts = daily.join(format!("dt={y}/counts.parquet"));
    let len = truncate_half(&counts);
    std::fs::remove_file(daily.join(format!("dt={z}/_manifest.json"))).unwrap();

    build_days(root.path(), &[last], false);
    assert!(!staged.exists(), "the dead job's staging directory is left");
    // recomputed (the same rows; the file's bytes may differ, its row order being the
    // engine's): whole, and recorded in the day's new manifest
    let now = std::fs::metadata(&counts).unwrap().len();
    assert_ne!(now, len / 2);
    let m = std::fs::read_to_string(daily.join(format!("dt={y}/_manifest.json"))).unwrap();
    assert!(m.contains(&format!("\"bytes\": {now}")), "{m}");
    let rows: usize =
        ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(&counts).unwrap())
            .unwrap()
            .build()
            .unwrap()
            .map(|b| b.unwrap().num_rows())
            .sum();
    assert!(rows > 0);
    assert!(daily.join(format!("dt={z}/_manifest.json")).exists());
    assert_eq!(before[&last], sample_bytes(root.path(), &[last])[&last]);
}

/// Rewrites every file of the item snapshot of day `d` through `edit`.
fn edit_items(root: &Path, d: NaiveDate, edit: &dyn Fn(RecordBatch) -> Vec<RecordBatch>) {
    let w = Warehouse::new(root);
    for path in w.partition_files(&w.log_dir(Table::Item, d)).unwrap() {
        let reader = ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(&path).unwrap())
            .unwrap()
            .build()
            .unwrap();
        let batches: Vec<RecordBatch> = reader.flat_map(|b| edit(b.unwrap())).collect();
        let mut writer = ArrowWriter::try_new(
            std::fs::File::create(&path).unwrap(),
            batches[0].schema(),
            None,
        )
        .unwrap();
        for b in &batches {
            writer.write(b).unwrap();
        }
        writer.close().unwrap();
    }
}

/// `batch` with column `name` mapped by `f`.
fn map_column(batch: &RecordBatch, name: &str, f: &dyn Fn(&ArrayRef) -> ArrayRef) -> RecordBatch {
    let i = batch.schema().index_of(name).unwrap();
    let mut columns = batch.columns().to_vec();
    columns[i] = f(&columns[i]);
    RecordBatch::try_new(batch.schema(), columns).unwrap()
}

/// The manifest bytes of every daily aggregate, by directory name.
fn daily_manifests(root: &Path) -> BTreeMap<String, String> {
    std::fs::read_dir(root.join("features/daily"))
        .unwrap()
        .map(|e| e.unwrap())
        .filter(|e| e.file_name().to_string_lossy().starts_with("dt="))
        .map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            (
                name,
                std::fs::read_to_string(e.path().join("_manifest.json")).unwrap(),
            )
        })
        .collect()
}

/// The items of day `x`'s aggregate (its categories file).
fn aggregate_items(root: &Path, x: NaiveDate) -> BTreeSet<i64> {
    let path = root.join(format!("features/daily/dt={x}/categories.parquet"));
    ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(path).unwrap())
        .unwrap()
        .build()
        .unwrap()
        .flat_map(|b| {
            let b = b.unwrap();
            let c = b
                .column_by_name("item_id")
                .unwrap()
                .as_primitive::<Int64Type>();
            c.values().to_vec()
        })
        .collect()
}

#[test]
fn a_rewritten_item_snapshot_recomputes_only_the_days_whose_categories_moved() {
    let root = world(8);
    let built = built_days(root.path());
    build_days(root.path(), &built, false);
    let last = *built.last().unwrap();
    // the last day reads the snapshot of the day before it
    let snapshot = last - chrono::Days::new(1);
    let history: Vec<NaiveDate> = (1..=5).map(|k| last - chrono::Days::new(k)).collect();
    let same_as_scratch = |root: &Path| {
        let scratch = copy_logs(root);
        build_days(scratch.path(), &[last], true);
        assert_eq!(
            sample_bytes(root, &[last]),
            sample_bytes(scratch.path(), &[last])
        );
    };

    // a shop's nightly snapshot: every price moves and a new item appears
    let before = daily_manifests(root.path());
    edit_items(root.path(), snapshot, &|b| {
        let b = map_column(&b, "price", &|c| {
            let p = c.as_primitive::<arrow::datatypes::Float64Type>();
            Arc::new(p.unary::<_, arrow::datatypes::Float64Type>(|v| v + 1.0)) as ArrayRef
        });
        let new = map_column(&b.slice(0, 1), "item_id", &|_| {
            Arc::new(Int64Array::from(vec![987_654_321])) as ArrayRef
        });
        vec![b, new]
    });
    build_days(root.path(), &[last], false);
    let now = daily_manifests(root.path());
    let changed: Vec<&String> = before.keys().filter(|k| before[*k] != now[*k]).collect();
    assert!(changed.is_empty(), "recomputed: {changed:?}");
    same_as_scratch(root.path());

    // one item moves to another category: exactly the history days that saw it
    let items: Vec<BTreeSet<i64>> = history
        .iter()
        .map(|&x| aggregate_items(root.path(), x))
        .collect();
    let moved = *items[0]
        .iter()
        .find(|i| items.iter().any(|s| !s.contains(i)))
        .expect("an item not seen on every day");
    edit_items(root.path(), snapshot, &|b| {
        let items = b
            .column_by_name("item_id")
            .unwrap()
            .as_primitive::<Int64Type>()
            .clone();
        vec![map_column(&b, "category_id", &|c| {
            let c = c.as_primitive::<Int64Type>();
            Arc::new(Int64Array::from_iter(c.iter().zip(items.iter()).map(
                |(v, i)| {
                    if i == Some(moved) { Some(1_000_000) } else { v }
                },
            ))) as ArrayRef
        })]
    });
    build_days(root.path(), &[last], false);
    let after = daily_manifests(root.path());
    let recomputed: Vec<NaiveDate> = history
        .iter()
        .copied()
        .filter(|x| before[&format!("dt={x}")] != after[&format!("dt={x}")])
        .collect();
    let want: Vec<NaiveDate> = history
        .iter()
        .zip(&items)
        .filter(|(_, s)| s.contains(&moved))
        .map(|(&x, _)| x)
        .collect();
    assert_eq!(recomputed, want);
    assert!(!want.is_empty() && want.len() < history.len());
    same_as_scratch(root.path());
}
