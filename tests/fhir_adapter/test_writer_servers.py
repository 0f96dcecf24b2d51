"""Write-back against every test server: a RiskAssessment is there once, however often retried."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

from fhir_adapter.client import FhirClient
from fhir_adapter.identity import PatientResolver
from fhir_adapter.risk_assessment_building import device_identifier, risk_identifier
from fhir_adapter.writer import (
    RISK_KIND,
    RiskAssessmentWriter,
    drain_outbox,
    prediction_dedup_key,
    prediction_payload,
)
from model.schemas import PatientKey, RiskLevel, RiskPrediction
from tests.fhir_adapter.conftest import MRN, patient
from tests.support.http_faults import FaultyTransport, is_request
from tests.support.memory_outbox import MemoryOutbox

AS_OF = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
Json = dict[str, object]


def _prediction(mrn: str, hour: int = 0, model_version: str = "1.2.0") -> RiskPrediction:
    return RiskPrediction(
        patient_key=PatientKey(system=MRN, value=mrn),
        as_of=AS_OF + timedelta(hours=hour),
        probability=0.37,
        level=RiskLevel.WARNING,
        model_id="ventfusion-gated",
        model_version=model_version,
        image_weight=0.2,
        film_age_h=3.0,
        basis_ids=("Observation/o1/_history/1",),
    )


def _token(identifier: dict[str, object]) -> str:
    return f"{identifier['system']}|{identifier['value']}"


async def _found(client: FhirClient, kind: str, params: dict[str, str]) -> list[Json]:
    return [r async for r in client.search_objects(kind, params)]


def test_a_retried_write_is_read_back_once_by_patient_and_by_identifier(fhir_url: str) -> None:
    """The first POST's response is lost: the client retries, the conditional create holds."""
    mrn = f"MRN-{uuid.uuid4().hex[:8]}"
    pred = _prediction(mrn)

    async def run() -> None:
        transport = FaultyTransport()
        async with FhirClient(fhir_url, backoff_s=0.01, transport=transport) as client:
            pid = (await client.create(patient(mrn))).split("/")[1]
            transport.lose_response(is_request("POST", "/RiskAssessment"))
            writer = RiskAssessmentWriter(client, PatientResolver(client, MRN))
            location = await writer.deliver(prediction_payload(pred))
            assert transport.count("POST", "/RiskAssessment") == 2  # the write, then the retry
            by_patient = await _found(client, "RiskAssessment", {"patient": pid})
            ident = _token(risk_identifier(pred))
            by_identifier = await _found(client, "RiskAssessment", {"identifier": ident})
        assert [f"RiskAssessment/{r['id']}" for r in by_patient] == [location]
        assert [r["id"] for r in by_identifier] == [r["id"] for r in by_patient]
        (stored,) = by_patient
        assert stored["subject"] == {"reference": f"Patient/{pid}"}
        assert stored["prediction"][0]["probabilityDecimal"] == 0.37

    asyncio.run(run())


def test_an_outbox_item_whose_answer_was_lost_is_delivered_once(fhir_url: str) -> None:
    """No client retries: the outbox reschedules the item, the next drain finds the resource."""
    mrn = f"MRN-{uuid.uuid4().hex[:8]}"
    preds = [_prediction(mrn, hour=h) for h in range(2)]
    outbox = MemoryOutbox()
    for pred in preds:
        outbox.enqueue(RISK_KIND, prediction_payload(pred), prediction_dedup_key(pred), AS_OF)
    clock = [AS_OF]

    async def run() -> list[Json]:
        transport = FaultyTransport()
        async with FhirClient(fhir_url, retries=0, transport=transport) as client:
            pid = (await client.create(patient(mrn))).split("/")[1]
            transport.lose_response(is_request("POST", "/RiskAssessment"))
            writer = RiskAssessmentWriter(client, PatientResolver(client, MRN))
            first = await drain_outbox(outbox, writer, now=lambda: clock[0])
            assert (first.delivered, first.retried) == (1, 1)
            clock[0] += timedelta(minutes=1)
            second = await drain_outbox(outbox, writer, now=lambda: clock[0])
            assert (second.delivered, second.retried) == (1, 0)
            return await _found(client, "RiskAssessment", {"patient": pid})

    stored = asyncio.run(run())
    assert sorted(r["occurrenceDateTime"][:13] for r in stored) == [
        "2026-03-01T12",
        "2026-03-01T13",
    ]
    locations = {f"RiskAssessment/{r['id']}" for r in stored}
    assert {item.location for item in outbox.items.values()} == locations


def test_the_model_device_is_created_once_per_version(fhir_url: str) -> None:
    """Two writers (two worker processes, no shared cache) agree on one Device per version."""
    version = f"9.{uuid.uuid4().int % 10_000}.0"
    mrn = f"MRN-{uuid.uuid4().hex[:8]}"

    async def run() -> tuple[list[Json], list[Json], set[str]]:
        async with FhirClient(fhir_url) as client:
            await client.create(patient(mrn))
            performers = set()
            for hour in range(2):
                writer = RiskAssessmentWriter(client, PatientResolver(client, MRN))
                location = await writer.deliver(prediction_payload(_prediction(mrn, hour, version)))
                ra = await client.get_json(location)
                performers.add(ra["performer"]["reference"])
            ident = _token(device_identifier("ventfusion-gated", version))
            devices = await _found(client, "Device", {"identifier": ident})
            other = _token(device_identifier("ventfusion-gated", version + "1"))
            return devices, await _found(client, "Device", {"identifier": other}), performers

    devices, none, performers = asyncio.run(run())
    assert [f"Device/{d['id']}" for d in devices] == sorted(performers)
    assert none == []
    assert devices[0]["version"] == [{"value": version}]


def test_a_retried_write_leaves_one_provenance(fhir_url: str) -> None:
    """The Provenance POST's answer is lost too: still one Provenance for the RiskAssessment."""
    mrn = f"MRN-{uuid.uuid4().hex[:8]}"

    async def run() -> tuple[str, list[Json]]:
        transport = FaultyTransport()
        async with FhirClient(fhir_url, backoff_s=0.01, transport=transport) as client:
            await client.create(patient(mrn))
            transport.lose_response(is_request("POST", "/Provenance"))
            writer = RiskAssessmentWriter(
                client, PatientResolver(client, MRN), write_provenance=True
            )
            location = await writer.deliver(prediction_payload(_prediction(mrn)))
            again = await writer.deliver(prediction_payload(_prediction(mrn)))  # outbox retry
            assert again == location
            return location, await _found(client, "Provenance", {"target": location})

    location, provenances = asyncio.run(run())
    assert [p["target"] for p in provenances] == [[{"reference": location}]]
