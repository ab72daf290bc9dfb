//! The world's configuration: scale, seed, the behaviour parameters of a preset, and the
//! messiness switches. Every field has a documented default; the resolved config is
//! written beside the logs it shaped (`logs/_simulation.json`).

use crate::mechanism::Mechanisms;
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// The two calibrated worlds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Preset {
    /// A general retail marketplace in the orders of magnitude of ESM² Table 1: about 6%
    /// CTR, about 10% of clicks carted, about 1% of clicks bought.
    Taobao,
    /// A food-delivery platform in the orders of magnitude of ESMC Table III: about 6%
    /// CTR, purchases about 1.1% of exposures, most carts bought, many of them in a later
    /// visit.
    Eleme,
}

impl FromStr for Preset {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "taobao" => Ok(Preset::Taobao),
            "eleme" => Ok(Preset::Eleme),
            _ => Err(format!("unknown preset `{s}` (presets: taobao, eleme)")),
        }
    }
}

impl fmt::Display for Preset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Preset::Taobao => "taobao",
            Preset::Eleme => "eleme",
        })
    }
}

/// How IDs are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum IdType {
    /// `Int64` (default).
    #[default]
    Int,
    /// `Utf8`: the decimal digits of the integer id, for testing string-ID warehouses.
    String,
}

/// Switches that make the logs as messy as production logs. All off by default.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct Messiness {
    /// Share of event rows written twice, byte for byte (exact duplicates).
    pub duplicate_rate: f64,
    /// Share of event rows that land in the next day's partition (event time unchanged).
    pub late_rate: f64,
    /// Share of clicks written without their `exposure_id`.
    pub missing_exposure_id_rate: f64,
    /// Share of event rows followed by a malformed copy: null `user_id`, an event time
    /// days outside its partition, or (purchases) a negative amount. The copies are extra
    /// rows; the world's own events stay intact.
    pub malformed_rate: f64,
}

impl Messiness {
    pub fn is_clean(&self) -> bool {
        *self == Messiness::default()
    }
}

/// The behaviour model's parameters. Logits are on the logistic scale; `affinity` is the
/// user-item latent match, standard normal across random pairs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Behaviour {
    /// Mean visits per user per day (each user's own rate is Gamma(2)-distributed).
    pub visits_per_day: f64,
    /// Mean feed requests per visit beyond the first (Poisson).
    pub extra_requests_per_visit: f64,
    /// Items per feed request (positions 1..=n).
    pub items_per_request: u32,
    /// How strongly the recommender ranks by affinity (0 = popularity only).
    pub recommender_skill: f64,
    /// Click logit: intercept, affinity, item popularity, per-log(position) decay, and the
    /// boost of an item already in the user's cart.
    pub click_base: f64,
    pub click_affinity: f64,
    pub click_popularity: f64,
    pub click_position_decay: f64,
    pub click_in_cart_boost: f64,
    /// Cart-given-click logit: intercept, affinity, price sensitivity.
    pub cart_base: f64,
    pub cart_affinity: f64,
    pub cart_price: f64,
    /// Wish-given-click logit.
    pub wish_base: f64,
    pub wish_affinity: f64,
    /// Purchase-given-cart logit.
    pub buy_cart_base: f64,
    pub buy_cart_affinity: f64,
    /// Share of bought carts paid in the same visit (the rest: from the cart page at the
    /// next visit, `later_visit`).
    pub buy_now_share: f64,
    /// Purchase-given-click-without-cart logit (`no_cart` purchases).
    pub buy_direct_base: f64,
    pub buy_direct_affinity: f64,
    /// Purchase-given-click logit for an item already in the cart, re-exposed in a later
    /// visit (`other_visit` purchases).
    pub buy_in_cart_base: f64,
    /// Chance that each item waiting in the cart is re-exposed in a visit's feed.
    pub re_expose_in_cart: f64,
    /// Days an unbought item stays in the cart.
    pub cart_ttl_days: f64,
    /// Share of visits that include a search.
    pub search_visit_share: f64,
    /// Share of searches for an item the user clicked in the feed before.
    pub search_recall_share: f64,
    /// Search exposures per search.
    pub search_results: u32,
    /// Extra click and cart logit for search results (intent is explicit).
    pub search_intent_boost: f64,
    /// Share of search carts paid in the same visit.
    pub search_buy_now: f64,
    /// Chance per visit of a purchase from outside the feed and search (no click).
    pub offsite_purchase_rate: f64,
}

impl Behaviour {
    pub fn preset(preset: Preset) -> Self {
        let common = Behaviour {
            visits_per_day: 1.2,
            extra_requests_per_visit: 2.0,
            items_per_request: 10,
            recommender_skill: 1.0,
            click_base: -3.47,
            click_affinity: 0.7,
            click_popularity: 0.3,
            click_position_decay: 0.35,
            click_in_cart_boost: 1.2,
            cart_base: -2.93,
            cart_affinity: 0.5,
            cart_price: 0.3,
            wish_base: -3.3,
            wish_affinity: 0.4,
            buy_cart_base: -3.6,
            buy_cart_affinity: 0.5,
            buy_now_share: 0.35,
            buy_direct_base: -7.0,
            buy_direct_affinity: 0.5,
            buy_in_cart_base: -3.0,
            re_expose_in_cart: 0.15,
            cart_ttl_days: 14.0,
            search_visit_share: 0.15,
            search_recall_share: 0.3,
            search_results: 10,
            search_intent_boost: 1.0,
            search_buy_now: 0.3,
            offsite_purchase_rate: 0.01,
        };
        match preset {
            Preset::Taobao => common,
            Preset::Eleme => Behaviour {
                click_base: -3.43,
                cart_base: -2.1,
                wish_base: -4.0,
                buy_cart_base: 2.0,
                buy_now_share: 0.6,
                buy_direct_base: -4.9,
                buy_in_cart_base: 0.8,
                re_expose_in_cart: 0.3,
                cart_ttl_days: 3.0,
                search_visit_share: 0.1,
                search_buy_now: 0.6,
                ..common
            },
        }
    }
}

/// Everything that determines a world. Same config, same bytes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SimConfig {
    /// The preset the behaviour came from (informational once resolved).
    pub preset: Preset,
    /// Seed of every random draw.
    pub seed: u64,
    /// First simulated day (UTC).
    pub start: NaiveDate,
    /// Number of days.
    pub days: u32,
    /// Users in the world.
    pub users: u64,
    /// Items in the world.
    pub items: u64,
    /// Leaf categories, shops and brands.
    pub categories: u32,
    pub shops: u32,
    pub brands: u32,
    /// Latent dimension of user and item preference vectors.
    pub latent_dim: usize,
    /// Users are split into this many shards, each written to its own file per table and
    /// day; shards run in parallel. Output depends on the shard count, never on threads.
    pub shards: u32,
    /// Integer or string IDs in the files.
    pub id_type: IdType,
    pub behaviour: Behaviour,
    pub messiness: Messiness,
    /// The mechanism knobs, all off by default (and then left out of the written
    /// config, which stays as it was before the knobs existed).
    #[serde(default, skip_serializing_if = "Mechanisms::is_off")]
    pub mechanisms: Mechanisms,
}

/// Rec exposures one visit shows on average, before search and re-exposure effects.
fn exposures_per_visit(b: &Behaviour) -> f64 {
    (1.0 + b.extra_requests_per_visit) * b.items_per_request as f64
}

impl SimConfig {
    /// The preset's world sized for about `exposures_per_day` rec exposures a day.
    pub fn sized(preset: Preset, exposures_per_day: u64, days: u32, seed: u64) -> Self {
        let behaviour = Behaviour::preset(preset);
        let per_user_day = behaviour.visits_per_day * exposures_per_visit(&behaviour);
        let users = ((exposures_per_day as f64 / per_user_day).round() as u64).max(1);
        let items = match preset {
            // ESMC Table III: about 55 users per item; ESM² Table 1: about 1.3.
            Preset::Eleme => (users / 50).max(1000),
            Preset::Taobao => (users / 2).max(1000),
        };
        let shards = ((users / 25_000) as u32).clamp(2, 64);
        SimConfig {
            preset,
            seed,
            start: NaiveDate::from_ymd_opt(2026, 11, 1).expect("valid date"),
            days,
            users,
            items,
            categories: (items / 40).clamp(10, 2000) as u32,
            shops: (items / 15).clamp(20, 200_000) as u32,
            brands: (items / 25).clamp(20, 100_000) as u32,
            latent_dim: 8,
            shards,
            id_type: IdType::Int,
            behaviour,
            messiness: Messiness::default(),
            mechanisms: Mechanisms::default(),
        }
    }

    /// Rec exposures a day this config should produce, roughly.
    pub fn expected_exposures_per_day(&self) -> f64 {
        self.users as f64 * self.behaviour.visits_per_day * exposures_per_visit(&self.behaviour)
    }

    /// Rejects configs the simulator cannot run.
    pub fn check(&self) -> Result<(), String> {
        let m = &self.messiness;
        let rates = [
            ("messiness.duplicate_rate", m.duplicate_rate),
            ("messiness.late_rate", m.late_rate),
            (
                "messiness.missing_exposure_id_rate",
                m.missing_exposure_id_rate,
            ),
            ("messiness.malformed_rate", m.malformed_rate),
            ("behaviour.buy_now_share", self.behaviour.buy_now_share),
            (
                "behaviour.re_expose_in_cart",
                self.behaviour.re_expose_in_cart,
            ),
            (
                "behaviour.search_visit_share",
                self.behaviour.search_visit_share,
            ),
            (
                "behaviour.search_recall_share",
                self.behaviour.search_recall_share,
            ),
            ("behaviour.search_buy_now", self.behaviour.search_buy_now),
            (
                "behaviour.offsite_purchase_rate",
                self.behaviour.offsite_purchase_rate,
            ),
        ];
        for (name, v) in rates {
            if !(0.0..=1.0).contains(&v) {
                return Err(format!("{name} must be in [0, 1], got {v}"));
            }
        }
        let positive = [
            ("days", self.days as u64),
            ("users", self.users),
            ("items", self.items),
            ("categories", self.categories as u64),
            ("shops", self.shops as u64),
            ("brands", self.brands as u64),
            ("latent_dim", self.latent_dim as u64),
            ("shards", self.shards as u64),
            (
                "behaviour.items_per_request",
                self.behaviour.items_per_request as u64,
            ),
        ];
        for (name, v) in positive {
            if v == 0 {
                return Err(format!("{name} must be at least 1"));
            }
        }
        if self.users >= 1 << 31 {
            return Err(format!("users must be below 2^31, got {}", self.users));
        }
        if self.behaviour.visits_per_day < 0.0 {
            return Err("behaviour.visits_per_day must not be negative".into());
        }
        self.mechanisms.check()
    }
}
