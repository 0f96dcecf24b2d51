"""State the ingest needs between calls, as protocols; the app supplies DB-backed versions.

``SeenStore`` remembers the last ingested ``versionId`` per resource (dedup, out-of-order
notifications); ``CursorStore`` keeps named timestamps (the ``_lastUpdated`` poll cursor and
"this patient's lookback was backfilled"); ``EventNumberStore`` keeps the highest notification
event number per subscription, so a gap is seen across restarts and by every replica. Simple
in-memory (and, for cursors, JSON-file) versions are here.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Collection, Mapping
from datetime import datetime
from pathlib import Path
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


class FileCursorStore:
    """Cursors in a JSON file, replaced atomically (write, fsync, rename) on every change."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()

    def _load(self) -> dict[str, str]:
        if not self.path.exists():
            return {}
        data = json.loads(self.path.read_text())
        return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}

    def get(self, name: str) -> datetime | None:
        with self._lock:
            text = self._load().get(name)
        return datetime.fromisoformat(text) if text else None

    def set(self, name: str, value: datetime) -> None:
        with self._lock:
            data = self._load()
            data[name] = value.isoformat()
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_suffix(self.path.suffix + ".tmp")
            with tmp.open("w") as handle:
                json.dump(data, handle, indent=1, sort_keys=True)
                handle.flush()
                os.fsync(handle.fileno())
            tmp.replace(self.path)
