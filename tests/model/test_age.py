"""One age rule: a future birth date or an age over 120 is unknown, never a number."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime

import numpy as np
import pytest

from model.age import MAX_AGE_YEARS, age_from_birth_date, completed_years, plausible_age
from model.features.spec import Normalisation, static_features

AS_OF = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("born", "expected"),
    [
        (date(1960, 12, 2), 66.0),
        (date(2026, 12, 1), 0.0),
        (date(1906, 12, 1), 120.0),
        (date(2090, 1, 1), None),  # in the future
        (date(2026, 12, 2), None),  # tomorrow
        (date(1800, 1, 1), None),  # over 120
        (date(1906, 11, 1), None),  # 120 years and a month
        (None, None),
    ],
)
def test_age_from_birth_date(born: date | None, expected: float | None) -> None:
    age = age_from_birth_date(born, AS_OF)
    if expected is None:
        assert age is None
    else:
        assert age == pytest.approx(expected, abs=0.01)


def test_completed_years_and_plausible_ages() -> None:
    assert completed_years(date(1960, 12, 2), AS_OF) == 65
    assert completed_years(date(2090, 1, 1), AS_OF) is None
    assert plausible_age(MAX_AGE_YEARS) == MAX_AGE_YEARS
    for bad in (-1.0, 121.0, math.nan, math.inf, None):
        assert plausible_age(bad) is None


def test_an_implausible_age_reaches_the_model_as_unknown() -> None:
    norm = Normalisation(mean=(0.0,), std=(1.0,), age_mean=62.0, age_std=15.0)
    unknown = static_features(None, "male", norm)
    for bad in (150.0, -3.0, math.nan):
        assert np.array_equal(static_features(bad, "male", norm), unknown)
    assert not np.array_equal(static_features(90.0, "male", norm), unknown)
