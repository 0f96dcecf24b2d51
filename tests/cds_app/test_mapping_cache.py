from __future__ import annotations

from datetime import UTC, datetime

import orjson

from cds_app.hooks.mapping_cache import ObservationMappingCache
from fhir_adapter.codes import CodeTable
from model.schemas import PatientKey
from tests.support.ehr import MRN_SYSTEM, observation

KEY = PatientKey(system=MRN_SYSTEM, value="MRN-C")
T = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)


def raw(resource: dict[str, object]) -> bytes:
    return orjson.dumps(resource)


def values(cache: ObservationMappingCache, *resources: bytes, scope: str = "") -> list[float]:
    return [m.value for o in cache.outcomes(list(resources), KEY, scope) for m in o.measurements]


def test_unchanged_resources_are_mapped_once_and_changes_are_not_missed() -> None:
    cache = ObservationMappingCache(CodeTable())
    obs = raw(observation("o1", "p1", "fio2", 45, T))
    first = cache.outcomes([obs], KEY)
    assert [(m.variable, m.value) for m in first[0].measurements] == [("fio2", 45)]
    assert first[0].subject == "Patient/p1"
    assert cache.outcomes([obs], KEY)[0] is first[0]
    assert (cache.hits, cache.misses) == (1, 1)
    # The same id and versionId with other content is other bytes: mapped afresh.
    assert values(cache, raw(observation("o1", "p1", "fio2", 60, T))) == [60]
    withdrawn = {**observation("o1", "p1", "fio2", 60, T), "status": "entered-in-error"}
    assert values(cache, raw(withdrawn)) == []
    unversioned = {k: v for k, v in observation("o1", "p1", "fio2", 45, T).items() if k != "meta"}
    assert values(cache, raw(unversioned), raw(unversioned)) == [45, 45]
    assert cache.misses == 4  # repeated within one request: mapped once


def test_other_patient_key_is_mapped_afresh() -> None:
    cache = ObservationMappingCache(CodeTable())
    obs = raw(observation("o1", "p1", "spo2", 91, T))
    cache.outcomes([obs], KEY)
    other = PatientKey(system=MRN_SYSTEM, value="MRN-D")
    [outcome] = cache.outcomes([obs], other)
    assert cache.misses == 2
    assert [m.patient_key for m in outcome.measurements] == [other]


def test_rejections_and_other_types_are_remembered_as_such() -> None:
    cache = ObservationMappingCache(CodeTable())
    bad = raw({**observation("o2", "p1", "spo2", 91, T), "status": 7})
    other = raw({"resourceType": "Condition", "id": "c1"})
    for _ in range(2):
        rejected, skipped = cache.outcomes([bad, other], KEY)
        assert rejected.rejected is not None
        assert rejected.rejected.ref == "Observation/o2"
        assert not rejected.skip
        assert rejected.measurements == ()
        assert skipped.skip
    assert (cache.hits, cache.misses) == (2, 2)


def test_cache_is_bounded() -> None:
    cache = ObservationMappingCache(CodeTable(), max_entries=2)
    for i in range(3):
        cache.outcomes([raw(observation(f"o{i}", "p1", "spo2", 90 + i, T))], KEY)
    cache.outcomes([raw(observation("o0", "p1", "spo2", 90, T))], KEY)
    assert cache.misses == 4


def test_disabled_cache_maps_every_time() -> None:
    cache = ObservationMappingCache(CodeTable(), max_entries=0)
    obs = raw(observation("o1", "p1", "fio2", 45, T))
    assert values(cache, obs, obs) == [45, 45]
    assert (cache.hits, cache.misses) == (0, 0)


def test_one_clients_observations_never_stand_in_for_anothers() -> None:
    cache = ObservationMappingCache(CodeTable())
    obs = raw(observation("o1", "p1", "fio2", 95, T))
    assert values(cache, obs, scope="https://other-ehr.example/") == [95]
    cache.outcomes([obs], KEY, "https://ehr.example.org/")
    assert cache.misses == 2
