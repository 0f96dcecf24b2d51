"""Helpers to call the service as the test EHR."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx
from fastapi.testclient import TestClient

from tests.cds_app.conftest import BASE_URL, SERVICE_URL
from tests.support.ehr import TestEhr, full_prefetch, hook_request


def call_hook(
    client: TestClient, ehr: TestEhr, body: dict[str, Any], **token: Any
) -> httpx.Response:
    """POST a patient-view call with a fresh valid token (overridable)."""
    headers = {"Authorization": f"Bearer {ehr.token(SERVICE_URL, **token)}"}
    return client.post("/cds-services/ventfusion-patient-view", json=body, headers=headers)


def prefetch_call(
    client: TestClient, ehr: TestEhr, patient_id: str, mrn: str, severity: float
) -> httpx.Response:
    """A patient-view call with complete prefetch."""
    now = datetime.now(UTC)
    body = hook_request(patient_id, prefetch=full_prefetch(patient_id, mrn, now=now,
                                                          severity=severity))  # fmt: skip
    return call_hook(client, ehr, body)


def discovery(client: TestClient, ehr: TestEhr, **token: Any) -> httpx.Response:
    token.setdefault("aud", f"{BASE_URL}/cds-services")
    aud = token.pop("aud")
    return client.get(
        "/cds-services", headers={"Authorization": f"Bearer {ehr.token(aud, **token)}"}
    )
