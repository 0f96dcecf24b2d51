from __future__ import annotations

from datetime import UTC, datetime

from cds_app.hooks.mapping_cache import ObservationMappingCache
from fhir_adapter.codes import CodeTable
from model.schemas import PatientKey
from tests.support.ehr import MRN_SYSTEM, observation
from tests.support.typed import typed

KEY = PatientKey(system=MRN_SYSTEM, value="MRN-C")
T = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)


def test_versions_are_mapped_once_and_changes_are_not_missed() -> None:
    cache = ObservationMappingCache(CodeTable())
    obs = typed(observation("o1", "p1", "fio2", 45, T))
    first = cache.measurements(obs, KEY)
    assert [(m.variable, m.value) for m in first] == [("fio2", 45)]
    assert cache.measurements(obs, KEY) is first
    assert (cache.hits, cache.misses) == (1, 1)
    amended = {**observation("o1", "p1", "fio2", 60, T), "meta": {"versionId": "2"}}
    assert [m.value for m in cache.measurements(typed(amended), KEY)] == [60]
    withdrawn = {**amended, "status": "entered-in-error", "meta": {"versionId": "3"}}
    assert cache.measurements(typed(withdrawn), KEY) == ()
    unversioned = typed({k: v for k, v in observation("o1", "p1", "fio2", 45, T).items()
                         if k != "meta"})  # fmt: skip
    cache.measurements(unversioned, KEY)
    cache.measurements(unversioned, KEY)
    assert cache.misses == 3  # unversioned resources are never cached


def test_cache_is_bounded() -> None:
    cache = ObservationMappingCache(CodeTable(), max_entries=2)
    for i in range(3):
        cache.measurements(typed(observation(f"o{i}", "p1", "spo2", 90 + i, T)), KEY)
    cache.measurements(typed(observation("o0", "p1", "spo2", 90, T)), KEY)
    assert cache.misses == 4


def test_one_clients_observations_never_stand_in_for_anothers() -> None:
    cache = ObservationMappingCache(CodeTable())
    forged = typed(observation("o1", "p1", "fio2", 95, T))  # same id + version, other values
    real = typed(observation("o1", "p1", "fio2", 30, T))
    assert [m.value for m in cache.measurements(forged, KEY, "https://other-ehr.example/")] == [95]
    assert [m.value for m in cache.measurements(real, KEY, "https://ehr.example.org/")] == [30]
