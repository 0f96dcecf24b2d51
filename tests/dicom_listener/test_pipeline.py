"""prepare_film (the decoder process's work): film times that cannot be true are never used."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from pydicom import dcmread

from dicom_listener.facts import PreparedFilm, Rejection, implausible_time
from dicom_listener.pipeline import prepare_film
from tests.dicom_listener.conftest import PATIENT_SYSTEM, listener_config
from tests.dicom_listener.films import PATIENT_ID, make_film

NOW = datetime(2026, 3, 14, 12, 0, tzinfo=UTC)


def prepare(path: Path, tmp_path: Path) -> PreparedFilm | Rejection:
    return prepare_film(path, listener_config(tmp_path / "spool"), 64, now=NOW)


def test_a_chest_film_is_prepared_for_embedding(tmp_path: Path) -> None:
    outcome = prepare(make_film(tmp_path / "f.dcm"), tmp_path)
    assert isinstance(outcome, PreparedFilm)
    assert outcome.pixels.shape == (1, 64, 64)
    assert outcome.pixels.dtype == np.float32
    assert outcome.thumbnail_png.startswith(b"\x89PNG")
    assert outcome.patient_key.system == PATIENT_SYSTEM
    assert outcome.patient_key.value == PATIENT_ID
    assert outcome.acquired_at == datetime(2026, 3, 14, 6, 30, 5, tzinfo=UTC)


@pytest.mark.parametrize(
    ("acquired", "reason"),
    [
        (datetime(9999, 12, 31, 0, 0), "in the future"),
        (NOW.replace(tzinfo=None) + timedelta(hours=2), "in the future"),
        (datetime(1899, 12, 31, 23, 0), "before 1900"),
        (datetime(1000, 1, 1, 0, 0), "before 1900"),
    ],
)
def test_implausible_acquisition_times_are_not_scored(
    tmp_path: Path, acquired: datetime, reason: str
) -> None:
    outcome = prepare(make_film(tmp_path / "f.dcm", acquired=acquired), tmp_path)
    assert isinstance(outcome, Rejection)
    assert reason in outcome.reason
    assert outcome.patient_key is not None  # recorded against the patient, never scored


def test_a_clock_a_little_ahead_is_tolerated(tmp_path: Path) -> None:
    ahead = NOW.replace(tzinfo=None) + timedelta(minutes=20)
    outcome = prepare(make_film(tmp_path / "f.dcm", acquired=ahead), tmp_path)
    assert isinstance(outcome, PreparedFilm)


def test_an_implausible_acquisition_datetime_does_not_fall_back_to_the_study_date(
    tmp_path: Path,
) -> None:
    path = make_film(tmp_path / "f.dcm")
    ds = dcmread(path)
    ds.AcquisitionDateTime = "99991231235959"
    ds.StudyDate, ds.StudyTime = "20260314", "063000"
    ds.save_as(path)
    outcome = prepare(path, tmp_path)
    assert isinstance(outcome, Rejection)
    assert "9999-12-31" in outcome.reason


def test_a_year_9999_time_with_an_offset_is_out_of_range_not_an_error() -> None:
    from datetime import timezone

    late = datetime(9999, 12, 31, 23, 0, tzinfo=timezone(timedelta(hours=-5)))
    assert implausible_time(late, NOW, 3600) is not None


def test_a_bad_patient_id_in_the_spool_is_rejected_before_decoding(tmp_path: Path) -> None:
    path = make_film(tmp_path / "f.dcm")  # e.g. spooled by a version without receipt checks
    ds = dcmread(path)
    ds.PatientID = ["PHIMRN904", "PHIMRN904B"]
    ds.save_as(path)
    outcome = prepare(path, tmp_path)
    assert isinstance(outcome, Rejection)
    assert "PatientID has 2 values" in outcome.reason
    assert outcome.patient_key is None
