"""The patient-view inputs: prefetch first, then the client's FHIR server within a budget.

Each prefetch value is decoded on its own with the typed models of ``fhir_adapter.resources``
(never a whole-Bundle ``fhir.resources`` validation on the request path) and mapped by
``fhir_adapter``'s one Observation mapping. Prefetch keys follow CDS Hooks 2.0 exactly:

* a key that is **absent** was not satisfied: it is read from ``fhirServer``, else 412;
* a key that is ``null`` had no data: no Observations (a ``null`` Patient is a 412);
* an ``OperationOutcome`` says the client failed to prefetch it: 412 with its text.

The Patient must be ``context.patientId`` (else 412); Observations of any other subject are
dropped and counted.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timedelta

import httpx
import msgspec
from msgspec import Raw

from cds_app.hooks.compute_gate import OPEN_GATE, ComputeGate
from cds_app.hooks.errors import BadRequestError, DataUnavailableError
from cds_app.hooks.mapping_cache import ObservationMappingCache
from cds_app.hooks.requests import HookRequest
from fhir_adapter.paging import PageCursor, origin
from fhir_adapter.patient_mapping import patient_key, static_info
from fhir_adapter.resources import (
    Bundle,
    OperationOutcome,
    Patient,
    Rejected,
    ResourceHeader,
    TypedBundle,
    decode,
    decode_resource,
    matched_entries,
)
from model.schemas import Measurement, PatientKey, StaticInfo

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

_CATEGORIES = {VITALS_KEY: "vital-signs", LABS_KEY: "laboratory"}
MAX_FHIR_PAGES = 20
_HEADER_OR_NULL = msgspec.json.Decoder(ResourceHeader | None)
_BUNDLE_OR_NULL = msgspec.json.Decoder(TypedBundle | None)


@dataclass(frozen=True, slots=True)
class PatientData:
    """What one patient-view call yields: identity, static info and recent measurements."""

    key: PatientKey
    fhir_id: str
    static: StaticInfo
    measurements: tuple[Measurement, ...]
    used_fhir_server: bool
    dropped: tuple[Rejected, ...] = ()  # Observations not used: malformed or another subject


class FhirFetcher:
    """Reads the missing pieces from ``fhirServer`` with the client-supplied bearer token."""

    def __init__(self, base_url: str, access_token: str, deadline: float) -> None:
        self._base = base_url.rstrip("/")
        self._headers = {
            "Authorization": f"Bearer {access_token}",
            "Accept": "application/fhir+json",
        }
        self._deadline = deadline

    def _get(self, client: httpx.Client, url: str, params: dict[str, str] | None) -> bytes:
        remaining = self._deadline - time.monotonic()
        if remaining <= 0:
            raise DataUnavailableError("FHIR server time budget exhausted")
        try:
            response = client.get(url, params=params, headers=self._headers, timeout=remaining)
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            raise DataUnavailableError(f"FHIR server unreachable: {type(exc).__name__}") from exc
        if response.status_code != 200:
            raise DataUnavailableError(f"FHIR server answered {response.status_code}")
        return response.content

    def patient(self, client: httpx.Client, patient_id: str) -> Patient:
        """``GET Patient/<id>``."""
        found = decode_resource(self._get(client, f"{self._base}/Patient/{patient_id}", None),
                                Patient)  # fmt: skip
        if isinstance(found, Rejected):
            raise DataUnavailableError(f"FHIR server returned no usable Patient: {found.reason}")
        return found

    def observations(
        self, client: httpx.Client, patient_id: str, category: str, since: datetime
    ) -> list[tuple[int, Raw]]:
        """Observations of one category since ``since`` (raw entries), following ``next``
        links."""
        params: dict[str, str] | None = {
            "patient": patient_id,
            "category": category,
            "date": f"ge{since.isoformat()}",
            "_count": "1000",
        }
        url: str | None = f"{self._base}/Observation"
        cursor = PageCursor(self._base, max_pages=MAX_FHIR_PAGES)
        found: list[tuple[int, Raw]] = []
        while url is not None:
            try:
                page = decode(self._get(client, url, params), Bundle)
            except (msgspec.ValidationError, msgspec.DecodeError) as exc:
                raise DataUnavailableError(f"FHIR server answered no Bundle: {exc}") from exc
            found.extend(matched_entries(page))
            url, params = cursor.next(page), None
        return found


def _prefetched(prefetch: dict[str, msgspec.Raw], name: str) -> ResourceHeader | None:
    """The header of a prefetch value (None for ``null``); 412 for an OperationOutcome."""
    raw = prefetch[name]
    try:
        header = _HEADER_OR_NULL.decode(raw)
    except (msgspec.ValidationError, msgspec.DecodeError) as exc:
        raise BadRequestError(f"prefetch.{name} is not a FHIR resource or null: {exc}") from exc
    if header is not None and header.resourceType == "OperationOutcome":
        try:
            text = decode(raw, OperationOutcome).text()
        except (msgspec.ValidationError, msgspec.DecodeError):
            text = "no details"
        raise DataUnavailableError(f"the CDS Client could not prefetch {name}: {text[:500]}")
    return header


def _prefetch_patient(prefetch: dict[str, msgspec.Raw], patient_id: str) -> Patient | None:
    """The prefetched Patient, or None when the key is absent."""
    if PATIENT_KEY not in prefetch:
        return None
    header = _prefetched(prefetch, PATIENT_KEY)
    if header is None:
        raise DataUnavailableError(f"prefetch.patient is null: the CDS Client has no Patient "
                                   f"{patient_id}")  # fmt: skip
    found = decode_resource(prefetch[PATIENT_KEY], Patient)
    if isinstance(found, Rejected):
        raise BadRequestError(f"prefetch.patient is not a valid Patient: {found.reason}")
    return found


def _prefetch_observations(
    prefetch: dict[str, msgspec.Raw], name: str
) -> list[tuple[int, Raw]] | None:
    """The prefetched entries (number, raw resource) of one key, or None when the key is
    absent."""
    if name not in prefetch:
        return None
    try:  # the usual case in one pass; anything else is told apart below
        typed = _BUNDLE_OR_NULL.decode(prefetch[name])
    except (msgspec.ValidationError, msgspec.DecodeError):
        typed = None
    if typed is not None and typed.resourceType == "Bundle":
        return matched_entries(typed)
    header = _prefetched(prefetch, name)
    if header is None:
        return []  # null: the client had nothing to fill the key with
    if header.resourceType != "Bundle":
        raise BadRequestError(f"prefetch.{name} must be a Bundle, not {header.resourceType[:40]}")
    try:
        bundle = decode(prefetch[name], Bundle)
    except (msgspec.ValidationError, msgspec.DecodeError) as exc:
        raise BadRequestError(f"prefetch.{name} is not a valid Bundle: {exc}") from exc
    return matched_entries(bundle)


def _same_patient(patient: Patient, patient_id: str, where: str) -> Patient:
    if patient.id != patient_id:
        raise DataUnavailableError(
            f"{where} is Patient/{patient.id}, but context.patientId is {patient_id}: "
            "refusing to score another patient's data"
        )
    return patient


def gather_patient_data(
    request: HookRequest,
    *,
    as_of: datetime,
    lookback_h: float,
    mrn_system: str,
    mapper: ObservationMappingCache,
    fhir_budget_s: float,
    transport: httpx.BaseTransport | None = None,
    scope: str = "",
    gate: ComputeGate = OPEN_GATE,
) -> PatientData:
    """Patient identity and recent measurements from prefetch, else from the FHIR server.

    ``scope`` (the caller's issuer) keeps one client's mapped Observations from another's; the
    caller's ``gate`` is stepped out of while the FHIR server is asked.
    """
    patient_id = request.context.patientId
    prefetch = request.prefetch or {}
    since = as_of - timedelta(hours=lookback_h)
    patient = _prefetch_patient(prefetch, patient_id)
    if patient is not None:
        _same_patient(patient, patient_id, "prefetch.patient")
    observations: list[tuple[int, Raw]] = []
    missing: list[str] = []
    for name in _CATEGORIES:
        found = _prefetch_observations(prefetch, name)
        if found is None:
            missing.append(name)
        else:
            observations.extend(found)

    used_server = False
    if patient is None or missing:
        fetcher = _fetcher(request, fhir_budget_s)
        with gate.released(), httpx.Client(transport=transport) as client:
            if patient is None:
                patient = _same_patient(
                    fetcher.patient(client, patient_id), patient_id, "the FHIR server's Patient"
                )
            for name in missing:
                observations.extend(
                    fetcher.observations(client, patient_id, _CATEGORIES[name], since)
                )
        used_server = True

    key = patient_key(patient, mrn_system) or PatientKey(
        system="urn:ventfusion:fhir-patient-id", value=patient_id
    )
    mapped = mapper.mapped(observations, f"Patient/{patient_id}", key, scope)
    return PatientData(
        key=key,
        fhir_id=patient_id,
        static=static_info(patient, as_of),
        measurements=tuple(m for m in mapped.measurements if since <= m.time <= as_of),
        used_fhir_server=used_server,
        dropped=mapped.dropped,
    )


def _fetcher(request: HookRequest, budget_s: float) -> FhirFetcher:
    server = request.fhirServer
    token = request.fhirAuthorization.access_token if request.fhirAuthorization else None
    if not server or not token:
        raise DataUnavailableError("prefetch incomplete and no fhirServer/fhirAuthorization given")
    if origin(server) is None:
        raise BadRequestError("fhirServer must be an absolute http(s) URL")
    return FhirFetcher(server, token, time.monotonic() + budget_s)
