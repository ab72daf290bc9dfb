//! `esmc import taobao` on the real 4,321-line head of the public UserBehavior file:
//! the summary's counts against the file's own, then `esmc build` over every day and its
//! labels against an independent implementation of the label contract (tests/import/
//! labels.rs). Generated files cover drops, refusals and atomicity; tests/import/
//! aliccp.rs covers `esmc import ali-ccp` and trains ESMM on its output.

#[path = "import/aliccp.rs"]
mod aliccp;
#[path = "import/labels.rs"]
mod labels;
#[path = "import/taobao_gen.rs"]
mod taobao_gen;

use arrow::array::{Array, AsArray};
use arrow::datatypes::{Int8Type, Int64Type, TimestampMicrosecondType};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub const FIXTURE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/taobao_userbehavior_head4321.csv"
);

pub fn esmc(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_esmc"))
        .args(args)
        .arg("--quiet")
        .output()
        .expect("esmc runs")
}

pub fn ok(out: &Output) -> String {
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "esmc failed: {}\n{stdout}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

pub fn summary(root: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(root.join("logs/_import.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

/// Every Parquet file under `dir`, recursively, sorted.
pub fn parquet_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for e in entries {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(parquet_files(&p));
        } else if p.extension().is_some_and(|x| x == "parquet") {
            out.push(p);
        }
    }
    out.sort();
    out
}

/// Built labels by exposure id: (ts µs, click, cart, wish, purchase, psc_case, bad_case,
/// cart_cal, cart_global_cal).
type Built = (i64, i8, i8, i8, i8, String, i8, i8, i8);

fn built_samples(root: &Path) -> HashMap<i64, Built> {
    let mut out = HashMap::new();
    for file in parquet_files(&root.join("samples")) {
        let reader = ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(&file).unwrap())
            .unwrap()
            .build()
            .unwrap();
        for batch in reader {
            let b = batch.unwrap();
            let col = |n: &str| b.column_by_name(n).unwrap_or_else(|| panic!("{n}")).clone();
            let (id, ts) = (col("exposure_id"), col("ts"));
            let (id, ts) = (
                id.as_primitive::<Int64Type>(),
                ts.as_primitive::<TimestampMicrosecondType>(),
            );
            let labels: Vec<_> = [
                "click",
                "cart",
                "wish",
                "purchase",
                "bad_case",
                "cart_cal",
                "cart_global_cal",
            ]
            .iter()
            .map(|n| col(n).as_primitive::<Int8Type>().clone())
            .collect();
            let psc = col("psc_case");
            let psc = psc.as_string::<i32>();
            for r in 0..b.num_rows() {
                assert!(!id.is_null(r));
                let l = |k: usize| labels[k].value(r);
                let row = (
                    ts.value(r),
                    l(0),
                    l(1),
                    l(2),
                    l(3),
                    psc.value(r).to_string(),
                    l(4),
                    l(5),
                    l(6),
                );
                assert!(
                    out.insert(id.value(r), row).is_none(),
                    "exposure {} twice",
                    id.value(r)
                );
            }
        }
    }
    out
}

#[test]
fn taobao_summary_counts_match_the_source_file() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("w");
    let stdout = ok(&esmc(&[
        "import",
        "taobao",
        "--input",
        FIXTURE,
        "--root",
        root.to_str().unwrap(),
        "--drop-last-user",
    ]));
    let text = std::fs::read_to_string(FIXTURE).unwrap();
    let (rows, c) = labels::rows(&text, true);
    let s = summary(&root);
    assert_eq!(c.lines, 4321);
    assert_eq!(s["lines"], c.lines);
    for (b, n) in &c.by_behavior {
        assert_eq!(s["source_rows_by_behavior"][b], *n, "{b}");
    }
    assert_eq!(s["dropped"]["malformed"], c.malformed);
    assert_eq!(s["dropped"]["out_of_range"], c.out_of_range);
    assert_eq!(s["dropped"]["duplicate"], c.duplicate);
    assert_eq!(s["dropped"]["last_user"], c.last_user);
    assert_eq!(s["last_user_dropped"], 1000172);
    assert_eq!(s["imported_rows"], rows.len() as u64);
    // the file's known facts: one row outside the range, the last user cut at 71 rows
    assert_eq!((c.out_of_range, c.last_user, c.malformed), (1, 71, 0));
    assert_eq!(s["users"], 42);
    let pv = rows.iter().filter(|r| r.3 == "pv").count() as u64;
    for table in ["exposure", "click"] {
        let written: u64 = s["event_rows"][table]
            .as_object()
            .unwrap()
            .values()
            .map(|v| v.as_u64().unwrap())
            .sum();
        assert_eq!(written, pv, "{table}");
    }
    assert!(stdout.contains("71 of the last user dropped"), "{stdout}");
}

// Long because: one imported file built, every sample checked against independent labels.
#[test]
fn taobao_build_labels_match_an_independent_implementation() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("w");
    let r = root.to_str().unwrap();
    ok(&esmc(&[
        "import",
        "taobao",
        "--input",
        FIXTURE,
        "--root",
        r,
        "--drop-last-user",
    ]));
    ok(&esmc(&[
        "build",
        "--root",
        r,
        "--from",
        "2017-11-24",
        "--to",
        "2017-12-03",
    ]));
    let text = std::fs::read_to_string(FIXTURE).unwrap();
    let (rows, _) = labels::rows(&text, true);
    let expected = labels::expected(&rows);
    let built = built_samples(&root);
    assert_eq!(built.len(), expected.len(), "one sample per pv line");
    let mut mismatches = Vec::new();
    let mut early_cart_only = true;
    let mut psc = HashMap::<&str, u64>::new();
    for (line, e) in &expected {
        let b = built
            .get(&(*line as i64))
            .unwrap_or_else(|| panic!("no sample for line {line}"));
        assert_eq!(b.0, e.ts * 1_000_000, "line {line}: exposure time");
        let got = (
            b.1 == 1,
            b.2 == 1,
            b.3 == 1,
            b.4 == 1,
            b.5.as_str(),
            b.7 == 1,
            b.8 == 1,
        );
        let want = (
            e.click, e.cart, e.wish, e.purchase, e.psc, e.cart_cal, e.cart_cal,
        );
        assert_eq!(
            b.6 == 1,
            matches!(b.5.as_str(), "later_visit" | "other_visit")
        );
        *psc.entry(e.psc).or_default() += 1;
        if got != want {
            // a cart before D-1 that the build did not read explains only the psc case
            let day_start = e.ts.div_euclid(86_400) * 86_400;
            early_cart_only &= (got.0, got.1, got.2, got.3) == (want.0, want.1, want.2, want.3)
                && e.cart_ts.is_some_and(|k| k < day_start - 86_400);
            mismatches.push(format!("line {line}: built {got:?}, expected {want:?}"));
        }
    }
    assert!(
        mismatches.is_empty(),
        "{} of {} samples differ{}:\n{}",
        mismatches.len(),
        expected.len(),
        if early_cart_only {
            " ONLY in psc cases decided by a cart before D-1 (the build's read window starts \
             at D-1 instead of D-3)"
        } else {
            ""
        },
        mismatches.join("\n")
    );
    // the real file has purchases with every kind of cart history
    assert!(psc.get("no_cart").copied().unwrap_or(0) > 0, "{psc:?}");
    let carted: u64 = ["same_visit", "later_visit", "other_visit"]
        .iter()
        .map(|k| psc.get(k).copied().unwrap_or(0))
        .sum();
    assert!(carted > 0, "{psc:?}");
}

/// A cart two days before its purchase decides the psc case (the build reads carts up to
/// the attribution window before the built day, not just the day before), and a cart
/// of an earlier visit moves to the purchase's sample (calibration, move mode).
#[test]
fn taobao_cart_two_days_before_the_purchase_is_seen() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("ub.csv");
    // user 1: 11-25 02:00 cart; 11-27 02:00 view, 02:10 buy. user 2: views.
    // user 3: 11-26 02:00 view, 02:01 cart; 11-27 02:00 view, 02:05 buy.
    let text = "1,500,9,cart,1511575200\n1,500,9,pv,1511748000\n1,500,9,buy,1511748600\n\
                2,501,9,pv,1511748000\n2,502,9,pv,1511748100\n\
                3,600,9,pv,1511661600\n3,600,9,cart,1511661660\n\
                3,600,9,pv,1511748000\n3,600,9,buy,1511748300\n";
    std::fs::write(&input, text).unwrap();
    let root = dir.path().join("w");
    let (i, r) = (input.to_str().unwrap(), root.to_str().unwrap());
    ok(&esmc(&["import", "taobao", "--input", i, "--root", r]));
    ok(&esmc(&[
        "build",
        "--root",
        r,
        "--from",
        "2017-11-26",
        "--to",
        "2017-11-27",
    ]));
    let (rows, _) = labels::rows(text, false);
    let expected = labels::expected(&rows);
    assert_eq!(expected[&2].psc, "other_visit");
    assert!(
        expected[&2].cart_cal,
        "the earlier cart moves to the purchase's sample"
    );
    assert!(expected[&6].cart && !expected[&6].cart_cal, "moved away");
    assert!(expected[&8].cart_cal && expected[&8].psc == "other_visit");
    let built = built_samples(&root);
    assert_eq!(built.len(), 5);
    for (line, e) in &expected {
        let b = &built[&(*line as i64)];
        let got = (
            b.1 == 1,
            b.2 == 1,
            b.4 == 1,
            b.5.as_str(),
            b.7 == 1,
            b.8 == 1,
        );
        let want = (e.click, e.cart, e.purchase, e.psc, e.cart_cal, e.cart_cal);
        assert_eq!(got, want, "line {line}");
    }
}
