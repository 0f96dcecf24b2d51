"""A decoded FHIR Observation (``fhir_adapter.resources``) -> ``Measurement``s (the hot path)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime

from fhir_adapter.codes import CodeTable
from fhir_adapter.errors import MappingError
from fhir_adapter.resources import CodeableConcept, Observation, ObservationComponent
from fhir_adapter.units import to_canonical
from fhir_adapter.values import local_ref, parse_instant
from model.schemas import Measurement, PatientKey
from model.variables import BY_NAME

USABLE_STATUSES = frozenset({"final", "amended", "corrected"})
RETRACTING_STATUSES = frozenset({"entered-in-error"})


@dataclass(frozen=True, slots=True)
class ObservationHeader:
    """What must be known about an Observation before mapping it (identity and version)."""

    ref: str  # "Observation/<id>"
    version_id: str
    status: str
    subject_ref: str | None  # "Patient/<id>"
    last_updated: datetime | None


@dataclass(frozen=True, slots=True)
class ObservationMapping:
    """The measurements one Observation yields, or why it yields none."""

    header: ObservationHeader
    measurements: tuple[Measurement, ...]
    retract: bool
    rejected: tuple[str, ...]


def observation_header(obs: Observation) -> ObservationHeader:
    """Identity, version and subject of a decoded Observation."""
    meta = obs.meta
    return ObservationHeader(
        ref=f"Observation/{obs.id}",
        version_id=(meta.versionId if meta else None) or "1",
        status=obs.status,
        subject_ref=local_ref(obs.subject.reference if obs.subject else None),
        last_updated=parse_instant(meta.lastUpdated if meta else None),
    )


def _effective_time(obs: Observation) -> datetime | None:
    start = obs.effectivePeriod.start if obs.effectivePeriod else None
    return parse_instant(obs.effectiveDateTime or obs.effectiveInstant or start)


def _numeric(element: Observation | ObservationComponent) -> tuple[float, str | None] | None:
    quantity = element.valueQuantity
    if quantity is not None and quantity.value is not None:
        return quantity.value, quantity.code or quantity.unit
    if element.valueInteger is not None:
        return float(element.valueInteger), None
    return None


def _variable(concept: CodeableConcept | None, codes: CodeTable) -> tuple[str | None, bool]:
    panel = False
    for coding in concept.coding if concept else ():
        name = codes.variable_for(coding.system, coding.code)
        if name is not None:
            return name, False
        panel = panel or codes.is_bp_panel(coding.system, coding.code)
    return None, panel


def _measure(
    element: Observation | ObservationComponent,
    variable: str,
    key: PatientKey,
    time: datetime,
    source_id: str,
) -> Measurement:
    if element.dataAbsentReason is not None:
        raise MappingError(f"{variable}: data absent")
    numeric = _numeric(element)
    if numeric is None:
        raise MappingError(f"{variable}: no numeric value")
    spec = BY_NAME[variable]
    value = to_canonical(numeric[0], numeric[1], spec)
    if not math.isfinite(value) or not spec.plausible_min <= value <= spec.plausible_max:
        raise MappingError(
            f"{variable}: {value:g} {spec.unit} is outside the physiological range "
            f"[{spec.plausible_min:g}, {spec.plausible_max:g}]"
        )
    return Measurement(
        patient_key=key,
        variable=variable,
        value=value,
        unit=spec.unit,
        time=time,
        source_id=source_id,
    )


def map_observation(
    obs: Observation, patient_key: PatientKey, codes: CodeTable
) -> ObservationMapping:
    """Map one Observation to measurements (top-level value and coded components)."""
    header = observation_header(obs)
    if header.status in RETRACTING_STATUSES:
        return ObservationMapping(header, (), True, ())
    if header.status not in USABLE_STATUSES:
        return ObservationMapping(header, (), False, (f"status {header.status!r} not used",))
    time = _effective_time(obs)
    if time is None:
        return ObservationMapping(header, (), False, ("no effective time with a zone",))
    source = f"{header.ref}/_history/{header.version_id}"
    measurements: list[Measurement] = []
    rejected: list[str] = []
    variable, is_panel = _variable(obs.code, codes)
    if variable is not None:
        try:
            measurements.append(_measure(obs, variable, patient_key, time, source))
        except MappingError as exc:
            rejected.append(str(exc))
    mapped_component = False
    for component in obs.component:
        name, _ = _variable(component.code, codes)
        if name is None:
            continue
        mapped_component = True
        try:
            measurements.append(_measure(component, name, patient_key, time, f"{source}#{name}"))
        except MappingError as exc:
            rejected.append(str(exc))
    if variable is None and not mapped_component:
        reason = "blood-pressure panel without sbp/dbp" if is_panel else "no mapped code"
        rejected.append(reason)
    return ObservationMapping(header, tuple(measurements), False, tuple(rejected))
