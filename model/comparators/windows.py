"""The per-window arrays the comparator analysis needs, independent of the evaluation."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from model.comparators.errors import ComparatorError

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]


def _hours(values: NDArray[np.generic]) -> FloatArray:
    """Float hours from float hours or ``datetime64`` values (any origin, same for all arrays)."""
    array = np.asarray(values)
    if np.issubdtype(array.dtype, np.datetime64):
        nat = np.isnat(array)
        seconds = array.astype("datetime64[s]").astype(np.int64).astype(np.float64)
        return np.where(nat, np.nan, seconds / 3600.0)
    return array.astype(np.float64)


@dataclass(frozen=True)
class EvaluationWindows:
    """One row per prediction window of the held-out cohort.

    ``patient_ids``: patient of each window (any hashable values). ``times_h``: prediction time in
    hours (or ``datetime64``). ``labels``: 1 if invasive ventilation starts within the horizon.
    ``vent_start_h``: that patient's ventilation start on the same clock, NaN if never.
    """

    patient_ids: NDArray[np.generic]
    times_h: NDArray[np.generic]
    labels: NDArray[np.generic]
    vent_start_h: NDArray[np.generic]
    grid_step_h: float | None = None
    codes: IntArray = field(init=False, repr=False)
    n_patients: int = field(init=False)

    def __post_init__(self) -> None:
        ids = np.asarray(self.patient_ids)
        times = _hours(self.times_h)
        labels = np.asarray(self.labels)
        vent = _hours(self.vent_start_h)
        n = ids.shape[0]
        if ids.ndim != 1 or any(a.shape != (n,) for a in (times, labels, vent)):
            raise ComparatorError(
                "patient_ids, times_h, labels, vent_start_h must be 1-D arrays of one length"
            )
        if n == 0:
            raise ComparatorError("no evaluation windows")
        if not np.all(np.isfinite(times)):
            raise ComparatorError("prediction times must all be present")
        if not np.isin(labels, (0, 1)).all():
            raise ComparatorError("labels must be 0 or 1")
        _, codes = np.unique(ids, return_inverse=True)
        object.__setattr__(self, "times_h", times)
        object.__setattr__(self, "labels", labels.astype(np.int64))
        object.__setattr__(self, "vent_start_h", vent)
        object.__setattr__(self, "codes", codes.reshape(-1).astype(np.int64))
        object.__setattr__(self, "n_patients", int(codes.max()) + 1)

    @property
    def n(self) -> int:
        """Number of windows."""
        return int(self.codes.shape[0])

    @property
    def y(self) -> IntArray:
        """Labels as an int array."""
        return np.asarray(self.labels, dtype=np.int64)

    @property
    def t(self) -> FloatArray:
        """Prediction times in hours."""
        return np.asarray(self.times_h, dtype=np.float64)

    @property
    def vent(self) -> FloatArray:
        """Ventilation start per window in hours (NaN if never)."""
        return np.asarray(self.vent_start_h, dtype=np.float64)

    def step_h(self) -> float:
        """Hours between consecutive prediction times: given, else the median within-patient gap."""
        if self.grid_step_h is not None:
            return float(self.grid_step_h)
        order = np.lexsort((self.t, self.codes))
        same = self.codes[order][1:] == self.codes[order][:-1]
        gaps = np.diff(self.t[order])[same]
        gaps = gaps[gaps > 0]
        return float(np.median(gaps)) if gaps.size else 1.0

    def time_order(self) -> IntArray:
        """Window indices sorted by patient, then prediction time."""
        return np.lexsort((self.t, self.codes)).astype(np.int64)

    def patient_days(self) -> FloatArray:
        """Observed days per patient: windows × grid step / 24."""
        counts = np.bincount(self.codes, minlength=self.n_patients).astype(np.float64)
        return counts * self.step_h() / 24.0
