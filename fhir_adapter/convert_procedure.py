"""Ventilation outcome: a ``Procedure`` coded SNOMED 40617009 (or a configured local code)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from fhir_adapter.codes import SNOMED
from fhir_adapter.convert_observation import as_object, local_ref, parse_instant
from model.variables import VENTILATION_SNOMED

JsonDict = dict[str, Any]
EXCLUDED_STATUSES = frozenset({"entered-in-error", "not-done", "preparation"})


@dataclass(frozen=True, slots=True)
class VentilationCodes:
    """Codes that mean "invasive ventilation started"; ``(system, code)`` pairs."""

    codes: frozenset[tuple[str, str]] = frozenset({(SNOMED, VENTILATION_SNOMED)})

    def with_local(self, system: str, code: str) -> VentilationCodes:
        """This table plus one local code."""
        return VentilationCodes(self.codes | {(system, code)})

    def tokens(self) -> str:
        """Comma-joined ``system|code`` for ``Procedure?code=``."""
        return ",".join(sorted(f"{s}|{c}" for s, c in self.codes))


@dataclass(frozen=True, slots=True)
class VentilationEvent:
    """A ventilation start recorded by a Procedure."""

    procedure_ref: str
    patient_ref: str
    start: datetime


def ventilation_event(procedure: JsonDict, codes: VentilationCodes) -> VentilationEvent | None:
    """The ventilation start a Procedure records, or None if it is not one we count."""
    if procedure.get("resourceType") != "Procedure" or not procedure.get("id"):
        return None
    if procedure.get("status") in EXCLUDED_STATUSES:
        return None
    coded = {
        (str(c.get("system")), str(c.get("code")))
        for c in as_object(procedure.get("code")).get("coding") or ()
        if isinstance(c, dict)
    }
    if not coded & codes.codes:
        return None
    patient_ref = local_ref(as_object(procedure.get("subject")).get("reference"))
    period = as_object(procedure.get("performedPeriod"))
    start = parse_instant(procedure.get("performedDateTime") or period.get("start"))
    if patient_ref is None or start is None:
        return None
    return VentilationEvent(f"Procedure/{procedure['id']}", patient_ref, start)


def encounter_period(encounter: JsonDict) -> tuple[str, datetime, datetime | None] | None:
    """``(patient ref, start, end)`` of an Encounter with a zoned period start."""
    if encounter.get("resourceType") != "Encounter":
        return None
    patient_ref = local_ref(as_object(encounter.get("subject")).get("reference"))
    period = as_object(encounter.get("period"))
    start = parse_instant(period.get("start"))
    if patient_ref is None or start is None:
        return None
    return patient_ref, start, parse_instant(period.get("end"))
