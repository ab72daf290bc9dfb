//! The prior counts of a build with daily aggregates, from the build's side: rolled
//! from yesterday's state when it was made of the same counts files, else summed, and
//! kept as D's state for tomorrow (`features/rolled.rs`).

use super::Builder;
use super::daily::HistoryDay;
use crate::BuildError;
use crate::features::rolled::{self, Delta, STATE_FORMAT, StateManifest};
use crate::features::store::{self, COUNTS};
use crate::features::{self, Prior};
use crate::write::StagedDir;
use chrono::{Days, NaiveDate};
use esmc_schemas::lock::JobLock;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// States older than this many days before the day built are removed (the nightly
/// rebuilds the last few days, each rolling from the day before it).
const KEEP_DAYS: u64 = 4;

impl Builder {
    /// `day`'s prior counts from its history's fresh daily aggregates, into `spill`.
    pub(super) fn daily_prior(
        &self,
        day: NaiveDate,
        history: &[HistoryDay],
        spill: &Path,
    ) -> Result<Prior, BuildError> {
        let cfg = &self.cfg.features;
        let longest = *cfg.windows_days.iter().max().expect("checked");
        let mut days = BTreeMap::new();
        let mut paths = BTreeMap::new();
        for h in history.iter().filter(|h| h.age >= 1 && h.age <= longest) {
            let x = day - Days::new(u64::from(h.age));
            days.insert(x, h.counts_sha256.clone());
            paths.insert(x, h.counts());
        }
        let rolled = self.roll_prior(day, &days, &paths, spill);
        let (prior, rolled_from) = match rolled {
            Some(p) => (p, day.pred_opt()),
            None => {
                let ages: Vec<_> = history.iter().map(|h| (h.age, h.counts())).collect();
                (features::sum_prior(cfg, &ages, spill)?, None)
            }
        };
        let manifest = StateManifest {
            format: STATE_FORMAT,
            dt: day,
            windows_days: cfg.windows_days.clone(),
            days,
            rolled_from,
            files: BTreeMap::new(),
        };
        self.save_state(day, &prior, manifest)?;
        Ok(prior)
    }

    /// The prior counts rolled from the state of the day before, `None` when there is
    /// no such state or it was not made of the counts files `days` (`paths`) and the
    /// day leaving the longest window.
    fn roll_prior(
        &self,
        day: NaiveDate,
        days: &BTreeMap<NaiveDate, String>,
        paths: &BTreeMap<NaiveDate, PathBuf>,
        spill: &Path,
    ) -> Option<Prior> {
        let cfg = &self.cfg.features;
        let root = self.warehouse.root();
        let prev = day.pred_opt()?;
        let what = format!("the prior state of {prev}");
        // never waits: a job holding these is never made to wait for this one
        let _lock =
            JobLock::acquire(&rolled::state_lock(root, prev), &what, false, &|_| {}).ok()?;
        let dir = rolled::state_dir(root, prev);
        let state = rolled::read_state(&dir)?;
        if state.format != STATE_FORMAT
            || state.dt != prev
            || state.windows_days != cfg.windows_days
            || !state.intact(&dir)
        {
            return None;
        }
        let longest = *cfg.windows_days.iter().max().expect("checked");
        // the day leaving the longest window, read under its aggregate's lock
        let gone = prev - Days::new(u64::from(longest));
        let what = format!("the feature aggregate of {gone}");
        let _gone_lock =
            JobLock::acquire(&store::lock_path(root, gone), &what, false, &|_| {}).ok()?;
        let gone_dir = store::day_dir(root, gone);
        let mut expected: BTreeMap<NaiveDate, String> = days
            .range(gone..prev)
            .map(|(d, h)| (*d, h.clone()))
            .collect();
        if state.days.contains_key(&gone) {
            // its files as its manifest recorded them, else nothing to subtract exactly
            let m =
                store::read_manifest(&gone_dir).filter(|m| store::outputs_intact(&gone_dir, m))?;
            expected.insert(gone, store::counts_sha256(&m).ok()?);
        }
        if expected != state.days {
            return None;
        }
        let path_of = |x: NaiveDate| {
            if x == gone {
                Some(gone_dir.join(COUNTS))
            } else {
                paths.get(&x).cloned()
            }
        };
        let mut deltas = Vec::new();
        if let Some(p) = paths.get(&prev) {
            deltas.push((p.clone(), Delta::Enter));
        }
        // the first window of the longest length counts the keys' days
        let lw = cfg.windows_days.iter().position(|&w| w == longest)?;
        for (w, &len) in cfg.windows_days.iter().enumerate() {
            let x = prev - Days::new(u64::from(len));
            if state.days.contains_key(&x) {
                deltas.push((path_of(x)?, Delta::Leave { w, days: w == lw }));
            }
        }
        match rolled::roll(cfg, &dir, &deltas, spill) {
            Ok(p) => Some(p),
            Err(e) => {
                features::trace(
                    &format!("prior state of {prev} not rolled: {e}"),
                    std::time::Instant::now(),
                );
                None
            }
        }
    }

    /// Keeps `prior` as `day`'s state (staged, swapped in whole under its lock) and
    /// removes the states more than `KEEP_DAYS` older.
    fn save_state(
        &self,
        day: NaiveDate,
        prior: &Prior,
        m: StateManifest,
    ) -> Result<(), BuildError> {
        let root = self.warehouse.root();
        let what = format!("the prior state of {day}");
        let _lock = JobLock::acquire(&rolled::state_lock(root, day), &what, true, &|_| {})
            .map_err(BuildError::Busy)?;
        let staged = StagedDir::new(&rolled::state_dir(root, day))?;
        rolled::write_state(&staged.tmp, prior, m)?;
        staged.commit()?;
        let parent = root.join("features").join("prior");
        let oldest = day - Days::new(KEEP_DAYS);
        for entry in std::fs::read_dir(&parent).map_err(|e| BuildError::io(&parent, e))? {
            let path = entry.map_err(|e| BuildError::io(&parent, e))?.path();
            let Some(x) = path
                .file_name()
                .and_then(|n| n.to_str())
                .and_then(|n| n.strip_prefix("dt="))
                .and_then(|d| d.parse::<NaiveDate>().ok())
            else {
                continue;
            };
            if x < oldest {
                // a state in use by another job is left for a later build
                let what = format!("the prior state of {x}");
                if let Ok(_old) =
                    JobLock::acquire(&rolled::state_lock(root, x), &what, false, &|_| {})
                {
                    esmc_schemas::durable::remove_stale(&path)
                        .map_err(crate::write::durable_err)?;
                    std::fs::remove_dir_all(&path).map_err(|e| BuildError::io(&path, e))?;
                }
            }
        }
        Ok(())
    }
}
