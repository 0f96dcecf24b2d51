"""Plain facts read from a DICOM instance, free of pydicom types (see ``convert``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np

from dicom_listener import FilmRejectedError
from model.schemas import FilmView, PatientKey


@dataclass(frozen=True)
class ReceivedInstance:
    """What the association thread needs to know about a just-received instance."""

    sop_instance_uid: str
    sop_class_uid: str
    transfer_syntax_uid: str


@dataclass(frozen=True)
class PatientIdentity:
    """PatientID and its issuer as found in the instance (never logged)."""

    patient_id: str
    issuer: str = ""
    issuer_universal_id: str = ""
    issuer_universal_id_type: str = ""


@dataclass(frozen=True)
class FilmFacts:
    """Selection-relevant attributes of one film."""

    sop_instance_uid: str
    sop_class_uid: str
    study_instance_uid: str
    modality: str
    body_part: str
    view_position: str
    image_type: tuple[str, ...]
    descriptions: tuple[str, ...]  # study/series description, protocol, station name (upper)
    identity: PatientIdentity | None
    acquired_at: datetime | None

    @property
    def view(self) -> FilmView:
        """The view as the domain type (AP, PA, lateral or unknown)."""
        value = self.view_position.upper()
        if value in ("AP", "PA"):
            return FilmView(value)
        if value in ("LL", "RL", "LATERAL", "LAT"):
            return FilmView.LATERAL
        return FilmView.UNKNOWN


@dataclass(frozen=True)
class IdentityRules:
    """How PatientID + issuer map to the patient key shared with FHIR."""

    default_system: str
    issuer_systems: dict[str, str]


def patient_key_for(identity: PatientIdentity | None, rules: IdentityRules) -> PatientKey:
    """Map PatientID (+ IssuerOfPatientID) to a PatientKey.

    Order: a configured system for the issuer text; else an ISO universal entity id of the issuer
    (``urn:oid:``); else, when no issuer is given at all, the default (local MRN) system. A
    PatientID from an issuer we cannot map is refused: PatientID alone is never matched across
    issuers.
    """
    if identity is None or not identity.patient_id.strip():
        raise FilmRejectedError("no PatientID")
    value = identity.patient_id.strip()
    issuer = identity.issuer.strip()
    if issuer and issuer in rules.issuer_systems:
        return PatientKey(system=rules.issuer_systems[issuer], value=value)
    universal = identity.issuer_universal_id.strip()
    if universal and identity.issuer_universal_id_type.strip().upper() == "ISO":
        return PatientKey(system=f"urn:oid:{universal}", value=value)
    if universal and universal in rules.issuer_systems:
        return PatientKey(system=rules.issuer_systems[universal], value=value)
    if not issuer and not universal:
        return PatientKey(system=rules.default_system, value=value)
    raise FilmRejectedError("IssuerOfPatientID has no configured identifier system")


@dataclass(frozen=True)
class Rejection:
    """Why an instance is not scored (and whose it is, when known)."""

    reason: str
    patient_key: PatientKey | None


@dataclass(frozen=True)
class PreparedFilm:
    """What the decoder process hands back: a checked, preprocessed film, ready to embed."""

    patient_key: PatientKey
    acquired_at: datetime
    sop_instance_uid: str
    study_instance_uid: str
    view: FilmView
    pixels: np.ndarray  # float32 (1, S, S) in [0, 1], through model.transforms
    thumbnail_png: bytes


SOURCE = "dicom"  # ChestFilm.source of films received over DICOM
EARLIEST_FILM = datetime(1900, 1, 1, tzinfo=UTC)


def implausible_time(acquired_at: datetime, now: datetime, max_skew_s: float) -> str | None:
    """Why an acquisition time cannot be a film time, or None (it is never used otherwise)."""
    try:
        if acquired_at < EARLIEST_FILM:
            return f"acquisition time {acquired_at.isoformat()} is before 1900"
        if acquired_at > now + timedelta(seconds=max_skew_s):
            return (
                f"acquisition time {acquired_at.isoformat()} is in the future (more than "
                f"{max_skew_s:g} s ahead of this clock: check the modality clock and the time zone)"
            )
    except OverflowError:  # year 1 or 9999 shifted by an offset
        return f"acquisition time {acquired_at.isoformat()} is out of range"
    return None
