"""patient-view consistency: the right patient, one answer per hookInstance, spec-exact prefetch."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from cds_app.app import create_app
from cds_app.context import AppContext
from cds_app.db.tables import AuditRow, OutboxRow, PredictionRow
from cds_app.settings import Settings
from tests.cds_app.conftest import SERVICE_URL
from tests.cds_app.fakes import FakeRiskModel
from tests.cds_app.hooks_helpers import call_hook
from tests.support.ehr import (
    MRN_SYSTEM,
    TestEhr,
    full_prefetch,
    hook_request,
    observation,
    patient,
    searchset,
)


def _ctx(client: TestClient) -> AppContext:
    ctx: AppContext = client.app.state.ctx  # type: ignore[attr-defined]
    return ctx


def _rows(client: TestClient, table: type[Any]) -> list[Any]:
    with Session(_ctx(client).db) as session:
        return list(session.exec(select(table)).all())


def _body(patient_id: str = "pt-c", mrn: str = "MRN-C", **prefetch: Any) -> dict[str, Any]:
    full = full_prefetch(patient_id, mrn, now=datetime.now(UTC), severity=1.0)
    return hook_request(patient_id, prefetch={**full, **prefetch})


def test_prefetched_patient_of_another_id_is_412(client: TestClient, ehr: TestEhr) -> None:
    response = call_hook(client, ehr, _body(patient=patient("pt-other", "MRN-OTHER")))
    assert response.status_code == 412
    assert "Patient/pt-other" in response.json()["error_description"]
    assert "context.patientId is pt-c" in response.json()["error_description"]
    assert _rows(client, PredictionRow) == []


def test_observations_of_another_subject_are_dropped_and_counted(
    client: TestClient, ehr: TestEhr, fake_model: FakeRiskModel
) -> None:
    now = datetime.now(UTC)
    body = _body()
    foreign = [observation(f"x{i}", "pt-other", "fio2", 100, now) for i in range(3)]
    body["prefetch"]["vitals"]["entry"].extend(searchset(foreign)["entry"])
    assert call_hook(client, ehr, body).status_code == 200
    (window,) = fake_model.windows
    assert max(m.value for m in window.measurements if m.variable == "fio2") == 60  # not 100
    (audit,) = [a for a in _rows(client, AuditRow) if a.action == "card-viewed"]
    assert "dropped=3" in audit.detail


def test_a_malformed_observation_is_one_rejection_not_a_failed_call(
    client: TestClient, ehr: TestEhr, fake_model: FakeRiskModel
) -> None:
    body = _body()
    entries = body["prefetch"]["vitals"]["entry"]
    entries[0]["resource"]["code"]["coding"][0]["code"] = ["8867-4"]  # a list where a code is
    entries[1]["resource"]["valueQuantity"] = 88  # an int where an object is
    del entries[2]["resource"]["id"]
    assert call_hook(client, ehr, body).status_code == 200
    (audit,) = [a for a in _rows(client, AuditRow) if a.action == "card-viewed"]
    assert "dropped=3" in audit.detail
    assert len(fake_model.windows[0].measurements) > 400


def test_repeated_hook_instance_returns_the_first_answer_once_recorded(
    client: TestClient, ehr: TestEhr, fake_model: FakeRiskModel
) -> None:
    body = _body()
    first = call_hook(client, ehr, body)
    again = [call_hook(client, ehr, body) for _ in range(3)]
    assert first.status_code == 200
    assert all(r.json() == first.json() for r in again)
    assert fake_model.calls == 1
    assert len(_rows(client, PredictionRow)) == 1
    assert len(_rows(client, OutboxRow)) == 1
    assert [a.action for a in _rows(client, AuditRow)].count("hook-repeated") == 3
    other = {**body, "context": {**body["context"], "patientId": "pt-x"}}
    reused = call_hook(client, ehr, other)
    assert reused.status_code == 400
    assert "another patient" in reused.json()["error_description"]


def test_concurrent_duplicates_record_one_prediction(client: TestClient, ehr: TestEhr) -> None:
    body = _body("pt-race", "MRN-RACE")
    tokens = [ehr.token(SERVICE_URL) for _ in range(6)]
    answers: list[httpx.Response] = []
    start = threading.Barrier(len(tokens))

    def send(token: str) -> None:
        start.wait()
        answers.append(
            client.post(
                "/cds-services/ventfusion-patient-view",
                json=body,
                headers={"Authorization": f"Bearer {token}"},
            )
        )

    threads = [threading.Thread(target=send, args=(t,)) for t in tokens]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert {r.status_code for r in answers} == {200}
    assert len({json.dumps(r.json(), sort_keys=True) for r in answers}) == 1
    assert len(_rows(client, PredictionRow)) == 1
    assert len(_rows(client, OutboxRow)) == 1


def test_null_prefetch_keys_mean_no_data(client: TestClient, ehr: TestEhr) -> None:
    """CDS Hooks 2.0: a key the client had no data for is null, not absent (no 412)."""
    response = call_hook(client, ehr, _body(labs=None))
    assert response.status_code == 200
    assert response.json()["cards"]


def test_null_patient_and_client_errors_are_412(client: TestClient, ehr: TestEhr) -> None:
    null_patient = call_hook(client, ehr, _body(patient=None))
    assert null_patient.status_code == 412
    assert "prefetch.patient is null" in null_patient.json()["error_description"]
    issue = {"severity": "error", "code": "timeout", "diagnostics": "lab system down"}
    outcome = {"resourceType": "OperationOutcome", "issue": [issue]}
    failed = call_hook(client, ehr, _body(labs=outcome))
    assert failed.status_code == 412
    assert "could not prefetch labs: error: lab system down" in failed.json()["error_description"]


def test_malformed_requests_are_400_with_the_reason(client: TestClient, ehr: TestEhr) -> None:
    cases = {
        "patientId with a NUL byte": {**_body(), "context": {"patientId": "pt\x00c"}},
        "patientId of 400 digits": {**_body(), "context": {"patientId": "9" * 400}},
        "prefetch patient not a Patient": _body(patient=searchset([])),
        "vitals not a Bundle": _body(vitals=patient("pt-c", "MRN-C")),
        "entry not a list": _body(vitals={"resourceType": "Bundle", "entry": 5}),
        "hookInstance an int": {**_body(), "hookInstance": 7},
        "fhirServer not a URL": {
            **hook_request("pt-c", fhir_server="ht!tp://[::1", access_token="tok")
        },
    }
    for name, body in cases.items():
        response = call_hook(client, ehr, body)
        assert response.status_code == 400, name
        assert response.json()["error"] == "invalid_request", name
        assert response.json()["error_description"], name


def test_lowercase_bearer_scheme_is_accepted(client: TestClient, ehr: TestEhr) -> None:
    response = client.post(
        "/cds-services/ventfusion-patient-view",
        json=_body(),
        headers={"Authorization": f"bearer {ehr.token(SERVICE_URL)}"},
    )
    assert response.status_code == 200


def test_jwt_without_typ_is_refused(client: TestClient, ehr: TestEhr) -> None:
    response = call_hook(client, ehr, _body(), typ=None)
    assert response.status_code == 401
    assert "typ" in response.json()["error_description"]
    assert call_hook(client, ehr, _body(), typ="JOSE").status_code == 401


def test_the_service_honours_the_local_code_table(
    sqlite_url: str, make_settings: Callable[..., Settings], ehr: TestEhr, tmp_path: Path
) -> None:
    table = tmp_path / "local-codes.json"
    table.write_text(
        json.dumps([{"system": "urn:oid:1.2.3.4", "code": "R-FIO2", "variable": "fio2"}])
    )
    settings = make_settings(sqlite_url)
    settings = settings.model_copy(
        update={"fhir": settings.fhir.model_copy(update={"local_codes_file": table})}
    )
    model = FakeRiskModel()
    body = _body("pt-l", "MRN-L")
    local = observation("local-1", "pt-l", "fio2", 80, datetime.now(UTC))
    local["code"] = {"coding": [{"system": "urn:oid:1.2.3.4", "code": "R-FIO2"}]}
    body["prefetch"]["vitals"]["entry"].extend(searchset([local])["entry"])
    with TestClient(create_app(settings, model=model)) as client:
        assert call_hook(client, ehr, body).status_code == 200
    (window,) = model.windows
    assert any(m.source_id.startswith("Observation/local-1/") for m in window.measurements)
    assert str(window.patient_key) == f"{MRN_SYSTEM}|MRN-L"
