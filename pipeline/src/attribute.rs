//! Sessions, attribution, psc cases and sample calibration (`semantics.md` §3-§5), as one
//! pass over a user's events in time order.
//!
//! ```text
//!  events of one user, sorted by (ts, kind, item, ...)      kind: exposure < click <
//!        │                                                  micro < cart < wish < purchase
//!        ├─ session: new when the gap > session_gap or the client session id changes
//!        ├─ exposure ──> remembered by id and as the latest of its (user, item)
//!        ├─ click ─────> its exposure_id, else the latest exposure of (user, item) within
//!        │               click_window; remembered as the latest click of (user, item)
//!        ├─ micro/cart/wish ─> the latest click of (user, item) if in the same session
//!        └─ purchase ──> the latest click on a rec exposure of (user, item) within the
//!                        attribution window; psc case from the latest cart k before it
//!  calibration (move | copy | off) once the user is done; samples = rec exposures of D
//! ```
//! The DataFusion plan (`sql/builder/events.sql`) delivers the sorted stream; this file
//! is the as-of join that DataFusion 55 lacks, done in one streaming pass instead of one
//! window sort per rule.

use crate::config::{BuildConfig, Calibration};
use std::collections::{HashMap, HashSet};

const SECOND: i64 = 1_000_000;
const DAY: i64 = 86_400 * SECOND;

/// What an event is. The order is the tie-break at equal timestamps: an exposure comes
/// before the click on it, a click before what follows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(i8)]
pub enum Kind {
    Exposure = 0,
    Click = 1,
    Micro = 2,
    Cart = 3,
    Wish = 4,
    Purchase = 5,
}

impl Kind {
    pub fn from_code(code: i8) -> Option<Kind> {
        Some(match code {
            0 => Kind::Exposure,
            1 => Kind::Click,
            2 => Kind::Micro,
            3 => Kind::Cart,
            4 => Kind::Wish,
            5 => Kind::Purchase,
            _ => return None,
        })
    }
}

/// One event of a user, as the sorted event stream delivers it.
#[derive(Debug, Clone, PartialEq)]
pub struct Event<'a> {
    pub ts: i64,
    pub kind: Kind,
    pub item: i64,
    /// Exposures: their id. Clicks: the clicked exposure, when the log has it.
    pub exposure_id: Option<i64>,
    /// Exposures, carts, wishes: the domain. Micro: the action.
    pub tag: Option<&'a str>,
    /// Exposures: the client's session id, when sent.
    pub client_session: Option<i64>,
    /// Exposures: slot and simulator truth, passed through to the sample.
    pub position: Option<i32>,
    pub truth: [Option<f64>; 3],
}

/// The psc case of a sample (§5), in the order in which a later case wins.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default, Hash)]
pub enum PscCase {
    #[default]
    NoPurchase,
    NoCart,
    SameVisit,
    LaterVisit,
    OtherVisit,
}

impl PscCase {
    pub const ALL: [PscCase; 5] = [
        PscCase::NoPurchase,
        PscCase::NoCart,
        PscCase::SameVisit,
        PscCase::LaterVisit,
        PscCase::OtherVisit,
    ];

    pub fn name(self) -> &'static str {
        match self {
            PscCase::NoPurchase => "no_purchase",
            PscCase::NoCart => "no_cart",
            PscCase::SameVisit => "same_visit",
            PscCase::LaterVisit => "later_visit",
            PscCase::OtherVisit => "other_visit",
        }
    }

    /// Cart and purchase not in one visit.
    pub fn is_bad(self) -> bool {
        matches!(self, PscCase::LaterVisit | PscCase::OtherVisit)
    }
}

/// The labels of one sample.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Labels {
    pub click: bool,
    pub dmi: bool,
    pub cart: bool,
    pub wish: bool,
    pub purchase: bool,
    pub cart_cal: bool,
    pub cart_global_cal: bool,
    pub psc_case: PscCase,
}

impl Labels {
    pub fn dma(&self) -> bool {
        self.cart || self.wish
    }

    /// The first label that breaks §4's invariants (everything implies click), if any.
    pub fn violation(&self) -> Option<&'static str> {
        if self.click {
            return None;
        }
        [
            ("dmi", self.dmi),
            ("cart", self.cart),
            ("wish", self.wish),
            ("purchase", self.purchase),
            ("cart_cal", self.cart_cal),
            ("cart_global_cal", self.cart_global_cal),
        ]
        .into_iter()
        .find_map(|(name, v)| v.then_some(name))
    }
}

/// One output row: a rec exposure of the built day with its labels.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub exposure_id: i64,
    pub ts: i64,
    pub user: i64,
    pub item: i64,
    pub position: Option<i32>,
    pub session_id: i64,
    pub labels: Labels,
    pub truth: [Option<f64>; 3],
}

/// Counts that reconcile labels with the events behind them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AttributionCounts {
    /// Purchases in the window attributed to a sample of the built day.
    pub purchases_to_samples: u64,
    /// Clicks attributed to a sample of the built day.
    pub clicks_to_samples: u64,
}

/// The rules of §3-§5 in microseconds, for one built day.
#[derive(Debug, Clone)]
pub struct Attributor {
    gap: i64,
    click_window: i64,
    attribution_window: i64,
    calibration: Calibration,
    dmi: HashSet<String>,
    sample_domain: String,
    cart_cal_domain: String,
    /// [start, end) of the built day, microseconds.
    day: (i64, i64),
}

#[derive(Debug)]
struct Exposure {
    id: i64,
    ts: i64,
    item: i64,
    session: i64,
    sample: bool,
    rec: bool,
    position: Option<i32>,
    truth: [Option<f64>; 3],
    labels: Labels,
    /// Own carts, by domain class.
    cart_rec: bool,
    /// Set by an other_visit purchase (calibration), cleared when its cart moved away.
    set_cal: bool,
    set_global: bool,
    cleared_cal: bool,
    cleared_global: bool,
}

#[derive(Debug, Clone, Copy)]
struct ClickRef {
    ts: i64,
    session: i64,
    exposure: Option<usize>,
}

#[derive(Debug, Clone, Copy)]
struct CartRef {
    ts: i64,
    session: i64,
    rec: bool,
    exposure: Option<usize>,
}

/// A deterministic session id from the user and the session's first event time.
pub fn session_id(user: i64, start: i64) -> i64 {
    let mut z = (user as u64)
        .wrapping_mul(0x9E37_79B9_7F4A_7C15)
        .wrapping_add(start as u64);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    ((z ^ (z >> 31)) >> 1) as i64
}

impl Attributor {
    /// Rules of `cfg` for the day starting at `day_start_us` (UTC midnight).
    pub fn new(cfg: &BuildConfig, day_start_us: i64) -> Self {
        Attributor {
            gap: cfg.session_gap_secs * SECOND,
            click_window: cfg.click_window_secs * SECOND,
            attribution_window: cfg.attribution_window_days as i64 * DAY,
            calibration: cfg.calibration,
            dmi: cfg.dmi_actions.iter().cloned().collect(),
            sample_domain: cfg.sample_domain.clone(),
            cart_cal_domain: cfg.cart_cal_domain.clone(),
            day: (day_start_us, day_start_us + DAY),
        }
    }

    /// Labels the samples of one user from all its events, sorted by (ts, kind). Samples
    /// come out in event order.
    pub fn user(
        &self,
        user: i64,
        events: &[Event<'_>],
        counts: &mut AttributionCounts,
    ) -> Vec<Sample> {
        let mut exposures: Vec<Exposure> = Vec::new();
        let mut by_id: HashMap<i64, usize> = HashMap::new();
        let mut last_exposure: HashMap<i64, usize> = HashMap::new();
        let mut last_click: HashMap<i64, ClickRef> = HashMap::new();
        let mut last_rec_click: HashMap<i64, ClickRef> = HashMap::new();
        let mut last_cart: HashMap<i64, CartRef> = HashMap::new();

        let mut session = 0i64;
        let mut last_ts: Option<i64> = None;
        let mut last_client: Option<i64> = None;
        for e in events {
            let client_changed =
                matches!((e.client_session, last_client), (Some(a), Some(b)) if a != b);
            if last_ts.is_none_or(|t| e.ts - t > self.gap) || client_changed {
                session = session_id(user, e.ts);
            }
            last_ts = Some(e.ts);
            if e.client_session.is_some() {
                last_client = e.client_session;
            }
            match e.kind {
                Kind::Exposure => {
                    let Some(id) = e.exposure_id else { continue };
                    let rec = e.tag == Some(self.sample_domain.as_str());
                    let idx = exposures.len();
                    exposures.push(Exposure {
                        id,
                        ts: e.ts,
                        item: e.item,
                        session,
                        sample: rec && (self.day.0..self.day.1).contains(&e.ts),
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
                    by_id.insert(id, idx);
                    last_exposure.insert(e.item, idx);
                }
                Kind::Click => {
                    let target = match e.exposure_id {
                        Some(id) => by_id.get(&id).copied(),
                        None => last_exposure
                            .get(&e.item)
                            .copied()
                            .filter(|&x| e.ts - exposures[x].ts <= self.click_window),
                    };
                    let click = ClickRef {
                        ts: e.ts,
                        session,
                        exposure: target,
                    };
                    if let Some(x) = target {
                        let x = &mut exposures[x];
                        if x.sample && !x.labels.click {
                            counts.clicks_to_samples += 1;
                        }
                        x.labels.click = true;
                        if x.rec {
                            last_rec_click.insert(e.item, click);
                        }
                    }
                    last_click.insert(e.item, click);
                }
                Kind::Micro | Kind::Cart | Kind::Wish => {
                    let attributed = last_click
                        .get(&e.item)
                        .filter(|c| c.session == session)
                        .and_then(|c| c.exposure);
                    if let Some(x) = attributed {
                        let x = &mut exposures[x];
                        match e.kind {
                            Kind::Micro => {
                                x.labels.dmi |= e.tag.is_some_and(|a| self.dmi.contains(a))
                            }
                            Kind::Cart => {
                                x.labels.cart = true;
                                x.cart_rec |= e.tag == Some(self.cart_cal_domain.as_str());
                            }
                            _ => x.labels.wish = true,
                        }
                    }
                    if e.kind == Kind::Cart {
                        last_cart.insert(
                            e.item,
                            CartRef {
                                ts: e.ts,
                                session,
                                rec: e.tag == Some(self.cart_cal_domain.as_str()),
                                exposure: attributed,
                            },
                        );
                    }
                }
                Kind::Purchase => {
                    let Some(c) = last_rec_click
                        .get(&e.item)
                        .copied()
                        .filter(|c| e.ts - c.ts <= self.attribution_window)
                    else {
                        continue;
                    };
                    let x = c.exposure.expect("rec clicks have an exposure");
                    let k = last_cart
                        .get(&e.item)
                        .copied()
                        .filter(|k| e.ts - k.ts <= self.attribution_window);
                    let case = match k {
                        None => PscCase::NoCart,
                        Some(k) if k.session == c.session && session == c.session => {
                            PscCase::SameVisit
                        }
                        Some(k) if k.session == c.session => PscCase::LaterVisit,
                        Some(_) => PscCase::OtherVisit,
                    };
                    if exposures[x].sample {
                        counts.purchases_to_samples += 1;
                    }
                    let labels = &mut exposures[x].labels;
                    labels.purchase = true;
                    labels.psc_case = labels.psc_case.max(case);
                    if let (PscCase::OtherVisit, Some(k)) = (case, k) {
                        self.calibrate(&mut exposures, x, k);
                    }
                }
            }
        }
        exposures
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

    /// Sample calibration for an other_visit purchase on sample `x` whose cart is `k`.
    fn calibrate(&self, exposures: &mut [Exposure], x: usize, k: CartRef) {
        if self.calibration == Calibration::Off {
            return;
        }
        exposures[x].set_global = true;
        if k.rec {
            exposures[x].set_cal = true;
        }
        if self.calibration == Calibration::Move
            && let Some(y) = k.exposure
            && y != x
        {
            exposures[y].cleared_global = true;
            if k.rec {
                exposures[y].cleared_cal = true;
            }
        }
    }
}
