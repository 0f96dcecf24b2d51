"""The comparison table, its Markdown, JSON and plot on a small seeded cohort of windows."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from model.comparators import (
    ComparatorError,
    EvaluationWindows,
    comparison_table,
    compute_comparators,
    model_card_summary,
    plot_roc_with_comparators,
)
from model.comparators.markdown import OVERSHOOT
from model.comparators.operating_points import alert_burden
from model.evaluation.metrics import confusion


def _cohort(seed: int = 0, patients: int = 80) -> tuple[EvaluationWindows, dict[str, np.ndarray]]:
    """Hourly windows; a quarter of patients deteriorate and are ventilated."""
    rng = np.random.default_rng(seed)
    ids, times, vent, severity = [], [], [], []
    for p in range(patients):
        n = int(rng.integers(24, 72))
        v = float(rng.uniform(12, n)) if rng.random() < 0.25 else np.nan
        for t in range(n):
            if np.isfinite(v) and t >= v:
                break
            ids.append(f"P{p:03d}")
            times.append(float(t))
            vent.append(v)
            severity.append(max(0.0, 1 - (v - t) / 36) if np.isfinite(v) else 0.0)
    t, v, s = np.array(times), np.array(vent), np.array(severity)
    y = (np.isfinite(v) & (v - t <= 24)).astype(int)
    n = t.size
    latest = {
        "spo2": np.clip(96 - 6 * s + rng.normal(0, 2, n), 70, 100),
        "fio2": np.clip(21 + 55 * s + rng.normal(0, 6, n), 21, 100),
        "resp_rate": np.clip(17 + 14 * s + rng.normal(0, 4, n), 6, 60),
    }
    latest["fio2"][rng.random(n) < 0.05] = np.nan
    return EvaluationWindows(np.array(ids), t, y, v), latest


Cohort = tuple[EvaluationWindows, dict[str, np.ndarray], dict[str, np.ndarray]]


@pytest.fixture(scope="module")
def cohort() -> Cohort:
    windows, latest = _cohort()
    rng = np.random.default_rng(9)
    sev = windows.y + rng.normal(0, 0.6, windows.n)
    scores = {"gated": sev, "ehr_only": sev + rng.normal(0, 0.8, windows.n)}
    return windows, compute_comparators(latest), scores


def test_table_rows_match_direct_computation(cohort: Cohort) -> None:
    windows, flags, scores = cohort
    table = comparison_table(windows, flags, scores, n_boot=150, seed=2)
    assert [r.name for r in table.rules] == list(flags)
    assert len(table.matched) == len(flags) * 2
    for rule in table.rules:
        direct = confusion(windows.y, flags[rule.name]).metrics()
        for key, value in direct.items():
            est = rule.metrics[key]
            assert est.value == pytest.approx(value, nan_ok=True)
            if np.isfinite(est.value) and np.isfinite(est.lo):
                assert est.lo <= est.value <= est.hi
        for model in scores:
            row = table.row(rule.name, model)
            spec = row.metrics["specificity"].value
            assert spec >= rule.metrics["specificity"].value - 1e-12
            alerts = np.asarray(scores[model]) >= row.threshold
            assert confusion(windows.y, alerts).sensitivity == pytest.approx(
                row.metrics["sensitivity"].value
            )
            delta = row.delta_sensitivity
            expected = row.metrics["sensitivity"].value - rule.metrics["sensitivity"].value
            assert delta.value == pytest.approx(expected)
            assert delta.lo <= delta.value <= delta.hi


def test_a_perfect_model_catches_everything_at_any_rule_specificity(cohort: Cohort) -> None:
    windows, flags, _ = cohort
    table = comparison_table(windows, flags, {"oracle": windows.y * 1.0}, n_boot=20)
    for rule in table.rules:
        row = table.row(rule.name, "oracle")
        assert row.metrics["sensitivity"].value == 1.0
        assert row.metrics["specificity"].value == 1.0
        assert row.delta_sensitivity.value == pytest.approx(1 - rule.metrics["sensitivity"].value)
        assert row.burden.patients_caught == row.burden.patients_ventilated
    assert table.model_auroc["oracle"] == 1.0
    # Two distinct scores: the match overshoots every rule's specificity, and the table says so.
    md = table.to_markdown()
    looser = [r for r in table.rules if 1.0 - r.metrics["specificity"].value > OVERSHOOT]
    assert looser
    assert md.count(" †") == len(looser)
    assert "Tied scores" in md


def test_report_outputs(cohort: Cohort, tmp_path: Path) -> None:
    windows, flags, scores = cohort
    table = comparison_table(windows, flags, scores, n_boot=50, synthetic=True)
    doc = json.loads(json.dumps(table.to_dict(), allow_nan=False))
    assert doc["synthetic"] is True
    assert doc["bootstrap"]["unit"] == "patient"
    assert {c["name"] for c in doc["comparators"]} >= {"rox_lt_3_85", "sf_lt_235", "any_criterion"}
    assert "Roca" in doc["comparators"][0]["source"]
    md = table.to_markdown()
    assert md.startswith("## Clinical comparators (synthetic)")
    for label in ("ROX < 3.85", "ROX < 4.88", "S/F < 235", "S/F < 315", "RR ≥ 30/min"):
        assert label in md
    assert md.count("| gated |") == len(flags)
    assert "Tied scores" not in md  # continuous scores match the rules' specificity
    card = model_card_summary(table, primary="gated")
    assert "synthetic" in card
    assert "**gated**" in card
    png = plot_roc_with_comparators(
        windows, scores, table, tmp_path / "roc.png", show_matched_for="gated"
    )
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert png.stat().st_size > 20_000


def test_bad_inputs_are_refused(cohort: Cohort) -> None:
    windows, flags, _ = cohort
    with pytest.raises(ComparatorError, match="one value per window"):
        comparison_table(windows, flags, {"short": np.zeros(3)}, n_boot=5)
    one_class = EvaluationWindows(
        np.array(["a", "b"]), np.array([0.0, 1.0]), np.array([0, 0]), np.array([np.nan, np.nan])
    )
    with pytest.raises(ComparatorError, match="one class"):
        comparison_table(one_class, {"r": np.array([1.0, 0.0])}, {"m": np.array([0.1, 0.2])})
    with pytest.raises(ComparatorError, match="0 or 1"):
        EvaluationWindows(np.array(["a"]), np.array([0.0]), np.array([2]), np.array([np.nan]))


def test_datetime_times_are_hours() -> None:
    start = np.datetime64("2026-01-01T00:00:00")
    times = start + np.arange(4) * np.timedelta64(1, "h")
    vent = np.array([start + np.timedelta64(3, "h")] * 4)
    w = EvaluationWindows(np.array(["a"] * 4), times, np.array([1, 1, 1, 1]), vent)
    np.testing.assert_allclose(np.diff(w.t), 1.0)
    b = alert_burden(w, np.array([0, 1, 1, 0]))
    assert b.median_lead_time_h == pytest.approx(2.0)
    assert b.alerts_per_patient_day == pytest.approx(1 / (4 / 24))
