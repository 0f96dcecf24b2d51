"""Patient identity: FHIR ``Patient/<id>`` <-> ``PatientKey`` (configurable MRN system)."""

from __future__ import annotations

import asyncio
import logging

from fhir_adapter.client import FhirClient
from fhir_adapter.clock import Clock, utcnow
from fhir_adapter.convert_patient import identifier_token, patient_key, static_info
from fhir_adapter.errors import FhirHttpError, MappingError
from fhir_adapter.resources import Patient, Rejected
from model.ports import PatientSink
from model.schemas import PatientKey

logger = logging.getLogger(__name__)


class PatientResolver:
    """Resolves and caches the patient key of FHIR Patient ids (per instance, no globals).

    Every Patient it reads is also handed to ``patients`` (FHIR id, age, sex), so scores computed
    from notifications, polling or backfill have the model's static inputs before any hook call.
    """

    def __init__(
        self,
        client: FhirClient,
        mrn_system: str,
        patients: PatientSink | None = None,
        *,
        clock: Clock = utcnow,
    ) -> None:
        if not mrn_system:
            raise MappingError("an MRN identifier system is required")
        self.client = client
        self.mrn_system = mrn_system
        self.patients = patients
        self._clock = clock
        self._by_ref: dict[str, PatientKey] = {}
        self._by_key: dict[PatientKey, str] = {}

    def remember(self, ref: str, key: PatientKey) -> None:
        """Cache a known pairing (e.g. from a bulk Patient file)."""
        self._by_ref[ref] = key
        self._by_key[key] = ref

    def cached_key(self, patient_ref: str) -> PatientKey | None:
        """The key of ``Patient/<id>`` if already resolved (no I/O)."""
        return self._by_ref.get(patient_ref)

    async def key_for(self, patient_ref: str) -> PatientKey | None:
        """The key of ``Patient/<id>``; None (logged) when it has no MRN in our system."""
        cached = self._by_ref.get(patient_ref)
        if cached is not None:
            return cached
        kind, _, rid = patient_ref.partition("/")
        if kind != "Patient" or not rid:
            return None
        try:
            patient = await self.client.read(Patient, rid)
        except FhirHttpError as exc:
            if exc.status not in (404, 410):
                raise
            logger.warning("%s is not on the FHIR server (%d)", patient_ref, exc.status)
            return None
        if isinstance(patient, Rejected) or patient.id != rid:
            reason = patient.reason if isinstance(patient, Rejected) else "another Patient's id"
            logger.warning("%s not usable: %s", patient_ref, reason)
            return None
        key = patient_key(patient, self.mrn_system)
        if key is None:
            logger.warning("%s has no identifier in the configured MRN system", patient_ref)
            return None
        if self.patients is not None:
            static = static_info(patient, self._clock())
            await asyncio.to_thread(self.patients.upsert_patient, key, fhir_id=rid, static=static)
        self.remember(patient_ref, key)
        return key

    async def ref_for(self, key: PatientKey) -> str | None:
        """``Patient/<id>`` of the patient with identifier ``key`` (search), or None."""
        cached = self._by_key.get(key)
        if cached is not None:
            return cached
        async for patient in self.client.search(
            Patient, {"identifier": identifier_token(key), "_count": "2"}
        ):
            if isinstance(patient, Rejected):
                continue
            ref = f"Patient/{patient.id}"
            self.remember(ref, key)
            return ref
        return None
