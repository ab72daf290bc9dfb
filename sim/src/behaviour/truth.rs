//! What the world knows at an exposure: the recommender's candidates and the true click,
//! cart and purchase probabilities written on every exposure.

use super::{Fate, Life};
use crate::rng::sigmoid;

impl Life<'_> {
    /// The recommender: popularity-sampled candidates ranked by a noisy mix of affinity
    /// and popularity.
    pub(super) fn recommend(&mut self) -> Vec<u32> {
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

    pub(super) fn in_cart(&self, item: u32) -> bool {
        self.cart.iter().any(|e| e.item == item)
    }

    /// The mechanism terms of every purchase logit of `item` at affinity `a` (hidden
    /// selection driver, click transfer); exactly 0 with the knobs off.
    pub(super) fn buy_extra(&self, item: u32, a: f64) -> f64 {
        let m = &self.cfg.mechanisms;
        m.hidden(self.cfg.seed, self.user.id, item) + m.transfer(a)
    }

    /// Purchase probability at a click on `item` while it waits in the cart.
    pub(super) fn p_buy_in_cart(&self, item: u32, a: f64) -> f64 {
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
    pub(super) fn intent(&mut self, p_buy: f64) -> Option<bool> {
        self.cfg
            .mechanisms
            .micro_on()
            .then(|| self.rng.bernoulli(p_buy))
    }

    /// (p_click, p_cart | click, p_cvr | click, affinity) of showing `item` at `position`.
    pub(super) fn truth(&self, item: u32, position: usize, search: bool) -> (f64, f64, f64, f64) {
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
}
