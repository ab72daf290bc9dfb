//! The leakage test (events at or after an exposure never change its features) and the
//! feature stage under a small memory budget, on simulated worlds.

use super::*;

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
