//! The mechanism knobs: one per effect the papers build on (sample selection bias,
//! click → conversion transfer, item sparsity, carts bought in another visit,
//! informative micro behaviours), each off by default. With every knob off the world is
//! the one the simulator wrote before the knobs existed, byte for byte: an off knob draws
//! no random number and adds nothing to any logit. [`SimConfig::with`] turns one
//! mechanism on (or back off) over any world. `docs/simulator.md` gives the measured
//! effect of each.

use crate::config::{Behaviour, SimConfig};
use crate::rng::Rng;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// The knobs. All zero = off.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct Mechanisms {
    /// Sample selection bias: standard deviation `s` of a hidden driver z ~ N(0, 1), one
    /// per (user, item) pair, that no feature carries. It enters the click logit and
    /// every purchase logit as `s·z − s²/2` (the `−s²/2` keeps mean rates about where
    /// they were), so the clicked exposures are the ones more likely to convert for a
    /// reason a model trained on clicks cannot see.
    pub selection_bias: f64,
    /// Click → conversion transfer: extra weight `w` of the click's latent match
    /// (user·item preference vectors, the affinity that drives clicks) in every purchase
    /// logit, entering as `w·(affinity − transfer_centre)`. Larger `w`: more of what
    /// predicts a purchase is what predicts a click.
    pub click_transfer: f64,
    /// The affinity the transfer term is centred on, so that the mean purchase rate
    /// stays about the same when `click_transfer` grows (the feed shows above-average
    /// matches, so the mean affinity of a clicked exposure is above 0).
    pub transfer_centre: f64,
    /// Sparsity: Zipf exponent α of how often items are shown. Off (0): the feed draws
    /// candidates in proportion to exp(popularity), popularity N(0, 1) (a mild tail).
    /// On: the item of popularity rank r draws with weight r^-α (same order, long tail),
    /// so most items get few exposures, fewer clicks and fewer purchases still.
    pub item_zipf: f64,
    /// Carts bought in another visit: share of bought feed carts that the user defers.
    /// A deferred item waits in the cart, is shown again in every later visit's feed
    /// until clicked (or its cart time runs out) and is bought at that click: the
    /// purchase attributes to the later click and its cart lies in another visit
    /// (`other_visit`). The carting click's `truth_p_cvr` drops accordingly.
    pub cart_elsewhere: f64,
    /// Informative micro behaviours: logit lift of each D-Mi action (picture, qa, chat,
    /// comment, cart_button) on a detail page that ends in a purchase decision. The
    /// decision is drawn before the micro actions, so a D-action says something about
    /// conversion beyond the cart.
    pub micro_d_signal: f64,
    /// The same lift for the other micro actions (share, shop_home).
    pub micro_o_signal: f64,
}

impl Mechanisms {
    pub fn is_off(&self) -> bool {
        *self == Mechanisms::default()
    }

    /// Whether micro actions read the purchase decision (drawn before them).
    pub(crate) fn micro_on(&self) -> bool {
        self.micro_d_signal != 0.0 || self.micro_o_signal != 0.0
    }

    pub(crate) fn check(&self) -> Result<(), String> {
        let finite = [
            ("mechanisms.selection_bias", self.selection_bias),
            ("mechanisms.click_transfer", self.click_transfer),
            ("mechanisms.transfer_centre", self.transfer_centre),
            ("mechanisms.item_zipf", self.item_zipf),
            ("mechanisms.micro_d_signal", self.micro_d_signal),
            ("mechanisms.micro_o_signal", self.micro_o_signal),
        ];
        for (name, v) in finite {
            if !v.is_finite() {
                return Err(format!("{name} must be finite, got {v}"));
            }
        }
        if self.selection_bias < 0.0 || self.item_zipf < 0.0 {
            return Err("mechanisms.selection_bias and item_zipf must not be negative".into());
        }
        if !(0.0..=1.0).contains(&self.cart_elsewhere) {
            return Err(format!(
                "mechanisms.cart_elsewhere must be in [0, 1], got {}",
                self.cart_elsewhere
            ));
        }
        Ok(())
    }

    /// The hidden selection driver's term for (user, item): `s·z − s²/2`, 0 when off.
    pub(crate) fn hidden(&self, seed: u64, user: u64, item: u32) -> f64 {
        let s = self.selection_bias;
        if s == 0.0 {
            return 0.0;
        }
        let z = Rng::new(seed, &[HIDDEN_STREAM, user, item as u64]).normal();
        s * z - 0.5 * s * s
    }

    /// The transfer term of the purchase logits at `affinity`, 0 when off.
    pub(crate) fn transfer(&self, affinity: f64) -> f64 {
        if self.click_transfer == 0.0 {
            return 0.0;
        }
        self.click_transfer * (affinity - self.transfer_centre)
    }
}

/// Random stream of the hidden selection driver (apart from the world's other streams).
const HIDDEN_STREAM: u64 = 101;

/// One mechanism, for turning it on or off as a whole.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mechanism {
    SelectionBias,
    ClickTransfer,
    Sparsity,
    CartElsewhere,
    InformativeMicro,
}

impl Mechanism {
    pub const ALL: [Mechanism; 5] = [
        Mechanism::SelectionBias,
        Mechanism::ClickTransfer,
        Mechanism::Sparsity,
        Mechanism::CartElsewhere,
        Mechanism::InformativeMicro,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Mechanism::SelectionBias => "selection_bias",
            Mechanism::ClickTransfer => "click_transfer",
            Mechanism::Sparsity => "sparsity",
            Mechanism::CartElsewhere => "cart_elsewhere",
            Mechanism::InformativeMicro => "informative_micro",
        }
    }
}

impl fmt::Display for Mechanism {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Mechanism {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Mechanism::ALL
            .into_iter()
            .find(|m| m.name() == s)
            .ok_or_else(|| {
                let names: Vec<_> = Mechanism::ALL.iter().map(|m| m.name()).collect();
                format!("unknown mechanism `{s}` (mechanisms: {})", names.join(", "))
            })
    }
}

/// The "on" settings of [`SimConfig::with`].
pub mod on {
    /// Hidden driver sd: as strong as the click's own latent match (`click_affinity`
    /// 0.7) plus the user's click bias, so selection is substantial but not total.
    pub const SELECTION_BIAS: f64 = 1.0;
    /// Extra weight of the click's match in purchase logits (today: 0.5 per logit).
    pub const CLICK_TRANSFER: f64 = 1.0;
    /// Centre of the transfer term: set so that purchases per click on the `taobao`
    /// preset stay within 10% of the default's (measured, see `docs/simulator.md`); the
    /// feed shows above-average matches and the term adds variance, so it lies above the
    /// mean affinity of a shown item.
    pub const TRANSFER_CENTRE: f64 = 2.2;
    /// Zipf exponent of item popularity.
    pub const ITEM_ZIPF: f64 = 1.0;
    /// Taobao's purchase-session-cart structure (calibrated on the `taobao` preset to
    /// attributed purchases of about 82% no_cart, 12% other_visit, 3% later_visit, 3%
    /// same_visit): share of bought feed carts deferred to another visit, ...
    pub const CART_ELSEWHERE: f64 = 0.7;
    /// ... half of the other bought carts paid in the same visit, ...
    pub const CART_BUY_NOW_SHARE: f64 = 0.5;
    /// ... and logit shifts of direct (no-cart) purchases, of purchases after a cart and
    /// of purchases of items left waiting in the cart, which keep the purchases per
    /// click about where they were.
    pub const CART_DIRECT_SHIFT: f64 = 1.8;
    pub const CART_BUY_SHIFT: f64 = -0.9;
    pub const CART_IN_CART_SHIFT: f64 = -2.3;
    /// Logit lifts of D-Mi and O-Mi actions before a purchase.
    pub const MICRO_D_SIGNAL: f64 = 1.0;
    pub const MICRO_O_SIGNAL: f64 = 0.5;
}

impl SimConfig {
    /// This world with `mechanism` turned on (at the setting of [`on`]) or off. Off
    /// restores the knob's off value and every behaviour field the on setting changes
    /// to the preset's, so `with(m, false)` of a default world is the default world.
    pub fn with(mut self, mechanism: Mechanism, on: bool) -> Self {
        let k = &mut self.mechanisms;
        let preset = Behaviour::preset(self.preset);
        match mechanism {
            Mechanism::SelectionBias => {
                k.selection_bias = if on { on::SELECTION_BIAS } else { 0.0 }
            }
            Mechanism::ClickTransfer => {
                k.click_transfer = if on { on::CLICK_TRANSFER } else { 0.0 };
                k.transfer_centre = if on { on::TRANSFER_CENTRE } else { 0.0 };
            }
            Mechanism::Sparsity => k.item_zipf = if on { on::ITEM_ZIPF } else { 0.0 },
            Mechanism::CartElsewhere => {
                k.cart_elsewhere = if on { on::CART_ELSEWHERE } else { 0.0 };
                let (b, shift) = (&mut self.behaviour, |x: f64| if on { x } else { 0.0 });
                b.buy_now_share = if on {
                    on::CART_BUY_NOW_SHARE
                } else {
                    preset.buy_now_share
                };
                b.buy_direct_base = preset.buy_direct_base + shift(on::CART_DIRECT_SHIFT);
                b.buy_cart_base = preset.buy_cart_base + shift(on::CART_BUY_SHIFT);
                b.buy_in_cart_base = preset.buy_in_cart_base + shift(on::CART_IN_CART_SHIFT);
            }
            Mechanism::InformativeMicro => {
                k.micro_d_signal = if on { on::MICRO_D_SIGNAL } else { 0.0 };
                k.micro_o_signal = if on { on::MICRO_O_SIGNAL } else { 0.0 };
            }
        }
        self
    }
}
