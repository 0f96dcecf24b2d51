"""The read-only FHIR API answers malformed ids and parameters with 404/400, never 500.

With a valid token (the read API requires one), so each malformed request reaches the
validation of ids and parameters rather than the 401 path.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from fastapi.testclient import TestClient

from cds_app.app import create_app
from cds_app.settings import Settings
from tests.cds_app.fakes import FakeRiskModel


@pytest.fixture
def api(db_url: str, read_settings: Callable[..., Settings]) -> Iterator[TestClient]:
    with TestClient(create_app(read_settings(db_url), model=FakeRiskModel())) as client:
        yield client


def test_absurd_ids_and_parameters_are_clear_errors(
    api: TestClient, read_auth: Callable[[], dict[str, str]]
) -> None:
    for path in (
        "/fhir/RiskAssessment/" + "9" * 400,
        "/fhir/RiskAssessment/%D9%A3",
        "/fhir/RiskAssessment/0",
        "/fhir/Device/" + "x" * 5000,
    ):
        response = api.get(path, headers=read_auth())
        assert response.status_code == 404, path
        assert response.json()["resourceType"] == "OperationOutcome"
    for params in (
        {"patient": "pt\x00x"},
        {"patient": "9" * 400},
        {"patient": "Patient/"},
        {"patient": "p1", "_count": "many"},
        {"patient": "p1", "_count": "0"},
        {},
    ):
        response = api.get("/fhir/RiskAssessment", params=params, headers=read_auth())
        assert response.status_code == 400, params
        body = response.json()
        assert body["resourceType"] == "OperationOutcome", params
        assert body["issue"][0]["code"] == "invalid"
