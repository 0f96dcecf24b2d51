"""PatientResolver against every test server: MRN keys, static inputs, the right patient only."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime
from typing import TypeVar

from fhir_adapter.client import FhirClient
from fhir_adapter.identity import PatientResolver
from model.schemas import PatientKey, StaticInfo
from tests.fhir_adapter.conftest import MRN, RecordingSink, patient
from tests.support.http_faults import FaultyTransport

NOW = datetime(2026, 11, 24, 9, 30, tzinfo=UTC)
T = TypeVar("T")
Scenario = Callable[[FhirClient, PatientResolver], Awaitable[T]]


def _with_resolver(
    url: str, sink: RecordingSink, scenario: Scenario[T], transport: FaultyTransport | None = None
) -> T:
    async def run() -> T:
        async with FhirClient(url, backoff_s=0.01, transport=transport) as client:
            return await scenario(client, PatientResolver(client, MRN, sink, clock=lambda: NOW))

    return asyncio.run(run())


def _mrn() -> str:
    return f"MRN-{uuid.uuid4().hex[:8]}"


def test_a_resolved_patient_hands_age_and_sex_to_the_sink_once(
    fhir_url: str, sink: RecordingSink
) -> None:
    mrn = _mrn()
    transport = FaultyTransport()

    async def scenario(
        client: FhirClient, resolver: PatientResolver
    ) -> tuple[list[PatientKey | None], str]:
        ref = await client.create(patient(mrn))
        transport.requests.clear()
        return [await resolver.key_for(ref), await resolver.key_for(ref)], ref

    keys, ref = _with_resolver(fhir_url, sink, scenario, transport)
    key = PatientKey(system=MRN, value=mrn)
    assert keys == [key, key]
    age = round((date(2026, 11, 24) - date(1956, 4, 2)).days / 365.25, 2)
    assert sink.patients == {key: (ref.split("/")[1], StaticInfo(age_years=age, sex="female"))}
    assert sink.events == ["patient"]  # cached: one read, one hand-over
    ((method, path),) = transport.requests
    assert (method, path.endswith(ref)) == ("GET", True)


def test_partial_birth_date_gives_no_age_and_no_mrn_gives_nothing(
    fhir_url: str, sink: RecordingSink
) -> None:
    async def scenario(client: FhirClient, resolver: PatientResolver) -> list[PatientKey | None]:
        partial = await client.create(patient(_mrn()) | {"birthDate": "1956"})
        other = {"identifier": [{"system": "urn:other", "value": _mrn()}]}
        stranger = await client.create(patient("X") | other)
        return [await resolver.key_for(partial), await resolver.key_for(stranger)]

    keys = _with_resolver(fhir_url, sink, scenario)
    assert keys[1] is None
    ((_, static),) = sink.patients.values()
    assert static == StaticInfo(age_years=None, sex="female")


def test_an_mrn_is_found_exactly_never_by_a_case_variant(
    fhir_url: str, sink: RecordingSink
) -> None:
    """Medplum matches tokens case-insensitively: 'mrn-ab1x' must not stand for 'MRN-AB1X'."""
    mrn = _mrn().upper()

    async def scenario(client: FhirClient, resolver: PatientResolver) -> tuple[str | None, str]:
        await client.create(patient(mrn.lower()))  # first: a server may list it first
        ref = await client.create(patient(mrn))
        return await resolver.ref_for(PatientKey(system=MRN, value=mrn)), ref

    found, ref = _with_resolver(fhir_url, sink, scenario)
    assert found == ref


def test_two_patients_with_one_mrn_resolve_to_neither(fhir_url: str, sink: RecordingSink) -> None:
    """A duplicate record is not a guess: the write-back then names the patient by MRN only."""
    mrn = _mrn()

    async def scenario(client: FhirClient, resolver: PatientResolver) -> str | None:
        await client.create(patient(mrn))
        await client.create(patient(mrn))
        return await resolver.ref_for(PatientKey(system=MRN, value=mrn))

    assert _with_resolver(fhir_url, sink, scenario) is None


def test_an_mrn_with_a_comma_is_one_value(fhir_url: str, sink: RecordingSink) -> None:
    """A comma ORs search values unless escaped: '12,34' must not find '12' or '34'."""
    tag = uuid.uuid4().hex[:6]

    async def scenario(client: FhirClient, resolver: PatientResolver) -> tuple[str | None, str]:
        await client.create(patient(f"{tag}"))
        ref = await client.create(patient(f"{tag},77"))
        return await resolver.ref_for(PatientKey(system=MRN, value=f"{tag},77")), ref

    found, ref = _with_resolver(fhir_url, sink, scenario)
    assert found == ref


def test_a_future_or_too_old_birth_date_is_an_unknown_age(
    fhir_url: str, sink: RecordingSink
) -> None:
    async def scenario(client: FhirClient, resolver: PatientResolver) -> list[PatientKey | None]:
        future = await client.create(patient(_mrn()) | {"birthDate": "2090-05-01"})
        ancient = await client.create(patient(_mrn()) | {"birthDate": "1800-01-01"})
        return [await resolver.key_for(future), await resolver.key_for(ancient)]

    keys = _with_resolver(fhir_url, sink, scenario)
    assert [sink.patients[k][1].age_years for k in keys if k] == [None, None]
