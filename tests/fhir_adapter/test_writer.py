"""Write-back: builders validated with fhir.resources R4B; outbox delivery exactly once."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fhir.resources.R4B.riskassessment import RiskAssessment

from fhir_adapter.client import FhirClient
from fhir_adapter.errors import FhirHttpError, FhirUnavailableError, MappingError
from fhir_adapter.risk_assessment_building import (
    build_device,
    build_provenance,
    build_risk_assessment,
    validate,
)
from fhir_adapter.writer import (
    RISK_KIND,
    RiskAssessmentWriter,
    backoff_delay,
    drain_outbox,
    is_transient,
    prediction_dedup_key,
    prediction_payload,
)
from model.schemas import (
    Driver,
    FilmNotUsed,
    FilmNotUsedReason,
    PatientKey,
    RiskLevel,
    RiskPrediction,
)
from tests.fhir_adapter.conftest import MRN
from tests.support.fhir_server import FhirTestServer
from tests.support.memory_outbox import MemoryOutbox

AS_OF = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def _prediction(mrn: str = "MRN0001", hour: int = 0, p: float = 0.42) -> RiskPrediction:
    return RiskPrediction(
        patient_key=PatientKey(system=MRN, value=mrn),
        as_of=AS_OF + timedelta(hours=hour),
        probability=p,
        level=RiskLevel.WARNING,
        model_id="ventfusion-gated",
        model_version="1.2.0",
        image_weight=0.31,
        film_age_h=5.5,
        drivers=(Driver(variable="fio2", contribution=0.12, description="FiO2 up to 60%"),),
        basis_ids=(
            "Observation/o1/_history/2",
            "Observation/o2/_history/1#sbp",
            "1.2.826.0.1.3680043.8.498.1",
        ),
    )


def test_risk_assessment_follows_design_section_7(reference_dir: Path) -> None:
    ra = build_risk_assessment(
        _prediction(),
        device_ref="Device/d1",
        patient_ref="Patient/p1",
        encounter_ref="Encounter/e1",
    )
    model = RiskAssessment.model_validate(validate(ra))
    assert model.status == "final"
    assert model.method.coding[0].code == "ventfusion-gated"
    assert "1.2.0" in model.method.text
    assert model.subject.reference == "Patient/p1"
    assert model.encounter.reference == "Encounter/e1"
    assert model.performer.reference == "Device/d1"
    assert [b.reference for b in model.basis] == [
        "Observation/o1/_history/2",
        "Observation/o2/_history/1",
    ]
    pred = model.prediction[0]
    assert pred.outcome.coding[0].code == "40617009"
    assert float(pred.probabilityDecimal) == 0.42
    assert pred.qualitativeRisk.coding[0].code == "high"
    assert ra["prediction"][0]["whenPeriod"] == {
        "start": "2026-03-01T12:00:00+00:00",
        "end": "2026-03-02T12:00:00+00:00",
    }
    assert "FiO2" in pred.rationale
    assert "image weight 0.31" in pred.rationale
    # same shape as the spec's own example
    spec = json.loads(
        (reference_dir / "fhir-r4-examples/RiskAssessment-prognosis.json").read_text()
    )
    assert set(spec["prediction"][0]) & set(ra["prediction"][0]) >= {"outcome"}
    validate(build_device("ventfusion-gated", "1.2.0"))
    validate(build_provenance("RiskAssessment/r1", "Device/d1", AS_OF))
    with pytest.raises(MappingError):
        validate({**ra, "occurrenceDateTime": "yesterday"})


def test_identical_prediction_has_a_stable_identifier() -> None:
    a = build_risk_assessment(_prediction(), device_ref="Device/d")
    b = build_risk_assessment(_prediction(), device_ref="Device/d")
    c = build_risk_assessment(_prediction(hour=1), device_ref="Device/d")
    assert a["identifier"] == b["identifier"] != c["identifier"]
    assert a["subject"] == {"identifier": {"system": MRN, "value": "MRN0001"}, "type": "Patient"}


def test_error_classification() -> None:
    assert is_transient(FhirUnavailableError("down", 503))
    assert is_transient(FhirHttpError(401, "expired", transient=False))
    assert not is_transient(FhirHttpError(422, "invalid", transient=False))
    assert not is_transient(MappingError("bad payload"))
    assert backoff_delay(0) == timedelta(seconds=5)
    assert backoff_delay(20) == timedelta(seconds=900)


def test_crash_after_delivery_does_not_duplicate(fhir_server: FhirTestServer) -> None:
    outbox = MemoryOutbox()
    pred = _prediction()
    item = outbox.enqueue(RISK_KIND, prediction_payload(pred), prediction_dedup_key(pred), AS_OF)

    async def run() -> None:
        async with FhirClient(fhir_server.base_url) as client:
            writer = RiskAssessmentWriter(client)
            first = await writer.deliver(outbox.items[item].payload)  # then "crash": not marked
            report = await drain_outbox(outbox, writer, now=lambda: AS_OF)
            assert report.delivered == 1
            assert outbox.items[item].location == first

    asyncio.run(run())
    assert len(fhir_server.current("RiskAssessment")) == 1


def test_permanent_failures_are_parked(fhir_server: FhirTestServer) -> None:
    outbox = MemoryOutbox()
    outbox.enqueue(RISK_KIND, {"probability": 2.0}, "bad", AS_OF)
    pred = _prediction()
    outbox.enqueue(RISK_KIND, {**prediction_payload(pred), "fhir_patient_id": "p9"}, "ok", AS_OF)

    async def run() -> tuple[int, int, int]:
        async with FhirClient(fhir_server.base_url) as client:
            report = await drain_outbox(outbox, RiskAssessmentWriter(client), now=lambda: AS_OF)
            return report.delivered, report.retried, report.failed

    assert asyncio.run(run()) == (1, 0, 1)
    states = sorted(i.state for i in outbox.items.values())
    assert states == ["delivered", "failed"]
    assert fhir_server.current("RiskAssessment")[0]["subject"] == {"reference": "Patient/p9"}


def test_shadow_mode_payload_is_delivered_as_preliminary(fhir_server: FhirTestServer) -> None:
    outbox = MemoryOutbox()
    pred = _prediction()
    payload = {**prediction_payload(pred), "fhir_patient_id": "p3", "ra_status": "preliminary"}
    outbox.enqueue(RISK_KIND, payload, prediction_dedup_key(pred), AS_OF)
    bogus = {**prediction_payload(_prediction(hour=1)), "ra_status": "amended"}
    outbox.enqueue(RISK_KIND, bogus, "bogus-status", AS_OF)

    async def run() -> tuple[int, int, int]:
        async with FhirClient(fhir_server.base_url) as client:
            report = await drain_outbox(outbox, RiskAssessmentWriter(client), now=lambda: AS_OF)
            return report.delivered, report.retried, report.failed

    assert asyncio.run(run()) == (1, 0, 1)
    (stored,) = fhir_server.current("RiskAssessment")
    assert stored["status"] == "preliminary"


def test_a_refused_film_is_named_in_the_rationale() -> None:
    refused = FilmNotUsed(sop_instance_uid="1.2.3", acquired_at=AS_OF - timedelta(hours=4),
                          reason=FilmNotUsedReason.UNLIKE_TRAINING_FILMS)  # fmt: skip
    prediction = _prediction().model_copy(
        update={"film_age_h": None, "image_weight": 0.0, "film_not_used": refused}
    )
    ra = build_risk_assessment(prediction, device_ref="Device/d1", patient_ref="Patient/p1")
    rationale = ra["prediction"][0]["rationale"]
    assert "Chest film not used: it does not resemble the films this model was trained on" in (
        rationale
    )
