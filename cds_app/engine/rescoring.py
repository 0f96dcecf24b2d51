"""Debounced rescoring: bursts of new data for a patient lead to one prediction."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from cds_app.db.types import utcnow
from cds_app.engine.scorer import NotScoredError, RiskEngine
from model.ports import Pseudonymiser, redacted_patient
from model.schemas import PatientKey

if TYPE_CHECKING:
    from cds_app.scaleout.debounce import DebounceGate

log = logging.getLogger(__name__)


class Rescorer:
    """Schedules ``engine.score`` per patient ``debounce_s`` after the last new datum.

    ``schedule`` is thread-safe (sinks are called from the DICOM listener's threads and from the
    request thread pool); scoring runs in a worker thread so the event loop stays responsive.
    """

    def __init__(
        self,
        engine: RiskEngine,
        loop: asyncio.AbstractEventLoop,
        debounce_s: float,
        *,
        gate: DebounceGate | None = None,
        pseudonymise: Pseudonymiser = redacted_patient,
    ) -> None:
        self._engine = engine
        self._pseudonymise = pseudonymise
        self._gate = gate
        self._loop = loop
        self._debounce_s = debounce_s
        self._timers: dict[PatientKey, asyncio.TimerHandle] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self.scored = 0

    def schedule(self, keys: Iterable[PatientKey], trigger: str) -> None:
        """Ask for a rescore of ``keys`` (coalesced); callable from any thread."""
        keys = list(keys)
        if keys and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._arm, keys, trigger)

    def _arm(self, keys: list[PatientKey], trigger: str) -> None:
        if self._gate is not None:  # replicas share the due time (one of them rescores)
            due = utcnow() + timedelta(seconds=self._debounce_s)
            for key in keys:
                self._gate.touch(key, due)
        for key in keys:
            timer = self._timers.pop(key, None)
            if timer is not None:
                timer.cancel()
            self._timers[key] = self._loop.call_later(self._debounce_s, self._fire, key, trigger)

    def _fire(self, key: PatientKey, trigger: str, *, now_due: bool = False) -> None:
        self._timers.pop(key, None)
        task = self._loop.create_task(self._score(key, trigger, now_due=now_due))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _score(self, key: PatientKey, trigger: str, *, now_due: bool = False) -> None:
        if self._gate is not None:
            # On drain the rescoring is due now whatever due time the replicas agreed on.
            at = datetime.max.replace(tzinfo=UTC) if now_due else utcnow()
            claimed = await asyncio.to_thread(self._gate.claim, key, at)
            if not claimed:  # another replica, or a later datum, owns this rescoring
                return
        try:
            await asyncio.to_thread(self._engine.score, key, trigger=trigger)
            self.scored += 1
        except NotScoredError as exc:
            log.info("not scoring %s: %s", self._pseudonymise(key), exc)
        except Exception:
            log.exception("rescoring %s failed", self._pseudonymise(key))

    @property
    def pending(self) -> int:
        """Armed timers plus running scorings."""
        return len(self._timers) + len(self._tasks)

    async def drain(self) -> None:
        """Fire pending timers now and wait for every scoring (shutdown, tests)."""
        await asyncio.sleep(0)  # let schedule() calls queued from other threads arm first
        for key, timer in list(self._timers.items()):
            timer.cancel()
            self._fire(key, "data", now_due=True)
        self._timers.clear()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
