"""Counters of one running listener (thread-safe, no metrics library: cds_app exports them).

Each counter is a name and a label, e.g. ``("cstore", "0xA701")`` or ``("quarantined", "")``;
:meth:`ListenerStats.snapshot` is read at scrape time by ``cds_app``'s Prometheus collector.
"""

from __future__ import annotations

import threading
from collections import Counter

#: name -> (help text, label name); the label is "" for unlabelled counters
COUNTERS: dict[str, tuple[str, str]] = {
    "cstore": ("C-STORE responses by status", "status"),
    "association": ("Associations by outcome (accepted, rejected, released, aborted)", "outcome"),
    "connection_refused": ("Connections closed before or outside DICOM rules", "reason"),
    "processed": ("Spooled instances processed, by outcome (film, not_scored)", "outcome"),
    "decoder_failure": (
        "Decoder failures (crash, timeout, memory, error, interrupted, unavailable)",
        "kind",
    ),
    "quarantined": ("Instances moved to quarantine/", ""),
}


class ListenerStats:
    """Monotonic counters; ``count`` from any thread, ``snapshot`` for the exporter."""

    def __init__(self) -> None:
        self._counts: Counter[tuple[str, str]] = Counter()
        self._lock = threading.Lock()

    def count(self, name: str, label: str = "") -> None:
        """Add one to counter ``name`` with ``label``."""
        if name not in COUNTERS:
            raise KeyError(f"unknown listener counter {name!r}")
        with self._lock:
            self._counts[(name, label)] += 1

    def snapshot(self) -> dict[tuple[str, str], int]:
        """Every counter seen so far."""
        with self._lock:
            return dict(self._counts)

    def get(self, name: str, label: str = "") -> int:
        """One counter's value (0 when never counted)."""
        with self._lock:
            return self._counts[(name, label)]
