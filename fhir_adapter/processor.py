"""Turns notification hints into re-read, deduplicated measurements."""

from __future__ import annotations

import asyncio
import logging

import msgspec

from fhir_adapter.client import FhirClient
from fhir_adapter.errors import FhirHttpError
from fhir_adapter.ingest import IngestReport, ObservationIngestor
from fhir_adapter.ingest_state import EventNumberStore, MemoryEventNumberStore, SeenStore
from fhir_adapter.notification_parsing import NotificationHint
from fhir_adapter.poller import ObservationPoller
from fhir_adapter.resources import Observation, Rejected, VersionOnly, decode

logger = logging.getLogger(__name__)


class NotificationProcessor:
    """Processes notifications as hints: every referenced Observation is read again.

    * handshake / heartbeat: nothing to ingest (logged);
    * empty payloads (R4 empty POST, backport ``empty``): poll ``_lastUpdated`` since the cursor;
    * id-only / full-resource / rest-hook resource: re-read each Observation unless exactly that
      id + versionId was already ingested (the body is never stored as is);
    * a gap in event numbers, or a ``query-status`` error: a catch-up poll.
    """

    def __init__(
        self,
        client: FhirClient,
        ingestor: ObservationIngestor,
        poller: ObservationPoller,
        seen: SeenStore,
        *,
        events: EventNumberStore | None = None,
        concurrency: int = 8,
        batch_reads: bool = True,
        batch_size: int = 50,
    ) -> None:
        self.client = client
        self.ingestor = ingestor
        self.poller = poller
        self.seen = seen
        self._limit = asyncio.Semaphore(concurrency)
        self.batch_reads = batch_reads
        self.batch_size = batch_size
        self.events = events or MemoryEventNumberStore()

    async def _gap(self, hint: NotificationHint) -> bool:
        """True when events were skipped since the highest number seen for this subscription."""
        numbers = [e.number for e in hint.events if e.number is not None]
        key = hint.subscription or ""
        if not numbers or not key:
            return False
        last = await asyncio.to_thread(self.events.advance, key, max(numbers))
        return last is not None and min(numbers) > last + 1

    async def _reread(self, ref: str, gone: list[str]) -> Observation | Rejected | None:
        rid = ref.partition("/")[2]
        async with self._limit:
            try:
                return await self.client.read(Observation, rid)
            except FhirHttpError as exc:
                if exc.status not in (404, 410):
                    raise  # transient: the EHR retries; refused (401/403): visible, not dropped
                logger.info("%s is gone (%d); retracting it", ref, exc.status)
                gone.append(ref)
                return None

    async def _reread_many(
        self, refs: list[str], gone: list[str]
    ) -> list[Observation | Rejected | None]:
        """Re-read Observations: ``_id`` searches in batches, single reads for the rest."""
        if not self.batch_reads or len(refs) < 2:
            return list(await asyncio.gather(*(self._reread(r, gone) for r in refs)))
        found: dict[str, Observation | Rejected] = {}
        for start in range(0, len(refs), self.batch_size):
            ids = [r.partition("/")[2] for r in refs[start : start + self.batch_size]]
            params = {"_id": ",".join(ids), "_count": str(len(ids))}
            try:
                async with self._limit:
                    async for obs in self.client.search(Observation, params):
                        found[obs.ref if isinstance(obs, Rejected) else f"Observation/{obs.id}"] = (
                            obs
                        )
            except FhirHttpError as exc:
                if exc.transient:
                    raise
                if exc.status >= 400:  # the server refuses _id searches: stop trying them
                    logger.warning("_id search refused (%s); reading one by one", exc.status)
                    self.batch_reads = False
                else:  # a page we could not decode: read this batch one by one
                    logger.warning("_id search answered no Bundle; reading one by one")
                break
        missing = [r for r in refs if r not in found]  # deleted, or not visible: read to tell
        extra = await asyncio.gather(*(self._reread(r, gone) for r in missing))
        return [*found.values(), *extra]

    async def _not_yet_ingested(self, refs: list[str], bodies: dict[str, msgspec.Raw]) -> list[str]:
        """``refs`` less those whose payload carries the version already ingested (one read)."""
        offered = {ref: v for ref in refs if (v := _version(bodies.get(ref))) is not None}
        if not offered:
            return refs
        seen = await asyncio.to_thread(self.seen.versions_of, list(offered))
        return [r for r in refs if r not in offered or seen.get(r) != offered[r]]

    async def process(self, hint: NotificationHint) -> IngestReport:
        """Ingest what ``hint`` points at; raises FhirUnavailableError if the EHR cannot be read."""
        report = IngestReport()
        if hint.kind in ("handshake", "heartbeat"):
            logger.info("subscription %s: %s", hint.subscription or "?", hint.kind)
            return report
        if hint.errors:
            logger.warning("subscription %s reports errors: %s", hint.subscription, hint.errors)
        refs = [r for r in hint.focus_refs if r.startswith("Observation/")]
        gap = await self._gap(hint)
        if gap or hint.errors or (hint.kind == "event-notification" and hint.payload == "empty"):
            report.catch_up = True
            report.merge(await self.poller.poll_once())
        todo = await self._not_yet_ingested(refs, hint.resources)
        report.duplicates += len(refs) - len(todo)
        gone: list[str] = []
        fresh = await self._reread_many(todo, gone)
        report.merge(await self.ingestor.ingest([obs for obs in fresh if obs is not None]))
        if gone:
            report.retracted += await self.ingestor.retract(gone)
        return report


def _version(body: msgspec.Raw | None) -> str | None:
    """The ``meta.versionId`` of a notification's resource body, if it has a readable one."""
    if body is None:
        return None
    try:
        meta = decode(body, VersionOnly).meta
    except (msgspec.ValidationError, msgspec.DecodeError):
        return None
    return meta.versionId if meta else None
