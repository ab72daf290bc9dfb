#!/usr/bin/env python3
"""Independent reference values for trainer/tests/metrics.rs, computed with scikit-learn.

Run (from the repository root):

    /root/.cache/esmc/pyenv/bin/python trainer/tests/reference/metrics_reference.py

It prints Rust constants that are pasted verbatim into trainer/tests/metrics.rs. The
datasets below are repeated literally in the Rust test; scores are float32 on both sides
(numpy float32 here, f32 literals there), labels are 0/1.

Reference rules, written independently of the Rust code:
  * AUC: sklearn.metrics.roc_auc_score (ties counted half by construction of the ROC).
  * GAUC: roc_auc_score per group (groups in ascending id), groups with a single class
    skipped, weighted by the group's row count (impressions) or 1 (uniform).
  * log loss: predictions clipped to [1e-7, 1 - 1e-7] in float64 with np.clip, then
    sklearn.metrics.log_loss(labels=[0, 1]).
  * calibration: sum(predictions) / sum(labels) in float64.
  * top-k: k = ceil(frac * n) computed exactly with fractions.Fraction(str(frac)),
    at least 1; the k rows predicted positive are the first k of the order "score
    descending, then index ascending" (np.lexsort); sklearn precision_score,
    recall_score, f1_score on that 0/1 vector.
"""
import math
from fractions import Fraction

import numpy as np
from sklearn.metrics import f1_score, log_loss, precision_score, recall_score, roc_auc_score

EPS = 1e-7

# Heavy ties: 4 distinct scores over 20 rows.
SCORES_TIES = [0.2, 0.2, 0.2, 0.4, 0.4, 0.1, 0.1, 0.4, 0.3, 0.3,
               0.2, 0.4, 0.1, 0.3, 0.2, 0.4, 0.2, 0.1, 0.3, 0.4]
LABELS_TIES = [1, 0, 0, 1, 0, 0, 1, 1, 0, 1,
               1, 0, 0, 0, 1, 1, 0, 0, 1, 0]

# All scores equal.
SCORES_EQUAL = [0.5] * 10
LABELS_EQUAL = [0, 1, 1, 0, 0, 1, 0, 0, 1, 0]

# Main set: ties across classes, exact 0.0 (positive) and 1.0 (negative) to exercise the
# log-loss clamp, groups with both classes, group 7 all negative, group 8 all positive,
# group 9 a single row, a negative group id.
SCORES_MAIN = [0.9, 0.8, 0.8, 0.75, 0.7, 0.7, 0.7, 0.65, 0.6, 0.55,
               0.5, 0.5, 0.45, 0.4, 0.4, 0.35, 0.3, 0.3, 0.3, 0.25,
               0.2, 0.15, 0.1, 0.1, 0.05, 0.0, 1.0, 0.99, 0.01, 0.5,
               0.62, 0.33, 0.8, 0.12, 0.7, 0.44, 0.58, 0.9, 0.27, 0.5]
LABELS_MAIN = [1, 0, 1, 0, 1, 1, 0, 0, 1, 0,
               0, 1, 0, 0, 1, 0, 0, 1, 0, 0,
               1, 0, 0, 0, 0, 1, 0, 1, 0, 0,
               1, 0, 0, 0, 1, 0, 1, 0, 0, 1]
GROUPS_MAIN = [0, 0, 1, 1, 2, 2, 2, 7, 8, -3,
               -3, -3, 5, 5, 5, 7, 0, 8, 1, 2,
               0, 9, 5, 7, -3, 1, 2, 5, 0, 1,
               2, 5, -3, 7, 0, 1, -3, 0, 2, 1]

# Patterned set of 100 rows (20 distinct scores), built by the same formula in Rust:
# score_i = f32(((37 i) mod 20) / 20), label_i = 1 if (53 i) mod 7 == 0 else 0.
SCORES_PATTERN = [((37 * i) % 20) / 20 for i in range(100)]
LABELS_PATTERN = [1 if (53 * i) % 7 == 0 else 0 for i in range(100)]


def f32(xs):
    return np.array(xs, dtype=np.float32)


def auc_ref(s, y):
    return float(roc_auc_score(np.array(y), f32(s)))


def gauc_ref(s, y, g, uniform):
    s, y, g = f32(s), np.array(y), np.array(g)
    num = den = 0.0
    for gid in np.unique(g):  # ascending
        m = g == gid
        if len(np.unique(y[m])) < 2:
            continue
        w = 1.0 if uniform else float(m.sum())
        num += w * float(roc_auc_score(y[m], s[m]))
        den += w
    return num / den


def log_loss_ref(s, y):
    p = np.clip(f32(s).astype(np.float64), EPS, 1.0 - EPS)
    return float(log_loss(np.array(y), p, labels=[0, 1]))


def calibration_ref(s, y):
    return float(f32(s).astype(np.float64).sum() / float(np.sum(y)))


def prf_ref(s, y, frac):
    s, y = f32(s), np.array(y)
    n = len(s)
    k = max(1, math.ceil(Fraction(str(frac)) * n))
    order = np.lexsort((np.arange(n), -s))  # primary: score desc, secondary: index asc
    pred = np.zeros(n, dtype=int)
    pred[order[:k]] = 1
    return (float(precision_score(y, pred, zero_division=0)),
            float(recall_score(y, pred)),
            float(f1_score(y, pred, zero_division=0)),
            k)


def const(name, v):
    print(f"const {name}: f64 = {v!r};")


sets = {
    "TIES": (SCORES_TIES, LABELS_TIES),
    "EQUAL": (SCORES_EQUAL, LABELS_EQUAL),
    "MAIN": (SCORES_MAIN, LABELS_MAIN),
    "PATTERN": (SCORES_PATTERN, LABELS_PATTERN),
}
print(f"// sklearn {__import__('sklearn').__version__}, numpy {np.__version__}")
for name, (s, y) in sets.items():
    const(f"AUC_{name}", auc_ref(s, y))
    const(f"LOG_LOSS_{name}", log_loss_ref(s, y))
    const(f"CALIBRATION_{name}", calibration_ref(s, y))
const("GAUC_MAIN_IMPRESSIONS", gauc_ref(SCORES_MAIN, LABELS_MAIN, GROUPS_MAIN, False))
const("GAUC_MAIN_UNIFORM", gauc_ref(SCORES_MAIN, LABELS_MAIN, GROUPS_MAIN, True))

prf_cases = [
    ("MAIN", [0.01, 0.05, 0.1, 0.2, 0.25, 0.5, 1.0]),
    ("TIES", [0.1, 0.25, 0.3]),
    ("EQUAL", [0.3]),
    ("PATTERN", [0.001, 0.006, 0.01, 0.07, 0.1]),
]
for name, fracs in prf_cases:
    s, y = sets[name]
    rows = [f"({frac!r}, {p!r}, {r!r}, {f!r}, {k})"
            for frac in fracs for (p, r, f, k) in [prf_ref(s, y, frac)]]
    print(f"/// (frac, precision, recall, f1, k)")
    print(f"const PRF_{name}: [(f64, f64, f64, f64, usize); {len(rows)}] = [")
    for row in rows:
        print(f"    {row},")
    print("];")
