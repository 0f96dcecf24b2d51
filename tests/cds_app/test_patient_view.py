"""patient-view: prefetch, FHIR fallback and 412; cards for high, medium and low risk."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import numpy as np
import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from cds_app.app import create_app
from cds_app.context import AppContext
from cds_app.db.tables import AuditRow, OutboxRow, PredictionRow
from cds_app.settings import Settings
from model.schemas import ChestFilm, PatientKey
from tests.cds_app.conftest import BASE_URL
from tests.cds_app.fakes import FakeRiskModel
from tests.cds_app.hooks_helpers import call_hook, discovery, prefetch_call
from tests.support.ehr import (
    MRN_SYSTEM,
    TestEhr,
    full_prefetch,
    hook_request,
    patient,
    searchset,
    ward_observations,
)


def _ctx(client: TestClient) -> AppContext:
    ctx: AppContext = client.app.state.ctx  # type: ignore[attr-defined]
    return ctx


def _add_film(client: TestClient, mrn: str, hours_ago: float, uid: str) -> None:
    rng = np.random.default_rng(0)
    film = ChestFilm(
        patient_key=PatientKey(system=MRN_SYSTEM, value=mrn),
        acquired_at=datetime.now(UTC) - timedelta(hours=hours_ago),
        sop_instance_uid=uid,
        pixels=rng.random((1, 64, 64), dtype=np.float32),
    )
    assert _ctx(client).film_sink.add_film(film)


def assert_spec_clean(value: Any, path: str = "$") -> None:
    """No null, empty string, empty list or empty object anywhere in a response."""
    assert value is not None, f"null at {path}"
    if isinstance(value, str):
        assert value, f"empty string at {path}"
    elif isinstance(value, list):
        assert value, f"empty array at {path}"
        for i, item in enumerate(value):
            assert_spec_clean(item, f"{path}[{i}]")
    elif isinstance(value, dict):
        assert value, f"empty object at {path}"
        for key, item in value.items():
            assert_spec_clean(item, f"{path}.{key}")


def _check_card(card: dict[str, Any]) -> None:
    assert_spec_clean(card)
    assert len(card["summary"]) < 140
    assert card["indicator"] in {"info", "warning", "critical"}
    assert card["source"]["label"]
    assert card["source"]["url"] == f"{BASE_URL}/model-card"
    assert len(card["uuid"]) == 36
    (link,) = card["links"]
    assert link["type"] == "smart"
    assert link["url"] == f"{BASE_URL}/smart/launch"
    assert '"patient"' in link["appContext"]


def test_no_recent_vital_signs_gives_a_not_estimated_card_and_no_risk(
    client: TestClient, ehr: TestEhr
) -> None:
    stale = datetime.now(UTC) - timedelta(hours=10)  # the interface stopped 10 h ago
    prefetch = full_prefetch("pt-stale", "MRN-STALE", now=stale, severity=1.0)
    response = call_hook(client, ehr, hook_request("pt-stale", prefetch=prefetch))
    assert response.status_code == 200
    (card,) = response.json()["cards"]
    assert_spec_clean(card)
    assert card["indicator"] == "info"
    assert card["summary"] == "Ventilation risk not estimated: no recent vital signs"
    assert "latest 10 h ago" in card["detail"]
    assert "%" not in card["summary"] + card["detail"]  # no number from stale data
    with Session(_ctx(client).db) as session:
        assert session.exec(select(PredictionRow)).all() == []
        assert session.exec(select(OutboxRow)).all() == []
        actions = [a.action for a in session.exec(select(AuditRow)).all()]
    assert actions == ["hook-not-scored"]


def test_high_risk_with_recent_film(client: TestClient, ehr: TestEhr) -> None:
    _add_film(client, "MRN-HIGH", hours_ago=3, uid="1.2.826.0.1.3680043.8.498.1001")
    response = prefetch_call(client, ehr, "pt-high", "MRN-HIGH", severity=1.0)
    assert response.status_code == 200
    (card,) = response.json()["cards"]
    _check_card(card)
    assert card["indicator"] == "critical"
    assert card["summary"].startswith("High risk of intubation within 24 h: ")
    assert "FiO2 up to 60% over 6 h" in card["detail"]
    assert "RR 32/min" in card["detail"]
    assert "Chest film from 3 h ago adds " in card["detail"]
    assert "suggestions" not in card  # a film in the last 24 h: nothing to order
    assert {r["code"] for r in card["overrideReasons"]} >= {"already-addressed"}


def test_medium_risk_without_film_suggests_a_portable_chest_film(
    client: TestClient, ehr: TestEhr
) -> None:
    response = prefetch_call(client, ehr, "pt-med", "MRN-MED", severity=1.0)
    (card,) = response.json()["cards"]
    _check_card(card)
    assert card["indicator"] == "warning"
    assert "No chest film" in card["detail"]
    assert card["selectionBehavior"] == "at-most-one"
    (suggestion,) = card["suggestions"]
    (action,) = suggestion["actions"]
    assert action["type"] == "create"
    request = action["resource"]
    assert request["resourceType"] == "ServiceRequest"
    assert request["subject"] == {"reference": "Patient/pt-med"}
    assert request["intent"] == "proposal"


def test_old_film_at_elevated_risk_still_suggests_a_new_one(
    client: TestClient, ehr: TestEhr
) -> None:
    _add_film(client, "MRN-OLD", hours_ago=30, uid="1.2.826.0.1.3680043.8.498.1002")
    (card,) = prefetch_call(client, ehr, "pt-old", "MRN-OLD", severity=1.0).json()["cards"]
    assert card["indicator"] == "critical"
    assert "Chest film from 30 h ago" in card["detail"]
    assert card["suggestions"][0]["label"] == "Order a portable chest X-ray"


def test_low_risk_gives_no_card_by_default(client: TestClient, ehr: TestEhr) -> None:
    response = prefetch_call(client, ehr, "pt-low", "MRN-LOW", severity=0.0)
    assert response.status_code == 200
    assert response.json() == {"cards": []}


def test_low_risk_info_card_when_configured(
    sqlite_url: str, make_settings: Callable[..., Settings], ehr: TestEhr
) -> None:
    settings = make_settings(sqlite_url, low_risk_card=True)
    with TestClient(create_app(settings, model=FakeRiskModel())) as client:
        (card,) = prefetch_call(client, ehr, "pt-low", "MRN-LOW", 0.0).json()["cards"]
    _check_card(card)
    assert card["indicator"] == "info"
    assert card["summary"].startswith("Low risk")
    assert "overrideReasons" not in card


def test_change_since_last_assessment(client: TestClient, ehr: TestEhr) -> None:
    prefetch_call(client, ehr, "pt-chg", "MRN-CHG", severity=0.6)
    (card,) = prefetch_call(client, ehr, "pt-chg", "MRN-CHG", severity=1.0).json()["cards"]
    assert " points since " in card["summary"]
    assert "+" in card["summary"]


def test_predictions_audit_and_outbox_are_recorded(client: TestClient, ehr: TestEhr) -> None:
    prefetch_call(client, ehr, "pt-rec", "MRN-REC", severity=1.0)
    with Session(_ctx(client).db) as session:
        (prediction,) = session.exec(
            select(PredictionRow).where(PredictionRow.patient_key == f"{MRN_SYSTEM}|MRN-REC")
        ).all()
        audit = session.exec(select(AuditRow)).all()
        outbox = session.exec(select(OutboxRow)).all()
    assert prediction.trigger == "patient-view"
    assert any(
        a.action == "card-viewed" and "Practitioner/dr-lee" in a.actor and a.patient_key
        for a in audit
    )
    assert [o.kind for o in outbox] == ["risk-assessment"]
    assert outbox[0].payload["probability"] == pytest.approx(prediction.probability)


def test_discovery_lists_patient_view_with_prefetch(client: TestClient, ehr: TestEhr) -> None:
    (service,) = discovery(client, ehr).json()["services"]
    assert service["hook"] == "patient-view"
    assert service["id"] == "ventfusion-patient-view"
    assert service["prefetch"]["patient"] == "Patient/{{context.patientId}}"
    assert "category=vital-signs" in service["prefetch"]["vitals"]
    assert "category=laboratory" in service["prefetch"]["labs"]
    assert_spec_clean(service)


def test_unknown_service_and_bad_bodies(client: TestClient, ehr: TestEhr) -> None:
    token = ehr.token(f"{BASE_URL}/cds-services/nope")
    response = client.post(
        "/cds-services/nope", json={}, headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 404
    bad = call_hook(client, ehr, {"hook": "patient-view", "context": {"patientId": "x"}})
    assert bad.status_code == 400
    wrong_hook = call_hook(client, ehr, {**hook_request("x"), "hook": "order-sign"})
    assert wrong_hook.status_code == 400


# -- FHIR fallback and 412 -------------------------------------------------------------------


class FakeEhrFhir:
    """The EHR's FHIR server for the fallback path (records what it was asked)."""

    def __init__(self, *, fail: bool = False, delay_s: float = 0.0) -> None:
        self.fail = fail
        self.delay_s = delay_s
        self.requests: list[httpx.Request] = []
        now = datetime.now(UTC)
        self.observations = ward_observations("pt-fb", now=now, severity=1.0)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.delay_s:
            raise httpx.ReadTimeout("slow EHR", request=request)
        if self.fail:
            return httpx.Response(503, json={"resourceType": "OperationOutcome"})
        if request.url.path.endswith("/Patient/pt-fb"):
            return httpx.Response(200, json=patient("pt-fb", "MRN-FB"))
        if request.url.path.endswith("/Observation"):
            category = request.url.params.get("category")
            page = int(request.url.params.get("page", "0"))
            matching = [
                o for o in self.observations if o["category"][0]["coding"][0]["code"] == category
            ]
            chunk = matching[page * 100 : (page + 1) * 100]
            bundle = searchset(chunk)
            if (page + 1) * 100 < len(matching):
                bundle["link"] = [
                    {
                        "relation": "next",
                        "url": f"https://ehr.example.org/fhir/Observation?category={category}"
                        f"&page={page + 1}",
                    }
                ]
            return httpx.Response(200, json=bundle)
        return httpx.Response(404)


def _fallback_client(
    url: str, make_settings: Callable[..., Settings], fhir: FakeEhrFhir
) -> TestClient:
    app = create_app(
        make_settings(url, fhir_timeout_s=1.0),
        model=FakeRiskModel(),
        hook_fhir_transport=httpx.MockTransport(fhir),
    )
    return TestClient(app)


def test_fhir_server_fallback_when_prefetch_is_missing(
    db_url: str, make_settings: Callable[..., Settings], ehr: TestEhr
) -> None:
    fhir = FakeEhrFhir()
    body = hook_request(
        "pt-fb", fhir_server="https://ehr.example.org/fhir", access_token="opaque-token-123"
    )
    with _fallback_client(db_url, make_settings, fhir) as client:
        response = call_hook(client, ehr, body)
    assert response.status_code == 200
    (card,) = response.json()["cards"]
    assert "FiO2 up to 60% over 6 h" in card["detail"]
    assert all(r.headers["authorization"] == "Bearer opaque-token-123" for r in fhir.requests)
    paths = [r.url.path for r in fhir.requests]
    assert "/fhir/Patient/pt-fb" in paths
    assert sum(p.endswith("/Observation") for p in paths) >= 3  # vitals paged + labs


def test_partial_prefetch_fetches_only_what_is_missing(
    sqlite_url: str, make_settings: Callable[..., Settings], ehr: TestEhr
) -> None:
    fhir = FakeEhrFhir()
    prefetch = {"patient": patient("pt-fb", "MRN-FB"), "labs": searchset([])}  # vitals absent
    body = hook_request(
        "pt-fb",
        prefetch=prefetch,
        fhir_server="https://ehr.example.org/fhir",
        access_token="tok",
    )
    with _fallback_client(sqlite_url, make_settings, fhir) as client:
        assert call_hook(client, ehr, body).status_code == 200
    assert {r.url.params.get("category") for r in fhir.requests} == {"vital-signs"}


@pytest.mark.parametrize(
    ("fhir", "with_server"),
    [
        (FakeEhrFhir(fail=True), True),
        (FakeEhrFhir(delay_s=5.0), True),
        (FakeEhrFhir(), False),
    ],
    ids=["ehr-503", "ehr-timeout", "no-fhir-server"],
)
def test_412_when_data_cannot_be_had(
    sqlite_url: str,
    make_settings: Callable[..., Settings],
    ehr: TestEhr,
    fhir: FakeEhrFhir,
    with_server: bool,
) -> None:
    body = hook_request(
        "pt-fb",
        fhir_server="https://ehr.example.org/fhir" if with_server else None,
        access_token="tok" if with_server else None,
    )
    with _fallback_client(sqlite_url, make_settings, fhir) as client:
        response = call_hook(client, ehr, body)
    assert response.status_code == 412
    assert response.json()["error"] == "precondition_failed"


def test_shadow_mode_records_but_shows_nothing(
    sqlite_url: str, make_settings: Callable[..., Settings], ehr: TestEhr
) -> None:
    settings = make_settings(sqlite_url, demo=True)
    settings = settings.model_copy(
        update={"model": settings.model.model_copy(update={"shadow_mode": True})}
    )
    with TestClient(create_app(settings, model=FakeRiskModel())) as client:
        response = prefetch_call(client, ehr, "pt-sh", "MRN-SH", severity=1.0)
        page = client.get("/risk", params={"key": f"{MRN_SYSTEM}|MRN-SH"})
        (row,) = _ctx(client).outbox.rows()
    assert response.json() == {"cards": []}
    assert row.payload["ra_status"] == "preliminary"
    assert row.payload["fhir_patient_id"] == "pt-sh"
    assert 'id="shadow-note"' in page.text
    assert "risk-chart" not in page.text
