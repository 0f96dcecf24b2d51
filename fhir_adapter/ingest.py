"""Observations (already read from the server) -> deduplicated measurements in the sink."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field

from fhir_adapter.codes import CodeTable
from fhir_adapter.identity import PatientResolver
from fhir_adapter.ingest_state import SeenStore, version_is_newer
from fhir_adapter.observation_mapping import map_observation, observation_header
from fhir_adapter.resources import Observation, Rejected
from model.ports import MeasurementSink
from model.schemas import Measurement

logger = logging.getLogger(__name__)

NewPatientHook = Callable[[str], Awaitable[None]]


@dataclass(slots=True)
class IngestReport:
    """Counts of one ingest call; ``rejected`` holds ``(resource ref, reason)`` pairs."""

    observations: int = 0
    duplicates: int = 0
    measurements: int = 0
    retracted: int = 0
    rejected: list[tuple[str, str]] = field(default_factory=list)
    catch_up: bool = False

    def merge(self, other: IngestReport) -> None:
        """Add ``other``'s counts into this report."""
        self.observations += other.observations
        self.duplicates += other.duplicates
        self.measurements += other.measurements
        self.retracted += other.retracted
        self.rejected.extend(other.rejected)
        self.catch_up = self.catch_up or other.catch_up


class ObservationIngestor:
    """Maps, deduplicates (id + versionId) and stores Observations; never trusts stale versions."""

    def __init__(
        self,
        sink: MeasurementSink,
        resolver: PatientResolver,
        seen: SeenStore,
        codes: CodeTable | None = None,
        *,
        on_new_patient: NewPatientHook | None = None,
    ) -> None:
        self.sink = sink
        self.resolver = resolver
        self.seen = seen
        self.codes = codes or CodeTable()
        self.on_new_patient = on_new_patient

    async def retract(self, refs: list[str]) -> int:
        """Withdraw deleted resources (``Observation/<id>``) from the sink."""
        return await asyncio.to_thread(self.sink.retract, refs)

    async def ingest(self, observations: Iterable[Observation | Rejected]) -> IngestReport:
        """Ingest a batch; the newest version per resource wins.

        Store and sink calls run in a thread, once per batch: one read of the seen versions,
        one retraction, one insert, one write of the new versions.

        Each Observation was decoded on its own: a ``Rejected`` one is counted with its reason.
        """
        report = IngestReport()
        latest: dict[str, tuple[str, Observation]] = {}
        for obs in observations:
            report.observations += 1
            if isinstance(obs, Rejected):
                report.rejected.append((obs.ref, obs.reason))
                continue
            header = observation_header(obs)
            held = latest.get(header.ref)
            if held is None or version_is_newer(header.version_id, held[0]):
                if held is not None:
                    report.duplicates += 1
                latest[header.ref] = (header.version_id, obs)
            else:
                report.duplicates += 1
        retract: list[str] = []
        measurements: list[Measurement] = []
        remember: dict[str, str] = {}
        new_patients: list[str] = []
        seen = await asyncio.to_thread(self.seen.versions_of, list(latest)) if latest else {}
        for ref, (version_id, obs) in latest.items():
            known = seen.get(ref)
            if known is not None and not version_is_newer(version_id, known):
                report.duplicates += 1
                continue
            header = observation_header(obs)
            if header.subject_ref is None:
                report.rejected.append((ref, "no subject Patient reference"))
                continue
            cached = self.resolver.cached_key(header.subject_ref)
            key = cached or await self.resolver.key_for(header.subject_ref)
            if key is None:
                report.rejected.append((ref, "patient has no identifier in the MRN system"))
                continue
            if cached is None:
                new_patients.append(header.subject_ref)
            mapping = map_observation(obs, key, self.codes)
            report.rejected.extend((ref, reason) for reason in mapping.rejected)
            if mapping.retract or known is not None:
                retract.append(ref)  # entered-in-error, or superseded by this new version
            measurements.extend(mapping.measurements)
            remember[ref] = version_id
        if retract:
            report.retracted += await asyncio.to_thread(self.sink.retract, retract)
        if measurements:
            report.measurements += await asyncio.to_thread(self.sink.add_measurements, measurements)
        if remember:
            await asyncio.to_thread(self.seen.remember, remember)
        for ref, reason in report.rejected:
            logger.info("observation %s not used: %s", ref, reason)
        if self.on_new_patient is not None:
            for patient_ref in new_patients:
                await self.on_new_patient(patient_ref)
        return report
