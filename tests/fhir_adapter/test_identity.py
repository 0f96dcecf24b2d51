"""PatientResolver: MRN keys of FHIR Patients, and their static inputs handed to the app."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime

from fhir_adapter.client import FhirClient
from fhir_adapter.identity import PatientResolver
from model.schemas import PatientKey, StaticInfo
from tests.fhir_adapter.conftest import MRN, RecordingSink, patient
from tests.support.fhir_server import FhirTestServer

NOW = datetime(2026, 11, 24, 9, 30, tzinfo=UTC)


def _resolve(
    server: FhirTestServer, sink: RecordingSink, refs: list[str]
) -> list[PatientKey | None]:
    async def run() -> list[PatientKey | None]:
        async with FhirClient(server.base_url, backoff_s=0.01) as client:
            resolver = PatientResolver(client, MRN, sink, clock=lambda: NOW)
            return [await resolver.key_for(ref) for ref in refs]

    return asyncio.run(run())


def test_a_resolved_patient_hands_age_and_sex_to_the_sink_once(
    fhir_server: FhirTestServer, sink: RecordingSink
) -> None:
    pid = fhir_server.put(patient("MRN0042"))["id"]
    fhir_server.requests.clear()
    keys = _resolve(fhir_server, sink, [f"Patient/{pid}", f"Patient/{pid}"])
    key = PatientKey(system=MRN, value="MRN0042")
    assert keys == [key, key]
    age = round((date(2026, 11, 24) - date(1956, 4, 2)).days / 365.25, 2)
    assert sink.patients == {key: (pid, StaticInfo(age_years=age, sex="female"))}
    assert sink.events == ["patient"]  # cached: one read, one hand-over
    assert [p for _, p in fhir_server.requests] == [f"/fhir/Patient/{pid}"]


def test_partial_birth_date_gives_no_age_and_no_mrn_gives_nothing(
    fhir_server: FhirTestServer, sink: RecordingSink
) -> None:
    partial = patient("MRN0043") | {"birthDate": "1956"}
    pid = fhir_server.put(partial)["id"]
    stranger = fhir_server.put(
        patient("X") | {"identifier": [{"system": "urn:other", "value": "X"}]}
    )
    keys = _resolve(fhir_server, sink, [f"Patient/{pid}", f"Patient/{stranger['id']}"])
    assert keys[1] is None
    assert sink.patients == {keys[0]: (pid, StaticInfo(age_years=None, sex="female"))}


def test_a_future_or_too_old_birth_date_is_an_unknown_age(
    fhir_server: FhirTestServer, sink: RecordingSink
) -> None:
    future = fhir_server.put(patient("MRN0044") | {"birthDate": "2090-05-01"})["id"]
    ancient = fhir_server.put(patient("MRN0045") | {"birthDate": "1800-01-01"})["id"]
    keys = _resolve(fhir_server, sink, [f"Patient/{future}", f"Patient/{ancient}"])
    assert [sink.patients[k][1].age_years for k in keys if k] == [None, None]  # type: ignore[index]
