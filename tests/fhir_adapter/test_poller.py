"""``_lastUpdated`` polling and lookback backfill against every test server.

The servers are shared by the session, so each test polls from just before its own data and
counts only its own patient's measurements.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

import pytest

from fhir_adapter.client import FhirClient
from fhir_adapter.errors import FhirUnavailableError
from fhir_adapter.poller import POLL_CURSOR, Backfiller, ObservationPoller
from fhir_adapter.service import IngestServices
from model.schemas import PatientKey
from tests.fhir_adapter.conftest import (
    MRN,
    RecordingSink,
    component,
    memory_ingest,
    observation,
    patient,
    recent,
)
from tests.support.fhir_server import FhirTestServer
from tests.support.http_faults import FaultyTransport, is_request, nth

Json = dict[str, object]
Scenario = Callable[[FhirClient, IngestServices, str], Awaitable[None]]


def _stamp(resource: Json) -> datetime:
    meta = resource["meta"]
    assert isinstance(meta, dict)
    return datetime.fromisoformat(str(meta["lastUpdated"]).replace("Z", "+00:00"))


def _poller(client: FhirClient, services: IngestServices, **options: float) -> ObservationPoller:
    return ObservationPoller(client, services.ingestor, services.poller.cursors, **options)


class OwnSink(RecordingSink):
    """A sink for one fresh MRN; ``mine(variable)`` are that patient's values."""

    def __init__(self) -> None:
        super().__init__()
        self.mrn = f"MRN-{uuid.uuid4().hex[:8]}"

    def mine(self, variable: str) -> list[float]:
        key = str(PatientKey(system=MRN, value=self.mrn))
        rows = self.rows.values()
        return sorted(m.value for m in rows if m.variable == variable and m.patient_key == key)


def _run(url: str, sink: OwnSink, scenario: Scenario, transport: FaultyTransport) -> None:
    """Run ``scenario(client, services, patient_ref)`` with a fresh patient on the server."""

    async def run() -> None:
        async with FhirClient(url, retries=0, transport=transport) as client:
            services = memory_ingest(client, sink)
            ref = await client.create(patient(sink.mrn))
            created = await client.get_json(ref)
            services.poller.cursors.set(POLL_CURSOR, _stamp(created))
            await scenario(client, services, ref)

    asyncio.run(run())


@pytest.fixture
def own_sink() -> OwnSink:
    return OwnSink()


async def _heart_rates(client: FhirClient, ref: str, n: int) -> list[Json]:
    created = []
    for i in range(n):
        obs = observation("8867-4", 80 + i, "/min", patient=ref, when=recent(n - i))
        created.append(await client.get_json(await client.create(obs)))
    return created


def test_a_poll_reads_every_page_and_moves_the_cursor(fhir_url: str, own_sink: OwnSink) -> None:
    async def scenario(client: FhirClient, services: IngestServices, ref: str) -> None:
        created = await _heart_rates(client, ref, 7)
        poller = _poller(client, services, page_size=3, overlap_s=0)
        await poller.poll_once()
        assert own_sink.mine("heart_rate") == [80, 81, 82, 83, 84, 85, 86]
        assert poller.cursors.get(POLL_CURSOR) == max(_stamp(r) for r in created)
        again = await poller.poll_once()
        assert again.measurements == 0

    transport = FaultyTransport()
    _run(fhir_url, own_sink, scenario, transport)
    assert transport.count("GET", "/Observation") >= 3  # pages of three


def test_an_observation_amended_while_the_poll_pages_is_not_lost(
    fhir_url: str, own_sink: OwnSink
) -> None:
    """An update moves a resource to the end of a ``_lastUpdated`` ordering while we page.

    Paging by offset then shifts the next page by one; the poll must still read every resource.
    (No overlap here: real passes are minutes apart, this one takes milliseconds.)
    """
    transport = FaultyTransport()

    async def scenario(client: FhirClient, services: IngestServices, ref: str) -> None:
        created = await _heart_rates(client, ref, 7)

        async def amend_the_first() -> None:
            first = await client.get_json(f"Observation/{created[0]['id']}")
            value = {**first["valueQuantity"], "value": 120}
            await client.update({**first, "status": "amended", "valueQuantity": value})

        # before the second page, the first resource read is amended
        transport.before(nth(is_request("GET", "/Observation"), 2), amend_the_first)
        poller = _poller(client, services, page_size=3, overlap_s=0)
        await poller.poll_once()
        await poller.poll_once()
        assert own_sink.mine("heart_rate") == [81, 82, 83, 84, 85, 86, 120]

    _run(fhir_url, own_sink, scenario, transport)


def test_a_server_ignoring_sort_loses_nothing_when_a_pass_breaks_off(
    fhir_server: FhirTestServer, own_sink: OwnSink
) -> None:
    """Newest first despite ``_sort=_lastUpdated``: the cursor may move only after a full pass."""
    fhir_server.ignore_sort = True
    transport = FaultyTransport()

    async def scenario(client: FhirClient, services: IngestServices, ref: str) -> None:
        await _heart_rates(client, ref, 7)
        transport.answer(nth(is_request("GET", "/Observation"), 2), 503)
        poller = _poller(client, services, page_size=3, overlap_s=0)
        with pytest.raises(FhirUnavailableError):
            await poller.poll_once()  # the second page fails
        await poller.poll_once()
        assert own_sink.mine("heart_rate") == [80, 81, 82, 83, 84, 85, 86]

    _run(fhir_server.base_url, own_sink, scenario, transport)


def test_a_new_patient_is_backfilled_over_its_lookback(fhir_url: str, own_sink: OwnSink) -> None:
    """``patient`` + ``date=ge`` + every mapped ``code`` (the BP panel by its own code)."""

    async def scenario(client: FhirClient, services: IngestServices, ref: str) -> None:
        for hours in (60, 30, 10, 2):  # 60 h is outside the 48 h lookback
            fio2 = observation("3150-0", 0.3 + hours / 100, "1", patient=ref, when=recent(hours))
            await client.create(fio2)
        parts = [component("8480-6", 121, "mm[Hg]"), component("8462-4", 64, "mm[Hg]")]
        panel = observation("85354-9", None, "", patient=ref, when=recent(1), components=parts)
        await client.create(panel)
        await client.create(observation("8302-2", 170, "cm", patient=ref, when=recent(1)))
        backfill = Backfiller(client, services.poller.cursors, lookback_h=48)
        backfill.ingestor = services.ingestor
        await backfill(ref)
        assert own_sink.mine("fio2") == [pytest.approx(v) for v in (32.0, 40.0, 60.0)]
        assert (own_sink.mine("sbp"), own_sink.mine("dbp")) == ([121.0], [64.0])
        assert services.poller.cursors.get(f"backfill:{ref}") is not None

    _run(fhir_url, own_sink, scenario, FaultyTransport())


def test_the_poll_window_starts_at_the_cursor_less_the_overlap(
    fhir_url: str, own_sink: OwnSink
) -> None:
    """Resources updated before ``cursor - overlap`` are not read again; later ones are."""

    async def scenario(client: FhirClient, services: IngestServices, ref: str) -> None:
        old = await _heart_rates(client, ref, 2)
        await asyncio.sleep(0.05)
        poller = _poller(client, services, overlap_s=0.01)
        poller.cursors.set(POLL_CURSOR, _stamp(old[-1]) + timedelta(milliseconds=30))
        await _heart_rates(client, ref, 1)
        await poller.poll_once()
        assert own_sink.mine("heart_rate") == [80]

    _run(fhir_url, own_sink, scenario, FaultyTransport())


def test_a_page_of_equal_timestamps_is_left_by_the_servers_next_link(
    fhir_server: FhirTestServer, own_sink: OwnSink
) -> None:
    """A bulk load stamps many resources in one instant: a window cannot move past them."""
    transport = FaultyTransport()

    async def scenario(client: FhirClient, services: IngestServices, ref: str) -> None:
        created = await _heart_rates(client, ref, 5)
        same = str(created[-1]["meta"]["lastUpdated"])
        for resource in created:
            fhir_server.current_one("Observation", str(resource["id"]))["meta"]["lastUpdated"] = (
                same
            )
        poller = _poller(client, services, page_size=2, overlap_s=0, max_pages=10)
        await poller.poll_once()
        assert own_sink.mine("heart_rate") == [80, 81, 82, 83, 84]
        assert poller.cursors.get(POLL_CURSOR) == _stamp(created[-1])

    _run(fhir_server.base_url, own_sink, scenario, transport)
    assert transport.count("GET", "/Observation") < 10


def test_a_poll_with_nothing_new_keeps_its_cursor(fhir_url: str, own_sink: OwnSink) -> None:
    """An empty window (nothing updated since the cursor) is a quiet pass, not an error."""

    async def scenario(client: FhirClient, services: IngestServices, ref: str) -> None:
        poller = _poller(client, services, overlap_s=0)
        ahead = datetime.now(UTC) + timedelta(minutes=5)  # after everything on the server
        poller.cursors.set(POLL_CURSOR, ahead)
        report = await poller.poll_once()
        assert (report.observations, report.measurements) == (0, 0)
        assert poller.cursors.get(POLL_CURSOR) == ahead

    _run(fhir_url, own_sink, scenario, FaultyTransport())


def test_a_stamp_from_the_future_does_not_move_the_cursor(
    fhir_server: FhirTestServer, own_sink: OwnSink
) -> None:
    """A forged (or clock-skewed) ``lastUpdated`` a day ahead is read, but the cursor stays at
    the newest credible stamp, so data updated meanwhile is not skipped by the next pass."""

    async def scenario(client: FhirClient, services: IngestServices, ref: str) -> None:
        created = await _heart_rates(client, ref, 3)
        forged = (datetime.now(UTC) + timedelta(days=1)).isoformat().replace("+00:00", "Z")
        fhir_server.current_one("Observation", str(created[-1]["id"]))["meta"]["lastUpdated"] = (
            forged
        )
        poller = _poller(client, services, overlap_s=0)
        await poller.poll_once()
        assert own_sink.mine("heart_rate") == [80, 81, 82]
        assert poller.cursors.get(POLL_CURSOR) == _stamp(created[1])

    _run(fhir_server.base_url, own_sink, scenario, FaultyTransport())
