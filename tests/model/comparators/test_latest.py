"""Latest raw values per window, read from an in-memory cohort."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from model.cohort import Cohort, CohortPatient
from model.comparators import ComparatorError
from model.comparators.latest import epoch_hours, latest_values, ventilation_hours

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)


def _at(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


def _cohort() -> Cohort:
    patients = [
        CohortPatient("MRN1", 70.0, "male", T0, _at(100)),
        CohortPatient("MRN2", 55.0, "female", T0, _at(100)),
    ]
    cohort = Cohort(root=Path("/nonexistent"), meta={"synthetic": True}, patients=patients)
    rows = [
        ("MRN1", 1.0, "spo2", 95.0),
        ("MRN1", 5.0, "spo2", 91.0),
        ("MRN1", 5.0, "fio2", 40.0),
        ("MRN1", 3.0, "resp_rate", 24.0),
        ("MRN2", 2.0, "spo2", 88.0),  # MRN2 never has FiO2
        ("MRN2", 2.0, "resp_rate", 31.0),
        ("MRN1", 60.0, "spo2", 85.0),  # after the windows below: must never leak in
    ]
    for key, h, var, value in rows:
        cohort.m_key.append(key)
        cohort.m_time.append(_at(h))
        cohort.m_variable.append(var)
        cohort.m_value.append(value)
    cohort.ventilation_start["MRN1"] = _at(30)
    return cohort


def test_latest_value_at_or_before_the_prediction_time_within_the_lookback() -> None:
    keys = ["MRN1", "MRN1", "MRN1", "MRN2", "MRN1"]
    times = [_at(0.5), _at(4.0), _at(5.0), _at(6.0), _at(54.0)]
    got = latest_values(_cohort(), keys, times, lookback_h=48)
    # 0.5 h: nothing yet; 4 h: SpO2 95 (1 h), no FiO2; 5 h: the 5 h values count (at t);
    # MRN2 at 6 h: its own values only; MRN1 at 54 h: the 5 h SpO2 is 49 h old → stale.
    np.testing.assert_array_equal(got["spo2"], [np.nan, 95.0, 91.0, 88.0, np.nan])
    np.testing.assert_array_equal(got["fio2"], [np.nan, np.nan, 40.0, np.nan, np.nan])
    np.testing.assert_array_equal(got["resp_rate"], [np.nan, 24.0, 24.0, 31.0, np.nan])


def test_ventilation_hours_share_the_window_clock() -> None:
    vent = ventilation_hours(_cohort(), ["MRN1", "MRN2"])
    assert vent[0] - epoch_hours([T0])[0] == pytest.approx(30.0)
    assert np.isnan(vent[1])


def test_naive_times_and_length_mismatch_are_refused() -> None:
    with pytest.raises(ComparatorError, match="time zone"):
        latest_values(_cohort(), ["MRN1"], [datetime(2026, 3, 1, 9, 0)])
    with pytest.raises(ComparatorError, match="one entry per window"):
        latest_values(_cohort(), ["MRN1", "MRN2"], [_at(1)])
