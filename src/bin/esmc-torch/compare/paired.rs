//! Paired 95% intervals of differences between models over the same test rows, from
//! the runs' rows files: both models scored on the same bootstrap resamples of the test
//! users (and of the seeds), so that what the rows have in common cancels.
//!
//! ```text
//! runs/<model>-seed<k>.parquet ─rows::read─▶ Predictions (same rows for every run)
//!   └─ UserBootstrap (users of the rows, B resamples, seeded)
//!   └─ Metric::replicate per run ─▶ paired(A seeds, B seeds) ─▶ PairedInterval
//! ```

use super::table::Run;
use super::{Plan, rows, run_file};
use anyhow::{Result, bail};
use esmc_trainer::ModelKind;
use esmc_trainer::Predictions;
use esmc_trainer::metrics::intervals::{PairedInterval, Replicated, UserBootstrap, paired};
use std::path::PathBuf;

/// Bootstrap resamples of the users.
pub const REPLICATES: usize = 300;
/// Seed of the resamples (the intervals are deterministic).
pub const BOOT_SEED: u64 = 20_231_201;

/// A metric with a paired interval.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Metric {
    /// Realised AUC of pCVR against purchases, clicked exposures.
    CvrAuc,
    /// Realised AUC of pCVR on the bad cases (carted in another visit) vs clicked
    /// non-purchases.
    CvrBadAuc,
    /// Expected AUC of pCVR against truth_p_cvr over all exposures.
    EsCvrEauc,
    /// |ln(mean pCVR / mean truth_p_cvr)| over all exposures (lower is better).
    EsCvrCalibrationError,
}

impl Metric {
    /// Key (as in the run files where one exists) and a short label.
    pub fn key(self) -> &'static str {
        match self {
            Metric::CvrAuc => "cvr_auc",
            Metric::CvrBadAuc => "cvr_bad_auc",
            Metric::EsCvrEauc => "es_cvr_eauc",
            Metric::EsCvrCalibrationError => "es_cvr_calibration_error",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Metric::CvrAuc => "CVR-AUC (clicked, realised)",
            Metric::CvrBadAuc => "CVR-AUC bad cases (realised)",
            Metric::EsCvrEauc => "CVR E-AUC entire-space",
            Metric::EsCvrCalibrationError => {
                "CVR calibration error abs(ln(pred/true)) entire-space"
            }
        }
    }

    /// Whether a smaller value is better (the difference is then taken B − A).
    pub fn lower_is_better(self) -> bool {
        self == Metric::EsCvrCalibrationError
    }

    /// Whether the metric needs the simulator's truth.
    pub fn needs_truth(self) -> bool {
        matches!(self, Metric::EsCvrEauc | Metric::EsCvrCalibrationError)
    }

    /// The metric of `p` on the full rows and on each resample of `boot`.
    pub fn replicate(self, p: &Predictions, boot: &UserBootstrap) -> Replicated {
        let clicked: Vec<bool> = p.click.iter().map(|c| *c > 0.5).collect();
        let no_truth = p.truth[2].len() != p.cvr.len();
        if self.needs_truth() && no_truth {
            return Replicated {
                point: None,
                reps: vec![None; boot.replicates()],
            };
        }
        match self {
            Metric::CvrAuc => Replicated::of(&p.cvr, &p.purchase, Some(&clicked), boot),
            Metric::CvrBadAuc => {
                let bad: Vec<bool> = (0..p.cvr.len())
                    .map(|i| clicked[i] && (p.purchase[i] < 0.5 || p.bad_case[i]))
                    .collect();
                Replicated::of(&p.cvr, &p.purchase, Some(&bad), boot)
            }
            Metric::EsCvrEauc => Replicated::of(&p.cvr, &p.truth[2], None, boot),
            Metric::EsCvrCalibrationError => {
                Replicated::calibration_error(&p.cvr, &p.truth[2], None, boot)
            }
        }
    }
}

/// The runs of one arm (one model, one config, one world), one per seed, in seed order.
pub struct Arm {
    pub label: String,
    pub runs: Vec<Predictions>,
}

impl Arm {
    /// Reads the rows files of `files` (one per seed).
    pub fn load(label: &str, files: &[std::path::PathBuf]) -> Result<Arm> {
        let runs = files
            .iter()
            .map(|f| rows::read(&rows::rows_file(f)))
            .collect::<Result<Vec<_>>>()?;
        Ok(Arm {
            label: label.to_string(),
            runs,
        })
    }

    /// The metric of every seed.
    pub fn replicate(&self, metric: Metric, boot: &UserBootstrap) -> Vec<Replicated> {
        self.runs
            .iter()
            .map(|p| metric.replicate(p, boot))
            .collect()
    }
}

/// The bootstrap of the rows shared by `arms`; an error if they do not score the same
/// rows in the same order.
pub fn bootstrap(arms: &[&Arm]) -> Result<UserBootstrap> {
    let first = arms
        .iter()
        .flat_map(|a| a.runs.first())
        .next()
        .ok_or_else(|| anyhow::anyhow!("no run to pair"))?;
    for a in arms {
        for r in &a.runs {
            if r.sample_id != first.sample_id {
                bail!("the runs of '{}' do not score the same rows", a.label);
            }
        }
    }
    Ok(UserBootstrap::new(&first.user_id, REPLICATES, BOOT_SEED))
}

/// The paired interval of `metric`'s improvement of A over B (A − B, or B − A where
/// lower is better): positive means A is better.
pub fn improvement(a: &[Replicated], b: &[Replicated], metric: Metric) -> Option<PairedInterval> {
    let n = a.len().min(b.len());
    if metric.lower_is_better() {
        paired(&b[..n], &a[..n], BOOT_SEED)
    } else {
        paired(&a[..n], &b[..n], BOOT_SEED)
    }
}

/// `+0.0123 [+0.0050, +0.0190]`, or `-`.
pub fn interval_cell(i: Option<&PairedInterval>) -> String {
    match i {
        None => "-".into(),
        Some(i) => format!("{:+.4} [{:+.4}, {:+.4}]", i.diff, i.lo, i.hi),
    }
}

/// The seeds' differences as `min..max` (one seed: its value).
pub fn spread_cell(i: Option<&PairedInterval>) -> String {
    let Some(i) = i else { return "-".into() };
    let min = i.seed_diffs.iter().copied().fold(f64::INFINITY, f64::min);
    let max = i
        .seed_diffs
        .iter()
        .copied()
        .fold(f64::NEG_INFINITY, f64::max);
    if i.seed_diffs.len() == 1 {
        format!("{min:+.4}")
    } else {
        format!("{min:+.4}..{max:+.4}")
    }
}

/// Every model's paired difference to the first one (over the same test rows, users
/// resampled) for the clicked CVR-AUC and the entire-space CVR E-AUC, as markdown; also
/// written to compare_paired.csv.
pub(super) fn section(plan: &Plan, runs: &[Run]) -> Result<String> {
    let ok = |m: ModelKind| {
        runs.iter()
            .filter(|r| r.model == m)
            .all(|r| r.result.is_ok())
    };
    let arm = |m: ModelKind| -> Result<Arm> {
        let files: Vec<PathBuf> = (1..=plan.seeds)
            .map(|s| run_file(&plan.out, m, s))
            .collect();
        Arm::load(m.name(), &files)
    };
    let reference = plan.models[0];
    if plan.models.len() < 2 || !ok(reference) {
        return Ok(String::new());
    }
    let ref_arm = arm(reference)?;
    let boot = bootstrap(&[&ref_arm])?;
    let metrics = [Metric::CvrAuc, Metric::EsCvrEauc];
    let ref_reps: Vec<_> = metrics
        .iter()
        .map(|m| ref_arm.replicate(*m, &boot))
        .collect();
    let mut md = format!(
        "\nPaired differences to {reference} over the same test rows: mean over seeds, 95% \
         interval (bootstrap over users and seeds, {} resamples), the seeds' range.\n\n\
         | model | metric | difference [95% interval] | seeds |\n| --- | --- | ---: | ---: |\n",
        REPLICATES
    );
    let mut csv = String::from("model,reference,metric,diff,lo,hi,seed_min,seed_max\n");
    for &m in plan.models.iter().skip(1).filter(|m| ok(**m)) {
        let a = arm(m)?;
        bootstrap(&[&ref_arm, &a])?;
        for (metric, b) in metrics.iter().zip(&ref_reps) {
            let i = improvement(&a.replicate(*metric, &boot), b, *metric);
            md += &format!(
                "| {m} | {} | {} | {} |\n",
                metric.label(),
                interval_cell(i.as_ref()),
                spread_cell(i.as_ref())
            );
            if let Some(i) = i {
                let (lo, hi) = i
                    .seed_diffs
                    .iter()
                    .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), x| {
                        (a.min(*x), b.max(*x))
                    });
                csv += &format!(
                    "{m},{reference},{},{},{},{},{lo},{hi}\n",
                    metric.key(),
                    i.diff,
                    i.lo,
                    i.hi
                );
            }
        }
    }
    std::fs::write(plan.out.join("compare_paired.csv"), csv)?;
    Ok(md)
}
