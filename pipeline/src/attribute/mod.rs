//! Sessions, attribution, psc cases and sample calibration, as one pass over a user's
//! events in time order.
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
use esmc_schemas::Label;
use esmc_schemas::time::{DAY_US, SECOND_US};
use pass::{Sessions, UserPass};
use std::collections::HashSet;

pub use esmc_schemas::PscCase;

mod pass;

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

    /// The first label that breaks the labels' invariants (everything implies click), if
    /// any.
    pub fn violation(&self) -> Option<&'static str> {
        if self.click {
            return None;
        }
        [
            (Label::Dmi, self.dmi),
            (Label::Cart, self.cart),
            (Label::Wish, self.wish),
            (Label::Purchase, self.purchase),
            (Label::CartCal, self.cart_cal),
            (Label::CartGlobalCal, self.cart_global_cal),
        ]
        .into_iter()
        .find_map(|(label, v)| v.then_some(label.as_str()))
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

/// The rules of sessions, attribution and calibration in microseconds, for one built
/// day.
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
    let z = (user as u64)
        .wrapping_mul(0x9E37_79B9_7F4A_7C15)
        .wrapping_add(start as u64);
    (esmc_schemas::mix64(z) >> 1) as i64
}

impl Attributor {
    /// Rules of `cfg` for the day starting at `day_start_us` (UTC midnight).
    pub fn new(cfg: &BuildConfig, day_start_us: i64) -> Self {
        Attributor {
            gap: cfg.session_gap_secs * SECOND_US,
            click_window: cfg.click_window_secs * SECOND_US,
            attribution_window: cfg.attribution_window_days as i64 * DAY_US,
            calibration: cfg.calibration,
            dmi: cfg.dmi_actions.iter().cloned().collect(),
            sample_domain: cfg.sample_domain.clone(),
            cart_cal_domain: cfg.cart_cal_domain.clone(),
            day: (day_start_us, day_start_us + DAY_US),
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
        let mut sessions = Sessions::new(user, self.gap);
        let mut pass = UserPass::new(self);
        for e in events {
            let session = sessions.next(e);
            match e.kind {
                Kind::Exposure => pass.exposure(e, session),
                Kind::Click => pass.click(e, session, counts),
                Kind::Micro | Kind::Cart | Kind::Wish => pass.post_click(e, session),
                Kind::Purchase => pass.purchase(e, session, counts),
            }
        }
        pass.samples(user)
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
