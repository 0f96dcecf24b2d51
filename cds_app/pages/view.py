"""What the risk page shows, assembled from the store (no HTTP here)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from cds_app.context import AppContext
from cds_app.db.types import utcnow
from cds_app.hooks.cards import LEVEL_WORDS, film_text
from cds_app.pages.chart import Band, risk_chart_svg
from model.schemas import PatientKey, RiskPrediction

TREND_H = 48


@dataclass(frozen=True, slots=True)
class FilmView:
    uid: str
    acquired_at: datetime
    age_h: float
    has_thumbnail: bool


@dataclass(frozen=True, slots=True)
class RiskPageView:
    """Everything the template renders."""

    patient_token: str
    latest: RiskPrediction | None
    level_words: str
    chart_svg: str
    drivers: list[tuple[str, int]]
    film: FilmView | None
    film_sentence: str
    image_weight: float | None
    points: int
    model_card_url: str
    stale_h: float | None = None  # age of the latest assessment when too old to show as current


def _bands(model: Any) -> list[Band]:
    thresholds = getattr(model, "thresholds", None)
    if thresholds is None:
        return []
    return [
        Band(thresholds.warning, thresholds.critical, "#ffe08a", "elevated"),
        Band(thresholds.critical, 1.0, "#f6a6a6", "high"),
    ]


def risk_page_view(ctx: AppContext, key: PatientKey, now: datetime | None = None) -> RiskPageView:
    """The page model of one patient's risk."""
    end = now or utcnow()
    start = end - timedelta(hours=TREND_H)
    history = ctx.predictions.history(key, start)
    latest = history[-1] if history else None
    film_row = ctx.store.latest_film_row(key, end)
    film = None
    if film_row is not None:
        film = FilmView(
            uid=film_row.sop_instance_uid,
            acquired_at=film_row.acquired_at,
            age_h=(end - film_row.acquired_at).total_seconds() / 3600,
            has_thumbnail=film_row.thumbnail_png is not None,
        )
    stale_h = None
    within_h = ctx.settings.model.require_vitals_within_h
    if latest is not None and within_h > 0:
        age_h = (end - latest.as_of).total_seconds() / 3600
        stale_h = age_h if age_h > within_h else None
    drivers = []
    if latest is not None:
        ordered = sorted(latest.drivers, key=lambda d: abs(d.contribution), reverse=True)[:5]
        drivers = [(d.description, round(d.contribution * 100)) for d in ordered]
    chart = risk_chart_svg(
        history, start, end, _bands(ctx.model), film.acquired_at if film else None
    )
    return RiskPageView(
        patient_token=str(key),
        latest=latest,
        level_words=LEVEL_WORDS[latest.level] if latest else "",
        chart_svg=chart,
        drivers=drivers,
        film=film,
        film_sentence=film_text(latest) if latest else "",
        image_weight=latest.image_weight if latest else None,
        points=len(history),
        model_card_url=f"{ctx.settings.base_url}/model-card",
        stale_h=stale_h,
    )
