"""``_lastUpdated`` polling with a persisted cursor, and lookback backfill of new patients."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from fhir_adapter.client import FhirClient
from fhir_adapter.clock import Clock, utcnow
from fhir_adapter.convert_observation import observation_header
from fhir_adapter.ingest import IngestReport, ObservationIngestor
from fhir_adapter.resources import Observation, Rejected, entry_resources
from fhir_adapter.stores import CursorStore

logger = logging.getLogger(__name__)

POLL_CURSOR = "observation-poll"
FUTURE_TOLERANCE = timedelta(minutes=10)


def fhir_instant(value: datetime) -> str:
    """A FHIR instant with an explicit zone, for search parameters."""
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class ObservationPoller:
    """Fetches Observations changed since the cursor (``_lastUpdated=ge``), page by page.

    The cursor moves to the newest ``meta.lastUpdated`` seen after each page is stored, minus
    nothing; the query starts ``overlap_s`` before it so late commits are not missed (the seen
    store drops the repeats).
    """

    def __init__(
        self,
        client: FhirClient,
        ingestor: ObservationIngestor,
        cursors: CursorStore,
        *,
        lookback_h: float = 48.0,
        page_size: int = 100,
        overlap_s: float = 5.0,
        clock: Clock = utcnow,
    ) -> None:
        self.client = client
        self.ingestor = ingestor
        self.cursors = cursors
        self.lookback = timedelta(hours=lookback_h)
        self.page_size = page_size
        self.overlap = timedelta(seconds=overlap_s)
        self.clock = clock

    async def poll_once(self) -> IngestReport:
        """One pass over everything changed since the cursor."""
        cursor = self.cursors.get(POLL_CURSOR) or (self.clock() - self.lookback)
        params = {
            "_lastUpdated": f"ge{fhir_instant(cursor - self.overlap)}",
            "_sort": "_lastUpdated",
            "_count": str(self.page_size),
        }
        report = IngestReport()
        async for page in self.client.search_pages("Observation", params):
            resources = entry_resources(page, Observation)
            report.merge(await self.ingestor.ingest(resources))
            newest = cursor
            horizon = self.clock() + FUTURE_TOLERANCE  # a stamp from the future must not
            for resource in resources:  # move the cursor past data still to come
                if isinstance(resource, Rejected):
                    continue
                stamp = observation_header(resource).last_updated
                if stamp is not None and newest < stamp <= horizon:
                    newest = stamp
            if newest > cursor:
                cursor = newest
                self.cursors.set(POLL_CURSOR, cursor)
        return report


class Backfiller:
    """Reads the lookback window of a patient the first time it is seen (once, persisted)."""

    def __init__(
        self,
        client: FhirClient,
        cursors: CursorStore,
        *,
        lookback_h: float = 48.0,
        page_size: int = 200,
        clock: Clock = utcnow,
    ) -> None:
        self.client = client
        self.cursors = cursors
        self.lookback = timedelta(hours=lookback_h)
        self.page_size = page_size
        self.clock = clock
        self.ingestor: ObservationIngestor | None = None
        self._running: set[str] = set()

    async def __call__(self, patient_ref: str) -> None:
        """Backfill ``Patient/<id>`` unless done before (the ingestor's new-patient hook)."""
        name = f"backfill:{patient_ref}"
        if self.ingestor is None or patient_ref in self._running or self.cursors.get(name):
            return
        self._running.add(patient_ref)
        try:
            now = self.clock()
            codes = ",".join(self.ingestor.codes.query_codes())
            params = {
                "patient": patient_ref.partition("/")[2],
                "date": f"ge{fhir_instant(now - self.lookback)}",
                "code": codes,
                "_count": str(self.page_size),
            }
            report = IngestReport()
            async for page in self.client.search_pages("Observation", params):
                report.merge(await self.ingestor.ingest(entry_resources(page, Observation)))
            self.cursors.set(name, now)
            logger.info(
                "backfilled %s: %d observations, %d measurements",
                patient_ref,
                report.observations,
                report.measurements,
            )
        finally:
            self._running.discard(patient_ref)
