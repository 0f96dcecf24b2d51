"""Operating points: a rule's own binary point, a model matched to a given specificity, alert
burden and lead time.

All counting functions take optional per-window ``weights`` so that a patient-level bootstrap is
a reweighting (each window weighs as many times as its patient was drawn), never a copy.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from model.comparators.errors import ComparatorError
from model.comparators.windows import EvaluationWindows
from model.evaluation.metrics import Confusion, ratio

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]

#: Relative slack when comparing a specificity with its target (floating-point sums).
_SPEC_TOL = 1e-9


class ScoreRanking:
    """A model's scores sorted once, so specificity matching is O(n) per bootstrap replicate."""

    def __init__(self, labels: NDArray[np.generic], scores: NDArray[np.generic]) -> None:
        s = np.asarray(scores, dtype=np.float64)
        y = np.asarray(labels).astype(np.float64)
        if s.shape != y.shape or s.ndim != 1:
            raise ComparatorError("scores and labels must be 1-D arrays of one length")
        if not np.all(np.isfinite(s)):
            raise ComparatorError("model scores must be finite")
        self.order = np.argsort(-s, kind="stable")
        sorted_scores = s[self.order]
        self.y_sorted = y[self.order]
        # Last index of each run of equal scores: the only places a threshold can cut.
        last = np.flatnonzero(np.diff(sorted_scores) != 0)
        self.ends = np.append(last, s.size - 1)
        self.cut_scores = sorted_scores[self.ends]

    def matched(self, target_specificity: float, weights: FloatArray | None = None) -> Confusion:
        """Counts of ``score >= t`` for the lowest ``t`` whose specificity is ≥ the target."""
        return self.matched_from(self.cumulative(weights), target_specificity)

    def threshold(self, target_specificity: float, weights: FloatArray | None = None) -> float:
        """The threshold chosen by :meth:`matched` (``inf`` when no cut keeps the specificity)."""
        if not np.isfinite(target_specificity):
            return float("nan")
        j = self._cut_index(target_specificity, self.cumulative(weights)[1])
        return float(self.cut_scores[j]) if j >= 0 else float("inf")

    def cumulative(self, weights: FloatArray | None = None) -> tuple[FloatArray, FloatArray]:
        """Weighted positives and negatives at or above each distinct score, highest first."""
        w = np.ones(self.y_sorted.shape) if weights is None else weights[self.order]
        cum_pos = np.cumsum(w * self.y_sorted)[self.ends]
        cum_neg = np.cumsum(w * (1.0 - self.y_sorted))[self.ends]
        return cum_pos, cum_neg

    def matched_from(
        self, cumulative: tuple[FloatArray, FloatArray], target_specificity: float
    ) -> Confusion:
        """:meth:`matched` on counts already computed by :meth:`cumulative` (one per replicate)."""
        if not np.isfinite(target_specificity):
            nan = float("nan")
            return Confusion(tp=nan, fp=nan, tn=nan, fn=nan)
        cum_pos, cum_neg = cumulative
        j = self._cut_index(target_specificity, cum_neg)
        pos, neg = float(cum_pos[-1]), float(cum_neg[-1])
        tp = float(cum_pos[j]) if j >= 0 else 0.0
        fp = float(cum_neg[j]) if j >= 0 else 0.0
        return Confusion(tp=tp, fp=fp, tn=neg - fp, fn=pos - tp)

    @staticmethod
    def _cut_index(target_specificity: float, cum_neg: FloatArray) -> int:
        total_neg = float(cum_neg[-1])
        allowed_fp = (1.0 - target_specificity) * total_neg + _SPEC_TOL * max(total_neg, 1.0)
        return int(np.searchsorted(cum_neg, allowed_fp, side="right")) - 1


@dataclass(frozen=True, slots=True)
class AlertBurden:
    """Alert onsets per patient-day and lead time of the first correct alert."""

    alerts_per_patient_day: float
    alert_window_fraction: float
    median_lead_time_h: float
    patients_caught: int
    patients_ventilated: int


def alert_burden(windows: EvaluationWindows, alerts: NDArray[np.generic]) -> AlertBurden:
    """Alert burden and lead time of a binary alert series.

    An alert counts once per onset (an alerting window whose previous window of the same patient
    did not alert), divided by observed patient-days. Lead time, for each ventilated patient with
    at least one alert in a positive window (within the horizon before ventilation), is the
    ventilation start minus the first such alert; the median is over those patients.
    """
    a = np.nan_to_num(np.asarray(alerts, dtype=np.float64), nan=0.0) > 0.5
    if a.shape != (windows.n,):
        raise ComparatorError("alerts must have one entry per window")
    order = windows.time_order()
    codes, a_sorted = windows.codes[order], a[order]
    first = np.ones(codes.shape, dtype=bool)
    first[1:] = codes[1:] != codes[:-1]
    prev_alert = np.zeros(codes.shape, dtype=bool)
    prev_alert[1:] = a_sorted[:-1]
    onsets = a_sorted & (first | ~prev_alert)
    days = float(windows.patient_days().sum())

    vent, t, y = windows.vent, windows.t, windows.y.astype(bool)
    ventilated = np.unique(windows.codes[np.isfinite(vent)])
    hits = a & y & np.isfinite(vent) & (t < vent)
    first_hit = np.full(windows.n_patients, np.inf)
    np.minimum.at(first_hit, windows.codes[hits], t[hits])
    vent_by_patient = np.full(windows.n_patients, np.nan)
    vent_by_patient[windows.codes] = vent
    caught = np.isfinite(first_hit)
    leads = vent_by_patient[caught] - first_hit[caught]
    return AlertBurden(
        alerts_per_patient_day=ratio(float(onsets.sum()), days),
        alert_window_fraction=float(a.mean()),
        median_lead_time_h=float(np.median(leads)) if leads.size else float("nan"),
        patients_caught=int(caught.sum()),
        patients_ventilated=int(ventilated.size),
    )
