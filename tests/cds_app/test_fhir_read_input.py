"""The read-only FHIR API answers malformed ids and parameters with 404/400, never 500."""

from __future__ import annotations

from fastapi.testclient import TestClient


def test_absurd_ids_and_parameters_are_clear_errors(client: TestClient) -> None:
    for path in (
        "/fhir/RiskAssessment/" + "9" * 400,
        "/fhir/RiskAssessment/%D9%A3",
        "/fhir/RiskAssessment/0",
        "/fhir/Device/" + "x" * 5000,
    ):
        response = client.get(path)
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
        response = client.get("/fhir/RiskAssessment", params=params)
        assert response.status_code == 400, params
        body = response.json()
        assert body["resourceType"] == "OperationOutcome", params
        assert body["issue"][0]["code"] == "invalid"
