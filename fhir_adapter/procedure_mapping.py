"""Ventilation outcome: a ``Procedure`` coded SNOMED 40617009 (or a configured local code)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from fhir_adapter.codes import SNOMED
from fhir_adapter.resources import Encounter, Procedure
from fhir_adapter.values import local_ref, parse_instant
from model.variables import VENTILATION_SNOMED

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


def ventilation_event(procedure: Procedure, codes: VentilationCodes) -> VentilationEvent | None:
    """The ventilation start a Procedure records, or None if it is not one we count."""
    if procedure.status in EXCLUDED_STATUSES:
        return None
    coded = {
        (str(c.system), str(c.code)) for c in (procedure.code.coding if procedure.code else ())
    }
    if not coded & codes.codes:
        return None
    patient_ref = local_ref(procedure.subject.reference if procedure.subject else None)
    period = procedure.performedPeriod
    start = parse_instant(procedure.performedDateTime or (period.start if period else None))
    if patient_ref is None or start is None:
        return None
    return VentilationEvent(f"Procedure/{procedure.id}", patient_ref, start)


def encounter_period(encounter: Encounter) -> tuple[str, datetime, datetime | None] | None:
    """``(patient ref, start, end)`` of an Encounter with a zoned period start."""
    patient_ref = local_ref(encounter.subject.reference if encounter.subject else None)
    period = encounter.period
    start = parse_instant(period.start if period else None)
    if patient_ref is None or period is None or start is None:
        return None
    return patient_ref, start, parse_instant(period.end)
