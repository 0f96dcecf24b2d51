"""What a whole unchanged prefetch yields, keyed by its bytes: a chart re-open decodes nothing.

An EHR re-sends the same prefetch for a patient whose chart has not changed. Its Patient and its
Observation Bundles are raw JSON (``fhir_adapter.resources``), and what ``gather_patient_data``
makes of them - the Patient, the patient key, every measurement mapped and every entry dropped -
is a pure function of those bytes, ``context.patientId``, the MRN system and the code table. So
it is remembered under a SHA-256 digest of each prefetch value (one pass over the ~300 KB,
~0.15 ms) together with the calling client (its issuer) and the patient id; a call with the same
bytes reuses it, and any change (one new Observation, a corrected value) is other bytes and goes
through the per-entry path (``mapping_cache``), which maps only the news. Nothing that depends
on the time of the call is stored: the lookback window and the age are applied per call.

Only a prefetch that holds every key (no FHIR server read) is remembered, and errors (400, 412)
are never: a bad prefetch is refused on every call.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from msgspec import Raw

from fhir_adapter.resources import Patient, Rejected
from model.schemas import Measurement, PatientKey

_Key = tuple[str, str, tuple[bytes, ...]]


@dataclass(frozen=True, slots=True)
class GatheredPrefetch:
    """A prefetch's Patient, patient key, every measurement (any time) and what was dropped."""

    patient: Patient
    key: PatientKey
    measurements: tuple[Measurement, ...]
    dropped: tuple[Rejected, ...]


class PrefetchMemo:
    """Bounded LRU: ``(issuer, patient id, prefetch value digests) -> GatheredPrefetch``."""

    def __init__(self, max_patients: int = 1_000) -> None:
        self._max = max_patients
        self._entries: OrderedDict[_Key, GatheredPrefetch] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0

    def key(
        self, scope: str, patient_id: str, prefetch: Mapping[str, Raw], names: Iterable[str]
    ) -> _Key | None:
        """The memo key of the prefetch values ``names`` (None when one is absent or the memo is
        off)."""
        if self._max <= 0:
            return None
        digests = []
        for name in names:
            raw = prefetch.get(name)
            if raw is None:
                return None
            digests.append(hashlib.sha256(raw).digest())
        return scope, patient_id, tuple(digests)

    def get(self, key: _Key) -> GatheredPrefetch | None:
        with self._lock:
            found = self._entries.get(key)
            if found is not None:
                self._entries.move_to_end(key)
                self.hits += 1
            return found

    def put(self, key: _Key, gathered: GatheredPrefetch) -> None:
        with self._lock:
            self._entries[key] = gathered
            while len(self._entries) > self._max:
                self._entries.popitem(last=False)
