"""Draining the rescorer at shutdown scores what is pending, also with a shared debounce gate."""

from __future__ import annotations

import asyncio
from datetime import datetime

from cds_app.engine.rescoring import Rescorer
from model.schemas import PatientKey


class _Engine:
    def __init__(self) -> None:
        self.scored: list[PatientKey] = []

    def score(self, key: PatientKey, *, trigger: str) -> None:
        self.scored.append(key)


class _Gate:
    """The shared-gate contract: one claim wins once the latest due time has passed."""

    def __init__(self) -> None:
        self.due: dict[PatientKey, datetime] = {}

    def touch(self, key: PatientKey, due_at: datetime) -> None:
        self.due[key] = max(due_at, self.due.get(key, due_at))

    def claim(self, key: PatientKey, now: datetime) -> bool:
        due = self.due.get(key)
        if due is None or due > now:
            return False
        del self.due[key]
        return True


def test_drain_scores_pending_patients_before_their_due_time() -> None:
    key = PatientKey(system="urn:mrn", value="A1")
    engine = _Engine()
    gate = _Gate()

    async def run() -> None:
        rescorer = Rescorer(engine, asyncio.get_running_loop(), 60.0, gate=gate)  # type: ignore[arg-type]
        rescorer.schedule([key], "data")
        await asyncio.sleep(0.01)
        assert rescorer.pending == 1
        await rescorer.drain()
        assert rescorer.pending == 0

    asyncio.run(run())
    assert engine.scored == [key]
    assert gate.due == {}
