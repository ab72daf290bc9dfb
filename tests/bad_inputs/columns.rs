//! Bad columns, types and rows: missing and extra columns, wrong types, schema drift,
//! nulls, bad times and amounts, reject rates, duplicates and unattributable clicks.

use std::path::Path;

use std::sync::Arc;

use arrow::array::{ArrayRef, Float64Array};

use crate::harness::*;

// ---- columns and types -------------------------------------------------------------

#[test]
fn b01_missing_column_in_a_csv_header() {
    let setup = |w: &Path| {
        put(
            w,
            "click",
            D,
            "x.csv",
            b"ts,user_id,exposure_id\n2026-11-01T10:00:00Z,1,\n",
        )
    };
    let msg = ["x.csv", "column `item_id` is missing"];
    case(setup, BUILD, Expect::Fails(1, &msg));
}

#[test]
fn b02_missing_column_in_a_parquet_file() {
    let setup = |w: &Path| {
        click_parquet(w, D, vec![("ts", ts_utc(&[0])), ("user_id", ids(&[1]))]);
    };
    let msg = ["x.parquet", "column `item_id` is missing"];
    case(setup, BUILD, Expect::Fails(1, &msg));
}

#[test]
fn b03_extra_columns_are_ignored() {
    let setup = |w: &Path| {
        let t = "ts,user_id,item_id,exposure_id,referrer\n2026-11-01T10:00:00Z,999999,999999,,x\n";
        put(w, "click", D, "x.csv", t.as_bytes())
    };
    case(setup, BUILD, Expect::SameSamples);
}

#[test]
fn b04_wrong_column_type_in_parquet() {
    // ts as a float: named with the expected and the found type
    let setup = |w: &Path| {
        click_parquet(
            w,
            D,
            vec![
                ("ts", Arc::new(Float64Array::from(vec![1.0])) as ArrayRef),
                ("user_id", ids(&[1])),
                ("item_id", ids(&[2])),
            ],
        );
    };
    let msg = ["x.parquet", "`ts`", "Float64"];
    case(setup, BUILD, Expect::Fails(1, &msg));
}

#[test]
fn b05_schema_drift_between_days() {
    // the day after D (inside D's window) has item_id as a float
    let setup = |w: &Path| {
        click_parquet(
            w,
            "2026-11-02",
            vec![
                ("ts", ts_utc(&[1_793_700_000_000_000])),
                ("user_id", ids(&[1])),
                (
                    "item_id",
                    Arc::new(Float64Array::from(vec![2.5])) as ArrayRef,
                ),
            ],
        );
    };
    let msg = ["dt=2026-11-02/x.parquet", "`item_id`", "Float64"];
    case(setup, BUILD, Expect::Fails(1, &msg));
}

// ---- rows: nulls, values, times -----------------------------------------------------

#[test]
fn b06_null_in_a_required_column_goes_to_quarantine() {
    let setup = |w: &Path| click_csv(w, "2026-11-01T10:00:00Z,,2,\n");
    case(setup, BUILD, Expect::Rebuilt(&quarantined("click")));
}

#[test]
fn b07_unparseable_timestamp_goes_to_quarantine() {
    let setup = |w: &Path| click_csv(w, "yesterday,1,2,\n");
    case(setup, BUILD, Expect::Rebuilt(&quarantined("click")));
}

#[test]
fn b08_timestamp_in_the_future_goes_to_quarantine() {
    let setup = |w: &Path| click_csv(w, "2099-11-01T10:00:00Z,1,2,\n");
    case(setup, BUILD, Expect::Rebuilt(&quarantined("click")));
}

#[test]
fn b09_timestamp_far_before_its_partition_goes_to_quarantine() {
    let setup = |w: &Path| click_csv(w, "2026-10-20T10:00:00Z,1,2,\n");
    case(setup, BUILD, Expect::Rebuilt(&quarantined("click")));
}

#[test]
fn b10_negative_amount_over_the_reject_rate_fails_naming_the_quarantine() {
    let setup = |w: &Path| {
        let t = "ts,user_id,item_id,order_id,amount,quantity\n\
                 2026-11-01T10:00:00Z,1,2,3,-5.0,1\n";
        put(w, "purchase", D, "x.csv", t.as_bytes())
    };
    let msg = [
        "table `purchase` of 2026-11-01",
        "rows rejected",
        "quarantine/purchase/dt=2026-11-01",
    ];
    case(setup, BUILD, Expect::Fails(1, &msg));
}

#[test]
fn b11_too_many_rejects_fail_the_build() {
    let setup = |w: &Path| {
        let mut t = String::from("exposure_id,ts,user_id,item_id,domain\n");
        for i in 0..200 {
            t.push_str(&format!("{i},2026-11-01T10:00:00Z,,2,rec\n"));
        }
        put(w, "exposure", D, "x.csv", t.as_bytes())
    };
    let msg = [
        "table `exposure` of 2026-11-01: 200 of",
        "max 1.00%",
        "quarantine/exposure",
    ];
    case(setup, BUILD, Expect::Fails(1, &msg));
}

#[test]
fn b12_exact_duplicate_rows_are_dropped_and_counted() {
    let setup = |w: &Path| {
        let dir = w.join("logs/click/dt=2026-11-01");
        std::fs::copy(dir.join("part-00000.parquet"), dir.join("copy.parquet")).unwrap();
    };
    case(setup, BUILD, Expect::SameSamples);
    let check = |m: &serde_json::Value| {
        assert!(
            m["duplicates_dropped"]["click"].as_u64().unwrap() > 0,
            "{m}"
        )
    };
    let setup = |w: &Path| {
        let dir = w.join("logs/click/dt=2026-11-01");
        std::fs::copy(dir.join("part-00000.parquet"), dir.join("copy.parquet")).unwrap();
    };
    case(setup, BUILD, Expect::Rebuilt(&check));
}

#[test]
fn b13_a_click_before_its_exposure_is_not_attributed() {
    // a click naming an exposure of D but earlier than it
    let setup = |w: &Path| {
        let out = esmc(
            w,
            &[
                "sql",
                "--format",
                "csv",
                "SELECT exposure_id, ts, user_id, item_id FROM exposure \
              WHERE dt = '2026-11-01' ORDER BY ts LIMIT 1 OFFSET 100",
            ],
        );
        let line = text(&out.stdout).lines().nth(1).unwrap().to_string();
        let f: Vec<&str> = line.split(',').collect();
        let ts =
            chrono::DateTime::parse_from_rfc3339(f[1]).unwrap() - chrono::Duration::seconds(60);
        click_csv(
            w,
            &format!("{},{},{},{}\n", ts.to_rfc3339(), f[2], f[3], f[0]),
        );
    };
    // the samples' features see the click (it is an event of D), the labels do not
    let same_labels = |m: &serde_json::Value| {
        let t = template_manifest();
        assert_eq!(m["clicks_attributed"], t["clicks_attributed"]);
        assert_eq!(m["label_rates"]["click"], t["label_rates"]["click"]);
    };
    case(setup, BUILD, Expect::Rebuilt(&same_labels));
}

#[test]
fn b14_a_click_of_an_unknown_exposure_is_not_attributed() {
    let setup = |w: &Path| click_csv(w, "2026-11-01T10:00:00Z,999999,999999,777\n");
    case(setup, BUILD, Expect::SameSamples);
}
