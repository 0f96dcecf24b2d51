"""FHIR Observation JSON -> ``Measurement`` (the hot path: plain dicts, no model validation)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from fhir_adapter.codes import CodeTable
from fhir_adapter.errors import MappingError
from fhir_adapter.units import to_canonical
from model.schemas import Measurement, PatientKey
from model.variables import BY_NAME

JsonDict = dict[str, Any]

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


def local_ref(reference: str | None) -> str | None:
    """``Type/id`` from a relative or absolute reference (history suffix dropped)."""
    if not reference:
        return None
    parts = reference.split("/_history/")[0].rstrip("/").split("/")
    if len(parts) < 2 or not parts[-1] or not parts[-2]:
        return None
    return f"{parts[-2]}/{parts[-1]}"


def parse_instant(text: str | None) -> datetime | None:
    """A zone-aware datetime from a FHIR dateTime/instant; None for dates or zone-less times."""
    if not text or "T" not in text:
        return None
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return value if value.tzinfo is not None else None


def as_object(value: object) -> JsonDict:
    """``value`` if it is a JSON object, else an empty one (tolerant reads of optional parts)."""
    return value if isinstance(value, dict) else {}


def observation_header(obs: JsonDict) -> ObservationHeader:
    """Identity, version and subject of an Observation; MappingError if it is not one."""
    if not isinstance(obs, dict) or obs.get("resourceType") != "Observation":
        raise MappingError("not an Observation resource")
    rid = obs.get("id")
    if not isinstance(rid, str) or not rid:
        raise MappingError("Observation without id")
    meta = as_object(obs.get("meta"))
    subject = as_object(obs.get("subject"))
    return ObservationHeader(
        ref=f"Observation/{rid}",
        version_id=str(meta.get("versionId") or "1"),
        status=str(obs.get("status") or ""),
        subject_ref=local_ref(subject.get("reference")),
        last_updated=parse_instant(meta.get("lastUpdated")),
    )


def _effective_time(obs: JsonDict) -> datetime | None:
    period = obs.get("effectivePeriod")
    start = period.get("start") if isinstance(period, dict) else None
    return parse_instant(obs.get("effectiveDateTime") or obs.get("effectiveInstant") or start)


def _numeric(element: JsonDict) -> tuple[float, str | None] | None:
    quantity = element.get("valueQuantity")
    if isinstance(quantity, dict) and isinstance(quantity.get("value"), int | float):
        unit = quantity.get("code") or quantity.get("unit")
        return float(quantity["value"]), unit if isinstance(unit, str) else None
    integer = element.get("valueInteger")
    if isinstance(integer, int) and not isinstance(integer, bool):
        return float(integer), None
    return None


def _variable(element: JsonDict, codes: CodeTable) -> tuple[str | None, bool]:
    concept = as_object(element.get("code"))
    panel = False
    for coding in concept.get("coding") or ():
        if not isinstance(coding, dict):
            continue
        name = codes.variable_for(coding.get("system"), coding.get("code"))
        if name is not None:
            return name, False
        panel = panel or codes.is_bp_panel(coding.get("system"), coding.get("code"))
    return None, panel


def _measure(
    element: JsonDict, variable: str, key: PatientKey, time: datetime, source_id: str
) -> Measurement:
    if element.get("dataAbsentReason") is not None:
        raise MappingError(f"{variable}: data absent")
    numeric = _numeric(element)
    if numeric is None:
        raise MappingError(f"{variable}: no numeric value")
    spec = BY_NAME[variable]
    value = to_canonical(numeric[0], numeric[1], spec.unit, variable)
    if not spec.plausible_min <= value <= spec.plausible_max:
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


def map_observation(obs: JsonDict, patient_key: PatientKey, codes: CodeTable) -> ObservationMapping:
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
    variable, is_panel = _variable(obs, codes)
    if variable is not None:
        try:
            measurements.append(_measure(obs, variable, patient_key, time, source))
        except MappingError as exc:
            rejected.append(str(exc))
    mapped_component = False
    for component in obs.get("component") or ():
        if not isinstance(component, dict):
            continue
        name, _ = _variable(component, codes)
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


def observation_to_measurements(
    obs: JsonDict, patient_key: PatientKey, codes: CodeTable | None = None
) -> list[Measurement]:
    """The usable measurements of one Observation (pure; for CDS Hooks prefetch parsing).

    Non-usable statuses, unknown codes or units and implausible values yield nothing; a
    malformed resource raises MappingError.
    """
    return list(map_observation(obs, patient_key, codes or CodeTable()).measurements)
