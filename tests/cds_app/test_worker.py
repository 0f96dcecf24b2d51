"""`ventfusion worker`: the outbox drained into an EHR's FHIR server (conditional create)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

from cds_app.db.outbox import DbOutbox
from cds_app.db.session import make_engine, migrate
from cds_app.demo.ehr_server import FhirStore, build_ehr_app
from cds_app.demo.servers import running_server
from cds_app.settings import Settings
from cds_app.worker import run_worker
from fhir_adapter.writer import RISK_KIND, prediction_dedup_key, prediction_payload
from model.schemas import PatientKey, RiskLevel, RiskPrediction
from tests.cds_app.conftest import PSEUDONYM_KEY
from tests.support.ehr import MRN_SYSTEM, patient


def test_worker_delivers_queued_risk_assessments_once(db_url: str, tmp_path: Path) -> None:
    store = FhirStore()
    store.put(patient("pt-w", "MRN-W"))
    prediction = RiskPrediction(
        patient_key=PatientKey(system=MRN_SYSTEM, value="MRN-W"),
        as_of=datetime(2026, 3, 1, 12, tzinfo=UTC),
        probability=0.71,
        level=RiskLevel.CRITICAL,
        model_id="ventfusion-gated",
        model_version="0.1.0",
        image_weight=0.4,
    )
    engine = make_engine(db_url)
    migrate(engine)
    outbox = DbOutbox(engine)
    payload = {**prediction_payload(prediction), "fhir_patient_id": "pt-w"}
    outbox.enqueue(RISK_KIND, payload, prediction_dedup_key(prediction))
    outbox.enqueue(RISK_KIND, payload, prediction_dedup_key(prediction))  # deduplicated

    with running_server(build_ehr_app(store)) as ehr:
        settings = Settings.model_validate(
            {"database_url": db_url, "data_dir": str(tmp_path), "fhir": {"base_url": f"{ehr}/fhir"},
             "worker": {"poll_s": 0.1}, "security": {"pseudonym_key": PSEUDONYM_KEY}}
        )  # fmt: skip

        async def scenario() -> None:
            stop = asyncio.Event()
            task = asyncio.create_task(run_worker(settings, stop))
            for _ in range(100):
                await asyncio.sleep(0.1)
                if outbox.rows("delivered"):
                    break
            stop.set()
            await task

        asyncio.run(scenario())
    (row,) = outbox.rows()
    assert row.status == "delivered"
    assert row.result_id is not None
    assert row.result_id.startswith("RiskAssessment/")
    (ra,) = store.all("RiskAssessment")
    assert ra["subject"] == {"reference": "Patient/pt-w"}
    assert ra["prediction"][0]["probabilityDecimal"] == 0.71
    assert len(store.all("Device")) == 1
    engine.dispose()
