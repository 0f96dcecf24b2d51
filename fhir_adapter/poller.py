"""``_lastUpdated`` polling with a persisted cursor, and lookback backfill of new patients."""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta

from fhir_adapter.client import FhirClient
from fhir_adapter.clock import Clock, utcnow
from fhir_adapter.ingest import IngestReport, ObservationIngestor
from fhir_adapter.ingest_state import CursorStore
from fhir_adapter.observation_mapping import observation_header
from fhir_adapter.paging import PageCursor
from fhir_adapter.resources import Bundle, Observation, Rejected, entry_resources
from fhir_adapter.search import instant

logger = logging.getLogger(__name__)

POLL_CURSOR = "observation-poll"
FUTURE_TOLERANCE = timedelta(minutes=10)  # a later stamp is forged or a clock is wrong


def _stamps(resources: list[Observation | Rejected], horizon: datetime) -> list[datetime]:
    """``meta.lastUpdated`` of the usable Observations, in page order (none past ``horizon``:
    a stamp from the future must not move the cursor past data still to come)."""
    stamps = []
    for resource in resources:
        if isinstance(resource, Rejected):
            continue
        stamp = observation_header(resource).last_updated
        if stamp is not None and stamp <= horizon:
            stamps.append(stamp)
    return stamps


class ObservationPoller:
    """Fetches Observations changed since the cursor, in ``_lastUpdated`` windows.

    Each request asks for ``_lastUpdated=ge<start>&_sort=_lastUpdated``; while the server's pages
    come back in that order, the next request starts at the newest ``meta.lastUpdated`` seen
    rather than following the ``next`` link, because servers that page by offset shift their
    pages when a resource is updated mid-pass, and one resource would be skipped for good.
    The cursor then moves after each page. A server that ignores ``_sort`` is paged through its
    ``next`` links, and the cursor moves only once the whole pass is in. The first window starts
    ``overlap_s`` before the cursor so late commits are not missed (the seen store drops repeats).
    A pass reads at most ``max_pages`` pages; the next one goes on from where it stopped.
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
        max_pages: int = 1000,
        clock: Clock = utcnow,
    ) -> None:
        self.client = client
        self.ingestor = ingestor
        self.cursors = cursors
        self.lookback = timedelta(hours=lookback_h)
        self.page_size = page_size
        self.overlap = timedelta(seconds=overlap_s)
        self.max_pages = max_pages
        self.clock = clock

    def _window(self, start: datetime) -> dict[str, str]:
        return {
            "_lastUpdated": f"ge{instant(start)}",
            "_sort": "_lastUpdated",
            "_count": str(self.page_size),
        }

    async def poll_once(self) -> IngestReport:
        """One pass over everything changed since the cursor."""
        stored = await asyncio.to_thread(self.cursors.get, POLL_CURSOR)
        cursor = stored or (self.clock() - self.lookback)
        report = IngestReport()
        newest, in_order = cursor, True
        pages = PageCursor(self.client.base_url, max_pages=self.max_pages)
        horizon = self.clock() + FUTURE_TOLERANCE
        first = self._window(cursor - self.overlap)
        page: Bundle = await self.client.search_page("Observation", first)
        following: str | None = None
        for _ in range(self.max_pages):
            resources = entry_resources(page, Observation)
            report.merge(await self.ingestor.ingest(resources))
            stamps = _stamps(resources, horizon)
            in_order = in_order and stamps == sorted(stamps)
            moved = max(stamps, default=newest) > newest
            newest = max([newest, *stamps])
            if in_order and moved:
                await asyncio.to_thread(self.cursors.set, POLL_CURSOR, newest)  # older is all in
            following = pages.next(page)  # same origin, no loop, bounded
            if following is None:
                break
            if in_order and moved:
                page = await self.client.search_page("Observation", self._window(newest))
            else:  # no progress (a page of equal stamps), or the server ignores _sort
                page = await self.client.search_page(following)
        if newest > cursor and (in_order or following is None):
            await asyncio.to_thread(self.cursors.set, POLL_CURSOR, newest)
        if not in_order:
            logger.warning("the FHIR server ignored _sort=_lastUpdated; paged by its links")
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
        if self.ingestor is None or patient_ref in self._running:
            return
        self._running.add(patient_ref)  # before the await: a second call for it returns above
        try:
            if await asyncio.to_thread(self.cursors.get, name):
                return
            now = self.clock()
            codes = ",".join(self.ingestor.codes.query_codes())
            params = {
                "patient": patient_ref.partition("/")[2],
                "date": f"ge{instant(now - self.lookback)}",
                "code": codes,
                "_count": str(self.page_size),
            }
            report = IngestReport()
            async for page in self.client.search_pages("Observation", params):
                report.merge(await self.ingestor.ingest(entry_resources(page, Observation)))
            await asyncio.to_thread(self.cursors.set, name, now)
            logger.info(
                "backfilled %s: %d observations, %d measurements",
                patient_ref,
                report.observations,
                report.measurements,
            )
        finally:
            self._running.discard(patient_ref)
