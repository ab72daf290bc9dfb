//! After a click: the detail page of an item not in the cart (cart, wish, pay now, later
//! or never) and a click on an item already waiting in the cart.

use super::{CartEntry, Fate, Life, REC, SEARCH};
use crate::rng::sigmoid;
use crate::sink::ShardSink;
use crate::{PurchasePath, SimError};
use esmc_schemas::Table;

impl Life<'_> {
    /// The detail page after a click on an item not in the cart.
    pub(super) fn detail_page(
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
            self.after_cart(sink, item, p_buy, intent, dmi, search)
        } else {
            self.after_no_cart(sink, item, p_direct, intent, dmi, search)
        }
    }

    /// The purchase decision of a detail page that ended in a cart: pay now, at the next
    /// visit, through a later click (deferred), or leave it waiting.
    fn after_cart(
        &mut self,
        sink: &mut ShardSink<'_>,
        item: u32,
        p_buy: f64,
        intent: Option<bool>,
        dmi: bool,
        search: bool,
    ) -> Result<(), SimError> {
        let b = self.b;
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
        Ok(())
    }

    /// The purchase decision of a detail page without a cart: pay now or never.
    fn after_no_cart(
        &mut self,
        sink: &mut ShardSink<'_>,
        item: u32,
        p_direct: f64,
        intent: Option<bool>,
        dmi: bool,
        search: bool,
    ) -> Result<(), SimError> {
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
        Ok(())
    }

    /// A feed click on an item already in the cart (carted in an earlier visit).
    pub(super) fn revisit_cart_item(
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
    pub(super) fn count_decision(&mut self, buys: bool, dmi: bool) {
        self.stats.rec_click_buys += buys as u64;
        self.stats.rec_detail_buys += buys as u64;
        self.stats.rec_click_dmi_buys += (buys && dmi) as u64;
    }
}
