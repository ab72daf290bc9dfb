//! Log tables in CSV and NDJSON: one small simulated world's logs written as Parquet, as
//! CSV, as NDJSON, mixed within every partition and mixed across tables give the same
//! schema and the same query results; a bad text file (malformed line, missing column)
//! or a file of no known format fails the queries that read its day, naming it, while
//! the other days stay queryable; an unparseable value reads as null (a text ID is not
//! one: it reads as its `esmc_id`).

use datafusion::arrow::array::{Array, AsArray, RecordBatch, UInt32Array};
use datafusion::arrow::compute::{concat_batches, take_record_batch};
use datafusion::arrow::datatypes::{
    DataType, Float64Type, Int8Type, Int32Type, Int64Type, TimeUnit, TimestampMicrosecondType,
};
use datafusion::prelude::SessionContext;
use esmc_schemas::{Table, Warehouse};
use esmc_sql::SqlError;
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// Days of the world (2026-11-01 ..= 2026-11-03).
const DAYS: u32 = 3;

/// How the logs of a warehouse are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Layout {
    Parquet,
    Csv,
    NdJson,
    /// Every partition's rows dealt round-robin into a Parquet, a CSV and a JSONL file.
    MixedWithin,
    /// Exposure and the dimensions stay Parquet (the fast path), click and cart are CSV,
    /// the other events NDJSON: the join of click and exposure crosses the two paths.
    MixedAcross,
}

/// The simulated world in Parquet, as the simulator wrote it (once per test binary).
fn source() -> &'static Path {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let mut cfg = esmc_sim::SimConfig::sized(esmc_sim::Preset::Eleme, 600, DAYS, 11);
        cfg.shards = 2;
        let opts = esmc_sim::RunOptions {
            threads: 2,
            overwrite: false,
        };
        esmc_sim::simulate(&cfg, dir.path(), opts, &esmc_sim::NoProgress).unwrap();
        dir
    })
    .path()
}

fn read_parquet(path: &Path) -> RecordBatch {
    let file = std::fs::File::open(path).unwrap();
    let builder = ParquetRecordBatchReaderBuilder::try_new(file).unwrap();
    let schema = builder.schema().clone();
    let batches: Vec<RecordBatch> = builder.build().unwrap().map(Result::unwrap).collect();
    concat_batches(&schema, &batches).unwrap()
}

fn write_parquet(path: &Path, batch: &RecordBatch) {
    let file = std::fs::File::create(path).unwrap();
    let mut w = ArrowWriter::try_new(file, batch.schema(), None).unwrap();
    w.write(batch).unwrap();
    w.close().unwrap();
}

/// One cell as text (`None`: null). Timestamps alternate by row between RFC 3339 and
/// integer microseconds, as a mixed producer might write them.
fn cell(array: &dyn Array, row: usize) -> Option<String> {
    if array.is_null(row) {
        return None;
    }
    Some(match array.data_type() {
        DataType::Int64 => array.as_primitive::<Int64Type>().value(row).to_string(),
        DataType::Int32 => array.as_primitive::<Int32Type>().value(row).to_string(),
        DataType::Int8 => array.as_primitive::<Int8Type>().value(row).to_string(),
        DataType::Float64 => array.as_primitive::<Float64Type>().value(row).to_string(),
        DataType::Utf8 => array.as_string::<i32>().value(row).to_string(),
        DataType::Timestamp(TimeUnit::Microsecond, _) => {
            let us = array.as_primitive::<TimestampMicrosecondType>().value(row);
            if row.is_multiple_of(2) {
                let t = chrono::DateTime::from_timestamp_micros(us).unwrap();
                t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
            } else {
                us.to_string()
            }
        }
        other => panic!("no text form for {other}"),
    })
}

fn csv_text(batch: &RecordBatch) -> String {
    let quote = |s: String| {
        if s.contains([',', '"', '\n']) {
            format!("\"{}\"", s.replace('"', "\"\""))
        } else {
            s
        }
    };
    let schema = batch.schema();
    let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
    let mut out = names.join(",") + "\n";
    for row in 0..batch.num_rows() {
        let cells: Vec<String> = batch
            .columns()
            .iter()
            .map(|c| cell(c.as_ref(), row).map(quote).unwrap_or_default())
            .collect();
        out += &(cells.join(",") + "\n");
    }
    out
}

fn ndjson_text(batch: &RecordBatch) -> String {
    let schema = batch.schema();
    let mut out = String::new();
    for row in 0..batch.num_rows() {
        // numbers written as text, not through serde_json's f64 (which may round them)
        let members: Vec<String> = schema
            .fields()
            .iter()
            .zip(batch.columns())
            .filter_map(|(field, column)| {
                let text = cell(column.as_ref(), row)?; // a null is an absent key
                let value = match column.data_type() {
                    DataType::Utf8 | DataType::Timestamp(..) => serde_json::json!(text).to_string(),
                    _ => text,
                };
                Some(format!("{}: {value}", serde_json::json!(field.name())))
            })
            .collect();
        out += &format!("{{{}}}\n", members.join(", "));
    }
    out
}

/// `batch` written into `dir` as `stem` in `format` ("parquet", "csv", "ndjson", "jsonl").
fn write_as(dir: &Path, stem: &str, format: &str, batch: &RecordBatch) {
    let path = dir.join(format!("{stem}.{format}"));
    match format {
        "parquet" => write_parquet(&path, batch),
        "csv" => std::fs::write(path, csv_text(batch)).unwrap(),
        "ndjson" | "jsonl" => std::fs::write(path, ndjson_text(batch)).unwrap(),
        other => panic!("{other}"),
    }
}

/// The source world's logs rewritten in `layout` into a new warehouse.
fn warehouse(layout: Layout) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let from = Warehouse::new(source());
    let to = Warehouse::new(dir.path());
    for table in Table::ALL {
        for day in from.log_days(table).unwrap() {
            let out = to.log_dir(table, day);
            std::fs::create_dir_all(&out).unwrap();
            let files = from.partition_files(&from.log_dir(table, day)).unwrap();
            if layout == Layout::MixedWithin {
                let parts: Vec<RecordBatch> = files.iter().map(|p| read_parquet(p)).collect();
                let all = concat_batches(&parts[0].schema(), &parts).unwrap();
                for (k, format) in ["parquet", "csv", "jsonl"].into_iter().enumerate() {
                    let rows: Vec<u32> = (0..all.num_rows() as u32)
                        .filter(|r| *r as usize % 3 == k)
                        .collect();
                    let part = take_record_batch(&all, &UInt32Array::from(rows)).unwrap();
                    write_as(&out, &format!("part-{k}"), format, &part);
                }
                continue;
            }
            let format = match (layout, table) {
                (Layout::Parquet, _) => "parquet",
                (Layout::Csv, _) => "csv",
                (Layout::NdJson, _) => "ndjson",
                (Layout::MixedAcross, Table::Click | Table::Cart) => "csv",
                (Layout::MixedAcross, Table::Exposure | Table::User | Table::Item) => "parquet",
                (Layout::MixedAcross, _) => "ndjson",
                (Layout::MixedWithin, _) => unreachable!(),
            };
            for path in files {
                let stem = path.file_stem().unwrap().to_str().unwrap();
                write_as(&out, stem, format, &read_parquet(&path));
            }
        }
    }
    dir
}

pub(crate) use super::fixture::session_at as session;

pub(crate) fn try_query(
    rt: &tokio::runtime::Runtime,
    ctx: &SessionContext,
    sql: &str,
) -> Result<RecordBatch, SqlError> {
    let df = rt.block_on(esmc_sql::plan_sql(ctx, sql))?;
    let schema = df.schema().inner().clone();
    let batches = rt.block_on(esmc_sql::collect(df, sql))?;
    Ok(concat_batches(&schema, &batches).unwrap())
}

/// `sql`'s result as text: the column names, types and nullability, then the rows.
pub(crate) fn query(rt: &tokio::runtime::Runtime, ctx: &SessionContext, sql: &str) -> String {
    let batch = try_query(rt, ctx, sql).unwrap_or_else(|e| panic!("{sql}: {e}"));
    let mut out: String = batch
        .schema()
        .fields()
        .iter()
        .map(|f| format!("{} {} {}\n", f.name(), f.data_type(), f.is_nullable()))
        .collect();
    out += &datafusion::arrow::util::pretty::pretty_format_batches(&[batch])
        .unwrap()
        .to_string();
    out
}

/// Every row of `table`, ordered by all its columns.
fn every_row(table: Table) -> String {
    let mut columns: Vec<&str> = table.spec().columns.iter().map(|c| c.name).collect();
    columns.push("dt");
    format!("SELECT * FROM {table} ORDER BY {}", columns.join(", "))
}

#[test]
fn every_format_and_mix_reads_the_same() {
    let mut queries: Vec<String> = Vec::new();
    for table in Table::ALL {
        queries.push(format!(
            "SELECT dt, count(*) AS n FROM {table} GROUP BY dt ORDER BY dt"
        ));
        queries.push(every_row(table));
    }
    queries.extend(
        [
            "SELECT e.dt, e.domain, count(*) AS clicks, count(DISTINCT c.user_id) AS users, \
             sum(e.position) AS positions \
             FROM click c JOIN exposure e ON c.exposure_id = e.exposure_id \
             GROUP BY e.dt, e.domain ORDER BY e.dt, e.domain",
            "SELECT ts, user_id, item_id, exposure_id FROM click WHERE dt = '2026-11-02' \
             ORDER BY ts, user_id, item_id, exposure_id",
            // (a float sum depends on the order the engine's partitions finish in)
            "SELECT count(*) AS n, round(sum(amount), 6) AS amount FROM purchase \
             WHERE dt = '2026-11-03'",
            "SELECT dt, count(*) AS n FROM cart WHERE dt BETWEEN '2026-11-02' AND '2026-11-03' \
             GROUP BY dt ORDER BY dt",
            // no column read at all; a limit pushed into both branches
            "SELECT count(*) AS n FROM micro",
            "SELECT count(*) AS n FROM (SELECT * FROM click LIMIT 5)",
        ]
        .map(String::from),
    );
    let results = |layout: Layout| {
        let dir = warehouse(layout);
        let (rt, ctx) = session(dir.path());
        let tables = rt.block_on(esmc_sql::describe(&ctx, None)).unwrap();
        let results: Vec<String> = queries.iter().map(|q| query(&rt, &ctx, q)).collect();
        (tables, results)
    };
    let (tables, want) = results(Layout::Parquet);
    // the fixture is not trivially empty: every table but wish (eleme's world has none)
    // has rows on every day
    let days_with_rows: Vec<(Table, usize)> = Table::ALL
        .into_iter()
        .zip(want.iter().step_by(2))
        .map(|(t, r)| (t, r.matches("| 2026-11-0").count()))
        .collect();
    for (table, days) in days_with_rows {
        let want = if table == Table::Wish {
            0
        } else {
            DAYS as usize
        };
        assert_eq!(days, want, "{table}");
    }
    for layout in [
        Layout::Csv,
        Layout::NdJson,
        Layout::MixedWithin,
        Layout::MixedAcross,
    ] {
        let (got_tables, got) = results(layout);
        assert_eq!(got_tables, tables, "{layout:?}: table schemas");
        for ((q, w), g) in queries.iter().zip(&want).zip(&got) {
            if let Some((line, (w, g))) = w
                .lines()
                .zip(g.lines())
                .enumerate()
                .find(|(_, (w, g))| w != g)
            {
                panic!("{layout:?}: {q}\nline {line}:\nParquet: {w}\n{layout:?}: {g}");
            }
            assert_eq!(w.lines().count(), g.lines().count(), "{layout:?}: {q}");
        }
    }
}

fn click_file(root: &Path, day: &str, name: &str) -> PathBuf {
    root.join(format!("logs/click/dt={day}/{name}"))
}

#[test]
fn bad_text_files_fail_only_the_queries_that_read_their_day() {
    let dir = warehouse(Layout::MixedWithin);
    let root = dir.path();
    let count = |sql: &str| {
        let (rt, ctx) = session(root);
        try_query(&rt, &ctx, sql).map(|b| b.column(0).as_primitive::<Int64Type>().value(0))
    };
    let day2 = count("SELECT count(*) FROM click WHERE dt = '2026-11-02'").unwrap();
    let all = count("SELECT count(*) FROM click").unwrap();

    // a CSV line with a field missing, on 2026-11-03
    let bad = click_file(root, "2026-11-03", "extra.csv");
    std::fs::write(
        &bad,
        "ts,user_id,item_id\n2026-11-03T11:00:00Z,7,100\n2026-11-03T11:00:00Z,7\n",
    )
    .unwrap();
    let err = count("SELECT count(*) FROM click").unwrap_err();
    assert!(matches!(err, SqlError::LogFile(_)), "{err:?}");
    let msg = err.to_string();
    assert!(
        msg.contains("logs/click/dt=2026-11-03/extra.csv") && msg.contains("line"),
        "{msg}"
    );
    // the dt filter prunes the bad file: it is never opened
    assert_eq!(
        count("SELECT count(*) FROM click WHERE dt = '2026-11-02'").unwrap(),
        day2
    );
    std::fs::remove_file(&bad).unwrap();

    // an NDJSON line that is not a JSON object
    let bad = click_file(root, "2026-11-03", "extra.ndjson");
    std::fs::write(
        &bad,
        "{\"ts\": 1793700000000000, \"user_id\": 1, \"item_id\": 2}\n{\"ts\"\n",
    )
    .unwrap();
    let msg = count("SELECT count(*) FROM click").unwrap_err().to_string();
    assert!(
        msg.contains("dt=2026-11-03/extra.ndjson: line 2: not a JSON object"),
        "{msg}"
    );
    std::fs::remove_file(&bad).unwrap();

    // a header without a required column
    let bad = click_file(root, "2026-11-03", "extra.csv");
    std::fs::write(&bad, "ts,item_id\n2026-11-03T11:00:00Z,100\n").unwrap();
    let msg = count("SELECT count(*) FROM click").unwrap_err().to_string();
    assert!(
        msg.contains("dt=2026-11-03/extra.csv") && msg.contains("column `user_id` is missing"),
        "{msg}"
    );
    std::fs::remove_file(&bad).unwrap();

    assert_eq!(count("SELECT count(*) FROM click").unwrap(), all);
}

#[test]
fn a_file_of_no_known_format_is_named() {
    // in a pure-Parquet warehouse: the stray file takes the table off the fast path
    let dir = warehouse(Layout::Parquet);
    let root = dir.path();
    let stray = click_file(root, "2026-11-03", "part-00000.csv.gz");
    std::fs::write(&stray, b"\x1f\x8b").unwrap();
    let (rt, ctx) = session(root);
    let err = try_query(&rt, &ctx, "SELECT count(*) FROM click").unwrap_err();
    assert!(matches!(err, SqlError::LogFile(_)), "{err:?}");
    let msg = err.to_string();
    assert!(
        msg.contains("logs/click/dt=2026-11-03/part-00000.csv.gz: unsupported log file format"),
        "{msg}"
    );
    // other days and other tables are still readable
    try_query(
        &rt,
        &ctx,
        "SELECT count(*) FROM click WHERE dt < '2026-11-03'",
    )
    .unwrap();
    try_query(&rt, &ctx, "SELECT count(*) FROM exposure").unwrap();
}

#[test]
fn an_unparseable_csv_value_reads_as_null() {
    let dir = warehouse(Layout::Parquet);
    let root = dir.path();
    std::fs::write(
        click_file(root, "2026-11-02", "extra.csv"),
        "ts,user_id,item_id\nyesterday,7,100\n2026-11-02T11:00:00Z,u7,100\n",
    )
    .unwrap();
    let (rt, ctx) = session(root);
    let got = query(
        &rt,
        &ctx,
        "SELECT ts, user_id, user_id = esmc_id('u7') AS u7, item_id, dt FROM click \
         WHERE dt = '2026-11-02' AND item_id = 100 AND (ts IS NULL OR user_id < 0) \
         ORDER BY ts",
    );
    // a text ID is no parse error: it reads as its mapped ID
    assert!(
        got.ends_with(
            "+----------------------+----------------------+-------+---------+------------+\n\
             | ts                   | user_id              | u7    | item_id | dt         |\n\
             +----------------------+----------------------+-------+---------+------------+\n\
             | 2026-11-02T11:00:00Z | -8591600319007862235 | true  | 100     | 2026-11-02 |\n\
             |                      | 7                    | false | 100     | 2026-11-02 |\n\
             +----------------------+----------------------+-------+---------+------------+"
        ),
        "{got}"
    );
}

#[test]
fn dt_filter_on_a_mixed_table_opens_only_that_days_parquet_files() {
    let dir = warehouse(Layout::MixedWithin);
    let (rt, ctx) = session(dir.path());
    let plan = rt.block_on(async {
        let sql = "SELECT sum(item_id) FROM exposure WHERE dt = '2026-11-02'";
        let df = esmc_sql::plan_sql(&ctx, sql).await.unwrap();
        df.create_physical_plan().await.unwrap()
    });
    let want = dir
        .path()
        .join("logs/exposure/dt=2026-11-02/part-0.parquet")
        .canonicalize()
        .unwrap();
    let scanned: Vec<PathBuf> = crate::pruning::scanned_files(&plan)
        .into_iter()
        .map(|p| p.canonicalize().unwrap())
        .collect();
    assert_eq!(scanned, vec![want]);
}
