"""Prospective monitoring: past predictions against the ventilation starts recorded since.

A prediction made at ``t`` is labelled positive when the patient's first invasive ventilation
starts in ``(t, t + horizon]`` (the training label). Predictions made at or after that start are
dropped (the patient is already ventilated); predictions whose horizon has not yet passed are
*pending* (their outcome is not known). Discrimination is the AUROC over a sliding window of
prediction times; a window below the configured floor raises the alert, a window with too few
positives or negatives is reported as insufficient rather than as a number.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

import numpy as np

from model import ModelError
from model.evaluation.metrics import auroc

WindowStatus = Literal["ok", "alert", "insufficient"]


@dataclass(frozen=True, slots=True)
class PastPrediction:
    """One recorded prediction (``patient`` is any stable patient identifier)."""

    patient: str
    as_of: datetime
    probability: float


@dataclass(frozen=True, slots=True)
class MonitoringConfig:
    """How the report is cut and judged."""

    window: timedelta = timedelta(days=7)
    step: timedelta = timedelta(days=1)
    horizon: timedelta = timedelta(hours=24)
    floor: float = 0.70  # alert when a window's AUROC is below this
    min_positives: int = 10
    min_negatives: int = 10

    def __post_init__(self) -> None:
        if self.window <= timedelta(0) or self.step <= timedelta(0):
            raise ModelError("monitoring window and step must be positive")
        if not 0.0 <= self.floor <= 1.0:
            raise ModelError("the AUROC floor must lie in [0, 1]")


@dataclass(frozen=True, slots=True)
class WindowReport:
    """Discrimination of the predictions made in ``[start, end)``."""

    start: datetime
    end: datetime
    predictions: int
    positives: int
    patients: int
    auroc: float | None
    status: WindowStatus


@dataclass(frozen=True, slots=True)
class MonitoringReport:
    """Every window, oldest first; ``alert`` reflects the latest window with enough data."""

    windows: tuple[WindowReport, ...]
    floor: float
    labelled: int
    pending: int
    excluded_after_start: int

    @property
    def latest(self) -> WindowReport | None:
        """The most recent window that has enough positives and negatives."""
        judged = [w for w in self.windows if w.status != "insufficient"]
        return judged[-1] if judged else None

    @property
    def alert(self) -> bool:
        """True when the latest judged window is under the floor."""
        latest = self.latest
        return latest is not None and latest.status == "alert"

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form (datetimes as ISO 8601)."""
        latest = self.latest
        return {
            "floor": self.floor,
            "alert": self.alert,
            "labelled": self.labelled,
            "pending": self.pending,
            "excluded_after_start": self.excluded_after_start,
            "latest": None if latest is None else _window_dict(latest),
            "windows": [_window_dict(w) for w in self.windows],
        }


def _window_dict(window: WindowReport) -> dict[str, Any]:
    out = asdict(window)
    out["start"] = window.start.isoformat()
    out["end"] = window.end.isoformat()
    return out


@dataclass(frozen=True, slots=True)
class _Labelled:
    times: np.ndarray  # seconds since epoch
    probs: np.ndarray
    labels: np.ndarray
    patients: np.ndarray


def _label(
    predictions: Iterable[PastPrediction],
    first_starts: Mapping[str, datetime],
    now: datetime,
    horizon: timedelta,
) -> tuple[_Labelled, int, int]:
    times, probs, labels, patients = [], [], [], []
    pending = excluded = 0
    for pred in predictions:
        start = first_starts.get(pred.patient)
        if start is not None and start <= pred.as_of:
            excluded += 1
            continue
        positive = start is not None and start <= pred.as_of + horizon
        if not positive and pred.as_of + horizon > now:
            pending += 1  # the outcome window is still open
            continue
        times.append(pred.as_of.timestamp())
        probs.append(pred.probability)
        labels.append(1.0 if positive else 0.0)
        patients.append(pred.patient)
    labelled = _Labelled(
        np.asarray(times, np.float64),
        np.asarray(probs, np.float64),
        np.asarray(labels, np.float64),
        np.asarray(patients, dtype=object),
    )
    return labelled, pending, excluded


def monitor(
    predictions: Iterable[PastPrediction],
    ventilation_starts: Mapping[str, Iterable[datetime]],
    *,
    now: datetime,
    config: MonitoringConfig | None = None,
) -> MonitoringReport:
    """Sliding-window AUROC of ``predictions`` against the recorded ``ventilation_starts``.

    Windows end at ``now`` (the most recent one), ``now - step``, ... back to the first
    labelled prediction; each covers ``config.window`` of prediction times.
    """
    cfg = config or MonitoringConfig()
    first_starts = {p: min(starts) for p, starts in ventilation_starts.items() if list(starts)}
    data, pending, excluded = _label(predictions, first_starts, now, cfg.horizon)
    windows: list[WindowReport] = []
    if len(data.times):
        first = float(data.times.min())
        end = now
        while end.timestamp() > first:
            windows.append(_window(data, end - cfg.window, end, cfg))
            end -= cfg.step
        windows.reverse()
    return MonitoringReport(tuple(windows), cfg.floor, len(data.times), pending, excluded)


def _window(data: _Labelled, start: datetime, end: datetime, cfg: MonitoringConfig) -> WindowReport:
    inside = (data.times >= start.timestamp()) & (data.times < end.timestamp())
    labels, probs = data.labels[inside], data.probs[inside]
    positives = int(labels.sum())
    negatives = len(labels) - positives
    value: float | None = None
    status: WindowStatus = "insufficient"
    if positives >= cfg.min_positives and negatives >= cfg.min_negatives:
        value = auroc(labels, probs)
        status = "alert" if value < cfg.floor else "ok"
    return WindowReport(
        start=start,
        end=end,
        predictions=len(labels),
        positives=positives,
        patients=len(set(data.patients[inside].tolist())),
        auroc=value,
        status=status,
    )
