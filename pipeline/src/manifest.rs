//! The manifest of a sample partition: what built it, from which inputs, with
//! which config, and what came out. Written inside the partition (`_manifest.json`,
//! swapped in with the data) and to `samples/_manifests/dt=D.json`.

use crate::config::BuildConfig;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// One input file of a build.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InputFile {
    /// Path relative to the warehouse root.
    pub path: String,
    pub bytes: u64,
    /// SHA-256 of the content, hex.
    pub sha256: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// The built day.
    pub dt: chrono::NaiveDate,
    /// `mature` once the logs of dt + attribution window exist, else `provisional`.
    pub maturity: String,
    /// First and last day of logs read.
    pub window: (chrono::NaiveDate, chrono::NaiveDate),
    pub config: BuildConfig,
    /// SHA-256 of the config's canonical JSON.
    pub config_hash: String,
    pub inputs: Vec<InputFile>,
    /// SHA-256 over the inputs' paths and hashes: equal fingerprints, equal inputs.
    pub inputs_hash: String,
    pub rows: u64,
    /// Mean of each label over the partition.
    pub label_rates: BTreeMap<String, f64>,
    pub psc_case_counts: BTreeMap<String, u64>,
    /// Rows of the day's partitions sent to quarantine, per table.
    pub quarantined: BTreeMap<String, u64>,
    /// Exact duplicate events dropped over the window, per table.
    pub duplicates_dropped: BTreeMap<String, u64>,
    /// Purchases and clicks of the window attributed to this day's samples.
    pub purchases_attributed: u64,
    pub clicks_attributed: u64,
    pub esmc_version: String,
    pub built_at: String,
    pub build_secs: f64,
}
