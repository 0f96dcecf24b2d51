"""Measurements of already-seen Observation versions, so repeated chart opens map only news.

A FHIR resource version (``id`` + ``meta.versionId``) is immutable, so its mapping can be reused;
Observations without a ``versionId`` are always mapped afresh.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any

from fhir_adapter.codes import CodeTable
from fhir_adapter.convert_observation import map_observation
from model.schemas import Measurement, PatientKey

JsonDict = dict[str, Any]


class ObservationMappingCache:
    """Bounded LRU of ``(patient key, Observation id, versionId) -> measurements``."""

    def __init__(self, codes: CodeTable, max_entries: int = 200_000) -> None:
        self._codes = codes
        self._max = max_entries
        self._entries: OrderedDict[tuple[str, str, str], tuple[Measurement, ...]] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def measurements(self, obs: JsonDict, key: PatientKey) -> tuple[Measurement, ...]:
        """The measurements of one Observation (retracted or unusable ones give none)."""
        meta = obs.get("meta")
        version = meta.get("versionId") if isinstance(meta, dict) else None
        rid = obs.get("id")
        if self._max <= 0 or not isinstance(version, str) or not isinstance(rid, str):
            return map_observation(obs, key, self._codes).measurements
        cache_key = (str(key), rid, version)
        with self._lock:
            found = self._entries.get(cache_key)
            if found is not None:
                self._entries.move_to_end(cache_key)
                self.hits += 1
                return found
        mapped = map_observation(obs, key, self._codes).measurements
        with self._lock:
            self.misses += 1
            self._entries[cache_key] = mapped
            if len(self._entries) > self._max:
                self._entries.popitem(last=False)
        return mapped
