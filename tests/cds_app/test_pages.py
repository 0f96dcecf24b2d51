"""Risk page: demo access, SMART EHR launch with PKCE, thumbnails, model card, audit."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import httpx
from fastapi.testclient import TestClient

from cds_app.app import create_app
from cds_app.context import AppContext
from cds_app.settings import Settings
from tests.cds_app.conftest import BASE_URL
from tests.cds_app.fakes import FakeRiskModel
from tests.cds_app.page_data import FILM_UID, KEY, seed_patient

EHR_FHIR = "https://ehr.example.org/fhir"


def _ctx(client: TestClient) -> AppContext:
    ctx: AppContext = client.app.state.ctx  # type: ignore[attr-defined]
    return ctx


def test_demo_mode_serves_the_page_directly(
    sqlite_url: str, make_settings: Callable[..., Settings]
) -> None:
    with TestClient(create_app(make_settings(sqlite_url, demo=True), model=FakeRiskModel())) as c:
        seed_patient(_ctx(c))
        page = c.get("/risk", params={"key": str(KEY)})
        thumb = c.get(f"/films/{FILM_UID}/thumbnail.png", params={"key": str(KEY)})
        other = c.get(f"/films/{FILM_UID}/thumbnail.png", params={"key": "urn:x|other"})
        audit = _ctx(c).card_log.audit_events(action="page-viewed")
    assert page.status_code == 200
    html = page.text
    assert '<svg id="risk-chart"' in html
    assert 'id="risk-line"' in html
    assert "FiO2 up to 60% over 6 h" in html
    assert "Chest film from 3 h ago adds" in html
    assert f"films/{FILM_UID}/thumbnail.png" in html
    assert thumb.status_code == 200
    assert thumb.content.startswith(b"\x89PNG")
    assert other.status_code == 404
    assert [(a.actor, a.patient_key) for a in audit] == [("demo", str(KEY))]


def test_an_old_assessment_is_not_shown_as_the_current_risk(
    sqlite_url: str, make_settings: Callable[..., Settings]
) -> None:
    with TestClient(create_app(make_settings(sqlite_url, demo=True), model=FakeRiskModel())) as c:
        seed_patient(_ctx(c), now=datetime.now(UTC) - timedelta(hours=10))  # then data stopped
        html = c.get("/risk", params={"key": str(KEY)}).text
    assert 'id="probability"' not in html
    assert 'id="no-current-risk"' in html
    assert "the latest assessment is 10 h old" in html
    assert '<svg id="risk-chart"' in html  # the trend up to then is still shown


def test_page_needs_a_smart_session_outside_demo(client: TestClient) -> None:
    assert client.get("/risk", params={"key": str(KEY)}).status_code == 403
    assert (
        client.get(f"/films/{FILM_UID}/thumbnail.png", params={"key": str(KEY)}).status_code == 403
    )


class FakeAuthServer:
    """The EHR's SMART authorization server: checks PKCE on the token request."""

    def __init__(self) -> None:
        self.challenge = ""
        self.token_form: dict[str, list[str]] = {}

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/.well-known/smart-configuration"):
            return httpx.Response(
                200,
                json={
                    "authorization_endpoint": "https://ehr.example.org/auth/authorize",
                    "token_endpoint": "https://ehr.example.org/auth/token",
                    "code_challenge_methods_supported": ["S256"],
                    "capabilities": ["launch-ehr", "client-public"],
                },
            )
        if request.url.path == "/auth/token":
            self.token_form = parse_qs(request.content.decode())
            verifier = self.token_form["code_verifier"][0]
            digest = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
            if digest.rstrip(b"=").decode() != self.challenge:
                return httpx.Response(400, json={"error": "invalid_grant"})
            return httpx.Response(
                200,
                json={
                    "access_token": "at-1",
                    "token_type": "Bearer",
                    "expires_in": 300,
                    "scope": "launch patient/Patient.rs",
                    "patient": "pt-page",
                    "appContext": '{"patient":"pt-page","prediction":1}',
                    "fhirUser": "Practitioner/dr-lee",
                },
            )
        return httpx.Response(404)


def test_smart_ehr_launch_with_pkce_opens_the_patient_page(
    sqlite_url: str, make_settings: Callable[..., Settings]
) -> None:
    auth = FakeAuthServer()
    app = create_app(
        make_settings(sqlite_url),
        model=FakeRiskModel(),
        smart_transport=httpx.MockTransport(auth),
    )
    with TestClient(app, base_url=BASE_URL) as c:
        seed_patient(_ctx(c))
        launch = c.get(
            "/smart/launch", params={"iss": EHR_FHIR, "launch": "xyz123"}, follow_redirects=False
        )
        assert launch.status_code == 302
        target = urlsplit(launch.headers["location"])
        query = {k: v[0] for k, v in parse_qs(target.query).items()}
        assert target.path == "/auth/authorize"
        assert query["code_challenge_method"] == "S256"
        assert query["launch"] == "xyz123"
        assert query["aud"] == EHR_FHIR
        assert query["redirect_uri"] == f"{BASE_URL}/smart/callback"
        auth.challenge = query["code_challenge"]
        bad = c.get(
            "/smart/callback", params={"code": "c", "state": "forged"}, follow_redirects=False
        )
        assert bad.status_code == 400
        callback = c.get(
            "/smart/callback",
            params={"code": "code-1", "state": query["state"]},
            follow_redirects=False,
        )
        assert callback.status_code == 302
        assert callback.headers["location"].startswith(f"{BASE_URL}/risk?key=")
        page = c.get(callback.headers["location"])
        assert page.status_code == 200
        assert '<svg id="risk-chart"' in page.text
        # the session is bound to the launched patient only
        assert c.get("/risk", params={"key": "urn:x|someone-else"}).status_code == 403
        audit = _ctx(c).card_log.audit_events(action="page-viewed")
    assert auth.token_form["grant_type"] == ["authorization_code"]
    assert [(a.actor, a.patient_key) for a in audit] == [("Practitioner/dr-lee", str(KEY))]


def test_model_card_page(client: TestClient) -> None:
    page = client.get("/model-card")
    assert page.status_code == 200
    assert "fake-gated" in page.text


def test_read_only_fhir_endpoint(client: TestClient) -> None:
    seed_patient(_ctx(client))
    bundle = client.get("/fhir/RiskAssessment", params={"patient": "Patient/pt-page"}).json()
    assert bundle["resourceType"] == "Bundle"
    assert bundle["total"] == 13
    newest = bundle["entry"][0]["resource"]
    assert newest["resourceType"] == "RiskAssessment"
    assert newest["subject"] == {"reference": "Patient/pt-page"}
    assert newest["prediction"][0]["outcome"]["coding"][0]["code"] == "40617009"
    one = client.get(f"/fhir/RiskAssessment/{newest['id']}")
    assert one.headers["content-type"] == "application/fhir+json"
    assert one.json() == newest
    device = client.get(f"/fhir/{newest['performer']['reference']}")
    assert device.status_code == 200
    assert device.json()["resourceType"] == "Device"
    assert client.get("/fhir/RiskAssessment/999999").status_code == 404
    assert client.get("/fhir/RiskAssessment", params={"patient": "nobody"}).json()["total"] == 0
    assert client.post("/fhir/RiskAssessment/1").status_code == 405  # read-only
    assert client.get("/fhir/metadata").json()["resourceType"] == "CapabilityStatement"
