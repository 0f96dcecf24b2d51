"""The data-sufficiency rule: no score from a window whose vital signs stopped hours ago."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from model.schemas import Measurement, PatientKey, PatientWindow
from model.sufficiency import hours_since_vital_sign, vital_signs_gap

KEY = PatientKey(system="urn:oid:2.16.840.1.113883.4.1.999.1", value="MRN-7")
AS_OF = datetime(2026, 11, 24, 8, 0, tzinfo=UTC)


def _window(*readings: tuple[str, float, str, float]) -> PatientWindow:
    """``(variable, value, unit, hours before as_of)`` readings (negative: after as_of)."""
    return PatientWindow(
        patient_key=KEY,
        as_of=AS_OF,
        measurements=tuple(
            Measurement(
                patient_key=KEY,
                variable=v,
                value=x,
                unit=u,
                time=AS_OF - timedelta(hours=h),
                source_id=f"Observation/{i}",
            )
            for i, (v, x, u, h) in enumerate(readings)
        ),
    )


def test_recent_vital_sign_passes() -> None:
    window = _window(("spo2", 94, "%", 0.5), ("lactate", 2.0, "mmol/L", 7))
    assert hours_since_vital_sign(window) == 0.5
    assert vital_signs_gap(window, 6) is None


def test_only_old_vitals_or_only_labs_are_a_gap() -> None:
    old = _window(("heart_rate", 90, "/min", 9), ("lactate", 2.0, "mmol/L", 1))
    assert hours_since_vital_sign(old) == 9
    assert vital_signs_gap(old, 6) == "no vital signs charted in the last 6 h (latest 9 h ago)"
    labs = _window(("pao2", 70, "mm[Hg]", 1))
    assert vital_signs_gap(labs, 6) == "no vital signs charted in the lookback window"


def test_a_reading_after_the_prediction_time_does_not_count() -> None:
    window = _window(("resp_rate", 28, "/min", 10), ("resp_rate", 30, "/min", -1))
    assert hours_since_vital_sign(window) == 10


def test_zero_turns_the_check_off() -> None:
    assert vital_signs_gap(_window(), 0) is None
