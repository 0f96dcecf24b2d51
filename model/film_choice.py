"""Which chest film a prediction uses, or why the latest one is not used (the film guard).

The candidate is the latest film acquired in ``[as_of - max_age, as_of]``; an older film is never
used in its place (it would describe an earlier state). The candidate is used only when its
embedding is this model's (or can be computed from its pixels) and the applicability guard finds
it like the training films; otherwise the prediction is the EHR path (gate 0) and carries a
``FilmNotUsed`` reason. For a model trained on a site's film backbone, "this model's" embedding
is one made by the very backbone recorded in the checkpoint (same file and recipe); an embedding
without a recorded backbone is never taken for it.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

import numpy as np

from model.applicability.film import APPEARANCE_DIM, FilmGuard, appearance_features
from model.schemas import (
    BackboneIdentity,
    ChestFilm,
    FilmNotUsed,
    FilmNotUsedReason,
    PatientWindow,
)


@dataclass(frozen=True, slots=True)
class FilmChoice:
    """The film used with its embedding, or the reason the latest film was not used."""

    film: ChestFilm | None = None
    embedding: np.ndarray | None = None  # (E,) float32
    not_used: FilmNotUsed | None = None


def _refuse(film: ChestFilm, reason: FilmNotUsedReason, **extra: object) -> FilmChoice:
    info = FilmNotUsed(
        sop_instance_uid=film.sop_instance_uid,
        acquired_at=film.acquired_at,
        reason=reason,
        **extra,
    )
    return FilmChoice(not_used=info)


def _matches(film: ChestFilm, guard: FilmGuard) -> bool:
    """The film's stored appearance is of the kind the guard compares."""
    found = film.appearance
    return (
        found is not None
        and found.version == guard.appearance_version
        and len(found.values) == APPEARANCE_DIM
        and all(math.isfinite(v) for v in found.values)
    )


def _is_own(
    film: ChestFilm, embedding_id: str, dim: int, backbone: BackboneIdentity | None
) -> bool:
    """The stored embedding is one this model reads."""
    if film.embedding is None or len(film.embedding) != dim:
        return False
    if backbone is not None:
        return backbone.same_backbone(film.backbone)
    return film.backbone is None and film.embedding_model in ("", embedding_id)


def choose_film(
    window: PatientWindow,
    *,
    max_age_h: float,
    embedding_id: str,
    embedding_dim: int,
    prepare: Callable[[np.ndarray], np.ndarray],
    embed: Callable[[np.ndarray], np.ndarray] | None,
    guard: FilmGuard | None,
    backbone: BackboneIdentity | None = None,
) -> FilmChoice:
    """The film of ``window`` the model may use (``prepare`` gives the ``(1, S, S)`` model tensor
    of a film's pixels, ``embed`` its encoder embedding — None when the model cannot embed
    pixels; ``guard`` None: the model carries no film statistics; ``backbone``: the film backbone
    the model was trained on, if any)."""
    oldest = window.as_of - timedelta(hours=max_age_h)
    eligible = [f for f in window.films if oldest <= f.acquired_at <= window.as_of]
    if not eligible:
        return FilmChoice()
    film = max(eligible, key=lambda f: f.acquired_at)
    pixels = prepare(film.pixels) if film.pixels is not None and embed is not None else None
    if _is_own(film, embedding_id, embedding_dim, backbone):
        assert film.embedding is not None
        embedding = np.asarray(film.embedding, np.float32)
    elif pixels is not None and embed is not None:
        embedding = np.asarray(embed(pixels), np.float32)
    elif film.embedding is not None and (backbone is not None or film.backbone is not None):
        return _refuse(
            film,
            FilmNotUsedReason.BACKBONE_MISMATCH,
            film_backbone=film.backbone,
            model_backbone=backbone,
        )
    elif film.embedding is not None:
        return _refuse(film, FilmNotUsedReason.OTHER_ENCODER)
    elif film.pixels is not None:
        return _refuse(film, FilmNotUsedReason.NOT_CHECKED, detail="no film backbone configured")
    else:
        return _refuse(film, FilmNotUsedReason.NOT_CHECKED)
    if guard is None:
        return _refuse(film, FilmNotUsedReason.NOT_CHECKED, detail="no training-film statistics")
    appearance = None
    if guard.needs_appearance:
        if pixels is not None:
            appearance = appearance_features(pixels[None])[0]
        elif _matches(film, guard):
            assert film.appearance is not None
            appearance = np.asarray(film.appearance.values, np.float64)
        else:
            return _refuse(film, FilmNotUsedReason.NOT_CHECKED, detail="no appearance recorded")
    verdict = guard.assess(embedding, appearance)
    if not verdict.used:  # NaN scores (a corrupt embedding) are never "used" either
        return _refuse(
            film,
            FilmNotUsedReason.UNLIKE_TRAINING_FILMS,
            score=verdict.ratio if math.isfinite(verdict.ratio) else None,
            detail=", ".join(verdict.outside),
        )
    return FilmChoice(film=film, embedding=embedding)
