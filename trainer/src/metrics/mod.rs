//! Evaluation metrics: realised (against labels) and expected (against true
//! probabilities, where a simulator provides them).
//!
//! Pure Rust over plain slices: scores are `f32` model outputs (probabilities for
//! [`log_loss`] and [`calibration`], any real value for the rank metrics), labels are
//! `f32` with the convention that a label is **positive iff `label > 0.5`**; everything
//! else, `NaN` included, is negative. All accumulation is in `f64` (or exact integers).
//!
//! # Conventions shared by every function
//!
//! * **Undefined values are `None`.** Empty input, a metric whose denominator is zero
//!   (one class absent for AUC, no positives for calibration or recall), or any `NaN`
//!   score gives `None`; nothing here panics on data.
//! * **`NaN` scores**: a single `NaN` score in the evaluated rows makes every
//!   score-based metric of that set `None` (a model emitting `NaN` has no meaningful
//!   ranking or loss, and silently dropping rows would bias the figures). In [`gauc`]
//!   the whole result is `None` too, not only the group holding the `NaN`. `±inf`
//!   scores are ordinary values (they rank first/last; [`log_loss`] clamps them).
//! * **Signed zero**: `-0.0` and `0.0` are the same score (they tie).
//! * **Length mismatch** between `scores`, `labels`, `groups` and `mask` is a programming
//!   error and panics (documented under each function).
//!
//! AUC is exact: one `O(n log n)` sort by score, then a sweep over tie groups counting
//! each positive/negative pair with equal scores as one half (Mann-Whitney U). The pair
//! count is kept as an exact integer (`u128`), so the only rounding is the final
//! division: the result is the correctly rounded `f64` of the exact rational AUC as long
//! as `positives * negatives < 2^52` (about 10^8 rows), and within one part in 10^15
//! beyond that.

//!
//! Rooms: `rank` (AUC, GAUC), `classify` (log loss, calibration, top-k precision/recall),
//! `task` (every metric of one task), `expected_auc` (expected AUC against true
//! probabilities, Spearman), `entire_space` (those over all exposures of an evaluation),
//! `intervals` (paired bootstrap intervals of differences between two models).

mod classify;
pub mod entire_space;
pub mod expected_auc;
pub mod intervals;
mod rank;
mod task;

pub use classify::{LOG_LOSS_EPS, Prf, calibration, log_loss, prf_at_top, top_k};
pub use entire_space::{EntireSpace, entire_space};
pub use expected_auc::{expected_auc, spearman, weighted_expected_auc};
pub use rank::{Weighting, auc, gauc};
pub use task::{TOP_FRACTIONS, TaskMetrics, task_metrics};

#[inline]
pub(crate) fn is_pos(label: f32) -> bool {
    label > 0.5
}

/// Maps a non-`NaN` `f32` to a `u32` whose unsigned order is the numeric order of the
/// floats, with `-0.0` and `0.0` mapped to the same key.
#[inline]
pub(crate) fn order_key(score: f32) -> u32 {
    // `-0.0 + 0.0 == +0.0` under round-to-nearest: signed zeros tie.
    let bits = (score + 0.0).to_bits();
    if bits & 0x8000_0000 != 0 {
        !bits
    } else {
        bits | 0x8000_0000
    }
}
