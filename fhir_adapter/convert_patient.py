"""Patient JSON -> ``PatientKey`` (the MRN identifier shared with DICOM) and static info."""

from __future__ import annotations

from datetime import date
from typing import Any

from model.schemas import PatientKey

JsonDict = dict[str, Any]


def patient_key(patient: JsonDict, mrn_system: str) -> PatientKey | None:
    """The identifier of ``patient`` in ``mrn_system``, or None when it has none."""
    for ident in patient.get("identifier") or ():
        if not isinstance(ident, dict) or ident.get("system") != mrn_system:
            continue
        value = ident.get("value")
        if isinstance(value, str) and value:
            return PatientKey(system=mrn_system, value=value)
    return None


def birth_date(patient: JsonDict) -> date | None:
    """``Patient.birthDate`` (full dates only; partial dates give None)."""
    text = patient.get("birthDate")
    if not isinstance(text, str) or len(text) != 10:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


def gender(patient: JsonDict) -> str | None:
    """``Patient.gender`` as the FHIR administrative gender code."""
    value = patient.get("gender")
    return value if isinstance(value, str) and value else None


def identifier_token(key: PatientKey) -> str:
    """``system|value`` for ``Patient?identifier=`` searches."""
    return f"{key.system}|{key.value}"
