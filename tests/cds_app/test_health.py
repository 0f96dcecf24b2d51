from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from cds_app.app import create_app
from cds_app.settings import Settings


def test_healthz_answers_on_default_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """Default settings (SQLite under ./var, the bundled model) start and answer."""
    monkeypatch.setenv("VENTFUSION_DICOM__ENABLED", "false")  # no fixed port 11112 in tests
    with TestClient(create_app(Settings())) as client:
        response = client.get("/healthz")
        ready = client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert ready.json() == {"status": "ready"}
