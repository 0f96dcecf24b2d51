"""One spooled instance -> a scored ChestFilm, or a recorded reason why not."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from dicom_listener import FilmRejectedError
from dicom_listener.config import ListenerConfig
from dicom_listener.convert import read_film
from dicom_listener.facts import IdentityRules, patient_key_for
from dicom_listener.processing import FilmProcessor, make_thumbnail
from dicom_listener.selection import rejection_reason
from model.schemas import ChestFilm, PatientKey

log = logging.getLogger(__name__)

SOURCE = "dicom"


@dataclass(frozen=True)
class Rejection:
    """Why an instance is not scored (and whose it is, when known)."""

    reason: str
    patient_key: PatientKey | None


def build_film(
    path: Path, *, config: ListenerConfig, processor: FilmProcessor
) -> ChestFilm | Rejection:
    """Convert, select, decode and embed one spooled file.

    Every problem with the instance itself becomes a :class:`Rejection`; errors of the processor
    (the model) propagate so that the caller can decide.
    """
    rules = IdentityRules(config.default_patient_system, dict(config.issuer_systems))
    patient_key: PatientKey | None = None
    try:
        film = read_film(path, config.zone)
        facts = film.facts
        patient_key = patient_key_for(facts.identity, rules)
        reason = rejection_reason(facts, config.selection)
        if reason is not None:
            return Rejection(reason, patient_key)
        image = film.display_image()
    except FilmRejectedError as exc:
        return Rejection(exc.reason, patient_key)
    if facts.acquired_at is None:  # the selection rules refuse these; keep mypy and readers sure
        return Rejection("no acquisition date", patient_key)
    processed = processor.process(image)
    return ChestFilm(
        patient_key=patient_key,
        acquired_at=facts.acquired_at,
        sop_instance_uid=facts.sop_instance_uid,
        study_instance_uid=facts.study_instance_uid,
        view=facts.view,
        pixels=processed.pixels,
        embedding=processed.embedding,
        embedding_model=processed.embedding_model,
        source=SOURCE,
        thumbnail_png=make_thumbnail(image, config.thumbnail_size),
    )
