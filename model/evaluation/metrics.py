"""Discrimination and calibration metrics (NaN when a metric is undefined)."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import average_precision_score, roc_auc_score

from model.calibration import sigmoid


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
    """Logistic recalibration ``logit(P(y)) = intercept + slope * logit(p)`` (ideal 1, 0)."""
    y = np.asarray(labels, np.float64)
    if not _both_classes(y):
        return float("nan"), float("nan")
    p = np.clip(np.asarray(probs, np.float64), 1e-6, 1 - 1e-6)
    x = np.log(p / (1 - p))
    w = np.zeros(2)
    design = np.stack([np.ones_like(x), x], axis=1)
    for _ in range(50):  # Newton-Raphson on the logistic log-likelihood
        mu = sigmoid(design @ w)
        grad = design.T @ (y - mu)
        hess = design.T @ (design * (mu * (1 - mu))[:, None]) + 1e-9 * np.eye(2)
        step = np.linalg.solve(hess, grad)
        w += step
        if np.abs(step).max() < 1e-10:
            break
    return float(w[1]), float(w[0])


def operating_point(labels: np.ndarray, probs: np.ndarray, threshold: float) -> dict[str, float]:
    """Sensitivity, specificity, PPV and alert rate at ``p >= threshold``."""
    y = np.asarray(labels) > 0.5
    alert = np.asarray(probs) >= threshold
    tp, fp = float((alert & y).sum()), float((alert & ~y).sum())
    fn, tn = float((~alert & y).sum()), float((~alert & ~y).sum())
    nan = float("nan")
    return {
        "threshold": float(threshold),
        "sensitivity": tp / (tp + fn) if tp + fn else nan,
        "specificity": tn / (tn + fp) if tn + fp else nan,
        "ppv": tp / (tp + fp) if tp + fp else nan,
        "alert_rate": float(alert.mean()) if y.size else nan,
    }


def threshold_at_alert_rate(probs: np.ndarray, rate: float) -> float:
    """Threshold that alerts on (about) the top ``rate`` fraction of windows."""
    p = np.sort(np.asarray(probs, np.float64))[::-1]
    if p.size == 0:
        return 1.0
    k = max(int(np.ceil(rate * p.size)) - 1, 0)
    return float(p[min(k, p.size - 1)])
