//! The read window of a build: day D reads [D − attribution_window, D + attribution_window],
//! so a cart two or three days before a purchase on D decides its psc case; the manifest
//! records the window, and a changed input anywhere in it makes the nightly rebuild D.

mod common;

use common::{Logs, build, day, label_rows};
use esmc_pipeline::Calibration::{Move, Off};
use esmc_pipeline::{BuildConfig, BuildOptions, Builder, Decision, NoProgress};
use std::collections::BTreeMap;

/// Three purchases on D = 2026-11-02, each after a rec re-exposure and click on D, their
/// rec carts in earlier visits: 2 days before (101), 2 days 22 hours before (111), and 3
/// days and 1 minute before (121, outside the window).
fn logs() -> Logs {
    let mut l = Logs::default();
    // cart two days before the purchase's day, in its own visit
    l.expose(100, "2026-10-31 20:00", 10, 1000, "rec");
    l.click("2026-10-31 20:00:05", 10, 1000, Some(100));
    l.cart("2026-10-31 20:01", 10, 1000, "rec");
    l.expose(101, "2026-11-02 12:00", 10, 1000, "rec");
    l.click("2026-11-02 12:00:05", 10, 1000, Some(101));
    l.buy("2026-11-02 12:03", 10, 1000);
    // cart three days before the purchase's day, 2 days 22 hours before the purchase
    l.expose(110, "2026-10-30 13:59", 11, 1100, "rec");
    l.click("2026-10-30 13:59:05", 11, 1100, Some(110));
    l.cart("2026-10-30 14:00", 11, 1100, "rec");
    l.expose(111, "2026-11-02 11:55", 11, 1100, "rec");
    l.click("2026-11-02 11:55:05", 11, 1100, Some(111));
    l.buy("2026-11-02 12:00", 11, 1100);
    // cart 3 days and 1 minute before the purchase: outside the window, no_cart
    l.expose(120, "2026-10-30 11:58", 12, 1200, "rec");
    l.click("2026-10-30 11:58:05", 12, 1200, Some(120));
    l.cart("2026-10-30 11:59", 12, 1200, "rec");
    l.expose(121, "2026-11-02 11:55", 12, 1200, "rec");
    l.click("2026-11-02 11:55:05", 12, 1200, Some(121));
    l.buy("2026-11-02 12:00", 12, 1200);
    l
}

fn written() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    logs().write(dir.path(), day("2026-10-29"), day("2026-11-05"));
    dir
}

#[test]
fn carts_two_and_three_days_before_a_purchase_make_it_other_visit() {
    let dir = written();
    //            click dmi cart wish dma purchase cart_cal cart_global_cal psc_case
    let want_move: BTreeMap<i64, String> = [
        (101, "1 0 0 0 0 1 1 1 other_visit"),
        (111, "1 0 0 0 0 1 1 1 other_visit"),
        (121, "1 0 0 0 0 1 0 0 no_cart"),
    ]
    .into_iter()
    .map(|(id, l)| (id, l.to_string()))
    .collect();
    assert_eq!(
        label_rows(&build(dir.path(), day("2026-11-02"), Move)),
        want_move
    );
    // off: the calibrated labels stay with each sample's own carts
    let want_off: BTreeMap<i64, String> = [
        (101, "1 0 0 0 0 1 0 0 other_visit"),
        (111, "1 0 0 0 0 1 0 0 other_visit"),
        (121, "1 0 0 0 0 1 0 0 no_cart"),
    ]
    .into_iter()
    .map(|(id, l)| (id, l.to_string()))
    .collect();
    assert_eq!(
        label_rows(&build(dir.path(), day("2026-11-02"), Off)),
        want_off
    );
}

#[test]
fn the_manifest_records_the_window_and_a_late_cart_three_days_back_rebuilds_the_day() {
    let dir = written();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    // without features, so that only the label window reads the days before D
    let mut cfg = BuildConfig::default();
    cfg.features.enabled = false;
    let builder = Builder::new(dir.path(), cfg, BuildOptions::default());
    let d = day("2026-11-02");
    assert_eq!(builder.window(d), (day("2026-10-30"), day("2026-11-05")));
    let report = rt.block_on(builder.build(d, &NoProgress)).unwrap();
    let json = serde_json::to_value(&report.manifest).unwrap();
    assert_eq!(
        json["window"],
        serde_json::json!(["2026-10-30", "2026-11-05"])
    );
    // every event table's file of D-3 is an input of D, none of D-4
    let inputs = |dt: &str| {
        let dt = format!("dt={dt}/");
        report
            .manifest
            .inputs
            .iter()
            .filter(|f| f.path.contains(&dt))
            .count()
    };
    assert!(inputs("2026-10-30") >= 6, "{:?}", report.manifest.inputs);
    assert_eq!(inputs("2026-10-29"), 0, "{:?}", report.manifest.inputs);
    assert_eq!(builder.decide(d).unwrap().0, Decision::UpToDate);

    // a late cart file lands in D-3: the nightly rebuilds D
    let mut late = Logs::default();
    late.cart("2026-10-30 09:00", 99, 9900, "rec");
    let late_root = tempfile::tempdir().unwrap();
    late.write(late_root.path(), day("2026-10-30"), day("2026-10-30"));
    let from = late_root.path().join("logs/cart/dt=2026-10-30");
    let to = dir.path().join("logs/cart/dt=2026-10-30");
    for f in std::fs::read_dir(from).unwrap() {
        let f = f.unwrap();
        let name = format!("late-{}", f.file_name().to_string_lossy());
        std::fs::copy(f.path(), to.join(name)).unwrap();
    }
    assert_eq!(
        builder.decide(d).unwrap().0,
        Decision::InputsChanged {
            added: 1,
            removed: 0,
            changed: 0
        }
    );
}
