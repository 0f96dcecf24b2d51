"""The words of the applicability guard: the one place that renders its typed reasons and flags.

Cards (CDS Hooks), the risk page and the RiskAssessment rationale all call these, so a reason
reads the same everywhere. New reasons add a ``FilmNotUsedReason`` member and its sentence here.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from model.explain import format_value
from model.schemas import BackboneIdentity, EhrFlag, EhrFlagKind, FilmNotUsed, FilmNotUsedReason
from model.variables import BY_NAME

FILM_NOT_USED: dict[FilmNotUsedReason, str] = {
    FilmNotUsedReason.UNLIKE_TRAINING_FILMS: (
        "it does not resemble the films this model was trained on"
    ),
    FilmNotUsedReason.OTHER_ENCODER: (
        "it was encoded by another model or film encoder than the one this model was trained with"
    ),
    FilmNotUsedReason.BACKBONE_MISMATCH: (
        "it was read by a different image model than the one this model was trained with"
    ),
    FilmNotUsedReason.NOT_CHECKED: (
        "it could not be checked against the films this model was trained on"
    ),
}


def duration_text(hours: float) -> str:
    """``25 min``, ``3 h``, ``2 days``."""
    if hours < 1:
        return f"{max(1, round(hours * 60))} min"
    if hours < 48:
        return f"{round(hours)} h"
    return f"{round(hours / 24)} days"


def _labels(film: BackboneIdentity, model: BackboneIdentity) -> tuple[str, str]:
    """The two backbones' labels, told apart by their digests when the labels are the same."""
    if film.label != model.label:
        return film.label, model.label
    if film.sha256 != model.sha256:
        return f"{film.label} [file {film.sha256[:8]}]", f"{model.label} [file {model.sha256[:8]}]"
    return f"{film.label} [recipe {film.recipe[:8]}]", f"{model.label} [recipe {model.recipe[:8]}]"


def backbone_mismatch_text(film: BackboneIdentity | None, model: BackboneIdentity | None) -> str:
    """'it was read by image model X v1, not by Y v2, the one this model was trained with'."""
    if model is None:
        read_by = f"image model {film.label}" if film else "another image model"
        return f"it was read by {read_by}, not by this model's own film encoder"
    if film is None:
        return (
            f"it was read by an image model that was not recorded, not by {model.label}, the "
            "one this model was trained with"
        )
    film_label, model_label = _labels(film, model)
    return (
        f"it was read by image model {film_label}, not by {model_label}, the one this model "
        "was trained with"
    )


def film_not_used_text(info: FilmNotUsed, as_of: datetime) -> str:
    """'Chest film not used: it does not resemble the films this model was trained on (film
    from 3 h ago). This risk uses EHR data only.'"""
    age_h = max((as_of - info.acquired_at).total_seconds() / 3600.0, 0.0)
    reason = FILM_NOT_USED[info.reason]
    if info.reason is FilmNotUsedReason.BACKBONE_MISMATCH:
        reason = backbone_mismatch_text(info.film_backbone, info.model_backbone)
    return (
        f"Chest film not used: {reason} (film from {duration_text(age_h)} "
        "ago). This risk uses EHR data only."
    )


def _label(variable: str) -> str:
    spec = BY_NAME.get(variable)
    return spec.label if spec else variable


def ehr_flag_text(flag: EhrFlag) -> str:
    """One flag in clinical words."""
    if flag.kind is EhrFlagKind.BELOW_TRAINING_RANGE:
        return (
            f"{_label(flag.variable)} {format_value(flag.variable, flag.value)} is below the "
            f"values this model was trained on (lowest {format_value(flag.variable, flag.bound)})"
        )
    if flag.kind is EhrFlagKind.ABOVE_TRAINING_RANGE:
        return (
            f"{_label(flag.variable)} {format_value(flag.variable, flag.value)} is above the "
            f"values this model was trained on (highest {format_value(flag.variable, flag.bound)})"
        )
    if flag.kind is EhrFlagKind.NOT_IN_TRAINING:
        return f"{_label(flag.variable)} was never charted in this model's training data"
    if flag.kind is EhrFlagKind.SHORT_HISTORY:
        return (
            f"only {flag.value:.0f} h of charted data (the model was trained on windows with at "
            f"least {flag.bound:.0f} h)"
        )
    return (
        f"only {flag.value:.0f} variables charted (training windows had at least {flag.bound:.0f})"
    )


def ehr_flags_text(flags: Sequence[EhrFlag]) -> str | None:
    """'Outside the model's training data, interpret with caution: …' (None without flags)."""
    if not flags:
        return None
    return (
        "Outside the model's training data, interpret with caution: "
        + "; ".join(ehr_flag_text(f) for f in flags)
        + "."
    )
