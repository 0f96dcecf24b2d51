"""The notification receiver: storage trouble is a 503 (the EHR retries), never a 500."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.exc import OperationalError

from cds_app.api.fhir_notifications import build_fhir_notification_router
from fhir_adapter.ingest import IngestReport
from fhir_adapter.notification_parsing import NotificationHint

SECRET = "test-notification-secret"


class _DatabaseDown:
    async def process(self, hint: NotificationHint) -> IngestReport:
        raise OperationalError("INSERT INTO measurements", {}, Exception("database is locked"))


def test_a_database_error_is_503_transient() -> None:
    app = FastAPI()
    router = build_fhir_notification_router(lambda request: _DatabaseDown(), secret=SECRET)  # type: ignore[arg-type, return-value]
    app.include_router(router)
    with TestClient(app) as client:
        response = client.post(
            "/fhir/notifications", content=b"", headers={"X-VentFusion-Secret": SECRET}
        )
    assert response.status_code == 503
    assert response.json()["issue"][0]["code"] == "transient"
