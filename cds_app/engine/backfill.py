"""Hourly assessments backfilled from charted data, so a chart opened for the first time
already shows a trend.

For every whole hour of the trend span without an assessment within half an hour of it, the
model scores the window as stored now (values charted late are included) at that hour. Such
assessments are marked ``backfilled``: they are drawn on the risk page only, never written back
to the EHR (no outbox row), never issued as cards and never served as RiskAssessments; hours
whose window fails the stale-data rule (``model.sufficiency``) get none.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from cds_app.engine.scorer import RiskEngine
from model.schemas import PatientKey, PatientWindow
from model.sufficiency import vital_signs_gap

log = logging.getLogger(__name__)

STEP = timedelta(hours=1)
#: An assessment this close to an hour already stands for it.
NEAR = timedelta(minutes=30)


def hourly_slots(start: datetime, end: datetime) -> list[datetime]:
    """Whole hours in ``(start, end - NEAR]``, oldest first."""
    hour = (end - NEAR).replace(minute=0, second=0, microsecond=0)
    slots = []
    while hour > start:
        slots.append(hour)
        hour -= STEP
    return slots[::-1]


def window_at(
    wide: PatientWindow, as_of: datetime, lookback_h: float, film_max_age_h: float
) -> PatientWindow:
    """The part of a wider stored window that a prediction at ``as_of`` may see."""
    start = as_of - timedelta(hours=lookback_h)
    film_start = as_of - timedelta(hours=film_max_age_h)
    return PatientWindow(
        patient_key=wide.patient_key,
        as_of=as_of,
        measurements=tuple(m for m in wide.measurements if start <= m.time <= as_of),
        films=tuple(f for f in wide.films if film_start <= f.acquired_at <= as_of),
        static=wide.static,
    )


def backfill(engine: RiskEngine, key: PatientKey, now: datetime, hours: int) -> int:
    """Backfill the hours of ``(now - hours, now]`` that have no assessment; returns how many
    were recorded."""
    start = now - timedelta(hours=hours)
    have = [p.as_of for p in engine.predictions.history(key, start - NEAR)]
    missing = [s for s in hourly_slots(start, now) if all(abs(s - t) > NEAR for t in have)]
    if not missing:
        return 0
    span = (now - missing[0]).total_seconds() / 3600.0
    wide = engine.store.window(
        key,
        now,
        lookback_h=engine.lookback_h + span,
        film_max_age_h=engine.film_max_age_h + span,
    )
    made = []
    for slot in missing:
        window = window_at(wide, slot, engine.lookback_h, engine.film_max_age_h)
        if not window.measurements or vital_signs_gap(window, engine.require_vitals_within_h):
            continue
        made.append(engine.predict(window).model_copy(update={"backfilled": True}))
    count = engine.predictions.record_backfill(made)
    if count:
        log.info("backfilled %d hourly assessments for %s", count, engine.pseudonymise(key))
    return count
