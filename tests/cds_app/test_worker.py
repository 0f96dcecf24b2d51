"""`ventfusion worker`: the outbox drained into an EHR's FHIR server (conditional create)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cds_app.db.outbox import DbOutbox
from cds_app.db.session import make_engine, migrate
from cds_app.demo.ehr_server import FhirStore, build_ehr_app
from cds_app.demo.servers import running_server
from cds_app.settings import Settings
from cds_app.worker import run_worker
from fhir_adapter.client import FhirClient
from fhir_adapter.identity import PatientResolver
from fhir_adapter.writer import (
    RISK_KIND,
    RiskAssessmentWriter,
    drain_outbox,
    prediction_dedup_key,
    prediction_payload,
)
from model.schemas import PatientKey, RiskLevel, RiskPrediction
from tests.cds_app.conftest import PSEUDONYM_KEY
from tests.support.ehr import MRN_SYSTEM, patient
from tests.support.fhir_server import FhirTestServer


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


def test_server_down_then_up_delivers_each_once_across_a_restart(db_url: str) -> None:
    """Transient failures back off; a new worker (new engine) resumes from the table."""
    server = FhirTestServer().start()
    server.put(patient("p1", "MRN0001"))
    as_of = datetime(2026, 3, 1, 12, tzinfo=UTC)
    predictions = [
        RiskPrediction(
            patient_key=PatientKey(system=MRN_SYSTEM, value="MRN0001"),
            as_of=as_of + timedelta(hours=h),
            probability=0.42,
            level=RiskLevel.WARNING,
            model_id="ventfusion-gated",
            model_version="1.2.0",
            image_weight=0.31,
        )
        for h in range(5)
    ]
    engine = make_engine(db_url)
    migrate(engine)
    outbox = DbOutbox(engine)
    for pred in predictions + predictions[:2]:  # the engine enqueues two twice
        outbox.enqueue(RISK_KIND, prediction_payload(pred), prediction_dedup_key(pred), as_of)
    assert len(outbox.rows()) == 5
    clock = [as_of]

    async def drain(box: DbOutbox) -> tuple[int, int, int]:
        async with FhirClient(server.base_url, retries=1, backoff_s=0.01) as client:
            writer = RiskAssessmentWriter(
                client, PatientResolver(client, MRN_SYSTEM), write_provenance=True
            )
            report = await drain_outbox(box, writer, now=lambda: clock[0])
            return report.delivered, report.retried, report.failed

    try:
        server.down = True
        assert asyncio.run(drain(outbox)) == (0, 5, 0)
        assert asyncio.run(drain(outbox)) == (0, 0, 0)  # not due yet: backoff
        server.down = False
        clock[0] += timedelta(seconds=6)
        engine.dispose()
        restarted = make_engine(db_url)  # the worker restarted: state came from the table
        reopened = DbOutbox(restarted)
        assert asyncio.run(drain(reopened)) == (5, 0, 0)
        assert asyncio.run(drain(reopened)) == (0, 0, 0)
        assert [row.attempts for row in reopened.rows("delivered")] == [2] * 5
        restarted.dispose()
        stored = server.current("RiskAssessment")
        assert len(stored) == 5
        assert {r["subject"]["reference"] for r in stored} == {"Patient/p1"}
        assert len(server.current("Device")) == 1
        assert len(server.current("Provenance")) == 5
    finally:
        server.stop()
