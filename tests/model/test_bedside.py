"""Bedside criteria beside the model: values, recency, thresholds, the disagreement rule."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from model.bedside import (
    bedside_reading,
    bedside_series,
    criteria_text,
    model_below_bedside,
    reading_at,
    reading_lines,
)
from model.schemas import (
    BedsideCriterion,
    Measurement,
    PatientKey,
    PatientWindow,
    RiskLevel,
    RiskPrediction,
)

KEY = PatientKey(system="urn:test", value="BED-1")
NOW = datetime(2026, 5, 1, 8, 0, tzinfo=UTC)


def _m(variable: str, value: float, hours_ago: float) -> Measurement:
    return Measurement(patient_key=KEY, variable=variable, value=value, unit="",
                       time=NOW - timedelta(hours=hours_ago))  # fmt: skip


def test_hand_worked_values_and_criteria() -> None:
    reading = reading_at([_m("spo2", 85, 0.5), _m("fio2", 80, 1), _m("resp_rate", 32, 0.2)], NOW)
    assert reading.rox == pytest.approx((85 / 0.80) / 32)  # 3.32
    assert reading.sf_ratio == pytest.approx(106.25)
    assert reading.high_risk == (
        BedsideCriterion.ROX_BELOW_3_85,
        BedsideCriterion.SF_BELOW_235,
        BedsideCriterion.RR_AT_LEAST_30,
    )
    calm = reading_at([_m("spo2", 94, 0.5), _m("fio2", 40, 1), _m("resp_rate", 25, 0.2)], NOW)
    assert calm.rox == pytest.approx(9.4)
    assert calm.sf_ratio == pytest.approx(235.0)  # 235 exactly is not below 235
    assert calm.high_risk == ()


def test_only_recent_values_count() -> None:
    reading = reading_at([_m("spo2", 85, 0.5), _m("fio2", 80, 5), _m("resp_rate", 22, 0.2)], NOW)
    assert reading.rox is None  # FiO2 5 h old
    assert reading.sf_ratio is None
    assert reading.resp_rate == 22
    assert "not evaluable" in reading_lines(reading)[0]
    assert reading_lines(reading)[0].endswith("high risk < 3.85, low risk ≥ 4.88 (Roca 2016, 2019)")


def test_series_and_window() -> None:
    ms = [_m("spo2", 90, h) for h in (3, 2, 1)] + [_m("fio2", 50, 3), _m("resp_rate", 24, 3)]
    series = bedside_series(ms, NOW - timedelta(hours=48), NOW)
    assert [t for t, _ in series] == [NOW - timedelta(hours=h) for h in (3, 2, 1)]
    assert all(r.sf_ratio == pytest.approx(180) for _, r in series)
    window = PatientWindow(patient_key=KEY, as_of=NOW, measurements=tuple(ms))
    assert bedside_reading(window).high_risk == (BedsideCriterion.SF_BELOW_235,)


@pytest.mark.parametrize(
    ("level", "below"),
    [(RiskLevel.LOW, True), (RiskLevel.INFO, True), (RiskLevel.WARNING, True),
     (RiskLevel.CRITICAL, False)],
)  # fmt: skip
def test_model_below_bedside(level: RiskLevel, below: bool) -> None:
    window = PatientWindow(patient_key=KEY, as_of=NOW, measurements=(_m("resp_rate", 34, 0.1),))
    prediction = RiskPrediction(patient_key=KEY, as_of=NOW, probability=0.1, level=level,
                                model_id="m", model_version="1", image_weight=0.0,
                                bedside=bedside_reading(window))  # fmt: skip
    assert model_below_bedside(prediction) is below
    assert not model_below_bedside(prediction.model_copy(update={"bedside": None}))
    assert criteria_text(prediction.bedside.high_risk) == "respiratory rate 30/min or more"  # type: ignore[union-attr]
