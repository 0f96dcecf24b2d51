"""The simulator's research knobs: how far the EHR trails the film, how often films are taken."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from model.cohort import Cohort, read_cohort
from model.synth import SynthConfig, simulate
from model.synth.config import SynthError


def _cohort(out: Path, **knobs: object) -> Cohort:
    simulate(SynthConfig(patients=60, seed=5, film_size=32, **knobs), out)  # type: ignore[arg-type]
    return read_cohort(out)


def _films_per_day(cohort: Cohort) -> float:
    days = sum((p.stay_end - p.stay_start).total_seconds() / 86400 for p in cohort.patients)
    return len(cohort.films) / days


def test_the_lag_knob_sets_each_patients_ehr_delay(tmp_path: Path) -> None:
    cohort = _cohort(tmp_path / "lag", ehr_lag_h=(6.0, 10.0))
    delays = [float(row["ehr_delay_h"]) for row in cohort.extras.values()]
    assert len(delays) == 60
    assert all(6.0 <= d <= 10.0 for d in delays)
    assert json.loads((cohort.root / "cohort.json").read_text())["ehr_lag_h"] == [6.0, 10.0]


def test_films_every_12_hours_roughly_double_the_routine_films(tmp_path: Path) -> None:
    daily = _cohort(tmp_path / "daily")
    twice = _cohort(tmp_path / "twice", film_interval_h=12.0)
    assert [p.key for p in twice.patients] == [p.key for p in daily.patients]
    assert 1.5 < _films_per_day(twice) / _films_per_day(daily) < 2.2
    assert json.loads((twice.root / "cohort.json").read_text())["film_interval_h"] == 12.0


@pytest.mark.parametrize(
    "knobs",
    [{"ehr_lag_h": (26.0, 22.0)}, {"ehr_lag_h": (-1.0, 4.0)}, {"ehr_lag_h": (20.0, 96.0)},
     {"film_interval_h": 2.0}, {"film_interval_h": 100.0}],
)  # fmt: skip
def test_impossible_knobs_are_refused(knobs: dict[str, object]) -> None:
    with pytest.raises(SynthError):
        SynthConfig(**knobs)  # type: ignore[arg-type]
