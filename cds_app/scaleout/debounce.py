"""Debounce shared by API replicas: a burst of data for a patient leads to ONE rescoring.

Each replica arms its own timer per patient (``cds_app.engine.rescoring.Rescorer``); the gate
makes them agree. Every new datum pushes the patient's shared due time forward (``touch``); when a
timer fires, the replica scores only if it wins ``claim``, which succeeds for exactly one caller
and only once the latest due time has passed. Replicas compare wall clocks (keep them in NTP).
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from sqlalchemy import Engine, Executable, delete, func
from sqlalchemy.dialects import postgresql, sqlite

from cds_app.scaleout.tables import debounce_due
from model.schemas import PatientKey

if TYPE_CHECKING:
    from cds_app.settings import Settings

REDIS_KEY = "ventfusion:debounce"
_TOUCH = "redis.call('ZADD', KEYS[1], 'GT', ARGV[2], ARGV[1]); return 1"
_CLAIM = """
local due = redis.call('ZSCORE', KEYS[1], ARGV[1])
if due and tonumber(due) <= tonumber(ARGV[2]) then
  redis.call('ZREM', KEYS[1], ARGV[1])
  return 1
end
return 0
"""


@runtime_checkable
class DebounceGate(Protocol):
    def touch(self, key: PatientKey, due_at: datetime) -> None:
        """New data for ``key``: its rescoring is due no earlier than ``due_at``."""
        ...

    def claim(self, key: PatientKey, now: datetime) -> bool:
        """True for exactly one caller once the latest due time has passed (then it scores)."""
        ...


def _member(key: PatientKey) -> str:
    return f"{key.system}|{key.value}"


class DbDebounce:
    """Due times in the ``debounce_due`` table (PostgreSQL; SQLite for one process)."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._pg = engine.dialect.name == "postgresql"

    def touch(self, key: PatientKey, due_at: datetime) -> None:
        """Upsert the due time, never moving it backwards."""
        values = {"patient_key": _member(key), "due_at": due_at}
        stmt: Executable
        if self._pg:
            pg = postgresql.insert(debounce_due).values(values)
            stmt = pg.on_conflict_do_update(
                index_elements=["patient_key"],
                set_={"due_at": func.greatest(debounce_due.c.due_at, pg.excluded.due_at)},
            )
        else:
            lite = sqlite.insert(debounce_due).values(values)
            stmt = lite.on_conflict_do_update(
                index_elements=["patient_key"],
                set_={"due_at": func.max(debounce_due.c.due_at, lite.excluded.due_at)},
            )
        with self._engine.begin() as conn:
            conn.execute(stmt)

    def claim(self, key: PatientKey, now: datetime) -> bool:
        """Delete the row if it is due: the one DELETE that removes it wins."""
        with self._engine.begin() as conn:
            result = conn.execute(
                delete(debounce_due)
                .where(debounce_due.c.patient_key == _member(key))
                .where(debounce_due.c.due_at <= now)
            )
        return int(result.rowcount) == 1


class RedisDebounce:
    """Due times in a Redis sorted set (``ZADD GT`` and an atomic check-and-remove script)."""

    def __init__(self, url: str, *, name: str = REDIS_KEY) -> None:
        import redis

        self._client = redis.Redis.from_url(url)
        self._name = name

    def touch(self, key: PatientKey, due_at: datetime) -> None:
        """Push the patient's due time forward (never backwards)."""
        self._client.eval(_TOUCH, 1, self._name, _member(key), str(due_at.timestamp()))

    def claim(self, key: PatientKey, now: datetime) -> bool:
        """Remove the patient's entry if due; True for the one caller that removed it."""
        return bool(self._client.eval(_CLAIM, 1, self._name, _member(key), str(now.timestamp())))


def build_debounce_gate(settings: Settings, engine: Engine) -> DebounceGate | None:
    """Redis when ``settings.redis_url`` is set, the database on PostgreSQL, else None (local)."""
    if settings.redis_url:
        return RedisDebounce(settings.redis_url)
    if engine.dialect.name == "postgresql":
        return DbDebounce(engine)
    return None
