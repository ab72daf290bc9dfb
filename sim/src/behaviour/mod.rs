//! One user's life in the shop, day after day: visits with a daily rhythm, feed requests
//! filled by a recommender, clicks, micro behaviours, carts, wishes, searches and
//! purchases now, at the next visit, after a re-exposure, or offsite.
//!
//! ```text
//! visit ─┬─ cart page: pay items left "to buy next visit"          (later_visit)
//!        ├─ feed request ─> K rec exposures (+ items waiting in the cart, re-exposed)
//!        │     click ─> micro actions, cart (rec), wish
//!        │        ├─ cart ─> pay now (same_visit) | next visit | leave in cart
//!        │        ├─ no cart ─> pay now (no_cart)
//!        │        └─ item was in the cart ─> pay now (other_visit)
//!        ├─ search ─> search exposures ─> click ─> cart (search) ─> pay now | leave
//!        └─ offsite purchase (no click)
//! ```
//! Every probability the world uses at an exposure is written on it as `truth_p_click`,
//! `truth_p_cart` (given a click) and `truth_p_cvr` (purchase through this click, given
//! the click), the ceiling any model can reach.

mod detail;
mod page;
mod search;
mod truth;

use crate::config::{Behaviour, SimConfig};
use crate::rng::Rng;
use crate::sink::{DAY_US, ShardSink, Val};
use crate::world::{Catalog, User, stream};
use crate::{PurchasePath, SimError, Stats};
use esmc_schemas::Table;

const SECOND: i64 = 1_000_000;
const MINUTE: i64 = 60 * SECOND;
/// Visits of one user are at least this far apart (more than the 30 min session gap).
const VISIT_SPACING: i64 = 40 * MINUTE;
/// Relative visit-start weights of the 24 UTC hours: lunch and evening peaks.
const HOUR_WEIGHTS: [f64; 24] = [
    0.3, 0.2, 0.1, 0.1, 0.1, 0.2, 0.5, 0.9, 1.1, 1.0, 1.3, 1.9, 2.0, 1.3, 1.0, 1.0, 1.1, 1.6, 2.0,
    2.1, 2.0, 1.7, 1.1, 0.6,
];
/// Micro actions with their base logit; the first five are the default D-Mi set.
const MICRO: [(&str, f64); 7] = [
    ("picture", -1.2),
    ("qa", -2.6),
    ("chat", -3.2),
    ("comment", -1.8),
    ("cart_button", -4.0),
    ("share", -3.6),
    ("shop_home", -2.6),
];
const REC: &str = "rec";
const SEARCH: &str = "search";
/// Recent feed clicks remembered for searches that look an item up again.
const RECALL: usize = 16;

#[derive(Debug, Clone, Copy, PartialEq)]
enum Fate {
    /// Paid from the cart page at the next visit.
    BuyNextVisit,
    /// Waiting in the cart; may be re-exposed and bought then.
    Waiting,
    /// Bought in another visit (the `cart_elsewhere` mechanism): shown again in every
    /// later visit's feed and bought at the click on it.
    Deferred,
}

#[derive(Debug, Clone, Copy)]
struct CartEntry {
    item: u32,
    added: i64,
    fate: Fate,
    /// The cart came after a feed click (else: search).
    from_rec: bool,
}

/// A user's state, carried across visits and days.
struct Life<'a> {
    cfg: &'a SimConfig,
    b: &'a Behaviour,
    catalog: &'a Catalog,
    user: User,
    rng: Rng,
    mess: Rng,
    cart: Vec<CartEntry>,
    /// Recent feed clicks: (item, time).
    recent_clicks: Vec<(u32, i64)>,
    exposures: i64,
    requests: i64,
    visits: i64,
    orders: i64,
    t: i64,
    stats: &'a mut Stats,
}

/// Simulates user `id` over every day of the world, writing its events into `sink`.
pub(crate) fn live(
    cfg: &SimConfig,
    catalog: &Catalog,
    id: u64,
    start_us: i64,
    sink: &mut ShardSink<'_>,
    stats: &mut Stats,
) -> Result<User, SimError> {
    let user = User::build(cfg, id);
    let mut life = Life {
        cfg,
        b: &cfg.behaviour,
        catalog,
        rng: Rng::new(cfg.seed, &[stream::USER_BEHAVIOUR, id]),
        mess: Rng::new(cfg.seed, &[stream::MESS, id]),
        user,
        cart: Vec::new(),
        recent_clicks: Vec::new(),
        exposures: 0,
        requests: 0,
        visits: 0,
        orders: 0,
        t: i64::MIN / 2,
        stats,
    };
    let hour_cdf: Vec<f64> = HOUR_WEIGHTS
        .iter()
        .scan(0.0, |acc, w| {
            *acc += w;
            Some(*acc)
        })
        .collect();
    for day in 0..cfg.days as i64 {
        let n = life.rng.poisson(life.user.activity);
        let mut starts: Vec<i64> = (0..n)
            .map(|_| {
                let hour = life.rng.from_cdf(&hour_cdf) as i64;
                start_us + day * DAY_US + hour * 60 * MINUTE + life.rng.range(0, 60 * MINUTE - 1)
            })
            .collect();
        starts.sort_unstable();
        for s in starts {
            life.t = s.max(life.t + VISIT_SPACING);
            life.visit(sink)?;
        }
    }
    Ok(life.user)
}

impl Life<'_> {
    fn id(&self, counter: i64) -> i64 {
        ((self.user.id as i64) << 32) | counter
    }

    fn advance(&mut self, min_s: i64, max_s: i64) {
        self.t += self.rng.range(min_s * SECOND, max_s * SECOND);
    }

    fn visit(&mut self, sink: &mut ShardSink<'_>) -> Result<(), SimError> {
        self.visits += 1;
        let session = self.id(self.visits);
        let ttl = (self.b.cart_ttl_days * DAY_US as f64) as i64;
        let now = self.t;
        self.cart.retain(|e| now - e.added <= ttl);

        // the cart page first: items the user meant to buy on this visit
        let due: Vec<CartEntry> = self
            .cart
            .iter()
            .filter(|e| e.fate == Fate::BuyNextVisit)
            .copied()
            .collect();
        self.cart.retain(|e| e.fate != Fate::BuyNextVisit);
        for e in due {
            self.advance(15, 120);
            self.purchase(sink, e.item, PurchasePath::LaterVisit)?;
        }
        if self.rng.bernoulli(self.b.offsite_purchase_rate) {
            self.advance(30, 300);
            let item = self.rng.from_cdf(&self.catalog.popularity_cdf) as u32;
            self.purchase(sink, item, PurchasePath::Offsite)?;
        }

        // items waiting in the cart that the feed shows again on this visit
        let mut reshow: Vec<u32> = Vec::new();
        for e in &self.cart {
            if e.fate == Fate::Deferred
                || e.fate == Fate::Waiting && self.rng.bernoulli(self.b.re_expose_in_cart)
            {
                reshow.push(e.item);
            }
        }
        let requests = 1 + self.rng.poisson(self.b.extra_requests_per_visit) as usize;
        let search_at = self
            .rng
            .bernoulli(self.b.search_visit_share)
            .then(|| self.rng.index(requests));
        for r in 0..requests {
            if search_at == Some(r) {
                self.search(sink, session)?;
            }
            self.advance(3, 45);
            let mut items = self.recommend();
            if let Some(item) = reshow.pop() {
                if !items.contains(&item) {
                    let slot = self.rng.index(items.len());
                    items[slot] = item;
                }
            }
            self.feed_request(sink, session, &items)?;
        }
        Ok(())
    }

    fn purchase(
        &mut self,
        sink: &mut ShardSink<'_>,
        item: u32,
        path: PurchasePath,
    ) -> Result<(), SimError> {
        self.orders += 1;
        let order = self.id(self.orders);
        let quantity = 1 + self.rng.bernoulli(0.2) as i64;
        let amount = self.catalog.items[item as usize].price * quantity as f64;
        let user = self.user.id as i64;
        let written = sink.emit(
            Table::Purchase,
            &[
                Val::I(self.t),
                Val::I(user),
                Val::I(item as i64 + 1),
                Val::I(order),
                Val::F((amount * 100.0).round() / 100.0),
                Val::I(quantity),
            ],
        )?;
        self.stats.purchases[path as usize] += written as u64;
        Ok(())
    }
}
