"""Who processes which spooled instance.

A listener process claims an instance before processing it and completes or releases the claim
afterwards. :class:`LocalClaims` serves one process; a multi-replica deployment sharing a spool
can implement :class:`ClaimStore` on PostgreSQL (``SELECT ... FOR UPDATE SKIP LOCKED``).
"""

from __future__ import annotations

import threading
from typing import Protocol, runtime_checkable


@runtime_checkable
class ClaimStore(Protocol):
    def try_claim(self, uid: str) -> bool:
        """Take the instance for processing; False if another worker holds it."""
        ...

    def complete(self, uid: str) -> None:
        """The instance is finished (handed to the sink or rejected); drop the claim."""
        ...

    def release(self, uid: str) -> None:
        """Processing failed transiently; let any worker claim it again later."""
        ...


class LocalClaims:
    """In-process claims (one listener process per spool directory)."""

    def __init__(self) -> None:
        self._held: set[str] = set()
        self._lock = threading.Lock()

    def try_claim(self, uid: str) -> bool:
        """Take the instance unless a thread of this process already holds it."""
        with self._lock:
            if uid in self._held:
                return False
            self._held.add(uid)
            return True

    def complete(self, uid: str) -> None:
        """Drop the claim of a finished instance."""
        with self._lock:
            self._held.discard(uid)

    def release(self, uid: str) -> None:
        """Drop the claim so the instance can be retried."""
        with self._lock:
            self._held.discard(uid)

    def held(self) -> int:
        """How many instances are being processed now."""
        with self._lock:
            return len(self._held)
