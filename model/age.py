"""Ages from birth dates: the one rule every path that derives an age uses.

A birth date after the reference date, or one that makes the patient older than
``MAX_AGE_YEARS``, is a data error (a typo, a placeholder such as 1800-01-01, a date format
mix-up), not an age: the age is then **unknown** and the model reads it as missing, never as a
number. The same bound applies to ages read as numbers (a cohort's ``patients.csv``).
"""

from __future__ import annotations

import math
from datetime import date, datetime

#: Oldest age accepted as real (the oldest documented humans reached 117-122 years).
MAX_AGE_YEARS = 120.0


def plausible_age(age: float | None) -> float | None:
    """``age`` when it is a finite number in [0, MAX_AGE_YEARS], else None (unknown)."""
    if age is None or not math.isfinite(age) or age < 0 or age > MAX_AGE_YEARS:
        return None
    return float(age)


def age_from_birth_date(born: date | None, as_of: date | datetime) -> float | None:
    """Age in years (two decimals) at ``as_of``; None when unknown or implausible.

    ``as_of`` may be a datetime (its calendar date is used). A birth date after ``as_of`` or more
    than ``MAX_AGE_YEARS`` before it gives None.
    """
    if born is None:
        return None
    day = as_of.date() if isinstance(as_of, datetime) else as_of
    if born > day:
        return None
    return plausible_age(round((day - born).days / 365.25, 2))


def completed_years(born: date | None, as_of: date | datetime) -> int | None:
    """Age in completed years (the cohort's ``age`` column); None when unknown or implausible."""
    if age_from_birth_date(born, as_of) is None:
        return None
    assert born is not None
    day = as_of.date() if isinstance(as_of, datetime) else as_of
    years = day.year - born.year - ((day.month, day.day) < (born.month, born.day))
    return years if plausible_age(float(years)) is not None else None
