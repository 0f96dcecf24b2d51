"""Log lines a PACS administrator can act on, one per association event, and its counters.

accepted (with the presentation contexts refused), rejected (with the reason sent in the
A-ASSOCIATE-RJ), released and aborted (with how many instances were stored or refused on it).
AE titles, addresses and UIDs only, never patient data.
"""

from __future__ import annotations

import logging
import threading
import weakref
from collections import Counter
from typing import Any

from pydicom.uid import UID
from pynetdicom import evt
from pynetdicom.events import Event, EventHandlerType

from dicom_listener.stats import ListenerStats
from dicom_listener.statuses import SUCCESS

log = logging.getLogger(__name__)

#: (source, diagnostic) of an A-ASSOCIATE-RJ -> reason (PS3.8 9.3.4)
_REJECT_REASONS = {
    (1, 1): "no reason given",
    (1, 2): "application context name not supported",
    (1, 3): "calling AE title not recognised (DICOM__ALLOWED_CALLING_AETS)",
    (1, 7): "called AE title not recognised (DICOM__AE_TITLE)",
    (2, 1): "no reason given",
    (2, 2): "protocol version not supported",
    (3, 1): "temporary congestion",
    (3, 2): "local limit exceeded (DICOM__MAX_ASSOCIATIONS)",
}
_CONTEXT_RESULTS = {
    1: "user rejection",
    2: "no reason",
    3: "SOP class not supported",
    4: "transfer syntaxes not supported",
}


def _who(event: Event) -> str:
    requestor = event.assoc.requestor
    return f"{requestor.ae_title or '?'}@{requestor.address}:{requestor.port}"


def _uid_name(uid: object) -> str:
    name = UID(str(uid)).name
    return name if name and name != str(uid) else str(uid)


class AssociationLog:
    """Binds to association events; counts what each association stored and refused."""

    def __init__(self, stats: ListenerStats) -> None:
        self._stats = stats
        self._counts: weakref.WeakKeyDictionary[Any, Counter[str]] = weakref.WeakKeyDictionary()
        self._lock = threading.Lock()

    def handlers(self) -> list[EventHandlerType]:
        """The ``evt_handlers`` entries of this log."""
        return [
            (evt.EVT_ACCEPTED, self.accepted),
            (evt.EVT_REJECTED, self.rejected),
            (evt.EVT_RELEASED, self.released),
            (evt.EVT_ABORTED, self.aborted),
        ]

    def stored(self, event: Event, status: int) -> None:
        """Count one C-STORE answer on the event's association (called by the handler)."""
        label = f"0x{status:04X}"
        self._stats.count("cstore", label)
        with self._lock:
            counts = self._counts.setdefault(event.assoc, Counter())
            counts["stored" if status == SUCCESS else "refused"] += 1

    def _summary(self, event: Event) -> str:
        with self._lock:
            counts = self._counts.pop(event.assoc, Counter())
        return f"{counts['stored']} instances acknowledged, {counts['refused']} refused"

    def accepted(self, event: Event) -> None:
        """Association accepted: which presentation contexts were refused, and why."""
        self._stats.count("association", "accepted")
        refused = [
            f"{_uid_name(cx.abstract_syntax)} ({_CONTEXT_RESULTS.get(cx.result or 0, cx.result)})"
            for cx in event.assoc.rejected_contexts
        ]
        accepted = len(event.assoc.accepted_contexts)
        log.info("association accepted from %s (%d contexts accepted)", _who(event), accepted)
        if refused:
            log.warning(
                "association from %s: presentation contexts refused: %s",
                _who(event),
                "; ".join(refused),
            )

    def rejected(self, event: Event) -> None:
        """Association rejected: the reason we sent."""
        self._stats.count("association", "rejected")
        primitive = event.assoc.acceptor.primitive
        source = getattr(primitive, "result_source", None)
        diagnostic = getattr(primitive, "diagnostic", None)
        result = "permanently" if getattr(primitive, "result", None) == 1 else "transiently"
        reason = _REJECT_REASONS.get((source or 0, diagnostic or 0), "unknown reason")
        called = getattr(event.assoc.requestor.primitive, "called_ae_title", "?")
        log.warning(
            "association from %s (called %s) rejected %s: %s", _who(event), called, result, reason
        )

    def released(self, event: Event) -> None:
        """Association released normally."""
        self._stats.count("association", "released")
        log.info("association released by %s: %s", _who(event), self._summary(event))

    def aborted(self, event: Event) -> None:
        """Association aborted (by the peer, a timeout, a closed connection or our shutdown)."""
        self._stats.count("association", "aborted")
        log.warning("association with %s aborted: %s", _who(event), self._summary(event))
