"""Prospective monitoring: labels from recorded ventilation starts, sliding AUROC, floor alert."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from model import ModelError
from model.monitoring import MonitoringConfig, PastPrediction, monitor

NOW = datetime(2026, 3, 29, 0, 0, tzinfo=UTC)
H = timedelta(hours=1)


def test_labels_follow_the_training_definition() -> None:
    vent = NOW - timedelta(days=3)
    preds = [
        PastPrediction("a", vent - 30 * H, 0.1),  # start 30 h later: negative
        PastPrediction("a", vent - 24 * H, 0.8),  # start exactly at t + 24 h: positive
        PastPrediction("a", vent - 1 * H, 0.9),  # positive
        PastPrediction("a", vent, 0.9),  # already ventilated: excluded
        PastPrediction("b", vent - 2 * H, 0.2),  # never ventilated, outcome known: negative
        PastPrediction("b", NOW - 5 * H, 0.3),  # horizon still open: pending
        PastPrediction("c", NOW - 5 * H, 0.7),  # ventilated 2 h later: positive already
    ]
    cfg = MonitoringConfig(window=timedelta(days=10), min_positives=1, min_negatives=1)
    report = monitor(preds, {"a": [vent + 48 * H, vent], "c": [NOW - 3 * H]}, now=NOW, config=cfg)
    assert (report.labelled, report.pending, report.excluded_after_start) == (5, 1, 1)
    latest = report.latest
    assert latest is not None
    assert (latest.predictions, latest.positives, latest.patients) == (5, 3, 3)
    # positives 0.8, 0.9, 0.7 vs negatives 0.1, 0.2: perfectly separated
    assert latest.auroc == pytest.approx(1.0)
    assert latest.status == "ok"
    assert not report.alert


def _ward(
    rng: np.random.Generator, days: int, signal_by_day: list[float]
) -> tuple[list[PastPrediction], dict[str, list[datetime]]]:
    """Hourly predictions of 6-day stays; a fifth of the patients are ventilated on day 4."""
    preds: list[PastPrediction] = []
    starts: dict[str, list[datetime]] = {}
    start0 = NOW - timedelta(days=days)
    for n in range(240):
        admit = start0 + timedelta(hours=int(rng.integers(0, 24 * (days - 6))))
        vent = admit + timedelta(hours=96) if n % 5 == 0 else None
        if vent is not None:
            starts[f"p{n}"] = [vent]
        for hour in range(0, 6 * 24, 6):
            t = admit + timedelta(hours=hour)
            if vent is not None and t >= vent:
                break
            positive = vent is not None and vent - t <= timedelta(hours=24)
            signal = signal_by_day[min((t - start0).days, days - 1)]
            logit = signal * (1.0 if positive else -1.0) + rng.normal()
            preds.append(PastPrediction(f"p{n}", t, float(1 / (1 + np.exp(-logit)))))
    return preds, starts


def test_alert_when_discrimination_drops_under_the_floor() -> None:
    days = 40
    signal = [2.5] * 25 + [0.0] * 15  # the model stops discriminating on day 25 (data shift)
    preds, starts = _ward(np.random.default_rng(7), days, signal)
    cfg = MonitoringConfig(window=timedelta(days=7), step=timedelta(days=1), floor=0.75)
    report = monitor(preds, starts, now=NOW, config=cfg)
    judged = [w for w in report.windows if w.status != "insufficient"]
    assert judged, "the synthetic ward gives enough positives per window"
    early = [w for w in judged if w.end <= NOW - timedelta(days=16)]
    assert early
    assert all(w.status == "ok" and (w.auroc or 0) > 0.85 for w in early)
    assert report.alert
    assert report.latest is not None
    assert (report.latest.auroc or 1) < 0.75
    assert report.to_dict()["alert"] is True
    assert all(w.auroc is None for w in report.windows if w.status == "insufficient")


def test_too_few_positives_is_insufficient_not_a_number() -> None:
    preds = [
        PastPrediction(f"p{i}", NOW - timedelta(days=2, hours=i), 0.1 * (i % 9)) for i in range(40)
    ]
    starts = {"p0": [NOW - timedelta(days=2) + 5 * H], "p1": [NOW - timedelta(days=2) + 2 * H]}
    report = monitor(preds, starts, now=NOW)
    assert report.windows
    assert {w.status for w in report.windows} == {"insufficient"}
    assert report.latest is None
    assert not report.alert


def test_nothing_to_monitor_and_invalid_config() -> None:
    report = monitor([], {}, now=NOW)
    assert report.windows == ()
    assert not report.alert
    with pytest.raises(ModelError):
        MonitoringConfig(floor=1.5)
