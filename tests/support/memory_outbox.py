"""An ``Outbox`` in a dict: the test double of the app's outbox table for the writer's tests.

The app's implementation is ``cds_app.db.outbox.DbOutbox``; tests that need durability (a
restart) use it on a real database (``tests/cds_app/test_worker.py``).
"""

from __future__ import annotations

import threading
import uuid
from dataclasses import replace
from datetime import datetime
from typing import Any

from fhir_adapter.outbox import OutboxItem

JsonDict = dict[str, Any]


class MemoryOutbox:
    """An outbox in a dict (thread-safe)."""

    def __init__(self) -> None:
        self.items: dict[str, OutboxItem] = {}
        self._lock = threading.Lock()

    def enqueue(self, kind: str, payload: JsonDict, dedup_key: str, now: datetime) -> str:
        with self._lock:
            for item in self.items.values():
                if item.dedup_key == dedup_key:
                    return item.id
            item_id = str(uuid.uuid4())
            self.items[item_id] = OutboxItem(item_id, kind, payload, dedup_key, now, now)
            return item_id

    def due(self, now: datetime, limit: int) -> list[OutboxItem]:
        with self._lock:
            ready = [i for i in self.items.values() if i.state == "pending"]
            ready = [i for i in ready if i.next_attempt_at <= now]
            return sorted(ready, key=lambda i: i.created_at)[:limit]

    def _update(self, item_id: str, **changes: Any) -> None:
        with self._lock:
            item = self.items[item_id]
            self.items[item_id] = replace(item, attempts=item.attempts + 1, **changes)

    def mark_delivered(self, item_id: str, location: str) -> None:
        self._update(item_id, state="delivered", location=location)

    def mark_retry(self, item_id: str, error: str, next_attempt_at: datetime) -> None:
        self._update(item_id, last_error=error, next_attempt_at=next_attempt_at)

    def mark_failed(self, item_id: str, error: str) -> None:
        self._update(item_id, state="failed", last_error=error)
