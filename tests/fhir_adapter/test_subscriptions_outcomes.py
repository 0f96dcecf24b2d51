"""Ensuring subscriptions (both styles) and reading ventilation outcomes back."""

from __future__ import annotations

import asyncio
import uuid

from fhir.resources.R4B.subscription import Subscription

from fhir_adapter.client import FhirClient
from fhir_adapter.outcomes import ventilation_starts
from fhir_adapter.procedure_mapping import VentilationCodes
from fhir_adapter.subscription_building import build_backport_subscription, build_r4_subscription
from fhir_adapter.subscriptions import ensure_subscription
from tests.fhir_adapter.conftest import patient, recent


def test_subscriptions_validate_and_are_ensured_once(fhir_url: str) -> None:
    endpoint = f"https://ventfusion.example/{uuid.uuid4().hex[:8]}/fhir/notifications"
    r4 = build_r4_subscription(endpoint, headers=["X-VentFusion-Secret: x"])
    backport = build_backport_subscription(
        endpoint, topic="http://example.org/topic/obs", payload="full-resource"
    )
    for sub in (r4, backport):
        Subscription.model_validate(sub)

    async def run() -> None:
        async with FhirClient(fhir_url) as client:
            ref1, created1 = await ensure_subscription(client, r4)
            ref2, created2 = await ensure_subscription(client, r4)
            ref3, created3 = await ensure_subscription(client, backport)
            assert (created1, created2, created3) == (True, False, True)
            assert ref1 == ref2 != ref3
            found = [s async for s in client.search_objects("Subscription", {"url": endpoint})]
            assert len(found) == 2

    asyncio.run(run())


def test_ventilation_outcomes_are_read_back(fhir_url: str) -> None:
    local = ("urn:oid:1.2.3.4.5", "INTUB")

    def procedure(
        pref: str, system: str, code: str, hours: float, status: str
    ) -> dict[str, object]:
        return {
            "resourceType": "Procedure",
            "status": status,
            "subject": {"reference": pref},
            "code": {"coding": [{"system": system, "code": code}]},
            "performedDateTime": recent(hours).isoformat(),
        }

    async def run() -> None:
        async with FhirClient(fhir_url) as client:
            pref = await client.create(patient(f"MRN-{uuid.uuid4().hex[:6]}"))
            await client.create(
                procedure(pref, "http://snomed.info/sct", "40617009", 5, "completed")
            )
            await client.create(procedure(pref, *local, 9, "completed"))
            await client.create(
                procedure(pref, "http://snomed.info/sct", "40617009", 20, "entered-in-error")
            )
            assert len(await ventilation_starts(client, pref)) == 1
            codes = VentilationCodes().with_local(*local)
            both = await ventilation_starts(client, pref, codes)
            assert len(both) == 2
            first = both[0]  # sorted by start
            assert first.start == min(e.start for e in both)
            assert first.patient_ref == pref

    asyncio.run(run())


def test_a_subscription_to_a_longer_endpoint_is_not_taken_for_ours(fhir_url: str) -> None:
    """Medplum matches ``Subscription?url=`` as a substring: only an exact endpoint counts."""
    endpoint = f"https://ventfusion.example/{uuid.uuid4().hex[:8]}/fhir/notifications"
    longer = build_r4_subscription(endpoint + "/replica-2", headers=["X-VentFusion-Secret: x"])
    ours = build_r4_subscription(endpoint, headers=["X-VentFusion-Secret: x"])

    async def run() -> None:
        async with FhirClient(fhir_url) as client:
            other, _ = await ensure_subscription(client, longer)
            ref, created = await ensure_subscription(client, ours)
            assert created
            assert ref != other

    asyncio.run(run())
