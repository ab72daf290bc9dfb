//! Bad files and partitions: empty, truncated, header-only, malformed CSV/NDJSON,
//! unknown formats, bad partition directories and missing logs or snapshots.

use std::path::Path;

use std::sync::Arc;

use arrow::array::RecordBatch;
use arrow::datatypes::{DataType, Field, Schema, TimeUnit};

use crate::harness::*;

// ---- files ---------------------------------------------------------------------------

#[test]
fn b15_zero_byte_parquet_file() {
    let setup = |w: &Path| put(w, "click", D, "x.parquet", b"");
    case(
        setup,
        BUILD,
        Expect::Fails(1, &["x.parquet", "not a readable Parquet file"]),
    );
}

#[test]
fn b16_truncated_parquet_file() {
    let setup = |w: &Path| {
        let dir = w.join("logs/click/dt=2026-11-01");
        let bytes = std::fs::read(dir.join("part-00000.parquet")).unwrap();
        std::fs::write(dir.join("x.parquet"), &bytes[..bytes.len() / 2]).unwrap();
    };
    case(
        setup,
        BUILD,
        Expect::Fails(1, &["x.parquet", "not a readable Parquet file"]),
    );
}

#[test]
fn b17_parquet_file_without_rows_is_accepted() {
    let setup = |w: &Path| {
        let schema = Schema::new(vec![
            Field::new(
                "ts",
                DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
                false,
            ),
            Field::new("user_id", DataType::Int64, false),
            Field::new("item_id", DataType::Int64, false),
        ]);
        let batch = RecordBatch::new_empty(Arc::new(schema));
        let dir = w.join("logs/click/dt=2026-11-01");
        let file = std::fs::File::create(dir.join("x.parquet")).unwrap();
        let mut wr = parquet::arrow::ArrowWriter::try_new(file, batch.schema(), None).unwrap();
        wr.write(&batch).unwrap();
        wr.close().unwrap();
    };
    case(setup, BUILD, Expect::SameSamples);
}

#[test]
fn b18_zero_byte_csv_file() {
    let setup = |w: &Path| put(w, "click", D, "x.csv", b"");
    case(setup, BUILD, Expect::Fails(1, &["x.csv", "empty file"]));
}

#[test]
fn b19_csv_with_a_header_only_is_accepted() {
    let setup = |w: &Path| click_csv(w, "");
    case(setup, BUILD, Expect::SameSamples);
}

#[test]
fn b20_csv_line_with_the_wrong_number_of_fields() {
    let setup = |w: &Path| click_csv(w, "2026-11-01T10:00:00Z,1,2\n");
    case(
        setup,
        BUILD,
        Expect::Fails(1, &["x.csv", "line 2", "expected 4 got 3"]),
    );
}

#[test]
fn b21_csv_line_that_is_not_utf8() {
    let setup = |w: &Path| {
        put(
            w,
            "click",
            D,
            "x.csv",
            b"ts,user_id,item_id,exposure_id\n2026-11-01T10:00:00Z,\xff\xfe,2,\n",
        )
    };
    case(
        setup,
        BUILD,
        Expect::Fails(1, &["x.csv", "invalid UTF-8", "line 2"]),
    );
}

#[test]
fn b22_ndjson_line_that_is_not_json() {
    let setup = |w: &Path| {
        put(
            w,
            "click",
            D,
            "x.ndjson",
            b"{\"ts\":\"2026-11-01T10:00:00Z\",\"user_id\":1,\n",
        )
    };
    case(
        setup,
        BUILD,
        Expect::Fails(1, &["x.ndjson", "line 1", "not a JSON object"]),
    );
}

#[test]
fn b23_file_of_an_unknown_format() {
    let setup = |w: &Path| put(w, "click", D, "x.txt", b"hello\n");
    case(
        setup,
        BUILD,
        Expect::Fails(1, &["x.txt", "unsupported log file format"]),
    );
}

// ---- partitions and snapshots -------------------------------------------------------

#[test]
fn b24_partition_directory_without_dt() {
    let setup = |w: &Path| {
        let dir = w.join("logs/click/2026-11-01");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("part-0.csv"), b"ts,user_id,item_id\n").unwrap();
    };
    let msg = ["logs/click/2026-11-01", "not a partition"];
    case(setup, BUILD, Expect::Fails(1, &msg));
}

#[test]
fn b25_partition_with_an_impossible_date() {
    let setup = |w: &Path| std::fs::create_dir_all(w.join("logs/click/dt=2026-13-01")).unwrap();
    let msg = ["logs/click/dt=2026-13-01", "not a partition"];
    case(setup, BUILD, Expect::Fails(1, &msg));
}

#[test]
fn b26_no_exposure_logs_for_the_day() {
    let setup = |w: &Path| std::fs::remove_dir_all(w.join("logs/exposure/dt=2026-11-01")).unwrap();
    let msg = [
        "no exposure logs for 2026-11-01",
        "logs/exposure/dt=2026-11-01",
    ];
    case(setup, BUILD, Expect::Fails(1, &msg));
}

#[test]
fn b27_missing_dimension_snapshots_build_with_null_dimensions() {
    let setup = |w: &Path| std::fs::remove_dir_all(w.join("logs/user")).unwrap();
    let same_rows = |m: &serde_json::Value| assert_eq!(m["rows"], template_manifest()["rows"]);
    case(setup, BUILD, Expect::Rebuilt(&same_rows));
}
