"""Platt maps of a fusion model: the fused logit's, and the EHR path's own."""

from __future__ import annotations

import numpy as np
import pytest

from model.calibration import PlattCalibration, fit_fusion_platt, sigmoid


def test_fusion_map_calibrates_each_path_on_its_own_windows() -> None:
    rng = np.random.default_rng(0)
    n = 20000
    risk = rng.normal(-2.5, 1.5, n)
    labels = (rng.random(n) < sigmoid(risk)).astype(float)
    has = rng.random(n) < 0.7
    ehr = risk  # the EHR path is calibrated as it is
    fused = np.where(has, 2.0 * risk, risk)  # the fused logit is twice too sharp with a film
    cal = fit_fusion_platt(fused, ehr, has.astype(float), labels)
    assert cal.a == pytest.approx(0.5, abs=0.06)
    assert cal.a_ehr == pytest.approx(1.0, abs=0.08)
    assert cal.b_ehr == pytest.approx(0.0, abs=0.1)
    p = cal.apply(fused, has)
    np.testing.assert_allclose(p[~has], cal.apply_ehr(ehr[~has]))  # no film: the EHR path's map
    np.testing.assert_allclose(p[has], sigmoid(cal.a * fused[has] + cal.b))
    again = PlattCalibration.from_dict(cal.to_dict())
    assert again == cal


def test_a_single_map_serves_both_paths() -> None:
    cal = PlattCalibration(a=0.5, b=-1.0)
    logits = np.asarray([-2.0, 0.0, 3.0])
    np.testing.assert_allclose(cal.apply(logits, np.asarray([0, 1, 0])), cal.apply(logits))
    np.testing.assert_allclose(cal.apply_ehr(logits), cal.apply(logits))
    assert "a_ehr" not in cal.to_dict()
    assert PlattCalibration.from_dict({"method": "platt", "a": 0.5, "b": -1.0}) == cal
