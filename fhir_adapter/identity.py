"""Patient identity: FHIR ``Patient/<id>`` <-> ``PatientKey`` (configurable MRN system)."""

from __future__ import annotations

import asyncio
import logging

from fhir_adapter.client import FhirClient
from fhir_adapter.clock import Clock, utcnow
from fhir_adapter.errors import FhirHttpError, MappingError
from fhir_adapter.patient_mapping import (
    has_identifier,
    identifier_token,
    patient_key,
    static_info,
)
from fhir_adapter.resources import Patient, Rejected
from model.ports import PatientSink, Pseudonymiser, redacted_patient
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
        pseudonymise: Pseudonymiser = redacted_patient,
    ) -> None:
        if not mrn_system:
            raise MappingError("an MRN identifier system is required")
        self.client = client
        self.mrn_system = mrn_system
        self.patients = patients
        self._clock = clock
        self.pseudonymise = pseudonymise  # the app's keyed log pseudonyms
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
        logger.info("%s is patient %s", patient_ref, self.pseudonymise(key))
        return key

    async def ref_for(self, key: PatientKey) -> str | None:
        """``Patient/<id>`` of the one Patient with identifier ``key`` (search), or None.

        Only an exact identifier counts (servers may match tokens without regard to case), and
        two Patients with the same MRN (a duplicate record) resolve to neither: the caller then
        names the patient by identifier rather than guess.
        """
        cached = self._by_key.get(key)
        if cached is not None:
            return cached
        matches: list[str] = []
        params = {"identifier": identifier_token(key), "_count": "10"}
        async for patient in self.client.search(Patient, params):
            if isinstance(patient, Rejected) or not has_identifier(patient, key):
                continue
            matches.append(f"Patient/{patient.id}")
            if len(matches) > 1:
                logger.warning("%d Patients share one MRN: %s", len(matches), ", ".join(matches))
                return None
        if not matches:
            logger.info("no Patient on the FHIR server for patient %s", self.pseudonymise(key))
            return None
        self.remember(matches[0], key)
        return matches[0]
