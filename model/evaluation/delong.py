"""DeLong's test for two correlated ROC AUCs (fast midrank algorithm of Sun & Xu, 2014)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.stats import norm, rankdata


@dataclass(frozen=True, slots=True)
class DeLongResult:
    auc_a: float
    auc_b: float
    difference: float
    z: float
    p_value: float
    variance: float


def delong_test(labels: np.ndarray, scores_a: np.ndarray, scores_b: np.ndarray) -> DeLongResult:
    """Two-sided DeLong test of AUC(a) = AUC(b) on the same cases."""
    y = np.asarray(labels) > 0.5
    m, n = int(y.sum()), int((~y).sum())
    if m < 2 or n < 2:
        nan = float("nan")
        return DeLongResult(nan, nan, nan, nan, nan, nan)
    preds = np.stack([np.asarray(scores_a, np.float64), np.asarray(scores_b, np.float64)])
    tx = np.stack([rankdata(p[y]) for p in preds])
    ty = np.stack([rankdata(p[~y]) for p in preds])
    tz = np.stack([rankdata(p) for p in preds])
    aucs = (tz[:, y].sum(axis=1) / m - (m + 1) / 2.0) / n
    v01 = (tz[:, y] - tx) / n
    v10 = 1.0 - (tz[:, ~y] - ty) / m
    cov = np.cov(v01) / m + np.cov(v10) / n
    contrast = np.asarray([1.0, -1.0])
    var = float(contrast @ cov @ contrast)
    diff = float(aucs[0] - aucs[1])
    z = diff / np.sqrt(var) if var > 0 else (0.0 if diff == 0 else float(np.sign(diff) * np.inf))
    p = float(2.0 * norm.sf(abs(z)))
    return DeLongResult(float(aucs[0]), float(aucs[1]), diff, float(z), p, var)
