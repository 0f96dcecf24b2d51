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


class FilmAppearance(_Frozen):
    """Pixel statistics of a preprocessed film that the applicability guard compares with the
    training films (``model.applicability.film``); computed once at ingest, kept with the film."""

    version: str
    values: tuple[float, ...]


_SHA256 = r"^[0-9a-f]{64}$"
BACKBONE_LABEL_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9 ._+\-]*$"


class BackboneIdentity(_Frozen):
    """Which film backbone (a site's foundation model, ``model.backbone``) made an embedding.

    ``sha256`` is the model file's digest; ``recipe`` a digest of what the manifest says happens
    before and around it (input size and channels, intensity normalisation, preprocessing, output
    dimension), so the same weights fed differently are another backbone. Two identities are the
    same backbone when both digests agree; ``name`` and ``version`` are the manifest's labels.
    """

    name: str = Field(min_length=1, max_length=64, pattern=BACKBONE_LABEL_PATTERN)
    version: str = Field(min_length=1, max_length=32, pattern=BACKBONE_LABEL_PATTERN)
    sha256: str = Field(pattern=_SHA256)
    recipe: str = Field(pattern=r"^[0-9a-f]{16}$")

    def same_backbone(self, other: BackboneIdentity | None) -> bool:
        return other is not None and (self.sha256, self.recipe) == (other.sha256, other.recipe)

    @property
    def key(self) -> str:
        """Short, file-name-safe key (cache folders): the two digests."""
        return f"{self.sha256[:16]}-{self.recipe}"

    @property
    def label(self) -> str:
        """``"cxr-densenet v2"`` (a version already starting with v is kept as it is)."""
        version = self.version if self.version[:1] in "vV" else f"v{self.version}"
        return f"{self.name} {version}"


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
    backbone: BackboneIdentity | None = None  # the film backbone that made ``embedding``, if any
    appearance: FilmAppearance | None = None  # what the applicability guard compares (ingest)
    source: str = ""
    thumbnail_png: bytes | None = None  # small display PNG for the risk page (DICOM listener)


class FilmEmbedding(_Frozen):
    """A film's embedding as a model made it: the vector, the token of the encoder that made it
    (``ChestFilm.embedding_model``) and, for a site's film backbone, its identity."""

    values: tuple[float, ...]
    embedding_model: str
    backbone: BackboneIdentity | None = None


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
    """One group of inputs' share of the risk, in clinical words.

    ``contribution`` is its exact Shapley value (0-1 probability scale) in the game "risk of this
    patient vs the reference patient" (``RiskPrediction.reference_probability``): the drivers of
    all observed groups plus the film's contribution add up to ``probability - reference``.
    """

    variable: str  # the group name (model.explain.GROUPS), e.g. "oxygenation"
    contribution: float
    description: str


class FilmNotUsedReason(StrEnum):
    """Why a chest film in the window did not enter the risk (rendered in model.applicability)."""

    UNLIKE_TRAINING_FILMS = "unlike-training-films"  # the applicability guard's score
    OTHER_ENCODER = "other-encoder"  # embedded by another model or backbone, no pixels to redo it
    BACKBONE_MISMATCH = "backbone-mismatch"  # read by another film backbone than the model's
    NOT_CHECKED = "not-checked"  # nothing to check it with (no appearance, no training record)


class FilmNotUsed(_Frozen):
    """A film that was in the window but was not used (gate 0, the EHR path scored)."""

    sop_instance_uid: str
    acquired_at: AwareDatetime
    reason: FilmNotUsedReason
    score: float | None = None  # guard score / threshold (> 1: outside), when computed
    detail: str = ""  # e.g. the feature groups that were outside ("layout, intensity")
    film_backbone: BackboneIdentity | None = None  # BACKBONE_MISMATCH: what read the film
    model_backbone: BackboneIdentity | None = None  # BACKBONE_MISMATCH: what the model expects


class EhrFlagKind(StrEnum):
    """How a window lies outside what the model saw in training."""

    BELOW_TRAINING_RANGE = "below-training-range"
    ABOVE_TRAINING_RANGE = "above-training-range"
    SHORT_HISTORY = "short-history"
    FEW_VARIABLES = "few-variables"
    NOT_IN_TRAINING = "not-in-training"  # a variable never charted in the training data


class EhrFlag(_Frozen):
    """One way the EHR window is outside the training data (scored, and shown on the card)."""

    kind: EhrFlagKind
    variable: str = ""  # for range flags
    value: float  # the window's value (variable value, hours of history, variables charted)
    bound: float  # the training data's bound it crosses


class BedsideCriterion(StrEnum):
    """Published bedside criteria of high risk (thresholds and sources in model.bedside)."""

    ROX_BELOW_3_85 = "rox-below-3.85"
    SF_BELOW_235 = "sf-below-235"
    RR_AT_LEAST_30 = "rr-at-least-30"


class BedsideReading(_Frozen):
    """The current bedside indices beside the model (None: not evaluable from recent values)."""

    rox: float | None = None
    sf_ratio: float | None = None
    resp_rate: float | None = None
    spo2: float | None = None
    fio2: float | None = None
    high_risk: tuple[BedsideCriterion, ...] = ()  # the criteria met


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
    reference_probability: float | None = None  # the drivers' reference patient (model.explain)
    film_not_used: FilmNotUsed | None = None  # a film in the window that was refused, and why
    ehr_flags: tuple[EhrFlag, ...] = ()  # where the window is outside the training data
    bedside: BedsideReading | None = None  # set by the app beside the model (model.bedside)
    backfilled: bool = False  # computed later from charted data for the trend, never written back
