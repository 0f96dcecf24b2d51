"""A decoded Patient -> ``PatientKey`` (the MRN identifier shared with DICOM) and static info."""

from __future__ import annotations

from datetime import date, datetime

from fhir_adapter.resources import Patient
from fhir_adapter.search import token
from model.age import age_from_birth_date
from model.schemas import PatientKey, StaticInfo

GENDERS = frozenset({"male", "female", "other", "unknown"})
MAX_MRN_LENGTH = 64  # the MRN is also the DICOM PatientID, an LO of at most 64 characters


def patient_key(patient: Patient, mrn_system: str) -> PatientKey | None:
    """The identifier of ``patient`` in ``mrn_system``, or None when it has none."""
    for ident in patient.identifier:
        if ident.system == mrn_system and ident.value and len(ident.value) <= MAX_MRN_LENGTH:
            return PatientKey(system=mrn_system, value=ident.value)
    return None


def has_identifier(patient: Patient, key: PatientKey) -> bool:
    """True when ``patient`` carries exactly ``key`` (same system, same value, same case)."""
    return any(
        ident.system == key.system and ident.value == key.value for ident in patient.identifier
    )


def birth_date(patient: Patient) -> date | None:
    """``Patient.birthDate`` (full dates only; partial dates give None)."""
    text = patient.birthDate
    if text is None or len(text) != 10:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


def gender(patient: Patient) -> str | None:
    """``Patient.gender`` as the FHIR administrative gender code."""
    return patient.gender if patient.gender in GENDERS else None


def age_years(born: date | None, as_of: datetime) -> float | None:
    """Age in years (two decimals) at ``as_of``; None without a full birth date, or when the
    birth date is in the future or over 120 years back (``model.age``: unknown, not a number)."""
    return age_from_birth_date(born, as_of)


def static_info(patient: Patient, as_of: datetime) -> StaticInfo:
    """The model's static inputs (age at ``as_of``, administrative gender) of ``patient``."""
    return StaticInfo(age_years=age_years(birth_date(patient), as_of), sex=gender(patient))


def identifier_token(key: PatientKey) -> str:
    """``system|value`` for ``Patient?identifier=`` searches (escaped)."""
    return token(key.system, key.value)
