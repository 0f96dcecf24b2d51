"""The simulated ICU looks like a real one where it matters for the model (synthetic): marginals
near published ICU figures (docs/simulator.md, "Calibration"), trials of high flow before
intubation, patients who arrive on high oxygen, DNI stays marked in patients.csv."""

from __future__ import annotations

import csv
from collections import defaultdict
from datetime import datetime

import numpy as np

from model.cohort import Cohort
from model.synth import SynthSummary

#: Ranges around the cited targets (docs/simulator.md), wide enough for a 400-patient cohort.
_MEDIAN_RANGES = {
    "heart_rate": (80.0, 95.0),
    "resp_rate": (17.0, 23.0),
    "spo2": (94.0, 99.0),
    "sbp": (108.0, 128.0),
    "dbp": (52.0, 66.0),
    "map": (68.0, 84.0),
    "temperature": (36.6, 37.4),
    "lactate": (1.3, 2.6),
    "creatinine": (0.8, 1.4),
    "wbc": (8.0, 13.0),
}


def _series(cohort: Cohort) -> dict[tuple[str, str], list[tuple[datetime, float]]]:
    out: dict[tuple[str, str], list[tuple[datetime, float]]] = defaultdict(list)
    for k, t, v, x in zip(
        cohort.m_key, cohort.m_time, cohort.m_variable, cohort.m_value, strict=True
    ):
        out[(k, v)].append((t, x))
    return out


def test_charted_medians_are_near_published_icu_figures(
    synth_cohort: tuple[Cohort, SynthSummary],
) -> None:
    cohort, _ = synth_cohort
    names = np.asarray(cohort.m_variable)
    values = np.asarray(cohort.m_value)
    for name, (low, high) in _MEDIAN_RANGES.items():
        median = float(np.median(values[names == name]))
        assert low <= median <= high, (name, median)


def test_vital_signs_are_charted_about_hourly_and_labs_about_daily(
    synth_cohort: tuple[Cohort, SynthSummary],
) -> None:
    cohort, _ = synth_cohort
    gaps: dict[str, list[float]] = defaultdict(list)
    for (_, name), rows in _series(cohort).items():
        t = np.asarray([r[0].timestamp() for r in rows])
        gaps[name].extend((np.diff(np.sort(t)) / 3600.0).tolist())
    assert 0.7 <= np.median(gaps["heart_rate"]) <= 1.2
    assert 2.0 <= np.median(gaps["temperature"]) <= 5.0
    assert 16.0 <= np.median(gaps["creatinine"]) <= 26.0


def test_a_share_of_intubations_follow_hours_of_high_flow(
    synth_cohort: tuple[Cohort, SynthSummary],
) -> None:
    cohort, _ = synth_cohort
    series = _series(cohort)
    trials = 0
    for key, vent in cohort.ventilation_start.items():
        flows = [t for t, x in series.get((key, "o2_flow"), []) if x >= 30 and t < vent]
        if flows and (vent - min(flows)).total_seconds() >= 2 * 3600:
            trials += 1
    assert trials >= 0.2 * len(cohort.ventilation_start)
    assert trials < len(cohort.ventilation_start)  # others are intubated fast


def test_some_patients_arrive_on_high_oxygen(synth_cohort: tuple[Cohort, SynthSummary]) -> None:
    cohort, _ = synth_cohort
    series = _series(cohort)
    arrived_high = 0
    for patient in cohort.patients:
        fio2 = series.get((patient.key, "fio2"), [])
        first = [x for t, x in fio2 if (t - patient.stay_start).total_seconds() <= 3600]
        arrived_high += int(bool(first) and max(first) >= 50)
    assert arrived_high >= 5


def test_dni_stays_are_marked_in_patients_csv(synth_cohort: tuple[Cohort, SynthSummary]) -> None:
    cohort, _ = synth_cohort
    with (cohort.root / "patients.csv").open(newline="") as handle:
        header = next(csv.reader(handle))
    assert header[-2:] == ["do_not_intubate", "do_not_intubate_since"]
    dni = [p for p in cohort.patients if p.do_not_intubate]
    assert 0.02 * len(cohort.patients) <= len(dni) <= 0.15 * len(cohort.patients)
    for patient in dni:
        assert patient.key not in cohort.ventilation_start
        assert patient.do_not_intubate_since is not None
        assert patient.stay_start <= patient.do_not_intubate_since <= patient.stay_end
        assert cohort.extras[patient.key]["dni"] == "1"
    assert all(p.do_not_intubate_since is None for p in cohort.patients if not p.do_not_intubate)
