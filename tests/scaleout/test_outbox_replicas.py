"""Several `ventfusion worker` processes drain one PostgreSQL outbox: each write happens once."""

from __future__ import annotations

import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine

from cds_app.db.outbox import DbOutbox
from fhir_adapter.writer import RISK_KIND, prediction_dedup_key, prediction_payload
from model.schemas import Driver, PatientKey, RiskLevel, RiskPrediction
from tests.scaleout.conftest import child_env, spawn
from tests.support.fhir_server import FhirTestServer

pytestmark = pytest.mark.postgres

MRN_SYSTEM = "urn:oid:2.16.840.1.113883.4.1.999.1"
AS_OF = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
ITEMS = 200
WORKERS = 3


def _prediction(index: int) -> RiskPrediction:
    p = 0.05 + 0.9 * ((index * 37) % 100) / 100
    return RiskPrediction(
        patient_key=PatientKey(system=MRN_SYSTEM, value=f"MRN{index % 40:04d}"),
        as_of=AS_OF + timedelta(hours=index),
        probability=p,
        level=RiskLevel.WARNING if p >= 0.3 else RiskLevel.LOW,
        model_id="ventfusion-gated",
        model_version="1.2.0",
        image_weight=0.25,
        film_age_h=3.0,
        drivers=(Driver(variable="fio2", contribution=0.1, description="FiO2 up to 60%"),),
        basis_ids=(f"Observation/o{index}/_history/1",),
    )


@pytest.fixture
def fhir_server() -> Iterator[FhirTestServer]:
    server = FhirTestServer().start()
    yield server
    server.stop()


def _wait_all_delivered(outbox: DbOutbox, procs: list[subprocess.Popen[str]]) -> None:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if len(outbox.rows("delivered")) == ITEMS:
            return
        dead = [p for p in procs if p.poll() is not None]
        assert not dead, dead[0].communicate()[1][-3000:]
        time.sleep(0.2)
    pytest.fail(f"only {len(outbox.rows('delivered'))} of {ITEMS} delivered in time")


def test_three_worker_processes_write_each_risk_assessment_once(
    pg_url: str, pg_engine: Engine, fhir_server: FhirTestServer
) -> None:
    outbox = DbOutbox(pg_engine)
    for index in range(ITEMS):
        prediction = _prediction(index)
        # A known FHIR Patient id spares the per-item Patient search (keeps the test short).
        payload = {**prediction_payload(prediction), "fhir_patient_id": f"pt{index % 40}"}
        outbox.enqueue(RISK_KIND, payload, prediction_dedup_key(prediction), AS_OF)
    env = child_env(
        DATABASE_URL=pg_url,
        VENTFUSION_FHIR__BASE_URL=fhir_server.base_url,
        VENTFUSION_WORKER__POLL_S="0.05",
        VENTFUSION_WORKER__BATCH="4",  # small claims, so the workers interleave
        VENTFUSION_LOG_LEVEL="INFO",
    )
    procs = [spawn(["-m", "cds_app.cli.main", "worker"], env) for _ in range(WORKERS)]
    try:
        _wait_all_delivered(outbox, procs)
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.communicate(timeout=30)

    rows = outbox.rows()
    assert [row.status for row in rows] == ["delivered"] * ITEMS
    # One attempt each: no row was claimed (and delivered) by two workers.
    assert Counter(row.attempts for row in rows) == {1: ITEMS}
    posts = [path for method, path in fhir_server.requests if method == "POST"]
    assert posts.count("/fhir/RiskAssessment") == ITEMS
    stored = fhir_server.current("RiskAssessment")
    identifiers = Counter(ra["identifier"][0]["value"] for ra in stored)
    assert len(stored) == ITEMS
    assert set(identifiers.values()) == {1}
    assert set(identifiers) == {row.dedup_key for row in rows}
    delivered_ids = {str(row.result_id).split("/_history")[0].rsplit("/", 1)[-1] for row in rows}
    assert delivered_ids == {ra["id"] for ra in stored}
