"""Turns notification hints into re-read, deduplicated measurements."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from fhir_adapter.client import FhirClient
from fhir_adapter.convert_notification import NotificationHint
from fhir_adapter.errors import FhirHttpError
from fhir_adapter.ingest import IngestReport, ObservationIngestor
from fhir_adapter.poller import ObservationPoller
from fhir_adapter.stores import SeenStore

logger = logging.getLogger(__name__)

JsonDict = dict[str, Any]


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
        concurrency: int = 8,
    ) -> None:
        self.client = client
        self.ingestor = ingestor
        self.poller = poller
        self.seen = seen
        self._limit = asyncio.Semaphore(concurrency)
        self._last_event: dict[str, int] = {}
        self._gone: list[str] = []

    def _gap(self, hint: NotificationHint) -> bool:
        numbers = [e.number for e in hint.events if e.number is not None]
        key = hint.subscription or ""
        if not numbers or not key:
            return False
        last = self._last_event.get(key)
        self._last_event[key] = max(max(numbers), last or 0)
        return last is not None and min(numbers) > last + 1

    async def _reread(self, ref: str) -> JsonDict | None:
        kind, _, rid = ref.partition("/")
        async with self._limit:
            try:
                return await self.client.read(kind, rid)
            except FhirHttpError as exc:
                if exc.transient:
                    raise
                if exc.status in (404, 410):
                    logger.info("%s is gone (%d); retracting it", ref, exc.status)
                    self._gone.append(ref)
                else:
                    logger.warning("cannot re-read %s: %s", ref, exc)
                return None

    def _already_have(self, ref: str, body: JsonDict | None) -> bool:
        if body is None:
            return False
        version = (body.get("meta") or {}).get("versionId")
        return version is not None and self.seen.version_of(ref) == str(version)

    async def process(self, hint: NotificationHint) -> IngestReport:
        """Ingest what ``hint`` points at; raises FhirUnavailableError if the EHR cannot be read."""
        report = IngestReport()
        if hint.kind in ("handshake", "heartbeat"):
            logger.info("subscription %s: %s", hint.subscription or "?", hint.kind)
            return report
        if hint.errors:
            logger.warning("subscription %s reports errors: %s", hint.subscription, hint.errors)
        refs = [r for r in hint.focus_refs if r.startswith("Observation/")]
        gap = self._gap(hint)
        if gap or hint.errors or (hint.kind == "event-notification" and hint.payload == "empty"):
            report.catch_up = True
            report.merge(await self.poller.poll_once())
        todo = [r for r in refs if not self._already_have(r, hint.resources.get(r))]
        report.duplicates += len(refs) - len(todo)
        fresh = await asyncio.gather(*(self._reread(r) for r in todo))
        report.merge(await self.ingestor.ingest([obs for obs in fresh if obs is not None]))
        gone, self._gone = self._gone, []
        if gone:
            report.retracted += await self.ingestor.retract(gone)
        return report
