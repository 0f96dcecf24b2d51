"""Patient JSON -> ``PatientKey`` (the MRN identifier shared with DICOM) and static info."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from fhir_adapter.search import token
from model.age import age_from_birth_date
from model.schemas import PatientKey, StaticInfo

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


def has_identifier(patient: JsonDict, key: PatientKey) -> bool:
    """True when ``patient`` carries exactly ``key`` (same system, same value, same case)."""
    return any(
        isinstance(ident, dict)
        and ident.get("system") == key.system
        and ident.get("value") == key.value
        for ident in patient.get("identifier") or ()
    )


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


def age_years(born: date | None, as_of: datetime) -> float | None:
    """Age in years (two decimals) at ``as_of``; None without a full birth date, or when the
    birth date is in the future or over 120 years back (``model.age``: unknown, not a number)."""
    return age_from_birth_date(born, as_of)


def static_info(patient: JsonDict, as_of: datetime) -> StaticInfo:
    """The model's static inputs (age at ``as_of``, administrative gender) of ``patient``."""
    return StaticInfo(age_years=age_years(birth_date(patient), as_of), sex=gender(patient))


def identifier_token(key: PatientKey) -> str:
    """``system|value`` for ``Patient?identifier=`` searches (escaped)."""
    return token(key.system, key.value)
