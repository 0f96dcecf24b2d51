"""The clinicians' intubation decision (model.synth.decision): monotone in what they can see and in
how long it has lasted, with trials of high flow in some patients (synthetic)."""

from __future__ import annotations

import numpy as np

from model.synth.config import Phenotype
from model.synth.course import oracle_probabilities, prediction_hours, simulate_course
from model.synth.decision import DecisionStyle, draw_style, intubation_hazard, severe_hours

_NO_SHOCK = np.zeros(49)


def _hazard(level: float, onset: int, style: DecisionStyle) -> np.ndarray:
    severity = np.where(np.arange(49) >= onset, level, 0.2)
    return intubation_hazard(severity, _NO_SHOCK, style)


def test_hazard_rises_with_visible_severity() -> None:
    for trial in (False, True):
        style = DecisionStyle(threshold=0.5, trial=trial, patience_h=6.0)
        levels = np.linspace(0.2, 1.0, 17)
        at_6h = [float(_hazard(level, 10, style)[16]) for level in levels]
        assert np.all(np.diff(at_6h) >= 0)
        assert at_6h[-1] > 20 * at_6h[0]


def test_hazard_never_falls_while_the_same_severity_lasts() -> None:
    for trial in (False, True):
        hazard = _hazard(0.55, 10, DecisionStyle(threshold=0.5, trial=trial, patience_h=8.0))
        assert np.all(np.diff(hazard[10:]) >= -1e-12)
    on_trial = _hazard(0.55, 10, DecisionStyle(threshold=0.5, trial=True, patience_h=8.0))
    assert on_trial[20] > 5 * on_trial[10]  # the trial is called failed only after hours


def test_refractory_hypoxaemia_ends_a_trial_at_once() -> None:
    trial = _hazard(0.9, 10, DecisionStyle(threshold=0.5, trial=True, patience_h=12.0))
    assert trial[10] > 0.25


def test_severe_hours_is_leaky() -> None:
    clock = severe_hours(np.array([0.1, 0.6, 0.6, 0.6, 0.1, 0.1, 0.6]), threshold=0.5)
    assert clock.tolist() == [0.0, 1.0, 2.0, 3.0, 2.5, 2.0, 3.0]


def test_styles_vary_widely_between_patients() -> None:
    rng = np.random.default_rng(3)
    styles = [draw_style(rng, Phenotype.LUNG_INJURY) for _ in range(2000)]
    thresholds = np.asarray([s.threshold for s in styles])
    assert np.std(thresholds) > 0.06  # the old rule's spread was 0.03
    share = np.mean([s.trial for s in styles])
    assert 0.4 < share < 0.7
    patience = np.asarray([s.patience_h for s in styles])
    assert patience.min() >= 2.0
    assert patience.max() <= 12.0


def test_hazard_is_the_oracle_s_hazard_and_dni_stops_it() -> None:
    """The hazard array alone gives the oracle; after a DNI order it is 0."""
    seen_dni = 0
    for seed in range(400):
        course = simulate_course(np.random.default_rng(seed))
        hours = prediction_hours(course)
        oracle = oracle_probabilities(course, hours)
        assert np.all((oracle >= 0) & (oracle <= 1))
        if course.dni:
            seen_dni += 1
            assert course.vent_hour is None
            assert course.dni_since_h is not None
            assert np.all(course.hazard[int(np.floor(course.dni_since_h)) + 1 :] == 0)
    assert seen_dni >= 5


def test_non_dni_patients_stay_severe_for_hours_without_intubation() -> None:
    """Severe un-intubated states are not only the DNI patients' (the old rule's flaw)."""
    sustained = 0
    for seed in range(600):
        course = simulate_course(np.random.default_rng(seed))
        if course.dni:
            continue
        hours = prediction_hours(course)
        severity = course.ehr_injury + 0.45 * course.edema
        clock = severe_hours(severity, 0.55)
        if hours.size and np.any((severity[hours] >= 0.6) & (clock[hours] >= 6)):
            sustained += 1
    assert sustained >= 10
