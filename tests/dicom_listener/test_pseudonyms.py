"""The listener logs patients only through the pseudonymiser it is given, never the PatientID."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from dicom_listener.directory_sink import DirectoryFilmSink
from dicom_listener.processing import ModelFilmProcessor
from dicom_listener.server import start_listener
from model.schemas import PatientKey
from tests.dicom_listener.films import make_film
from tests.dicom_listener.scu import store_files

from .conftest import PATIENT_SYSTEM, StatsModel, listener_config

MRN = "MRN-LOGGED-NEVER"


def test_film_log_lines_carry_the_given_pseudonym_not_the_mrn(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    seen: list[PatientKey | str] = []

    def pseudonymise(key: PatientKey | str) -> str:
        seen.append(key)
        return "pt-keyedtoken0001"

    caplog.set_level(logging.INFO, logger="dicom_listener")
    sink = DirectoryFilmSink(tmp_path / "out")
    running = start_listener(
        listener_config(tmp_path / "spool"), ModelFilmProcessor(StatsModel()), sink,
        pseudonymise=pseudonymise,
    )  # fmt: skip
    try:
        chest = make_film(tmp_path / "chest.dcm", patient_id=MRN)
        knee = make_film(tmp_path / "knee.dcm", patient_id=MRN, body_part="KNEE")
        assert store_files(running.port, [chest, knee]) == [0x0000, 0x0000]
        assert running.wait_idle(60)
    finally:
        running.stop()
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "processed" in logged
    assert "not scored" in logged
    assert logged.count("pt-keyedtoken0001") == 2
    assert MRN not in logged
    assert seen == [PatientKey(system=PATIENT_SYSTEM, value=MRN)] * 2
