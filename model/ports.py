"""Interfaces between the adapters, the app and the model (typed boundaries, no globals).

The adapters (DICOM listener, FHIR adapter) hand domain objects to sinks; the app implements the
sinks on top of its store and rescores patients. The app talks to any model through ``RiskModel``.
Sink methods are synchronous and thread-safe; async callers run them in a worker thread.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import numpy as np

from model.schemas import (
    ChestFilm,
    FilmEmbedding,
    Measurement,
    PatientKey,
    PatientWindow,
    RiskPrediction,
    StaticInfo,
)


@runtime_checkable
class MeasurementSink(Protocol):
    def add_measurements(self, measurements: Sequence[Measurement]) -> int:
        """Store new measurements (idempotent on ``source_id``); return how many were new."""
        ...

    def retract(self, source_ids: Sequence[str]) -> int:
        """Withdraw measurements whose source was entered in error; return how many."""
        ...


@runtime_checkable
class PatientSink(Protocol):
    def upsert_patient(self, key: PatientKey, *, fhir_id: str | None, static: StaticInfo) -> None:
        """Store a patient's FHIR id and static inputs (age, sex); fields left None keep theirs."""
        ...


@runtime_checkable
class FilmSink(Protocol):
    def add_film(self, film: ChestFilm) -> bool:
        """Store a processed chest film (idempotent on SOP Instance UID); True if new."""
        ...

    def record_rejected_film(
        self, sop_instance_uid: str, reason: str, patient_key: PatientKey | None
    ) -> None:
        """Record an instance that is not scored (not a chest film, unreadable, ...)."""
        ...


@runtime_checkable
class RiskModel(Protocol):
    """What the app needs from a loaded checkpoint (``model.predictor.Predictor``)."""

    model_id: str
    model_version: str
    film_size: int  # side of the square film tensor ``model.transforms`` produces for this model
    lookback_h: int
    film_max_age_h: float

    def predict(self, window: PatientWindow) -> RiskPrediction:
        """Risk at ``window.as_of``; never uses data after it."""
        ...

    def embed_film(self, pixels: np.ndarray) -> tuple[float, ...]:
        """CXR-encoder embedding of a preprocessed film tensor ``(1, S, S)``."""
        ...

    def film_embedding(self, pixels: np.ndarray) -> FilmEmbedding:
        """The embedding of a preprocessed film with who made it: the encoder's token and, for
        a model on a site's film backbone, the backbone's identity (stored with the film)."""
        ...


class Pseudonymiser(Protocol):
    """Turns a patient key into a keyed token that is safe to log (never the MRN, never unkeyed).

    The app builds one per process from its secret (``cds_app.logging_setup.Pseudonymiser``)
    and hands it to the adapters; ``redacted_patient`` stands in where none was given.
    """

    def __call__(self, patient_key: PatientKey | str) -> str:
        """The token of ``patient_key`` (``system|value``)."""
        ...


def redacted_patient(patient_key: PatientKey | str) -> str:
    """The token used when no keyed pseudonymiser was given: it says nothing about the patient."""
    return "pt-redacted"
