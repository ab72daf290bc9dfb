//! Non-numeric string IDs: `esmc_id('u_8f3a')` gives the ID the built samples carry for
//! `u_8f3a`, and log tables (CSV/NDJSON, and Parquet with text ID columns) read text IDs
//! as the same mapped IDs.

use datafusion::arrow::array::{ArrayRef, RecordBatch, StringArray, TimestampMicrosecondArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema, TimeUnit};
use esmc_pipeline::{BuildConfig, BuildOptions, Builder, NoProgress};
use parquet::arrow::ArrowWriter;
use std::path::Path;
use std::sync::Arc;

fn write(root: &Path, table: &str, name: &str, text: &str) {
    let dir = root.join(format!("logs/{table}/dt=2026-11-02"));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(name), text).unwrap();
}

/// A warehouse of 2026-11-02: two rec exposures with text IDs (CSV), one clicked (the
/// click in a Parquet file with `Utf8` IDs), built.
fn built() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write(
        root,
        "exposure",
        "part-0.csv",
        "exposure_id,ts,user_id,item_id,domain\n\
         123e4567-e89b-12d3-a456-426614174000,2026-11-02T10:00:00Z,u_8f3a,sku-9,rec\n\
         e-2,2026-11-02T11:00:00Z,u_8f3a,42,rec\n",
    );
    let utf8 = |v: &str| Arc::new(StringArray::from(vec![v])) as ArrayRef;
    let click = RecordBatch::try_new(
        Arc::new(Schema::new(vec![
            Field::new(
                "ts",
                DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
                false,
            ),
            Field::new("user_id", DataType::Utf8, false),
            Field::new("item_id", DataType::Utf8, false),
            Field::new("exposure_id", DataType::Utf8, true),
        ])),
        vec![
            Arc::new(
                TimestampMicrosecondArray::from(vec![1_793_613_605_000_000]).with_timezone("UTC"),
            ),
            utf8("u_8f3a"),
            utf8("sku-9"),
            utf8("123e4567-e89b-12d3-a456-426614174000"),
        ],
    )
    .unwrap();
    let dir_click = root.join("logs/click/dt=2026-11-02");
    std::fs::create_dir_all(&dir_click).unwrap();
    let file = std::fs::File::create(dir_click.join("part-0.parquet")).unwrap();
    let mut w = ArrowWriter::try_new(file, click.schema(), None).unwrap();
    w.write(&click).unwrap();
    w.close().unwrap();

    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let builder = Builder::new(root, BuildConfig::default(), BuildOptions::default());
    let day = chrono::NaiveDate::from_ymd_opt(2026, 11, 2).unwrap();
    rt.block_on(builder.build(day, &NoProgress)).unwrap();
    dir
}

#[test]
fn esmc_id_gives_the_ids_the_samples_carry() {
    let dir = built();
    let (rt, ctx) = super::formats::session(dir.path());
    let got = super::formats::query(
        &rt,
        &ctx,
        "SELECT sample_id = esmc_id('123e4567-e89b-12d3-a456-426614174000') AS first, \
                user_id = esmc_id('u_8f3a') AS user, \
                item_id = esmc_id('sku-9') AS item, item_id = esmc_id('42') AS item_42, \
                click \
         FROM samples ORDER BY ts",
    );
    assert!(
        got.ends_with(
            "+-------+------+-------+---------+-------+\n\
             | first | user | item  | item_42 | click |\n\
             +-------+------+-------+---------+-------+\n\
             | true  | true | true  | false   | 1     |\n\
             | false | true | false | true    | 0     |\n\
             +-------+------+-------+---------+-------+"
        ),
        "{got}"
    );
    // fixed values: the mapping is stable (schemas/src/id.rs)
    let got = super::formats::query(
        &rt,
        &ctx,
        "SELECT esmc_id('u_8f3a') AS text, esmc_id('42') AS digits, esmc_id('') AS empty",
    );
    assert!(
        got.ends_with(
            "+----------------------+--------+-------+\n\
             | text                 | digits | empty |\n\
             +----------------------+--------+-------+\n\
             | -5163780481812918789 | 42     |       |\n\
             +----------------------+--------+-------+"
        ),
        "{got}"
    );
}

#[test]
fn text_log_tables_read_text_ids_as_the_mapped_ids() {
    let dir = built();
    let (rt, ctx) = super::formats::session(dir.path());
    // the exposure log is CSV: its text IDs read as esmc_id, so it joins the samples
    let got = super::formats::query(
        &rt,
        &ctx,
        "SELECT e.user_id = esmc_id('u_8f3a') AS user, s.click \
         FROM exposure e JOIN samples s ON s.sample_id = e.exposure_id \
         WHERE e.exposure_id = esmc_id('123e4567-e89b-12d3-a456-426614174000')",
    );
    assert!(
        got.ends_with(
            "+------+-------+\n\
             | user | click |\n\
             +------+-------+\n\
             | true | 1     |\n\
             +------+-------+"
        ),
        "{got}"
    );
    // a Parquet log with non-numeric text IDs reads them through esmc_id too
    let got = super::formats::query(
        &rt,
        &ctx,
        "SELECT c.user_id = esmc_id('u_8f3a') AS user, count(*) AS n \
         FROM click c JOIN exposure e ON c.exposure_id = e.exposure_id GROUP BY 1",
    );
    assert!(
        got.ends_with(
            "+------+---+\n\
             | user | n |\n\
             +------+---+\n\
             | true | 1 |\n\
             +------+---+"
        ),
        "{got}"
    );
}
