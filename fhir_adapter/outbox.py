"""The durable-outbox contract for write-back; the app's DB table implements ``Outbox``.

An item is enqueued in the same transaction that stores the prediction, then delivered by
``drain_outbox``. Delivery is at-least-once; the conditional create makes it exactly-once on the
FHIR server. The app's table (``cds_app.db.outbox.DbOutbox``) is the implementation.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
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
