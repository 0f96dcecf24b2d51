"""At most N hook calls compute at once; the others wait their turn, idle.

A patient-view call is CPU-bound Python (decoding, mapping, the model's input, SQLAlchemy) that
holds the interpreter lock. Run by the thread pool, eight concurrent calls are eight runnable
threads taking the lock in turns: each switch evicts the others' caches and every call is paused
mid-way, so the same work costs more CPU per call and the slowest call waits for all the others
(measured in docs/benchmarks.md, "The compute gate"). The gate admits ``slots`` threads to the
work and parks the rest on a semaphore, which costs nothing while they wait; calls then finish in
arrival order instead of all together.

A thread in the gate steps out while it waits on the network (``released``: the FHIR server
fallback), so a slow EHR never holds a slot that another call could compute in. Authentication
(the JWT and its ``jti`` commit, a JWKS fetch now and then) runs before the call enters the gate.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import TracebackType


def default_slots() -> int:
    """One slot per core this process may run on: a call in the gate spends part of its time
    outside the interpreter lock (the network's forward pass, SQLite, hashing, a database
    server's answer), which a second call can compute through; more slots than cores only add
    switching (measured with 1, 2 and 64 slots on two cores). A container limited by a CPU quota
    rather than by a CPU set should set ``VENTFUSION_HOOKS__COMPUTE_SLOTS`` to its quota."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


class ComputeGate:
    """A counting gate for the service's CPU-bound sections (``with gate: ...``); reentrant per
    thread, so nested sections do not wait for themselves. ``slots=0`` admits everyone."""

    def __init__(self, slots: int) -> None:
        self.slots = slots
        self._semaphore = threading.BoundedSemaphore(slots) if slots > 0 else None
        self._held = threading.local()

    def _depth(self) -> int:
        return getattr(self._held, "depth", 0)

    def __enter__(self) -> ComputeGate:
        depth = self._depth()
        if depth == 0 and self._semaphore is not None:
            self._semaphore.acquire()
        self._held.depth = depth + 1
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        depth = self._depth() - 1
        self._held.depth = depth
        if depth == 0 and self._semaphore is not None:
            self._semaphore.release()

    @contextmanager
    def released(self) -> Iterator[None]:
        """Step out of the gate for a wait on the network, and back in after it (a no-op for a
        thread that is not in the gate)."""
        depth = self._depth()
        if depth == 0 or self._semaphore is None:
            yield
            return
        self._held.depth = 0
        self._semaphore.release()
        try:
            yield
        finally:
            self._semaphore.acquire()
            self._held.depth = depth


OPEN_GATE = ComputeGate(0)
"""A gate that admits every thread (tests and tools that call the service directly)."""
