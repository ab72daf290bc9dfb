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

use crate::config::{Behaviour, SimConfig};
use crate::rng::{Rng, sigmoid};
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

    /// The recommender: popularity-sampled candidates ranked by a noisy mix of affinity
    /// and popularity.
    fn recommend(&mut self) -> Vec<u32> {
        let k = self.b.items_per_request as usize;
        let n = (3 * k).min(self.catalog.items.len());
        let mut scored: Vec<(f64, u32)> = Vec::with_capacity(n);
        for _ in 0..n {
            let item = self.rng.from_cdf(&self.catalog.popularity_cdf) as u32;
            if scored.iter().any(|&(_, i)| i == item) {
                continue;
            }
            let a = self.user.affinity(self.catalog, item as usize);
            let pop = self.catalog.items[item as usize].popularity;
            let score = self.b.recommender_skill * a + 0.5 * pop + self.rng.normal();
            scored.push((score, item));
        }
        scored.sort_by(|x, y| y.0.total_cmp(&x.0));
        scored.truncate(k);
        scored.into_iter().map(|(_, i)| i).collect()
    }

    fn in_cart(&self, item: u32) -> bool {
        self.cart.iter().any(|e| e.item == item)
    }

    /// The mechanism terms of every purchase logit of `item` at affinity `a` (hidden
    /// selection driver, click transfer); exactly 0 with the knobs off.
    fn buy_extra(&self, item: u32, a: f64) -> f64 {
        let m = &self.cfg.mechanisms;
        m.hidden(self.cfg.seed, self.user.id, item) + m.transfer(a)
    }

    /// Purchase probability at a click on `item` while it waits in the cart.
    fn p_buy_in_cart(&self, item: u32, a: f64) -> f64 {
        if self
            .cart
            .iter()
            .any(|e| e.item == item && e.fate == Fate::Deferred)
        {
            return 1.0;
        }
        let b = self.b;
        sigmoid(
            b.buy_in_cart_base
                + b.buy_cart_affinity * a
                + self.user.buy_bias
                + self.buy_extra(item, a),
        )
    }

    /// The purchase decision drawn before the micro actions when they carry it
    /// (`micro_*_signal`); `None` (no draw) otherwise.
    fn intent(&mut self, p_buy: f64) -> Option<bool> {
        self.cfg
            .mechanisms
            .micro_on()
            .then(|| self.rng.bernoulli(p_buy))
    }

    /// (p_click, p_cart | click, p_cvr | click, affinity) of showing `item` at `position`.
    fn truth(&self, item: u32, position: usize, search: bool) -> (f64, f64, f64, f64) {
        let b = self.b;
        let it = &self.catalog.items[item as usize];
        let a = self.user.affinity(self.catalog, item as usize);
        let boost = if search { b.search_intent_boost } else { 0.0 };
        let in_cart = self.in_cart(item);
        let p_click = sigmoid(
            b.click_base
                + b.click_affinity * a
                + b.click_popularity * it.popularity
                + self.user.click_bias
                - b.click_position_decay * (position as f64).ln()
                + if in_cart { b.click_in_cart_boost } else { 0.0 }
                + boost
                + self
                    .cfg
                    .mechanisms
                    .hidden(self.cfg.seed, self.user.id, item),
        );
        if in_cart {
            return (p_click, 0.0, self.p_buy_in_cart(item, a), a);
        }
        let buy_bias = self.user.buy_bias;
        let extra = self.buy_extra(item, a);
        let price = b.cart_price * (0.5 * (self.user.purchase_power - 3) as f64 - it.price_z);
        let p_cart = sigmoid(b.cart_base + b.cart_affinity * a + price + boost);
        let p_buy_cart = sigmoid(b.buy_cart_base + b.buy_cart_affinity * a + buy_bias + extra);
        let p_direct = sigmoid(b.buy_direct_base + b.buy_direct_affinity * a + buy_bias + extra);
        let deferred = self.cfg.mechanisms.cart_elsewhere;
        let p_cvr = if search {
            // a search cart is paid now with probability search_buy_now
            p_cart * b.search_buy_now * p_buy_cart.max(0.5) + (1.0 - p_cart) * p_direct
        } else if deferred > 0.0 {
            // a deferred cart is bought through a later click, not this one
            p_cart * p_buy_cart * (1.0 - deferred) + (1.0 - p_cart) * p_direct
        } else {
            p_cart * p_buy_cart + (1.0 - p_cart) * p_direct
        };
        (p_click, p_cart, p_cvr, a)
    }

    /// Shows `items` as one page of `domain` results; returns the clicked exposures as
    /// (exposure id, item, p_cart, affinity).
    fn show_page(
        &mut self,
        sink: &mut ShardSink<'_>,
        session: i64,
        items: &[u32],
        domain: &'static str,
    ) -> Result<Vec<(i64, u32, f64, f64)>, SimError> {
        self.requests += 1;
        let request = self.id(self.requests);
        let shown_at = self.t;
        let search = domain == SEARCH;
        let mut clicked = Vec::new();
        for (slot, &item) in items.iter().enumerate() {
            self.exposures += 1;
            let exposure = self.id(self.exposures);
            let (p_click, p_cart, p_cvr, a) = self.truth(item, slot + 1, search);
            let shown = sink.emit(
                Table::Exposure,
                &[
                    Val::I(exposure),
                    Val::I(shown_at + slot as i64),
                    Val::I(self.user.id as i64),
                    Val::I(item as i64 + 1),
                    Val::S(domain),
                    Val::I(slot as i64 + 1),
                    Val::I(request),
                    Val::I(session),
                    Val::F(p_click),
                    Val::F(p_cart),
                    Val::F(p_cvr),
                ],
            )?;
            if search {
                self.stats.search_exposures += shown as u64;
            } else {
                self.stats.rec_exposures += shown as u64;
            }
            if self.rng.bernoulli(p_click) {
                clicked.push((exposure, item, p_cart, a));
            }
        }
        Ok(clicked)
    }

    fn feed_request(
        &mut self,
        sink: &mut ShardSink<'_>,
        session: i64,
        items: &[u32],
    ) -> Result<(), SimError> {
        for (exposure, item, p_cart, a) in self.show_page(sink, session, items, REC)? {
            self.stats.rec_clicks += self.click(sink, exposure, item)? as u64;
            if self.in_cart(item) {
                self.revisit_cart_item(sink, item, a)?;
            } else {
                self.detail_page(sink, item, p_cart, a, false)?;
            }
            if self.recent_clicks.len() == RECALL {
                self.recent_clicks.remove(0);
            }
            self.recent_clicks.push((item, self.t));
        }
        Ok(())
    }

    fn click(
        &mut self,
        sink: &mut ShardSink<'_>,
        exposure: i64,
        item: u32,
    ) -> Result<bool, SimError> {
        self.advance(2, 20);
        let missing = self.cfg.messiness.missing_exposure_id_rate;
        let exposure_id = if missing > 0.0 && self.mess.bernoulli(missing) {
            sink.mess.missing_exposure_id += 1;
            Val::Null
        } else {
            Val::I(exposure)
        };
        let user = self.user.id as i64;
        sink.emit(
            Table::Click,
            &[
                Val::I(self.t),
                Val::I(user),
                Val::I(item as i64 + 1),
                exposure_id,
            ],
        )
    }

    fn micro(
        &mut self,
        sink: &mut ShardSink<'_>,
        item: u32,
        a: f64,
        carted: bool,
        intent: Option<bool>,
    ) -> Result<bool, SimError> {
        let m = &self.cfg.mechanisms;
        let mut dmi = false;
        for (k, &(action, base)) in MICRO.iter().enumerate() {
            // the informative-micro lift on a page that ends in a purchase decision
            let lift = match (intent, k < 5) {
                (Some(true), true) => m.micro_d_signal,
                (Some(true), false) => m.micro_o_signal,
                _ => 0.0,
            };
            let p = if action == "cart_button" {
                if carted { 0.95 } else { sigmoid(base + lift) }
            } else {
                sigmoid(base + 0.3 * a + if carted { 1.0 } else { 0.0 } + lift)
            };
            if self.rng.bernoulli(p) {
                self.advance(3, 40);
                dmi |= k < 5;
                let user = self.user.id as i64;
                sink.emit(
                    Table::Micro,
                    &[
                        Val::I(self.t),
                        Val::I(user),
                        Val::I(item as i64 + 1),
                        Val::S(action),
                    ],
                )?;
            }
        }
        Ok(dmi)
    }

    fn add(
        &mut self,
        sink: &mut ShardSink<'_>,
        table: Table,
        item: u32,
        domain: &'static str,
    ) -> Result<bool, SimError> {
        self.advance(1, 10);
        let user = self.user.id as i64;
        sink.emit(
            table,
            &[
                Val::I(self.t),
                Val::I(user),
                Val::I(item as i64 + 1),
                Val::S(domain),
            ],
        )
    }

    /// The detail page after a click on an item not in the cart.
    fn detail_page(
        &mut self,
        sink: &mut ShardSink<'_>,
        item: u32,
        p_cart: f64,
        a: f64,
        search: bool,
    ) -> Result<(), SimError> {
        let b = self.b;
        let carted = self.rng.bernoulli(p_cart);
        // the same sums, in the same order, as `truth`
        let (buy_bias, extra) = (self.user.buy_bias, self.buy_extra(item, a));
        let p_buy = sigmoid(b.buy_cart_base + b.buy_cart_affinity * a + buy_bias + extra);
        let p_buy = if search { p_buy.max(0.5) } else { p_buy };
        let p_direct = sigmoid(b.buy_direct_base + b.buy_direct_affinity * a + buy_bias + extra);
        let intent = self.intent(if carted { p_buy } else { p_direct });
        let dmi = self.micro(sink, item, a, carted, intent)?;
        let domain = if search { SEARCH } else { REC };
        if !search {
            self.stats.rec_click_dmi += dmi as u64;
            self.stats.rec_detail_clicks += 1;
        }
        if carted {
            self.add(sink, Table::Cart, item, domain)?;
        }
        let p_wish = sigmoid(b.wish_base + b.wish_affinity * a);
        if self.rng.bernoulli(p_wish) {
            self.add(sink, Table::Wish, item, domain)?;
            if !search {
                self.stats.rec_click_wishes += 1;
            }
        }
        if carted {
            let buys = intent.unwrap_or_else(|| self.rng.bernoulli(p_buy));
            let now_share = if search {
                b.search_buy_now
            } else {
                b.buy_now_share
            };
            let now = self.rng.bernoulli(now_share);
            let defer = self.cfg.mechanisms.cart_elsewhere;
            let deferred = buys && !search && defer > 0.0 && self.rng.bernoulli(defer);
            if !search {
                self.stats.rec_click_carts += 1;
                self.stats.rec_carts_bought += buys as u64;
                self.count_decision(buys && !deferred, dmi);
            }
            let entry = |fate| CartEntry {
                item,
                added: self.t,
                fate,
                from_rec: !search,
            };
            match (buys, now, search) {
                _ if deferred => self.cart.push(entry(Fate::Deferred)),
                (true, true, false) => {
                    self.advance(20, 300);
                    self.purchase(sink, item, PurchasePath::SameVisit)?;
                }
                (true, true, true) => {
                    self.advance(20, 300);
                    let path = self.search_path(item);
                    self.purchase(sink, item, path)?;
                }
                (true, false, false) => self.cart.push(entry(Fate::BuyNextVisit)),
                _ => self.cart.push(entry(Fate::Waiting)),
            }
        } else {
            let buys = intent.unwrap_or_else(|| self.rng.bernoulli(p_direct));
            if !search {
                self.count_decision(buys, dmi);
            }
            if buys {
                self.advance(20, 300);
                let path = if search {
                    self.search_path(item)
                } else {
                    PurchasePath::NoCart
                };
                self.purchase(sink, item, path)?;
            }
        }
        Ok(())
    }

    /// A feed click on an item already in the cart (carted in an earlier visit).
    fn revisit_cart_item(
        &mut self,
        sink: &mut ShardSink<'_>,
        item: u32,
        a: f64,
    ) -> Result<(), SimError> {
        let p_buy = self.p_buy_in_cart(item, a);
        let intent = self.intent(p_buy);
        self.micro(sink, item, a, false, intent)?;
        let buys = intent.unwrap_or_else(|| self.rng.bernoulli(p_buy));
        self.stats.rec_click_buys += buys as u64;
        if buys {
            self.advance(20, 300);
            let from_rec = self.cart.iter().any(|e| e.item == item && e.from_rec);
            self.cart.retain(|e| e.item != item);
            let path = if from_rec {
                PurchasePath::OtherVisitRec
            } else {
                PurchasePath::OtherVisitSearch
            };
            self.purchase(sink, item, path)?;
        }
        Ok(())
    }

    /// Counts a feed detail page's purchase decision through its own click.
    fn count_decision(&mut self, buys: bool, dmi: bool) {
        self.stats.rec_click_buys += buys as u64;
        self.stats.rec_detail_buys += buys as u64;
        self.stats.rec_click_dmi_buys += (buys && dmi) as u64;
    }

    /// A search purchase counts as `other_visit` when the user clicked the item in the
    /// feed within the last three days (the purchase attributes to that click).
    fn search_path(&self, item: u32) -> PurchasePath {
        let window = 3 * DAY_US;
        if self
            .recent_clicks
            .iter()
            .any(|&(i, at)| i == item && self.t - at <= window)
        {
            PurchasePath::OtherVisitSearch
        } else {
            PurchasePath::SearchOnly
        }
    }

    fn search(&mut self, sink: &mut ShardSink<'_>, session: i64) -> Result<(), SimError> {
        self.advance(5, 60);
        let recall = (!self.recent_clicks.is_empty()
            && self.rng.bernoulli(self.b.search_recall_share))
        .then(|| self.recent_clicks[self.rng.index(self.recent_clicks.len())].0);
        let category = match recall {
            Some(item) => self.catalog.items[item as usize].category,
            None => {
                let best = (0..8)
                    .map(|_| self.rng.from_cdf(&self.catalog.popularity_cdf))
                    .max_by(|&x, &y| {
                        self.user
                            .affinity(self.catalog, x)
                            .total_cmp(&self.user.affinity(self.catalog, y))
                    })
                    .expect("eight candidates");
                self.catalog.items[best].category
            }
        };
        let pool = &self.catalog.by_category[category as usize];
        let n = (self.b.search_results as usize).min(pool.len());
        let mut results: Vec<u32> = Vec::with_capacity(n);
        if let Some(item) = recall {
            results.push(item);
        }
        let top = pool.len().min(50);
        for _ in 0..4 * n {
            if results.len() >= n {
                break;
            }
            let item = pool[self.rng.index(top)];
            if !results.contains(&item) {
                results.push(item);
            }
        }
        let clicked = self.show_page(sink, session, &results, SEARCH)?;
        for (exposure, item, p_cart, a) in clicked {
            self.click(sink, exposure, item)?;
            if !self.in_cart(item) {
                self.detail_page(sink, item, p_cart, a, true)?;
            }
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
