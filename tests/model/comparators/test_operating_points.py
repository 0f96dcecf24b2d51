"""Operating points on constructed arrays whose answers are known."""

from __future__ import annotations

import numpy as np
import pytest

from model.comparators import EvaluationWindows
from model.comparators.operating_points import (
    ScoreRanking,
    alert_burden,
)
from model.evaluation.metrics import confusion


def test_threshold_matched_to_specificity_known_answer() -> None:
    # Ten negatives scored 0.05 … 0.95, five positives 0.50 … 0.90.
    neg = np.arange(10) / 10 + 0.05
    pos = np.array([0.5, 0.6, 0.7, 0.8, 0.9])
    labels = np.r_[np.zeros(10), np.ones(5)]
    scores = np.r_[neg, pos]
    # Specificity 0.8 allows two false positives: negatives 0.85 and 0.95. The lowest threshold
    # keeping that is 0.8 (0.75 would add a third negative): positives 0.8, 0.9 → sensitivity 0.4.
    t = ScoreRanking(labels, scores).threshold(0.8)
    assert t == pytest.approx(0.8)
    c = ScoreRanking(labels, scores).matched(0.8)
    assert c.specificity == pytest.approx(0.8)
    assert c.sensitivity == pytest.approx(0.4)
    assert c.ppv == pytest.approx(0.5)


def test_ties_never_break_the_specificity() -> None:
    # Two negatives tie with a positive at 0.7: taking that positive costs both negatives.
    labels = np.array([1, 0, 0, 1, 0, 0, 0, 0, 0, 0])
    scores = np.array([0.9, 0.7, 0.7, 0.7, 0.3, 0.2, 0.2, 0.1, 0.1, 0.1])
    c = ScoreRanking(labels, scores).matched(0.75)  # at most 2 of 8 negatives may alert
    assert (c.tp, c.fp) == (2, 2)
    c = ScoreRanking(labels, scores).matched(0.80)  # at most 1.6: the tie must stay out
    assert (c.tp, c.fp) == (1, 0)
    assert ScoreRanking(labels, scores).threshold(0.80) == pytest.approx(0.9)


def test_impossible_specificity_gives_no_alert() -> None:
    labels = np.array([0, 1, 1])
    scores = np.array([0.9, 0.5, 0.4])  # the top score is a negative
    assert ScoreRanking(labels, scores).threshold(1.0) == float("inf")
    c = ScoreRanking(labels, scores).matched(1.0)
    assert (c.tp, c.fp, c.specificity) == (0, 0, 1.0)


def test_matching_agrees_with_brute_force_on_random_scores() -> None:
    rng = np.random.default_rng(3)
    labels = (rng.random(300) < 0.2).astype(int)
    scores = np.round(rng.random(300) + labels * 0.3, 2)  # rounded: many ties
    ranking = ScoreRanking(labels, scores)
    for target in (0.5, 0.7, 0.9, 0.95, 0.99):
        best = -1.0
        for t in np.unique(scores):
            c = confusion(labels, scores >= t)
            if c.specificity >= target:
                best = max(best, c.sensitivity)
        got = ranking.matched(target)
        assert got.specificity >= target
        assert got.sensitivity == pytest.approx(best)


def test_weights_equal_duplicated_windows() -> None:
    rng = np.random.default_rng(4)
    labels = (rng.random(50) < 0.3).astype(int)
    scores = rng.random(50) + labels * 0.4
    counts = rng.integers(0, 4, size=50).astype(float)
    weighted = ScoreRanking(labels, scores).matched(0.85, weights=counts)
    rep = np.repeat(np.arange(50), counts.astype(int))
    duplicated = ScoreRanking(labels[rep], scores[rep]).matched(0.85)
    assert weighted == pytest.approx(duplicated)


def _constructed_windows() -> EvaluationWindows:
    # A: ventilated at 30 h, windows 0..29 h; label 1 when ventilation is ≤ 24 h ahead (t ≥ 6).
    # B: ventilated at 50 h, windows 0..49 h. C: never ventilated, windows 0..47 h.
    ids, times, vent = [], [], []
    for pid, n, v in (("A", 30, 30.0), ("B", 50, 50.0), ("C", 48, np.nan)):
        ids += [pid] * n
        times += list(range(n))
        vent += [v] * n
    t = np.array(times, dtype=float)
    v = np.array(vent)
    labels = (np.isfinite(v) & (v - t <= 24)).astype(int)
    return EvaluationWindows(np.array(ids), t, labels, v)


def test_alert_burden_and_lead_time_on_a_constructed_case() -> None:
    w = _constructed_windows()
    alerts = np.zeros(w.n)
    ids = np.asarray(w.patient_ids)
    a_idx = np.flatnonzero(ids == "A")
    alerts[a_idx[[3, 10, 11, 12, 20]]] = 1  # false alarm at 3 h; correct alerts from 10 h
    alerts[np.flatnonzero(ids == "C")[[5, 6, 7]]] = 1  # one run of false alarms
    b = alert_burden(w, alerts)
    assert w.step_h() == 1.0
    # Onsets: A at 3, 10, 20 and C at 5 → 4 over (30 + 50 + 48) h = 5.333 patient-days.
    assert b.alerts_per_patient_day == pytest.approx(4 / (128 / 24))
    assert b.median_lead_time_h == pytest.approx(20.0)  # first correct alert at 10 h, vent 30 h
    assert (b.patients_caught, b.patients_ventilated) == (1, 2)
    assert b.alert_window_fraction == pytest.approx(8 / 128)
    # The window order does not matter.
    perm = np.random.default_rng(0).permutation(w.n)
    shuffled = EvaluationWindows(ids[perm], w.t[perm], w.y[perm], w.vent[perm])
    assert alert_burden(shuffled, alerts[perm]) == b
