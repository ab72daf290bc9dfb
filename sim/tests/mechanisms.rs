//! Each mechanism knob, read back from the files and counts of the worlds it shapes:
//! the statistic it names moves by the amount `docs/simulator.md` gives, and the truth
//! columns stay the probabilities the world used (clicks over all feed exposures,
//! purchase decisions over clicked feed exposures).

use arrow::array::AsArray;
use arrow::datatypes::{Float64Type, Int64Type};
use arrow::record_batch::RecordBatch;
use esmc_schemas::{Table, Warehouse};
use esmc_sim::{
    Mechanism, NoProgress, Preset, PurchasePath, RunOptions, SimConfig, Stats, simulate,
};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::OnceLock;

/// A Taobao-like world of about 60k feed exposures a day over three days.
fn base() -> SimConfig {
    let mut cfg = SimConfig::sized(Preset::Taobao, 200_000, 4, 5);
    cfg.shards = 2;
    cfg
}

fn batches(root: &Path, table: Table) -> Vec<RecordBatch> {
    let w = Warehouse::new(root);
    let mut out = Vec::new();
    for day in w.log_days(table).unwrap() {
        for file in w.partition_files(&w.log_dir(table, day)).unwrap() {
            let file = std::fs::File::open(&file).unwrap();
            let reader = ParquetRecordBatchReaderBuilder::try_new(file)
                .unwrap()
                .build()
                .unwrap();
            out.extend(reader.map(|b| b.unwrap()));
        }
    }
    out
}

fn f64s<'a>(b: &'a RecordBatch, name: &str) -> &'a [f64] {
    b.column_by_name(name)
        .unwrap()
        .as_primitive::<Float64Type>()
        .values()
}

fn i64s<'a>(b: &'a RecordBatch, name: &str) -> &'a arrow::array::PrimitiveArray<Int64Type> {
    b.column_by_name(name).unwrap().as_primitive::<Int64Type>()
}

/// What the tests measure on one world.
struct World {
    stats: Stats,
    /// Feed exposures: (truth_p_click, truth_p_cvr, clicked).
    rec: Vec<(f64, f64, bool)>,
    /// Feed clicks per item (items never clicked included as 0).
    item_clicks: Vec<u64>,
}

fn simulate_world(cfg: &SimConfig) -> World {
    let dir = tempfile::tempdir().unwrap();
    let opts = RunOptions {
        threads: 2,
        overwrite: false,
    };
    let stats = simulate(cfg, dir.path(), opts, &NoProgress).unwrap().stats;
    let clicked: HashSet<i64> = batches(dir.path(), Table::Click)
        .iter()
        .flat_map(|b| i64s(b, "exposure_id").iter().flatten().collect::<Vec<_>>())
        .collect();
    let mut rec = Vec::new();
    let mut per_item: HashMap<i64, u64> = HashMap::new();
    for b in batches(dir.path(), Table::Exposure) {
        let (ids, items) = (i64s(&b, "exposure_id"), i64s(&b, "item_id"));
        let domain = b.column_by_name("domain").unwrap().as_string::<i32>();
        let (pc, pv) = (f64s(&b, "truth_p_click"), f64s(&b, "truth_p_cvr"));
        for i in 0..b.num_rows() {
            if domain.value(i) != "rec" {
                continue;
            }
            let hit = clicked.contains(&ids.value(i));
            rec.push((pc[i], pv[i], hit));
            *per_item.entry(items.value(i)).or_default() += hit as u64;
        }
    }
    let item_clicks = (1..=cfg.items as i64)
        .map(|i| per_item.get(&i).copied().unwrap_or(0))
        .collect();
    World {
        stats,
        rec,
        item_clicks,
    }
}

fn logit(p: f64) -> f64 {
    let p = p.clamp(1e-12, 1.0 - 1e-12);
    (p / (1.0 - p)).ln()
}

impl World {
    /// Pearson correlation of logit truth_p_click and logit truth_p_cvr over feed
    /// exposures.
    fn truth_correlation(&self) -> f64 {
        let xs: Vec<(f64, f64)> = self.rec.iter().map(|r| (logit(r.0), logit(r.1))).collect();
        let n = xs.len() as f64;
        let (mx, my) = xs
            .iter()
            .fold((0.0, 0.0), |a, x| (a.0 + x.0 / n, a.1 + x.1 / n));
        let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
        for (x, y) in &xs {
            sxy += (x - mx) * (y - my);
            sxx += (x - mx).powi(2);
            syy += (y - my).powi(2);
        }
        sxy / (sxx * syy).sqrt()
    }

    /// Mean truth_p_cvr of clicked feed exposures over that of unclicked ones: how much
    /// the clicked population over-states conversion on the rest.
    fn selection_lift(&self) -> f64 {
        let mean = |hit: bool| {
            let v: Vec<f64> = self
                .rec
                .iter()
                .filter(|r| r.2 == hit)
                .map(|r| r.1)
                .collect();
            v.iter().sum::<f64>() / v.len() as f64
        };
        mean(true) / mean(false)
    }

    /// Share of items with fewer than `k` feed clicks.
    fn items_below(&self, k: u64) -> f64 {
        let n = self.item_clicks.iter().filter(|&&c| c < k).count();
        n as f64 / self.item_clicks.len() as f64
    }

    /// Share of feed clicks on the 1% most clicked items.
    fn top_percent_share(&self) -> f64 {
        let mut c = self.item_clicks.clone();
        c.sort_unstable_by(|a, b| b.cmp(a));
        let top = c.len().div_ceil(100);
        c[..top].iter().sum::<u64>() as f64 / c.iter().sum::<u64>() as f64
    }

    /// Of feed-click purchases that had a cart, the share whose cart lay in another visit
    /// than the click's (other_visit) and the share paid in a later visit (later_visit).
    fn carted_elsewhere(&self) -> (f64, f64) {
        let s = &self.stats.purchases;
        let n = |p: PurchasePath| s[p as usize] as f64;
        let other = n(PurchasePath::OtherVisitRec) + n(PurchasePath::OtherVisitSearch);
        let carted = other + n(PurchasePath::SameVisit) + n(PurchasePath::LaterVisit);
        (other / carted, n(PurchasePath::LaterVisit) / carted)
    }

    /// The measured statistics on one line (printed by the tests, quoted in the docs).
    fn summary(&self) -> String {
        let s = &self.stats;
        let (with, without) = s.cvr_given_dmi();
        let paths = PurchasePath::ALL[..5]
            .iter()
            .map(|&p| format!("{} {:.3}", p.name(), s.path_share(p)))
            .collect::<Vec<_>>()
            .join(", ");
        format!(
            "CTR {:.4}, purchases/click {:.4}, mean p_cvr over exposures {:.4}, corr(logit p_click, logit p_cvr) {:.3}, \
             selection lift {:.2}, items < 5 clicks {:.3}, top-1% click share {:.3}, \
             carted elsewhere {:.3}, cvr|D {:.4} vs cvr|no D {:.4}; paths: {paths}",
            s.ctr(),
            s.purchase_per_click(),
            self.rec.iter().map(|r| r.1).sum::<f64>() / self.rec.len() as f64,
            self.truth_correlation(),
            self.selection_lift(),
            self.items_below(5),
            self.top_percent_share(),
            self.carted_elsewhere().0,
            with,
            without,
        )
    }

    /// The truth columns are the probabilities the world used: realised clicks against
    /// Σ truth_p_click over feed exposures, realised purchase decisions against
    /// Σ truth_p_cvr over clicked ones, each within four binomial standard errors.
    fn assert_truth_is_exact(&self, what: &str) {
        let check = |name: &str, ps: Vec<f64>, realised: u64| {
            let expected: f64 = ps.iter().sum();
            let sd = ps.iter().map(|p| p * (1.0 - p)).sum::<f64>().sqrt();
            let z = (realised as f64 - expected) / sd;
            assert!(
                z.abs() < 4.0,
                "{what}: {name}: realised {realised}, expected {expected:.1} (z = {z:.2})"
            );
        };
        let clicks = self.rec.iter().filter(|r| r.2).count() as u64;
        check("clicks", self.rec.iter().map(|r| r.0).collect(), clicks);
        let p_cvr = self.rec.iter().filter(|r| r.2).map(|r| r.1).collect();
        check("purchases per click", p_cvr, self.stats.rec_click_buys);
    }
}

#[test]
fn mechanisms_turn_on_and_off_over_any_world() {
    let cfg = base();
    for m in Mechanism::ALL {
        assert_eq!(cfg.clone().with(m, false), cfg, "{m}");
        let on = cfg.clone().with(m, true);
        assert_ne!(on, cfg, "{m}");
        assert_eq!(on.clone().with(m, false), cfg, "{m} off again");
        assert_eq!(m.name().parse::<Mechanism>().unwrap(), m);
    }
    assert!("nope".parse::<Mechanism>().is_err());
    // an off world's written config has no mechanisms section; an on world's round-trips
    let off = serde_json::to_value(&cfg).unwrap();
    assert!(off.get("mechanisms").is_none());
    let on = cfg.clone().with(Mechanism::Sparsity, true);
    let back: SimConfig = serde_json::from_value(serde_json::to_value(&on).unwrap()).unwrap();
    assert_eq!(back, on);
    let mut bad = cfg.with(Mechanism::CartElsewhere, true);
    bad.mechanisms.cart_elsewhere = 1.5;
    assert!(bad.check().unwrap_err().contains("cart_elsewhere"));
}

/// The default world and each one-mechanism world, simulated once for all tests.
fn worlds() -> &'static [(Option<Mechanism>, World)] {
    static WORLDS: OnceLock<Vec<(Option<Mechanism>, World)>> = OnceLock::new();
    WORLDS.get_or_init(|| {
        let mut out = vec![(None, simulate_world(&base()))];
        for m in Mechanism::ALL {
            out.push((Some(m), simulate_world(&base().with(m, true))));
        }
        for (m, w) in &out {
            eprintln!("{}: {}", m.map_or("off", |m| m.name()), w.summary());
        }
        out
    })
}

fn off() -> &'static World {
    &worlds()[0].1
}

fn on(m: Mechanism) -> &'static World {
    &worlds().iter().find(|(k, _)| *k == Some(m)).unwrap().1
}

fn within(what: &str, v: f64, lo: f64, hi: f64) {
    assert!(
        (lo..=hi).contains(&v),
        "{what} = {v:.4}, expected [{lo}, {hi}]"
    );
}

#[test]
fn truth_columns_stay_the_probabilities_used_in_every_world() {
    for (m, w) in worlds() {
        w.assert_truth_is_exact(m.map_or("off", |m| m.name()));
    }
}

#[test]
fn selection_bias_ties_conversion_to_the_click() {
    let (a, b) = (off(), on(Mechanism::SelectionBias));
    within(
        "off: corr(logit p_click, logit p_cvr)",
        a.truth_correlation(),
        0.50,
        0.62,
    );
    within(
        "on: corr(logit p_click, logit p_cvr)",
        b.truth_correlation(),
        0.74,
        0.84,
    );
    within("off: selection lift", a.selection_lift(), 1.9, 2.5);
    within("on: selection lift", b.selection_lift(), 3.5, 4.7);
    // conversion over all exposures stays (the -s²/2 centring), while the clicked
    // population's rises: what a model learns on clicks over-states the unclicked
    let mean = |w: &World| w.rec.iter().map(|r| r.1).sum::<f64>() / w.rec.len() as f64;
    within(
        "on/off mean truth_p_cvr, all exposures",
        mean(b) / mean(a),
        0.85,
        1.05,
    );
    let ratio = b.stats.purchase_per_click() / a.stats.purchase_per_click();
    within("on/off purchases per click", ratio, 1.3, 1.8);
    // the -s²/2 centring keeps the click rate within 15% of the default's
    within("on/off CTR", b.stats.ctr() / a.stats.ctr(), 0.85, 1.0);
}

#[test]
fn click_transfer_puts_the_click_match_into_conversion() {
    let (a, b) = (off(), on(Mechanism::ClickTransfer));
    within(
        "on: corr(logit p_click, logit p_cvr)",
        b.truth_correlation(),
        0.64,
        0.72,
    );
    assert!(b.truth_correlation() > a.truth_correlation() + 0.08);
    // centred: purchases per click stay within 20% of the default's, clicks unchanged
    let ratio = b.stats.purchase_per_click() / a.stats.purchase_per_click();
    within("on/off purchases per click", ratio, 0.8, 1.2);
    within("on/off CTR", b.stats.ctr() / a.stats.ctr(), 0.97, 1.03);
}

#[test]
fn sparsity_leaves_most_items_with_few_clicks() {
    let (a, b) = (off(), on(Mechanism::Sparsity));
    within("off: items with < 5 clicks", a.items_below(5), 0.42, 0.56);
    within("on: items with < 5 clicks", b.items_below(5), 0.65, 0.78);
    within(
        "off: clicks on the top 1% items",
        a.top_percent_share(),
        0.15,
        0.25,
    );
    within(
        "on: clicks on the top 1% items",
        b.top_percent_share(),
        0.50,
        0.65,
    );
    within("off: items never clicked", a.items_below(1), 0.14, 0.21);
    within("on: items never clicked", b.items_below(1), 0.24, 0.30);
}

#[test]
fn cart_elsewhere_gives_taobao_purchase_session_cart_shares() {
    let (a, b) = (off(), on(Mechanism::CartElsewhere));
    let share = |w: &World, paths: &[PurchasePath]| -> f64 {
        paths.iter().map(|&p| w.stats.path_share(p)).sum()
    };
    let other = [PurchasePath::OtherVisitRec, PurchasePath::OtherVisitSearch];
    within("on: no_cart", share(b, &[PurchasePath::NoCart]), 0.76, 0.88);
    within("on: other_visit", share(b, &other), 0.08, 0.17);
    within(
        "on: later_visit",
        share(b, &[PurchasePath::LaterVisit]),
        0.01,
        0.06,
    );
    within(
        "on: same_visit",
        share(b, &[PurchasePath::SameVisit]),
        0.01,
        0.06,
    );
    within(
        "off: no_cart",
        share(a, &[PurchasePath::NoCart]),
        0.10,
        0.22,
    );
    // of carted purchases, the share carted in another visit (real Taobao: about 2/3)
    within("off: carted elsewhere", a.carted_elsewhere().0, 0.30, 0.46);
    within("on: carted elsewhere", b.carted_elsewhere().0, 0.58, 0.75);
    // purchases per click stay within 20% of the default's
    let ratio = b.stats.purchase_per_click() / a.stats.purchase_per_click();
    within("on/off purchases per click", ratio, 0.85, 1.2);
}

#[test]
fn informative_micro_makes_d_actions_signal_purchases() {
    let lift = |w: &World| {
        let (with, without) = w.stats.cvr_given_dmi();
        with / without
    };
    let (a, b) = (off(), on(Mechanism::InformativeMicro));
    within("off: cvr(D-action) / cvr(none)", lift(a), 4.5, 9.0);
    within("on: cvr(D-action) / cvr(none)", lift(b), 14.0, 35.0);
    // the purchase rate itself is untouched
    let ratio = b.stats.purchase_per_click() / a.stats.purchase_per_click();
    within("on/off purchases per click", ratio, 0.85, 1.15);
}

#[test]
fn all_mechanisms_together_keep_the_truth_exact_on_eleme() {
    let mut cfg = SimConfig::sized(Preset::Eleme, 60_000, 3, 9);
    cfg.shards = 2;
    for m in Mechanism::ALL {
        cfg = cfg.with(m, true);
    }
    let w = simulate_world(&cfg);
    w.assert_truth_is_exact("eleme, every mechanism");
    assert!(w.stats.rec_click_buys > 500, "{}", w.stats.rec_click_buys);
}
