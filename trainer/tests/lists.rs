//! List fields (behaviour sequences) with mean and DIN pooling, on a generated file where
//! the label depends on whether the target item appears in the sequence.

use arrow::array::{ArrayRef, Int8Array, Int64Array, Int64Builder, ListBuilder, RecordBatch};
use esmc_trainer::data;
use esmc_trainer::train::{Silent, evaluate};
use esmc_trainer::{FeatureSpec, ModelKind, TrainConfig, Trainer};
use std::path::Path;
use std::sync::Arc;

/// Click = the exposed item is among the user's recent items (plus noise); purchase =
/// half of those clicks.
fn write(path: &Path, n: usize, seed: u64) {
    let mut s = seed;
    let mut next = move || {
        s = s
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        s >> 33
    };
    let mut items = Vec::new();
    let mut lists = ListBuilder::new(Int64Builder::new());
    let mut click = Vec::new();
    for _ in 0..n {
        let item = (next() % 200) as i64;
        let len = (next() % 8) as usize;
        let mut seen = false;
        for _ in 0..len {
            let h = if next() % 3 == 0 {
                item
            } else {
                (next() % 200) as i64
            };
            seen |= h == item;
            lists.values().append_value(h);
        }
        lists.append(true);
        items.push(item);
        click.push((seen && next() % 10 < 8 || next() % 20 == 0) as i8);
    }
    let buy: Vec<i8> = click.iter().map(|c| c * ((next() % 2) as i8)).collect();
    let z = || Arc::new(Int8Array::from(vec![0i8; n])) as ArrayRef;
    let batch = RecordBatch::try_from_iter([
        (
            "sample_id",
            Arc::new(Int64Array::from((0..n as i64).collect::<Vec<_>>())) as ArrayRef,
        ),
        (
            "user_id",
            Arc::new(Int64Array::from(vec![1i64; n])) as ArrayRef,
        ),
        ("item_id", Arc::new(Int64Array::from(items)) as ArrayRef),
        ("recent_items", Arc::new(lists.finish()) as ArrayRef),
        ("click", Arc::new(Int8Array::from(click)) as ArrayRef),
        (
            "purchase",
            Arc::new(Int8Array::from(buy.clone())) as ArrayRef,
        ),
        (
            "cart_cal",
            Arc::new(Int8Array::from(buy.clone())) as ArrayRef,
        ),
        (
            "cart_global_cal",
            Arc::new(Int8Array::from(buy.clone())) as ArrayRef,
        ),
        ("cart", Arc::new(Int8Array::from(buy.clone())) as ArrayRef),
        ("dma", Arc::new(Int8Array::from(buy)) as ArrayRef),
        ("dmi", z()),
        ("wish", z()),
        ("bad_case", z()),
    ])
    .unwrap();
    let mut w = parquet::arrow::ArrowWriter::try_new(
        std::fs::File::create(path).unwrap(),
        batch.schema(),
        None,
    )
    .unwrap();
    w.write(&batch).unwrap();
    w.close().unwrap();
}

fn run(pooling: &str) -> f64 {
    let dir = tempfile::tempdir().unwrap();
    let (train, test) = (
        dir.path().join("train.parquet"),
        dir.path().join("test.parquet"),
    );
    write(&train, 20_000, 1);
    write(&test, 5_000, 2);
    let features = FeatureSpec::from_toml(&format!(
        "[[sparse]]\ncolumn = \"item_id\"\nbuckets = 1000\n\
         [[list]]\ncolumn = \"recent_items\"\ngroup = \"item_id\"\nmax_len = 5\npooling = \"{pooling}\"\ntarget = \"item_id\"\n"
    ))
    .unwrap();
    let cfg = TrainConfig {
        model: ModelKind::Esmm,
        embedding_dim: 8,
        hidden: vec![32],
        batch_size: 256,
        threads: 1,
        optimizer: esmc_trainer::optim::OptimConfig {
            kind: esmc_trainer::optim::OptimKind::adam(),
            lr: 0.01,
            embedding_lr: None,
        },
        ..TrainConfig::default()
    };
    let schema = data::file_schema(&train).unwrap();
    let mut t = Trainer::new(cfg, features, Some(&schema), data::NormStats::default()).unwrap();
    if pooling == "din" {
        assert!(
            t.model
                .net()
                .ps
                .names
                .iter()
                .any(|n| n.contains(".din.recent_items."))
        );
    }
    for epoch in 0..3 {
        t.train_files(std::slice::from_ref(&train), epoch, &Silent)
            .unwrap();
    }
    evaluate(&t.predict_files(&[test], &Silent).unwrap())
        .ctr
        .auc
        .unwrap()
}

#[test]
fn a_sequence_feature_carries_the_signal_with_mean_and_din_pooling() {
    let (mean, din) = (run("mean"), run("din"));
    eprintln!("CTR-AUC with mean pooling {mean:.4}, DIN {din:.4}");
    // the item alone is uninformative (clicks depend on the item being in the sequence)
    assert!(mean > 0.7, "mean pooling {mean}");
    assert!(din > 0.7, "DIN {din}");
}

#[test]
fn list_fields_need_a_known_group_and_din_a_target() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("x.parquet");
    write(&f, 10, 3);
    let schema = data::file_schema(&f).unwrap();
    let err = |toml: &str| {
        FeatureSpec::from_toml(toml)
            .unwrap()
            .resolve(Some(&schema), 8)
            .unwrap_err()
            .to_string()
    };
    let e = err(
        "[[sparse]]\ncolumn = \"item_id\"\n[[list]]\ncolumn = \"recent_items\"\ngroup = \"shop\"\n",
    );
    assert!(
        e.contains("group 'shop' is not the group of any sparse field"),
        "{e}"
    );
    let e = err(
        "[[sparse]]\ncolumn = \"item_id\"\n[[list]]\ncolumn = \"recent_items\"\ngroup = \"item_id\"\npooling = \"din\"\n",
    );
    assert!(e.contains("din pooling needs a target"), "{e}");
    let e = err(
        "[[sparse]]\ncolumn = \"item_id\"\n[[list]]\ncolumn = \"item_id\"\ngroup = \"item_id\"\n",
    );
    assert!(
        e.contains("declared twice") || e.contains("expected a list"),
        "{e}"
    );
}

#[test]
fn ids_never_seen_in_training_score_without_a_vocabulary_rebuild() {
    let dir = tempfile::tempdir().unwrap();
    let (old, new) = (
        dir.path().join("old.parquet"),
        dir.path().join("new.parquet"),
    );
    write(&old, 2_000, 5);
    write(&new, 500, 6);
    // the later day's items are all new ids
    let f = std::fs::File::open(&new).unwrap();
    let batch = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(f)
        .unwrap()
        .build()
        .unwrap()
        .next()
        .unwrap()
        .unwrap();
    let items: &Int64Array = batch
        .column_by_name("item_id")
        .unwrap()
        .as_any()
        .downcast_ref()
        .unwrap();
    let shifted: Int64Array = items
        .iter()
        .map(|v| v.map(|v| v + 1_000_000_000_000))
        .collect();
    let idx = batch.schema().index_of("item_id").unwrap();
    let mut cols = batch.columns().to_vec();
    cols[idx] = Arc::new(shifted);
    let batch = RecordBatch::try_new(batch.schema(), cols).unwrap();
    let mut w = parquet::arrow::ArrowWriter::try_new(
        std::fs::File::create(&new).unwrap(),
        batch.schema(),
        None,
    )
    .unwrap();
    w.write(&batch).unwrap();
    w.close().unwrap();

    let features =
        FeatureSpec::from_toml("[[sparse]]\ncolumn = \"item_id\"\nbuckets = 1000\n").unwrap();
    let cfg = TrainConfig {
        model: ModelKind::Esmc,
        embedding_dim: 4,
        hidden: vec![8],
        threads: 1,
        ..TrainConfig::default()
    };
    let schema = data::file_schema(&old).unwrap();
    let mut t = Trainer::new(cfg, features, Some(&schema), data::NormStats::default()).unwrap();
    t.train_files(std::slice::from_ref(&old), 0, &Silent)
        .unwrap();
    let p = t.predict_files(&[new], &Silent).unwrap();
    assert_eq!(p.ctr.len(), 500);
    assert!(
        p.ctr
            .iter()
            .chain(&p.cvr)
            .all(|v| v.is_finite() && (0.0..=1.0).contains(v))
    );
}
