"""State the ingest needs between calls, as protocols; the app supplies DB-backed versions.

``SeenStore`` remembers the last ingested ``versionId`` per resource (dedup, out-of-order
notifications); ``CursorStore`` keeps named timestamps (the ``_lastUpdated`` poll cursor and
"this patient's lookback was backfilled"); ``EventNumberStore`` keeps the highest notification
event number per subscription, so a gap is seen across restarts and by every replica. The app's
versions are on its database (``cds_app.db.fhir_state``); in-memory ones are here (one
short-lived process: benchmarks, the notification processor's default event marks).
"""

from __future__ import annotations

import threading
from collections.abc import Collection, Mapping
from datetime import datetime
from typing import Protocol, runtime_checkable


@runtime_checkable
class SeenStore(Protocol):
    """Last ingested versionId per resource (dedup, out-of-order notifications)."""

    def versions_of(self, refs: Collection[str]) -> dict[str, str]:
        """The last ingested versionId of each ``Type/id`` in ``refs`` that was seen (one read)."""
        ...

    def remember(self, versions: Mapping[str, str]) -> None:
        """Record that each ``ref -> versionId`` was ingested (one write)."""
        ...


@runtime_checkable
class CursorStore(Protocol):
    """Named timestamps: the poll cursor, per-patient backfill marks."""

    def get(self, name: str) -> datetime | None:
        """The stored timestamp ``name`` or None."""
        ...

    def set(self, name: str, value: datetime) -> None:
        """Store ``value`` under ``name`` (durably for the app's implementation)."""
        ...


@runtime_checkable
class EventNumberStore(Protocol):
    """Highest notification event number seen per subscription (gap detection)."""

    def advance(self, subscription: str, highest: int) -> int | None:
        """Raise the mark of ``subscription`` to ``highest``; return the mark before (None: new)."""
        ...


def version_is_newer(candidate: str, known: str | None) -> bool:
    """True when ``candidate`` is a later versionId than ``known`` (numeric when both are)."""
    if known is None:
        return True
    if candidate.isdigit() and known.isdigit():
        return int(candidate) > int(known)
    return candidate != known


class MemorySeenStore:
    """Seen versions in a dict (tests, benchmarks, a single short-lived process)."""

    def __init__(self) -> None:
        self._versions: dict[str, str] = {}
        self._lock = threading.Lock()

    def versions_of(self, refs: Collection[str]) -> dict[str, str]:
        with self._lock:
            return {ref: self._versions[ref] for ref in refs if ref in self._versions}

    def remember(self, versions: Mapping[str, str]) -> None:
        with self._lock:
            self._versions.update(versions)


class MemoryEventNumberStore:
    """Event-number marks in a dict (one process; gaps during a restart go unseen)."""

    def __init__(self) -> None:
        self._marks: dict[str, int] = {}
        self._lock = threading.Lock()

    def advance(self, subscription: str, highest: int) -> int | None:
        with self._lock:
            before = self._marks.get(subscription)
            self._marks[subscription] = max(highest, before or 0)
            return before


class MemoryCursorStore:
    """Cursors in a dict."""

    def __init__(self) -> None:
        self._values: dict[str, datetime] = {}
        self._lock = threading.Lock()

    def get(self, name: str) -> datetime | None:
        with self._lock:
            return self._values.get(name)

    def set(self, name: str, value: datetime) -> None:
        with self._lock:
            self._values[name] = value
