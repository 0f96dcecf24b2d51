"""Discrimination and calibration metrics (NaN when a metric is undefined)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from sklearn.metrics import average_precision_score, roc_auc_score

from model.calibration import fit_platt


def _both_classes(labels: np.ndarray) -> bool:
    y = np.asarray(labels)
    return y.size > 0 and y.min() != y.max()


def auroc(labels: np.ndarray, scores: np.ndarray) -> float:
    """Area under the ROC curve."""
    return float(roc_auc_score(labels, scores)) if _both_classes(labels) else float("nan")


def auprc(labels: np.ndarray, scores: np.ndarray) -> float:
    """Average precision (area under the precision-recall curve)."""
    return float(average_precision_score(labels, scores)) if _both_classes(labels) else float("nan")


def brier(labels: np.ndarray, probs: np.ndarray) -> float:
    """Mean squared error of the probabilities."""
    y = np.asarray(labels, np.float64)
    return float(np.mean((np.asarray(probs, np.float64) - y) ** 2)) if y.size else float("nan")


def expected_calibration_error(labels: np.ndarray, probs: np.ndarray, bins: int = 10) -> float:
    """ECE over ``bins`` equal-width probability bins, weighted by bin size."""
    y = np.asarray(labels, np.float64)
    p = np.asarray(probs, np.float64)
    if y.size == 0:
        return float("nan")
    which = np.minimum((p * bins).astype(np.int64), bins - 1)
    total = 0.0
    for b in range(bins):
        sel = which == b
        if sel.any():
            total += sel.sum() * abs(p[sel].mean() - y[sel].mean())
    return float(total / y.size)


def calibration_slope_intercept(labels: np.ndarray, probs: np.ndarray) -> tuple[float, float]:
    """Logistic recalibration ``logit(P(y)) = intercept + slope * logit(p)`` (ideal 1, 0): the
    Platt fit of the labels on ``logit(p)``."""
    y = np.asarray(labels, np.float64)
    if not _both_classes(y):
        return float("nan"), float("nan")
    p = np.clip(np.asarray(probs, np.float64), 1e-6, 1 - 1e-6)
    fit = fit_platt(np.log(p / (1 - p)), y)
    return fit.a, fit.b


def ratio(num: float, den: float) -> float:
    """``num / den``, NaN when ``den`` is not positive."""
    return num / den if den > 0 else float("nan")


@dataclass(frozen=True, slots=True)
class Confusion:
    """Weighted confusion counts of a binary alert against the labels."""

    tp: float
    fp: float
    tn: float
    fn: float

    @property
    def sensitivity(self) -> float:
        return ratio(self.tp, self.tp + self.fn)

    @property
    def specificity(self) -> float:
        return ratio(self.tn, self.tn + self.fp)

    @property
    def ppv(self) -> float:
        return ratio(self.tp, self.tp + self.fp)

    @property
    def npv(self) -> float:
        return ratio(self.tn, self.tn + self.fn)

    def metrics(self) -> dict[str, float]:
        """Sensitivity, specificity, PPV and NPV."""
        return {
            "sensitivity": self.sensitivity,
            "specificity": self.specificity,
            "ppv": self.ppv,
            "npv": self.npv,
        }


def confusion(
    labels: NDArray[np.generic],
    alerts: NDArray[np.generic],
    weights: NDArray[np.float64] | None = None,
) -> Confusion:
    """Confusion counts of ``alerts`` (bool/0-1; NaN counts as no alert) against ``labels``."""
    y = np.asarray(labels).astype(bool)
    a = np.nan_to_num(np.asarray(alerts, dtype=np.float64), nan=0.0) > 0.5
    w = np.ones(y.shape) if weights is None else np.asarray(weights, dtype=np.float64)
    pos, neg = float(w @ y), float(w @ ~y)
    tp, fp = float(w @ (y & a)), float(w @ (~y & a))
    return Confusion(tp=tp, fp=fp, tn=neg - fp, fn=pos - tp)


def operating_point(labels: np.ndarray, probs: np.ndarray, threshold: float) -> dict[str, float]:
    """Sensitivity, specificity, PPV and alert rate at ``p >= threshold``."""
    y = np.asarray(labels) > 0.5
    alert = np.asarray(probs) >= threshold
    counts = confusion(y, alert)
    return {
        "threshold": float(threshold),
        "sensitivity": counts.sensitivity,
        "specificity": counts.specificity,
        "ppv": counts.ppv,
        "alert_rate": float(alert.mean()) if y.size else float("nan"),
    }


def threshold_at_alert_rate(probs: np.ndarray, rate: float) -> float:
    """Threshold that alerts on (about) the top ``rate`` fraction of windows."""
    p = np.sort(np.asarray(probs, np.float64))[::-1]
    if p.size == 0:
        return 1.0
    k = max(int(np.ceil(rate * p.size)) - 1, 0)
    return float(p[min(k, p.size - 1)])
