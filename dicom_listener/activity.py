"""When data last arrived on any association: processing waits for a quiet link.

On a machine with few cores, decoding a film while the next ones arrive delays their
acknowledgements: it takes CPU from the association threads, and its own durable writes
(attempts, the sink, done markers) queue behind the same file-system journal as the spool's
fsyncs. Processing threads therefore start a film only once no byte has arrived for
``quiet_s``, or once they have waited ``max_wait_s`` (a peer that never pauses cannot starve
processing: one film at least per ``max_wait_s``).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable


class ReceiptActivity:
    """The time of the last received bytes, shared by the sockets and the processing threads."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._last = -math.inf

    def received(self) -> None:
        """Called by a socket for every read that returned data (one float store, no lock)."""
        self._last = self._clock()

    def wait_quiet(
        self, quiet_s: float, max_wait_s: float, wait: Callable[[float], object]
    ) -> None:
        """Return once nothing arrived for ``quiet_s``, or after ``max_wait_s`` at most.

        ``wait(seconds)`` sleeps (a stop event's ``wait``); the caller checks why it woke.
        """
        if quiet_s <= 0:
            return
        deadline = self._clock() + max_wait_s
        while True:
            now = self._clock()
            left = min(self._last + quiet_s - now, deadline - now)
            if left <= 0:
                return
            if wait(left):  # the stop event was set
                return
