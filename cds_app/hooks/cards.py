"""Cards a clinician can act on, built from a recorded prediction."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from cds_app.hooks.card_text import (
    LEVEL_WORDS,
    Prior,
    applicability_text,
    bedside_disagreement,
    change_text,
    driver_lines,
    film_text,
    pct,
    points,
)
from cds_app.hooks.schemas import Action, Card, Coding, Link, Source, Suggestion
from model.bedside import criteria_text, model_below_bedside, reading_lines
from model.schemas import RiskLevel, RiskPrediction

INDICATOR: dict[RiskLevel, Literal["info", "warning", "critical"]] = {
    RiskLevel.LOW: "info",
    RiskLevel.INFO: "info",
    RiskLevel.WARNING: "warning",
    RiskLevel.CRITICAL: "critical",
}
ELEVATED = (RiskLevel.WARNING, RiskLevel.CRITICAL)
#: Suggest a film when none was taken in this many hours at elevated risk.
FILM_SUGGESTION_AFTER_H = 24.0
OVERRIDE_SYSTEM = "urn:ventfusion:cds:override-reason"
TOPIC = Coding(system="http://snomed.info/sct", code="40617009", display="Artificial respiration")
OVERRIDE_REASONS = [
    Coding(system=OVERRIDE_SYSTEM, code="already-addressed", display="Already being addressed"),
    Coding(
        system=OVERRIDE_SYSTEM, code="not-clinically-relevant", display="Not clinically relevant"
    ),
    Coding(system=OVERRIDE_SYSTEM, code="goals-of-care", display="Not in line with goals of care"),
]


@dataclass(frozen=True, slots=True)
class CardContext:
    """Everything besides the prediction that a card needs."""

    base_url: str
    fhir_patient_id: str
    prediction_id: int
    last_film_at: datetime | None  # most recent film of any age, for the suggestion
    low_risk_card: bool
    synthetic_model: bool = True


def _summary(prediction: RiskPrediction, change: str | None) -> str:
    words = LEVEL_WORDS[prediction.level]
    if model_below_bedside(prediction):
        assert prediction.bedside is not None
        signs = criteria_text(prediction.bedside.high_risk, short=True)
        text = (
            f"Bedside signs of high risk ({signs}); model risk {words.lower()}, "
            f"{pct(prediction.probability)}"
        )
    else:
        text = f"{words} risk of intubation within 24 h: {pct(prediction.probability)}"
    if change and len(text) + len(change) + 3 < 140:
        text += f" ({change})"
    return text if len(text) < 140 else text[:136] + "…"


def _detail(prediction: RiskPrediction, change: str | None, ctx: CardContext) -> str:
    lines: list[str] = []
    disagreement = bedside_disagreement(prediction)
    if disagreement:
        lines += [f"**{disagreement}**", ""]
    lines += [
        f"**Probability of invasive ventilation within {prediction.horizon_h} h: "
        f"{pct(prediction.probability)}** ({LEVEL_WORDS[prediction.level].lower()} risk"
        + (f"; {change}" if change else "; first assessment")
        + ").",
        "",
    ]
    caution = applicability_text(prediction)
    if caution:
        lines += [f"_{caution}_", ""]
    drivers = driver_lines(prediction)
    if drivers.rows:
        lines.append(f"{drivers.reference}:" if drivers.reference else "Main drivers:")
        lines.extend(f"- {text} ({points(value)})" for text, value in drivers.rows)
        lines.append("")
    lines.append(film_text(prediction))
    lines.append("")
    if prediction.bedside is not None:
        lines.append("Bedside criteria now:")
        lines.extend(f"- {line}" for line in reading_lines(prediction.bedside))
        lines.append("")
    note = " trained on synthetic data" if ctx.synthetic_model else ""
    lines.append(
        f"_Model {prediction.model_id} {prediction.model_version}{note}; assessment at "
        f"{prediction.as_of.strftime('%Y-%m-%d %H:%M UTC')}. Decision support, not a diagnosis._"
    )
    return "\n".join(lines)


def indicator(prediction: RiskPrediction) -> Literal["info", "warning", "critical"]:
    """The model level's indicator, at least "warning" when a bedside criterion of high risk is
    met (the safety net: docs/cds-hooks.md)."""
    if model_below_bedside(prediction) and INDICATOR[prediction.level] == "info":
        return "warning"
    return INDICATOR[prediction.level]


def _source(base_url: str) -> Source:
    return Source(
        label="VentFusion ventilation risk model", url=f"{base_url}/model-card", topic=TOPIC
    )


def not_scored_card(reason: str, base_url: str) -> Card:
    """An info card saying why no risk is shown (never a number computed from stale data)."""
    return Card(
        uuid=str(uuid.uuid4()),
        summary="Ventilation risk not estimated: no recent vital signs",
        detail=(
            f"VentFusion shows no risk for this patient now: {reason}. It needs current vital "
            "signs (heart rate, respiratory rate, SpO2, FiO2, blood pressure …) to estimate the "
            "risk of invasive ventilation within 24 h. If the patient is being monitored, check "
            "that the observations reach the EHR."
        ),
        indicator="info",
        source=_source(base_url),
    )


def _film_suggestion(prediction: RiskPrediction, ctx: CardContext) -> Suggestion | None:
    if prediction.level not in ELEVATED and not model_below_bedside(prediction):
        return None
    if ctx.last_film_at is not None:
        age_h = (prediction.as_of - ctx.last_film_at).total_seconds() / 3600
        if age_h <= FILM_SUGGESTION_AFTER_H:
            return None
    service_request = {
        "resourceType": "ServiceRequest",
        "status": "draft",
        "intent": "proposal",
        "priority": "urgent",
        "category": [
            {
                "coding": [
                    {
                        "system": "http://snomed.info/sct",
                        "code": "363679005",
                        "display": "Imaging",
                    }
                ]
            }
        ],
        "code": {
            "coding": [
                {
                    "system": "http://snomed.info/sct",
                    "code": "399208008",
                    "display": "Plain chest X-ray",
                }
            ],
            "text": "Portable chest X-ray (AP)",
        },
        "subject": {"reference": f"Patient/{ctx.fhir_patient_id}"},
        "reasonCode": [
            {
                "text": f"Risk of invasive ventilation within 24 h {pct(prediction.probability)};"
                " no chest film in the last 24 h"
            }
        ],
    }
    return Suggestion(
        label="Order a portable chest X-ray",
        uuid=str(uuid.uuid4()),
        isRecommended=True,
        actions=[
            Action(
                type="create",
                description="Propose a portable AP chest X-ray (no film in the last 24 h)",
                resource=service_request,
            )
        ],
    )


def build_cards(prediction: RiskPrediction, previous: Prior | None, ctx: CardContext) -> list[Card]:
    """The cards for one prediction (none at low risk unless configured, or unless a bedside
    criterion of high risk is met)."""
    quiet = prediction.level is RiskLevel.LOW and not ctx.low_risk_card
    if quiet and not model_below_bedside(prediction):
        return []
    change = change_text(prediction, previous)
    app_context = json.dumps(
        {"patient": ctx.fhir_patient_id, "prediction": ctx.prediction_id}, separators=(",", ":")
    )
    suggestion = _film_suggestion(prediction, ctx)
    elevated = prediction.level in ELEVATED or model_below_bedside(prediction)
    return [
        Card(
            uuid=str(uuid.uuid4()),
            summary=_summary(prediction, change),
            detail=_detail(prediction, change, ctx),
            indicator=indicator(prediction),
            source=_source(ctx.base_url),
            suggestions=[suggestion] if suggestion else None,
            selectionBehavior="at-most-one" if suggestion else None,
            overrideReasons=OVERRIDE_REASONS if elevated else None,
            links=[
                Link(
                    label="Open the ventilation risk trend",
                    url=f"{ctx.base_url}/smart/launch",
                    type="smart",
                    appContext=app_context,
                )
            ],
        )
    ]
