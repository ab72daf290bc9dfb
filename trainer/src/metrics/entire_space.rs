//! Entire-space metrics: a model's probabilities scored against the simulator's true ones
//! over **all exposures** (where sample selection bias lives and which no logged dataset
//! can score, since conversions are only observed after clicks), and over clicked
//! exposures for comparison.
//!
//! * pCVR against `truth_p_cvr` (the probability of a purchase given a click): expected
//!   AUC ([`expected_auc`]), Spearman rank correlation, calibration (mean predicted /
//!   mean true), over all exposures and over clicked ones;
//! * pCTCVR against `truth_p_click × truth_p_cvr` and pCTR against `truth_p_click`: the
//!   same over all exposures.
//!
//! The oracle (scores = the true probabilities) is the ceiling of the expected AUC.

use super::expected_auc::{expected_auc, spearman};

/// Expected AUC, rank correlation and calibration of one score against one truth.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Agreement {
    /// Rows scored.
    pub n: usize,
    /// Expected AUC against the true probabilities.
    pub eauc: Option<f64>,
    /// The oracle's expected AUC on the same rows (scores = truth).
    pub oracle_eauc: Option<f64>,
    /// Spearman rank correlation of score and truth.
    pub spearman: Option<f64>,
    /// Mean score / mean truth (1 = calibrated on average).
    pub calibration: Option<f64>,
}

impl Agreement {
    /// Scores against truth over the rows where `mask` holds (all rows without one).
    pub fn of(scores: &[f32], truth: &[f32], mask: Option<&[bool]>) -> Agreement {
        assert_eq!(scores.len(), truth.len(), "Agreement: lengths differ");
        let (s, t): (Vec<f32>, Vec<f32>) = match mask {
            None => (scores.to_vec(), truth.to_vec()),
            Some(m) => scores
                .iter()
                .zip(truth)
                .zip(m)
                .filter(|(_, keep)| **keep)
                .map(|((a, b), _)| (*a, *b))
                .unzip(),
        };
        let mean = |x: &[f32]| x.iter().map(|v| f64::from(*v)).sum::<f64>() / x.len() as f64;
        let (ms, mt) = (mean(&s), mean(&t));
        Agreement {
            n: s.len(),
            eauc: expected_auc(&s, &t),
            oracle_eauc: expected_auc(&t, &t),
            spearman: spearman(&s, &t),
            calibration: (!s.is_empty() && mt > 0.0 && ms.is_finite()).then(|| ms / mt),
        }
    }

    /// `(name, value)` pairs under `prefix` (undefined values left out).
    pub fn flat(&self, prefix: &str, out: &mut Vec<(String, f64)>) {
        out.push((format!("{prefix}_n"), self.n as f64));
        for (name, v) in [
            ("eauc", self.eauc),
            ("oracle_eauc", self.oracle_eauc),
            ("spearman", self.spearman),
            ("calibration", self.calibration),
        ] {
            if let Some(v) = v {
                out.push((format!("{prefix}_{name}"), v));
            }
        }
    }
}

/// The entire-space metrics of one evaluation.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EntireSpace {
    /// pCVR against truth_p_cvr over all exposures.
    pub cvr_all: Agreement,
    /// pCVR against truth_p_cvr over clicked exposures.
    pub cvr_clicked: Agreement,
    /// pCTCVR against truth_p_click × truth_p_cvr over all exposures.
    pub ctcvr: Agreement,
    /// pCTR against truth_p_click over all exposures.
    pub ctr: Agreement,
}

/// The entire-space metrics from the model's scores, the click labels and the truth.
///
/// # Panics
/// If the slices differ in length.
pub fn entire_space(
    p_ctr: &[f32],
    p_cvr: &[f32],
    p_ctcvr: &[f32],
    clicked: &[bool],
    truth_click: &[f32],
    truth_cvr: &[f32],
) -> EntireSpace {
    let truth_ctcvr: Vec<f32> = truth_click
        .iter()
        .zip(truth_cvr)
        .map(|(a, b)| a * b)
        .collect();
    EntireSpace {
        cvr_all: Agreement::of(p_cvr, truth_cvr, None),
        cvr_clicked: Agreement::of(p_cvr, truth_cvr, Some(clicked)),
        ctcvr: Agreement::of(p_ctcvr, &truth_ctcvr, None),
        ctr: Agreement::of(p_ctr, truth_click, None),
    }
}

impl EntireSpace {
    /// Flat `(name, value)` pairs: `es_cvr_*` (all exposures), `es_cvr_clicked_*`,
    /// `es_ctcvr_*`, `es_ctr_*`, each `_eauc`, `_oracle_eauc`, `_spearman`,
    /// `_calibration`, `_n`.
    pub fn flat(&self) -> Vec<(String, f64)> {
        let mut out = Vec::new();
        self.cvr_all.flat("es_cvr", &mut out);
        self.cvr_clicked.flat("es_cvr_clicked", &mut out);
        self.ctcvr.flat("es_ctcvr", &mut out);
        self.ctr.flat("es_ctr", &mut out);
        out
    }
}
