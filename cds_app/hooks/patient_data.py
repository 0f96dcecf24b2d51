"""The patient-view inputs: prefetch first, then the client's FHIR server within a budget.

Plain JSON all the way (orjson-parsed dicts, no fhir.resources validation on the request path);
FHIR JSON is mapped by ``fhir_adapter`` (one mapping for notifications and prefetch).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx

from cds_app import CdsAppError
from cds_app.hooks.mapping_cache import ObservationMappingCache
from fhir_adapter.convert_patient import patient_key, static_info
from model.schemas import Measurement, PatientKey, StaticInfo

JsonDict = dict[str, Any]

PATIENT_KEY = "patient"
VITALS_KEY = "vitals"
LABS_KEY = "labs"

PREFETCH_TEMPLATES: dict[str, str] = {
    PATIENT_KEY: "Patient/{{context.patientId}}",
    VITALS_KEY: (
        "Observation?patient={{context.patientId}}&category=vital-signs&_sort=-date&_count=1000"
    ),
    LABS_KEY: (
        "Observation?patient={{context.patientId}}&category=laboratory&_sort=-date&_count=500"
    ),
}

_OBSERVATION_QUERIES = {
    VITALS_KEY: {"category": "vital-signs"},
    LABS_KEY: {"category": "laboratory"},
}


class DataUnavailableError(CdsAppError):
    """Neither prefetch nor the FHIR server gave what the service needs (answered with 412)."""


@dataclass(frozen=True, slots=True)
class PatientData:
    """What one patient-view call yields: identity, static info and recent measurements."""

    key: PatientKey
    fhir_id: str
    static: StaticInfo
    measurements: tuple[Measurement, ...]
    used_fhir_server: bool


def _bundle_resources(bundle: Any, resource_type: str) -> Iterator[JsonDict]:
    if not isinstance(bundle, dict) or bundle.get("resourceType") != "Bundle":
        return
    for entry in bundle.get("entry") or ():
        resource = entry.get("resource") if isinstance(entry, dict) else None
        if isinstance(resource, dict) and resource.get("resourceType") == resource_type:
            yield resource


class FhirFetcher:
    """Reads the missing pieces from ``fhirServer`` with the client-supplied bearer token."""

    def __init__(self, base_url: str, access_token: str, deadline: float) -> None:
        self._base = base_url.rstrip("/")
        self._headers = {
            "Authorization": f"Bearer {access_token}",
            "Accept": "application/fhir+json",
        }
        self._deadline = deadline

    def _get(self, client: httpx.Client, url: str, params: dict[str, str] | None) -> JsonDict:
        remaining = self._deadline - time.monotonic()
        if remaining <= 0:
            raise DataUnavailableError("FHIR server time budget exhausted")
        try:
            response = client.get(url, params=params, headers=self._headers, timeout=remaining)
        except httpx.HTTPError as exc:
            raise DataUnavailableError(f"FHIR server unreachable: {type(exc).__name__}") from exc
        if response.status_code != 200:
            raise DataUnavailableError(f"FHIR server answered {response.status_code}")
        try:
            body: Any = response.json()
        except ValueError as exc:
            raise DataUnavailableError("FHIR server answered non-JSON") from exc
        if not isinstance(body, dict):
            raise DataUnavailableError("FHIR server answered a non-object")
        return body

    def patient(self, client: httpx.Client, patient_id: str) -> JsonDict:
        """``GET Patient/<id>``."""
        return self._get(client, f"{self._base}/Patient/{patient_id}", None)

    def observations(
        self, client: httpx.Client, patient_id: str, category: str, since: datetime
    ) -> list[JsonDict]:
        """Observations of one category since ``since``, following ``next`` links."""
        params: dict[str, str] | None = {
            "patient": patient_id,
            "category": category,
            "date": f"ge{since.isoformat()}",
            "_count": "1000",
        }
        url = f"{self._base}/Observation"
        found: list[JsonDict] = []
        for _page in range(20):
            bundle = self._get(client, url, params)
            found.extend(_bundle_resources(bundle, "Observation"))
            next_url = next(
                (
                    link.get("url")
                    for link in bundle.get("link") or ()
                    if isinstance(link, dict) and link.get("relation") == "next"
                ),
                None,
            )
            if not isinstance(next_url, str):
                break
            url, params = next_url, None
        return found


def gather_patient_data(
    request: JsonDict,
    *,
    as_of: datetime,
    lookback_h: float,
    mrn_system: str,
    mapper: ObservationMappingCache,
    fhir_budget_s: float,
    transport: httpx.BaseTransport | None = None,
) -> PatientData:
    """Patient identity and recent measurements from prefetch, else from the FHIR server."""
    context = request.get("context")
    patient_id = context.get("patientId") if isinstance(context, dict) else None
    if not isinstance(patient_id, str) or not patient_id:
        raise ValueError("context.patientId is required")
    prefetch = request.get("prefetch")
    prefetch = prefetch if isinstance(prefetch, dict) else {}
    since = as_of - timedelta(hours=lookback_h)

    patient = prefetch.get(PATIENT_KEY)
    patient = (
        patient if isinstance(patient, dict) and patient.get("resourceType") == "Patient" else None
    )
    observations: list[JsonDict] = []
    missing: list[str] = []
    for name in (VITALS_KEY, LABS_KEY):
        bundle = prefetch.get(name)
        if isinstance(bundle, dict) and bundle.get("resourceType") == "Bundle":
            observations.extend(_bundle_resources(bundle, "Observation"))
        else:
            missing.append(name)

    used_server = False
    if patient is None or missing:
        server, auth = request.get("fhirServer"), request.get("fhirAuthorization")
        token = auth.get("access_token") if isinstance(auth, dict) else None
        if not isinstance(server, str) or not server or not isinstance(token, str) or not token:
            raise DataUnavailableError(
                "prefetch incomplete and no fhirServer/fhirAuthorization given"
            )
        fetcher = FhirFetcher(server, token, time.monotonic() + fhir_budget_s)
        with httpx.Client(transport=transport) as client:
            if patient is None:
                patient = fetcher.patient(client, patient_id)
                if patient.get("resourceType") != "Patient":
                    raise DataUnavailableError("FHIR server did not return a Patient")
            for name in missing:
                category = _OBSERVATION_QUERIES[name]["category"]
                observations.extend(fetcher.observations(client, patient_id, category, since))
        used_server = True

    key = patient_key(patient, mrn_system) or PatientKey(
        system="urn:ventfusion:fhir-patient-id", value=patient_id
    )
    static = static_info(patient, as_of)
    return PatientData(
        key=key,
        fhir_id=patient_id,
        static=static,
        measurements=tuple(_recent(observations, key, mapper, since, as_of)),
        used_fhir_server=used_server,
    )


def _recent(
    observations: Iterable[JsonDict],
    key: PatientKey,
    mapper: ObservationMappingCache,
    since: datetime,
    as_of: datetime,
) -> Iterator[Measurement]:
    for obs in observations:
        for m in mapper.measurements(obs, key):
            if since <= m.time <= as_of:
                yield m
