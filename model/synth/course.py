"""The latent disease course of one patient: the hidden state that drives everything else.

All arrays are hourly, index ``h`` = hours since ICU admission (0..T). The lung-injury extent
``injury`` is what a chest film shows *now*; the EHR sees only ``ehr_injury``, a delayed and
smoothed copy of it (the study's premise: the film leads, the EHR lags; by 22–26 h unless the
``SynthConfig.ehr_lag_h`` knob says otherwise).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from model.synth.config import DEFAULT_EHR_LAG_H, PHENOTYPE_PRIOR, Phenotype
from model.synth.decision import (
    DecisionStyle,
    draw_style,
    intubation_hazard,
    respiratory_severity,
)

_PHENOTYPES = tuple(PHENOTYPE_PRIOR)
_PRIOR = np.array([PHENOTYPE_PRIOR[p] for p in _PHENOTYPES])

ORACLE_HORIZON_H = 24
#: Share of lung-injury patients who arrive already deteriorating (ward / ED transfers): their
#: EHR-visible injury is mid-rise at admission, so they come with little charted history.
TRANSFER_SHARE = 0.35
#: Do-not-intubate / comfort-care orders (share of stays; COPD more often, end-stage lung disease).
DNI_SHARE = 0.05
DNI_SHARE_COPD = 0.15
#: Share of DNI orders charted at admission; the rest when the deterioration begins.
DNI_AT_ADMISSION = 0.6


@dataclass(frozen=True, slots=True)
class Course:
    """Latent state of one patient over the stay (hourly arrays of length ``hours + 1``)."""

    phenotype: Phenotype
    has_injury: bool
    copd: bool
    sepsis: bool
    fluid_overload: bool
    dni: bool  # do-not-intubate / comfort care from ``dni_since_h`` on: may die instead
    dni_since_h: float | None  # hours after admission when the order was charted
    transfer: bool  # arrived already deteriorating (ward / ED transfer)
    style: DecisionStyle  # how the team decides to intubate (model.synth.decision)
    age: float
    sex: str
    hours: int  # stay length in whole hours (the last index)
    injury: np.ndarray  # film-visible consolidation extent, fraction of lung 0..1
    ehr_injury: np.ndarray  # delayed + smoothed injury: what drives gas exchange in the EHR
    edema: np.ndarray  # hydrostatic edema 0..1 (fluid overload)
    effusion: np.ndarray  # pleural effusion 0..1
    shock: np.ndarray  # circulatory failure 0..1 (sepsis)
    fever: np.ndarray  # 0..1 inflammatory fever drive
    hazard: np.ndarray  # intubation hazard per hour (clinicians' decision, latent)
    vent_hour: float | None  # hours after admission when ventilation started
    death_hour: float | None
    delay_h: float  # EHR dead time behind the film

    @property
    def end_h(self) -> float:
        """End of the stay in hours after admission (discharge or death)."""
        return float(self.hours) if self.death_hour is None else self.death_hour


def _sigmoid(x: np.ndarray) -> np.ndarray:
    out: np.ndarray = 1.0 / (1.0 + np.exp(-np.clip(x, -40.0, 40.0)))
    return out


def _injury_curve(
    t: np.ndarray, peak: float, rate: float, mid: float, resolve_at: float, tau: float
) -> np.ndarray:
    rise = _sigmoid(rate * (t - mid))
    resolve = np.exp(-np.maximum(t - resolve_at, 0.0) / tau)
    out: np.ndarray = peak * rise * resolve
    return out


def _smooth(x: np.ndarray, tau: float) -> np.ndarray:
    out = np.empty_like(x)
    acc = float(x[0])
    alpha = 1.0 / tau
    for i, v in enumerate(x):
        acc += alpha * (float(v) - acc)
        out[i] = acc
    return out


def simulate_course(
    rng: np.random.Generator, ehr_lag_h: tuple[float, float] = DEFAULT_EHR_LAG_H
) -> Course:
    """Draw one patient's phenotype and latent course, then the intubation decision.

    ``ehr_lag_h``: the range of the per-patient delay of the EHR-visible injury behind the film.
    """
    phenotype = _PHENOTYPES[int(rng.choice(len(_PHENOTYPES), p=_PRIOR))]
    age = float(np.clip(rng.normal(64, 14), 18, 95))
    sex = "female" if rng.random() < 0.42 else "male"
    hours = int(np.clip(rng.lognormal(np.log(66.0), 0.45), 24, 240))

    copd = phenotype is Phenotype.COPD
    sepsis = phenotype is Phenotype.SEPSIS_CLEAR_LUNGS or (
        phenotype is Phenotype.LUNG_INJURY and rng.random() < 0.5
    )
    fluid = phenotype is Phenotype.FLUID_OVERLOAD or (sepsis and rng.random() < 0.15)
    has_injury = phenotype is Phenotype.LUNG_INJURY or (copd and rng.random() < 0.3)
    dni = rng.random() < (DNI_SHARE_COPD if copd else DNI_SHARE)
    transfer = has_injury and phenotype is Phenotype.LUNG_INJURY and rng.random() < TRANSFER_SHARE
    style = draw_style(rng, phenotype)

    delay = float(rng.uniform(*ehr_lag_h))
    t = np.arange(hours + 1, dtype=np.float64)
    background = float(rng.uniform(0.0, 0.05))
    injury = np.full_like(t, background)
    ehr_source = np.full_like(t, background)
    if has_injury:
        rate = float(rng.uniform(0.15, 0.4))
        early = float(rng.uniform(-10.0, 0.65 * hours))
        mid = -delay + float(rng.uniform(-6.0, 6.0)) if transfer else early
        peak = float(rng.uniform(0.2, 0.95))
        resolve_at = mid + float(rng.uniform(20.0, 60.0))
        tau = float(rng.uniform(30.0, 90.0))
        injury = injury + _injury_curve(t, peak, rate, mid, resolve_at, tau)
        ehr_source = ehr_source + _injury_curve(t - delay, peak, rate, mid, resolve_at, tau)
        hours = max(hours, min(int(mid + 3.0 / rate + 24.0), 240))
        if hours + 1 > t.size:  # stay extended: recompute on the longer grid
            t = np.arange(hours + 1, dtype=np.float64)
            injury = background + _injury_curve(t, peak, rate, mid, resolve_at, tau)
            ehr_source = background + _injury_curve(t - delay, peak, rate, mid, resolve_at, tau)
    ehr_injury = _smooth(ehr_source, 4.0)

    edema = np.zeros_like(t)
    if fluid:
        start = float(rng.uniform(0.15, 0.8))
        onset = float(rng.uniform(-12.0, 0.4 * hours))
        diuresis = float(rng.uniform(12.0, 48.0))
        edema = start * _sigmoid((t - onset) / 3.0) * np.exp(-np.maximum(t - onset, 0.0) / diuresis)
    effusion = np.clip(0.7 * edema + 0.25 * injury * (rng.random() < 0.4), 0.0, 1.0)

    shock = np.zeros_like(t)
    fever = np.full_like(t, 0.0)
    if sepsis:
        level = float(rng.uniform(0.3, 1.0))
        recover = float(rng.uniform(18.0, 80.0))
        shock = level * np.exp(-t / recover)
        fever = np.clip(0.4 + 0.6 * np.exp(-t / (recover * 1.5)), 0.0, 1.0)
    if has_injury:
        fever = np.maximum(
            fever, np.clip(ehr_injury * 1.2, 0.0, 1.0) * (0.6 if not sepsis else 1.0)
        )

    severity = respiratory_severity(ehr_injury, edema, shock)
    hazard = intubation_hazard(severity, shock, style)
    dni_since: float | None = None
    if dni:
        at_admission = rng.random() < DNI_AT_ADMISSION
        worse = np.flatnonzero(severity >= style.threshold - 0.1)
        if at_admission or not worse.size:
            dni_since = float(rng.uniform(0.0, 2.0))
        else:  # goals of care discussed as the deterioration begins
            dni_since = float(worse[0]) + float(rng.uniform(0.0, 3.0))
        hazard[int(np.floor(dni_since)) + 1 :] = 0.0

    vent_hour: float | None = None
    death_hour: float | None = None
    draws = rng.random(hazard.size)
    hit = np.flatnonzero(draws < -np.expm1(-hazard))
    if hit.size:
        step = int(hit[0])
        vent_hour = step - float(rng.uniform(0.05, 0.95))
        hours = min(max(hours, step + int(rng.uniform(12, 72))), 300)
        dni, dni_since = False, None  # intubated before any order limited it: not a DNI stay
    elif dni and dni_since is not None:
        fatal = np.flatnonzero((severity > style.threshold + 0.25) & (t >= dni_since))
        if fatal.size:
            death_hour = float(fatal[0]) + float(rng.uniform(6.0, 30.0))
    injury, ehr_injury, edema, effusion, shock, fever, hazard = _extend(
        hours, injury, ehr_injury, edema, effusion, shock, fever, hazard
    )
    if death_hour is not None and death_hour >= hours:
        death_hour = None  # discharged (palliative) before it came to that
    if death_hour is not None:
        hours = int(np.ceil(death_hour))
    return Course(
        phenotype=phenotype, has_injury=has_injury, copd=copd, sepsis=sepsis,
        fluid_overload=fluid, dni=dni, dni_since_h=dni_since, transfer=transfer, style=style,
        age=age, sex=sex, hours=hours,
        injury=injury[: hours + 1], ehr_injury=ehr_injury[: hours + 1], edema=edema[: hours + 1],
        effusion=effusion[: hours + 1], shock=shock[: hours + 1], fever=fever[: hours + 1],
        hazard=hazard[: hours + 1], vent_hour=vent_hour, death_hour=death_hour, delay_h=delay,
    )  # fmt: skip


def _extend(hours: int, *arrays: np.ndarray) -> tuple[np.ndarray, ...]:
    """Pad (edge value) or cut every hourly array to ``hours + 1`` entries."""
    out = []
    for a in arrays:
        if a.size < hours + 1:
            a = np.concatenate([a, np.full(hours + 1 - a.size, a[-1])])
        out.append(a[: hours + 1])
    return tuple(out)


def prediction_hours(course: Course) -> np.ndarray:
    """Hourly prediction times k = 1, 2, ... (hours after admission) with t_k <= stay end and
    t_k < ventilation start: the grid every consumer of the cohort derives the same way."""
    end = course.end_h
    if course.vent_hour is not None:
        end = min(end, course.vent_hour - 1e-6)
    return np.arange(1, int(np.floor(end)) + 1, dtype=np.int64)


def oracle_probabilities(course: Course, hours: np.ndarray) -> np.ndarray:
    """True P(ventilation starts within 24 h after each prediction hour), from the latent hazard.

    Intubation in hour step ``s`` happens in ``(s-1, s]``; a prediction at hour ``k`` counts steps
    ``k+1 .. k+24`` up to the end of the stay. Uses the whole latent course, so it is a ceiling.
    """
    cum = np.concatenate([[0.0], np.cumsum(course.hazard)])
    last = np.minimum(hours + ORACLE_HORIZON_H, course.hazard.size - 1)
    total = cum[last + 1] - cum[hours + 1]
    out: np.ndarray = -np.expm1(-total)
    return out
