"""What the risk page shows, assembled from the store (no HTTP here)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from cds_app.context import AppContext
from cds_app.db.types import utcnow
from cds_app.engine.backfill import backfill
from cds_app.hooks.card_text import (
    LEVEL_WORDS,
    applicability_text,
    bedside_disagreement,
    driver_lines,
    film_text,
    points,
)
from cds_app.pages.chart import Band, TrendData, trend_chart_svg
from model.bedside import RECENT_H, bedside_series, reading_lines
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
    drivers: list[tuple[str, str]]  # (description, "+12 points")
    film: FilmView | None
    film_sentence: str
    image_weight: float | None
    points: int
    model_card_url: str
    stale_h: float | None = None  # age of the latest assessment when too old to show as current
    age_text: str = "age unknown"
    reference: str | None = None  # what the drivers are measured against
    bedside_lines: tuple[str, ...] = ()
    disagreement: str | None = None
    caution: str | None = None  # the window lies outside the training data
    backfilled: int = 0  # how many of the points were backfilled from charted data


def _bands(model: Any) -> list[Band]:
    thresholds = getattr(model, "thresholds", None)
    if thresholds is None:
        return []
    return [
        Band(thresholds.warning, thresholds.critical, "#ffe08a", "elevated"),
        Band(thresholds.critical, 1.0, "#f6a6a6", "high"),
    ]


def _age_text(age: float | None) -> str:
    return "age unknown" if age is None else f"age {age:.0f}"


def risk_page_view(ctx: AppContext, key: PatientKey, now: datetime | None = None) -> RiskPageView:
    """The page model of one patient's risk (backfilling the trend's missing hours first)."""
    end = now or utcnow()
    start = end - timedelta(hours=TREND_H)
    backfill(ctx.engine, key, end, TREND_H)
    history = ctx.predictions.history(key, start)
    current = [p for p in history if not p.backfilled]
    latest = current[-1] if current else (history[-1] if history else None)
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
    lines = driver_lines(latest, top=5) if latest is not None else None
    measured = ctx.store.window(
        key, end, lookback_h=TREND_H + RECENT_H, film_max_age_h=0
    ).measurements
    chart = trend_chart_svg(
        TrendData(
            start=start,
            end=end,
            risk=history,
            bedside=bedside_series(measured, start, end),
            bands=_bands(ctx.model),
            film_at=film.acquired_at if film else None,
        )
    )
    patient = ctx.store.patient(key)
    return RiskPageView(
        patient_token=str(key),
        latest=latest,
        level_words=LEVEL_WORDS[latest.level] if latest else "",
        chart_svg=chart,
        drivers=[(text, points(value)) for text, value in lines.rows] if lines else [],
        film=film,
        film_sentence=film_text(latest) if latest else "",
        image_weight=latest.image_weight if latest else None,
        points=len(history),
        model_card_url=f"{ctx.settings.base_url}/model-card",
        stale_h=stale_h,
        age_text=_age_text(patient.age_years if patient else None),
        reference=lines.reference if lines else None,
        bedside_lines=tuple(reading_lines(latest.bedside)) if latest and latest.bedside else (),
        disagreement=bedside_disagreement(latest) if latest else None,
        caution=applicability_text(latest) if latest else None,
        backfilled=sum(1 for p in history if p.backfilled),
    )
