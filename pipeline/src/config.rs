//! The sample builder's configuration (`shared/spec/semantics.md`): every knob typed, with
//! the spec's default. The resolved config and its hash go into each partition's
//! manifest; a changed config makes `nightly` rebuild.

use crate::features::FeatureConfig;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// ESMC's sample calibration mode (§5).
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
