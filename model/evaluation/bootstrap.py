"""Patient-level bootstrap: resample patients (all their windows) with replacement.

The one home of the bootstrap helpers: replicate weights (a replicate is a reweighting — each
window weighs as many times as its patient was drawn — never a copy), percentile intervals, and
the AUROC/AUPRC intervals of the report; the comparators table uses the same weights and
intervals.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

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


def replicate_weights(
    codes: NDArray[np.int64], n_patients: int, n_boot: int, seed: int
) -> Iterator[NDArray[np.float64]]:
    """Per-window weights of ``n_boot`` replicates; ``codes`` is each window's patient index
    (``0 .. n_patients-1``): ``n_patients`` patients are drawn with replacement per replicate."""
    rng = np.random.default_rng(seed)
    uniform = np.full(n_patients, 1.0 / n_patients)
    for _ in range(n_boot):
        yield rng.multinomial(n_patients, uniform)[codes].astype(np.float64)


def patient_weights(patients: np.ndarray, n_boot: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-replicate window weights ``(n_boot, W)``: how often each window's patient was drawn."""
    uniq, inverse = np.unique(patients, return_inverse=True)
    weights = list(replicate_weights(inverse, len(uniq), n_boot, seed))
    return np.stack(weights) if weights else np.zeros((0, len(inverse))), uniq


def percentile_ci(samples: NDArray[np.float64], level: float) -> tuple[float, float]:
    """Percentile interval of bootstrap samples, ignoring replicates where the metric is NaN."""
    finite = samples[np.isfinite(samples)]
    if finite.size == 0:
        return float("nan"), float("nan")
    tail = (1.0 - level) / 2.0 * 100.0
    lo, hi = np.percentile(finite, [tail, 100.0 - tail])
    return float(lo), float(hi)


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
    low, high = percentile_ci(np.asarray([fn(y, s, w) for w in weights]), 0.95)
    return Interval(point, low, high)


def bootstrap_difference(
    labels: np.ndarray, scores_a: np.ndarray, scores_b: np.ndarray, weights: np.ndarray
) -> Interval:
    """AUROC(a) - AUROC(b) with a paired patient-level bootstrap interval."""
    y = np.asarray(labels, np.float64)
    point = auroc(y, scores_a) - auroc(y, scores_b)
    reps = [_weighted_auroc(y, scores_a, w) - _weighted_auroc(y, scores_b, w) for w in weights]
    low, high = percentile_ci(np.asarray(reps), 0.95)
    return Interval(float(point), low, high)
