"""One spooled instance -> a prepared film or the reason it is not scored (decoder process side).

Runs in the decoder process (:mod:`dicom_listener.decoder_child`): reads and re-checks the file
within the size limits, maps the patient, applies the selection rules and the plausibility of
the acquisition time, decodes the pixels, preprocesses them with the shared MONAI transforms and
makes the thumbnail. The listener process embeds the result (:mod:`dicom_listener.builder`).
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from dicom_listener import FilmRejectedError
from dicom_listener.config import ListenerConfig
from dicom_listener.convert import read_film
from dicom_listener.facts import (
    IdentityRules,
    PreparedFilm,
    Rejection,
    implausible_time,
    patient_key_for,
)
from dicom_listener.processing import make_thumbnail
from dicom_listener.selection import rejection_reason
from model.schemas import PatientKey
from model.transforms import FilmTransformError, preprocess_film


def prepare_film(
    path: Path, config: ListenerConfig, film_size: int, *, now: datetime | None = None
) -> PreparedFilm | Rejection:
    """Check, select, decode and preprocess one spooled file.

    Every problem with the instance itself becomes a :class:`Rejection`; a ``MemoryError``
    propagates (the decoder process's limit, counted as a failure by the caller).
    """
    rules = IdentityRules(config.default_patient_system, dict(config.issuer_systems))
    patient_key: PatientKey | None = None
    try:
        film = read_film(path, config.zone, config.size_limits)
        facts = film.facts
        patient_key = patient_key_for(facts.identity, rules)
        reason = rejection_reason(facts, config.selection)
        if reason is not None:
            return Rejection(reason, patient_key)
        if (
            facts.acquired_at is None
        ):  # the selection rules refuse these; keep mypy and readers sure
            return Rejection("no acquisition date", patient_key)
        reason = implausible_time(
            facts.acquired_at, now or datetime.now(UTC), config.max_clock_skew_s
        )
        if reason is not None:
            return Rejection(reason, patient_key)
        image = film.display_image()
        pixels = preprocess_film(image, film_size)
    except FilmRejectedError as exc:
        return Rejection(exc.reason, patient_key)
    except FilmTransformError as exc:
        return Rejection(f"cannot preprocess the image: {exc}", patient_key)
    return PreparedFilm(
        patient_key=patient_key,
        acquired_at=facts.acquired_at,
        sop_instance_uid=facts.sop_instance_uid,
        study_instance_uid=facts.study_instance_uid,
        view=facts.view,
        pixels=pixels,
        thumbnail_png=make_thumbnail(image, config.thumbnail_size),
    )
