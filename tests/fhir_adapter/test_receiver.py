"""End to end: the test FHIR server notifies the receiver (both styles); hints are re-read."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from cds_app.api.fhir_notifications import build_fhir_notification_router
from fhir_adapter.client import FhirClient
from fhir_adapter.ingest_state import MemoryCursorStore, MemorySeenStore
from fhir_adapter.service import IngestServices, build_ingest
from fhir_adapter.subscription_building import build_backport_subscription, build_r4_subscription
from tests.fhir_adapter.conftest import RecordingSink, observation, patient, recent, serve
from tests.support.fhir_server import FhirTestServer

SECRET = "s3cret-notification-token"
HEADER = f"X-VentFusion-Secret: {SECRET}"


@dataclass
class Pipeline:
    server: FhirTestServer
    sink: RecordingSink
    url: str
    holder: dict[str, IngestServices]

    def subscribe(self, sub: dict[str, Any]) -> str:
        return self.server.put(sub)["id"]

    def patient(self, mrn: str = "MRN0001") -> str:
        return "Patient/" + self.server.put(patient(mrn))["id"]

    def settle(self) -> None:
        self.server.wait_deliveries()


@pytest.fixture
def pipeline(fhir_server: FhirTestServer, sink: RecordingSink) -> Iterator[Pipeline]:
    holder: dict[str, IngestServices] = {}

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        client = FhirClient(fhir_server.base_url, retries=1, backoff_s=0.01)
        holder["services"] = build_ingest(
            client,
            sink,
            mrn_system="urn:oid:2.16.840.1.113883.4.1.999.1",
            seen=MemorySeenStore(),
            cursors=MemoryCursorStore(),
            lookback_h=48,
        )
        yield
        await client.aclose()

    app = FastAPI(lifespan=lifespan)
    app.include_router(
        build_fhir_notification_router(lambda request: holder["services"].processor, secret=SECRET)
    )
    with serve(app) as base:
        yield Pipeline(fhir_server, sink, f"{base}/fhir/notifications", holder)


def test_r4_rest_hook_with_payload_puts_the_resource(pipeline: Pipeline) -> None:
    pipeline.subscribe(build_r4_subscription(pipeline.url, headers=[HEADER]))
    pref = pipeline.patient()
    pipeline.server.put(observation("8867-4", 96, "/min", patient=pref, when=recent()))
    pipeline.server.put(
        observation("2703-7", 8.0, "kPa", patient=pref, when=recent(), category="laboratory")
    )
    pipeline.settle()
    assert [d[1] for d in pipeline.server.deliveries] == [200, 200]
    assert all("/fhir/notifications/Observation/" in d[0] for d in pipeline.server.deliveries)
    assert pipeline.sink.values("heart_rate") == [96.0]
    assert pipeline.sink.values("pao2") == [pytest.approx(60.005, abs=1e-3)]


def test_r4_empty_post_polls_since_the_cursor(pipeline: Pipeline) -> None:
    pipeline.subscribe(build_r4_subscription(pipeline.url, payload=False, headers=[HEADER]))
    pref = pipeline.patient()
    for i, value in enumerate((91, 89, 87)):
        pipeline.server.put(observation("59408-5", value, "%", patient=pref, when=recent(3 - i)))
    pipeline.settle()
    assert {d[2] for d in pipeline.server.deliveries} == {b""}
    assert pipeline.sink.values("spo2") == [87.0, 89.0, 91.0]


@pytest.mark.parametrize("status_style", ["r4", "r4b"])
@pytest.mark.parametrize("content", ["empty", "id-only", "full-resource"])
def test_backport_notifications(pipeline: Pipeline, status_style: str, content: str) -> None:
    pipeline.server.backport_status = status_style
    sub_id = pipeline.subscribe(
        build_backport_subscription(
            pipeline.url,
            topic="http://example.org/topic/obs",
            payload=content,
            headers=[HEADER],
            filter_criteria="Observation?category=vital-signs",
        )
    )  # type: ignore[arg-type]
    pref = pipeline.patient()
    pipeline.server.put(observation("9279-1", 31, "/min", patient=pref, when=recent()))
    pipeline.server.put(
        observation("6690-2", 14, "10*3/uL", patient=pref, when=recent(), category="laboratory")
    )  # not matched by the filter
    pipeline.server.heartbeat(sub_id)
    pipeline.settle()
    kinds = [b'"handshake"', b'"event-notification"', b'"heartbeat"']
    assert [d[1] for d in pipeline.server.deliveries] == [200, 200, 200]
    assert all(k in d[2] for k, d in zip(kinds, pipeline.server.deliveries, strict=True))
    assert pipeline.sink.values("resp_rate") == [31.0]
    # the lab raised no notification; it arrives by the poll (empty) or the first-seen backfill
    assert pipeline.sink.values("wbc") == [14.0]


def test_wrong_or_missing_secret_is_refused(pipeline: Pipeline) -> None:
    pipeline.subscribe(build_r4_subscription(pipeline.url, headers=["X-VentFusion-Secret: nope"]))
    pipeline.subscribe(build_r4_subscription(pipeline.url + "/", payload=False))
    pipeline.server.put(observation("8867-4", 96, "/min", patient=pipeline.patient()))
    pipeline.settle()
    assert sorted(d[1] for d in pipeline.server.deliveries) == [401, 401]
    assert b'"security"' in httpx.post(pipeline.url).content
    assert pipeline.sink.rows == {}


def test_bad_bodies_get_operation_outcomes(pipeline: Pipeline) -> None:
    headers = {"X-VentFusion-Secret": SECRET, "Content-Type": "application/fhir+json"}
    bad = httpx.post(
        pipeline.url, content=b'{"resourceType": "Bundle", "type": "hist', headers=headers
    )
    assert bad.status_code == 400
    assert bad.json()["resourceType"] == "OperationOutcome"
    xml = httpx.post(
        pipeline.url,
        content=b"<Bundle/>",
        headers={**headers, "Content-Type": "application/fhir+xml"},
    )
    assert xml.status_code == 415
    assert xml.json()["issue"][0]["code"] == "not-supported"
    huge = httpx.post(pipeline.url, content=b" " * (33 * 1024 * 1024), headers=headers)
    assert huge.status_code == 413


def test_duplicate_and_out_of_order_notifications(pipeline: Pipeline) -> None:
    pipeline.server.deliver_notifications = False
    pref = pipeline.patient()
    first = pipeline.server.put(observation("8310-5", 101.3, "[degF]", patient=pref, when=recent()))
    old_bundle = pipeline.server.backport_bundle(
        {"id": "s1", "criteria": "t"}, "event-notification", [first], "full-resource"
    )
    amended = pipeline.server.put(
        {**first, "status": "amended", "valueQuantity": {**first["valueQuantity"], "value": 102.2}}
    )
    new_bundle = pipeline.server.backport_bundle(
        {"id": "s1", "criteria": "t"}, "event-notification", [amended], "full-resource"
    )
    headers = {"X-VentFusion-Secret": SECRET, "Content-Type": "application/fhir+json"}
    for bundle in (new_bundle, new_bundle, old_bundle, old_bundle):  # duplicates, then stale
        assert httpx.post(pipeline.url, json=bundle, headers=headers).status_code == 200
    assert pipeline.sink.values("temperature") == [pytest.approx(39.0)]
    (row,) = pipeline.sink.rows
    assert row == f"Observation/{first['id']}/_history/2"
    # a body that lies about the value is not trusted: the server's version wins
    forged = {
        **amended,
        "valueQuantity": {"value": 80.0, "unit": "Cel", "code": "Cel"},
        "meta": {"versionId": "99"},
    }
    put = httpx.put(f"{pipeline.url}/Observation/{first['id']}", json=forged, headers=headers)
    assert put.status_code == 200
    assert pipeline.sink.values("temperature") == [pytest.approx(39.0)]


def test_entered_in_error_and_deleted_observations_are_retracted(pipeline: Pipeline) -> None:
    pipeline.subscribe(build_r4_subscription(pipeline.url, headers=[HEADER]))
    pref = pipeline.patient()
    spo2 = pipeline.server.put(observation("59408-5", 93, "%", patient=pref, when=recent()))
    hr = pipeline.server.put(observation("8867-4", 120, "/min", patient=pref, when=recent()))
    pipeline.settle()
    assert len(pipeline.sink.rows) == 2
    pipeline.server.put({**spo2, "status": "entered-in-error"})
    pipeline.settle()
    assert pipeline.sink.values("spo2") == []
    assert httpx.delete(f"{pipeline.server.base_url}/Observation/{hr['id']}").status_code == 204
    headers = {"X-VentFusion-Secret": SECRET, "Content-Type": "application/fhir+json"}
    id_only = pipeline.server.backport_bundle(
        {"id": "s1", "criteria": "t"}, "event-notification", [hr], "id-only"
    )
    assert httpx.post(pipeline.url, json=id_only, headers=headers).status_code == 200
    assert pipeline.sink.rows == {}


def test_unknown_codes_and_units_are_reported_not_stored(pipeline: Pipeline) -> None:
    p1, p2 = pipeline.patient("MRN0001"), pipeline.patient("MRN0002")
    height = pipeline.server.put(observation("8302-2", 170, "cm", patient=p1, when=recent()))
    odd = pipeline.server.put(observation("8867-4", 80, "furlongs", patient=p2, when=recent()))
    headers = {"X-VentFusion-Secret": SECRET, "Content-Type": "application/fhir+json"}
    for res in (height, odd):
        reply = httpx.put(f"{pipeline.url}/Observation/{res['id']}", json=res, headers=headers)
        assert reply.status_code == 200
        assert "1 rejected" in reply.json()["issue"][0]["diagnostics"]
    assert pipeline.sink.rows == {}


def test_first_seen_patient_is_backfilled(pipeline: Pipeline) -> None:
    pipeline.server.deliver_notifications = False
    pref = pipeline.patient()
    for hours in (60, 30, 10, 2):  # 60 h is outside the 48 h lookback
        pipeline.server.put(
            observation("3150-0", 0.3 + hours / 100, "1", patient=pref, when=recent(hours))
        )
    latest = pipeline.server.put(observation("8867-4", 101, "/min", patient=pref, when=recent()))
    headers = {"X-VentFusion-Secret": SECRET, "Content-Type": "application/fhir+json"}
    httpx.put(f"{pipeline.url}/Observation/{latest['id']}", json=latest, headers=headers)
    assert pipeline.sink.values("fio2") == [pytest.approx(v) for v in (32.0, 40.0, 60.0)]
    assert pipeline.sink.values("heart_rate") == [101.0]


def test_server_down_during_reread_answers_503(pipeline: Pipeline) -> None:
    pref = pipeline.patient()
    obs = pipeline.server.put(observation("8867-4", 77, "/min", patient=pref, when=recent()))
    pipeline.server.down = True
    headers = {"X-VentFusion-Secret": SECRET, "Content-Type": "application/fhir+json"}
    reply = httpx.put(f"{pipeline.url}/Observation/{obs['id']}", json=obs, headers=headers)
    assert reply.status_code == 503
    pipeline.server.down = False
    pipeline.server.fail_next.append(403)  # the EHR refuses us: an error, not silence
    reply = httpx.put(f"{pipeline.url}/Observation/{obs['id']}", json=obs, headers=headers)
    assert reply.status_code == 502
    reply = httpx.put(f"{pipeline.url}/Observation/{obs['id']}", json=obs, headers=headers)
    assert reply.status_code == 200
    assert pipeline.sink.values("heart_rate") == [77.0]


def test_poller_cursor_persists(pipeline: Pipeline) -> None:
    pipeline.server.deliver_notifications = False
    pref = pipeline.patient()
    pipeline.server.put(observation("8867-4", 70, "/min", patient=pref, when=recent()))
    services = pipeline.holder["services"]

    async def poll() -> int:
        return (await services.poller.poll_once()).measurements

    # the services live on the receiver's loop; a fresh client for this loop
    async def run() -> tuple[int, int]:
        services.client._http = httpx.AsyncClient(base_url=pipeline.server.base_url + "/")
        first = await poll()
        pipeline.server.put(observation("8867-4", 71, "/min", patient=pref, when=recent()))
        return first, await poll()

    assert asyncio.run(run()) == (1, 1)
    assert services.poller.cursors.get("observation-poll") is not None


def test_notification_router_takes_processor_from_the_app_context_and_secret_from_settings(
    pipeline: Pipeline,
) -> None:
    from types import SimpleNamespace

    from cds_app.api.fhir_notifications import notification_router
    from cds_app.settings import Settings
    from cds_app.settings.fhir import FhirSettings

    settings = Settings(
        fhir=FhirSettings(notification_secret="ctx-secret", notification_header="X-Hook-Key")
    )
    app = FastAPI()
    app.state.ctx = SimpleNamespace(
        fhir=SimpleNamespace(processor=pipeline.holder["services"].processor)
    )
    app.include_router(notification_router(settings))
    with serve(app) as base:
        url = f"{base}/fhir/notifications"
        assert httpx.post(url, headers={"X-Hook-Key": "wrong"}).status_code == 401
        heartbeat = pipeline.server.backport_bundle(
            {"id": "s", "criteria": "t"}, "heartbeat", [], "empty"
        )
        ok = httpx.post(url, json=heartbeat, headers={"X-Hook-Key": "ctx-secret"})
        assert ok.status_code == 200
        assert ok.json()["issue"][0]["diagnostics"].startswith("heartbeat")
