"""Each package root error is answered at the edge with its status, never a bare 500."""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.exc import OperationalError

from cds_app import CdsAppError
from cds_app.api.errors import install_error_handlers
from cds_app.hooks.errors import BadRequestError, DataUnavailableError
from fhir_adapter.errors import FhirHttpError, MappingError
from model import ModelError

CASES: list[tuple[Exception, int, str]] = [
    (BadRequestError("context.patientId is required"), 400, "invalid_request"),
    (DataUnavailableError("prefetch incomplete"), 412, "precondition_failed"),
    (CdsAppError("could not record the event mark"), 503, "temporarily_unavailable"),
    (ModelError("the checkpoint could not score"), 503, "temporarily_unavailable"),
    (OperationalError("SELECT secret", {}, Exception("down")), 503, "temporarily_unavailable"),
    (FhirHttpError(503, "busy", transient=True), 503, "temporarily_unavailable"),
    (FhirHttpError(422, "refused", transient=False), 502, "bad_gateway"),
    (MappingError("no Bundle"), 502, "bad_gateway"),
]


@pytest.fixture
def client() -> TestClient:
    app = FastAPI()
    install_error_handlers(app)

    @app.get("/cds-services/{case}")
    @app.get("/fhir/RiskAssessment/{case}")
    def fail(case: int) -> None:
        raise CASES[case][0]

    @app.get("/boom")
    def boom() -> None:
        raise RuntimeError("a bug stays a 500")

    return TestClient(app, raise_server_exceptions=False)


@pytest.mark.parametrize("case", range(len(CASES)))
def test_cds_hooks_dialect(client: TestClient, case: int) -> None:
    _, status, error = CASES[case]
    answer = client.get(f"/cds-services/{case}")
    assert answer.status_code == status
    assert answer.json()["error"] == error
    assert "SELECT" not in answer.text  # database errors never echo their SQL


@pytest.mark.parametrize("case", range(len(CASES)))
def test_fhir_dialect_is_an_operation_outcome(client: TestClient, case: int) -> None:
    _, status, _ = CASES[case]
    answer = client.get(f"/fhir/RiskAssessment/{case}")
    assert answer.status_code == status
    assert answer.headers["content-type"] == "application/fhir+json"
    assert answer.json()["resourceType"] == "OperationOutcome"


def test_other_errors_are_not_swallowed(client: TestClient) -> None:
    assert client.get("/boom").status_code == 500
