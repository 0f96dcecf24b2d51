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

A chart re-opened unchanged sends the very same resources again (its Bundles' envelopes - ids,
``fullUrl``, ``lastUpdated`` of the search - may differ, so only the resources count): what the
whole list yields, every measurement and every entry dropped, is also remembered, under one
SHA-256 digest of the entries' numbers, lengths and bytes (one pass, ~0.2 ms for 500 entries),
so such a call skips the per-entry look-ups as well. Nothing that depends on the time of the
call is kept: the caller applies its lookback window.
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
_ListKey = tuple[str, str, str, bytes]


@dataclass(frozen=True, slots=True)
class MappedEntries:
    """What a list of entries yields for a patient: the measurements of the subject's
    Observations (any time) and the entries not used (malformed, or another subject)."""

    measurements: tuple[Measurement, ...]
    dropped: tuple[Rejected, ...]


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


def _list_digest(entries: Sequence[tuple[int, Raw]]) -> bytes:
    """SHA-256 of the entries' numbers and lengths, then of their bytes (unambiguous)."""
    digest = hashlib.sha256(b",".join(b"%d:%d" % (n, len(raw)) for n, raw in entries))
    digest.update(b"".join(raw for _, raw in entries))
    return digest.digest()


class ObservationMappingCache:
    """Bounded LRU of ``(scope, patient key, digest of the resource JSON) -> EntryOutcome``, and
    of whole entry lists: at most ``max_entries // 200`` lists of ``max_entries`` entries in
    all, so the lists never hold more than the entry cache itself."""

    def __init__(self, codes: CodeTable, max_entries: int = 200_000) -> None:
        self.codes = codes
        self._max = max_entries
        self._entries: OrderedDict[_Key, EntryOutcome] = OrderedDict()
        self._lists: OrderedDict[_ListKey, tuple[MappedEntries, int]] = OrderedDict()
        self._max_lists = max_entries // 200  # a chart holds ~500 entries
        self._listed = 0  # entries of the lists kept: at most max_entries in all
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0
        self.list_hits = 0

    def mapped(
        self, entries: Sequence[tuple[int, Raw]], subject: str, key: PatientKey, scope: str = ""
    ) -> MappedEntries:
        """What the numbered entries yield for ``subject`` (``Patient/<id>``) under ``key``: an
        unchanged list at once, otherwise each entry from :meth:`outcomes`."""
        if self._max_lists <= 0:
            return self._map(entries, subject, key, scope)
        list_key = (scope, subject, str(key), _list_digest(entries))
        with self._lock:
            kept = self._lists.get(list_key)
            if kept is not None:
                self._lists.move_to_end(list_key)
                self.list_hits += 1
                return kept[0]
        found = self._map(entries, subject, key, scope)
        if len(entries) > self._max:
            return found  # larger than the whole budget: not kept
        with self._lock:
            if list_key not in self._lists:
                self._lists[list_key] = (found, len(entries))
                self._listed += len(entries)
            while len(self._lists) > self._max_lists or self._listed > self._max:
                _, (_, size) = self._lists.popitem(last=False)
                self._listed -= size
        return found

    def _map(
        self, entries: Sequence[tuple[int, Raw]], subject: str, key: PatientKey, scope: str
    ) -> MappedEntries:
        measurements: list[Measurement] = []
        dropped: list[Rejected] = []
        outcomes = self.outcomes([raw for _, raw in entries], key, scope)
        for (number, _), outcome in zip(entries, outcomes, strict=True):
            if outcome.skip:
                continue  # another resource type: not ours to count
            if outcome.rejected is not None:
                rejected = outcome.rejected
                if rejected.ref == "?":
                    rejected = Rejected(f"entry[{number}]", rejected.reason)
                dropped.append(rejected)
            elif outcome.subject != subject:
                dropped.append(Rejected(outcome.ref, "not an Observation of the patient"))
            else:
                measurements.extend(outcome.measurements)
        return MappedEntries(tuple(measurements), tuple(dropped))

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
