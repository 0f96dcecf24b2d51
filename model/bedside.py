"""Bedside criteria beside the model: ROX index, SpO2/FiO2 and respiratory rate, now and over time.

They are computed from the latest charted SpO2, FiO2 and RR, each charted within
``RECENT_H`` hours (a bedside index combines simultaneous values), with the comparator code's
formulas (``model.comparators.rules``). Criteria of high risk, with their sources
(docs/comparators.md):

- ROX < 3.85: high risk of high-flow nasal oxygen failure (Roca et al., Am J Respir Crit Care
  Med 2019;199:1368-1376, at 12 h); ROX >= 4.88 is the low-risk cut-off (Roca et al., J Crit
  Care 2016;35:200-205, and 2019 at 2, 6 and 12 h).
- SpO2/FiO2 < 235, the S/F equivalent of PaO2/FiO2 200 (Rice et al., Chest 2007;132:410-417);
  S/F 315 corresponds to PaO2/FiO2 300.
- RR >= 30/min: tachypnoea of CURB-65 (Lim et al., Thorax 2003;58:377-382) and an IDSA/ATS minor
  criterion of severe pneumonia (Mandell et al., Clin Infect Dis 2007;44:S27-S72).

When one of them is met and the model's level is below "critical", the card says so and is at
least "warning" (``model_below_bedside``).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

import numpy as np

from model.comparators.rules import (
    ROX_HIGH_RISK,
    ROX_LOW_RISK,
    RR_TACHYPNOEA,
    SF_ALI_300,
    SF_ARDS_200,
    rox_index,
    sf_ratio,
)
from model.schemas import (
    BedsideCriterion,
    BedsideReading,
    Measurement,
    PatientWindow,
    RiskLevel,
    RiskPrediction,
)

#: A bedside index uses values charted within this many hours of its time.
RECENT_H = 4.0
_INPUTS = ("spo2", "fio2", "resp_rate")

CRITERION_TEXT: dict[BedsideCriterion, str] = {
    BedsideCriterion.ROX_BELOW_3_85: f"ROX index below {ROX_HIGH_RISK}",
    BedsideCriterion.SF_BELOW_235: f"SpO2/FiO2 below {SF_ARDS_200:.0f}",
    BedsideCriterion.RR_AT_LEAST_30: f"respiratory rate {RR_TACHYPNOEA:.0f}/min or more",
}
CRITERION_SHORT: dict[BedsideCriterion, str] = {
    BedsideCriterion.ROX_BELOW_3_85: f"ROX < {ROX_HIGH_RISK}",
    BedsideCriterion.SF_BELOW_235: f"SpO2/FiO2 < {SF_ARDS_200:.0f}",
    BedsideCriterion.RR_AT_LEAST_30: f"RR ≥ {RR_TACHYPNOEA:.0f}/min",
}
THRESHOLD_TEXT = {
    "rox": f"high risk < {ROX_HIGH_RISK}, low risk ≥ {ROX_LOW_RISK} (Roca 2016, 2019)",
    "sf_ratio": f"< {SF_ARDS_200:.0f} ≈ PaO2/FiO2 200, < {SF_ALI_300:.0f} ≈ 300 (Rice 2007)",
    "resp_rate": f"≥ {RR_TACHYPNOEA:.0f}/min (CURB-65; IDSA/ATS)",
}


def _latest(measurements: Sequence[Measurement], at: datetime) -> dict[str, float]:
    oldest = at - timedelta(hours=RECENT_H)
    latest: dict[str, tuple[datetime, float]] = {}
    for m in measurements:
        if m.variable not in _INPUTS or not oldest <= m.time <= at:
            continue
        if m.variable not in latest or m.time >= latest[m.variable][0]:
            latest[m.variable] = (m.time, m.value)
    return {k: v for k, (_, v) in latest.items()}


def _one(value: np.ndarray) -> float | None:
    return float(value[0]) if np.isfinite(value[0]) else None


def reading_at(measurements: Sequence[Measurement], at: datetime) -> BedsideReading:
    """The bedside indices at ``at`` from values charted in ``[at - RECENT_H, at]``."""
    latest = _latest(measurements, at)
    spo2, fio2, rr = (np.asarray([latest.get(k, np.nan)], np.float64) for k in _INPUTS)
    rox = _one(rox_index(spo2, fio2, rr))
    sf = _one(sf_ratio(spo2, fio2))
    resp = _one(rr)
    met = []
    if rox is not None and rox < ROX_HIGH_RISK:
        met.append(BedsideCriterion.ROX_BELOW_3_85)
    if sf is not None and sf < SF_ARDS_200:
        met.append(BedsideCriterion.SF_BELOW_235)
    if resp is not None and resp >= RR_TACHYPNOEA:
        met.append(BedsideCriterion.RR_AT_LEAST_30)
    return BedsideReading(
        rox=rox,
        sf_ratio=sf,
        resp_rate=resp,
        spo2=_one(spo2),
        fio2=_one(fio2),
        high_risk=tuple(met),
    )


def bedside_reading(window: PatientWindow) -> BedsideReading:
    """The current bedside indices of a window (at ``window.as_of``)."""
    return reading_at(window.measurements, window.as_of)


def bedside_series(
    measurements: Sequence[Measurement], start: datetime, end: datetime
) -> list[tuple[datetime, BedsideReading]]:
    """The indices at every time SpO2, FiO2 or RR was charted in ``[start, end]`` (for the
    trend chart), oldest first."""
    ordered = sorted((m for m in measurements if m.variable in _INPUTS), key=lambda m: m.time)
    times = sorted({m.time for m in ordered if start <= m.time <= end})
    return [(t, reading_at(ordered, t)) for t in times]


def model_below_bedside(prediction: RiskPrediction) -> bool:
    """True when a bedside criterion of high risk is met and the model's level is lower."""
    bedside = prediction.bedside
    return bool(bedside and bedside.high_risk) and prediction.level is not RiskLevel.CRITICAL


def criteria_text(criteria: Sequence[BedsideCriterion], *, short: bool = False) -> str:
    """'ROX index below 3.85 and respiratory rate 30/min or more' ('ROX < 3.85 and RR ≥ 30/min'
    when ``short``)."""
    words = [(CRITERION_SHORT if short else CRITERION_TEXT)[c] for c in criteria]
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


def reading_lines(reading: BedsideReading) -> list[str]:
    """One line per index with its value and published thresholds ('not evaluable' without
    recent values)."""

    def value(number: float | None, fmt: str, missing: str) -> str:
        return fmt.format(number) if number is not None else missing

    recent = f"in the last {RECENT_H:g} h"
    fio2_missing = f"not evaluable (needs SpO2, FiO2 and RR charted {recent})"
    return [
        f"ROX index {value(reading.rox, '{:.2f}', fio2_missing)}: {THRESHOLD_TEXT['rox']}",
        f"SpO2/FiO2 {value(reading.sf_ratio, '{:.0f}', 'not evaluable')}: "
        f"{THRESHOLD_TEXT['sf_ratio']}",
        f"RR {value(reading.resp_rate, '{:.0f}/min', f'not charted {recent}')}: "
        f"{THRESHOLD_TEXT['resp_rate']}",
    ]
