"""Measurements of already-seen Observation versions, so repeated chart opens map only news.

A FHIR resource version (``id`` + ``meta.versionId``) is immutable on its server, so its mapping
can be reused; entries are scoped by the calling client (its issuer), so one EHR's resources
never stand in for another's. Observations without a ``versionId`` are always mapped afresh.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

from fhir_adapter.codes import CodeTable
from fhir_adapter.observation_mapping import map_observation
from fhir_adapter.resources import Observation
from model.schemas import Measurement, PatientKey


class ObservationMappingCache:
    """Bounded LRU of ``(scope, patient key, Observation id, versionId) -> measurements``."""

    def __init__(self, codes: CodeTable, max_entries: int = 200_000) -> None:
        self.codes = codes
        self._max = max_entries
        self._entries: OrderedDict[tuple[str, str, str, str], tuple[Measurement, ...]] = (
            OrderedDict()
        )
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def measurements(
        self, obs: Observation, key: PatientKey, scope: str = ""
    ) -> tuple[Measurement, ...]:
        """The measurements of one Observation (retracted or unusable ones give none)."""
        version = obs.version_id
        if self._max <= 0 or version is None:
            return map_observation(obs, key, self.codes).measurements
        cache_key = (scope, str(key), obs.id, version)
        with self._lock:
            found = self._entries.get(cache_key)
            if found is not None:
                self._entries.move_to_end(cache_key)
                self.hits += 1
                return found
        mapped = map_observation(obs, key, self.codes).measurements
        with self._lock:
            self.misses += 1
            self._entries[cache_key] = mapped
            if len(self._entries) > self._max:
                self._entries.popitem(last=False)
        return mapped
