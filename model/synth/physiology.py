"""Hourly true physiology from the latent course, with clinicians titrating oxygen.

Gas exchange follows the EHR-visible injury (``Course.ehr_injury``), hydrostatic edema and the
patient's chronic baseline; nurses step FiO2 up and down to keep SpO2 in its target range, so SpO2
alone hides most of the injury and the oxygen requirement carries it instead.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from model.synth.course import Course

#: FiO2 steps (%) a clinician moves through, and the device that delivers each.
FIO2_STEPS = np.array([21, 24, 28, 32, 36, 40, 50, 60, 70, 80, 90, 100], dtype=np.float64)
_FLOW = np.array([0, 1, 2, 3, 4, 5, 10, 35, 40, 45, 50, 55], dtype=np.float64)  # L/min
VENT_FIO2 = np.array([40, 50, 60, 70, 80, 100], dtype=np.float64)


@dataclass(frozen=True, slots=True)
class Physiology:
    """True hourly values in canonical units (model.variables) before charting noise."""

    values: dict[str, np.ndarray]
    on_vent: np.ndarray  # bool per hour


def saturation(pao2: np.ndarray) -> np.ndarray:
    """Severinghaus oxyhaemoglobin dissociation curve (SpO2 % from PaO2 mmHg)."""
    p = np.maximum(pao2, 1.0)
    out: np.ndarray = 100.0 / (1.0 + 23400.0 / (p**3 + 150.0 * p))
    return out


def _pao2(
    fio2: np.ndarray | float, deficit: np.ndarray | float, paco2: np.ndarray | float
) -> np.ndarray:
    alveolar = np.asarray(fio2) / 100.0 * 713.0 - np.asarray(paco2) / 0.8
    out: np.ndarray = np.maximum(alveolar, 5.0) * 0.93 * np.exp(-2.7 * np.asarray(deficit))
    return out


def _titrate(deficit: np.ndarray, paco2: np.ndarray, low: float, high: float,
             rng: np.random.Generator) -> np.ndarray:  # fmt: skip
    """Hour by hour, a nurse moves FiO2 one step to keep SpO2 within [low, high].

    The patient arrives on the oxygen the ward or ED had titrated: the lowest step that reaches
    ``low`` at admission (a transfer in respiratory failure comes in on high flow, not room air).
    """
    level = 0
    while (
        level < FIO2_STEPS.size - 1
        and float(saturation(_pao2(FIO2_STEPS[level], deficit[0], paco2[0]))) < low
    ):
        level += 1
    out = np.empty(deficit.size, dtype=np.int64)
    eager = rng.uniform(0.5, 0.9)
    for h in range(deficit.size):
        sat = float(saturation(_pao2(FIO2_STEPS[level], deficit[h], paco2[h])))
        if sat < low and level < FIO2_STEPS.size - 1:
            level += 2 if sat < low - 4 and level < FIO2_STEPS.size - 2 else 1
        elif sat > high and level > 0 and rng.random() < eager:
            level -= 1
        out[h] = level
    return out


def simulate_physiology(course: Course, rng: np.random.Generator) -> Physiology:
    """Derive every §5 variable's true hourly value from the latent course."""
    n = course.hours + 1
    t = np.arange(n, dtype=np.float64)
    on_vent = np.zeros(n, dtype=bool)
    if course.vent_hour is not None:
        on_vent = t >= course.vent_hour
    lung = course.ehr_injury
    shock, fever, edema = course.shock, course.fever, course.edema
    chronic = float(rng.uniform(0.1, 0.3)) if course.copd else float(rng.uniform(0.0, 0.06))
    deficit = lung * 1.15 + 1.0 * edema + chronic
    hr0, rr0 = rng.normal(0, 12), rng.normal(0, 3)
    sbp0, dbp0 = rng.normal(0, 14), rng.normal(0, 6)
    lactate0 = float(rng.lognormal(np.log(1.5), 0.35))
    creatinine0 = float(rng.lognormal(np.log(0.9), 0.3))

    paco2_base = float(rng.uniform(50, 62)) if course.copd else float(rng.normal(40, 2.5))
    fatigue = np.maximum(lung - 0.45, 0.0) * 30.0
    paco2 = paco2_base - 7.0 * np.minimum(lung, 0.45) + fatigue
    low, high = (88.0, 92.0) if course.copd else (94.0, 98.0)
    level = _titrate(deficit, paco2, low, high, rng)
    fio2 = FIO2_STEPS[level]
    flow = _FLOW[level]
    if on_vent.any():
        vent_level = np.clip(np.round(deficit * 7).astype(np.int64) - 1, 0, VENT_FIO2.size - 1)
        fio2 = np.where(on_vent, VENT_FIO2[vent_level], fio2)
        flow = np.where(on_vent, 0.0, flow)
        paco2 = np.where(on_vent, rng.normal(42, 3), paco2)
    # PEEP on the ventilator recruits lung: less shunt at the same injury.
    eff_deficit = np.where(on_vent, deficit * 0.6, deficit)
    pao2 = _pao2(fio2, eff_deficit, paco2)
    spo2 = np.minimum(saturation(pao2), 100.0)

    temperature = 36.9 + 1.8 * fever + 0.3 * np.sin(2 * np.pi * t / 24.0)
    lactate = lactate0 + 6.0 * shock**2 + 2.5 * np.maximum(lung - 0.6, 0.0) + 0.3 * edema
    bicarbonate = 24.0 + (7.0 if course.copd else 0.0) - 1.1 * (lactate - 1.0)
    ph = 6.1 + np.log10(bicarbonate / (0.03 * paco2))
    heart_rate = 81 + hr0 + 32 * lung**1.5 + 35 * shock + 9 * (temperature - 37.0) + 6 * edema
    resp_rate = (
        17 + rr0 + 24 * lung**1.5 + (4 if course.copd else 0) + 9 * shock + 3 * fever
        + 8 * np.maximum(7.35 - ph, 0.0) / 0.1 + 4 * edema
    )  # fmt: skip
    resp_rate = np.where(on_vent, rng.integers(16, 22), resp_rate)
    sbp = 118 + sbp0 - 45 * shock + 8 * lung + 10 * edema
    dbp = 60 + sbp0 / 3 + dbp0 - 22 * shock
    mean_ap = (sbp + 2 * dbp) / 3.0
    gcs = 15.0 - 4.0 * shock - 5.0 * np.maximum(paco2 - 70.0, 0.0) / 20.0 - 2.0 * (
        course.age > 80
    )  # fmt: skip
    gcs = np.where(on_vent, 3.0 + 3.0 * (t - (course.vent_hour or 0.0) > 24), gcs)
    infection = np.maximum(fever, shock)
    wbc = 8.5 + 11.0 * infection + rng.normal(0, 1.5)
    creatinine = (creatinine0 + (0.2 if course.age > 70 else 0.0)) * (1 + 1.6 * shock + 0.8 * edema)

    values = {
        "heart_rate": heart_rate,
        "resp_rate": resp_rate,
        "spo2": spo2,
        "temperature": temperature,
        "sbp": sbp,
        "dbp": dbp,
        "map": mean_ap,
        "fio2": fio2,
        "o2_flow": flow,
        "pao2": pao2,
        "paco2": paco2,
        "ph": ph,
        "lactate": lactate,
        "bicarbonate": bicarbonate,
        "gcs_total": gcs,
        "wbc": np.broadcast_to(wbc, (n,)).astype(np.float64),
        "creatinine": creatinine,
    }
    return Physiology(values=values, on_vent=on_vent)
