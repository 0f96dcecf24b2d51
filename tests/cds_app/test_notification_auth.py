"""Who may post FHIR notifications: the EHR with the shared secret or a verified client certificate.

Outside loopback mode the receiver never accepts an anonymous notification: with neither a secret
nor the mTLS header configured it refuses them all. (Accepted notifications answer 503 here: no
FHIR server is configured for the re-read; what matters is that they are not 401.)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

from cds_app.app import create_app
from cds_app.settings import Settings
from cds_app.settings.fhir import FhirSettings
from tests.cds_app.conftest import NOTIFICATION_SECRET
from tests.cds_app.fakes import FakeRiskModel

HEARTBEAT: dict[str, Any] = {
    "resourceType": "Bundle",
    "type": "history",
    "entry": [{
        "fullUrl": "urn:uuid:5f0e2a47-0c47-4d7e-9f3a-3b0f5d7c1a21",
        "resource": {"resourceType": "Parameters", "parameter": [
            {"name": "subscription", "valueReference": {"reference": "Subscription/s1"}},
            {"name": "topic", "valueCanonical": "http://example.org/topic/obs"},
            {"name": "status", "valueCode": "active"},
            {"name": "type", "valueCode": "heartbeat"},
        ]},
        "request": {"method": "GET", "url": "Subscription/s1/$status"},
        "response": {"status": "200"},
    }],
}  # fmt: skip


def _post(client: TestClient, headers: dict[str, str]) -> int:
    answer = client.post("/fhir/notifications", json=HEARTBEAT,
                         headers={"Content-Type": "application/fhir+json", **headers})  # fmt: skip
    if answer.status_code == 401:
        assert answer.json()["issue"][0]["code"] == "security"
    return answer.status_code


def _app(settings: Settings, **fhir: str) -> TestClient:
    section = FhirSettings.model_validate({**settings.fhir.model_dump(), **fhir})
    return TestClient(create_app(settings.model_copy(update={"fhir": section}),
                                 model=FakeRiskModel()))  # fmt: skip


def test_the_shared_secret_is_required(
    sqlite_url: str, make_settings: Callable[..., Settings]
) -> None:
    with _app(make_settings(sqlite_url)) as client:
        assert _post(client, {}) == 401
        assert _post(client, {"X-VentFusion-Secret": "wrong"}) == 401
        assert _post(client, {"Authorization": "Bearer wrong"}) == 401
        assert _post(client, {"X-VentFusion-Secret": NOTIFICATION_SECRET}) == 503
        assert _post(client, {"Authorization": f"Bearer {NOTIFICATION_SECRET}"}) == 503


def test_outside_loopback_no_secret_means_every_notification_is_refused(
    sqlite_url: str, make_settings: Callable[..., Settings], caplog: pytest.LogCaptureFixture
) -> None:
    with _app(make_settings(sqlite_url), notification_secret="") as client:
        assert _post(client, {}) == 401
        assert _post(client, {"X-VentFusion-Secret": ""}) == 401
    assert "FHIR notifications are refused" in caplog.text


def test_a_client_certificate_verified_by_the_proxy_is_enough(
    sqlite_url: str, make_settings: Callable[..., Settings]
) -> None:
    settings = make_settings(sqlite_url)
    with _app(settings, notification_secret="",
              notification_client_cert_header="X-SSL-Client-Verify") as client:  # fmt: skip
        assert _post(client, {}) == 401
        assert _post(client, {"X-SSL-Client-Verify": "FAILED:unable to verify"}) == 401
        assert _post(client, {"X-SSL-Client-Verify": "NONE"}) == 401
        assert _post(client, {"X-SSL-Client-Verify": "SUCCESS"}) == 503


def test_loopback_mode_needs_no_secret(
    sqlite_url: str, make_settings: Callable[..., Settings]
) -> None:
    settings = make_settings(sqlite_url, demo=True)  # loopback-only settings
    assert settings.loopback_mode
    with _app(settings, notification_secret="") as client:
        assert _post(client, {}) == 503
