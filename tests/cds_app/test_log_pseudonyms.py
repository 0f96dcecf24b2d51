"""The app's own log lines name patients by the keyed pseudonym of its configured key."""

from __future__ import annotations

import logging

import pytest
from fastapi.testclient import TestClient

from cds_app.logging_setup import Pseudonymiser
from model.schemas import PatientKey
from tests.cds_app.conftest import PSEUDONYM_KEY
from tests.cds_app.hooks_helpers import prefetch_call
from tests.support.ehr import MRN_SYSTEM, TestEhr


def test_hook_and_scoring_logs_use_the_configured_key(
    client: TestClient, ehr: TestEhr, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="cds_app")
    assert prefetch_call(client, ehr, "pt-log", "MRN-SECRET-77", severity=0.5).status_code == 200
    logged = "\n".join(r.getMessage() for r in caplog.records)
    token = Pseudonymiser(PSEUDONYM_KEY.encode())(
        PatientKey(system=MRN_SYSTEM, value="MRN-SECRET-77")
    )
    assert f"patient-view {token}" in logged
    assert f"scored {token}" in logged
    assert "MRN-SECRET-77" not in logged
