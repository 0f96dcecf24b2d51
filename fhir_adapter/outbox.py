"""The durable-outbox contract for write-back; the app's DB table implements ``Outbox``.

An item is enqueued in the same transaction that stores the prediction, then delivered by
``drain_outbox``. Delivery is at-least-once; the conditional create makes it exactly-once on the
FHIR server. ``MemoryOutbox`` and ``FileOutbox`` are simple implementations (tests, CLI).
"""

from __future__ import annotations

import json
import os
import threading
import uuid
from dataclasses import asdict, dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

JsonDict = dict[str, Any]


@dataclass(frozen=True, slots=True)
class OutboxItem:
    """One pending write; ``state`` is pending, delivered or failed (permanently)."""

    id: str
    kind: str  # "risk-assessment"
    payload: JsonDict
    dedup_key: str
    created_at: datetime
    next_attempt_at: datetime
    attempts: int = 0
    state: str = "pending"
    last_error: str = ""
    location: str = ""


@runtime_checkable
class Outbox(Protocol):
    """Durable queue of pending writes (the app implements it on a DB table)."""

    def enqueue(self, kind: str, payload: JsonDict, dedup_key: str, now: datetime) -> str:
        """Add an item unless one with ``dedup_key`` exists; return the item id."""
        ...

    def due(self, now: datetime, limit: int) -> list[OutboxItem]:
        """Pending items whose ``next_attempt_at`` has come, oldest first."""
        ...

    def mark_delivered(self, item_id: str, location: str) -> None:
        """The server holds the resource at ``location``."""
        ...

    def mark_retry(self, item_id: str, error: str, next_attempt_at: datetime) -> None:
        """A transient failure: count the attempt and try again later."""
        ...

    def mark_failed(self, item_id: str, error: str) -> None:
        """A permanent failure: stop retrying (kept for an operator)."""
        ...


class MemoryOutbox:
    """An outbox in a dict (thread-safe)."""

    def __init__(self) -> None:
        self.items: dict[str, OutboxItem] = {}
        self._lock = threading.Lock()

    def _changed(self) -> None:
        """Hook for subclasses that persist."""

    def enqueue(self, kind: str, payload: JsonDict, dedup_key: str, now: datetime) -> str:
        with self._lock:
            for item in self.items.values():
                if item.dedup_key == dedup_key:
                    return item.id
            item_id = str(uuid.uuid4())
            self.items[item_id] = OutboxItem(item_id, kind, payload, dedup_key, now, now)
            self._changed()
            return item_id

    def due(self, now: datetime, limit: int) -> list[OutboxItem]:
        with self._lock:
            ready = [i for i in self.items.values() if i.state == "pending"]
            ready = [i for i in ready if i.next_attempt_at <= now]
            return sorted(ready, key=lambda i: i.created_at)[:limit]

    def _update(self, item_id: str, **changes: Any) -> None:
        with self._lock:
            self.items[item_id] = replace(self.items[item_id], **changes)
            self._changed()

    def mark_delivered(self, item_id: str, location: str) -> None:
        attempts = self.items[item_id].attempts + 1
        self._update(item_id, state="delivered", location=location, attempts=attempts)

    def mark_retry(self, item_id: str, error: str, next_attempt_at: datetime) -> None:
        attempts = self.items[item_id].attempts + 1
        self._update(item_id, attempts=attempts, last_error=error, next_attempt_at=next_attempt_at)

    def mark_failed(self, item_id: str, error: str) -> None:
        attempts = self.items[item_id].attempts + 1
        self._update(item_id, state="failed", last_error=error, attempts=attempts)


def _encode(item: OutboxItem) -> JsonDict:
    data = asdict(item)
    data["created_at"] = item.created_at.isoformat()
    data["next_attempt_at"] = item.next_attempt_at.isoformat()
    return data


def _decode(data: JsonDict) -> OutboxItem:
    data = dict(data)
    data["created_at"] = datetime.fromisoformat(data["created_at"])
    data["next_attempt_at"] = datetime.fromisoformat(data["next_attempt_at"])
    return OutboxItem(**data)


class FileOutbox(MemoryOutbox):
    """A MemoryOutbox persisted to one JSON file (atomic replace with fsync on every change)."""

    def __init__(self, path: Path) -> None:
        super().__init__()
        self.path = path
        if path.exists():
            rows = json.loads(path.read_text())
            self.items = {row["id"]: _decode(row) for row in rows}

    def _changed(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(self.path.suffix + ".tmp")
        with tmp.open("w") as handle:
            json.dump([_encode(i) for i in self.items.values()], handle)
            handle.flush()
            os.fsync(handle.fileno())
        tmp.replace(self.path)
