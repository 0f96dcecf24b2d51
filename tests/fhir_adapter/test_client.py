"""The async FHIR client against every test server (``fhir_url``) and the fake's switches."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from fhir_adapter.client import FhirClient
from fhir_adapter.errors import FhirHttpError, FhirUnavailableError
from fhir_adapter.resources import Observation, Patient
from tests.fhir_adapter.conftest import component, free_port, observation, patient, recent
from tests.support.fhir_server import FhirTestServer


def test_create_read_search_with_paging(fhir_url: str) -> None:
    tag = uuid.uuid4().hex[:8]

    async def run() -> None:
        async with FhirClient(fhir_url) as client:
            pref = await client.create(patient(f"MRN-{tag}"))
            assert pref.startswith("Patient/")
            for i in range(7):
                obs = observation("8867-4", 80 + i, "/min", patient=pref, when=recent(i + 1))
                await client.create(obs)
            params = {
                "patient": pref.split("/")[1],
                "code": "http://loinc.org|8867-4",
                "_count": "3",
            }
            pages = [p async for p in client.search_pages("Observation", params)]
            assert len(pages) == 3
            found = [r async for r in client.search(Observation, params)]
            assert all(isinstance(r, Observation) for r in found)
            values = sorted(r.valueQuantity.value for r in found if isinstance(r, Observation)
                            and r.valueQuantity and r.valueQuantity.value)  # fmt: skip
            assert values == list(range(80, 87))
            first = await client.read(Observation, found[0].id)  # type: ignore[union-attr]
            assert isinstance(first, Observation)
            assert first.version_id  # opaque: "1" on the fake, a UUID on Medplum
            assert first.meta
            assert first.meta.lastUpdated
            hits = [
                p
                async for p in client.search(
                    Patient, {"identifier": f"urn:oid:2.16.840.1.113883.4.1.999.1|MRN-{tag}"}
                )
            ]
            assert [f"Patient/{p.id}" for p in hits if isinstance(p, Patient)] == [pref]

    asyncio.run(run())


def test_an_update_is_a_new_version_and_searches_find_only_the_current_one(
    fhir_url: str,
) -> None:
    """versionId is opaque (Medplum: a UUID, the fake and HAPI: 1, 2, ...); vread keeps the old."""

    async def run() -> None:
        async with FhirClient(fhir_url) as client:
            pref = await client.create(patient(f"MRN-{uuid.uuid4().hex[:8]}"))
            rid = await client.create(observation("8867-4", 80, "/min", patient=pref))
            old = await client.get_json(rid)
            await client.update(
                {**old, "status": "amended", "valueQuantity": {**old["valueQuantity"], "value": 90}}
            )
            new = await client.get_json(rid)
            assert new["meta"]["versionId"] != old["meta"]["versionId"]
            assert new["meta"]["lastUpdated"] >= old["meta"]["lastUpdated"]
            vid = old["meta"]["versionId"]
            again = await client.get_json(f"Observation/{old['id']}/_history/{vid}")
            assert again["valueQuantity"]["value"] == 80
            params = {"patient": pref.split("/")[1], "code": "http://loinc.org|8867-4"}
            found = [r async for r in client.search_objects("Observation", params)]
            assert [(r["id"], r["valueQuantity"]["value"]) for r in found] == [(old["id"], 90)]

    asyncio.run(run())


def test_conditional_create_is_idempotent(fhir_url: str) -> None:
    ident = {"system": "urn:ietf:rfc:3986", "value": f"urn:uuid:{uuid.uuid4()}"}
    device = {"resourceType": "Device", "identifier": [ident], "status": "active"}

    async def run() -> None:
        async with FhirClient(fhir_url) as client:
            token = f"identifier={ident['system']}|{ident['value']}"
            first = await client.create(device, if_none_exist=token)
            second = await client.create(device, if_none_exist=token)
            assert first == second
            hits = [d async for d in client.search_objects("Device", {"identifier": token[11:]})]
            assert len(hits) == 1

    asyncio.run(run())


def test_not_found_surfaces_operation_outcome(fhir_url: str) -> None:
    async def run() -> None:
        async with FhirClient(fhir_url) as client:
            with pytest.raises(FhirHttpError) as info:
                await client.read(Observation, f"missing-{uuid.uuid4().hex[:8]}")
            assert info.value.status == 404
            assert not info.value.transient
            assert "error" in info.value.detail

    asyncio.run(run())


def test_transient_failures_are_retried(fhir_server: FhirTestServer) -> None:
    fhir_server.fail_next.extend([503, 429])

    async def run() -> None:
        async with FhirClient(fhir_server.base_url, backoff_s=0.01) as client:
            assert (await client.get_json("metadata"))["fhirVersion"] == "4.0.1"

    asyncio.run(run())
    assert fhir_server.requests.count(("GET", "/fhir/metadata")) == 3


def test_down_server_raises_unavailable_after_retries(fhir_server: FhirTestServer) -> None:
    fhir_server.down = True

    async def run() -> None:
        async with FhirClient(fhir_server.base_url, retries=2, backoff_s=0.01) as client:
            with pytest.raises(FhirUnavailableError) as info:
                await client.read(Patient, "p1")
            assert info.value.status == 503
            assert info.value.transient

    asyncio.run(run())
    assert len(fhir_server.requests) == 3


def test_bad_request_is_not_retried(fhir_server: FhirTestServer) -> None:
    async def run() -> None:
        async with FhirClient(fhir_server.base_url, backoff_s=0.01) as client:
            with pytest.raises(FhirHttpError) as info:
                await client.get_json("Observation", {"flavour": "vanilla"})
            assert info.value.status == 400
            assert "unsupported search parameter" in info.value.detail

    asyncio.run(run())
    assert len(fhir_server.requests) == 1


def test_connection_refused_is_transient() -> None:
    async def run() -> None:
        url = f"http://127.0.0.1:{free_port()}/fhir"
        async with FhirClient(url, retries=1, backoff_s=0.01, timeout_s=1) as client:
            with pytest.raises(FhirUnavailableError, match="ConnectError"):
                await client.read(Patient, "p1")

    asyncio.run(run())


def test_search_semantics_the_adapter_relies_on(fhir_url: str) -> None:
    """``code`` is Observation.code (not a component's), ``_sort`` orders, ``_id`` ORs."""

    async def run() -> None:
        async with FhirClient(fhir_url) as client:
            pref = await client.create(patient(f"MRN-{uuid.uuid4().hex[:8]}"))
            parts = [component("8480-6", 118, "mm[Hg]"), component("8462-4", 71, "mm[Hg]")]
            panel = observation("85354-9", None, "", patient=pref, components=parts)
            ids = [(await client.create(panel)).split("/")[1]]
            for i in range(3):
                obs = observation("8867-4", 90 + i, "/min", patient=pref, when=recent(3 - i))
                ids.append((await client.create(obs)).split("/")[1])
            pid = pref.split("/")[1]

            async def found(**params: str) -> list[str]:
                return [r["id"] async for r in client.search_objects("Observation", params)]

            assert await found(patient=pid, code="http://loinc.org|8480-6") == []
            assert await found(patient=pid, code="http://loinc.org|85354-9") == ids[:1]
            newest_first = await found(patient=pid, code="http://loinc.org|8867-4", _sort="-date")
            assert newest_first == ids[:0:-1]
            by_update = await found(patient=pid, _sort="-_lastUpdated")
            assert by_update == ids[::-1]
            assert sorted(await found(_id=",".join(ids[1:3]))) == sorted(ids[1:3])

    asyncio.run(run())
