"""Fixtures of the FHIR adapter tests: FHIR servers, data, sinks.

Tests taking ``fhir_url`` run once per server: ``fake`` (our own ``tests/support/fhir_server.py``,
which also has fault-injection and notification switches for the tests that take ``fhir_server``),
``medplum`` (Medplum's FHIR router, ``tests/support/medplum_server.py``; skipped with the reason
where Node.js is absent), and ``external`` when ``VENTFUSION_TEST_FHIR_URL=http://host/fhir``
names a real server such as HAPI FHIR. The servers are shared: tests use fresh identifiers.
"""

from __future__ import annotations

import functools
import os
import shutil
import socket
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from sqlmodel import Session, col, select

from cds_app.db.session import make_engine, migrate
from cds_app.db.store import Store
from cds_app.db.tables import MeasurementRow, PatientRow
from fhir_adapter.client import FhirClient
from fhir_adapter.ingest_state import MemoryCursorStore, MemorySeenStore
from fhir_adapter.service import IngestServices, build_ingest
from model.schemas import Measurement, PatientKey, StaticInfo
from tests.support.fhir_server import FhirTestServer
from tests.support.medplum_server import MedplumServer, unavailable_reason

REAL_SERVER_URL = os.environ.get("VENTFUSION_TEST_FHIR_URL", "")  # read before env isolation
SERVER_KINDS = ("fake", "medplum", *(("external",) if REAL_SERVER_URL else ()))
MRN = "urn:oid:2.16.840.1.113883.4.1.999.1"
LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
Json = dict[str, Any]


@functools.cache
def _migrated_template() -> Path:
    """One migrated SQLite database per test session; each sink starts from a copy of it."""
    path = Path(tempfile.mkdtemp(prefix="vf-fhir-sink-")) / "template.sqlite3"
    engine = make_engine(f"sqlite:///{path}")
    migrate(engine)
    engine.dispose()
    return path


class RecordingSink(Store):
    """The app's own store (measurements, patients) on a fresh SQLite file.

    It is the MeasurementSink and PatientSink the app uses, so idempotency and retraction are the
    store's; ``events`` lists the calls in order ("patient" / "measurements").
    """

    def __init__(self) -> None:
        self._folder = tempfile.TemporaryDirectory(prefix="vf-fhir-sink-")
        path = Path(self._folder.name) / "vf.sqlite3"
        shutil.copyfile(_migrated_template(), path)
        self.engine = make_engine(f"sqlite:///{path}")
        super().__init__(self.engine)
        self.events: list[str] = []
        self._lock = threading.Lock()

    def upsert_patient(
        self, key: PatientKey, *, fhir_id: str | None = None, static: StaticInfo | None = None
    ) -> None:
        with self._lock:
            self.events.append("patient")
        super().upsert_patient(key, fhir_id=fhir_id, static=static)

    def add_measurements(self, measurements: Sequence[Measurement]) -> int:
        with self._lock:
            self.events.append("measurements")
        return super().add_measurements(measurements)

    @property
    def rows(self) -> dict[str, MeasurementRow]:
        """The stored, not retracted measurements by source id."""
        with Session(self.engine) as session:
            query = select(MeasurementRow).where(col(MeasurementRow.retracted).is_(False))
            return {str(row.source_id): row for row in session.exec(query)}

    @property
    def patients(self) -> dict[PatientKey, tuple[str | None, StaticInfo]]:
        """The stored patients: FHIR id and static data by key."""
        with Session(self.engine) as session:
            rows = list(session.exec(select(PatientRow)))
        return {
            PatientKey.parse(row.patient_key): (
                row.fhir_id,
                StaticInfo(age_years=row.age_years, sex=row.sex),
            )
            for row in rows
        }

    def values(self, variable: str) -> list[float]:
        return sorted(m.value for m in self.rows.values() if m.variable == variable)

    def close(self) -> None:
        self.engine.dispose()
        self._folder.cleanup()


def observation(
    code: str,
    value: float | None,
    unit: str,
    *,
    patient: str = "Patient/p1",
    when: datetime | None = None,
    status: str = "final",
    category: str = "vital-signs",
    display: str = "",
    components: list[Json] | None = None,
) -> Json:
    """A realistic Observation (LOINC code, UCUM quantity)."""
    when = when or datetime(2026, 3, 1, 10, 0, tzinfo=UTC)
    obs: Json = {
        "resourceType": "Observation",
        "status": status,
        "category": [
            {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/observation-category",
                        "code": category,
                    }
                ]
            }
        ],
        "code": {"coding": [{"system": LOINC, "code": code, "display": display or code}]},
        "subject": {"reference": patient},
        "effectiveDateTime": when.isoformat(),
    }
    if value is not None:
        obs["valueQuantity"] = {"value": value, "unit": unit, "system": UCUM, "code": unit}
    if components:
        obs["component"] = components
    return obs


def component(code: str, value: float, unit: str) -> Json:
    return {
        "code": {"coding": [{"system": LOINC, "code": code}]},
        "valueQuantity": {"value": value, "unit": unit, "system": UCUM, "code": unit},
    }


def patient(mrn: str, pid: str | None = None) -> Json:
    res: Json = {
        "resourceType": "Patient",
        "identifier": [{"system": MRN, "value": mrn}],
        "gender": "female",
        "birthDate": "1956-04-02",
    }
    if pid:
        res["id"] = pid
    return res


@pytest.fixture
def fhir_server() -> Iterator[FhirTestServer]:
    """The in-process test FHIR server (always; for tests needing its switches)."""
    server = FhirTestServer().start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def medplum_server() -> Iterator[MedplumServer]:
    """Medplum's FHIR router on a loopback port, one per test session."""
    reason = unavailable_reason()
    if reason is not None:
        if os.environ.get("CI") and shutil.which("node"):
            pytest.fail(f"CI has Node.js but not the Medplum test server: {reason}")
        pytest.skip(reason)
    server = MedplumServer().start()
    yield server
    server.stop()


@pytest.fixture(params=SERVER_KINDS)
def fhir_url(request: pytest.FixtureRequest) -> str:
    """The FHIR base of a test that runs against every server (see the module docstring)."""
    if request.param == "external":
        return REAL_SERVER_URL.rstrip("/")
    if request.param == "medplum":
        medplum: MedplumServer = request.getfixturevalue("medplum_server")
        return medplum.base_url
    server: FhirTestServer = request.getfixturevalue("fhir_server")
    return server.base_url


@pytest.fixture
def sink() -> Iterator[RecordingSink]:
    store = RecordingSink()
    yield store
    store.close()


def free_port() -> int:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port: int = sock.getsockname()[1]
    sock.close()
    return port


@contextmanager
def serve(app: Any) -> Iterator[str]:
    """Run an ASGI app with uvicorn on a loopback port in a thread; yield its base URL."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(5)


def memory_ingest(client: FhirClient, sink: RecordingSink, **options: Any) -> IngestServices:
    """Ingest services on in-memory stores, without backfill unless asked (a test "process")."""
    options.setdefault("backfill", False)
    return build_ingest(
        client,
        sink,
        mrn_system=MRN,
        seen=MemorySeenStore(),
        cursors=MemoryCursorStore(),
        **options,
    )


def recent(hours: float = 1.0) -> datetime:
    return datetime.now(UTC) - timedelta(hours=hours)
