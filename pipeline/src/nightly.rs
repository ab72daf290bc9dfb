//! `esmc nightly --dt D`: rebuilds exactly the partitions in [D - attribution window, D]
//! whose inputs or config changed since they were built (or that do not exist), and
//! says what it did and why. A second run with nothing new rebuilds nothing.

use crate::build::Builder;
use crate::{BuildError, Manifest, Progress};
use chrono::NaiveDate;

/// Why a day was (or was not) rebuilt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// No partition yet.
    Missing,
    /// The config differs from the one in the manifest.
    ConfigChanged,
    /// Input files appeared, disappeared or changed content.
    InputsChanged {
        added: usize,
        removed: usize,
        changed: usize,
    },
    /// Inputs and config are those of the existing partition.
    UpToDate,
    /// No exposure logs for the day: nothing to build.
    NoInput,
}

impl Decision {
    pub fn rebuild(&self) -> bool {
        !matches!(self, Decision::UpToDate | Decision::NoInput)
    }

    pub fn reason(&self) -> String {
        match self {
            Decision::Missing => "no partition yet".into(),
            Decision::ConfigChanged => "build config changed".into(),
            Decision::InputsChanged {
                added,
                removed,
                changed,
            } => format!("inputs changed: {added} new, {removed} gone, {changed} modified files"),
            Decision::UpToDate => "inputs and config unchanged".into(),
            Decision::NoInput => "no exposure logs for the day".into(),
        }
    }
}

/// One day of a nightly run.
#[derive(Debug, Clone)]
pub struct NightlyDay {
    pub day: NaiveDate,
    pub decision: Decision,
    /// The partition's manifest after the run (new or kept), if there is one.
    pub manifest: Option<Manifest>,
}

impl Builder {
    /// Decides whether `day` needs a rebuild, comparing its manifest with the inputs now.
    pub fn decide(&self, day: NaiveDate) -> Result<(Decision, Option<Manifest>), BuildError> {
        if !self.has_exposures(day)? {
            return Ok((Decision::NoInput, None));
        }
        let partition = self.warehouse().samples_dir(day);
        let manifest: Option<Manifest> = match std::fs::read(partition.join("_manifest.json")) {
            Ok(bytes) => serde_json::from_slice(&bytes).ok(),
            Err(_) => None,
        };
        let Some(manifest) = manifest else {
            return Ok((Decision::Missing, None));
        };
        if manifest.config != *self.config() {
            return Ok((Decision::ConfigChanged, Some(manifest)));
        }
        let now = self.input_files(day)?;
        let before: std::collections::HashMap<&str, &str> = manifest
            .inputs
            .iter()
            .map(|f| (f.path.as_str(), f.sha256.as_str()))
            .collect();
        let (mut added, mut changed) = (0, 0);
        for f in &now {
            match before.get(f.path.as_str()) {
                None => added += 1,
                Some(h) if *h != f.sha256 => changed += 1,
                Some(_) => {}
            }
        }
        let removed = manifest.inputs.len() + added - now.len();
        let decision = if added + removed + changed == 0 {
            Decision::UpToDate
        } else {
            Decision::InputsChanged {
                added,
                removed,
                changed,
            }
        };
        Ok((decision, Some(manifest)))
    }

    /// Rebuilds what changed in [day - attribution window, day], oldest first.
    pub async fn nightly(
        &self,
        day: NaiveDate,
        progress: &dyn Progress,
    ) -> Result<Vec<NightlyDay>, BuildError> {
        let window = self.config().attribution_window_days as u64;
        let mut out = Vec::new();
        for back in (0..=window).rev() {
            let d = day - chrono::Days::new(back);
            progress.stage(d, "checking");
            let (decision, manifest) = self.decide(d)?;
            let manifest = if decision.rebuild() {
                Some(self.build(d, progress).await?.manifest)
            } else {
                manifest
            };
            out.push(NightlyDay {
                day: d,
                decision,
                manifest,
            });
        }
        Ok(out)
    }
}
