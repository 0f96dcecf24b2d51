"""A start line for sibling test processes: each announces itself, all start at the same moment."""

from __future__ import annotations

import os
import time
from pathlib import Path


def start_together(
    ready_dir: Path, parties: int, lead_s: float = 0.3, timeout_s: float = 120
) -> float:
    """Announce this process, wait for ``parties`` siblings, then sleep until the common start.

    The start is ``lead_s`` after the last sibling announced itself (its file's mtime), so every
    process computes the same instant. Returns it (``time.time()`` clock).
    """
    (ready_dir / str(os.getpid())).touch()
    deadline = time.monotonic() + timeout_s
    while True:
        marks = list(ready_dir.iterdir())
        if len(marks) >= parties:
            break
        if time.monotonic() > deadline:
            raise TimeoutError(f"only {len(marks)} of {parties} processes started")
        time.sleep(0.01)
    start = max(mark.stat().st_mtime for mark in marks) + lead_s
    time.sleep(max(0.0, start - time.time()))
    return start
