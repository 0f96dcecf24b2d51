"""What already-seen Observations yield, keyed by their JSON bytes: a chart re-open maps only news.

A prefetch Bundle keeps each entry's resource as raw JSON (``fhir_adapter.resources``); decoding
and mapping it is a pure function of those bytes, the patient key and the code table. So the
outcome of an entry - its subject and measurements, a rejection, or "not an Observation" - is
remembered under a digest (BLAKE2b, 128 bits) of the bytes, and an unchanged Observation is
neither decoded nor mapped again. Any change to the resource (a new value, status, version) is
new bytes and a fresh mapping; nothing is trusted from ``meta.versionId``. Entries are scoped by
the calling client (its issuer) and the patient key, so one EHR's resources never stand in for
another's. The cache is a bounded LRU; one lock acquisition per Bundle for the look-ups and one
for the inserts.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass

from msgspec import Raw

from fhir_adapter.codes import CodeTable
from fhir_adapter.observation_mapping import map_observation
from fhir_adapter.resources import Observation, Rejected, decode_resource
from fhir_adapter.values import local_ref
from model.schemas import Measurement, PatientKey

_Key = tuple[str, str, bytes]


@dataclass(frozen=True, slots=True)
class EntryOutcome:
    """What one Bundle entry's resource yields.

    ``skip``: another resource type (not ours to count); ``rejected``: not a usable Observation;
    otherwise ``ref`` (``Observation/<id>``), ``subject`` (``Patient/<id>`` or None) and the
    measurements (none for retracted or unusable ones).
    """

    ref: str
    subject: str | None = None
    measurements: tuple[Measurement, ...] = ()
    rejected: Rejected | None = None
    skip: bool = False


def entry_outcome(raw: Raw | bytes, key: PatientKey, codes: CodeTable) -> EntryOutcome:
    """Decode and map one entry's resource (no cache)."""
    obs = decode_resource(raw, Observation)
    if isinstance(obs, Rejected):
        return EntryOutcome(obs.ref, rejected=obs, skip=obs.reason.startswith("expected a "))
    return EntryOutcome(
        f"Observation/{obs.id}",
        local_ref(obs.subject.reference if obs.subject else None),
        map_observation(obs, key, codes).measurements,
    )


def _digest(raw: Raw | bytes) -> bytes:
    return hashlib.blake2b(raw, digest_size=16).digest()


class ObservationMappingCache:
    """Bounded LRU of ``(scope, patient key, digest of the resource JSON) -> EntryOutcome``."""

    def __init__(self, codes: CodeTable, max_entries: int = 200_000) -> None:
        self.codes = codes
        self._max = max_entries
        self._entries: OrderedDict[_Key, EntryOutcome] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def outcomes(
        self, resources: Sequence[Raw | bytes], key: PatientKey, scope: str = ""
    ) -> list[EntryOutcome]:
        """The outcome of each resource JSON, in order (cached ones not decoded again)."""
        if self._max <= 0:
            return [entry_outcome(raw, key, self.codes) for raw in resources]
        patient = str(key)
        keys = [(scope, patient, _digest(raw)) for raw in resources]
        with self._lock:
            found = [self._entries.get(k) for k in keys]
            for k, outcome in zip(keys, found, strict=True):
                if outcome is not None:
                    self._entries.move_to_end(k)
        fresh: dict[_Key, EntryOutcome] = {}
        out: list[EntryOutcome] = []
        for k, raw, outcome in zip(keys, resources, found, strict=True):
            if outcome is None:
                outcome = fresh.get(k)
                if outcome is None:  # a resource repeated within the request is mapped once
                    outcome = fresh[k] = entry_outcome(raw, key, self.codes)
            out.append(outcome)
        with self._lock:
            self.hits += len(out) - len(fresh)
            self.misses += len(fresh)
            self._entries.update(fresh)
            while len(self._entries) > self._max:
                self._entries.popitem(last=False)
        return out
