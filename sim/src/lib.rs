//! `esmc simulate`: a seeded world of a shop whose users browse in visits, click, look at
//! pictures and comments, add to cart or wish list, and buy now or in a later visit. It
//! writes the raw logs of the warehouse (`docs/labels.md`, "The warehouse") as
//! day-partitioned Parquet, and knows the true probabilities behind every exposure.
//!
//! ```text
//!  SimConfig ──> Catalog (items, shared) ──┐
//!                                          v
//!  users 1..U ─ split into shards ─> rayon: one ShardSink per shard
//!     each user: live() day by day ─> emit rows ─> logs/<table>/dt=D/part-<shard>.parquet
//!  coordinator ─> logs/item/dt=D/part-00000.parquet, logs/_simulation.json
//! ```
//! Determinism: every user draws from its own stream (seed, user id), items from the
//! seed; a shard's files depend only on its users, so the bytes are the same whatever the
//! number of threads.

mod behaviour;
mod config;
pub mod mechanism;
mod rng;
mod sink;
mod world;

pub use config::{Behaviour, IdType, Messiness, Preset, SimConfig};
pub use mechanism::{Mechanism, Mechanisms};
pub use sink::{MessCounts, writer_properties};

use crate::sink::{PartWriter, ShardSink, Val, part_name, start_us};
use crate::world::{Catalog, User};
use esmc_schemas::{Table, Warehouse};
use rayon::prelude::*;
use serde::Serialize;
use std::path::{Path, PathBuf};

/// Why a simulation failed.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// The configuration cannot be simulated (the caller's fault).
    #[error("invalid simulation config: {0}")]
    Config(String),
    /// The output directory already holds logs (the caller must choose to overwrite).
    #[error("{0} already holds logs; pass overwrite to replace them")]
    Exists(PathBuf),
    /// Writing failed (the environment's fault: disk, permissions).
    #[error("cannot write {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The Parquet writer failed.
    #[error("cannot write Parquet file {path}: {source}")]
    Parquet {
        path: PathBuf,
        #[source]
        source: parquet::errors::ParquetError,
    },
    /// A bug in esmc.
    #[error("internal error (a bug in esmc): {0}")]
    Internal(String),
}

impl SimError {
    pub(crate) fn io(path: &Path, source: std::io::Error) -> Self {
        SimError::Io {
            path: path.to_path_buf(),
            source,
        }
    }
    pub(crate) fn parquet(path: &Path, source: parquet::errors::ParquetError) -> Self {
        SimError::Parquet {
            path: path.to_path_buf(),
            source,
        }
    }
}

/// Progress of a long simulation (esmc's one progress trait): `start(users)`,
/// `advance(n)`, `finish()`. Libraries never print: the CLI implements it with a progress
/// bar; [`NoProgress`] ignores it. Called from worker threads.
pub use esmc_schemas::{NoProgress, Progress};

/// How a purchase came about, as the world knows it. The first four are the sample
/// builder's psc cases for a purchase that follows a feed click.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PurchasePath {
    /// Feed click, cart and payment in one visit.
    SameVisit,
    /// Feed click and cart in one visit, paid from the cart page at the next visit.
    LaterVisit,
    /// Carted after a feed click in an earlier visit, re-exposed in the feed, clicked
    /// and bought.
    OtherVisitRec,
    /// Clicked in the feed earlier, then found by search, carted from search and bought.
    OtherVisitSearch,
    /// Feed click and payment without a cart.
    NoCart,
    /// Found by search with no earlier feed click: no rec exposure to attribute it to.
    SearchOnly,
    /// Bought outside the feed and search (no click at all).
    Offsite,
}

impl PurchasePath {
    pub const ALL: [PurchasePath; 7] = [
        PurchasePath::SameVisit,
        PurchasePath::LaterVisit,
        PurchasePath::OtherVisitRec,
        PurchasePath::OtherVisitSearch,
        PurchasePath::NoCart,
        PurchasePath::SearchOnly,
        PurchasePath::Offsite,
    ];

    pub fn name(self) -> &'static str {
        match self {
            PurchasePath::SameVisit => "same_visit",
            PurchasePath::LaterVisit => "later_visit",
            PurchasePath::OtherVisitRec => "other_visit_rec",
            PurchasePath::OtherVisitSearch => "other_visit_search",
            PurchasePath::NoCart => "no_cart",
            PurchasePath::SearchOnly => "search_only",
            PurchasePath::Offsite => "offsite",
        }
    }
}

/// What the world did, counted as it happened (messy copies excluded).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Stats {
    pub rec_exposures: u64,
    pub search_exposures: u64,
    pub rec_clicks: u64,
    /// Feed clicks followed by a D-Mi action, a cart (rec), a wish.
    pub rec_click_dmi: u64,
    pub rec_click_carts: u64,
    pub rec_click_wishes: u64,
    /// Feed-click carts that the user decided to pay for (now or at the next visit).
    pub rec_carts_bought: u64,
    /// Purchases by [`PurchasePath`], in `PurchasePath::ALL` order.
    pub purchases: [u64; 7],
    /// Feed clicks that opened the detail page of an item not in the cart.
    #[serde(skip)]
    pub rec_detail_clicks: u64,
    /// Feed clicks whose user decided to buy through that click (now, from the cart page
    /// at the next visit, or an item waiting in the cart): what `truth_p_cvr` predicts.
    #[serde(skip)]
    pub rec_click_buys: u64,
    /// Of those, detail-page feed clicks, and detail-page feed clicks with a D-Mi action.
    #[serde(skip)]
    pub rec_detail_buys: u64,
    #[serde(skip)]
    pub rec_click_dmi_buys: u64,
}

impl Stats {
    fn add(&mut self, o: &Stats) {
        self.rec_exposures += o.rec_exposures;
        self.search_exposures += o.search_exposures;
        self.rec_clicks += o.rec_clicks;
        self.rec_click_dmi += o.rec_click_dmi;
        self.rec_click_carts += o.rec_click_carts;
        self.rec_click_wishes += o.rec_click_wishes;
        self.rec_carts_bought += o.rec_carts_bought;
        self.rec_detail_clicks += o.rec_detail_clicks;
        self.rec_click_buys += o.rec_click_buys;
        self.rec_detail_buys += o.rec_detail_buys;
        self.rec_click_dmi_buys += o.rec_click_dmi_buys;
        for (a, b) in self.purchases.iter_mut().zip(o.purchases) {
            *a += b;
        }
    }

    /// Purchases that follow a feed click (attributable to a rec exposure).
    pub fn rec_purchases(&self) -> u64 {
        self.purchases[..5].iter().sum()
    }

    fn ratio(a: u64, b: u64) -> f64 {
        if b == 0 { 0.0 } else { a as f64 / b as f64 }
    }
    pub fn ctr(&self) -> f64 {
        Self::ratio(self.rec_clicks, self.rec_exposures)
    }
    pub fn cart_per_click(&self) -> f64 {
        Self::ratio(self.rec_click_carts, self.rec_clicks)
    }
    pub fn purchase_per_click(&self) -> f64 {
        Self::ratio(self.rec_purchases(), self.rec_clicks)
    }
    pub fn purchase_per_exposure(&self) -> f64 {
        Self::ratio(self.rec_purchases(), self.rec_exposures)
    }
    pub fn bought_per_cart(&self) -> f64 {
        Self::ratio(self.rec_carts_bought, self.rec_click_carts)
    }
    /// Purchase decisions per detail-page feed click with a D-Mi action, and without.
    pub fn cvr_given_dmi(&self) -> (f64, f64) {
        let no_dmi_clicks = self.rec_detail_clicks - self.rec_click_dmi;
        let no_dmi_buys = self.rec_detail_buys - self.rec_click_dmi_buys;
        (
            Self::ratio(self.rec_click_dmi_buys, self.rec_click_dmi),
            Self::ratio(no_dmi_buys, no_dmi_clicks),
        )
    }

    /// Share of feed-click purchases by path (same_visit, later_visit, other_visit (rec
    /// and search), no_cart).
    pub fn path_share(&self, path: PurchasePath) -> f64 {
        Self::ratio(self.purchases[path as usize], self.rec_purchases())
    }
}

/// Rows written to one table's partition of one day (day index from the start).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TableCounts {
    pub table: &'static str,
    pub day: u32,
    pub rows: u64,
}

/// What a simulation wrote.
#[derive(Debug, Clone, Serialize)]
pub struct SimSummary {
    pub config: SimConfig,
    /// Rows per table and day, every table and day present.
    pub rows: Vec<TableCounts>,
    pub stats: Stats,
    pub messiness: MessCounts,
}

impl SimSummary {
    /// Rows written to `table` over all days.
    pub fn table_rows(&self, table: Table) -> u64 {
        self.rows
            .iter()
            .filter(|c| c.table == table.name())
            .map(|c| c.rows)
            .sum()
    }
}

/// Where the resolved config and summary of the world are written.
pub fn summary_path(warehouse: &Warehouse) -> PathBuf {
    warehouse.root().join("logs").join("_simulation.json")
}

/// Options of one run that do not change the world's bytes.
#[derive(Debug, Clone, Copy)]
pub struct RunOptions {
    /// Worker threads (0 = all cores).
    pub threads: usize,
    /// Replace existing logs under the root.
    pub overwrite: bool,
}

/// Simulates the world of `cfg` into the warehouse at `root`.
pub fn simulate(
    cfg: &SimConfig,
    root: &Path,
    opts: RunOptions,
    progress: &dyn Progress,
) -> Result<SimSummary, SimError> {
    cfg.check().map_err(SimError::Config)?;
    let warehouse = Warehouse::new(root);
    let logs = root.join("logs");
    if logs.exists() {
        if !opts.overwrite {
            return Err(SimError::Exists(logs));
        }
        std::fs::remove_dir_all(&logs).map_err(|e| SimError::io(&logs, e))?;
    }
    let catalog = Catalog::build(cfg);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(opts.threads)
        .build()
        .map_err(|e| SimError::Internal(format!("thread pool: {e}")))?;
    progress.start(cfg.users);
    let shards: Vec<u32> = (0..cfg.shards).collect();
    let results: Result<Vec<_>, SimError> = pool.install(|| {
        shards
            .par_iter()
            .map(|&s| run_shard(cfg, &catalog, &warehouse, s, progress))
            .collect()
    });
    let mut summary = SimSummary {
        config: cfg.clone(),
        rows: Vec::new(),
        stats: Stats::default(),
        messiness: MessCounts::default(),
    };
    for (rows, stats, mess) in results? {
        for r in rows {
            match summary
                .rows
                .iter_mut()
                .find(|c| c.table == r.table && c.day == r.day)
            {
                Some(c) => c.rows += r.rows,
                None => summary.rows.push(r),
            }
        }
        summary.stats.add(&stats);
        summary.messiness.duplicates += mess.duplicates;
        summary.messiness.late += mess.late;
        summary.messiness.malformed += mess.malformed;
        summary.messiness.missing_exposure_id += mess.missing_exposure_id;
    }
    summary.rows.extend(write_items(cfg, &catalog, &warehouse)?);
    summary.rows.sort_by_key(|c| (table_order(c.table), c.day));
    progress.finish();
    let path = summary_path(&warehouse);
    let json = serde_json::to_vec_pretty(&summary)
        .map_err(|e| SimError::Internal(format!("summary json: {e}")))?;
    std::fs::write(&path, json).map_err(|e| SimError::io(&path, e))?;
    Ok(summary)
}

fn table_order(name: &str) -> usize {
    Table::ALL
        .iter()
        .position(|t| t.name() == name)
        .unwrap_or(usize::MAX)
}

/// Users of shard `s`: a contiguous id range.
fn shard_users(cfg: &SimConfig, s: u32) -> std::ops::Range<u64> {
    let per = cfg.users.div_ceil(cfg.shards as u64);
    let lo = (s as u64 * per).min(cfg.users);
    let hi = ((s as u64 + 1) * per).min(cfg.users);
    lo + 1..hi + 1
}

type ShardResult = (Vec<TableCounts>, Stats, MessCounts);

fn run_shard(
    cfg: &SimConfig,
    catalog: &Catalog,
    warehouse: &Warehouse,
    shard: u32,
    progress: &dyn Progress,
) -> Result<ShardResult, SimError> {
    let mut sink = ShardSink::new(cfg, warehouse, shard)?;
    let start = start_us(cfg);
    let mut stats = Stats::default();
    let mut users = Vec::new();
    let mut done = 0;
    for id in shard_users(cfg, shard) {
        users.push(behaviour::live(
            cfg, catalog, id, start, &mut sink, &mut stats,
        )?);
        done += 1;
        if done == 1024 {
            progress.advance(done);
            done = 0;
        }
    }
    progress.advance(done);
    let (mut rows, mess) = sink.finish()?;
    rows.extend(write_users(cfg, warehouse, shard, &users)?);
    Ok((rows, stats, mess))
}

fn days(cfg: &SimConfig) -> impl Iterator<Item = (u32, chrono::NaiveDate)> + '_ {
    (0..cfg.days).map(|d| (d, cfg.start + chrono::Days::new(d as u64)))
}

/// The user dimension: the shard's users, one snapshot per day.
fn write_users(
    cfg: &SimConfig,
    warehouse: &Warehouse,
    shard: u32,
    users: &[User],
) -> Result<Vec<TableCounts>, SimError> {
    days(cfg)
        .map(|(d, day)| {
            let mut w = PartWriter::create(
                warehouse.log_dir(Table::User, day),
                &part_name(shard),
                Table::User,
                cfg,
            )?;
            for u in users {
                w.push(&[
                    Val::I(u.id as i64),
                    Val::I(u.age_bucket as i64),
                    Val::I(u.gender as i64),
                    Val::I(u.city as i64),
                    Val::I(u.purchase_power as i64),
                ])?;
            }
            Ok(TableCounts {
                table: Table::User.name(),
                day: d,
                rows: w.finish()?,
            })
        })
        .collect()
}

/// The item dimension, one snapshot per day.
fn write_items(
    cfg: &SimConfig,
    catalog: &Catalog,
    warehouse: &Warehouse,
) -> Result<Vec<TableCounts>, SimError> {
    days(cfg)
        .map(|(d, day)| {
            let mut w = PartWriter::create(
                warehouse.log_dir(Table::Item, day),
                &part_name(0),
                Table::Item,
                cfg,
            )?;
            for (i, item) in catalog.items.iter().enumerate() {
                w.push(&[
                    Val::I(i as i64 + 1),
                    Val::I(item.category as i64 + 1),
                    Val::I(item.shop as i64 + 1),
                    Val::I(item.brand as i64 + 1),
                    Val::F(item.price),
                ])?;
            }
            Ok(TableCounts {
                table: Table::Item.name(),
                day: d,
                rows: w.finish()?,
            })
        })
        .collect()
}
