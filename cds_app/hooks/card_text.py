"""The sentences of a card's detail and of the risk page, from one recorded prediction.

The wording of the applicability guard (film not used, window outside the training data) comes
from ``model.applicability.wording`` and that of the bedside criteria from ``model.bedside``, so
cards, page and RiskAssessment read the same.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from model.applicability.wording import duration_text, ehr_flags_text, film_not_used_text
from model.bedside import criteria_text, model_below_bedside
from model.schemas import RiskLevel, RiskPrediction
from model.shapley import REFERENCE_TEXT

LEVEL_WORDS = {
    RiskLevel.LOW: "Low",
    RiskLevel.INFO: "Moderate",
    RiskLevel.WARNING: "Elevated",
    RiskLevel.CRITICAL: "High",
}
#: Drivers listed by name on a card; the rest are summed in one "other values" line.
CARD_DRIVERS = 4


def pct(p: float) -> str:
    return f"{round(p * 100)}%"


def points(delta: float) -> str:
    """'+12 points', '−3 points', '±0 points' (probability difference, 0-1 scale)."""
    value = round(delta * 100)
    sign = "+" if value > 0 else ("±" if value == 0 else "−")
    unit = "point" if abs(value) == 1 else "points"
    return f"{sign}{abs(value)} {unit}"


class Prior(Protocol):
    """What "change since" compares with: a previous assessment's time and risk (a recorded
    ``RiskPrediction`` or just those two columns, ``cds_app.db.predictions.PriorAssessment``)."""

    @property
    def as_of(self) -> datetime: ...

    @property
    def probability(self) -> float: ...


def change_text(prediction: RiskPrediction, previous: Prior | None) -> str | None:
    """'+15 points since 6 h ago' (None without a previous assessment)."""
    if previous is None:
        return None
    ago = (prediction.as_of - previous.as_of).total_seconds() / 3600
    return f"{points(prediction.probability - previous.probability)} since {duration_text(ago)} ago"


def film_text(prediction: RiskPrediction) -> str:
    """The chest film's contribution and age, or why there is none."""
    if prediction.film_not_used is not None:
        return film_not_used_text(prediction.film_not_used, prediction.as_of)
    if prediction.film_age_h is None or prediction.probability_without_film is None:
        return "No chest film in the look-back window: this risk uses EHR data only."
    delta = round((prediction.probability - prediction.probability_without_film) * 100)
    verb = "adds" if delta >= 0 else "subtracts"
    return (
        f"Chest film from {duration_text(prediction.film_age_h)} ago {verb} {abs(delta):d} points "
        f"(image weight {prediction.image_weight:.2f}; {pct(prediction.probability_without_film)}"
        " without it)."
    )


@dataclass(frozen=True, slots=True)
class DriverLines:
    """The drivers as (text, points) rows, with the reference they are measured against."""

    reference: str | None  # 'Compared with … (risk 2%): +44 points'
    rows: list[tuple[str, float]]  # (description, contribution 0-1), largest first


def driver_lines(prediction: RiskPrediction, top: int = CARD_DRIVERS) -> DriverLines:
    """Named drivers, the rest as 'other values', and the film; they add up to the difference
    from the reference patient (within rounding)."""
    ordered = sorted(prediction.drivers, key=lambda d: abs(d.contribution), reverse=True)
    rows = [(d.description, d.contribution) for d in ordered[:top]]
    rest = sum(d.contribution for d in ordered[top:])
    if len(ordered) > top:
        rows.append(("Other values", rest))
    ref = prediction.reference_probability
    if ref is None:
        return DriverLines(None, rows)
    if prediction.film_age_h is not None and prediction.probability_without_film is not None:
        rows.append(("Chest film", prediction.probability - prediction.probability_without_film))
    reference = (
        f"Compared with {REFERENCE_TEXT} (risk {pct(ref)}): "
        f"{points(prediction.probability - ref)} in all"
    )
    return DriverLines(reference, rows)


def bedside_disagreement(prediction: RiskPrediction) -> str | None:
    """'Bedside criteria signal high risk (…) but the model's level is moderate.' or None."""
    if not model_below_bedside(prediction):
        return None
    assert prediction.bedside is not None
    return (
        f"Bedside criteria signal high risk ({criteria_text(prediction.bedside.high_risk)}) but "
        f"the model's level is {LEVEL_WORDS[prediction.level].lower()} "
        f"({pct(prediction.probability)}): review the patient; the bedside signs take precedence."
    )


def applicability_text(prediction: RiskPrediction) -> str | None:
    """The EHR window's flags, when it lies outside the training data."""
    return ehr_flags_text(prediction.ehr_flags)
