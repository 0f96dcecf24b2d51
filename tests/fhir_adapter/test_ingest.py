"""The ingestor reads and writes its seen-version state once per batch, off the event loop."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Collection, Mapping
from typing import Any

from fhir_adapter.client import FhirClient
from fhir_adapter.identity import PatientResolver
from fhir_adapter.ingest import ObservationIngestor
from fhir_adapter.ingest_state import MemorySeenStore
from model.schemas import PatientKey
from tests.fhir_adapter.conftest import MRN, RecordingSink, observation
from tests.support.typed import typed


class CountingSeenStore(MemorySeenStore):
    """The memory store, recording each call and the thread it ran on."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[tuple[str, Any, int]] = []

    def versions_of(self, refs: Collection[str]) -> dict[str, str]:
        self.calls.append(("versions_of", sorted(refs), threading.get_ident()))
        return super().versions_of(refs)

    def remember(self, versions: Mapping[str, str]) -> None:
        self.calls.append(("remember", dict(versions), threading.get_ident()))
        super().remember(versions)


def _versioned(rid: str, version: str, value: float) -> Any:
    obs = observation("8867-4", value, "/min")
    obs["id"], obs["meta"] = rid, {"versionId": version}
    return typed(obs)


def test_one_read_and_one_write_of_seen_versions_per_batch() -> None:
    seen, sink = CountingSeenStore(), RecordingSink()

    async def run() -> tuple[int, int, int]:
        client = FhirClient("http://127.0.0.1:9/fhir")  # never called: the patient is known
        resolver = PatientResolver(client, MRN)
        resolver.remember("Patient/p1", PatientKey(system=MRN, value="M1"))
        ingestor = ObservationIngestor(sink, resolver, seen)
        batch = [_versioned(f"o{i}", "1", 80.0 + i) for i in range(5)]
        first = await ingestor.ingest(batch)
        again = await ingestor.ingest([*batch, _versioned("o1", "2", 99.0)])
        await client.aclose()
        return first.measurements, again.duplicates, threading.get_ident()

    measurements, duplicates, loop_thread = asyncio.run(run())
    assert measurements == 5
    assert duplicates == 5  # o1 v1 lost to v2 in the batch; o0, o2-o4 were seen
    names = [name for name, _, _ in seen.calls]
    assert names == ["versions_of", "remember", "versions_of", "remember"]
    assert seen.calls[1][1] == {f"Observation/o{i}": "1" for i in range(5)}
    assert seen.calls[3][1] == {"Observation/o1": "2"}
    assert all(thread != loop_thread for _, _, thread in seen.calls)
    assert seen.versions_of(["Observation/o1"]) == {"Observation/o1": "2"}
    assert sorted(sink.values("heart_rate")) == [80.0, 82.0, 83.0, 84.0, 99.0]
