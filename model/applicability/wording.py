"""The words of the applicability guard: the one place that renders its typed reasons and flags.

Cards (CDS Hooks), the risk page and the RiskAssessment rationale all call these, so a reason
reads the same everywhere. New reasons (e.g. a film backbone other than the model's) add a
``FilmNotUsedReason`` member and its sentence here.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from model.explain import format_value
from model.schemas import EhrFlag, EhrFlagKind, FilmNotUsed, FilmNotUsedReason
from model.variables import BY_NAME

FILM_NOT_USED: dict[FilmNotUsedReason, str] = {
    FilmNotUsedReason.UNLIKE_TRAINING_FILMS: (
        "it does not resemble the films this model was trained on"
    ),
    FilmNotUsedReason.OTHER_ENCODER: (
        "it was encoded by another model or film encoder than the one this model was trained with"
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


def film_not_used_text(info: FilmNotUsed, as_of: datetime) -> str:
    """'Chest film not used: it does not resemble the films this model was trained on (film
    from 3 h ago). This risk uses EHR data only.'"""
    age_h = max((as_of - info.acquired_at).total_seconds() / 3600.0, 0.0)
    return (
        f"Chest film not used: {FILM_NOT_USED[info.reason]} (film from {duration_text(age_h)} "
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
