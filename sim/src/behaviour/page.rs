//! One page of results shown and clicked: exposures, feed requests, clicks, micro
//! actions and cart/wish rows.

use super::{Life, MICRO, REC, RECALL, SEARCH};
use crate::SimError;
use crate::rng::sigmoid;
use crate::sink::{ShardSink, Val};
use esmc_schemas::Table;

impl Life<'_> {
    /// Shows `items` as one page of `domain` results; returns the clicked exposures as
    /// (exposure id, item, p_cart, affinity).
    pub(super) fn show_page(
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

    pub(super) fn feed_request(
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

    pub(super) fn click(
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

    pub(super) fn micro(
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

    pub(super) fn add(
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
}
