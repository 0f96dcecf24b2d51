"""NotificationProcessor directly: batched re-reads, event-number gaps, error status, heartbeat."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
import pytest

from fhir_adapter.client import FhirClient
from fhir_adapter.errors import FhirHttpError
from fhir_adapter.ingest import IngestReport
from fhir_adapter.ingest_state import (
    EventNumberStore,
    MemoryEventNumberStore,
)
from fhir_adapter.notification_parsing import parse_notification
from tests.fhir_adapter.conftest import RecordingSink, memory_ingest, observation, patient, recent
from tests.support.fhir_server import FhirTestServer

SUB = {"id": "s1", "criteria": "http://example.org/topic/obs"}


def _run(
    server: FhirTestServer,
    sink: RecordingSink,
    bodies: list[bytes],
    events: EventNumberStore | None = None,
) -> list[IngestReport]:
    """One processor (a fresh process: its own resolver cache) handles ``bodies`` in order."""

    async def run() -> list[IngestReport]:
        async with FhirClient(server.base_url, backoff_s=0.01) as client:
            services = memory_ingest(client, sink, patients=sink, events=events)
            return [
                await services.processor.process(parse_notification(b, "application/fhir+json"))
                for b in bodies
            ]

    return asyncio.run(run())


def _bundle(
    server: FhirTestServer, resources: list[dict[str, Any]], content: str = "id-only"
) -> bytes:
    return orjson.dumps(server.backport_bundle(SUB, "event-notification", resources, content))


def test_batched_reread_with_a_deleted_observation(
    fhir_server: FhirTestServer, sink: RecordingSink
) -> None:
    fhir_server.deliver_notifications = False
    pref = "Patient/" + fhir_server.put(patient("MRN0001"))["id"]
    kept = [
        fhir_server.put(observation("8867-4", 90 + i, "/min", patient=pref, when=recent(i)))
        for i in range(3)
    ]
    gone = fhir_server.put(observation("9279-1", 25, "/min", patient=pref, when=recent()))
    first = _bundle(fhir_server, [*kept, gone])
    fhir_server.requests.clear()
    (report,) = _run(fhir_server, sink, [first])
    assert report.measurements == 4
    searches = [p for m, p in fhir_server.requests if p == "/fhir/Observation"]
    assert len(searches) == 1  # one _id search for the four focus resources
    fhir_server.deleted.add(f"Observation/{gone['id']}")
    again = _bundle(fhir_server, [kept[0], gone])
    reports = _run(fhir_server, sink, [again])
    assert reports[0].retracted == 1
    assert sink.values("resp_rate") == []
    assert sink.values("heart_rate") == [90.0, 91.0, 92.0]


def test_a_new_patient_is_stored_with_age_and_sex_before_its_measurements(
    fhir_server: FhirTestServer, sink: RecordingSink
) -> None:
    """The app rescores on new measurements: age and sex must already be there."""
    fhir_server.deliver_notifications = False
    pref = "Patient/" + fhir_server.put(patient("MRN0044"))["id"]
    obs = fhir_server.put(observation("8867-4", 118, "/min", patient=pref, when=recent()))
    _run(fhir_server, sink, [_bundle(fhir_server, [obs], "full-resource")])
    assert sink.events == ["patient", "measurements"]
    (stored,) = sink.patients.values()
    assert stored[1].sex == "female"
    assert stored[1].age_years is not None
    assert 70.0 < stored[1].age_years < 90.0  # born 1956, read "now"


def _event_two_lost(server: FhirTestServer) -> tuple[bytes, bytes]:
    """Notifications 1 and 3 of three SpO2 readings (95, 93, 90 %); event 2 never arrives."""
    server.deliver_notifications = False
    pref = "Patient/" + server.put(patient("MRN0001"))["id"]
    bodies = []
    for hours_ago, value in ((3, 95), (2, 93), (1, 90)):
        obs = server.put(observation("59408-5", value, "%", patient=pref, when=recent(hours_ago)))
        bodies.append(_bundle(server, [obs]))  # events 1, 2, 3
    return bodies[0], bodies[2]


def test_event_gap_and_error_status_trigger_a_catch_up_poll(
    fhir_server: FhirTestServer, sink: RecordingSink
) -> None:
    b1, b3 = _event_two_lost(fhir_server)
    heartbeat = fhir_server.backport_bundle(SUB, "heartbeat", [], "empty")
    reports = _run(fhir_server, sink, [b1, orjson.dumps(heartbeat), b3])
    assert [r.catch_up for r in reports] == [False, False, True]
    assert sink.values("spo2") == [90.0, 93.0, 95.0]


def test_a_gap_during_a_restart_is_caught_up_from_the_shared_event_marks(
    fhir_server: FhirTestServer, sink: RecordingSink
) -> None:
    b1, b3 = _event_two_lost(fhir_server)  # event 2 was sent while we were down, never retried
    (alone,) = _run(fhir_server, RecordingSink(), [b3])  # a process without marks sees no gap
    assert not alone.catch_up
    marks = MemoryEventNumberStore()  # what the app keeps in its database
    (before,) = _run(fhir_server, sink, [b1], events=marks)
    (after,) = _run(fhir_server, sink, [b3], events=marks)  # the restarted process
    assert (before.catch_up, after.catch_up) == (False, True)
    assert sink.values("spo2") == [90.0, 93.0, 95.0]


def test_query_status_error_polls(
    fhir_server: FhirTestServer, sink: RecordingSink, reference_dir: Any
) -> None:
    fhir_server.deliver_notifications = False
    pref = "Patient/" + fhir_server.put(patient("MRN0001"))["id"]
    fhir_server.put(
        observation("2524-7", 3.1, "mmol/L", patient=pref, when=recent(), category="laboratory")
    )
    body = (
        reference_dir / "subscriptions-backport/r4/Bundle-r4-notification-error.json"
    ).read_bytes()
    (report,) = _run(fhir_server, sink, [body])
    assert report.catch_up
    assert sink.values("lactate") == [3.1]


def test_server_without_id_search_falls_back_to_reads(
    fhir_server: FhirTestServer, sink: RecordingSink
) -> None:
    fhir_server.deliver_notifications = False
    fhir_server.unsupported.add("_id")
    pref = "Patient/" + fhir_server.put(patient("MRN0001"))["id"]
    obs = [
        fhir_server.put(observation("8478-0", 70 + i, "mm[Hg]", patient=pref, when=recent(i)))
        for i in range(3)
    ]
    (report,) = _run(fhir_server, sink, [_bundle(fhir_server, obs)])
    assert report.measurements == 3
    assert sink.values("map") == [70.0, 71.0, 72.0]


def test_refused_reread_is_an_error_not_silence(
    fhir_server: FhirTestServer, sink: RecordingSink
) -> None:
    fhir_server.deliver_notifications = False
    pref = "Patient/" + fhir_server.put(patient("MRN0001"))["id"]
    obs = fhir_server.put(observation("8867-4", 88, "/min", patient=pref, when=recent()))
    body = _bundle(fhir_server, [obs])
    fhir_server.fail_next.append(403)
    with pytest.raises(FhirHttpError) as info:
        _run(fhir_server, sink, [body])
    assert info.value.status == 403
    assert sink.rows == {}
