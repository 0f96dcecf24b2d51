"""Evaluation: metric implementations against known values, and the full report on a cohort."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from model.calibration import PlattCalibration, choose_thresholds, fit_platt
from model.checkpoint import load_checkpoint
from model.evaluation.bootstrap import bootstrap_metric, patient_weights
from model.evaluation.card_update import attach_evaluation
from model.evaluation.delong import delong_test
from model.evaluation.metrics import (
    calibration_slope_intercept,
    expected_calibration_error,
    operating_point,
    threshold_at_alert_rate,
)
from model.evaluation.run import EvaluationRequest, evaluate


def _data(n: int = 3000, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    p = rng.beta(1, 6, n)
    return (rng.random(n) < p).astype(int), p


def test_delong_matches_auc_and_detects_differences() -> None:
    y, p = _data()
    rng = np.random.default_rng(1)
    weak = p + rng.normal(0, 0.3, len(p))
    r = delong_test(y, p, weak)
    assert r.auc_a == pytest.approx(roc_auc_score(y, p))
    assert r.auc_b == pytest.approx(roc_auc_score(y, weak))
    assert r.p_value < 1e-6
    assert r.z > 0
    same = delong_test(y, p, p)
    assert same.difference == 0
    assert same.p_value == 1.0


def test_calibration_metrics_on_calibrated_and_miscalibrated_scores() -> None:
    y, p = _data(20000)
    assert expected_calibration_error(y, p) < 0.02
    slope, intercept = calibration_slope_intercept(y, p)
    assert slope == pytest.approx(1.0, abs=0.1)
    assert intercept == pytest.approx(0.0, abs=0.15)
    assert expected_calibration_error(y, np.clip(p * 2, 0, 1)) > 0.1
    logits = np.log(p / (1 - p))
    cal = fit_platt(logits * 3 + 1, y)
    np.testing.assert_allclose(cal.apply(logits * 3 + 1), p, atol=0.02)
    assert PlattCalibration.from_dict(cal.to_dict()) == cal


def test_operating_points_and_thresholds() -> None:
    y, p = _data()
    t = choose_thresholds(p, y)
    assert t.info <= t.warning <= t.critical
    assert operating_point(y, p, t.warning)["sensitivity"] >= 0.6
    assert operating_point(y, p, threshold_at_alert_rate(p, 0.1))["alert_rate"] == pytest.approx(
        0.1, abs=0.01
    )


def test_patient_bootstrap_resamples_whole_patients() -> None:
    patients = np.repeat(np.arange(50), 10)
    weights, uniq = patient_weights(patients, 20, seed=0)
    assert weights.shape == (20, 500)
    assert len(uniq) == 50
    for w in weights:  # every window of a patient has the same weight, patients sum to 50
        assert np.all(w.reshape(50, 10) == w.reshape(50, 10)[:, :1])
        assert w.reshape(50, 10)[:, 0].sum() == 50
    y, p = _data(500)
    ci = bootstrap_metric(y, p, weights)
    assert ci.low <= ci.estimate <= ci.high


def test_full_report(tiny_checkpoint: Path, tiny_cohort: Path, tmp_path: Path) -> None:
    out = tmp_path / "report"
    report = evaluate(
        EvaluationRequest((tiny_checkpoint, tiny_checkpoint), tiny_cohort, out, n_boot=20)
    )
    for name in ("report.json", "report.md", "roc_pr.png", "reliability.png", "gate.png"):
        assert (out / name).stat().st_size > 0, name
    data = json.loads((out / "report.json").read_text())
    assert data["data"]["synthetic"] is True
    sections = data["sections"]
    assert set(sections["discrimination"]["models"]) == {"gated", "gated-2"}
    assert sections["comparison"]["gated_vs_gated-2"]["delong_p"] == 1.0
    assert sections["gate"]["no_film_max_gate"] == 0.0
    assert sections["gate"]["no_film_max_abs_difference_vs_ehr_path"] == 0.0
    assert sections["targets"]["no_film_equals_ehr_path"] is True
    assert "film present" in sections["subgroups"]
    assert "no film" in sections["subgroups"]
    md = (out / "report.md").read_text()
    assert "synthetic data" in md
    assert "## Calibration" in md
    assert "DeLong" in md
    assert report["sections"]["discrimination"]["oracle_auroc"]["estimate"] > 0.9
    copy = tmp_path / "copy.pt"
    shutil.copy(tiny_checkpoint, copy)
    card = attach_evaluation(copy, report)
    loaded = load_checkpoint(copy)
    assert (
        loaded.card.metrics["test_auroc"]
        == report["sections"]["discrimination"]["models"]["gated"]["auroc"]["estimate"]
    )
    assert loaded.model_version == load_checkpoint(tiny_checkpoint).model_version
    assert "Comparison with bedside rules" in card
