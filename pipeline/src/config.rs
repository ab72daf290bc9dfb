//! The sample builder's configuration: every knob typed, with its default, the feature
//! stage's (`[features]`) included. The resolved config and its hash go into each
//! partition's manifest; a changed config makes `nightly` rebuild.

use crate::BuildError;
use arrow::datatypes::{DataType, Field, FieldRef};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

/// ESMC's sample calibration mode (docs/labels.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Calibration {
    /// Label the purchase's sample and clear the sample the cart came from.
    #[default]
    Move,
    /// Label the purchase's sample and keep the label where the cart came from.
    Copy,
    /// Samples keep their own carts only (the ESMC- ablation).
    Off,
}

impl FromStr for Calibration {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "move" => Ok(Calibration::Move),
            "copy" => Ok(Calibration::Copy),
            "off" => Ok(Calibration::Off),
            _ => Err(format!("unknown calibration `{s}` (move, copy, off)")),
        }
    }
}

impl fmt::Display for Calibration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Calibration::Move => "move",
            Calibration::Copy => "copy",
            Calibration::Off => "off",
        })
    }
}

/// Everything that decides the labels of a partition.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BuildConfig {
    /// A new session starts after this many seconds without an event (default 1800).
    pub session_gap_secs: i64,
    /// A click without exposure_id attributes to the latest exposure of the same (user,
    /// item) at most this many seconds before it (default 1800).
    pub click_window_secs: i64,
    /// Purchases attribute to clicks at most this many days before them (default 3);
    /// also the days after D that building D reads, and the maturity horizon.
    pub attribution_window_days: u32,
    pub calibration: Calibration,
    /// Micro actions that count as D-Mi.
    pub dmi_actions: Vec<String>,
    /// Exposures of this domain become samples.
    pub sample_domain: String,
    /// Domain of carts that `cart_cal` counts (rec-domain carts).
    pub cart_cal_domain: String,
    /// An event may sit in a partition up to this many days after its own day (late data)
    /// before it is rejected (default 1).
    pub late_tolerance_days: u32,
    /// A build fails when the rejected share of a table exceeds this (default 0.01).
    pub max_reject_rate: f64,
    /// The behaviour features written with the samples (`[features]`).
    pub features: FeatureConfig,
}

impl Default for BuildConfig {
    fn default() -> Self {
        BuildConfig {
            session_gap_secs: 30 * 60,
            click_window_secs: 30 * 60,
            attribution_window_days: 3,
            calibration: Calibration::Move,
            dmi_actions: esmc_schemas::DMI_ACTIONS
                .iter()
                .map(|s| s.to_string())
                .collect(),
            sample_domain: "rec".into(),
            cart_cal_domain: "rec".into(),
            late_tolerance_days: 1,
            max_reject_rate: 0.01,
            features: FeatureConfig::default(),
        }
    }
}

/// The feature stage's knobs (`[features]` of the build config).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FeatureConfig {
    /// Compute the features and write them with the samples (default true).
    pub enabled: bool,
    /// Trailing windows in days (default 1, 7, 30).
    pub windows_days: Vec<u32>,
    /// Pseudo-counts of the smoothed rates: CTR = (clicks + m·p) / (exposures + m),
    /// CVR = (purchases + m·q) / (clicks + m), with p and q the shop's rates over the
    /// history before D (default m = 20).
    pub smoothing: f64,
    /// A cart counts as "in the cart" this many days after the add, unless bought since
    /// (default 3).
    pub cart_ttl_days: u32,
    /// Length of the click sequences (default 50).
    pub sequence_len: usize,
}

impl Default for FeatureConfig {
    fn default() -> Self {
        FeatureConfig {
            enabled: true,
            windows_days: vec![1, 7, 30],
            smoothing: 20.0,
            cart_ttl_days: 3,
            sequence_len: 50,
        }
    }
}

impl FeatureConfig {
    /// Days of logs before D that the stage reads.
    pub fn history_days(&self) -> u32 {
        self.windows_days
            .iter()
            .copied()
            .max()
            .unwrap_or(1)
            .max(self.cart_ttl_days)
    }

    pub(crate) fn check(&self) -> Result<(), BuildError> {
        let bad = |m: String| Err(BuildError::Config(format!("features: {m}")));
        if self.windows_days.is_empty() {
            return bad("windows_days is empty".into());
        }
        if let Some(w) = self.windows_days.iter().find(|&&w| w == 0 || w > 366) {
            return bad(format!("window of {w} days (1..=366)"));
        }
        let mut sorted = self.windows_days.clone();
        sorted.sort_unstable();
        sorted.dedup();
        if sorted.len() != self.windows_days.len() {
            return bad("windows_days repeats a window".into());
        }
        if !(self.smoothing.is_finite() && self.smoothing >= 0.0) {
            return bad(format!("smoothing {} (must be >= 0)", self.smoothing));
        }
        if self.sequence_len == 0 {
            return bad("sequence_len must be positive".into());
        }
        Ok(())
    }

    /// The feature columns this config writes, in order.
    pub fn columns(&self) -> Vec<FieldRef> {
        let mut f = Vec::new();
        let int = |n: String| Arc::new(Field::new(n, DataType::Int32, false));
        let float = |n: String| Arc::new(Field::new(n, DataType::Float32, false));
        for e in ["item", "cat", "user"] {
            for &w in &self.windows_days {
                for x in ["exp", "clk", "cart", "buy"] {
                    f.push(int(format!("{e}_{x}_{w}d")));
                }
                f.push(float(format!("{e}_ctr_{w}d")));
                f.push(float(format!("{e}_cvr_{w}d")));
            }
        }
        for &w in &self.windows_days {
            f.push(int(format!("uc_clk_{w}d")));
            f.push(int(format!("uc_buy_{w}d")));
            f.push(float(format!("uc_affinity_{w}d")));
        }
        f.push(Arc::new(Field::new("item_in_cart", DataType::Int8, false)));
        f.push(Arc::new(Field::new(
            "secs_since_click",
            DataType::Float32,
            true,
        )));
        f.push(Arc::new(Field::new(
            "secs_since_cart",
            DataType::Float32,
            true,
        )));
        let list = |n: &str, null: bool| {
            Arc::new(Field::new(
                n,
                DataType::List(Arc::new(Field::new_list_field(DataType::Int64, null))),
                false,
            ))
        };
        f.push(list("seq_click_items", false));
        f.push(list("seq_click_cats", true));
        f
    }
}
