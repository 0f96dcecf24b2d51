"""RiskAssessment write-back: conditional create, error classification, outbox draining."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import ValidationError

from fhir_adapter import FhirAdapterError
from fhir_adapter.client import FhirClient
from fhir_adapter.errors import FhirAuthError, FhirHttpError, MappingError
from fhir_adapter.identity import PatientResolver
from fhir_adapter.outbox import Outbox
from fhir_adapter.risk_assessment_building import (
    RISK_STATUSES,
    build_device,
    build_provenance,
    build_risk_assessment,
    device_identifier,
    risk_identifier,
    search_token,
    validate,
)
from fhir_adapter.search import query_string
from model.schemas import RiskPrediction

logger = logging.getLogger(__name__)

JsonDict = dict[str, Any]
RISK_KIND = "risk-assessment"


def prediction_payload(prediction: RiskPrediction) -> JsonDict:
    """The JSON-able outbox payload of a prediction."""
    return prediction.model_dump(mode="json")


def prediction_dedup_key(prediction: RiskPrediction) -> str:
    """The outbox dedup key: the RiskAssessment identifier value."""
    return str(risk_identifier(prediction)["value"])


def is_transient(exc: BaseException) -> bool:
    """True when retrying later may succeed (server down, 5xx, 429, 408, expired token)."""
    if isinstance(exc, FhirHttpError):
        return exc.transient or exc.status == 401
    return isinstance(exc, FhirAuthError)


class RiskAssessmentWriter:
    """Writes one prediction as a RiskAssessment (conditional create on its identifier)."""

    def __init__(
        self,
        client: FhirClient,
        resolver: PatientResolver | None = None,
        *,
        write_provenance: bool = False,
    ) -> None:
        self.client = client
        self.resolver = resolver
        self.write_provenance = write_provenance
        self._devices: dict[tuple[str, str], str] = {}

    async def ensure_device(self, model_id: str, version: str) -> str:
        """``Device/<id>`` of the model version (created once, conditionally)."""
        cached = self._devices.get((model_id, version))
        if cached:
            return cached
        device = validate(build_device(model_id, version))
        token = search_token(device_identifier(model_id, version))
        ref = await self.client.create(device, if_none_exist=token)
        self._devices[(model_id, version)] = ref
        return ref

    async def deliver(self, payload: JsonDict) -> str:
        """Create the RiskAssessment of an outbox payload; return its ``RiskAssessment/<id>``.

        The payload is ``prediction_payload(prediction)``, optionally with ``fhir_patient_id`` /
        ``fhir_encounter_id``; without a patient id the Patient is searched by MRN, and when not
        found the subject is a logical reference by identifier.
        """
        fields = dict(payload)
        fhir_patient_id = fields.pop("fhir_patient_id", None)
        encounter_id = fields.pop("fhir_encounter_id", None)
        status = fields.pop("ra_status", "final")  # "preliminary" in shadow (silent) mode
        if status not in RISK_STATUSES:
            raise MappingError(
                f"outbox payload has an unsupported RiskAssessment status {status!r}"
            )
        try:
            prediction = RiskPrediction.model_validate(fields)
        except ValidationError as exc:
            raise MappingError(f"outbox payload is not a RiskPrediction: {exc}") from exc
        device_ref = await self.ensure_device(prediction.model_id, prediction.model_version)
        patient_ref = f"Patient/{fhir_patient_id}" if fhir_patient_id else None
        encounter_ref = f"Encounter/{encounter_id}" if encounter_id else None
        if patient_ref is None and self.resolver is not None:
            patient_ref = await self.resolver.ref_for(prediction.patient_key)
        resource = validate(
            build_risk_assessment(
                prediction,
                device_ref=device_ref,
                patient_ref=patient_ref,
                encounter_ref=encounter_ref,
                status=status,
            )
        )
        token = search_token(risk_identifier(prediction))
        location = await self.client.create(resource, if_none_exist=token)
        if self.write_provenance:
            provenance = validate(build_provenance(location, device_ref, datetime.now(UTC)))
            ours = query_string({"target": location, "agent": device_ref})
            await self.client.create(provenance, if_none_exist=ours)  # once, however retried
        return location


@dataclass(slots=True)
class DrainReport:
    """Outcome of one ``drain_outbox`` pass."""

    delivered: int = 0
    retried: int = 0
    failed: int = 0


def backoff_delay(attempts: int, base_s: float = 5.0, max_s: float = 900.0) -> timedelta:
    """Exponential backoff after ``attempts`` failed deliveries (5 s, 10 s, 20 s ... 15 min)."""
    return timedelta(seconds=min(base_s * (2 ** max(attempts, 0)), max_s))


async def drain_outbox(
    outbox: Outbox,
    writer: RiskAssessmentWriter,
    *,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
    limit: int = 50,
    base_backoff_s: float = 5.0,
    max_backoff_s: float = 900.0,
) -> DrainReport:
    """Deliver the due items once; transient errors are rescheduled, permanent ones parked.

    The outbox is a blocking store (a DB table in the app): its calls run in a thread.
    """
    report = DrainReport()
    for item in await asyncio.to_thread(outbox.due, now(), limit):
        try:
            location = await writer.deliver(item.payload)
        except FhirAdapterError as exc:
            if is_transient(exc):
                delay = backoff_delay(item.attempts, base_backoff_s, max_backoff_s)
                await asyncio.to_thread(outbox.mark_retry, item.id, str(exc), now() + delay)
                report.retried += 1
                logger.info("outbox %s: transient failure, retry in %s", item.id, delay)
            else:
                await asyncio.to_thread(outbox.mark_failed, item.id, str(exc))
                report.failed += 1
                logger.error("outbox %s: permanent failure: %s", item.id, exc)
            continue
        await asyncio.to_thread(outbox.mark_delivered, item.id, location)
        report.delivered += 1
    return report
