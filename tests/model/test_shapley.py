"""Exact Shapley drivers: the game's properties, the grouping, and additivity on the bundled
model (drivers + film = risk - reference, within 1 percentage point)."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from datetime import timedelta
from math import factorial

import numpy as np
import pytest

from model.predictor import Predictor
from model.schemas import Measurement, PatientWindow, StaticInfo
from model.shapley import MAX_GROUPS, NORMAL_VALUES, coalitions, players, shapley_values
from tests.model.applicability.test_real_films import KEY, NOW, _window
from tests.support.synthetic_films import simulator_display


def _brute_force(value: dict[frozenset[int], float], k: int) -> np.ndarray:
    out = np.zeros(k)
    for order in itertools.permutations(range(k)):
        seen: set[int] = set()
        for i in order:
            out[i] += value[frozenset(seen | {i})] - value[frozenset(seen)]
            seen.add(i)
    return out / factorial(k)


def test_exact_shapley_values_equal_the_permutation_definition() -> None:
    k = 4
    rng = np.random.default_rng(0)
    values = rng.random(2**k)
    masks = coalitions(k)
    game = {
        frozenset(np.flatnonzero(row).tolist()): float(v)
        for row, v in zip(masks, values, strict=True)
    }
    phi = shapley_values(values)
    assert np.allclose(phi, _brute_force(game, k))
    assert phi.sum() == pytest.approx(values[-1] - values[0])  # efficiency


def test_null_and_symmetric_players() -> None:
    masks = coalitions(3)
    # player 2 adds nothing; players 0 and 1 are interchangeable
    values = np.asarray(
        [0.1 + 0.2 * (row[0] + row[1]) + 0.3 * (row[0] and row[1]) for row in masks]
    )
    phi = shapley_values(values)
    assert phi[2] == pytest.approx(0.0)
    assert phi[0] == pytest.approx(phi[1])


def test_groups_are_clinical_and_bounded() -> None:
    groups = dict(players(["spo2", "fio2", "resp_rate", "heart_rate", "lactate", "ph"]))
    assert groups == {
        "oxygenation": ("spo2", "fio2"),
        "respiratory_rate": ("resp_rate",),
        "acid_base": ("ph",),
        "circulation": ("heart_rate", "lactate"),
    }
    many = players([*NORMAL_VALUES, *(f"extra_{i}" for i in range(4))])
    assert len(many) == MAX_GROUPS
    assert many[-1][0] == "other"


def _film_window(state: str) -> PatientWindow:
    return _window(state, simulator_display(256, seed=3, consolidation=0.4))


WINDOWS: list[Callable[[], PatientWindow]] = [
    lambda: _window("normal", None),
    lambda: _window("sick", None),
    lambda: _film_window("sick"),
]


@pytest.mark.parametrize("make", WINDOWS)
def test_drivers_add_up_to_the_difference_from_the_reference(
    make: Callable[[], PatientWindow],
) -> None:
    p = Predictor.load()
    r = p.predict(make())
    assert r.reference_probability is not None
    film = 0.0
    if r.film_age_h is not None and r.probability_without_film is not None:
        film = r.probability - r.probability_without_film
    total = sum(d.contribution for d in r.drivers) + film
    assert abs(total - (r.probability - r.reference_probability)) < 0.01
    shown = sum(round(d.contribution * 100) for d in r.drivers) + round(film * 100)
    assert abs(shown - round((r.probability - r.reference_probability) * 100)) <= len(r.drivers)


def test_a_patient_with_normal_values_is_the_reference() -> None:
    measurements = tuple(
        Measurement(patient_key=KEY, variable=v, value=x, unit="",
                    time=NOW - timedelta(hours=h), source_id=f"Observation/{v}{h}")
        for h in range(6) for v, x in NORMAL_VALUES.items()
    )  # fmt: skip
    window = PatientWindow(patient_key=KEY, as_of=NOW, measurements=measurements,
                           static=StaticInfo(age_years=50, sex="male"))  # fmt: skip
    r = Predictor.load().predict(window)
    assert r.probability == pytest.approx(r.reference_probability, abs=1e-7)
    assert all(abs(d.contribution) < 1e-7 for d in r.drivers)
