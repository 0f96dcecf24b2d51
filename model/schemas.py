"""Domain types exchanged between packages (DESIGN §2).

Adapters convert protocol objects (DICOM datasets, FHIR JSON) into these at the edge; the app
stores them and the model consumes them. All are frozen pydantic models.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated

import numpy as np
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator

from model.variables import BY_NAME


def _aware(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("datetimes must carry a time zone")
    return value


AwareDatetime = Annotated[datetime, AfterValidator(_aware)]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)


class PatientKey(_Frozen):
    """The identifier shared by DICOM PatientID (+ issuer) and FHIR Patient.identifier."""

    system: str = Field(min_length=1)
    value: str = Field(min_length=1)

    def __str__(self) -> str:
        return f"{self.system}|{self.value}"

    @classmethod
    def parse(cls, token: str) -> PatientKey:
        """Parse the ``system|value`` form used in URLs and storage."""
        system, sep, value = token.partition("|")
        if not sep or not system or not value:
            raise ValueError(f"patient key must be 'system|value', got {token!r}")
        return cls(system=system, value=value)


class Measurement(_Frozen):
    """One EHR value in the canonical unit of its variable (model.variables)."""

    patient_key: PatientKey
    variable: str
    value: float
    unit: str
    time: AwareDatetime
    source_id: str = ""

    @field_validator("variable")
    @classmethod
    def _known_variable(cls, name: str) -> str:
        if name not in BY_NAME:
            raise ValueError(f"unknown variable {name!r}")
        return name


class FilmView(StrEnum):
    AP = "AP"
    PA = "PA"
    LATERAL = "LL"
    UNKNOWN = "UNKNOWN"


class ChestFilm(_Frozen):
    """A chest film as the model sees it: preprocessed pixels and/or a precomputed embedding.

    ``pixels`` is a float32 array shaped ``(1, H, W)`` in [0, 1], already through
    ``model.transforms`` (MONOCHROME1 inverted, VOI applied). ``embedding`` is the CXR encoder's
    output for this film when it was computed at ingest.
    """

    patient_key: PatientKey
    acquired_at: AwareDatetime
    sop_instance_uid: str
    study_instance_uid: str = ""
    view: FilmView = FilmView.AP
    pixels: np.ndarray | None = None
    embedding: tuple[float, ...] | None = None
    embedding_model: str = ""
    source: str = ""
    thumbnail_png: bytes | None = None  # small display PNG for the risk page (DICOM listener)


class StaticInfo(_Frozen):
    age_years: float | None = None
    sex: str | None = None  # "male" | "female" | other FHIR administrative gender


class PatientWindow(_Frozen):
    """Everything the model may use at ``as_of``; nothing after it."""

    patient_key: PatientKey
    as_of: AwareDatetime
    measurements: tuple[Measurement, ...] = ()
    films: tuple[ChestFilm, ...] = ()
    static: StaticInfo = StaticInfo()


class RiskLevel(StrEnum):
    LOW = "low"
    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"


class Driver(_Frozen):
    """One input's contribution to the risk, in clinical words."""

    variable: str
    contribution: float  # change in probability (absolute, 0-1 scale) attributable to it
    description: str


class RiskPrediction(_Frozen):
    patient_key: PatientKey
    as_of: AwareDatetime
    probability: float = Field(ge=0.0, le=1.0)
    horizon_h: int = 24
    level: RiskLevel
    model_id: str
    model_version: str
    image_weight: float = Field(ge=0.0, le=1.0)  # the gate; exactly 0 without a film
    film_age_h: float | None = None
    film_sop_instance_uid: str | None = None
    probability_without_film: float | None = None
    drivers: tuple[Driver, ...] = ()
    basis_ids: tuple[str, ...] = ()
