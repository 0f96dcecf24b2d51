"""Patient-level bootstrap: resample patients (all their windows) with replacement."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from model.evaluation.metrics import auprc, auroc

WeightedMetric = Callable[[np.ndarray, np.ndarray, np.ndarray], float]


@dataclass(frozen=True, slots=True)
class Interval:
    estimate: float
    low: float
    high: float

    def to_dict(self) -> dict[str, float]:
        return {"estimate": self.estimate, "ci_low": self.low, "ci_high": self.high}

    def text(self, digits: int = 3) -> str:
        return f"{self.estimate:.{digits}f} ({self.low:.{digits}f}–{self.high:.{digits}f})"


def patient_weights(patients: np.ndarray, n_boot: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-replicate window weights ``(n_boot, W)``: how often each window's patient was drawn."""
    uniq, inverse = np.unique(patients, return_inverse=True)
    rng = np.random.default_rng(seed)
    counts = rng.multinomial(len(uniq), np.full(len(uniq), 1.0 / len(uniq)), size=n_boot)
    return counts[:, inverse].astype(np.float64), uniq


def _weighted_auroc(y: np.ndarray, s: np.ndarray, w: np.ndarray) -> float:
    from sklearn.metrics import roc_auc_score

    keep = w > 0
    if y[keep].min(initial=1) == y[keep].max(initial=0):
        return float("nan")
    return float(roc_auc_score(y[keep], s[keep], sample_weight=w[keep]))


def _weighted_auprc(y: np.ndarray, s: np.ndarray, w: np.ndarray) -> float:
    from sklearn.metrics import average_precision_score

    keep = w > 0
    if y[keep].max(initial=0) == 0:
        return float("nan")
    return float(average_precision_score(y[keep], s[keep], sample_weight=w[keep]))


def bootstrap_metric(
    labels: np.ndarray,
    scores: np.ndarray,
    weights: np.ndarray,
    metric: str = "auroc",
) -> Interval:
    """Point estimate and 95% percentile interval of AUROC/AUPRC over bootstrap weights."""
    y = np.asarray(labels, np.float64)
    s = np.asarray(scores, np.float64)
    point = auroc(y, s) if metric == "auroc" else auprc(y, s)
    fn = _weighted_auroc if metric == "auroc" else _weighted_auprc
    reps = np.asarray([fn(y, s, w) for w in weights])
    reps = reps[np.isfinite(reps)]
    if reps.size == 0:
        return Interval(point, float("nan"), float("nan"))
    low, high = np.percentile(reps, [2.5, 97.5])
    return Interval(point, float(low), float(high))


def bootstrap_difference(
    labels: np.ndarray, scores_a: np.ndarray, scores_b: np.ndarray, weights: np.ndarray
) -> Interval:
    """AUROC(a) - AUROC(b) with a paired patient-level bootstrap interval."""
    y = np.asarray(labels, np.float64)
    point = auroc(y, scores_a) - auroc(y, scores_b)
    reps = np.asarray(
        [_weighted_auroc(y, scores_a, w) - _weighted_auroc(y, scores_b, w) for w in weights]
    )
    reps = reps[np.isfinite(reps)]
    if reps.size == 0:
        return Interval(point, float("nan"), float("nan"))
    low, high = np.percentile(reps, [2.5, 97.5])
    return Interval(float(point), float(low), float(high))
