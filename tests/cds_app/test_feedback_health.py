"""Feedback persisted; health, readiness and metrics."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient

from cds_app.context import AppContext
from tests.cds_app.conftest import SERVICE_URL
from tests.cds_app.hooks_helpers import prefetch_call
from tests.support.ehr import TestEhr

FEEDBACK_URL = f"{SERVICE_URL}/feedback"


def _feedback(client: TestClient, ehr: TestEhr, body: object, aud: str = FEEDBACK_URL) -> int:
    token = ehr.token(aud)
    response = client.post(
        "/cds-services/ventfusion-patient-view/feedback",
        json=body,
        headers={"Authorization": f"Bearer {token}"},
    )
    return response.status_code


def test_feedback_is_persisted(client: TestClient, ehr: TestEhr) -> None:
    (card,) = prefetch_call(client, ehr, "pt-fb1", "MRN-FB1", severity=1.0).json()["cards"]
    suggestion = card["suggestions"][0]["uuid"]
    soon = datetime.now(UTC) + timedelta(seconds=5)
    accepted = {
        "feedback": [
            {
                "card": card["uuid"],
                "outcome": "accepted",
                "acceptedSuggestions": [{"id": suggestion}],
                "outcomeTimestamp": soon.strftime("%Y-%m-%dT%H:%M:%SZ"),
            }
        ]
    }
    overridden = {
        "feedback": [
            {
                "card": card["uuid"],
                "outcome": "overridden",
                "overrideReason": {
                    "reason": {
                        "code": "already-addressed",
                        "system": "urn:ventfusion:cds:override-reason",
                    },
                    "userComment": "Film ordered by phone",
                },
                "outcomeTimestamp": soon.isoformat(timespec="milliseconds"),
            }
        ]
    }
    assert _feedback(client, ehr, accepted) == 200
    assert _feedback(client, ehr, overridden, aud=SERVICE_URL) == 200  # service URL as aud
    ctx: AppContext = client.app.state.ctx  # type: ignore[attr-defined]
    rows = ctx.card_log.feedback(card["uuid"])
    assert [r.outcome for r in rows] == ["accepted", "overridden"]
    assert rows[0].accepted_suggestions == [suggestion]
    assert rows[1].override_reason == {
        "reason": {"code": "already-addressed", "system": "urn:ventfusion:cds:override-reason"},
        "userComment": "Film ordered by phone",
    }
    assert rows[0].issuer == ehr.issuer


def test_invalid_feedback_is_400_and_unauthenticated_is_401(
    client: TestClient, ehr: TestEhr
) -> None:
    missing = {"feedback": [{"card": "x", "outcome": "accepted", "outcomeTimestamp": "2026"}]}
    assert _feedback(client, ehr, missing) == 400
    assert _feedback(client, ehr, {"feedback": [{"card": "x"}]}) == 400
    response = client.post("/cds-services/ventfusion-patient-view/feedback", json={})
    assert response.status_code == 401


def test_health_ready_and_metrics(client: TestClient, ehr: TestEhr) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/readyz").json() == {"status": "ready"}
    prefetch_call(client, ehr, "pt-m", "MRN-M", severity=1.0)
    client.get("/cds-services")  # a 401
    text = client.get("/metrics").text
    assert 'ventfusion_hook_calls_total{endpoint="patient-view",status="200"} 1.0' in text
    assert "ventfusion_auth_failures_total 1.0" in text
    assert 'ventfusion_cards_total{indicator="warning"} 1.0' in text
    assert "ventfusion_hook_latency_seconds_count 1.0" in text
