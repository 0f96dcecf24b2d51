from __future__ import annotations

from fastapi.testclient import TestClient

from cds_app.app import create_app
from cds_app.settings import Settings


def test_healthz_answers() -> None:
    with TestClient(create_app(Settings())) as client:
        response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
