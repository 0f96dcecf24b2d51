"""A chart re-opened unchanged is mapped at once; anything that depends on the call is not kept."""

from __future__ import annotations

import copy
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import orjson
import pytest

from cds_app.hooks.errors import BadRequestError
from cds_app.hooks.mapping_cache import ObservationMappingCache
from cds_app.hooks.patient_data import PatientData, gather_patient_data
from cds_app.hooks.requests import decode_hook_request
from fhir_adapter.codes import CodeTable
from tests.support.ehr import MRN_SYSTEM, full_prefetch, hook_request, patient, searchset

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
ISSUER = "https://ehr.example.org/"


def _gather(
    body: dict[str, Any],
    mapper: ObservationMappingCache,
    *,
    as_of: datetime = NOW,
    scope: str = ISSUER,
    transport: httpx.BaseTransport | None = None,
) -> PatientData:
    return gather_patient_data(
        decode_hook_request(orjson.dumps(body)),
        as_of=as_of,
        lookback_h=48,
        mrn_system=MRN_SYSTEM,
        mapper=mapper,
        fhir_budget_s=1.0,
        transport=transport,
        scope=scope,
    )


def _prefetch(severity: float = 0.5) -> dict[str, Any]:
    return full_prefetch("pt-1", "MRN-1", now=NOW, severity=severity)


def _uncached() -> ObservationMappingCache:
    return ObservationMappingCache(CodeTable(), max_entries=0)


def test_an_unchanged_chart_is_reused_though_its_bundles_envelopes_differ() -> None:
    mapper = ObservationMappingCache(CodeTable())
    first = _gather(hook_request("pt-1", prefetch=_prefetch()), mapper)
    assert mapper.list_hits == 0
    # A new search: new Bundle fullUrls (and hookInstance), the same resources.
    again = _gather(hook_request("pt-1", prefetch=_prefetch()), mapper)
    assert mapper.list_hits == 1
    assert again == first == _gather(hook_request("pt-1", prefetch=_prefetch()), _uncached())
    assert len(first.measurements) > 100


def test_the_lookback_window_and_the_age_are_applied_per_call() -> None:
    mapper = ObservationMappingCache(CodeTable())
    body = hook_request("pt-1", prefetch=_prefetch())
    now = _gather(body, mapper)
    later = NOW + timedelta(hours=30)
    reused = _gather(body, mapper, as_of=later)
    assert mapper.list_hits == 1
    assert reused == _gather(body, _uncached(), as_of=later)
    assert min(m.time for m in reused.measurements) >= later - timedelta(hours=48)
    assert len(reused.measurements) < len(now.measurements)
    earlier = _gather(body, mapper, as_of=NOW - timedelta(hours=1))  # nothing after as_of
    assert all(m.time <= NOW - timedelta(hours=1) for m in earlier.measurements)


def test_any_change_another_client_or_another_patient_is_mapped_afresh() -> None:
    mapper = ObservationMappingCache(CodeTable())
    prefetch = _prefetch()
    _gather(hook_request("pt-1", prefetch=prefetch), mapper)
    changed = copy.deepcopy(prefetch)
    changed["vitals"]["entry"][0]["resource"]["valueQuantity"]["value"] = 55.5
    values = {m.value for m in _gather(hook_request("pt-1", prefetch=changed), mapper).measurements}
    assert 55.5 in values
    _gather(hook_request("pt-1", prefetch=prefetch), mapper, scope="https://other-ehr.example/")
    renamed = {**prefetch, "patient": patient("pt-1", "MRN-OTHER")}  # another MRN: another key
    other = _gather(hook_request("pt-1", prefetch=renamed), mapper)
    assert other.key.value == "MRN-OTHER"
    assert {m.patient_key.value for m in other.measurements} == {"MRN-OTHER"}
    moved = copy.deepcopy(prefetch)  # the same resources at other entry numbers
    moved["vitals"]["entry"].insert(0, {"resource": {"resourceType": "Condition", "id": "c1"}})
    assert _gather(hook_request("pt-1", prefetch=moved), mapper).measurements
    assert mapper.list_hits == 0


def test_refusals_are_never_remembered_and_fhir_reads_are_keyed_by_content() -> None:
    mapper = ObservationMappingCache(CodeTable())
    bad = {**_prefetch(), "labs": {"resourceType": "Patient", "id": "x"}}
    for _ in range(2):
        with pytest.raises(BadRequestError):
            _gather(hook_request("pt-1", prefetch=bad), mapper)
    labs = _prefetch()["labs"]["entry"]

    def fhir(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=searchset([e["resource"] for e in labs]))

    partial = {k: v for k, v in _prefetch().items() if k != "labs"}
    body = hook_request("pt-1", prefetch=partial, fhir_server="https://ehr.example.org/fhir",
                        access_token="token")  # fmt: skip
    first = _gather(body, mapper, transport=httpx.MockTransport(fhir))
    assert first.used_fhir_server
    assert _gather(body, mapper, transport=httpx.MockTransport(fhir)) == first
    assert mapper.list_hits == 1
    from_prefetch = _gather(hook_request("pt-1", prefetch=_prefetch()), _uncached())
    assert first == replace(from_prefetch, used_fhir_server=True)


def test_the_list_memo_is_bounded_and_off_with_the_cache() -> None:
    mapper = ObservationMappingCache(CodeTable(), max_entries=200)  # one list
    one, two = (hook_request("pt-1", prefetch=_prefetch(s)) for s in (0.2, 0.8))
    _gather(one, mapper)
    _gather(two, mapper)
    _gather(one, mapper)  # evicted by the second chart
    assert mapper.list_hits == 0
    off = _uncached()
    _gather(one, off)
    _gather(one, off)
    assert off.list_hits == 0


def test_the_lists_kept_hold_no_more_entries_than_the_cache() -> None:
    from msgspec import Raw

    from tests.support.ehr import observation

    def chart(tag: str, n: int) -> list[tuple[int, Raw]]:
        return [
            (i, Raw(orjson.dumps(observation(f"{tag}-{i}", "pt-1", "spo2", 90, NOW))))
            for i in range(n)
        ]

    mapper = ObservationMappingCache(CodeTable(), max_entries=1000)  # 5 lists, 1000 entries
    key = _gather(hook_request("pt-1", prefetch=_prefetch()), _uncached()).key
    charts = [chart(tag, 400) for tag in "abc"]
    for entries in charts:
        mapper.mapped(entries, "Patient/pt-1", key)
    mapper.mapped(charts[2], "Patient/pt-1", key)
    mapper.mapped(charts[1], "Patient/pt-1", key)
    assert mapper.list_hits == 2  # b and c kept
    mapper.mapped(charts[0], "Patient/pt-1", key)
    assert mapper.list_hits == 2  # a was evicted: 1,200 entries are over the budget
    huge = chart("d", 1001)
    mapper.mapped(huge, "Patient/pt-1", key)
    mapper.mapped(huge, "Patient/pt-1", key)
    assert mapper.list_hits == 2  # larger than the whole budget: never kept
