"""The outbox worker loop: repeatedly drains due rows through an injected ``drain`` coroutine.

The retry policy and conditional create live in ``fhir_adapter.writer.drain_outbox``; this loop
only paces it and keeps it alive.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

log = logging.getLogger(__name__)

Drain = Callable[[], Awaitable[int]]


async def run_outbox_loop(drain: Drain, stop: asyncio.Event, *, poll_s: float = 1.0) -> None:
    """Call ``drain`` (returns how many rows it settled) until ``stop`` is set."""
    while not stop.is_set():
        try:
            settled = await drain()
        except Exception:
            log.exception("outbox pass failed")
            settled = 0
        if settled:
            continue
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), poll_s)
