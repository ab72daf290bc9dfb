//! The purchase-session-cart structure as the sample builder sees it: the builder's
//! psc cases of attributed purchases, on the default `taobao` world and on the world with
//! the `cart_elsewhere` mechanism (real Taobao: no_cart 82%, other_visit 12%,
//! later_visit 3%, same_visit 3%).

use esmc_pipeline::{BuildConfig, BuildOptions, Builder, NoProgress};
use esmc_sim::{Mechanism, NoProgress as SimQuiet, Preset, RunOptions, SimConfig};
use std::collections::BTreeMap;

/// Shares of the attributed purchases (psc cases other than no_purchase) of the middle
/// days of a world, summed over days.
fn psc_shares(cfg: &SimConfig) -> BTreeMap<String, f64> {
    let dir = tempfile::tempdir().unwrap();
    let opts = RunOptions {
        threads: 2,
        overwrite: false,
    };
    esmc_sim::simulate(cfg, dir.path(), opts, &SimQuiet).unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let builder = Builder::new(dir.path(), BuildConfig::default(), BuildOptions::default());
    let mut counts: BTreeMap<String, u64> = BTreeMap::new();
    // days with a full attribution window's history behind them
    for d in 3..cfg.days as u64 {
        let day = cfg.start + chrono::Days::new(d);
        let report = rt.block_on(builder.build(day, &NoProgress)).unwrap();
        for (case, n) in report.manifest.psc_case_counts {
            *counts.entry(case).or_default() += n;
        }
    }
    counts.remove("no_purchase");
    let total: u64 = counts.values().sum();
    assert!(
        total >= 300,
        "only {total} attributed purchases: {counts:?}"
    );
    counts
        .into_iter()
        .map(|(case, n)| (case, n as f64 / total as f64))
        .collect()
}

#[test]
fn cart_elsewhere_gives_the_builder_taobao_psc_shares() {
    let mut cfg = SimConfig::sized(Preset::Taobao, 150_000, 6, 3);
    cfg.shards = 2;
    let off = psc_shares(&cfg);
    let on = psc_shares(&cfg.with(Mechanism::CartElsewhere, true));
    eprintln!("off: {off:?}\non: {on:?}");
    let share = |m: &BTreeMap<String, f64>, case: &str| m.get(case).copied().unwrap_or(0.0);
    let within = |what: &str, v: f64, lo: f64, hi: f64| {
        assert!(
            (lo..=hi).contains(&v),
            "{what} = {v:.4}, expected [{lo}, {hi}]"
        )
    };
    within("off: no_cart", share(&off, "no_cart"), 0.2, 0.38);
    within("on: no_cart", share(&on, "no_cart"), 0.76, 0.88);
    within("on: other_visit", share(&on, "other_visit"), 0.07, 0.17);
    within("on: later_visit", share(&on, "later_visit"), 0.005, 0.05);
    within("on: same_visit", share(&on, "same_visit"), 0.015, 0.07);
    // of carted purchases, the share whose cart lay in another visit than the click's
    // (real Taobao: 12 / 18)
    let elsewhere = |m: &BTreeMap<String, f64>| {
        let carted = share(m, "other_visit") + share(m, "later_visit") + share(m, "same_visit");
        share(m, "other_visit") / carted
    };
    within("off: carted in another visit", elsewhere(&off), 0.38, 0.56);
    within("on: carted in another visit", elsewhere(&on), 0.58, 0.76);
}
