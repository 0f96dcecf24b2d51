"""How the clinicians of one simulated patient decide to intubate (docs/simulator.md, "Intubation").

The decision follows what the team can see (the EHR-visible respiratory severity), with the
variability real teams show: a per-patient threshold with a wide spread, and two styles. Some
patients are intubated soon after they cross the threshold; others first get a trial of high-flow
nasal oxygen or non-invasive ventilation, which is called failed only after the severity has
persisted for a per-patient "patience" of 2-12 h (ROX < 3.85 at 12 h of high flow predicts
failure, Roca et al. 2019). Refractory hypoxaemia ends any trial.

Everything about the style is drawn up front, and the hazard is a deterministic function of the
latent severity path, so ``hazard[h]`` is the true per-hour hazard and the oracle stays exact.
The hazard never falls when the severity rises, nor when the same severity lasts longer.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from model.synth.config import Phenotype

#: Hazard of intubation per hour unrelated to the lungs (airway emergencies): unpredictable.
BASELINE_HAZARD = 0.0001
#: Hazard per hour once the team has decided (median ~2 h to the tube).
MAX_HAZARD = 0.3
#: Spread of the per-patient decision threshold (severity units, where 0.5 is FiO2 ~60% on
#: high flow): teams and patients differ widely in how much oxygen they accept before intubating.
THRESHOLD_MEAN = 0.56
THRESHOLD_SD = 0.09
#: Width of the ramp from "not yet" to "decided" around the threshold.
DECISION_WIDTH = 0.05
#: Severity counted as "severe" for the trial clock: a little below the decision threshold.
SEVERE_MARGIN = 0.05
#: Severity from which oxygen need is high whatever the team's threshold (FiO2 ~50-60% on high
#: flow), and how fast hours spent there lower the threshold: a persistently high FiO2 and RR
#: over 2-12 h is what calls a trial failed (Roca 2019), even for a tolerant team.
HIGH_NEED = 0.35
ERODE_PER_H = 0.015
ERODE_MAX = 0.25
#: Hazard share while a trial has only just begun (a trial is rarely called failed at once).
TRIAL_START_SHARE = 0.08
#: Severity above the threshold at which hypoxaemia is refractory (SpO2 falling on FiO2 100%).
RESCUE_EXCESS = 0.22
#: Share of patients given a high-flow / NIV trial first, by phenotype: NIV is first line in
#: hypercapnic COPD exacerbations and cardiogenic pulmonary oedema; high flow is common in
#: hypoxaemic pneumonia (Roca 2019: 35.6% of 191 HFNC patients were intubated).
TRIAL_SHARE: dict[Phenotype, float] = {
    Phenotype.STABLE: 0.5,
    Phenotype.LUNG_INJURY: 0.55,
    Phenotype.COPD: 0.8,
    Phenotype.SEPSIS_CLEAR_LUNGS: 0.45,
    Phenotype.FLUID_OVERLOAD: 0.8,
}
#: Hours of sustained severity before a trial is called failed (uniform per patient); Roca's
#: ROX thresholds are read at 2, 6 and 12 h of high flow.
PATIENCE_H = (2.0, 12.0)


@dataclass(frozen=True, slots=True)
class DecisionStyle:
    """How this patient's team decides: drawn once at admission."""

    threshold: float  # EHR-visible severity at which intubation is considered
    trial: bool  # high-flow / NIV trial before intubation
    patience_h: float  # hours of sustained severity before the trial is called failed


def draw_style(rng: np.random.Generator, phenotype: Phenotype) -> DecisionStyle:
    """The team's threshold, style and patience for one patient."""
    threshold = float(np.clip(rng.normal(THRESHOLD_MEAN, THRESHOLD_SD), 0.36, 0.85))
    trial = bool(rng.random() < TRIAL_SHARE[phenotype])
    patience = float(rng.uniform(*PATIENCE_H))
    return DecisionStyle(threshold=threshold, trial=trial, patience_h=patience)


def respiratory_severity(
    ehr_injury: np.ndarray, edema: np.ndarray, shock: np.ndarray
) -> np.ndarray:
    """EHR-visible respiratory severity (0..~1.3) the team acts on."""
    out: np.ndarray = ehr_injury + 0.45 * edema + 0.2 * np.maximum(shock - 0.5, 0.0)
    return out


def severe_hours(severity: np.ndarray, threshold: float) -> np.ndarray:
    """Hours spent severe so far (leaky: +1 per severe hour, -0.5 per better hour, floor 0)."""
    out = np.empty(severity.size, dtype=np.float64)
    acc = 0.0
    cut = threshold - SEVERE_MARGIN
    for i, s in enumerate(severity.tolist()):
        acc = acc + 1.0 if s >= cut else max(acc - 0.5, 0.0)
        out[i] = acc
    return out


def _sigmoid(x: np.ndarray) -> np.ndarray:
    out: np.ndarray = 1.0 / (1.0 + np.exp(-np.clip(x, -40.0, 40.0)))
    return out


def intubation_hazard(severity: np.ndarray, shock: np.ndarray, style: DecisionStyle) -> np.ndarray:
    """True hazard of intubation per hour (index = hour after admission; hour 0 is 0)."""
    high_need_h = severe_hours(severity, HIGH_NEED + SEVERE_MARGIN)
    threshold = style.threshold - np.minimum(ERODE_PER_H * high_need_h, ERODE_MAX)
    excess = severity - threshold
    decided = _sigmoid(excess / DECISION_WIDTH)
    clock = severe_hours(severity, style.threshold)
    if style.trial:
        progress = np.clip(clock / style.patience_h, 0.0, 1.0) ** 2
        share = TRIAL_START_SHARE + (1.0 - TRIAL_START_SHARE) * progress
    else:  # decided quickly; a little more certain once the state has lasted a few hours
        share = 0.6 + 0.4 * np.clip(clock / 3.0, 0.0, 1.0)
    rescue = _sigmoid((excess - RESCUE_EXCESS) / 0.04)
    hazard = BASELINE_HAZARD + MAX_HAZARD * np.maximum(decided * share, rescue)
    hazard = hazard + 0.03 * np.maximum(shock - 0.85, 0.0) / 0.15  # intubated for shock
    hazard[0] = 0.0
    out: np.ndarray = hazard
    return out
