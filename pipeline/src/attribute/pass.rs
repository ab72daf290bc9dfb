//! The pass over one user's events: its sessions, and per event kind the step that
//! attributes it (exposure, click, post-click micro/cart/wish, purchase), then the
//! samples with their calibrated labels.

use super::{
    AttributionCounts, Attributor, CartRef, ClickRef, Event, Exposure, Kind, Labels, PscCase,
    Sample, session_id,
};
use std::collections::HashMap;

/// The pass's maps by exposure id or item: foldhash's fixed hasher (SipHash was ~3% of
/// a labels-only build in `perf`; the keys are ids, not attacker-chosen).
type Map<V> = HashMap<i64, V, foldhash::fast::FixedState>;

/// The sessions of one user: a new one starts at its first event, after a gap longer
/// than the session gap, or when the client's session id changes.
pub(super) struct Sessions {
    user: i64,
    gap: i64,
    current: i64,
    last_ts: Option<i64>,
    last_client: Option<i64>,
}

impl Sessions {
    pub(super) fn new(user: i64, gap: i64) -> Self {
        Sessions {
            user,
            gap,
            current: 0,
            last_ts: None,
            last_client: None,
        }
    }

    /// The session of `e`, the user's next event.
    pub(super) fn next(&mut self, e: &Event<'_>) -> i64 {
        let client_changed =
            matches!((e.client_session, self.last_client), (Some(a), Some(b)) if a != b);
        if self.last_ts.is_none_or(|t| e.ts - t > self.gap) || client_changed {
            self.current = session_id(self.user, e.ts);
        }
        self.last_ts = Some(e.ts);
        if e.client_session.is_some() {
            self.last_client = e.client_session;
        }
        self.current
    }
}

/// What the pass over one user's events remembers: the exposures seen (with their
/// labels so far) and, per item, the latest exposure, click, click on a rec exposure
/// and cart.
pub(super) struct UserPass<'a> {
    rules: &'a Attributor,
    exposures: Vec<Exposure>,
    by_id: Map<usize>,
    last_exposure: Map<usize>,
    last_click: Map<ClickRef>,
    last_rec_click: Map<ClickRef>,
    last_cart: Map<CartRef>,
}

impl<'a> UserPass<'a> {
    pub(super) fn new(rules: &'a Attributor) -> Self {
        UserPass {
            rules,
            exposures: Vec::new(),
            by_id: Map::default(),
            last_exposure: Map::default(),
            last_click: Map::default(),
            last_rec_click: Map::default(),
            last_cart: Map::default(),
        }
    }

    /// An exposure: remembered by id and as the latest of its item; a sample when it is
    /// of the sample domain and of the built day. Exposures without an id are skipped.
    pub(super) fn exposure(&mut self, e: &Event<'_>, session: i64) {
        let Some(id) = e.exposure_id else { return };
        let rules = self.rules;
        let rec = e.tag == Some(rules.sample_domain.as_str());
        let idx = self.exposures.len();
        self.exposures.push(Exposure {
            id,
            ts: e.ts,
            item: e.item,
            session,
            sample: rec && (rules.day.0..rules.day.1).contains(&e.ts),
            rec,
            position: e.position,
            truth: e.truth,
            labels: Labels::default(),
            cart_rec: false,
            set_cal: false,
            set_global: false,
            cleared_cal: false,
            cleared_global: false,
        });
        self.by_id.insert(id, idx);
        self.last_exposure.insert(e.item, idx);
    }

    /// A click: on its exposure_id, else on the latest exposure of the item within the
    /// click window; remembered as the item's latest click (and latest rec click).
    pub(super) fn click(&mut self, e: &Event<'_>, session: i64, counts: &mut AttributionCounts) {
        let target = match e.exposure_id {
            Some(id) => self.by_id.get(&id).copied(),
            None => self
                .last_exposure
                .get(&e.item)
                .copied()
                .filter(|&x| e.ts - self.exposures[x].ts <= self.rules.click_window),
        };
        let click = ClickRef {
            ts: e.ts,
            session,
            exposure: target,
        };
        if let Some(x) = target {
            let x = &mut self.exposures[x];
            if x.sample && !x.labels.click {
                counts.clicks_to_samples += 1;
            }
            x.labels.click = true;
            if x.rec {
                self.last_rec_click.insert(e.item, click);
            }
        }
        self.last_click.insert(e.item, click);
    }

    /// A micro action, cart or wish: labels the exposure of the item's latest click when
    /// that click is in the same session; a cart is remembered as the item's latest.
    pub(super) fn post_click(&mut self, e: &Event<'_>, session: i64) {
        let rules = self.rules;
        let attributed = self
            .last_click
            .get(&e.item)
            .filter(|c| c.session == session)
            .and_then(|c| c.exposure);
        if let Some(x) = attributed {
            let x = &mut self.exposures[x];
            match e.kind {
                Kind::Micro => x.labels.dmi |= e.tag.is_some_and(|a| rules.dmi.contains(a)),
                Kind::Cart => {
                    x.labels.cart = true;
                    x.cart_rec |= e.tag == Some(rules.cart_cal_domain.as_str());
                }
                _ => x.labels.wish = true,
            }
        }
        if e.kind == Kind::Cart {
            self.last_cart.insert(
                e.item,
                CartRef {
                    ts: e.ts,
                    session,
                    rec: e.tag == Some(rules.cart_cal_domain.as_str()),
                    exposure: attributed,
                },
            );
        }
    }

    /// A purchase: attributed to the item's latest rec click within the attribution
    /// window; its psc case from the item's latest cart within the window; an
    /// other_visit purchase calibrates the samples' cart labels.
    pub(super) fn purchase(&mut self, e: &Event<'_>, session: i64, counts: &mut AttributionCounts) {
        let window = self.rules.attribution_window;
        let Some(c) = self
            .last_rec_click
            .get(&e.item)
            .copied()
            .filter(|c| e.ts - c.ts <= window)
        else {
            return;
        };
        let x = c.exposure.expect("rec clicks have an exposure");
        let k = self
            .last_cart
            .get(&e.item)
            .copied()
            .filter(|k| e.ts - k.ts <= window);
        let case = match k {
            None => PscCase::NoCart,
            Some(k) if k.session == c.session && session == c.session => PscCase::SameVisit,
            Some(k) if k.session == c.session => PscCase::LaterVisit,
            Some(_) => PscCase::OtherVisit,
        };
        if self.exposures[x].sample {
            counts.purchases_to_samples += 1;
        }
        let labels = &mut self.exposures[x].labels;
        labels.purchase = true;
        labels.psc_case = labels.psc_case.max(case);
        if let (PscCase::OtherVisit, Some(k)) = (case, k) {
            self.rules.calibrate(&mut self.exposures, x, k);
        }
    }

    /// The samples, in event order, with their calibrated cart labels.
    pub(super) fn samples(self, user: i64) -> Vec<Sample> {
        self.exposures
            .into_iter()
            .filter(|x| x.sample)
            .map(|x| {
                let mut labels = x.labels;
                labels.cart_cal = (x.cart_rec && !x.cleared_cal) || x.set_cal;
                labels.cart_global_cal = (labels.cart && !x.cleared_global) || x.set_global;
                Sample {
                    exposure_id: x.id,
                    ts: x.ts,
                    user,
                    item: x.item,
                    position: x.position,
                    session_id: x.session,
                    labels,
                    truth: x.truth,
                }
            })
            .collect()
    }
}
