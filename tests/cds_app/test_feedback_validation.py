"""Feedback is accepted only about cards issued to the caller, at sane times, in sane amounts."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from cds_app.app import create_app
from cds_app.context import AppContext
from cds_app.settings import Settings
from tests.cds_app.conftest import SERVICE_URL
from tests.cds_app.fakes import FakeRiskModel
from tests.cds_app.hooks_helpers import prefetch_call
from tests.support.ehr import ISSUER, TestEhr

FEEDBACK_URL = f"{SERVICE_URL}/feedback"
OTHER_ISSUER = "https://other-ehr.example.net/"


def _post(client: TestClient, ehr: TestEhr, body: object) -> tuple[int, str]:
    response = client.post(
        "/cds-services/ventfusion-patient-view/feedback",
        json=body,
        headers={"Authorization": f"Bearer {ehr.token(FEEDBACK_URL)}"},
    )
    return response.status_code, response.json().get("error_description", "")


def _entry(card: str, stamp: str | None = None, **extra: Any) -> dict[str, Any]:
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {"card": card, "outcome": "overridden", "outcomeTimestamp": stamp or now, **extra}


@pytest.fixture
def two_ehrs(
    sqlite_url: str, make_settings: Callable[..., Settings], ehr: TestEhr, jwks_path: Path,
    tmp_path: Path,
) -> tuple[TestClient, TestEhr, TestEhr]:  # fmt: skip
    other = TestEhr(issuer=OTHER_ISSUER)
    other_jwks = other.write_jwks(tmp_path / "other-jwks.json")
    settings = make_settings(
        sqlite_url, trusted_issuers={ISSUER: str(jwks_path), OTHER_ISSUER: str(other_jwks)}
    )
    return TestClient(create_app(settings, model=FakeRiskModel())), ehr, other


def test_feedback_checks_card_issuer_time_and_size(
    two_ehrs: tuple[TestClient, TestEhr, TestEhr],
) -> None:
    client, ehr, other = two_ehrs
    with client:
        (card,) = prefetch_call(client, ehr, "pt-fv", "MRN-FV", severity=1.0).json()["cards"]
        uuid = card["uuid"]
        suggestion = card["suggestions"][0]["uuid"]
        refused = {
            "unknown card": [_entry("4e0a3a1e-3283-4575-ab82-028d55fe2719")],
            "date only": [_entry(uuid, "2026-12-01")],
            "zone-less": [_entry(uuid, "2026-12-01T10:00:00")],
            "no seconds": [_entry(uuid, "2026-12-01T10:00Z")],
            "year 1 at +14:00": [_entry(uuid, "0001-01-01T00:00:00+14:00")],
            "before the card": [_entry(uuid, "2020-12-11T00:00:00Z")],
            "in the future": [_entry(uuid, (datetime.now(UTC) + timedelta(hours=2)).isoformat())],
            "unknown suggestion": [
                {**_entry(uuid), "outcome": "accepted", "acceptedSuggestions": [{"id": "nope"}]}
            ],
            "too many": [_entry(uuid)] * 101,
            "none": [],
        }
        for name, entries in refused.items():
            status, text = _post(client, ehr, {"feedback": entries})
            assert status == 400, name
            assert text, name
        status, text = _post(client, other, {"feedback": [_entry(uuid)]})
        assert (status, text) == (400, f"feedback[0].card: no card {uuid} was issued to you")
        ctx: AppContext = client.app.state.ctx  # type: ignore[attr-defined]
        assert ctx.card_log.feedback(uuid) == []  # nothing of the refused calls stored
        accepted = {**_entry(uuid), "outcome": "accepted",
                    "acceptedSuggestions": [{"id": suggestion}]}  # fmt: skip
        assert _post(client, ehr, {"feedback": [accepted, _entry(uuid)]}) == (200, "")
        assert len(ctx.card_log.feedback(uuid)) == 2
